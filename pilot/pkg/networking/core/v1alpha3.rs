//! The v1alpha3 config generator (upstream `pilot/pkg/networking/core/v1alpha3`): CDS, LDS and
//! RDS for sidecars from Istio 1.4's networking model.
//!
//! What every proxy of one sidecar scope shares (outbound clusters, outbound listeners,
//! outbound route configs) is generated once per push context and proxy "shape" (the few
//! proxy properties it depends on) and cached; the per-proxy parts (inbound, capture
//! listeners, the pod-IP blackhole chains) are built or patched per proxy.
//!
//! Not generated yet (later work): VirtualService and DestinationRule translation (routes,
//! subsets, traffic policies, TLS origination), EnvoyFilter patches, gateways (router proxies
//! get an empty config), locality load balancing settings, the Mongo/Redis/MySQL filters.

pub mod cluster;
pub mod httproute;
pub mod listener;
pub mod listener_builder;
pub mod networkfilter;
pub mod wire;

use std::collections::{HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use envoy_types::pb::envoy::config::listener::v3::Listener;
use envoy_types::pb::envoy::config::route::v3::RouteConfiguration;
use prost::Message;

use crate::features::Features;
use crate::model::{NodeType, Proxy, PushContext, SidecarScope};
use crate::networking::core::{
    encode_any, encode_any_all, ConfigGenerator, EncodedListener, ResourceKind, CLUSTER_TYPE_URL,
};
use crate::networking::plugin::{InputParams, ListenerProtocol, Plugin};
use crate::networking::util;

use self::listener::OutboundTemplate;

/// Everything one generation call reads.
pub(crate) struct Ctx<'a> {
    pub features: &'a Features,
    pub plugins: &'a [Arc<dyn Plugin>],
    pub proxy: &'a Proxy,
    pub push: &'a PushContext,
    pub scope: Arc<SidecarScope>,
}

impl<'a> Ctx<'a> {
    /// Plugin hook input for this proxy about a listener (or route, or cluster) of
    /// `protocol`, naming no service, port or bind address; callers set those they have.
    pub(crate) fn input(&self, protocol: ListenerProtocol) -> InputParams<'_> {
        InputParams {
            listener_protocol: protocol,
            features: self.features,
            node: self.proxy,
            push: self.push,
            scope: &self.scope,
            service_instance: None,
            service: None,
            port: None,
            bind: "",
            inbound_cluster_name: "",
        }
    }
}

/// Shared generation results of one push context.
#[derive(Default)]
struct PushCache {
    version: String,
    clusters: HashMap<u64, Arc<EncodedClusters>>,
    listeners: HashMap<u64, Arc<Vec<OutboundTemplate>>>,
}

/// The outbound clusters of a scope, encoded once (as CDS `Any`s) and shared by every proxy
/// of that scope shape. Kept encoded: the structured `Cluster`s are several times larger.
struct EncodedClusters {
    names: HashSet<String>,
    any: Vec<Bytes>,
}

/// How many push contexts' results are kept (the current one and the one being replaced).
const CACHED_PUSHES: usize = 2;

/// The config generator pilot uses (upstream `ConfigGeneratorImpl`).
pub struct ConfigGeneratorImpl {
    features: Features,
    plugins: Vec<Arc<dyn Plugin>>,
    cache: Mutex<Vec<PushCache>>,
}

impl std::fmt::Debug for ConfigGeneratorImpl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigGeneratorImpl")
            .field("plugins", &self.plugins.len())
            .finish_non_exhaustive()
    }
}

impl ConfigGeneratorImpl {
    pub fn new(features: Features) -> ConfigGeneratorImpl {
        ConfigGeneratorImpl {
            features,
            plugins: Vec::new(),
            cache: Mutex::new(Vec::new()),
        }
    }

    /// Registers a plugin; plugins run in registration order.
    pub fn with_plugin(mut self, plugin: Arc<dyn Plugin>) -> ConfigGeneratorImpl {
        self.plugins.push(plugin);
        self
    }

