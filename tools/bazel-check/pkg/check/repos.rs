//! MODULE.bazel (bzlmod) and WORKSPACE (Bazel 4.2): rules_rust, the Rust toolchain, and the
//! crate_universe repository `crates` built from Cargo.lock and every member's Cargo.toml.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use super::{FindingKind, Findings};
use crate::cargo::Workspace;
use crate::label::file_path;
use crate::policy::CRATES_REPO_NAME;
use crate::starlark::{self, Call, Function, Module, Value};
use crate::tree::{split, SourceTree};

pub(crate) fn check(cargo: &Workspace, tree: &SourceTree, out: &mut Findings) {
    if tree.build_file("").is_none() {
        out.add(
            FindingKind::RepoSetup,
            "BUILD.bazel",
            None,
            None,
            "no BUILD.bazel at the workspace root: //:Cargo.toml and //:Cargo.lock need a root package",
        );
    }
    let ctx = Ctx::new(cargo, tree);

    match evaluate(tree, "MODULE.bazel", out) {
        Some(module) => ctx.module_bazel(&module, out),
        None if !tree.contains("MODULE.bazel") => out.add(
            FindingKind::RepoSetup,
            "MODULE.bazel",
            None,
            None,
            "MODULE.bazel is missing (bzlmod users of current Bazel need it)",
        ),
        None => {}
    }
    let workspace = ["WORKSPACE.bazel", "WORKSPACE"]
        .into_iter()
        .find(|f| tree.contains(f));
    match workspace {
        Some(file) => {
            if let Some(module) = evaluate(tree, file, out) {
                ctx.workspace(file, &module, out);
            }
        }
        None => out.add(
            FindingKind::RepoSetup,
            "WORKSPACE",
            None,
            None,
            "WORKSPACE is missing (Bazel 4.2 with rules_rust 0.7 needs it)",
        ),
    }
}

fn evaluate(tree: &SourceTree, file: &str, out: &mut Findings) -> Option<Module> {
    let content = tree.content(file)?;
    match starlark::evaluate(file, content) {
        Ok(module) => Some(module),
        Err(e) => {
            out.add(FindingKind::Syntax, file, None, None, e.to_string());
            None
        }
    }
}

struct Ctx<'a> {
    tree: &'a SourceTree,
    /// Manifests crate_universe must read: the workspace root's and every member's.
    manifests: BTreeSet<String>,
    /// The highest `rust-version` of the members, if any sets one.
    rust_version: Option<String>,
}

