//! The proxy a connection belongs to: node id and metadata parsing (upstream
//! `pilot/pkg/model/context.go`).
//!
//! Envoy identifies itself with a node id `type~ip~id~domain` (e.g.
//! `sidecar~10.1.1.1~reviews-v1-abc.default~default.svc.cluster.local`) and node metadata, a
//! protobuf `Struct` that pilot-agent fills from `ISTIO_META_*` variables. [`Proxy::parse`]
//! turns both into a [`Proxy`].

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use istio_pkg::config::labels;

use super::service::ServiceInstance;

/// What kind of proxy a node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeType {
    /// An application sidecar.
    Sidecar,
    /// A standalone proxy: ingress or egress gateway.
    Router,
}

impl NodeType {
    pub fn parse(s: &str) -> Option<NodeType> {
        match s {
            "sidecar" => Some(NodeType::Sidecar),
            "router" => Some(NodeType::Router),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            NodeType::Sidecar => "sidecar",
            NodeType::Router => "router",
        }
    }
}

impl fmt::Display for NodeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How traffic reaches the sidecar (`INTERCEPTION_MODE` metadata).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum InterceptionMode {
    #[default]
    Redirect,
    Tproxy,
    /// No iptables: applications talk to the proxy's listeners explicitly.
    None,
}

/// The Istio version a proxy reports (`ISTIO_VERSION` metadata).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IstioVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl IstioVersion {
    /// The version assumed for unknown or development builds: newer than any release.
    pub const MAX: IstioVersion = IstioVersion {
        major: 65535,
        minor: 65535,
        patch: 65535,
    };

    /// Parses `1.4.10`, `release-1.4`, `1.4-dev`; `master-*` and anything unparsable give
    /// [`IstioVersion::MAX`] (as upstream).
    pub fn parse(ver: &str) -> IstioVersion {
        static RE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
            regex::Regex::new(r"^([1-9]+)\.([0-9]+)(?:\.([0-9]+))?").expect("static regex")
        });
        if ver.starts_with("master-") {
            return IstioVersion::MAX;
        }
        let ver = ver.strip_prefix("release-").unwrap_or(ver);
        let Some(c) = RE.captures(ver) else {
            return IstioVersion::MAX;
        };
        let n = |i: usize| {
            c.get(i)
                .and_then(|m| m.as_str().parse::<u32>().ok())
                .unwrap_or(0)
        };
        IstioVersion {
            major: n(1),
            minor: n(2),
            patch: n(3),
        }
    }
}

/// One container port of the workload (`POD_PORTS` metadata, a JSON string).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
pub struct PodPort {
    #[serde(default)]
    pub name: String,
    #[serde(rename = "containerPort", default)]
    pub container_port: u32,
    #[serde(default)]
    pub protocol: String,
}

