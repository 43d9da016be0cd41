//! End-to-end tests: flags → layer → rendered lines.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::{CommandFactory, Parser};
use tracing_subscriber::layer::SubscriberExt;

use super::*;

const ADS: Scope = Scope::new("ads", "ADS debugging");
const MODEL: Scope = Scope::new("model", "Model");
const T: &str = "2019-12-10T10:27:48.366573Z";

#[derive(Parser, Debug)]
#[command(name = "test")]
struct Cli {
    #[command(flatten)]
    log: Args,
    #[command(subcommand)]
    sub: Option<Sub>,
}

#[derive(clap::Subcommand, Debug)]
enum Sub {
    Version,
}

fn parse(args: &[&str]) -> Result<Args, clap::Error> {
    let argv = std::iter::once("test").chain(args.iter().copied());
    Cli::try_parse_from(argv).map(|c| c.log)
}

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Buf {
    fn take(&self) -> String {
        let mut v = self.0.lock().unwrap();
        String::from_utf8(std::mem::take(&mut *v)).unwrap()
    }
}

impl io::Write for Buf {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn fixed_time() -> SystemTime {
    UNIX_EPOCH + Duration::new(1_575_973_668, 366_573_901)
}

/// Runs `f` with a subscriber built from `args`, returning what it logged.
fn capture(args: &Args, f: impl FnOnce(&LogHandle)) -> String {
    let buf = Buf::default();
    let (layer, handle) = build_layer_with_writer(args, &[ADS, MODEL], buf.clone()).unwrap();
    let layer = layer.with_clock(fixed_time);
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || f(&handle));
    buf.take()
}

fn args(flags: &[&str]) -> Args {
    parse(flags).unwrap()
}

// ---- flags ----

#[test]
fn no_flags_equals_default() {
    assert_eq!(args(&[]), Args::default());
    assert_eq!(
        Args::default(),
        Args {
            output_level: "default:info".into(),
            stacktrace_level: "default:none".into(),
            caller: "".into(),
            target: vec!["stdout".into()],
            as_json: false,
            rotate: "".into(),
            rotate_max_age: 30,
            rotate_max_size: 104_857_600,
            rotate_max_backups: 1000,
        }
    );
}

#[test]
fn every_flag_parses_with_go_syntax() {
    let a = args(&[
        "--log_output_level=ads:debug,default:warn",
        "--log_stacktrace_level",
        "default:error",
        "--log_caller=ads,model",
        "--log_target=stderr",
        "--log_target",
        "/tmp/a,b.log",
        "--log_as_json",
        "--log_rotate=/var/log/x.log",
        "--log_rotate_max_age=-1",
        "--log_rotate_max_size",
        "0x10",
        "--log_rotate_max_backups=1_000",
    ]);
    assert_eq!(a.output_level, "ads:debug,default:warn");
    assert_eq!(a.stacktrace_level, "default:error");
    assert_eq!(a.caller, "ads,model");
    // Repeatable, and never split on commas (upstream uses a string-array flag).
    assert_eq!(a.target, ["stderr", "/tmp/a,b.log"]);
    assert!(a.as_json);
    assert_eq!(a.rotate, "/var/log/x.log");
    assert_eq!(a.rotate_max_age, -1);
    assert_eq!(a.rotate_max_size, 16);
    assert_eq!(a.rotate_max_backups, 1000);
}

