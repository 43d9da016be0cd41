//! One simulated sidecar: an ADS stream that requests CDS, then EDS for the EDS clusters, then
//! LDS, then RDS for the route names the listeners reference, ACKing every response, as Envoy
//! does on start-up.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use envoy_types::pb::envoy::config::cluster::v3::{cluster, Cluster};
use envoy_types::pb::envoy::config::core::v3::Node;
use envoy_types::pb::envoy::config::listener::v3::{filter, Listener};
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::{
    http_connection_manager, HttpConnectionManager,
};
use envoy_types::pb::envoy::service::discovery::v3::{DiscoveryRequest, DiscoveryResponse};
use envoy_types::pb::google::protobuf::{value::Kind, Any, Struct, Value};
use prost::Message;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::StreamExt;

/// xDS API version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum XdsVersion {
    V2,
    V3,
}

impl XdsVersion {
    fn path(self) -> &'static str {
        match self {
            XdsVersion::V2 => {
                "/envoy.service.discovery.v2.AggregatedDiscoveryService/StreamAggregatedResources"
            }
            XdsVersion::V3 => {
                "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources"
            }
        }
    }

    fn type_url(self, kind: Kind_) -> &'static str {
        match (self, kind) {
            (XdsVersion::V2, Kind_::Cds) => "type.googleapis.com/envoy.api.v2.Cluster",
            (XdsVersion::V2, Kind_::Eds) => {
                "type.googleapis.com/envoy.api.v2.ClusterLoadAssignment"
            }
            (XdsVersion::V2, Kind_::Lds) => "type.googleapis.com/envoy.api.v2.Listener",
            (XdsVersion::V2, Kind_::Rds) => "type.googleapis.com/envoy.api.v2.RouteConfiguration",
            (XdsVersion::V3, Kind_::Cds) => "type.googleapis.com/envoy.config.cluster.v3.Cluster",
            (XdsVersion::V3, Kind_::Eds) => {
                "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
            }
            (XdsVersion::V3, Kind_::Lds) => "type.googleapis.com/envoy.config.listener.v3.Listener",
            (XdsVersion::V3, Kind_::Rds) => {
                "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
            }
        }
    }

    fn kind_of(self, type_url: &str) -> Option<Kind_> {
        [Kind_::Cds, Kind_::Eds, Kind_::Lds, Kind_::Rds]
            .into_iter()
            .find(|k| self.type_url(*k) == type_url)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind_ {
    Cds,
    Eds,
    Lds,
    Rds,
}

/// What one client is and does.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub addr: String,
    pub index: usize,
    pub namespace: String,
    pub version: XdsVersion,
    pub timeout: Duration,
    pub hold: Duration,
}

/// What one client saw.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Connect to full config.
    pub time_to_full: Option<Duration>,
    pub bytes: u64,
    pub responses: u64,
    pub clusters: usize,
    pub listeners: usize,
    pub routes: usize,
    pub endpoints: usize,
    pub error: Option<String>,
}

impl Outcome {
    pub fn failed(error: String) -> Outcome {
        Outcome {
            error: Some(error),
            ..Default::default()
        }
    }
}

fn string_value(s: &str) -> Value {
    Value {
        kind: Some(Kind::StringValue(s.to_owned())),
    }
}

/// The node a sidecar of this index presents: a distinct pod IP and name per client.
fn node(cfg: &ClientConfig) -> Node {
    let i = cfg.index;
    let ip = format!("10.{}.{}.{}", 128 + (i >> 16) % 64, (i >> 8) & 255, i & 255);
    let pod = format!("load-{i}");
    let app = format!("app-{}", i % 100);
    let mut labels = Struct::default();
    labels.fields.insert("app".into(), string_value(&app));
    let mut meta = Struct::default();
    for (k, v) in [
        ("ISTIO_VERSION", "1.4.10"),
        ("CONFIG_NAMESPACE", cfg.namespace.as_str()),
        ("NAMESPACE", cfg.namespace.as_str()),
        ("INTERCEPTION_MODE", "REDIRECT"),
        ("INSTANCE_IPS", ip.as_str()),
        ("NAME", pod.as_str()),
    ] {
        meta.fields.insert(k.into(), string_value(v));
    }
    meta.fields.insert(
        "LABELS".into(),
        Value {
            kind: Some(Kind::StructValue(labels)),
        },
    );
    Node {
        id: format!(
            "sidecar~{ip}~{pod}.{ns}~{ns}.svc.cluster.local",
            ns = cfg.namespace
        ),
        cluster: format!("{app}.{}", cfg.namespace),
        metadata: Some(meta),
        ..Default::default()
    }
}

