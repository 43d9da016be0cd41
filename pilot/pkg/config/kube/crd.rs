//! A config store backed by the Istio CRDs on the Kubernetes API server (upstream
//! `pilot/pkg/config/kube/crd/controller`).
//!
//! One kube-rs watcher per kind feeds an in-memory index ([`MemoryStore`]); reads never touch
//! the network. Each object is decoded and validated when it arrives: an object that fails is
//! logged with its kind, `namespace/name` and the field at fault, and skipped, and the last good
//! version of it (if any) stays. (Upstream keeps the raw object and drops it from every list
//! when it cannot convert it; validation there is the galley webhook's job.) Writes go to the
//! API server; the watch brings the result back into the index.

use std::collections::HashSet;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use futures::StreamExt;
use istio_pkg::config::model::Config;
use istio_pkg::config::schema::{Kind, Schema};
use istio_pkg::kube::crd::{api, from_dynamic, to_dynamic};
use kube::api::{DeleteParams, DynamicObject, PostParams};
use kube::runtime::watcher::{self, Event as WatchEvent};
use kube::runtime::WatchStreamExt;
use tokio_util::sync::CancellationToken;

use crate::config::memory::{istio_kinds, MemoryStore};
use crate::model::{ConfigHandler, ConfigStore, ConfigStoreCache, StoreError};

/// Options of the CRD store.
#[derive(Debug, Clone)]
pub struct CrdOptions {
    /// DNS domain suffix recorded in each config (`--domain`).
    pub domain_suffix: String,
    /// Only watch this namespace (`-a`/`--appNamespace`); `None` or empty: all namespaces.
    /// Cluster-scoped kinds are always watched cluster-wide.
    pub watched_namespace: Option<String>,
    /// The kinds to watch (default: every Istio kind pilot reads).
    pub kinds: Vec<Kind>,
}

impl Default for CrdOptions {
    fn default() -> Self {
        CrdOptions {
            domain_suffix: "cluster.local".into(),
            watched_namespace: None,
            kinds: istio_kinds(),
        }
    }
}

/// A [`ConfigStoreCache`] over the Istio CRDs.
pub struct CrdStore {
    client: kube::Client,
    opts: CrdOptions,
    index: MemoryStore,
    /// Kinds whose initial list has completed.
    synced_kinds: AtomicUsize,
    runtime: Option<tokio::runtime::Handle>,
}

impl std::fmt::Debug for CrdStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CrdStore")
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

impl CrdStore {
    pub fn new(client: kube::Client, mut opts: CrdOptions) -> CrdStore {
        if opts.watched_namespace.as_deref() == Some("") {
            opts.watched_namespace = None;
        }
        let index = MemoryStore::new(opts.kinds.iter().copied());
        index.set_synced(opts.kinds.is_empty());
        CrdStore {
            client,
            index,
            opts,
            synced_kinds: AtomicUsize::new(0),
            runtime: tokio::runtime::Handle::try_current().ok(),
        }
    }

