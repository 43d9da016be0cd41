//! The `tracing` layer that filters events by scope level and writes them in Istio's format.

use std::backtrace::Backtrace;
use std::fmt;
use std::io::Write;
use std::sync::Arc;
use std::time::SystemTime;

use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use super::clock::format_log_time;
use super::encode::{encode_console, encode_json, short_caller, Entry, Value};
use super::level::Level;
use super::scope::{ScopeState, Scopes};
use super::sink::Output;

/// The field that marks an `error!` event as fatal (set by the [`fatal!`](crate::fatal) macro).
pub const FATAL_FIELD: &str = "istio_fatal";

/// Fields added by the `log`-crate bridge, which carry the record's origin.
const LOG_TARGET: &str = "log.target";
const LOG_MODULE: &str = "log.module_path";
const LOG_FILE: &str = "log.file";
const LOG_LINE: &str = "log.line";

type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;
type Hook = Arc<dyn Fn() + Send + Sync>;

/// A `tracing_subscriber` layer writing Istio-format logs. Build it with
/// [`build_layer`](super::build_layer); [`configure`](super::configure) installs it globally.
///
/// It decides per event, so level changes made through the [`LogHandle`](super::LogHandle)
/// take effect immediately. `TRACE` events and spans are never recorded (Istio has no level
/// below debug). Layers stacked with this one see only what it enables.
pub struct LogLayer {
    scopes: Arc<Scopes>,
    output: Arc<Output>,
    json: bool,
    now: Clock,
    on_fatal: Hook,
}

impl fmt::Debug for LogLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogLayer")
            .field("json", &self.json)
            .finish_non_exhaustive()
    }
}

impl LogLayer {
    pub(crate) fn new(scopes: Arc<Scopes>, output: Arc<Output>, json: bool) -> LogLayer {
        LogLayer {
            scopes,
            output,
            json,
            now: Arc::new(SystemTime::now),
            on_fatal: Arc::new(|| std::process::exit(1)),
        }
    }

    /// Replaces the clock (tests).
    #[cfg(test)]
    pub(crate) fn with_clock(
        mut self,
        now: impl Fn() -> SystemTime + Send + Sync + 'static,
    ) -> Self {
        self.now = Arc::new(now);
        self
    }

    /// Replaces what happens after a fatal message is written (the default exits with status 1).
    #[cfg(test)]
    pub(crate) fn with_fatal_hook(mut self, hook: impl Fn() + Send + Sync + 'static) -> Self {
        self.on_fatal = Arc::new(hook);
        self
    }

    fn scope_enables(&self, meta: &Metadata<'_>) -> bool {
        match message_level(meta) {
            Some(level) => self
                .scopes
                .for_target(meta.target())
                .output_level()
                .enables(level),
            None => false,
        }
    }
}

/// The Istio level of an event or span.
fn message_level(meta: &Metadata<'_>) -> Option<Level> {
    if meta.is_event() && meta.fields().field(FATAL_FIELD).is_some() {
        return Some(Level::Fatal);
    }
    match *meta.level() {
        tracing::Level::ERROR => Some(Level::Error),
        tracing::Level::WARN => Some(Level::Warn),
        tracing::Level::INFO => Some(Level::Info),
        tracing::Level::DEBUG => Some(Level::Debug),
        _ => None,
    }
}

/// Whether a message of `level` carries a stack trace. For the default scope the stack-trace
/// level is a plain threshold. For other scopes upstream compares warn, info and debug messages
/// against the *error* threshold, so a scope with stack traces at `error` or more verbose dumps
/// them for all its messages; this is reproduced.
fn wants_stack(scope: &ScopeState, level: Level) -> bool {
    let threshold = if scope.is_default() || level == Level::Fatal {
        level
    } else {
        Level::Error
    };
    scope.stack_trace_level().enables(threshold)
}

