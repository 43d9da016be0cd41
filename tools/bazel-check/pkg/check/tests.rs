//! One in-memory workspace that is in sync, and one test per kind of drift it must catch.

use std::collections::BTreeSet;
use std::path::PathBuf;

use super::{check, FindingKind, Report};
use crate::cargo::{DepKind, Dependency, Package, Target, TargetKind, Workspace};
use crate::tree::SourceTree;
use FindingKind::*;

fn target(kind: TargetKind, name: &str, src: &str) -> Target {
    Target {
        kind,
        name: name.to_owned(),
        src: src.to_owned(),
        edition: "2021".to_owned(),
        test: kind != TargetKind::BuildScript,
    }
}

fn dep(name: &str, kind: DepKind) -> Dependency {
    Dependency {
        name: name.to_owned(),
        kind,
        path: None,
        optional: false,
    }
}

fn path_dep(name: &str, kind: DepKind, path: &str) -> Dependency {
    Dependency {
        path: Some(path.to_owned()),
        ..dep(name, kind)
    }
}

fn package(name: &str, dir: &str, targets: Vec<Target>, dependencies: Vec<Dependency>) -> Package {
    Package {
        name: name.to_owned(),
        version: "1.4.10".to_owned(),
        dir: dir.to_owned(),
        manifest: format!("{dir}/Cargo.toml"),
        rust_version: Some("1.88".to_owned()),
        targets,
        dependencies,
    }
}

fn cargo() -> Workspace {
    use DepKind::*;
    use TargetKind::*;
    Workspace {
        root: PathBuf::from("/ws"),
        proc_macros: BTreeSet::from(["serde_derive".to_owned()]),
        packages: vec![
            package(
                "istio-api",
                "api",
                vec![
                    target(Lib, "istio_api", "api/lib.rs"),
                    target(BuildScript, "build-script-build", "api/build.rs"),
                ],
                vec![
                    dep("prost", Normal),
                    dep("serde_derive", Normal),
                    dep("serde_json", Dev),
                    dep("protox", Build),
                ],
            ),
            package(
                "istioctl",
                "istioctl",
                vec![
                    target(Lib, "istioctl", "istioctl/pkg/lib.rs"),
                    target(Bin, "istioctl", "istioctl/cmd/istioctl/main.rs"),
                    target(Test, "cli", "istioctl/tests/cli.rs"),
                    target(Bench, "render", "istioctl/benches/render.rs"),
                ],
                vec![
                    path_dep("istio-api", Normal, "api"),
                    dep("anyhow", Normal),
                    dep("tempfile", Dev),
                    dep("criterion", Dev),
                ],
            ),
        ],
    }
}

const ROOT_BUILD: &str = r#"
exports_files(["Cargo.toml", "Cargo.lock"])

alias(
    name = "istioctl",
    actual = "//istioctl:istioctl",
)
"#;

const MODULE: &str = r#"
module(name = "istio_rs", version = "1.4.10")

bazel_dep(name = "rules_rust", version = "0.73.0")

rust = use_extension("@rules_rust//rust:extensions.bzl", "rust")
rust.toolchain(edition = "2021", versions = ["1.95.0"])
use_repo(rust, "rust_toolchains")

register_toolchains("@rust_toolchains//:all")

crate = use_extension("@rules_rust//crate_universe:extensions.bzl", "crate")
crate.from_cargo(
    name = "crates",
    cargo_lockfile = "//:Cargo.lock",
    manifests = [
        "//:Cargo.toml",
        "//api:Cargo.toml",
        "//istioctl:Cargo.toml",
    ],
)
use_repo(crate, "crates")
"#;

const WORKSPACE: &str = r#"
load("@bazel_tools//tools/build_defs/repo:http.bzl", "http_archive")

http_archive(name = "rules_rust", urls = ["https://example.invalid/rules_rust-v0.7.0.tar.gz"])

load("@rules_rust//rust:repositories.bzl", "rules_rust_dependencies", "rust_register_toolchains")

rules_rust_dependencies()

rust_register_toolchains(edition = "2021", version = "1.95.0")

load("@rules_rust//crate_universe:defs.bzl", "crates_repository")