    /// Watches every kind until `shutdown`.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let tasks = self.opts.kinds.clone().into_iter().map(|kind| {
            let this = self.clone();
            let shutdown = shutdown.clone();
            async move { this.watch_kind(kind.schema(), shutdown).await }
        });
        futures::future::join_all(tasks).await;
    }

    fn api(&self, schema: &Schema, namespace: Option<&str>) -> kube::Api<DynamicObject> {
        api(self.client.clone(), schema, namespace)
    }

    async fn watch_kind(&self, schema: &'static Schema, shutdown: CancellationToken) {
        let api = self.api(schema, self.opts.watched_namespace.as_deref());
        let stream = watcher::watcher(api, watcher::Config::default()).default_backoff();
        futures::pin_mut!(stream);
        let mut listed: Option<HashSet<(String, String)>> = None;
        let mut synced = false;
        loop {
            let ev = tokio::select! {
                _ = shutdown.cancelled() => return,
                ev = stream.next() => ev,
            };
            match ev {
                None => return,
                Some(Err(e)) => {
                    tracing::warn!(kind = %schema.kind, "watching {}: {e}", schema.resource);
                }
                Some(Ok(WatchEvent::Init)) => listed = Some(HashSet::new()),
                Some(Ok(WatchEvent::InitApply(obj))) => {
                    if let Some(l) = listed.as_mut() {
                        l.insert(object_key(schema, &obj));
                    }
                    self.upsert(schema, &obj);
                }
                Some(Ok(WatchEvent::InitDone)) => {
                    // Objects that were not listed again were deleted while we were away.
                    let listed = listed.take().unwrap_or_default();
                    for (ns, name) in self.index.keys(schema.kind) {
                        if !listed.contains(&(ns.clone(), name.clone())) {
                            self.index.remove(schema.kind, &name, &ns);
                        }
                    }
                    if !synced {
                        synced = true;
                        let n = self.synced_kinds.fetch_add(1, Ordering::AcqRel) + 1;
                        if n >= self.opts.kinds.len() {
                            self.index.set_synced(true);
                        }
                    }
                }
                Some(Ok(WatchEvent::Apply(obj))) => self.upsert(schema, &obj),
                Some(Ok(WatchEvent::Delete(obj))) => {
                    let (ns, name) = object_key(schema, &obj);
                    self.index.remove(schema.kind, &name, &ns);
                }
            }
        }
    }

    /// Decodes, validates and stores one object; logs and skips it when it is not acceptable.
    fn upsert(&self, schema: &'static Schema, obj: &DynamicObject) {
        match decode(schema, obj, &self.opts.domain_suffix) {
            Ok(cfg) => {
                if let Err(e) = self.index.apply(cfg) {
                    tracing::warn!(kind = %schema.kind, "{e}");
                }
            }
            Err(e) => {
                let (ns, name) = object_key(schema, obj);
                tracing::warn!(
                    kind = %schema.kind,
                    "skipping {} {}/{}: {e}",
                    schema.kube_kind,
                    ns,
                    name
                );
            }
        }
    }

    /// Creates the object on the API server; returns its resource version.
    pub async fn create_async(&self, config: Config) -> Result<String, StoreError> {
        self.check(&config)?;
        let obj = to_dynamic(&config).map_err(|e| StoreError::Backend(e.to_string()))?;
        let ns = write_namespace(&config);
        let created = self
            .api(config.meta.schema(), ns.as_deref())
            .create(&PostParams::default(), &obj)
            .await
            .map_err(|e| map_error(&config, e, false))?;
        Ok(created.metadata.resource_version.unwrap_or_default())
    }

    /// Replaces the object on the API server (conditional on a non-empty resource version).
    pub async fn update_async(&self, config: Config) -> Result<String, StoreError> {
        self.check(&config)?;
        let obj = to_dynamic(&config).map_err(|e| StoreError::Backend(e.to_string()))?;
        let ns = write_namespace(&config);
        let replaced = self
            .api(config.meta.schema(), ns.as_deref())
            .replace(&config.meta.name, &PostParams::default(), &obj)
            .await
            .map_err(|e| map_error(&config, e, true))?;
        Ok(replaced.metadata.resource_version.unwrap_or_default())
    }

    /// Deletes the object on the API server.
    pub async fn delete_async(
        &self,
        kind: Kind,
        name: &str,
        namespace: &str,
    ) -> Result<(), StoreError> {
        let schema = kind.schema();
        if !self.opts.kinds.contains(&kind) {
            return Err(StoreError::UnknownKind { kind });
        }
        let ns = (!schema.cluster_scoped).then(|| {
            if namespace.is_empty() {
                "default".to_string()
            } else {
                namespace.to_string()
            }
        });
        let key = match &ns {
            Some(ns) => format!("{ns}/{name}"),
            None => name.to_string(),
        };
        self.api(schema, ns.as_deref())
            .delete(name, &DeleteParams::default())
            .await
            .map(|_| ())
            .map_err(|e| match e {
                kube::Error::Api(s) if s.code == 404 => StoreError::NotFound { kind, key },
                other => StoreError::Backend(format!("{kind} {key}: {other}")),
            })
    }

    fn check(&self, config: &Config) -> Result<(), StoreError> {
        let kind = config.meta.kind;
        if !self.opts.kinds.contains(&kind) {
            return Err(StoreError::UnknownKind { kind });
        }
        config.validate().map_err(|e| StoreError::Invalid {
            kind,
            key: config.meta.key(),
            message: e.to_string(),
        })
    }

    /// Runs an API call from the synchronous [`ConfigStore`] methods.
    fn block_on<F: Future>(&self, f: F) -> Result<F::Output, StoreError> {
        use tokio::runtime::{Handle, RuntimeFlavor};
        match Handle::try_current() {
            Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => {
                Ok(tokio::task::block_in_place(|| h.block_on(f)))
            }
            Ok(_) => Err(StoreError::Backend(
                "synchronous writes need a multi-threaded runtime: use the async methods".into(),
            )),
            Err(_) => match &self.runtime {
                Some(h) => Ok(h.block_on(f)),
                None => Err(StoreError::Backend(
                    "no Tokio runtime to reach the API server".into(),
                )),
            },
        }
    }
}

