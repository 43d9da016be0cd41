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

type Cell = Arc<OnceCell<Result<Resources, DowngradeError>>>;

#[derive(Debug, Default)]
struct Inner {
    push_version: String,
    entries: HashMap<CacheKey, Cell>,
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
        let cell = {
            let mut inner = self.lock();
            if inner.push_version != push_version {
                None
            } else {
                Some(inner.entries.entry(key).or_default().clone())
            }
        };
        let Some(cell) = cell else {
            self.builds.fetch_add(1, Ordering::Relaxed);
            return build().map(Resources::from);
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
        if !built {
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
