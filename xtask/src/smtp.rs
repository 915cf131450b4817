//! The tests' SMTP server is aiosmtpd (Python), which `crates/test-harness/src/smtp.rs` starts
//! once per test; xtask only makes sure the module is installed, with pip, before the tests run.

use std::process::{Command, Output, Stdio};

use crate::error::{Failure, Result};
use crate::interrupt;
use crate::process::apt_get;

/// What pip installs: the release the harness is written against.
const REQUIREMENT: &str = "aiosmtpd==1.4.6";

/// The Python the harness runs.
const PYTHON: &str = "python3";

/// Makes sure `python3 -c 'import aiosmtpd'` works, installing aiosmtpd with pip when it does
/// not (and pip itself first, when python3 has none). Returns a note for the summary.
pub fn ensure_aiosmtpd() -> Result<String> {
    if let Some(version) = installed_version()? {
        println!("==> SMTP server: aiosmtpd {version} is installed");
        return Ok(format!("aiosmtpd {version}"));
    }
    println!("==> SMTP server: the Python module aiosmtpd is missing; installing {REQUIREMENT}");
    ensure_pip()?;
    pip_install()?;
    match installed_version()? {
        Some(version) => {
            println!("==> SMTP server: installed aiosmtpd {version}");
            Ok(format!("installed aiosmtpd {version}"))
        }
        None => Err(Failure::Error(format!(
            "pip installed {REQUIREMENT}, but `{PYTHON} -c 'import aiosmtpd'` still fails \
             (is `{PYTHON}` on PATH the Python pip installed into?)"
        ))),
    }
}

/// aiosmtpd's version when `python3` can import it; an error when there is no python3.
fn installed_version() -> Result<Option<String>> {
    let output = python(&["-c", "import aiosmtpd; print(aiosmtpd.__version__)"])?;
    Ok(output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned()))
}

/// `python3 -m pip` works, after `ensurepip` or, as a last resort, `apt-get install python3-pip`.
fn ensure_pip() -> Result {
    if has_pip()? {
        return Ok(());
    }
    println!("==> SMTP server: {PYTHON} has no pip; trying `{PYTHON} -m ensurepip`");
    let ensurepip = python(&["-m", "ensurepip"])?;
    if has_pip()? {
        return Ok(());
    }
    report(&ensurepip);
    println!("==> SMTP server: trying `apt-get install -y python3-pip`");
    let mut installed = apt_get(&["install", "-y", "python3-pip"])?;
    if !installed {
        // A fresh image often has no package lists yet.
        installed = apt_get(&["update"])? && apt_get(&["install", "-y", "python3-pip"])?;
    }
    if installed && has_pip()? {
        return Ok(());
    }
    Err(Failure::Error(format!(
        "{PYTHON} has no pip, and neither `{PYTHON} -m ensurepip` nor `apt-get install -y \
         python3-pip` provided one: install pip, then `{PYTHON} -m pip install {REQUIREMENT}`"
    )))
}

fn has_pip() -> Result<bool> {
    Ok(python(&["-m", "pip", "--version"])?.status.success())
}

/// `pip install aiosmtpd==1.4.6`, again with `--break-system-packages` when pip refuses to
/// touch an externally managed (distribution-owned) Python.
fn pip_install() -> Result {
    let install = [
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        REQUIREMENT,
    ];
    let mut output = python(&install)?;
    if !output.status.success() && externally_managed(&output) {
        println!(
            "==> SMTP server: this Python is externally managed; retrying with --break-system-packages"
        );
        let mut again = install.to_vec();
        again.push("--break-system-packages");
        output = python(&again)?;
    }
    if output.status.success() {
        return Ok(());
    }
    report(&output);
    Err(Failure::Error(format!(
        "`{PYTHON} -m pip install {REQUIREMENT}` failed ({}; its output is above): the tests' \
         SMTP server needs it",
        output.status
    )))
}

/// Whether pip refused because of PEP 668's `EXTERNALLY-MANAGED` marker.
fn externally_managed(output: &Output) -> bool {
    String::from_utf8_lossy(&output.stderr).contains("externally-managed-environment")
        || String::from_utf8_lossy(&output.stdout).contains("externally-managed-environment")
}

/// Runs `python3 ARGS`, output captured; an error when python3 cannot be started.
fn python(args: &[&str]) -> Result<Output> {
    let output = Command::new(PYTHON)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|error| {
            Failure::Error(format!(
                "cannot run `{PYTHON}` ({error}): the tests' SMTP server (aiosmtpd) needs \
                 Python 3; install it (e.g. `apt-get install -y python3`)"
            ))
        })?;
    interrupt::check(output.status)?;
    Ok(output)
}

/// Shows a failed command's captured output.
fn report(output: &Output) {
    eprint!("{}", String::from_utf8_lossy(&output.stdout));
    eprint!("{}", String::from_utf8_lossy(&output.stderr));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;
    use std::process::ExitStatus;

    fn output(stderr: &str) -> Output {
        Output {
            status: ExitStatus::from_raw(1 << 8),
            stdout: Vec::new(),
            stderr: stderr.as_bytes().to_vec(),
        }
    }

    #[test]
    fn recognises_an_externally_managed_python() {
        assert!(externally_managed(&output(
            "error: externally-managed-environment\n\n× This environment is externally managed"
        )));
        assert!(!externally_managed(&output(
            "ERROR: Could not find a version that satisfies the requirement aiosmtpd==1.4.6"
        )));
    }
}
