//! A scripted ADS client shared by the pilot integration tests: one stream over either xDS
//! API version, explicit requests and ACKs, and helpers to read responses.
#![allow(dead_code)]

use std::time::Duration;

use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use envoy_types::pb::envoy::config::core::v3::Node;
use envoy_types::pb::envoy::config::endpoint::v3::ClusterLoadAssignment;
use envoy_types::pb::envoy::service::discovery::v3::{DiscoveryRequest, DiscoveryResponse};
use envoy_types::pb::google::protobuf::{value, Struct, Value};
use prost::Message;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;
use tonic::Streaming;

pub use istio_pilot::proxy::envoy::v2::version::{
    V2_CLUSTER as V2_CDS, V2_ENDPOINT as V2_EDS, V2_LISTENER as V2_LDS, V2_ROUTE as V2_RDS,
    V3_CLUSTER as V3_CDS, V3_ENDPOINT as V3_EDS, V3_LISTENER as V3_LDS, V3_ROUTE as V3_RDS,
};

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Api {
    V2,
    V3,
}

impl Api {
    pub fn urls(self) -> [&'static str; 4] {
        match self {
            Api::V2 => [V2_CDS, V2_EDS, V2_LDS, V2_RDS],
            Api::V3 => [V3_CDS, V3_EDS, V3_LDS, V3_RDS],
        }
    }
    pub fn cds(self) -> &'static str {
        self.urls()[0]
    }
    pub fn eds(self) -> &'static str {
        self.urls()[1]
    }
    pub fn lds(self) -> &'static str {
        self.urls()[2]
    }
    pub fn rds(self) -> &'static str {
        self.urls()[3]
    }
    pub fn path(self) -> &'static str {
        match self {
            Api::V2 => {
                "/envoy.service.discovery.v2.AggregatedDiscoveryService/StreamAggregatedResources"
            }
            Api::V3 => {
                "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources"
            }
        }
    }
}

pub fn node(id: &str) -> Node {
    let mut md = Struct::default();
    md.fields.insert(
        "ISTIO_VERSION".into(),
        Value {
            kind: Some(value::Kind::StringValue("1.4.10".into())),
        },
    );
    Node {
        id: id.into(),
        metadata: Some(md),
        ..Default::default()
    }
}

pub fn sidecar(ip: &str, ns: &str) -> String {
    format!("sidecar~{ip}~app-{ip}.{ns}~{ns}.svc.cluster.local")
}

pub struct AdsClient {
    pub api: Api,
    node_id: String,
    tx: mpsc::Sender<DiscoveryRequest>,
    pub rx: Streaming<DiscoveryResponse>,
    first: bool,
}

impl AdsClient {
    pub async fn open(
        channel: Channel,
        api: Api,
    ) -> (
        mpsc::Sender<DiscoveryRequest>,
        Result<Streaming<DiscoveryResponse>, tonic::Status>,
    ) {
        let (tx, rx) = mpsc::channel(16);
        let mut grpc = tonic::client::Grpc::new(channel);
        grpc.ready().await.unwrap();
        let codec = tonic_prost::ProstCodec::<DiscoveryRequest, DiscoveryResponse>::default();
        let resp = grpc
            .streaming(
                tonic::Request::new(ReceiverStream::new(rx)),
                http::uri::PathAndQuery::from_static(api.path()),
                codec,
            )
            .await
            .map(|r| r.into_inner());
        (tx, resp)
    }

    pub async fn connect(channel: Channel, api: Api, node_id: &str) -> AdsClient {
        let (tx, rx) = Self::open(channel, api).await;
        AdsClient {
            api,
            node_id: node_id.into(),
            tx,
            rx: rx.unwrap(),
            first: true,
        }
    }

    pub async fn send(&mut self, mut req: DiscoveryRequest) {
        if self.first {
            req.node = Some(node(&self.node_id));
            self.first = false;
        }
        self.tx.send(req).await.unwrap();
    }

