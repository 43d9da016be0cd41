//! The Cargo side: workspace members, their targets and direct dependencies, read from
//! `cargo metadata`.
//!
//! Paths are kept relative to the workspace root with `/` separators, as Bazel labels use them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;

/// Why the Cargo workspace could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CargoError {
    #[error("could not run `{command}`: {source}")]
    Spawn {
        command: String,
        source: std::io::Error,
    },
    #[error("`{command}` failed ({status}): {stderr}")]
    Failed {
        command: String,
        status: std::process::ExitStatus,
        stderr: String,
    },
    #[error("cannot parse the output of `cargo metadata`: {0}")]
    Json(#[from] serde_json::Error),
    #[error("{path} is outside the workspace root {root}")]
    OutsideRoot { path: PathBuf, root: PathBuf },
    #[error("path {0} is not valid UTF-8")]
    NotUtf8(PathBuf),
    #[error("package {package}: unknown target kind {kind:?}")]
    UnknownTargetKind { package: String, kind: Vec<String> },
}

/// What a Cargo target is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TargetKind {
    Lib,
    ProcMacro,
    Bin,
    Test,
    Bench,
    Example,
    BuildScript,
}

impl TargetKind {
    pub fn describe(self) -> &'static str {
        match self {
            TargetKind::Lib => "library",
            TargetKind::ProcMacro => "proc-macro library",
            TargetKind::Bin => "binary",
            TargetKind::Test => "integration test",
            TargetKind::Bench => "bench",
            TargetKind::Example => "example",
            TargetKind::BuildScript => "build script",
        }
    }

    /// Libraries, as other targets depend on them.
    pub fn is_library(self) -> bool {
        matches!(self, TargetKind::Lib | TargetKind::ProcMacro)
    }
}

/// One Cargo target (`[lib]`, `[[bin]]`, `[[test]]`, `[[bench]]`, `[[example]]`, `build.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub kind: TargetKind,
    /// Cargo's target name (`istio_api`, `pilot-discovery`, `build-script-build`, ...).
    pub name: String,
    /// Source root relative to the workspace root.
    pub src: String,
    pub edition: String,
    /// Whether `cargo test` builds this target's unit tests.
    pub test: bool,
}

/// The kind of a dependency edge in `Cargo.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DepKind {
    Normal,
    Dev,
    Build,
}

/// A direct dependency of a workspace member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    /// The package name (what `@crates//:<name>` uses), not the `rename`.
    pub name: String,
    pub kind: DepKind,
    /// For path dependencies: the dependency's directory relative to the workspace root.
    pub path: Option<String>,
    pub optional: bool,
}

/// A workspace member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    pub name: String,
    pub version: String,
    /// The package directory relative to the workspace root (`""` for the root).
    pub dir: String,
    /// `Cargo.toml` relative to the workspace root.
    pub manifest: String,
    pub rust_version: Option<String>,
    pub targets: Vec<Target>,
    pub dependencies: Vec<Dependency>,
}

impl Package {
    /// The `[lib]` target, proc-macro or not.
    pub fn lib(&self) -> Option<&Target> {
        self.targets.iter().find(|t| t.kind.is_library())
    }
}

/// The Cargo view of the workspace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Workspace {
    pub root: PathBuf,
    pub packages: Vec<Package>,
    /// Names of the third-party packages that are proc-macro crates.
    pub proc_macros: BTreeSet<String>,
}

impl Workspace {
    /// Runs `cargo metadata` (twice: `--no-deps` for the members, and once with the resolved
    /// graph to learn which third-party crates are proc-macros) for the workspace that contains
    /// `dir`. Uses `$CARGO` when set (as under `cargo test`), else `cargo` from `PATH`.
    ///
    /// The resolved graph is filtered to the host platform when `rustc -vV` names it, so Cargo
    /// needs no crate that a build on this machine did not already download.
    pub fn load(dir: &Path) -> Result<Workspace, CargoError> {
        let members = run_metadata(dir, &["--no-deps"])?;
        let resolved = match host_triple() {
            Some(host) => run_metadata(dir, &["--filter-platform", &host])?,
            None => run_metadata(dir, &[])?,
        };
        Workspace::from_metadata(&members, Some(&resolved))
    }

