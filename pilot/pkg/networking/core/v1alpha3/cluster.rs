//! CDS for sidecars (upstream `core/v1alpha3/cluster.go`).
//!
//! Outbound: one `outbound|<port>||<hostname>` cluster per port of every service in the
//! proxy's sidecar scope (UDP ports excepted), typed by the service's resolution: EDS over ADS
//! for client-side load balancing, STRICT_DNS with the registry's endpoints for DNS, and
//! ORIGINAL_DST for passthrough. Then `BlackHoleCluster` and `PassthroughCluster`.
//! Inbound: one STATIC `inbound|<port>|<port-name>|<hostname>` cluster per service port the
//! workload implements (or per Sidecar ingress listener), pointing at localhost, management
//! port clusters, and the inbound passthrough clusters.

// Deprecated v3 fields are the ones Envoy 1.13 (xDS v2) understands; we send those.
#![allow(deprecated)]

use std::collections::{BTreeMap, HashSet};

use envoy_types::pb::envoy::config::cluster::v3::{
    circuit_breakers::Thresholds, cluster, CircuitBreakers, Cluster, UpstreamConnectionOptions,
};
use envoy_types::pb::envoy::config::core::v3::{
    config_source, socket_address, AggregatedConfigSource, BindConfig, ConfigSource,
    Http2ProtocolOptions, Locality, Metadata, SocketAddress, TcpKeepalive,
};
use envoy_types::pb::envoy::config::endpoint::v3::{
    lb_endpoint, ClusterLoadAssignment, Endpoint, LbEndpoint, LocalityLbEndpoints,
};
use envoy_types::pb::google::protobuf::{value, Duration, Struct, UInt32Value, Value};

use istio_api::istio::mesh::v1alpha1::MeshConfig;
use istio_pkg::config::labels;
use istio_pkg::config::protocol::Instance as Protocol;

use crate::model::service::registry;
use crate::model::{Port, Resolution, Service, ServiceInstance};
use crate::networking::plugin::{InputParams, ListenerProtocol};
use crate::networking::util::{self, TrafficDirection};

use super::wire::HTTP2_MAX_CONCURRENT_STREAMS;
use super::Ctx;

/// Hostname of the inbound clusters of management (health check) ports.
pub const MANAGEMENT_CLUSTER_HOSTNAME: &str = "mgmtCluster";

/// HTTP/2 upstream options: Envoy's default of 100 concurrent streams is too low for the
/// data path.
fn http2_options() -> Http2ProtocolOptions {
    Http2ProtocolOptions {
        max_concurrent_streams: Some(UInt32Value {
            value: HTTP2_MAX_CONCURRENT_STREAMS,
        }),
        ..Default::default()
    }
}

/// Envoy 1.13's `ORIGINAL_DST_LB`, which v3 removed; proxies older than 1.3 need it.
const LB_POLICY_ORIGINAL_DST_LB: i32 = 4;

/// The outbound clusters of the scope (shared by every proxy with the same scope and
/// shape), without BlackHole and Passthrough.
pub(crate) fn build_outbound_clusters(ctx: &Ctx<'_>) -> Vec<Cluster> {
    let mut out = Vec::new();
    for svc in &ctx.scope.services {
        for port in svc.ports.iter() {
            if port.protocol == Protocol::Udp {
                continue;
            }
            let name =
                util::build_subset_key(TrafficDirection::Outbound, "", &svc.hostname, port.port);
            let discovery = convert_resolution(svc.resolution);
            let endpoints = if svc.resolution == Resolution::DnsLb {
                build_dns_endpoints(ctx, svc, port.port)
            } else {
                Vec::new()
            };
            let mut c = build_default_cluster(ctx, &name, discovery, endpoints, Some(port));
            if !ctx.push.mesh.outbound_cluster_stat_name.is_empty() {
                c.alt_stat_name =
                    alt_stat_name(&ctx.push.mesh.outbound_cluster_stat_name, svc, "", port);
            }
            set_upstream_protocol(ctx, &mut c, port, TrafficDirection::Outbound);
            update_eds(ctx, &mut c);
            let input = InputParams {
                service: Some(svc),
                port: Some(port),
                ..ctx.input(ListenerProtocol::Unknown)
            };
            for p in ctx.plugins.iter() {
                p.on_outbound_cluster(&input, &mut c);
            }
            out.push(c);
        }
    }
    out
}

