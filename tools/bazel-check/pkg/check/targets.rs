//! Every Cargo target has exactly one Bazel twin, and every Bazel rust target has a Cargo twin.

use std::collections::{BTreeMap, BTreeSet};

use super::deps::{self, Expect, Graph, Role};
use super::style::{is_compile_rule, rust_rule};
use super::{BuildFile, FindingKind, Findings};
use crate::cargo::{Package, Target, TargetKind, Workspace};
use crate::label::Label;
use crate::policy::{
    bin_unit_test_name, crate_name, library_target_name, unit_test_name, BENCH_TAGS,
    BUILD_SCRIPT_TARGET, EXAMPLE_TAGS,
};
use crate::starlark::{Call, Function, Value};
use crate::tree::SourceTree;

/// The Bazel name the mapping rules give the library of `package`.
pub(crate) fn library_name(package: &Package) -> Option<String> {
    let lib = package.lib()?;
    let others: Vec<&str> = package
        .targets
        .iter()
        .filter(|t| !t.kind.is_library() && t.kind != TargetKind::BuildScript)
        .map(|t| t.name.as_str())
        .collect();
    Some(library_target_name(&lib.name, &others))
}

fn expected_rule(kind: TargetKind) -> &'static str {
    match kind {
        TargetKind::Lib => "rust_library",
        TargetKind::ProcMacro => "rust_proc_macro",
        TargetKind::Bin | TargetKind::Bench | TargetKind::Example => "rust_binary",
        TargetKind::Test => "rust_test",
        TargetKind::BuildScript => "cargo_build_script",
    }
}

fn role(kind: TargetKind) -> Role {
    match kind {
        TargetKind::Lib | TargetKind::ProcMacro => Role::Library,
        TargetKind::Bin => Role::Binary,
        TargetKind::Test => Role::IntegrationTest,
        TargetKind::Bench | TargetKind::Example => Role::BenchOrExample,
        TargetKind::BuildScript => Role::BuildScript,
    }
}

/// `src` relative to the package directory, if it is inside it.
fn package_relative<'a>(dir: &str, src: &'a str) -> Option<&'a str> {
    if dir.is_empty() {
        Some(src)
    } else {
        src.strip_prefix(dir)?.strip_prefix('/')
    }
}

/// Checks every workspace member against its BUILD file; returns the number of Cargo targets.
pub(crate) fn check_packages(
    cargo: &Workspace,
    tree: &SourceTree,
    builds: &[BuildFile],
    out: &mut Findings,
) -> usize {
    let graph = Graph::new(cargo);
    let mut lib_twins: BTreeMap<&str, (&BuildFile, &Call)> = BTreeMap::new();
    let mut count = 0;
    for package in &cargo.packages {
        count += package.targets.len();
        let Some(build) = builds.iter().find(|b| b.dir == package.dir) else {
            if tree.build_file(&package.dir).is_none() {
                let place = if package.dir.is_empty() {
                    "the workspace root"
                } else {
                    &package.dir
                };
                out.add(
                    FindingKind::MissingBuildFile,
                    &package.manifest,
                    None,
                    Some(package.name.clone()),
                    format!("package {} has no BUILD.bazel in {place}", package.name),
                );
            }
            continue;
        };
        let mut matcher = Matcher {
            graph: &graph,
            package,
            build,

            matched: vec![false; build.module.calls.len()],
            out,
        };
        if let Some(call) = matcher.run() {
            lib_twins.insert(package.name.as_str(), (build, call));
        }
    }

    // Rust targets in BUILD files of directories that hold no Cargo package.
    for build in builds {
        if cargo.package_at(&build.dir).is_some() {
            continue;
        }
        for call in build.module.calls.iter().filter(|c| is_compile_rule(c)) {
            out.at(
                FindingKind::ExtraTarget,
                build,
                call,
                format!(
                    "no Cargo twin: {} holds no Cargo package (a {} must mirror a Cargo target)",
                    if build.dir.is_empty() {
                        "the workspace root"
                    } else {
                        &build.dir
                    },
                    rust_rule(call).unwrap_or("rule")
                ),
            );
        }
    }

    check_visibility(cargo, builds, &lib_twins, out);
    count
}

struct Matcher<'a, 'o> {
    graph: &'a Graph<'a>,
    package: &'a Package,
    build: &'a BuildFile,
    matched: Vec<bool>,
    out: &'o mut Findings,
}

