//! In-memory registries (upstream `pilot/pkg/serviceregistry/memory`).
//!
//! - [`MemoryRegistry`]: services and endpoints added and removed through its API, reporting
//!   every change to an [`XdsUpdater`]; used by tests and the local mesh.
//! - [`MockDiscovery`]: upstream's mock registry, which derives instances from the services
//!   (`versions` instances per service, fixed ports and IPs), and the fixed mock services
//!   ([`hello_service`], [`world_service`], ...). `--registries Mock` in upstream 1.4.10 adds
//!   two such registries *without any service* ([`mock_registries`]): the hello/world services
//!   are commented out there and only tests use them.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::Ipv4Addr;
use std::sync::{Arc, RwLock};

use istio_pkg::config::labels;
use istio_pkg::config::protocol::Instance as Protocol;
use istio_pkg::config::schema::Kind;

use super::aggregate::Registry;
use crate::model::service::registry;
use crate::model::{
    Event, IstioEndpoint, Port, PortList, Proxy, PushRequest, Resolution, Service,
    ServiceAttributes, ServiceDiscovery, ServiceInstance, XdsUpdater,
};

#[derive(Default)]
struct MemState {
    services: BTreeMap<String, Arc<Service>>,
    endpoints: HashMap<String, Vec<IstioEndpoint>>,
    management_ports: HashMap<String, PortList>,
}

/// A registry whose content is set through its methods.
pub struct MemoryRegistry {
    cluster_id: String,
    updater: Option<Arc<dyn XdsUpdater>>,
    state: RwLock<MemState>,
}

impl std::fmt::Debug for MemoryRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryRegistry")
            .field("cluster_id", &self.cluster_id)
            .finish_non_exhaustive()
    }
}

impl MemoryRegistry {
    /// An empty registry; changes are reported to `updater` as shard `cluster_id`.
    pub fn new(
        cluster_id: impl Into<String>,
        updater: Option<Arc<dyn XdsUpdater>>,
    ) -> MemoryRegistry {
        MemoryRegistry {
            cluster_id: cluster_id.into(),
            updater,
            state: RwLock::new(MemState::default()),
        }
    }

    pub fn cluster_id(&self) -> &str {
        &self.cluster_id
    }

    /// Adds or replaces a service: `svc_update` and a full push scoped to its namespace.
    pub fn add_service(&self, svc: Service) {
        let hostname = svc.hostname.clone();
        let ns = svc.attributes.namespace.clone();
        let existed = self
            .state
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .services
            .insert(hostname.clone(), Arc::new(svc))
            .is_some();
        let event = if existed { Event::Update } else { Event::Add };
        self.notify_service(&hostname, &ns, event);
    }

    /// Removes a service and its endpoints.
    pub fn remove_service(&self, hostname: &str) {
        let removed = {
            let mut st = self.state.write().unwrap_or_else(|e| e.into_inner());
            st.endpoints.remove(hostname);
            st.services.remove(hostname)
        };
        if let Some(svc) = removed {
            let ns = svc.attributes.namespace.clone();
            if let Some(u) = &self.updater {
                u.eds_update(&self.cluster_id, hostname, &ns, Vec::new());
            }
            self.notify_service(hostname, &ns, Event::Delete);
        }
    }

    fn notify_service(&self, hostname: &str, ns: &str, event: Event) {
        if let Some(u) = &self.updater {
            u.svc_update(&self.cluster_id, hostname, ns, event);
            let mut req = PushRequest::full();
            req.namespaces_updated.insert(ns.to_string());
            req.config_types_updated.insert(Kind::ServiceEntry);
            u.config_update(req);
        }
    }

    /// Replaces every endpoint of `hostname` (an EDS update).
    pub fn set_endpoints(&self, hostname: &str, endpoints: Vec<IstioEndpoint>) {
        let ns = {
            let mut st = self.state.write().unwrap_or_else(|e| e.into_inner());
            st.endpoints.insert(hostname.to_string(), endpoints.clone());
            st.services
                .get(hostname)
                .map(|s| s.attributes.namespace.clone())
                .unwrap_or_default()
        };
        if let Some(u) = &self.updater {
            u.eds_update(&self.cluster_id, hostname, &ns, endpoints);
        }
    }

    /// Adds one endpoint of `hostname` (an EDS update with all of them).
    pub fn add_endpoint(&self, hostname: &str, endpoint: IstioEndpoint) {
        let mut all = self.endpoints(hostname);
        all.push(endpoint);
        self.set_endpoints(hostname, all);
    }