/// The cluster that drops everything.
pub(crate) fn build_black_hole_cluster(mesh: &MeshConfig) -> Cluster {
    Cluster {
        name: util::BLACK_HOLE_CLUSTER.into(),
        cluster_discovery_type: Some(cluster::ClusterDiscoveryType::Type(
            cluster::DiscoveryType::Static as i32,
        )),
        connect_timeout: util::mesh_duration(mesh.connect_timeout.as_ref()),
        lb_policy: cluster::LbPolicy::RoundRobin as i32,
        ..Default::default()
    }
}

/// The cluster that forwards to the original destination.
pub(crate) fn build_passthrough_cluster(ctx: &Ctx<'_>) -> Cluster {
    let mut c = Cluster {
        name: util::PASSTHROUGH_CLUSTER.into(),
        cluster_discovery_type: Some(cluster::ClusterDiscoveryType::Type(
            cluster::DiscoveryType::OriginalDst as i32,
        )),
        connect_timeout: util::mesh_duration(ctx.push.mesh.connect_timeout.as_ref()),
        lb_policy: lb_policy_cluster_provided(ctx),
        ..Default::default()
    };
    apply_connection_pool(ctx, &mut c, false);
    c
}

/// Inbound clusters of the proxy (upstream `buildInboundClusters` plus the passthrough
/// clusters).
pub(crate) fn build_inbound_clusters(ctx: &Ctx<'_>) -> Vec<Cluster> {
    let mut out = Vec::new();
    let (_, localhost) = util::wildcard_and_localhost(ctx.proxy);
    let none_mode = ctx.proxy.interception_mode() == crate::model::InterceptionMode::None;
    if !ctx.scope.has_custom_ingress_listeners() {
        // In NONE mode inbound listeners exist only where a Sidecar declares them.
        if !none_mode {
            let mut seen = HashSet::new();
            for inst in &ctx.proxy.service_instances {
                if !seen.insert((inst.service.hostname.as_str(), inst.service_port.port)) {
                    continue;
                }
                out.push(build_inbound_cluster(
                    ctx,
                    &inst.service.hostname,
                    Some(&inst.service),
                    Some(inst),
                    &inst.service_port,
                    localhost,
                    inst.endpoint.endpoint_port,
                ));
            }
            for port in management_ports(ctx).iter() {
                let name = util::build_subset_key(
                    TrafficDirection::Inbound,
                    &port.name,
                    MANAGEMENT_CLUSTER_HOSTNAME,
                    port.port,
                );
                let mut c = build_default_cluster(
                    ctx,
                    &name,
                    cluster::DiscoveryType::Static,
                    vec![inbound_locality_endpoints(localhost, port.port)],
                    None,
                );
                set_upstream_protocol(ctx, &mut c, port, TrafficDirection::Inbound);
                out.push(c);
            }
        }
    } else {
        let scope_id = ctx.scope.sidecar_id().unwrap_or_default();
        for ingress in &ctx.scope.ingress_listeners {
            let Some(p) = &ingress.port else {
                continue;
            };
            let listen_port = Port {
                name: p.name.clone(),
                port: p.number,
                protocol: istio_pkg::config::protocol::parse(&p.protocol),
            };
            let (bind, endpoint_port) = if ingress
                .default_endpoint
                .starts_with(util::UNIX_ADDRESS_PREFIX)
            {
                (ingress.default_endpoint.as_str(), 0)
            } else {
                // `ip:port` or `:port`; validation guarantees the colon.
                let Some((_, port)) = ingress.default_endpoint.rsplit_once(':') else {
                    continue;
                };
                let Ok(port) = port.parse::<u32>() else {
                    continue;
                };
                (localhost, port)
            };
            let instance = super::listener::find_instance_for_ingress(ctx.proxy, p.number);
            let (hostname, svc) = match instance {
                Some(i) => (i.service.hostname.as_str(), Some(&i.service)),
                None => (scope_id.as_str(), None),
            };
            out.push(build_inbound_cluster(
                ctx,
                hostname,
                svc,
                instance,
                &listen_port,
                bind,
                endpoint_port,
            ));
        }
    }
    out.extend(build_inbound_passthrough_clusters(ctx));
    out
}

