//! The discovery server (upstream `pilot/pkg/proxy/envoy/v2/discovery.go`): the current push
//! context, the endpoint index, the table of connected proxies, and the debounced push loop.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use prometheus_client::registry::Registry;
use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;

use istio_pkg::config::schema::Kind;

use super::ads::{Connection, NameInterner};
use super::cache::ResponseCache;
use super::debounce::{debounce, DebounceOptions};
use super::eds::{EndpointIndex, UpdateOutcome};
use super::monitoring::Metrics;
use crate::features::Features;
use crate::model::{
    ConfigHandler, Environment, Event, IstioEndpoint, NodeType, Proxy, PushContext, PushRequest,
    XdsUpdater,
};
use crate::networking::core::ConfigGenerator;

/// How many cluster and listener responses may be generated and not yet written at once
/// (see [`DiscoveryServer::inflight`]); enough to keep both cores busy encoding while
/// others are being written.
pub const INFLIGHT_LARGE_RESPONSES: usize = 16;

/// Upstream's `SendTimeout`: how long a response may wait for a client that does not read.
pub const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(5);

/// Pilot's xDS server.
pub struct DiscoveryServer {
    pub(crate) env: Arc<Environment>,
    pub(crate) generator: Arc<dyn ConfigGenerator>,
    pub(crate) features: Features,
    push: RwLock<Arc<PushContext>>,
    pub(crate) endpoints: RwLock<EndpointIndex>,
    pub(crate) connections: RwLock<HashMap<String, Arc<Connection>>>,
    push_tx: mpsc::UnboundedSender<PushRequest>,
    push_rx: Mutex<Option<mpsc::UnboundedReceiver<PushRequest>>>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) cache: ResponseCache,
    pub(crate) throttle: Arc<Semaphore>,
    /// Cluster and listener responses generated and not yet handed to HTTP/2 in full: a
    /// response holds one slot from before it is generated until its last byte is written,
    /// so slow readers cannot pile up generated config in memory.
    pub(crate) inflight: Arc<Semaphore>,
    send_timeout_ms: AtomicU64,
    /// Per-connection send queue length (responses waiting for the gRPC stream).
    pub(crate) send_queue: usize,
    pub(crate) conn_counter: AtomicU64,
    /// Clusters without endpoints in the current push context (`pilot_eds_no_instances`).
    pub(crate) no_instances: Mutex<BTreeSet<String>>,
    ready_checks: Mutex<Vec<Arc<dyn Fn() -> bool + Send + Sync>>>,
    pub(crate) names: NameInterner,
    pub(crate) shutdown: Mutex<CancellationToken>,
}

impl std::fmt::Debug for DiscoveryServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiscoveryServer")
            .field("push_version", &self.push_context().version)
            .field("connections", &self.connection_count())
            .finish_non_exhaustive()
    }
}

impl DiscoveryServer {
    /// Creates the server with a first push context built from `env`, registering the
    /// server's metrics in `registry`.
    pub fn new(
        env: Arc<Environment>,
        generator: Arc<dyn ConfigGenerator>,
        features: Features,
        registry: &mut Registry,
    ) -> Arc<DiscoveryServer> {
        let metrics = Arc::new(Metrics::new(registry));
        let push = Arc::new(PushContext::new(&env));
        let cache = ResponseCache::default();
        cache.reset(&push.version);
        let (push_tx, push_rx) = mpsc::unbounded_channel();
        tracing::info!(
            target: "ads",
            "Starting ADS server with pushThrottle={}",
            features.push_throttle
        );
        let s = Arc::new(DiscoveryServer {
            throttle: Arc::new(Semaphore::new(features.push_throttle.max(1))),
            inflight: Arc::new(Semaphore::new(INFLIGHT_LARGE_RESPONSES)),
            env,
            generator,
            features,
            push: RwLock::new(push.clone()),
            endpoints: RwLock::new(EndpointIndex::default()),
            connections: RwLock::new(HashMap::new()),
            push_tx,
            push_rx: Mutex::new(Some(push_rx)),
            metrics,
            cache,
            send_timeout_ms: AtomicU64::new(DEFAULT_SEND_TIMEOUT.as_millis() as u64),
            send_queue: 4,
            conn_counter: AtomicU64::new(0),
            no_instances: Mutex::new(BTreeSet::new()),
            ready_checks: Mutex::new(Vec::new()),
            names: NameInterner::default(),
            shutdown: Mutex::new(CancellationToken::new()),
        });
        s.record_push_metrics(&push);
        s
    }