/// Node metadata Istio reads, with upstream's JSON keys. Everything else is kept in `raw`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct NodeMetadata {
    #[serde(rename = "ISTIO_VERSION")]
    pub istio_version: String,
    #[serde(rename = "LABELS")]
    pub labels: BTreeMap<String, String>,
    #[serde(rename = "INSTANCE_IPS", deserialize_with = "string_list")]
    pub instance_ips: Vec<String>,
    #[serde(rename = "CONFIG_NAMESPACE")]
    pub config_namespace: String,
    #[serde(rename = "NAMESPACE")]
    pub namespace: String,
    #[serde(rename = "INTERCEPTION_MODE")]
    pub interception_mode: String,
    #[serde(rename = "SERVICE_ACCOUNT")]
    pub service_account: String,
    #[serde(rename = "ROUTER_MODE")]
    pub router_mode: String,
    #[serde(rename = "MESH_ID")]
    pub mesh_id: String,
    #[serde(rename = "CLUSTER_ID")]
    pub cluster_id: String,
    #[serde(rename = "NETWORK")]
    pub network: String,
    #[serde(rename = "REQUESTED_NETWORK_VIEW", deserialize_with = "string_list")]
    pub requested_network_view: Vec<String>,
    #[serde(rename = "EXCHANGE_KEYS", deserialize_with = "string_list")]
    pub exchange_keys: Vec<String>,
    #[serde(rename = "PLATFORM_METADATA")]
    pub platform_metadata: BTreeMap<String, String>,
    #[serde(rename = "NAME")]
    pub instance_name: String,
    #[serde(rename = "WORKLOAD_NAME")]
    pub workload_name: String,
    #[serde(rename = "OWNER")]
    pub owner: String,
    #[serde(rename = "POD_PORTS", deserialize_with = "pod_port_list")]
    pub pod_ports: Vec<PodPort>,
    #[serde(rename = "CANONICAL_TELEMETRY_SERVICE")]
    pub canonical_telemetry_service: String,
    #[serde(rename = "istio-locality")]
    pub locality_label: String,
    #[serde(rename = "INCLUDE_INBOUND_PORTS")]
    pub include_inbound_ports: String,
    #[serde(rename = "policy.istio.io/check")]
    pub policy_check: String,
    #[serde(rename = "policy.istio.io/checkRetries")]
    pub policy_check_retries: String,
    #[serde(rename = "policy.istio.io/checkBaseRetryWaitTime")]
    pub policy_check_base_retry_wait_time: String,
    #[serde(rename = "policy.istio.io/checkMaxRetryWaitTime")]
    pub policy_check_max_retry_wait_time: String,
    #[serde(rename = "sidecar.istio.io/statsInclusionPrefixes")]
    pub stats_inclusion_prefixes: String,
    #[serde(rename = "sidecar.istio.io/statsInclusionRegexps")]
    pub stats_inclusion_regexps: String,
    #[serde(rename = "sidecar.istio.io/statsInclusionSuffixes")]
    pub stats_inclusion_suffixes: String,
    #[serde(rename = "TLS_SERVER_CERT_CHAIN")]
    pub tls_server_cert_chain: String,
    #[serde(rename = "TLS_SERVER_KEY")]
    pub tls_server_key: String,
    #[serde(rename = "TLS_SERVER_ROOT_CERT")]
    pub tls_server_root_cert: String,
    #[serde(rename = "TLS_CLIENT_CERT_CHAIN")]
    pub tls_client_cert_chain: String,
    #[serde(rename = "TLS_CLIENT_KEY")]
    pub tls_client_key: String,
    #[serde(rename = "TLS_CLIENT_ROOT_CERT")]
    pub tls_client_root_cert: String,
    #[serde(rename = "SDS_TOKEN_PATH")]
    pub sds_token_path: String,
    #[serde(rename = "USER_SDS")]
    pub user_sds: String,
    #[serde(rename = "BASE")]
    pub sds_base: String,
    #[serde(rename = "SDS")]
    pub sds_enabled: String,
    #[serde(rename = "TRUSTJWT")]
    pub sds_trust_jwt: String,
    #[serde(rename = "istio.io/insecurepath")]
    pub insecure_path: String,
    #[serde(rename = "IDLE_TIMEOUT")]
    pub idle_timeout: String,
    #[serde(rename = "HTTP10")]
    pub http10: String,
    /// The whole metadata as JSON, including keys Istio does not interpret.
    #[serde(skip)]
    pub raw: serde_json::Map<String, Value>,
}

/// Upstream's `StringList`: a JSON string split on commas (`""` is the empty list).
fn string_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let s = String::deserialize(d)?;
    if s.is_empty() {
        Ok(Vec::new())
    } else {
        Ok(s.split(',').map(str::to_owned).collect())
    }
}

/// Upstream's `PodPortList`: a JSON string holding a JSON array; a value that is not a string
/// is ignored, as upstream does.
fn pod_port_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<PodPort>, D::Error> {
    let v = Value::deserialize(d)?;
    match v {
        Value::String(s) => serde_json::from_str(&s).map_err(serde::de::Error::custom),
        _ => Ok(Vec::new()),
    }
}

