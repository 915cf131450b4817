//! Property tests of the parsers client bytes and imported data reach: whatever they are given,
//! they answer (never panic), and what Wristband writes they read back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use auth_core::foreign_hash::{HashFormat, ImportCostLimits, cost_class, identify};
use auth_core::service::decode_cookie_credential;
use auth_core::session::{SessionId, SessionToken};
use auth_core::{SessionTimeouts, Username};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_stored_hash_text_is_identified_or_refused(text in ".{0,200}") {
        let format = identify(&text);
        let _ = cost_class(&text);
        if let Ok(format) = format {
            let _ = ImportCostLimits::default().admit(&format);
        }
    }

    #[test]
    fn hash_shaped_text_is_identified_or_refused(
        method in prop::sample::select(vec!["pbkdf2:sha256", "pbkdf2:sha1", "scrypt", "sha1", "sha256", "plain", "md5", "pbkdf2"]),
        cost in "[0-9:]{0,24}",
        salt in "[A-Za-z0-9$|]{0,20}",
        digest in "[0-9a-fA-F$]{0,140}",
    ) {
        let text = format!("{method}:{cost}${salt}${digest}");
        let _ = identify(&text);
        let _ = identify(&format!("wrapped:{method}:{cost}${salt}|{digest}"));
    }

    #[test]
    fn werkzeug_pbkdf2_hashes_are_read_with_their_iterations(
        iterations in 1u32..=2_000_000,
        salt in "[A-Za-z0-9]{1,32}",
        digest in proptest::collection::vec(any::<u8>(), 32),
    ) {
        let text = format!("pbkdf2:sha256:{iterations}${salt}${}", hex::encode(&digest));
        let format = identify(&text).unwrap();
        let read_back = matches!(format, HashFormat::WerkzeugPbkdf2 { iterations: i, .. } if i == iterations);
        prop_assert!(read_back, "{:?}", format);
        prop_assert!(ImportCostLimits::default().admit(&format).is_ok());
    }

    #[test]
    fn any_cookie_value_decodes_or_is_refused(value in ".{0,600}", token in "[A-Za-z0-9_-]{0,80}") {
        let _ = decode_cookie_credential(&value);
        let _ = decode_cookie_credential(&token);
        let _ = SessionToken::parse(&value);
        let _ = SessionToken::parse(&token);
        let _ = SessionId::parse(&token);
    }

    #[test]
    fn cookie_payloads_with_any_times_decode_without_panicking(
        iat in any::<i64>(), seen in any::<i64>(), auth in any::<i64>(), uid in any::<i64>(), rem in any::<bool>(),
    ) {
        use base64::Engine;
        let payload = serde_json::json!({
            "v": 2, "sid": SessionId::generate().as_str(), "uid": uid, "iat": iat, "seen": seen,
            "auth": auth, "rem": rem, "stamp": "s",
        });
        let credential = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(payload.to_string());
        if let Some(decoded) = decode_cookie_credential(&credential) {
            // The deadlines of any decodable time are computed without overflowing.
            let _ = SessionTimeouts::default().deadlines(decoded.created_at, decoded.remember);
        }
    }

    #[test]
    fn session_tokens_round_trip(_seed in any::<u8>()) {
        let token = SessionToken::generate();
        prop_assert_eq!(SessionToken::parse(&token.encode()), Some(token));
    }

    #[test]
    fn any_typed_username_is_prepared_or_refused(raw in "\\PC{0,80}") {
        if let Ok(name) = Username::parse(&raw) {
            // Preparing is idempotent: the prepared display form has the same identity.
            let again = Username::parse(name.as_str()).unwrap();
            prop_assert_eq!(again.key(), name.key());
            prop_assert_eq!(again.skeleton(), name.skeleton());
        }
    }
}
