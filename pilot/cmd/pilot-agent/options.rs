//! From `proxy` flags and the environment to what the agent runs: the proxy role and node id,
//! the effective ProxyConfig, the control plane SANs, the certificates to watch and the status
//! server settings (upstream `proxyCmd.RunE` in `pilot/cmd/pilot-agent/main.go`).

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _};

use istio_api::istio::mesh::v1alpha1::{
    tracing::{Datadog, Lightstep, Stackdriver, Tracer, Zipkin},
    AuthenticationPolicy, ProxyConfig, RemoteService, Tracing,
};
use istio_api::istio::networking::v1alpha3::tls_settings::TlSmode;
use istio_pilot::model::context::NodeType;
use istio_pkg::config::constants;
use istio_pkg::config::mesh::default_proxy_config;
use istio_pkg::config::protojson::{self, UnknownFields};
use istio_pkg::config::validation::validate_proxy_config;
use istio_pkg::envoy::bootstrap::NodeMetadata;
use istio_pkg::gostr;

use crate::cli::ProxyArgs;
use crate::status;

/// Service accounts of the control plane, fixed at install time.
pub const PILOT_SERVICE_ACCOUNT: &str = "istio-pilot-service-account";
pub const MIXER_SERVICE_ACCOUNT: &str = "istio-mixer-service-account";
/// The projected service account token used for SDS.
pub const TRUSTWORTHY_JWT_PATH: &str = "/var/run/secrets/tokens/istio-token";
const DEFAULT_TRUST_DOMAIN: &str = "cluster.local";

/// The environment variables pilot-agent reads, with upstream's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentEnv {
    pub instance_ip: String,
    pub pod_name: String,
    pub pod_namespace: String,
    pub istio_namespace: String,
    /// `ISTIO_KUBE_APP_PROBERS`.
    pub kube_app_probers: String,
    pub sds_enabled: bool,
    pub auto_mtls_enabled: bool,
    pub sds_uds_path: String,
    pub stackdriver_tracing_enabled: bool,
    pub stackdriver_tracing_debug: bool,
    pub stackdriver_max_annotations: i64,
    pub stackdriver_max_attributes: i64,
    pub stackdriver_max_message_events: i64,
    /// `ISTIO_META_TLS_{SERVER,CLIENT}_{CERT_CHAIN,KEY,ROOT_CERT}`: the certificates watched
    /// for hot restarts (default the `/etc/certs` triple).
    pub tls_certs: Vec<String>,
    /// `ISTIO_BOOTSTRAP_OVERRIDE`.
    pub bootstrap_override: String,
    /// `TERMINATION_DRAIN_DURATION_SECONDS`.
    pub termination_drain_duration: Duration,
    /// Values that did not parse (the default was used), for the log.
    pub warnings: Vec<String>,
}

