//! A stored password hash as an import file or an old database holds it: the parser of every
//! supported format (Werkzeug, legacy HMAC, bcrypt, Argon2, wrapped), its cost class, and the
//! import cost limits.
fn main() {
    afl::fuzz!(|data: &[u8]| {
        if let Ok(text) = std::str::from_utf8(data) {
            let format = auth_core::foreign_hash::identify(text);
            let _ = auth_core::foreign_hash::cost_class(text);
            if let Ok(format) = format {
                let _ = auth_core::foreign_hash::ImportCostLimits::default().admit(&format);
            }
        }
    });
}
