//! The istioctl command tree: upstream's global flags and subcommands, and the exit codes.

use std::io::Write;
use std::process::ExitCode;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use istio_pkg::{log, version};

use crate::validate::{Failure, Validator};

/// Exit code for errors without a more specific code (upstream `ExitUnknownError`).
pub const EXIT_UNKNOWN_ERROR: u8 = 1;
/// Exit code for command line mistakes (upstream `ExitIncorrectUsage`).
pub const EXIT_INCORRECT_USAGE: u8 = 64;

/// Istio configuration command line utility for service operators to debug and diagnose their
/// Istio mesh.
#[derive(Debug, Parser)]
#[command(name = "istioctl", about = "Istio control interface.", long_about = None, version = None)]
pub struct Cli {
    /// Kubernetes configuration file
    #[arg(short = 'c', long = "kubeconfig", global = true, default_value = "")]
    pub kubeconfig: String,
    /// The name of the kubeconfig context to use
    #[arg(long = "context", global = true, default_value = "")]
    pub context: String,
    /// Istio system namespace
    #[arg(
        short = 'i',
        long = "istioNamespace",
        global = true,
        default_value = "istio-system"
    )]
    pub istio_namespace: String,
    /// Config namespace
    #[arg(short = 'n', long = "namespace", global = true, default_value = "")]
    pub namespace: String,
    #[command(flatten)]
    pub log: log::Args,
    #[command(subcommand)]
    pub command: Command,
}

/// istioctl's subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate Istio policy and rules
    #[command(
        after_help = "Examples:\n  # Validate bookinfo-gateway.yaml\n  istioctl validate -f bookinfo-gateway.yaml\n\n  \
        # Validate everything under a folder\n  istioctl validate -f samples/\n\n  \
        # Validate current deployments under 'default' namespace within the cluster\n  \
        kubectl get deployments -o yaml | istioctl validate -f -"
    )]
    Validate(ValidateArgs),
    #[command(about = version::ABOUT)]
    Version(version::RemoteArgs),
}

/// Log scopes istioctl's libraries write to.
pub const SCOPES: &[log::Scope] = &[
    log::Scope::new("validation", "CRD validation debugging"),
    log::Scope::new("processing", "Scope for galley processing runtime"),
    log::Scope::new("source", "Scope for galley config sources"),
    log::Scope::new("analysis", "Scope for configuration analysis runtime"),
];

/// istioctl quiets its libraries' chatty scopes unless asked otherwise.
const DEFAULT_LOG_LEVELS: &str =
    "default:info,validation:error,processing:error,source:error,analysis:warn";

/// Log flags upstream hides from istioctl's help.
const HIDDEN_LOG_FLAGS: [&str; 8] = [
    "log_as_json",
    "log_rotate",
    "log_rotate_max_age",
    "log_rotate_max_backups",
    "log_rotate_max_size",
    "log_stacktrace_level",
    "log_target",
    "log_caller",
];

/// The command tree with istioctl's defaults applied (hidden log flags, `version` reporting
/// short and remote by default).
pub fn command() -> clap::Command {
    let mut cmd =
        Cli::command().mut_arg("log_output_level", |a| a.default_value(DEFAULT_LOG_LEVELS));
    for flag in HIDDEN_LOG_FLAGS {
        cmd = cmd.mut_arg(flag, |a| a.hide(true));
    }
    cmd = log::Args::describe_scopes(cmd, SCOPES);
    cmd.mut_subcommand("version", |v| {
        v.mut_arg("short", |a| a.default_value("true"))
            .mut_arg("remote", |a| a.default_value("true"))
    })
}

/// Parses a command line with istioctl's defaults.
pub fn parse<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let matches = command().try_get_matches_from(args)?;
    Cli::from_arg_matches(&matches)
}

/// Flags of `istioctl validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Names of files (or folders) to validate; `-` reads standard input
    #[arg(short = 'f', long = "filename", value_delimiter = ',')]
    pub filename: Vec<String>,
    /// Enable structural validation for policy and telemetry
    #[arg(short = 'x', long = "referential", default_value_t = true, action = clap::ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true")]
    pub referential: bool,
}