    fn ctx<'a>(&'a self, proxy: &'a Proxy, push: &'a PushContext) -> Ctx<'a> {
        Ctx {
            features: &self.features,
            plugins: &self.plugins,
            proxy,
            push,
            scope: push.sidecar_scope(proxy),
        }
    }

    /// Looks up (or builds, outside the lock, and stores) a shared result.
    fn cached<K, V>(
        &self,
        push: &PushContext,
        key: K,
        table: impl Fn(&mut PushCache) -> &mut HashMap<K, Arc<V>>,
        build: impl FnOnce() -> V,
    ) -> Arc<V>
    where
        K: Hash + Eq + Clone,
    {
        {
            let mut caches = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(c) = caches.iter_mut().find(|c| c.version == push.version) {
                if let Some(v) = table(c).get(&key) {
                    return v.clone();
                }
            }
        }
        let value = Arc::new(build());
        let mut caches = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        let idx = match caches.iter().position(|c| c.version == push.version) {
            Some(i) => i,
            None => {
                if caches.len() >= CACHED_PUSHES {
                    caches.remove(0);
                }
                caches.push(PushCache {
                    version: push.version.clone(),
                    ..Default::default()
                });
                caches.len() - 1
            }
        };
        table(&mut caches[idx]).entry(key).or_insert(value).clone()
    }

    fn clusters(&self, proxy: &Proxy, push: &PushContext) -> Vec<Cluster> {
        if proxy.node_type != NodeType::Sidecar {
            return vec![cluster::build_black_hole_cluster(&push.mesh)];
        }
        let ctx = self.ctx(proxy, push);
        let mut out = cluster::build_outbound_clusters(&ctx);
        out.extend(proxy_clusters(&ctx));
        cluster::normalize(out)
    }

    /// [`Self::clusters`], encoded, with the outbound part taken from the push cache.
    fn clusters_encoded(&self, proxy: &Proxy, push: &PushContext) -> Vec<Bytes> {
        if proxy.node_type != NodeType::Sidecar {
            let bh = cluster::build_black_hole_cluster(&push.mesh);
            return vec![encode_any(CLUSTER_TYPE_URL, &bh)];
        }
        let ctx = self.ctx(proxy, push);
        let outbound = self.cached(
            push,
            outbound_cluster_shape(&ctx),
            |c| &mut c.clusters,
            || {
                let clusters = cluster::normalize(cluster::build_outbound_clusters(&ctx));
                EncodedClusters {
                    any: encode_any_all(CLUSTER_TYPE_URL, clusters.iter()),
                    names: clusters.into_iter().map(|c| c.name).collect(),
                }
            },
        );
        let extra = cluster::normalize(proxy_clusters(&ctx));
        let mut out = Vec::with_capacity(outbound.any.len() + extra.len());
        out.extend(outbound.any.iter().cloned());
        // As `normalize` over the whole list: the first cluster of a name wins.
        out.extend(
            extra
                .iter()
                .filter(|c| !outbound.names.contains(&c.name))
                .map(|c| encode_any(CLUSTER_TYPE_URL, c)),
        );
        out
    }

    fn outbound_listener_templates(&self, ctx: &Ctx<'_>) -> Arc<Vec<OutboundTemplate>> {
        self.cached(
            ctx.push,
            outbound_listener_shape(ctx),
            |c| &mut c.listeners,
            || listener::OutboundBuilder::new(ctx).build(),
        )
    }
}

/// A sidecar's listeners before the outbound templates are instantiated for it.
struct ListenerParts<'a> {
    ctx: Ctx<'a>,
    /// Inbound and management listeners.
    inbound: Vec<Listener>,
    templates: Arc<Vec<OutboundTemplate>>,
    virtual_outbound: Listener,
    virtual_inbound: Listener,
}

