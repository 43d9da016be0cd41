//! The Kubernetes service registry (upstream `pilot/pkg/serviceregistry/kube/controller`).
//!
//! Services, Endpoints, Pods and Nodes are watched with kube-rs watchers and kept in in-memory
//! indexes; queries never call the API server. Changes are reported to an [`XdsUpdater`]:
//! - Service added/changed/removed → `svc_update(cluster id, hostname, namespace, event)` and a
//!   full push scoped to the namespace and the ServiceEntry kind (what upstream's discovery
//!   server did for service events);
//! - Endpoints changed → `eds_update(cluster id, hostname, namespace, endpoints)`, an empty list
//!   when deleted; for headless services (with `PILOT_ENABLE_HEADLESS_SERVICE_POD_LISTENERS`) a
//!   full push instead, as upstream;
//! - a Pod gaining an IP, changing IP or leaving the Running/Pending phases →
//!   `proxy_update(cluster id, ip)` (upstream), and also when its labels change (upstream
//!   missed that). When a pod appears after the endpoints that reference it, or its labels
//!   change, the EDS of those endpoints is sent again (upstream fetched such pods from the API
//!   server inside the event handler instead).
//!
//! Updates that do not change anything (an Endpoints update with the same subsets, a Service
//! update equal to the stored one) are not reported, as upstream. The Endpoints watch starts
//! once Services, Pods and Nodes are listed, so endpoints get their pod labels and localities.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt::Debug;
use std::net::IpAddr;
use std::sync::{Arc, RwLock};

use futures::StreamExt;
use istio_api::istio::mesh::v1alpha1::network::network_endpoints::Ne;
use istio_api::istio::mesh::v1alpha1::MeshNetworks;
use istio_pkg::config::labels;
use istio_pkg::config::protocol::Instance as Protocol;
use istio_pkg::config::schema::Kind;
use k8s_openapi::api::core::v1::{
    Container, Endpoints, Node, Pod, Probe, Service as KubeService, ServicePort,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::runtime::watcher::{self, Event as WatchEvent};
use kube::runtime::WatchStreamExt;
use kube::{Api, Resource};
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

use super::conversion::{
    convert_service, external_name_instances, find_port, locality_from_label, object_labels,
    pod_tls_mode, secure_naming_san, service_hostname, LOCALITY_LABEL,
};
use crate::model::{
    Event, IstioEndpoint, Port, PortList, Proxy, PushRequest, Service, ServiceDiscovery,
    ServiceInstance, XdsUpdater,
};

/// Node label with the region (beta), and its fallback.
pub const NODE_REGION_LABEL: &str = "failure-domain.beta.kubernetes.io/region";
pub const NODE_REGION_LABEL_GA: &str = "failure-domain.kubernetes.io/region";
/// Node label with the zone (beta), and its fallback.
pub const NODE_ZONE_LABEL: &str = "failure-domain.beta.kubernetes.io/zone";
pub const NODE_ZONE_LABEL_GA: &str = "failure-domain.kubernetes.io/zone";

/// Options of the Kubernetes registry (upstream `controller.Options`).
#[derive(Debug, Clone)]
pub struct Options {
    /// `--domain`.
    pub domain_suffix: String,
    /// Cluster id: the EDS shard name and the key of per-cluster VIPs (`Kubernetes` for the
    /// primary cluster).
    pub cluster_id: String,
    /// `-a`/`--appNamespace`: only this namespace's Services, Endpoints and Pods (`None`: all).
    pub watched_namespace: Option<String>,
    /// SPIFFE trust domain of workload identities (`--trust-domain`, default `cluster.local`).
    pub trust_domain: String,
    /// Set endpoint uids (`kubernetes://<pod>.<namespace>`), as upstream does only when the
    /// mesh config names a Mixer check or report server.
    pub mixer_enabled: bool,
    /// `PILOT_ENABLE_HEADLESS_SERVICE_POD_LISTENERS`: endpoint changes of headless services
    /// trigger full pushes.
    pub enable_headless_service: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            domain_suffix: "cluster.local".into(),
            cluster_id: crate::model::service::registry::KUBERNETES.into(),
            watched_namespace: None,
            trust_domain: "cluster.local".into(),
            mixer_enabled: false,
            enable_headless_service: true,
        }
    }
}

type Key = (String, String);

fn key_of<K: Resource>(obj: &K) -> Key {
    let m = obj.meta();
    (
        m.namespace.clone().unwrap_or_default(),
        m.name.clone().unwrap_or_default(),
    )
}

#[derive(Default)]
struct State {
    services: HashMap<Key, KubeService>,
    converted: BTreeMap<String, Arc<Service>>,
    external_name: HashMap<String, Vec<ServiceInstance>>,
    endpoints: HashMap<Key, Endpoints>,
    pods: HashMap<Key, Pod>,
    /// Running or pending pods with an IP.
    pods_by_ip: HashMap<String, Key>,
    ip_by_pod: HashMap<Key, String>,
    nodes: HashMap<String, BTreeMap<String, String>>,
}

#[derive(Default)]
struct Networks {
    cidrs: Vec<(IpAddr, u8, String)>,
    for_registry: String,
}

/// Which resources have been listed once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Res {
    Services,
    Endpoints,
    Pods,
    Nodes,
}

/// The Kubernetes registry.
pub struct Controller {
    opts: Options,
    client: Option<kube::Client>,
    updater: Arc<dyn XdsUpdater>,
    state: RwLock<State>,
    networks: RwLock<Networks>,
    synced: tokio::sync::watch::Sender<HashSet<Res>>,
}

impl Debug for Controller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Controller")
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

impl Controller {
    /// A registry for the cluster of `client`; call [`Controller::run`] to start watching.
    pub fn new(
        client: kube::Client,
        mut opts: Options,
        updater: Arc<dyn XdsUpdater>,
    ) -> Arc<Controller> {
        if opts.watched_namespace.as_deref() == Some("") {
            opts.watched_namespace = None;
        }
        Arc::new(Controller::build(Some(client), opts, updater))
    }

    /// A registry fed only through the `apply_*`/`delete_*` methods (tests, tools).
    pub fn new_detached(opts: Options, updater: Arc<dyn XdsUpdater>) -> Arc<Controller> {
        Arc::new(Controller::build(None, opts, updater))
    }

    fn build(client: Option<kube::Client>, opts: Options, updater: Arc<dyn XdsUpdater>) -> Self {
        Controller {
            opts,
            client,
            updater,
            state: RwLock::new(State::default()),
            networks: RwLock::new(Networks::default()),
            synced: tokio::sync::watch::channel(HashSet::new()).0,
        }
    }

