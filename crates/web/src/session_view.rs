//! How a session, a passkey or an API token is shown to its owner, the same on the account
//! pages and in the API.

use auth_core::service::SessionView;
use time::OffsetDateTime;

/// A time as the pages and the API show it: RFC 3339.
fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A session row as the account page and `GET /api/v1/sessions` show it (RFC 3339 times).
pub(crate) fn session_json(view: &SessionView) -> serde_json::Value {
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
    serde_json::json!({
        "id": view.id,
        "name": view.name,
        "created_at": rfc3339(view.created_at),
        "last_used_at": view.last_used_at.map(rfc3339),
    })
}

/// An API token as `/account/tokens` and `GET /api/v1/tokens` show it (RFC 3339 times), never
/// its secret.
pub(crate) fn token_json(view: &auth_core::service::TokenView) -> serde_json::Value {
    serde_json::json!({
        "id": view.id.as_str(),
        "name": view.name,
        "created_at": rfc3339(view.created_at),
        "expires_at": rfc3339(view.expires_at),
        "last_used_at": view.last_used_at.map(rfc3339),
        "current": view.current,
    })
}
