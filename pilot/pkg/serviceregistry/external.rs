//! The ServiceEntry registry (upstream `pilot/pkg/serviceregistry/external`): services and
//! instances converted from the ServiceEntry objects of a config store.
//!
//! Conversion (as upstream `conversion.go`):
//! - one service per host and address (no addresses: one service at `0.0.0.0`); an address is
//!   an IP, or a CIDR (a full-length prefix becomes the plain IP); anything else is skipped;
//! - resolution NONE → passthrough, STATIC → client-side LB, DNS → DNS;
//! - `location: MESH_EXTERNAL` → mesh external; `exportTo` as given;
//! - the registry attribute is `MCP`, as upstream sets it for ServiceEntries;
//! - instances: every endpoint on every port (`unix://` endpoints: Unix socket, port 0; else the
//!   endpoint's port for the port name, defaulting to the service port), with labels, network,
//!   locality, weight and the TLS mode from the `security.istio.io/tlsMode` label (default
//!   `disabled`); a DNS entry without endpoints gets one instance per port whose address is
//!   the host itself.
//!
//! Indexes are rebuilt lazily after a change, on the next query. A change triggers one full
//! push scoped to the entry's namespace and the ServiceEntry kind (upstream's discovery server
//! did the same for each service and instance of the entry); endpoints of ServiceEntries are
//! read by EDS from [`ServiceDiscovery::instances_by_port`] at push time, as upstream.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use istio_api::istio::networking::v1alpha3 as networking;
use istio_api::istio::networking::v1alpha3::service_entry::{Location, Resolution as SeResolution};
use istio_pkg::config::labels;
use istio_pkg::config::model::{Config, Spec};
use istio_pkg::config::protocol;
use istio_pkg::config::schema::Kind;

use crate::model::service::{registry, AddressFamily, UNSPECIFIED_IP};
use crate::model::{
    ConfigStoreCache, IstioEndpoint, Port, PortList, Proxy, PushRequest, Resolution, Service,
    ServiceAttributes, ServiceDiscovery, ServiceInstance, Visibility, XdsUpdater,
};

/// Label carrying an endpoint's TLS mode.
pub const TLS_MODE_LABEL: &str = "security.istio.io/tlsMode";
/// TLS mode of endpoints without the label.
pub const DISABLED_TLS_MODE: &str = "disabled";
const UNIX_PREFIX: &str = "unix://";

/// The TLS mode of an endpoint from its labels (upstream `GetTLSModeFromEndpointLabels`).
pub fn tls_mode_from_labels(labels: &labels::Instance) -> String {
    labels
        .0
        .get(TLS_MODE_LABEL)
        .cloned()
        .unwrap_or_else(|| DISABLED_TLS_MODE.to_string())
}

fn convert_port(p: &networking::Port) -> Port {
    Port {
        name: p.name.clone(),
        port: p.number,
        protocol: protocol::parse(&p.protocol),
    }
}

/// An address of a ServiceEntry as a service address: IPs as they are, CIDRs with a full
/// prefix as plain IPs, other CIDRs as written; `None` when it is neither.
fn service_address(addr: &str) -> Option<String> {
    if let Some((ip, len)) = addr.split_once('/') {
        let ip: IpAddr = ip.parse().ok()?;
        let len: u8 = len.parse().ok()?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        if len > max || len.to_string().len() != addr.len() - addr.find('/')? - 1 {
            return None;
        }
        return Some(if len == max {
            ip.to_string()
        } else {
            addr.to_string()
        });
    }
    addr.parse::<IpAddr>().ok().map(|_| addr.to_string())
}