    /// Removes the endpoints of `hostname` at `address`.
    pub fn remove_endpoints_at(&self, hostname: &str, address: &str) {
        let mut all = self.endpoints(hostname);
        all.retain(|e| e.address != address);
        self.set_endpoints(hostname, all);
    }

    /// The endpoints of `hostname`.
    pub fn endpoints(&self, hostname: &str) -> Vec<IstioEndpoint> {
        self.state
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .endpoints
            .get(hostname)
            .cloned()
            .unwrap_or_default()
    }

    /// Sets the management (health check) ports of the workload at `ip`.
    pub fn set_management_ports(&self, ip: &str, ports: PortList) {
        self.state
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .management_ports
            .insert(ip.to_string(), ports);
    }
}

impl ServiceDiscovery for MemoryRegistry {
    fn services(&self) -> Vec<Arc<Service>> {
        let st = self.state.read().unwrap_or_else(|e| e.into_inner());
        st.services.values().cloned().collect()
    }

    fn get_service(&self, hostname: &str) -> Option<Arc<Service>> {
        let st = self.state.read().unwrap_or_else(|e| e.into_inner());
        st.services.get(hostname).cloned()
    }

    fn instances_by_port(
        &self,
        svc: &Service,
        port: u32,
        labels: &labels::Collection,
    ) -> Vec<ServiceInstance> {
        let st = self.state.read().unwrap_or_else(|e| e.into_inner());
        let Some(service) = st.services.get(&svc.hostname) else {
            return Vec::new();
        };
        let Some(svc_port) = service.ports.get_by_port(port) else {
            return Vec::new();
        };
        st.endpoints
            .get(&svc.hostname)
            .into_iter()
            .flatten()
            .filter(|e| e.service_port_name == svc_port.name && labels.has_subset_of(&e.labels))
            .map(|e| ServiceInstance {
                service: service.clone(),
                service_port: svc_port.clone(),
                endpoint: e.clone(),
            })
            .collect()
    }

    fn get_proxy_service_instances(&self, proxy: &Proxy) -> Vec<ServiceInstance> {
        let st = self.state.read().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::new();
        for (hostname, eps) in &st.endpoints {
            let Some(service) = st.services.get(hostname) else {
                continue;
            };
            for e in eps {
                if !proxy.ip_addresses.contains(&e.address) {
                    continue;
                }
                if let Some(p) = service.ports.get(&e.service_port_name) {
                    out.push(ServiceInstance {
                        service: service.clone(),
                        service_port: p.clone(),
                        endpoint: e.clone(),
                    });
                }
            }
        }
        out.sort_by(|a, b| {
            (&a.service.hostname, a.service_port.port)
                .cmp(&(&b.service.hostname, b.service_port.port))
        });
        out
    }

    fn get_proxy_workload_labels(&self, proxy: &Proxy) -> labels::Collection {
        let st = self.state.read().unwrap_or_else(|e| e.into_inner());
        let mut hosts: Vec<&String> = st.endpoints.keys().collect();
        hosts.sort();
        for h in hosts {
            if let Some(e) = st.endpoints[h]
                .iter()
                .find(|e| proxy.ip_addresses.contains(&e.address))
            {
                return labels::Collection(vec![e.labels.clone()]);
            }
        }
        labels::Collection::default()
    }

    fn get_istio_service_accounts(&self, svc: &Service, ports: &[u32]) -> Vec<String> {
        let mut out: BTreeSet<String> = svc.service_accounts.iter().cloned().collect();
        for &port in ports {
            for i in self.instances_by_port(svc, port, &labels::Collection::default()) {
                if !i.endpoint.service_account.is_empty() {
                    out.insert(i.endpoint.service_account);
                }
            }
        }
        out.into_iter().collect()
    }

    fn management_ports(&self, addr: &str) -> PortList {
        let st = self.state.read().unwrap_or_else(|e| e.into_inner());
        st.management_ports.get(addr).cloned().unwrap_or_default()
    }
}

/// Upstream's mock registry: instances are derived from the services, `versions` per service.
#[derive(Debug, Clone, Default)]
pub struct MockDiscovery {
    services: BTreeMap<String, Arc<Service>>,
    versions: u32,
}

/// Name of the first port of [`make_service`].
pub const PORT_HTTP_NAME: &str = "http";

fn port(name: &str, num: u32, protocol: Protocol) -> Port {
    Port {
        name: name.into(),
        port: num,
        protocol,
    }
}