impl AgentEnv {
    pub fn from_process() -> AgentEnv {
        AgentEnv::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> AgentEnv {
        let mut warnings = Vec::new();
        let string = |k: &str, d: &str| lookup(k).unwrap_or_else(|| d.to_owned());
        let mut boolean = |k: &str, d: bool| {
            match lookup(k) {
            None => d,
            Some(v) => gostr::parse_go_bool(&v).unwrap_or_else(|_| {
                warnings.push(format!(
                    "Invalid environment variable value `{v}`, expecting true/false, defaulting to {d}"
                ));
                d
            }),
        }
        };
        let sds_enabled = boolean("SDS_ENABLED", false);
        let auto_mtls_enabled = boolean("ISTIO_AUTO_MTLS_ENABLED", false);
        let stackdriver_tracing_enabled = boolean("STACKDRIVER_TRACING_ENABLED", false);
        let stackdriver_tracing_debug = boolean("STACKDRIVER_TRACING_DEBUG", false);
        let mut int = |k: &str, d: i64| {
            match lookup(k) {
            None => d,
            Some(v) => gostr::atoi(&v).unwrap_or_else(|_| {
                warnings.push(format!(
                    "Invalid environment variable value `{v}`, expecting an integer, defaulting to {d}"
                ));
                d
            }),
        }
        };
        let stackdriver_max_annotations = int("STACKDRIVER_TRACING_MAX_NUMBER_OF_ANNOTATIONS", 200);
        let stackdriver_max_attributes = int("STACKDRIVER_TRACING_MAX_NUMBER_OF_ATTRIBUTES", 200);
        let stackdriver_max_message_events =
            int("STACKDRIVER_TRACING_MAX_NUMBER_OF_MESSAGE_EVENTS", 200);
        let drain_seconds = int("TERMINATION_DRAIN_DURATION_SECONDS", 5).max(0);
        let tls_certs = [
            ("TLS_SERVER_CERT_CHAIN", constants::DEFAULT_CERT_CHAIN),
            ("TLS_SERVER_KEY", constants::DEFAULT_KEY),
            ("TLS_SERVER_ROOT_CERT", constants::DEFAULT_ROOT_CERT),
            ("TLS_CLIENT_CERT_CHAIN", constants::DEFAULT_CERT_CHAIN),
            ("TLS_CLIENT_KEY", constants::DEFAULT_KEY),
            ("TLS_CLIENT_ROOT_CERT", constants::DEFAULT_ROOT_CERT),
        ]
        .iter()
        .map(|(k, d)| string(&format!("ISTIO_META_{k}"), d))
        .collect();
        AgentEnv {
            instance_ip: string("INSTANCE_IP", ""),
            pod_name: string("POD_NAME", ""),
            pod_namespace: string("POD_NAMESPACE", ""),
            istio_namespace: string("ISTIO_NAMESPACE", ""),
            kube_app_probers: string(status::KUBE_APP_PROBER_ENV_NAME, ""),
            sds_enabled,
            auto_mtls_enabled,
            sds_uds_path: string("SDS_UDS_PATH", "unix:/var/run/sds/uds_path"),
            stackdriver_tracing_enabled,
            stackdriver_tracing_debug,
            stackdriver_max_annotations,
            stackdriver_max_attributes,
            stackdriver_max_message_events,
            tls_certs,
            bootstrap_override: string("ISTIO_BOOTSTRAP_OVERRIDE", ""),
            termination_drain_duration: Duration::from_secs(drain_seconds as u64),
            warnings,
        }
    }
}

/// The proxy's identity in the mesh (upstream `model.Proxy` as pilot-agent fills it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub node_type: NodeType,
    pub ip_addresses: Vec<String>,
    pub id: String,
    pub dns_domain: String,
}

impl Role {
    /// `type~ip~id~domain`.
    pub fn service_node(&self) -> String {
        format!(
            "{}~{}~{}~{}",
            self.node_type,
            self.ip_addresses.first().map_or("", String::as_str),
            self.id,
            self.dns_domain
        )
    }
}

/// Everything `proxy` derived from its inputs before anything starts.
#[derive(Debug, Clone)]
pub struct Settings {
    pub role: Role,
    pub pod_ip: Option<IpAddr>,
    pub proxy: ProxyConfig,
    pub control_plane_auth: bool,
    pub pilot_san: Vec<String>,
    pub mixer_san: Vec<String>,
    /// Whether a remote service (metrics, access log) uses TLS.
    pub remote_service_tls: bool,
    /// The certificates whose change restarts Envoy, deduplicated.
    pub certs_to_watch: Vec<PathBuf>,
    pub metadata: NodeMetadata,
    /// The status server, when `--statusPort` is set.
    pub status: Option<status::Config>,
}

/// Upstream's `model.IsApplicationNodeType`: the role argument of `proxy`.
pub fn node_type(args: &[String]) -> anyhow::Result<NodeType> {
    match args.first() {
        None => Ok(NodeType::Sidecar),
        Some(a) => NodeType::parse(a).ok_or_else(|| anyhow!("Invalid role Type: {a}")),
    }
}

/// The proxy's addresses: `--ip` or `INSTANCE_IP` first, then the node's own; loopback when
/// there are none.
pub fn ip_addresses(flag: &str, instance_ip: &str, private: &[IpAddr]) -> Vec<String> {
    let mut ips = Vec::new();
    if !flag.is_empty() {
        ips.push(flag.to_owned());
    } else if let Some(ip) = gostr::parse_ip(instance_ip) {
        ips.push(ip.to_string());
    }
    ips.extend(private.iter().map(IpAddr::to_string));
    if ips.is_empty() {
        ips.extend(["127.0.0.1".to_owned(), "::1".to_owned()]);
    }
    ips
}

/// The DNS domain: `--domain`, else what the registry implies.
pub fn dns_domain(registry: &str, pod_namespace: &str, domain: &str) -> String {
    if !domain.is_empty() {
        return domain.to_owned();
    }
    match registry {
        "Kubernetes" => format!("{pod_namespace}.svc.cluster.local"),
        "Consul" => "service.consul".to_owned(),
        _ => String::new(),
    }
}

