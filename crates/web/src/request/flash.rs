//! Flash messages: one-time messages for the next page (Flask's `flash`), carried in a signed
//! cookie.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

/// Most flash messages carried to the next page.
pub(crate) const MAX_FLASHES: usize = 5;

/// A one-time message for the next page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Flash {
    /// `success`, `info` or `error`.
    pub category: String,
    /// The text, HTML-escaped when shown.
    pub message: String,
}

/// The flashes in a (verified) cookie value; garbage is no flashes.
pub(crate) fn decode(value: &str) -> Vec<Flash> {
    URL_SAFE_NO_PAD
        .decode(value)
        .ok()
        .and_then(|json| serde_json::from_slice::<Vec<Flash>>(&json).ok())
        .unwrap_or_default()
}

/// The cookie value for `flashes`.
pub(crate) fn encode(flashes: &[Flash]) -> Option<String> {
    serde_json::to_vec(flashes)
        .ok()
        .map(|json| URL_SAFE_NO_PAD.encode(json))
}
