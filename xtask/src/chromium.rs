//! The tests' browser is Chromium, which `crates/test-harness/src/browser.rs` starts headless
//! (one per test) and drives over the DevTools pipe; xtask only makes sure it is installed, with
//! apt-get, and that it runs headless, before the tests run.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::error::{Failure, Result};
use crate::interrupt;

/// The binaries the harness looks for on `PATH`, then the Debian path (as `browser.rs` does).
const BINARIES: &[&str] = &["chromium", "chromium-browser"];
const DEBIAN_BINARY: &str = "/usr/bin/chromium";

/// `apt-get install` of the Debian package; without its recommends (fonts, a notification
/// daemon, …) it still runs headless, and downloads about 125 MB instead of 155 MB.
const INSTALL: &[&str] = &["install", "-y", "--no-install-recommends", "chromium"];
/// The fallback should the lean install not run headless.
const INSTALL_WITH_RECOMMENDS: &[&str] = &["install", "-y", "chromium"];

/// How long the headless smoke run may take.
const SMOKE_TIMEOUT: Duration = Duration::from_secs(60);
/// What the smoke run's page says, and so what its DOM dump must contain.
const SMOKE_TEXT: &str = "wristband-headless-ok";

/// Makes sure a Chromium binary is there and renders a page headless, installing the Debian
/// package with apt-get when there is none. Returns a note for the summary.
pub fn ensure_chromium() -> Result<String> {
    if let Some(binary) = find_binary() {
        let version = version(&binary)?;
        smoke_test(&binary)?;
        println!(
            "==> Chromium: {version} ({}) runs headless",
            binary.display()
        );
        return Ok(version);
    }
    println!(
        "==> Chromium: no `chromium` or `chromium-browser` on PATH, no {DEBIAN_BINARY}; \
         installing the Debian package (about 125 MB to download, 415 MB on disk)"
    );
    let started = Instant::now();
    // A fresh image has no package lists; stale ones name versions the mirror no longer has.
    if !apt_get(&["update"])? {
        return Err(cannot_install(
            "`apt-get update` failed (its output is above)",
        ));
    }
    if !apt_get(INSTALL)? {
        return Err(cannot_install(
            "`apt-get install -y --no-install-recommends chromium` failed (its output is above)",
        ));
    }
    let binary = installed_binary()?;
    if let Err(Failure::Error(error)) = smoke_test(&binary) {
        eprintln!("xtask: {error}");
        println!("==> Chromium: the lean install does not run headless; adding its recommends");
        if !apt_get(INSTALL_WITH_RECOMMENDS)? {
            return Err(cannot_install(
                "`apt-get install -y chromium` failed (its output is above)",
            ));
        }
        smoke_test(&binary)?;
    }
    let version = version(&binary)?;
    let took = started.elapsed().as_secs();
    println!("==> Chromium: installed {version} in {took} s; it runs headless");
    Ok(format!("installed {version} in {took} s"))
}

/// The binary apt-get just installed, or an error saying none appeared.
fn installed_binary() -> Result<PathBuf> {
    find_binary().ok_or_else(|| {
        cannot_install(&format!(
            "apt-get installed the chromium package, but there is still no `chromium` on PATH \
             and no {DEBIAN_BINARY}"
        ))
    })
}

fn cannot_install(why: &str) -> Failure {
    Failure::Error(format!(
        "Chromium is missing and could not be installed: {why}. The browser tests need it: \
         install it yourself (`apt-get install -y chromium` as root on Debian, \
         `apt-get install -y chromium-browser` on Ubuntu), then run this again"
    ))
}

/// `chromium` or `chromium-browser` on `PATH`, else `/usr/bin/chromium`, if executable.
fn find_binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    BINARIES
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .chain([PathBuf::from(DEBIAN_BINARY)])
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .is_ok_and(|metadata| metadata.is_file() && metadata.permissions().mode() & 0o111 != 0)
}