/// The trust domain of the control plane identities (upstream `setSpiffeTrustDomain` and
/// `spiffe.SetTrustDomain`; `@` is not allowed in a SPIFFE id and becomes `.`).
pub fn pilot_trust_domain(
    trust_domain: &str,
    registry: &str,
    pod_namespace: &str,
    domain: &str,
) -> String {
    let td = if !trust_domain.is_empty() {
        trust_domain.to_owned()
    } else if registry == "Kubernetes"
        && (domain == format!("{pod_namespace}.svc.cluster.local") || domain.is_empty())
    {
        DEFAULT_TRUST_DOMAIN.to_owned()
    } else if registry == "Consul" && (domain == "service.consul" || domain.is_empty()) {
        String::new()
    } else {
        domain.to_owned()
    };
    td.replace('@', ".")
}

/// The subject alt names expected of a control plane service under mutual TLS (none
/// otherwise): `spiffe://<td>/ns/<ns>/sa/<account>`, or `spiffe://<td>/<identity>` for an
/// explicit identity or when the namespace is unknown.
pub fn control_plane_san(
    mutual_tls: bool,
    trust_domain: &str,
    ns: &str,
    default_account: &str,
    identity: &str,
) -> Vec<String> {
    if !mutual_tls {
        return Vec::new();
    }
    let (ns, account) = if identity.is_empty() {
        (ns, default_account)
    } else {
        ("", identity)
    };
    if ns.is_empty() {
        vec![format!("spiffe://{trust_domain}/{account}")]
    } else {
        vec![format!("spiffe://{trust_domain}/ns/{ns}/sa/{account}")]
    }
}

/// The namespace of pilot under mutual TLS, from the discovery address (`istio-pilot:15011`
/// uses the pod's namespace, `istio-pilot.istio-system:15011` names it, a longer name is a
/// remote cluster: `ISTIO_NAMESPACE` or istio-system).
pub fn pilot_namespace(
    discovery_address: &str,
    pod_namespace: &str,
    istio_namespace: &str,
) -> String {
    let host = discovery_address.split(':').next().unwrap_or("");
    let parts: Vec<&str> = host.split('.').collect();
    match parts.len() {
        1 => pod_namespace.to_owned(),
        2 => parts[1].to_owned(),
        _ if !istio_namespace.is_empty() => istio_namespace.to_owned(),
        _ => constants::ISTIO_SYSTEM_NAMESPACE.to_owned(),
    }
}

/// `--applicationPorts` as port numbers (blank entries skipped).
pub fn parse_application_ports(ports: &[String]) -> anyhow::Result<Vec<u16>> {
    ports
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .map(|p| {
            gostr::parse_uint32(p)
                .and_then(|v| {
                    u16::try_from(v).map_err(|_| {
                        format!(
                            "strconv.ParseUint: parsing {}: value out of range",
                            gostr::quote(p)
                        )
                    })
                })
                .map_err(|e| anyhow!("invalid --applicationPorts {}: {e}", gostr::quote(p)))
        })
        .collect()
}

fn duration(nanos: i64) -> pbjson_types::Duration {
    pbjson_types::Duration {
        seconds: nanos / 1_000_000_000,
        nanos: (nanos % 1_000_000_000) as i32,
    }
}

/// A `RemoteService` given as JSON on the command line; malformed JSON is logged and ignored,
/// as upstream does.
fn remote_service(flag: &str, json: &str) -> Option<RemoteService> {
    let value: serde_json::Value = match serde_json::from_str(json) {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!("Unable to unmarshal {json}: {e}");
            return None;
        }
    };
    match protojson::decode(
        "istio.mesh.v1alpha1.RemoteService",
        value,
        UnknownFields::Reject,
        flag,
    ) {
        Ok(rs) => Some(rs),
        Err(e) => {
            tracing::warn!("Unable to unmarshal {json}: {e}");
            None
        }
    }
}

/// The certificates of a remote service with TLS (none when TLS is off).
fn remote_service_certs(rs: &RemoteService) -> Option<Vec<String>> {
    let tls = rs.tls_settings.as_ref()?;
    if tls.mode == TlSmode::Disable as i32 {
        return None;
    }
    Some(vec![
        tls.ca_certificates.clone(),
        tls.client_certificate.clone(),
        tls.private_key.clone(),
    ])
}

