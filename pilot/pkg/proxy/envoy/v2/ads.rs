//! Aggregated Discovery Service (upstream `pilot/pkg/proxy/envoy/v2/ads.go`): the gRPC
//! services `envoy.service.discovery.v2.AggregatedDiscoveryService` and
//! `envoy.service.discovery.v3.AggregatedDiscoveryService`, and the per-connection protocol.
//!
//! Protocol, as upstream:
//! - the first request must carry the node; its id and metadata are parsed into a [`Proxy`];
//! - CDS and LDS are wildcard watches; EDS and RDS watch the requested names;
//! - a request echoing the last nonce sent for its type is an ACK (recorded) or, with
//!   `error_detail`, a NACK (logged and counted, never answered); a request with an older
//!   nonce is stale and ignored; a request without a nonce (re)starts a watch;
//! - full pushes send CDS, EDS, LDS, RDS in that order; EDS-only pushes send the assignments of
//!   the changed services to the connections watching them;
//! - every response carries the push context version as `version_info` and a unique nonce.
//!
//! Each connection has a bounded send queue: a response that cannot be queued within the send
//! timeout closes the connection (`pilot_xds_write_timeout`), so a client that stops reading
//! never holds up pushes to the others.

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use envoy_types::pb::envoy::config::core::v3::Node;
use envoy_types::pb::envoy::service::discovery::v3::DiscoveryRequest;
use prost::Message;
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;
use tonic::codegen::{http, Body, BoxFuture, Context, Poll, Service, StdError};
use tonic::server::NamedService;
use tonic::Status;

use super::cache::{CacheKey, Resources};
use super::discovery::{proxy_needs_push, DiscoveryServer};
use super::eds::{build_cluster_load_assignment, cluster_hostname, endpoint_count};
use super::grpc::{RequestStream, ResponseBody};
use super::monitoring::send_error_label;
use super::version::{
    downgrade, kind_short, parse_type_url, type_url, DowngradeError, XdsVersion, V3_ENDPOINT,
    V3_LISTENER, V3_ROUTE,
};
use super::wire::{encode_any, EncodedResource, XdsResponse};
use crate::model::{NodeMetadata, Proxy, PushContext, PushRequest};
use crate::networking::core::{encode_any_parts, EncodedListener, ResourceKind};

const KINDS: [ResourceKind; 4] = [
    ResourceKind::Cluster,
    ResourceKind::Endpoint,
    ResourceKind::Listener,
    ResourceKind::Route,
];

fn kind_index(kind: ResourceKind) -> usize {
    match kind {
        ResourceKind::Cluster => 0,
        ResourceKind::Endpoint => 1,
        ResourceKind::Listener => 2,
        ResourceKind::Route => 3,
    }
}

/// Watch and ACK state of one resource type on one connection.
#[derive(Debug, Clone)]
pub struct TypeState {
    /// A request for the type was received.
    pub watching: bool,
    /// The API version of the type URL the client asked for.
    pub version: Option<XdsVersion>,
    /// Watched names (EDS clusters, RDS route configs), sorted; shared between connections
    /// watching the same list.
    pub names: Arc<[String]>,
    pub nonce_sent: String,
    pub nonce_acked: String,
    pub version_sent: String,
    pub version_acked: String,
    /// Number of resources in the last response.
    pub resources_sent: usize,
}

impl Default for TypeState {
    fn default() -> Self {
        TypeState {
            watching: false,
            version: None,
            names: Arc::from(Vec::new()),
            nonce_sent: String::new(),
            nonce_acked: String::new(),
            version_sent: String::new(),
            version_acked: String::new(),
            resources_sent: 0,
        }
    }
}

/// Interns watch lists: thousands of sidecars watch the same clusters, and keep one copy.
#[derive(Debug, Default)]
pub(crate) struct NameInterner {
    lists: Mutex<std::collections::HashMap<u64, Vec<std::sync::Weak<[String]>>>>,
}

