//! Generated responses shared across proxies.
//!
//! Within one push context, proxies whose [`ConfigGenerator::scope_key`] for a kind is equal
//! get equal output, so CDS/LDS/RDS are generated and encoded once per (push context, kind,
//! scope key, requested route names, xDS version) and every connection sends the same bytes.
//! EDS assignments depend only on the cluster name, the push context and the endpoint
//! generation of the service, and are cached per cluster name.
//!
//! Both caches hold entries of the current push context only: [`ResponseCache::reset`] drops
//! everything when a new push context is installed.
//!
//! A response is kept for the whole push context only once a second proxy asked for the same
//! key. Until then the cache holds it weakly, so responses that are unique to one proxy (LDS
//! embeds the pod IP, so every sidecar has its own) are freed as soon as they are sent instead
//! of piling up: with 2,000 sidecars of a 1,000-service mesh that is gigabytes.
//!
//! [`ConfigGenerator::scope_key`]: crate::networking::core::ConfigGenerator::scope_key

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::OnceCell;

use super::version::{DowngradeError, XdsVersion};
use super::wire::EncodedResource;
use crate::networking::core::ResourceKind;

/// Resources of one response, shared by every connection sending it.
pub type Resources = Arc<[EncodedResource]>;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    pub kind: ResourceKind,
    pub scope: u64,
    /// Hash of the requested names (RDS); 0 for wildcard kinds.
    pub names: u64,
    pub version: XdsVersion,
}

type Built = Result<Resources, DowngradeError>;
type Cell = Arc<OnceCell<Built>>;

/// A built response, held strongly once shared, weakly while only one proxy asked for it.
#[derive(Debug)]
enum Held {
    Weak(std::sync::Weak<[EncodedResource]>),
    Strong(Resources),
    Failed(DowngradeError),
}

#[derive(Debug, Default)]
struct Slot {
    /// The build in progress, joined by concurrent requests.
    building: std::sync::Weak<OnceCell<Built>>,
    done: Option<Held>,
    /// How many times the key was asked for in this push context.
    requests: u32,
}

#[derive(Debug, Default)]
struct Inner {
    push_version: String,
    entries: HashMap<CacheKey, Slot>,
    eds: HashMap<(String, XdsVersion), (u64, EncodedResource)>,
}

/// The response cache of the current push context.
#[derive(Debug, Default)]
pub struct ResponseCache {
    inner: Mutex<Inner>,
    builds: AtomicU64,
    hits: AtomicU64,
}

impl ResponseCache {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Forgets everything and starts caching for `push_version`.
    pub fn reset(&self, push_version: &str) {
        let mut inner = self.lock();
        inner.push_version = push_version.to_owned();
        inner.entries = HashMap::new();
        inner.eds = HashMap::new();
    }

    /// The cached resources for `key` in push context `push_version`, building them once with
    /// `build` (concurrent callers with the same key wait for the first). Requests for an
    /// older push context are built but not cached.
    pub async fn get_or_build(
        &self,
        push_version: &str,
        key: CacheKey,
        build: impl FnOnce() -> Result<Vec<EncodedResource>, DowngradeError>,
    ) -> Result<Resources, DowngradeError> {
        let cell: Cell = {
            let mut inner = self.lock();
            if inner.push_version != push_version {
                drop(inner);
                self.builds.fetch_add(1, Ordering::Relaxed);
                return build().map(Resources::from);
            }
            let slot = inner.entries.entry(key.clone()).or_default();
            slot.requests = slot.requests.saturating_add(1);
            let shared = slot.requests >= 2;
            match &slot.done {
                Some(Held::Strong(r)) => {
                    let r = r.clone();
                    self.hits.fetch_add(1, Ordering::Relaxed);
                    return Ok(r);
                }
                Some(Held::Failed(e)) => return Err(e.clone()),
                Some(Held::Weak(w)) => {
                    if let Some(r) = w.upgrade() {
                        if shared {
                            slot.done = Some(Held::Strong(r.clone()));
                        }
                        self.hits.fetch_add(1, Ordering::Relaxed);
                        return Ok(r);
                    }
                }
                None => {}
            }
            match slot.building.upgrade() {
                Some(c) => c,
                None => {
                    let c: Cell = Arc::new(OnceCell::new());
                    slot.building = Arc::downgrade(&c);
                    c
                }
            }
        };
        let mut built = false;
        let r = cell
            .get_or_init(|| {
                built = true;
                self.builds.fetch_add(1, Ordering::Relaxed);
                std::future::ready(build().map(Resources::from))
            })
            .await
            .clone();
        if built {
            let mut inner = self.lock();
            if inner.push_version == push_version {
                if let Some(slot) = inner.entries.get_mut(&key) {
                    slot.done = Some(match &r {
                        Ok(res) if slot.requests >= 2 => Held::Strong(res.clone()),
                        Ok(res) => Held::Weak(Arc::downgrade(res)),
                        Err(e) => Held::Failed(e.clone()),
                    });
                }
            }
        } else {
            self.hits.fetch_add(1, Ordering::Relaxed);
        }
        r
    }

