//! An in-memory config store that tells registered handlers about every change (upstream
//! `pilot/pkg/config/memory`: `store` plus `controller`).
//!
//! Used directly by tests and the local mesh, and as the index behind the file store
//! (`--configDir`) and the Kubernetes CRD store.
//!
//! Writes through the [`ConfigStore`] API validate the spec with its kind's rules and assign a
//! new resource version (a counter, where upstream uses the wall clock). Handlers run after the
//! change is visible to readers, in the order the changes were made, on the thread that made
//! the change; a handler may write to the store again (the nested change is delivered after the
//! current handler returns).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use istio_pkg::config::model::Config;
use istio_pkg::config::schema::Kind;

use crate::model::{ConfigHandler, ConfigStore, ConfigStoreCache, Event, StoreError};

/// (namespace, name): the store order (namespace, then name).
type Key = (String, String);

/// One change waiting for its handlers.
struct Pending {
    prev: Option<Arc<Config>>,
    config: Arc<Config>,
    event: Event,
}

#[derive(Default)]
struct Dispatch {
    queue: VecDeque<Pending>,
    /// True while some thread is calling handlers; it also delivers what others queue.
    running: bool,
}

/// An in-memory [`ConfigStoreCache`] for a fixed set of kinds.
pub struct MemoryStore {
    kinds: Vec<Kind>,
    data: RwLock<HashMap<Kind, BTreeMap<Key, Arc<Config>>>>,
    handlers: RwLock<HashMap<Kind, Vec<ConfigHandler>>>,
    dispatch: Mutex<Dispatch>,
    revision: AtomicU64,
    synced: AtomicBool,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("kinds", &self.kinds)
            .finish_non_exhaustive()
    }
}

/// What [`MemoryStore::apply`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Added,
    Updated,
    /// The stored object already had this content (ignoring the resource version).
    Unchanged,
}

impl MemoryStore {
    /// A store holding `kinds`; it reports itself synced from the start.
    pub fn new(kinds: impl IntoIterator<Item = Kind>) -> MemoryStore {
        let mut kinds: Vec<Kind> = kinds.into_iter().collect();
        kinds.sort();
        kinds.dedup();
        let data = kinds.iter().map(|k| (*k, BTreeMap::new())).collect();
        MemoryStore {
            kinds,
            data: RwLock::new(data),
            handlers: RwLock::new(HashMap::new()),
            dispatch: Mutex::new(Dispatch::default()),
            revision: AtomicU64::new(0),
            synced: AtomicBool::new(true),
        }
    }

    /// A store holding every kind pilot reads (upstream `schemas.Istio`).
    pub fn istio() -> MemoryStore {
        MemoryStore::new(istio_kinds())
    }

    /// Marks the store as (not) synced; stores fed from a source set this.
    pub(crate) fn set_synced(&self, synced: bool) {
        self.synced.store(synced, Ordering::Release);
    }

    fn next_revision(&self) -> String {
        (self.revision.fetch_add(1, Ordering::Relaxed) + 1).to_string()
    }

    fn check_kind(&self, kind: Kind) -> Result<(), StoreError> {
        if self.kinds.contains(&kind) {
            Ok(())
        } else {
            Err(StoreError::UnknownKind { kind })
        }
    }

    fn validate(config: &Config) -> Result<(), StoreError> {
        config.validate().map_err(|e| StoreError::Invalid {
            kind: config.meta.kind,
            key: config.meta.key(),
            message: e.to_string(),
        })
    }

    /// Inserts or replaces an object exactly as given (resource version included), without
    /// validation, and notifies handlers if anything changed. For stores that mirror a source
    /// which already decided the object is acceptable (files, the API server).
    pub(crate) fn apply(&self, config: Config) -> Result<Applied, StoreError> {
        let kind = config.meta.kind;
        self.check_kind(kind)?;
        let key = (config.meta.namespace.clone(), config.meta.name.clone());
        let config = Arc::new(config);
        let mut data = self.data.write().unwrap_or_else(|e| e.into_inner());
        let objects = data.entry(kind).or_default();
        let prev = objects.get(&key).cloned();
        let applied = match &prev {
            Some(p) if p.as_ref() == config.as_ref() => return Ok(Applied::Unchanged),
            Some(p) if same_content(p, &config) => {
                // Only the resource version moved: store it, nobody needs to know.
                objects.insert(key, config);
                return Ok(Applied::Unchanged);
            }
            Some(_) => Applied::Updated,
            None => Applied::Added,
        };
        objects.insert(key, config.clone());
        let event = if prev.is_some() {
            Event::Update
        } else {
            Event::Add
        };
        self.enqueue(Pending {
            prev,
            config,
            event,
        });
        drop(data);
        self.run_handlers();
        Ok(applied)
    }

