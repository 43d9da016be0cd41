//! `make conformance`: runs the upstream Istio 1.4.10 test vectors against this project.
//!
//! The vectors live outside the repository, in `$ISTIO_CONFORMANCE_DIR` (default
//! `../shared/conformance/istio-1.4.10` relative to the repository root). Each suite prints one
//! line per case and a total; the process fails if any case fails.
//!
//! Usage: `conformance [SUITE...]` with suites `validation`, `roundtrip`, `envoy-v2-goldens`
//! and `pilot-xds`
//! (default: all).
#![forbid(unsafe_code)]

mod envoy_v2_goldens;
mod pilot_xds;
mod roundtrip;
mod validation;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};

/// The result of one suite.
pub struct Tally {
    pub name: &'static str,
    pub passed: usize,
    pub total: usize,
}

impl Tally {
    fn new(name: &'static str) -> Self {
        Tally {
            name,
            passed: 0,
            total: 0,
        }
    }

    /// Records and prints one case.
    pub fn case(&mut self, ok: bool, what: &str, detail: &str) {
        self.total += 1;
        if ok {
            self.passed += 1;
        }
        let status = if ok { "PASS" } else { "FAIL" };
        if detail.is_empty() {
            println!("{status}  {what}");
        } else {
            println!("{status}  {what}  ({detail})");
        }
    }
}

fn conformance_dir() -> anyhow::Result<PathBuf> {
    let dir = match std::env::var_os("ISTIO_CONFORMANCE_DIR") {
        Some(d) => PathBuf::from(d),
        None => {
            let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
            root.join("../shared/conformance/istio-1.4.10")
        }
    };
    if !dir.is_dir() {
        bail!(
            "conformance vectors not found at {}: set ISTIO_CONFORMANCE_DIR to the istio-1.4.10 vector folder",
            dir.display()
        );
    }
    dir.canonicalize()
        .with_context(|| format!("resolving {}", dir.display()))
}

type Suite = fn(&Path) -> anyhow::Result<Tally>;

const SUITES: &[(&str, Suite)] = &[
    ("validation", validation::run),
    ("roundtrip", roundtrip::run),
    ("envoy-v2-goldens", envoy_v2_goldens::run),
    ("pilot-xds", pilot_xds::run),
];

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("conformance: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run() -> anyhow::Result<bool> {
    let dir = conformance_dir()?;
    let wanted: Vec<String> = std::env::args().skip(1).collect();
    for w in &wanted {
        if !SUITES.iter().any(|(n, _)| n == w) {
            bail!(
                "unknown suite {w:?}; suites: {}",
                SUITES
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    let mut tallies = Vec::new();
    for (name, suite) in SUITES {
        if !wanted.is_empty() && !wanted.iter().any(|w| w == name) {
            continue;
        }
        println!("== {name}");
        let tally = suite(&dir)?;
        println!("{name}: {}/{} passed\n", tally.passed, tally.total);
        tallies.push(tally);
    }
    let passed: usize = tallies.iter().map(|t| t.passed).sum();
    let total: usize = tallies.iter().map(|t| t.total).sum();
    println!("TOTAL: {passed}/{total} passed");
    for t in &tallies {
        println!("  {:<12} {}/{}", t.name, t.passed, t.total);
    }
    Ok(passed == total)
}