/// Derives the settings from flags, environment and the node's addresses. `statsd` resolves
/// `--statsdUdpAddress` (an address that does not resolve is dropped with a warning, Mixer
/// being optional).
pub async fn settings(
    args: &ProxyArgs,
    env: &AgentEnv,
    private_ips: &[IpAddr],
    metadata_env: &[(String, String)],
) -> anyhow::Result<Settings> {
    let node_type = node_type(&args.args)?;
    let pod_ip = gostr::parse_ip(&env.instance_ip);
    let ip_addresses = ip_addresses(&args.ip, &env.instance_ip, private_ips);
    let ipv6 = istio_pkg::envoy::proxy::is_ipv6_proxy(&ip_addresses);
    let registry = args.service_registry.as_str();
    let id = if !args.id.is_empty() {
        args.id.clone()
    } else {
        match registry {
            "Kubernetes" => format!("{}.{}", env.pod_name, env.pod_namespace),
            "Consul" => format!("{}.service.consul", ip_addresses[0]),
            _ => ip_addresses[0].clone(),
        }
    };
    let trust_domain = if args.trust_domain.is_empty() {
        DEFAULT_TRUST_DOMAIN
    } else {
        &args.trust_domain
    };

    let mut certs: Vec<String> = env.tls_certs.clone();
    let mut remote_service_tls = false;
    let mut proxy = default_proxy_config();
    proxy.custom_config_file = args.custom_config_file.clone();
    proxy.config_path = args.config_path.clone();
    proxy.binary_path = args.binary_path.clone();
    proxy.service_cluster = args.service_cluster.clone();
    proxy.drain_duration = Some(duration(args.drain_duration));
    proxy.parent_shutdown_duration = Some(duration(args.parent_shutdown_duration));
    proxy.discovery_address = args.discovery_address.clone();
    proxy.connect_timeout = Some(duration(args.connect_timeout));
    proxy.statsd_udp_address = args.statsd_udp_address.clone();
    for (flag, json, slot) in [
        (
            "envoyMetricsService",
            &args.envoy_metrics_service,
            &mut proxy.envoy_metrics_service,
        ),
        (
            "envoyAccessLogService",
            &args.envoy_access_log_service,
            &mut proxy.envoy_access_log_service,
        ),
    ] {
        if json.is_empty() {
            continue;
        }
        if let Some(rs) = remote_service(flag, json) {
            if let Some(c) = remote_service_certs(&rs) {
                remote_service_tls = true;
                certs.extend(c);
            }
            *slot = Some(rs);
        }
    }
    proxy.proxy_admin_port = i32::from(args.proxy_admin_port);
    // Go converts the int flag with int32(): values wrap.
    proxy.concurrency = args.concurrency as i32;

    let policy = args.control_plane_auth_policy.as_str();
    let mutual_tls = policy == AuthenticationPolicy::MutualTls.as_str_name();
    let mut ns = String::new();
    match policy {
        "NONE" => proxy.control_plane_auth_policy = AuthenticationPolicy::None as i32,
        "MUTUAL_TLS" => {
            proxy.control_plane_auth_policy = AuthenticationPolicy::MutualTls as i32;
            if registry == "Kubernetes" {
                ns = pilot_namespace(
                    &args.discovery_address,
                    &env.pod_namespace,
                    &env.istio_namespace,
                );
            }
        }
        other => tracing::warn!(
            "unknown --controlPlaneAuthPolicy {}, using NONE",
            gostr::quote(other)
        ),
    }
    let dns_domain = dns_domain(registry, &env.pod_namespace, &args.domain);
    let san_trust_domain = if mutual_tls {
        pilot_trust_domain(trust_domain, registry, &env.pod_namespace, &dns_domain)
    } else {
        trust_domain.replace('@', ".")
    };
    let pilot_san = control_plane_san(
        mutual_tls,
        &san_trust_domain,
        &ns,
        PILOT_SERVICE_ACCOUNT,
        &args.pilot_identity,
    );
    tracing::info!("PilotSAN {pilot_san:?}");
    let mixer_san = control_plane_san(
        mutual_tls,
        &san_trust_domain,
        &ns,
        MIXER_SERVICE_ACCOUNT,
        &args.mixer_identity,
    );
    tracing::info!("MixerSAN {mixer_san:?}");

    if !proxy.statsd_udp_address.is_empty() {
        match resolve_addr(&proxy.statsd_udp_address).await {
            Ok(a) => proxy.statsd_udp_address = a,
            Err(e) => {
                tracing::warn!("resolve StatsdUdpAddress failed: {e}");
                proxy.statsd_udp_address.clear();
            }
        }
    }

    proxy.tracing = tracing_config(args, env);

    validate_proxy_config(&proxy).map_err(|e| anyhow!("{e}"))?;
    match serde_json::to_string(&proxy) {
        Ok(s) => tracing::info!("Effective config: {s}"),
        Err(e) => tracing::info!("Failed to serialize to JSON: {e}"),
    }

    let metadata = NodeMetadata::from_env(metadata_env.iter().map(|(k, v)| (k, v)))?;

    if !args.template_file.is_empty() && proxy.custom_config_file.is_empty() {
        if args.control_plane_bootstrap {
            bail!(
                "--templateFile {}: {}",
                args.template_file,
                istio_pkg::envoy::bootstrap::Error::Unavailable
            );
        }
        proxy.proxy_bootstrap_template_path = args.template_file.clone();
    }

    let status = if args.status_port > 0 {
        let application_ports = parse_application_ports(&args.application_ports())?;
        Some(status::Config {
            local_host_addr: if ipv6 { "[::1]" } else { "127.0.0.1" }.to_owned(),
            admin_port: args.proxy_admin_port,
            status_port: args.status_port,
            application_ports,
            kube_app_probers: env.kube_app_probers.clone(),
            node_type,
        })
    } else {
        None
    };

    let mut certs_to_watch: Vec<PathBuf> = certs
        .into_iter()
        .filter(|c| !c.is_empty())
        .map(PathBuf::from)
        .collect();
    certs_to_watch.sort();
    certs_to_watch.dedup();

    Ok(Settings {
        role: Role {
            node_type,
            ip_addresses,
            id,
            dns_domain,
        },
        pod_ip,
        proxy,
        control_plane_auth: mutual_tls,
        pilot_san,
        mixer_san,
        remote_service_tls,
        certs_to_watch,
        metadata,
        status,
    })
}

