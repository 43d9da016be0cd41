//! `istio-clean-iptables`: removes the chains `istio-iptables` installed. See
//! `istio_iptables::clean`.
#![forbid(unsafe_code)]

use std::io;
use std::process::exit;

use istio_iptables::clean::{parse_args, plan, usage, Args};
use istio_iptables::exec::{execute, DryRun, Real, Runner};

fn main() {
    let program = std::env::args()
        .next()
        .unwrap_or_else(|| "istio-clean-iptables".into());
    let dry_run = match parse_args(std::env::args().skip(1)) {
        Args::Run { dry_run } => dry_run,
        Args::Help => {
            eprint!("{}", usage(&program));
            exit(2);
        }
        Args::Bad(msg) => {
            eprintln!("{msg}");
            eprint!("{}", usage(&program));
            exit(2);
        }
    };
    let mut runner: Box<dyn Runner> = if dry_run {
        Box::new(DryRun { out: io::stdout() })
    } else {
        Box::new(Real)
    };
    if let Err(e) = execute(runner.as_mut(), &plan()) {
        eprintln!("panic: {e}");
        exit(2);
    }
}
