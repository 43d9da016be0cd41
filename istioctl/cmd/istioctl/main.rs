//! istioctl: Istio configuration command line utility.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use istioctl::cli;

fn main() -> ExitCode {
    let cli = match cli::parse(std::env::args_os()) {
        Ok(cli) => cli,
        Err(e) => return cli::exit_for_parse_error(e),
    };
    cli::run(cli)
}