    pub fn cluster_id(&self) -> &str {
        &self.opts.cluster_id
    }

    /// Whether Services, Endpoints, Pods and Nodes have all been listed once.
    pub fn has_synced(&self) -> bool {
        self.synced.borrow().len() == 4
    }

    /// Marks every resource as listed (for registries fed by hand).
    pub fn mark_synced(&self) {
        self.synced.send_modify(|s| {
            s.extend([Res::Services, Res::Endpoints, Res::Pods, Res::Nodes]);
        });
    }

    /// Reads the networks of the mesh (`meshNetworks`): endpoints are on the network whose
    /// `fromRegistry` is this cluster, else on the first network (by name) with a `fromCidr`
    /// containing their IP (upstream `InitNetworkLookup`).
    pub fn set_mesh_networks(&self, networks: &MeshNetworks) {
        let mut n = Networks::default();
        for (name, net) in &networks.networks {
            for ep in &net.endpoints {
                match &ep.ne {
                    Some(Ne::FromCidr(cidr)) => match parse_cidr(cidr) {
                        Some((ip, len)) => n.cidrs.push((ip, len, name.clone())),
                        None => tracing::warn!("unable to parse CIDR {cidr:?} for network {name}"),
                    },
                    Some(Ne::FromRegistry(r)) if *r == self.opts.cluster_id => {
                        n.for_registry = name.clone();
                    }
                    _ => {}
                }
            }
        }
        *self.networks.write().unwrap_or_else(|e| e.into_inner()) = n;
    }

    fn endpoint_network(&self, ip: &str) -> String {
        let n = self.networks.read().unwrap_or_else(|e| e.into_inner());
        if !n.for_registry.is_empty() {
            return n.for_registry.clone();
        }
        let Ok(ip) = ip.parse::<IpAddr>() else {
            return String::new();
        };
        n.cidrs
            .iter()
            .find(|(net, len, _)| cidr_contains(*net, *len, ip))
            .map(|(_, _, name)| name.clone())
            .unwrap_or_default()
    }