    pub async fn request(&mut self, type_url: &str, names: &[&str]) {
        self.send(DiscoveryRequest {
            type_url: type_url.into(),
            resource_names: names.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        })
        .await
    }

    pub async fn ack(&mut self, resp: &DiscoveryResponse, names: &[&str]) {
        self.send(DiscoveryRequest {
            type_url: resp.type_url.clone(),
            version_info: resp.version_info.clone(),
            response_nonce: resp.nonce.clone(),
            resource_names: names.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        })
        .await
    }

    pub async fn recv(&mut self) -> DiscoveryResponse {
        match tokio::time::timeout(Duration::from_secs(5), self.rx.message()).await {
            Ok(Ok(Some(r))) => r,
            other => panic!("no response: {other:?}"),
        }
    }

    pub async fn recv_type(&mut self, type_url: &str) -> DiscoveryResponse {
        let r = self.recv().await;
        assert_eq!(r.type_url, type_url, "unexpected response type");
        r
    }

    pub async fn expect_silence(&mut self, d: Duration) {
        if let Ok(r) = tokio::time::timeout(d, self.rx.message()).await {
            panic!("unexpected message: {r:?}");
        }
    }

    pub async fn status(&mut self) -> tonic::Status {
        match tokio::time::timeout(Duration::from_secs(5), self.rx.message()).await {
            Ok(Err(s)) => s,
            other => panic!("expected an error status, got {other:?}"),
        }
    }

    /// Reads responses, ACKing each (EDS ACKs name the assignments received), until `done`
    /// accepts one; `None` if `limit` passes or the stream ends first.
    pub async fn until(
        &mut self,
        limit: Duration,
        mut done: impl FnMut(&DiscoveryResponse) -> bool,
    ) -> Option<DiscoveryResponse> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let r = match tokio::time::timeout_at(deadline, self.rx.message()).await {
                Ok(Ok(Some(r))) => r,
                _ => return None,
            };
            let names: Vec<String> = if r.type_url == self.api.eds() {
                r.resources
                    .iter()
                    .filter_map(|a| ClusterLoadAssignment::decode(a.value.as_slice()).ok())
                    .map(|c| c.cluster_name)
                    .collect()
            } else {
                Vec::new()
            };
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            self.ack(&r, &names).await;
            if done(&r) {
                return Some(r);
            }
        }
    }

    /// CDS, EDS (for every cluster), LDS, RDS (route "9080"), each ACKed.
    pub async fn initial_fetch(&mut self) -> Vec<DiscoveryResponse> {
        let api = self.api;
        self.request(api.cds(), &[]).await;
        let cds = self.recv_type(api.cds()).await;
        self.ack(&cds, &[]).await;
        let names: Vec<String> = cds
            .resources
            .iter()
            .map(|a| Cluster::decode(a.value.as_slice()).unwrap().name)
            .collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        self.request(api.eds(), &names).await;
        let eds = self.recv_type(api.eds()).await;
        self.ack(&eds, &names).await;
        self.request(api.lds(), &[]).await;
        let lds = self.recv_type(api.lds()).await;
        self.ack(&lds, &[]).await;
        self.request(api.rds(), &["9080"]).await;
        let rds = self.recv_type(api.rds()).await;
        self.ack(&rds, &["9080"]).await;
        vec![cds, eds, lds, rds]
    }
}

pub fn cla(resp: &DiscoveryResponse, name: &str) -> ClusterLoadAssignment {
    resp.resources
        .iter()
        .map(|a| ClusterLoadAssignment::decode(a.value.as_slice()).unwrap())
        .find(|c| c.cluster_name == name)
        .unwrap_or_else(|| panic!("no assignment for {name}"))
}

pub fn cluster_names(resp: &DiscoveryResponse) -> Vec<String> {
    resp.resources
        .iter()
        .map(|a| Cluster::decode(a.value.as_slice()).unwrap().name)
        .collect()
}
