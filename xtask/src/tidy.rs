//! `cargo xtask ci`'s tidy checks (as rust-analyzer's tidy does): facts about the source tree
//! that no compiler checks.
//!
//! - Every path ARCHITECTURE.md names exists: an inline-code span containing `/` (outside the
//!   repository only when it starts with `../`, which is not checked), and the first word of
//!   each line of its code blocks when that word contains `/`. A map that names files which
//!   moved is worse than no map.

use std::path::Path;

/// The paths `markdown` names that do not exist under `root`, in order.
pub fn missing_architecture_paths(root: &Path, markdown: &str) -> Vec<String> {
    named_paths(markdown)
        .into_iter()
        .filter(|path| !root.join(path).exists())
        .collect()
}

/// Every path `markdown` names (see the module documentation), in order, without duplicates.
fn named_paths(markdown: &str) -> Vec<String> {
    let mut paths: Vec<String> = Vec::new();
    let mut in_code_block = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            in_code_block = !in_code_block;
            continue;
        }
        let candidates: Vec<&str> = if in_code_block {
            line.split_whitespace().take(1).collect()
        } else {
            line.split('`').skip(1).step_by(2).collect()
        };
        for candidate in candidates {
            if is_path(candidate) && !paths.iter().any(|p| p == candidate) {
                paths.push(candidate.to_owned());
            }
        }
    }
    paths
}

/// A repository path: has a `/`, no spaces, not a URL, not a route (`/login`), not outside
/// the repository (`../`).
fn is_path(text: &str) -> bool {
    text.contains('/')
        && !text.contains(char::is_whitespace)
        && !text.contains("://")
        && !text.starts_with('/')
        && !text.starts_with("../")
        && !text.contains(['{', '<', '(', '*'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_inline_and_code_block_paths() {
        let markdown = "\
See `crates/web/src/lib.rs` and `../shared/SPEC.md`, route `/login`, type `AuthService`.
```
crates/web      the library
xtask           tasks
```
Also `crates/web/src/lib.rs` again and `http://x.example/a`.
";
        assert_eq!(
            named_paths(markdown),
            ["crates/web/src/lib.rs", "crates/web"]
        );
    }

    #[test]
    fn the_architecture_map_names_only_paths_that_exist() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let map = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap_or_default();
        assert!(
            map.contains("crates/"),
            "ARCHITECTURE.md is missing or empty"
        );
        assert_eq!(
            missing_architecture_paths(&root, &map),
            Vec::<String>::new()
        );
        assert!(!missing_architecture_paths(&root, "`crates/nope/src/x.rs`").is_empty());
    }
}