    /// Watches Services, Pods and Nodes, then Endpoints once those are listed, until
    /// `shutdown`.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let Some(client) = self.client.clone() else {
            tracing::warn!("Kubernetes registry without a client: nothing to watch");
            return;
        };
        let ns = self.opts.watched_namespace.clone();
        let scoped = |c: kube::Client| match &ns {
            Some(ns) => (
                Api::<KubeService>::namespaced(c.clone(), ns),
                Api::<Pod>::namespaced(c.clone(), ns),
                Api::<Endpoints>::namespaced(c, ns),
            ),
            None => (Api::all(c.clone()), Api::all(c.clone()), Api::all(c)),
        };
        let (services, pods, endpoints) = scoped(client.clone());
        let nodes = Api::<Node>::all(client);
        tracing::info!(
            "Kubernetes registry {} watching namespace {:?} for services, endpoints, nodes and pods",
            self.opts.cluster_id,
            self.opts.watched_namespace.as_deref().unwrap_or("")
        );
        let mut synced = self.synced.subscribe();
        let first = async {
            // Endpoints need pods, services and nodes to be known.
            let _ = synced
                .wait_for(|s| {
                    s.contains(&Res::Services) && s.contains(&Res::Pods) && s.contains(&Res::Nodes)
                })
                .await;
        };
        let this = self.clone();
        let eps = async {
            tokio::select! {
                _ = shutdown.cancelled() => {}
                _ = first => this.watch(endpoints, Res::Endpoints, &shutdown).await,
            }
        };
        tokio::join!(
            self.watch(services, Res::Services, &shutdown),
            self.watch(pods, Res::Pods, &shutdown),
            self.watch(nodes, Res::Nodes, &shutdown),
            eps,
        );
        tracing::info!("Kubernetes registry {} terminated", self.opts.cluster_id);
    }

    async fn watch<K>(&self, api: Api<K>, res: Res, shutdown: &CancellationToken)
    where
        K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
        Obj: From<K>,
    {
        let stream = watcher::watcher(api, watcher::Config::default()).default_backoff();
        futures::pin_mut!(stream);
        let mut listed: Option<HashSet<Key>> = None;
        loop {
            let ev = tokio::select! {
                _ = shutdown.cancelled() => return,
                ev = stream.next() => ev,
            };
            match ev {
                None => return,
                Some(Err(e)) => tracing::warn!("watching {res:?}: {e}"),
                Some(Ok(WatchEvent::Init)) => listed = Some(HashSet::new()),
                Some(Ok(WatchEvent::InitApply(obj))) => {
                    if let Some(l) = listed.as_mut() {
                        l.insert(key_of(&obj));
                    }
                    self.apply(Obj::from(obj));
                }
                Some(Ok(WatchEvent::InitDone)) => {
                    self.prune(res, &listed.take().unwrap_or_default());
                    self.synced.send_if_modified(|s| s.insert(res));
                }
                Some(Ok(WatchEvent::Apply(obj))) => self.apply(Obj::from(obj)),
                Some(Ok(WatchEvent::Delete(obj))) => self.delete(Obj::from(obj)),
            }
        }
    }

    /// Applies an added or changed object.
    pub fn apply(&self, obj: Obj) {
        match obj {
            Obj::Service(s) => self.apply_service(s),
            Obj::Endpoints(e) => self.apply_endpoints(e),
            Obj::Pod(p) => self.apply_pod(p),
            Obj::Node(n) => self.apply_node(n),
        }
    }

    /// Applies a deleted object.
    pub fn delete(&self, obj: Obj) {
        match obj {
            Obj::Service(s) => self.delete_service(&key_of(&s)),
            Obj::Endpoints(e) => self.delete_endpoints(&key_of(&e)),
            Obj::Pod(p) => self.delete_pod(&key_of(&p)),
            Obj::Node(n) => {
                let name = n.metadata.name.unwrap_or_default();
                self.write().nodes.remove(&name);
            }
        }
    }

    /// Deletes what a relist no longer contains.
    fn prune(&self, res: Res, listed: &HashSet<Key>) {
        let gone: Vec<Key> = {
            let st = self.read();
            match res {
                Res::Services => st
                    .services
                    .keys()
                    .filter(|k| !listed.contains(*k))
                    .cloned()
                    .collect(),
                Res::Endpoints => st
                    .endpoints
                    .keys()
                    .filter(|k| !listed.contains(*k))
                    .cloned()
                    .collect(),
                Res::Pods => st
                    .pods
                    .keys()
                    .filter(|k| !listed.contains(*k))
                    .cloned()
                    .collect(),
                Res::Nodes => st
                    .nodes
                    .keys()
                    .map(|n| (String::new(), n.clone()))
                    .filter(|k| !listed.contains(k))
                    .collect(),
            }
        };
        for k in gone {
            match res {
                Res::Services => self.delete_service(&k),
                Res::Endpoints => self.delete_endpoints(&k),
                Res::Pods => self.delete_pod(&k),
                Res::Nodes => {
                    self.write().nodes.remove(&k.1);
                }
            }
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    fn push_services(&self, ns: &str) {
        let mut req = PushRequest::full();
        req.namespaces_updated.insert(ns.to_string());
        req.config_types_updated.insert(Kind::ServiceEntry);
        self.updater.config_update(req);
    }

    pub fn apply_service(&self, svc: KubeService) {
        let key = key_of(&svc);
        let converted = Arc::new(convert_service(
            &svc,
            &self.opts.domain_suffix,
            &self.opts.cluster_id,
            &self.opts.trust_domain,
        ));
        let hostname = converted.hostname.clone();
        let event = {
            let mut st = self.write();
            match st.services.get(&key) {
                Some(old)
                    if old.spec == svc.spec
                        && old.metadata.annotations == svc.metadata.annotations
                        && old.metadata.labels == svc.metadata.labels
                        && old.status == svc.status =>
                {
                    return
                }
                _ => {}
            }
            let existed = st.services.insert(key.clone(), svc.clone()).is_some();
            let instances = external_name_instances(&svc, &converted);
            if instances.is_empty() {
                st.external_name.remove(&hostname);
            } else {
                st.external_name.insert(hostname.clone(), instances);
            }
            st.converted.insert(hostname.clone(), converted);
            if existed {
                Event::Update
            } else {
                Event::Add
            }
        };
        tracing::debug!("handle service {} in namespace {}", key.1, key.0);
        self.updater
            .svc_update(&self.opts.cluster_id, &hostname, &key.0, event);
        self.push_services(&key.0);
    }

    pub fn delete_service(&self, key: &Key) {
        let hostname = service_hostname(&key.1, &key.0, &self.opts.domain_suffix);
        {
            let mut st = self.write();
            if st.services.remove(key).is_none() {
                return;
            }
            st.converted.remove(&hostname);
            st.external_name.remove(&hostname);
        }
        self.updater
            .svc_update(&self.opts.cluster_id, &hostname, &key.0, Event::Delete);
        self.push_services(&key.0);
    }

    pub fn apply_endpoints(&self, ep: Endpoints) {
        let key = key_of(&ep);
        {
            let mut st = self.write();
            if let Some(old) = st.endpoints.get(&key) {
                if old.subsets == ep.subsets {
                    return;
                }
            }
            st.endpoints.insert(key.clone(), ep);
        }
        self.update_eds(&key);
    }

    pub fn delete_endpoints(&self, key: &Key) {
        if self.write().endpoints.remove(key).is_none() {
            return;
        }
        self.update_eds(key);
    }

    /// Sends the endpoints of `key` (none if it is gone).
    fn update_eds(&self, key: &Key) {
        let hostname = service_hostname(&key.1, &key.0, &self.opts.domain_suffix);
        let (endpoints, headless) = {
            let st = self.read();
            let mut out = Vec::new();
            if let Some(ep) = st.endpoints.get(key) {
                for ss in ep.subsets.iter().flatten() {
                    for ea in ss.addresses.iter().flatten() {
                        let mut pod = self.pod_by_ip(&st, &ea.ip);
                        if pod.is_none() {
                            if let Some(r) = ea
                                .target_ref
                                .as_ref()
                                .filter(|r| r.kind.as_deref() == Some("Pod"))
                            {
                                let k = (
                                    r.namespace.clone().unwrap_or_default(),
                                    r.name.clone().unwrap_or_default(),
                                );
                                pod = st.pods.get(&k);
                                if pod.is_none() {
                                    // Sent again when the pod shows up.
                                    tracing::info!(
                                        "endpoint without pod {} {}.{}",
                                        ea.ip,
                                        key.1,
                                        key.0
                                    );
                                    continue;
                                }
                            }
                        }
                        let template = self.endpoint_template(&st, pod, &ea.ip);
                        for port in ss.ports.iter().flatten() {
                            out.push(IstioEndpoint {
                                endpoint_port: port.port.max(0) as u32,
                                service_port_name: port.name.clone().unwrap_or_default(),
                                ..template.clone()
                            });
                        }
                    }
                }
            }
            let headless = self.opts.enable_headless_service
                && st
                    .services
                    .get(key)
                    .and_then(|s| s.spec.as_ref())
                    .and_then(|s| s.cluster_ip.as_deref())
                    == Some("None");
            (out, headless)
        };
        tracing::info!(
            "handle EDS endpoint {} in namespace {} -> {:?}",
            key.1,
            key.0,
            endpoints
                .iter()
                .map(|e| e.address.as_str())
                .collect::<Vec<_>>()
        );
        if headless {
            self.push_services(&key.0);
            return;
        }
        self.updater
            .eds_update(&self.opts.cluster_id, &hostname, &key.0, endpoints);
    }

    /// An endpoint at `ip` with everything known from its pod (port fields unset).
    fn endpoint_template(&self, st: &State, pod: Option<&Pod>, ip: &str) -> IstioEndpoint {
        let mut e = IstioEndpoint {
            address: ip.to_string(),
            network: self.endpoint_network(ip),
            tls_mode: pod_tls_mode(pod),
            ..Default::default()
        };
        if let Some(pod) = pod {
            e.labels = object_labels(pod.metadata.labels.as_ref());
            e.locality = self.pod_locality(st, pod);
            e.service_account = secure_naming_san(pod, &self.opts.trust_domain);
            if self.opts.mixer_enabled {
                e.uid = format!(
                    "kubernetes://{}.{}",
                    pod.metadata.name.as_deref().unwrap_or_default(),
                    pod.metadata.namespace.as_deref().unwrap_or_default()
                );
            }
        }
        e
    }

    fn pod_by_ip<'a>(&self, st: &'a State, ip: &str) -> Option<&'a Pod> {
        st.pods_by_ip.get(ip).and_then(|k| st.pods.get(k))
    }

    /// The locality of a pod: its `istio-locality` label, else `region/zone` of its node.
    fn pod_locality(&self, st: &State, pod: &Pod) -> String {
        if let Some(l) = pod
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(LOCALITY_LABEL))
            .filter(|l| !l.is_empty())
        {
            return locality_from_label(l);
        }
        let node = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .unwrap_or_default();
        let Some(labels) = st.nodes.get(node) else {
            tracing::debug!(
                "unable to get node {node:?} for pod {:?}",
                pod.metadata.name
            );
            return String::new();
        };
        let get = |a: &str, b: &str| {
            labels
                .get(a)
                .filter(|v| !v.is_empty())
                .or_else(|| labels.get(b))
                .cloned()
                .unwrap_or_default()
        };
        let region = get(NODE_REGION_LABEL, NODE_REGION_LABEL_GA);
        let zone = get(NODE_ZONE_LABEL, NODE_ZONE_LABEL_GA);
        if region.is_empty() && zone.is_empty() {
            String::new()
        } else {
            format!("{region}/{zone}")
        }
    }

    pub fn apply_pod(&self, pod: Pod) {
        let key = key_of(&pod);
        let ip = pod
            .status
            .as_ref()
            .and_then(|s| s.pod_ip.clone())
            .unwrap_or_default();
        let phase = pod
            .status
            .as_ref()
            .and_then(|s| s.phase.clone())
            .unwrap_or_default();
        let deleting = pod.metadata.deletion_timestamp.is_some();
        let mut proxy_ips = Vec::new();
        let mut reindexed = false;
        {
            let mut st = self.write();
            let old_labels = st.pods.get(&key).map(|p| p.metadata.labels.clone());
            let labels_changed = old_labels.as_ref() != Some(&pod.metadata.labels);
            st.pods.insert(key.clone(), pod);
            if !ip.is_empty() {
                let indexed = st.pods_by_ip.get(&ip) == Some(&key);
                if deleting || !matches!(phase.as_str(), "Pending" | "Running") {
                    if indexed {
                        st.pods_by_ip.remove(&ip);
                        st.ip_by_pod.remove(&key);
                    }
                } else if !indexed {
                    if let Some(old_ip) = st.ip_by_pod.insert(key.clone(), ip.clone()) {
                        st.pods_by_ip.remove(&old_ip);
                    }
                    st.pods_by_ip.insert(ip.clone(), key.clone());
                    proxy_ips.push(ip.clone());
                    reindexed = true;
                } else if labels_changed && old_labels.is_some() {
                    proxy_ips.push(ip.clone());
                    reindexed = true;
                }
            }
        }
        for ip in &proxy_ips {
            self.updater.proxy_update(&self.opts.cluster_id, ip);
        }
        if reindexed {
            self.refresh_endpoints_with(&ip);
        }
    }

    pub fn delete_pod(&self, key: &Key) {
        let mut st = self.write();
        st.pods.remove(key);
        if let Some(ip) = st.ip_by_pod.remove(key) {
            if st.pods_by_ip.get(&ip) == Some(key) {
                st.pods_by_ip.remove(&ip);
            }
        }
    }

    pub fn apply_node(&self, node: Node) {
        let name = node.metadata.name.clone().unwrap_or_default();
        let labels = node.metadata.labels.clone().unwrap_or_default();
        self.write().nodes.insert(name, labels);
    }

    /// Sends EDS again for every Endpoints object with an address `ip`.
    fn refresh_endpoints_with(&self, ip: &str) {
        let keys: Vec<Key> = {
            let st = self.read();
            st.endpoints
                .iter()
                .filter(|(_, e)| {
                    e.subsets
                        .iter()
                        .flatten()
                        .any(|ss| ss.addresses.iter().flatten().any(|a| a.ip == ip))
                })
                .map(|(k, _)| k.clone())
                .collect()
        };
        for k in keys {
            self.update_eds(&k);
        }
    }

    /// Kubernetes services in `namespace` whose selector matches `labels` (upstream's
    /// `GetPodServices`; a missing selector matches nothing).
    fn pod_services<'a>(
        st: &'a State,
        namespace: &str,
        labels: &BTreeMap<String, String>,
    ) -> Vec<&'a KubeService> {
        let mut out: Vec<&KubeService> = st
            .services
            .iter()
            .filter(|((ns, _), _)| ns == namespace)
            .filter_map(|(_, s)| {
                let sel = s.spec.as_ref()?.selector.as_ref()?;
                sel.iter()
                    .all(|(k, v)| labels.get(k) == Some(v))
                    .then_some(s)
            })
            .collect();
        out.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        out
    }

    fn instance(
        &self,
        st: &State,
        pod_ip: &str,
        address: &str,
        port: u32,
        svc_port: &Port,
        svc: &Arc<Service>,
    ) -> ServiceInstance {
        let pod = self.pod_by_ip(st, pod_ip);
        let mut e = self.endpoint_template(st, pod, address);
        e.uid = String::new();
        e.endpoint_port = port;
        e.service_port_name = svc_port.name.clone();
        ServiceInstance {
            service: svc.clone(),
            service_port: svc_port.clone(),
            endpoint: e,
        }
    }

    fn instances_by_pod(
        &self,
        st: &State,
        pod: &Pod,
        ksvc: &KubeService,
        proxy: &Proxy,
    ) -> Vec<ServiceInstance> {
        let hostname = service_hostname(
            ksvc.metadata.name.as_deref().unwrap_or_default(),
            ksvc.metadata.namespace.as_deref().unwrap_or_default(),
            &self.opts.domain_suffix,
        );
        let Some(svc) = st.converted.get(&hostname) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for port in ksvc
            .spec
            .as_ref()
            .and_then(|s| s.ports.as_ref())
            .into_iter()
            .flatten()
        {
            let Some(svc_port) = svc.ports.get(port.name.as_deref().unwrap_or_default()) else {
                continue;
            };
            let Some(target) = find_port(pod, port) else {
                tracing::warn!(
                    "failed to find port for service {}/{}",
                    ksvc.metadata.namespace.as_deref().unwrap_or_default(),
                    ksvc.metadata.name.as_deref().unwrap_or_default()
                );
                continue;
            };
            for ip in &proxy.ip_addresses {
                out.push(self.instance(st, &proxy.ip_addresses[0], ip, target, svc_port, svc));
            }
        }
        out
    }

    /// Instances from the proxy's metadata, when its pod is not known yet.
    fn instances_from_metadata(
        &self,
        st: &State,
        proxy: &Proxy,
    ) -> Result<Vec<ServiceInstance>, String> {
        let labels = proxy
            .workload_labels
            .0
            .first()
            .filter(|l| !l.0.is_empty())
            .ok_or("no workload labels found")?;
        if proxy.metadata.cluster_id != self.opts.cluster_id {
            return Err(format!(
                "proxy is in cluster {}, but controller is for cluster {}",
                proxy.metadata.cluster_id, self.opts.cluster_id
            ));
        }
        let services = Self::pod_services(st, &proxy.config_namespace, &labels.0);
        if services.is_empty() {
            return Err("no instances found".into());
        }
        let ip = proxy.ip_addresses.first().ok_or("no IP")?;
        let mut out = Vec::new();
        for ksvc in services {
            let hostname = service_hostname(
                ksvc.metadata.name.as_deref().unwrap_or_default(),
                ksvc.metadata.namespace.as_deref().unwrap_or_default(),
                &self.opts.domain_suffix,
            );
            let svc = st
                .converted
                .get(&hostname)
                .ok_or_else(|| format!("failed to find model service for {hostname}"))?;
            for port in ksvc
                .spec
                .as_ref()
                .and_then(|s| s.ports.as_ref())
                .into_iter()
                .flatten()
            {
                let name = port.name.as_deref().unwrap_or_default();
                let svc_port = svc
                    .ports
                    .get(name)
                    .ok_or_else(|| format!("failed to get svc port for {name}"))?;
                let target = port_from_metadata(port, proxy)
                    .ok_or_else(|| format!("failed to find target port for {}", proxy.id))?;
                out.push(ServiceInstance {
                    service: svc.clone(),
                    service_port: svc_port.clone(),
                    endpoint: IstioEndpoint {
                        labels: labels.clone(),
                        address: ip.clone(),
                        endpoint_port: target,
                        service_port_name: svc_port.name.clone(),
                        service_account: proxy.metadata.service_account.clone(),
                        network: self.endpoint_network(ip),
                        locality: proxy.locality.clone(),
                        ..Default::default()
                    },
                });
            }
        }
        Ok(out)
    }

    fn instances_by_endpoints(
        &self,
        st: &State,
        ep: &Endpoints,
        proxy: &Proxy,
    ) -> Vec<ServiceInstance> {
        let (ns, name) = key_of(ep);
        let hostname = service_hostname(&name, &ns, &self.opts.domain_suffix);
        let Some(svc) = st.converted.get(&hostname) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let pod_ip = &proxy.ip_addresses[0];
        for ss in ep.subsets.iter().flatten() {
            for port in ss.ports.iter().flatten() {
                let Some(svc_port) = svc.ports.get(port.name.as_deref().unwrap_or_default()) else {
                    continue;
                };
                let p = port.port.max(0) as u32;
                for ip in &proxy.ip_addresses {
                    if ss.addresses.iter().flatten().any(|a| a.ip == *ip) {
                        out.push(self.instance(st, pod_ip, ip, p, svc_port, svc));
                    }
                    if ss.not_ready_addresses.iter().flatten().any(|a| a.ip == *ip) {
                        out.push(self.instance(st, pod_ip, ip, p, svc_port, svc));
                    }
                }
            }
        }
        out
    }
}

