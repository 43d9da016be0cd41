//! pilot-agent: runs in the sidecar and gateway containers, starts Envoy and restarts it when
//! its certificates change, and serves the pod's status port (upstream
//! `pilot/cmd/pilot-agent`).
#![forbid(unsafe_code)]

mod cli;
mod options;
mod status;

use std::io::Write as _;
use std::net::IpAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use istio_pilot::request;
use istio_pkg::envoy::{bootstrap, proxy::DRAIN_FILE, watcher, Agent, Envoy, EnvoyConfig, Outcome};
use istio_pkg::{log, version};

use cli::{Command, ProxyArgs};
use options::AgentEnv;

/// Upstream exits with `os.Exit(-1)` when a command fails.
const EXIT_FAILURE: u8 = 255;
/// Upstream exits with 1 when the bootstrap config cannot be generated.
const EXIT_BOOTSTRAP: u8 = 1;

/// How long to wait for each certificate before starting Envoy with mutual TLS.
const CERT_WAIT: Duration = Duration::from_secs(120);
/// How long a control plane proxy waits for the SDS socket.
const SDS_UDS_WAIT: Duration = Duration::from_secs(60);

fn main() -> ExitCode {
    let parsed = match cli::parse(std::env::args_os()) {
        Ok(p) => p,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_FAILURE } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match parsed.cli.command {
        Command::Version(args) => {
            let mut out = std::io::stdout().lock();
            match version::run(&args, &mut out) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(&e.to_string(), EXIT_FAILURE),
            }
        }
        Command::Request(r) => {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => return fail(&e.to_string(), EXIT_FAILURE),
            };
            // Only Envoy's output goes to stdout: istioctl reads it as JSON.
            let cmd = request::Command::new("localhost:15000");
            match rt.block_on(cmd.send(&r.method, &r.path, r.body.as_deref().unwrap_or(""))) {
                Ok(body) => {
                    println!("{body}");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e.to_string(), EXIT_FAILURE),
            }
        }
        Command::Proxy(args) => {
            if let Err(e) = log::configure(&parsed.cli.log, &[]) {
                return fail(&e.to_string(), EXIT_FAILURE);
            }
            for line in &parsed.flag_lines {
                tracing::info!("{line}");
            }
            if !parsed.ignored.is_empty() {
                tracing::debug!("ignoring unknown flags {:?}", parsed.ignored);
            }
            let rt = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => return fail(&e.to_string(), EXIT_FAILURE),
            };
            match rt.block_on(proxy(*args)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(ProxyError::Bootstrap(e)) => fail(&e, EXIT_BOOTSTRAP),
                Err(ProxyError::Other(e)) => fail(&format!("{e:#}"), EXIT_FAILURE),
            }
        }
    }
}

enum ProxyError {
    Bootstrap(String),
    Other(anyhow::Error),
}

impl From<anyhow::Error> for ProxyError {
    fn from(e: anyhow::Error) -> Self {
        ProxyError::Other(e)
    }
}

/// The node's own addresses: every non-loopback interface address.
fn private_ips() -> Vec<IpAddr> {
    match istio_iptables::netif::interface_addrs() {
        Ok(addrs) => {
            let ips: Vec<IpAddr> = addrs
                .into_iter()
                .filter(|a| !a.is_loopback() && !a.is_unspecified())
                .collect();
            tracing::info!("Obtained private IP {ips:?}");
            ips
        }
        Err(e) => {
            tracing::warn!("cannot list the node's addresses: {e}");
            Vec::new()
        }
    }
}

