//! The environment pilot generates from, and the immutable snapshot of it that one push uses
//! (upstream `pilot/pkg/model/push_context.go`, `environment.go`).
//!
//! Registries and config stores change all the time; a push must see one consistent view.
//! [`PushContext::new`] takes that view once: every service (merged across registries, with
//! visibility indexes) and every config object of the kinds pilot reads. Every proxy pushed
//! in that round shares the same `Arc<PushContext>`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Instant, SystemTime};

use istio_api::istio::mesh::v1alpha1::{MeshConfig, MeshNetworks};
use istio_pkg::config::model::Config;
use istio_pkg::config::schema::Kind;

use super::config::ConfigStore;
use super::context::Proxy;
use super::service::{IstioEndpoint, Service, ServiceDiscovery, ServiceInstance, Visibility};
use super::sidecar::SidecarScope;

/// Everything pilot reads to generate config: the (aggregate) service registry, the
/// (aggregate) config store, and the mesh configuration, which can be reloaded.
pub struct Environment {
    pub service_discovery: Arc<dyn ServiceDiscovery>,
    pub config_store: Arc<dyn ConfigStore>,
    mesh: RwLock<Arc<MeshConfig>>,
    mesh_networks: RwLock<Arc<MeshNetworks>>,
    /// DNS suffix of the cluster, `--domain` (default `cluster.local`).
    pub domain_suffix: String,
}

impl Environment {
    pub fn new(
        service_discovery: Arc<dyn ServiceDiscovery>,
        config_store: Arc<dyn ConfigStore>,
        mesh: MeshConfig,
        mesh_networks: MeshNetworks,
        domain_suffix: impl Into<String>,
    ) -> Environment {
        Environment {
            service_discovery,
            config_store,
            mesh: RwLock::new(Arc::new(mesh)),
            mesh_networks: RwLock::new(Arc::new(mesh_networks)),
            domain_suffix: domain_suffix.into(),
        }
    }

    /// The current mesh config.
    pub fn mesh(&self) -> Arc<MeshConfig> {
        self.mesh.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn set_mesh(&self, mesh: MeshConfig) {
        *self.mesh.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(mesh);
    }

    pub fn mesh_networks(&self) -> Arc<MeshNetworks> {
        self.mesh_networks
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn set_mesh_networks(&self, networks: MeshNetworks) {
        *self
            .mesh_networks
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Arc::new(networks);
    }
}

/// Kinds whose objects a [`PushContext`] snapshots (upstream's `schemas.Istio` set minus the
/// synthetic ServiceEntry, which registries consume).
pub const PUSH_KINDS: &[Kind] = &[
    Kind::VirtualService,
    Kind::Gateway,
    Kind::ServiceEntry,
    Kind::DestinationRule,
    Kind::EnvoyFilter,
    Kind::Sidecar,
    Kind::HttpApiSpec,
    Kind::HttpApiSpecBinding,
    Kind::QuotaSpec,
    Kind::QuotaSpecBinding,
    Kind::AuthenticationPolicy,
    Kind::AuthenticationMeshPolicy,
    Kind::ServiceRole,
    Kind::ServiceRoleBinding,
    Kind::RbacConfig,
    Kind::ClusterRbacConfig,
    Kind::AuthorizationPolicy,
];

/// A shared handle on a service registry (shown opaquely in `Debug` output).
#[derive(Clone)]
pub struct Registry(pub Arc<dyn ServiceDiscovery>);

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServiceDiscovery")
    }
}

static PUSH_VERSION: AtomicU64 = AtomicU64::new(0);

/// One consistent, immutable view of the mesh for a push.
#[derive(Debug)]
pub struct PushContext {
    /// `<RFC 3339 time>/<counter>`, as upstream; sent as the xDS `version_info`.
    pub version: String,
    pub mesh: Arc<MeshConfig>,
    pub mesh_networks: Arc<MeshNetworks>,
    pub domain_suffix: String,
    /// Every service, sorted by hostname (oldest first among equal hostnames, then deduplicated:
    /// the first registry's service wins, as upstream's aggregate).
    services: Vec<Arc<Service>>,
    by_hostname: HashMap<String, Arc<Service>>,
    /// Services exported to every namespace.
    public_services: Vec<Arc<Service>>,
    /// Services exported only to their own namespace, by namespace.
    private_services: BTreeMap<String, Vec<Arc<Service>>>,
    /// Config objects by kind, sorted by namespace/name (store order).
    configs: BTreeMap<Kind, Vec<Arc<Config>>>,
    /// Sidecar scopes by scope key (`default/<ns>` for namespace defaults, `sidecar/...` for
    /// Sidecar objects), built lazily.
    sidecar_scopes: RwLock<HashMap<String, Arc<SidecarScope>>>,
    /// The registry the snapshot was taken from, for the few live reads generation makes
    /// (DNS cluster endpoints, management ports), as upstream reads `push.Env`.
    pub service_discovery: Registry,
    /// Problems found while building the snapshot (shown on /debug/push_status).
    pub errors: Vec<String>,
}

