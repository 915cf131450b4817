//! Reading a new password for `user add` and `user set-password`: one line from standard input
//! when it is not a terminal (scripts, `echo … |`), else a no-echo prompt asked twice.

use super::Failure;
use auth_core::SecretString;
use std::io::{BufRead, IsTerminal};

/// Longest line read from standard input, in bytes: far above `password.max_length` code points
/// of any script, and a bound on what a runaway pipe can make us hold.
const MAX_STDIN_BYTES: u64 = 64 * 1024;

/// The new password for `username`, from standard input or the terminal.
pub fn read_new_password(username: &str) -> Result<SecretString, Failure> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        prompt_twice(username)
    } else {
        read_line(stdin.lock())
    }
}

fn prompt_twice(username: &str) -> Result<SecretString, Failure> {
    // rpassword reads from the terminal itself with echo off, so nothing shows on screen.
    let prompt = |text: &str| {
        rpassword::prompt_password(text)
            .map(SecretString::new)
            .map_err(|e| {
                Failure::Runtime(format!("cannot read the password from the terminal: {e}"))
            })
    };
    let first = prompt(&format!("New password for {username}: "))?;
    let second = prompt("Repeat the password: ")?;
    if first != second {
        return Err(Failure::Usage(
            "the two passwords differ; nothing changed".into(),
        ));
    }
    Ok(first)
}

/// One line of `input`, without its line ending (`\n` or `\r\n`); nothing else is trimmed, so
/// spaces are part of the password.
pub fn read_line(input: impl BufRead) -> Result<SecretString, Failure> {
    let mut bytes = Vec::new();
    input
        .take(MAX_STDIN_BYTES)
        .read_until(b'\n', &mut bytes)
        .map_err(|e| {
            Failure::Runtime(format!("cannot read the password from standard input: {e}"))
        })?;
    let had_newline = bytes.last() == Some(&b'\n');
    if !had_newline && bytes.len() as u64 >= MAX_STDIN_BYTES {
        return Err(Failure::Usage(format!(
            "the password on standard input is longer than {MAX_STDIN_BYTES} bytes"
        )));
    }
    if had_newline {
        bytes.pop();
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
    }
    let text = String::from_utf8(bytes)
        .map_err(|_| Failure::Usage("the password on standard input is not valid UTF-8".into()))?;
    let password = SecretString::new(text);
    if password.is_empty() {
        return Err(Failure::Usage(
            "no password on standard input: pipe it as one line, or run on a terminal to be \
             asked for it"
                .into(),
        ));
    }
    Ok(password)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(input: &[u8]) -> Result<String, String> {
        read_line(input)
            .map(|p| p.expose().to_owned())
            .map_err(|e| format!("{e:?}"))
    }

    #[test]
    fn only_the_line_ending_is_removed() {
        assert_eq!(
            line(b"  spaced out  \nsecond line"),
            Ok("  spaced out  ".into())
        );
        assert_eq!(line(b"crlf ending\r\n"), Ok("crlf ending".into()));
        assert_eq!(line(b"no newline"), Ok("no newline".into()));
        assert!(line(b"").is_err());
        assert!(line(b"\n").is_err());
        assert!(line(b"\xff\xfe\n").is_err());
        assert!(line(&vec![b'x'; 70_000]).is_err());
    }
}
