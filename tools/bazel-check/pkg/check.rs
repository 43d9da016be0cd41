//! The comparison of the Bazel graph with the Cargo graph.

mod deps;
mod repos;
mod style;
mod targets;
#[cfg(test)]
mod tests;

use std::fmt;

use crate::cargo::Workspace;
use crate::label::Label;
use crate::starlark::{self, Call, Module};
use crate::tree::SourceTree;

/// The kind of drift or style violation a finding reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FindingKind {
    /// A Cargo package directory has no BUILD file.
    MissingBuildFile,
    /// A Bazel file is not valid Starlark or not declarative.
    Syntax,
    /// A Cargo target (or a library's unit tests) has no Bazel twin.
    MissingTwin,
    /// A Bazel rust target has no Cargo twin.
    ExtraTarget,
    /// A Bazel target's name differs from the name the mapping rules give it.
    Name,
    /// `crate_root` differs from the Cargo target's source file.
    CrateRoot,
    /// The rule does not fit the Cargo target kind (rust_library for a proc-macro, ...).
    RuleKind,
    /// `crate_name` differs from Cargo's crate name.
    CrateName,
    /// `edition` is missing or differs from Cargo's.
    Edition,
    /// `version` is missing or differs from the package version.
    Version,
    /// Dependencies on our own workspace crates differ from Cargo's.
    InternalDeps,
    /// Third-party dependencies differ from Cargo's.
    ExternalDeps,
    /// `all_crate_deps` selects dependency kinds this kind of target does not have in Cargo.
    DepKinds,
    /// A proc-macro crate in `deps`, or a normal crate in `proc_macro_deps`.
    ProcMacro,
    /// A label listed twice in one attribute.
    Duplicate,
    /// A load from a file or of a symbol outside the allowed list.
    Load,
    /// An attribute outside the allowed list.
    Attribute,
    /// A function that is neither an allowed rule nor an allowed builtin.
    Function,
    /// `@@`, `@<module>//`, `$(rlocationpath ...)` or a malformed label.
    Label,
    /// `srcs`/`glob` problems: empty glob, missing file, crate_root not in srcs.
    Srcs,
    /// A bench or example without its tags.
    Tags,
    /// A build script that does not tell its package name.
    BuildScriptEnv,
    /// A library used by another package is not visible to it.
    Visibility,
    /// An alias that points to no target.
    Alias,
    /// crate_universe manifests differ from the workspace members.
    Manifests,
    /// MODULE.bazel / WORKSPACE lack a piece of the setup (crates repo, lockfile, rules_rust).
    RepoSetup,
    /// The registered Rust toolchain is older than a package's `rust-version`.
    Toolchain,
}

/// One problem, located in a file and, when it concerns one, a target.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    pub file: String,
    pub line: Option<usize>,
    /// The Bazel label (`//api:istio_api`) or Cargo target the finding is about.
    pub target: Option<String>,
    pub kind: FindingKind,
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(target) = &self.target {
            write!(f, ": {target}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// The outcome of a check.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub findings: Vec<Finding>,
    /// Cargo targets compared (build scripts included).
    pub cargo_targets: usize,
    /// Bazel rust targets seen in all BUILD files.
    pub bazel_targets: usize,
}

impl Report {
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty()
    }

    /// Whether some finding has this kind (handy in tests).
    pub fn has(&self, kind: FindingKind) -> bool {
        self.findings.iter().any(|f| f.kind == kind)
    }
}

/// An evaluated BUILD file.
pub(crate) struct BuildFile {
    /// The package directory, workspace-relative (`""` for the root package).
    pub dir: String,
    /// The file, workspace-relative.
    pub path: String,
    pub module: Module,
}

impl BuildFile {
    pub fn label(&self, name: &str) -> String {
        Label::local(&self.dir, name).to_string()
    }

    /// The label of the target a call declares, for messages.
    pub fn call_label(&self, call: &Call) -> Option<String> {
        call.target_name().map(|n| self.label(n))
    }
}

/// Collects findings.
#[derive(Default)]
pub(crate) struct Findings(Vec<Finding>);

impl Findings {
    pub fn add(
        &mut self,
        kind: FindingKind,
        file: &str,
        line: Option<usize>,
        target: Option<String>,
        message: impl Into<String>,
    ) {
        self.0.push(Finding {
            file: file.to_owned(),
            line,
            target,
            kind,
            message: message.into(),
        });
    }

    /// A finding about the target a call declares.
    pub fn at(
        &mut self,
        kind: FindingKind,
        build: &BuildFile,
        call: &Call,
        message: impl Into<String>,
    ) {
        self.add(
            kind,
            &build.path,
            Some(call.line),
            build.call_label(call),
            message,
        );
    }
}

/// Compares the Cargo workspace with the Bazel files of `tree` and lists every difference.
pub fn check(cargo: &Workspace, tree: &SourceTree) -> Report {
    let mut findings = Findings::default();
    let mut builds = Vec::new();
    for dir in tree.packages() {
        let Some(path) = tree.build_file(&dir) else {
            continue;
        };
        let content = tree.content(&path).unwrap_or_default();
        match starlark::evaluate(&path, content) {
            Ok(module) => builds.push(BuildFile { dir, path, module }),
            Err(e) => findings.add(FindingKind::Syntax, &path, None, None, e.to_string()),
        }
    }

    for build in &builds {
        style::check_file(build, tree, &mut findings);
    }
    let cargo_targets = targets::check_packages(cargo, tree, &builds, &mut findings);
    targets::check_aliases(&builds, &mut findings);
    repos::check(cargo, tree, &mut findings);

    let bazel_targets = builds
        .iter()
        .flat_map(|b| b.module.calls.iter())
        .filter(|c| style::is_rust_rule(c))
        .count();
    let mut findings = findings.0;
    findings.sort();
    findings.dedup();
    Report {
        findings,
        cargo_targets,
        bazel_targets,
    }
}
