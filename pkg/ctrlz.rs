//! ControlZ (upstream `istio.io/pkg/ctrlz`): the introspection server every Istio server runs
//! on `--ctrlz_address`:`--ctrlz_port` (default `localhost:9876`, what `istioctl dashboard
//! controlz` forwards to).
//!
//! Each topic has an HTML page under `/<topic>z/` and a JSON API under `/<topic>j/`, with
//! upstream's paths, methods, JSON field names and status codes:
//!
//! | topic | JSON |
//! |---|---|
//! | `scope` | `GET /scopej/` all scopes, `GET /scopej/<name>`, `PUT /scopej/<name>` `{"output_level", "stack_trace_level", "log_callers"}` → 202 |
//! | `mem` | `GET /memj/` memory statistics; `PUT /memj/forcecollection` → 202 (nothing to collect in Rust) |
//! | `env` | `GET /envj/` `[{"name","value"}]` |
//! | `proc` | `GET /procj/` `{"egid","euid","gid","groups","pid","ppid","uid","wd","hostname","tempdir","threads","goroutines"}` |
//! | `arg` | `GET /argj/` the command line |
//! | `version` | `GET /versionj/` the build info (`version`, `revision`, `golang_version`, `status`, `tag`) |
//! | `metric` | `GET /metricj/` the process's metrics as prom2json families |
//! | `signal` | `PUT`/`POST /signalj/SIGUSR1` → 202, delivered to [`Server::sigusr1`] |
//!
//! The HTML pages are this project's own minimal rendering of the same data (upstream's pages
//! are bootstrap templates). Memory statistics are the process's (Linux `/proc/self`), as Rust
//! has no garbage-collected heap to describe: `goroutines` is the number of live tokio tasks.
//! As upstream, a port that cannot be bound is logged and the process carries on without
//! ControlZ.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, put};
use axum::Router;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::log::{Level, LogHandle};

/// ControlZ listener settings.
#[derive(clap::Args, Clone, Debug, PartialEq, Eq)]
#[group(id = "ctrlz_args")]
pub struct Args {
    /// The IP port to use for the ControlZ introspection facility.
    #[arg(
        long = "ctrlz_port",
        value_name = "PORT",
        default_value_t = 9876,
        global = true
    )]
    pub port: u16,

    /// The IP Address to listen on for the ControlZ introspection facility. Use '*' to
    /// indicate all addresses.
    #[arg(
        long = "ctrlz_address",
        value_name = "ADDRESS",
        default_value = "localhost",
        global = true
    )]
    pub address: String,
}

impl Default for Args {
    fn default() -> Self {
        Args {
            port: 9876,
            address: "localhost".into(),
        }
    }
}

/// The process's metrics in the Prometheus text format (for `/metricj/`).
pub type MetricsFn = Arc<dyn Fn() -> String + Send + Sync>;

/// What the topics read.
#[derive(Clone)]
struct Ctx {
    log: Option<LogHandle>,
    metrics: Option<MetricsFn>,
    sigusr1: Arc<Notify>,
}

/// A running ControlZ server.
pub struct Server {
    addr: SocketAddr,
    sigusr1: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// The address it listens on.
    pub fn address(&self) -> SocketAddr {
        self.addr
    }

    /// Notified for each `/signalj/SIGUSR1` request.
    pub fn sigusr1(&self) -> Arc<Notify> {
        self.sigusr1.clone()
    }

    /// Waits until the server has stopped (after the shutdown token fired).
    pub async fn stopped(self) {
        let _ = self.task.await;
    }
}

/// The `host:port` ControlZ binds: `*` means every address.
fn bind_address(args: &Args) -> String {
    match args.address.as_str() {
        "*" | "" => format!("0.0.0.0:{}", args.port),
        a if a.contains(':') && !a.starts_with('[') => format!("[{a}]:{}", args.port),
        a => format!("{a}:{}", args.port),
    }
}

