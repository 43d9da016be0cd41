//! Istio's component logging (upstream `istio.io/pkg/log`), on `tracing`.
//!
//! Every binary flattens [`Args`] into its root command (the `--log_*` flags, global to all
//! subcommands) and calls [`configure`] once with the scopes it logs under. Code logs through
//! plain `tracing` macros; the *target* selects the scope:
//!
//! ```no_run
//! use clap::Parser;
//! use istio_pkg::log::{self, Scope};
//!
//! const ADS: Scope = Scope::new("ads", "ADS debugging");
//!
//! #[derive(Parser)]
//! struct Cli {
//!     #[command(flatten)]
//!     log: log::Args,
//! }
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let cli = Cli::parse();
//!     let handle = log::configure(&cli.log, &[ADS])?;
//!     tracing::info!("starting");                        // default scope
//!     tracing::debug!(target: "ads", conn = 7, "push"); // scope `ads`
//!     handle.set_output_level("ads", log::Level::Debug)?; // e.g. from ControlZ
//!     Ok(())
//! }
//! ```
//!
//! Output is byte-compatible with Istio 1.4 (zap's console or JSON encoder as configured by
//! istio.io/pkg), for example
//! `2019-12-10T10:27:48.366573Z⇥info⇥ads⇥push⇥{"conn": 7}` (`⇥` is a tab); see the `encode` module for the
//! exact layouts.
//!
//! Semantics kept from upstream:
//! - Levels are `debug`, `info`, `warn`, `error`, `fatal`, `none`, per scope; every scope starts
//!   at `info` with stack traces off and no caller.
//! - In the level flags an entry without a scope sets `default`; `all:<level>` sets every scope
//!   and ends the list; an unregistered scope is an error (`unknown scope 'x' specified`).
//! - Events whose target is not a registered scope (module paths, third-party crates, records
//!   from the `log` crate) are logged under the `default` scope. `TRACE` events are dropped.
//! - A fatal message ([`fatal!`](crate::fatal)) is written, the outputs are flushed, and the
//!   process exits with status 1; if the scope's level is `none` nothing happens.
//! - `--log_target` paths are opened at configuration (appending); `--log_rotate` adds a
//!   size/age rotated file opened at the first write.

mod clock;
pub use clock::rfc3339_utc;
mod encode;
mod layer;
mod level;
pub mod rotate;
mod scope;
mod sink;

use std::sync::Arc;

use clap::ArgAction;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::gostr::{parse_go_bool, parse_go_int, quote};
use level::{resolve_caller_list, resolve_level_list};
use rotate::{RotatingFile, RotationLimits};
use scope::{ScopeState, Scopes};
use sink::{open_target, Output, Sink};

pub use layer::{LogLayer, FATAL_FIELD};
pub use level::{
    parse_scoped_level, Level, SpecError, UnknownLevel, DEFAULT_SCOPE, OVERRIDE_SCOPE,
};
pub use scope::{is_valid_scope_name, Scope, ScopeInfo};

/// Default of `--log_output_level`.
pub const DEFAULT_OUTPUT_LEVELS: &str = "default:info";
/// Default of `--log_stacktrace_level`.
pub const DEFAULT_STACK_TRACE_LEVELS: &str = "default:none";
/// Default of `--log_target`.
pub const DEFAULT_TARGET: &str = "stdout";
/// Default of `--log_rotate_max_age` (days).
pub const DEFAULT_ROTATE_MAX_AGE: i64 = 30;
/// Default of `--log_rotate_max_size` (megabytes; upstream's value, 100 × 1024 × 1024).
pub const DEFAULT_ROTATE_MAX_SIZE: i64 = 100 * 1024 * 1024;
/// Default of `--log_rotate_max_backups`.
pub const DEFAULT_ROTATE_MAX_BACKUPS: i64 = 1000;

// The struct's documentation exists only for rustdoc: clap would otherwise use it as the
// `about` of whatever command flattens this struct.
#[cfg_attr(
    doc,
    doc = "The logging flags shared by every Istio binary, with upstream's names and defaults.

