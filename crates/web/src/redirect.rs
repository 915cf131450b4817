//! Which `next` targets a login may redirect to: paths on this site, nothing else.

/// Returns `next` if it is a local path (`/…`), else `None`.
///
/// Refused: `//host` and `/\host` (browsers treat both as another host), any scheme
/// (`https:`, `javascript:`), backslashes anywhere, control characters and whitespace (which
/// browsers strip, turning `/\t/evil` into `//evil`), and anything over 2,048 bytes.
pub fn safe_next(next: &str) -> Option<&str> {
    let bytes = next.as_bytes();
    let local = bytes.first() == Some(&b'/')
        && !matches!(bytes.get(1), Some(b'/' | b'\\'))
        && next.len() <= 2048
        && !next.contains('\\')
        && !next.chars().any(|c| c.is_control() || c.is_whitespace());
    local.then_some(next)
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_local_paths_pass() {
        assert_eq!(safe_next("/dashboard"), Some("/dashboard"));
        assert_eq!(safe_next("/a/b?c=d#e"), Some("/a/b?c=d#e"));
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "javascript:alert(1)",
            "/\t/evil.example",
            "/%0a",
            "",
            "dashboard",
            " /dashboard",
        ] {
            if bad == "/%0a" {
                // Percent-encoded bytes stay encoded in the Location header: harmless.
                assert_eq!(safe_next(bad), Some(bad));
            } else {
                assert_eq!(safe_next(bad), None, "{bad:?}");
            }
        }
    }
}
