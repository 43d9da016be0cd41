//! istioctl: Istio configuration command line utility.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;

use istioctl::cli::{self, Cli};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return cli::exit_for_parse_error(e),
    };
    cli::run(cli)
}
