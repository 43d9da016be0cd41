//! The `pilot-agent` command line (upstream `pilot/cmd/pilot-agent/main.go`): the logging
//! flags, `proxy [sidecar|router]` with every upstream flag, `request` and `version`.
//!
//! Flags follow pflag: `--flag value` and `--flag=value`, booleans only as `--flag` or
//! `--flag=false`, Go durations (`45s`, `1m0s`), integers with Go's base prefixes, and a
//! repeated flag keeps its last value (string lists append). As upstream, `proxy` ignores
//! flags it does not know, with pflag's rule for their values: `--foo=bar` drops only itself,
//! `--foo bar` also drops `bar` unless it starts with `-`.

use std::ffi::OsString;

use clap::{ArgAction, Parser, Subcommand};

use istio_pkg::config::protojson::parse_go_duration;
use istio_pkg::gostr::{parse_go_bool, parse_go_int, quote};
use istio_pkg::{log, version};

/// Istio Pilot agent runs in the sidecar or gateway container and bootstraps Envoy.
#[derive(Debug, Parser)]
#[command(
    name = "pilot-agent",
    about = "Istio Pilot agent.",
    long_about = "Istio Pilot agent runs in the sidecar or gateway container and bootstraps Envoy.",
    disable_version_flag = true,
    args_override_self = true
)]
pub struct Cli {
    #[command(flatten)]
    pub log: log::Args,
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Envoy proxy agent
    Proxy(Box<ProxyArgs>),
    /// Makes an HTTP request to the Envoy admin API
    Request(RequestArgs),
    #[command(about = version::ABOUT)]
    Version(version::Args),
}

/// `request <method> <path> [<body>]`.
#[derive(Debug, clap::Args)]
pub struct RequestArgs {
    pub method: String,
    pub path: String,
    pub body: Option<String>,
}

/// Flags of `proxy` (upstream's persistent flags of the proxy command, same names, defaults
/// and types).
#[derive(Debug, Clone, clap::Args)]
pub struct ProxyArgs {
    /// Proxy role and any further arguments: `sidecar` (default) or `router`.
    #[arg(value_name = "ROLE", num_args = 0.., allow_hyphen_values = false)]
    pub args: Vec<String>,

