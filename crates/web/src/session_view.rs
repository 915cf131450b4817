//! How a session, a passkey or an API token is shown to its owner, the same on the account
//! pages and in the API.

use auth_core::service::SessionView;
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

/// An RFC 3339 time.
fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A session as its owner sees it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Session)]
pub(crate) struct SessionJson {
    /// The session's public id (random, opaque).
    id: String,
    /// When it was created (its login).
    #[schema(format = DateTime)]
    created_at: String,
    /// When it was last used (updated at most once a minute).
    #[schema(format = DateTime)]
    last_seen_at: String,
    /// The browser that logged in, as it named itself.
    #[schema(required = true)]
    user_agent: Option<String>,
    /// Whether this is the session of the request.
    current: bool,
}

/// A session row as the account page and `GET /api/v1/sessions` show it (RFC 3339 times).
pub(crate) fn session_json(view: &SessionView) -> SessionJson {
    SessionJson {
        id: view.id.as_str().to_owned(),
        created_at: rfc3339(view.created_at),
        last_seen_at: rfc3339(view.last_seen_at),
        user_agent: view.user_agent.clone(),
        current: view.current,
    }
}

/// A passkey as its owner sees it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Passkey)]
pub(crate) struct PasskeyJson {
    /// The passkey's public id.
    id: String,
    /// Its name, as the user gave it.
    name: String,
    /// When it was registered.
    #[schema(format = DateTime)]
    created_at: String,
    /// When it last signed in, if ever.
    #[schema(format = DateTime, required = true)]
    last_used_at: Option<String>,
}

/// A passkey as the account page and `GET /api/v1/passkeys` show it (RFC 3339 times).
pub(crate) fn passkey_json(view: &auth_core::service::PasskeyView) -> PasskeyJson {
    PasskeyJson {
        id: view.id.clone(),
        name: view.name.clone(),
        created_at: rfc3339(view.created_at),
        last_used_at: view.last_used_at.map(rfc3339),
    }
}

/// An API token as its owner sees it: never its secret.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ApiToken)]
pub(crate) struct TokenJson {
    /// The token's public id (random, opaque), for revoking it.
    id: String,
    /// Its name, as the user gave it.
    name: String,
    /// When it was made.
    #[schema(format = DateTime)]
    created_at: String,
    /// When it ends.
    #[schema(format = DateTime)]
    expires_at: String,
    /// When it was last used (to the minute), if ever.
    #[schema(format = DateTime, required = true)]
    last_used_at: Option<String>,
    /// Whether this is the token of the request.
    current: bool,
}

/// An API token as `/account/tokens` and `GET /api/v1/tokens` show it (RFC 3339 times).
pub(crate) fn token_json(view: &auth_core::service::TokenView) -> TokenJson {
    TokenJson {
        id: view.id.as_str().to_owned(),
        name: view.name.clone(),
        created_at: rfc3339(view.created_at),
        expires_at: rfc3339(view.expires_at),
        last_used_at: view.last_used_at.map(rfc3339),
        current: view.current,
    }
}