    /// A cached EDS assignment of `cluster` built from endpoint generation `generation`.
    pub fn eds_get(
        &self,
        push_version: &str,
        cluster: &str,
        version: XdsVersion,
        generation: u64,
    ) -> Option<EncodedResource> {
        let inner = self.lock();
        if inner.push_version != push_version {
            return None;
        }
        match inner.eds.get(&(cluster.to_owned(), version)) {
            Some((g, r)) if *g == generation => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                Some(r.clone())
            }
            _ => None,
        }
    }

    pub fn eds_put(
        &self,
        push_version: &str,
        cluster: &str,
        version: XdsVersion,
        generation: u64,
        resource: EncodedResource,
    ) {
        self.builds.fetch_add(1, Ordering::Relaxed);
        let mut inner = self.lock();
        if inner.push_version == push_version {
            inner
                .eds
                .insert((cluster.to_owned(), version), (generation, resource));
        }
    }

    /// How many times a response was built (cache misses) and served from the cache.
    pub fn stats(&self) -> (u64, u64) {
        (
            self.builds.load(Ordering::Relaxed),
            self.hits.load(Ordering::Relaxed),
        )
    }

    /// Number of cached entries (CDS/LDS/RDS, EDS).
    pub fn len(&self) -> (usize, usize) {
        let inner = self.lock();
        (inner.entries.len(), inner.eds.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn key(scope: u64) -> CacheKey {
        CacheKey {
            kind: ResourceKind::Cluster,
            scope,
            names: 0,
            version: XdsVersion::V3,
        }
    }

    #[tokio::test]
    async fn unique_responses_are_freed_shared_ones_kept() {
        let c = ResponseCache::default();
        c.reset("v1");
        // Asked once and dropped: the cache does not keep it alive.
        let once = c
            .get_or_build("v1", key(7), || Ok(vec![Bytes::from_static(b"pod-a")]))
            .await
            .unwrap();
        let weak = Arc::downgrade(&once);
        drop(once);
        assert!(
            weak.upgrade().is_none(),
            "a response only one proxy asked for was kept"
        );
        // Asked again after it was freed: rebuilt, and now kept for the push context.
        let again = c
            .get_or_build("v1", key(7), || Ok(vec![Bytes::from_static(b"pod-a")]))
            .await
            .unwrap();
        let weak = Arc::downgrade(&again);
        drop(again);
        assert!(weak.upgrade().is_some(), "a shared response was dropped");
        let third = c
            .get_or_build("v1", key(7), || panic!("shared responses are built once"))
            .await
            .unwrap();
        assert_eq!(&third[..], &[Bytes::from_static(b"pod-a")]);
        assert_eq!(c.stats(), (2, 1));
    }

    #[tokio::test]
    async fn equal_keys_share_one_build() {
        let c = ResponseCache::default();
        c.reset("v1");
        let a = c
            .get_or_build("v1", key(1), || Ok(vec![Bytes::from_static(b"a")]))
            .await
            .unwrap();
        let b = c
            .get_or_build("v1", key(1), || panic!("built twice"))
            .await
            .unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        let other = c
            .get_or_build("v1", key(2), || Ok(vec![Bytes::from_static(b"b")]))
            .await
            .unwrap();
        assert_eq!(&other[..], &[Bytes::from_static(b"b")]);
        assert_eq!(c.stats(), (2, 1));
        assert_eq!(c.len().0, 2);
    }

    #[tokio::test]
    async fn reset_bounds_the_cache_to_the_current_push() {
        let c = ResponseCache::default();
        c.reset("v1");
        c.get_or_build("v1", key(1), || Ok(vec![])).await.unwrap();
        c.reset("v2");
        assert_eq!(c.len(), (0, 0));
        // A late request for the old push context is served but not cached.
        c.get_or_build("v1", key(1), || Ok(vec![])).await.unwrap();
        assert_eq!(c.len(), (0, 0));
        c.eds_put(
            "v2",
            "outbound|80||a",
            XdsVersion::V2,
            7,
            Bytes::from_static(b"x"),
        );
        assert!(c
            .eds_get("v2", "outbound|80||a", XdsVersion::V2, 7)
            .is_some());
        assert!(c
            .eds_get("v2", "outbound|80||a", XdsVersion::V2, 8)
            .is_none());
        assert!(c
            .eds_get("v2", "outbound|80||a", XdsVersion::V3, 7)
            .is_none());
    }
}