/// The services of one ServiceEntry (upstream `convertServices`).
pub fn convert_services(cfg: &Config) -> Vec<Arc<Service>> {
    let Spec::ServiceEntry(se) = &cfg.spec else {
        return Vec::new();
    };
    let resolution = match SeResolution::try_from(se.resolution) {
        Ok(SeResolution::None) => Resolution::Passthrough,
        Ok(SeResolution::Dns) => Resolution::DnsLb,
        _ => Resolution::ClientSideLb,
    };
    let ports = PortList(se.ports.iter().map(convert_port).collect());
    let export_to: BTreeSet<Visibility> = se
        .export_to
        .iter()
        .filter_map(|e| Visibility::parse(e))
        .collect();
    let creation_time = cfg
        .meta
        .creation_timestamp
        .as_deref()
        .map_or(0, super::parse_rfc3339_secs);
    let mesh_external = se.location == Location::MeshExternal as i32;
    let make = |host: &str, address: String| {
        Arc::new(Service {
            hostname: host.to_string(),
            address,
            cluster_vips: BTreeMap::new(),
            ports: ports.clone(),
            service_accounts: Vec::new(),
            creation_time,
            resolution,
            mesh_external,
            attributes: ServiceAttributes {
                service_registry: registry::MCP.to_string(),
                name: host.to_string(),
                namespace: cfg.meta.namespace.clone(),
                export_to: export_to.clone(),
                ..Default::default()
            },
        })
    };
    let mut out = Vec::new();
    for host in &se.hosts {
        if se.addresses.is_empty() {
            out.push(make(host, UNSPECIFIED_IP.to_string()));
        } else {
            out.extend(
                se.addresses
                    .iter()
                    .filter_map(|a| service_address(a))
                    .map(|a| make(host, a)),
            );
        }
    }
    out
}

fn convert_endpoint(
    service: &Arc<Service>,
    port: &networking::Port,
    ep: &networking::service_entry::Endpoint,
) -> ServiceInstance {
    let (family, address, endpoint_port) = match ep.address.strip_prefix(UNIX_PREFIX) {
        Some(path) => (AddressFamily::Unix, path.to_string(), 0),
        None => {
            let p = ep.ports.get(&port.name).copied().unwrap_or(0);
            (
                AddressFamily::Tcp,
                ep.address.clone(),
                if p == 0 { port.number } else { p },
            )
        }
    };
    let labels: labels::Instance = ep
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    ServiceInstance {
        service: service.clone(),
        service_port: convert_port(port),
        endpoint: IstioEndpoint {
            tls_mode: tls_mode_from_labels(&labels),
            labels,
            family,
            address,
            endpoint_port,
            service_port_name: port.name.clone(),
            network: ep.network.clone(),
            locality: ep.locality.clone(),
            lb_weight: ep.weight,
            ..Default::default()
        },
    }
}

/// The instances of one ServiceEntry for its `services` (upstream `convertInstances`).
pub fn convert_instances(cfg: &Config, services: &[Arc<Service>]) -> Vec<ServiceInstance> {
    let Spec::ServiceEntry(se) = &cfg.spec else {
        return Vec::new();
    };
    let dns_without_endpoints =
        se.endpoints.is_empty() && se.resolution == SeResolution::Dns as i32;
    let mut out = Vec::new();
    for service in services {
        for port in &se.ports {
            if dns_without_endpoints {
                out.push(ServiceInstance {
                    service: service.clone(),
                    service_port: convert_port(port),
                    endpoint: IstioEndpoint {
                        address: service.hostname.clone(),
                        endpoint_port: port.number,
                        service_port_name: port.name.clone(),
                        tls_mode: DISABLED_TLS_MODE.to_string(),
                        ..Default::default()
                    },
                });
            } else {
                out.extend(
                    se.endpoints
                        .iter()
                        .map(|ep| convert_endpoint(service, port, ep)),
                );
            }
        }
    }
    out
}

#[derive(Default)]
struct Index {
    /// The store generation this index was built from.
    generation: u64,
    services: Vec<Arc<Service>>,
    /// First service per hostname.
    by_host: HashMap<String, Arc<Service>>,
    /// Every instance, once; the maps below index into it.
    all: Vec<ServiceInstance>,
    /// Instances by (hostname, namespace).
    instances: HashMap<(String, String), Vec<usize>>,
    by_ip: HashMap<String, Vec<usize>>,
}

impl Index {
    fn by_ip<'a>(&'a self, ips: &'a [String]) -> impl Iterator<Item = &'a ServiceInstance> + 'a {
        ips.iter()
            .filter_map(|ip| self.by_ip.get(ip))
            .flatten()
            .map(|&i| &self.all[i])
    }
}

/// The ServiceEntry registry.
pub struct ServiceEntryStore {
    store: Arc<dyn ConfigStoreCache>,
    index: RwLock<Index>,
    /// Bumped on every ServiceEntry change; the index is stale while it lags behind.
    generation: AtomicU64,
}

impl std::fmt::Debug for ServiceEntryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceEntryStore").finish_non_exhaustive()
    }
}