impl<'a> Ctx<'a> {
    fn new(cargo: &Workspace, tree: &'a SourceTree) -> Ctx<'a> {
        let mut manifests: BTreeSet<String> =
            cargo.packages.iter().map(|p| p.manifest.clone()).collect();
        manifests.insert("Cargo.toml".to_owned());
        let rust_version = cargo
            .packages
            .iter()
            .filter_map(|p| p.rust_version.clone())
            .max_by(|a, b| compare_versions(a, b).unwrap_or(Ordering::Equal));
        Ctx {
            tree,
            manifests,
            rust_version,
        }
    }

    fn module_bazel(&self, module: &Module, out: &mut Findings) {
        let file = "MODULE.bazel";
        let has_rules_rust = module
            .calls_named("bazel_dep")
            .any(|c| c.str_arg("name") == Some("rules_rust"));
        if !has_rules_rust {
            out.add(
                FindingKind::RepoSetup,
                file,
                None,
                None,
                "no bazel_dep(name = \"rules_rust\", ...)",
            );
        }
        let repos: Vec<&Call> = module
            .calls
            .iter()
            .filter(|c| {
                matches!(&c.function, Function::Method { method, .. } if method == "from_cargo")
                    && c.str_arg("name") == Some(CRATES_REPO_NAME)
            })
            .collect();
        self.crates_repo(file, "crate.from_cargo", &repos, out);
        let used = module.calls_named("use_repo").any(|c| {
            c.positional
                .iter()
                .any(|v| v.as_str() == Some(CRATES_REPO_NAME))
        });
        if !used {
            out.add(
                FindingKind::RepoSetup,
                file,
                None,
                None,
                format!("no use_repo(crate, {CRATES_REPO_NAME:?}): BUILD files cannot see @crates"),
            );
        }
        let toolchains: Vec<&Call> = module
            .calls
            .iter()
            .filter(
                |c| matches!(&c.function, Function::Method { method, .. } if method == "toolchain"),
            )
            .collect();
        self.toolchain_versions(file, "rust.toolchain(versions = [...])", &toolchains, out);
    }

    fn workspace(&self, file: &str, module: &Module, out: &mut Findings) {
        let has_rules_rust = module
            .calls_named("http_archive")
            .any(|c| c.str_arg("name") == Some("rules_rust"));
        if !has_rules_rust {
            out.add(
                FindingKind::RepoSetup,
                file,
                None,
                None,
                "no http_archive(name = \"rules_rust\", ...)",
            );
        }
        let repos: Vec<&Call> = module
            .calls_named("crates_repository")
            .filter(|c| c.str_arg("name") == Some(CRATES_REPO_NAME))
            .collect();
        self.crates_repo(file, "crates_repository", &repos, out);
        if module.calls_named("crate_repositories").next().is_none() {
            out.add(
                FindingKind::RepoSetup,
                file,
                None,
                None,
                "crate_repositories() from @crates//:defs.bzl is never called",
            );
        }
        let toolchains: Vec<&Call> = module.calls_named("rust_register_toolchains").collect();
        self.toolchain_versions(
            file,
            "rust_register_toolchains(version = ...)",
            &toolchains,
            out,
        );
    }

    fn crates_repo(&self, file: &str, what: &str, repos: &[&Call], out: &mut Findings) {
        let call = match repos {
            [call] => *call,
            [] => {
                out.add(
                    FindingKind::RepoSetup,
                    file,
                    None,
                    None,
                    format!("no {what}(name = {CRATES_REPO_NAME:?}, ...)"),
                );
                return;
            }
            [_, second, ..] => {
                out.add(
                    FindingKind::RepoSetup,
                    file,
                    Some(second.line),
                    None,
                    format!("{what}(name = {CRATES_REPO_NAME:?}) is declared more than once"),
                );
                return;
            }
        };
        let line = Some(call.line);
        if call
            .str_arg("cargo_lockfile")
            .and_then(file_path)
            .as_deref()
            != Some("Cargo.lock")
        {
            out.add(
                FindingKind::RepoSetup,
                file,
                line,
                None,
                format!("{what}: cargo_lockfile must be \"//:Cargo.lock\""),
            );
        }
        let mut listed = BTreeSet::new();
        let labels = call
            .arg("manifests")
            .and_then(Value::as_list)
            .unwrap_or_default();
        for value in labels {
            let Some(path) = value.as_str().and_then(file_path) else {
                out.add(
                    FindingKind::Manifests,
                    file,
                    line,
                    None,
                    format!("{what}: manifest {value} is not a label like \"//dir:Cargo.toml\""),
                );
                continue;
            };
            let (dir, _) = split(&path);
            if self.tree.build_file(dir).is_none() {
                out.add(
                    FindingKind::Manifests,
                    file,
                    line,
                    None,
                    format!(
                        "{what}: {value} is not in a Bazel package (no BUILD.bazel in {dir:?})"
                    ),
                );
            }
            listed.insert(path);
        }
        let missing: Vec<String> = self
            .manifests
            .difference(&listed)
            .map(|p| manifest_label(p))
            .collect();
        if !missing.is_empty() {
            out.add(
                FindingKind::Manifests,
                file,
                line,
                None,
                format!(
                    "{what}: manifests lack {} (workspace members)",
                    missing.join(", ")
                ),
            );
        }
        let extra: Vec<String> = listed
            .difference(&self.manifests)
            .map(|p| manifest_label(p))
            .collect();
        if !extra.is_empty() {
            out.add(
                FindingKind::Manifests,
                file,
                line,
                None,
                format!(
                    "{what}: manifests list {}, which are not workspace members",
                    extra.join(", ")
                ),
            );
        }
    }

    fn toolchain_versions(&self, file: &str, what: &str, calls: &[&Call], out: &mut Findings) {
        let mut versions = Vec::new();
        for call in calls {
            if let Some(v) = call.str_arg("version") {
                versions.push((call.line, v.to_owned()));
            }
            let list = call
                .arg("versions")
                .and_then(Value::as_list)
                .unwrap_or_default();
            versions.extend(
                list.iter()
                    .filter_map(Value::as_str)
                    .map(|v| (call.line, v.to_owned())),
            );
        }
        if versions.is_empty() {
            out.add(
                FindingKind::Toolchain,
                file,
                calls.first().map(|c| c.line),
                None,
                format!("pin the Rust toolchain: {what}"),
            );
            return;
        }
        let Some(minimum) = &self.rust_version else {
            return;
        };
        for (line, version) in versions {
            if compare_versions(&version, minimum) == Some(Ordering::Less) {
                out.add(
                    FindingKind::Toolchain,
                    file,
                    Some(line),
                    None,
                    format!("Rust {version} is older than the workspace's rust-version {minimum}"),
                );
            }
        }
    }
}

fn manifest_label(path: &str) -> String {
    match path.rsplit_once('/') {
        Some((dir, file)) => format!("//{dir}:{file}"),
        None => format!("//:{path}"),
    }
}

/// Compares dotted numeric versions (`1.88` < `1.95.0`); `None` if either is not numeric.
fn compare_versions(a: &str, b: &str) -> Option<Ordering> {
    let parse = |v: &str| -> Option<Vec<u64>> { v.split('.').map(|p| p.parse().ok()).collect() };
    let (mut a, mut b) = (parse(a)?, parse(b)?);
    let len = a.len().max(b.len());
    a.resize(len, 0);
    b.resize(len, 0);
    Some(a.cmp(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_numerically() {
        assert_eq!(compare_versions("1.88", "1.95.0"), Some(Ordering::Less));
        assert_eq!(compare_versions("1.95.0", "1.95"), Some(Ordering::Equal));
        assert_eq!(
            compare_versions("1.100.0", "1.95.0"),
            Some(Ordering::Greater)
        );
        assert_eq!(compare_versions("nightly/2026-01-01", "1.95"), None);
    }
}