/// The target port of a service port from the proxy's `POD_PORTS` metadata.
fn port_from_metadata(port: &ServicePort, proxy: &Proxy) -> Option<u32> {
    match &port.target_port {
        Some(IntOrString::Int(n)) => u32::try_from(*n).ok(),
        Some(IntOrString::String(name)) => proxy
            .metadata
            .pod_ports
            .iter()
            .find(|p| p.name == *name)
            .map(|p| p.container_port),
        None => None,
    }
}

fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (ip, len) = s.split_once('/')?;
    let ip: IpAddr = ip.parse().ok()?;
    let len: u8 = len.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (len <= max).then_some((ip, len))
}

fn cidr_contains(net: IpAddr, len: u8, ip: IpAddr) -> bool {
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => {
            let mask = if len == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(len))
            };
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) => {
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(len))
            };
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    }
}

/// The port of a probe (upstream `ConvertProbePort`): an HTTP or TCP probe's port named
/// `mgmt-<port>`, a named port resolved through the container's ports. `None` for other
/// probes, or a name the container does not declare.
fn probe_port(c: &Container, probe: &Probe) -> Option<Port> {
    let (port, protocol) = if let Some(h) = &probe.http_get {
        (&h.port, Protocol::Http)
    } else if let Some(t) = &probe.tcp_socket {
        (&t.port, Protocol::Tcp)
    } else {
        return None;
    };
    let num = match port {
        IntOrString::Int(n) => u32::try_from(*n).ok()?,
        IntOrString::String(name) => c
            .ports
            .iter()
            .flatten()
            .find(|p| p.name.as_deref() == Some(name))
            .and_then(|p| u32::try_from(p.container_port).ok())?,
    };
    Some(Port {
        name: format!("mgmt-{num}"),
        port: num,
        protocol,
    })
}