    /// Starts the debounce loop; pushes stop and connections close when `shutdown` fires.
    pub fn start(self: &Arc<Self>, shutdown: CancellationToken) {
        *self.shutdown.lock().unwrap_or_else(|e| e.into_inner()) = shutdown.clone();
        let Some(rx) = self
            .push_rx
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        else {
            tracing::warn!(target: "ads", "DiscoveryServer::start called twice; ignored");
            return;
        };
        let opts = DebounceOptions {
            after: self.features.debounce_after,
            max: self.features.debounce_max,
            enable_eds_debounce: self.features.enable_eds_debounce,
        };
        let me = self.clone();
        tokio::spawn(debounce(rx, opts, shutdown, move |req| {
            let me = me.clone();
            async move { me.push(req).await }
        }));
    }

    /// The current push context.
    pub fn push_context(&self) -> Arc<PushContext> {
        self.push.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// How long a response may wait on a client that does not read before the connection is
    /// closed (default 5 s).
    pub fn send_timeout(&self) -> Duration {
        Duration::from_millis(self.send_timeout_ms.load(Ordering::Relaxed))
    }

    pub fn set_send_timeout(&self, d: Duration) {
        self.send_timeout_ms
            .store(d.as_millis() as u64, Ordering::Relaxed);
    }

    /// Adds a condition for `/ready` (e.g. a config store or registry has synced).
    pub fn add_ready_check(&self, check: impl Fn() -> bool + Send + Sync + 'static) {
        self.ready_checks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arc::new(check));
    }

    pub fn is_ready(&self) -> bool {
        let checks = self
            .ready_checks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        checks.iter().all(|c| c())
    }

    /// The metrics of the server.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// (builds, hits) of the response cache.
    pub fn cache_stats(&self) -> (u64, u64) {
        self.cache.stats()
    }

    /// A handler for config stores: every change of a kind the push context reads triggers a
    /// full push scoped to that kind (upstream's config handler).
    pub fn config_handler(self: &Arc<Self>) -> ConfigHandler {
        let me = Arc::downgrade(self);
        Arc::new(move |_old, cfg, _event| {
            if let Some(me) = me.upgrade() {
                let mut req = PushRequest::full();
                req.config_types_updated.insert(cfg.meta.kind);
                me.config_update(req);
            }
        })
    }

    /// Requests a full push of everything (upstream `ClearCache`).
    pub fn clear_cache(&self) {
        self.config_update(PushRequest::full());
    }