impl ServiceEntryStore {
    /// A registry over the ServiceEntries of `store`; every change to one is followed by a
    /// full push through `updater`.
    pub fn new(
        store: Arc<dyn ConfigStoreCache>,
        updater: Arc<dyn XdsUpdater>,
    ) -> Arc<ServiceEntryStore> {
        let this = Arc::new(ServiceEntryStore {
            store: store.clone(),
            index: RwLock::new(Index::default()),
            generation: AtomicU64::new(1),
        });
        let weak = Arc::downgrade(&this);
        store.register_event_handler(
            Kind::ServiceEntry,
            Arc::new(move |_prev, cfg, _event| {
                if let Some(this) = weak.upgrade() {
                    this.generation.fetch_add(1, Ordering::AcqRel);
                }
                let mut req = PushRequest::full();
                req.namespaces_updated.insert(cfg.meta.namespace.clone());
                req.config_types_updated.insert(Kind::ServiceEntry);
                updater.config_update(req);
            }),
        );
        this
    }

    /// Whether the underlying store has synced.
    pub fn has_synced(&self) -> bool {
        self.store.has_synced()
    }

    /// Rebuilds the indexes if a ServiceEntry changed since the last build.
    fn refresh(&self) {
        let generation = self.generation.load(Ordering::Acquire);
        if self
            .index
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .generation
            >= generation
        {
            return;
        }
        let configs = match self.store.list(Kind::ServiceEntry, None) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("listing ServiceEntries: {e}");
                Vec::new()
            }
        };
        let mut idx = Index {
            generation,
            ..Index::default()
        };
        for cfg in &configs {
            let services = convert_services(cfg);
            for s in &services {
                idx.by_host
                    .entry(s.hostname.clone())
                    .or_insert_with(|| s.clone());
            }
            for i in convert_instances(cfg, &services) {
                let n = idx.all.len();
                idx.instances
                    .entry((
                        i.service.hostname.clone(),
                        i.service.attributes.namespace.clone(),
                    ))
                    .or_default()
                    .push(n);
                idx.by_ip
                    .entry(i.endpoint.address.clone())
                    .or_default()
                    .push(n);
                idx.all.push(i);
            }
            idx.services.extend(services);
        }
        // A concurrent refresh may have built from a newer generation meanwhile.
        let mut current = self.index.write().unwrap_or_else(|e| e.into_inner());
        if current.generation < idx.generation {
            *current = idx;
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Index> {
        self.refresh();
        self.index.read().unwrap_or_else(|e| e.into_inner())
    }
}

impl ServiceDiscovery for ServiceEntryStore {
    fn services(&self) -> Vec<Arc<Service>> {
        self.read().services.clone()
    }

    fn get_service(&self, hostname: &str) -> Option<Arc<Service>> {
        self.read().by_host.get(hostname).cloned()
    }

    fn instances_by_port(
        &self,
        svc: &Service,
        port: u32,
        labels: &labels::Collection,
    ) -> Vec<ServiceInstance> {
        let idx = self.read();
        idx.instances
            .get(&(svc.hostname.clone(), svc.attributes.namespace.clone()))
            .into_iter()
            .flatten()
            .map(|&i| &idx.all[i])
            .filter(|i| {
                labels.has_subset_of(&i.endpoint.labels)
                    && (port == 0 || i.service_port.port == port)
            })
            .cloned()
            .collect()
    }

    fn get_proxy_service_instances(&self, proxy: &Proxy) -> Vec<ServiceInstance> {
        let idx = self.read();
        idx.by_ip(&proxy.ip_addresses).cloned().collect()
    }

    fn get_proxy_workload_labels(&self, proxy: &Proxy) -> labels::Collection {
        let idx = self.read();
        labels::Collection(
            idx.by_ip(&proxy.ip_addresses)
                .map(|i| i.endpoint.labels.clone())
                .collect(),
        )
    }

    fn get_istio_service_accounts(&self, _svc: &Service, _ports: &[u32]) -> Vec<String> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::memory::MemoryStore;
    use crate::model::{ConfigStore, NodeMetadata};
    use crate::serviceregistry::fake::{RecordingUpdater, XdsCall};
    use istio_pkg::config::kube::{parse_inputs, ParseOptions};

    fn se(yaml: &str) -> Config {
        let inputs = parse_inputs(
            yaml,
            &ParseOptions {
                domain: "cluster.local",
                default_namespace: "default",
                validate: true,
                check_top_level_fields: true,
            },
        );
        assert!(inputs.errors.is_empty(), "{:?}", inputs.errors);
        let mut c = inputs.configs.into_iter().next().expect("one config");
        c.meta.creation_timestamp = Some("2019-11-20T10:11:12Z".into());
        c
    }

