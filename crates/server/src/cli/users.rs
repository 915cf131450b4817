//! `wristband user …`: add, list, delete, reset a password, import from another application.
//!
//! Names and passwords follow the same rules as registration (`auth_core::Username`, the
//! configured `PasswordPolicy`); new passwords are hashed with the configured Argon2id
//! parameters. Passwords and hashes are never printed.

use super::{Failure, open_service, password::read_new_password};
use crate::import_file::{self, Parsed, Rejected};
use auth_core::foreign_hash::ImportCostLimits;
use auth_core::service::{AdminPasswordReset, EmailChange, Registration};
use auth_core::store::{ImportMode, ImportOutcome, ImportReport};
use auth_core::{AuthService, Client, SecretString, Username};
use clap::Subcommand;
use std::path::{Path, PathBuf};
use std::time::Duration;
use time::format_description::well_known::Rfc3339;
use web::Config;

/// Imports of at least this many rows show the wrapping's progress.
const WRAP_BAR_MIN_ROWS: usize = 50;

/// Import files at least this large get a progress bar (about 1,500 rows of Werkzeug scrypt
/// hashes); smaller ones are read before a bar could show anything.
const PROGRESS_MIN_BYTES: u64 = 256 * 1024;

/// The `user` subcommands.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user.
    ///
    /// The password is read as one line from standard input when that is not a terminal (only
    /// the line ending is removed), else asked for twice without echo. Username and password
    /// follow the registration rules. Exit status 1 if the name is taken, 2 if the name or
    /// password breaks a rule.
    Add {
        /// The username (letters, digits, '_', '-', '.'; unique in any case).
        name: String,
    },
    /// List every user, oldest first, tab-separated: id, username, creation time (RFC 3339),
    /// email address (`-` when none), and `verified`, `unverified` or `-`.
    List,
    /// Set a user's email address, verified (the administrator vouches for it; no link is
    /// sent). A verified address the user had before gets a notice of the change.
    ///
    /// Exit status 1 if there is no such user or another user has the address, 2 if it is not
    /// an address.
    SetEmail {
        /// The username, in any case.
        name: String,
        /// The address.
        address: String,
    },
    /// Delete a user and end every session of theirs.
    ///
    /// Exit status 1 if there is no such user.
    Delete {
        /// The username, in any case.
        name: String,
    },
    /// Set a new password for a user (an administrator's reset) and end all their sessions.
    ///
    /// The password is read like `user add`'s and must pass the password rules. Every session
    /// of the user ends, in the database and cookie session stores alike. Exit status 1 if
    /// there is no such user, 2 if the password breaks a rule.
    SetPassword {
        /// The username, in any case.
        name: String,
    },
    /// Clear every second factor of a user (authenticator app, recovery codes), for a user
    /// who lost them; they log in with the password alone until they enrol again. A verified
    /// address gets a notice.
    ///
    /// Exit status 1 if there is no such user.
    #[command(name = "reset-2fa")]
    Reset2fa {
        /// The username, in any case.
        name: String,
    },
    /// Wrap in Argon2id every foreign hash still stored as it was imported.
    ///
    /// Imports wrap each foreign hash (Werkzeug, legacy SHA, bcrypt) at once, so a leaked
    /// database never holds one; this does the same for users imported before that. Each hash
    /// costs one Argon2id at the configured parameters, on every CPU. Resumable: interrupted,
    /// it picks up where it stopped, and hashes that are already Argon2 or wrapped, or that a
    /// login changed meanwhile, are left alone. Prints how many were wrapped.
    WrapHashes,
    /// Import users with existing password hashes (CSV or JSON Lines).
    ///
    /// FILE is CSV whose header names the columns `username` and `password_hash` (other
    /// columns are ignored), or JSON Lines with those keys. A `.csv`, `.jsonl` or `.ndjson`
    /// extension decides the format, else the first non-empty line does (`{` is JSON Lines).
    /// Hashes may be Werkzeug's (pbkdf2:…, scrypt:…, legacy sha1$/sha256$), bcrypt ($2a$, $2b$,
    /// $2y$) or Argon2: users keep their passwords. Each foreign hash is wrapped in Argon2id at
    /// once (one Argon2id per row, with a progress bar), so the database never holds it; the
    /// wrapper is replaced by a plain Argon2id hash at the user's first login. Hashes costlier
    /// than `password.import_max_cost` are refused.
    ///
    /// Every row is checked before anything is written: the username against the
    /// registration rules, the hash's format, and no name twice in the file (in any case;
    /// such rows are all refused). Refused rows and existing users are reported on stderr as
    /// `line N: reason`. Existing users are never overwritten. The new users are written in
    /// one transaction, so an import is never half done. stdout gets one summary line:
    /// `imported N, existing M, invalid K`.
    ///
    /// Without --strict the valid new users are imported even if other rows are invalid, and
    /// the exit status is 1 if any row was invalid; existing users are reported but are not
    /// errors, so running an import again is safe (exit status 0). With --strict, one invalid
    /// row or one existing user means nothing is written, exit status 1.
    Import {
        /// The CSV or JSON Lines file.
        file: PathBuf,
        /// Write nothing unless every row is valid and every user new.
        #[arg(long)]
        strict: bool,
        /// Check the file and report what would happen, without writing anything.
        #[arg(long)]
        dry_run: bool,
    },
}