impl ConfigGeneratorImpl {
    fn listener_parts<'a>(
        &'a self,
        proxy: &'a Proxy,
        push: &'a PushContext,
    ) -> Option<ListenerParts<'a>> {
        if proxy.node_type != NodeType::Sidecar || push.mesh.proxy_listen_port <= 0 {
            return None;
        }
        let ctx = self.ctx(proxy, push);
        let mut inbound = listener::build_sidecar_inbound_listeners(&ctx);
        let templates = self.outbound_listener_templates(&ctx);
        // Management listeners only look at the addresses taken, which the proxy's copies
        // of the templates do not change.
        let existing: Vec<&Listener> = inbound
            .iter()
            .chain(listener::templates_for(proxy, &templates).map(|t| &t.listener))
            .collect();
        let mgmt = listener::build_management_listeners(&ctx, &existing);
        inbound.extend(mgmt);
        let virtual_outbound = listener_builder::build_virtual_outbound_listener(&ctx);
        let virtual_inbound = listener_builder::build_virtual_inbound_listener(&ctx, &inbound);
        Some(ListenerParts {
            ctx,
            inbound,
            templates,
            virtual_outbound,
            virtual_inbound,
        })
    }
}

/// The clusters of a sidecar that are its own: BlackHole, Passthrough and inbound.
fn proxy_clusters(ctx: &Ctx<'_>) -> Vec<Cluster> {
    let mut out = vec![
        cluster::build_black_hole_cluster(&ctx.push.mesh),
        cluster::build_passthrough_cluster(ctx),
    ];
    out.extend(cluster::build_inbound_clusters(ctx));
    out
}

/// Hash of the proxy properties the shared outbound clusters depend on.
fn outbound_cluster_shape(ctx: &Ctx<'_>) -> u64 {
    let mut h = DefaultHasher::new();
    ctx.scope.content_key.hash(&mut h);
    version_bits(ctx.proxy).hash(&mut h);
    let mut view = ctx.proxy.metadata.requested_network_view.clone();
    view.sort();
    view.hash(&mut h);
    h.finish()
}

/// Hash of the proxy properties the shared outbound listeners depend on.
fn outbound_listener_shape(ctx: &Ctx<'_>) -> u64 {
    let mut h = DefaultHasher::new();
    ctx.scope.content_key.hash(&mut h);
    version_bits(ctx.proxy).hash(&mut h);
    ctx.proxy.interception_mode().hash(&mut h);
    util::wildcard_and_localhost(ctx.proxy).hash(&mut h);
    ctx.proxy.cluster_id.hash(&mut h);
    ctx.proxy.metadata.http10.hash(&mut h);
    ctx.proxy.metadata.idle_timeout.hash(&mut h);
    policy_check_metadata(ctx.proxy).hash(&mut h);
    h.finish()
}

/// The node metadata of policy checks (Mixer filters and route configs depend on it).
fn policy_check_metadata(proxy: &Proxy) -> [&str; 4] {
    let m = &proxy.metadata;
    [
        &m.policy_check,
        &m.policy_check_retries,
        &m.policy_check_base_retry_wait_time,
        &m.policy_check_max_retry_wait_time,
    ]
}

/// The version thresholds generation distinguishes: (>= 1.3, >= 1.4).
fn version_bits(proxy: &Proxy) -> (bool, bool) {
    (
        util::is_istio_version_ge13(proxy),
        util::is_istio_version_ge14(proxy),
    )
}

impl ConfigGenerator for ConfigGeneratorImpl {
    fn build_clusters(&self, proxy: &Proxy, push: &PushContext) -> Vec<Cluster> {
        self.clusters(proxy, push)
    }

    fn build_clusters_encoded(&self, proxy: &Proxy, push: &PushContext) -> Vec<Bytes> {
        self.clusters_encoded(proxy, push)
    }

    fn build_listeners(&self, proxy: &Proxy, push: &PushContext) -> Vec<Listener> {
        let Some(parts) = self.listener_parts(proxy, push) else {
            return Vec::new();
        };
        let mut out = parts.inbound;
        out.extend(listener::instantiate_outbound(&parts.ctx, &parts.templates));
        out.push(parts.virtual_outbound);
        out.push(parts.virtual_inbound);
        out
    }