fn build_inbound_cluster(
    ctx: &Ctx<'_>,
    hostname: &str,
    svc: Option<&std::sync::Arc<Service>>,
    instance: Option<&ServiceInstance>,
    service_port: &Port,
    bind: &str,
    endpoint_port: u32,
) -> Cluster {
    let name = util::build_subset_key(
        TrafficDirection::Inbound,
        &service_port.name,
        hostname,
        service_port.port,
    );
    let mut c = build_default_cluster(
        ctx,
        &name,
        cluster::DiscoveryType::Static,
        vec![inbound_locality_endpoints(bind, endpoint_port)],
        None,
    );
    if let Some(svc) = svc {
        if !ctx.push.mesh.inbound_cluster_stat_name.is_empty() {
            c.alt_stat_name = alt_stat_name(
                &ctx.push.mesh.inbound_cluster_stat_name,
                svc,
                "",
                service_port,
            );
        }
    }
    set_upstream_protocol(ctx, &mut c, service_port, TrafficDirection::Inbound);
    let input = InputParams {
        service_instance: instance,
        service: svc.map(|s| s.as_ref()),
        port: Some(service_port),
        bind,
        ..ctx.input(ListenerProtocol::Unknown)
    };
    for p in ctx.plugins.iter() {
        p.on_inbound_cluster(&input, &mut c);
    }
    c
}

/// Management ports of all the proxy's addresses.
pub(crate) fn management_ports(ctx: &Ctx<'_>) -> Vec<Port> {
    ctx.proxy
        .ip_addresses
        .iter()
        .flat_map(|ip| ctx.push.service_discovery.0.management_ports(ip).0)
        .collect()
}

fn build_inbound_passthrough_clusters(ctx: &Ctx<'_>) -> Vec<Cluster> {
    let (v4, v6) = util::ip_families(ctx.proxy);
    let mut out = Vec::new();
    for (enabled, name, bind) in [
        (
            v4,
            util::INBOUND_PASSTHROUGH_CLUSTER_IPV4,
            util::INBOUND_PASSTHROUGH_BIND_IPV4,
        ),
        (
            v6,
            util::INBOUND_PASSTHROUGH_CLUSTER_IPV6,
            util::INBOUND_PASSTHROUGH_BIND_IPV6,
        ),
    ] {
        if !enabled {
            continue;
        }
        let mut c = build_passthrough_cluster(ctx);
        c.name = name.into();
        c.upstream_bind_config = Some(BindConfig {
            source_address: Some(SocketAddress {
                address: bind.into(),
                port_specifier: Some(socket_address::PortSpecifier::PortValue(0)),
                ..Default::default()
            }),
            ..Default::default()
        });
        out.push(c);
    }
    out
}

fn convert_resolution(r: Resolution) -> cluster::DiscoveryType {
    match r {
        Resolution::ClientSideLb => cluster::DiscoveryType::Eds,
        Resolution::DnsLb => cluster::DiscoveryType::StrictDns,
        // Sidecars only: gateways are not generated here.
        Resolution::Passthrough => cluster::DiscoveryType::OriginalDst,
    }
}