    /// Builds the model from `cargo metadata --format-version 1 --no-deps` output, plus
    /// optionally the output without `--no-deps` (only used for the proc-macro set).
    pub fn from_metadata(members: &str, resolved: Option<&str>) -> Result<Workspace, CargoError> {
        let meta: RawMetadata = serde_json::from_str(members)?;
        let root = meta.workspace_root.clone();
        let member_ids: BTreeSet<&str> =
            meta.workspace_members.iter().map(String::as_str).collect();
        let mut packages = Vec::new();
        for raw in meta
            .packages
            .iter()
            .filter(|p| member_ids.contains(p.id.as_str()))
        {
            packages.push(convert_package(&root, raw)?);
        }
        packages.sort_by(|a, b| a.dir.cmp(&b.dir));

        let mut proc_macros = BTreeSet::new();
        if let Some(resolved) = resolved {
            let full: RawMetadata = serde_json::from_str(resolved)?;
            let ids: BTreeSet<&str> = full.workspace_members.iter().map(String::as_str).collect();
            for p in full
                .packages
                .iter()
                .filter(|p| !ids.contains(p.id.as_str()))
            {
                if p.targets
                    .iter()
                    .any(|t| t.kind.iter().any(|k| k == "proc-macro"))
                {
                    proc_macros.insert(p.name.clone());
                }
            }
        }
        Ok(Workspace {
            root,
            packages,
            proc_macros,
        })
    }

    /// The member whose directory is `dir` (workspace-relative).
    pub fn package_at(&self, dir: &str) -> Option<&Package> {
        self.packages.iter().find(|p| p.dir == dir)
    }
}