/// The tracer: LightStep, Zipkin, Datadog or (from the environment) Stackdriver, in that
/// order of preference.
fn tracing_config(args: &ProxyArgs, env: &AgentEnv) -> Option<Tracing> {
    let tracer = if !args.lightstep_address.is_empty() {
        Tracer::Lightstep(Lightstep {
            address: args.lightstep_address.clone(),
            access_token: args.lightstep_access_token.clone(),
            secure: args.lightstep_secure,
            cacert_path: args.lightstep_cacert_path.clone(),
        })
    } else if !args.zipkin_address.is_empty() {
        Tracer::Zipkin(Zipkin {
            address: args.zipkin_address.clone(),
        })
    } else if !args.datadog_agent_address.is_empty() {
        Tracer::Datadog(Datadog {
            address: args.datadog_agent_address.clone(),
        })
    } else if env.stackdriver_tracing_enabled {
        let v = |value| Some(pbjson_types::Int64Value { value });
        Tracer::Stackdriver(Stackdriver {
            debug: env.stackdriver_tracing_debug,
            max_number_of_annotations: v(env.stackdriver_max_annotations),
            max_number_of_attributes: v(env.stackdriver_max_attributes),
            max_number_of_message_events: v(env.stackdriver_max_message_events),
        })
    } else {
        return None;
    };
    Some(Tracing {
        tracer: Some(tracer),
    })
}

/// Resolves `host:port` to `ip:port`, preferring the first IPv4 address (upstream
/// `proxy.ResolveAddr`), within 15 s.
pub async fn resolve_addr(addr: &str) -> anyhow::Result<String> {
    let (host, port) = gostr::split_host_port(addr).map_err(|e| anyhow!(e))?;
    let port_num: u16 = port.parse().unwrap_or(0);
    tracing::info!("Attempting to lookup address: {host}");
    let lookup = tokio::net::lookup_host((host, port_num));
    let addrs: Vec<std::net::SocketAddr> =
        match tokio::time::timeout(Duration::from_secs(15), lookup).await {
            Ok(Ok(a)) => a.collect(),
            Ok(Err(e)) => bail!("lookup failed for IP address: {e}"),
            Err(_) => bail!("lookup failed for IP address: timed out"),
        };
    tracing::info!("Finished lookup of address: {host}");
    let mut resolved = None;
    for a in &addrs {
        match a.ip() {
            IpAddr::V4(v4) => {
                resolved = Some(format!("{v4}:{port}"));
                break;
            }
            IpAddr::V6(v6) => resolved = Some(format!("[{v6}]:{port}")),
        }
    }
    let resolved = resolved.context("lookup failed for IP address")?;
    tracing::info!("Addr resolved to: {resolved}");
    Ok(resolved)
}