fn lb_policy_cluster_provided(ctx: &Ctx<'_>) -> i32 {
    if util::is_istio_version_ge13(ctx.proxy) {
        cluster::LbPolicy::ClusterProvided as i32
    } else {
        LB_POLICY_ORIGINAL_DST_LB
    }
}

/// A cluster with Istio's defaults for its discovery type (upstream `buildDefaultCluster`
/// applying the default traffic policy: round robin, mesh connect timeout, circuit breakers
/// opened wide, mesh TCP keepalive).
fn build_default_cluster(
    ctx: &Ctx<'_>,
    name: &str,
    discovery: cluster::DiscoveryType,
    endpoints: Vec<LocalityLbEndpoints>,
    port: Option<&Port>,
) -> Cluster {
    let mesh = &ctx.push.mesh;
    let mut c = Cluster {
        name: name.to_owned(),
        cluster_discovery_type: Some(cluster::ClusterDiscoveryType::Type(discovery as i32)),
        ..Default::default()
    };
    if discovery == cluster::DiscoveryType::StrictDns {
        c.dns_lookup_family = cluster::DnsLookupFamily::V4Only as i32;
        c.dns_refresh_rate = util::mesh_duration(mesh.dns_refresh_rate.as_ref());
        if util::is_istio_version_ge13(ctx.proxy) && ctx.features.respect_dns_ttl {
            c.respect_dns_ttl = true;
        }
    }
    if matches!(
        discovery,
        cluster::DiscoveryType::Static | cluster::DiscoveryType::StrictDns
    ) {
        c.load_assignment = Some(ClusterLoadAssignment {
            cluster_name: name.to_owned(),
            endpoints,
            ..Default::default()
        });
    }
    c.connect_timeout = util::mesh_duration(mesh.connect_timeout.as_ref());
    apply_connection_pool(ctx, &mut c, true);
    // Load balancer: original destination needs the cluster-provided policy; Redis shards
    // with MAGLEV when the Redis filter is on; everything else is round robin.
    if discovery == cluster::DiscoveryType::OriginalDst {
        c.lb_policy = lb_policy_cluster_provided(ctx);
    } else if ctx.features.enable_redis_filter
        && port.is_some_and(|p| p.protocol == Protocol::Redis)
    {
        c.lb_policy = cluster::LbPolicy::Maglev as i32;
    } else {
        c.lb_policy = cluster::LbPolicy::RoundRobin as i32;
    }
    c
}

/// Circuit breakers with every threshold at its maximum (circuit breaking off, including
/// retries), and the mesh TCP keepalive when a TCP policy applies (`tcp_policy`: the
/// default policy has one, carrying the connect timeout; the passthrough cluster's has not).
fn apply_connection_pool(ctx: &Ctx<'_>, c: &mut Cluster, tcp_policy: bool) {
    let max = Some(UInt32Value { value: u32::MAX });
    c.circuit_breakers = Some(CircuitBreakers {
        thresholds: vec![Thresholds {
            max_connections: max,
            max_pending_requests: max,
            max_requests: max,
            max_retries: max,
            ..Default::default()
        }],
        ..Default::default()
    });
    if tcp_policy {
        if let Some(ka) = &ctx.push.mesh.tcp_keepalive {
            let mut keepalive = TcpKeepalive::default();
            if ka.probes > 0 {
                keepalive.keepalive_probes = Some(UInt32Value { value: ka.probes });
            }
            if let Some(t) = &ka.time {
                keepalive.keepalive_time = Some(UInt32Value {
                    value: t.seconds.clamp(0, u32::MAX as i64) as u32,
                });
            }
            if let Some(i) = &ka.interval {
                keepalive.keepalive_interval = Some(UInt32Value {
                    value: i.seconds.clamp(0, u32::MAX as i64) as u32,
                });
            }
            c.upstream_connection_options = Some(UpstreamConnectionOptions {
                tcp_keepalive: Some(keepalive),
                ..Default::default()
            });
        }
    }
}

