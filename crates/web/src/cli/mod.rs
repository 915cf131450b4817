//! The `wristband` commands other than serving: user and session administration.
//!
//! Each command opens the store the configuration names (as the server does), does its work,
//! prints its result on stdout and returns a [`Failure`] that `main` turns into one line on
//! stderr and the exit status of SPEC §2.

pub mod password;
pub mod sessions;
pub mod users;

use std::sync::Arc;
use web::config::LoadedConfig;
use web::stores;

/// A failure and the exit status it earns.
#[derive(Debug)]
pub enum Failure {
    /// Bad arguments, configuration or input a person typed: exit status 2.
    Usage(String),
    /// The work could not be done (a store error, a taken name, rejected rows): exit status 1.
    Runtime(String),
}

impl From<auth_core::StoreError> for Failure {
    fn from(error: auth_core::StoreError) -> Self {
        Self::Runtime(error.to_string())
    }
}

/// Opens (and migrates) the store the configuration names.
pub async fn open_store(config: &LoadedConfig) -> Result<Arc<dyn auth_core::AuthStore>, Failure> {
    let database = &config.settings.database;
    stores::open(&database.url, database.max_connections)
        .await
        .map_err(|e| match e {
            stores::OpenStoreError::UnsupportedScheme(_) => Failure::Usage(e.to_string()),
            other => Failure::Runtime(other.to_string()),
        })
}
