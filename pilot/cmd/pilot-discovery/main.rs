//! pilot-discovery: Istio Pilot, the service discovery and xDS server.
#![forbid(unsafe_code)]

use std::io::Write as _;
use std::process::ExitCode;

use istio_pilot::bootstrap::cli::{self, Command, SCOPES};
use istio_pilot::bootstrap::server::Server;
use istio_pilot::request;
use istio_pkg::{ctrlz, log, version};
use tokio_util::sync::CancellationToken;

/// Upstream exits with `os.Exit(-1)`.
const EXIT_FAILURE: u8 = 255;

fn main() -> ExitCode {
    let cli = match cli::parse(std::env::args_os()) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_FAILURE } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match cli.command {
        Command::Version(args) => {
            let mut out = std::io::stdout().lock();
            match version::run(&args, &mut out) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(&e.to_string()),
            }
        }
        Command::Request(r) => {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => return fail(&e.to_string()),
            };
            let cmd = request::Command::new("127.0.0.1:15014");
            match rt.block_on(cmd.send(&r.method, &r.path, r.body.as_deref().unwrap_or(""))) {
                Ok(body) => {
                    println!("{body}");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e.to_string()),
            }
        }
        Command::Discovery(args) => {
            let log_handle = match log::configure(&cli.log, SCOPES) {
                Ok(h) => h,
                Err(e) => return fail(&e.to_string()),
            };
            let rt = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => return fail(&e.to_string()),
            };
            let result = rt.block_on(async move {
                let shutdown = CancellationToken::new();
                let server = Server::start(*args, cli.keepalive, shutdown.clone())
                    .await
                    .map_err(|e| anyhow::anyhow!("failed to create discovery service: {e:#}"))?;
                // As upstream, pilot carries on without ControlZ if it cannot listen.
                let metrics = server.metrics.clone();
                let ctrlz = match ctrlz::run(
                    &cli.ctrlz,
                    Some(log_handle.clone()),
                    Some(metrics),
                    shutdown.clone(),
                )
                .await
                {
                    Ok(c) => {
                        tracing::info!("ControlZ available at {}", c.address());
                        Some(c)
                    }
                    Err(e) => {
                        tracing::error!("Unable to initialize ControlZ: {e}");
                        None
                    }
                };
                let stop = shutdown.clone();
                tokio::spawn(async move {
                    wait_for_signal().await;
                    tracing::info!("received termination signal; shutting down");
                    stop.cancel();
                });
                let result = server.wait().await;
                if let Some(c) = ctrlz {
                    c.stopped().await;
                }
                result
            });
            match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(&format!("{e:#}")),
            }
        }
    }
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

fn fail(message: &str) -> ExitCode {
    tracing::error!("{message}");
    let _ = writeln!(std::io::stderr().lock(), "Error: {message}");
    ExitCode::from(EXIT_FAILURE)
}
