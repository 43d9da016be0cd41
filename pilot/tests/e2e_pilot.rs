//! e2e (`make e2e`): the whole pilot-discovery server against a real kube-apiserver. Services
//! and Endpoints created through the API reach a connected sidecar as CDS and EDS pushes;
//! deleting them removes them. The measured delays are printed (the budget is a second; the
//! assertions leave room for a loaded CI machine).

use std::time::{Duration, Instant};

use envoy_types::pb::envoy::config::endpoint::v3::{lb_endpoint, ClusterLoadAssignment};
use envoy_types::pb::envoy::service::discovery::v3::DiscoveryResponse;
use istio_pilot::bootstrap::cli::{self, Command};
use istio_pilot::bootstrap::server::Server;
use istio_test::TestEnv;
use k8s_openapi::api::core::v1::{Endpoints, Service};
use kube::api::{Api, DeleteParams, PostParams};
use prost::Message;
use serde_json::json;
use tokio_util::sync::CancellationToken;

mod ads_client;
use ads_client::{
    cluster_names as clusters, AdsClient, Api as XdsApi, V3_CDS as CDS, V3_EDS as EDS,
};

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

    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .expect("connect");
    let node_id = format!("sidecar~10.99.0.1~e2e.{n}~{n}.svc.cluster.local");
    let mut sidecar = AdsClient::connect(channel, XdsApi::V3, &node_id).await;
    sidecar.request(CDS, &[]).await;
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

    sidecar.request(EDS, &[cluster.as_str()]).await;
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