    #[arg(
        long = "serviceregistry",
        default_value = "Kubernetes",
        allow_hyphen_values = true,
        help = "Select the platform for service registry, options are {Kubernetes, Consul, Mock}"
    )]
    pub service_registry: String,
    #[arg(
        long = "ip",
        default_value = "",
        hide_default_value = true,
        allow_hyphen_values = true,
        help = "Proxy IP address. If not provided uses ${INSTANCE_IP} environment variable."
    )]
    pub ip: String,
    #[arg(
        long = "id",
        default_value = "",
        hide_default_value = true,
        allow_hyphen_values = true,
        help = "Proxy unique ID. If not provided uses ${POD_NAME}.${POD_NAMESPACE} from environment variables"
    )]
    pub id: String,
    #[arg(
        long = "domain",
        default_value = "",
        hide_default_value = true,
        allow_hyphen_values = true,
        help = "DNS domain suffix. If not provided uses ${POD_NAMESPACE}.svc.cluster.local"
    )]
    pub domain: String,
    #[arg(
        long = "trust-domain",
        default_value = "",
        hide_default_value = true,
        allow_hyphen_values = true,
        help = "The domain to use for identities"
    )]
    pub trust_domain: String,
    #[arg(
        long = "pilotIdentity",
        default_value = "",
        hide_default_value = true,
        allow_hyphen_values = true,
        help = "The identity used as the suffix for pilot's spiffe SAN "
    )]
    pub pilot_identity: String,
    #[arg(
        long = "mixerIdentity",
        default_value = "",
        hide_default_value = true,
        allow_hyphen_values = true,
        help = "The identity used as the suffix for mixer's spiffe SAN. This would only be used by pilot all other proxy would get this value from pilot"
    )]
    pub mixer_identity: String,
    #[arg(long = "statusPort", default_value = "0", value_parser = parse_go_uint16, allow_hyphen_values = true,
        help = "HTTP Port on which to serve pilot agent status. If zero, agent status will not be provided.")]
    pub status_port: u16,
    /// Comma-separated values; repeating the flag appends.
    #[arg(long = "applicationPorts", action = ArgAction::Append, value_parser = parse_csv, allow_hyphen_values = true,
        help = "Ports exposed by the application. Used to determine that Envoy is configured and ready to receive traffic.")]
    pub application_ports: Vec<Vec<String>>,
    #[arg(
        long = "configPath",
        default_value = "/etc/istio/proxy",
        allow_hyphen_values = true,
        help = "Path to the generated configuration file directory"
    )]
    pub config_path: String,
    #[arg(
        long = "binaryPath",
        default_value = "/usr/local/bin/envoy",
        allow_hyphen_values = true,
        help = "Path to the proxy binary"
    )]
    pub binary_path: String,
    #[arg(
        long = "serviceCluster",
        default_value = "istio-proxy",
        allow_hyphen_values = true,
        help = "Service cluster"
    )]
    pub service_cluster: String,
    #[arg(long = "drainDuration", default_value = "45s", value_parser = parse_go_duration, allow_hyphen_values = true,
        help = "The time in seconds that Envoy will drain connections during a hot restart")]
    pub drain_duration: i64,
    #[arg(long = "parentShutdownDuration", default_value = "1m0s", value_parser = parse_go_duration, allow_hyphen_values = true,
        help = "The time in seconds that Envoy will wait before shutting down the parent process during a hot restart")]
    pub parent_shutdown_duration: i64,
    #[arg(
        long = "discoveryAddress",
        default_value = "istio-pilot:15010",
        allow_hyphen_values = true,
        help = "Address of the discovery service exposing xDS (e.g. istio-pilot:8080)"
    )]
    pub discovery_address: String,
    #[arg(
        long = "zipkinAddress",
        default_value = "",
        hide_default_value = true,
        allow_hyphen_values = true,
        help = "Address of the Zipkin service (e.g. zipkin:9411)"
    )]
    pub zipkin_address: String,
    #[arg(
        long = "lightstepAddress",
        default_value = "",
        hide_default_value = true,
        allow_hyphen_values = true,
        help = "Address of the LightStep Satellite pool"
    )]
    pub lightstep_address: String,
    #[arg(
        long = "lightstepAccessToken",
        default_value = "",
        hide_default_value = true,
        allow_hyphen_values = true,
        help = "Access Token for LightStep Satellite pool"
    )]
    pub lightstep_access_token: String,
    #[arg(long = "lightstepSecure", value_name = "BOOL", num_args = 0..=1, require_equals = true,
        default_missing_value = "true", default_value = "false", value_parser = parse_go_bool,
        action = ArgAction::Set, help = "Should connection to the LightStep Satellite pool be secure")]
    pub lightstep_secure: bool,
    #[arg(
        long = "lightstepCacertPath",
        default_value = "",
        hide_default_value = true,
        allow_hyphen_values = true,
        help = "Path to the trusted cacert used to authenticate the pool"
    )]
    pub lightstep_cacert_path: String,
    #[arg(
        long = "datadogAgentAddress",
        default_value = "",
        hide_default_value = true,
        allow_hyphen_values = true,
        help = "Address of the Datadog Agent"
    )]
    pub datadog_agent_address: String,
    #[arg(long = "connectTimeout", default_value = "1s", value_parser = parse_go_duration, allow_hyphen_values = true,
        help = "Connection timeout used by Envoy for supporting services")]
    pub connect_timeout: i64,
    #[arg(
        long = "statsdUdpAddress",
        default_value = "",
        hide_default_value = true,
        allow_hyphen_values = true,
        help = "IP Address and Port of a statsd UDP listener (e.g. 10.75.241.127:9125)"
    )]
    pub statsd_udp_address: String,
    #[arg(
        long = "envoyMetricsService",
        default_value = "",
        hide_default_value = true,
        allow_hyphen_values = true,
        help = "Settings of an Envoy gRPC Metrics Service API implementation"
    )]
    pub envoy_metrics_service: String,
    #[arg(
        long = "envoyAccessLogService",
        default_value = "",
        hide_default_value = true,
        allow_hyphen_values = true,
        help = "Settings of an Envoy gRPC Access Log Service API implementation"
    )]
    pub envoy_access_log_service: String,
    #[arg(long = "proxyAdminPort", default_value = "15000", value_parser = parse_go_uint16, allow_hyphen_values = true,
        help = "Port on which Envoy should listen for administrative commands")]
    pub proxy_admin_port: u16,
    #[arg(
        long = "controlPlaneAuthPolicy",
        default_value = "NONE",
        allow_hyphen_values = true,
        help = "Control Plane Authentication Policy"
    )]
    pub control_plane_auth_policy: String,
    #[arg(
        long = "customConfigFile",
        default_value = "",
        hide_default_value = true,
        allow_hyphen_values = true,
        help = "Path to the custom configuration file"
    )]
    pub custom_config_file: String,
    #[arg(
        long = "proxyLogLevel",
        default_value = "warning",
        allow_hyphen_values = true,
        help = "The log level used to start the Envoy proxy (choose from {trace, debug, info, warning, error, critical, off})"
    )]
    pub proxy_log_level: String,
    #[arg(
        long = "proxyComponentLogLevel",
        default_value = "misc:error",
        allow_hyphen_values = true,
        help = "The component log level used to start the Envoy proxy"
    )]
    pub proxy_component_log_level: String,
    #[arg(
        long = "dnsRefreshRate",
        default_value = "300s",
        allow_hyphen_values = true,
        help = "The dns_refresh_rate for bootstrap STRICT_DNS clusters"
    )]
    pub dns_refresh_rate: String,
    #[arg(long = "concurrency", default_value = "0", value_parser = parse_go_int, allow_hyphen_values = true,
        help = "number of worker threads to run")]
    pub concurrency: i64,
    #[arg(
        long = "templateFile",
        default_value = "",
        hide_default_value = true,
        allow_hyphen_values = true,
        help = "Go template bootstrap config"
    )]
    pub template_file: String,
    #[arg(long = "disableInternalTelemetry", value_name = "BOOL", num_args = 0..=1, require_equals = true,
        default_missing_value = "true", default_value = "false", value_parser = parse_go_bool,
        action = ArgAction::Set, help = "Disable internal telemetry")]
    pub disable_internal_telemetry: bool,
    #[arg(long = "controlPlaneBootstrap", value_name = "BOOL", num_args = 0..=1, require_equals = true,
        default_missing_value = "true", default_value = "true", value_parser = parse_go_bool,
        action = ArgAction::Set,
        help = "Process bootstrap provided via templateFile to be used by control plane components.")]
    pub control_plane_bootstrap: bool,
}