    const HTTP_DNS: &str = "apiVersion: networking.istio.io/v1alpha3
kind: ServiceEntry
metadata: {name: httpDNS, namespace: httpDNS}
spec:
  hosts: [google.com, www.wikipedia.org]
  ports: [{number: 80, name: http-port, protocol: http}, {number: 8080, name: http-alt-port, protocol: http}]
  location: MESH_EXTERNAL
  resolution: DNS
";

    const TCP_STATIC: &str = "apiVersion: networking.istio.io/v1alpha3
kind: ServiceEntry
metadata: {name: tcpStatic, namespace: tcpStatic}
spec:
  hosts: [tcpstatic.com]
  addresses: [172.217.0.1/32, 10.0.0.0/16]
  ports: [{number: 444, name: tcp-444, protocol: tcp}]
  location: MESH_EXTERNAL
  resolution: STATIC
  exportTo: ['.']
  endpoints:
  - {address: 2.2.2.2, ports: {tcp-444: 9444}, labels: {foo: bar, security.istio.io/tlsMode: istio}, locality: r/z, network: n1, weight: 3}
  - {address: 3.3.3.3}
";

    const NONE_INTERNAL: &str = "apiVersion: networking.istio.io/v1alpha3
kind: ServiceEntry
metadata: {name: tcpNone, namespace: tcpNone}
spec:
  hosts: [tcpnone.com]
  addresses: [172.217.0.0/16]
  ports: [{number: 444, name: tcp-444, protocol: tcp}]
  location: MESH_INTERNAL
  resolution: NONE
";

    const UDS: &str = "apiVersion: networking.istio.io/v1alpha3
kind: ServiceEntry
metadata: {name: uds, namespace: uds}
spec:
  hosts: [uds.cluster.local]
  ports: [{number: 6553, name: grpc-1, protocol: grpc}]
  resolution: STATIC
  endpoints: [{address: 'unix:///test/sock'}]
";

    #[test]
    fn services_from_hosts_and_addresses() {
        type Row = (&'static str, &'static str, Resolution, bool);
        let cases: Vec<(&str, Vec<Row>)> = vec![
            (
                HTTP_DNS,
                vec![
                    ("google.com", "0.0.0.0", Resolution::DnsLb, true),
                    ("www.wikipedia.org", "0.0.0.0", Resolution::DnsLb, true),
                ],
            ),
            (
                TCP_STATIC,
                vec![
                    (
                        "tcpstatic.com",
                        "172.217.0.1",
                        Resolution::ClientSideLb,
                        true,
                    ),
                    (
                        "tcpstatic.com",
                        "10.0.0.0/16",
                        Resolution::ClientSideLb,
                        true,
                    ),
                ],
            ),
            (
                NONE_INTERNAL,
                vec![(
                    "tcpnone.com",
                    "172.217.0.0/16",
                    Resolution::Passthrough,
                    false,
                )],
            ),
        ];
        for (yaml, want) in cases {
            let cfg = se(yaml);
            let got: Vec<(String, String, Resolution, bool)> = convert_services(&cfg)
                .iter()
                .map(|s| {
                    (
                        s.hostname.clone(),
                        s.address.clone(),
                        s.resolution,
                        s.mesh_external,
                    )
                })
                .collect();
            let want: Vec<(String, String, Resolution, bool)> = want
                .into_iter()
                .map(|(h, a, r, m)| (h.to_string(), a.to_string(), r, m))
                .collect();
            assert_eq!(got, want, "{}", cfg.meta.name);
        }
        let s = &convert_services(&se(TCP_STATIC))[0];
        assert_eq!(s.attributes.service_registry, "MCP");
        assert_eq!(s.attributes.namespace, "tcpStatic");
        assert_eq!(s.attributes.name, "tcpstatic.com");
        assert_eq!(
            s.attributes.export_to,
            [Visibility::Private].into_iter().collect()
        );
        assert_eq!(s.creation_time, 1_574_244_672);
        assert_eq!(s.ports.0[0].protocol, protocol::Instance::Tcp);
    }

