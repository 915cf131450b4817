//! Entry points for the fuzz targets (`fuzz/`, feature `fuzzing`): the decoders a client's
//! bytes reach, without a server around them.

use crate::request::cookies::{CookieCodec, CookieKind, RequestCookies};
use axum::http::{HeaderMap, HeaderValue, header};

/// Reads the session cookie out of a `Cookie` header made of `bytes`, as every request does,
/// and decodes what it carries for both session stores. Must never panic.
pub fn session_cookie(bytes: &[u8]) {
    let keys = auth_core::KeyRing::new(
        "fuzzing-key-that-is-at-least-thirty-two-bytes".into(),
        vec![],
    );
    let Ok(keys) = keys else { return };
    let codec = CookieCodec::new(&keys, "wristband_session", false);
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_bytes(bytes) {
        headers.insert(header::COOKIE, value);
    }
    let cookies = RequestCookies::parse(&headers);
    for kind in [
        CookieKind::Session,
        CookieKind::Csrf,
        CookieKind::Flash,
        CookieKind::Device,
    ] {
        if let Some(verified) = codec.read(kind, &cookies) {
            decode_credential(&verified.value);
        }
    }
    // Signatures almost never verify for random input: the decoders get the raw text too.
    decode_credential(&String::from_utf8_lossy(bytes));
    crate::request::flash::decode(&String::from_utf8_lossy(bytes));
    crate::request::device::decode(&String::from_utf8_lossy(bytes));
}

fn decode_credential(value: &str) {
    let _ = auth_core::SessionToken::parse(value);
    let _ = auth_core::service::decode_cookie_credential(value);
}

/// Parses `text` as a Wristband configuration file, and each value type from it. Must never
/// panic; every refusal is a [`ConfigError`](crate::ConfigError).
pub fn configuration(text: &str) {
    use figment::Figment;
    use figment::providers::{Format, Toml};
    let profile = crate::config::Profile::Development;
    let _ = crate::Config::from_figment(Figment::from(Toml::string(text)), profile);
    let quoted = toml_string(text);
    for key in [
        "session.idle_timeout",
        "server.body_limit",
        "session.secure",
        "login.default_redirect",
        "database.url",
    ] {
        let (section, name) = key.split_once('.').unwrap_or((key, key));
        let file = format!("[{section}]\n{name} = {quoted}\n");
        let _ = crate::Config::from_figment(Figment::from(Toml::string(&file)), profile);
    }
}

fn toml_string(text: &str) -> String {
    let escaped: String = text
        .chars()
        .flat_map(|c| match c {
            '"' => vec!['\\', '"'],
            '\\' => vec!['\\', '\\'],
            c if c.is_control() => format!("\\u{:04X}", u32::from(c)).chars().collect(),
            c => vec![c],
        })
        .collect();
    format!("\"{escaped}\"")
}
