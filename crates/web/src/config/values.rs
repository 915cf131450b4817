//! The value types of configuration that are more than numbers and strings: durations, sizes,
//! the three-way `secure` switch.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::time::Duration;

/// The longest duration any setting takes: 400 days, the longest a browser keeps a cookie
/// (RFC 6265bis), and far from any overflow when added to a date.
pub const MAX_DURATION: Duration = Duration::from_secs(400 * 24 * 60 * 60);

/// A duration written as `"30m"`, `"12h"`, `"30d"`, `"10s"`; more than zero, at most 400 days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigDuration(pub Duration);

impl ConfigDuration {
    /// Why this duration cannot be used, if it cannot.
    pub fn problem(&self) -> Option<&'static str> {
        if self.0.is_zero() {
            Some("a duration must be more than zero")
        } else if self.0 > MAX_DURATION {
            Some("a duration must be at most 400 days")
        } else {
            None
        }
    }
}

impl Serialize for ConfigDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(self.0).to_string())
    }
}

impl<'de> Deserialize<'de> for ConfigDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let duration = humantime::parse_duration(text.trim()).map_err(|e| {
            serde::de::Error::custom(format!(
                "{text:?} is not a duration ({e}); write e.g. \"30m\", \"12h\", \"30d\""
            ))
        })?;
        let duration = Self(duration);
        match duration.problem() {
            Some(problem) => Err(serde::de::Error::custom(format!("{text:?}: {problem}"))),
            None => Ok(duration),
        }
    }
}

/// A size in bytes, written as a number or a string like `"64KiB"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Number(n) => Ok(Self(n)),
            Raw::Text(t) => t
                .trim()
                .parse::<bytesize::ByteSize>()
                .map(|b| Self(b.as_u64()))
                .map_err(|e| {
                    serde::de::Error::custom(format!(
                        "{t:?} is not a size ({e}); write e.g. 65536 or \"64KiB\""
                    ))
                }),
        }
    }
}

/// `auto`, `true` or `false`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecureSetting {
    /// On in production, off elsewhere.
    Auto,
    /// Always on.
    On,
    /// Always off.
    Off,
}

impl Serialize for SecureSetting {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Auto => s.serialize_str("auto"),
            Self::On => s.serialize_bool(true),
            Self::Off => s.serialize_bool(false),
        }
    }
}

impl<'de> Deserialize<'de> for SecureSetting {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bool(bool),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Bool(true) => Ok(Self::On),
            Raw::Bool(false) => Ok(Self::Off),
            Raw::Text(t) => match t.as_str() {
                "auto" => Ok(Self::Auto),
                "true" => Ok(Self::On),
                "false" => Ok(Self::Off),
                other => Err(serde::de::Error::custom(format!(
                    "expected auto, true or false, found {other:?}"
                ))),
            },
        }
    }
}
