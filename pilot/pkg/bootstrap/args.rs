//! The flags of `pilot-discovery discovery` (upstream `pilot/cmd/pilot-discovery/main.go` and
//! `bootstrap.PilotArgs`), with upstream's names, shorthands and defaults.

use std::time::Duration;

use istio_pkg::keepalive;

/// Registry names accepted by `--registries`.
pub const REGISTRIES: &[&str] = &["Kubernetes", "Consul", "MCP", "Mock"];

/// `pilot-discovery discovery` flags.
#[derive(clap::Args, Clone, Debug, PartialEq)]
pub struct PilotArgs {
    /// Comma separated list of platform service registries to read from (choose one or more
    /// from {Kubernetes, Consul, MCP, Mock})
    #[arg(
        long = "registries",
        value_delimiter = ',',
        default_value = "Kubernetes"
    )]
    pub registries: Vec<String>,

    /// Namespace for ConfigMap which stores clusters configs
    #[arg(long = "clusterRegistriesNamespace", default_value = "")]
    pub cluster_registries_namespace: String,

    /// Use a Kubernetes configuration file instead of in-cluster configuration
    #[arg(long = "kubeconfig", default_value = "")]
    pub kubeconfig: String,

    /// File name for Istio mesh configuration. If not specified, a default mesh will be used.
    #[arg(long = "meshConfig", default_value = "/etc/istio/config/mesh")]
    pub mesh_config: String,

    /// File name for Istio mesh networks configuration. If not specified, a default mesh
    /// networks will be used.
    #[arg(
        long = "networksConfig",
        default_value = "/etc/istio/config/meshNetworks"
    )]
    pub networks_config: String,

    /// Select a namespace where the controller resides. If not set, uses ${POD_NAMESPACE}
    /// environment variable
    #[arg(short = 'n', long = "namespace", default_value = "")]
    pub namespace: String,

    /// comma separated list of networking plugins to enable
    #[arg(
        long = "plugins",
        value_delimiter = ',',
        default_value = "authn,authz,health,mixer"
    )]
    pub plugins: Vec<String>,

    /// Max message size received by MCP's grpc client
    #[arg(long = "mcpMaxMsgSize", default_value_t = 4 * 1024 * 1024)]
    pub mcp_max_msg_size: i64,

    /// Initial window size for MCP's gRPC connection
    #[arg(long = "mcpInitialWindowSize", default_value_t = 1024 * 1024)]
    pub mcp_initial_window_size: i64,

    /// Initial connection window size for MCP's gRPC connection
    #[arg(long = "mcpInitialConnWindowSize", default_value_t = 1024 * 1024)]
    pub mcp_initial_conn_window_size: i64,

    /// Disable discovery service from verifying the existence of CRDs at startup and then
    /// installing if not detected. It is recommended to be disable for highly available setups.
    #[arg(long = "disable-install-crds", default_value_t = false, num_args = 0..=1, default_missing_value = "true", value_parser = parse_bool)]
    pub disable_install_crds: bool,

    /// Directory to watch for updates to config yaml files. If specified, the files will be
    /// used as the source of config, rather than a CRD client.
    #[arg(long = "configDir", default_value = "")]
    pub config_dir: String,

    /// Restrict the applications namespace the controller manages; if not set, controller
    /// watches all namespaces
    #[arg(short = 'a', long = "appNamespace", default_value = "")]
    pub app_namespace: String,

    /// Controller resync interval
    #[arg(long = "resync", default_value = "1m0s", value_parser = keepalive::parse_duration)]
    pub resync: Duration,

    /// DNS domain suffix
    #[arg(long = "domain", default_value = "cluster.local")]
    pub domain: String,

    /// The domain serves to identify the system with spiffe
    #[arg(long = "trust-domain", default_value = "")]
    pub trust_domain: String,

    /// URL for the Consul server
    #[arg(long = "consulserverURL", default_value = "")]
    pub consul_server_url: String,

    /// Interval (in seconds) for polling the Consul service registry
    #[arg(long = "consulserverInterval", default_value = "2s", value_parser = keepalive::parse_duration)]
    pub consul_server_interval: Duration,

    /// Discovery service HTTP address
    #[arg(long = "httpAddr", default_value = ":8080")]
    pub http_addr: String,

    /// Discovery service grpc address
    #[arg(long = "grpcAddr", default_value = ":15010")]
    pub grpc_addr: String,

    /// Discovery service grpc address, with https
    #[arg(long = "secureGrpcAddr", default_value = ":15012")]
    pub secure_grpc_addr: String,

    /// HTTP address to use for pilot's self-monitoring information
    #[arg(long = "monitoringAddr", default_value = ":15014")]
    pub monitoring_addr: String,

    /// Enable profiling via web interface host:port/debug/pprof
    #[arg(long = "profile", default_value_t = true, num_args = 0..=1, default_missing_value = "true", value_parser = parse_bool)]
    pub profile: bool,

    /// Enable caching discovery service responses
    #[arg(long = "discoveryCache", default_value_t = true, num_args = 0..=1, default_missing_value = "true", value_parser = parse_bool)]
    pub discovery_cache: bool,
}