    /// Removes an object if present and notifies handlers; returns whether it was there.
    pub(crate) fn remove(&self, kind: Kind, name: &str, namespace: &str) -> bool {
        let mut data = self.data.write().unwrap_or_else(|e| e.into_inner());
        let Some(objects) = data.get_mut(&kind) else {
            return false;
        };
        let Some(old) = objects.remove(&(namespace.to_string(), name.to_string())) else {
            return false;
        };
        self.enqueue(Pending {
            prev: None,
            config: old,
            event: Event::Delete,
        });
        drop(data);
        self.run_handlers();
        true
    }

    /// Keys of every object of `kind`.
    pub(crate) fn keys(&self, kind: Kind) -> Vec<(String, String)> {
        let data = self.data.read().unwrap_or_else(|e| e.into_inner());
        data.get(&kind)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Queues a change; called with the data lock held so the queue order is the change order.
    fn enqueue(&self, pending: Pending) {
        self.dispatch
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .queue
            .push_back(pending);
    }

    /// Delivers queued changes unless another call (on this or another thread) already does.
    fn run_handlers(&self) {
        {
            let mut d = self.dispatch.lock().unwrap_or_else(|e| e.into_inner());
            if d.running {
                return;
            }
            d.running = true;
        }
        // If a handler panics, clear `running` so later changes are still delivered.
        struct Reset<'a>(&'a Mutex<Dispatch>);
        impl Drop for Reset<'_> {
            fn drop(&mut self) {
                if std::thread::panicking() {
                    self.0.lock().unwrap_or_else(|e| e.into_inner()).running = false;
                }
            }
        }
        let _reset = Reset(&self.dispatch);
        loop {
            // Pop and, when empty, clear `running` under one lock: a writer that queues
            // later finds `running` cleared and delivers its change itself.
            let p = {
                let mut d = self.dispatch.lock().unwrap_or_else(|e| e.into_inner());
                match d.queue.pop_front() {
                    Some(p) => p,
                    None => {
                        d.running = false;
                        return;
                    }
                }
            };
            let handlers: Vec<ConfigHandler> = self
                .handlers
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .get(&p.config.meta.kind)
                .cloned()
                .unwrap_or_default();
            for h in handlers {
                h(p.prev.as_deref(), &p.config, p.event);
            }
        }
    }
}

/// Equal except for the resource version.
fn same_content(a: &Config, b: &Config) -> bool {
    a.spec == b.spec
        && a.meta.labels == b.meta.labels
        && a.meta.annotations == b.meta.annotations
        && a.meta.domain == b.meta.domain
        && a.meta.creation_timestamp == b.meta.creation_timestamp
}

/// The kinds pilot reads from config stores (upstream `schemas.Istio`).
pub fn istio_kinds() -> Vec<Kind> {
    istio_pkg::config::schema::all()
        .iter()
        .filter(|s| s.family == istio_pkg::config::schema::Family::Istio && s.crd)
        .map(|s| s.kind)
        .collect()
}

impl ConfigStore for MemoryStore {
    fn kinds(&self) -> Vec<Kind> {
        self.kinds.clone()
    }

    fn get(&self, kind: Kind, name: &str, namespace: &str) -> Option<Arc<Config>> {
        let data = self.data.read().unwrap_or_else(|e| e.into_inner());
        data.get(&kind)?
            .get(&(namespace.to_string(), name.to_string()))
            .cloned()
    }

    fn list(&self, kind: Kind, namespace: Option<&str>) -> Result<Vec<Arc<Config>>, StoreError> {
        self.check_kind(kind)?;
        let data = self.data.read().unwrap_or_else(|e| e.into_inner());
        let Some(objects) = data.get(&kind) else {
            return Ok(Vec::new());
        };
        Ok(match namespace {
            None => objects.values().cloned().collect(),
            Some(ns) => objects
                .range((ns.to_string(), String::new())..)
                .take_while(|((n, _), _)| n == ns)
                .map(|(_, c)| c.clone())
                .collect(),
        })
    }