fn run_metadata(dir: &Path, extra: &[&str]) -> Result<String, CargoError> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(&cargo);
    cmd.current_dir(dir)
        .args(["metadata", "--format-version", "1"])
        .args(extra);
    let command = format!(
        "{} metadata --format-version 1 {}",
        Path::new(&cargo).display(),
        extra.join(" ")
    );
    let out = cmd.output().map_err(|source| CargoError::Spawn {
        command: command.clone(),
        source,
    })?;
    if !out.status.success() {
        return Err(CargoError::Failed {
            command,
            status: out.status,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The host's target triple, from `rustc -vV` (`$RUSTC` when set).
fn host_triple() -> Option<String> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = Command::new(rustc).arg("-vV").output().ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("host: "))
        .map(|host| host.trim().to_owned())
}

fn relative(root: &Path, path: &Path) -> Result<String, CargoError> {
    let rel = path
        .strip_prefix(root)
        .map_err(|_| CargoError::OutsideRoot {
            path: path.to_owned(),
            root: root.to_owned(),
        })?;
    let mut parts = Vec::new();
    for c in rel.components() {
        parts.push(
            c.as_os_str()
                .to_str()
                .ok_or_else(|| CargoError::NotUtf8(path.to_owned()))?,
        );
    }
    Ok(parts.join("/"))
}

fn convert_package(root: &Path, raw: &RawPackage) -> Result<Package, CargoError> {
    let manifest = relative(root, &raw.manifest_path)?;
    let dir = match manifest.rsplit_once('/') {
        Some((dir, _)) => dir.to_owned(),
        None => String::new(),
    };
    let mut targets = Vec::new();
    for t in &raw.targets {
        let kind = if t.kind.iter().any(|k| k == "custom-build") {
            TargetKind::BuildScript
        } else if t.kind.iter().any(|k| k == "proc-macro") {
            TargetKind::ProcMacro
        } else if t.kind.iter().any(|k| {
            matches!(
                k.as_str(),
                "lib" | "rlib" | "dylib" | "cdylib" | "staticlib"
            )
        }) {
            TargetKind::Lib
        } else if t.kind.iter().any(|k| k == "bin") {
            TargetKind::Bin
        } else if t.kind.iter().any(|k| k == "test") {
            TargetKind::Test
        } else if t.kind.iter().any(|k| k == "bench") {
            TargetKind::Bench
        } else if t.kind.iter().any(|k| k == "example") {
            TargetKind::Example
        } else {
            return Err(CargoError::UnknownTargetKind {
                package: raw.name.clone(),
                kind: t.kind.clone(),
            });
        };
        targets.push(Target {
            kind,
            name: t.name.clone(),
            src: relative(root, &t.src_path)?,
            edition: t.edition.clone(),
            test: t.test,
        });
    }
    let mut dependencies = Vec::new();
    for d in &raw.dependencies {
        let kind = match d.kind.as_deref() {
            Some("dev") => DepKind::Dev,
            Some("build") => DepKind::Build,
            _ => DepKind::Normal,
        };
        let path = match &d.path {
            Some(p) => Some(relative(root, p)?),
            None => None,
        };
        dependencies.push(Dependency {
            name: d.name.clone(),
            kind,
            path,
            optional: d.optional,
        });
    }
    Ok(Package {
        name: raw.name.clone(),
        version: raw.version.clone(),
        dir,
        manifest,
        rust_version: raw.rust_version.clone(),
        targets,
        dependencies,
    })
}

#[derive(Deserialize)]
struct RawMetadata {
    packages: Vec<RawPackage>,
    workspace_members: Vec<String>,
    workspace_root: PathBuf,
}

#[derive(Deserialize)]
struct RawPackage {
    name: String,
    version: String,
    id: String,
    manifest_path: PathBuf,
    #[serde(default)]
    rust_version: Option<String>,
    targets: Vec<RawTarget>,
    #[serde(default)]
    dependencies: Vec<RawDependency>,
}

#[derive(Deserialize)]
struct RawTarget {
    kind: Vec<String>,
    name: String,
    src_path: PathBuf,
    edition: String,
    #[serde(default = "yes")]
    test: bool,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
struct RawDependency {
    name: String,
    kind: Option<String>,
    #[serde(default)]
    path: Option<PathBuf>,
    #[serde(default)]
    optional: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    const MEMBERS: &str = r#"{
      "packages": [
        {"name": "istioctl", "version": "1.4.10", "id": "path+file:///ws/istioctl#1.4.10",
         "manifest_path": "/ws/istioctl/Cargo.toml", "rust_version": "1.88",
         "targets": [
           {"kind": ["lib"], "crate_types": ["lib"], "name": "istioctl",
            "src_path": "/ws/istioctl/pkg/lib.rs", "edition": "2021", "test": true},
           {"kind": ["bin"], "crate_types": ["bin"], "name": "istioctl",
            "src_path": "/ws/istioctl/cmd/istioctl/main.rs", "edition": "2021", "test": true},
           {"kind": ["custom-build"], "crate_types": ["bin"], "name": "build-script-build",
            "src_path": "/ws/istioctl/build.rs", "edition": "2021", "test": false}
         ],
         "dependencies": [
           {"name": "istio-pkg", "kind": null, "path": "/ws/pkg", "optional": false},
           {"name": "serde", "kind": null, "optional": false},
           {"name": "tempfile", "kind": "dev", "optional": false},
           {"name": "prost-build", "kind": "build", "optional": true}
         ]}
      ],
      "workspace_members": ["path+file:///ws/istioctl#1.4.10"],
      "workspace_root": "/ws"
    }"#;

    const RESOLVED: &str = r#"{
      "packages": [
        {"name": "serde_derive", "version": "1.0.0", "id": "registry+x#serde_derive@1.0.0",
         "manifest_path": "/r/serde_derive/Cargo.toml",
         "targets": [{"kind": ["proc-macro"], "name": "serde_derive",
                      "src_path": "/r/serde_derive/src/lib.rs", "edition": "2015"}]},
        {"name": "serde", "version": "1.0.0", "id": "registry+x#serde@1.0.0",
         "manifest_path": "/r/serde/Cargo.toml",
         "targets": [{"kind": ["lib"], "name": "serde",
                      "src_path": "/r/serde/src/lib.rs", "edition": "2018"}]}
      ],
      "workspace_members": [],
      "workspace_root": "/ws"
    }"#;

    #[test]
    fn converts_members_targets_and_dependencies() -> Result<(), CargoError> {
        let ws = Workspace::from_metadata(MEMBERS, Some(RESOLVED))?;
        assert_eq!(ws.packages.len(), 1);
        let p = &ws.packages[0];
        assert_eq!(p.dir, "istioctl");
        assert_eq!(p.manifest, "istioctl/Cargo.toml");
        assert_eq!(p.rust_version.as_deref(), Some("1.88"));
        let kinds: Vec<(TargetKind, &str, &str)> = p
            .targets
            .iter()
            .map(|t| (t.kind, t.name.as_str(), t.src.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [
                (TargetKind::Lib, "istioctl", "istioctl/pkg/lib.rs"),
                (TargetKind::Bin, "istioctl", "istioctl/cmd/istioctl/main.rs"),
                (
                    TargetKind::BuildScript,
                    "build-script-build",
                    "istioctl/build.rs"
                ),
            ]
        );
        assert_eq!(p.dependencies[0].path.as_deref(), Some("pkg"));
        assert_eq!(p.dependencies[2].kind, DepKind::Dev);
        assert_eq!(p.dependencies[3].kind, DepKind::Build);
        assert!(p.dependencies[3].optional);
        assert_eq!(ws.proc_macros, BTreeSet::from(["serde_derive".to_owned()]));
        Ok(())
    }

    #[test]
    fn rejects_paths_outside_the_workspace() {
        let bad = MEMBERS.replace("/ws/istioctl/build.rs", "/elsewhere/build.rs");
        assert!(matches!(
            Workspace::from_metadata(&bad, None),
            Err(CargoError::OutsideRoot { .. })
        ));
    }
}
