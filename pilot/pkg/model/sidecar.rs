//! Sidecar scopes: which services and config a sidecar sees (upstream
//! `pilot/pkg/model/sidecar.go`).
//!
//! Without a `Sidecar` object a proxy sees every service visible from its namespace through one
//! catch-all egress listener. A `Sidecar` object narrows that to the hosts its egress listeners
//! import (`namespace/host`, `.` for the Sidecar's own namespace, `*` for any), can pin egress
//! listeners to ports, and can define ingress listeners that replace the inbound listeners
//! built from the workload's service instances.
//!
//! Selection (upstream `getSidecarScope`): among the Sidecars of the proxy's config namespace,
//! the first whose workload selector matches the proxy's labels, else one without a selector;
//! a namespace without any Sidecar uses the selector-less Sidecar of the mesh root namespace,
//! else the default scope.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use istio_api::istio::mesh::v1alpha1::mesh_config::outbound_traffic_policy::Mode as MeshMode;
use istio_api::istio::networking::v1alpha3::{
    outbound_traffic_policy::Mode as SidecarMode, IstioEgressListener, IstioIngressListener,
    Sidecar,
};
use istio_pkg::config::host;
use istio_pkg::config::labels;
use istio_pkg::config::model::{Config, Spec};
use istio_pkg::config::schema::Kind;

use super::context::Proxy;
use super::push_context::PushContext;
use super::service::Service;

/// One egress listener of a scope and the services it imports (upstream
/// `IstioEgressListenerWrapper`).
#[derive(Debug)]
pub struct EgressListener {
    /// The Sidecar's listener; `None` for the default catch-all listener.
    pub istio_listener: Option<IstioEgressListener>,
    /// Imported services, in push-context order.
    pub services: Vec<Arc<Service>>,
}

impl EgressListener {
    /// The listener's port number, if it has one (a catch-all listener has none).
    pub fn port(&self) -> Option<u32> {
        self.istio_listener
            .as_ref()
            .and_then(|l| l.port.as_ref())
            .map(|p| p.number)
    }
}

/// The view of the mesh one proxy's outbound config is generated from. Proxies with the same
/// scope (same namespace, same Sidecar object) share it, and so can share generated config.
#[derive(Debug)]
pub struct SidecarScope {
    /// The namespace the scope applies to.
    pub namespace: String,
    /// The `Sidecar` object, if the scope comes from one.
    pub config: Option<Arc<Config>>,
    /// Services this scope can reach (deduplicated by hostname across egress listeners),
    /// oldest first.
    pub services: Vec<Arc<Service>>,
    /// Identifies the scope for caching: `default/<ns>` or
    /// `sidecar/<sidecar-ns>/<name>@<version>/<ns>`.
    pub key: String,
    /// Egress listeners in Sidecar order; the default scope has one catch-all listener.
    pub egress_listeners: Vec<EgressListener>,
    /// Ingress listeners of the Sidecar (empty: inbound comes from service instances).
    pub ingress_listeners: Vec<IstioIngressListener>,
    /// Whether unknown destinations pass through (ALLOW_ANY) rather than being blocked.
    pub allow_any_outbound: bool,
    /// Identifies what the scope contains rather than where it applies: namespaces whose
    /// default scopes see the same services share it, so the outbound clusters and listeners
    /// generated from the scope (which do not depend on the namespace) are built and kept
    /// once. Scopes from Sidecar objects keep their own identity.
    pub content_key: u64,
}

/// A content key for the default scope: the identity of its services (shared `Arc`s of one
/// push context, in order) and the outbound policy.
fn default_content_key(services: &[Arc<Service>], allow_any: bool) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    "default".hash(&mut h);
    for s in services {
        (Arc::as_ptr(s) as usize).hash(&mut h);
    }
    allow_any.hash(&mut h);
    h.finish()
}

impl SidecarScope {
    /// The scope of a namespace without a `Sidecar` object: every visible service.
    pub fn default_for_namespace(push: &PushContext, namespace: &str) -> SidecarScope {
        let services = by_service_age(push.services_visible_from(namespace));
        let allow_any_outbound = mesh_allows_any(push);
        SidecarScope {
            namespace: namespace.to_owned(),
            config: None,
            content_key: default_content_key(&services, allow_any_outbound),
            services: services.clone(),
            key: format!("default/{namespace}"),
            egress_listeners: vec![EgressListener {
                istio_listener: None,
                services,
            }],
            ingress_listeners: Vec::new(),
            allow_any_outbound,
        }
    }