/// Management ports of a pod: the ports of its liveness and readiness probes, named
/// `mgmt-<port>`, deduplicated and sorted (upstream `ConvertProbesToPorts`).
fn probe_ports(pod: &Pod) -> PortList {
    let mut set: BTreeMap<u32, Port> = BTreeMap::new();
    for c in pod.spec.iter().flat_map(|s| s.containers.iter()) {
        for probe in [&c.liveness_probe, &c.readiness_probe]
            .into_iter()
            .flatten()
        {
            if let Some(p) = probe_port(c, probe) {
                set.entry(p.port).or_insert(p);
            }
        }
    }
    PortList(set.into_values().collect())
}

/// Pod annotations that ask Prometheus to scrape it.
const PROMETHEUS_SCRAPE: &str = "prometheus.io/scrape";
const PROMETHEUS_PORT: &str = "prometheus.io/port";
const PROMETHEUS_PATH: &str = "prometheus.io/path";

/// The HTTP probes of a pod (upstream `WorkloadHealthCheckInfo`): each container's readiness
/// then liveness HTTP probe (a port that cannot be resolved means every port, as upstream's
/// nil port), then the Prometheus scrape path when `prometheus.io/scrape` is "true" (port from
/// `prometheus.io/port`, any port without it; path from `prometheus.io/path`, else /metrics).
fn health_probes(pod: &Pod) -> Vec<crate::model::Probe> {
    let mut out = Vec::new();
    for c in pod.spec.iter().flat_map(|s| s.containers.iter()) {
        for probe in [&c.readiness_probe, &c.liveness_probe]
            .into_iter()
            .flatten()
        {
            if let Some(h) = &probe.http_get {
                out.push(crate::model::Probe {
                    port: probe_port(c, probe),
                    path: h.path.clone().unwrap_or_default(),
                });
            }
        }
    }
    let ann = pod.metadata.annotations.as_ref();
    let get = |k: &str| ann.and_then(|a| a.get(k)).map(String::as_str);
    if get(PROMETHEUS_SCRAPE) == Some("true") {
        let port = get(PROMETHEUS_PORT).and_then(|p| match p.parse::<u32>() {
            Ok(n) => Some(Port {
                name: String::new(),
                port: n,
                protocol: Protocol::Unsupported,
            }),
            Err(e) => {
                tracing::warn!(
                    "pod {}: bad {PROMETHEUS_PORT} {p:?}: {e}",
                    pod.metadata.name.as_deref().unwrap_or("")
                );
                None
            }
        });
        out.push(crate::model::Probe {
            port,
            path: get(PROMETHEUS_PATH)
                .filter(|p| !p.is_empty())
                .unwrap_or("/metrics")
                .to_string(),
        });
    }
    out
}