impl PushContext {
    /// Snapshots `env`.
    pub fn new(env: &Environment) -> PushContext {
        let mesh = env.mesh();
        let mut errors = Vec::new();
        let mut services = env.service_discovery.services();
        services.sort_by(|a, b| a.hostname.cmp(&b.hostname));
        let mut by_hostname = HashMap::with_capacity(services.len());
        services.retain(|s| {
            if by_hostname.contains_key(&s.hostname) {
                false
            } else {
                by_hostname.insert(s.hostname.clone(), s.clone());
                true
            }
        });
        let mesh_default: BTreeSet<Visibility> = mesh
            .default_service_export_to
            .iter()
            .filter_map(|v| Visibility::parse(v))
            .collect();
        let mut public_services = Vec::new();
        let mut private_services: BTreeMap<String, Vec<Arc<Service>>> = BTreeMap::new();
        for s in &services {
            let export = if s.attributes.export_to.is_empty() {
                &mesh_default
            } else {
                &s.attributes.export_to
            };
            if export.is_empty() || export.contains(&Visibility::Public) {
                public_services.push(s.clone());
            } else if export.contains(&Visibility::Private) {
                private_services
                    .entry(s.attributes.namespace.clone())
                    .or_default()
                    .push(s.clone());
            }
        }
        let mut configs = BTreeMap::new();
        for &kind in PUSH_KINDS {
            if !env.config_store.kinds().contains(&kind) {
                continue;
            }
            match env.config_store.list(kind, None) {
                Ok(list) => {
                    configs.insert(kind, list);
                }
                Err(e) => errors.push(format!("listing {kind:?}: {e}")),
            }
        }
        let n = PUSH_VERSION.fetch_add(1, Ordering::Relaxed) + 1;
        PushContext {
            version: format!("{}/{n}", rfc3339_now()),
            mesh,
            mesh_networks: env.mesh_networks(),
            domain_suffix: env.domain_suffix.clone(),
            services,
            by_hostname,
            public_services,
            private_services,
            configs,
            sidecar_scopes: RwLock::new(HashMap::new()),
            service_discovery: Registry(env.service_discovery.clone()),
            errors,
        }
    }

    /// Every service in the mesh.
    pub fn all_services(&self) -> &[Arc<Service>] {
        &self.services
    }

    pub fn service_by_hostname(&self, hostname: &str) -> Option<&Arc<Service>> {
        self.by_hostname.get(hostname)
    }

    /// Services visible from `namespace`: public ones plus the namespace's private ones,
    /// sorted by hostname (upstream `Services(proxy)` for a proxy in that namespace).
    pub fn services_visible_from(&self, namespace: &str) -> Vec<Arc<Service>> {
        let mut out = self.public_services.clone();
        if let Some(private) = self.private_services.get(namespace) {
            out.extend(private.iter().cloned());
            out.sort_by(|a, b| a.hostname.cmp(&b.hostname));
        }
        out
    }

    /// Config objects of `kind` (empty when no store holds that kind).
    pub fn configs(&self, kind: Kind) -> &[Arc<Config>] {
        self.configs.get(&kind).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The sidecar scope for `proxy`: from the matching Sidecar object of its namespace, else
    /// the namespace default (every visible service).
    pub fn sidecar_scope(&self, proxy: &Proxy) -> Arc<SidecarScope> {
        if let Some(scope) = SidecarScope::for_proxy(self, proxy) {
            return scope;
        }
        self.default_sidecar_scope(&proxy.config_namespace)
    }

    /// The default scope of `namespace`, shared by every proxy there without a Sidecar.
    pub fn default_sidecar_scope(&self, namespace: &str) -> Arc<SidecarScope> {
        self.cached_sidecar_scope(&format!("default/{namespace}"), || {
            SidecarScope::default_for_namespace(self, namespace)
        })
    }
}

impl PushContext {
    /// The scope cached under `key`, built with `build` the first time it is asked for.
    pub fn cached_sidecar_scope(
        &self,
        key: &str,
        build: impl FnOnce() -> SidecarScope,
    ) -> Arc<SidecarScope> {
        if let Some(s) = self
            .sidecar_scopes
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
        {
            return s.clone();
        }
        let scope = Arc::new(build());
        self.sidecar_scopes
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key.to_owned())
            .or_insert(scope)
            .clone()
    }
}