/// Runs a `user` subcommand.
pub async fn run(config: Config, command: UserCommand) -> Result<(), Failure> {
    match command {
        UserCommand::Import {
            file,
            strict,
            dry_run,
        } => {
            // The file is read and checked before the store is opened: a bad file costs nothing.
            let parsed = read_import(&file, &config.settings.password.import_max_cost)?;
            import(&open_service(config).await?, parsed, strict, dry_run).await
        }
        UserCommand::Add { name } => {
            let username = parse_name(&name)?;
            add(&open_service(config).await?, &username).await
        }
        UserCommand::List => list(&open_service(config).await?).await,
        UserCommand::Reset2fa { name } => {
            let username = parse_name(&name)?;
            let service = open_service(config).await?;
            let outcome = reset_2fa(&service, &username).await;
            super::flush_mail(&service).await;
            outcome
        }
        UserCommand::SetEmail { name, address } => {
            let username = parse_name(&name)?;
            let service = open_service(config).await?;
            let outcome = set_email(&service, &username, &address).await;
            super::flush_mail(&service).await;
            outcome
        }
        UserCommand::WrapHashes => {
            // Every CPU: this is the one command that hashes many passwords.
            let service = super::open_service_with_workers(config, None).await?;
            wrap_hashes(&service).await
        }
        UserCommand::Delete { name } => {
            let username = parse_name(&name)?;
            delete(&open_service(config).await?, &username).await
        }
        UserCommand::SetPassword { name } => {
            let username = parse_name(&name)?;
            let service = open_service(config).await?;
            let outcome = set_password(&service, &username).await;
            // The user's notice of the reset goes out before the process ends.
            super::flush_mail(&service).await;
            outcome
        }
    }
}

/// A username typed on the command line, checked as at registration.
fn parse_name(raw: &str) -> Result<Username, Failure> {
    // An invalid name is echoed escaped: it may hold control characters.
    Username::parse(raw).map_err(|e| Failure::Usage(format!("invalid username {raw:?}: {e}")))
}

/// Reads a new password for `username` and applies the configured policy to it, before any
/// hashing.
fn new_password(service: &AuthService, username: &Username) -> Result<SecretString, Failure> {
    let password = read_new_password(username.as_str())?;
    service
        .check_new_password(&password, username)
        .map_err(|violation| Failure::Usage(format!("password refused: {violation}")))?;
    Ok(password)
}

async fn add(service: &AuthService, username: &Username) -> Result<(), Failure> {
    let taken = || Failure::Runtime(format!("user {username} exists"));
    // Asked before the password, so nobody types one for a name that is taken; the
    // registration below still decides if another one wins in between.
    if service.find_user(username).await?.is_some() {
        return Err(taken());
    }
    let password = new_password(service, username)?;
    match service
        .register(username.as_str(), &password, None, &Client::command_line())
        .await?
    {
        Registration::Created(user) => {
            println!("created user {} (id {})", user.username, user.id);
            Ok(())
        }
        Registration::Taken => Err(taken()),
        Registration::EmailTaken => Err(Failure::Runtime("that email address is taken".into())),
        Registration::Invalid(errors) => Err(Failure::Usage(
            errors.into_values().collect::<Vec<_>>().join(" "),
        )),
    }
}

