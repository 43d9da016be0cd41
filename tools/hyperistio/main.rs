//! hyperistio: the local mesh. Runs the control plane in one process on an embedded default:
//! the bundled `samples/` tree as file config (ServiceEntries become services), the default
//! mesh config, no Kubernetes. Any `pilot-discovery discovery` flag may be added and overrides
//! the defaults, e.g. `hyperistio --configDir my/configs --grpcAddr :16010`.
//!
//! Talk to it like to an in-cluster pilot: Envoy or `pilot-load run` on 127.0.0.1:15010,
//! `curl 127.0.0.1:8080/debug/registryz`, `curl 127.0.0.1:15014/metrics`.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use istio_pilot::bootstrap::cli::{self, Command, SCOPES};
use istio_pilot::bootstrap::server::Server;
use tokio_util::sync::CancellationToken;

/// The samples tree: `$HYPERISTIO_SAMPLES`, else `./samples`, else the source tree's.
fn samples_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("HYPERISTIO_SAMPLES") {
        return PathBuf::from(dir);
    }
    let local = PathBuf::from("samples");
    if local.is_dir() {
        return local;
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../samples")
}

/// The embedded default command line, then the user's flags (later flags win).
fn argv(user: impl Iterator<Item = String>) -> Vec<String> {
    let mut v: Vec<String> = vec![
        "pilot-discovery".into(),
        "discovery".into(),
        "--registries=".into(),
        "--configDir".into(),
        samples_dir().display().to_string(),
        // No mesh files: the default mesh config.
        "--meshConfig=".into(),
        "--networksConfig=".into(),
        // As the charts without control-plane security: no TLS discovery port.
        "--secureGrpcAddr=".into(),
    ];
    v.extend(user);
    v
}

fn main() -> ExitCode {
    let cli = match cli::parse(argv(std::env::args().skip(1))) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let Command::Discovery(args) = cli.command else {
        eprintln!("hyperistio: only discovery flags are accepted");
        return ExitCode::from(2);
    };
    let log_handle = match istio_pkg::log::configure(&cli.log, SCOPES) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("hyperistio: {e}");
            return ExitCode::FAILURE;
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("hyperistio: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async move {
        let shutdown = CancellationToken::new();
        let config_dir = args.config_dir.clone();
        let server = Server::start(*args, cli.keepalive, shutdown.clone()).await?;
        let ctrlz = istio_pkg::ctrlz::run(
            &cli.ctrlz,
            Some(log_handle.clone()),
            Some(server.metrics.clone()),
            shutdown.clone(),
        )
        .await
        .map_err(|e| eprintln!("hyperistio: ControlZ not available: {e}"))
        .ok();
        let l = &server.listening;
        let show = |a: Option<std::net::SocketAddr>| a.map(|a| a.to_string()).unwrap_or("off".into());
        println!(
            "hyperistio: local mesh from {config_dir}\n  ADS (xDS v2 + v3): {}\n  HTTP debug:        {} (try /debug/registryz, /debug/configz, /debug/adsz)\n  monitoring:        {} (/metrics, /version)\n  ControlZ:          {} (/scopez/, /scopej/<scope> to change log levels)\n  load test:         cargo run --release -p pilot-load -- run --addr 127.0.0.1:{} -n 100\nCtrl-C or SIGTERM stops it.",
            show(l.grpc),
            show(l.http),
            show(l.monitoring),
            show(ctrlz.as_ref().map(|c| c.address())),
            l.grpc.map(|a| a.port()).unwrap_or(15010),
        );
        let stop = shutdown.clone();
        tokio::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            stop.cancel();
        });
        let stop = shutdown.clone();
        tokio::spawn(async move {
            if let Ok(mut term) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            {
                term.recv().await;
                stop.cancel();
            }
        });
        let result = server.wait().await;
        if let Some(c) = ctrlz {
            c.stopped().await;
        }
        result
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hyperistio: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_flags_override_the_defaults() {
        let cli = cli::parse(argv(
            ["--configDir".to_string(), "x".to_string()].into_iter(),
        ))
        .unwrap();
        let Command::Discovery(a) = cli.command else {
            panic!()
        };
        assert_eq!(a.config_dir, "x");
        assert_eq!(a.registries, vec![String::new()]);
        let cli = cli::parse(argv(std::iter::empty())).unwrap();
        let Command::Discovery(a) = cli.command else {
            panic!()
        };
        assert!(PathBuf::from(&a.config_dir).ends_with("samples"));
        assert_eq!(a.grpc_addr, ":15010");
    }
}
