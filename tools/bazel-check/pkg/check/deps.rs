//! `deps` and `proc_macro_deps` against Cargo's direct dependencies of the right kinds.
//!
//! Third-party crates may be given as `all_crate_deps(<kinds> = True)` (which rules_rust fills
//! from Cargo.lock, so it mirrors Cargo by construction once the kinds are right) or as explicit
//! `@crates//:<name>` labels (compared name by name). Our own crates are `//dir:target` labels and
//! are always compared one by one.

use std::collections::{BTreeMap, BTreeSet};

use super::{BuildFile, FindingKind, Findings};
use crate::cargo::{DepKind, Package, TargetKind, Workspace};
use crate::label::Label;
use crate::starlark::{Call, DepFlag, Value};

/// What a Bazel target is, as far as its dependencies go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Library,
    Binary,
    IntegrationTest,
    /// `rust_test(crate = ":lib")`: inherits the library's deps, adds the dev-dependencies.
    UnitTest,
    BenchOrExample,
    BinUnitTest,
    BuildScript,
}

impl Role {
    /// Dependency kinds Cargo gives this role, all of which the Bazel target must have.
    fn required(self) -> &'static [DepFlag] {
        use DepFlag::*;
        match self {
            Role::Library | Role::Binary => &[Normal, ProcMacro],
            Role::IntegrationTest | Role::BenchOrExample | Role::BinUnitTest => {
                &[Normal, NormalDev, ProcMacro, ProcMacroDev]
            }
            Role::UnitTest => &[NormalDev, ProcMacroDev],
            Role::BuildScript => &[Build, BuildProcMacro],
        }
    }

    /// Dependency kinds the Bazel target may name (required ones plus inherited ones).
    fn allowed(self) -> &'static [DepFlag] {
        use DepFlag::*;
        match self {
            Role::UnitTest => &[Normal, NormalDev, ProcMacro, ProcMacroDev],
            other => other.required(),
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Role::Library => "library",
            Role::Binary => "binary",
            Role::IntegrationTest => "integration test",
            Role::UnitTest => "unit test",
            Role::BenchOrExample => "bench or example",
            Role::BinUnitTest => "binary's unit test",
            Role::BuildScript => "build script",
        }
    }
}

fn dep_kind(flag: DepFlag) -> DepKind {
    match flag {
        DepFlag::Normal | DepFlag::ProcMacro => DepKind::Normal,
        DepFlag::NormalDev | DepFlag::ProcMacroDev => DepKind::Dev,
        DepFlag::Build | DepFlag::BuildProcMacro => DepKind::Build,
    }
}

/// The workspace's libraries as Bazel labels.
pub(crate) struct Graph<'a> {
    cargo: &'a Workspace,
    /// Package name -> (label of its library twin, whether it is a proc-macro).
    libs: BTreeMap<&'a str, (Label, bool)>,
}

impl<'a> Graph<'a> {
    pub fn new(cargo: &'a Workspace) -> Graph<'a> {
        let libs = cargo
            .packages
            .iter()
            .filter_map(|p| {
                let lib = p.lib()?;
                let name = super::targets::library_name(p)?;
                Some((
                    p.name.as_str(),
                    (
                        Label::local(&p.dir, &name),
                        lib.kind == TargetKind::ProcMacro,
                    ),
                ))
            })
            .collect();
        Graph { cargo, libs }
    }

    pub fn lib_of(&self, package: &str) -> Option<&(Label, bool)> {
        self.libs.get(package)
    }

    fn lib_at(&self, dir: &str) -> Option<(&str, &(Label, bool))> {
        let package = self.cargo.package_at(dir)?;
        Some((package.name.as_str(), self.libs.get(package.name.as_str())?))
    }

    fn is_proc_macro_label(&self, label: &Label) -> Option<bool> {
        self.libs
            .values()
            .find(|(l, _)| l == label)
            .map(|(_, p)| *p)
    }

    /// Third-party crates `all_crate_deps(<flag> = True)` yields for `package`.
    fn external(&self, package: &Package, flag: DepFlag, optional: bool) -> BTreeSet<String> {
        package
            .dependencies
            .iter()
            .filter(|d| d.kind == dep_kind(flag) && d.path.is_none())
            .filter(|d| optional || !d.optional)
            .filter(|d| self.cargo.proc_macros.contains(&d.name) == flag.is_proc_macro())
            .map(|d| d.name.clone())
            .collect()
    }

    /// Our own libraries the dependencies of `flag` name, with the Cargo package name.
    fn internal(
        &self,
        package: &Package,
        flag: DepFlag,
        optional: bool,
    ) -> BTreeMap<Label, String> {
        package
            .dependencies
            .iter()
            .filter(|d| d.kind == dep_kind(flag) && (optional || !d.optional))
            .filter_map(|d| self.lib_at(d.path.as_deref()?))
            .filter(|(_, (_, proc))| *proc == flag.is_proc_macro())
            .map(|(name, (label, _))| (label.clone(), name.to_owned()))
            .collect()
    }
}

/// What the Bazel target must depend on besides Cargo's dependency lists.
pub(crate) struct Expect<'a> {
    pub package: &'a Package,
    pub role: Role,
    /// The package's own library (bins, tests, benches and examples use it, as in Cargo).
    pub own_lib: Option<(Label, bool)>,
    /// The build script twin a library depends on.
    pub build_script: Option<Label>,
}