impl NodeMetadata {
    /// Reads metadata from its JSON form (Envoy's `Struct` rendered as JSON).
    pub fn from_json(value: Value) -> Result<NodeMetadata, NodeError> {
        let raw = match &value {
            Value::Object(m) => m.clone(),
            Value::Null => serde_json::Map::new(),
            other => {
                return Err(NodeError::Metadata(format!(
                    "expected an object, got {other}"
                )));
            }
        };
        let mut meta: NodeMetadata = serde_path_to_error::deserialize(value)
            .map_err(|e| NodeError::Metadata(format!("field {}: {}", e.path(), e.inner())))?;
        meta.raw = raw;
        Ok(meta)
    }

    /// Reads metadata from the protobuf `Struct` Envoy sends.
    pub fn from_struct(s: Option<&prost_types::Struct>) -> Result<NodeMetadata, NodeError> {
        match s {
            None => Ok(NodeMetadata::default()),
            Some(s) => NodeMetadata::from_json(struct_to_json(s)),
        }
    }
}

/// Renders a protobuf `Struct` as JSON (the proto3 JSON mapping).
pub fn struct_to_json(s: &prost_types::Struct) -> Value {
    Value::Object(
        s.fields
            .iter()
            .map(|(k, v)| (k.clone(), value_to_json(v)))
            .collect(),
    )
}

fn value_to_json(v: &prost_types::Value) -> Value {
    use prost_types::value::Kind;
    match &v.kind {
        None | Some(Kind::NullValue(_)) => Value::Null,
        Some(Kind::NumberValue(n)) => serde_json::Number::from_f64(*n)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        Some(Kind::StringValue(s)) => Value::String(s.clone()),
        Some(Kind::BoolValue(b)) => Value::Bool(*b),
        Some(Kind::StructValue(s)) => struct_to_json(s),
        Some(Kind::ListValue(l)) => Value::Array(l.values.iter().map(value_to_json).collect()),
    }
}

/// Why a node id or its metadata was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NodeError {
    #[error("missing parts in the service node {0:?} (want type~ip~id~domain)")]
    MissingParts(String),
    #[error("invalid node type in the service node {0:?} (valid types: sidecar, router)")]
    InvalidType(String),
    #[error("no valid IP address in the service node id {0:?} or its metadata")]
    NoIp(String),
    #[error("failed to read node metadata: {0}")]
    Metadata(String),
}

/// A connected proxy, as pilot sees it (upstream `model.Proxy`).
///
/// `service_instances`, `workload_labels` and the sidecar scope are filled in by the push
/// layer from the registries; [`Proxy::parse`] fills the rest.
#[derive(Debug, Clone, PartialEq)]
pub struct Proxy {
    pub cluster_id: String,
    pub node_type: NodeType,
    /// The workload's IPs; the first is the primary one.
    pub ip_addresses: Vec<String>,
    /// `pod-name.namespace` for Kubernetes workloads.
    pub id: String,
    /// `region/zone/subzone` (from Envoy's node locality, else the `istio-locality` label).
    pub locality: String,
    /// `namespace.svc.cluster.local`.
    pub dns_domain: String,
    /// The namespace whose config (Sidecar, exportTo) applies to this proxy.
    pub config_namespace: String,
    pub metadata: NodeMetadata,
    pub istio_version: IstioVersion,
    pub workload_labels: labels::Collection,
    pub service_instances: Vec<ServiceInstance>,
}