/// Service instances for a proxy from the registries (sorted as upstream), for the push layer.
pub fn proxy_service_instances(env: &Environment, proxy: &Proxy) -> Vec<ServiceInstance> {
    env.service_discovery.get_proxy_service_instances(proxy)
}

fn rfc3339_now() -> String {
    istio_pkg::log::rfc3339_utc(SystemTime::now())
}

/// What a push must cover (upstream `PushRequest`).
#[derive(Debug, Clone)]
pub struct PushRequest {
    /// Regenerate everything; false means only endpoints changed (EDS only).
    pub full: bool,
    /// Namespaces whose config changed (empty: unknown / all).
    pub namespaces_updated: BTreeSet<String>,
    /// Config kinds that changed (empty: unknown / all).
    pub config_types_updated: BTreeSet<Kind>,
    /// Hostnames whose endpoints changed, for incremental EDS.
    pub eds_updates: BTreeSet<String>,
    /// When the first change folded into this request happened (for convergence metrics).
    pub start: Instant,
}

impl PushRequest {
    pub fn full() -> PushRequest {
        PushRequest {
            full: true,
            namespaces_updated: BTreeSet::new(),
            config_types_updated: BTreeSet::new(),
            eds_updates: BTreeSet::new(),
            start: Instant::now(),
        }
    }

    pub fn eds(hostnames: impl IntoIterator<Item = String>) -> PushRequest {
        PushRequest {
            full: false,
            eds_updates: hostnames.into_iter().collect(),
            ..Self::full()
        }
    }

    /// Folds `other` into `self`: full wins, sets are unioned, the earliest start is kept.
    /// An empty set on a full request means "everything", which stays everything.
    pub fn merge(mut self, other: PushRequest) -> PushRequest {
        let was_full = self.full;
        self.full |= other.full;
        self.start = self.start.min(other.start);
        self.namespaces_updated = union_or_all(
            self.namespaces_updated,
            was_full,
            other.namespaces_updated,
            other.full,
        );
        self.config_types_updated = union_or_all(
            self.config_types_updated,
            was_full,
            other.config_types_updated,
            other.full,
        );
        self.eds_updates.extend(other.eds_updates);
        self
    }
}

/// Union of two scope sets, where an empty set on a full request means "everything".
fn union_or_all<T: Ord>(a: BTreeSet<T>, a_full: bool, b: BTreeSet<T>, b_full: bool) -> BTreeSet<T> {
    if (a_full && a.is_empty()) || (b_full && b.is_empty()) {
        BTreeSet::new()
    } else {
        a.into_iter().chain(b).collect()
    }
}

/// Receives changes from registries and config stores (upstream `XDSUpdater`); the discovery
/// server implements it and turns calls into debounced pushes.
pub trait XdsUpdater: Send + Sync {
    /// The complete endpoint list of `hostname` from registry shard `shard` (an empty list
    /// removes the shard's endpoints). Triggers an EDS-only push unless the service is new.
    fn eds_update(
        &self,
        shard: &str,
        hostname: &str,
        namespace: &str,
        endpoints: Vec<IstioEndpoint>,
    );

    /// A service was added, changed or removed in registry shard `shard`.
    fn svc_update(&self, shard: &str, hostname: &str, namespace: &str, event: super::config::Event);

    /// Config or services changed: push according to `req`.
    fn config_update(&self, req: PushRequest);

    /// The workload at `ip` changed (labels, ...): push to that proxy.
    fn proxy_update(&self, cluster_id: &str, ip: &str);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_keeps_full_and_unions() {
        let a = PushRequest::eds(["a".to_string()]);
        let b = PushRequest::eds(["b".to_string()]);
        let m = a.merge(b);
        assert!(!m.full);
        assert_eq!(m.eds_updates.len(), 2);
        let mut c = PushRequest::full();
        c.namespaces_updated.insert("ns1".into());
        let mut d = PushRequest::full();
        d.namespaces_updated.insert("ns2".into());
        let m = m.merge(c).merge(d);
        assert!(m.full);
        assert_eq!(m.namespaces_updated.len(), 2);
        // An unscoped full push stays unscoped.
        let m = m.merge(PushRequest::full());
        assert!(m.namespaces_updated.is_empty());
    }
}