impl ProxyArgs {
    /// The `--applicationPorts` values, CSV-split, across every occurrence.
    pub fn application_ports(&self) -> Vec<String> {
        self.application_ports.iter().flatten().cloned().collect()
    }
}

/// pflag's `Uint16Var`: `strconv.ParseUint(s, 0, 16)`.
pub fn parse_go_uint16(s: &str) -> Result<u16, String> {
    let syntax = || format!("strconv.ParseUint: parsing {}: invalid syntax", quote(s));
    if s.starts_with(['-', '+']) {
        return Err(syntax());
    }
    let v = parse_go_int(s).map_err(|e| e.replace("strconv.ParseInt", "strconv.ParseUint"))?;
    u16::try_from(v).map_err(|_| {
        format!(
            "strconv.ParseUint: parsing {}: value out of range",
            quote(s)
        )
    })
}

/// One record of Go's `encoding/csv` (pflag's string slices): comma-separated fields, a field
/// may be double-quoted (`""` for a quote). An empty value is an empty list.
pub fn parse_csv(s: &str) -> Result<Vec<String>, String> {
    if s.is_empty() {
        return Ok(Vec::new());
    }
    // Only the first record counts.
    let line = s.split('\n').next().unwrap_or("");
    let line = line.strip_suffix('\r').unwrap_or(line);
    let mut fields = Vec::new();
    let mut chars = line.char_indices().peekable();
    let column = |i: usize| i + 1;
    loop {
        let mut field = String::new();
        if let Some(&(_, '"')) = chars.peek() {
            let (start, _) = chars.next().unwrap_or((0, '"'));
            loop {
                match chars.next() {
                    Some((_, '"')) => match chars.peek() {
                        Some(&(_, '"')) => {
                            chars.next();
                            field.push('"');
                        }
                        Some(&(_, ',')) | None => break,
                        Some(&(i, _)) => {
                            return Err(format!(
                                "parse error on line 1, column {}: extraneous or missing \" in quoted-field",
                                column(i)
                            ))
                        }
                    },
                    Some((_, c)) => field.push(c),
                    None => {
                        return Err(format!(
                            "parse error on line 1, column {}: extraneous or missing \" in quoted-field",
                            column(start.max(line.len()))
                        ))
                    }
                }
            }
        } else {
            while let Some(&(i, c)) = chars.peek() {
                match c {
                    ',' => break,
                    '"' => {
                        return Err(format!(
                            "parse error on line 1, column {}: bare \" in non-quoted-field",
                            column(i)
                        ))
                    }
                    _ => {
                        field.push(c);
                        chars.next();
                    }
                }
            }
        }
        fields.push(field);
        match chars.next() {
            Some((_, ',')) => continue,
            _ => return Ok(fields),
        }
    }
}