impl NameInterner {
    pub(crate) fn intern(&self, names: Vec<String>) -> Arc<[String]> {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        names.hash(&mut h);
        let key = h.finish();
        let mut lists = self.lists.lock().unwrap_or_else(|e| e.into_inner());
        let bucket = lists.entry(key).or_default();
        bucket.retain(|w| w.strong_count() > 0);
        if let Some(found) = bucket
            .iter()
            .filter_map(|w| w.upgrade())
            .find(|a| a[..] == names[..])
        {
            return found;
        }
        let a: Arc<[String]> = Arc::from(names);
        bucket.push(Arc::downgrade(&a));
        a
    }

    /// Drops buckets whose lists are all gone.
    pub(crate) fn sweep(&self) {
        let mut lists = self.lists.lock().unwrap_or_else(|e| e.into_inner());
        lists.retain(|_, b| {
            b.retain(|w| w.strong_count() > 0);
            !b.is_empty()
        });
    }
}

/// One ADS stream (upstream `XdsConnection`).
#[derive(Debug)]
pub struct Connection {
    /// `<node id>-<counter>`.
    pub con_id: String,
    pub peer_addr: String,
    pub connect_time: SystemTime,
    /// The ADS service the stream came in on.
    pub transport: XdsVersion,
    proxy: RwLock<Arc<Proxy>>,
    node_locality: Option<String>,
    state: Mutex<[TypeState; 4]>,
    pending: Mutex<Option<(PushRequest, Instant)>>,
    notify: Notify,
    close: CancellationToken,
}

