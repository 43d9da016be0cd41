//! Integration tests of the xDS server: a real tonic server on 127.0.0.1:0 and scripted ADS
//! clients (v2 and v3) that check watches, ACK/NACK, nonces, versions and pushes.

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use envoy_types::pb::envoy::config::listener::v3::Listener;
use envoy_types::pb::envoy::config::route::v3::{RouteConfiguration, VirtualHost};
use envoy_types::pb::envoy::service::discovery::v3::{DiscoveryRequest, DiscoveryResponse};
use envoy_types::pb::google::rpc::Status as RpcStatus;
use prost::Message;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::transport::{Channel, Endpoint};
use tonic::Code;

use istio_api::istio::mesh::v1alpha1::{MeshConfig, MeshNetworks};
use istio_pilot::features::Features;
use istio_pilot::model::service::{Port, PortList, Resolution, ServiceAttributes};
use istio_pilot::model::{
    ConfigStore, Environment, Event, IstioEndpoint, Proxy, PushContext, Service, ServiceDiscovery,
    ServiceInstance, StoreError, XdsUpdater,
};
use istio_pilot::networking::core::{ConfigGenerator, ResourceKind};
use istio_pilot::proxy::envoy::v2::DiscoveryServer;
use istio_pkg::config::labels;
use istio_pkg::config::model::Config;
use istio_pkg::config::protocol::Instance as Protocol;
use istio_pkg::config::schema::Kind;

mod ads_client;
use ads_client::*;

// ---------------------------------------------------------------------------------------------
// In-test registry, config store and generator.

#[derive(Default)]
struct FakeRegistry {
    services: Mutex<Vec<Arc<Service>>>,
    /// Service instances by workload IP.
    instances: Mutex<HashMap<String, Vec<ServiceInstance>>>,
}

impl FakeRegistry {
    fn add(&self, svc: Service) {
        self.services.lock().unwrap().push(Arc::new(svc));
    }
}

impl ServiceDiscovery for FakeRegistry {
    fn services(&self) -> Vec<Arc<Service>> {
        self.services.lock().unwrap().clone()
    }
    fn get_service(&self, hostname: &str) -> Option<Arc<Service>> {
        self.services().into_iter().find(|s| s.hostname == hostname)
    }
    fn instances_by_port(
        &self,
        _svc: &Service,
        _port: u32,
        _labels: &labels::Collection,
    ) -> Vec<ServiceInstance> {
        Vec::new()
    }
    fn get_proxy_service_instances(&self, proxy: &Proxy) -> Vec<ServiceInstance> {
        self.instances
            .lock()
            .unwrap()
            .get(proxy.ip())
            .cloned()
            .unwrap_or_default()
    }
    fn get_proxy_workload_labels(&self, _proxy: &Proxy) -> labels::Collection {
        labels::Collection::default()
    }
    fn get_istio_service_accounts(&self, _svc: &Service, _ports: &[u32]) -> Vec<String> {
        Vec::new()
    }
}

/// A read-only store of DestinationRules.
#[derive(Default)]
struct RuleStore {
    configs: Mutex<Vec<Arc<Config>>>,
}

impl ConfigStore for RuleStore {
    fn kinds(&self) -> Vec<Kind> {
        vec![Kind::DestinationRule]
    }
    fn get(&self, _kind: Kind, _name: &str, _namespace: &str) -> Option<Arc<Config>> {
        None
    }
    fn list(&self, kind: Kind, _ns: Option<&str>) -> Result<Vec<Arc<Config>>, StoreError> {
        if kind == Kind::DestinationRule {
            Ok(self.configs.lock().unwrap().clone())
        } else {
            Err(StoreError::UnknownKind { kind })
        }
    }
    fn create(&self, c: Config) -> Result<String, StoreError> {
        Err(StoreError::ReadOnly {
            kind: c.meta.kind,
            key: c.meta.key(),
        })
    }
    fn update(&self, c: Config) -> Result<String, StoreError> {
        self.create(c)
    }
    fn delete(&self, kind: Kind, name: &str, _ns: &str) -> Result<(), StoreError> {
        Err(StoreError::ReadOnly {
            kind,
            key: name.into(),
        })
    }
}

/// Clusters `outbound|<port>||<host>` for every service port, one listener per port, one
/// route configuration per requested name. Counts its calls.
#[derive(Default)]
struct FakeGenerator {
    cluster_builds: AtomicUsize,
    listener_builds: AtomicUsize,
    route_builds: AtomicUsize,
    /// Bytes of padding per cluster (to make responses big).
    pad: AtomicUsize,
}

