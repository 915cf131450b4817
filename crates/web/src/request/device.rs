//! Device cookies (OWASP "Slow down online guessing attacks with device cookies"): after a
//! successful login the browser keeps a signed, long-lived cookie naming the users it logged in
//! as, so the per-account lockout a stranger can trigger does not hold those users back on
//! their own devices.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How long a device cookie lives: a year, renewed at every login.
pub(crate) const DEVICE_COOKIE_LIFETIME: Duration = Duration::from_secs(365 * 24 * 60 * 60);
/// Most users one device cookie remembers (the most recent logins).
const MAX_USERS: usize = 5;

#[derive(Debug, Default, Serialize, Deserialize)]
struct Payload {
    v: u8,
    /// Username keys, the most recent login first.
    users: Vec<String>,
}

/// The username keys a (verified) device cookie names; garbage names none.
pub(crate) fn decode(value: &str) -> Vec<String> {
    URL_SAFE_NO_PAD
        .decode(value)
        .ok()
        .and_then(|json| serde_json::from_slice::<Payload>(&json).ok())
        .filter(|payload| payload.v == 1)
        .map(|payload| payload.users.into_iter().take(MAX_USERS).collect())
        .unwrap_or_default()
}

/// The cookie value after a login as `username_key`, given the users it named before.
pub(crate) fn encode(username_key: &str, before: &[String]) -> Option<String> {
    let mut users = vec![username_key.to_owned()];
    users.extend(
        before
            .iter()
            .filter(|k| *k != username_key)
            .take(MAX_USERS - 1)
            .cloned(),
    );
    serde_json::to_vec(&Payload { v: 1, users })
        .ok()
        .map(|json| URL_SAFE_NO_PAD.encode(json))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_recent_users_are_kept() {
        let mut known = Vec::new();
        for name in ["a", "b", "c", "d", "e", "f", "b"] {
            known = decode(&encode(name, &known).unwrap());
        }
        assert_eq!(known, ["b", "f", "e", "d", "c"]);
        assert!(decode("garbage").is_empty());
    }
}