/// Users examined per batch of `user wrap-hashes`.
const WRAP_BATCH: u64 = 200;

async fn wrap_hashes(service: &AuthService) -> Result<(), Failure> {
    let bar = counting_bar(0, "wrapping imported hashes");
    let report = service
        .wrap_stored_hashes(WRAP_BATCH, &mut |examined, total| {
            bar.set_length(total);
            bar.set_position(examined);
        })
        .await;
    bar.finish_and_clear();
    let report = report?;
    println!(
        "examined {} users: wrapped {}, changed meanwhile {}",
        report.examined, report.wrapped, report.changed_meanwhile
    );
    Ok(())
}

async fn list(service: &AuthService) -> Result<(), Failure> {
    use std::io::Write;
    let users = service.list_users().await?;
    let mut out = std::io::stdout().lock();
    for user in users {
        let created = user
            .created_at
            .format(&Rfc3339)
            .map_err(|e| Failure::Runtime(format!("cannot format a time: {e}")))?;
        // Usernames hold no tabs or newlines (letters, digits, '_', '-', '.'), so the columns
        // stay unambiguous.
        let (email, verified) = match &user.email {
            Some(email) if user.email_verified => (email.as_str(), "verified"),
            Some(email) => (email.as_str(), "unverified"),
            None => ("-", "-"),
        };
        // Addresses hold no tabs or newlines either (the parser refuses them).
        writeln!(
            out,
            "{}\t{}\t{created}\t{email}\t{verified}",
            user.id, user.username
        )
        .map_err(|e| Failure::Runtime(format!("cannot write to stdout: {e}")))?;
    }
    Ok(())
}

async fn reset_2fa(service: &AuthService, username: &Username) -> Result<(), Failure> {
    match service
        .reset_second_factors(username, &Client::command_line())
        .await?
    {
        None => Err(Failure::Runtime(format!("no user {username}"))),
        Some(true) => {
            println!("second factors of {username} cleared");
            Ok(())
        }
        Some(false) => {
            println!("{username} had no second factor");
            Ok(())
        }
    }
}

async fn set_email(
    service: &AuthService,
    username: &Username,
    address: &str,
) -> Result<(), Failure> {
    match service.set_verified_email(username, address).await? {
        None => Err(Failure::Runtime(format!("no user {username}"))),
        Some(EmailChange::Changed(user)) => {
            let email = user.email.as_ref().map_or("", |e| e.as_str());
            println!(
                "email address of {} set to {email} (verified)",
                user.username
            );
            Ok(())
        }
        Some(EmailChange::Unchanged) => Ok(()),
        Some(EmailChange::Invalid(errors)) => Err(Failure::Usage(format!(
            "invalid address {address:?}: {}",
            errors.get("email").map_or("not an address", String::as_str)
        ))),
        Some(EmailChange::Taken) => Err(Failure::Runtime(format!(
            "another user has the address {address}"
        ))),
        Some(EmailChange::Disabled) => Err(Failure::Usage(
            "email addresses are off (account.email = \"off\")".into(),
        )),
    }
}

async fn delete(service: &AuthService, username: &Username) -> Result<(), Failure> {
    match service
        .delete_user(username, &Client::command_line())
        .await?
    {
        Some(user) => {
            println!("deleted user {}", user.username);
            Ok(())
        }
        None => Err(Failure::Runtime(format!("no user {username}"))),
    }
}

async fn set_password(service: &AuthService, username: &Username) -> Result<(), Failure> {
    let Some(user) = service.find_user(username).await? else {
        return Err(Failure::Runtime(format!("no user {username}")));
    };
    let password = new_password(service, &user.username)?;
    match service
        .set_password(&user.username, &password, &Client::command_line())
        .await?
    {
        AdminPasswordReset::Done {
            user,
            sessions_ended,
        } => {
            println!(
                "password of {} changed; {sessions_ended} sessions ended",
                user.username
            );
            Ok(())
        }
        AdminPasswordReset::UnknownUser => Err(Failure::Runtime(format!("no user {username}"))),
        AdminPasswordReset::Refused(violation) => {
            Err(Failure::Usage(format!("password refused: {violation}")))
        }
    }
}

