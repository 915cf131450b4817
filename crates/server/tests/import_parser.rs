//! Property tests of the import-file parser: any bytes are read or refused (never a panic), and
//! every row Wristband's own rules accept is read back with its line number.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../src/import_file.rs"]
#[allow(dead_code)]
mod import_file;

use auth_core::foreign_hash::ImportCostLimits;
use import_file::Format;
use proptest::prelude::*;

const HASH: &str = "pbkdf2:sha256:1000$a7f2wpZXy4OXcudY$cbbfdb672eba1a6237334671748f7e895046414ce70b4f4634524c4d88b104d4";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn any_bytes_are_read_or_refused(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
        for format in [Format::Csv, Format::JsonLines] {
            let _ = import_file::read(&bytes, format, &ImportCostLimits::default(), &mut |_| {});
        }
    }

    #[test]
    fn any_text_rows_are_read_or_refused(lines in proptest::collection::vec("[^\\n]{0,80}", 0..30)) {
        let text = format!("username,password_hash\n{}", lines.join("\n"));
        let _ = import_file::read(text.as_bytes(), Format::Csv, &ImportCostLimits::default(), &mut |_| {});
        let _ = import_file::read(lines.join("\n").as_bytes(), Format::JsonLines, &ImportCostLimits::default(), &mut |_| {});
    }

    #[test]
    fn valid_rows_are_all_read_with_their_line_numbers(names in proptest::collection::btree_set("[a-z][a-z0-9_]{0,12}", 1..40)) {
        let mut csv = String::from("username,password_hash\n");
        let mut jsonl = String::new();
        for name in &names {
            csv.push_str(&format!("{name},{HASH}\n"));
            jsonl.push_str(&format!("{{\"username\": \"{name}\", \"password_hash\": \"{HASH}\"}}\n"));
        }
        let limits = ImportCostLimits::default();
        let from_csv = import_file::read(csv.as_bytes(), Format::Csv, &limits, &mut |_| {}).unwrap();
        let from_jsonl = import_file::read(jsonl.as_bytes(), Format::JsonLines, &limits, &mut |_| {}).unwrap();
        prop_assert_eq!(from_csv.rows.len(), names.len());
        prop_assert_eq!(from_jsonl.rows.len(), names.len());
        prop_assert!(from_csv.rejected.is_empty() && from_jsonl.rejected.is_empty());
        for (i, row) in from_csv.rows.iter().enumerate() {
            prop_assert_eq!(row.line, i as u64 + 2);
        }
        for (i, row) in from_jsonl.rows.iter().enumerate() {
            prop_assert_eq!(row.line, i as u64 + 1);
        }
    }
}