Flatten it into the root command (`#[command(flatten)] log: log::Args`); the flags are
global, so they are accepted after subcommands too. Bool and int values follow Go's flag
syntax (`--log_as_json=false`, `--log_rotate_max_size=0x10`), and repeating a flag keeps the
last value, as with pflag. [`Args::default`] equals parsing no flags."
)]
#[derive(clap::Args, Clone, Debug, PartialEq, Eq)]
pub struct Args {
    /// `--log_output_level`: minimum level per scope, as `<scope>:<level>,<scope>:<level>,…`.
    #[arg(
        help = "Comma-separated minimum logging level per scope, as \
                <scope>:<level>,<scope>:<level>,... A level without a scope applies to the \
                default scope; the scope 'all' sets every scope. \
                Levels: debug, info, warn, error, fatal, none.",
        id = "log_output_level",
        long = "log_output_level",
        value_name = "LEVELS",
        default_value = DEFAULT_OUTPUT_LEVELS,
        global = true,
        overrides_with = "log_output_level"
    )]
    pub output_level: String,

    /// Comma-separated minimum level per scope at which a stack trace is added to the message,
    /// in the same form as --log_output_level.
    #[arg(
        id = "log_stacktrace_level",
        long = "log_stacktrace_level",
        value_name = "LEVELS",
        default_value = DEFAULT_STACK_TRACE_LEVELS,
        global = true,
        overrides_with = "log_stacktrace_level"
    )]
    pub stacktrace_level: String,

    /// Comma-separated scopes whose messages include the caller's source file and line
    /// ('all' for every scope).
    #[arg(
        id = "log_caller",
        long = "log_caller",
        value_name = "SCOPES",
        default_value = "",
        hide_default_value = true,
        global = true,
        overrides_with = "log_caller"
    )]
    pub caller: String,

    /// Where to write the log: a file path, or the special values stdout and stderr. Repeat the
    /// flag to write to several places.
    #[arg(
        id = "log_target",
        long = "log_target",
        value_name = "PATH",
        default_value = DEFAULT_TARGET,
        action = ArgAction::Append,
        global = true
    )]
    pub target: Vec<String>,

    /// Write each message as a JSON object instead of the tab-separated console format.
    #[arg(
        id = "log_as_json",
        long = "log_as_json",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        default_value = "false",
        value_parser = parse_go_bool,
        action = ArgAction::Set,
        global = true,
        overrides_with = "log_as_json"
    )]
    pub as_json: bool,

    /// Path of an additional log file that is rotated by size and whose old copies are pruned
    /// by count and age.
    #[arg(
        id = "log_rotate",
        long = "log_rotate",
        value_name = "PATH",
        default_value = "",
        hide_default_value = true,
        global = true,
        overrides_with = "log_rotate"
    )]
    pub rotate: String,

    /// Age in days after which rotated log files are deleted (0 keeps them forever).
    #[arg(
        id = "log_rotate_max_age",
        long = "log_rotate_max_age",
        value_name = "DAYS",
        default_value_t = DEFAULT_ROTATE_MAX_AGE,
        value_parser = parse_go_int,
        allow_negative_numbers = true,
        global = true,
        overrides_with = "log_rotate_max_age"
    )]
    pub rotate_max_age: i64,

    /// Size in megabytes beyond which the rotating log file is rotated.
    #[arg(
        id = "log_rotate_max_size",
        long = "log_rotate_max_size",
        value_name = "MB",
        default_value_t = DEFAULT_ROTATE_MAX_SIZE,
        value_parser = parse_go_int,
        allow_negative_numbers = true,
        global = true,
        overrides_with = "log_rotate_max_size"
    )]
    pub rotate_max_size: i64,

    /// Number of rotated log files to keep; older ones are deleted (0 keeps all).
    #[arg(
        id = "log_rotate_max_backups",
        long = "log_rotate_max_backups",
        value_name = "N",
        default_value_t = DEFAULT_ROTATE_MAX_BACKUPS,
        value_parser = parse_go_int,
        allow_negative_numbers = true,
        global = true,
        overrides_with = "log_rotate_max_backups"
    )]
    pub rotate_max_backups: i64,
}

impl Default for Args {
    fn default() -> Self {
        Args {
            output_level: DEFAULT_OUTPUT_LEVELS.to_string(),
            stacktrace_level: DEFAULT_STACK_TRACE_LEVELS.to_string(),
            caller: String::new(),
            target: vec![DEFAULT_TARGET.to_string()],
            as_json: false,
            rotate: String::new(),
            rotate_max_age: DEFAULT_ROTATE_MAX_AGE,
            rotate_max_size: DEFAULT_ROTATE_MAX_SIZE,
            rotate_max_backups: DEFAULT_ROTATE_MAX_BACKUPS,
        }
    }
}

