//! The content of a `wristband user import` file, read as CSV and as JSON Lines.
#[path = "../../../crates/server/src/import_file.rs"]
#[allow(dead_code)]
mod import_file;

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let limits = auth_core::foreign_hash::ImportCostLimits::default();
        for format in [import_file::Format::Csv, import_file::Format::JsonLines] {
            let _ = import_file::read(data, format, &limits, &mut |_| {});
        }
    });
}
