//! `wristband config`: the effective configuration, each value with its source, secrets
//! redacted.

use super::Config;
use super::redact::redact_url;
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
            let rendered = if rendered.contains("://") {
                redact_rendered_url(&rendered)
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
        if self.smtp_password().is_some() {
            lines.push("MAIL_SMTP_PASSWORD = [redacted]  # the SMTP password".to_owned());
        }
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

/// A TOML-rendered string (`"…"`) holding a URL, with its credentials redacted.
fn redact_rendered_url(rendered: &str) -> String {
    match rendered
        .strip_prefix('"')
        .and_then(|inner| inner.strip_suffix('"'))
    {
        Some(inner) => format!("\"{}\"", redact_url(inner)),
        None => redact_url(rendered),
    }
}
