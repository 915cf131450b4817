//! Reading the files of `wristband user import`: users of another application (a Flask app's
//! `users` table, say) with the password hashes it stored, so they keep their passwords.
//!
//! Two formats, each with the fields `username` and `password_hash`:
//!
//! - **CSV** (RFC 4180, as Python's `csv` module writes it) with a header line naming both
//!   columns, in any order; other columns are ignored. Fields are trimmed. Argon2 hashes hold
//!   commas (`m=…,t=…,p=…`), so they must be quoted, as Python's `csv` module does; a row with
//!   more fields than the header is refused rather than guessed at.
//! - **JSON Lines**: one object per line with both keys as strings; other keys are ignored.
//!
//! [`Format::detect`] decides by extension (`.csv`; `.jsonl`, `.ndjson`), else by the first
//! non-empty line (`{` means JSON Lines).
//!
//! Every row is checked before anything is written: the username by [`Username::parse`] (the
//! registration rules), the hash by [`identify`] (a format the hasher verifies, at a cost it
//! accepts), and the name's identity must not occur twice in the file. A row that fails is
//! [`Rejected`] with its line number and a reason meant for the person fixing the file. No
//! reason ever contains a password hash, nor a username that failed to parse (a column mix-up
//! would put a hash there).

use auth_core::foreign_hash::{ImportCostLimits, identify};
use auth_core::{PasswordHashString, Username};
use std::collections::HashMap;
use std::fmt;
use std::path::Path;

/// The CSV column / JSON key holding the username.
pub const USERNAME_FIELD: &str = "username";
/// The CSV column / JSON key holding the stored password hash.
pub const HASH_FIELD: &str = "password_hash";

/// How many bytes [`read_file`] shows [`Format::detect`] to find the first non-empty line.
const SNIFF_BYTES: usize = 8 * 1024;
/// At most this many line numbers are listed for a name that occurs more than once.
const MAX_LISTED_LINES: usize = 5;

/// The format of an import file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated values with a header line.
    Csv,
    /// One JSON object per line.
    JsonLines,
}

impl Format {
    /// The format the file name's extension names, else the one its first non-empty line
    /// (in `head`, the start of the file) looks like: `{` is JSON Lines, anything else CSV.
    pub fn detect(path: &Path, head: &[u8]) -> Self {
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match extension.as_deref() {
            Some("csv") => return Self::Csv,
            Some("jsonl" | "ndjson") => return Self::JsonLines,
            _ => {}
        }
        let head = head.strip_prefix(UTF8_BOM).unwrap_or(head);
        match head.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{') => Self::JsonLines,
            _ => Self::Csv,
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Csv => "CSV",
            Self::JsonLines => "JSON Lines",
        })
    }
}

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// A row that passed every check.
#[derive(Debug, Clone)]
pub struct Row {
    /// Line of the file the row starts on (1 is the first line).
    pub line: u64,
    /// The username, normalised as at registration.
    pub username: Username,
    /// The stored hash, of a format the hasher verifies (redacted in `Debug`).
    pub password_hash: PasswordHashString,
}

/// A row that failed a check, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// Line of the file the row starts on.
    pub line: u64,
    /// What is wrong, for the person fixing the file; never contains a hash.
    pub reason: String,
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// A read import file: the valid rows and the rejected ones, each in file order.
#[derive(Debug, Default)]
pub struct Parsed {
    /// Rows that may be imported.
    pub rows: Vec<Row>,
    /// Rows that may not, with reasons.
    pub rejected: Vec<Rejected>,
}

