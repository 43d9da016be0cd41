//! e2e (`make e2e`): the whole pilot-discovery server against a real kube-apiserver. Services
//! and Endpoints created through the API reach a connected sidecar as CDS and EDS pushes;
//! deleting them removes them. The measured delays are printed (the budget is a second; the
//! assertions leave room for a loaded CI machine).

use std::time::{Duration, Instant};

use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use envoy_types::pb::envoy::config::core::v3::Node;
use envoy_types::pb::envoy::config::endpoint::v3::{lb_endpoint, ClusterLoadAssignment};
use envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_client::AggregatedDiscoveryServiceClient;
use envoy_types::pb::envoy::service::discovery::v3::{DiscoveryRequest, DiscoveryResponse};
use istio_pilot::bootstrap::cli::{self, Command};
use istio_pilot::bootstrap::server::Server;
use istio_test::TestEnv;
use k8s_openapi::api::core::v1::{Endpoints, Service};
use kube::api::{Api, DeleteParams, PostParams};
use prost::Message;
use serde_json::json;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::StreamExt;
use tokio_util::sync::CancellationToken;

const CDS: &str = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
const EDS: &str = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";

struct Sidecar {
    tx: mpsc::Sender<DiscoveryRequest>,
    rx: tonic::Streaming<DiscoveryResponse>,
    node: Node,
}

impl Sidecar {
    async fn connect(addr: std::net::SocketAddr, ns: &str) -> Sidecar {
        let mut client = AggregatedDiscoveryServiceClient::connect(format!("http://{addr}"))
            .await
            .expect("connect");
        let node = Node {
            id: format!("sidecar~10.99.0.1~e2e.{ns}~{ns}.svc.cluster.local"),
            ..Default::default()
        };
        let (tx, rx) = mpsc::channel(8);
        tx.send(DiscoveryRequest {
            node: Some(node.clone()),
            type_url: CDS.into(),
            ..Default::default()
        })
        .await
        .unwrap();
        let rx = client
            .stream_aggregated_resources(ReceiverStream::new(rx))
            .await
            .expect("ADS")
            .into_inner();
        Sidecar { tx, rx, node }
    }

    async fn send(&self, type_url: &str, names: &[String], ack_of: Option<&DiscoveryResponse>) {
        let (version, nonce) = ack_of
            .map(|r| (r.version_info.clone(), r.nonce.clone()))
            .unwrap_or_default();
        self.tx
            .send(DiscoveryRequest {
                node: Some(self.node.clone()),
                type_url: type_url.into(),
                resource_names: names.to_vec(),
                version_info: version,
                response_nonce: nonce,
                ..Default::default()
            })
            .await
            .unwrap();
    }

    /// Reads responses (ACKing each) until `done` accepts one, or `limit` passes.
    async fn until(
        &mut self,
        limit: Duration,
        mut done: impl FnMut(&DiscoveryResponse) -> bool,
    ) -> Option<DiscoveryResponse> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let r = match tokio::time::timeout_at(deadline, self.rx.next()).await {
                Ok(Some(Ok(r))) => r,
                _ => return None,
            };
            let names: Vec<String> = if r.type_url == EDS {
                r.resources
                    .iter()
                    .filter_map(|a| ClusterLoadAssignment::decode(a.value.as_slice()).ok())
                    .map(|c| c.cluster_name)
                    .collect()
            } else {
                Vec::new()
            };
            self.send(&r.type_url, &names, Some(&r)).await;
            if done(&r) {
                return Some(r);
            }
        }
    }
}

fn clusters(r: &DiscoveryResponse) -> Vec<String> {
    r.resources
        .iter()
        .filter_map(|a| Cluster::decode(a.value.as_slice()).ok())
        .map(|c| c.name)
        .collect()
}