crates_repository(
    name = "crates",
    cargo_lockfile = "//:Cargo.lock",
    manifests = ["//:Cargo.toml", "//api:Cargo.toml", "//istioctl:Cargo.toml"],
)

load("@crates//:defs.bzl", "crate_repositories")

crate_repositories()
"#;

const API_BUILD: &str = r#"
load("@crates//:defs.bzl", "all_crate_deps")
load("@rules_rust//cargo:defs.bzl", "cargo_build_script")
load("@rules_rust//rust:defs.bzl", "rust_library", "rust_test")

cargo_build_script(
    name = "build_script",
    srcs = ["build.rs"],
    crate_root = "build.rs",
    edition = "2021",
    version = "1.4.10",
    build_script_env = {"CARGO_PKG_NAME": "istio-api"},
    data = glob(["**/*.proto"]),
    deps = all_crate_deps(build = True),
    proc_macro_deps = all_crate_deps(build_proc_macro = True),
)

rust_library(
    name = "istio_api",
    crate_name = "istio_api",
    crate_root = "lib.rs",
    srcs = glob(["**/*.rs"], exclude = ["build.rs"]),
    edition = "2021",
    version = "1.4.10",
    deps = [":build_script"] + all_crate_deps(normal = True),
    proc_macro_deps = all_crate_deps(proc_macro = True),
    visibility = ["//visibility:public"],
)

rust_test(
    name = "istio_api_test",
    crate = ":istio_api",
    edition = "2021",
    version = "1.4.10",
    deps = all_crate_deps(normal_dev = True),
    proc_macro_deps = all_crate_deps(proc_macro_dev = True),
)
"#;

const ISTIOCTL_BUILD: &str = r#"
load("@crates//:defs.bzl", "all_crate_deps")
load("@rules_rust//rust:defs.bzl", "rust_binary", "rust_library", "rust_test")

rust_library(
    name = "istioctl_lib",
    crate_name = "istioctl",
    crate_root = "pkg/lib.rs",
    srcs = glob(["pkg/**/*.rs"]),
    edition = "2021",
    version = "1.4.10",
    deps = ["//api:istio_api"] + all_crate_deps(normal = True),
    proc_macro_deps = all_crate_deps(proc_macro = True),
)

rust_test(
    name = "istioctl_test",
    crate = ":istioctl_lib",
    edition = "2021",
    version = "1.4.10",
    deps = all_crate_deps(normal_dev = True),
    proc_macro_deps = all_crate_deps(proc_macro_dev = True),
)

rust_binary(
    name = "istioctl",
    crate_root = "cmd/istioctl/main.rs",
    srcs = glob(["cmd/istioctl/**/*.rs"]),
    edition = "2021",
    version = "1.4.10",
    deps = [":istioctl_lib", "//api:istio_api"] + all_crate_deps(normal = True),
    proc_macro_deps = all_crate_deps(proc_macro = True),
)

rust_test(
    name = "cli",
    crate_root = "tests/cli.rs",
    srcs = ["tests/cli.rs"],
    edition = "2021",
    version = "1.4.10",
    deps = [":istioctl_lib", "//api:istio_api"] + all_crate_deps(normal = True, normal_dev = True),
    proc_macro_deps = all_crate_deps(proc_macro = True, proc_macro_dev = True),
)

rust_binary(
    name = "render",
    crate_root = "benches/render.rs",
    srcs = ["benches/render.rs"],
    edition = "2021",
    version = "1.4.10",
    deps = [":istioctl_lib", "//api:istio_api"] + all_crate_deps(normal = True, normal_dev = True),
    proc_macro_deps = all_crate_deps(proc_macro = True, proc_macro_dev = True),
    tags = ["bench", "manual"],
)
"#;

struct Fixture {
    cargo: Workspace,
    tree: SourceTree,
}