impl<'a> Matcher<'a, '_> {
    /// Matches the package's targets; returns the library's twin.
    fn run(&mut self) -> Option<&'a Call> {
        // Build scripts first: the library's expected deps name the build script's twin.
        let mut targets: Vec<&Target> = self.package.targets.iter().collect();
        targets.sort_by_key(|t| (t.kind != TargetKind::BuildScript, t.kind, t.name.clone()));
        let has_build_script = targets.iter().any(|t| t.kind == TargetKind::BuildScript);

        let mut lib_twin = None;
        let mut build_script_label =
            has_build_script.then(|| Label::local(&self.build.dir, BUILD_SCRIPT_TARGET));
        for target in targets {
            let Some(index) = self.twin_of(target) else {
                continue;
            };
            let call = &self.build.module.calls[index];
            match target.kind {
                TargetKind::BuildScript => {
                    if let Some(name) = call.target_name() {
                        build_script_label = Some(Label::local(&self.build.dir, name));
                    }
                }
                TargetKind::Lib | TargetKind::ProcMacro => lib_twin = Some(call),
                _ => {}
            }
            self.verify(target, call, build_script_label.as_ref());
        }

        if let (Some(lib), Some(twin)) = (self.package.lib(), lib_twin) {
            self.unit_tests(lib, twin);
        }
        self.bin_unit_tests();
        self.docs(lib_twin);
        self.leftovers();
        lib_twin
    }

    fn calls(&self) -> impl Iterator<Item = (usize, &'a Call)> + 'a {
        self.build.module.calls.iter().enumerate()
    }

    /// Finds (and claims) the Bazel twin of a Cargo target: by crate_root first, then by name.
    fn twin_of(&mut self, target: &Target) -> Option<usize> {
        let rule = expected_rule(target.kind);
        let expected = self.expected_name(target);
        let Some(src) = package_relative(&self.package.dir, &target.src) else {
            self.out.add(
                FindingKind::CrateRoot,
                &self.package.manifest,
                None,
                Some(target.name.clone()),
                format!(
                    "Cargo {} {:?} has its source {} outside the package directory; Bazel \
                     cannot build it from this package",
                    target.kind.describe(),
                    target.name,
                    target.src
                ),
            );
            return None;
        };
        let matched = &self.matched;
        let candidate = |c: &Call| {
            is_compile_rule(c)
                && rust_rule(c) != Some("rust_test_suite")
                && c.arg("crate").is_none()
        };
        let found = self
            .calls()
            .find(|(i, c)| !matched[*i] && candidate(c) && c.str_arg("crate_root") == Some(src))
            .or_else(|| {
                self.calls().find(|(i, c)| {
                    !matched[*i]
                        && candidate(c)
                        && rust_rule(c) == Some(rule)
                        && c.target_name() == Some(expected.as_str())
                })
            })
            .map(|(i, _)| i);
        match found {
            Some(i) => {
                self.matched[i] = true;
                Some(i)
            }
            None => {
                self.out.add(
                    FindingKind::MissingTwin,
                    &self.build.path,
                    None,
                    Some(self.build.label(&expected)),
                    format!(
                        "Cargo {} {:?} of package {} has no Bazel twin: expected {rule}(name = \
                         {expected:?}, crate_root = {src:?}, ...)",
                        target.kind.describe(),
                        target.name,
                        self.package.name
                    ),
                );
                None
            }
        }
    }

    fn expected_name(&self, target: &Target) -> String {
        match target.kind {
            TargetKind::Lib | TargetKind::ProcMacro => {
                library_name(self.package).unwrap_or_else(|| target.name.clone())
            }
            TargetKind::BuildScript => BUILD_SCRIPT_TARGET.to_owned(),
            _ => target.name.clone(),
        }
    }

    fn verify(&mut self, target: &Target, call: &Call, build_script: Option<&Label>) {
        let build = self.build;
        let rule = expected_rule(target.kind);
        let what = format!("Cargo {} {:?}", target.kind.describe(), target.name);
        if rust_rule(call) != Some(rule) {
            self.out.at(
                FindingKind::RuleKind,
                build,
                call,
                format!(
                    "is a {} but its twin, the {what}, needs {rule}",
                    rust_rule(call).unwrap_or("rule")
                ),
            );
        }
        let expected = self.expected_name(target);
        if call.target_name() != Some(expected.as_str()) {
            self.out.at(
                FindingKind::Name,
                build,
                call,
                format!("name differs from the {what}: expected name = {expected:?}"),
            );
        }
        let src = package_relative(&self.package.dir, &target.src).unwrap_or(&target.src);
        match call.str_arg("crate_root") {
            Some(root) if root == src => {}
            Some(root) => self.out.at(
                FindingKind::CrateRoot,
                build,
                call,
                format!("crate_root {root:?} differs from the {what}'s source {src:?}"),
            ),
            None => self.out.at(
                FindingKind::CrateRoot,
                build,
                call,
                format!("crate_root is missing; the {what} starts at {src:?}"),
            ),
        }
        self.verify_edition(call, &target.edition);
        self.verify_version(call);
        self.verify_crate_name(target, call);
        match target.kind {
            TargetKind::Bench => self.verify_tags(call, BENCH_TAGS),
            TargetKind::Example => self.verify_tags(call, EXAMPLE_TAGS),
            TargetKind::BuildScript => self.verify_build_script_env(call),
            _ => {}
        }
        let own_lib = match target.kind {
            TargetKind::Lib | TargetKind::ProcMacro | TargetKind::BuildScript => None,
            _ => self.graph.lib_of(&self.package.name).cloned(),
        };
        let expect = Expect {
            package: self.package,
            role: role(target.kind),
            own_lib,
            build_script: match target.kind {
                TargetKind::Lib | TargetKind::ProcMacro => build_script.cloned(),
                _ => None,
            },
        };
        deps::check(self.graph, build, call, &expect, self.out);
    }

    fn verify_edition(&mut self, call: &Call, edition: &str) {
        // A missing edition is reported for every compile rule by the style checks.
        match call.arg("edition") {
            Some(Value::Str(e)) if e == edition => {}
            Some(other) => self.out.at(
                FindingKind::Edition,
                self.build,
                call,
                format!("edition = {other} differs from Cargo's {edition:?}"),
            ),
            None => {}
        }
    }

    /// `version` sets CARGO_PKG_VERSION* for rustc, as Cargo does for every target.
    fn verify_version(&mut self, call: &Call) {
        let version = &self.package.version;
        match call.arg("version") {
            Some(Value::Str(v)) if v == version => {}
            Some(other) => self.out.at(
                FindingKind::Version,
                self.build,
                call,
                format!("version = {other} differs from package version {version:?}"),
            ),
            None => self.out.at(
                FindingKind::Version,
                self.build,
                call,
                format!(
                    "version is missing: set version = {version:?} (the Cargo package version)"
                ),
            ),
        }
    }

    fn verify_crate_name(&mut self, target: &Target, call: &Call) {
        if target.kind == TargetKind::BuildScript {
            return;
        }
        let expected = crate_name(&target.name);
        match (call.arg("crate_name"), target.kind.is_library()) {
            (Some(Value::Str(n)), _) if *n == expected => {}
            (None, false) => {}
            (Some(other), _) => self.out.at(
                FindingKind::CrateName,
                self.build,
                call,
                format!("crate_name = {other} differs from Cargo's crate name {expected:?}"),
            ),
            (None, true) => self.out.at(
                FindingKind::CrateName,
                self.build,
                call,
                format!("crate_name is missing: set crate_name = {expected:?}"),
            ),
        }
    }

    fn verify_tags(&mut self, call: &Call, required: &[&str]) {
        let tags: Vec<&str> = call
            .arg("tags")
            .and_then(Value::as_list)
            .unwrap_or_default()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let missing: Vec<&str> = required
            .iter()
            .copied()
            .filter(|t| !tags.contains(t))
            .collect();
        if !missing.is_empty() {
            self.out.at(
                FindingKind::Tags,
                self.build,
                call,
                format!("tags must include {missing:?} (benches and examples are manual rust_binary targets)"),
            );
        }
    }

    fn verify_build_script_env(&mut self, call: &Call) {
        let name = &self.package.name;
        let value = match call.arg("build_script_env") {
            Some(Value::Dict(entries)) => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some("CARGO_PKG_NAME"))
                .map(|(_, v)| v),
            _ => None,
        };
        match value {
            Some(Value::Str(v)) if v == name => {}
            Some(other) => self.out.at(
                FindingKind::BuildScriptEnv,
                self.build,
                call,
                format!("build_script_env CARGO_PKG_NAME = {other} differs from the package name {name:?}"),
            ),
            None => self.out.at(
                FindingKind::BuildScriptEnv,
                self.build,
                call,
                format!(
                    "set build_script_env = {{\"CARGO_PKG_NAME\": {name:?}}}: rules_rust derives \
                     the package name from the target name otherwise"
                ),
            ),
        }
    }

    /// The unit tests of the library: `rust_test(crate = ":<lib>")`.
    fn unit_tests(&mut self, lib: &Target, twin: &Call) {
        let Some(twin_name) = twin.target_name() else {
            return;
        };
        let lib_label = Label::local(&self.build.dir, twin_name);
        let dir = self.build.dir.clone();
        let found = self
            .calls()
            .filter(|(i, c)| {
                !self.matched[*i]
                    && rust_rule(c) == Some("rust_test")
                    && c.str_arg("crate").map(|l| Label::parse(l, &dir)) == Some(lib_label.clone())
            })
            .collect::<Vec<_>>();
        let expected = unit_test_name(&lib.name);
        let Some(&(index, call)) = found.first() else {
            if lib.test {
                self.out.add(
                    FindingKind::MissingTwin,
                    &self.build.path,
                    None,
                    Some(self.build.label(&expected)),
                    format!(
                        "the unit tests of library {:?} have no Bazel twin: expected \
                         rust_test(name = {expected:?}, crate = \":{twin_name}\", ...)",
                        lib.name
                    ),
                );
            }
            return;
        };
        self.matched[index] = true;
        if call.target_name() != Some(expected.as_str()) {
            self.out.at(
                FindingKind::Name,
                self.build,
                call,
                format!(
                    "name of the unit tests of {:?} should be {expected:?}",
                    lib.name
                ),
            );
        }
        self.verify_edition(call, &lib.edition);
        self.verify_version(call);
        let expect = Expect {
            package: self.package,
            role: Role::UnitTest,
            own_lib: None,
            build_script: None,
        };
        deps::check(self.graph, self.build, call, &expect, self.out);
    }

    /// Optional unit tests of binaries: `rust_test(crate_root = <main.rs>)`.
    fn bin_unit_tests(&mut self) {
        for bin in self
            .package
            .targets
            .iter()
            .filter(|t| t.kind == TargetKind::Bin)
        {
            let Some(src) = package_relative(&self.package.dir, &bin.src) else {
                continue;
            };
            let found = self.calls().find(|(i, c)| {
                !self.matched[*i]
                    && rust_rule(c) == Some("rust_test")
                    && c.arg("crate").is_none()
                    && c.str_arg("crate_root") == Some(src)
            });
            let Some((index, call)) = found else {
                continue;
            };
            self.matched[index] = true;
            let expected = bin_unit_test_name(&bin.name);
            if call.target_name() != Some(expected.as_str()) {
                self.out.at(
                    FindingKind::Name,
                    self.build,
                    call,
                    format!(
                        "name of the unit tests of binary {:?} should be {expected:?}",
                        bin.name
                    ),
                );
            }
            self.verify_edition(call, &bin.edition);
            self.verify_version(call);
            let expect = Expect {
                package: self.package,
                role: Role::BinUnitTest,
                own_lib: self.graph.lib_of(&self.package.name).cloned(),
                build_script: None,
            };
            deps::check(self.graph, self.build, call, &expect, self.out);
        }
    }

    /// `rust_doc(crate = ":<lib>")` is allowed beside the library.
    fn docs(&mut self, lib_twin: Option<&Call>) {
        let lib_label = lib_twin
            .and_then(Call::target_name)
            .map(|n| Label::local(&self.build.dir, n));
        let dir = self.build.dir.clone();
        for i in 0..self.matched.len() {
            let call = &self.build.module.calls[i];
            if self.matched[i] || rust_rule(call) != Some("rust_doc") {
                continue;
            }
            let target = call.str_arg("crate").map(|l| Label::parse(l, &dir));
            if target.is_some() && target == lib_label {
                self.matched[i] = true;
            }
        }
    }

    fn leftovers(&mut self) {
        for (i, call) in self.build.module.calls.iter().enumerate() {
            if self.matched[i] {
                continue;
            }
            let Some(rule) = rust_rule(call) else {
                continue;
            };
            let message = match rule {
                "rust_test_suite" => {
                    "rust_test_suite cannot be matched to Cargo tests one by one; \
                                      declare one rust_test per tests/*.rs"
                        .to_owned()
                }
                "rust_doc" => {
                    "rust_doc must document this package's library (crate = \":<lib>\")".to_owned()
                }
                "rust_test" if call.arg("crate").is_some() => format!(
                    "no Cargo twin: crate = {} is not the library of package {} (or its unit \
                     tests are declared twice)",
                    call.arg("crate")
                        .map(ToString::to_string)
                        .unwrap_or_default(),
                    self.package.name
                ),
                _ => format!(
                    "no Cargo twin in package {}: every Bazel rust target must mirror a Cargo \
                     target (crate_root = {})",
                    self.package.name,
                    call.arg("crate_root")
                        .map(ToString::to_string)
                        .unwrap_or_else(|| "?".into())
                ),
            };
            let kind = if rule == "rust_test_suite" {
                FindingKind::RuleKind
            } else {
                FindingKind::ExtraTarget
            };
            self.out.at(kind, self.build, call, message);
        }
    }
}

