//! A configuration file, and one value of each parsed type (durations, sizes, the secure
//! switch, a redirect path, a database URL).
fn main() {
    afl::fuzz!(|data: &[u8]| {
        if let Ok(text) = std::str::from_utf8(data) {
            web::fuzzing::configuration(text);
        }
    });
}
