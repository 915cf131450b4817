//! The `wristband` commands other than serving: user and session administration, each a thin
//! caller of the use-case service.
//!
//! Each command opens the service over the store the configuration names (as the server does),
//! does its work, prints its result on stdout and returns a [`Failure`] that `main` turns into
//! one line on stderr and the exit status of SPEC §2.

pub mod password;
pub mod sessions;
pub mod users;

use auth_core::service::error_chain;
use auth_core::{AuthService, ServiceError};
use web::Config;

/// A failure and the exit status it earns.
#[derive(Debug)]
pub enum Failure {
    /// Bad arguments, configuration or input a person typed: exit status 2.
    Usage(String),
    /// The work could not be done (a store error, a taken name, rejected rows): exit status 1.
    Runtime(String),
}

impl From<ServiceError> for Failure {
    fn from(error: ServiceError) -> Self {
        Self::Runtime(error_chain(&error))
    }
}

/// Waits (at most 10 s) for the mail a command queued, such as a notice, before the process
/// ends; says so on stderr when some could not be sent in time.
pub async fn flush_mail(service: &AuthService) {
    if !service.flush_mail(std::time::Duration::from_secs(10)).await {
        eprintln!("warning: some mail could not be sent within 10 s");
    }
}

/// Opens (and migrates) the store the configuration names, with one hashing worker: a command
/// hashes one password, and each worker allocates its Argon2 memory.
pub async fn open_service(config: Config) -> Result<AuthService, Failure> {
    open_service_with_workers(config, Some(1)).await
}

/// [`open_service`] with `workers` hashing threads (`None`: the configured number).
pub async fn open_service_with_workers(
    mut config: Config,
    workers: Option<usize>,
) -> Result<AuthService, Failure> {
    if workers.is_some() {
        config.settings.password.workers = workers;
    }
    web::Wristband::builder(config)
        .open_service()
        .await
        .map_err(start_failure)
}

/// A start error as the exit status it earns: configuration mistakes are usage errors.
pub fn start_failure(error: web::Error) -> Failure {
    match error {
        web::Error::Config(_) | web::Error::Mount(_) | web::Error::Templates(_) => {
            Failure::Usage(error_chain(&error))
        }
        web::Error::Hasher(_) => Failure::Usage(format!(
            "invalid `password.argon2` settings: {}",
            error_chain(&error)
        )),
        other => Failure::Runtime(error_chain(&other)),
    }
}
