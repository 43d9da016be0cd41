//! Rules of style that hold for every BUILD file, whatever Cargo says: allowed loads, rules,
//! attributes and labels; `edition` everywhere; globs that match; crate roots inside `srcs`.

use std::collections::BTreeSet;

use super::{BuildFile, FindingKind, Findings};
use crate::policy::{
    attribute_advice, ALLOWED_ATTRIBUTES, ALLOWED_LOADS, ALLOWED_NATIVES, COMPILE_RULES,
    CRATES_REPO,
};
use crate::starlark::{Call, Function, Value};
use crate::tree::{join, SourceTree};

/// The rules_rust rules the checker maps onto Cargo targets (or allows beside them).
const RUST_RULES: &[&str] = &[
    "rust_library",
    "rust_proc_macro",
    "rust_binary",
    "rust_test",
    "cargo_build_script",
    "rust_doc",
    "rust_test_suite",
];

/// The rules_rust rule a call invokes, if it is one (whatever file it was loaded from: a wrong
/// load is reported on its own).
pub(crate) fn rust_rule(call: &Call) -> Option<&str> {
    match &call.function {
        Function::Loaded { symbol, .. } if RUST_RULES.contains(&symbol.as_str()) => {
            Some(symbol.as_str())
        }
        _ => None,
    }
}

pub(crate) fn is_rust_rule(call: &Call) -> bool {
    rust_rule(call).is_some()
}

/// Whether the rule compiles a crate (and so needs `edition`, `srcs`, ...).
pub(crate) fn is_compile_rule(call: &Call) -> bool {
    rust_rule(call).is_some_and(|r| COMPILE_RULES.contains(&r) || r == "rust_test_suite")
}

pub(crate) fn check_file(build: &BuildFile, tree: &SourceTree, out: &mut Findings) {
    check_loads(build, out);
    check_names(build, out);
    for call in &build.module.calls {
        check_function(build, call, out);
        check_labels(build, call, out);
        check_globs(build, tree, call, out);
        if let Some(rule) = rust_rule(call) {
            check_attributes(build, call, out);
            if is_compile_rule(call) && call.arg("edition").is_none() {
                out.at(
                    FindingKind::Edition,
                    build,
                    call,
                    format!("{rule} has no `edition`: set it on every target"),
                );
            }
            if COMPILE_RULES.contains(&rule) {
                check_srcs(build, tree, call, out);
            }
        }
    }
}

fn check_loads(build: &BuildFile, out: &mut Findings) {
    let allowed_files: Vec<&str> = ALLOWED_LOADS.iter().map(|(m, _)| *m).collect();
    for load in &build.module.loads {
        let Some((_, symbols)) = ALLOWED_LOADS.iter().find(|(m, _)| *m == load.module) else {
            out.add(
                FindingKind::Load,
                &build.path,
                Some(load.line),
                None,
                format!(
                    "load from {:?} is not allowed; BUILD files load only from {}",
                    load.module,
                    allowed_files.join(", ")
                ),
            );
            continue;
        };
        for (_, symbol) in &load.symbols {
            if !symbols.contains(&symbol.as_str()) {
                out.add(
                    FindingKind::Load,
                    &build.path,
                    Some(load.line),
                    None,
                    format!(
                        "{symbol:?} may not be loaded from {:?} (allowed: {})",
                        load.module,
                        symbols.join(", ")
                    ),
                );
            }
        }
    }
}

fn check_names(build: &BuildFile, out: &mut Findings) {
    let mut seen = BTreeSet::new();
    for call in &build.module.calls {
        if let Some(name) = call.target_name() {
            if !seen.insert(name) {
                out.at(
                    FindingKind::Duplicate,
                    build,
                    call,
                    format!("target name {name:?} is declared twice in this package"),
                );
            }
        }
    }
}

fn check_function(build: &BuildFile, call: &Call, out: &mut Findings) {
    match &call.function {
        Function::Loaded { symbol, .. } if !RUST_RULES.contains(&symbol.as_str()) => out.at(
            FindingKind::Function,
            build,
            call,
            format!("{symbol} is not a rules_rust rule bazel-check can map to Cargo"),
        ),
        Function::Loaded { .. } => {}
        Function::Native(name) if ALLOWED_NATIVES.contains(&name.as_str()) => {}
        Function::Native(name) => out.at(
            FindingKind::Function,
            build,
            call,
            format!(
                "{name}() is not allowed in our BUILD files (rules come from a load(); builtins \
                 allowed: glob, {})",
                ALLOWED_NATIVES.join(", ")
            ),
        ),
        Function::Method { .. } => out.at(
            FindingKind::Function,
            build,
            call,
            format!("{}() is not allowed in BUILD files", call.function.name()),
        ),
    }
}