async fn proxy(args: ProxyArgs) -> Result<(), ProxyError> {
    // A signal or /quitquitquit drains and stops the proxy; `stopped` then ends the servers.
    let shutdown = CancellationToken::new();
    let stopped = CancellationToken::new();
    tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            wait_for_signal().await;
            tracing::info!("received termination signal; shutting down");
            shutdown.cancel();
        }
    });

    tracing::info!("Version {}", version::info().long_form());
    let env = AgentEnv::from_process();
    for w in &env.warnings {
        tracing::warn!("{w}");
    }
    let process_env = bootstrap::process_env();
    let settings = options::settings(&args, &env, &private_ips(), &process_env).await?;
    tracing::info!("Proxy role: {:?}", settings.role);

    let sds = options::detect_sds(
        env.sds_enabled,
        args.control_plane_bootstrap,
        &env.sds_uds_path,
        options::TRUSTWORTHY_JWT_PATH,
        SDS_UDS_WAIT,
    );
    let (sds_enabled, sds_token_path) = tokio::select! {
        r = sds => r,
        _ = shutdown.cancelled() => return Ok(()),
    };
    // Envoy needs the mounted certificates for mutual TLS: wait for them (not with SDS).
    if (settings.control_plane_auth || settings.remote_service_tls || env.auto_mtls_enabled)
        && !sds_enabled
    {
        tracing::info!("Monitored certs: {:?}", settings.certs_to_watch);
        for cert in &settings.certs_to_watch {
            let cert = cert.to_string_lossy();
            tokio::select! {
                _ = options::wait_for_file(&cert, CERT_WAIT) => {}
                _ = shutdown.cancelled() => return Ok(()),
            }
        }
    }
    let (sds_uds_path, sds_token_path) = if settings.control_plane_auth && sds_enabled {
        (env.sds_uds_path.clone(), sds_token_path)
    } else {
        (String::new(), String::new())
    };

    if shutdown.is_cancelled() {
        // Stopped before Envoy was started: nothing to drain.
        return Ok(());
    }

    let status_task = match settings.status.clone() {
        None => None,
        Some(config) => {
            let server = Arc::new(status::Server::new(config)?);
            match server.bind().await {
                Ok(listener) => Some(tokio::spawn(server.run(
                    listener,
                    stopped.clone(),
                    shutdown.clone(),
                ))),
                Err(e) => {
                    tracing::error!("Error listening on status port: {e}");
                    None
                }
            }
        }
    };

    let envoy = Envoy::new(
        EnvoyConfig {
            bootstrap: bootstrap::Config {
                node: settings.role.service_node(),
                dns_refresh_rate: args.dns_refresh_rate.clone(),
                proxy: settings.proxy.clone(),
                pilot_subject_alt_name: settings.pilot_san.clone(),
                mixer_subject_alt_name: settings.mixer_san.clone(),
                node_ips: settings.role.ip_addresses.clone(),
                pod_name: env.pod_name.clone(),
                pod_namespace: env.pod_namespace.clone(),
                pod_ip: settings.pod_ip,
                sds_uds_path,
                sds_token_path,
                control_plane_auth: settings.control_plane_auth,
                disable_report_calls: args.disable_internal_telemetry,
                metadata: settings.metadata.clone(),
                local_env: process_env,
            },
            log_level: args.proxy_log_level.clone(),
            component_log_level: args.proxy_component_log_level.clone(),
            bootstrap_override: env.bootstrap_override.clone(),
            drain_file: DRAIN_FILE.into(),
        },
        Box::new(bootstrap::TemplateUnavailable),
    );
    let agent = Agent::new(envoy, env.termination_drain_duration);
    let watcher = tokio::spawn(watcher::run(
        settings.certs_to_watch.clone(),
        watcher::DEFAULT_MIN_DELAY,
        agent.handle(),
        stopped.clone(),
    ));

    let outcome = agent.run(shutdown).await;
    stopped.cancel();
    if let Some(t) = status_task {
        let _ = t.await;
    }
    let _ = watcher.await;
    match outcome {
        Ok(Outcome::Terminated) | Ok(Outcome::Exited { result: Ok(()), .. }) => Ok(()),
        Ok(Outcome::Exited {
            epoch,
            result: Err(e),
        }) => Err(anyhow::anyhow!("Envoy exited: epoch {epoch} exited with error: {e}").into()),
        Err(e) => Err(ProxyError::Bootstrap(e.to_string())),
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

fn fail(message: &str, code: u8) -> ExitCode {
    tracing::error!("{message}");
    let _ = writeln!(std::io::stderr().lock(), "Error: {message}");
    ExitCode::from(code)
}
