//! bazel-check: fails when the Bazel build graph and the Cargo build graph drift apart.
//!
//! Cargo is the source of truth. The checker reads `cargo metadata`, evaluates every
//! `BUILD.bazel` (and `MODULE.bazel`, `WORKSPACE`) with recording stubs on top of a real Starlark
//! parser, and reports each Cargo target without a Bazel twin, each Bazel rust target without a
//! Cargo twin, and every difference in names, crate roots, editions, versions and dependencies,
//! plus every departure from the Bazel style of `DESIGN.md` (allowed loads, attributes, labels).
//! The mapping rules are in `tools/bazel-check/README.md` and [`policy`].
#![forbid(unsafe_code)]

pub mod cargo;
pub mod check;
pub mod label;
pub mod policy;
pub mod starlark;
pub mod tree;

use std::path::{Path, PathBuf};

pub use check::{check, Finding, FindingKind, Report};

/// Why the check could not run at all (drift is reported in a [`Report`], not as an error).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Cargo(#[from] cargo::CargoError),
    #[error("cannot read the source tree under {path}: {source}")]
    Tree {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Checks the Cargo workspace that contains `dir` against its Bazel files.
pub fn check_workspace(dir: &Path) -> Result<Report, Error> {
    let cargo = cargo::Workspace::load(dir)?;
    let tree = tree::SourceTree::from_disk(&cargo.root).map_err(|source| Error::Tree {
        path: cargo.root.clone(),
        source,
    })?;
    Ok(check(&cargo, &tree))
}
