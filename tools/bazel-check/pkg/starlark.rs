//! A small evaluator for the declarative Starlark of `BUILD.bazel`, `MODULE.bazel` and `WORKSPACE`.
//!
//! Files are parsed for real by `starlark_syntax` (the parser of starlark-rust). The evaluator then
//! runs the module with stub functions: every call to a rule or macro is *recorded* with its
//! evaluated arguments instead of being executed, `glob()` and the `@crates//:defs.bzl` helpers
//! return symbolic values that the checker later compares with Cargo. Only the declarative subset
//! Bazel allows in BUILD files is supported (assignments, loads, calls, literals, `+`, conditional
//! expressions); `def`, `for`, comprehensions and the like are reported as unsupported.

use std::collections::BTreeMap;
use std::fmt;

use starlark_syntax::codemap::Span;
use starlark_syntax::lexer::TokenInt;
use starlark_syntax::syntax::ast::{
    ArgumentP, AssignTargetP, AstExpr, AstLiteral, AstNoPayload, AstStmt, BinOp, CallArgsP, ExprP,
    StmtP,
};
use starlark_syntax::syntax::{AstModule, Dialect};

/// Why a file could not be evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StarlarkError {
    /// The file is not valid Starlark.
    #[error("syntax error: {0}")]
    Parse(String),
    /// The file uses a construct outside the declarative subset, or misuses a value.
    #[error("line {line}: {message}")]
    Eval { line: usize, message: String },
}

/// The kinds of dependencies `all_crate_deps` and `aliases` of `@crates//:defs.bzl` select.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DepFlag {
    Normal,
    NormalDev,
    ProcMacro,
    ProcMacroDev,
    Build,
    BuildProcMacro,
}

impl DepFlag {
    pub const ALL: [DepFlag; 6] = [
        DepFlag::Normal,
        DepFlag::NormalDev,
        DepFlag::ProcMacro,
        DepFlag::ProcMacroDev,
        DepFlag::Build,
        DepFlag::BuildProcMacro,
    ];

    /// The keyword argument of `all_crate_deps` that selects this kind.
    pub fn keyword(self) -> &'static str {
        match self {
            DepFlag::Normal => "normal",
            DepFlag::NormalDev => "normal_dev",
            DepFlag::ProcMacro => "proc_macro",
            DepFlag::ProcMacroDev => "proc_macro_dev",
            DepFlag::Build => "build",
            DepFlag::BuildProcMacro => "build_proc_macro",
        }
    }

    fn from_keyword(keyword: &str) -> Option<DepFlag> {
        DepFlag::ALL.into_iter().find(|f| f.keyword() == keyword)
    }

    /// Whether this kind selects proc-macro crates (which belong in `proc_macro_deps`).
    pub fn is_proc_macro(self) -> bool {
        matches!(
            self,
            DepFlag::ProcMacro | DepFlag::ProcMacroDev | DepFlag::BuildProcMacro
        )
    }
}

/// A call of `all_crate_deps(...)` or `aliases(...)`: "Cargo's direct dependencies of these kinds".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepQuery {
    pub flags: Vec<DepFlag>,
    /// The `package_name` argument, when given.
    pub package_name: Option<String>,
}

/// A `glob(include, exclude = [...])` call, expanded later against the source tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    pub line: usize,
}

/// A callable value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Function {
    /// A global the file did not define: a Bazel builtin (`glob`, `alias`, `module`, ...).
    Native(String),
    /// A symbol brought in by `load(module, local = "symbol")`.
    Loaded { module: String, symbol: String },
    /// `receiver.method`, as in `crate.from_cargo(...)` of MODULE.bazel.
    Method { receiver: String, method: String },
}

impl Function {
    /// The name the callee is known by: the loaded symbol, the builtin, or `receiver.method`.
    pub fn name(&self) -> String {
        match self {
            Function::Native(name) => name.clone(),
            Function::Loaded { symbol, .. } => symbol.clone(),
            Function::Method { receiver, method } => format!("{receiver}.{method}"),
        }
    }
}