/// The namespace a write goes to: none for cluster-scoped kinds, `default` when unset.
fn write_namespace(config: &Config) -> Option<String> {
    if config.meta.schema().cluster_scoped {
        None
    } else if config.meta.namespace.is_empty() {
        Some("default".into())
    } else {
        Some(config.meta.namespace.clone())
    }
}

fn map_error(config: &Config, e: kube::Error, update: bool) -> StoreError {
    let kind = config.meta.kind;
    let key = config.meta.key();
    match e {
        kube::Error::Api(s) if s.code == 404 => StoreError::NotFound { kind, key },
        kube::Error::Api(s) if s.code == 409 && !update => StoreError::AlreadyExists { kind, key },
        kube::Error::Api(s) if s.code == 409 => StoreError::Conflict {
            kind,
            key,
            got: config.meta.resource_version.clone(),
            current: String::new(),
        },
        kube::Error::Api(s) if s.code == 422 => StoreError::Invalid {
            kind,
            key,
            message: s.message,
        },
        other => StoreError::Backend(format!("{kind} {key}: {other}")),
    }
}

/// (namespace, name) as the index keys it.
fn object_key(schema: &Schema, obj: &DynamicObject) -> (String, String) {
    let ns = if schema.cluster_scoped {
        String::new()
    } else {
        obj.metadata.namespace.clone().unwrap_or_default()
    };
    (ns, obj.metadata.name.clone().unwrap_or_default())
}

/// An API object as a validated config.
fn decode(schema: &'static Schema, obj: &DynamicObject, domain: &str) -> Result<Config, String> {
    let cfg = from_dynamic(schema, obj, domain).map_err(|e| e.to_string())?;
    cfg.validate().map_err(|e| e.to_string())?;
    Ok(cfg)
}

impl ConfigStore for CrdStore {
    fn kinds(&self) -> Vec<Kind> {
        self.index.kinds()
    }

    fn get(&self, kind: Kind, name: &str, namespace: &str) -> Option<Arc<Config>> {
        self.index.get(kind, name, namespace)
    }

    fn list(&self, kind: Kind, namespace: Option<&str>) -> Result<Vec<Arc<Config>>, StoreError> {
        self.index.list(kind, namespace)
    }

    fn create(&self, config: Config) -> Result<String, StoreError> {
        self.block_on(self.create_async(config))?
    }

    fn update(&self, config: Config) -> Result<String, StoreError> {
        self.block_on(self.update_async(config))?
    }

    fn delete(&self, kind: Kind, name: &str, namespace: &str) -> Result<(), StoreError> {
        self.block_on(self.delete_async(kind, name, namespace))?
    }
}

impl ConfigStoreCache for CrdStore {
    fn register_event_handler(&self, kind: Kind, handler: ConfigHandler) {
        self.index.register_event_handler(kind, handler);
    }

    fn has_synced(&self) -> bool {
        self.index.has_synced()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dynamic(v: serde_json::Value) -> DynamicObject {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn decode_validates_and_names_the_field() {
        let schema = Kind::VirtualService.schema();
        let ok = dynamic(json!({
            "apiVersion": "networking.istio.io/v1alpha3", "kind": "VirtualService",
            "metadata": {"name": "r", "namespace": "ns", "resourceVersion": "12"},
            "spec": {"hosts": ["reviews"], "http": [{"route": [{"destination": {"host": "reviews"}}]}]}
        }));
        let cfg = decode(schema, &ok, "cluster.local").unwrap();
        assert_eq!(cfg.meta.key(), "ns/r");
        assert_eq!(cfg.meta.resource_version, "12");
        assert_eq!(cfg.meta.domain, "cluster.local");

        let bad_type = dynamic(json!({
            "apiVersion": "networking.istio.io/v1alpha3", "kind": "VirtualService",
            "metadata": {"name": "r", "namespace": "ns"},
            "spec": {"hosts": "reviews"}
        }));
        let err = decode(schema, &bad_type, "cluster.local").unwrap_err();
        assert!(err.contains("spec.hosts"), "{err}");

        let invalid = dynamic(json!({
            "apiVersion": "networking.istio.io/v1alpha3", "kind": "VirtualService",
            "metadata": {"name": "r", "namespace": "ns"},
            "spec": {"hosts": []}
        }));
        assert!(decode(schema, &invalid, "cluster.local").is_err());
        assert_eq!(
            object_key(Kind::ClusterRbacConfig.schema(), &invalid),
            (String::new(), "r".to_string())
        );
    }
}
