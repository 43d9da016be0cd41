//! The Bazel style of `/work/shared/DESIGN.md` ("one style that builds on old and new
//! rules_rust") as data, plus the naming rules that tie Bazel targets to Cargo targets.

/// The only `.bzl` files BUILD files may load, with the symbols each may provide.
pub const ALLOWED_LOADS: &[(&str, &[&str])] = &[
    (
        "@rules_rust//rust:defs.bzl",
        &[
            "rust_library",
            "rust_binary",
            "rust_test",
            "rust_proc_macro",
            "rust_test_suite",
            "rust_doc",
        ],
    ),
    ("@rules_rust//cargo:defs.bzl", &["cargo_build_script"]),
    (
        "@crates//:defs.bzl",
        &["all_crate_deps", "aliases", "crate_deps"],
    ),
];

/// Attributes that both rules_rust 0.7 (Bazel 4.2) and current rules_rust accept.
pub const ALLOWED_ATTRIBUTES: &[&str] = &[
    "name",
    "srcs",
    "crate_root",
    "crate_name",
    "edition",
    "deps",
    "proc_macro_deps",
    "aliases",
    "crate_features",
    "rustc_env",
    "rustc_flags",
    "compile_data",
    "data",
    "env",
    "crate",
    "version",
    "build_script_env",
    "tools",
    "links",
    "visibility",
    "tags",
];

/// Why an attribute is refused, when there is more to say than "not in the list".
pub fn attribute_advice(attr: &str) -> Option<&'static str> {
    match attr {
        "pkg_name" => Some(
            "cargo_build_script's `pkg_name` exists only since rules_rust 0.47 (rules_rust 0.7 \
             passes it on to rust_binary, which fails); set \
             `build_script_env = {\"CARGO_PKG_NAME\": \"<package>\"}` instead",
        ),
        "alwayslink" | "binary_name" | "env_inherit" | "lint_config" | "rundir"
        | "use_cc_toolchain" => Some("newer than rules_rust 0.7"),
        _ => None,
    }
}

/// Rules from rules_rust that compile a crate.
pub const COMPILE_RULES: &[&str] = &[
    "rust_library",
    "rust_proc_macro",
    "rust_binary",
    "rust_test",
    "cargo_build_script",
];

/// Builtins BUILD files may call besides `glob`.
pub const ALLOWED_NATIVES: &[&str] =
    &["package", "exports_files", "alias", "filegroup", "licenses"];

/// The one external repository BUILD files may name.
pub const CRATES_REPO: &str = "@crates//";

/// Name of the crate_universe repository in MODULE.bazel and WORKSPACE.
pub const CRATES_REPO_NAME: &str = "crates";

/// The Bazel name of a package's cargo_build_script.
pub const BUILD_SCRIPT_TARGET: &str = "build_script";

/// Tags a bench must carry (benches become `rust_binary` targets that `bazel test` skips).
pub const BENCH_TAGS: &[&str] = &["bench", "manual"];

/// Tags an example must carry.
pub const EXAMPLE_TAGS: &[&str] = &["example", "manual"];

/// The crate name Cargo gives a target (`pilot-discovery` compiles as `pilot_discovery`).
pub fn crate_name(target_name: &str) -> String {
    target_name.replace('-', "_")
}

/// Bazel name of the unit-test target of a library.
pub fn unit_test_name(lib_name: &str) -> String {
    format!("{lib_name}_test")
}

/// Bazel name of the (optional) unit-test target of a binary.
pub fn bin_unit_test_name(bin_name: &str) -> String {
    format!("{bin_name}_bin_test")
}

/// Bazel name of a library target: the lib name, or `<lib>_lib` when another target of the
/// package (typically the binary of the same name, as in istioctl) takes the lib name.
pub fn library_target_name(lib_name: &str, other_target_names: &[&str]) -> String {
    if other_target_names.contains(&lib_name) {
        format!("{lib_name}_lib")
    } else {
        lib_name.to_owned()
    }
}