impl ConfigGenerator for FakeGenerator {
    fn build_clusters(&self, _proxy: &Proxy, push: &PushContext) -> Vec<Cluster> {
        self.cluster_builds.fetch_add(1, Ordering::SeqCst);
        let pad = "x".repeat(self.pad.load(Ordering::SeqCst));
        push.all_services()
            .iter()
            .flat_map(|s| {
                let pad = pad.clone();
                s.ports.iter().map(move |p| Cluster {
                    name: format!("outbound|{}||{}", p.port, s.hostname),
                    alt_stat_name: pad.clone(),
                    ..Default::default()
                })
            })
            .collect()
    }
    fn build_listeners(&self, _proxy: &Proxy, push: &PushContext) -> Vec<Listener> {
        self.listener_builds.fetch_add(1, Ordering::SeqCst);
        let mut ports: Vec<u32> = push
            .all_services()
            .iter()
            .flat_map(|s| s.ports.iter().map(|p| p.port))
            .collect();
        ports.sort();
        ports.dedup();
        ports
            .into_iter()
            .map(|p| Listener {
                name: format!("0.0.0.0_{p}"),
                ..Default::default()
            })
            .collect()
    }
    fn build_http_routes(
        &self,
        _proxy: &Proxy,
        push: &PushContext,
        route_names: &[String],
    ) -> Vec<RouteConfiguration> {
        self.route_builds.fetch_add(1, Ordering::SeqCst);
        route_names
            .iter()
            .map(|n| RouteConfiguration {
                name: n.clone(),
                virtual_hosts: push
                    .all_services()
                    .iter()
                    .map(|s| VirtualHost {
                        name: s.hostname.clone(),
                        domains: vec![s.hostname.clone()],
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect()
    }
    fn scope_key(&self, kind: ResourceKind, proxy: &Proxy, _push: &PushContext) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        kind.hash(&mut h);
        proxy.config_namespace.hash(&mut h);
        h.finish()
    }
}

fn service(name: &str, ns: &str, ports: &[(&str, u32)]) -> Service {
    Service {
        hostname: format!("{name}.{ns}.svc.cluster.local"),
        address: "10.96.0.10".into(),
        cluster_vips: BTreeMap::new(),
        ports: PortList(
            ports
                .iter()
                .map(|(n, p)| Port {
                    name: (*n).into(),
                    port: *p,
                    protocol: Protocol::Http,
                })
                .collect(),
        ),
        service_accounts: vec![],
        creation_time: 0,
        resolution: Resolution::ClientSideLb,
        mesh_external: false,
        attributes: ServiceAttributes {
            service_registry: "Kubernetes".into(),
            name: name.into(),
            namespace: ns.into(),
            ..Default::default()
        },
    }
}

fn endpoint(ip: &str, port_name: &str) -> IstioEndpoint {
    IstioEndpoint {
        address: ip.into(),
        endpoint_port: 8080,
        service_port_name: port_name.into(),
        uid: format!("kubernetes://{ip}"),
        locality: "us-east1/b".into(),
        tls_mode: "istio".into(),
        ..Default::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Server and client harness.

struct Harness {
    server: Arc<DiscoveryServer>,
    registry: Arc<FakeRegistry>,
    store: Arc<RuleStore>,
    generator: Arc<FakeGenerator>,
    addr: std::net::SocketAddr,
    shutdown: CancellationToken,
    metrics: Arc<Mutex<prometheus_client::registry::Registry>>,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl Harness {
    async fn start() -> Harness {
        Self::start_with(|_| {}).await
    }

    async fn start_with(tweak: impl FnOnce(&mut Features)) -> Harness {
        let registry = Arc::new(FakeRegistry::default());
        registry.add(service("reviews", "default", &[("http", 9080)]));
        registry.add(service(
            "ratings",
            "default",
            &[("http", 9080), ("grpc", 7070)],
        ));
        let store = Arc::new(RuleStore::default());
        let env = Arc::new(Environment::new(
            registry.clone(),
            store.clone(),
            MeshConfig::default(),
            MeshNetworks::default(),
            "cluster.local",
        ));
        let generator = Arc::new(FakeGenerator::default());
        let mut features = Features {
            debounce_after: Duration::from_millis(10),
            debounce_max: Duration::from_millis(200),
            ..Features::default()
        };
        tweak(&mut features);
        let mut reg = prometheus_client::registry::Registry::default();
        let server = DiscoveryServer::new(env, generator.clone(), features, &mut reg);
        let shutdown = CancellationToken::new();
        server.start(shutdown.clone());
        server.eds_update(
            "Kubernetes",
            "reviews.default.svc.cluster.local",
            "default",
            vec![endpoint("10.1.0.1", "http"), endpoint("10.1.0.2", "http")],
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let routes = server.grpc_routes();
        let sd = shutdown.clone();
        tokio::spawn(async move {
            tonic::transport::Server::builder()
                .add_routes(routes)
                .serve_with_incoming_shutdown(
                    tokio_stream::wrappers::TcpListenerStream::new(listener),
                    sd.cancelled_owned(),
                )
                .await
                .unwrap();
        });
        let h = Harness {
            server,
            registry,
            store,
            generator,
            addr,
            shutdown,
            metrics: Arc::new(Mutex::new(reg)),
        };
        // Let the first EDS update (a new service: full push) settle.
        h.wait_for_push().await;
        h
    }

    async fn wait_for_push(&self) {
        tokio::time::sleep(Duration::from_millis(150)).await;
    }

    async fn channel(&self) -> Channel {
        Endpoint::from_shared(format!("http://{}", self.addr))
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    async fn connect(&self, api: Api, node_id: &str) -> AdsClient {
        AdsClient::connect(self.channel().await, api, node_id).await
    }

    fn metrics_text(&self) -> String {
        // What /metrics serves.
        istio_pkg::monitoring::encode(&self.metrics.lock().unwrap())
    }

    fn metric(&self, line_prefix: &str) -> Option<f64> {
        self.metrics_text()
            .lines()
            .find(|l| l.starts_with(line_prefix) && l[line_prefix.len()..].starts_with(' '))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    }
}

const REVIEWS: &str = "outbound|9080||reviews.default.svc.cluster.local";
const RATINGS: &str = "outbound|9080||ratings.default.svc.cluster.local";

// ---------------------------------------------------------------------------------------------
// Tests.

async fn initial_fetch_ack(api: Api) {
    let h = Harness::start().await;
    let mut c = h.connect(api, &sidecar("10.1.0.1", "default")).await;
    let rs = c.initial_fetch().await;
    let version = h.server.push_context().version.clone();
    for (r, url) in rs.iter().zip(api.urls()) {
        assert_eq!(r.type_url, url);
        assert_eq!(r.version_info, version);
        assert!(!r.nonce.is_empty());
        for a in &r.resources {
            assert_eq!(a.type_url, url, "resource Any type URL");
        }
    }
    let mut nonces: Vec<&str> = rs.iter().map(|r| r.nonce.as_str()).collect();
    nonces.sort();
    nonces.dedup();
    assert_eq!(nonces.len(), 4, "nonces must be unique");
    assert_eq!(
        cluster_names(&rs[0]),
        vec![
            "outbound|9080||ratings.default.svc.cluster.local",
            "outbound|7070||ratings.default.svc.cluster.local",
            REVIEWS
        ]
    );
    // EDS: both reviews endpoints, one locality with the summed weight and upstream metadata.
    let reviews = cla(&rs[1], REVIEWS);
    assert_eq!(reviews.endpoints.len(), 1);
    let loc = &reviews.endpoints[0];
    assert_eq!(loc.locality.as_ref().unwrap().region, "us-east1");
    assert_eq!(loc.locality.as_ref().unwrap().zone, "b");
    assert_eq!(loc.lb_endpoints.len(), 2);
    assert_eq!(loc.load_balancing_weight.as_ref().unwrap().value, 2);
    let md = loc.lb_endpoints[0].metadata.as_ref().unwrap();
    assert!(md.filter_metadata.contains_key("istio"));
    assert!(md
        .filter_metadata
        .contains_key("envoy.transport_socket_match"));
    // Clusters without endpoints get an empty assignment.
    assert!(cla(&rs[1], RATINGS).endpoints.is_empty());
    assert_eq!(
        rs[2].resources.len(),
        2,
        "listeners 0.0.0.0_7070 and 0.0.0.0_9080"
    );
    let rc = RouteConfiguration::decode(rs[3].resources[0].value.as_slice()).unwrap();
    assert_eq!(rc.name, "9080");
    // ACKs are not answered.
    c.expect_silence(Duration::from_millis(300)).await;
    // The ACKs were recorded.
    let con = h.server.connections();
    assert_eq!(con.len(), 1);
    let st = con[0].type_state(ResourceKind::Cluster);
    assert_eq!(st.nonce_acked, rs[0].nonce);
    assert_eq!(st.version_acked, version);
    assert_eq!(h.metric("pilot_xds"), Some(1.0));
}

#[tokio::test]
async fn v3_initial_fetch_and_ack() {
    initial_fetch_ack(Api::V3).await;
}

#[tokio::test]
async fn v2_initial_fetch_and_ack() {
    initial_fetch_ack(Api::V2).await;
}

#[tokio::test]
async fn v3_works_with_the_generated_envoy_client() {
    use envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_client::AggregatedDiscoveryServiceClient;
    let h = Harness::start().await;
    let mut client = AggregatedDiscoveryServiceClient::new(h.channel().await);
    let (tx, rx) = mpsc::channel(4);
    tx.send(DiscoveryRequest {
        node: Some(node(&sidecar("10.1.0.9", "default"))),
        type_url: V3_CDS.into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let mut stream = client
        .stream_aggregated_resources(ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    let r = stream.message().await.unwrap().unwrap();
    assert_eq!(r.type_url, V3_CDS);
    assert_eq!(r.resources.len(), 3);
    // Delta ADS is not implemented, as upstream.
    let (_dtx, drx) = mpsc::channel(1);
    let err = client
        .delta_aggregated_resources(ReceiverStream::new(drx))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unimplemented);
}

async fn nack_is_counted_not_answered(api: Api) {
    let h = Harness::start().await;
    let mut c = h.connect(api, &sidecar("10.1.0.1", "default")).await;
    c.request(api.cds(), &[]).await;
    let cds = c.recv_type(api.cds()).await;
    c.send(DiscoveryRequest {
        type_url: api.cds().into(),
        response_nonce: cds.nonce.clone(),
        error_detail: Some(RpcStatus {
            code: Code::InvalidArgument as i32,
            message: "bad cluster".into(),
            details: vec![],
        }),
        ..Default::default()
    })
    .await;
    c.expect_silence(Duration::from_millis(400)).await;
    assert_eq!(h.metric("pilot_total_xds_rejects"), Some(1.0));
    let text = h.metrics_text();
    assert!(
        text.contains(
            "pilot_xds_cds_reject{node=\"app-10.1.0.1.default\",err=\"InvalidArgument\"} 1"
        ),
        "{text}"
    );
    // The NACK did not count as an ACK.
    let con = h.server.connections();
    assert_eq!(con[0].type_state(ResourceKind::Cluster).nonce_acked, "");
}

#[tokio::test]
async fn v3_nack_is_counted_and_not_answered() {
    nack_is_counted_not_answered(Api::V3).await;
}

#[tokio::test]
async fn v2_nack_is_counted_and_not_answered() {
    nack_is_counted_not_answered(Api::V2).await;
}

#[tokio::test]
async fn config_change_is_pushed_to_every_proxy_in_order() {
    let h = Harness::start().await;
    let mut clients = Vec::new();
    for (i, api) in [Api::V2, Api::V3, Api::V2, Api::V3].into_iter().enumerate() {
        let mut c = h
            .connect(api, &sidecar(&format!("10.2.0.{i}"), "default"))
            .await;
        c.initial_fetch().await;
        clients.push(c);
    }
    let builds_before = h.generator.cluster_builds.load(Ordering::SeqCst);
    h.registry
        .add(service("details", "default", &[("http", 9080)]));
    h.server.svc_update(
        "Kubernetes",
        "details.default.svc.cluster.local",
        "default",
        Event::Add,
    );
    for c in &mut clients {
        let api = c.api;
        let cds = c.recv_type(api.cds()).await;
        assert!(cluster_names(&cds)
            .contains(&"outbound|9080||details.default.svc.cluster.local".to_string()));
        c.ack(&cds, &[]).await;
        let eds = c.recv_type(api.eds()).await;
        c.ack(&eds, &[]).await;
        let lds = c.recv_type(api.lds()).await;
        c.ack(&lds, &[]).await;
        let rds = c.recv_type(api.rds()).await;
        let rc = RouteConfiguration::decode(rds.resources[0].value.as_slice()).unwrap();
        assert_eq!(rc.virtual_hosts.len(), 3);
        assert_eq!(cds.version_info, rds.version_info);
        assert_eq!(cds.version_info, h.server.push_context().version);
    }
    // Four proxies of one namespace, v2 and v3: CDS is shared. The cache holds a response
    // weakly until a second proxy asks for it, so it is built at most once more if the first
    // copy was already sent and freed; never once per proxy.
    let builds = h.generator.cluster_builds.load(Ordering::SeqCst) - builds_before;
    assert!(
        (1..=2).contains(&builds),
        "CDS must be shared by the scope, built {builds} times"
    );
}

#[tokio::test]
async fn endpoint_change_is_pushed_as_eds_only() {
    let h = Harness::start().await;
    let mut a = h.connect(Api::V3, &sidecar("10.3.0.1", "default")).await;
    let mut b = h.connect(Api::V2, &sidecar("10.3.0.2", "default")).await;
    a.initial_fetch().await;
    b.initial_fetch().await;
    // A client that watches only ratings gets nothing for a reviews change.
    let mut other = h.connect(Api::V3, &sidecar("10.3.0.3", "default")).await;
    other.request(V3_EDS, &[RATINGS]).await;
    let r = other.recv_type(V3_EDS).await;
    other.ack(&r, &[RATINGS]).await;

    let builds_before = h.generator.cluster_builds.load(Ordering::SeqCst);
    h.server.eds_update(
        "Kubernetes",
        "reviews.default.svc.cluster.local",
        "default",
        vec![
            endpoint("10.1.0.1", "http"),
            endpoint("10.1.0.3", "http"),
            endpoint("10.1.0.4", "http"),
        ],
    );
    for c in [&mut a, &mut b] {
        let api = c.api;
        let eds = c.recv_type(api.eds()).await;
        assert_eq!(eds.resources.len(), 1, "only the changed cluster");
        let reviews = cla(&eds, REVIEWS);
        assert_eq!(reviews.endpoints[0].lb_endpoints.len(), 3);
        c.ack(&eds, &[]).await;
        c.expect_silence(Duration::from_millis(200)).await;
    }
    other.expect_silence(Duration::from_millis(100)).await;
    assert_eq!(
        h.generator.cluster_builds.load(Ordering::SeqCst),
        builds_before,
        "no CDS rebuild"
    );
}

#[tokio::test]
async fn reconnect_gets_a_fresh_connection() {
    let h = Harness::start().await;
    let id = sidecar("10.4.0.1", "default");
    let mut c = h.connect(Api::V3, &id).await;
    c.initial_fetch().await;
    assert_eq!(h.server.connection_count(), 1);
    drop(c);
    for _ in 0..50 {
        if h.server.connection_count() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(h.server.connection_count(), 0);
    assert_eq!(h.metric("pilot_xds"), Some(0.0));
    let mut c = h.connect(Api::V2, &id).await;
    let rs = c.initial_fetch().await;
    assert_eq!(rs[0].type_url, V2_CDS);
    assert_eq!(h.server.connection_count(), 1);
}

#[tokio::test]
async fn bad_node_id_closes_the_stream_with_invalid_argument() {
    let h = Harness::start().await;
    for api in [Api::V2, Api::V3] {
        let mut c = h.connect(api, "not-a-node-id").await;
        c.request(api.cds(), &[]).await;
        let s = c.status().await;
        assert_eq!(s.code(), Code::InvalidArgument);
        assert!(s.message().contains("not-a-node-id"), "{}", s.message());
        // No node at all.
        let (tx, rx) = AdsClient::open(h.channel().await, api).await;
        tx.send(DiscoveryRequest {
            type_url: api.cds().into(),
            ..Default::default()
        })
        .await
        .unwrap();
        let mut rx = rx.unwrap();
        let s = rx.message().await.unwrap_err();
        assert_eq!(s.code(), Code::InvalidArgument);
        assert!(s.message().contains("node"), "{}", s.message());
    }
    assert_eq!(h.server.connection_count(), 0);
}

#[tokio::test]
async fn unknown_type_url_is_ignored() {
    let h = Harness::start().await;
    let mut c = h.connect(Api::V2, &sidecar("10.5.0.1", "default")).await;
    c.request("type.googleapis.com/envoy.api.v2.auth.Secret", &["default"])
        .await;
    c.expect_silence(Duration::from_millis(200)).await;
    c.request(V2_CDS, &[]).await;
    c.recv_type(V2_CDS).await;
}

#[tokio::test]
async fn stale_nonce_is_ignored() {
    let h = Harness::start().await;
    let mut c = h.connect(Api::V3, &sidecar("10.5.0.2", "default")).await;
    c.initial_fetch().await;
    // An EDS request with a nonce we never sent and new names: ignored.
    c.send(DiscoveryRequest {
        type_url: V3_EDS.into(),
        response_nonce: "stale".into(),
        resource_names: vec![REVIEWS.into()],
        ..Default::default()
    })
    .await;
    c.expect_silence(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn malformed_request_bytes_end_the_stream_with_a_status() {
    let h = Harness::start().await;
    for api in [Api::V2, Api::V3] {
        let (tx, rx) = mpsc::channel::<bytes::Bytes>(1);
        let mut grpc = tonic::client::Grpc::new(h.channel().await);
        grpc.ready().await.unwrap();
        // 0xff is not a valid protobuf key.
        tx.send(bytes::Bytes::from_static(&[0xff, 0xff, 0xff]))
            .await
            .unwrap();
        let resp = grpc
            .streaming(
                tonic::Request::new(ReceiverStream::new(rx)),
                http::uri::PathAndQuery::from_static(api.path()),
                RawCodec,
            )
            .await;
        let status = match resp {
            Err(s) => s,
            Ok(r) => {
                let mut s = r.into_inner();
                match tokio::time::timeout(Duration::from_secs(5), s.message()).await {
                    Ok(Err(s)) => s,
                    other => panic!("expected a status, got {other:?}"),
                }
            }
        };
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    }
}

#[tokio::test]
async fn slow_client_does_not_stall_the_others() {
    let h = Harness::start_with(|f| f.push_throttle = 2).await;
    h.server.set_send_timeout(Duration::from_millis(300));
    // ~150 KB per CDS response, more than the HTTP/2 window.
    h.generator.pad.store(50_000, Ordering::SeqCst);
    h.server.clear_cache();
    h.wait_for_push().await;

    // A small HTTP/2 window, so that the unread responses back up quickly.
    let small = Endpoint::from_shared(format!("http://{}", h.addr))
        .unwrap()
        .initial_stream_window_size(65_535)
        .initial_connection_window_size(65_535)
        .connect()
        .await
        .unwrap();
    let mut slow = AdsClient::connect(small, Api::V3, &sidecar("10.6.0.1", "default")).await;
    slow.request(V3_CDS, &[]).await;
    // The slow client never reads again.
    let mut fast = h.connect(Api::V2, &sidecar("10.6.0.2", "default")).await;
    fast.request(V2_CDS, &[]).await;
    let cds = fast.recv_type(V2_CDS).await;
    fast.ack(&cds, &[]).await;
    let started = std::time::Instant::now();
    for i in 0..12 {
        h.server.clear_cache();
        let cds = fast.recv_type(V2_CDS).await;
        fast.ack(&cds, &[]).await;
        assert!(cds.resources.len() == 3, "push {i}");
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "fast client was stalled"
    );
    for _ in 0..50 {
        if h.server.connection_count() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        h.server.connection_count(),
        1,
        "the slow connection must be closed"
    );
    assert!(h.metric("pilot_xds_write_timeout").unwrap_or(0.0) >= 1.0);
    drop(slow);
}

#[tokio::test]
async fn proxy_update_pushes_only_that_proxy_and_refreshes_its_instances() {
    let h = Harness::start().await;
    let mut a = h.connect(Api::V3, &sidecar("10.7.0.1", "default")).await;
    let mut b = h.connect(Api::V3, &sidecar("10.7.0.2", "default")).await;
    a.initial_fetch().await;
    b.initial_fetch().await;
    let svc = h
        .registry
        .get_service("reviews.default.svc.cluster.local")
        .unwrap();
    h.registry.instances.lock().unwrap().insert(
        "10.7.0.1".into(),
        vec![ServiceInstance {
            service_port: svc.ports.0[0].clone(),
            service: svc,
            endpoint: endpoint("10.7.0.1", "http"),
        }],
    );
    h.server.proxy_update("", "10.7.0.1");
    a.recv_type(V3_CDS).await;
    b.expect_silence(Duration::from_millis(200)).await;
    let con = h
        .server
        .connections()
        .into_iter()
        .find(|c| c.proxy().ip() == "10.7.0.1")
        .unwrap();
    assert_eq!(con.proxy().service_instances.len(), 1);
    assert_eq!(con.proxy().locality, "us-east1/b");
}

#[tokio::test]
async fn debug_endpoints() {
    use axum::body::Body;
    use tower::ServiceExt;
    let h = Harness::start().await;
    let mut c = h.connect(Api::V3, &sidecar("10.8.0.1", "default")).await;
    c.initial_fetch().await;
    let get = |path: &'static str| {
        let router = h.server.debug_router();
        async move {
            let resp = router
                .oneshot(http::Request::get(path).body(Body::empty()).unwrap())
                .await
                .unwrap();
            let status = resp.status();
            let body = axum::body::to_bytes(resp.into_body(), 1 << 24)
                .await
                .unwrap();
            (status, String::from_utf8(body.to_vec()).unwrap())
        }
    };
    let (st, body) = get("/debug/syncz").await;
    assert_eq!(st, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v[0]["proxy"], "app-10.8.0.1.default");
    assert_eq!(v[0]["cluster_sent"], v[0]["cluster_acked"]);
    let (st, body) = get("/debug/edsz").await;
    assert_eq!(st, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let reviews = v
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["clusterName"] == REVIEWS)
        .unwrap();
    assert_eq!(
        reviews["endpoints"][0]["lbEndpoints"][0]["endpoint"]["address"]["socketAddress"]
            ["portValue"],
        8080
    );
    let (st, body) = get("/debug/endpointShardz").await;
    assert_eq!(st, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v["reviews.default.svc.cluster.local"]["default"]["Shards"]["Kubernetes"][1]["Address"],
        "10.1.0.2"
    );
    let (st, body) = get("/debug/adsz").await;
    assert_eq!(st, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(v[0]["node"]
        .as_str()
        .unwrap()
        .starts_with("sidecar~10.8.0.1~"));
    let (st, body) = get("/debug/registryz").await;
    assert_eq!(st, 200);
    assert!(
        body.contains("\"hostname\": \"ratings.default.svc.cluster.local\""),
        "{body}"
    );
    let (st, body) = get("/v1/registration").await;
    assert_eq!(st, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v[0]["service-key"],
        "ratings.default.svc.cluster.local|grpc"
    );
    let (st, _) = get("/debug/config_dump").await;
    assert_eq!(st, 400);
    let (st, body) = get("/debug/config_dump?proxyID=app-10.9.9.9.default").await;
    assert_eq!(st, 404, "{body}");
    // The proxy's config as an Envoy v2alpha admin dump, rendered as jsonpb.
    let (st, body) = get("/debug/config_dump?proxyID=app-10.8.0.1.default").await;
    assert_eq!(st, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let configs = v["configs"].as_array().unwrap();
    let types: Vec<&str> = configs
        .iter()
        .map(|c| c["@type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "type.googleapis.com/envoy.admin.v2alpha.BootstrapConfigDump",
            "type.googleapis.com/envoy.admin.v2alpha.ClustersConfigDump",
            "type.googleapis.com/envoy.admin.v2alpha.ListenersConfigDump",
            "type.googleapis.com/envoy.admin.v2alpha.RoutesConfigDump",
        ]
    );
    let clusters: Vec<&str> = configs[1]["dynamicActiveClusters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["cluster"]["name"].as_str().unwrap())
        .collect();
    assert!(clusters.contains(&REVIEWS), "{clusters:?}");
    assert_eq!(
        configs[2]["dynamicActiveListeners"][0]["listener"]["name"],
        "0.0.0.0_7070"
    );
    assert_eq!(
        configs[3]["dynamicRouteConfigs"][0]["routeConfig"]["name"],
        "9080"
    );
    let (st, _) = get("/ready").await;
    assert_eq!(st, 200);
    h.server.add_ready_check(|| false);
    let (st, _) = get("/ready").await;
    assert_eq!(st, 503);
    let (st, body) = get("/debug/push_status").await;
    assert_eq!(st, 200);
    assert!(body.contains("pilot_eds_no_instances"), "{body}");
}

/// With PILOT_DEBUG_ADSZ_CONFIG, /debug/adsz and /debug/cdsz show each connection's resources
/// (v2 jsonpb); without it (the test above) they list connections only.
#[tokio::test]
async fn adsz_with_configs() {
    use axum::body::Body;
    use tower::ServiceExt;
    let h = Harness::start_with(|f| f.debug_configs = true).await;
    let mut c = h.connect(Api::V2, &sidecar("10.8.0.2", "default")).await;
    c.initial_fetch().await;
    for (path, key) in [("/debug/adsz", "clusters"), ("/debug/cdsz", "Clusters")] {
        let resp = h
            .server
            .debug_router()
            .oneshot(http::Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let body = axum::body::to_bytes(resp.into_body(), 1 << 24)
            .await
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let names: Vec<&str> = v[0][key]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert!(names.contains(&REVIEWS), "{path}: {names:?}");
        if key == "clusters" {
            assert_eq!(v[0]["listeners"][0]["name"], "0.0.0.0_7070");
            assert_eq!(v[0]["RDSRoutes"][0]["name"], "9080");
        }
    }
}

/// Sends raw bytes as the request message.
#[derive(Clone, Copy, Default)]
struct RawCodec;

impl tonic::codec::Codec for RawCodec {
    type Encode = bytes::Bytes;
    type Decode = DiscoveryResponse;
    type Encoder = RawCodec;
    type Decoder = tonic_prost::ProstDecoder<DiscoveryResponse>;
    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }
    fn decoder(&mut self) -> Self::Decoder {
        tonic_prost::ProstCodec::<bytes::Bytes, DiscoveryResponse>::default().decoder()
    }
}

impl tonic::codec::Encoder for RawCodec {
    type Item = bytes::Bytes;
    type Error = tonic::Status;
    fn encode(
        &mut self,
        item: bytes::Bytes,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        use bytes::BufMut;
        dst.put_slice(&item);
        Ok(())
    }
}

#[tokio::test]
async fn subset_clusters_select_destination_rule_labels() {
    use istio_api::istio::networking::v1alpha3::{DestinationRule, Subset};
    use istio_pkg::config::model::{ConfigMeta, Spec};
    let h = Harness::start().await;
    let mut v1 = endpoint("10.9.0.1", "http");
    v1.labels.0.insert("version".into(), "v1".into());
    let mut v2 = endpoint("10.9.0.2", "http");
    v2.labels.0.insert("version".into(), "v2".into());
    h.server.eds_update(
        "Kubernetes",
        "reviews.default.svc.cluster.local",
        "default",
        vec![v1, v2],
    );
    h.store.configs.lock().unwrap().push(Arc::new(Config {
        meta: ConfigMeta::new(Kind::DestinationRule, "reviews", "default"),
        spec: Spec::DestinationRule(DestinationRule {
            host: "reviews".into(),
            subsets: vec![Subset {
                name: "v1".into(),
                labels: [("version".to_string(), "v1".to_string())].into(),
                ..Default::default()
            }],
            ..Default::default()
        }),
    }));
    h.server.clear_cache();
    h.wait_for_push().await;
    let mut c = h.connect(Api::V3, &sidecar("10.9.1.1", "default")).await;
    let subset = "outbound|9080|v1|reviews.default.svc.cluster.local";
    let unknown = "outbound|9080|v9|reviews.default.svc.cluster.local";
    c.request(V3_EDS, &[subset, unknown, REVIEWS]).await;
    let eds = c.recv_type(V3_EDS).await;
    let addrs = |name: &str| -> Vec<String> {
        cla(&eds, name).endpoints[0]
            .lb_endpoints
            .iter()
            .map(|e| match &e.host_identifier {
                Some(envoy_types::pb::envoy::config::endpoint::v3::lb_endpoint::HostIdentifier::Endpoint(ep)) => {
                    match ep.address.as_ref().and_then(|a| a.address.as_ref()) {
                        Some(envoy_types::pb::envoy::config::core::v3::address::Address::SocketAddress(sa)) => sa.address.clone(),
                        _ => String::new(),
                    }
                }
                _ => String::new(),
            })
            .collect()
    };
    assert_eq!(addrs(subset), vec!["10.9.0.1"]);
    // A subset the rule does not define selects every endpoint, as upstream.
    assert_eq!(addrs(unknown).len(), 2);
    assert_eq!(addrs(REVIEWS).len(), 2);
}

// ---------------------------------------------------------------------------------------------
// Scale: 1,000 services x 10 endpoints, 2,000 sidecars (ignored by default; run with
// `cargo test --release -p istio-pilot --test ads_server -- --ignored --nocapture scale`).
// The sidecars run in a child process (this test binary again), so the RSS measured is the
// server's.

const SCALE_SERVICES: usize = 1000;
const SCALE_ENDPOINTS: usize = 10;
const SCALE_SIDECARS: usize = 2000;

fn rss_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "load test, release build: make bench-pilot"]
async fn scale_2000_sidecars_1000_services() {
    use tokio::io::AsyncBufReadExt;
    let h = Harness::start().await;
    for i in 0..SCALE_SERVICES {
        let ns = format!("ns-{}", i % 10);
        h.registry
            .add(service(&format!("svc-{i}"), &ns, &[("http", 9080)]));
        let eps = (0..SCALE_ENDPOINTS)
            .map(|j| endpoint(&format!("10.{}.{}.{}", i / 250, i % 250, j + 1), "http"))
            .collect();
        h.server.eds_update(
            "Kubernetes",
            &format!("svc-{i}.{ns}.svc.cluster.local"),
            &ns,
            eds_with(eps),
        );
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let base = rss_kib("VmRSS:");
    let t0 = std::time::Instant::now();
    let mut child = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "scale_client_process",
            "--nocapture",
        ])
        .env("ADS_SCALE_ADDR", h.addr.to_string())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    loop {
        let line = tokio::time::timeout(Duration::from_secs(300), lines.next_line())
            .await
            .expect("clients did not get ready")
            .unwrap()
            .expect("client process ended");
        if line.contains("SCALE-READY") {
            break;
        }
    }
    let connected = t0.elapsed();
    assert_eq!(h.server.connection_count(), SCALE_SIDECARS);
    let after_connect = rss_kib("VmRSS:");
    let (builds0, _) = h.server.cache_stats();
    let cds_builds0 = h.generator.cluster_builds.load(Ordering::SeqCst);
    // A full push to everyone; wait until every proxy ACKed the new CDS and EDS.
    let t1 = std::time::Instant::now();
    h.server.clear_cache();
    tokio::time::sleep(Duration::from_millis(50)).await;
    loop {
        let version = h.server.push_context().version.clone();
        let done = h.server.connections().iter().all(|c| {
            let cds = c.type_state(ResourceKind::Cluster);
            let eds = c.type_state(ResourceKind::Endpoint);
            cds.version_acked == version && eds.version_acked == version
        });
        if done {
            break;
        }
        assert!(
            t1.elapsed() < Duration::from_secs(120),
            "push did not converge"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let converged = t1.elapsed();
    let (builds1, hits1) = h.server.cache_stats();
    println!(
        "scale: {SCALE_SERVICES} services x {SCALE_ENDPOINTS} endpoints, {SCALE_SIDECARS} sidecars: \
         connect+initial fetch {connected:?}; full push converged in {converged:?}; \
         RSS before clients {} MiB, after initial fetch {} MiB, after push {} MiB, peak {} MiB; \
         CDS generations for the push: {} (10 namespaces); cache builds {} hits {hits1}",
        base / 1024,
        after_connect / 1024,
        rss_kib("VmRSS:") / 1024,
        rss_kib("VmHWM:") / 1024,
        h.generator.cluster_builds.load(Ordering::SeqCst) - cds_builds0,
        builds1 - builds0,
    );
    let cds_builds = h.generator.cluster_builds.load(Ordering::SeqCst) - cds_builds0;
    assert!(
        (10..=20).contains(&cds_builds),
        "CDS shared per namespace scope (at most one rebuild each), built {cds_builds} times"
    );
    let _ = child.kill().await;
}

fn eds_with(eps: Vec<IstioEndpoint>) -> Vec<IstioEndpoint> {
    eps
}

/// The sidecars of the scale test (run as a child process by it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn scale_client_process() {
    let Ok(addr) = std::env::var("ADS_SCALE_ADDR") else {
        return;
    };
    let sem = Arc::new(tokio::sync::Semaphore::new(50));
    let (ready_tx, mut ready_rx) = mpsc::channel::<()>(SCALE_SIDECARS);
    for i in 0..SCALE_SIDECARS {
        let addr = addr.clone();
        let sem = sem.clone();
        let ready = ready_tx.clone();
        tokio::spawn(async move {
            let permit = sem.acquire_owned().await.unwrap();
            let ch = Endpoint::from_shared(format!("http://{addr}"))
                .unwrap()
                .connect()
                .await
                .unwrap();
            let ip = format!("10.200.{}.{}", i / 250, i % 250);
            let mut c =
                AdsClient::connect(ch, Api::V2, &sidecar(&ip, &format!("ns-{}", i % 10))).await;
            c.request(V2_CDS, &[]).await;
            let cds = c.recv_type(V2_CDS).await;
            c.ack(&cds, &[]).await;
            let names = cluster_names(&cds);
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            c.request(V2_EDS, &names).await;
            let eds = c.recv_type(V2_EDS).await;
            c.ack(&eds, &names).await;
            c.request(V2_LDS, &[]).await;
            let lds = c.recv_type(V2_LDS).await;
            c.ack(&lds, &[]).await;
            drop(permit);
            ready.send(()).await.unwrap();
            // Keep ACKing pushes, as Envoy does.
            while let Ok(Some(r)) = c.rx.message().await {
                let names: &[&str] = if r.type_url == V2_EDS { &names } else { &[] };
                c.ack(&r, names).await;
            }
        });
    }
    for _ in 0..SCALE_SIDECARS {
        ready_rx.recv().await.unwrap();
    }
    println!("SCALE-READY");
    std::future::pending::<()>().await;
}