/// A progress bar on stderr for large files; indicatif draws nothing when stderr is not a
/// terminal.
fn progress_bar(path: &Path) -> indicatif::ProgressBar {
    let size = std::fs::metadata(path).map_or(0, |m| m.len());
    if size < PROGRESS_MIN_BYTES {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(size);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "checking {wide_bar} {binary_bytes}/{binary_total_bytes} {eta}",
    ) {
        bar.set_style(style);
    }
    bar
}

/// A bar counting `total` items on stderr, drawn only when stderr is a terminal.
fn counting_bar(total: u64, message: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(total).with_message(message.to_owned());
    if let Ok(style) = indicatif::ProgressStyle::with_template("{msg} {wide_bar} {pos}/{len} {eta}")
    {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// The import file, read and checked row by row.
struct ImportFile {
    parsed: Parsed,
    large: bool,
}

fn read_import(path: &Path, limits: &ImportCostLimits) -> Result<ImportFile, Failure> {
    let bar = progress_bar(path);
    let read = import_file::read_file(path, limits, &mut |bytes| bar.set_position(bytes));
    bar.finish_and_clear();
    let (_format, parsed) = read.map_err(|e| Failure::Runtime(e.to_string()))?;
    Ok(ImportFile {
        parsed,
        large: !bar.is_hidden(),
    })
}

async fn import(
    service: &AuthService,
    file: ImportFile,
    strict: bool,
    dry_run: bool,
) -> Result<(), Failure> {
    let Parsed { rows, rejected } = file.parsed;
    // With --strict and an invalid row nothing may be written, but the store is still asked
    // which users exist, so one run reports every problem.
    let mode = if dry_run || (strict && !rejected.is_empty()) {
        ImportMode::DryRun
    } else if strict {
        ImportMode::AllOrNothing
    } else {
        ImportMode::SkipExisting
    };
    let users: Vec<_> = rows
        .iter()
        .map(|row| (row.username.clone(), row.password_hash.clone()))
        .collect();
    // Wrapping costs one Argon2id per imported hash: a bar for anything more than a few.
    let bar = if file.large || users.len() >= WRAP_BAR_MIN_ROWS {
        counting_bar(users.len() as u64, "wrapping in Argon2id")
    } else {
        indicatif::ProgressBar::hidden()
    };
    let report = service
        .import_users(&users, mode, &Client::command_line(), &mut |done| {
            bar.set_position(done as u64);
            if done == users.len() {
                bar.set_message(format!("writing {} users", users.len()));
            }
        })
        .await;
    bar.finish_and_clear();
    let report = report?;
    let (created, existing, invalid) = (
        report.created(),
        report.count(ImportOutcome::Existing),
        rejected.len(),
    );
    report_rows(&rows, &rejected, &report, strict);
    if dry_run {
        println!(
            "dry run, nothing written: would import {}, existing {existing}, invalid {invalid}",
            report.count(ImportOutcome::New)
        );
    } else {
        println!("imported {created}, existing {existing}, invalid {invalid}");
    }
    if strict && (invalid > 0 || existing > 0) {
        return Err(Failure::Runtime(format!(
            "nothing imported (--strict): invalid rows: {invalid}, existing users: {existing}"
        )));
    }
    if invalid > 0 {
        return Err(Failure::Runtime(if dry_run {
            format!("{invalid} rows would be refused (listed above)")
        } else {
            format!("{invalid} rows refused (listed above); {created} new users imported")
        }));
    }
    Ok(())
}

/// Prints `line N: reason` on stderr for every refused row and existing user, in file order.
fn report_rows(
    rows: &[import_file::Row],
    rejected: &[Rejected],
    report: &ImportReport,
    strict: bool,
) {
    let existing = rows
        .iter()
        .zip(&report.outcomes)
        .filter(|(_, outcome)| **outcome == ImportOutcome::Existing)
        .map(|(row, _)| Rejected {
            line: row.line,
            reason: if strict {
                format!("user {} exists", row.username)
            } else {
                format!("user {} exists; not overwritten", row.username)
            },
        });
    let mut lines: Vec<Rejected> = rejected.iter().cloned().chain(existing).collect();
    lines.sort_by_key(|r| r.line);
    for line in lines {
        eprintln!("{line}");
    }
}