/// A parsed command line.
#[derive(Debug)]
pub struct Parsed {
    pub cli: Cli,
    /// `FLAG: --name="value"` for every `proxy` flag (empty for other subcommands).
    pub flag_lines: Vec<String>,
    /// Unknown flags (and their values) that `proxy` ignored.
    pub ignored: Vec<String>,
}

/// Parses a command line, dropping the flags `proxy` does not know.
pub fn parse<I, T>(args: I) -> Result<Parsed, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    use clap::{CommandFactory, FromArgMatches};
    let cmd = log::Args::describe_scopes(Cli::command(), &[]);
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let (args, ignored) = strip_unknown_flags(&cmd, args);
    let matches = cmd.clone().try_get_matches_from(args)?;
    let cli = Cli::from_arg_matches(&matches)?;
    let flag_lines = match (matches.subcommand(), cmd.find_subcommand("proxy")) {
        (Some(("proxy", m)), Some(proxy)) => flag_lines(m, proxy),
        _ => Vec::new(),
    };
    Ok(Parsed {
        cli,
        flag_lines,
        ignored: ignored
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect(),
    })
}

/// Whether an argument takes its value from the next word (`--flag value`).
fn takes_separate_value(arg: &clap::Arg) -> bool {
    arg.get_action().takes_values()
        && !arg.is_require_equals_set()
        && arg.get_num_args().is_none_or(|n| n.min_values() > 0)
}

/// Long and short names of the flags of `cmds`, with whether each takes a separate value.
struct Flags(Vec<(String, bool)>);

impl Flags {
    fn of(cmds: &[&clap::Command]) -> Flags {
        let mut v = Vec::new();
        for a in cmds.iter().flat_map(|c| c.get_arguments()) {
            let separate = takes_separate_value(a);
            if let Some(l) = a.get_long() {
                v.push((l.to_owned(), separate));
            }
            if let Some(c) = a.get_short() {
                v.push((c.to_string(), separate));
            }
        }
        v.push(("help".into(), false));
        v.push(("h".into(), false));
        Flags(v)
    }

    /// `Some(takes a separate value)` for a known flag.
    fn get(&self, name: &str) -> Option<bool> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, s)| *s)
    }
}

/// The flag name of a word (`--name[=v]`, `-n[=v]`) and whether it carries its value.
fn flag_name(word: &str) -> Option<(&str, bool)> {
    let body = word
        .strip_prefix("--")
        .or_else(|| word.strip_prefix('-'))
        .filter(|b| !b.is_empty())?;
    Some(match body.split_once('=') {
        Some((n, _)) => (n, true),
        None => (body, false),
    })
}

/// Index of the subcommand word, found as cobra does: words that look like flags are skipped
/// with the next word when they may take a value.
fn subcommand_index(root: &Flags, args: &[OsString]) -> Option<usize> {
    let mut i = 1;
    while i < args.len() {
        let word = args[i].to_str()?;
        if word == "--" {
            return None;
        }
        match flag_name(word) {
            Some((name, has_value)) => {
                let no_value = has_value || root.get(name) == Some(false);
                i += if no_value { 1 } else { 2 };
            }
            None => return Some(i),
        }
    }
    None
}

