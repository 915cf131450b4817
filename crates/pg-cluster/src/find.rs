//! Finding PostgreSQL's server programs, and the user to run them as.

use std::env;
use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::{Error, ErrorKind};
use crate::process;
use crate::{BINDIR_VAR, TEST_URL_VAR};

/// Where Debian and Ubuntu install each PostgreSQL version: `<root>/<version>/bin`.
const SEARCH_ROOT: &str = "/usr/lib/postgresql";
/// Said whenever PostgreSQL is missing.
const INSTALL_HINT: &str = "install PostgreSQL (Debian/Ubuntu: `apt-get install postgresql`; \
     Fedora: `dnf install postgresql-server`; macOS: `brew install postgresql`), or set \
     WRISTBAND_TEST_POSTGRES_URL to a database the tests may use";

/// The PostgreSQL server programs.
#[derive(Debug)]
pub(crate) struct Binaries {
    /// The folder holding `initdb`, `pg_ctl` and `postgres`.
    pub(crate) bindir: PathBuf,
    /// The version as `pg_ctl --version` gives it, e.g. `15.18`.
    pub(crate) version: String,
}

impl Binaries {
    pub(crate) fn locate() -> Result<Self, Error> {
        let bindir = locate_bindir(
            env::var_os(BINDIR_VAR).filter(|dir| !dir.is_empty()),
            env::var_os("PATH"),
            Path::new(SEARCH_ROOT),
        )
        .map_err(|message| Error::new(ErrorKind::NotInstalled, message))?;
        let mut command = Command::new(bindir.join("pg_ctl"));
        command.arg("--version");
        let out = process::output(&mut command)?;
        if process::interrupted(out.status) {
            return Err(process::failure(
                ErrorKind::Failed,
                out.status,
                format!("`{}` failed", process::describe(&command)),
            ));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let version = parse_version_output(&text).unwrap_or_else(|| text.trim().to_owned());
        Ok(Binaries { bindir, version })
    }

    pub(crate) fn initdb(&self) -> PathBuf {
        self.bindir.join("initdb")
    }

    pub(crate) fn pg_ctl(&self) -> PathBuf {
        self.bindir.join("pg_ctl")
    }
}

/// Finds the folder with `initdb` and `pg_ctl`: the override, else PATH, else the highest
/// version under `search_root` (`<search_root>/<version>/bin`).
fn locate_bindir(
    override_dir: Option<OsString>,
    path: Option<OsString>,
    search_root: &Path,
) -> Result<PathBuf, String> {
    let has_both = |dir: &Path| {
        process::is_executable(&dir.join("initdb")) && process::is_executable(&dir.join("pg_ctl"))
    };
    if let Some(dir) = override_dir {
        let dir = PathBuf::from(dir);
        return if has_both(&dir) {
            Ok(dir)
        } else {
            Err(format!(
                "{BINDIR_VAR} is {}, which has no initdb and pg_ctl; fix it, or unset it to search \
                 PATH and {SEARCH_ROOT}/*/bin",
                dir.display()
            ))
        };
    }
    if let Some(path) = path {
        let on_path = env::split_paths(&path)
            .filter(|dir| dir.is_absolute())
            .find(|dir| has_both(dir));
        if let Some(dir) = on_path {
            return Ok(dir);
        }
    }
    let mut best: Option<(Vec<u32>, PathBuf)> = None;
    for entry in fs::read_dir(search_root).into_iter().flatten().flatten() {
        let Some(version) = entry.file_name().to_str().and_then(parse_dotted) else {
            continue;
        };
        let bindir = entry.path().join("bin");
        if has_both(&bindir) && best.as_ref().is_none_or(|(seen, _)| version > *seen) {
            best = Some((version, bindir));
        }
    }
    best.map(|(_, bindir)| bindir).ok_or_else(|| {
        format!(
            "PostgreSQL not found: no initdb and pg_ctl on PATH or in {}/*/bin. To run the \
             PostgreSQL tests, {INSTALL_HINT}",
            search_root.display()
        )
    })
}

/// `15` → `[15]`, `9.6` → `[9, 6]`; anything else → `None`.
fn parse_dotted(name: &str) -> Option<Vec<u32>> {
    name.split('.').map(|part| part.parse().ok()).collect()
}

/// `pg_ctl (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)` → `15.18`.
fn parse_version_output(text: &str) -> Option<String> {
    let (_, rest) = text.split_once("(PostgreSQL)")?;
    rest.split_whitespace().next().map(str::to_owned)
}

/// Whether the data folder's `PG_VERSION` (`15`, `9.6`) is the major version of `version`.
pub(crate) fn same_major(pg_version_file: &str, version: &str) -> bool {
    version
        .strip_prefix(pg_version_file)
        .is_some_and(|rest| !rest.starts_with(|c: char| c.is_ascii_digit()))
}

/// Who runs the PostgreSQL programs: PostgreSQL refuses to run as root.
#[derive(Debug)]
pub(crate) enum User {
    /// The current user.
    Current,
    /// We are root: everything goes through `runuser -u postgres --`.
    Postgres {
        runuser: PathBuf,
        uid: u32,
        gid: u32,
    },
}

impl User {
    pub(crate) fn detect() -> Result<Self, Error> {
        if !is_root() {
            return Ok(User::Current);
        }
        let id = |flag: &str| -> Option<u32> {
            let out = Command::new("id")
                .args([flag, "postgres"])
                .stdin(Stdio::null())
                .output()
                .ok()?;
            if !out.status.success() {
                return None;
            }
            String::from_utf8_lossy(&out.stdout).trim().parse().ok()
        };
        let (Some(uid), Some(gid)) = (id("-u"), id("-g")) else {
            return Err(Error::new(
                ErrorKind::NoPostgresUser,
                format!(
                    "running as root, and PostgreSQL will not run as root, but there is no \
                     `postgres` user to run it as: create one (`useradd --system --user-group \
                     postgres`; installing PostgreSQL's package does), or set {TEST_URL_VAR}"
                ),
            ));
        };
        let runuser = process::find_program("runuser", &["/usr/sbin/runuser", "/sbin/runuser"])
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::NoPostgresUser,
                    "running as root, PostgreSQL must be run as the `postgres` user, but \
                     `runuser` (util-linux) was not found",
                )
            })?;
        Ok(User::Postgres { runuser, uid, gid })
    }
}