#[test]
fn bools_ints_and_repeats_follow_pflag() {
    assert!(!args(&["--log_as_json=false"]).as_json);
    assert!(args(&["--log_as_json=T"]).as_json);
    assert!(!args(&["--log_as_json", "--log_as_json=0"]).as_json);
    assert_eq!(
        args(&["--log_output_level=debug", "--log_output_level=ads:warn"]).output_level,
        "ads:warn"
    );
    // Global: accepted after a subcommand.
    let cli = Cli::try_parse_from(["test", "version", "--log_output_level=warn"]).unwrap();
    assert_eq!(cli.log.output_level, "warn");

    let err = parse(&["--log_as_json=yes"]).unwrap_err().to_string();
    assert!(
        err.contains(r#"strconv.ParseBool: parsing "yes": invalid syntax"#),
        "{err}"
    );
    let err = parse(&["--log_rotate_max_age=ten"])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(r#"strconv.ParseInt: parsing "ten": invalid syntax"#),
        "{err}"
    );
}

#[test]
fn help_lists_flags_and_scopes() {
    let cmd = Args::describe_scopes(Cli::command(), &[MODEL, ADS]);
    let help = cmd.clone().render_long_help().to_string();
    for flag in [
        "--log_output_level",
        "--log_stacktrace_level",
        "--log_caller",
        "--log_target",
        "--log_as_json",
        "--log_rotate ",
        "--log_rotate_max_age",
        "--log_rotate_max_size",
        "--log_rotate_max_backups",
        "[default: default:info]",
        "as <scope>:<level>,<scope>:<level>,... A level",
        "[default: 104857600]",
    ] {
        assert!(help.contains(flag), "missing {flag:?} in\n{help}");
    }
    assert_eq!(
        help.matches("none. Scopes: ads, all, default, model.")
            .count()
            + help
                .matches("--log_output_level. Scopes: ads, all, default, model.")
                .count()
            + help
                .matches("for every scope). Scopes: ads, all, default, model.")
                .count(),
        3,
        "{help}"
    );
    // The flattened struct lends no description to the command.
    assert_eq!(Cli::command().get_about(), None);
    // Commands without the flags are left alone.
    let bare = clap::Command::new("bare");
    assert_eq!(
        Args::describe_scopes(bare, &[ADS]).get_arguments().count(),
        0
    );
}

// ---- configuration errors ----

fn build_err(flags: &[&str]) -> String {
    match build_layer_with_writer(&args(flags), &[ADS, MODEL], io::sink()) {
        Ok(_) => panic!("{flags:?} should fail"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_levels_name_flag_and_value() {
    assert_eq!(
        build_err(&["--log_output_level=ads:verbose"]),
        r#"invalid value "ads:verbose" for --log_output_level: invalid output level 'ads:verbose'"#
    );
    assert_eq!(
        build_err(&["--log_output_level=default:info,a:b:c"]),
        r#"invalid value "default:info,a:b:c" for --log_output_level: invalid output level format 'a:b:c'"#
    );
    assert_eq!(
        build_err(&["--log_output_level=mcp:debug"]),
        r#"invalid value "mcp:debug" for --log_output_level: unknown scope 'mcp' specified"#
    );
    assert_eq!(
        build_err(&["--log_output_level="]),
        r#"invalid value "" for --log_output_level: invalid output level ''"#
    );
    assert_eq!(
        build_err(&["--log_stacktrace_level=Error"]),
        r#"invalid value "Error" for --log_stacktrace_level: invalid output level 'Error'"#
    );
    assert_eq!(
        build_err(&["--log_caller=ads,nope"]),
        r#"invalid value "ads,nope" for --log_caller: unknown scope 'nope' specified"#
    );
    match build_layer_with_writer(&Args::default(), &[ADS], io::sink()) {
        Ok(_) => {}
        Err(e) => panic!("{e}"),
    }
    let bad = Scope::new("bad.name", "");
    let err = build_layer_with_writer(&Args::default(), &[bad], io::sink()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "scope name bad.name is invalid, it cannot contain colons, commas, or periods"
    );
}

#[test]
fn unopenable_targets_are_reported_together() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("missing/a.log");
    let a = a.to_str().unwrap();
    let err = build_layer(&args(&["--log_target", a, "--log_target=http://x/y"]), &[])
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(&format!("couldn't open sink \"{a}\": open {a}: ")),
        "{err}"
    );
    assert!(
        err.ends_with(r#"; couldn't open sink "http://x/y": no sink found for scheme "http""#),
        "{err}"
    );
}

#[test]
fn all_override_and_unknown_after_it() {
    // `all` sets everything and stops: the bogus entry after it is ignored.
    let out = capture(
        &args(&["--log_output_level=ads:debug,all:warn,bogus:x"]),
        |h| {
            assert_eq!(h.scope("ads").unwrap().output_level, Level::Warn);
            assert_eq!(h.scope("default").unwrap().output_level, Level::Warn);
            tracing::info!("hidden");
            tracing::warn!(target: "model", "shown");
        },
    );
    assert_eq!(out, format!("{T}\twarn\tmodel\tshown\n"));
}

// ---- rendering ----

#[test]
fn console_lines_match_upstream() {
    let out = capture(&args(&["--log_output_level=ads:debug"]), |_| {
        tracing::info!("starting {}", "pilot");
        tracing::debug!("hidden: default is at info");
        tracing::debug!(target: "ads", conn = 7, node = "sidecar~10.0.0.1", "new connection");
        tracing::warn!(target: "ads", ok = true, ratio = 0.5, big = u64::MAX, "odd");
        tracing::error!(target: "model", err = %io::Error::other("boom"), "failed");
        tracing::info!(target: "ads", "");
    });
    assert_eq!(
        out,
        format!(
            "{T}\tinfo\tstarting pilot\n\
             {T}\tdebug\tads\tnew connection\t{{\"conn\": 7, \"node\": \"sidecar~10.0.0.1\"}}\n\
             {T}\twarn\tads\todd\t{{\"ok\": true, \"ratio\": 0.5, \"big\": 18446744073709551615}}\n\
             {T}\terror\tmodel\tfailed\t{{\"err\": \"boom\"}}\n\
             {T}\tinfo\tads\t\n"
        )
    );
}

#[test]
fn json_lines_match_upstream() {
    let out = capture(&args(&["--log_as_json", "--log_caller=ads"]), |_| {
        tracing::info!("hello \"world\"");
        tracing::warn!(target: "ads", conn = -3, "push\tfailed");
    });
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        format!(r#"{{"level":"info","time":"{T}","msg":"hello \"world\""}}"#)
    );
    let caller = lines[1]
        .split(r#""caller":""#)
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap();
    assert!(caller.starts_with("log/tests.rs:"), "{caller}");
    assert_eq!(
        lines[1],
        format!(
            r#"{{"level":"warn","time":"{T}","scope":"ads","caller":"{caller}","msg":"push\tfailed","conn":-3}}"#
        )
    );
    assert_eq!(lines.len(), 2);
}

#[test]
fn caller_column_uses_short_path() {
    let mut expected_line = 0;
    let out = capture(&args(&["--log_caller=default"]), |_| {
        expected_line = line!() + 1;
        tracing::info!("here");
        tracing::info!(target: "ads", "no caller for ads");
    });
    assert_eq!(
        out,
        format!(
            "{T}\tinfo\tlog/tests.rs:{expected_line}\there\n{T}\tinfo\tads\tno caller for ads\n"
        )
    );
}

#[test]
fn foreign_targets_use_default_scope_and_trace_is_dropped() {
    let out = capture(
        &args(&["--log_output_level=default:debug,ads:none"]),
        |_| {
            tracing::debug!(target: "h2::proto", "frame");
            tracing::trace!("never: istio has no trace level");
            tracing::error!(target: "ads", "silenced scope");
        },
    );
    assert_eq!(out, format!("{T}\tdebug\tframe\n"));
}

#[test]
fn span_fields_precede_event_fields() {
    let out = capture(&Args::default(), |_| {
        let outer = tracing::info_span!("conn", id = 3);
        let _o = outer.enter();
        let inner = tracing::info_span!("stream", kind = "eds", late = tracing::field::Empty);
        inner.record("late", 9);
        let _i = inner.enter();
        tracing::info!(version = "v1", "pushed");
    });
    assert_eq!(
        out,
        format!("{T}\tinfo\tpushed\t{{\"id\": 3, \"kind\": \"eds\", \"late\": 9, \"version\": \"v1\"}}\n")
    );
}

// ---- stack traces ----

#[test]
fn stack_traces_follow_levels() {
    let out = capture(&args(&["--log_stacktrace_level=default:error"]), |_| {
        tracing::warn!("no stack");
        tracing::error!("with stack");
    });
    let (first, rest) = out.split_once('\n').unwrap();
    assert_eq!(first, format!("{T}\twarn\tno stack"));
    assert!(
        rest.starts_with(&format!("{T}\terror\twith stack\n")),
        "{rest}"
    );
    assert!(rest.lines().count() > 1, "stack lines expected: {rest}");
}

#[test]
fn scoped_stack_traces_keep_upstream_threshold() {
    // For non-default scopes upstream checks warn/info/debug against the error threshold.
    let out = capture(&args(&["--log_stacktrace_level=ads:error"]), |_| {
        tracing::info!(target: "ads", "info with stack");
    });
    assert!(
        out.starts_with(&format!("{T}\tinfo\tads\tinfo with stack\n")),
        "{out}"
    );
    assert!(out.lines().count() > 1, "{out}");

    let out = capture(&args(&["--log_stacktrace_level=ads:fatal"]), |_| {
        tracing::error!(target: "ads", "no stack below fatal");
    });
    assert_eq!(out, format!("{T}\terror\tads\tno stack below fatal\n"));
}

#[test]
fn json_stack_is_a_field() {
    let out = capture(
        &args(&["--log_stacktrace_level=error", "--log_as_json"]),
        |_| {
            tracing::error!("bad");
        },
    );
    assert!(
        out.starts_with(&format!(
            r#"{{"level":"error","time":"{T}","msg":"bad","stack":""#
        )),
        "{out}"
    );
    assert_eq!(out.lines().count(), 1);
}

// ---- fatal ----

#[test]
fn fatal_writes_then_runs_exit_hook() {
    let exits = Arc::new(AtomicUsize::new(0));
    let buf = Buf::default();
    let flags = args(&["--log_output_level=ads:fatal"]);
    let (layer, _h) = build_layer_with_writer(&flags, &[ADS], buf.clone()).unwrap();
    let e = exits.clone();
    let layer = layer.with_clock(fixed_time).with_fatal_hook(move || {
        e.fetch_add(1, Ordering::SeqCst);
    });
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        tracing::error!(target: "ads", "below fatal: dropped");
        crate::fatal!(target: "ads", code = 2, "cannot continue");
        crate::fatal!("default scope {}", "too");
    });
    assert_eq!(exits.load(Ordering::SeqCst), 2);
    assert_eq!(
        buf.take(),
        format!(
            "{T}\tfatal\tads\tcannot continue\t{{\"code\": 2}}\n{T}\tfatal\tdefault scope too\n"
        )
    );

    // With output `none`, a fatal message is dropped and nothing exits.
    let exits = Arc::new(AtomicUsize::new(0));
    let e = exits.clone();
    let (layer, _h) =
        build_layer_with_writer(&args(&["--log_output_level=none"]), &[], io::sink()).unwrap();
    let layer = layer.with_fatal_hook(move || {
        e.fetch_add(1, Ordering::SeqCst);
    });
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        crate::fatal!("ignored");
    });
    assert_eq!(exits.load(Ordering::SeqCst), 0);
}

