//! Fixtures shared by the networking tests: an in-memory registry and config store, service
//! builders, and helpers to look into generated config.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use envoy_types::pb::envoy::config::listener::v3::{filter, Filter, Listener};
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager;
use envoy_types::pb::envoy::extensions::filters::network::tcp_proxy::v3::{tcp_proxy, TcpProxy};
use prost::Message;

use istio_api::istio::mesh::v1alpha1::MeshConfig;
use istio_pilot::features::Features;
use istio_pilot::model::service::registry;
use istio_pilot::model::{
    ConfigStore, Environment, IstioEndpoint, NodeMetadata, Port, PortList, Probe, Proxy,
    PushContext, Resolution, Service, ServiceAttributes, ServiceDiscovery, ServiceInstance,
    StoreError,
};
use istio_pkg::config::labels;
use istio_pkg::config::mesh::{default_mesh_config, empty_mesh_networks};
use istio_pkg::config::model::Config;
use istio_pkg::config::protocol::{self, Instance as Protocol};
use istio_pkg::config::schema::Kind;

/// A registry holding services, their endpoints and management ports.
#[derive(Default)]
pub struct Registry {
    pub services: Vec<Arc<Service>>,
    /// (hostname, service port) -> instances.
    pub instances: HashMap<(String, u32), Vec<ServiceInstance>>,
    pub mgmt: HashMap<String, PortList>,
    /// Workload IP -> HTTP health probes.
    pub probes: HashMap<String, Vec<Probe>>,
}

impl Registry {
    pub fn add(&mut self, svc: Service) -> Arc<Service> {
        let s = Arc::new(svc);
        self.services.push(s.clone());
        s
    }

    /// Adds an endpoint `addr:endpoint_port` behind service port `port` of `svc`.
    pub fn endpoint(&mut self, svc: &Arc<Service>, port: u32, addr: &str, endpoint_port: u32) {
        let sp = svc
            .ports
            .get_by_port(port)
            .cloned()
            .expect("fixture port exists");
        self.instances
            .entry((svc.hostname.clone(), port))
            .or_default()
            .push(ServiceInstance {
                service: svc.clone(),
                service_port: sp.clone(),
                endpoint: IstioEndpoint {
                    address: addr.into(),
                    endpoint_port,
                    service_port_name: sp.name.clone(),
                    ..Default::default()
                },
            });
    }
}

impl ServiceDiscovery for Registry {
    fn services(&self) -> Vec<Arc<Service>> {
        self.services.clone()
    }

    fn get_service(&self, hostname: &str) -> Option<Arc<Service>> {
        self.services
            .iter()
            .find(|s| s.hostname == hostname)
            .cloned()
    }

    fn instances_by_port(
        &self,
        svc: &Service,
        port: u32,
        _labels: &labels::Collection,
    ) -> Vec<ServiceInstance> {
        self.instances
            .get(&(svc.hostname.clone(), port))
            .cloned()
            .unwrap_or_default()
    }

    fn get_proxy_service_instances(&self, proxy: &Proxy) -> Vec<ServiceInstance> {
        let mut keys: Vec<_> = self.instances.keys().cloned().collect();
        keys.sort();
        keys.iter()
            .flat_map(|k| self.instances[k].iter())
            .filter(|i| proxy.ip_addresses.contains(&i.endpoint.address))
            .cloned()
            .collect()
    }

    fn get_proxy_workload_labels(&self, _proxy: &Proxy) -> labels::Collection {
        labels::Collection::default()
    }

    fn get_istio_service_accounts(&self, _svc: &Service, _ports: &[u32]) -> Vec<String> {
        Vec::new()
    }

    fn management_ports(&self, addr: &str) -> PortList {
        self.mgmt.get(addr).cloned().unwrap_or_default()
    }
    fn workload_health_check_info(&self, addr: &str) -> Vec<Probe> {
        self.probes.get(addr).cloned().unwrap_or_default()
    }
}

/// A read-only store of Sidecar objects.
#[derive(Default)]
pub struct Store(pub Vec<Arc<Config>>);

impl ConfigStore for Store {
    fn kinds(&self) -> Vec<Kind> {
        vec![Kind::Sidecar]
    }

    fn get(&self, kind: Kind, name: &str, namespace: &str) -> Option<Arc<Config>> {
        self.0
            .iter()
            .find(|c| c.meta.kind == kind && c.meta.name == name && c.meta.namespace == namespace)
            .cloned()
    }

    fn list(&self, kind: Kind, namespace: Option<&str>) -> Result<Vec<Arc<Config>>, StoreError> {
        Ok(self
            .0
            .iter()
            .filter(|c| c.meta.kind == kind && namespace.is_none_or(|n| c.meta.namespace == n))
            .cloned()
            .collect())
    }