/// Starts ControlZ; runs until `shutdown` fires. An error (e.g. the port is taken) is returned
/// for the caller to log, as upstream, which then continues without ControlZ.
pub async fn run(
    args: &Args,
    log: Option<LogHandle>,
    metrics: Option<MetricsFn>,
    shutdown: CancellationToken,
) -> std::io::Result<Server> {
    let listener = tokio::net::TcpListener::bind(bind_address(args)).await?;
    let addr = listener.local_addr()?;
    let sigusr1 = Arc::new(Notify::new());
    let router = router(Ctx {
        log,
        metrics,
        sigusr1: sigusr1.clone(),
    });
    let task = tokio::spawn(async move {
        let serve = axum::serve(listener, router)
            .with_graceful_shutdown(async move { shutdown.cancelled().await });
        if let Err(e) = serve.await {
            tracing::error!("ControlZ server failed: {e}");
        }
    });
    Ok(Server {
        addr,
        sigusr1,
        task,
    })
}

const TOPICS: &[(&str, &str)] = &[
    ("scope", "Logging Scopes"),
    ("mem", "Memory Usage"),
    ("env", "Environment Variables"),
    ("proc", "Process Info"),
    ("arg", "Command-Line Arguments"),
    ("version", "Version Info"),
    ("metric", "Metrics"),
    ("signal", "Signals"),
];

fn router(ctx: Ctx) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/scopez/", get(scopes_html))
        .route("/scopej/", get(scopes_json))
        .route("/scopej/{scope}", get(scope_json).put(put_scope))
        .route("/memz/", get(mem_html))
        .route("/memj/", get(mem_json))
        .route("/memj/forcecollection", put(force_collection))
        .route("/envz/", get(env_html))
        .route("/envj/", get(env_json))
        .route("/procz/", get(proc_html))
        .route("/procj/", get(proc_json))
        .route("/argz/", get(args_html))
        .route("/argj/", get(args_json))
        .route("/versionz/", get(version_html))
        .route("/versionj/", get(version_json))
        .route("/metricz/", get(metrics_html))
        .route("/metricj/", get(metrics_json))
        .route("/signalz/", get(signals_html))
        .route("/signalj/SIGUSR1", put(sigusr1).post(sigusr1))
        .fallback(not_found)
        .with_state(ctx)
}

type S = State<Ctx>;