    pub fn connection_count(&self) -> usize {
        self.connections
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    /// Snapshot of the connection table, sorted by connection id.
    pub fn connections(&self) -> Vec<Arc<Connection>> {
        let mut v: Vec<_> = self
            .connections
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        v.sort_by(|a, b| a.con_id.cmp(&b.con_id));
        v
    }

    pub(crate) fn add_connection(&self, con: Arc<Connection>) {
        let mut t = self.connections.write().unwrap_or_else(|e| e.into_inner());
        t.insert(con.con_id.clone(), con);
        self.metrics.xds_clients.set(t.len() as i64);
    }

    pub(crate) fn remove_connection(&self, con_id: &str) {
        let mut t = self.connections.write().unwrap_or_else(|e| e.into_inner());
        if t.remove(con_id).is_none() {
            tracing::error!(target: "ads", "ADS: Removing connection for non-existing node:{con_id}.");
            self.metrics.internal_errors.inc();
        }
        self.metrics.xds_clients.set(t.len() as i64);
    }

    fn send_request(&self, req: PushRequest) {
        if self.push_tx.send(req).is_err() {
            tracing::debug!(target: "ads", "push request after shutdown dropped");
        }
    }

    fn record_push_metrics(&self, push: &PushContext) {
        self.metrics.services.set(push.all_services().len() as i64);
        self.metrics
            .virtual_services
            .set(push.configs(Kind::VirtualService).len() as i64);
    }

    /// Installs a new push context: caches now serve it.
    pub(crate) fn set_push_context(&self, push: Arc<PushContext>) {
        self.cache.reset(&push.version);
        self.no_instances
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self.record_push_metrics(&push);
        *self.push.write().unwrap_or_else(|e| e.into_inner()) = push;
    }

    /// Runs a debounced push (upstream `Push` + `AdsPushAll`).
    pub async fn push(self: &Arc<Self>, req: PushRequest) {
        if !req.full {
            let n = self.connection_count();
            tracing::info!(
                target: "ads",
                "XDS:EDSInc Pushing:{} Services:{:?} ConnectedEndpoints:{n}",
                self.push_context().version,
                req.eds_updates
            );
            self.enqueue_all(req);
            return;
        }
        let env = self.env.clone();
        let t0 = Instant::now();
        let push = match tokio::task::spawn_blocking(move || PushContext::new(&env)).await {
            Ok(p) => Arc::new(p),
            Err(e) => {
                tracing::error!(target: "ads", "XDS: Failed to update services: {e}");
                self.metrics.push_context_errors.inc();
                return;
            }
        };
        for e in &push.errors {
            tracing::warn!(target: "ads", "push context {}: {e}", push.version);
        }
        tracing::debug!(target: "ads", "InitContext {} for push took {:?}", push.version, t0.elapsed());
        tracing::info!(
            target: "ads",
            "XDS: Pushing:{} Services:{} ConnectedEndpoints:{}",
            push.version,
            push.all_services().len(),
            self.connection_count()
        );
        self.set_push_context(push);
        self.enqueue_all(req);
    }

    /// Queues `req` on every connection; each merges it with what is already pending.
    fn enqueue_all(&self, req: PushRequest) {
        for con in self.connections() {
            con.enqueue(req.clone());
        }
    }

    /// Proxies of a registry workload: same cluster id and primary IP.
    fn connections_for(&self, cluster_id: &str, ip: &str) -> Vec<Arc<Connection>> {
        self.connections()
            .into_iter()
            .filter(|c| {
                let p = c.proxy();
                p.cluster_id == cluster_id && p.ip() == ip
            })
            .collect()
    }

    /// Refreshes what the registries know about `proxy`: service instances, workload labels
    /// (when its metadata had none) and locality (upstream `SetServiceInstances`,
    /// `SetWorkloadLabels`).
    pub(crate) fn refresh_proxy(&self, proxy: &Proxy, node_locality: Option<&str>) -> Proxy {
        let mut p = proxy.clone();
        let instances = self.env.service_discovery.get_proxy_service_instances(&p);
        p.set_service_instances(instances);
        if p.metadata.labels.is_empty() {
            p.workload_labels = self.env.service_discovery.get_proxy_workload_labels(&p);
        }
        if let Some(loc) = p
            .service_instances
            .first()
            .map(|i| i.endpoint.locality.clone())
            .filter(|l| !l.is_empty())
        {
            p.locality = loc;
        } else if p.locality.is_empty() {
            if let Some(l) = node_locality {
                p.locality = l.to_owned();
            }
        }
        p
    }
}

/// Whether a full push for `req` concerns `proxy` (upstream `ProxyNeedsPush`): with
/// PILOT_SCOPE_PUSHES, a change of Gateways only does not concern sidecars. Sidecar scopes
/// import every namespace until Sidecar objects are interpreted.
pub fn proxy_needs_push(features: &Features, proxy: &Proxy, req: &PushRequest) -> bool {
    if !features.scope_pushes || req.config_types_updated.is_empty() {
        return true;
    }
    req.config_types_updated
        .iter()
        .any(|k| !(*k == Kind::Gateway && proxy.node_type == NodeType::Sidecar))
}

impl XdsUpdater for DiscoveryServer {
    fn eds_update(
        &self,
        shard: &str,
        hostname: &str,
        namespace: &str,
        endpoints: Vec<IstioEndpoint>,
    ) {
        self.metrics.inbound("eds");
        let outcome = self
            .endpoints
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .update(shard, hostname, namespace, endpoints);
        let mut req = match outcome {
            UpdateOutcome::None => return,
            UpdateOutcome::Eds => PushRequest::eds([hostname.to_owned()]),
            UpdateOutcome::Full => {
                tracing::info!(target: "ads", "Full push, new service or service account {hostname}");
                let mut r = PushRequest::full();
                r.config_types_updated.insert(Kind::ServiceEntry);
                r
            }
        };
        req.namespaces_updated.insert(namespace.to_owned());
        self.send_request(req);
    }

    fn svc_update(&self, shard: &str, hostname: &str, namespace: &str, event: Event) {
        self.metrics.inbound("svc");
        if event == Event::Delete {
            self.endpoints
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .remove_service(shard, hostname, namespace);
        }
        let mut req = PushRequest::full();
        req.namespaces_updated.insert(namespace.to_owned());
        req.config_types_updated.insert(Kind::ServiceEntry);
        self.send_request(req);
    }

    fn config_update(&self, req: PushRequest) {
        self.metrics.inbound("config");
        self.send_request(req);
    }

    fn proxy_update(&self, cluster_id: &str, ip: &str) {
        for con in self.connections_for(cluster_id, ip) {
            con.enqueue(PushRequest::full());
        }
    }
}