// ---- run-time changes ----

#[test]
fn levels_change_at_run_time() {
    let out = capture(&Args::default(), |h| {
        tracing::debug!(target: "ads", "before: hidden");
        h.set_output_level("ads", Level::Debug).unwrap();
        tracing::debug!(target: "ads", "after: shown");
        h.set_output_levels("all:error").unwrap();
        tracing::warn!(target: "ads", "hidden again");
        tracing::warn!("hidden too");
        h.set_log_callers("model", true).unwrap();
        h.set_stack_trace_level("model", Level::None).unwrap();
        h.set_output_levels("model:info").unwrap();
        tracing::info!(target: "model", "with caller");

        assert_eq!(
            h.set_output_levels("ads:debug,nope:info"),
            Err(SpecError::UnknownScope("nope".into()))
        );
        assert_eq!(
            h.scope("ads").unwrap().output_level,
            Level::Error,
            "unchanged on error"
        );
        assert_eq!(
            h.set_output_level("nope", Level::Info)
                .unwrap_err()
                .to_string(),
            "unknown scope 'nope'"
        );
        h.set_stack_trace_levels("ads:warn").unwrap();
        assert_eq!(h.scope("ads").unwrap().stack_trace_level, Level::Warn);
    });
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], format!("{T}\tdebug\tads\tafter: shown"));
    assert!(
        lines[1].starts_with(&format!("{T}\tinfo\tmodel\tlog/tests.rs:")),
        "{out}"
    );
    assert!(lines[1].ends_with("\twith caller"), "{out}");
    assert_eq!(lines.len(), 2);
}

