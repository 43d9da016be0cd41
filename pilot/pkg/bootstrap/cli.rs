//! The `pilot-discovery` command line (upstream `pilot/cmd/pilot-discovery`): root flags
//! (logging, ControlZ, keepalive) and the `discovery`, `request` and `version` subcommands.

use clap::{Parser, Subcommand};

use istio_pkg::{ctrlz, keepalive, log, version};

use super::args::PilotArgs;

/// Istio Pilot provides fleet-wide traffic management capabilities in the Istio Service Mesh.
#[derive(Debug, Parser)]
#[command(
    name = "pilot-discovery",
    about = "Istio Pilot.",
    long_about = None,
    disable_version_flag = true,
    // As pflag: a repeated flag keeps its last value.
    args_override_self = true
)]
pub struct Cli {
    #[command(flatten)]
    pub log: log::Args,
    #[command(flatten)]
    pub ctrlz: ctrlz::Args,
    #[command(flatten)]
    pub keepalive: keepalive::Args,
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start Istio proxy discovery service.
    Discovery(Box<PilotArgs>),
    /// Makes an HTTP request to Pilot metrics/debug endpoint
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

/// Log scopes pilot writes to (upstream's registered scopes).
pub const SCOPES: &[log::Scope] = &[
    log::Scope::new("ads", "ads debugging"),
    log::Scope::new("authn", "authn"),
    log::Scope::new("mcp", "mcp debugging"),
    log::Scope::new("model", "model"),
    log::Scope::new("rbac", "rbac debugging"),
    log::Scope::new("validation", "CRD validation debugging"),
];

/// Parses a command line.
pub fn parse<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    use clap::{CommandFactory, FromArgMatches};
    let cmd = log::Args::describe_scopes(Cli::command(), SCOPES);
    let matches = cmd.try_get_matches_from(args)?;
    Cli::from_arg_matches(&matches)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn chart_command_line_parses() {
        // charts/pilot/templates/deployment.yaml, container `discovery`.
        let cli = parse([
            "pilot-discovery",
            "discovery",
            "--monitoringAddr=:15014",
            "--log_output_level=default:info",
            "--domain",
            "cluster.local",
            "--secureGrpcAddr",
            "",
            "--keepaliveMaxServerConnectionAge",
            "30m",
        ])
        .unwrap();
        assert_eq!(
            cli.keepalive.max_connection_age(),
            Some(Duration::from_secs(1800))
        );
        assert_eq!(cli.log.output_level, "default:info");
        let Command::Discovery(a) = cli.command else {
            panic!("not discovery")
        };
        assert_eq!(a.monitoring_addr, ":15014");
        assert_eq!(a.secure_grpc_addr, "");
    }

    #[test]
    fn request_and_version() {
        let cli = parse(["pilot-discovery", "request", "GET", "/debug/syncz"]).unwrap();
        let Command::Request(r) = cli.command else {
            panic!("not request")
        };
        assert_eq!(
            (r.method.as_str(), r.path.as_str(), r.body),
            ("GET", "/debug/syncz", None)
        );
        assert!(parse(["pilot-discovery", "request", "GET"]).is_err());
        let cli = parse(["pilot-discovery", "version", "-s"]).unwrap();
        assert!(matches!(cli.command, Command::Version(v) if v.short));
        assert!(parse(["pilot-discovery", "discovery", "--bogus"]).is_err());
        // A repeated flag keeps its last value, as pflag does.
        let cli = parse([
            "pilot-discovery",
            "discovery",
            "--domain",
            "a",
            "--domain",
            "b",
        ])
        .unwrap();
        let Command::Discovery(a) = cli.command else {
            panic!("not discovery")
        };
        assert_eq!(a.domain, "b");
    }
}
