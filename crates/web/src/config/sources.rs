//! Where settings come from: built-in defaults < `config/default.toml` <
//! `config/<profile>.toml` < `WRISTBAND_<SECTION>__<KEY>` < `DATABASE_URL`; and naming a
//! value's source in messages.

use super::{ConfigError, Profile, Settings};
use figment::providers::{Env, Format, Serialized, Toml};
use figment::{Figment, Metadata};
use std::path::PathBuf;

/// Variables under the `WRISTBAND_` prefix that are not settings.
const NON_SETTING_VARIABLES: [&str; 2] = ["profile", "config_dir"];

pub(super) fn var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The profile `WRISTBAND_PROFILE` names (`development` when unset).
pub(super) fn profile_from_env() -> Result<Profile, ConfigError> {
    Profile::parse(var("WRISTBAND_PROFILE").as_deref().unwrap_or("development"))
}

/// Every source of the ready server, merged in order.
pub(super) fn server_figment(profile: Profile) -> Figment {
    let dir = var("WRISTBAND_CONFIG_DIR").map_or_else(|| PathBuf::from("config"), PathBuf::from);
    Figment::from(Serialized::defaults(Settings::default()))
        .merge(Toml::file(dir.join("default.toml")))
        .merge(Toml::file(dir.join(format!("{}.toml", profile.name()))))
        .merge(Env::prefixed("WRISTBAND_").split("__").filter(|key| {
            let key = key.as_str().to_ascii_lowercase();
            !NON_SETTING_VARIABLES.contains(&key.as_str()) && !key.starts_with("test_")
        }))
        .merge(
            Env::raw()
                .only(&["DATABASE_URL"])
                .map(|_| "database.url".into()),
        )
}

/// An application's own figment under Wristband's defaults.
pub(super) fn embedded_figment(figment: Figment) -> Figment {
    Figment::from(Serialized::defaults(Settings::default())).merge(figment)
}

impl From<figment::Error> for ConfigError {
    fn from(err: figment::Error) -> Self {
        // Figment's message names the key and, through its metadata, the file or variable.
        let text: Vec<String> = err
            .into_iter()
            .map(|e| describe_figment_error(&e))
            .collect();
        Self::Invalid(text.join("; "))
    }
}

fn describe_figment_error(err: &figment::Error) -> String {
    let key = if err.path.is_empty() {
        String::new()
    } else {
        format!("`{}`: ", err.path.join("."))
    };
    let source = err
        .metadata
        .as_ref()
        .map(|m| format!(" (from {})", describe_source(m, &err.path)))
        .unwrap_or_default();
    format!("invalid configuration: {key}{}{source}", err.kind)
}

/// Names where a value came from: the file, or the exact environment variable.
pub(super) fn describe_source<K: AsRef<str>>(metadata: &Metadata, path: &[K]) -> String {
    if let Some(source) = &metadata.source {
        return source.to_string();
    }
    if metadata.name.contains("environment variable") {
        // Figment cannot invert our prefix-and-split mapping, so name the variable ourselves.
        let keys: Vec<&str> = path.iter().map(AsRef::as_ref).collect();
        let variable = if metadata.name.contains("WRISTBAND_") {
            format!("WRISTBAND_{}", keys.join("__").to_ascii_uppercase())
        } else {
            "DATABASE_URL".to_owned()
        };
        return format!("environment variable `{variable}`");
    }
    if metadata.name.contains("Serialized") {
        return "built-in default".into();
    }
    metadata.name.to_string()
}
