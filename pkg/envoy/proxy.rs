//! Envoy as the agent's [`Proxy`] (upstream `pkg/envoy/proxy.go`): the command line of each
//! epoch, the bootstrap file it starts from, and the process itself.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::admin;
use super::agent::{EpochConfig, Proxy, RunError};
use super::bootstrap::{self, BootstrapWriter};
use crate::gostr;

/// The bootstrap Envoy is hot-restarted into when pilot-agent shuts down: no listeners, so
/// the previous epoch drains.
pub const DRAIN_FILE: &str = "/var/lib/istio/envoy/envoy_bootstrap_drain.json";

/// Envoy's `--max-obj-name-len` unless the proxy config says otherwise.
pub const DEFAULT_STAT_NAME_LENGTH: i32 = 189;

/// How the agent runs Envoy (upstream `envoy.ProxyConfig`).
#[derive(Debug, Clone)]
pub struct EnvoyConfig {
    /// The bootstrap inputs, including the proxy configuration (`binaryPath`, `configPath`,
    /// durations, `customConfigFile`, admin port, concurrency).
    pub bootstrap: bootstrap::Config,
    /// `-l` (`--proxyLogLevel`); omitted when empty.
    pub log_level: String,
    /// `--component-log-level` (`--proxyComponentLogLevel`); omitted when empty.
    pub component_log_level: String,
    /// A file whose contents are passed as `--config-yaml` (`ISTIO_BOOTSTRAP_OVERRIDE`);
    /// none when empty.
    pub bootstrap_override: String,
    /// The bootstrap of the drain epoch ([`DRAIN_FILE`]).
    pub drain_file: PathBuf,
}

/// Runs Envoy processes.
pub struct Envoy {
    config: EnvoyConfig,
    writer: Box<dyn BootstrapWriter>,
    admin_address: String,
}

impl Envoy {
    pub fn new(config: EnvoyConfig, writer: Box<dyn BootstrapWriter>) -> Envoy {
        let admin_address = format!("127.0.0.1:{}", config.bootstrap.proxy.proxy_admin_port);
        Envoy {
            config,
            writer,
            admin_address,
        }
    }

    pub fn config(&self) -> &EnvoyConfig {
        &self.config
    }

    /// Envoy's command line for `epoch` started from `config_file`, in upstream's order.
    pub fn args(&self, config_file: &str, epoch: u32) -> Vec<String> {
        let proxy = &self.config.bootstrap.proxy;
        let ip_version = if is_ipv6_proxy(&self.config.bootstrap.node_ips) {
            "v6"
        } else {
            "v4"
        };
        let seconds = |d: &Option<pbjson_types::Duration>| d.as_ref().map_or(0, |d| d.seconds);
        let mut args: Vec<String> = vec![
            "-c".into(),
            config_file.into(),
            "--restart-epoch".into(),
            epoch.to_string(),
            "--drain-time-s".into(),
            seconds(&proxy.drain_duration).to_string(),
            "--parent-shutdown-time-s".into(),
            seconds(&proxy.parent_shutdown_duration).to_string(),
            "--service-cluster".into(),
            proxy.service_cluster.clone(),
            "--service-node".into(),
            self.config.bootstrap.node.clone(),
            "--max-obj-name-len".into(),
            proxy.stat_name_length.to_string(),
            "--local-address-ip-version".into(),
            ip_version.into(),
            "--log-format".into(),
            format!("[Envoy (Epoch {epoch})] [%Y-%m-%d %T.%e][%t][%l][%n] %v"),
        ];
        if !self.config.log_level.is_empty() {
            args.extend(["-l".into(), self.config.log_level.clone()]);
        }
        if !self.config.component_log_level.is_empty() {
            args.extend([
                "--component-log-level".into(),
                self.config.component_log_level.clone(),
            ]);
        }
        if !self.config.bootstrap_override.is_empty() {
            match std::fs::read_to_string(&self.config.bootstrap_override) {
                Ok(yaml) => args.extend(["--config-yaml".into(), yaml]),
                Err(e) => tracing::warn!(
                    "Failed to read bootstrap override {}, {e}",
                    self.config.bootstrap_override
                ),
            }
        }
        if proxy.concurrency > 0 {
            args.extend(["--concurrency".into(), proxy.concurrency.to_string()]);
        }
        args
    }

