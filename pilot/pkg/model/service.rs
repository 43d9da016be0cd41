//! Services, their ports and endpoints, and the registry interface (upstream
//! `pilot/pkg/model/service.go`).
//!
//! A [`Service`] is what a registry (Kubernetes, ServiceEntry, MCP, memory) knows about one
//! hostname; an [`IstioEndpoint`] is one workload address behind one of its ports. Registries
//! keep these in memory and hand out `Arc`s, so a push never copies a service.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use istio_pkg::config::labels;
use istio_pkg::config::protocol::Instance as Protocol;

use super::context::Proxy;

/// Registry names, as upstream's `serviceregistry.ServiceRegistry` values (used in
/// `ServiceAttributes::service_registry` and `--registries`).
pub mod registry {
    pub const KUBERNETES: &str = "Kubernetes";
    pub const CONSUL: &str = "Consul";
    pub const MCP: &str = "MCP";
    pub const MOCK: &str = "Mock";
    /// ServiceEntry-backed services (upstream `External`).
    pub const EXTERNAL: &str = "External";
}

/// How the proxy resolves the addresses of a service (upstream `model.Resolution`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Resolution {
    /// Forward to the destination the client connected to (original destination).
    #[default]
    ClientSideLb,
    /// Use the address the application connected to (passthrough).
    Passthrough,
    /// Resolve through DNS.
    DnsLb,
}

impl Resolution {
    pub fn as_str(self) -> &'static str {
        match self {
            Resolution::ClientSideLb => "ClientSideLB",
            Resolution::Passthrough => "Passthrough",
            Resolution::DnsLb => "DNSLB",
        }
    }
}

/// Address family of an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AddressFamily {
    #[default]
    Tcp,
    /// A Unix domain socket path (`unix://...` endpoints of ServiceEntries).
    Unix,
}

/// `exportTo` visibility of a service or config (upstream `pkg/config/visibility`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Visibility {
    /// `.`: only the namespace the object lives in.
    Private,
    /// `*`: every namespace.
    Public,
}

impl Visibility {
    /// Parses an `exportTo` entry; upstream 1.4 accepts only `.` and `*`.
    pub fn parse(s: &str) -> Option<Visibility> {
        match s {
            "." => Some(Visibility::Private),
            "*" => Some(Visibility::Public),
            _ => None,
        }
    }
}

/// One port of a service.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Port {
    /// Port name, e.g. `http-web`; may be empty for single-port services.
    pub name: String,
    /// The service port number.
    pub port: u32,
    pub protocol: Protocol,
}

/// Ports of a service, in declaration order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct PortList(pub Vec<Port>);

impl PortList {
    pub fn get(&self, name: &str) -> Option<&Port> {
        self.0.iter().find(|p| p.name == name)
    }

    pub fn get_by_port(&self, num: u32) -> Option<&Port> {
        self.0.iter().find(|p| p.port == num)
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Port> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'a> IntoIterator for &'a PortList {
    type Item = &'a Port;
    type IntoIter = std::slice::Iter<'a, Port>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// Registry-level attributes of a service (upstream `ServiceAttributes`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceAttributes {
    /// Which registry produced the service (one of [`registry`]).
    pub service_registry: String,
    /// Short name (Kubernetes service name, or the ServiceEntry host).
    pub name: String,
    pub namespace: String,
    pub uid: String,
    /// Empty means "use the mesh default" (`defaultServiceExportTo`).
    pub export_to: BTreeSet<Visibility>,
    /// External addresses per cluster id (LoadBalancer ingress IPs), used for gateways.
    pub cluster_external_addresses: BTreeMap<String, Vec<String>>,
}

/// A service known to a registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// Fully qualified host name, e.g. `reviews.default.svc.cluster.local`; may be a wildcard
    /// for ServiceEntries.
    pub hostname: String,
    /// The virtual IP; [`UNSPECIFIED_IP`] when the service has none (headless, DNS, ...).
    pub address: String,
    /// Virtual IPs per cluster id, for multi-cluster.
    pub cluster_vips: BTreeMap<String, String>,
    pub ports: PortList,
    /// Service accounts (SPIFFE or plain) of the workloads behind the service.
    pub service_accounts: Vec<String>,
    /// Seconds since the Unix epoch; orders services with the same hostname (oldest wins).
    pub creation_time: i64,
    pub resolution: Resolution,
    /// True for ServiceEntries with `location: MESH_EXTERNAL`.
    pub mesh_external: bool,
    pub attributes: ServiceAttributes,
}

/// The address of a service without a virtual IP.
pub const UNSPECIFIED_IP: &str = "0.0.0.0";

impl Service {
    /// A service known only by its host name and attributes: pilot's stand-in where a
    /// listener or route has no registry service (fall-through chains, the inbound
    /// passthrough, Sidecar ingress ports without an instance), as upstream builds them.
    pub fn placeholder(hostname: impl Into<String>, attributes: ServiceAttributes) -> Service {
        Service {
            hostname: hostname.into(),
            address: String::new(),
            cluster_vips: BTreeMap::new(),
            ports: PortList::default(),
            service_accounts: Vec::new(),
            creation_time: 0,
            resolution: Resolution::default(),
            mesh_external: false,
            attributes,
        }
    }

    /// The service address as seen from `cluster_id`: the per-cluster VIP if there is one,
    /// else [`Service::address`] (upstream `GetServiceAddressForProxy` without the proxy).
    pub fn address_for_cluster(&self, cluster_id: &str) -> &str {
        self.cluster_vips
            .get(cluster_id)
            .map(String::as_str)
            .unwrap_or(&self.address)
    }