fn check_attributes(build: &BuildFile, call: &Call, out: &mut Findings) {
    if !call.positional.is_empty() {
        out.at(
            FindingKind::Attribute,
            build,
            call,
            "rules take keyword arguments only",
        );
    }
    if call.target_name().is_none() {
        out.at(
            FindingKind::Attribute,
            build,
            call,
            "rule without a string `name`",
        );
    }
    for (attr, _) in &call.named {
        if ALLOWED_ATTRIBUTES.contains(&attr.as_str()) {
            continue;
        }
        let why = attribute_advice(attr)
            .unwrap_or("not in the list that works on rules_rust 0.7 and current");
        out.at(
            FindingKind::Attribute,
            build,
            call,
            format!("attribute `{attr}` is not allowed: {why}"),
        );
    }
}

fn check_labels(build: &BuildFile, call: &Call, out: &mut Findings) {
    let values = call
        .positional
        .iter()
        .chain(call.named.iter().map(|(_, v)| v));
    for s in values.flat_map(Value::strings) {
        let problem = if s.contains("@@") {
            Some("`@@` labels are not allowed")
        } else if s.starts_with('@') && !s.starts_with(CRATES_REPO) {
            Some("only `@crates//:<name>` may name another repository (no `@<module>//` labels)")
        } else if s.contains("$(rlocationpath") {
            Some("`$(rlocationpath ...)` is not available in Bazel 4.2")
        } else {
            None
        };
        if let Some(problem) = problem {
            out.at(FindingKind::Label, build, call, format!("{s:?}: {problem}"));
        }
    }
}

fn check_globs(build: &BuildFile, tree: &SourceTree, call: &Call, out: &mut Findings) {
    for (attr, value) in &call.named {
        for item in value.as_list().unwrap_or_default() {
            if let Value::Glob(glob) = item {
                if tree
                    .glob(&build.dir, &glob.include, &glob.exclude)
                    .is_empty()
                {
                    out.add(
                        FindingKind::Srcs,
                        &build.path,
                        Some(glob.line),
                        build.call_label(call),
                        format!(
                            "`{attr}`: glob({:?}) matches no file (an error since Bazel 8, \
                             --incompatible_disallow_empty_glob)",
                            glob.include
                        ),
                    );
                }
            }
        }
    }
}

/// The package-relative files `srcs` names, or `None` if `srcs` is absent or malformed.
pub(crate) fn expand_srcs(
    build: &BuildFile,
    tree: &SourceTree,
    call: &Call,
) -> Option<BTreeSet<String>> {
    let items = call.arg("srcs")?.as_list()?;
    let mut files = BTreeSet::new();
    for item in items {
        match item {
            Value::Str(s) => {
                files.insert(s.clone());
            }
            Value::Glob(g) => files.extend(tree.glob(&build.dir, &g.include, &g.exclude)),
            _ => return None,
        }
    }
    Some(files)
}

fn check_srcs(build: &BuildFile, tree: &SourceTree, call: &Call, out: &mut Findings) {
    let is_unit_test = call.arg("crate").is_some();
    let Some(srcs) = expand_srcs(build, tree, call) else {
        if !is_unit_test {
            out.at(
                FindingKind::Srcs,
                build,
                call,
                "`srcs` is missing or is not a list of files and globs",
            );
        }
        return;
    };
    for src in &srcs {
        let is_label = src.starts_with(':') || src.starts_with("//");
        if !is_label && !tree.contains(&join(&build.dir, src)) {
            out.at(
                FindingKind::Srcs,
                build,
                call,
                format!("`srcs` lists {src:?}, which does not exist"),
            );
        }
    }
    if let Some(root) = call.str_arg("crate_root") {
        if !srcs.contains(root) {
            out.at(
                FindingKind::Srcs,
                build,
                call,
                format!("crate_root {root:?} is not among `srcs`"),
            );
        }
    }
}