impl Args {
    /// Adds the list of `scopes` (plus `default` and `all`) to the help of the three scoped
    /// flags, as upstream's help does. Arguments missing from `cmd` are skipped.
    pub fn describe_scopes(cmd: clap::Command, scopes: &[Scope]) -> clap::Command {
        let mut names: Vec<&str> = scopes.iter().map(|s| s.name()).collect();
        names.extend([DEFAULT_SCOPE, OVERRIDE_SCOPE]);
        names.sort_unstable();
        names.dedup();
        let list = format!("Scopes: {}.", names.join(", "));
        let mut cmd = cmd;
        for id in ["log_output_level", "log_stacktrace_level", "log_caller"] {
            let present = cmd.get_arguments().any(|a| a.get_id() == id);
            if present {
                let list = list.clone();
                cmd = cmd.mut_arg(id, move |a| {
                    let mut help = a.get_help().map(|h| h.to_string()).unwrap_or_default();
                    if !help.is_empty() && !help.ends_with('.') {
                        help.push('.');
                    }
                    a.help(format!("{help} {list}"))
                });
            }
        }
        cmd
    }

    fn rotation_limits(&self) -> RotationLimits {
        RotationLimits {
            max_size_mb: self.rotate_max_size,
            max_age_days: self.rotate_max_age,
            max_backups: self.rotate_max_backups,
        }
    }
}

/// Errors of the logging setup.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A level or scope list flag is malformed; names the flag and its whole value.
    #[error("invalid value {} for --{flag}: {error}", quote(.value))]
    Flag {
        /// The flag name, without dashes.
        flag: &'static str,
        /// The flag's value as given.
        value: String,
        /// What is wrong with it (upstream's text).
        error: SpecError,
    },
    /// A scope name containing `:`, `,` or `.`.
    #[error("scope name {0} is invalid, it cannot contain colons, commas, or periods")]
    InvalidScopeName(String),
    /// A run-time change named a scope that is not registered.
    #[error("unknown scope '{0}'")]
    UnknownScope(String),
    /// One or more `--log_target` destinations could not be opened.
    #[error("{0}")]
    Sink(String),
    /// Flushing the outputs failed.
    #[error("log sync failed: {0}")]
    Sync(String),
    /// A global subscriber (or `log` logger) was already installed.
    #[error("cannot install the logging subscriber: {0}")]
    Install(String),
}

/// Control over a configured logger: scope levels at run time (ControlZ), scope registration
/// after start-up, and flushing. Cheap to clone; all clones control the same logger.
#[derive(Clone)]
pub struct LogHandle {
    scopes: Arc<Scopes>,
    output: Arc<Output>,
}

impl std::fmt::Debug for LogHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogHandle")
            .field("scopes", &self.scopes())
            .finish_non_exhaustive()
    }
}

impl LogHandle {
    fn scope_state(&self, name: &str) -> Result<Arc<ScopeState>, Error> {
        self.scopes
            .get(name)
            .ok_or_else(|| Error::UnknownScope(name.to_string()))
    }

    /// Registers another scope (info, no stack traces, no caller). Registering an existing name
    /// changes nothing.
    pub fn register_scope(&self, name: &str, description: &str) -> Result<(), Error> {
        if self.scopes.register(name, description) {
            Ok(())
        } else {
            Err(Error::InvalidScopeName(name.to_string()))
        }
    }

    /// All scopes, sorted by name.
    pub fn scopes(&self) -> Vec<ScopeInfo> {
        self.scopes.infos()
    }

    /// One scope's settings.
    pub fn scope(&self, name: &str) -> Option<ScopeInfo> {
        self.scopes.infos().into_iter().find(|s| s.name == name)
    }

    /// Sets a scope's output level.
    pub fn set_output_level(&self, scope: &str, level: Level) -> Result<(), Error> {
        self.scope_state(scope)?.set_output_level(level);
        Ok(())
    }

    /// Sets a scope's stack-trace level.
    pub fn set_stack_trace_level(&self, scope: &str, level: Level) -> Result<(), Error> {
        self.scope_state(scope)?.set_stack_trace_level(level);
        Ok(())
    }

    /// Turns caller reporting on or off for a scope.
    pub fn set_log_callers(&self, scope: &str, enabled: bool) -> Result<(), Error> {
        self.scope_state(scope)?.set_log_callers(enabled);
        Ok(())
    }

    /// Applies a level list in `--log_output_level` syntax. Nothing changes if it is invalid.
    pub fn set_output_levels(&self, spec: &str) -> Result<(), SpecError> {
        let updates = resolve_level_list(spec, |s| self.scopes.contains(s))?;
        self.scopes
            .apply_levels(&updates, ScopeState::set_output_level);
        Ok(())
    }