    /// The bootstrap file of an epoch: the drain bootstrap, the custom file, or a generated one.
    fn bootstrap_file(&self, config: &EpochConfig, epoch: u32) -> Result<String, RunError> {
        let custom = &self.config.bootstrap.proxy.custom_config_file;
        Ok(match config {
            EpochConfig::Drain => self.config.drain_file.to_string_lossy().into_owned(),
            // Certificates are still watched: a change restarts Envoy with the same file.
            EpochConfig::Certs(_) if !custom.is_empty() => custom.clone(),
            EpochConfig::Certs(_) => self
                .writer
                .create_file_for_epoch(epoch, &self.config.bootstrap)?
                .to_string_lossy()
                .into_owned(),
        })
    }
}

impl Proxy for Envoy {
    async fn is_live(&self) -> bool {
        match admin::server_state(&self.admin_address, Duration::from_secs(2)).await {
            Ok(admin::ServerState::Live) => true,
            Ok(state) => {
                tracing::info!("envoy server not yet live, state: {state}");
                false
            }
            Err(e) => {
                tracing::info!(
                    "failed retrieving server from Envoy on port {}: {e}",
                    self.config.bootstrap.proxy.proxy_admin_port
                );
                false
            }
        }
    }

    async fn run(
        &self,
        config: &EpochConfig,
        epoch: u32,
        abort: CancellationToken,
    ) -> Result<(), RunError> {
        let file = self.bootstrap_file(config, epoch)?;
        let args = self.args(&file, epoch);
        tracing::info!("Envoy command: [{}]", args.join(" "));
        let binary = &self.config.bootstrap.proxy.binary_path;
        let mut child = tokio::process::Command::new(binary)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| RunError::Spawn {
                binary: binary.clone(),
                source,
            })?;
        tokio::select! {
            status = child.wait() => match status {
                Ok(s) if s.success() => Ok(()),
                Ok(s) => Err(RunError::Exit(s)),
                Err(e) => Err(RunError::Wait(e)),
            },
            _ = abort.cancelled() => {
                tracing::warn!("Aborting epoch {epoch}");
                if let Err(e) = child.start_kill() {
                    tracing::warn!("killing epoch {epoch} caused an error {e}");
                }
                let _ = child.wait().await;
                Err(RunError::Aborted)
            }
        }
    }

    fn cleanup(&self, epoch: u32) {
        let path = bootstrap::config_file(&self.config.bootstrap.proxy.config_path, epoch);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            // Custom and drain bootstraps leave no per-epoch file.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tracing::debug!("no config file {} for epoch {epoch}", path.display())
            }
            Err(e) => tracing::warn!(
                "Failed to delete config file {} for {epoch}, {e}",
                path.display()
            ),
        }
    }
}

/// Whether the proxy runs IPv6 only: no address of the node is IPv4 (addresses that do not
/// parse are skipped).
pub fn is_ipv6_proxy(ips: &[String]) -> bool {
    !ips.iter()
        .filter_map(|ip| gostr::parse_ip(ip))
        .any(|ip| gostr::is_ipv4(&ip))
}

#[cfg(test)]
mod tests {
    use super::*;
    use istio_api::istio::mesh::v1alpha1::ProxyConfig;

    fn envoy(mutate: impl FnOnce(&mut EnvoyConfig)) -> Envoy {
        let mut config = EnvoyConfig {
            bootstrap: bootstrap::Config {
                node: "sidecar~10.1.1.1~pod.ns~ns.svc.cluster.local".into(),
                node_ips: vec!["10.1.1.1".into()],
                proxy: ProxyConfig {
                    config_path: "/etc/istio/proxy".into(),
                    service_cluster: "reviews.ns".into(),
                    drain_duration: Some(pbjson_types::Duration {
                        seconds: 45,
                        nanos: 0,
                    }),
                    parent_shutdown_duration: Some(pbjson_types::Duration {
                        seconds: 60,
                        nanos: 500_000_000,
                    }),
                    stat_name_length: DEFAULT_STAT_NAME_LENGTH,
                    proxy_admin_port: 15000,
                    ..Default::default()
                },
                ..Default::default()
            },
            log_level: "warning".into(),
            component_log_level: "misc:error".into(),
            bootstrap_override: String::new(),
            drain_file: DRAIN_FILE.into(),
        };
        mutate(&mut config);
        Envoy::new(config, Box::new(bootstrap::TemplateUnavailable))
    }