impl Connection {
    pub fn proxy(&self) -> Arc<Proxy> {
        self.proxy.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set_proxy(&self, p: Proxy) {
        *self.proxy.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(p);
    }

    fn state(&self) -> MutexGuard<'_, [TypeState; 4]> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A copy of the watch state of `kind`.
    pub fn type_state(&self, kind: ResourceKind) -> TypeState {
        self.state()[kind_index(kind)].clone()
    }

    /// Merges `req` into the pending push and wakes the connection.
    pub fn enqueue(&self, req: PushRequest) {
        let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        *p = Some(match p.take() {
            Some((old, t)) => (old.merge(req), t),
            None => (req, Instant::now()),
        });
        drop(p);
        self.notify.notify_one();
    }

    fn take_pending(&self) -> Option<(PushRequest, Instant)> {
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    /// Closes the stream (used by tests and shutdown).
    pub fn close(&self) {
        self.close.cancel();
    }
}

static NONCE: AtomicU64 = AtomicU64::new(0);

/// A nonce unique within this process and unlikely to repeat across restarts.
fn next_nonce(push: &PushContext) -> String {
    let n = NONCE.fetch_add(1, Ordering::Relaxed);
    let t = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut h = std::collections::hash_map::DefaultHasher::new();
    push.version.hash(&mut h);
    format!("{:08x}{t:x}-{n}", h.finish() as u32)
}

/// Why a connection ends.
#[derive(Debug)]
enum ConnError {
    /// Close the stream with this status.
    Status(Status),
    /// The client went away or stopped reading; nothing to tell it.
    Closed,
}

impl DiscoveryServer {
    /// The gRPC routes of both ADS services, for the lead's tonic server.
    pub fn grpc_routes(self: &Arc<Self>) -> tonic::service::Routes {
        tonic::service::Routes::new(AdsService::<V3>::new(self.clone()))
            .add_service(AdsService::<V2>::new(self.clone()))
    }

    /// Serves one `StreamAggregatedResources` stream: spawns the connection task and returns
    /// its send queue, which the response body drains.
    pub fn stream_aggregated_resources(
        self: &Arc<Self>,
        transport: XdsVersion,
        peer: Option<std::net::SocketAddr>,
        requests: RequestStream,
    ) -> mpsc::Receiver<Result<XdsResponse, Status>> {
        let peer = peer.map_or_else(|| "0.0.0.0".to_owned(), |a| a.to_string());
        let (tx, rx) = mpsc::channel(self.send_queue.max(1));
        let me = self.clone();
        tokio::spawn(async move {
            let shutdown = me
                .shutdown
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            let res = tokio::select! {
                r = me.run_stream(transport, peer, requests, tx.clone()) => r,
                _ = shutdown.cancelled() => Err(ConnError::Status(Status::unavailable("server shutting down"))),
            };
            if let Err(ConnError::Status(s)) = res {
                let _ = tokio::time::timeout(me.send_timeout(), tx.send(Err(s))).await;
            }
        });
        rx
    }

    async fn run_stream(
        self: &Arc<Self>,
        transport: XdsVersion,
        peer: String,
        mut requests: RequestStream,
        tx: mpsc::Sender<Result<XdsResponse, Status>>,
    ) -> Result<(), ConnError> {
        let t0 = Instant::now();
        let first = match requests.message().await {
            Ok(Some(r)) => r,
            Ok(None) => return Err(ConnError::Closed),
            Err(s) => {
                tracing::info!(target: "ads", "ADS: {peer:?} terminated before the first request: {s}");
                return Err(ConnError::Status(s));
            }
        };
        let con = match self.init_connection(transport, &peer, first.node.as_ref()) {
            Ok(c) => Arc::new(c),
            Err(msg) => {
                tracing::warn!(target: "ads", "ADS: {peer:?} rejected: {msg}");
                return Err(ConnError::Status(Status::invalid_argument(msg)));
            }
        };
        tracing::info!(target: "ads", "ADS: new connection for node:{} ({peer}, {})", con.con_id, transport.as_str());
        self.add_connection(con.clone());
        let result = self.serve(&con, first, &mut requests, &tx, t0).await;
        self.remove_connection(&con.con_id);
        drop(con);
        self.names.sweep();
        result
    }

    async fn serve(
        self: &Arc<Self>,
        con: &Arc<Connection>,
        first: DiscoveryRequest,
        requests: &mut RequestStream,
        tx: &mpsc::Sender<Result<XdsResponse, Status>>,
        t0: Instant,
    ) -> Result<(), ConnError> {
        self.handle_request(con, first, tx, t0).await?;
        loop {
            tokio::select! {
                _ = con.close.cancelled() => return Err(ConnError::Status(Status::aborted("connection closed by pilot"))),
                msg = requests.message() => match msg {
                    Ok(Some(req)) => self.handle_request(con, req, tx, t0).await?,
                    Ok(None) => {
                        tracing::info!(target: "ads", "ADS: {:?} {} terminated", con.peer_addr, con.con_id);
                        return Err(ConnError::Closed);
                    }
                    Err(s) => {
                        if s.code() == tonic::Code::Cancelled {
                            tracing::info!(target: "ads", "ADS: {:?} {} terminated {s}", con.peer_addr, con.con_id);
                            return Err(ConnError::Closed);
                        }
                        tracing::error!(target: "ads", "ADS: {:?} {} terminated with error: {s}", con.peer_addr, con.con_id);
                        self.metrics.internal_errors.inc();
                        return Err(ConnError::Status(s));
                    }
                },
                _ = con.notify.notified() => {
                    let Some((req, queued)) = con.take_pending() else { continue };
                    let permit = self.throttle.clone().acquire_owned().await;
                    self.metrics.queue_time.observe(queued.elapsed().as_secs_f64());
                    let mut r = self.push_connection(con, &req, tx).await;
                    // Hold the push slot until the client took the responses, so that at most
                    // PILOT_PUSH_THROTTLE connections hold queued responses at once; a client
                    // that does not take them within the send timeout is not reading.
                    if r.is_ok()
                        && tokio::time::timeout(self.send_timeout(), tx.reserve_many(tx.max_capacity()))
                            .await
                            .is_err()
                    {
                        tracing::info!(target: "ads", "Timeout writing {} ({}); closing the connection", con.con_id, con.peer_addr);
                        self.metrics.write_timeouts.inc();
                        r = Err(ConnError::Closed);
                    }
                    drop(permit);
                    r?;
                }
            }
        }
    }

    /// Parses the node of the first request and builds the connection (upstream
    /// `initConnectionNode`).
    fn init_connection(
        &self,
        transport: XdsVersion,
        peer: &str,
        node: Option<&Node>,
    ) -> Result<Connection, String> {
        let node = node
            .filter(|n| !n.id.is_empty())
            .ok_or_else(|| "missing node id in the first request".to_owned())?;
        // Envoy's Struct and prost's share the wire format.
        let meta_struct = node
            .metadata
            .as_ref()
            .map(|m| prost_types::Struct::decode(m.encode_to_vec().as_slice()))
            .transpose()
            .map_err(|e| format!("invalid node metadata: {e}"))?;
        let meta = NodeMetadata::from_struct(meta_struct.as_ref()).map_err(|e| e.to_string())?;
        let proxy = Proxy::parse(&node.id, meta).map_err(|e| e.to_string())?;
        let node_locality = node.locality.as_ref().and_then(|l| {
            let s = [l.region.as_str(), l.zone.as_str(), l.sub_zone.as_str()]
                .iter()
                .copied()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join("/");
            (!s.is_empty()).then_some(s)
        });
        let proxy = self.refresh_proxy(&proxy, node_locality.as_deref());
        let n = self.conn_counter.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::debug!(target: "ads", "ADS: node {} from {peer}", node.id);
        Ok(Connection {
            con_id: format!("{}-{n}", node.id),
            peer_addr: peer.to_owned(),
            connect_time: SystemTime::now(),
            transport,
            proxy: RwLock::new(Arc::new(proxy)),
            node_locality,
            state: Mutex::new(Default::default()),
            pending: Mutex::new(None),
            notify: Notify::new(),
            close: CancellationToken::new(),
        })
    }

    async fn handle_request(
        self: &Arc<Self>,
        con: &Arc<Connection>,
        req: DiscoveryRequest,
        tx: &mpsc::Sender<Result<XdsResponse, Status>>,
        t0: Instant,
    ) -> Result<(), ConnError> {
        let Some((kind, version)) = parse_type_url(&req.type_url) else {
            tracing::warn!(
                target: "ads",
                "ADS: Unknown watched resources {:?} from {} ({})",
                req.type_url, con.con_id, con.peer_addr
            );
            return Ok(());
        };
        let short = kind_short(kind).to_uppercase();
        let proxy_id = con.proxy().id.clone();
        let mut names = req.resource_names.clone();
        names.sort();
        names.dedup();
        let push_needed = {
            let mut st = con.state();
            let s = &mut st[kind_index(kind)];
            if let Some(err) = &req.error_detail {
                let code = tonic::Code::from_i32(err.code);
                tracing::warn!(
                    target: "ads",
                    "ADS:{short}: ACK ERROR {} {} ({proxy_id}) {:?}:{}",
                    con.peer_addr, con.con_id, code, err.message
                );
                self.metrics.reject(kind, &proxy_id, &format!("{code:?}"));
                return Ok(());
            }
            if !req.response_nonce.is_empty() {
                if req.response_nonce != s.nonce_sent {
                    tracing::debug!(
                        target: "ads",
                        "ADS:{short}: Expired nonce received {} {}, sent {}, received {}",
                        con.peer_addr, con.con_id, s.nonce_sent, req.response_nonce
                    );
                    if kind == ResourceKind::Route {
                        self.metrics.rds_expired_nonce.inc();
                    }
                    return Ok(());
                }
                s.nonce_acked = req.response_nonce.clone();
                s.version_acked = req.version_info.clone();
                tracing::debug!(
                    target: "ads",
                    "ADS:{short}: ACK {} {} ({proxy_id}) {} {}",
                    con.peer_addr, con.con_id, req.version_info, req.response_nonce
                );
                match kind {
                    // Wildcard types: an ACK never asks for anything new.
                    ResourceKind::Cluster | ResourceKind::Listener => false,
                    // An EDS ACK need not repeat the cluster names (as upstream).
                    ResourceKind::Endpoint if names.is_empty() => false,
                    ResourceKind::Endpoint | ResourceKind::Route => {
                        if names[..] == s.names[..] {
                            false
                        } else {
                            s.names = self.names.intern(names);
                            s.version = Some(version);
                            true
                        }
                    }
                }
            } else {
                // A new watch (first request of the type on this stream).
                if matches!(kind, ResourceKind::Endpoint | ResourceKind::Route)
                    && names.is_empty()
                    && s.names.is_empty()
                {
                    s.watching = true;
                    s.version = Some(version);
                    return Ok(());
                }
                tracing::info!(
                    target: "ads",
                    "ADS:{short}: REQ {} {} {:?} version:{} resources:{}",
                    con.peer_addr, con.con_id, t0.elapsed(), req.version_info, names.len()
                );
                s.watching = true;
                s.version = Some(version);
                if matches!(kind, ResourceKind::Endpoint | ResourceKind::Route) {
                    s.names = self.names.intern(names);
                }
                true
            }
        };
        if !push_needed {
            return Ok(());
        }
        let push = self.push_context();
        self.push_kind(con, kind, &push, None, tx).await
    }

    /// Pushes what `req` asks for to one connection (upstream `pushConnection`).
    async fn push_connection(
        self: &Arc<Self>,
        con: &Arc<Connection>,
        req: &PushRequest,
        tx: &mpsc::Sender<Result<XdsResponse, Status>>,
    ) -> Result<(), ConnError> {
        let push = self.push_context();
        if !req.full {
            if !proxy_needs_push(&self.features, &con.proxy(), req) {
                return Ok(());
            }
            let watching = con
                .type_state(ResourceKind::Endpoint)
                .names
                .iter()
                .any(|c| req.eds_updates.contains(cluster_hostname(c)));
            if watching {
                self.push_kind(
                    con,
                    ResourceKind::Endpoint,
                    &push,
                    Some(&req.eds_updates),
                    tx,
                )
                .await?;
            }
            return Ok(());
        }
        let refreshed = self.refresh_proxy(&con.proxy(), con.node_locality.as_deref());
        con.set_proxy(refreshed);
        if !proxy_needs_push(&self.features, &con.proxy(), req) {
            tracing::debug!(target: "ads", "Skipping push to {}, no updates required", con.con_id);
            return Ok(());
        }
        tracing::info!(target: "ads", "Pushing {}", con.con_id);
        for kind in KINDS {
            let s = con.type_state(kind);
            let active = match kind {
                ResourceKind::Cluster | ResourceKind::Listener => s.watching,
                ResourceKind::Endpoint | ResourceKind::Route => !s.names.is_empty(),
            };
            if active {
                self.push_kind(con, kind, &push, None, tx).await?;
            }
        }
        self.metrics
            .convergence_time
            .observe(req.start.elapsed().as_secs_f64());
        Ok(())
    }

    /// Generates (or takes from the cache) and sends one response of `kind`.
    async fn push_kind(
        self: &Arc<Self>,
        con: &Arc<Connection>,
        kind: ResourceKind,
        push: &Arc<PushContext>,
        eds_filter: Option<&BTreeSet<String>>,
        tx: &mpsc::Sender<Result<XdsResponse, Status>>,
    ) -> Result<(), ConnError> {
        let t0 = Instant::now();
        // Large per-proxy responses wait for a slot before they are generated.
        let permit = match kind {
            ResourceKind::Cluster | ResourceKind::Listener => self
                .inflight
                .clone()
                .acquire_owned()
                .await
                .ok()
                .map(Arc::new),
            ResourceKind::Endpoint | ResourceKind::Route => None,
        };
        let state = con.type_state(kind);
        let version = state.version.unwrap_or(con.transport);
        let resources = match self
            .resources(con, kind, version, push, &state.names, eds_filter)
            .await
        {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(
                    target: "ads",
                    "ADS:{}: cannot build the response for {}: {e}",
                    kind_short(kind).to_uppercase(),
                    con.con_id
                );
                self.metrics.internal_errors.inc();
                let label = match kind {
                    ResourceKind::Cluster => "cds_builderr",
                    ResourceKind::Listener => "lds_builderr",
                    ResourceKind::Route => "rds_builderr",
                    ResourceKind::Endpoint => "eds_builderr",
                };
                self.metrics.push_error(label);
                return Ok(());
            }
        };
        let n = resources.len();
        let resp = XdsResponse {
            version_info: Arc::from(push.version.as_str()),
            resources,
            type_url: type_url(kind, version),
            nonce: next_nonce(push),
            permit,
        };
        {
            let mut st = con.state();
            let s = &mut st[kind_index(kind)];
            s.nonce_sent = resp.nonce.clone();
            s.version_sent = push.version.clone();
            s.resources_sent = n;
        }
        match tokio::time::timeout(self.send_timeout(), tx.send(Ok(resp))).await {
            Ok(Ok(())) => {
                self.metrics.push_ok(kind, t0.elapsed().as_secs_f64());
                tracing::debug!(
                    target: "ads",
                    "{}: PUSH for node:{} resources:{n}",
                    kind_short(kind).to_uppercase(),
                    con.con_id
                );
                Ok(())
            }
            Ok(Err(_)) => {
                self.metrics.push_error(send_error_label(kind));
                Err(ConnError::Closed)
            }
            Err(_) => {
                tracing::info!(target: "ads", "Timeout writing {} ({}); closing the connection", con.con_id, con.peer_addr);
                self.metrics.write_timeouts.inc();
                self.metrics.push_error(send_error_label(kind));
                Err(ConnError::Closed)
            }
        }
    }

    /// The resources of `kind` for a connection, shared through the cache.
    async fn resources(
        &self,
        con: &Connection,
        kind: ResourceKind,
        version: XdsVersion,
        push: &Arc<PushContext>,
        names: &[String],
        eds_filter: Option<&BTreeSet<String>>,
    ) -> Result<Resources, DowngradeError> {
        let proxy = con.proxy();
        if kind == ResourceKind::Endpoint {
            return self.endpoint_resources(version, push, names, eds_filter);
        }
        let scope = self.generator.scope_key(kind, &proxy, push);
        let names_hash = if kind == ResourceKind::Route {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            names.hash(&mut h);
            h.finish()
        } else {
            0
        };
        let key = |version| CacheKey {
            kind,
            scope,
            names: names_hash,
            version,
        };
        let gen = &self.generator;
        if kind == ResourceKind::Listener {
            // Built for the connection's version directly: most of each listener is a part
            // shared with other proxies, encoded (and downgraded) once.
            return self
                .cache
                .get_or_build(&push.version, key(version), || {
                    gen.build_listeners_encoded(&proxy, push)
                        .iter()
                        .map(|l| encode_listener(l, version))
                        .collect()
                })
                .await;
        }
        // Generated once per key as v3; v2 clients get the downgrade of that build.
        let v3 = self
            .cache
            .get_or_build(&push.version, key(XdsVersion::V3), || match kind {
                ResourceKind::Cluster => Ok(gen.build_clusters_encoded(&proxy, push)),
                ResourceKind::Listener => unreachable!("listeners are built above"),
                ResourceKind::Route => Ok(encode_all(
                    V3_ROUTE,
                    gen.build_http_routes(&proxy, push, names).iter(),
                )),
                ResourceKind::Endpoint => Ok(Vec::new()),
            })
            .await?;
        match version {
            XdsVersion::V3 => Ok(v3),
            XdsVersion::V2 => {
                self.cache
                    .get_or_build(&push.version, key(XdsVersion::V2), || downgrade_all(&v3))
                    .await
            }
        }
    }

    fn endpoint_resources(
        &self,
        version: XdsVersion,
        push: &Arc<PushContext>,
        clusters: &[String],
        filter: Option<&BTreeSet<String>>,
    ) -> Result<Resources, DowngradeError> {
        let mut out = Vec::with_capacity(clusters.len());
        for cluster in clusters {
            let hostname = cluster_hostname(cluster);
            if let Some(f) = filter {
                if !f.contains(hostname) {
                    continue;
                }
            }
            out.push(self.encoded_cla(version, push, cluster)?);
        }
        Ok(out.into())
    }

    /// One cluster's assignment, from the EDS cache when its endpoints did not change.
    pub(crate) fn encoded_cla(
        &self,
        version: XdsVersion,
        push: &Arc<PushContext>,
        cluster: &str,
    ) -> Result<EncodedResource, DowngradeError> {
        let hostname = cluster_hostname(cluster);
        let ns = push
            .service_by_hostname(hostname)
            .map(|s| s.attributes.namespace.as_str())
            .unwrap_or("");
        let generation = self
            .endpoints
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .generation(hostname, ns);
        if let Some(r) = self
            .cache
            .eds_get(&push.version, cluster, version, generation)
        {
            return Ok(r);
        }
        let cla = build_cluster_load_assignment(cluster, push, &self.endpoints, &self.env);
        let count = endpoint_count(&cla);
        self.metrics
            .eds_instances
            .get_or_create(&super::monitoring::ClusterLabel {
                cluster: cluster.to_owned(),
            })
            .set(count as i64);
        if count == 0 {
            let mut ni = self.no_instances.lock().unwrap_or_else(|e| e.into_inner());
            ni.insert(cluster.to_owned());
            self.metrics.eds_no_instances.set(ni.len() as i64);
        }
        let v3 = encode_all(V3_ENDPOINT, std::iter::once(&cla));
        let mut r = match version {
            XdsVersion::V3 => v3,
            XdsVersion::V2 => downgrade_all(&v3)?,
        };
        let r = r.pop().unwrap_or_default();
        self.cache
            .eds_put(&push.version, cluster, version, generation, r.clone());
        Ok(r)
    }
}

/// The v2 form of encoded v3 resources: the one place resources for v2 clients go through
/// [`downgrade`].
fn downgrade_all(v3: &[EncodedResource]) -> Result<Vec<EncodedResource>, DowngradeError> {
    v3.iter()
        .map(|r| {
            let any = prost_types::Any::decode(r.as_ref())
                .map_err(|e| DowngradeError::Invalid(e.to_string()))?;
            Ok(encode_any(&downgrade(any)?))
        })
        .collect()
}

/// One LDS resource for a client of `version`: the listener's own part and its shared part
/// (downgraded once for all v2 clients) as one `Any`.
fn encode_listener(
    l: &EncodedListener,
    version: XdsVersion,
) -> Result<EncodedResource, DowngradeError> {
    let type_url = type_url(ResourceKind::Listener, version);
    let shared = match (&l.shared, version) {
        (None, _) => Bytes::new(),
        (Some(s), XdsVersion::V3) => s.v3.clone(),
        (Some(s), XdsVersion::V2) => match s.v2.get() {
            Some(b) => b.clone(),
            None => {
                let b = downgrade_listener_part(&s.v3)?;
                // A concurrent first use may have set it meanwhile; both are equal.
                let _ = s.v2.set(b.clone());
                b
            }
        },
    };
    let own = match version {
        XdsVersion::V3 => l.own.clone(),
        XdsVersion::V2 if l.own.is_empty() => Bytes::new(),
        XdsVersion::V2 => downgrade_listener_part(&l.own)?,
    };
    Ok(encode_any_parts(type_url, &[&own, &shared]))
}

/// The v2 encoding of (part of) a v3 `Listener` message.
fn downgrade_listener_part(v3: &[u8]) -> Result<Bytes, DowngradeError> {
    let any = downgrade(prost_types::Any {
        type_url: V3_LISTENER.to_owned(),
        value: v3.to_vec(),
    })?;
    Ok(Bytes::from(any.value))
}

/// Encodes v3 messages as `Any`s.
fn encode_all<'a, M: Message + 'a>(
    v3_type_url: &str,
    msgs: impl Iterator<Item = &'a M>,
) -> Vec<EncodedResource> {
    crate::networking::core::encode_any_all(v3_type_url, msgs)
}

/// Marker types for the two ADS services.
pub trait AdsApi: Send + Sync + 'static {
    const VERSION: XdsVersion;
    const NAME: &'static str;
    const STREAM_PATH: &'static str;
    const DELTA_PATH: &'static str;
}