fn eds_cluster_names(resources: &[Any]) -> BTreeSet<String> {
    resources
        .iter()
        .filter_map(|a| Cluster::decode(a.value.as_slice()).ok())
        .filter(|c| {
            matches!(
                c.cluster_discovery_type,
                Some(cluster::ClusterDiscoveryType::Type(t)) if t == cluster::DiscoveryType::Eds as i32
            )
        })
        .map(|c| c.name)
        .collect()
}

fn rds_route_names(resources: &[Any]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for l in resources
        .iter()
        .filter_map(|a| Listener::decode(a.value.as_slice()).ok())
    {
        for fc in &l.filter_chains {
            for f in &fc.filters {
                let Some(filter::ConfigType::TypedConfig(any)) = &f.config_type else {
                    continue;
                };
                if !any.type_url.ends_with(".HttpConnectionManager") {
                    continue;
                }
                let Ok(hcm) = HttpConnectionManager::decode(any.value.as_slice()) else {
                    continue;
                };
                if let Some(http_connection_manager::RouteSpecifier::Rds(rds)) = hcm.route_specifier
                {
                    out.insert(rds.route_config_name);
                }
            }
        }
    }
    out
}

/// Runs one client to full config (and through `hold`), never panicking.
pub async fn run(cfg: ClientConfig) -> Outcome {
    let timeout = cfg.timeout;
    match tokio::time::timeout(timeout, run_inner(&cfg)).await {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => Outcome::failed(format!("client {}: {e:#}", cfg.index)),
        Err(_) => Outcome::failed(format!(
            "client {}: no full config within {timeout:?}",
            cfg.index
        )),
    }
}