/// A library used by another package must be visible to it.
fn check_visibility(
    cargo: &Workspace,
    builds: &[BuildFile],
    lib_twins: &BTreeMap<&str, (&BuildFile, &Call)>,
    out: &mut Findings,
) {
    for user in &cargo.packages {
        let used: BTreeSet<&str> = user
            .dependencies
            .iter()
            .filter_map(|d| d.path.as_deref())
            .filter(|dir| *dir != user.dir)
            .collect();
        for dir in used {
            let Some(dep) = cargo.package_at(dir) else {
                continue;
            };
            let Some((build, call)) = lib_twins.get(dep.name.as_str()) else {
                continue;
            };
            let visibility = call
                .arg("visibility")
                .or_else(|| default_visibility(builds, &build.dir));
            if !visible_from(visibility, &user.dir) {
                out.at(
                    FindingKind::Visibility,
                    build,
                    call,
                    format!(
                        "package {} depends on it, but it is not visible there: add visibility = \
                         [\"//visibility:public\"]",
                        user.name
                    ),
                );
            }
        }
    }
}

fn default_visibility<'a>(builds: &'a [BuildFile], dir: &str) -> Option<&'a Value> {
    let build = builds.iter().find(|b| b.dir == dir)?;
    build
        .module
        .calls
        .iter()
        .filter(|c| c.function == Function::Native("package".into()))
        .find_map(|c| c.arg("default_visibility"))
}