/// A watched object. (Moved once per watch event; boxing would only add an allocation.)
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
pub enum Obj {
    Service(KubeService),
    Endpoints(Endpoints),
    Pod(Pod),
    Node(Node),
}

impl From<KubeService> for Obj {
    fn from(v: KubeService) -> Self {
        Obj::Service(v)
    }
}
impl From<Endpoints> for Obj {
    fn from(v: Endpoints) -> Self {
        Obj::Endpoints(v)
    }
}
impl From<Pod> for Obj {
    fn from(v: Pod) -> Self {
        Obj::Pod(v)
    }
}
impl From<Node> for Obj {
    fn from(v: Node) -> Self {
        Obj::Node(v)
    }
}

impl ServiceDiscovery for Controller {
    fn services(&self) -> Vec<Arc<Service>> {
        self.read().converted.values().cloned().collect()
    }

    fn get_service(&self, hostname: &str) -> Option<Arc<Service>> {
        self.read().converted.get(hostname).cloned()
    }

    fn instances_by_port(
        &self,
        svc: &Service,
        port: u32,
        labels_list: &labels::Collection,
    ) -> Vec<ServiceInstance> {
        let st = self.read();
        if let Some(instances) = st.external_name.get(&svc.hostname) {
            return instances
                .iter()
                .filter(|i| i.service.attributes.namespace == svc.attributes.namespace)
                .cloned()
                .collect();
        }
        let key = (
            svc.attributes.namespace.clone(),
            svc.attributes.name.clone(),
        );
        let Some(ep) = st.endpoints.get(&key) else {
            return Vec::new();
        };
        let Some(svc_port) = svc.ports.get_by_port(port) else {
            return Vec::new();
        };
        let service = st
            .converted
            .get(&svc.hostname)
            .cloned()
            .unwrap_or_else(|| Arc::new(svc.clone()));
        let mut out = Vec::new();
        for ss in ep.subsets.iter().flatten() {
            for ea in ss.addresses.iter().flatten() {
                let pod = self.pod_by_ip(&st, &ea.ip);
                let pod_labels = pod
                    .map(|p| object_labels(p.metadata.labels.as_ref()))
                    .unwrap_or_default();
                if !labels_list.has_subset_of(&pod_labels) {
                    continue;
                }
                let template = self.endpoint_template(&st, pod, &ea.ip);
                for p in ss.ports.iter().flatten() {
                    let name = p.name.as_deref().unwrap_or_default();
                    if name.is_empty() || name == svc_port.name {
                        out.push(ServiceInstance {
                            service: service.clone(),
                            service_port: svc_port.clone(),
                            endpoint: IstioEndpoint {
                                endpoint_port: p.port.max(0) as u32,
                                service_port_name: svc_port.name.clone(),
                                ..template.clone()
                            },
                        });
                    }
                }
            }
        }
        out
    }

    fn get_proxy_service_instances(&self, proxy: &Proxy) -> Vec<ServiceInstance> {
        let Some(proxy_ip) = proxy.ip_addresses.first() else {
            return Vec::new();
        };
        let st = self.read();
        let mut proxy_namespace = String::new();
        if let Some(pod) = self.pod_by_ip(&st, proxy_ip) {
            // Same pod IPs in several clusters: only the proxy's network is this pod's.
            if proxy.metadata.network != self.endpoint_network(proxy_ip) {
                return Vec::new();
            }
            proxy_namespace = pod.metadata.namespace.clone().unwrap_or_default();
            let labels = pod.metadata.labels.clone().unwrap_or_default();
            let services = Self::pod_services(&st, &proxy_namespace, &labels);
            if !services.is_empty() {
                return services
                    .into_iter()
                    .flat_map(|s| self.instances_by_pod(&st, pod, s, proxy))
                    .collect();
            }
        }
        match self.instances_from_metadata(&st, proxy) {
            Ok(out) => return out,
            Err(e) => tracing::debug!("proxy {}: {e}", proxy.id),
        }
        // Headless services: endpoints naming the proxy's IPs, same namespace first.
        let mut same = Vec::new();
        let mut other = Vec::new();
        let mut eps: Vec<(&Key, &Endpoints)> = st.endpoints.iter().collect();
        eps.sort_by(|a, b| a.0.cmp(b.0));
        for (k, ep) in eps {
            let found = self.instances_by_endpoints(&st, ep, proxy);
            if k.0 == proxy_namespace {
                same.extend(found);
            } else {
                other.extend(found);
            }
        }
        same.extend(other);
        if same.is_empty() {
            tracing::debug!("empty list of services for proxy {}", proxy.id);
        }
        same
    }

    fn get_proxy_workload_labels(&self, proxy: &Proxy) -> labels::Collection {
        let st = self.read();
        proxy
            .ip_addresses
            .first()
            .and_then(|ip| self.pod_by_ip(&st, ip))
            .map(|p| labels::Collection(vec![object_labels(p.metadata.labels.as_ref())]))
            .unwrap_or_default()
    }

    fn get_istio_service_accounts(&self, svc: &Service, ports: &[u32]) -> Vec<String> {
        let mut out: BTreeSet<String> = svc.service_accounts.iter().cloned().collect();
        for &p in ports {
            for i in self.instances_by_port(svc, p, &labels::Collection::default()) {
                if !i.endpoint.service_account.is_empty() {
                    out.insert(i.endpoint.service_account);
                }
            }
        }
        out.into_iter().collect()
    }

    fn management_ports(&self, addr: &str) -> PortList {
        let st = self.read();
        self.pod_by_ip(&st, addr)
            .map(probe_ports)
            .unwrap_or_default()
    }