#[derive(Debug, Clone, Copy)]
pub struct V2;
#[derive(Debug, Clone, Copy)]
pub struct V3;

impl AdsApi for V2 {
    const VERSION: XdsVersion = XdsVersion::V2;
    const NAME: &'static str = "envoy.service.discovery.v2.AggregatedDiscoveryService";
    const STREAM_PATH: &'static str =
        "/envoy.service.discovery.v2.AggregatedDiscoveryService/StreamAggregatedResources";
    const DELTA_PATH: &'static str =
        "/envoy.service.discovery.v2.AggregatedDiscoveryService/DeltaAggregatedResources";
}

impl AdsApi for V3 {
    const VERSION: XdsVersion = XdsVersion::V3;
    const NAME: &'static str = "envoy.service.discovery.v3.AggregatedDiscoveryService";
    const STREAM_PATH: &'static str =
        "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources";
    const DELTA_PATH: &'static str =
        "/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources";
}

/// The ADS gRPC service of one API version.
#[derive(Debug)]
pub struct AdsService<A> {
    server: Arc<DiscoveryServer>,
    _api: std::marker::PhantomData<A>,
}

impl<A> Clone for AdsService<A> {
    fn clone(&self) -> Self {
        AdsService {
            server: self.server.clone(),
            _api: std::marker::PhantomData,
        }
    }
}