impl Proxy {
    /// Parses a node id and its metadata (upstream `ParseServiceNodeWithMetadata`).
    ///
    /// The IPs come from `INSTANCE_IPS` when all of them are valid, else from the node id.
    pub fn parse(node_id: &str, metadata: NodeMetadata) -> Result<Proxy, NodeError> {
        let parts: Vec<&str> = node_id.split('~').collect();
        if parts.len() != 4 {
            return Err(NodeError::MissingParts(node_id.to_owned()));
        }
        let node_type =
            NodeType::parse(parts[0]).ok_or_else(|| NodeError::InvalidType(node_id.to_owned()))?;
        let valid_ip = |s: &str| s.parse::<IpAddr>().is_ok();
        let mut ip_addresses = Vec::new();
        if !metadata.instance_ips.is_empty() && metadata.instance_ips.iter().all(|ip| valid_ip(ip))
        {
            ip_addresses = metadata.instance_ips.clone();
        } else if valid_ip(parts[1]) {
            ip_addresses.push(parts[1].to_owned());
        }
        if ip_addresses.is_empty() {
            return Err(NodeError::NoIp(node_id.to_owned()));
        }
        let dns_domain = parts[3].to_owned();
        let config_namespace = if !metadata.config_namespace.is_empty() {
            metadata.config_namespace.clone()
        } else {
            let mut it = dns_domain.split('.');
            match (it.next(), it.next()) {
                (Some(ns), Some(_)) => ns.to_owned(),
                _ => String::new(),
            }
        };
        let workload_labels = if metadata.labels.is_empty() {
            labels::Collection::default()
        } else {
            labels::Collection(vec![labels::Instance(metadata.labels.clone())])
        };
        Ok(Proxy {
            cluster_id: metadata.cluster_id.clone(),
            node_type,
            ip_addresses,
            id: parts[2].to_owned(),
            locality: metadata.locality_label.replace('.', "/"),
            dns_domain,
            config_namespace,
            istio_version: IstioVersion::parse(&metadata.istio_version),
            workload_labels,
            service_instances: Vec::new(),
            metadata,
        })
    }

    /// The primary IP address.
    pub fn ip(&self) -> &str {
        self.ip_addresses.first().map(String::as_str).unwrap_or("")
    }

    /// Traffic interception mode from metadata; REDIRECT unless TPROXY or NONE is requested.
    pub fn interception_mode(&self) -> InterceptionMode {
        match self.metadata.interception_mode.as_str() {
            "TPROXY" => InterceptionMode::Tproxy,
            "NONE" => InterceptionMode::None,
            _ => InterceptionMode::Redirect,
        }
    }

    /// Whether the proxy's primary address is IPv6 only.
    pub fn is_ipv6(&self) -> bool {
        self.ip_addresses
            .iter()
            .all(|ip| ip.parse::<std::net::Ipv6Addr>().is_ok())
    }

    /// The node id this proxy was parsed from.
    pub fn service_node(&self) -> String {
        format!(
            "{}~{}~{}~{}",
            self.node_type,
            self.ip(),
            self.id,
            self.dns_domain
        )
    }

    /// Sorts service instances as upstream does (older services first, then by hostname) and
    /// stores them.
    pub fn set_service_instances(&mut self, mut instances: Vec<ServiceInstance>) {
        instances.sort_by(|a, b| {
            a.service
                .creation_time
                .cmp(&b.service.creation_time)
                .then_with(|| a.service.hostname.cmp(&b.service.hostname))
        });
        self.service_instances = instances;
    }
}