/// Prepares a `proxy` command line for clap as cobra would parse it: every flag, before or
/// after the word `proxy`, belongs to the proxy command, and flags it does not know are
/// dropped with pflag's rules (`FParseErrWhitelist.UnknownFlags`): `--foo=bar` drops only
/// itself, `--foo bar` also drops `bar` unless it starts with `-`. Other subcommands reject
/// unknown flags, as upstream's do, so their command lines are left alone. Returns the
/// arguments for clap and the dropped words.
pub fn strip_unknown_flags(
    root: &clap::Command,
    args: Vec<OsString>,
) -> (Vec<OsString>, Vec<OsString>) {
    let Some(proxy) = root.find_subcommand("proxy") else {
        return (args, Vec::new());
    };
    let Some(sub) = subcommand_index(&Flags::of(&[root]), &args) else {
        return (args, Vec::new());
    };
    if args[sub].to_str() != Some("proxy") {
        return (args, Vec::new());
    }
    let known = Flags::of(&[root, proxy]);
    let mut out = vec![args[0].clone(), args[sub].clone()];
    let mut ignored = Vec::new();
    let rest: Vec<OsString> = args
        .into_iter()
        .enumerate()
        .filter(|(i, _)| *i != 0 && *i != sub)
        .map(|(_, a)| a)
        .collect();
    let mut i = 0;
    while i < rest.len() {
        let word = &rest[i];
        i += 1;
        let Some(text) = word.to_str() else {
            out.push(word.clone());
            continue;
        };
        if text == "--" {
            out.extend(rest[i - 1..].iter().cloned());
            break;
        }
        let Some((name, has_value)) = flag_name(text) else {
            out.push(word.clone());
            continue;
        };
        match known.get(name) {
            Some(separate) => {
                out.push(word.clone());
                if separate && !has_value && i < rest.len() {
                    out.push(rest[i].clone());
                    i += 1;
                }
            }
            None => {
                ignored.push(word.clone());
                let next_is_value = rest
                    .get(i)
                    .is_some_and(|n| !n.to_str().is_some_and(|n| n.starts_with('-')));
                if !has_value && next_is_value {
                    ignored.push(rest[i].clone());
                    i += 1;
                }
            }
        }
    }
    (out, ignored)
}

