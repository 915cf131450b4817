//! Property tests of what the web layer parses from clients and configuration: any `Cookie`
//! header, any configuration value, any form body is answered, never a panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use figment::Figment;
use figment::providers::{Format, Toml};
use proptest::prelude::*;
use web::Config;
use web::config::Profile;

fn config(toml: &str) -> Result<Config, web::ConfigError> {
    Config::from_figment(Figment::from(Toml::string(toml)), Profile::Development)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn any_cookie_header_is_read_or_ignored(header in ".{0,300}", bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        web::fuzzing::session_cookie(header.as_bytes());
        web::fuzzing::session_cookie(&bytes);
    }

    #[test]
    fn any_configuration_text_loads_or_is_refused(text in "\\PC{0,200}") {
        web::fuzzing::configuration(&text);
    }

    #[test]
    fn durations_load_in_range_and_are_refused_outside_it(seconds in 0u64..(500 * 24 * 3600)) {
        let loaded = config(&format!("[session]\nidle_timeout = \"{seconds}s\"\n"));
        let in_range = seconds > 0 && seconds <= 400 * 24 * 3600;
        prop_assert_eq!(loaded.is_ok(), in_range, "{}s", seconds);
        if let Ok(config) = loaded {
            prop_assert_eq!(config.settings.session.idle_timeout.0.as_secs(), seconds);
        }
    }

    #[test]
    fn body_limits_load_in_range_and_are_refused_outside_it(bytes in 0u64..(32 * 1024 * 1024)) {
        let loaded = config(&format!("[server]\nbody_limit = {bytes}\n"));
        prop_assert_eq!(loaded.is_ok(), (1024..=16 * 1024 * 1024).contains(&bytes), "{}", bytes);
    }
}
