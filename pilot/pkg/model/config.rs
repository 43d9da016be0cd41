//! Config stores: where Istio config objects come from (upstream `pilot/pkg/model/config.go`).
//!
//! A store keeps an in-memory view of the config objects of some kinds. Files
//! (`--configDir`), Kubernetes CRD watchers and MCP all implement [`ConfigStore`]; a
//! [`ConfigStoreCache`] also tells registered handlers about every change. Reads never touch
//! the network.

use std::sync::Arc;

use istio_pkg::config::model::Config;
use istio_pkg::config::schema::Kind;

/// What happened to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    Add,
    Update,
    Delete,
}

impl Event {
    pub fn as_str(self) -> &'static str {
        match self {
            Event::Add => "add",
            Event::Update => "update",
            Event::Delete => "delete",
        }
    }
}

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("{kind:?} is not a kind this store holds")]
    UnknownKind { kind: Kind },
    #[error("{kind:?} {key} already exists")]
    AlreadyExists { kind: Kind, key: String },
    #[error("{kind:?} {key} not found")]
    NotFound { kind: Kind, key: String },
    #[error("{kind:?} {key}: resource version {got:?} is stale (current {current:?})")]
    Conflict {
        kind: Kind,
        key: String,
        got: String,
        current: String,
    },
    #[error("{kind:?} {key}: {message}")]
    Invalid {
        kind: Kind,
        key: String,
        message: String,
    },
    #[error("{kind:?} {key}: this store is read-only")]
    ReadOnly { kind: Kind, key: String },
    #[error("{0}")]
    Backend(String),
}

/// A store of config objects of some kinds.
pub trait ConfigStore: Send + Sync {
    /// The kinds this store holds.
    fn kinds(&self) -> Vec<Kind>;

    /// One object; `namespace` is empty for cluster-scoped kinds.
    fn get(&self, kind: Kind, name: &str, namespace: &str) -> Option<Arc<Config>>;

    /// Objects of `kind` in `namespace`, or in all namespaces when `namespace` is `None`,
    /// sorted by namespace then name.
    fn list(&self, kind: Kind, namespace: Option<&str>) -> Result<Vec<Arc<Config>>, StoreError>;

    /// Adds a new object; returns its resource version.
    fn create(&self, config: Config) -> Result<String, StoreError>;

    /// Replaces an object; a non-empty `resource_version` must match the stored one.
    fn update(&self, config: Config) -> Result<String, StoreError>;

    fn delete(&self, kind: Kind, name: &str, namespace: &str) -> Result<(), StoreError>;
}

/// Called with (previous object if any, object, event) after a change has been applied.
pub type ConfigHandler = Arc<dyn Fn(Option<&Config>, &Config, Event) + Send + Sync>;

/// A store that notifies handlers of changes (upstream `ConfigStoreCache`).
pub trait ConfigStoreCache: ConfigStore {
    /// Calls `handler` after every change to objects of `kind`.
    fn register_event_handler(&self, kind: Kind, handler: ConfigHandler);

    /// Whether the initial state has been loaded (all watches listed once).
    fn has_synced(&self) -> bool;
}

/// The hostname an `IstioService` reference names (upstream `ResolveHostname`): `service` if
/// set, else `name` qualified by its (or the referring config's) namespace and domain.
pub fn resolve_hostname(
    meta: &istio_pkg::config::model::ConfigMeta,
    svc: &istio_api::istio::mixer::v1::config::client::IstioService,
) -> String {
    if !svc.service.is_empty() {
        return svc.service.clone();
    }
    let mut out = svc.name.clone();
    if !svc.namespace.is_empty() {
        out = format!("{out}.{}", svc.namespace);
    } else if !meta.namespace.is_empty() {
        out = format!("{out}.{}", meta.namespace);
    }
    if !svc.domain.is_empty() {
        out = format!("{out}.{}", svc.domain);
    } else if !meta.domain.is_empty() {
        out = format!("{out}.svc.{}", meta.domain);
    }
    out
}

/// Wildcard service references of Mixer client bindings: `*` matches every host, `*.<ns>.*`
/// every host containing `.<ns>.`; nothing else is a pattern (upstream
/// `matchWildcardService`).
fn match_wildcard_service(destination_host: &str, svc: &str) -> bool {
    if svc.is_empty() || !svc.contains('*') {
        return false;
    }
    if svc == "*" {
        return true;
    }
    if svc.len() >= 2 && svc.starts_with('*') && svc.ends_with('*') {
        return destination_host.contains(&svc[1..svc.len() - 1]);
    }
    tracing::warn!("wildcard pattern '{svc}' is not allowed; only '*' or '*.<ns>.*' is");
    false
}

/// Whether a binding's service reference selects `destination_host` (upstream
/// `MatchesDestHost`).
pub fn matches_dest_host(
    destination_host: &str,
    meta: &istio_pkg::config::model::ConfigMeta,
    svc: &istio_api::istio::mixer::v1::config::client::IstioService,
) -> bool {
    if match_wildcard_service(destination_host, &svc.service) {
        return true;
    }
    let hostname = resolve_hostname(meta, svc);
    if destination_host == hostname {
        return true;
    }
    if let Some((short, _)) = hostname.split_once('.') {
        if destination_host.starts_with(short) {
            tracing::warn!(
                "quota excluded: service {destination_host} matches binding short name {short} \
                 but not its FQDN {hostname}"
            );
        }
    }
    false
}

/// The QuotaSpecs bound to the service `hostname` by QuotaSpecBindings (upstream
/// `QuotaSpecByDestination` followed by `SortQuotaSpec`): each binding with a service
/// reference matching the host contributes its spec references (namespace defaulting to the
/// binding's); the referenced specs that exist are returned in key order.
pub fn quota_specs_for_destination(
    bindings: &[Arc<Config>],
    specs: &[Arc<Config>],
    hostname: &str,
) -> Vec<Arc<Config>> {
    use istio_pkg::config::model::Spec;
    let mut refs = std::collections::BTreeSet::new();
    for binding in bindings {
        let Spec::QuotaSpecBinding(b) = &binding.spec else {
            continue;
        };
        if b.services
            .iter()
            .any(|s| matches_dest_host(hostname, &binding.meta, s))
        {
            for r in &b.quota_specs {
                let ns = if r.namespace.is_empty() {
                    binding.meta.namespace.as_str()
                } else {
                    r.namespace.as_str()
                };
                refs.insert((r.name.clone(), ns.to_owned()));
            }
        }
    }
    let mut out: Vec<Arc<Config>> = Vec::new();
    for spec in specs {
        if !matches!(spec.spec, Spec::QuotaSpec(_)) {
            continue;
        }
        if refs.remove(&(spec.meta.name.clone(), spec.meta.namespace.clone())) {
            out.push(spec.clone());
        }
    }
    if !refs.is_empty() {
        tracing::warn!("some matched QuotaSpecs were not found: {refs:?}");
    }
    out.sort_by_key(|c| c.meta.key());
    out
}