/// HTTP/2 upstream for HTTP2/gRPC ports; for sniffed ports, HTTP/2 options plus "use the
/// downstream protocol" (upstream `setUpstreamProtocol`).
fn set_upstream_protocol(ctx: &Ctx<'_>, c: &mut Cluster, port: &Port, direction: TrafficDirection) {
    if port.protocol.is_http2() {
        c.http2_protocol_options = Some(http2_options());
    }
    let sniffed = match direction {
        TrafficDirection::Inbound => {
            util::sniffing_enabled_for_inbound_port(ctx.features, ctx.proxy, port.protocol)
        }
        TrafficDirection::Outbound => {
            util::sniffing_enabled_for_outbound_port(ctx.features, ctx.proxy, port.protocol)
        }
    };
    if sniffed {
        c.http2_protocol_options = Some(http2_options());
        c.protocol_selection = cluster::ClusterProtocolSelection::UseDownstreamProtocol as i32;
    }
}

/// EDS clusters get their endpoints over ADS, named after the cluster.
fn update_eds(ctx: &Ctx<'_>, c: &mut Cluster) {
    let is_eds = matches!(
        c.cluster_discovery_type,
        Some(cluster::ClusterDiscoveryType::Type(t)) if t == cluster::DiscoveryType::Eds as i32
    );
    if !is_eds {
        return;
    }
    c.eds_cluster_config = Some(cluster::EdsClusterConfig {
        service_name: c.name.clone(),
        eds_config: Some(ads_config_source(ctx)),
    });
}

/// `{ads: {}, initial_fetch_timeout}` as upstream sets it everywhere.
pub(crate) fn ads_config_source(ctx: &Ctx<'_>) -> ConfigSource {
    let t = ctx.features.initial_fetch_timeout;
    ConfigSource {
        config_source_specifier: Some(config_source::ConfigSourceSpecifier::Ads(
            AggregatedConfigSource::default(),
        )),
        initial_fetch_timeout: Some(Duration {
            seconds: t.as_secs() as i64,
            nanos: t.subsec_nanos() as i32,
        }),
        ..Default::default()
    }
}

