//! Running the PostgreSQL programs, and finding programs.

use std::env;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};

use crate::error::{Error, ErrorKind};

/// SIGINT and SIGTERM, by their Linux and BSD numbers.
const SIGINT: i32 = 2;
const SIGTERM: i32 = 15;

/// Runs `command` with its output captured (stdin closed) and waits for it.
pub(crate) fn output(command: &mut Command) -> Result<Output, Error> {
    command.stdin(Stdio::null()).output().map_err(|error| {
        Error::new(
            ErrorKind::Io,
            format!("cannot run `{}`: {error}", describe(command)),
        )
    })
}

/// Whether `command` runs and exits successfully, all output discarded.
pub(crate) fn succeeds(command: &mut Command) -> bool {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Whether a program ended because of SIGINT or SIGTERM: killed by it, or (like `runuser`,
/// which passes the signal on) exiting with 128 + its number.
pub(crate) fn interrupted(status: ExitStatus) -> bool {
    matches!(status.signal(), Some(SIGINT | SIGTERM))
        || matches!(status.code(), Some(code) if code == 128 + SIGINT || code == 128 + SIGTERM)
}

/// The error for a PostgreSQL program that failed: [`ErrorKind::Interrupted`] when a signal
/// stopped it, else `kind`.
pub(crate) fn failure(kind: ErrorKind, status: ExitStatus, message: String) -> Error {
    if interrupted(status) {
        Error::new(ErrorKind::Interrupted, format!("{message} (interrupted)"))
    } else {
        Error::new(kind, message)
    }
}

/// The captured stdout and stderr of `output`, trimmed, for an error message.
pub(crate) fn output_text(output: &Output) -> String {
    let mut text = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !stderr.trim().is_empty() {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(stderr.trim());
    }
    text
}

/// A command as a shell-like line for messages: the program's file name and the arguments,
/// quoted where needed.
pub(crate) fn describe(command: &Command) -> String {
    let program = Path::new(command.get_program());
    let name = program.file_name().unwrap_or(program.as_os_str());
    std::iter::once(name)
        .chain(command.get_args())
        .map(|word| shell_quote(&word.to_string_lossy()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Quotes `word` for a POSIX shell, leaving plain words as they are (for printing commands a
/// person can paste).
pub fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@+%".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Whether `path` is an executable file.
pub(crate) fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// Finds `name` on PATH, then in `fallbacks` (full paths).
pub(crate) fn find_program(name: &str, fallbacks: &[&str]) -> Option<PathBuf> {
    find_on_path(name, env::var_os("PATH").as_deref()).or_else(|| {
        fallbacks
            .iter()
            .map(PathBuf::from)
            .find(|path| is_executable(path))
    })
}

/// The first folder in the PATH-like list `path` that holds an executable `name`.
fn find_on_path(name: &str, path: Option<&OsStr>) -> Option<PathBuf> {
    env::split_paths(path?)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_what_needs_it() {
        assert_eq!(shell_quote("-D"), "-D");
        assert_eq!(shell_quote("/tmp/a b"), "'/tmp/a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn describes_commands_by_program_name() {
        let mut command = Command::new("/usr/lib/postgresql/15/bin/pg_ctl");
        command.args(["-D", "/tmp/x y", "-o", "-p 5", "start"]);
        assert_eq!(describe(&command), "pg_ctl -D '/tmp/x y' -o '-p 5' start");
    }

    #[test]
    fn recognises_interruptions() {
        assert!(interrupted(ExitStatus::from_raw(SIGINT)));
        assert!(interrupted(ExitStatus::from_raw(SIGTERM)));
        assert!(interrupted(ExitStatus::from_raw(130 << 8)));
        assert!(!interrupted(ExitStatus::from_raw(1 << 8)));
        assert!(!interrupted(ExitStatus::from_raw(0)));
    }
}