fn mock_service(hostname: &str, address: &str, mesh_external: bool, ports: Vec<Port>) -> Service {
    Service {
        hostname: hostname.into(),
        address: address.into(),
        cluster_vips: BTreeMap::new(),
        ports: PortList(ports),
        service_accounts: Vec::new(),
        creation_time: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64),
        resolution: Resolution::ClientSideLb,
        mesh_external,
        attributes: ServiceAttributes::default(),
    }
}

/// A mock service with ports http 80, http-status 81, custom 90 (TCP), mongo 100, redis 110
/// and mysql 120 (upstream `MakeService`).
pub fn make_service(hostname: &str, address: &str) -> Service {
    mock_service(
        hostname,
        address,
        false,
        vec![
            port(PORT_HTTP_NAME, 80, Protocol::Http),
            port("http-status", 81, Protocol::Http),
            port("custom", 90, Protocol::Tcp),
            port("mongo", 100, Protocol::Mongo),
            port("redis", 110, Protocol::Redis),
            port("mysql", 120, Protocol::MySql),
        ],
    )
}

/// A mock external service with one HTTP port 80.
pub fn make_external_http_service(hostname: &str, mesh_external: bool, address: &str) -> Service {
    mock_service(
        hostname,
        address,
        mesh_external,
        vec![port("http", 80, Protocol::Http)],
    )
}

/// A mock external service with one HTTPS port 443.
pub fn make_external_https_service(hostname: &str, mesh_external: bool, address: &str) -> Service {
    mock_service(
        hostname,
        address,
        mesh_external,
        vec![port("https", 443, Protocol::Https)],
    )
}

/// `hello.default.svc.cluster.local` at 10.1.0.0.
pub fn hello_service() -> Service {
    make_service("hello.default.svc.cluster.local", "10.1.0.0")
}

/// `world.default.svc.cluster.local` at 10.2.0.0.
pub fn world_service() -> Service {
    make_service("world.default.svc.cluster.local", "10.2.0.0")
}

/// `httpbin.default.svc.cluster.local`, mesh-external HTTP.
pub fn ext_http_service() -> Service {
    make_external_http_service("httpbin.default.svc.cluster.local", true, "")
}

/// `httpsbin.default.svc.cluster.local`, mesh-external HTTPS.
pub fn ext_https_service() -> Service {
    make_external_https_service("httpsbin.default.svc.cluster.local", true, "")
}

/// The IP of instance `version` of a mock service: its address with the last two octets set to
/// 1 and `version`; empty for external services (and addresses that are not IPv4).
pub fn make_ip(svc: &Service, version: u32) -> String {
    if svc.mesh_external {
        return String::new();
    }
    match svc.address.parse::<Ipv4Addr>() {
        Ok(ip) => {
            let o = ip.octets();
            Ipv4Addr::new(o[0], o[1], 1, version as u8).to_string()
        }
        Err(_) => String::new(),
    }
}

/// Instance `version` of a mock service on `port`: the endpoint port is 80 for port 80, else
/// the service port + 1000; labels `version: v<version>`. `None` for external services.
pub fn make_instance(
    svc: &Arc<Service>,
    port: &Port,
    version: u32,
    locality: &str,
) -> Option<ServiceInstance> {
    if svc.mesh_external {
        return None;
    }
    let target = if port.port == 80 {
        80
    } else {
        port.port + 1000
    };
    Some(ServiceInstance {
        service: svc.clone(),
        service_port: port.clone(),
        endpoint: IstioEndpoint {
            labels: [("version", format!("v{version}"))].into_iter().collect(),
            address: make_ip(svc, version),
            endpoint_port: target,
            service_port_name: port.name.clone(),
            locality: locality.into(),
            ..Default::default()
        },
    })
}

impl MockDiscovery {
    pub fn new(services: impl IntoIterator<Item = Service>, versions: u32) -> MockDiscovery {
        MockDiscovery {
            services: services
                .into_iter()
                .map(|s| (s.hostname.clone(), Arc::new(s)))
                .collect(),
            versions,
        }
    }

    /// Upstream's `MockDiscovery`: hello, world, httpbin and httpsbin, two versions each.
    pub fn with_mock_services() -> MockDiscovery {
        MockDiscovery::new(
            [
                hello_service(),
                world_service(),
                ext_http_service(),
                ext_https_service(),
            ],
            2,
        )
    }

