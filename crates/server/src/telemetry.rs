//! Logging: `tracing-subscriber` with `RUST_LOG`, human-readable or JSON lines.
//!
//! Client-supplied strings are logged with `?` (Debug), which escapes newlines and quotes, so a
//! username or user agent cannot forge a log line; the JSON format escapes everything anyway.

use tracing_subscriber::EnvFilter;
use web::config::LogFormat;

/// Default filter when `RUST_LOG` is unset: our events, without the database driver's chatter.
const DEFAULT_FILTER: &str = "info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn";

/// Installs the global subscriber (once; later calls do nothing).
pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Pretty => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