    /// The scope a `Sidecar` object gives proxies of `namespace` (upstream
    /// `ConvertToSidecarScope`); `config` must hold a Sidecar spec, else the default scope.
    pub fn from_sidecar(push: &PushContext, config: Arc<Config>, namespace: &str) -> SidecarScope {
        let Spec::Sidecar(sidecar) = &config.spec else {
            return SidecarScope::default_for_namespace(push, namespace);
        };
        let visible = by_service_age(push.services_visible_from(namespace));
        let egress_listeners: Vec<EgressListener> = sidecar
            .egress
            .iter()
            .map(|e| EgressListener {
                istio_listener: Some(e.clone()),
                services: select_services(&imported_hosts(e, namespace), &visible, namespace),
            })
            .collect();
        let mut seen = HashSet::new();
        let mut services = Vec::new();
        for l in &egress_listeners {
            for s in &l.services {
                if seen.insert(s.hostname.clone()) {
                    services.push(s.clone());
                }
            }
        }
        let allow_any_outbound = match &sidecar.outbound_traffic_policy {
            Some(p) => p.mode == SidecarMode::AllowAny as i32,
            None => mesh_allows_any(push),
        };
        let key = sidecar_key(&config, namespace);
        SidecarScope {
            namespace: namespace.to_owned(),
            content_key: {
                use std::hash::{Hash, Hasher};
                let mut h = std::collections::hash_map::DefaultHasher::new();
                key.hash(&mut h);
                h.finish()
            },
            key,
            services,
            egress_listeners,
            ingress_listeners: sidecar.ingress.clone(),
            allow_any_outbound,
            config: Some(config),
        }
    }

    /// Whether the Sidecar defines ingress listeners (upstream `HasCustomIngressListeners`).
    pub fn has_custom_ingress_listeners(&self) -> bool {
        !self.ingress_listeners.is_empty()
    }

    /// `name.namespace` of the Sidecar object, the hostname of inbound clusters of ingress
    /// listeners that match no service instance.
    pub fn sidecar_id(&self) -> Option<String> {
        self.config
            .as_ref()
            .map(|c| format!("{}.{}", c.meta.name, c.meta.namespace))
    }

    /// The egress listener serving RDS route `route_name` on `port` (upstream
    /// `GetEgressListenerForRDS`).
    pub fn egress_listener_for_rds(&self, port: u32, route_name: &str) -> Option<&EgressListener> {
        for e in &self.egress_listeners {
            let Some(listener) = &e.istio_listener else {
                return Some(e);
            };
            let Some(p) = &listener.port else {
                return Some(e);
            };
            if p.number == port {
                if port == 0 {
                    if listener.bind == route_name {
                        return Some(e);
                    }
                    continue;
                }
                return Some(e);
            }
        }
        None
    }

    /// The service with `hostname` among the scope's services.
    pub fn service_for_hostname(&self, hostname: &str) -> Option<&Arc<Service>> {
        self.services.iter().find(|s| s.hostname == hostname)
    }

    /// The scope from the `Sidecar` object selecting `proxy`, if any (see the module docs).
    /// Scopes are built once per push context and shared.
    pub fn for_proxy(push: &PushContext, proxy: &Proxy) -> Option<Arc<SidecarScope>> {
        let (config, namespace) = select_sidecar(push, proxy)?;
        let key = sidecar_key(&config, &namespace);
        Some(push.cached_sidecar_scope(&key, || {
            SidecarScope::from_sidecar(push, config.clone(), &namespace)
        }))
    }
}

/// Oldest services first, hostname order among equals (upstream sorts services by creation
/// time, which decides port conflicts: the oldest service keeps the port).
fn by_service_age(mut services: Vec<Arc<Service>>) -> Vec<Arc<Service>> {
    services.sort_by_key(|s| s.creation_time);
    services
}

fn sidecar_key(config: &Config, namespace: &str) -> String {
    format!(
        "sidecar/{}/{}@{}/{}",
        config.meta.namespace, config.meta.name, config.meta.resource_version, namespace
    )
}

