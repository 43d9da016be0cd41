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