/// Go's `json.NewEncoder(w).Encode(v)`: compact JSON and a newline.
fn json<T: Serialize>(status: StatusCode, v: &T) -> Response {
    match serde_json::to_string(v) {
        Ok(mut body) => {
            body.push('\n');
            (
                status,
                [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
                body,
            )
                .into_response()
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// Upstream's error body: `{"error": "..."}`.
fn error(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({ "error": message }).to_string() + "\n";
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body,
    )
        .into_response()
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Html(page("Not Found", "<p>No such page.</p>")),
    )
        .into_response()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn page(title: &str, body: &str) -> String {
    let nav: String = TOPICS
        .iter()
        .map(|(p, t)| format!("<li><a href=\"/{p}z/\">{t}</a></li>"))
        .collect();
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>ControlZ - {t}</title></head>\
         <body><h1>ControlZ</h1><p>{exe}</p><ul>{nav}</ul><h2>{t}</h2>{body}</body></html>\n",
        t = escape(title),
        exe = escape(&exe),
    )
}

fn table(head: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> String {
    let mut s = String::from("<table><tr>");
    for h in head {
        s.push_str(&format!("<th>{}</th>", escape(h)));
    }
    s.push_str("</tr>");
    for r in rows {
        s.push_str("<tr>");
        for c in r {
            s.push_str(&format!("<td>{}</td>", escape(&c)));
        }
        s.push_str("</tr>");
    }
    s.push_str("</table>");
    s
}

/// A page with one row per field of `v`'s JSON form (strings without quotes).
fn properties_page<T: Serialize>(title: &str, first: &str, v: &T) -> Html<String> {
    let v = serde_json::to_value(v).unwrap_or_default();
    let rows = v
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| vec![k.clone(), v.as_str().map_or(v.to_string(), str::to_string)]);
    Html(page(title, &table(&[first, "Value"], rows)))
}

async fn home() -> Html<String> {
    Html(page(
        "Home",
        "<p>Introspection of this process: pick a topic. Each topic's JSON API is under \
         the same name ending in <code>j/</code> instead of <code>z/</code>.</p>",
    ))
}

// scopes

/// A scope as upstream's JSON shows it.
#[derive(Debug, Serialize, Deserialize, Default, PartialEq)]
#[serde(default)]
pub struct ScopeJson {
    pub name: String,
    pub description: String,
    pub output_level: String,
    pub stack_trace_level: String,
    pub log_callers: bool,
}

fn scope_json_of(s: crate::log::ScopeInfo) -> ScopeJson {
    ScopeJson {
        name: s.name,
        description: s.description,
        output_level: s.output_level.to_string(),
        stack_trace_level: s.stack_trace_level.to_string(),
        log_callers: s.log_callers,
    }
}

fn all_scopes(ctx: &Ctx) -> Vec<ScopeJson> {
    ctx.log
        .as_ref()
        .map(|l| l.scopes().into_iter().map(scope_json_of).collect())
        .unwrap_or_default()
}

async fn scopes_json(State(ctx): S) -> Response {
    json(StatusCode::OK, &all_scopes(&ctx))
}

async fn scope_json(State(ctx): S, Path(name): Path<String>) -> Response {
    match ctx.log.as_ref().and_then(|l| l.scope(&name)) {
        Some(s) => json(StatusCode::OK, &scope_json_of(s)),
        None => error(
            StatusCode::BAD_REQUEST,
            &format!("unknown scope name: {name}"),
        ),
    }
}

async fn put_scope(State(ctx): S, Path(name): Path<String>, body: axum::body::Bytes) -> Response {
    let info: ScopeJson = match serde_json::from_slice(&body) {
        Ok(i) => i,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("unable to decode request: {e}"),
            )
        }
    };
    let Some(log) = ctx.log.as_ref().filter(|l| l.scope(&name).is_some()) else {
        return error(
            StatusCode::BAD_REQUEST,
            &format!("unknown scope name: {name}"),
        );
    };
    // As upstream: a level that is not a level name leaves that setting unchanged.
    if let Ok(level) = info.output_level.parse::<Level>() {
        let _ = log.set_output_level(&name, level);
    }
    if let Ok(level) = info.stack_trace_level.parse::<Level>() {
        let _ = log.set_stack_trace_level(&name, level);
    }
    let _ = log.set_log_callers(&name, info.log_callers);
    tracing::info!(
        "ControlZ: scope {name} set to output {}, stack traces {}, callers {}",
        info.output_level,
        info.stack_trace_level,
        info.log_callers
    );
    StatusCode::ACCEPTED.into_response()
}

async fn scopes_html(State(ctx): S) -> Html<String> {
    let rows = all_scopes(&ctx).into_iter().map(|s| {
        vec![
            s.name,
            s.description,
            s.output_level,
            s.stack_trace_level,
            s.log_callers.to_string(),
        ]
    });
    Html(page(
        "Logging Scopes",
        &table(
            &[
                "Name",
                "Description",
                "Output Level",
                "Stack Trace Level",
                "Log Callers",
            ],
            rows,
        ),
    ))
}

// memory

/// Memory statistics of the process, from `/proc/self/status` (bytes).
#[derive(Debug, Serialize, Default)]
pub struct MemJson {
    pub resident_bytes: u64,
    pub peak_resident_bytes: u64,
    pub virtual_bytes: u64,
    pub peak_virtual_bytes: u64,
    pub data_bytes: u64,
    pub threads: u64,
}