/// A Starlark value as far as the checker needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    Str(String),
    List(Vec<Value>),
    Tuple(Vec<Value>),
    Dict(Vec<(Value, Value)>),
    /// Stands inside a list for the files a `glob()` matches.
    Glob(Glob),
    /// Stands inside a list for the labels `all_crate_deps(...)` returns.
    CrateDeps(DepQuery),
    /// What `aliases(...)` returns (a dict in rules_rust).
    CrateAliases(DepQuery),
    Function(Function),
    /// The result of a recorded call (a rule returns None; `use_extension` returns a proxy).
    Opaque(String),
}

impl Value {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The items of a list or tuple, or `None` for other values.
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(items) | Value::Tuple(items) => Some(items),
            _ => None,
        }
    }

    /// Every string literal inside this value (dict keys included), depth first.
    pub fn strings(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.collect_strings(&mut out);
        out
    }

    fn collect_strings<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Value::Str(s) => out.push(s),
            Value::List(items) | Value::Tuple(items) => {
                items.iter().for_each(|v| v.collect_strings(out))
            }
            Value::Dict(entries) => entries.iter().for_each(|(k, v)| {
                k.collect_strings(out);
                v.collect_strings(out);
            }),
            Value::Glob(glob) => {
                out.extend(glob.include.iter().map(String::as_str));
                out.extend(glob.exclude.iter().map(String::as_str));
            }
            Value::CrateDeps(q) | Value::CrateAliases(q) => {
                out.extend(q.package_name.as_deref());
            }
            _ => {}
        }
    }

    fn type_name(&self) -> &'static str {
        match self {
            Value::None => "NoneType",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Str(_) => "string",
            Value::List(_) | Value::Glob(_) | Value::CrateDeps(_) => "list",
            Value::Tuple(_) => "tuple",
            Value::Dict(_) | Value::CrateAliases(_) => "dict",
            Value::Function(_) => "function",
            Value::Opaque(_) => "value",
        }
    }

    fn truthy(&self) -> bool {
        match self {
            Value::None => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Str(s) => !s.is_empty(),
            Value::List(v) | Value::Tuple(v) => !v.is_empty(),
            Value::Dict(v) => !v.is_empty(),
            _ => true,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::None => f.write_str("None"),
            Value::Bool(true) => f.write_str("True"),
            Value::Bool(false) => f.write_str("False"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Str(s) => write!(f, "{s:?}"),
            Value::List(items) => write_seq(f, "[", items, "]"),
            Value::Tuple(items) => write_seq(f, "(", items, ")"),
            Value::Dict(entries) => {
                f.write_str("{")?;
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}: {v}")?;
                }
                f.write_str("}")
            }
            Value::Glob(g) => write!(f, "glob({:?}, exclude = {:?})", g.include, g.exclude),
            Value::CrateDeps(q) => write_query(f, "all_crate_deps", q),
            Value::CrateAliases(q) => write_query(f, "aliases", q),
            Value::Function(func) => write!(f, "<function {}>", func.name()),
            Value::Opaque(what) => write!(f, "<{what}>"),
        }
    }
}

fn write_seq(f: &mut fmt::Formatter<'_>, open: &str, items: &[Value], close: &str) -> fmt::Result {
    f.write_str(open)?;
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{item}")?;
    }
    f.write_str(close)
}

fn write_query(f: &mut fmt::Formatter<'_>, name: &str, q: &DepQuery) -> fmt::Result {
    let args: Vec<String> = q
        .flags
        .iter()
        .map(|flag| format!("{} = True", flag.keyword()))
        .collect();
    write!(f, "{name}({})", args.join(", "))
}

/// A `load(...)` statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Load {
    pub module: String,
    /// `(local name, symbol in the loaded file)`.
    pub symbols: Vec<(String, String)>,
    pub line: usize,
}

/// One recorded call of a rule, macro or builtin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub function: Function,
    pub positional: Vec<Value>,
    pub named: Vec<(String, Value)>,
    pub line: usize,
}