    fn build_listeners_encoded(&self, proxy: &Proxy, push: &PushContext) -> Vec<EncodedListener> {
        let Some(parts) = self.listener_parts(proxy, push) else {
            return Vec::new();
        };
        let input = parts.ctx.input(ListenerProtocol::Unknown);
        let whole = |l: &Listener| EncodedListener {
            own: l.encode_to_vec().into(),
            shared: None,
        };
        let mut out: Vec<EncodedListener> = parts.inbound.iter().map(whole).collect();
        if self
            .plugins
            .iter()
            .any(|p| p.localizes_outbound_listeners(&input))
        {
            out.extend(
                listener::instantiate_outbound(&parts.ctx, &parts.templates)
                    .iter()
                    .map(whole),
            );
        } else {
            out.extend(listener::instantiate_outbound_encoded(
                &parts.ctx,
                &parts.templates,
            ));
        }
        out.push(whole(&parts.virtual_outbound));
        out.push(whole(&parts.virtual_inbound));
        out
    }

    fn build_http_routes(
        &self,
        proxy: &Proxy,
        push: &PushContext,
        route_names: &[String],
    ) -> Vec<RouteConfiguration> {
        if proxy.node_type != NodeType::Sidecar {
            return route_names
                .iter()
                .map(|n| httproute::empty_route_config(n))
                .collect();
        }
        // Not cached here: proxies with equal route inputs have equal RDS scope keys
        // ([`ConfigGenerator::scope_key`]), so the ADS response cache already shares the
        // encoded result, and keeping the structured copy per namespace cost more memory
        // than the whole encoded RDS.
        let ctx = self.ctx(proxy, push);
        route_names
            .iter()
            .map(|name| {
                httproute::build_sidecar_outbound_route_config(&ctx, name)
                    .unwrap_or_else(|| httproute::empty_route_config(name))
            })
            .collect()
    }