fn mem_stats() -> MemJson {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let mut fields = BTreeMap::new();
    for line in status.lines() {
        if let Some((k, v)) = line.split_once(':') {
            let mut parts = v.split_whitespace();
            let n: u64 = parts.next().and_then(|n| n.parse().ok()).unwrap_or(0);
            let scale = if parts.next() == Some("kB") { 1024 } else { 1 };
            fields.insert(k.trim().to_string(), n * scale);
        }
    }
    let f = |k: &str| fields.get(k).copied().unwrap_or(0);
    MemJson {
        resident_bytes: f("VmRSS"),
        peak_resident_bytes: f("VmHWM"),
        virtual_bytes: f("VmSize"),
        peak_virtual_bytes: f("VmPeak"),
        data_bytes: f("VmData"),
        threads: f("Threads"),
    }
}

async fn mem_json() -> Response {
    json(StatusCode::OK, &mem_stats())
}

/// Upstream forces a Go garbage collection. Rust frees memory as soon as it is dropped, so
/// there is nothing to collect: the request is accepted (as upstream answers) and logged.
async fn force_collection() -> StatusCode {
    tracing::info!("ControlZ: collection requested (memory is freed when dropped; nothing to do)");
    StatusCode::ACCEPTED
}

async fn mem_html() -> Html<String> {
    properties_page("Memory Usage", "Statistic", &mem_stats())
}

// environment

#[derive(Debug, Serialize)]
struct EnvVar {
    name: String,
    value: String,
}

fn env_vars() -> Vec<EnvVar> {
    let mut v: Vec<EnvVar> = std::env::vars_os()
        .map(|(k, v)| EnvVar {
            name: k.to_string_lossy().into_owned(),
            value: v.to_string_lossy().into_owned(),
        })
        .collect();
    v.sort_by(|a, b| a.name.cmp(&b.name));
    v
}

async fn env_json() -> Response {
    json(StatusCode::OK, &env_vars())
}

async fn env_html() -> Html<String> {
    let rows = env_vars().into_iter().map(|e| vec![e.name, e.value]);
    Html(page(
        "Environment Variables",
        &table(&["Name", "Value"], rows),
    ))
}

// process

/// Upstream's process info fields.
#[derive(Debug, Serialize, Default)]
pub struct ProcJson {
    pub egid: u32,
    pub euid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    pub pid: u32,
    pub ppid: u32,
    pub uid: u32,
    pub wd: String,
    pub hostname: String,
    pub tempdir: String,
    pub threads: u64,
    pub goroutines: usize,
}

