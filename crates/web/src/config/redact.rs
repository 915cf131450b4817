//! Credentials out of URLs before they are shown (`wristband config`, logs, errors): the
//! password of the user info, and the value of every query parameter that names a secret
//! (`password`, `sslpassword`, `passwd`, `pass`, `pwd`, `secret`, `token`, `key`, …).

/// Query parameters whose values are secrets: a name containing one of these.
const SECRET_PARAMETERS: [&str; 6] = ["pass", "pwd", "secret", "token", "key", "auth"];

/// What replaces a secret.
const REDACTED: &str = "[redacted]";

/// `url` with its credentials replaced by `[redacted]`; text that is not a URL is returned as
/// it is, and so is a URL without credentials.
pub fn redact_url(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return url.to_owned();
    };
    let mut changed = false;
    let had_password = parsed.password().is_some();
    if had_password {
        // A placeholder the URL syntax keeps as is, replaced after serialising.
        changed |= parsed.set_password(Some("REDACTEDPASSWORD")).is_ok();
    }
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if pairs.iter().any(|(k, _)| is_secret(k)) {
        changed = true;
        let mut query = parsed.query_pairs_mut();
        query.clear();
        for (k, v) in &pairs {
            let value = if is_secret(k) { "REDACTEDVALUE" } else { v };
            query.append_pair(k, value);
        }
    }
    if !changed {
        return url.to_owned();
    }
    parsed
        .to_string()
        .replace("REDACTEDPASSWORD", REDACTED)
        .replace("REDACTEDVALUE", REDACTED)
}

fn is_secret(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_PARAMETERS.iter().any(|secret| name.contains(secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_anywhere_in_a_url_are_redacted() {
        let url = "postgres://u:pw@h/db?password=q&sslpassword=z&sslmode=require";
        let redacted = redact_url(url);
        assert_eq!(
            redacted,
            "postgres://u:[redacted]@h/db?password=[redacted]&sslpassword=[redacted]&sslmode=require"
        );
        for secret in [":pw@", "=q", "=z"] {
            assert!(!redacted.contains(secret), "{redacted}");
        }
        assert_eq!(
            redact_url("smtps://mailer:s3cret@smtp.example:465?auth_token=t"),
            "smtps://mailer:[redacted]@smtp.example:465?auth_token=[redacted]"
        );
        assert_eq!(redact_url("sqlite://data/w.db"), "sqlite://data/w.db");
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_url("not a url"), "not a url");
    }
}
