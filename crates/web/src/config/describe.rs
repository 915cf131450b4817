//! `wristband config`: the effective configuration, each value with its source, secrets
//! redacted.

use super::Config;
use super::sources::describe_source;

impl Config {
    /// `key = value  # source` lines of the effective configuration, secrets redacted.
    pub fn describe(&self) -> Vec<String> {
        let mut lines = vec![format!("profile = {:?}", self.profile.name())];
        let value = match toml::Value::try_from(&self.settings) {
            Ok(v) => v,
            Err(e) => return vec![format!("# cannot display the configuration: {e}")],
        };
        let mut leaves = Vec::new();
        flatten("", &value, &mut leaves);
        for (key, rendered) in leaves {
            let rendered = if key == "database.url" {
                redact_url_password(&rendered)
            } else {
                rendered
            };
            let source = self
                .sources
                .as_ref()
                .and_then(|figment| figment.find_metadata(&key))
                .map_or_else(
                    || "built-in default".to_owned(),
                    |m| describe_source(m, &key.split('.').collect::<Vec<_>>()),
                );
            lines.push(format!("{key} = {rendered}  # {source}"));
        }
        let secret_source = self
            .secret_key_source
            .unwrap_or("not set: a random key for this run");
        lines.push(format!("SECRET_KEY = [redacted]  # {secret_source}"));
        lines
    }
}

fn flatten(prefix: &str, value: &toml::Value, out: &mut Vec<(String, String)>) {
    match value {
        toml::Value::Table(table) => {
            for (k, v) in table {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        other => out.push((prefix.to_owned(), other.to_string())),
    }
}

/// Replaces the password of a `scheme://user:password@host` URL with `[redacted]`.
pub fn redact_url_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.rsplit_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:[redacted]@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_database_urls_are_redacted() {
        assert_eq!(
            redact_url_password("\"postgres://app:s3cret@db:5432/x\""),
            "\"postgres://app:[redacted]@db:5432/x\""
        );
        assert_eq!(
            redact_url_password("sqlite://data/w.db"),
            "sqlite://data/w.db"
        );
    }
}
