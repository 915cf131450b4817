//! `cargo xtask fuzz [--time S] [TARGET…]`: the coverage-guided fuzz targets of `fuzz/`, under
//! AFL++ (`cargo afl`, which works on the stable toolchain), one after the other for S seconds
//! each (default 600), then their figures: executions, corpus, crashes, hangs.
//!
//! Installs `cargo-afl` first when it is missing. Outputs go to `target/fuzz/out/<target>`;
//! a crash's input is kept in its `crashes/` folder, and the task fails when there is one.

use crate::cargo::{self, cargo};
use crate::error::{Failure, Result};
use crate::process;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The targets of `fuzz/src/bin/`.
pub const TARGETS: [&str; 4] = [
    "session_cookie",
    "foreign_hash",
    "import_file",
    "config_values",
];

/// The default seconds per target: the closing note's "at least 10 minutes each".
const DEFAULT_SECONDS: u64 = 600;

/// What `cargo xtask fuzz` was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FuzzPlan {
    /// Seconds per target.
    pub seconds: u64,
    /// Targets, in order.
    pub targets: Vec<String>,
}

/// Parses `[--time S] [TARGET…]`.
pub fn parse(args: &[String]) -> std::result::Result<FuzzPlan, String> {
    let mut seconds = DEFAULT_SECONDS;
    let mut targets = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        if arg == "--time" {
            let value = args.next().ok_or("`--time` needs a number of seconds")?;
            seconds = value.parse().ok().filter(|s| *s > 0).ok_or_else(|| {
                format!("`--time {value}`: expected a positive number of seconds")
            })?;
        } else if TARGETS.contains(&arg.as_str()) {
            targets.push(arg.clone());
        } else {
            return Err(format!(
                "unknown fuzz target `{arg}`; the targets: {}",
                TARGETS.join(", ")
            ));
        }
    }
    if targets.is_empty() {
        targets = TARGETS.iter().map(|t| (*t).to_owned()).collect();
    }
    Ok(FuzzPlan { seconds, targets })
}

/// One target's figures, from AFL++'s `fuzzer_stats`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Figures {
    execs_done: u64,
    corpus_count: u64,
    saved_crashes: u64,
    saved_hangs: u64,
    run_time: u64,
}

fn read_figures(stats: &Path) -> Result<Figures> {
    let text = std::fs::read_to_string(stats)
        .map_err(|e| Failure::Error(format!("cannot read {}: {e}", stats.display())))?;
    let mut figures = Figures::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value: u64 = value.trim().parse().unwrap_or(0);
        match key.trim() {
            "execs_done" => figures.execs_done = value,
            "corpus_count" => figures.corpus_count = value,
            "saved_crashes" => figures.saved_crashes = value,
            "saved_hangs" => figures.saved_hangs = value,
            "run_time" => figures.run_time = value,
            _ => {}
        }
    }
    Ok(figures)
}

/// Runs the plan.
pub fn run(plan: &FuzzPlan) -> Result {
    let root = cargo::workspace_root();
    if !cargo::has_subcommand("afl") {
        println!("==> fuzz: installing cargo-afl (AFL++ for Rust)");
        let mut install = cargo(["install", "cargo-afl", "--locked"]);
        if !process::run(&mut install)?.success() {
            return Err(Failure::Error("`cargo install cargo-afl` failed".into()));
        }
    }
    let target_dir = root.join("target").join("fuzz");
    let mut build = cargo(["afl", "build", "--release"]);
    build
        .current_dir(root.join("fuzz"))
        .env("CARGO_TARGET_DIR", &target_dir);
    println!("==> fuzz: {}", process::describe(&build));
    if !process::run(&mut build)?.success() {
        return Err(Failure::Error("building the fuzz targets failed".into()));
    }
    let mut results = Vec::new();
    for target in &plan.targets {
        let out = target_dir.join("out").join(target);
        // A fresh run each time, seeded from the committed seeds.
        let _ = std::fs::remove_dir_all(&out);
        if let Some(parent) = out.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Failure::Error(format!("cannot create {}: {e}", parent.display())))?;
        }
        let mut fuzz = Command::new(cargo_program());
        fuzz.args(["afl", "fuzz", "-i"])
            .arg(root.join("fuzz").join("seeds").join(target))
            .arg("-o")
            .arg(&out)
            .arg("-V")
            .arg(plan.seconds.to_string())
            .arg(target_dir.join("release").join(target))
            .env("AFL_NO_UI", "1")
            .env("AFL_SKIP_CPUFREQ", "1")
            .env("AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES", "1");
        println!("==> fuzz {target}: {} s", plan.seconds);
        let status = process::run(&mut fuzz)?;
        if !status.success() {
            return Err(Failure::Error(format!(
                "afl-fuzz on {target} failed ({status})"
            )));
        }
        let figures = read_figures(&out.join("default").join("fuzzer_stats"))?;
        results.push((target.clone(), figures, out));
    }
    println!("\n==> fuzz results");
    println!(
        "    {:<16} {:>8} {:>14} {:>8} {:>8} {:>6}",
        "target", "seconds", "executions", "corpus", "crashes", "hangs"
    );
    for (target, f, _) in &results {
        println!(
            "    {:<16} {:>8} {:>14} {:>8} {:>8} {:>6}",
            target, f.run_time, f.execs_done, f.corpus_count, f.saved_crashes, f.saved_hangs
        );
    }
    let crashed: Vec<&PathBuf> = results
        .iter()
        .filter(|(_, f, _)| f.saved_crashes > 0)
        .map(|(_, _, out)| out)
        .collect();
    if crashed.is_empty() {
        Ok(())
    } else {
        for out in crashed {
            eprintln!(
                "xtask: crashing inputs in {}",
                out.join("default").join("crashes").display()
            );
        }
        Err(Failure::Failed)
    }
}

fn cargo_program() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_time_and_targets() {
        let plan = parse(&[]).unwrap();
        assert_eq!(plan.seconds, 600);
        assert_eq!(plan.targets.len(), 4);
        let plan = parse(&["--time".into(), "30".into(), "foreign_hash".into()]).unwrap();
        assert_eq!(
            plan,
            FuzzPlan {
                seconds: 30,
                targets: vec!["foreign_hash".into()]
            }
        );
        assert!(parse(&["--time".into()]).is_err());
        assert!(parse(&["--time".into(), "0".into()]).is_err());
        assert!(parse(&["nope".into()]).is_err());
    }

    #[test]
    fn reads_afl_stats() {
        let dir = std::env::temp_dir().join(format!("xtask-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let stats = dir.join("fuzzer_stats");
        std::fs::write(&stats, "run_time          : 20\nexecs_done        : 795633\ncorpus_count      : 280\nsaved_crashes     : 0\nsaved_hangs       : 1\n").unwrap();
        assert_eq!(
            read_figures(&stats).unwrap(),
            Figures {
                execs_done: 795_633,
                corpus_count: 280,
                saved_crashes: 0,
                saved_hangs: 1,
                run_time: 20
            }
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn every_target_has_a_source_and_seeds() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join("fuzz");
        for target in TARGETS {
            assert!(
                root.join("src/bin").join(format!("{target}.rs")).exists(),
                "{target}"
            );
            assert!(
                std::fs::read_dir(root.join("seeds").join(target))
                    .unwrap()
                    .next()
                    .is_some(),
                "{target}"
            );
        }
    }
}