impl Call {
    /// The keyword argument `name`, if given.
    pub fn arg(&self, name: &str) -> Option<&Value> {
        self.named.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    /// The keyword argument `name` as a string, if it is one.
    pub fn str_arg(&self, name: &str) -> Option<&str> {
        self.arg(name).and_then(Value::as_str)
    }

    /// The `name` of the target this call declares, if any.
    pub fn target_name(&self) -> Option<&str> {
        self.str_arg("name")
    }
}

/// The result of evaluating one file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Module {
    pub loads: Vec<Load>,
    /// Calls in evaluation order. Calls that only compute values (`glob`, `all_crate_deps`,
    /// `aliases`, `crate_deps`) are not recorded; their results appear inside the arguments.
    pub calls: Vec<Call>,
}

impl Module {
    /// Calls whose callee has this name (see [`Function::name`]).
    pub fn calls_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Call> + 'a {
        self.calls.iter().filter(move |c| c.function.name() == name)
    }
}

/// Parses and evaluates `content`; `filename` only appears in messages.
pub fn evaluate(filename: &str, content: &str) -> std::result::Result<Module, StarlarkError> {
    let ast = AstModule::parse(filename, content.to_owned(), &Dialect::Standard)
        .map_err(|e| StarlarkError::Parse(e.to_string()))?;
    let mut eval = Evaluator {
        ast: &ast,
        globals: BTreeMap::new(),
        module: Module::default(),
    };
    eval.stmt(ast.statement())?;
    Ok(eval.module)
}

struct Evaluator<'a> {
    ast: &'a AstModule,
    globals: BTreeMap<String, Value>,
    module: Module,
}

type Result<T> = std::result::Result<T, StarlarkError>;