/// Upstream's `detectSds`: SDS is used when `SDS_ENABLED`, the token exists and the socket
/// (for a `unix:` address) exists; control plane proxies wait up to `uds_wait` for the socket.
/// Returns whether SDS is on and the token path.
pub async fn detect_sds(
    env_enabled: bool,
    control_plane_bootstrap: bool,
    sds_address: &str,
    token_path: &str,
    uds_wait: Duration,
) -> (bool, String) {
    if !env_enabled || sds_address.is_empty() {
        return (false, String::new());
    }
    if std::fs::metadata(token_path).is_err() {
        return (false, String::new());
    }
    let Some(uds) = sds_address.strip_prefix("unix:") else {
        return (true, token_path.to_owned());
    };
    if uds.is_empty() {
        return (false, String::new());
    }
    let present = if control_plane_bootstrap {
        wait_for_file(uds, uds_wait).await
    } else {
        std::fs::metadata(uds).is_ok()
    };
    if present {
        (true, token_path.to_owned())
    } else {
        (false, String::new())
    }
}

/// Waits up to `max_wait` for `path` to exist; false on timeout or on an error other than
/// "not found".
pub async fn wait_for_file(path: &str, max_wait: Duration) -> bool {
    tracing::info!("waiting {max_wait:?} for {path}");
    let deadline = tokio::time::Instant::now() + max_wait;
    let mut log_delay = Duration::from_secs(1);
    let mut next_log = tokio::time::Instant::now() + log_delay;
    loop {
        match std::fs::metadata(path) {
            Ok(_) => return true,
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                tracing::error!("error while waiting for file {path}: {e}");
                return false;
            }
            Err(_) => {}
        }
        let now = tokio::time::Instant::now();
        if now > deadline {
            tracing::warn!("file {path} still not available after {max_wait:?}");
            return false;
        }
        if now > next_log {
            tracing::info!("waiting for file {path}");
            log_delay *= 2;
            next_log = now + log_delay;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_plane_sans() {
        // Upstream main_test.go's cases.
        assert!(control_plane_san(
            false,
            "cluster.local",
            "anything",
            PILOT_SERVICE_ACCOUNT,
            ""
        )
        .is_empty());
        let td = pilot_trust_domain("", "Kubernetes", "", "");
        assert_eq!(
            control_plane_san(true, &td, "anything", PILOT_SERVICE_ACCOUNT, ""),
            ["spiffe://cluster.local/ns/anything/sa/istio-pilot-service-account"]
        );
        let td = pilot_trust_domain("", "Kubernetes", "", "my.domain");
        assert_eq!(
            control_plane_san(true, &td, "anything", PILOT_SERVICE_ACCOUNT, ""),
            ["spiffe://my.domain/ns/anything/sa/istio-pilot-service-account"]
        );
        let td = pilot_trust_domain("", "Consul", "", "");
        assert_eq!(
            control_plane_san(true, &td, "anything", PILOT_SERVICE_ACCOUNT, ""),
            ["spiffe:///ns/anything/sa/istio-pilot-service-account"]
        );
        let td = pilot_trust_domain("secured", "Kubernetes", "", "my.domain");
        assert_eq!(
            control_plane_san(true, &td, "anything", PILOT_SERVICE_ACCOUNT, ""),
            ["spiffe://secured/ns/anything/sa/istio-pilot-service-account"]
        );
        assert_eq!(
            control_plane_san(true, "td", "ns", PILOT_SERVICE_ACCOUNT, "custom/identity"),
            ["spiffe://td/custom/identity"]
        );
        assert_eq!(
            control_plane_san(true, "td", "", MIXER_SERVICE_ACCOUNT, ""),
            ["spiffe://td/istio-mixer-service-account"]
        );
        assert_eq!(pilot_trust_domain("a@b", "Kubernetes", "", ""), "a.b");
    }

    #[test]
    fn domains_namespaces_and_ips() {
        assert_eq!(
            dns_domain("Kubernetes", "default", ""),
            "default.svc.cluster.local"
        );
        assert_eq!(dns_domain("Consul", "default", ""), "service.consul");
        assert_eq!(dns_domain("Mock", "default", ""), "");
        assert_eq!(dns_domain("Kubernetes", "default", "x.y"), "x.y");
        assert_eq!(pilot_namespace("istio-pilot:15011", "pod-ns", ""), "pod-ns");
        assert_eq!(
            pilot_namespace("istio-pilot.istio-system:15011", "pod-ns", ""),
            "istio-system"
        );
        assert_eq!(
            pilot_namespace("pilot.example.com:15011", "pod-ns", "remote"),
            "remote"
        );
        assert_eq!(
            pilot_namespace("pilot.example.com:15011", "pod-ns", ""),
            "istio-system"
        );
        let private: Vec<IpAddr> = vec!["10.0.0.2".parse().unwrap()];
        assert_eq!(
            ip_addresses("1.2.3.4", "5.6.7.8", &private),
            ["1.2.3.4", "10.0.0.2"]
        );
        assert_eq!(ip_addresses("", "5.6.7.8", &[]), ["5.6.7.8"]);
        assert_eq!(ip_addresses("", "bogus", &[]), ["127.0.0.1", "::1"]);
        assert!(node_type(&[]).is_ok_and(|t| t == NodeType::Sidecar));
        assert!(node_type(&["router".into()]).is_ok_and(|t| t == NodeType::Router));
        assert_eq!(
            node_type(&["ingress".into()]).unwrap_err().to_string(),
            "Invalid role Type: ingress"
        );
        let role = Role {
            node_type: NodeType::Sidecar,
            ip_addresses: vec!["10.1.1.1".into()],
            id: "pod.ns".into(),
            dns_domain: "ns.svc.cluster.local".into(),
        };
        assert_eq!(
            role.service_node(),
            "sidecar~10.1.1.1~pod.ns~ns.svc.cluster.local"
        );
    }

    #[test]
    fn application_ports() {
        assert_eq!(
            parse_application_ports(&["80".into(), " 9080 ".into(), "".into()]).unwrap(),
            [80, 9080]
        );
        let err = parse_application_ports(&["80".into(), "http".into()]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid --applicationPorts \"http\": strconv.ParseUint: parsing \"http\": invalid syntax"
        );
        let err = parse_application_ports(&["70000".into()]).unwrap_err();
        assert!(err.to_string().contains("value out of range"), "{err}");
    }

    #[test]
    fn env_defaults_and_bad_values() {
        let env = AgentEnv::from_lookup(|_| None);
        assert_eq!(env.sds_uds_path, "unix:/var/run/sds/uds_path");
        assert_eq!(env.termination_drain_duration, Duration::from_secs(5));
        assert_eq!(env.tls_certs[0], "/etc/certs/cert-chain.pem");
        assert_eq!(env.stackdriver_max_annotations, 200);
        let env = AgentEnv::from_lookup(|k| match k {
            "SDS_ENABLED" => Some("yes".into()),
            "ISTIO_META_TLS_SERVER_KEY" => Some("/x/key.pem".into()),
            _ => None,
        });
        assert!(!env.sds_enabled);
        assert_eq!(env.warnings.len(), 1);
        assert_eq!(env.tls_certs[1], "/x/key.pem");
    }

    #[tokio::test]
    async fn sds_detection() {
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("token");
        let uds = dir.path().join("uds");
        let t = token.to_str().unwrap();
        let u = format!("unix:{}", uds.display());
        let w = Duration::from_millis(100);
        assert_eq!(
            detect_sds(false, true, &u, t, w).await,
            (false, String::new())
        );
        assert_eq!(
            detect_sds(true, true, &u, t, w).await,
            (false, String::new())
        );
        std::fs::write(&token, "jwt").unwrap();
        assert_eq!(
            detect_sds(true, true, &u, t, w).await,
            (false, String::new())
        );
        assert_eq!(
            detect_sds(true, false, "unix:", t, w).await,
            (false, String::new())
        );
        assert_eq!(
            detect_sds(true, false, "host:1", t, w).await,
            (true, t.to_owned())
        );
        std::fs::write(&uds, "").unwrap();
        assert_eq!(
            detect_sds(true, false, &u, t, w).await,
            (true, t.to_owned())
        );
        assert_eq!(detect_sds(true, true, &u, t, w).await, (true, t.to_owned()));
    }
}