    /// Applies a level list in `--log_stacktrace_level` syntax. Nothing changes if it is invalid.
    pub fn set_stack_trace_levels(&self, spec: &str) -> Result<(), SpecError> {
        let updates = resolve_level_list(spec, |s| self.scopes.contains(s))?;
        self.scopes
            .apply_levels(&updates, ScopeState::set_stack_trace_level);
        Ok(())
    }

    /// Flushes all outputs (files are synced to disk).
    pub fn sync(&self) -> Result<(), Error> {
        self.output.sync().map_err(Error::Sync)
    }
}

/// Builds the layer and its handle from the flags, with `scopes` registered, without
/// installing anything. Use it to stack other layers, or with
/// `tracing::subscriber::with_default` in tests.
pub fn build_layer(args: &Args, scopes: &[Scope]) -> Result<(LogLayer, LogHandle), Error> {
    let mut errors = Vec::new();
    let mut sinks = Vec::new();
    for target in &args.target {
        match open_target(target) {
            Ok(sink) => sinks.push(sink),
            Err(reason) => errors.push(format!("couldn't open sink {}: {reason}", quote(target))),
        }
    }
    if !errors.is_empty() {
        return Err(Error::Sink(errors.join("; ")));
    }
    build(args, scopes, sinks)
}

/// Like [`build_layer`], but writes to `writer` instead of the `--log_target` destinations
/// (the `--log_rotate` file is still used if set). Meant for tests that inspect log output.
pub fn build_layer_with_writer(
    args: &Args,
    scopes: &[Scope],
    writer: impl std::io::Write + Send + 'static,
) -> Result<(LogLayer, LogHandle), Error> {
    build(args, scopes, vec![Sink::Writer(Box::new(writer))])
}

fn build(
    args: &Args,
    scopes: &[Scope],
    mut sinks: Vec<Sink>,
) -> Result<(LogLayer, LogHandle), Error> {
    if !args.rotate.is_empty() {
        sinks.push(Sink::Rotating(RotatingFile::new(
            &args.rotate,
            args.rotation_limits(),
        )));
    }

    let registry = Arc::new(Scopes::new());
    for s in scopes {
        if !registry.register(s.name(), s.description()) {
            return Err(Error::InvalidScopeName(s.name().to_string()));
        }
    }

    let known = |s: &str| registry.contains(s);
    let flag_error = |flag: &'static str, value: &String| {
        let value = value.clone();
        move |error| Error::Flag { flag, value, error }
    };
    let output = resolve_level_list(&args.output_level, known)
        .map_err(flag_error("log_output_level", &args.output_level))?;
    let stack = resolve_level_list(&args.stacktrace_level, known)
        .map_err(flag_error("log_stacktrace_level", &args.stacktrace_level))?;
    let callers =
        resolve_caller_list(&args.caller, known).map_err(flag_error("log_caller", &args.caller))?;
    registry.apply_levels(&output, ScopeState::set_output_level);
    registry.apply_levels(&stack, ScopeState::set_stack_trace_level);
    registry.apply_callers(&callers);

    let output = Arc::new(Output::new(sinks));
    let layer = LogLayer::new(registry.clone(), output.clone(), args.as_json);
    Ok((
        layer,
        LogHandle {
            scopes: registry,
            output,
        },
    ))
}

/// Configures logging from the flags and installs it as the global `tracing` subscriber (and
/// as the `log` crate's logger). Call once, early in `main`; a second call fails with
/// [`Error::Install`].
pub fn configure(args: &Args, scopes: &[Scope]) -> Result<LogHandle, Error> {
    let (layer, handle) = build_layer(args, scopes)?;
    tracing_subscriber::registry()
        .with(layer)
        .try_init()
        .map_err(|e| Error::Install(e.to_string()))?;
    Ok(handle)
}

#[doc(hidden)]
pub mod __private {
    pub use tracing;
}

/// Logs a fatal message, like `tracing::error!` plus the fatal marker: once written, the
/// outputs are flushed and the process exits with status 1. If the scope's output level is
/// `none` the message is dropped and execution continues, as upstream.
///
/// ```no_run
/// istio_pkg::fatal!("cannot start: {}", "port in use");
/// istio_pkg::fatal!(target: "ads", conn = 3, "stream broken");
/// ```
#[macro_export]
macro_rules! fatal {
    (target: $target:expr, $($arg:tt)+) => {
        $crate::log::__private::tracing::error!(target: $target, istio_fatal = true, $($arg)+)
    };
    ($($arg:tt)+) => {
        $crate::log::__private::tracing::error!(istio_fatal = true, $($arg)+)
    };
}

#[cfg(test)]
mod tests;