fn mesh_allows_any(push: &PushContext) -> bool {
    push.mesh
        .outbound_traffic_policy
        .as_ref()
        .is_some_and(|p| p.mode == MeshMode::AllowAny as i32)
}

fn sidecar_spec(c: &Config) -> Option<&Sidecar> {
    match &c.spec {
        Spec::Sidecar(s) => Some(s),
        _ => None,
    }
}

/// The Sidecar object that applies to `proxy`, and the namespace it is applied in.
fn select_sidecar(push: &PushContext, proxy: &Proxy) -> Option<(Arc<Config>, String)> {
    let all = push.configs(Kind::Sidecar);
    if all.is_empty() {
        return None;
    }
    let ns = proxy.config_namespace.as_str();
    let mut default = None;
    let mut any_in_ns = false;
    for c in by_creation_time(all.iter().filter(|c| c.meta.namespace == ns)) {
        let Some(spec) = sidecar_spec(c) else {
            continue;
        };
        any_in_ns = true;
        match &spec.workload_selector {
            Some(sel) => {
                let selector = labels::Instance(sel.labels.clone());
                if proxy.workload_labels.is_superset_of(&selector) {
                    return Some((c.clone(), ns.to_owned()));
                }
            }
            None => {
                if default.is_none() {
                    default = Some(c.clone());
                }
            }
        }
    }
    if let Some(c) = default {
        return Some((c, ns.to_owned()));
    }
    if any_in_ns {
        return None;
    }
    let root = push.mesh.root_namespace.as_str();
    if root.is_empty() {
        return None;
    }
    by_creation_time(all.iter().filter(|c| c.meta.namespace == root))
        .into_iter()
        .find(|c| sidecar_spec(c).is_some_and(|s| s.workload_selector.is_none()))
        .map(|c| (c.clone(), ns.to_owned()))
}

/// Oldest first; equal (or missing) creation times are ordered by `name.namespace`, as
/// upstream's `sortConfigByCreationTime`. RFC 3339 UTC timestamps sort as strings.
fn by_creation_time<'a>(configs: impl Iterator<Item = &'a Arc<Config>>) -> Vec<&'a Arc<Config>> {
    let mut v: Vec<&Arc<Config>> = configs.collect();
    v.sort_by(|a, b| {
        a.meta
            .creation_timestamp
            .cmp(&b.meta.creation_timestamp)
            .then_with(|| {
                format!("{}.{}", a.meta.name, a.meta.namespace)
                    .cmp(&format!("{}.{}", b.meta.name, b.meta.namespace))
            })
    });
    v
}

/// `namespace -> hosts` imported by an egress listener; `.` means the Sidecar's namespace.
fn imported_hosts(e: &IstioEgressListener, namespace: &str) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for h in &e.hosts {
        // Validation requires `namespace/host`; anything else imports nothing.
        let Some((ns, hostname)) = h.split_once('/') else {
            continue;
        };
        let ns = if ns == "." { namespace } else { ns };
        out.entry(ns.to_owned())
            .or_default()
            .push(hostname.to_owned());
    }
    out
}

/// Services matching the imports (upstream `selectServices`): by the service's namespace
/// first, then by `*`. When several services share a hostname, the one in `namespace` wins,
/// else the first.
fn select_services(
    imports: &BTreeMap<String, Vec<String>>,
    visible: &[Arc<Service>],
    namespace: &str,
) -> Vec<Arc<Service>> {
    let matches_any = |hosts: Option<&Vec<String>>, s: &Service| {
        hosts.is_some_and(|hs| hs.iter().any(|h| host::matches(h, &s.hostname)))
    };
    let imported: Vec<&Arc<Service>> = visible
        .iter()
        .filter(|s| {
            matches_any(imports.get(&s.attributes.namespace), s) || matches_any(imports.get("*"), s)
        })
        .collect();
    let mut owner: BTreeMap<&str, &str> = BTreeMap::new();
    for s in &imported {
        let ns = s.attributes.namespace.as_str();
        match owner.get(s.hostname.as_str()) {
            Some(_) if ns != namespace => {}
            _ => {
                owner.insert(&s.hostname, ns);
            }
        }
    }
    imported
        .into_iter()
        .filter(|s| owner.get(s.hostname.as_str()) == Some(&s.attributes.namespace.as_str()))
        .cloned()
        .collect()
}