pub(crate) fn check(
    graph: &Graph<'_>,
    build: &BuildFile,
    call: &Call,
    expect: &Expect<'_>,
    out: &mut Findings,
) {
    for proc_side in [false, true] {
        AttrCheck {
            graph,
            build,
            call,
            expect,
            proc_side,
            attr: if proc_side { "proc_macro_deps" } else { "deps" },
        }
        .run(out);
    }
}

struct AttrCheck<'a> {
    graph: &'a Graph<'a>,
    build: &'a BuildFile,
    call: &'a Call,
    expect: &'a Expect<'a>,
    proc_side: bool,
    attr: &'static str,
}

fn kwargs(flags: &[DepFlag]) -> String {
    let args: Vec<String> = flags
        .iter()
        .map(|f| format!("{} = True", f.keyword()))
        .collect();
    format!("all_crate_deps({})", args.join(", "))
}

fn list(items: impl IntoIterator<Item = impl std::fmt::Display>) -> String {
    items
        .into_iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

impl AttrCheck<'_> {
    fn side(&self, flags: &[DepFlag]) -> Vec<DepFlag> {
        flags
            .iter()
            .copied()
            .filter(|f| f.is_proc_macro() == self.proc_side)
            .collect()
    }

    fn run(&self, out: &mut Findings) {
        let (build, call, attr) = (self.build, self.call, self.attr);
        let role = self.expect.role;
        let package = self.expect.package;
        let items: &[Value] = match call.arg(attr) {
            None => &[],
            Some(v) => match v.as_list() {
                Some(items) => items,
                None => {
                    out.at(
                        FindingKind::Label,
                        build,
                        call,
                        format!("`{attr}` must be a list"),
                    );
                    return;
                }
            },
        };

        let mut queried = BTreeSet::new();
        let mut explicit: BTreeSet<&str> = BTreeSet::new();
        let mut internal: BTreeSet<Label> = BTreeSet::new();
        let mut seen = BTreeSet::new();
        for item in items {
            match item {
                Value::CrateDeps(q) => {
                    if let Some(p) = q.package_name.as_ref().filter(|p| **p != build.dir) {
                        out.at(
                            FindingKind::DepKinds,
                            build,
                            call,
                            format!("`{attr}`: all_crate_deps(package_name = {p:?}) reads another package's dependencies"),
                        );
                    }
                    queried.extend(q.flags.iter().copied());
                }
                Value::Str(s) => {
                    let label = Label::parse(s, &build.dir);
                    if !seen.insert(label.clone()) {
                        out.at(
                            FindingKind::Duplicate,
                            build,
                            call,
                            format!("`{attr}` lists {label} twice"),
                        );
                    }
                    match label {
                        Label::Crate(_) => {
                            if let Some(name) = s.strip_prefix("@crates//:") {
                                explicit.insert(name);
                            }
                        }
                        Label::Local { .. } => {
                            internal.insert(label);
                        }
                        // `@...` strings are reported by the label style check.
                        Label::Other(_) if s.starts_with('@') => {}
                        Label::Other(_) => out.at(
                            FindingKind::Label,
                            build,
                            call,
                            format!("`{attr}`: {s:?} is not a label"),
                        ),
                    }
                }
                other => out.at(
                    FindingKind::Label,
                    build,
                    call,
                    format!("`{attr}`: unexpected item {other}"),
                ),
            }
        }

        // all_crate_deps kinds.
        let mut covered: BTreeSet<String> = BTreeSet::new();
        for flag in &queried {
            if flag.is_proc_macro() != self.proc_side {
                let message = if self.proc_side {
                    format!("`proc_macro_deps` uses all_crate_deps({} = True), which yields non-proc-macro crates; they belong in `deps`", flag.keyword())
                } else {
                    format!("`deps` uses all_crate_deps({} = True): proc-macro crates belong in `proc_macro_deps`", flag.keyword())
                };
                out.at(FindingKind::ProcMacro, build, call, message);
            } else if !role.allowed().contains(flag) {
                out.at(
                    FindingKind::DepKinds,
                    build,
                    call,
                    format!(
                        "`{attr}` uses all_crate_deps({} = True), but Cargo gives a {} no such \
                         dependencies; expected {}",
                        flag.keyword(),
                        role.describe(),
                        kwargs(&self.side(role.required()))
                    ),
                );
            } else {
                covered.extend(self.graph.external(package, *flag, true));
            }
        }

        // Third-party crates.
        let proc_macros = &self.graph.cargo.proc_macros;
        let mut named: BTreeSet<&str> = BTreeSet::new();
        for name in &explicit {
            let is_proc = proc_macros.contains(*name);
            if is_proc != self.proc_side {
                let message = if is_proc {
                    format!("@crates//:{name} is a proc-macro crate: it belongs in `proc_macro_deps`, not `deps`")
                } else {
                    format!("@crates//:{name} is not a proc-macro crate: it belongs in `deps`, not `proc_macro_deps`")
                };
                out.at(FindingKind::ProcMacro, build, call, message);
            } else if covered.contains(*name) {
                out.at(
                    FindingKind::Duplicate,
                    build,
                    call,
                    format!(
                        "`{attr}` lists @crates//:{name}, which all_crate_deps() already provides"
                    ),
                );
            } else {
                named.insert(name);
            }
        }
        let required = self.side(role.required());
        let allowed = self.side(role.allowed());
        let expected: BTreeSet<String> = required
            .iter()
            .flat_map(|f| self.graph.external(package, *f, false))
            .collect();
        let permitted: BTreeSet<String> = allowed
            .iter()
            .flat_map(|f| self.graph.external(package, *f, true))
            .collect();
        let missing: Vec<&String> = expected
            .iter()
            .filter(|n| !covered.contains(*n) && !named.contains(n.as_str()))
            .collect();
        if !missing.is_empty() {
            out.at(
                FindingKind::ExternalDeps,
                build,
                call,
                format!(
                    "`{attr}` lacks Cargo's dependencies {}; use {} (or list them)",
                    list(missing.iter().map(|n| format!("@crates//:{n}"))),
                    kwargs(&required)
                ),
            );
        }
        let extra: Vec<&str> = named
            .iter()
            .copied()
            .filter(|n| !permitted.contains(*n))
            .collect();
        if !extra.is_empty() {
            out.at(
                FindingKind::ExternalDeps,
                build,
                call,
                format!(
                    "`{attr}` has {}, which Cargo does not give this {} of package {}",
                    list(extra.iter().map(|n| format!("@crates//:{n}"))),
                    role.describe(),
                    package.name
                ),
            );
        }

        self.check_internal(&internal, out);
    }

    fn check_internal(&self, actual: &BTreeSet<Label>, out: &mut Findings) {
        let (build, call, attr) = (self.build, self.call, self.attr);
        let role = self.expect.role;
        let package = self.expect.package;
        let mut expected: BTreeMap<Label, String> = BTreeMap::new();
        for flag in self.side(role.required()) {
            expected.extend(self.graph.internal(package, flag, false));
        }
        let mut permitted: BTreeMap<Label, String> = expected.clone();
        for flag in self.side(role.allowed()) {
            permitted.extend(self.graph.internal(package, flag, true));
        }
        if let Some((label, proc)) = &self.expect.own_lib {
            if *proc == self.proc_side {
                expected.insert(label.clone(), format!("{}'s own library", package.name));
            }
        }
        if let (Some(label), false) = (&self.expect.build_script, self.proc_side) {
            expected.insert(label.clone(), format!("{}'s build script", package.name));
        }
        permitted.extend(expected.clone());

        let missing: Vec<String> = expected
            .iter()
            .filter(|(l, _)| !actual.contains(l))
            .map(|(l, why)| format!("{l} ({why})"))
            .collect();
        if !missing.is_empty() {
            out.at(
                FindingKind::InternalDeps,
                build,
                call,
                format!("`{attr}` lacks {}", missing.join(", ")),
            );
        }
        for label in actual.iter().filter(|l| !permitted.contains_key(*l)) {
            match self.graph.is_proc_macro_label(label) {
                Some(proc) if proc != self.proc_side => out.at(
                    FindingKind::ProcMacro,
                    build,
                    call,
                    if proc {
                        format!("{label} is a proc-macro library: it belongs in `proc_macro_deps`")
                    } else {
                        format!("{label} is not a proc-macro library: it belongs in `deps`")
                    },
                ),
                _ => out.at(
                    FindingKind::InternalDeps,
                    build,
                    call,
                    format!(
                        "`{attr}` has {label}, which is not a Cargo dependency of this {} of \
                         package {}",
                        role.describe(),
                        package.name
                    ),
                ),
            }
        }
    }
}