impl Fixture {
    /// A workspace whose Bazel files mirror Cargo exactly.
    fn new() -> Fixture {
        let tree = SourceTree::new()
            .with("Cargo.toml", "")
            .with("Cargo.lock", "")
            .with("BUILD.bazel", ROOT_BUILD)
            .with("MODULE.bazel", MODULE)
            .with("WORKSPACE", WORKSPACE)
            .with("api/Cargo.toml", "")
            .with("api/BUILD.bazel", API_BUILD)
            .with("api/lib.rs", "")
            .with("api/build.rs", "")
            .with("api/mesh/v1alpha1/config.proto", "")
            .with("istioctl/Cargo.toml", "")
            .with("istioctl/BUILD.bazel", ISTIOCTL_BUILD)
            .with("istioctl/pkg/lib.rs", "")
            .with("istioctl/cmd/istioctl/main.rs", "")
            .with("istioctl/tests/cli.rs", "")
            .with("istioctl/benches/render.rs", "");
        Fixture {
            cargo: cargo(),
            tree,
        }
    }

    /// Replaces `from` by `to` in a file of the tree (which must contain `from`).
    fn edit(mut self, path: &str, from: &str, to: &str) -> Fixture {
        let content = self.tree.content(path).unwrap_or_default();
        assert!(content.contains(from), "{path} does not contain {from:?}");
        let edited = content.replacen(from, to, 1);
        self.tree.insert(path, edited);
        self
    }

    fn file(mut self, path: &str, content: &str) -> Fixture {
        self.tree.insert(path, content);
        self
    }

    fn package(&mut self, name: &str) -> &mut Package {
        match self.cargo.packages.iter_mut().find(|p| p.name == name) {
            Some(p) => p,
            None => panic!("no package {name} in the fixture"),
        }
    }

    fn report(&self) -> Report {
        check(&self.cargo, &self.tree)
    }
}