fn visible_from(visibility: Option<&Value>, dir: &str) -> bool {
    let Some(items) = visibility.and_then(Value::as_list) else {
        return false;
    };
    items.iter().filter_map(Value::as_str).any(|v| {
        if v == "//visibility:public" {
            return true;
        }
        match Label::parse(v, "") {
            Label::Local { package, name } if name == "__pkg__" => package == dir,
            Label::Local { package, name } if name == "__subpackages__" => {
                package.is_empty() || dir == package || dir.starts_with(&format!("{package}/"))
            }
            _ => false,
        }
    })
}

/// Every `alias(actual = ...)` must point to a target declared in our BUILD files.
pub(crate) fn check_aliases(builds: &[BuildFile], out: &mut Findings) {
    let declared: BTreeSet<Label> = builds
        .iter()
        .flat_map(|b| {
            b.module
                .calls
                .iter()
                .filter_map(|c| c.target_name())
                .map(|n| Label::local(&b.dir, n))
        })
        .collect();
    for build in builds {
        for call in &build.module.calls {
            if call.function != Function::Native("alias".into()) {
                continue;
            }
            let Some(actual) = call.str_arg("actual") else {
                out.at(
                    FindingKind::Alias,
                    build,
                    call,
                    "alias without a string `actual`",
                );
                continue;
            };
            let label = Label::parse(actual, &build.dir);
            if matches!(label, Label::Local { .. }) && !declared.contains(&label) {
                out.at(
                    FindingKind::Alias,
                    build,
                    call,
                    format!("actual = {actual:?} names no target of our BUILD files"),
                );
            }
        }
    }
}