/// A shared, immutable proxy snapshot.
pub type ProxyRef = Arc<Proxy>;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_sidecar_node_id() {
        let meta = NodeMetadata::from_json(json!({
            "ISTIO_VERSION": "1.4.10",
            "LABELS": {"app": "reviews", "version": "v1"},
            "INTERCEPTION_MODE": "NONE",
            "POD_PORTS": "[{\"name\":\"http\",\"containerPort\":9080,\"protocol\":\"TCP\"}]",
            "EXTRA": 1
        }))
        .unwrap();
        let p = Proxy::parse(
            "sidecar~10.1.1.1~reviews-v1.default~default.svc.cluster.local",
            meta,
        )
        .unwrap();
        assert_eq!(p.node_type, NodeType::Sidecar);
        assert_eq!(p.ip(), "10.1.1.1");
        assert_eq!(p.id, "reviews-v1.default");
        assert_eq!(p.config_namespace, "default");
        assert_eq!(
            p.istio_version,
            IstioVersion {
                major: 1,
                minor: 4,
                patch: 10
            }
        );
        assert_eq!(p.interception_mode(), InterceptionMode::None);
        assert_eq!(
            p.workload_labels.0[0].0.get("app").map(String::as_str),
            Some("reviews")
        );
        assert_eq!(p.metadata.pod_ports[0].container_port, 9080);
        assert_eq!(p.metadata.raw.get("EXTRA"), Some(&json!(1)));
        assert_eq!(
            p.service_node(),
            "sidecar~10.1.1.1~reviews-v1.default~default.svc.cluster.local"
        );
    }

    #[test]
    fn instance_ips_override_node_ip_when_all_valid() {
        let meta = NodeMetadata::from_json(json!({"INSTANCE_IPS": "10.0.0.2,fd00::2"})).unwrap();
        let p = Proxy::parse(
            "router~10.0.0.1~gw.istio-system~istio-system.svc.cluster.local",
            meta,
        )
        .unwrap();
        assert_eq!(p.ip_addresses, vec!["10.0.0.2", "fd00::2"]);
        let meta = NodeMetadata::from_json(json!({"INSTANCE_IPS": "10.0.0.2,bogus"})).unwrap();
        let p = Proxy::parse("router~10.0.0.1~gw.istio-system~istio-system", meta).unwrap();
        assert_eq!(p.ip_addresses, vec!["10.0.0.1"]);
        assert_eq!(p.config_namespace, "");
    }

    #[test]
    fn rejects_bad_node_ids() {
        let m = NodeMetadata::default;
        assert!(matches!(
            Proxy::parse("sidecar~1.1.1.1~x", m()),
            Err(NodeError::MissingParts(_))
        ));
        assert!(matches!(
            Proxy::parse("pod~1.1.1.1~x~y", m()),
            Err(NodeError::InvalidType(_))
        ));
        assert!(matches!(
            Proxy::parse("sidecar~nope~x~y", m()),
            Err(NodeError::NoIp(_))
        ));
        assert!(matches!(
            Proxy::parse("", m()),
            Err(NodeError::MissingParts(_))
        ));
    }

    #[test]
    fn bad_metadata_names_the_field() {
        let err = NodeMetadata::from_json(json!({"LABELS": {"app": 3}})).unwrap_err();
        assert!(err.to_string().contains("LABELS.app"), "{err}");
        assert!(NodeMetadata::from_json(json!([1])).is_err());
    }

    #[test]
    fn istio_versions() {
        let v = |s| IstioVersion::parse(s);
        assert_eq!(
            v("1.4"),
            IstioVersion {
                major: 1,
                minor: 4,
                patch: 0
            }
        );
        assert_eq!(
            v("release-1.3"),
            IstioVersion {
                major: 1,
                minor: 3,
                patch: 0
            }
        );
        assert_eq!(
            v("1.4-dev"),
            IstioVersion {
                major: 1,
                minor: 4,
                patch: 0
            }
        );
        assert_eq!(
            v("1.2.3-rc.1"),
            IstioVersion {
                major: 1,
                minor: 2,
                patch: 3
            }
        );
        assert_eq!(v("master-20191101"), IstioVersion::MAX);
        assert_eq!(v(""), IstioVersion::MAX);
        assert_eq!(v("garbage"), IstioVersion::MAX);
        assert!(v("1.3.5") < v("1.4.0"));
    }

    #[test]
    fn struct_metadata() {
        use prost_types::{value::Kind, Struct, Value as PV};
        let mut s = Struct::default();
        s.fields.insert(
            "CONFIG_NAMESPACE".into(),
            PV {
                kind: Some(Kind::StringValue("other".into())),
            },
        );
        let meta = NodeMetadata::from_struct(Some(&s)).unwrap();
        let p = Proxy::parse("sidecar~1.1.1.1~a.b~b.svc.cluster.local", meta).unwrap();
        assert_eq!(p.config_namespace, "other");
    }
}
