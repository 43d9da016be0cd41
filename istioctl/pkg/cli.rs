//! The istioctl command tree: upstream's global flags and subcommands, and the exit codes.

use std::io::Write;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

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

/// Runs a parsed command line.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Validate(args) => {
            let validator = Validator {
                istio_namespace: cli.istio_namespace,
                default_namespace: if cli.namespace.is_empty() {
                    "default".to_string()
                } else {
                    cli.namespace
                },
                referential: args.referential,
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
        let cli = Cli::try_parse_from([
            "istioctl",
            "validate",
            "-f",
            "a.yaml,b.yaml",
            "--filename=c.yaml",
            "-x=false",
        ])
        .expect("parses");
        let Command::Validate(args) = cli.command;
        assert_eq!(args.filename, vec!["a.yaml", "b.yaml", "c.yaml"]);
        assert!(!args.referential);
        let cli = Cli::try_parse_from(["istioctl", "-i", "mesh", "validate", "-x", "-n", "ns1"])
            .expect("parses");
        assert_eq!(cli.istio_namespace, "mesh");
        assert_eq!(cli.namespace, "ns1");
        let Command::Validate(args) = cli.command;
        assert!(args.referential);
        assert!(args.filename.is_empty());
    }

    #[test]
    fn unknown_commands_are_usage_errors() {
        let e = Cli::try_parse_from(["istioctl", "frobnicate"]).expect_err("unknown");
        assert_eq!(e.kind(), clap::error::ErrorKind::InvalidSubcommand);
    }
}
