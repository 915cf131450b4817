//! Running child processes.

use pg_cluster::shell_quote;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};

use crate::error::{Failure, Result};
use crate::interrupt;
use crate::postgres::TEST_URL_VAR;

/// Environment variables whose values are not shown when a command line is printed.
const HIDDEN_VARIABLES: &[&str] = &[TEST_URL_VAR];

/// Runs `command` with inherited stdout/stderr (stdin closed) and waits for it.
pub fn run(command: &mut Command) -> Result<ExitStatus> {
    let status = command
        .stdin(Stdio::null())
        .status()
        .map_err(|error| spawn_error(command, &error))?;
    interrupt::check(status)
}

/// Whether `command` runs and exits successfully, all output discarded.
pub fn succeeds(command: &mut Command) -> bool {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Runs `apt-get ARGS` with its output shown; `false` when it failed or there is no apt-get.
pub fn apt_get(args: &[&str]) -> Result<bool> {
    let status = Command::new("apt-get")
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(Stdio::null())
        .status();
    match status {
        Ok(status) => Ok(interrupt::check(status)?.success()),
        Err(error) => {
            eprintln!("xtask: cannot run apt-get: {error}");
            Ok(false)
        }
    }
}

fn spawn_error(command: &Command, error: &std::io::Error) -> Failure {
    Failure::Error(format!("cannot run `{}`: {error}", describe(command)))
}

/// A command as a shell-like line, for headers and messages: variables set on it first, then
/// the program's file name and the arguments, quoted where needed.
pub fn describe(command: &Command) -> String {
    let mut words = Vec::new();
    for (key, value) in command.get_envs() {
        let Some(value) = value else { continue };
        let key = key.to_string_lossy();
        let value = if HIDDEN_VARIABLES.contains(&key.as_ref()) {
            "…".to_owned()
        } else {
            shell_quote(&value.to_string_lossy())
        };
        words.push(format!("{key}={value}"));
    }
    let program = Path::new(command.get_program());
    let name = program.file_name().unwrap_or(program.as_os_str());
    words.push(shell_quote(&name.to_string_lossy()));
    words.extend(
        command
            .get_args()
            .map(|arg| shell_quote(&arg.to_string_lossy())),
    );
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_commands_without_secrets() {
        let mut command = Command::new("/usr/bin/cargo");
        command
            .args(["test", "--doc"])
            .env("RUSTDOCFLAGS", "-D warnings")
            .env("WRISTBAND_TEST_POSTGRES_URL", "postgres://u:secret@h/db");
        let line = describe(&command);
        assert_eq!(
            line,
            "RUSTDOCFLAGS='-D warnings' WRISTBAND_TEST_POSTGRES_URL=… cargo test --doc"
        );
    }
}