    fn create(&self, mut config: Config) -> Result<String, StoreError> {
        let kind = config.meta.kind;
        self.check_kind(kind)?;
        Self::validate(&config)?;
        let key = (config.meta.namespace.clone(), config.meta.name.clone());
        let mut data = self.data.write().unwrap_or_else(|e| e.into_inner());
        let objects = data.entry(kind).or_default();
        if objects.contains_key(&key) {
            return Err(StoreError::AlreadyExists {
                kind,
                key: config.meta.key(),
            });
        }
        let rev = self.next_revision();
        config.meta.resource_version = rev.clone();
        if config.meta.creation_timestamp.is_none() {
            config.meta.creation_timestamp = Some(istio_pkg::log::rfc3339_utc(SystemTime::now()));
        }
        let config = Arc::new(config);
        objects.insert(key, config.clone());
        self.enqueue(Pending {
            prev: None,
            config,
            event: Event::Add,
        });
        drop(data);
        self.run_handlers();
        Ok(rev)
    }

    fn update(&self, mut config: Config) -> Result<String, StoreError> {
        let kind = config.meta.kind;
        self.check_kind(kind)?;
        Self::validate(&config)?;
        let key = (config.meta.namespace.clone(), config.meta.name.clone());
        let mut data = self.data.write().unwrap_or_else(|e| e.into_inner());
        let objects = data.entry(kind).or_default();
        let Some(prev) = objects.get(&key).cloned() else {
            return Err(StoreError::NotFound {
                kind,
                key: config.meta.key(),
            });
        };
        if !config.meta.resource_version.is_empty()
            && config.meta.resource_version != prev.meta.resource_version
        {
            return Err(StoreError::Conflict {
                kind,
                key: config.meta.key(),
                got: config.meta.resource_version,
                current: prev.meta.resource_version.clone(),
            });
        }
        let rev = self.next_revision();
        config.meta.resource_version = rev.clone();
        if config.meta.creation_timestamp.is_none() {
            config.meta.creation_timestamp = prev.meta.creation_timestamp.clone();
        }
        let config = Arc::new(config);
        objects.insert(key, config.clone());
        self.enqueue(Pending {
            prev: Some(prev),
            config,
            event: Event::Update,
        });
        drop(data);
        self.run_handlers();
        Ok(rev)
    }

    fn delete(&self, kind: Kind, name: &str, namespace: &str) -> Result<(), StoreError> {
        self.check_kind(kind)?;
        if self.remove(kind, name, namespace) {
            Ok(())
        } else {
            let key = if namespace.is_empty() {
                name.to_string()
            } else {
                format!("{namespace}/{name}")
            };
            Err(StoreError::NotFound { kind, key })
        }
    }
}

impl ConfigStoreCache for MemoryStore {
    fn register_event_handler(&self, kind: Kind, handler: ConfigHandler) {
        self.handlers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .entry(kind)
            .or_default()
            .push(handler);
    }

