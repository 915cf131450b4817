//! The one place that turns `database.url` into a store. Everything else in the web crate sees
//! only `auth-core`'s [`AuthStore`] trait.

use crate::config::SUPPORTED_SCHEMES;
use auth_core::AuthStore;
use std::sync::Arc;

/// Why the store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenStoreError {
    /// The scheme names no store this build supports (a configuration error).
    #[error(
        "`database.url` has the unsupported scheme {0:?}; supported: sqlite://, postgres://, postgresql://"
    )]
    UnsupportedScheme(String),
    /// The SQLite store failed to open or migrate.
    #[error(transparent)]
    Sqlite(#[from] store_sqlite::OpenError),
    /// The PostgreSQL store failed to connect or migrate.
    #[error(transparent)]
    Postgres(#[from] store_postgres::OpenError),
}

/// Opens the store `url` names and applies pending migrations.
pub(crate) async fn open(
    url: &str,
    max_connections: Option<u32>,
) -> Result<Arc<dyn AuthStore>, OpenStoreError> {
    let scheme = url.split("://").next().unwrap_or_default();
    match scheme {
        "sqlite" => Ok(Arc::new(store_sqlite::open(url, max_connections).await?)),
        "postgres" | "postgresql" => {
            Ok(Arc::new(store_postgres::open(url, max_connections).await?))
        }
        other => {
            debug_assert!(!SUPPORTED_SCHEMES.contains(&other));
            Err(OpenStoreError::UnsupportedScheme(other.to_owned()))
        }
    }
}