fn show(report: &Report) -> String {
    report
        .findings
        .iter()
        .map(|f| format!("  [{:?}] {f}", f.kind))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every finding is of one of `kinds`, and each of `kinds` is found.
fn assert_only(report: &Report, kinds: &[FindingKind]) {
    let found: BTreeSet<FindingKind> = report.findings.iter().map(|f| f.kind).collect();
    let wanted: BTreeSet<FindingKind> = kinds.iter().copied().collect();
    assert_eq!(found, wanted, "findings:\n{}", show(report));
}

/// Some finding has `kind` and mentions every one of `words`.
fn assert_finding(report: &Report, kind: FindingKind, words: &[&str]) {
    let hit = report.findings.iter().any(|f| {
        let text = f.to_string();
        f.kind == kind && words.iter().all(|w| text.contains(w))
    });
    assert!(
        hit,
        "no {kind:?} finding mentioning {words:?}; findings:\n{}",
        show(report)
    );
}

#[test]
fn workspace_in_sync_has_no_findings() {
    let report = Fixture::new().report();
    assert!(report.is_clean(), "findings:\n{}", show(&report));
    assert_eq!(report.cargo_targets, 6);
    assert_eq!(report.bazel_targets, 8);
}

#[test]
fn cargo_binary_without_bazel_twin() {
    let mut fx = Fixture::new().file("istioctl/cmd/pilot-discovery/main.rs", "");
    fx.package("istioctl").targets.push(target(
        TargetKind::Bin,
        "pilot-discovery",
        "istioctl/cmd/pilot-discovery/main.rs",
    ));
    let report = fx.report();
    assert_only(&report, &[MissingTwin]);
    assert_finding(
        &report,
        MissingTwin,
        &[
            "istioctl/BUILD.bazel",
            "//istioctl:pilot-discovery",
            "rust_binary",
            "cmd/pilot-discovery/main.rs",
        ],
    );
}

#[test]
fn cargo_integration_test_without_bazel_twin() {
    let mut fx = Fixture::new().file("istioctl/tests/xds.rs", "");
    fx.package("istioctl")
        .targets
        .push(target(TargetKind::Test, "xds", "istioctl/tests/xds.rs"));
    let report = fx.report();
    assert_only(&report, &[MissingTwin]);
    assert_finding(
        &report,
        MissingTwin,
        &["//istioctl:xds", "rust_test", "tests/xds.rs"],
    );
}

#[test]
fn cargo_bench_without_bazel_twin() {
    let mut fx = Fixture::new().file("istioctl/benches/push.rs", "");
    fx.package("istioctl").targets.push(target(
        TargetKind::Bench,
        "push",
        "istioctl/benches/push.rs",
    ));
    let report = fx.report();
    assert_only(&report, &[MissingTwin]);
    assert_finding(&report, MissingTwin, &["bench", "//istioctl:push"]);
}

#[test]
fn build_script_without_bazel_twin() {
    let start = API_BUILD.find("cargo_build_script(\n").unwrap_or(0);
    let end = API_BUILD.find("rust_library(").unwrap_or(0);
    let report = Fixture::new()
        .edit("api/BUILD.bazel", &API_BUILD[start..end], "")
        .report();
    assert_only(&report, &[MissingTwin]);
    assert_finding(
        &report,
        MissingTwin,
        &["build script", "cargo_build_script", "build.rs"],
    );
}

#[test]
fn library_unit_tests_without_bazel_twin() {
    let report = Fixture::new()
        .edit(
            "istioctl/BUILD.bazel",
            "crate = \":istioctl_lib\",",
            "crate = \":istioctl\",",
        )
        .report();
    assert_finding(
        &report,
        MissingTwin,
        &["unit tests", "istioctl_test", "crate = \":istioctl_lib\""],
    );
    assert_only(&report, &[MissingTwin, ExtraTarget]);
}

#[test]
fn bazel_target_without_cargo_twin() {
    let report = Fixture::new()
        .file("istioctl/cmd/debug/main.rs", "")
        .file(
            "istioctl/BUILD.bazel",
            &format!(
                "{ISTIOCTL_BUILD}\nrust_binary(name = \"debug\", crate_root = \"cmd/debug/main.rs\", \
                 srcs = [\"cmd/debug/main.rs\"], edition = \"2021\")\n"
            ),
        )
        .report();
    assert_only(&report, &[ExtraTarget]);
    assert_finding(&report, ExtraTarget, &["//istioctl:debug", "no Cargo twin"]);
}

#[test]
fn rust_target_outside_any_cargo_package() {
    let report = Fixture::new()
        .file("tools/gen/main.rs", "")
        .file(
            "tools/gen/BUILD.bazel",
            "load(\"@rules_rust//rust:defs.bzl\", \"rust_binary\")\n\
             rust_binary(name = \"gen\", crate_root = \"main.rs\", srcs = [\"main.rs\"], edition = \"2021\")\n",
        )
        .report();
    assert_only(&report, &[ExtraTarget]);
    assert_finding(
        &report,
        ExtraTarget,
        &["//tools/gen:gen", "holds no Cargo package"],
    );
}

#[test]
fn target_names_differ() {
    let report = Fixture::new()
        .edit(
            "istioctl/BUILD.bazel",
            "name = \"cli\",",
            "name = \"cli_test\",",
        )
        .report();
    assert_only(&report, &[Name]);
    assert_finding(
        &report,
        Name,
        &["//istioctl:cli_test", "expected name = \"cli\""],
    );
}

#[test]
fn crate_root_differs() {
    let report = Fixture::new()
        .file("istioctl/cmd/istioctl/app.rs", "")
        .edit(
            "istioctl/BUILD.bazel",
            "crate_root = \"cmd/istioctl/main.rs\"",
            "crate_root = \"cmd/istioctl/app.rs\"",
        )
        .report();
    assert_only(&report, &[CrateRoot]);
    assert_finding(
        &report,
        CrateRoot,
        &[
            "//istioctl:istioctl",
            "cmd/istioctl/app.rs",
            "cmd/istioctl/main.rs",
        ],
    );
}

#[test]
fn rule_kind_differs() {
    let report = Fixture::new()
        .edit(
            "istioctl/BUILD.bazel",
            "rust_binary(\n    name = \"render\"",
            "rust_test(\n    name = \"render\"",
        )
        .report();
    assert_only(&report, &[RuleKind]);
    assert_finding(
        &report,
        RuleKind,
        &["//istioctl:render", "rust_test", "needs rust_binary"],
    );
}

#[test]
fn own_crate_dependency_missing() {
    let report = Fixture::new()
        .edit(
            "istioctl/BUILD.bazel",
            "deps = [\":istioctl_lib\", \"//api:istio_api\"] + all_crate_deps(normal = True),",
            "deps = [\":istioctl_lib\"] + all_crate_deps(normal = True),",
        )
        .report();
    assert_only(&report, &[InternalDeps]);
    assert_finding(
        &report,
        InternalDeps,
        &["//istioctl:istioctl", "lacks //api:istio_api (istio-api)"],
    );
}

#[test]
fn own_crate_dependency_extra() {
    let report = Fixture::new()
        .edit(
            "api/BUILD.bazel",
            "deps = [\":build_script\"]",
            "deps = [\":build_script\", \"//istioctl:istioctl_lib\"]",
        )
        .report();
    assert_only(&report, &[InternalDeps]);
    assert_finding(
        &report,
        InternalDeps,
        &[
            "//api:istio_api",
            "//istioctl:istioctl_lib",
            "not a Cargo dependency",
        ],
    );
}

#[test]
fn library_must_depend_on_its_build_script() {
    let report = Fixture::new()
        .edit(
            "api/BUILD.bazel",
            "deps = [\":build_script\"] + ",
            "deps = ",
        )
        .report();
    assert_only(&report, &[InternalDeps]);
    assert_finding(
        &report,
        InternalDeps,
        &["//api:istio_api", "lacks //api:build_script"],
    );
}

#[test]
fn explicit_external_deps_are_compared_with_cargo() {
    let exact = Fixture::new()
        .edit(
            "api/BUILD.bazel",
            "[\":build_script\"] + all_crate_deps(normal = True)",
            "[\":build_script\", \"@crates//:prost\"]",
        )
        .report();
    assert!(exact.is_clean(), "findings:\n{}", show(&exact));

    let drifted = Fixture::new()
        .edit(
            "api/BUILD.bazel",
            "[\":build_script\"] + all_crate_deps(normal = True)",
            "[\":build_script\", \"@crates//:regex\"]",
        )
        .report();
    assert_only(&drifted, &[ExternalDeps]);
    assert_finding(
        &drifted,
        ExternalDeps,
        &["//api:istio_api", "lacks", "@crates//:prost"],
    );
    assert_finding(
        &drifted,
        ExternalDeps,
        &["//api:istio_api", "@crates//:regex", "does not give"],
    );
}

#[test]
fn all_crate_deps_of_the_wrong_kind() {
    let report = Fixture::new()
        .edit(
            "api/BUILD.bazel",
            "all_crate_deps(normal = True)",
            "all_crate_deps(normal = True, normal_dev = True)",
        )
        .report();
    assert_only(&report, &[DepKinds]);
    assert_finding(
        &report,
        DepKinds,
        &["//api:istio_api", "normal_dev", "library"],
    );

    // An integration test without the dev-dependencies misses Cargo's dev-deps.
    let report = Fixture::new()
        .edit(
            "istioctl/BUILD.bazel",
            "deps = [\":istioctl_lib\", \"//api:istio_api\"] + all_crate_deps(normal = True, normal_dev = True),\n    proc_macro_deps = all_crate_deps(proc_macro = True, proc_macro_dev = True),\n)\n\nrust_binary(",
            "deps = [\":istioctl_lib\", \"//api:istio_api\"] + all_crate_deps(normal = True),\n    proc_macro_deps = all_crate_deps(proc_macro = True, proc_macro_dev = True),\n)\n\nrust_binary(",
        )
        .report();
    assert_only(&report, &[ExternalDeps]);
    assert_finding(
        &report,
        ExternalDeps,
        &[
            "//istioctl:cli",
            "@crates//:criterion",
            "@crates//:tempfile",
        ],
    );
}

#[test]
fn proc_macro_crate_in_deps() {
    let explicit = Fixture::new()
        .edit(
            "api/BUILD.bazel",
            "deps = [\":build_script\"]",
            "deps = [\":build_script\", \"@crates//:serde_derive\"]",
        )
        .report();
    assert_only(&explicit, &[ProcMacro]);
    assert_finding(
        &explicit,
        ProcMacro,
        &["//api:istio_api", "serde_derive", "proc_macro_deps"],
    );

    let via_kind = Fixture::new()
        .edit(
            "api/BUILD.bazel",
            "all_crate_deps(normal = True)",
            "all_crate_deps(normal = True, proc_macro = True)",
        )
        .report();
    assert_only(&via_kind, &[ProcMacro]);
}

#[test]
fn label_listed_twice() {
    let report = Fixture::new()
        .edit(
            "api/BUILD.bazel",
            "deps = [\":build_script\"]",
            "deps = [\":build_script\", \"@crates//:prost\"]",
        )
        .report();
    assert_only(&report, &[Duplicate]);
}

#[test]
fn edition_missing_or_different() {
    let missing = Fixture::new()
        .edit(
            "istioctl/BUILD.bazel",
            "    edition = \"2021\",\n    version = \"1.4.10\",\n    deps = all_crate_deps(normal_dev = True),",
            "    version = \"1.4.10\",\n    deps = all_crate_deps(normal_dev = True),",
        )
        .report();
    assert_only(&missing, &[Edition]);
    assert_finding(
        &missing,
        Edition,
        &["//istioctl:istioctl_test", "no `edition`"],
    );

    let different = Fixture::new()
        .edit("api/BUILD.bazel", "crate_root = \"lib.rs\",\n    srcs = glob([\"**/*.rs\"], exclude = [\"build.rs\"]),\n    edition = \"2021\"", "crate_root = \"lib.rs\",\n    srcs = glob([\"**/*.rs\"], exclude = [\"build.rs\"]),\n    edition = \"2018\"")
        .report();
    assert_only(&different, &[Edition]);
    assert_finding(
        &different,
        Edition,
        &["//api:istio_api", "\"2018\"", "\"2021\""],
    );
}

#[test]
fn version_missing_or_different() {
    let report = Fixture::new()
        .edit(
            "istioctl/BUILD.bazel",
            "    version = \"1.4.10\",\n    deps = [\"//api",
            "    version = \"1.4.9\",\n    deps = [\"//api",
        )
        .report();
    assert_only(&report, &[Version]);
    assert_finding(
        &report,
        Version,
        &["//istioctl:istioctl_lib", "1.4.9", "1.4.10"],
    );
}

#[test]
fn crate_name_differs() {
    let report = Fixture::new()
        .edit(
            "istioctl/BUILD.bazel",
            "crate_name = \"istioctl\",",
            "crate_name = \"istioctl_lib\",",
        )
        .report();
    assert_only(&report, &[CrateName]);
}

#[test]
fn load_outside_the_allowed_list() {
    let file = Fixture::new()
        .edit(
            "api/BUILD.bazel",
            "@rules_rust//cargo:defs.bzl",
            "@rules_rust//cargo:cargo_build_script.bzl",
        )
        .report();
    assert_only(&file, &[Load]);
    assert_finding(
        &file,
        Load,
        &["api/BUILD.bazel:3", "cargo_build_script.bzl"],
    );

    let symbol = Fixture::new()
        .edit(
            "api/BUILD.bazel",
            "\"rust_library\", \"rust_test\")",
            "\"rust_library\", \"rust_shared_library\", \"rust_test\")",
        )
        .report();
    assert_only(&symbol, &[Load]);
    assert_finding(&symbol, Load, &["rust_shared_library"]);
}

#[test]
fn attribute_outside_the_allowed_list() {
    let report = Fixture::new()
        .edit(
            "api/BUILD.bazel",
            "    version = \"1.4.10\",\n    build_script_env",
            "    version = \"1.4.10\",\n    pkg_name = \"istio-api\",\n    build_script_env",
        )
        .edit(
            "istioctl/BUILD.bazel",
            "tags = [\"bench\", \"manual\"],",
            "tags = [\"bench\", \"manual\"],\n    rundir = \".\",",
        )
        .report();
    assert_only(&report, &[Attribute]);
    assert_finding(
        &report,
        Attribute,
        &["//api:build_script", "pkg_name", "rules_rust 0.7"],
    );
    assert_finding(&report, Attribute, &["//istioctl:render", "rundir"]);
}

#[test]
fn labels_with_at_at_or_other_modules() {
    let report = Fixture::new()
        .edit(
            "api/BUILD.bazel",
            "deps = [\":build_script\"]",
            "deps = [\":build_script\", \"@@crates//:prost\", \"@rules_go//go:x\"]",
        )
        .edit(
            "istioctl/BUILD.bazel",
            "tags = [\"bench\", \"manual\"],",
            "tags = [\"bench\", \"manual\"],\n    env = {\"X\": \"$(rlocationpath :render)\"},",
        )
        .report();
    assert_only(&report, &[Label]);
    assert_finding(&report, Label, &["@@crates//:prost", "`@@`"]);
    assert_finding(&report, Label, &["@rules_go//go:x", "@<module>//"]);
    assert_finding(&report, Label, &["rlocationpath"]);
}

#[test]
fn crate_universe_manifests_differ_from_members() {
    let report = Fixture::new()
        .edit("MODULE.bazel", "        \"//istioctl:Cargo.toml\",\n", "")
        .edit(
            "WORKSPACE",
            "\"//istioctl:Cargo.toml\"]",
            "\"//istioctl:Cargo.toml\", \"//api:Cargo.toml.old\"]",
        )
        .report();
    assert_only(&report, &[Manifests]);
    assert_finding(
        &report,
        Manifests,
        &["MODULE.bazel", "lack //istioctl:Cargo.toml"],
    );
    assert_finding(
        &report,
        Manifests,
        &["WORKSPACE", "//api:Cargo.toml.old", "not workspace members"],
    );

    let mut new_member = Fixture::new().file("pilot/pkg/lib.rs", "");
    new_member.cargo.packages.push(package(
        "istio-pilot",
        "pilot",
        vec![target(TargetKind::Lib, "istio_pilot", "pilot/pkg/lib.rs")],
        vec![],
    ));
    let report = new_member.report();
    assert_finding(&report, Manifests, &["MODULE.bazel", "//pilot:Cargo.toml"]);
    assert_finding(&report, Manifests, &["WORKSPACE", "//pilot:Cargo.toml"]);
    assert_finding(
        &report,
        MissingBuildFile,
        &["pilot/Cargo.toml", "istio-pilot"],
    );
    assert_only(&report, &[Manifests, MissingBuildFile]);
}

#[test]
fn repository_setup_incomplete() {
    let report = Fixture::new()
        .edit("MODULE.bazel", "use_repo(crate, \"crates\")", "")
        .edit(
            "WORKSPACE",
            "cargo_lockfile = \"//:Cargo.lock\"",
            "cargo_lockfile = \"//:Cargo.bazel.lock\"",
        )
        .report();
    assert_only(&report, &[RepoSetup]);
    assert_finding(&report, RepoSetup, &["MODULE.bazel", "use_repo"]);
    assert_finding(&report, RepoSetup, &["WORKSPACE", "cargo_lockfile"]);
}

#[test]
fn toolchain_older_than_rust_version() {
    let report = Fixture::new()
        .edit(
            "MODULE.bazel",
            "versions = [\"1.95.0\"]",
            "versions = [\"1.85.0\"]",
        )
        .report();
    assert_only(&report, &[Toolchain]);
    assert_finding(&report, Toolchain, &["MODULE.bazel", "1.85.0", "1.88"]);
}

#[test]
fn build_script_without_package_name() {
    let report = Fixture::new()
        .edit(
            "api/BUILD.bazel",
            "    build_script_env = {\"CARGO_PKG_NAME\": \"istio-api\"},\n",
            "",
        )
        .report();
    assert_only(&report, &[BuildScriptEnv]);
    assert_finding(
        &report,
        BuildScriptEnv,
        &["//api:build_script", "CARGO_PKG_NAME"],
    );
}

#[test]
fn bench_without_manual_tag() {
    let report = Fixture::new()
        .edit(
            "istioctl/BUILD.bazel",
            "tags = [\"bench\", \"manual\"],",
            "tags = [\"bench\"],",
        )
        .report();
    assert_only(&report, &[Tags]);
    assert_finding(&report, Tags, &["//istioctl:render", "manual"]);
}

#[test]
fn empty_glob_and_crate_root_outside_srcs() {
    let report = Fixture::new()
        .edit(
            "istioctl/BUILD.bazel",
            "srcs = glob([\"cmd/istioctl/**/*.rs\"]),",
            "srcs = glob([\"cmd/istio/**/*.rs\"]),",
        )
        .report();
    assert_only(&report, &[Srcs]);
    assert_finding(&report, Srcs, &["//istioctl:istioctl", "matches no file"]);
    assert_finding(&report, Srcs, &["//istioctl:istioctl", "not among `srcs`"]);
}

#[test]
fn package_without_build_file() {
    let mut fx = Fixture::new();
    fx.tree = SourceTree::new();
    for (path, content) in [
        ("Cargo.toml", ""),
        ("Cargo.lock", ""),
        ("BUILD.bazel", ROOT_BUILD),
        ("MODULE.bazel", MODULE),
        ("WORKSPACE", WORKSPACE),
        ("api/BUILD.bazel", API_BUILD),
        ("api/lib.rs", ""),
        ("api/build.rs", ""),
        ("api/mesh/v1alpha1/config.proto", ""),
        ("istioctl/pkg/lib.rs", ""),
    ] {
        fx.tree.insert(path, content);
    }
    let report = fx.report();
    assert_finding(
        &report,
        MissingBuildFile,
        &["istioctl/Cargo.toml", "no BUILD.bazel"],
    );
    // The crates_universe manifests and the root alias point into the missing package too.
    assert_only(&report, &[MissingBuildFile, Manifests, Alias]);
}

#[test]
fn bazel_file_that_is_not_declarative_starlark() {
    let report = Fixture::new()
        .edit(
            "api/BUILD.bazel",
            "rust_library(\n",
            "def f():\n    pass\n\nrust_library(\n",
        )
        .report();
    assert_finding(&report, Syntax, &["api/BUILD.bazel", "`def`"]);
}

#[test]
fn library_not_visible_to_its_users() {
    let report = Fixture::new()
        .edit(
            "api/BUILD.bazel",
            "    visibility = [\"//visibility:public\"],\n",
            "",
        )
        .report();
    assert_only(&report, &[Visibility]);
    assert_finding(&report, Visibility, &["//api:istio_api", "istioctl"]);

    let by_package_default = Fixture::new()
        .edit(
            "api/BUILD.bazel",
            "    visibility = [\"//visibility:public\"],\n",
            "",
        )
        .edit(
            "api/BUILD.bazel",
            "rust_library(\n",
            "package(default_visibility = [\"//istioctl:__pkg__\"])\n\nrust_library(\n",
        )
        .report();
    assert!(
        by_package_default.is_clean(),
        "findings:\n{}",
        show(&by_package_default)
    );
}

#[test]
fn alias_to_nothing() {
    let report = Fixture::new()
        .edit(
            "BUILD.bazel",
            "//istioctl:istioctl",
            "//istioctl:istioctl-bin",
        )
        .report();
    assert_only(&report, &[Alias]);
}

#[test]
fn unknown_rules_and_builtins() {
    let report = Fixture::new()
        .file(
            "istioctl/BUILD.bazel",
            &format!("{ISTIOCTL_BUILD}\ngenrule(name = \"gen\", outs = [\"x\"], cmd = \"true\")\n"),
        )
        .report();
    assert_only(&report, &[Function]);
    assert_finding(&report, Function, &["genrule"]);
}

#[test]
fn rust_test_suite_is_not_mapped() {
    let report = Fixture::new()
        .file(
            "istioctl/BUILD.bazel",
            &format!(
                "{}\nrust_test_suite(name = \"all\", srcs = glob([\"tests/*.rs\"]), edition = \"2021\")\n",
                ISTIOCTL_BUILD.replace("\"rust_test\")", "\"rust_test\", \"rust_test_suite\")")
            ),
        )
        .report();
    assert_only(&report, &[RuleKind]);
    assert_finding(&report, RuleKind, &["//istioctl:all", "one rust_test per"]);
}

#[test]
fn unit_test_may_name_its_crate_by_full_label() {
    let report = Fixture::new()
        .edit(
            "istioctl/BUILD.bazel",
            "crate = \":istioctl_lib\",",
            "crate = \"//istioctl:istioctl_lib\",",
        )
        .report();
    assert!(report.is_clean(), "findings:\n{}", show(&report));
}