fn inbound_locality_endpoints(bind: &str, port: u32) -> LocalityLbEndpoints {
    LocalityLbEndpoints {
        lb_endpoints: vec![LbEndpoint {
            host_identifier: Some(lb_endpoint::HostIdentifier::Endpoint(Endpoint {
                address: Some(util::build_address(bind, port)),
                ..Default::default()
            })),
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// The proxy's network view (`REQUESTED_NETWORK_VIEW`, default: the unnamed network).
pub(crate) fn network_view<'a>(ctx: &Ctx<'a>) -> HashSet<&'a str> {
    let v = &ctx.proxy.metadata.requested_network_view;
    if v.is_empty() {
        [""].into_iter().collect()
    } else {
        v.iter().map(String::as_str).collect()
    }
}

/// Endpoints of a DNS service port from the registry, grouped by locality (upstream
/// `buildLocalityLbEndpoints`).
fn build_dns_endpoints(ctx: &Ctx<'_>, svc: &Service, port: u32) -> Vec<LocalityLbEndpoints> {
    let view = network_view(ctx);
    let instances =
        ctx.push
            .service_discovery
            .0
            .instances_by_port(svc, port, &labels::Collection::default());
    let mut by_locality: BTreeMap<String, Vec<LbEndpoint>> = BTreeMap::new();
    for inst in instances {
        let ep = &inst.endpoint;
        if !view.contains(ep.network.as_str()) {
            continue;
        }
        let weight = if ep.lb_weight > 0 { ep.lb_weight } else { 1 };
        by_locality
            .entry(ep.locality.clone())
            .or_default()
            .push(LbEndpoint {
                host_identifier: Some(lb_endpoint::HostIdentifier::Endpoint(Endpoint {
                    address: Some(util::build_address(&ep.address, ep.endpoint_port)),
                    ..Default::default()
                })),
                load_balancing_weight: Some(UInt32Value { value: weight }),
                metadata: lb_endpoint_metadata(&ep.uid, &ep.network, &ep.tls_mode),
                ..Default::default()
            });
    }
    by_locality
        .into_iter()
        .map(|(locality, eps)| {
            let weight = eps
                .iter()
                .map(|e| e.load_balancing_weight.map_or(0, |w| w.value))
                .fold(0u32, u32::saturating_add);
            LocalityLbEndpoints {
                locality: convert_locality(&locality),
                lb_endpoints: eps,
                load_balancing_weight: Some(UInt32Value { value: weight }),
                ..Default::default()
            }
        })
        .collect()
}

/// `region/zone/subzone` as an Envoy locality (`None` when empty).
pub(crate) fn convert_locality(l: &str) -> Option<Locality> {
    if l.is_empty() {
        return None;
    }
    let mut it = l.splitn(3, '/');
    Some(Locality {
        region: it.next().unwrap_or_default().to_owned(),
        zone: it.next().unwrap_or_default().to_owned(),
        sub_zone: it.next().unwrap_or_default().to_owned(),
    })
}

fn string_value(s: &str) -> Value {
    Value {
        kind: Some(value::Kind::StringValue(s.to_owned())),
    }
}

/// Endpoint metadata: `istio: {uid, network}` and the transport socket match `tlsMode`
/// (upstream `BuildLbEndpointMetadata`; as upstream, an endpoint with nothing to say gets
/// empty metadata unless its TLS mode is `disabled`).
pub(crate) fn lb_endpoint_metadata(uid: &str, network: &str, tls_mode: &str) -> Option<Metadata> {
    if uid.is_empty() && network.is_empty() && tls_mode == "disabled" {
        return None;
    }
    let mut md = Metadata::default();
    if !uid.is_empty() || !network.is_empty() {
        let mut s = Struct::default();
        if !uid.is_empty() {
            s.fields.insert("uid".into(), string_value(uid));
        }
        if !network.is_empty() {
            s.fields.insert("network".into(), string_value(network));
        }
        md.filter_metadata.insert("istio".into(), s);
    }
    if !tls_mode.is_empty() {
        let mut s = Struct::default();
        s.fields.insert("tlsMode".into(), string_value(tls_mode));
        md.filter_metadata
            .insert("envoy.transport_socket_match".into(), s);
    }
    Some(md)
}

/// The alternate stat name from the mesh pattern (`%SERVICE%`, `%SERVICE_FQDN%`,
/// `%SUBSET_NAME%`, `%SERVICE_PORT%`, `%SERVICE_PORT_NAME%`).
pub(crate) fn alt_stat_name(pattern: &str, svc: &Service, subset: &str, port: &Port) -> String {
    let short = if svc.attributes.service_registry == registry::KUBERNETES {
        format!("{}.{}", svc.attributes.name, svc.attributes.namespace)
    } else {
        svc.hostname.clone()
    };
    pattern
        .replace("%SERVICE%", &short)
        .replace("%SERVICE_FQDN%", &svc.hostname)
        .replace("%SUBSET_NAME%", subset)
        .replace("%SERVICE_PORT%", &port.port.to_string())
        .replace("%SERVICE_PORT_NAME%", &port.name)
}

/// Keeps the first cluster of each name (upstream `normalizeClusters`).
pub(crate) fn normalize(clusters: Vec<Cluster>) -> Vec<Cluster> {
    let mut seen = HashSet::new();
    clusters
        .into_iter()
        .filter(|c| seen.insert(c.name.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{PortList, ServiceAttributes};

    fn svc(host: &str, registry_name: &str, name: &str, ns: &str) -> Service {
        Service {
            hostname: host.into(),
            address: String::new(),
            cluster_vips: Default::default(),
            ports: PortList::default(),
            service_accounts: Vec::new(),
            creation_time: 0,
            resolution: Resolution::ClientSideLb,
            mesh_external: false,
            attributes: ServiceAttributes {
                service_registry: registry_name.into(),
                name: name.into(),
                namespace: ns.into(),
                ..Default::default()
            },
        }
    }

    #[test]
    fn alt_stat_names() {
        // Upstream TestAltStatName.
        let p = Port {
            name: "grpc-svc".into(),
            port: 7443,
            protocol: Protocol::Grpc,
        };
        let k8s = |host, name, ns| svc(host, registry::KUBERNETES, name, ns);
        let cases = [
            (
                "%SERVICE%",
                k8s("reviews.default.svc.cluster.local", "reviews", "default"),
                "",
                "reviews.default",
            ),
            (
                "%SERVICE%",
                k8s(
                    "reviews.namespace1.svc.cluster.local",
                    "reviews",
                    "namespace1",
                ),
                "",
                "reviews.namespace1",
            ),
            (
                "%SERVICE%.%SERVICE_PORT%",
                k8s(
                    "reviews.namespace1.svc.cluster.local",
                    "reviews",
                    "namespace1",
                ),
                "",
                "reviews.namespace1.7443",
            ),
            (
                "%SERVICE%.%SERVICE_PORT%",
                svc("reviews.hostname.consul", registry::CONSUL, "foo", "bar"),
                "",
                "reviews.hostname.consul.7443",
            ),
            (
                "%SERVICE_FQDN%",
                k8s("reviews.default.svc.cluster.local", "reviews", "default"),
                "",
                "reviews.default.svc.cluster.local",
            ),
            (
                "%SERVICE_FQDN%_%SERVICE_PORT%",
                k8s("reviews.default.svc.cluster.local", "reviews", "default"),
                "",
                "reviews.default.svc.cluster.local_7443",
            ),
            (
                "%SERVICE_FQDN%_%SERVICE_PORT_NAME%",
                k8s("reviews.default.svc.cluster.local", "reviews", "default"),
                "",
                "reviews.default.svc.cluster.local_grpc-svc",
            ),
            (
                "%SERVICE_FQDN%_%SERVICE_PORT_NAME%_%SUBSET_NAME%",
                k8s("reviews.default.svc.cluster.local", "reviews", "default"),
                "v1",
                "reviews.default.svc.cluster.local_grpc-svc_v1",
            ),
        ];
        for (pattern, s, subset, want) in cases {
            assert_eq!(alt_stat_name(pattern, &s, subset, &p), want, "{pattern}");
        }
    }

    #[test]
    fn endpoint_metadata() {
        assert!(lb_endpoint_metadata("", "", "disabled").is_none());
        // Nothing to say but not disabled: empty metadata, as upstream.
        assert_eq!(lb_endpoint_metadata("", "", ""), Some(Metadata::default()));
        let md = lb_endpoint_metadata("kubernetes://pod.ns", "net1", "istio").unwrap();
        let istio = &md.filter_metadata["istio"];
        assert_eq!(istio.fields.len(), 2);
        assert!(istio.fields.contains_key("uid") && istio.fields.contains_key("network"));
        assert!(md.filter_metadata["envoy.transport_socket_match"]
            .fields
            .contains_key("tlsMode"));
    }

    #[test]
    fn localities() {
        assert!(convert_locality("").is_none());
        let l = convert_locality("us-east1/us-east1-b/rack1").unwrap();
        assert_eq!(
            (l.region.as_str(), l.zone.as_str(), l.sub_zone.as_str()),
            ("us-east1", "us-east1-b", "rack1")
        );
        let l = convert_locality("eu").unwrap();
        assert_eq!((l.region.as_str(), l.zone.as_str()), ("eu", ""));
    }
}