impl Evaluator<'_> {
    fn line(&self, span: Span) -> usize {
        self.ast.file_span(span).resolve_span().begin.line + 1
    }

    fn error<T>(&self, span: Span, message: impl Into<String>) -> Result<T> {
        Err(StarlarkError::Eval {
            line: self.line(span),
            message: message.into(),
        })
    }

    fn stmt(&mut self, stmt: &AstStmt) -> Result<()> {
        match &stmt.node {
            StmtP::Statements(stmts) => stmts.iter().try_for_each(|s| self.stmt(s)),
            StmtP::Pass => Ok(()),
            StmtP::Expression(expr) => self.expr(expr).map(drop),
            StmtP::Assign(assign) => {
                let value = self.expr(&assign.rhs)?;
                match &assign.lhs.node {
                    AssignTargetP::Identifier(ident) => {
                        self.globals.insert(ident.node.ident.clone(), value);
                        Ok(())
                    }
                    _ => self.error(
                        assign.lhs.span,
                        "only assignments to a plain name are supported",
                    ),
                }
            }
            StmtP::Load(load) => {
                let symbols: Vec<(String, String)> = load
                    .args
                    .iter()
                    .map(|arg| (arg.local.node.ident.clone(), arg.their.node.clone()))
                    .collect();
                for (local, symbol) in &symbols {
                    self.globals.insert(
                        local.clone(),
                        Value::Function(Function::Loaded {
                            module: load.module.node.clone(),
                            symbol: symbol.clone(),
                        }),
                    );
                }
                self.module.loads.push(Load {
                    module: load.module.node.clone(),
                    symbols,
                    line: self.line(stmt.span),
                });
                Ok(())
            }
            StmtP::Def(_) => self.error(
                stmt.span,
                "`def` is not allowed here: keep BUILD files declarative",
            ),
            StmtP::For(_) | StmtP::If(..) | StmtP::IfElse(..) => self.error(
                stmt.span,
                "top-level `for`/`if` is not allowed in Bazel files",
            ),
            StmtP::AssignModify(..) => self.error(
                stmt.span,
                "augmented assignment (`+=`, ...) is not supported; use `x = x + [...]`",
            ),
            StmtP::Return(_) | StmtP::Break | StmtP::Continue => {
                self.error(stmt.span, "statement outside a function")
            }
        }
    }

    fn expr(&mut self, expr: &AstExpr) -> Result<Value> {
        match &expr.node {
            ExprP::Literal(lit) => match lit {
                AstLiteral::String(s) => Ok(Value::Str(s.node.clone())),
                AstLiteral::Int(i) => match &i.node {
                    TokenInt::I32(v) => Ok(Value::Int(i64::from(*v))),
                    TokenInt::BigInt(_) => self.error(expr.span, "integer literal too large"),
                },
                _ => self.error(expr.span, "only string and int literals are supported"),
            },
            ExprP::Identifier(ident) => {
                let name = ident.node.ident.as_str();
                match name {
                    "True" => Ok(Value::Bool(true)),
                    "False" => Ok(Value::Bool(false)),
                    "None" => Ok(Value::None),
                    _ => match self.globals.get(name) {
                        Some(v) => Ok(v.clone()),
                        None => self.error(expr.span, format!("name `{name}` is not defined")),
                    },
                }
            }
            ExprP::List(items) => Ok(Value::List(self.exprs(items)?)),
            ExprP::Tuple(items) => Ok(Value::Tuple(self.exprs(items)?)),
            ExprP::Dict(entries) => {
                let mut out = Vec::with_capacity(entries.len());
                for (k, v) in entries {
                    out.push((self.expr(k)?, self.expr(v)?));
                }
                Ok(Value::Dict(out))
            }
            ExprP::Op(lhs, BinOp::Add, rhs) => {
                let (l, r) = (self.expr(lhs)?, self.expr(rhs)?);
                self.add(expr.span, l, r)
            }
            ExprP::Op(_, op, _) => {
                self.error(expr.span, format!("operator `{op:?}` is not supported"))
            }
            ExprP::Not(inner) => Ok(Value::Bool(!self.expr(inner)?.truthy())),
            ExprP::If(parts) => {
                let (cond, then, otherwise) = &**parts;
                if self.expr(cond)?.truthy() {
                    self.expr(then)
                } else {
                    self.expr(otherwise)
                }
            }
            ExprP::Call(callee, args) => self.call(expr.span, callee, args),
            ExprP::Dot(..) => self.error(expr.span, "attribute access is only supported in calls"),
            _ => self.error(
                expr.span,
                "expression not supported (comprehensions, lambdas, indexing, f-strings, ...)",
            ),
        }
    }

    fn exprs(&mut self, items: &[AstExpr]) -> Result<Vec<Value>> {
        items.iter().map(|e| self.expr(e)).collect()
    }

    fn add(&self, span: Span, l: Value, r: Value) -> Result<Value> {
        // glob() and all_crate_deps() return lists of symbolic items, so `+` concatenates them.
        match (l, r) {
            (Value::Str(a), Value::Str(b)) => Ok(Value::Str(a + &b)),
            (Value::Int(a), Value::Int(b)) => match a.checked_add(b) {
                Some(sum) => Ok(Value::Int(sum)),
                None => self.error(span, "integer overflow"),
            },
            (Value::List(mut a), Value::List(b)) => {
                a.extend(b);
                Ok(Value::List(a))
            }
            (Value::Tuple(mut a), Value::Tuple(b)) => {
                a.extend(b);
                Ok(Value::Tuple(a))
            }
            (l, r) => self.error(
                span,
                format!(
                    "unsupported operand types for +: {} and {}",
                    l.type_name(),
                    r.type_name()
                ),
            ),
        }
    }

    fn callee(&mut self, callee: &AstExpr) -> Result<Function> {
        match &callee.node {
            ExprP::Identifier(ident) => match self.globals.get(&ident.node.ident) {
                Some(Value::Function(f)) => Ok(f.clone()),
                Some(other) => self.error(
                    callee.span,
                    format!(
                        "`{}` is a {}, not a function",
                        ident.node.ident,
                        other.type_name()
                    ),
                ),
                None => Ok(Function::Native(ident.node.ident.clone())),
            },
            ExprP::Dot(receiver, method) => match &receiver.node {
                ExprP::Identifier(ident) => Ok(Function::Method {
                    receiver: ident.node.ident.clone(),
                    method: method.node.clone(),
                }),
                _ => self.error(callee.span, "only `name.method(...)` calls are supported"),
            },
            _ => self.error(callee.span, "unsupported callee"),
        }
    }

    fn call(
        &mut self,
        span: Span,
        callee: &AstExpr,
        args: &CallArgsP<AstNoPayload>,
    ) -> Result<Value> {
        let function = self.callee(callee)?;
        let mut positional = Vec::new();
        let mut named: Vec<(String, Value)> = Vec::new();
        for arg in &args.args {
            match &arg.node {
                ArgumentP::Positional(e) => positional.push(self.expr(e)?),
                ArgumentP::Named(name, e) => {
                    if named.iter().any(|(k, _)| *k == name.node) {
                        return self
                            .error(arg.span, format!("argument `{}` given twice", name.node));
                    }
                    let value = self.expr(e)?;
                    named.push((name.node.clone(), value));
                }
                ArgumentP::Args(_) | ArgumentP::KwArgs(_) => {
                    return self.error(arg.span, "`*args` and `**kwargs` are not supported");
                }
            }
        }
        let line = self.line(span);
        let call = Call {
            function,
            positional,
            named,
            line,
        };
        match &call.function {
            Function::Native(name) if name == "glob" => self.glob(span, &call),
            Function::Native(name) if name == "select" => self.error(
                span,
                "select() is not supported by bazel-check; platform-specific deps come from all_crate_deps",
            ),
            Function::Loaded { symbol, .. } if symbol == "all_crate_deps" => {
                Ok(Value::List(vec![Value::CrateDeps(self.query(span, &call, false)?)]))
            }
            Function::Loaded { symbol, .. } if symbol == "aliases" => {
                Ok(Value::CrateAliases(self.query(span, &call, true)?))
            }
            Function::Loaded { symbol, .. } if symbol == "crate_deps" => self.crate_deps(span, &call),
            _ => {
                let what = format!("result of {}()", call.function.name());
                self.module.calls.push(call);
                Ok(Value::Opaque(what))
            }
        }
    }

    fn string_list(&self, span: Span, what: &str, value: &Value) -> Result<Vec<String>> {
        let items = match value.as_list() {
            Some(items) => items,
            None => return self.error(span, format!("{what} must be a list of strings")),
        };
        items
            .iter()
            .map(|item| match item {
                Value::Str(s) => Ok(s.clone()),
                _ => self.error(span, format!("{what} must be a list of strings")),
            })
            .collect()
    }

    fn glob(&self, span: Span, call: &Call) -> Result<Value> {
        let include = match (call.positional.first(), call.arg("include")) {
            (Some(v), None) | (None, Some(v)) => self.string_list(span, "glob include", v)?,
            _ => return self.error(span, "glob() takes one include list"),
        };
        let exclude = match call.positional.get(1).or(call.arg("exclude")) {
            Some(v) => self.string_list(span, "glob exclude", v)?,
            None => Vec::new(),
        };
        for (key, _) in &call.named {
            if !matches!(
                key.as_str(),
                "include" | "exclude" | "exclude_directories" | "allow_empty"
            ) {
                return self.error(span, format!("glob() has no argument `{key}`"));
            }
        }
        Ok(Value::List(vec![Value::Glob(Glob {
            include,
            exclude,
            line: call.line,
        })]))
    }

    fn query(&self, span: Span, call: &Call, aliases: bool) -> Result<DepQuery> {
        if !call.positional.is_empty() {
            return self.error(
                span,
                "all_crate_deps()/aliases() take keyword arguments only",
            );
        }
        let mut flags = Vec::new();
        let mut package_name = None;
        for (key, value) in &call.named {
            if key == "package_name" {
                match value {
                    Value::Str(s) => package_name = Some(s.clone()),
                    _ => return self.error(span, "package_name must be a string"),
                }
                continue;
            }
            let Some(flag) = DepFlag::from_keyword(key) else {
                return self.error(span, format!("unknown argument `{key}`"));
            };
            match value {
                Value::Bool(true) => flags.push(flag),
                Value::Bool(false) => {}
                _ => return self.error(span, format!("`{key}` must be True or False")),
            }
        }
        if flags.is_empty() {
            // rules_rust: with no kind selected, all_crate_deps() returns the normal
            // dependencies and aliases() the normal and proc-macro ones.
            flags.push(DepFlag::Normal);
            if aliases {
                flags.push(DepFlag::ProcMacro);
            }
        }
        flags.sort();
        flags.dedup();
        Ok(DepQuery {
            flags,
            package_name,
        })
    }

    fn crate_deps(&self, span: Span, call: &Call) -> Result<Value> {
        let names = match call.positional.first().or(call.arg("deps")) {
            Some(v) => self.string_list(span, "crate_deps() argument", v)?,
            None => return self.error(span, "crate_deps() needs a list of crate names"),
        };
        Ok(Value::List(
            names
                .into_iter()
                .map(|n| Value::Str(format!("@crates//:{n}")))
                .collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(src: &str) -> Module {
        match evaluate("BUILD.bazel", src) {
            Ok(m) => m,
            Err(e) => panic!("evaluation failed: {e}"),
        }
    }

    #[test]
    fn records_rules_with_symbolic_deps() {
        let m = eval(
            r#"
load("@rules_rust//rust:defs.bzl", "rust_library")
load("@crates//:defs.bzl", "all_crate_deps")

SRCS = glob(["**/*.rs"], exclude = ["build.rs"])

rust_library(
    name = "x",
    srcs = SRCS,
    deps = [":build_script"] + all_crate_deps(normal = True),
    edition = "2021",
)
"#,
        );
        assert_eq!(m.loads.len(), 2);
        assert_eq!(m.calls.len(), 1);
        let call = &m.calls[0];
        assert_eq!(call.function.name(), "rust_library");
        assert_eq!(call.line, 7);
        assert_eq!(
            call.arg("deps"),
            Some(&Value::List(vec![
                Value::Str(":build_script".into()),
                Value::CrateDeps(DepQuery {
                    flags: vec![DepFlag::Normal],
                    package_name: None
                }),
            ]))
        );
        match call.arg("srcs").and_then(Value::as_list) {
            Some([Value::Glob(g)]) => {
                assert_eq!(g.include, vec!["**/*.rs"]);
                assert_eq!(g.exclude, vec!["build.rs"]);
            }
            other => panic!("unexpected srcs {other:?}"),
        }
    }

    #[test]
    fn method_calls_and_unknown_globals_are_recorded() {
        let m = eval(
            r#"
module(name = "istio_rs")
crate = use_extension("@rules_rust//crate_universe:extensions.bzl", "crate")
crate.from_cargo(name = "crates", manifests = ["//:Cargo.toml"])
use_repo(crate, "crates")
"#,
        );
        let names: Vec<String> = m.calls.iter().map(|c| c.function.name()).collect();
        assert_eq!(
            names,
            ["module", "use_extension", "crate.from_cargo", "use_repo"]
        );
    }

    #[test]
    fn rejects_non_declarative_code() {
        for src in [
            "def f():\n    pass\n",
            "x = [a for a in []]\n",
            "x = undefined_name\n",
            "x = 1 * 2\n",
            "f(**{})\n",
            "x = select({})\n",
        ] {
            assert!(
                matches!(evaluate("BUILD", src), Err(StarlarkError::Eval { .. })),
                "accepted {src:?}"
            );
        }
        assert!(matches!(
            evaluate("BUILD", "rust_library(name = \n"),
            Err(StarlarkError::Parse(_))
        ));
    }

    #[test]
    fn all_crate_deps_defaults_to_normal_and_aliases_to_normal_and_proc_macro() {
        let m = eval(
            r#"
load("@crates//:defs.bzl", "all_crate_deps", "aliases", "crate_deps")
r(a = all_crate_deps(), b = aliases(), c = crate_deps(["serde"]))
"#,
        );
        let call = &m.calls[0];
        assert_eq!(
            call.arg("a"),
            Some(&Value::List(vec![Value::CrateDeps(DepQuery {
                flags: vec![DepFlag::Normal],
                package_name: None
            })]))
        );
        assert_eq!(
            call.arg("b"),
            Some(&Value::CrateAliases(DepQuery {
                flags: vec![DepFlag::Normal, DepFlag::ProcMacro],
                package_name: None
            }))
        );
        assert_eq!(
            call.arg("c"),
            Some(&Value::List(vec![Value::Str("@crates//:serde".into())]))
        );
    }
}