fn endpoint_ips(r: &DiscoveryResponse, cluster: &str) -> Vec<String> {
    r.resources
        .iter()
        .filter_map(|a| ClusterLoadAssignment::decode(a.value.as_slice()).ok())
        .filter(|c| c.cluster_name == cluster)
        .flat_map(|c| c.endpoints)
        .flat_map(|l| l.lb_endpoints)
        .filter_map(|e| match e.host_identifier {
            Some(lb_endpoint::HostIdentifier::Endpoint(ep)) => ep.address,
            _ => None,
        })
        .filter_map(|a| match a.address {
            Some(envoy_types::pb::envoy::config::core::v3::address::Address::SocketAddress(s)) => {
                Some(s.address)
            }
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a real kube-apiserver: make e2e"]
async fn kubernetes_services_and_endpoints_reach_sidecars() {
    let env = tokio::task::spawn_blocking(TestEnv::global)
        .await
        .expect("test env");
    let client = env.client().await;
    let ns = env.namespace("pilot").await;
    let n = ns.name.clone();

    let kubeconfig = env.kubeconfig().display().to_string();
    let argv = [
        "pilot-discovery",
        "discovery",
        "--kubeconfig",
        &kubeconfig,
        "--meshConfig=",
        "--networksConfig=",
        "--secureGrpcAddr=",
        "--grpcAddr",
        "127.0.0.1:0",
        "--httpAddr",
        "127.0.0.1:0",
        "--monitoringAddr",
        "127.0.0.1:0",
        "--disable-install-crds",
    ];
    let parsed = cli::parse(argv).expect("flags");
    let Command::Discovery(args) = parsed.command else {
        panic!("discovery")
    };
    let shutdown = CancellationToken::new();
    let server = Server::start(*args, parsed.keepalive, shutdown.clone())
        .await
        .expect("start");
    let addr = server.listening.grpc.expect("grpc address");
    let waiter = tokio::spawn(server.wait());

    let mut sidecar = Sidecar::connect(addr, &n).await;
    sidecar
        .until(Duration::from_secs(10), |r| r.type_url == CDS)
        .await
        .expect("first CDS");

    let host = format!("reviews.{n}.svc.cluster.local");
    let cluster = format!("outbound|9080||{host}");
    let services: Api<Service> = Api::namespaced(client.clone(), &n);
    let endpoints: Api<Endpoints> = Api::namespaced(client.clone(), &n);
    let created = Instant::now();
    services
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "metadata": {"name": "reviews"},
                "spec": {"ports": [{"name": "http", "port": 9080}]}
            }))
            .unwrap(),
        )
        .await
        .expect("create Service");
    let cds = sidecar
        .until(Duration::from_secs(5), |r| {
            r.type_url == CDS && clusters(r).contains(&cluster)
        })
        .await
        .expect("the new service's cluster is pushed");
    println!("Service → CDS push: {:?}", created.elapsed());
    assert!(clusters(&cds).contains(&cluster));

    sidecar
        .send(EDS, std::slice::from_ref(&cluster), None)
        .await;
    let created = Instant::now();
    endpoints
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "metadata": {"name": "reviews"},
                "subsets": [{"addresses": [{"ip": "10.99.1.7"}], "ports": [{"name": "http", "port": 9080}]}]
            }))
            .unwrap(),
        )
        .await
        .expect("create Endpoints");
    sidecar
        .until(Duration::from_secs(5), |r| {
            r.type_url == EDS && endpoint_ips(r, &cluster).contains(&"10.99.1.7".to_string())
        })
        .await
        .expect("the endpoint is pushed over EDS");
    println!("Endpoints → EDS push: {:?}", created.elapsed());

    let deleted = Instant::now();
    services
        .delete("reviews", &DeleteParams::default())
        .await
        .expect("delete Service");
    // The API server may already have removed the Endpoints with their Service.
    match endpoints.delete("reviews", &DeleteParams::default()).await {
        Ok(_) => {}
        Err(kube::Error::Api(status)) if status.code == 404 => {}
        Err(e) => panic!("delete Endpoints: {e}"),
    }
    sidecar
        .until(Duration::from_secs(5), |r| {
            r.type_url == CDS && !clusters(r).contains(&cluster)
        })
        .await
        .expect("the cluster is removed");
    println!("delete → CDS push: {:?}", deleted.elapsed());

    shutdown.cancel();
    waiter.await.unwrap().expect("clean shutdown");
}