    fn workload_health_check_info(&self, addr: &str) -> Vec<crate::model::Probe> {
        let st = self.read();
        self.pod_by_ip(&st, addr)
            .map(health_probes)
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::NodeMetadata;
    use crate::serviceregistry::fake::{RecordingUpdater, XdsCall};
    use serde_json::json;

    fn setup() -> (Arc<Controller>, Arc<RecordingUpdater>) {
        let up = Arc::new(RecordingUpdater::new());
        let opts = Options {
            cluster_id: "c1".into(),
            mixer_enabled: true,
            ..Options::default()
        };
        (Controller::new_detached(opts, up.clone()), up)
    }

    fn service(name: &str, cluster_ip: &str) -> KubeService {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "ns"},
            "spec": {"clusterIP": cluster_ip, "selector": {"app": name},
                     "ports": [{"name": "http-web", "port": 80, "targetPort": "web"},
                               {"name": "grpc", "port": 90, "targetPort": 9090}]}
        }))
        .unwrap()
    }

    fn pod(name: &str, ip: &str, app: &str, phase: &str) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "ns",
                         "labels": {"app": app, "security.istio.io/tlsMode": "istio"}},
            "spec": {"nodeName": "n1", "serviceAccountName": "sa",
                     "containers": [{"name": "c", "ports": [{"name": "web", "containerPort": 8080}],
                                     "readinessProbe": {"httpGet": {"port": 15020}}}]},
            "status": {"podIP": ip, "phase": phase}
        }))
        .unwrap()
    }

    /// Upstream's TestWorkloadHealthCheckInfo and TestWorkloadHealthCheckInfoPrometheusScrape.
    #[test]
    fn health_probes_from_pod_spec_and_prometheus_annotations() {
        let p: Pod = serde_json::from_value(json!({
            "metadata": {"name": "pod1", "namespace": "nsa1"},
            "spec": {"containers": [{"name": "c", "ports": [{"name": "admin", "containerPort": 9901}],
                "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}},
                "livenessProbe": {"httpGet": {"path": "/live", "port": 9090}}},
                {"name": "d",
                "livenessProbe": {"httpGet": {"path": "/admin", "port": "admin"}},
                "readinessProbe": {"tcpSocket": {"port": 7000}}}]},
            "status": {"podIP": "128.0.0.1"}
        }))
        .unwrap();
        type Got = (Option<(String, u32, Protocol)>, String);
        let got: Vec<Got> = health_probes(&p)
            .into_iter()
            .map(|pr| (pr.port.map(|p| (p.name, p.port, p.protocol)), pr.path))
            .collect();
        assert_eq!(
            got,
            [
                (
                    Some(("mgmt-8080".into(), 8080, Protocol::Http)),
                    "/ready".into()
                ),
                (
                    Some(("mgmt-9090".into(), 9090, Protocol::Http)),
                    "/live".into()
                ),
                // A port name the container does not declare: no port (every port), as
                // upstream's nil port on a conversion error.
                (None, "/admin".into()),
            ]
        );

        let scraped = |ann: serde_json::Value| -> Vec<crate::model::Probe> {
            let p: Pod = serde_json::from_value(json!({
                "metadata": {"name": "pod1", "namespace": "nsA", "annotations": ann},
                "spec": {"containers": [{"name": "c"}]}
            }))
            .unwrap();
            health_probes(&p)
        };
        let one = scraped(json!({"prometheus.io/scrape": "true"}));
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].path, "/metrics");
        assert!(one[0].port.is_none());
        let custom = scraped(
            json!({"prometheus.io/scrape": "true", "prometheus.io/port": "9102",
                                     "prometheus.io/path": "/stats"}),
        );
        assert_eq!(custom[0].port.as_ref().map(|p| p.port), Some(9102));
        assert_eq!(custom[0].path, "/stats");
        assert!(scraped(json!({"prometheus.io/scrape": "false"})).is_empty());
        assert!(
            scraped(json!({"prometheus.io/scrape": "true", "prometheus.io/port": "x"}))[0]
                .port
                .is_none()
        );
    }

    fn endpoints(name: &str, ips: &[&str]) -> Endpoints {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "ns"},
            "subsets": [{"addresses": ips.iter().map(|ip| json!({"ip": ip})).collect::<Vec<_>>(),
                         "ports": [{"name": "http-web", "port": 8080}, {"name": "grpc", "port": 9090}]}]
        }))
        .unwrap()
    }

    fn node() -> Node {
        serde_json::from_value(json!({
            "metadata": {"name": "n1", "labels": {NODE_REGION_LABEL: "r1", NODE_ZONE_LABEL_GA: "z1"}}
        }))
        .unwrap()
    }

    fn proxy(ip: &str) -> Proxy {
        let mut p = Proxy::parse(
            &format!("sidecar~{ip}~p.ns~ns.svc.cluster.local"),
            NodeMetadata::default(),
        )
        .unwrap();
        p.ip_addresses = vec![ip.into()];
        p
    }

    #[test]
    fn services_endpoints_and_pods() {
        let (c, up) = setup();
        c.apply_node(node());
        c.apply_pod(pod("p1", "10.0.0.1", "reviews", "Running"));
        c.apply_service(service("reviews", "10.1.0.1"));
        c.apply_endpoints(endpoints("reviews", &["10.0.0.1", "10.0.0.2"]));

        let svc = c
            .get_service("reviews.ns.svc.cluster.local")
            .expect("service");
        assert_eq!(svc.address, "10.1.0.1");
        let eds = up.last_eds("reviews.ns.svc.cluster.local").expect("eds");
        assert_eq!(eds.len(), 4);
        let e = &eds[0];
        assert_eq!(e.address, "10.0.0.1");
        assert_eq!(e.endpoint_port, 8080);
        assert_eq!(e.service_port_name, "http-web");
        assert_eq!(e.labels.0["app"], "reviews");
        assert_eq!(e.service_account, "spiffe://cluster.local/ns/ns/sa/sa");
        assert_eq!(e.locality, "r1/z1");
        assert_eq!(e.tls_mode, "istio");
        assert_eq!(e.uid, "kubernetes://p1.ns");
        // No pod for 10.0.0.2 and no targetRef: kept, without pod data.
        assert_eq!(eds[2].address, "10.0.0.2");
        assert_eq!(eds[2].tls_mode, "disabled");
        assert!(eds[2].labels.0.is_empty());

        let inst = c.instances_by_port(&svc, 90, &labels::Collection::default());
        let got: Vec<(&str, u32)> = inst
            .iter()
            .map(|i| (i.endpoint.address.as_str(), i.endpoint.endpoint_port))
            .collect();
        assert_eq!(got, [("10.0.0.1", 9090), ("10.0.0.2", 9090)]);
        let sel = labels::Collection(vec![[("app", "reviews")].into_iter().collect()]);
        assert_eq!(c.instances_by_port(&svc, 80, &sel).len(), 1);

        let pi = c.get_proxy_service_instances(&proxy("10.0.0.1"));
        let got: Vec<(u32, u32)> = pi
            .iter()
            .map(|i| (i.service_port.port, i.endpoint.endpoint_port))
            .collect();
        assert_eq!(got, [(80, 8080), (90, 9090)]);
        assert_eq!(
            c.get_proxy_workload_labels(&proxy("10.0.0.1")).0[0].0["app"],
            "reviews"
        );
        assert_eq!(
            c.get_istio_service_accounts(&svc, &[80]),
            ["spiffe://cluster.local/ns/ns/sa/sa"]
        );
        assert_eq!(c.management_ports("10.0.0.1").0[0].name, "mgmt-15020");
        let probes = c.workload_health_check_info("10.0.0.1");
        assert_eq!(probes.len(), 1);
        assert_eq!(probes[0].port.as_ref().map(|p| p.port), Some(15020));
        assert!(c.workload_health_check_info("10.9.9.9").is_empty());

        // Same subsets again: nothing sent.
        let before = up.calls().len();
        c.apply_endpoints(endpoints("reviews", &["10.0.0.1", "10.0.0.2"]));
        c.apply_service(service("reviews", "10.1.0.1"));
        assert_eq!(up.calls().len(), before);

        c.delete_endpoints(&("ns".into(), "reviews".into()));
        assert_eq!(
            up.last_eds("reviews.ns.svc.cluster.local").map(|e| e.len()),
            Some(0)
        );
        c.delete_service(&("ns".into(), "reviews".into()));
        assert!(c.services().is_empty());
        let svc_events: Vec<Event> = up
            .calls()
            .into_iter()
            .filter_map(|c| match c {
                XdsCall::Svc { event, shard, .. } => {
                    assert_eq!(shard, "c1");
                    Some(event)
                }
                _ => None,
            })
            .collect();
        assert_eq!(svc_events, [Event::Add, Event::Delete]);
    }

    #[test]
    fn pod_index_and_proxy_updates() {
        let (c, up) = setup();
        c.apply_pod(pod("p1", "10.0.0.1", "a", "Pending"));
        c.apply_pod(pod("p1", "10.0.0.1", "a", "Running")); // same IP: no update
        c.apply_pod(pod("p1", "10.0.0.1", "b", "Running")); // labels changed
        c.apply_pod(pod("p1", "10.0.0.9", "b", "Running")); // new IP
        c.apply_pod(pod("p1", "10.0.0.9", "b", "Succeeded")); // leaves the index
        let ips: Vec<String> = up
            .calls()
            .into_iter()
            .filter_map(|c| match c {
                XdsCall::Proxy { ip, .. } => Some(ip),
                _ => None,
            })
            .collect();
        assert_eq!(ips, ["10.0.0.1", "10.0.0.1", "10.0.0.9"]);
        assert!(c.get_proxy_workload_labels(&proxy("10.0.0.9")).0.is_empty());
        assert!(c.get_proxy_workload_labels(&proxy("10.0.0.1")).0.is_empty());
    }

    #[test]
    fn late_pods_resend_eds_and_target_refs_wait_for_pods() {
        let (c, up) = setup();
        c.apply_service(service("r", "10.1.0.1"));
        let ep: Endpoints = serde_json::from_value(json!({
            "metadata": {"name": "r", "namespace": "ns"},
            "subsets": [{"addresses": [{"ip": "10.0.0.1", "targetRef": {"kind": "Pod", "name": "p1", "namespace": "ns"}}],
                         "ports": [{"name": "http-web", "port": 8080}]}]
        }))
        .unwrap();
        c.apply_endpoints(ep);
        assert_eq!(
            up.last_eds("r.ns.svc.cluster.local").map(|e| e.len()),
            Some(0)
        );
        c.apply_pod(pod("p1", "10.0.0.1", "r", "Running"));
        let eds = up.last_eds("r.ns.svc.cluster.local").unwrap();
        assert_eq!(eds.len(), 1);
        assert_eq!(eds[0].labels.0["app"], "r");
    }

    #[test]
    fn headless_and_external_name_services() {
        let (c, up) = setup();
        c.apply_service(service("h", "None"));
        up.take();
        c.apply_endpoints(endpoints("h", &["10.0.0.1"]));
        let calls = up.take();
        assert!(calls.iter().all(|c| !matches!(c, XdsCall::Eds { .. })));
        assert!(calls
            .iter()
            .any(|c| matches!(c, XdsCall::Config(r) if r.full)));
        // The proxy of a headless service finds its instances through the endpoints.
        let pi = c.get_proxy_service_instances(&proxy("10.0.0.1"));
        assert_eq!(pi.len(), 2);

        let ext: KubeService = serde_json::from_value(json!({
            "metadata": {"name": "e", "namespace": "ns"},
            "spec": {"type": "ExternalName", "externalName": "example.com", "ports": [{"name": "http", "port": 80}]}
        }))
        .unwrap();
        c.apply_service(ext);
        let svc = c.get_service("e.ns.svc.cluster.local").unwrap();
        let inst = c.instances_by_port(&svc, 80, &labels::Collection::default());
        assert_eq!(inst[0].endpoint.address, "example.com");
    }

    #[test]
    fn proxy_instances_from_metadata() {
        let (c, _) = setup();
        c.apply_service(service("m", "10.1.0.1"));
        let mut p = proxy("10.0.0.5");
        p.config_namespace = "ns".into();
        p.metadata.cluster_id = "c1".into();
        p.metadata.pod_ports = vec![crate::model::context::PodPort {
            name: "web".into(),
            container_port: 7070,
            protocol: "TCP".into(),
        }];
        p.workload_labels = labels::Collection(vec![[("app", "m")].into_iter().collect()]);
        let got: Vec<u32> = c
            .get_proxy_service_instances(&p)
            .iter()
            .map(|i| i.endpoint.endpoint_port)
            .collect();
        assert_eq!(got, [7070, 9090]);
        p.metadata.cluster_id = "other".into();
        assert!(c.get_proxy_service_instances(&p).is_empty());
    }

    #[test]
    fn networks_by_registry_and_cidr() {
        let (c, _) = setup();
        let nets: MeshNetworks = serde_json::from_value(json!({"networks": {
            "n1": {"endpoints": [{"fromCidr": "10.0.0.0/16"}]},
            "n2": {"endpoints": [{"fromCidr": "192.168.0.0/24"}]}}}))
        .unwrap();
        c.set_mesh_networks(&nets);
        assert_eq!(c.endpoint_network("10.0.3.4"), "n1");
        assert_eq!(c.endpoint_network("192.168.0.9"), "n2");
        assert_eq!(c.endpoint_network("172.16.0.1"), "");
        let nets: MeshNetworks = serde_json::from_value(json!({"networks": {
            "n3": {"endpoints": [{"fromRegistry": "c1"}]}}}))
        .unwrap();
        c.set_mesh_networks(&nets);
        assert_eq!(c.endpoint_network("172.16.0.1"), "n3");
    }
}