    #[test]
    fn command_line_in_upstream_order() {
        let e = envoy(|_| {});
        assert_eq!(
            e.args("/etc/istio/proxy/envoy-rev0.json", 0),
            [
                "-c",
                "/etc/istio/proxy/envoy-rev0.json",
                "--restart-epoch",
                "0",
                "--drain-time-s",
                "45",
                "--parent-shutdown-time-s",
                "60",
                "--service-cluster",
                "reviews.ns",
                "--service-node",
                "sidecar~10.1.1.1~pod.ns~ns.svc.cluster.local",
                "--max-obj-name-len",
                "189",
                "--local-address-ip-version",
                "v4",
                "--log-format",
                "[Envoy (Epoch 0)] [%Y-%m-%d %T.%e][%t][%l][%n] %v",
                "-l",
                "warning",
                "--component-log-level",
                "misc:error",
            ]
        );
    }

    #[test]
    fn optional_arguments() {
        let dir = tempfile::tempdir().unwrap();
        let over = dir.path().join("override.yaml");
        std::fs::write(&over, "admin: {}\n").unwrap();
        let e = envoy(|c| {
            c.log_level.clear();
            c.component_log_level.clear();
            c.bootstrap.proxy.concurrency = 2;
            c.bootstrap.node_ips = vec!["fd00::1".into(), "fe80::1".into()];
            c.bootstrap_override = over.to_string_lossy().into_owned();
        });
        let args = e.args("x.json", 3);
        assert_eq!(
            args[14..],
            [
                "--local-address-ip-version",
                "v6",
                "--log-format",
                "[Envoy (Epoch 3)] [%Y-%m-%d %T.%e][%t][%l][%n] %v",
                "--config-yaml",
                "admin: {}\n",
                "--concurrency",
                "2",
            ]
        );
        // An override that cannot be read is left out.
        let e = envoy(|c| c.bootstrap_override = "/nonexistent/override".into());
        assert!(!e.args("x.json", 0).contains(&"--config-yaml".to_string()));
    }

    #[test]
    fn ipv6_detection() {
        let v =
            |ips: &[&str]| is_ipv6_proxy(&ips.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert!(v(&["::1", "fd00::2"]));
        assert!(!v(&["fd00::2", "10.0.0.1"]));
        assert!(!v(&["::ffff:10.0.0.1"]));
        assert!(v(&["garbage", "fd00::2"]));
    }

    #[test]
    fn bootstrap_file_per_config() {
        let e = envoy(|_| {});
        assert_eq!(
            e.bootstrap_file(&EpochConfig::Drain, 1).unwrap(),
            DRAIN_FILE
        );
        assert!(matches!(
            e.bootstrap_file(&EpochConfig::Certs(vec![]), 0),
            Err(RunError::Bootstrap(bootstrap::Error::Unavailable))
        ));
        let e = envoy(|c| c.bootstrap.proxy.custom_config_file = "/etc/custom.json".into());
        assert_eq!(
            e.bootstrap_file(&EpochConfig::Certs(vec![]), 0).unwrap(),
            "/etc/custom.json"
        );
    }

    #[tokio::test]
    async fn runs_and_aborts_the_process() {
        // `sh -c <file> <args>` runs the "file" as a script.
        let e = envoy(|c| {
            c.bootstrap.proxy.custom_config_file = "true".into();
            c.bootstrap.proxy.binary_path = "/bin/sh".into();
        });
        e.run(&EpochConfig::Certs(vec![]), 0, CancellationToken::new())
            .await
            .unwrap();
        let e = envoy(|c| {
            c.bootstrap.proxy.custom_config_file = "sleep 30".into();
            c.bootstrap.proxy.binary_path = "/bin/sh".into();
        });
        let abort = CancellationToken::new();
        let certs = EpochConfig::Certs(vec![]);
        let (r, ()) = tokio::join!(e.run(&certs, 0, abort.clone()), async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            abort.cancel();
        });
        assert!(matches!(r, Err(RunError::Aborted)));
        let e = envoy(|c| {
            c.bootstrap.proxy.custom_config_file = "exit 7".into();
            c.bootstrap.proxy.binary_path = "/bin/sh".into();
        });
        let r = e
            .run(&EpochConfig::Certs(vec![]), 0, CancellationToken::new())
            .await;
        assert_eq!(r.unwrap_err().to_string(), "exit status 7");
        let e = envoy(|c| {
            c.bootstrap.proxy.custom_config_file = "/dev/null".into();
            c.bootstrap.proxy.binary_path = "/nonexistent/envoy".into();
        });
        let r = e
            .run(&EpochConfig::Certs(vec![]), 0, CancellationToken::new())
            .await;
        assert!(r
            .unwrap_err()
            .to_string()
            .starts_with("fork/exec /nonexistent/envoy: "),);
    }
}