impl<A: AdsApi> AdsService<A> {
    pub fn new(server: Arc<DiscoveryServer>) -> Self {
        AdsService {
            server,
            _api: std::marker::PhantomData,
        }
    }
}

impl<A: AdsApi> NamedService for AdsService<A> {
    const NAME: &'static str = A::NAME;
}

fn status_response(status: Status) -> http::Response<tonic::body::Body> {
    status.into_http()
}

impl<A: AdsApi, B> Service<http::Request<B>> for AdsService<A>
where
    B: Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Infallible>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let path = req.uri().path().to_owned();
        let server = self.server.clone();
        Box::pin(async move {
            if path == A::STREAM_PATH {
                let peer = req
                    .extensions()
                    .get::<tonic::transport::server::TcpConnectInfo>()
                    .and_then(|i| i.remote_addr());
                let requests = RequestStream::new(tonic::body::Body::new(req.into_body()));
                let rx = server.stream_aggregated_resources(A::VERSION, peer, requests);
                let mut resp = http::Response::new(tonic::body::Body::new(ResponseBody::new(rx)));
                resp.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static("application/grpc"),
                );
                Ok(resp)
            } else if path == A::DELTA_PATH {
                Ok(status_response(Status::unimplemented("not implemented")))
            } else {
                Ok(status_response(Status::unimplemented(format!(
                    "unknown method {path}"
                ))))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_watch_lists_share_one_copy() {
        let i = NameInterner::default();
        let a = i.intern(vec!["x".into(), "y".into()]);
        let b = i.intern(vec!["x".into(), "y".into()]);
        let c = i.intern(vec!["x".into()]);
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
        drop((a, b, c));
        i.sweep();
        assert!(i.lists.lock().unwrap().is_empty());
    }

    #[test]
    fn enqueue_merges_pending_pushes() {
        let con = Connection {
            con_id: "n-1".into(),
            peer_addr: "127.0.0.1:1".into(),
            connect_time: SystemTime::now(),
            transport: XdsVersion::V3,
            proxy: RwLock::new(Arc::new(
                Proxy::parse(
                    "sidecar~1.1.1.1~a.ns~ns.svc.cluster.local",
                    NodeMetadata::default(),
                )
                .unwrap(),
            )),
            node_locality: None,
            state: Mutex::new(Default::default()),
            pending: Mutex::new(None),
            notify: Notify::new(),
            close: CancellationToken::new(),
        };
        con.enqueue(PushRequest::eds(["a".to_string()]));
        con.enqueue(PushRequest::eds(["b".to_string()]));
        let (req, _) = con.take_pending().unwrap();
        assert!(!req.full);
        assert_eq!(req.eds_updates.len(), 2);
        assert!(con.take_pending().is_none());
        con.enqueue(PushRequest::eds(["a".to_string()]));
        con.enqueue(PushRequest::full());
        assert!(con.take_pending().unwrap().0.full);
    }
}
