//! `bazel-check [WORKSPACE_DIR]`: compares the Bazel files with the Cargo workspace.
//!
//! Exits 0 when they agree, 1 when they drift apart (every finding is printed), 2 when the check
//! cannot run.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("bazel-check: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run() -> anyhow::Result<bool> {
    let mut dir = None;
    for arg in std::env::args_os().skip(1) {
        if arg == "-h" || arg == "--help" {
            println!("usage: bazel-check [WORKSPACE_DIR]\n\nCompares every BUILD.bazel, MODULE.bazel and WORKSPACE with `cargo metadata`.");
            return Ok(true);
        }
        if dir.is_some() {
            bail!("expected at most one WORKSPACE_DIR argument");
        }
        dir = Some(PathBuf::from(arg));
    }
    let dir = match dir {
        Some(dir) => dir,
        None => std::env::current_dir().context("cannot read the current directory")?,
    };
    let report = bazel_check::check_workspace(&dir)?;
    for finding in &report.findings {
        println!("{finding}");
    }
    if report.is_clean() {
        println!(
            "bazel-check: Bazel and Cargo agree ({} Cargo targets, {} Bazel rust targets)",
            report.cargo_targets, report.bazel_targets
        );
    } else {
        println!(
            "bazel-check: {} difference(s) between Bazel and Cargo; see tools/bazel-check/README.md",
            report.findings.len()
        );
    }
    Ok(report.is_clean())
}