    fn scope_key(&self, kind: ResourceKind, proxy: &Proxy, push: &PushContext) -> u64 {
        let mut h = DefaultHasher::new();
        kind.hash(&mut h);
        proxy.node_type.hash(&mut h);
        version_bits(proxy).hash(&mut h);
        if proxy.node_type != NodeType::Sidecar {
            // Gateways get a fixed config for now.
            return h.finish();
        }
        let scope = push.sidecar_scope(proxy);
        if kind == ResourceKind::Cluster {
            // Clusters depend on what the scope contains, not on the namespace.
            scope.content_key.hash(&mut h);
        } else {
            proxy.config_namespace.hash(&mut h);
            scope.key.hash(&mut h);
        }
        let hash_instances = |h: &mut DefaultHasher, with_addresses: bool| {
            for i in &proxy.service_instances {
                i.service.hostname.hash(h);
                i.service_port.hash(h);
                i.endpoint.endpoint_port.hash(h);
                if with_addresses {
                    i.endpoint.address.hash(h);
                }
            }
        };
        let mgmt_ports = |h: &mut DefaultHasher| {
            for ip in &proxy.ip_addresses {
                push.service_discovery.0.management_ports(ip).hash(h);
            }
        };
        match kind {
            ResourceKind::Cluster => {
                proxy.interception_mode().hash(&mut h);
                util::ip_families(proxy).hash(&mut h);
                let mut view = proxy.metadata.requested_network_view.clone();
                view.sort();
                view.hash(&mut h);
                hash_instances(&mut h, false);
                mgmt_ports(&mut h);
            }
            ResourceKind::Listener => {
                // Mixer filters name the proxy and its version.
                proxy.id.hash(&mut h);
                proxy.istio_version.hash(&mut h);
                proxy.metadata.mesh_id.hash(&mut h);
                policy_check_metadata(proxy).hash(&mut h);
                proxy.interception_mode().hash(&mut h);
                proxy.ip_addresses.hash(&mut h);
                proxy.cluster_id.hash(&mut h);
                proxy.metadata.http10.hash(&mut h);
                proxy.metadata.idle_timeout.hash(&mut h);
                hash_instances(&mut h, true);
                mgmt_ports(&mut h);
            }
            ResourceKind::Route => {
                proxy.dns_domain.hash(&mut h);
                proxy.cluster_id.hash(&mut h);
                proxy.metadata.policy_check.hash(&mut h);
            }
            ResourceKind::Endpoint => {
                proxy.cluster_id.hash(&mut h);
                proxy.locality.hash(&mut h);
                let mut view = proxy.metadata.requested_network_view.clone();
                view.sort();
                view.hash(&mut h);
            }
        }
        h.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{
        ConfigStore, Environment, NodeMetadata, Port, PortList, Resolution, Service,
        ServiceAttributes, ServiceDiscovery, ServiceInstance, StoreError,
    };
    use istio_pkg::config::labels;
    use istio_pkg::config::model::Config;
    use istio_pkg::config::protocol::Instance as Protocol;
    use istio_pkg::config::schema::Kind;

    struct Services(Vec<Arc<Service>>);

    impl ServiceDiscovery for Services {
        fn services(&self) -> Vec<Arc<Service>> {
            self.0.clone()
        }
        fn get_service(&self, hostname: &str) -> Option<Arc<Service>> {
            self.0.iter().find(|s| s.hostname == hostname).cloned()
        }
        fn instances_by_port(
            &self,
            _: &Service,
            _: u32,
            _: &labels::Collection,
        ) -> Vec<ServiceInstance> {
            Vec::new()
        }
        fn get_proxy_service_instances(&self, _: &Proxy) -> Vec<ServiceInstance> {
            Vec::new()
        }
        fn get_proxy_workload_labels(&self, _: &Proxy) -> labels::Collection {
            labels::Collection::default()
        }
        fn get_istio_service_accounts(&self, _: &Service, _: &[u32]) -> Vec<String> {
            Vec::new()
        }
    }

    struct NoConfig;

    impl ConfigStore for NoConfig {
        fn kinds(&self) -> Vec<Kind> {
            Vec::new()
        }
        fn get(&self, _: Kind, _: &str, _: &str) -> Option<Arc<Config>> {
            None
        }
        fn list(&self, _: Kind, _: Option<&str>) -> Result<Vec<Arc<Config>>, StoreError> {
            Ok(Vec::new())
        }
        fn create(&self, c: Config) -> Result<String, StoreError> {
            Err(StoreError::ReadOnly {
                kind: c.meta.kind,
                key: c.meta.key(),
            })
        }
        fn update(&self, c: Config) -> Result<String, StoreError> {
            self.create(c)
        }
        fn delete(&self, kind: Kind, name: &str, _: &str) -> Result<(), StoreError> {
            Err(StoreError::ReadOnly {
                kind,
                key: name.into(),
            })
        }
    }

    fn svc(i: usize) -> Arc<Service> {
        Arc::new(Service {
            hostname: format!("s{i}.ns.svc.cluster.local"),
            address: format!("10.0.{}.{}", i / 250, i % 250 + 1),
            cluster_vips: Default::default(),
            ports: PortList(vec![
                Port {
                    name: "http".into(),
                    port: 8080,
                    protocol: Protocol::Http,
                },
                Port {
                    name: "tcp".into(),
                    port: 9000 + i as u32 % 7,
                    protocol: Protocol::Tcp,
                },
            ]),
            service_accounts: Vec::new(),
            creation_time: 0,
            resolution: Resolution::ClientSideLb,
            mesh_external: false,
            attributes: ServiceAttributes {
                namespace: "ns".into(),
                ..Default::default()
            },
        })
    }

    fn proxy(ip: &str, ns: &str) -> Proxy {
        Proxy::parse(
            &format!("sidecar~{ip}~p.{ns}~{ns}.svc.cluster.local"),
            NodeMetadata::default(),
        )
        .unwrap()
    }

    #[test]
    fn encoded_clusters_equal_the_structured_ones() {
        let env = Environment::new(
            Arc::new(Services((0..20).map(svc).collect())),
            Arc::new(NoConfig),
            istio_pkg::config::mesh::default_mesh_config(),
            istio_pkg::config::mesh::empty_mesh_networks(),
            "cluster.local",
        );
        let push = PushContext::new(&env);
        let g = ConfigGeneratorImpl::new(Features::default());
        // The second proxy takes the outbound part from the cache.
        for ip in ["10.9.0.1", "10.9.0.2"] {
            let p = proxy(ip, "ns");
            let structured = g.build_clusters(&p, &push);
            let encoded = g.build_clusters_encoded(&p, &push);
            let decoded: Vec<Cluster> = encoded
                .iter()
                .map(|b| {
                    let any = prost_types::Any::decode(b.as_ref()).unwrap();
                    assert_eq!(any.type_url, CLUSTER_TYPE_URL);
                    Cluster::decode(any.value.as_slice()).unwrap()
                })
                .collect();
            assert_eq!(decoded, structured);
        }
        let gw = Proxy::parse(
            "router~10.9.0.3~gw.ns~ns.svc.cluster.local",
            NodeMetadata::default(),
        )
        .unwrap();
        assert_eq!(
            g.build_clusters_encoded(&gw, &push),
            encode_any_all(CLUSTER_TYPE_URL, g.build_clusters(&gw, &push).iter())
        );
    }

    #[test]
    fn encoded_listeners_equal_the_structured_ones() {
        let env = Environment::new(
            Arc::new(Services((0..20).map(svc).collect())),
            Arc::new(NoConfig),
            istio_pkg::config::mesh::default_mesh_config(),
            istio_pkg::config::mesh::empty_mesh_networks(),
            "cluster.local",
        );
        let push = PushContext::new(&env);
        let g = ConfigGeneratorImpl::new(Features::default());
        let mut shared = Vec::new();
        for ip in ["10.9.0.1", "10.9.0.2"] {
            let p = proxy(ip, "ns");
            let structured = g.build_listeners(&p, &push);
            let encoded = g.build_listeners_encoded(&p, &push);
            let decoded: Vec<Listener> = encoded
                .iter()
                .map(|l| {
                    let mut bytes = l.own.to_vec();
                    if let Some(s) = &l.shared {
                        bytes.extend_from_slice(&s.v3);
                    }
                    Listener::decode(bytes.as_slice()).unwrap()
                })
                .collect();
            assert_eq!(decoded, structured);
            // The wildcard HTTP listener: the pod IP chain is the proxy's, first, and the
            // rest is shared; listeners bound to a service IP are shared whole.
            let http = encoded
                .iter()
                .zip(&structured)
                .find(|(_, l)| l.name == "0.0.0.0_8080")
                .unwrap()
                .0;
            let own = Listener::decode(http.own.as_ref()).unwrap();
            assert_eq!(own.filter_chains.len(), 1);
            let m = own.filter_chains[0].filter_chain_match.as_ref().unwrap();
            assert_eq!(m.prefix_ranges[0].address_prefix, ip);
            let tcp = encoded
                .iter()
                .zip(&structured)
                .find(|(_, l)| l.name == "10.0.0.1_9000")
                .unwrap()
                .0;
            assert!(tcp.own.is_empty());
            shared.push(http.shared.clone().unwrap());
        }
        assert!(
            Arc::ptr_eq(&shared[0], &shared[1]),
            "the shared part is encoded once"
        );
    }

    #[test]
    fn outbound_parts_are_generated_once_per_scope() {
        let env = Environment::new(
            Arc::new(Services((0..300).map(svc).collect())),
            Arc::new(NoConfig),
            istio_pkg::config::mesh::default_mesh_config(),
            istio_pkg::config::mesh::empty_mesh_networks(),
            "cluster.local",
        );
        let push = PushContext::new(&env);
        let g = ConfigGeneratorImpl::new(Features::default());
        let routes = ["8080".to_string()];
        for i in 0..50 {
            let p = proxy(&format!("10.9.0.{}", i + 1), "ns");
            assert_eq!(g.build_clusters_encoded(&p, &push).len(), 300 * 2 + 3);
            assert!(g.build_listeners(&p, &push).len() > 300);
            g.build_http_routes(&p, &push, &routes);
        }
        let other = proxy("10.9.1.1", "other");
        g.build_listeners(&other, &push);
        let caches = g.cache.lock().unwrap();
        assert_eq!(caches.len(), 1);
        // One entry per scope content, not per proxy: the default scopes of `ns` and `other`
        // see the same services and share their outbound listeners.
        assert_eq!(caches[0].clusters.len(), 1);
        assert_eq!(caches[0].listeners.len(), 1);
        drop(caches);
        // A new push context starts a new cache; old ones are dropped beyond two.
        for _ in 0..3 {
            let push = PushContext::new(&env);
            g.build_clusters_encoded(&proxy("10.9.0.1", "ns"), &push);
        }
        assert_eq!(g.cache.lock().unwrap().len(), CACHED_PUSHES);
    }
}