    fn has_synced(&self) -> bool {
        self.synced.load(Ordering::Acquire)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use istio_api::istio::networking::v1alpha3 as networking;
    use istio_pkg::config::model::{ConfigMeta, Spec};

    pub(crate) fn gateway(name: &str, ns: &str, host: &str) -> Config {
        Config {
            meta: ConfigMeta::new(Kind::Gateway, name, ns),
            spec: Spec::Gateway(networking::Gateway {
                servers: vec![networking::Server {
                    port: Some(networking::Port {
                        number: 80,
                        protocol: "HTTP".into(),
                        name: "http".into(),
                    }),
                    hosts: vec![host.into()],
                    ..Default::default()
                }],
                ..Default::default()
            }),
        }
    }

    type Seen = Arc<Mutex<Vec<(Event, String, Option<String>)>>>;

    fn record(store: &MemoryStore, kind: Kind) -> Seen {
        let seen: Seen = Arc::default();
        let s = seen.clone();
        store.register_event_handler(
            kind,
            Arc::new(move |prev, cfg, ev| {
                s.lock().unwrap().push((
                    ev,
                    cfg.meta.key(),
                    prev.map(|p| p.meta.resource_version.clone()),
                ))
            }),
        );
        seen
    }

    #[test]
    fn crud_with_versions_and_events() {
        let store = MemoryStore::new([Kind::Gateway, Kind::VirtualService]);
        let seen = record(&store, Kind::Gateway);
        let rv1 = store.create(gateway("a", "ns1", "a.com")).unwrap();
        assert_eq!(
            store.create(gateway("a", "ns1", "a.com")),
            Err(StoreError::AlreadyExists {
                kind: Kind::Gateway,
                key: "ns1/a".into()
            })
        );
        store.create(gateway("b", "ns2", "b.com")).unwrap();
        store.create(gateway("c", "ns1", "c.com")).unwrap();
        let got = store.get(Kind::Gateway, "a", "ns1").unwrap();
        assert_eq!(got.meta.resource_version, rv1);
        assert!(got.meta.creation_timestamp.is_some());
        let names = |v: Vec<Arc<Config>>| v.iter().map(|c| c.meta.key()).collect::<Vec<_>>();
        assert_eq!(
            names(store.list(Kind::Gateway, None).unwrap()),
            ["ns1/a", "ns1/c", "ns2/b"]
        );
        assert_eq!(
            names(store.list(Kind::Gateway, Some("ns1")).unwrap()),
            ["ns1/a", "ns1/c"]
        );
        assert!(store.list(Kind::Gateway, Some("ns")).unwrap().is_empty());

        // A stale version is rejected; an empty one is unconditional.
        let mut upd = gateway("a", "ns1", "x.com");
        upd.meta.resource_version = "stale".into();
        assert!(matches!(
            store.update(upd.clone()),
            Err(StoreError::Conflict { .. })
        ));
        upd.meta.resource_version = rv1.clone();
        let rv2 = store.update(upd).unwrap();
        assert_ne!(rv1, rv2);
        let rv3 = store.update(gateway("a", "ns1", "y.com")).unwrap();
        assert_ne!(rv2, rv3);
        assert!(matches!(
            store.update(gateway("zz", "ns1", "y.com")),
            Err(StoreError::NotFound { .. })
        ));

        store.delete(Kind::Gateway, "a", "ns1").unwrap();
        assert!(store.get(Kind::Gateway, "a", "ns1").is_none());
        assert_eq!(
            store.delete(Kind::Gateway, "a", "ns1"),
            Err(StoreError::NotFound {
                kind: Kind::Gateway,
                key: "ns1/a".into()
            })
        );
        assert_eq!(
            store.list(Kind::Sidecar, None),
            Err(StoreError::UnknownKind {
                kind: Kind::Sidecar
            })
        );
        let seen = seen.lock().unwrap().clone();
        assert_eq!(
            seen,
            vec![
                (Event::Add, "ns1/a".to_string(), None),
                (Event::Add, "ns2/b".to_string(), None),
                (Event::Add, "ns1/c".to_string(), None),
                (Event::Update, "ns1/a".to_string(), Some(rv1)),
                (Event::Update, "ns1/a".to_string(), Some(rv2)),
                (Event::Delete, "ns1/a".to_string(), None),
            ]
        );
    }

    #[test]
    fn invalid_config_is_rejected_with_kind_key_and_reason() {
        let store = MemoryStore::istio();
        let err = store.create(gateway("bad", "ns", "")).unwrap_err();
        let StoreError::Invalid { kind, key, message } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(*kind, Kind::Gateway);
        assert_eq!(key, "ns/bad");
        assert!(!message.is_empty());
        assert!(err.to_string().contains("ns/bad"), "{err}");
        assert!(store.get(Kind::Gateway, "bad", "ns").is_none());
    }

    #[test]
    fn handlers_may_write_back() {
        let store = Arc::new(MemoryStore::new([Kind::Gateway]));
        let seen = record(&store, Kind::Gateway);
        let weak = Arc::downgrade(&store);
        store.register_event_handler(
            Kind::Gateway,
            Arc::new(move |_, cfg, ev| {
                if ev == Event::Add && cfg.meta.name == "a" {
                    if let Some(s) = weak.upgrade() {
                        s.create(gateway("b", "ns", "b.com")).unwrap();
                    }
                }
            }),
        );
        store.create(gateway("a", "ns", "a.com")).unwrap();
        let keys: Vec<String> = seen.lock().unwrap().iter().map(|s| s.1.clone()).collect();
        assert_eq!(keys, ["ns/a", "ns/b"]);
    }

    #[test]
    fn apply_reports_changes_only() {
        let store = MemoryStore::new([Kind::Gateway]);
        let seen = record(&store, Kind::Gateway);
        let mut g = gateway("a", "ns", "a.com");
        assert_eq!(store.apply(g.clone()), Ok(Applied::Added));
        g.meta.resource_version = "7".into();
        assert_eq!(store.apply(g.clone()), Ok(Applied::Unchanged));
        assert_eq!(
            store
                .get(Kind::Gateway, "a", "ns")
                .unwrap()
                .meta
                .resource_version,
            "7"
        );
        assert_eq!(
            store.apply(gateway("a", "ns", "b.com")),
            Ok(Applied::Updated)
        );
        assert!(store.remove(Kind::Gateway, "a", "ns"));
        assert!(!store.remove(Kind::Gateway, "a", "ns"));
        let events: Vec<Event> = seen.lock().unwrap().iter().map(|s| s.0).collect();
        assert_eq!(events, [Event::Add, Event::Update, Event::Delete]);
    }
}