/// A `Name:\tvalues...` line of `/proc/self/status` as numbers.
fn status_numbers(status: &str, key: &str) -> Vec<u32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(':')))
        .map(|r| {
            r.split_whitespace()
                .filter_map(|n| n.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

fn proc_info() -> ProcJson {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let uid = status_numbers(&status, "Uid");
    let gid = status_numbers(&status, "Gid");
    let one = |v: &[u32], i: usize| v.get(i).copied().unwrap_or(0);
    ProcJson {
        egid: one(&gid, 1),
        euid: one(&uid, 1),
        gid: one(&gid, 0),
        groups: status_numbers(&status, "Groups"),
        pid: std::process::id(),
        ppid: one(&status_numbers(&status, "PPid"), 0),
        uid: one(&uid, 0),
        wd: std::env::current_dir()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        hostname: std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_default(),
        tempdir: std::env::temp_dir().display().to_string(),
        threads: u64::from(one(&status_numbers(&status, "Threads"), 0)),
        goroutines: tokio::runtime::Handle::try_current()
            .map(|h| h.metrics().num_alive_tasks())
            .unwrap_or(0),
    }
}

async fn proc_json() -> Response {
    json(StatusCode::OK, &proc_info())
}

async fn proc_html() -> Html<String> {
    properties_page("Process Info", "Property", &proc_info())
}

// arguments, version

fn args() -> Vec<String> {
    std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}

async fn args_json() -> Response {
    json(StatusCode::OK, &args())
}

async fn args_html() -> Html<String> {
    let rows = args()
        .into_iter()
        .enumerate()
        .map(|(i, a)| vec![i.to_string(), a]);
    Html(page(
        "Command-Line Arguments",
        &table(&["#", "Argument"], rows),
    ))
}

async fn version_json() -> Response {
    json(StatusCode::OK, crate::version::info())
}

async fn version_html() -> Html<String> {
    properties_page("Version Info", "Property", crate::version::info())
}

// metrics

/// One metric family in prom2json's shape.
#[derive(Debug, Serialize, PartialEq)]
pub struct Family {
    pub name: String,
    pub help: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub metrics: Vec<Sample>,
}

/// One sample of a family (prom2json writes values as strings).
#[derive(Debug, Serialize, PartialEq)]
pub struct Sample {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    pub name: String,
    pub value: String,
}

/// Parses the Prometheus text format into families (samples keep their own names, so
/// histogram `_bucket`/`_sum`/`_count` lines stay with their family).
pub fn parse_prometheus_text(text: &str) -> Vec<Family> {
    let mut families: Vec<Family> = Vec::new();
    let family_of = |families: &mut Vec<Family>, name: &str| -> usize {
        match families.iter().position(|f| f.name == name) {
            Some(i) => i,
            None => {
                families.push(Family {
                    name: name.to_string(),
                    help: String::new(),
                    kind: "UNTYPED".into(),
                    metrics: Vec::new(),
                });
                families.len() - 1
            }
        }
    };
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            let i = family_of(&mut families, name);
            families[i].help = help.to_string();
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, "untyped"));
            let i = family_of(&mut families, name);
            families[i].kind = kind.trim().to_uppercase();
        } else if !line.starts_with('#') && !line.trim().is_empty() {
            let (series, value) = match line.rsplit_once(' ') {
                Some(p) => p,
                None => continue,
            };
            let (name, labels) = match series.split_once('{') {
                Some((n, l)) => (n, parse_labels(l.trim_end_matches('}'))),
                None => (series, BTreeMap::new()),
            };
            let base = families
                .iter()
                .rev()
                .find(|f| name == f.name || name.starts_with(&format!("{}_", f.name)))
                .map(|f| f.name.clone())
                .unwrap_or_else(|| name.to_string());
            let i = family_of(&mut families, &base);
            families[i].metrics.push(Sample {
                labels,
                name: name.to_string(),
                value: value.to_string(),
            });
        }
    }
    families
}

fn parse_labels(s: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rest = s;
    while let Some((k, r)) = rest.split_once("=\"") {
        let mut value = String::new();
        let mut chars = r.char_indices();
        let mut end = r.len();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, n)) = chars.next() {
                        value.push(match n {
                            'n' => '\n',
                            other => other,
                        });
                    }
                }
                '"' => {
                    end = i + 1;
                    break;
                }
                c => value.push(c),
            }
        }
        out.insert(k.trim_start_matches(',').trim().to_string(), value);
        rest = &r[end..];
    }
    out
}

fn families(ctx: &Ctx) -> Vec<Family> {
    ctx.metrics
        .as_ref()
        .map(|m| parse_prometheus_text(&m()))
        .unwrap_or_default()
}

async fn metrics_json(State(ctx): S) -> Response {
    json(StatusCode::OK, &families(&ctx))
}

async fn metrics_html(State(ctx): S) -> Html<String> {
    let rows = families(&ctx).into_iter().flat_map(|f| {
        f.metrics.into_iter().map(move |s| {
            let labels: Vec<String> = s.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            vec![s.name, labels.join(", "), s.value]
        })
    });
    Html(page("Metrics", &table(&["Name", "Labels", "Value"], rows)))
}

// signals

async fn sigusr1(State(ctx): S) -> StatusCode {
    tracing::info!("ControlZ: SIGUSR1 requested");
    ctx.sigusr1.notify_waiters();
    StatusCode::ACCEPTED
}

async fn signals_html() -> Html<String> {
    Html(page(
        "Signals",
        "<p><code>PUT /signalj/SIGUSR1</code> delivers SIGUSR1 to this process's handlers.</p>",
    ))
}

#[cfg(test)]
mod tests;