async fn run_inner(cfg: &ClientConfig) -> anyhow::Result<Outcome> {
    let start = Instant::now();
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", cfg.addr))
        .context("bad address")?
        .connect()
        .await
        .with_context(|| format!("connecting to {}", cfg.addr))?;
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.context("channel not ready")?;
    let (tx, rx) = mpsc::channel::<DiscoveryRequest>(16);
    let v = cfg.version;
    let request =
        |kind: Kind_, names: &BTreeSet<String>, version: &str, nonce: &str| DiscoveryRequest {
            version_info: version.to_owned(),
            node: Some(node(cfg)),
            resource_names: names.iter().cloned().collect(),
            type_url: v.type_url(kind).to_owned(),
            response_nonce: nonce.to_owned(),
            ..Default::default()
        };
    tx.send(request(Kind_::Cds, &BTreeSet::new(), "", ""))
        .await
        .ok();
    let path = http::uri::PathAndQuery::from_static(v.path());
    let codec = tonic_prost::ProstCodec::<DiscoveryRequest, DiscoveryResponse>::default();
    let mut responses = grpc
        .streaming(tonic::Request::new(ReceiverStream::new(rx)), path, codec)
        .await
        .context("opening the ADS stream")?
        .into_inner();

    let mut out = Outcome::default();
    let mut eds_names = BTreeSet::new();
    let mut rds_names = BTreeSet::new();
    let (mut got_cds, mut got_eds, mut got_lds, mut got_rds) = (false, false, false, false);
    let mut lds_requested = false;
    let mut hold_until: Option<Instant> = None;
    loop {
        let next = match hold_until {
            None => responses.next().await,
            Some(t) => match tokio::time::timeout_at(t.into(), responses.next()).await {
                Ok(n) => n,
                Err(_) => break,
            },
        };
        let resp = match next {
            None => return Err(anyhow!("server closed the stream")),
            Some(Err(status)) => return Err(anyhow!("stream error: {status}")),
            Some(Ok(r)) => r,
        };
        out.bytes += resp.encoded_len() as u64;
        out.responses += 1;
        let Some(kind) = v.kind_of(&resp.type_url) else {
            return Err(anyhow!(
                "response with unexpected type URL {:?}",
                resp.type_url
            ));
        };
        let none = BTreeSet::new();
        match kind {
            Kind_::Cds => {
                got_cds = true;
                out.clusters = resp.resources.len();
                tx.send(request(Kind_::Cds, &none, &resp.version_info, &resp.nonce))
                    .await
                    .ok();
                let names = eds_cluster_names(&resp.resources);
                if names != eds_names || !got_eds {
                    eds_names = names;
                    if eds_names.is_empty() {
                        got_eds = true;
                    } else {
                        tx.send(request(Kind_::Eds, &eds_names, "", "")).await.ok();
                    }
                }
                if got_eds && !lds_requested {
                    lds_requested = true;
                    tx.send(request(Kind_::Lds, &none, "", "")).await.ok();
                }
            }
            Kind_::Eds => {
                got_eds = true;
                out.endpoints = resp.resources.len();
                tx.send(request(
                    Kind_::Eds,
                    &eds_names,
                    &resp.version_info,
                    &resp.nonce,
                ))
                .await
                .ok();
                if !lds_requested {
                    lds_requested = true;
                    tx.send(request(Kind_::Lds, &none, "", "")).await.ok();
                }
            }
            Kind_::Lds => {
                got_lds = true;
                out.listeners = resp.resources.len();
                tx.send(request(Kind_::Lds, &none, &resp.version_info, &resp.nonce))
                    .await
                    .ok();
                let names = rds_route_names(&resp.resources);
                if names != rds_names || !got_rds {
                    rds_names = names;
                    if rds_names.is_empty() {
                        got_rds = true;
                    } else {
                        tx.send(request(Kind_::Rds, &rds_names, "", "")).await.ok();
                    }
                }
            }
            Kind_::Rds => {
                got_rds = true;
                out.routes = resp.resources.len();
                tx.send(request(
                    Kind_::Rds,
                    &rds_names,
                    &resp.version_info,
                    &resp.nonce,
                ))
                .await
                .ok();
            }
        }
        if out.time_to_full.is_none() && got_cds && got_eds && got_lds && got_rds {
            out.time_to_full = Some(start.elapsed());
            if cfg.hold.is_zero() {
                break;
            }
            hold_until = Some(Instant::now() + cfg.hold);
        }
    }
    Ok(out)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// The one-line summary.
pub fn summarize(
    outcomes: &[Outcome],
    wall: Duration,
    cpu_seconds: Option<f64>,
    peak_rss_bytes: Option<u64>,
    version: XdsVersion,
) -> String {
    let mut times: Vec<Duration> = outcomes.iter().filter_map(|o| o.time_to_full).collect();
    times.sort();
    let bytes: u64 = outcomes.iter().map(|o| o.bytes).sum();
    let ok = times.len();
    let ms = |d: Duration| format!("{:.0}ms", d.as_secs_f64() * 1000.0);
    let first = outcomes.iter().find(|o| o.time_to_full.is_some());
    format!(
        "pilot-load: xds={} clients={} converged={ok}/{} all_converged_in={:.2}s time_to_full p50={} p99={} max={} \
         bytes={:.1}MiB ({:.1}KiB/client) config(per client: clusters={} endpoints={} listeners={} routes={}) \
         server_cpu={} server_peak_rss={}",
        match version {
            XdsVersion::V2 => "v2",
            XdsVersion::V3 => "v3",
        },
        outcomes.len(),
        outcomes.len(),
        wall.as_secs_f64(),
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.99)),
        ms(times.last().copied().unwrap_or_default()),
        bytes as f64 / (1024.0 * 1024.0),
        if outcomes.is_empty() { 0.0 } else { bytes as f64 / 1024.0 / outcomes.len() as f64 },
        first.map(|o| o.clusters).unwrap_or(0),
        first.map(|o| o.endpoints).unwrap_or(0),
        first.map(|o| o.listeners).unwrap_or(0),
        first.map(|o| o.routes).unwrap_or(0),
        cpu_seconds.map(|c| format!("{c:.2}s")).unwrap_or_else(|| "n/a".into()),
        peak_rss_bytes
            .map(|b| format!("{:.1}MiB", b as f64 / (1024.0 * 1024.0)))
            .unwrap_or_else(|| "n/a".into()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_are_distinct_sidecars() {
        let cfg = |i| ClientConfig {
            addr: String::new(),
            index: i,
            namespace: "ns-1".into(),
            version: XdsVersion::V2,
            timeout: Duration::ZERO,
            hold: Duration::ZERO,
        };
        let a = node(&cfg(0));
        let b = node(&cfg(70_000));
        assert_ne!(a.id, b.id);
        assert!(a.id.starts_with("sidecar~10."), "{}", a.id);
        assert!(a.id.ends_with("~ns-1.svc.cluster.local"), "{}", a.id);
        assert_eq!(a.id.split('~').count(), 4);
    }

    #[test]
    fn type_urls_round_trip() {
        for v in [XdsVersion::V2, XdsVersion::V3] {
            for k in [Kind_::Cds, Kind_::Eds, Kind_::Lds, Kind_::Rds] {
                assert_eq!(v.kind_of(v.type_url(k)), Some(k));
            }
        }
        assert_eq!(
            XdsVersion::V2.kind_of("type.googleapis.com/envoy.config.cluster.v3.Cluster"),
            None
        );
    }

    #[test]
    fn summary_counts_failures() {
        let ok = Outcome {
            time_to_full: Some(Duration::from_millis(20)),
            bytes: 2048,
            ..Default::default()
        };
        let s = summarize(
            &[ok, Outcome::failed("x".into())],
            Duration::from_secs(1),
            Some(1.5),
            None,
            XdsVersion::V3,
        );
        assert!(s.contains("converged=1/2"), "{s}");
        assert!(s.contains("server_cpu=1.50s"), "{s}");
        assert!(s.contains("server_peak_rss=n/a"), "{s}");
    }
}