    #[test]
    fn addresses() {
        let cases = [
            ("1.1.1.1", Some("1.1.1.1")),
            ("1.1.1.1/32", Some("1.1.1.1")),
            ("1.1.0.0/16", Some("1.1.0.0/16")),
            ("2001:db8::1/128", Some("2001:db8::1")),
            ("1.1.1.1/33", None),
            ("foo", None),
            ("1.1.1.1/", None),
        ];
        for (input, want) in cases {
            assert_eq!(service_address(input).as_deref(), want, "{input}");
        }
    }

    #[test]
    fn instances_from_endpoints_and_dns_hosts() {
        let cfg = se(TCP_STATIC);
        let svcs = convert_services(&cfg);
        let inst = convert_instances(&cfg, &svcs);
        assert_eq!(inst.len(), 4); // 2 services x 2 endpoints
        let e = &inst[0].endpoint;
        assert_eq!((e.address.as_str(), e.endpoint_port), ("2.2.2.2", 9444));
        assert_eq!(e.tls_mode, "istio");
        assert_eq!(
            (e.locality.as_str(), e.network.as_str(), e.lb_weight),
            ("r/z", "n1", 3)
        );
        assert_eq!(e.service_port_name, "tcp-444");
        let e = &inst[1].endpoint;
        assert_eq!((e.address.as_str(), e.endpoint_port), ("3.3.3.3", 444));
        assert_eq!(e.tls_mode, "disabled");

        let cfg = se(HTTP_DNS);
        let inst = convert_instances(&cfg, &convert_services(&cfg));
        let got: Vec<(String, u32)> = inst
            .iter()
            .map(|i| (i.endpoint.address.clone(), i.endpoint.endpoint_port))
            .collect();
        assert_eq!(
            got,
            [
                ("google.com".to_string(), 80),
                ("google.com".to_string(), 8080),
                ("www.wikipedia.org".to_string(), 80),
                ("www.wikipedia.org".to_string(), 8080)
            ]
        );

        let cfg = se(UDS);
        let inst = convert_instances(&cfg, &convert_services(&cfg));
        assert_eq!(inst[0].endpoint.family, AddressFamily::Unix);
        assert_eq!(inst[0].endpoint.address, "/test/sock");
        assert_eq!(inst[0].endpoint.endpoint_port, 0);

        let cfg = se(NONE_INTERNAL);
        assert!(convert_instances(&cfg, &convert_services(&cfg)).is_empty());
    }

    #[test]
    fn registry_follows_the_store_and_pushes() {
        let store = Arc::new(MemoryStore::istio());
        let up = Arc::new(RecordingUpdater::new());
        let reg = ServiceEntryStore::new(store.clone(), up.clone());
        assert!(reg.services().is_empty());
        store.create(se(TCP_STATIC)).unwrap();
        store.create(se(HTTP_DNS)).unwrap();
        assert_eq!(reg.services().len(), 4);
        let svc = reg.get_service("tcpstatic.com").unwrap();
        assert_eq!(svc.address, "172.217.0.1");
        let foo = labels::Collection(vec![[("foo", "bar")].into_iter().collect()]);
        let got = reg.instances_by_port(&svc, 444, &foo);
        assert_eq!(got.len(), 2); // the 2.2.2.2 endpoint of both services (same hostname)
        assert!(reg
            .instances_by_port(&svc, 80, &labels::Collection::default())
            .is_empty());
        let mut proxy = Proxy::parse(
            "sidecar~2.2.2.2~p.ns~ns.svc.cluster.local",
            NodeMetadata::default(),
        )
        .unwrap();
        proxy.ip_addresses = vec!["2.2.2.2".into()];
        assert_eq!(reg.get_proxy_service_instances(&proxy).len(), 2);
        assert_eq!(reg.get_proxy_workload_labels(&proxy).0[0].0["foo"], "bar");

        store
            .delete(Kind::ServiceEntry, "tcpStatic", "tcpStatic")
            .unwrap();
        assert!(reg.get_service("tcpstatic.com").is_none());
        let pushes: Vec<(bool, Vec<String>)> = up
            .calls()
            .into_iter()
            .filter_map(|c| match c {
                XdsCall::Config(r) => {
                    assert!(r.config_types_updated.contains(&Kind::ServiceEntry));
                    Some((r.full, r.namespaces_updated.into_iter().collect()))
                }
                _ => None,
            })
            .collect();
        assert_eq!(
            pushes,
            [
                (true, vec!["tcpStatic".to_string()]),
                (true, vec!["httpDNS".to_string()]),
                (true, vec!["tcpStatic".to_string()])
            ]
        );
    }
}
