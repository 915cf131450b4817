//! How a session is shown to its owner, the same on the account page and in
//! `GET /api/v1/sessions`.

use auth_core::service::SessionView;
use time::OffsetDateTime;

/// A session row as the account page and `GET /api/v1/sessions` show it (RFC 3339 times).
pub(crate) fn session_json(view: &SessionView) -> serde_json::Value {
    let rfc3339 = |t: OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    };
    serde_json::json!({
        "id": view.id.as_str(),
        "created_at": rfc3339(view.created_at),
        "last_seen_at": rfc3339(view.last_seen_at),
        "user_agent": view.user_agent,
        "current": view.current,
    })
}

/// A passkey as the account page and `GET /api/v1/passkeys` show it (RFC 3339 times).
pub(crate) fn passkey_json(view: &auth_core::service::PasskeyView) -> serde_json::Value {
    let rfc3339 = |t: OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    };
    serde_json::json!({
        "id": view.id,
        "name": view.name,
        "created_at": rfc3339(view.created_at),
        "last_used_at": view.last_used_at.map(rfc3339),
    })
}