    pub fn add_service(&mut self, svc: Service) {
        self.services.insert(svc.hostname.clone(), Arc::new(svc));
    }
}

impl ServiceDiscovery for MockDiscovery {
    fn services(&self) -> Vec<Arc<Service>> {
        self.services.values().cloned().collect()
    }

    fn get_service(&self, hostname: &str) -> Option<Arc<Service>> {
        self.services.get(hostname).cloned()
    }

    fn instances_by_port(
        &self,
        svc: &Service,
        port: u32,
        labels: &labels::Collection,
    ) -> Vec<ServiceInstance> {
        let Some(service) = self.services.get(&svc.hostname) else {
            return Vec::new();
        };
        if service.mesh_external {
            return Vec::new();
        }
        let Some(p) = service.ports.get_by_port(port) else {
            return Vec::new();
        };
        (0..self.versions)
            .filter(|v| {
                let l: labels::Instance = [("version", format!("v{v}"))].into_iter().collect();
                labels.has_subset_of(&l)
            })
            .filter_map(|v| make_instance(service, p, v, "zone/region"))
            .collect()
    }

    fn get_proxy_service_instances(&self, proxy: &Proxy) -> Vec<ServiceInstance> {
        let Some(ip) = proxy.ip_addresses.first() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for service in self.services.values().filter(|s| !s.mesh_external) {
            for v in 0..self.versions {
                if *ip == make_ip(service, v) {
                    out.extend(
                        service
                            .ports
                            .iter()
                            .filter_map(|p| make_instance(service, p, v, "region/zone")),
                    );
                }
            }
        }
        out
    }

    fn get_proxy_workload_labels(&self, _proxy: &Proxy) -> labels::Collection {
        labels::Collection::default()
    }

    fn get_istio_service_accounts(&self, svc: &Service, _ports: &[u32]) -> Vec<String> {
        if svc.hostname == "world.default.svc.cluster.local" {
            vec![
                "spiffe://cluster.local/ns/default/sa/serviceaccount1".into(),
                "spiffe://cluster.local/ns/default/sa/serviceaccount2".into(),
            ]
        } else {
            Vec::new()
        }
    }

    fn management_ports(&self, _addr: &str) -> PortList {
        PortList(vec![
            port("http", 3333, Protocol::Http),
            port("custom", 9999, Protocol::Tcp),
        ])
    }
}

/// What `--registries Mock` adds in upstream 1.4.10: registries `mockAdapter1` and
/// `mockAdapter2` (also their cluster ids), each an empty [`MockDiscovery`] with 2 versions.
pub fn mock_registries() -> Vec<Registry> {
    ["mockAdapter1", "mockAdapter2"]
        .into_iter()
        .map(|name| Registry {
            name: name.into(),
            cluster_id: name.into(),
            discovery: Arc::new(MockDiscovery::new([], 2)),
        })
        .collect()
}