/// Go's `strconv.ParseBool`, as pflag accepts for `--flag=value`.
fn parse_bool(s: &str) -> Result<bool, String> {
    istio_pkg::gostr::parse_go_bool(s)
}

/// A Go listen address (`:8080`, `0.0.0.0:15010`, `[::]:15010`, `localhost:0`) as a socket
/// address string for tokio; an empty host means all interfaces.
pub fn listen_addr(addr: &str) -> Result<String, String> {
    let (host, port) = istio_pkg::gostr::split_host_port(addr)?;
    port.parse::<u16>()
        .map_err(|_| format!("invalid port {port:?} in address {addr:?}"))?;
    Ok(match host {
        "" => format!("[::]:{port}"),
        h if h.contains(':') => format!("[{h}]:{port}"),
        h => format!("{h}:{port}"),
    })
}

impl PilotArgs {
    /// Whether `--registries` names `name`.
    pub fn has_registry(&self, name: &str) -> bool {
        self.registries.iter().any(|r| r == name)
    }

    /// Checks what clap cannot: registry names and listen addresses. Errors name the flag.
    pub fn validate(&self) -> Result<(), String> {
        for r in &self.registries {
            if !r.is_empty() && !REGISTRIES.contains(&r.as_str()) {
                return Err(format!(
                    "--registries: unknown registry {r:?} (choose from {})",
                    REGISTRIES.join(", ")
                ));
            }
        }
        for (flag, addr) in [
            ("--httpAddr", &self.http_addr),
            ("--grpcAddr", &self.grpc_addr),
            ("--monitoringAddr", &self.monitoring_addr),
        ] {
            if !addr.is_empty() {
                listen_addr(addr).map_err(|e| format!("{flag}: {e}"))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        a: PilotArgs,
    }

    fn parse(args: &[&str]) -> PilotArgs {
        Cli::try_parse_from(std::iter::once("discovery").chain(args.iter().copied()))
            .unwrap()
            .a
    }

    #[test]
    fn upstream_defaults() {
        let a = parse(&[]);
        assert_eq!(a.registries, vec!["Kubernetes"]);
        assert_eq!(a.plugins, vec!["authn", "authz", "health", "mixer"]);
        assert_eq!(a.grpc_addr, ":15010");
        assert_eq!(a.http_addr, ":8080");
        assert_eq!(a.monitoring_addr, ":15014");
        assert_eq!(a.secure_grpc_addr, ":15012");
        assert_eq!(a.domain, "cluster.local");
        assert_eq!(a.resync, Duration::from_secs(60));
        assert_eq!(a.mesh_config, "/etc/istio/config/mesh");
        assert!(a.profile && a.discovery_cache && !a.disable_install_crds);
        assert!(a.validate().is_ok());
    }

    #[test]
    fn chart_command_line() {
        let a = parse(&[
            "--monitoringAddr=:15014",
            "--domain",
            "cluster.local",
            "-a",
            "istio-system",
            "--secureGrpcAddr",
            "",
        ]);
        assert_eq!(a.app_namespace, "istio-system");
        assert_eq!(a.secure_grpc_addr, "");
    }

    #[test]
    fn lists_and_bools() {
        let a = parse(&[
            "--registries",
            "Mock,Kubernetes",
            "--profile=false",
            "--disable-install-crds",
        ]);
        assert_eq!(a.registries, vec!["Mock", "Kubernetes"]);
        assert!(!a.profile);
        assert!(a.disable_install_crds);
        let bad = parse(&["--registries", "Eureka"]);
        assert!(bad.validate().unwrap_err().contains("--registries"));
        let bad = parse(&["--grpcAddr", "nope"]);
        assert!(bad.validate().unwrap_err().contains("--grpcAddr"));
    }

    #[test]
    fn listen_addresses() {
        assert_eq!(listen_addr(":8080").unwrap(), "[::]:8080");
        assert_eq!(listen_addr("127.0.0.1:0").unwrap(), "127.0.0.1:0");
        assert_eq!(listen_addr("[::1]:15010").unwrap(), "[::1]:15010");
        assert!(listen_addr("8080").is_err());
        assert!(listen_addr(":http").is_err());
    }
}
