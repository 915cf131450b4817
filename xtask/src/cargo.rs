//! Running cargo in the workspace.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::process;

/// The workspace root: the folder above this crate's.
pub fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}

/// A `cargo` command run from the workspace root, with the same cargo (and so the same
/// toolchain) that runs xtask.
pub fn cargo<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let program = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(program);
    command.current_dir(workspace_root()).args(args);
    command
}

/// Whether `cargo SUBCOMMAND --version` works, i.e. that subcommand is installed.
pub fn has_subcommand(subcommand: &str) -> bool {
    process::succeeds(&mut cargo([subcommand, "--version"]))
}