#[test]
fn scopes_registered_later_start_at_info() {
    let out = capture(&args(&["--log_output_level=all:debug"]), |h| {
        h.register_scope("mcp", "MCP").unwrap();
        tracing::debug!(target: "mcp", "hidden: new scopes start at info");
        tracing::info!(target: "mcp", "shown");
        assert!(h.register_scope("bad,name", "").is_err());
        let names: Vec<String> = h.scopes().into_iter().map(|s| s.name).collect();
        assert_eq!(names, ["ads", "default", "mcp", "model"]);
        assert_eq!(
            h.scope("mcp").unwrap(),
            ScopeInfo {
                name: "mcp".into(),
                description: "MCP".into(),
                output_level: Level::Info,
                stack_trace_level: Level::None,
                log_callers: false,
            }
        );
    });
    assert_eq!(out, format!("{T}\tinfo\tmcp\tshown\n"));
}

// ---- outputs ----

#[test]
fn rotate_file_receives_the_same_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let rotate = tmp.path().join("logs/pilot.log");
    let flags = args(&["--log_rotate", rotate.to_str().unwrap()]);
    let out = capture(&flags, |h| {
        tracing::info!("to both");
        h.sync().unwrap();
    });
    assert_eq!(out, format!("{T}\tinfo\tto both\n"));
    assert_eq!(std::fs::read_to_string(&rotate).unwrap(), out);
}

#[test]
fn configure_installs_once() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("global.log");
    let flags = args(&["--log_target", file.to_str().unwrap()]);
    let handle = configure(&flags, &[ADS]).unwrap();
    // Only this test touches the global dispatcher; the others use thread-local ones.
    std::thread::spawn(|| tracing::info!(target: "ads", "global"))
        .join()
        .unwrap();
    handle.sync().unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.ends_with("\tinfo\tads\tglobal\n"), "{text}");
    assert_eq!(text.len(), T.len() + "\tinfo\tads\tglobal\n".len());

    let again = configure(&flags, &[ADS]).unwrap_err();
    assert!(matches!(again, Error::Install(_)), "{again}");
}