    /// Whether the service has no virtual IP (headless Kubernetes service, DNS or passthrough
    /// ServiceEntry without addresses).
    pub fn has_no_vip(&self) -> bool {
        self.address.is_empty() || self.address == UNSPECIFIED_IP
    }

    /// Whether the service is visible from `namespace` given the mesh default export.
    pub fn visible_from(&self, namespace: &str, mesh_default: &BTreeSet<Visibility>) -> bool {
        let export = if self.attributes.export_to.is_empty() {
            mesh_default
        } else {
            &self.attributes.export_to
        };
        export.is_empty()
            || export.contains(&Visibility::Public)
            || (export.contains(&Visibility::Private) && self.attributes.namespace == namespace)
    }
}

/// One workload endpoint of a service port, as pushed over EDS (upstream `IstioEndpoint`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct IstioEndpoint {
    /// Workload labels (pod labels, ServiceEntry endpoint labels).
    pub labels: labels::Instance,
    pub family: AddressFamily,
    /// IP address, or the socket path for [`AddressFamily::Unix`].
    pub address: String,
    /// The port the workload listens on (the target port).
    pub endpoint_port: u32,
    /// Name of the service port this endpoint serves; links it to [`Port::name`].
    pub service_port_name: String,
    /// Identifies the workload, e.g. `kubernetes://pod-name.namespace`.
    pub uid: String,
    /// Service account (SPIFFE URI when known).
    pub service_account: String,
    /// Network id, for multi-network meshes.
    pub network: String,
    /// `region/zone/subzone`.
    pub locality: String,
    /// 0 means unset (Envoy's default weight).
    pub lb_weight: u32,
    /// `istio` when the workload has a sidecar that speaks Istio mTLS, else `disabled` or
    /// empty (upstream `TLSMode`, from the `security.istio.io/tlsMode` label).
    pub tls_mode: String,
}

/// A service port served by one endpoint: what the proxy of a workload implements
/// (upstream `ServiceInstance`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceInstance {
    pub service: Arc<Service>,
    pub service_port: Port,
    pub endpoint: IstioEndpoint,
}

/// The registry interface: read-only queries over a registry's in-memory view (upstream
/// `ServiceDiscovery`). Implementations never block on the network here.
pub trait ServiceDiscovery: Send + Sync {
    /// All services, in a stable order.
    fn services(&self) -> Vec<Arc<Service>>;

    /// The service with this exact hostname.
    fn get_service(&self, hostname: &str) -> Option<Arc<Service>>;

    /// Endpoints of `svc` on service port `port` whose labels match one of `labels` (all
    /// endpoints when `labels` is empty).
    fn instances_by_port(
        &self,
        svc: &Service,
        port: u32,
        labels: &labels::Collection,
    ) -> Vec<ServiceInstance>;

    /// The service instances implemented by the workload behind `proxy` (matched by IP).
    fn get_proxy_service_instances(&self, proxy: &Proxy) -> Vec<ServiceInstance>;

    /// Labels of the workload behind `proxy` (pod labels), if the registry knows it.
    fn get_proxy_workload_labels(&self, proxy: &Proxy) -> labels::Collection;

    /// Service accounts of the workloads behind `svc` on `ports`.
    fn get_istio_service_accounts(&self, svc: &Service, ports: &[u32]) -> Vec<String>;

    /// Management ports (health checks) of the workload at `addr`; empty by default.
    fn management_ports(&self, _addr: &str) -> PortList {
        PortList::default()
    }

    /// The HTTP health probes of the workload at `addr` (upstream `WorkloadHealthCheckInfo`);
    /// empty by default.
    fn workload_health_check_info(&self, _addr: &str) -> Vec<Probe> {
        Vec::new()
    }
}

/// An HTTP health probe of a workload: its port (`None`: every port) and path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub port: Option<Port>,
    pub path: String,
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hostname)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(ns: &str, export: &[Visibility]) -> Service {
        Service {
            hostname: "a.ns.svc.cluster.local".into(),
            address: "10.0.0.1".into(),
            cluster_vips: BTreeMap::new(),
            ports: PortList(vec![Port {
                name: "http".into(),
                port: 80,
                protocol: Protocol::Http,
            }]),
            service_accounts: vec![],
            creation_time: 0,
            resolution: Resolution::ClientSideLb,
            mesh_external: false,
            attributes: ServiceAttributes {
                namespace: ns.into(),
                export_to: export.iter().copied().collect(),
                ..Default::default()
            },
        }
    }

    #[test]
    fn visibility_follows_export_to_then_mesh_default() {
        let public: BTreeSet<_> = [Visibility::Public].into();
        let private: BTreeSet<_> = [Visibility::Private].into();
        assert!(svc("a", &[]).visible_from("b", &public));
        assert!(!svc("a", &[]).visible_from("b", &private));
        assert!(svc("a", &[]).visible_from("a", &private));
        assert!(!svc("a", &[Visibility::Private]).visible_from("b", &public));
        assert!(svc("a", &[Visibility::Public]).visible_from("b", &private));
    }

    #[test]
    fn port_lookup_and_vip() {
        let mut s = svc("a", &[]);
        assert_eq!(s.ports.get("http").map(|p| p.port), Some(80));
        assert_eq!(
            s.ports.get_by_port(80).map(|p| p.name.as_str()),
            Some("http")
        );
        assert!(s.ports.get("grpc").is_none());
        assert!(!s.has_no_vip());
        s.cluster_vips.insert("c2".into(), "10.1.1.1".into());
        assert_eq!(s.address_for_cluster("c2"), "10.1.1.1");
        assert_eq!(s.address_for_cluster("c1"), "10.0.0.1");
        s.address = UNSPECIFIED_IP.into();
        assert!(s.has_no_vip());
    }
}