/// The first line `chromium --version` prints, e.g. `Chromium 156.0.8078.114 built on Debian…`.
fn version(binary: &Path) -> Result<String> {
    let output = Command::new(binary)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(|error| {
            Failure::Error(format!(
                "cannot run `{} --version`: {error}",
                binary.display()
            ))
        })?;
    interrupt::check(output.status)?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    match stdout.lines().next().map(str::trim) {
        Some(line) if output.status.success() && !line.is_empty() => Ok(line.to_owned()),
        _ => {
            report(&output);
            Err(Failure::Error(format!(
                "`{} --version` failed ({}; its output is above)",
                binary.display(),
                output.status
            )))
        }
    }
}

/// Renders a `data:` page headless with the flags the harness uses and checks the DOM it
/// dumps: proves the shared libraries are there and the browser starts as this user.
fn smoke_test(binary: &Path) -> Result {
    let folder = std::env::temp_dir().join(format!("xtask-chromium-{}", std::process::id()));
    let outcome = render_headless(binary, &folder);
    // Best effort: a leftover folder in the temporary folder harms nothing.
    let _ = std::fs::remove_dir_all(&folder);
    let (status, stdout, stderr) = outcome?;
    interrupt::check(status)?;
    if status.success() && stdout.contains(SMOKE_TEXT) {
        return Ok(());
    }
    eprint!("{stdout}{stderr}");
    Err(Failure::Error(format!(
        "`{} --headless --no-sandbox --dump-dom data:…` did not render the page ({status}; its \
         output is above)",
        binary.display()
    )))
}

/// Runs the smoke render with a fresh profile in `folder` and its output in files there (so a
/// chatty browser cannot fill a pipe nobody reads); kills it after [`SMOKE_TIMEOUT`].
fn render_headless(binary: &Path, folder: &Path) -> Result<(ExitStatus, String, String)> {
    let io_error = |what: &str, error: std::io::Error| {
        Failure::Error(format!(
            "headless Chromium smoke test: cannot {what}: {error}"
        ))
    };
    std::fs::create_dir_all(folder).map_err(|e| io_error("create its folder", e))?;
    let stdout_path = folder.join("stdout");
    let stderr_path = folder.join("stderr");
    let stdout = File::create(&stdout_path).map_err(|e| io_error("create a file", e))?;
    let stderr = File::create(&stderr_path).map_err(|e| io_error("create a file", e))?;
    let mut child = Command::new(binary)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-sync",
            "--disable-background-networking",
            "--disable-component-update",
        ])
        .arg(format!(
            "--user-data-dir={}",
            folder.join("profile").display()
        ))
        .arg("--dump-dom")
        .arg(format!("data:text/html,<p>{SMOKE_TEXT}</p>"))
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .map_err(|e| io_error(&format!("run `{} --headless`", binary.display()), e))?;
    let deadline = Instant::now() + SMOKE_TIMEOUT;
    let status = loop {
        match child.try_wait().map_err(|e| io_error("wait for it", e))? {
            Some(status) => break status,
            None if Instant::now() < deadline => thread::sleep(Duration::from_millis(50)),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Failure::Error(format!(
                    "headless Chromium did not render a one-line page within {SMOKE_TIMEOUT:?}"
                )));
            }
        }
    };
    let read = |path: &Path| {
        std::fs::read(path)
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default()
    };
    Ok((status, read(&stdout_path), read(&stderr_path)))
}

/// [`process::apt_get`](crate::process::apt_get), announced as Chromium's.
fn apt_get(args: &[&str]) -> Result<bool> {
    println!("==> Chromium: apt-get {}", args.join(" "));
    crate::process::apt_get(args)
}

/// Shows a failed command's captured output.
fn report(output: &Output) {
    eprint!("{}", String::from_utf8_lossy(&output.stdout));
    eprint!("{}", String::from_utf8_lossy(&output.stderr));
}