/// Why a file could not be read at all (as opposed to single rows being refused).
#[derive(Debug, thiserror::Error)]
pub enum ImportFileError {
    /// The file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file, as given.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The CSV reader failed: not expected when reading from memory, but never a panic.
    #[error("cannot read the CSV file: {0}")]
    Csv(String),
    /// The CSV file has no header line.
    #[error("the CSV file is empty: it needs the header line `username,password_hash`")]
    NoHeader,
    /// The CSV header lacks a column (its text is not repeated: it might be data).
    #[error(
        "line 1: the CSV header has no `{0}` column; it must name `username` and `password_hash`"
    )]
    MissingColumn(&'static str),
    /// The CSV header names a column twice.
    #[error("line 1: the CSV header names the `{0}` column twice")]
    DuplicateColumn(&'static str),
}

/// Reads and checks the import file at `path`, in the format [`Format::detect`] finds.
/// `progress` is told how many bytes have been checked so far, now and then.
pub fn read_file(
    path: &Path,
    limits: &ImportCostLimits,
    progress: &mut dyn FnMut(u64),
) -> Result<(Format, Parsed), ImportFileError> {
    // Read whole: the rows are all held before anything is written anyway, and CSV line
    // numbers are found by looking at the bytes around each record.
    let bytes = std::fs::read(path).map_err(|source| ImportFileError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let format = Format::detect(path, &bytes[..bytes.len().min(SNIFF_BYTES)]);
    Ok((format, read(&bytes, format, limits, progress)?))
}

/// Reads and checks the content of an import file of `format`; see [`read_file`].
pub fn read(
    bytes: &[u8],
    format: Format,
    limits: &ImportCostLimits,
    progress: &mut dyn FnMut(u64),
) -> Result<Parsed, ImportFileError> {
    let mut parsed = match format {
        Format::Csv => read_csv(bytes, limits, progress)?,
        Format::JsonLines => read_json_lines(bytes, limits, progress),
    };
    reject_repeated_names(&mut parsed);
    Ok(parsed)
}

/// The checks of one row, once its two fields are found; `Err` is the reason to reject it.
/// A hash above `password.import_max_cost` is refused like a malformed one.
fn check_row(
    username: &str,
    hash: &str,
    limits: &ImportCostLimits,
) -> Result<(Username, PasswordHashString), String> {
    let username = Username::parse(username).map_err(|e| format!("invalid username: {e}"));
    let hash = identify(hash.trim())
        .and_then(|format| limits.admit(&format))
        .map(|()| PasswordHashString::new(hash.trim()))
        .map_err(|e| format!("invalid password hash: {e}"));
    match (username, hash) {
        (Ok(username), Ok(hash)) => Ok((username, hash)),
        (Err(a), Err(b)) => Err(format!("{a}; {b}")),
        (Err(reason), Ok(_)) | (Ok(_), Err(reason)) => Err(reason),
    }
}

fn push_row<U: AsRef<str>, H: AsRef<str>>(
    parsed: &mut Parsed,
    line: u64,
    fields: Result<(U, H), String>,
    limits: &ImportCostLimits,
) {
    match fields.and_then(|(username, hash)| check_row(username.as_ref(), hash.as_ref(), limits)) {
        Ok((username, password_hash)) => parsed.rows.push(Row {
            line,
            username,
            password_hash,
        }),
        Err(reason) => parsed.rejected.push(Rejected { line, reason }),
    }
}

fn read_csv(
    bytes: &[u8],
    limits: &ImportCostLimits,
    progress: &mut dyn FnMut(u64),
) -> Result<Parsed, ImportFileError> {
    // Reading from memory cannot fail with I/O; byte records with `flexible` fail only so.
    let csv_error = |e: csv::Error| ImportFileError::Csv(e.to_string());
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let header = reader.byte_headers().map_err(csv_error)?.clone();
    if header.iter().all(<[u8]>::is_empty) {
        return Err(ImportFileError::NoHeader);
    }
    let column = |wanted: &'static str| -> Result<usize, ImportFileError> {
        let mut found = header.iter().enumerate().filter(|(_, name)| {
            let name = name.strip_prefix(UTF8_BOM).unwrap_or(name);
            name.eq_ignore_ascii_case(wanted.as_bytes())
        });
        match (found.next(), found.next()) {
            (Some((index, _)), None) => Ok(index),
            (Some(_), Some(_)) => Err(ImportFileError::DuplicateColumn(wanted)),
            (None, _) => Err(ImportFileError::MissingColumn(wanted)),
        }
    };
    let (username_at, hash_at) = (column(USERNAME_FIELD)?, column(HASH_FIELD)?);
    let mut parsed = Parsed::default();
    let mut record = csv::ByteRecord::new();
    while reader.read_byte_record(&mut record).map_err(csv_error)? {
        // A line of nothing but spaces.
        if record.iter().all(<[u8]>::is_empty) {
            continue;
        }
        let (line, byte) = record
            .position()
            .map_or((0, 0), |p| start_of_record(bytes, p));
        progress(byte);
        let field = |index: usize, name: &str| match record.get(index) {
            None => Err(format!("the `{name}` field is missing")),
            Some(bytes) => std::str::from_utf8(bytes)
                .map_err(|_| format!("the `{name}` field is not valid UTF-8")),
        };
        let fields = if record.len() > header.len() {
            // Most likely an unquoted Argon2 hash (`m=…,t=…,p=…`), whose pieces would
            // otherwise land in the wrong columns.
            Err(format!(
                "{} fields where the header has {}: quote fields that contain commas, as Argon2 \
                 hashes do",
                record.len(),
                header.len()
            ))
        } else {
            field(username_at, USERNAME_FIELD)
                .and_then(|username| Ok((username, field(hash_at, HASH_FIELD)?)))
        };
        push_row(&mut parsed, line, fields, limits);
    }
    Ok(parsed)
}

/// The line and byte offset where a CSV record really starts. The csv crate positions a record
/// where reading it began, before the empty lines it skips, so those are counted here.
fn start_of_record(bytes: &[u8], position: &csv::Position) -> (u64, u64) {
    let from = usize::try_from(position.byte()).unwrap_or(usize::MAX);
    let skipped = bytes
        .get(from..)
        .unwrap_or_default()
        .iter()
        .take_while(|b| matches!(b, b'\n' | b'\r'));
    let (mut line, mut byte) = (position.line(), position.byte());
    for b in skipped {
        byte += 1;
        if *b == b'\n' {
            line += 1;
        }
    }
    (line, byte)
}

fn read_json_lines(
    bytes: &[u8],
    limits: &ImportCostLimits,
    progress: &mut dyn FnMut(u64),
) -> Parsed {
    let mut parsed = Parsed::default();
    let mut offset = 0u64;
    for (index, raw) in bytes.split_inclusive(|b| *b == b'\n').enumerate() {
        let line = index as u64 + 1;
        offset += raw.len() as u64;
        progress(offset);
        let text = if line == 1 {
            raw.strip_prefix(UTF8_BOM).unwrap_or(raw)
        } else {
            raw
        };
        if text.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        // Parsed to a `Value` first: serde's type errors quote the offending value, which
        // might be a hash; syntax errors name only a position.
        let fields = match serde_json::from_slice::<serde_json::Value>(text) {
            Err(e) => Err(format!("not valid JSON: {e}")),
            Ok(serde_json::Value::Object(object)) => {
                let field = |name: &str| match object.get(name) {
                    Some(serde_json::Value::String(value)) => Ok(value.clone()),
                    Some(_) => Err(format!("`{name}` is not a string")),
                    None => Err(format!("the `{name}` key is missing")),
                };
                field(USERNAME_FIELD).and_then(|u| Ok((u, field(HASH_FIELD)?)))
            }
            Ok(_) => Err("not a JSON object".to_owned()),
        };
        push_row(&mut parsed, line, fields, limits);
    }
    parsed
}

/// A name whose identity occurs on several rows is ambiguous (which hash is right?): every one
/// of those rows is rejected, and none is imported.
fn reject_repeated_names(parsed: &mut Parsed) {
    let mut lines_of: HashMap<&str, Vec<u64>> = HashMap::new();
    for row in &parsed.rows {
        lines_of
            .entry(row.username.key())
            .or_default()
            .push(row.line);
    }
    let repeated: HashMap<String, Vec<u64>> = lines_of
        .into_iter()
        .filter(|(_, lines)| lines.len() > 1)
        .map(|(key, lines)| (key.to_owned(), lines))
        .collect();
    if repeated.is_empty() {
        return;
    }
    let rows = std::mem::take(&mut parsed.rows);
    for row in rows {
        match repeated.get(row.username.key()) {
            None => parsed.rows.push(row),
            Some(lines) => {
                let mut listed: Vec<String> = lines
                    .iter()
                    .take(MAX_LISTED_LINES)
                    .map(u64::to_string)
                    .collect();
                if lines.len() > MAX_LISTED_LINES {
                    listed.push("…".to_owned());
                }
                parsed.rejected.push(Rejected {
                    line: row.line,
                    reason: format!(
                        "user {} appears {} times in the file (lines {}, in any case); none of \
                         those rows is imported",
                        row.username,
                        lines.len(),
                        listed.join(", ")
                    ),
                });
            }
        }
    }
    parsed.rejected.sort_by_key(|r| r.line);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    const PBKDF2: &str = "pbkdf2:sha256:600000$salt1234$0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    const ARGON2: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY";

    fn parse(text: &str, format: Format) -> Parsed {
        read(
            text.as_bytes(),
            format,
            &ImportCostLimits::default(),
            &mut |_| {},
        )
        .unwrap()
    }

    fn rejected(parsed: &Parsed) -> Vec<String> {
        parsed.rejected.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn detects_by_extension_then_by_first_line() {
        let json = b"\n  {\"username\": \"a\"}";
        assert_eq!(Format::detect(Path::new("u.CSV"), json), Format::Csv);
        assert_eq!(
            Format::detect(Path::new("u.ndjson"), b"a,b"),
            Format::JsonLines
        );
        assert_eq!(Format::detect(Path::new("u.jsonl"), b""), Format::JsonLines);
        assert_eq!(Format::detect(Path::new("users"), json), Format::JsonLines);
        assert_eq!(
            Format::detect(Path::new("u.txt"), b"\xEF\xBB\xBF{"),
            Format::JsonLines
        );
        assert_eq!(
            Format::detect(Path::new("u.txt"), b"username,"),
            Format::Csv
        );
        assert_eq!(Format::detect(Path::new("u.txt"), b""), Format::Csv);
    }

    #[test]
    fn csv_rows_are_checked_with_their_line_numbers() {
        let text = format!(
            "id,password_hash,username\n\
             1,{PBKDF2},Alice\n\
             \n\
             2,\"{ARGON2}\",\"bo\nb\"\n\
             3,\"{ARGON2}\",carol\n\
             4,plain$$hunter2,dave\n\
             5,\"{ARGON2}\"\n\
             6,\"{ARGON2}\",  erin  \n\
             7,{ARGON2},frank\n\
             \x20  \r\n\
             8,\"{ARGON2}\",gina\r\n"
        );
        let parsed = parse(&text, Format::Csv);
        let names: Vec<_> = parsed
            .rows
            .iter()
            .map(|r| (r.line, r.username.as_str()))
            .collect();
        assert_eq!(
            names,
            [(2, "Alice"), (6, "carol"), (9, "erin"), (12, "gina")]
        );
        let reasons = rejected(&parsed);
        assert_eq!(reasons.len(), 4, "{reasons:?}");
        assert!(
            reasons[0].starts_with("line 4: invalid username"),
            "{reasons:?}"
        );
        assert!(reasons[1].starts_with("line 7: invalid password hash: a plaintext"));
        assert_eq!(reasons[2], "line 8: the `username` field is missing");
        assert!(reasons[3].starts_with("line 10: 5 fields where the header has 3: quote"));
        assert!(reasons.iter().all(|r| !r.contains("hunter2")));
    }

    #[test]
    fn csv_header_must_name_both_columns_and_is_never_echoed() {
        let no_header = format!("alice,{PBKDF2}\n");
        let error = read(
            no_header.as_bytes(),
            Format::Csv,
            &ImportCostLimits::default(),
            &mut |_| {},
        )
        .unwrap_err();
        assert!(matches!(error, ImportFileError::MissingColumn("username")));
        assert!(!error.to_string().contains("pbkdf2"));
        let twice = "username,USERNAME,password_hash\n";
        assert!(matches!(
            read(
                twice.as_bytes(),
                Format::Csv,
                &ImportCostLimits::default(),
                &mut |_| {}
            ),
            Err(ImportFileError::DuplicateColumn("username"))
        ));
        assert!(matches!(
            read(
                &b""[..],
                Format::Csv,
                &ImportCostLimits::default(),
                &mut |_| {}
            ),
            Err(ImportFileError::NoHeader)
        ));
        let bom = format!("\u{feff}Username,Password_Hash\r\nalice,\"{ARGON2}\"\r\n");
        assert_eq!(parse(&bom, Format::Csv).rows.len(), 1);
    }

    #[test]
    fn json_lines_are_checked_without_quoting_values() {
        let text = format!(
            "{{\"username\": \"alice\", \"password_hash\": \"{PBKDF2}\", \"id\": 1}}\n\
             \n\
             {{\"username\": \"bob\", \"password_hash\": 12345678}}\n\
             [1, 2]\n\
             {{\"username\": \"carol\"\n\
             {{\"password_hash\": \"{ARGON2}\"}}\n\
             {{\"username\": \"bad name\", \"password_hash\": \"md5$x$secretvalue\"}}\r\n\
             {{\"username\": \"dave\", \"password_hash\": \"{ARGON2}\"}}"
        );
        let parsed = parse(&text, Format::JsonLines);
        let names: Vec<_> = parsed
            .rows
            .iter()
            .map(|r| (r.line, r.username.as_str()))
            .collect();
        assert_eq!(names, [(1, "alice"), (8, "dave")]);
        let reasons = rejected(&parsed);
        assert_eq!(reasons[0], "line 3: `password_hash` is not a string");
        assert_eq!(reasons[1], "line 4: not a JSON object");
        assert!(
            reasons[2].starts_with("line 5: not valid JSON"),
            "{reasons:?}"
        );
        assert_eq!(reasons[3], "line 6: the `username` key is missing");
        assert!(reasons[4].starts_with("line 7: invalid username: "));
        assert!(reasons[4].contains("; invalid password hash: "));
        let all = reasons.join("\n");
        assert!(
            !all.contains("12345678") && !all.contains("secretvalue") && !all.contains("bad name")
        );
    }

    #[test]
    fn a_name_listed_twice_in_any_case_rejects_every_occurrence() {
        let text = format!(
            "username,password_hash\nAlice,{PBKDF2}\nbob,{PBKDF2}\nALICE,{PBKDF2}\nalice,{PBKDF2}\n"
        );
        let parsed = parse(&text, Format::Csv);
        let names: Vec<_> = parsed.rows.iter().map(|r| r.username.as_str()).collect();
        assert_eq!(names, ["bob"]);
        let reasons = rejected(&parsed);
        assert_eq!(
            reasons,
            [
                "line 2: user Alice appears 3 times in the file (lines 2, 4, 5, in any case); none of those rows is imported",
                "line 4: user ALICE appears 3 times in the file (lines 2, 4, 5, in any case); none of those rows is imported",
                "line 5: user alice appears 3 times in the file (lines 2, 4, 5, in any case); none of those rows is imported",
            ]
        );
    }

    #[test]
    fn progress_reaches_the_end_of_the_input() {
        let text = format!("username,password_hash\nalice,{PBKDF2}\n");
        let mut last = 0;
        read(
            text.as_bytes(),
            Format::Csv,
            &ImportCostLimits::default(),
            &mut |n| last = n,
        )
        .unwrap();
        assert!(last > 0 && last <= text.len() as u64);
        let jsonl = format!("{{\"username\":\"a\",\"password_hash\":\"{ARGON2}\"}}\n");
        read(
            jsonl.as_bytes(),
            Format::JsonLines,
            &ImportCostLimits::default(),
            &mut |n| last = n,
        )
        .unwrap();
        assert_eq!(last, jsonl.len() as u64);
    }
}