    fn create(&self, config: Config) -> Result<String, StoreError> {
        Err(StoreError::ReadOnly {
            kind: config.meta.kind,
            key: config.meta.key(),
        })
    }

    fn update(&self, config: Config) -> Result<String, StoreError> {
        self.create(config)
    }

    fn delete(&self, kind: Kind, name: &str, _namespace: &str) -> Result<(), StoreError> {
        Err(StoreError::ReadOnly {
            kind,
            key: name.into(),
        })
    }
}

pub fn port(name: &str, number: u32, proto: &str) -> Port {
    Port {
        name: name.into(),
        port: number,
        protocol: protocol::parse(proto),
    }
}

/// A Kubernetes service `name.ns.svc.cluster.local` with a VIP.
pub fn kube_service(name: &str, ns: &str, vip: &str, ports: Vec<Port>) -> Service {
    Service {
        hostname: format!("{name}.{ns}.svc.cluster.local"),
        address: vip.into(),
        cluster_vips: BTreeMap::new(),
        ports: PortList(ports),
        service_accounts: Vec::new(),
        creation_time: 0,
        resolution: Resolution::ClientSideLb,
        mesh_external: false,
        attributes: ServiceAttributes {
            service_registry: registry::KUBERNETES.into(),
            name: name.into(),
            namespace: ns.into(),
            ..Default::default()
        },
    }
}

/// A ServiceEntry-style service.
pub fn external_service(
    host: &str,
    ns: &str,
    address: &str,
    resolution: Resolution,
    ports: Vec<Port>,
) -> Service {
    Service {
        hostname: host.into(),
        address: address.into(),
        cluster_vips: BTreeMap::new(),
        ports: PortList(ports),
        service_accounts: Vec::new(),
        creation_time: 0,
        resolution,
        mesh_external: true,
        attributes: ServiceAttributes {
            service_registry: registry::EXTERNAL.into(),
            name: host.into(),
            namespace: ns.into(),
            ..Default::default()
        },
    }
}

pub fn env(reg: Registry, store: Store, mesh: MeshConfig) -> Environment {
    Environment::new(
        Arc::new(reg),
        Arc::new(store),
        mesh,
        empty_mesh_networks(),
        "cluster.local",
    )
}

pub fn default_env(reg: Registry) -> Environment {
    env(reg, Store::default(), default_mesh_config())
}

/// A 1.4 sidecar at `ip` in `ns` with extra metadata, its instances read from `env`.
pub fn sidecar(env: &Environment, ip: &str, ns: &str, meta: serde_json::Value) -> Proxy {
    let mut m = serde_json::json!({"ISTIO_VERSION": "1.4.10"});
    if let (Some(base), serde_json::Value::Object(extra)) = (m.as_object_mut(), meta) {
        base.extend(extra);
    }
    let meta = NodeMetadata::from_json(m).expect("fixture metadata");
    let mut p = Proxy::parse(
        &format!("sidecar~{ip}~app-1.{ns}~{ns}.svc.cluster.local"),
        meta,
    )
    .expect("fixture node id");
    let instances = env.service_discovery.get_proxy_service_instances(&p);
    p.set_service_instances(instances);
    p
}

pub fn push(env: &Environment) -> PushContext {
    PushContext::new(env)
}

pub fn features() -> Features {
    Features::default()
}

pub fn cluster<'a>(cs: &'a [Cluster], name: &str) -> &'a Cluster {
    cs.iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no cluster {name} in {:?}", names(cs)))
}

pub fn names(cs: &[Cluster]) -> Vec<&str> {
    cs.iter().map(|c| c.name.as_str()).collect()
}

pub fn listener<'a>(ls: &'a [Listener], name: &str) -> &'a Listener {
    ls.iter().find(|l| l.name == name).unwrap_or_else(|| {
        panic!(
            "no listener {name} in {:?}",
            ls.iter().map(|l| &l.name).collect::<Vec<_>>()
        )
    })
}

pub fn typed(f: &Filter) -> &[u8] {
    match &f.config_type {
        Some(filter::ConfigType::TypedConfig(a)) => a.value.as_slice(),
        other => panic!("filter {} has no typed config: {other:?}", f.name),
    }
}

pub fn hcm(f: &Filter) -> HttpConnectionManager {
    assert_eq!(f.name, "envoy.http_connection_manager");
    HttpConnectionManager::decode(typed(f)).expect("HCM decodes")
}

pub fn tcp(f: &Filter) -> TcpProxy {
    assert_eq!(f.name, "envoy.tcp_proxy");
    TcpProxy::decode(typed(f)).expect("TcpProxy decodes")
}

pub fn tcp_cluster(f: &Filter) -> String {
    match tcp(f).cluster_specifier {
        Some(tcp_proxy::ClusterSpecifier::Cluster(c)) => c,
        other => panic!("{other:?}"),
    }
}

pub fn protocol_of(s: &str) -> Protocol {
    protocol::parse(s)
}