/// Fields recorded on a span, inherited by the events inside it.
struct SpanFields(Vec<(&'static str, Value)>);

#[derive(Default)]
struct Collector {
    message: Option<String>,
    fields: Vec<(&'static str, Value)>,
    log_file: Option<String>,
    log_line: Option<u64>,
    is_event: bool,
}

impl Collector {
    fn push(&mut self, field: &Field, value: Value) {
        let name = field.name();
        match name {
            FATAL_FIELD | LOG_TARGET | LOG_MODULE => {}
            LOG_FILE => {
                if let Value::Str(s) = value {
                    self.log_file = Some(s);
                }
            }
            LOG_LINE => {
                if let Value::U64(n) = value {
                    self.log_line = Some(n);
                }
            }
            "message" if self.is_event => {
                self.message = Some(match value {
                    Value::Str(s) => s,
                    other => {
                        let mut s = String::new();
                        push_plain(&mut s, &other);
                        s
                    }
                });
            }
            _ => self.fields.push((name, value)),
        }
    }
}

fn push_plain(out: &mut String, v: &Value) {
    use std::fmt::Write as _;
    let _ = match v {
        Value::Str(s) => write!(out, "{s}"),
        Value::Bool(b) => write!(out, "{b}"),
        Value::I64(n) => write!(out, "{n}"),
        Value::U64(n) => write!(out, "{n}"),
        Value::I128(n) => write!(out, "{n}"),
        Value::U128(n) => write!(out, "{n}"),
        Value::F64(n) => write!(out, "{n}"),
    };
}

impl Visit for Collector {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.push(field, Value::Str(format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, Value::Str(value.to_string()));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.push(field, Value::Str(value.to_string()));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, Value::Bool(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, Value::I64(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field, Value::U64(value));
    }
    fn record_i128(&mut self, field: &Field, value: i128) {
        self.push(field, Value::I128(value));
    }
    fn record_u128(&mut self, field: &Field, value: u128) {
        self.push(field, Value::U128(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field, Value::F64(value));
    }
}

impl<S> tracing_subscriber::Layer<S> for LogLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        if message_level(meta).is_some() {
            // Levels change at run time, so ask `enabled` every time.
            Interest::sometimes()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, meta: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        self.scope_enables(meta)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(LevelFilter::DEBUG)
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut c = Collector::default();
        attrs.record(&mut c);
        span.extensions_mut().insert(SpanFields(c.fields));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut c = Collector::default();
        values.record(&mut c);
        let mut ext = span.extensions_mut();
        match ext.get_mut::<SpanFields>() {
            Some(fields) => fields.0.extend(c.fields),
            None => ext.insert(SpanFields(c.fields)),
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let meta = event.metadata();
        let Some(level) = message_level(meta) else {
            return;
        };
        let scope = self.scopes.for_target(meta.target());
        if !scope.output_level().enables(level) {
            return;
        }

        let mut c = Collector {
            is_event: true,
            ..Collector::default()
        };
        if let Some(spans) = ctx.event_scope(event) {
            for span in spans.from_root() {
                if let Some(fields) = span.extensions().get::<SpanFields>() {
                    c.fields.extend(fields.0.iter().cloned());
                }
            }
        }
        event.record(&mut c);

        let caller = if scope.log_callers() {
            let file = c.log_file.as_deref().or(meta.file());
            let line = c
                .log_line
                .and_then(|l| u32::try_from(l).ok())
                .or(meta.line());
            file.map(|f| short_caller(f, line.unwrap_or(0)))
        } else {
            None
        };
        let stack = wants_stack(&scope, level).then(|| Backtrace::force_capture().to_string());

        let now = (self.now)();
        let entry = Entry {
            time: now,
            level,
            scope: scope.emitted_name(),
            caller: caller.as_deref(),
            message: c.message.as_deref().unwrap_or(""),
            fields: &c.fields,
            stack: stack.as_deref(),
        };
        let line = if self.json {
            encode_json(&entry)
        } else {
            encode_console(&entry)
        };

        if let Err(e) = self.output.write(line.as_bytes()) {
            let _ = writeln!(
                std::io::stderr(),
                "{} log write error: {e}",
                format_log_time(now)
            );
        }
        if level == Level::Fatal {
            let _ = self.output.sync();
            (self.on_fatal)();
        }
    }
}