/// pflag's `String()` of each `proxy` flag, sorted by name, for the start-up log
/// (`FLAG: --name="value"`).
pub fn flag_lines(matches: &clap::ArgMatches, proxy: &clap::Command) -> Vec<String> {
    let mut lines: Vec<(String, String)> = proxy
        .get_arguments()
        .filter_map(|a| {
            let long = a.get_long()?;
            let id = a.get_id().as_str();
            let values: Vec<String> = matches
                .get_raw(id)
                .map(|v| v.map(|s| s.to_string_lossy().into_owned()).collect())
                .unwrap_or_default();
            let shown = if long == "applicationPorts" {
                format!("[{}]", values.join(","))
            } else {
                values.last().cloned().unwrap_or_default()
            };
            Some((long.to_owned(), format!("FLAG: --{long}={}", quote(&shown))))
        })
        .collect();
    lines.sort();
    lines.into_iter().map(|(_, l)| l).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxy(args: &[&str]) -> (ProxyArgs, Vec<String>) {
        let mut argv = vec!["pilot-agent"];
        argv.extend_from_slice(args);
        let p = parse(argv).unwrap();
        match p.cli.command {
            Command::Proxy(a) => (*a, p.ignored),
            other => panic!("not proxy: {other:?}"),
        }
    }

    #[test]
    fn defaults_are_upstreams() {
        let (a, ignored) = proxy(&["proxy"]);
        assert!(ignored.is_empty());
        assert_eq!(a.args, Vec::<String>::new());
        assert_eq!(a.service_registry, "Kubernetes");
        assert_eq!(a.status_port, 0);
        assert!(a.application_ports().is_empty());
        assert_eq!(a.config_path, "/etc/istio/proxy");
        assert_eq!(a.binary_path, "/usr/local/bin/envoy");
        assert_eq!(a.service_cluster, "istio-proxy");
        assert_eq!(a.drain_duration, 45_000_000_000);
        assert_eq!(a.parent_shutdown_duration, 60_000_000_000);
        assert_eq!(a.discovery_address, "istio-pilot:15010");
        assert_eq!(a.connect_timeout, 1_000_000_000);
        assert_eq!(a.proxy_admin_port, 15000);
        assert_eq!(a.control_plane_auth_policy, "NONE");
        assert_eq!(a.proxy_log_level, "warning");
        assert_eq!(a.proxy_component_log_level, "misc:error");
        assert_eq!(a.dns_refresh_rate, "300s");
        assert_eq!(a.concurrency, 0);
        assert!(!a.lightstep_secure && !a.disable_internal_telemetry);
        assert!(a.control_plane_bootstrap);
    }

    #[test]
    fn injector_command_line() {
        // install/kubernetes/helm/istio/files/injection-template.yaml, as rendered.
        let (a, ignored) = proxy(&[
            "proxy",
            "sidecar",
            "--domain",
            "default.svc.cluster.local",
            "--configPath",
            "/etc/istio/proxy",
            "--binaryPath",
            "/usr/local/bin/envoy",
            "--serviceCluster",
            "reviews.default",
            "--drainDuration",
            "45s",
            "--parentShutdownDuration",
            "1m0s",
            "--discoveryAddress",
            "istio-pilot.istio-system:15010",
            "--zipkinAddress",
            "zipkin.istio-system:9411",
            "--proxyLogLevel=warning",
            "--proxyComponentLogLevel=misc:error",
            "--dnsRefreshRate",
            "300s",
            "--connectTimeout",
            "10s",
            "--proxyAdminPort",
            "15000",
            "--concurrency",
            "2",
            "--controlPlaneAuthPolicy",
            "NONE",
            "--statusPort",
            "15020",
            "--applicationPorts",
            "9080",
            "--trust-domain=cluster.local",
        ]);
        assert!(ignored.is_empty(), "{ignored:?}");
        assert_eq!(a.args, ["sidecar"]);
        assert_eq!(a.domain, "default.svc.cluster.local");
        assert_eq!(a.service_cluster, "reviews.default");
        assert_eq!(a.parent_shutdown_duration, 60_000_000_000);
        assert_eq!(a.connect_timeout, 10_000_000_000);
        assert_eq!(a.concurrency, 2);
        assert_eq!(a.status_port, 15020);
        assert_eq!(a.application_ports(), ["9080"]);
        assert_eq!(a.trust_domain, "cluster.local");
    }

    #[test]
    fn unknown_flags_are_dropped_as_pflag_does() {
        let (a, ignored) = proxy(&[
            "proxy",
            "--foo=bar",
            "router",
            "--unknown",
            "value",
            "--serviceCluster",
            "gw",
            "--other",
            "--configPath",
            "/x",
            "-v",
            "2",
            "--last",
        ]);
        assert_eq!(a.args, ["router"]);
        assert_eq!(a.service_cluster, "gw");
        assert_eq!(a.config_path, "/x");
        assert_eq!(
            ignored,
            [
                "--foo=bar",
                "--unknown",
                "value",
                "--other",
                "-v",
                "2",
                "--last"
            ]
        );
        // `--foo word` takes the word even when it was meant as the role.
        let (a, ignored) = proxy(&["proxy", "--foo", "router"]);
        assert!(a.args.is_empty());
        assert_eq!(ignored, ["--foo", "router"]);
        // Flags before the subcommand belong to it too.
        let (a, _) = proxy(&[
            "--serviceCluster",
            "x",
            "proxy",
            "--log_output_level=default:debug",
        ]);
        assert_eq!(a.service_cluster, "x");
        // Other subcommands reject unknown flags.
        assert!(parse(["pilot-agent", "version", "--foo"]).is_err());
        assert!(parse(["pilot-agent", "request", "--foo", "GET", "/"]).is_err());
        // Everything after `--` is positional.
        let (a, ignored) = proxy(&["proxy", "--", "--foo"]);
        assert_eq!(a.args, ["--foo"]);
        assert!(ignored.is_empty());
    }

    #[test]
    fn pflag_value_syntax() {
        let (a, _) = proxy(&[
            "proxy",
            "--lightstepSecure",
            "--controlPlaneBootstrap=false",
            "--disableInternalTelemetry=T",
            "--statusPort=0x3aac",
            "--concurrency",
            "-1",
            "--drainDuration=1m30s",
            "--parentShutdownDuration",
            "-5s",
            "--applicationPorts",
            "80,\"90\"",
            "--applicationPorts=100",
            "--ip",
            "1.1.1.1",
            "--ip",
            "2.2.2.2",
        ]);
        assert!(a.lightstep_secure && a.disable_internal_telemetry);
        assert!(!a.control_plane_bootstrap);
        assert_eq!(a.status_port, 15020);
        assert_eq!(a.concurrency, -1);
        assert_eq!(a.drain_duration, 90_000_000_000);
        assert_eq!(a.parent_shutdown_duration, -5_000_000_000);
        assert_eq!(a.application_ports(), ["80", "90", "100"]);
        assert_eq!(a.ip, "2.2.2.2");
        // A bool flag does not take the next word.
        let (a, _) = proxy(&["proxy", "--lightstepSecure", "false"]);
        assert!(a.lightstep_secure);
        assert_eq!(a.args, ["false"]);
    }

    #[test]
    fn bad_values_name_the_flag() {
        let err = |args: &[&str]| {
            let mut argv = vec!["pilot-agent", "proxy"];
            argv.extend_from_slice(args);
            parse(argv).unwrap_err().to_string()
        };
        let e = err(&["--statusPort", "70000"]);
        assert!(
            e.contains("--statusPort") && e.contains("value out of range"),
            "{e}"
        );
        let e = err(&["--proxyAdminPort=abc"]);
        assert!(
            e.contains("--proxyAdminPort") && e.contains("invalid syntax"),
            "{e}"
        );
        let e = err(&["--drainDuration", "45"]);
        assert!(e.contains("--drainDuration"), "{e}");
        let e = err(&["--applicationPorts", "80,\"9"]);
        assert!(e.contains("--applicationPorts"), "{e}");
        let e = err(&["--lightstepSecure=maybe"]);
        assert!(
            e.contains("--lightstepSecure") && e.contains("ParseBool"),
            "{e}"
        );
    }

    #[test]
    fn request_and_version() {
        let p = parse(["pilot-agent", "request", "GET", "stats"]).unwrap();
        let Command::Request(r) = p.cli.command else {
            panic!("not request")
        };
        assert_eq!(
            (r.method.as_str(), r.path.as_str(), r.body),
            ("GET", "stats", None)
        );
        assert!(parse(["pilot-agent", "request", "GET"]).is_err());
        let p = parse(["pilot-agent", "version", "-s"]).unwrap();
        assert!(matches!(p.cli.command, Command::Version(v) if v.short));
        let p = parse(["pilot-agent", "--log_output_level=default:debug", "version"]).unwrap();
        assert_eq!(p.cli.log.output_level, "default:debug");
    }

    #[test]
    fn csv_and_uint16() {
        assert_eq!(parse_csv("").unwrap(), Vec::<String>::new());
        assert_eq!(parse_csv("a,b").unwrap(), ["a", "b"]);
        assert_eq!(parse_csv("a,,b").unwrap(), ["a", "", "b"]);
        assert_eq!(parse_csv("\"a,b\",c").unwrap(), ["a,b", "c"]);
        assert_eq!(parse_csv("\"a\"\"b\"").unwrap(), ["a\"b"]);
        assert_eq!(parse_csv("a,b\nc,d").unwrap(), ["a", "b"]);
        assert!(parse_csv("a\"b").unwrap_err().contains("bare \""));
        assert!(parse_csv("\"ab")
            .unwrap_err()
            .contains("extraneous or missing"));
        assert_eq!(parse_go_uint16("15020"), Ok(15020));
        assert_eq!(parse_go_uint16("0x10"), Ok(16));
        assert_eq!(
            parse_go_uint16("-1").unwrap_err(),
            "strconv.ParseUint: parsing \"-1\": invalid syntax"
        );
        assert_eq!(
            parse_go_uint16("65536").unwrap_err(),
            "strconv.ParseUint: parsing \"65536\": value out of range"
        );
    }

    #[test]
    fn flag_lines_for_the_log() {
        let p = parse(["pilot-agent", "proxy", "--serviceCluster", "a\"b"]).unwrap();
        assert!(p
            .flag_lines
            .contains(&"FLAG: --serviceCluster=\"a\\\"b\"".to_string()));
        assert!(p
            .flag_lines
            .contains(&"FLAG: --applicationPorts=\"[]\"".to_string()));
        let mut sorted = p.flag_lines.clone();
        sorted.sort();
        assert_eq!(sorted, p.flag_lines);
    }
}