/// Maps a command line parse error to upstream's exit codes: unknown commands are usage errors
/// (64), help and version requests succeed.
pub fn exit_for_parse_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    let code = match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => 0,
        ErrorKind::InvalidSubcommand => EXIT_INCORRECT_USAGE,
        _ => EXIT_UNKNOWN_ERROR,
    };
    // Printing can only fail if stderr is closed; there is nothing better to do then.
    let _ = e.print();
    ExitCode::from(code)
}

/// Prints an error the way cobra does for istioctl and returns the exit code.
fn fail(message: &str) -> ExitCode {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "Error: {message}");
    ExitCode::from(EXIT_UNKNOWN_ERROR)
}

/// Why the control plane's version cannot be reported yet.
const NO_REMOTE: &str =
    "cannot query the control plane version: this istioctl has no Kubernetes client yet; \
    use --remote=false for the client version only";

/// Runs a parsed command line.
pub fn run(cli: Cli) -> ExitCode {
    if let Err(e) = log::configure(&cli.log, SCOPES) {
        return fail(&e.to_string());
    }
    match cli.command {
        Command::Version(args) => {
            let mut out = std::io::stdout().lock();
            match version::run_with_remote(
                &args,
                || Err::<version::MeshInfo, _>(NO_REMOTE),
                || Err::<Vec<version::ProxyInfo>, _>(NO_REMOTE),
                &mut out,
            ) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(&e.to_string()),
            }
        }
        Command::Validate(args) => {
            let validator = Validator {
                istio_namespace: cli.istio_namespace,
                default_namespace: if cli.namespace.is_empty() {
                    "default".to_string()
                } else {
                    cli.namespace
                },
                referential: args.referential,
                semantic: true,
            };
            let mut stdin = std::io::stdin().lock();
            match validator.validate_files(&args.filename, &mut stdin) {
                Ok(outcome) => {
                    for w in &outcome.warnings {
                        tracing::warn!("{w}");
                    }
                    let mut err = std::io::stderr().lock();
                    for line in &outcome.lines {
                        let _ = writeln!(err, "{line}");
                    }
                    ExitCode::SUCCESS
                }
                Err(Failure::MissingFilename) => fail(&Failure::MissingFilename.to_string()),
                Err(Failure::Invalid(errors)) => fail(&errors.to_string()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse_like_cobra() {
        let cli = parse([
            "istioctl",
            "validate",
            "-f",
            "a.yaml,b.yaml",
            "--filename=c.yaml",
            "-x=false",
        ])
        .expect("parses");
        let Command::Validate(args) = cli.command else {
            panic!("not validate")
        };
        assert_eq!(args.filename, vec!["a.yaml", "b.yaml", "c.yaml"]);
        assert!(!args.referential);
        let cli = parse(["istioctl", "-i", "mesh", "validate", "-x", "-n", "ns1"]).expect("parses");
        assert_eq!(cli.istio_namespace, "mesh");
        assert_eq!(cli.namespace, "ns1");
        assert_eq!(cli.log.output_level, DEFAULT_LOG_LEVELS);
        let Command::Validate(args) = cli.command else {
            panic!("not validate")
        };
        assert!(args.referential);
        assert!(args.filename.is_empty());
    }

    #[test]
    fn unknown_commands_are_usage_errors() {
        let e = parse(["istioctl", "frobnicate"]).expect_err("unknown");
        assert_eq!(e.kind(), clap::error::ErrorKind::InvalidSubcommand);
    }

    #[test]
    fn version_defaults_to_short_and_remote() {
        let cli = parse(["istioctl", "version"]).expect("parses");
        let Command::Version(args) = cli.command else {
            panic!("not version")
        };
        assert!(args.version.short && args.remote);
        let cli = parse([
            "istioctl",
            "version",
            "--short=false",
            "--remote=false",
            "-o",
            "json",
        ])
        .expect("parses");
        let Command::Version(args) = cli.command else {
            panic!("not version")
        };
        assert!(!args.version.short && !args.remote);
        assert_eq!(args.version.output, "json");
    }

    #[test]
    fn log_flags_are_global_and_mostly_hidden() {
        let cli =
            parse(["istioctl", "validate", "--log_output_level=default:debug"]).expect("parses");
        assert_eq!(cli.log.output_level, "default:debug");
        let help = command().render_help().to_string();
        assert!(help.contains("--log_output_level"));
        assert!(!help.contains("--log_as_json"));
    }
}
