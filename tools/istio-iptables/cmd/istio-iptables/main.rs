//! `istio-iptables`: installs the sidecar's traffic capture rules (run by the `istio-init`
//! container of every injected pod). See the crate `istio_iptables`.
#![forbid(unsafe_code)]

use std::io;
use std::path::Path;
use std::process::exit;

use istio_iptables::builder::{plan, saves};
use istio_iptables::config::{environment, Config};
use istio_iptables::exec::{execute, DryRun, Real, RunError, Runner};
use istio_iptables::{app, check, netif, user, validation};

fn env(key: &str) -> Option<String> {
    std::env::var(key).ok()
}

fn main() {
    let mut cfg = match Config::from_args(std::env::args_os().skip(1), env) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            exit(code);
        }
    };
    let ranges = match check::check(&cfg) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("Error: {e}");
            exit(1);
        }
    };

    // Upstream panics on a failed command; the saves and the validation still run first.
    let mut failure: Option<String> = None;
    if !cfg.skip_rule_apply {
        let mut runner: Box<dyn Runner> = if cfg.dry_run {
            Box::new(DryRun { out: io::stdout() })
        } else {
            Box::new(Real)
        };
        let (uid, pod_ip) = if cfg.dry_run {
            (Ok("0".to_string()), Ok(app::stub_ip(env)))
        } else {
            (
                user::lookup_uid(Path::new("/etc/passwd"), &app::envoy_user(env)),
                netif::local_ip().map(Some),
            )
        };
        let installed = app::complete(&mut cfg, || uid, pod_ip).and_then(|()| {
            print!("{}", environment(env));
            print!("{}", cfg.variables());
            execute(
                runner.as_mut(),
                &plan(&cfg, &ranges, app::redirect_loopback(env)),
            )
            .map_err(|e: RunError| e.0)
        });
        let saved = execute(runner.as_mut(), &saves()).map_err(|e| e.0);
        failure = installed.err().or(saved.err());
    }

    if cfg.run_validation {
        let host_ip = match netif::local_ip() {
            Ok(ip) => ip,
            Err(e) => {
                eprintln!("panic: {e}");
                exit(2);
            }
        };
        if validation::Validator::new(&cfg, host_ip)
            .run(validation::TIMEOUT)
            .is_err()
        {
            exit(istio_iptables::constants::VALIDATION_ERROR_CODE);
        }
    }

    if let Some(f) = failure {
        eprintln!("panic: {f}");
        exit(2);
    }
}