/// Whether this process runs as root: the owner of /proc/self, else `id -u`.
fn is_root() -> bool {
    if let Ok(meta) = fs::metadata("/proc/self") {
        return meta.uid() == 0;
    }
    Command::new("id")
        .arg("-u")
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// `C.UTF-8` where the C library has it (glibc 2.35+, musl, Debian), else `C`.
pub(crate) fn initdb_locale() -> &'static str {
    let listed = Command::new("locale")
        .arg("-a")
        .stdin(Stdio::null())
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
        .unwrap_or_default();
    if listed
        .lines()
        .any(|line| line.eq_ignore_ascii_case("C.UTF-8") || line.eq_ignore_ascii_case("C.utf8"))
    {
        "C.UTF-8"
    } else {
        "C"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A scratch folder under the temp dir, removed at the end of the test.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Self {
            let path =
                env::temp_dir().join(format!("pg-cluster-test-{name}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&path);
            fs::create_dir_all(&path).unwrap_or_else(|error| panic!("{error}"));
            Scratch(path)
        }

        /// Makes `<dir>/initdb` and `<dir>/pg_ctl` as empty executables.
        fn fake_bindir(&self, dir: &str) -> PathBuf {
            let bindir = self.0.join(dir);
            fs::create_dir_all(&bindir).unwrap_or_else(|error| panic!("{error}"));
            for program in ["initdb", "pg_ctl"] {
                let file = bindir.join(program);
                fs::write(&file, "#!/bin/sh\n").unwrap_or_else(|error| panic!("{error}"));
                fs::set_permissions(&file, fs::Permissions::from_mode(0o755))
                    .unwrap_or_else(|error| panic!("{error}"));
            }
            bindir
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn picks_the_highest_version_numerically() {
        let scratch = Scratch::new("versions");
        scratch.fake_bindir("9.6/bin");
        scratch.fake_bindir("10/bin");
        let expected = scratch.fake_bindir("16/bin");
        fs::create_dir_all(scratch.0.join("17/bin")).unwrap_or_else(|error| panic!("{error}"));
        fs::create_dir_all(scratch.0.join("common")).unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(locate_bindir(None, None, &scratch.0), Ok(expected));
    }

    #[test]
    fn prefers_path_then_honours_the_override() {
        let scratch = Scratch::new("path");
        scratch.fake_bindir("root/15/bin");
        let on_path = scratch.fake_bindir("usr/local/bin");
        let path = env::join_paths([scratch.0.join("empty"), on_path.clone()]).ok();
        assert_eq!(
            locate_bindir(None, path.clone(), &scratch.0.join("root")),
            Ok(on_path)
        );
        let chosen = scratch.fake_bindir("opt/pg/bin");
        assert_eq!(
            locate_bindir(Some(chosen.clone().into()), path, &scratch.0.join("root")),
            Ok(chosen)
        );
        assert!(locate_bindir(Some(scratch.0.join("nowhere").into()), None, &scratch.0).is_err());
    }

    #[test]
    fn missing_postgres_says_how_to_get_it() {
        let scratch = Scratch::new("missing");
        let error = locate_bindir(None, Some(OsString::from("/nonexistent")), &scratch.0)
            .err()
            .unwrap_or_default();
        assert!(error.contains("apt-get install postgresql"), "{error}");
        assert!(error.contains(TEST_URL_VAR), "{error}");
    }

    #[test]
    fn parses_versions() {
        assert_eq!(parse_dotted("15"), Some(vec![15]));
        assert_eq!(parse_dotted("9.6"), Some(vec![9, 6]));
        assert_eq!(parse_dotted("common"), None);
        assert_eq!(
            parse_version_output("pg_ctl (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n"),
            Some("15.18".to_owned())
        );
        assert!(same_major("15", "15.18"));
        assert!(same_major("9.6", "9.6.24"));
        assert!(same_major("16", "16beta1"));
        assert!(!same_major("1", "15.18"));
        assert!(!same_major("14", "15.18"));
    }
}