/// The registry name used for memory registries in service attributes.
pub const REGISTRY_NAME: &str = registry::MOCK;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::NodeMetadata;
    use crate::serviceregistry::fake::{RecordingUpdater, XdsCall};

    fn proxy(ip: &str) -> Proxy {
        let mut p = Proxy::parse(
            &format!("sidecar~{ip}~v0.default~default.svc.cluster.local"),
            NodeMetadata::default(),
        )
        .expect("proxy");
        p.ip_addresses = vec![ip.to_string()];
        p
    }

    #[test]
    fn mock_data_matches_upstream() {
        let d = MockDiscovery::with_mock_services();
        let names: Vec<String> = d.services().iter().map(|s| s.hostname.clone()).collect();
        assert_eq!(
            names,
            [
                "hello.default.svc.cluster.local",
                "httpbin.default.svc.cluster.local",
                "httpsbin.default.svc.cluster.local",
                "world.default.svc.cluster.local"
            ]
        );
        let hello = d.get_service("hello.default.svc.cluster.local").unwrap();
        assert_eq!(hello.address, "10.1.0.0");
        let ports: Vec<(String, u32)> = hello
            .ports
            .iter()
            .map(|p| (p.name.clone(), p.port))
            .collect();
        assert_eq!(ports.len(), 6);
        assert_eq!(make_ip(&hello, 1), "10.1.1.1");

        let all = d.instances_by_port(&hello, 90, &labels::Collection::default());
        let got: Vec<(String, u32, String)> = all
            .iter()
            .map(|i| {
                (
                    i.endpoint.address.clone(),
                    i.endpoint.endpoint_port,
                    i.endpoint.labels.0["version"].clone(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("10.1.1.0".into(), 1090, "v0".into()),
                ("10.1.1.1".into(), 1090, "v1".into())
            ]
        );
        assert_eq!(
            d.instances_by_port(&hello, 80, &labels::Collection::default())[0]
                .endpoint
                .endpoint_port,
            80
        );
        let v1 = labels::Collection(vec![[("version", "v1")].into_iter().collect()]);
        assert_eq!(d.instances_by_port(&hello, 80, &v1).len(), 1);
        let ext = d.get_service("httpbin.default.svc.cluster.local").unwrap();
        assert!(d
            .instances_by_port(&ext, 80, &labels::Collection::default())
            .is_empty());

        let inst = d.get_proxy_service_instances(&proxy("10.1.1.0"));
        assert_eq!(inst.len(), 6);
        assert!(inst.iter().all(|i| i.endpoint.locality == "region/zone"));
        assert_eq!(
            d.get_istio_service_accounts(
                &d.get_service("world.default.svc.cluster.local").unwrap(),
                &[80]
            )
            .len(),
            2
        );
        assert_eq!(d.management_ports("1.2.3.4").len(), 2);
    }

    #[test]
    fn bootstrap_mock_registries_are_empty() {
        let regs = mock_registries();
        let names: Vec<(&str, &str)> = regs
            .iter()
            .map(|r| (r.name.as_str(), r.cluster_id.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("mockAdapter1", "mockAdapter1"),
                ("mockAdapter2", "mockAdapter2")
            ]
        );
        assert!(regs.iter().all(|r| r.discovery.services().is_empty()));
    }

    #[test]
    fn memory_registry_reports_changes() {
        let up = Arc::new(RecordingUpdater::new());
        let reg = MemoryRegistry::new("c1", Some(up.clone() as Arc<dyn XdsUpdater>));
        let mut svc = make_service("a.ns.svc.cluster.local", "10.0.0.1");
        svc.attributes.namespace = "ns".into();
        reg.add_service(svc);
        let ep = |ip: &str, v: &str| IstioEndpoint {
            address: ip.into(),
            endpoint_port: 8080,
            service_port_name: "http".into(),
            labels: [("version", v)].into_iter().collect(),
            service_account: format!("spiffe://cluster.local/ns/ns/sa/{v}"),
            ..Default::default()
        };
        reg.add_endpoint("a.ns.svc.cluster.local", ep("1.1.1.1", "v1"));
        reg.add_endpoint("a.ns.svc.cluster.local", ep("1.1.1.2", "v2"));
        let svc = reg.get_service("a.ns.svc.cluster.local").unwrap();
        let v2 = labels::Collection(vec![[("version", "v2")].into_iter().collect()]);
        let got = reg.instances_by_port(&svc, 80, &v2);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].endpoint.address, "1.1.1.2");
        assert!(reg
            .instances_by_port(&svc, 81, &labels::Collection::default())
            .is_empty());
        assert_eq!(reg.get_proxy_service_instances(&proxy("1.1.1.1")).len(), 1);
        assert_eq!(
            reg.get_proxy_workload_labels(&proxy("1.1.1.1")).0[0].0["version"],
            "v1"
        );
        assert_eq!(reg.get_istio_service_accounts(&svc, &[80]).len(), 2);
        reg.remove_endpoints_at("a.ns.svc.cluster.local", "1.1.1.1");
        assert_eq!(
            up.last_eds("a.ns.svc.cluster.local").map(|e| e.len()),
            Some(1)
        );
        reg.remove_service("a.ns.svc.cluster.local");
        assert!(reg.services().is_empty());
        let calls = up.calls();
        let kinds: Vec<&str> = calls
            .iter()
            .map(|c| match c {
                XdsCall::Eds { .. } => "eds",
                XdsCall::Svc { .. } => "svc",
                XdsCall::Config(_) => "config",
                XdsCall::Proxy { .. } => "proxy",
            })
            .collect();
        assert_eq!(
            kinds,
            ["svc", "config", "eds", "eds", "eds", "eds", "svc", "config"]
        );
        assert!(matches!(
            &calls[6],
            XdsCall::Svc {
                event: Event::Delete,
                shard,
                ..
            } if shard == "c1"
        ));
        assert_eq!(
            up.last_eds("a.ns.svc.cluster.local").map(|e| e.len()),
            Some(0)
        );
    }
}
