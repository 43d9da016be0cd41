//! Mixer's policy check and telemetry filters (upstream
//! `pilot/pkg/networking/plugin/mixer`).
//!
//! When the mesh config names a Mixer check or report server (`mixerCheckServer`,
//! `mixerReportServer`), sidecars get:
//!
//! - the `mixer` HTTP filter (an `HttpClientConfig`) in every HTTP connection manager, first
//!   among the HTTP filters, with the attributes describing the proxy's side of the call;
//! - the `mixer` network filter (a `TcpClientConfig`) before the terminal filter of TCP
//!   chains, with the destination service's attributes on outbound chains;
//! - a `mixer` `ServiceConfig` in the per-filter config of HTTP routes (and weighted
//!   clusters), naming the destination service, plus the workload's QuotaSpecs inbound.
//!
//! Both client configs carry the transport: the check and report clusters
//! (`outbound|<port>||<host>` of the two servers), the network fail policy (mesh
//! `policyCheckFailOpen`, overridden by the `policy.istio.io/check*` node metadata) and the report
//! batching limits. Without either server the plugin adds nothing, except for the telemetry
//! session affinity of outbound clusters, which upstream applies whenever
//! `sidecarToTelemetrySessionAffinity` is set.
//!
//! Filter configs are always sent as `typed_config` (the v3 types have no `Struct` configs);
//! their type URLs (`type.googleapis.com/istio.mixer.v1.config.client.*`) are the same for
//! v2 and v3 clients.

use std::collections::BTreeMap;
use std::net::IpAddr;

use envoy_types::pb::envoy::config::cluster::v3::{cluster, Cluster};
use envoy_types::pb::envoy::config::core::v3::{address, socket_address};
use envoy_types::pb::envoy::config::endpoint::v3::{
    lb_endpoint, ClusterLoadAssignment, Endpoint, LbEndpoint, LocalityLbEndpoints,
};
use envoy_types::pb::envoy::config::listener::v3::{filter, Filter, Listener};
use envoy_types::pb::envoy::config::route::v3::{route, route_action, Route, RouteConfiguration};
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::{
    http_filter, HttpConnectionManager, HttpFilter,
};
use envoy_types::pb::google::protobuf::Any;
use prost::{Message, Name};

use istio_api::istio::mesh::v1alpha1::MeshConfig;
use istio_api::istio::mixer::v1::attributes::{attribute_value, AttributeValue};
use istio_api::istio::mixer::v1::config::client::{
    network_fail_policy::FailPolicy, HttpClientConfig, NetworkFailPolicy, QuotaSpec, ServiceConfig,
    TcpClientConfig, TransportConfig,
};
use istio_api::istio::mixer::v1::Attributes;
use istio_pkg::config::model::Spec;
use istio_pkg::config::schema::Kind;

use super::{FilterChain, InputParams, ListenerProtocol, MutableObjects, Plugin};
use crate::model::{IstioVersion, NodeType, Proxy, Service};
use crate::networking::core::v1alpha3::wire;
use crate::networking::util::{self, filter_names};

/// Name of Mixer's HTTP and network filters, and the per-filter config key of routes.
pub const MIXER: &str = "mixer";

/// Key of the service config used when a route names none.
const DEFAULT_CONFIG: &str = "default";

/// `policy.istio.io/check` node metadata values: checks on, failing closed.
const POLICY_CHECK_ENABLE: &str = "enable";
/// Checks off (and fail open).
const POLICY_CHECK_DISABLE: &str = "disable";
/// Checks on, failing open.
const POLICY_CHECK_ENABLE_ALLOW: &str = "allow-on-error";

/// Policy check retries unless `policy.istio.io/checkRetries` says otherwise.
const DEFAULT_RETRIES: u32 = 0;

/// 80ms: the first wait between policy check retries.
fn default_base_retry_wait() -> pbjson_types::Duration {
    pbjson_types::Duration {
        seconds: 0,
        nanos: 80_000_000,
    }
}

/// 1s: the longest wait between policy check retries.
fn default_max_retry_wait() -> pbjson_types::Duration {
    pbjson_types::Duration {
        seconds: 1,
        nanos: 0,
    }
}

/// Which side of a call the proxy is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Inbound,
    Outbound,
}

type Attrs = BTreeMap<String, AttributeValue>;

/// The Mixer plugin (upstream `mixer.NewPlugin()`).
#[derive(Debug, Clone, Copy, Default)]
pub struct MixerPlugin;

impl MixerPlugin {
    pub fn new() -> MixerPlugin {
        MixerPlugin
    }
}

/// Whether the mesh has a Mixer to talk to.
fn mixer_configured(mesh: &MeshConfig) -> bool {
    !mesh.mixer_check_server.is_empty() || !mesh.mixer_report_server.is_empty()
}

/// `major.minor.patch`.
fn proxy_version_string(v: &IstioVersion) -> String {
    format!("{}.{}.{}", v.major, v.minor, v.patch)
}

fn attr_string(v: impl Into<String>) -> AttributeValue {
    AttributeValue {
        value: Some(attribute_value::Value::StringValue(v.into())),
    }
}

fn attr_int(v: i64) -> AttributeValue {
    AttributeValue {
        value: Some(attribute_value::Value::Int64Value(v)),
    }
}

/// An IP as Go's `net.ParseIP` gives it: 16 bytes (IPv4 mapped into IPv6); empty when the
/// text is not an IP.
fn attr_ip(ip: &str) -> AttributeValue {
    let bytes = match ip.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.to_ipv6_mapped().octets().to_vec(),
        Ok(IpAddr::V6(v6)) => v6.octets().to_vec(),
        Err(_) => Vec::new(),
    };
    AttributeValue {
        value: Some(attribute_value::Value::BytesValue(bytes)),
    }
}

/// `kubernetes://<proxy id>`.
fn attr_uid(node: &Proxy) -> AttributeValue {
    attr_string(format!("kubernetes://{}", node.id))
}

/// The namespace part of the proxy id (`pod.namespace`: the last dot-separated part), empty
/// for an id without dots.
fn attr_namespace(node: &Proxy) -> AttributeValue {
    let parts: Vec<&str> = node.id.split('.').collect();
    if parts.len() >= 2 {
        attr_string(parts[parts.len() - 1])
    } else {
        attr_string("")
    }
}

fn attr_proxy_version(node: &Proxy) -> AttributeValue {
    attr_string(proxy_version_string(&node.istio_version))
}

/// The attributes of the calling side, for outbound filters.
fn outbound_listener_attributes(node: &Proxy) -> Attrs {
    let mut attrs = Attrs::new();
    attrs.insert("source.uid".into(), attr_uid(node));
    attrs.insert("source.namespace".into(), attr_namespace(node));
    attrs.insert("context.reporter.uid".into(), attr_uid(node));
    attrs.insert("context.reporter.kind".into(), attr_string("outbound"));
    attrs.insert("context.proxy_version".into(), attr_proxy_version(node));
    attrs
}

/// The attributes of the called side, for inbound filters of `listener`.
fn inbound_listener_attributes(node: &Proxy, listener: &Listener) -> Attrs {
    let mut attrs = Attrs::new();
    attrs.insert("destination.uid".into(), attr_uid(node));
    attrs.insert("destination.namespace".into(), attr_namespace(node));
    attrs.insert("context.reporter.uid".into(), attr_uid(node));
    attrs.insert("context.reporter.kind".into(), attr_string("inbound"));
    attrs.insert("context.proxy_version".into(), attr_proxy_version(node));
    if !node.metadata.mesh_id.is_empty() {
        attrs.insert(
            "destination.mesh.id".into(),
            attr_string(node.metadata.mesh_id.clone()),
        );
    }
    if let Some(address::Address::SocketAddress(sa)) =
        listener.address.as_ref().and_then(|a| a.address.as_ref())
    {
        attrs.insert("destination.ip".into(), attr_ip(&sa.address));
        if let Some(socket_address::PortSpecifier::PortValue(p)) = sa.port_specifier {
            attrs.insert("destination.port".into(), attr_int(i64::from(p)));
        }
    }
    attrs
}

/// Adds `destination.service.*` of `svc` (nothing for no service).
fn add_destination_service_attributes(attrs: &mut Attrs, svc: Option<&Service>) {
    let Some(svc) = svc else {
        return;
    };
    attrs.insert(
        "destination.service.host".into(),
        attr_string(svc.hostname.clone()),
    );
    let a = &svc.attributes;
    if !a.name.is_empty() {
        attrs.insert(
            "destination.service.name".into(),
            attr_string(a.name.clone()),
        );
    }
    if !a.namespace.is_empty() {
        attrs.insert(
            "destination.service.namespace".into(),
            attr_string(a.namespace.clone()),
        );
    }
    if !a.uid.is_empty() {
        attrs.insert("destination.service.uid".into(), attr_string(a.uid.clone()));
    }
}

/// Names the catch-all destinations (PassthroughCluster, BlackHoleCluster), which are no
/// services.
fn add_virtual_destination_service_attributes(attrs: &mut Attrs, name: &str) {
    if name == util::PASSTHROUGH_CLUSTER || name == util::BLACK_HOLE_CLUSTER {
        attrs.insert("destination.service.name".into(), attr_string(name));
    }
}

/// Whether outbound checks are off by mesh default: always when the mesh disables checks,
/// never for gateways, otherwise unless client-side checks are enabled.
fn disable_client_policy_checks(mesh: &MeshConfig, node: &Proxy) -> bool {
    if mesh.disable_policy_checks {
        return true;
    }
    if node.node_type == NodeType::Router {
        return false;
    }
    !mesh.enable_client_side_policy_check
}

/// Whether policy checks are off for calls on `side`: the mesh settings, overridden by the
/// proxy's `policy.istio.io/check` metadata.
fn disable_policy_checks(side: Side, mesh: &MeshConfig, node: &Proxy) -> bool {
    let by_mesh = match side {
        Side::Inbound => mesh.disable_policy_checks,
        Side::Outbound => disable_client_policy_checks(mesh, node),
    };
    match node.metadata.policy_check.as_str() {
        POLICY_CHECK_DISABLE => true,
        POLICY_CHECK_ENABLE | POLICY_CHECK_ENABLE_ALLOW => false,
        _ => by_mesh,
    }
}

/// No HTTP filter at all when it would neither check nor report.
fn skip_http_filter(side: Side, mesh: &MeshConfig, node: &Proxy) -> bool {
    disable_policy_checks(side, mesh, node) && mesh.disable_mixer_http_reports
}

/// Go's `strconv.Atoi` on 64-bit platforms: an optional sign and decimal digits. Returns
/// the value and whether it parsed; out of range values are clamped (and not ok), syntax
/// errors give 0.
fn go_atoi(s: &str) -> (i64, bool) {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return (0, false);
    }
    match s.parse::<i64>() {
        Ok(v) => (v, true),
        // All digits: only overflow is left.
        Err(_) if s.starts_with('-') => (i64::MIN, false),
        Err(_) => (i64::MAX, false),
    }
}

/// Go's `net.SplitHostPort`: `host:port` or `[host]:port`; `None` when malformed.
fn split_host_port(hostport: &str) -> Option<(&str, &str)> {
    let i = hostport.rfind(':')?;
    let (host, j, k);
    if hostport.starts_with('[') {
        let end = hostport.find(']')?;
        if end + 1 == hostport.len() {
            return None; // missing port
        }
        if end + 1 != i {
            return None; // too many colons, or missing port
        }
        host = &hostport[1..end];
        j = 1;
        k = end + 1;
    } else {
        host = &hostport[..i];
        if host.contains(':') {
            return None; // too many colons
        }
        j = 0;
        k = 0;
    }
    if hostport[j..].contains('[') || hostport[k..].contains(']') {
        return None;
    }
    Some((host, &hostport[i + 1..]))
}

/// The outbound cluster of a Mixer server address `host:port`; empty (no cluster) for no
/// address. A malformed address gives the cluster of an empty host on port 0, as upstream.
fn upstream_cluster_name(address: &str) -> String {
    if address.is_empty() {
        return String::new();
    }
    let (host, port) = split_host_port(address).unwrap_or(("", ""));
    let (port, _) = go_atoi(port);
    format!("{}|{port}||{host}", util::TrafficDirection::Outbound)
}

/// A Go duration string as a protobuf duration; `None` (with a warning) when malformed.
fn go_duration(what: &str, s: &str) -> Option<pbjson_types::Duration> {
    match istio_pkg::config::protojson::parse_go_duration(s) {
        Ok(nanos) => Some(pbjson_types::Duration {
            seconds: nanos / 1_000_000_000,
            nanos: (nanos % 1_000_000_000) as i32,
        }),
        Err(_) => {
            tracing::warn!("unable to parse {what} {s:?}");
            None
        }
    }
}

/// A mesh duration if it is a valid protobuf duration (in range, consistent signs).
fn valid_duration(d: Option<&pbjson_types::Duration>) -> Option<pbjson_types::Duration> {
    const MAX_SECONDS: i64 = 315_576_000_000;
    let d = d?;
    let in_range = (-MAX_SECONDS..=MAX_SECONDS).contains(&d.seconds)
        && (-999_999_999..=999_999_999).contains(&d.nanos)
        && !((d.seconds > 0 && d.nanos < 0) || (d.seconds < 0 && d.nanos > 0));
    if in_range {
        Some(*d)
    } else {
        tracing::warn!("invalid reportBatchMaxTime {d:?}; not sent");
        None
    }
}

/// The client's transport: Mixer clusters, fail policy, retries and report batching.
fn build_transport(mesh: &MeshConfig, node: &Proxy) -> TransportConfig {
    let mut policy = if mesh.policy_check_fail_open {
        FailPolicy::FailOpen
    } else {
        FailPolicy::FailClose
    };
    match node.metadata.policy_check.as_str() {
        POLICY_CHECK_ENABLE => policy = FailPolicy::FailClose,
        POLICY_CHECK_ENABLE_ALLOW | POLICY_CHECK_DISABLE => policy = FailPolicy::FailOpen,
        _ => {}
    }
    let meta = &node.metadata;
    let mut max_retry = DEFAULT_RETRIES;
    if !meta.policy_check_retries.is_empty() {
        match go_atoi(&meta.policy_check_retries) {
            // Go's uint32(int) conversion keeps the low 32 bits.
            (n, true) => max_retry = n as u32,
            (_, false) => tracing::warn!(
                "unable to parse retry limit {:?}",
                meta.policy_check_retries
            ),
        }
    }
    let mut base_retry_wait = default_base_retry_wait();
    if !meta.policy_check_base_retry_wait_time.is_empty() {
        if let Some(d) = go_duration(
            "base retry wait time",
            &meta.policy_check_base_retry_wait_time,
        ) {
            base_retry_wait = d;
        }
    }
    let mut max_retry_wait = default_max_retry_wait();
    if !meta.policy_check_max_retry_wait_time.is_empty() {
        if let Some(d) = go_duration(
            "max retry wait time",
            &meta.policy_check_max_retry_wait_time,
        ) {
            max_retry_wait = d;
        }
    }
    TransportConfig {
        check_cluster: upstream_cluster_name(&mesh.mixer_check_server),
        report_cluster: upstream_cluster_name(&mesh.mixer_report_server),
        network_fail_policy: Some(NetworkFailPolicy {
            policy: policy as i32,
            max_retry,
            base_retry_wait: Some(base_retry_wait),
            max_retry_wait: Some(max_retry_wait),
        }),
        report_batch_max_entries: mesh.report_batch_max_entries,
        report_batch_max_time: valid_duration(mesh.report_batch_max_time.as_ref()),
        ..Default::default()
    }
}

fn attributes(attrs: Attrs) -> Option<Attributes> {
    Some(Attributes { attributes: attrs })
}

fn any<M: Message + Name>(m: &M) -> Any {
    util::message_to_any(m)
}

/// The `mixer` HTTP filter for calls on `side`; outbound filters also forward the caller's
/// uid to the server side.
fn build_http_filter(side: Side, mesh: &MeshConfig, attrs: Attrs, node: &Proxy) -> HttpFilter {
    let mut service_configs = BTreeMap::new();
    service_configs.insert(
        DEFAULT_CONFIG.to_owned(),
        ServiceConfig {
            disable_check_calls: disable_policy_checks(side, mesh, node),
            disable_report_calls: mesh.disable_mixer_http_reports,
            ..Default::default()
        },
    );
    let forward_attributes = (side == Side::Outbound).then(|| {
        let mut fwd = Attrs::new();
        fwd.insert("source.uid".into(), attr_uid(node));
        Attributes { attributes: fwd }
    });
    let cfg = HttpClientConfig {
        default_destination_service: DEFAULT_CONFIG.into(),
        service_configs,
        mixer_attributes: attributes(attrs),
        forward_attributes,
        transport: Some(build_transport(mesh, node)),
        ignore_forwarded_attributes: node.node_type == NodeType::Router,
    };
    HttpFilter {
        name: MIXER.into(),
        config_type: Some(http_filter::ConfigType::TypedConfig(any(&cfg))),
        ..Default::default()
    }
}

/// The `mixer` network filter for calls on `side`; outbound filters name the destination
/// service.
fn build_tcp_filter(
    side: Side,
    mesh: &MeshConfig,
    attrs: &Attrs,
    node: &Proxy,
    destination: Option<&Service>,
) -> Filter {
    let mut attrs = attrs.clone();
    if side == Side::Outbound {
        add_destination_service_attributes(&mut attrs, destination);
    }
    let cfg = TcpClientConfig {
        disable_check_calls: disable_policy_checks(side, mesh, node),
        mixer_attributes: attributes(attrs),
        transport: Some(build_transport(mesh, node)),
        ..Default::default()
    };
    Filter {
        name: MIXER.into(),
        config_type: Some(filter::ConfigType::TypedConfig(any(&cfg))),
    }
}

/// Sets the `mixer` entry of a per-filter config map.
fn set_service_config(
    configs: &mut std::collections::HashMap<String, Any>,
    config: &ServiceConfig,
) {
    configs.insert(MIXER.to_owned(), any(config));
}

/// The outbound route-level service config naming the destination by `attrs`.
fn outbound_service_config(in_: &InputParams<'_>, attrs: Option<Attrs>) -> ServiceConfig {
    let mesh = &in_.push.mesh;
    let mut cfg = ServiceConfig {
        disable_check_calls: disable_policy_checks(Side::Outbound, mesh, in_.node),
        disable_report_calls: mesh.disable_mixer_http_reports,
        ..Default::default()
    };
    if let Some(attrs) = attrs {
        cfg.mixer_attributes = attributes(attrs.clone());
        cfg.forward_attributes = attributes(attrs);
    }
    cfg
}

/// The host part of a cluster name `dir|port|subset|host` or `dir_.port_.subset_.host`
/// (upstream `ParseSubsetKey`); empty when the name has fewer parts.
fn subset_key_hostname(name: &str) -> &str {
    let srv = name.starts_with("outbound_") || name.starts_with("inbound_");
    let parts: Vec<&str> = if srv {
        name.splitn(4, '.').collect()
    } else {
        name.split('|').collect()
    };
    if parts.len() < 4 {
        return "";
    }
    parts[3]
}

/// Adds the destination service configs to one outbound route (upstream
/// `modifyOutboundRouteConfig`).
fn modify_outbound_route(in_: &InputParams<'_>, virtual_host: &str, r: &mut Route) {
    // The default, refined below for routes to one destination and per weighted cluster.
    set_service_config(
        &mut r.typed_per_filter_config,
        &outbound_service_config(in_, None),
    );
    let scope_service = |cluster_name: &str| -> Option<&Service> {
        let host = subset_key_hostname(cluster_name);
        in_.scope.service_for_hostname(host).map(|s| s.as_ref())
    };
    match &mut r.action {
        Some(route::Action::Route(action)) => match &mut action.cluster_specifier {
            Some(route_action::ClusterSpecifier::Cluster(c)) => {
                let mut attrs = Attrs::new();
                if subset_key_hostname(c).is_empty() && c == util::PASSTHROUGH_CLUSTER {
                    add_virtual_destination_service_attributes(
                        &mut attrs,
                        util::PASSTHROUGH_CLUSTER,
                    );
                } else {
                    add_destination_service_attributes(&mut attrs, scope_service(c));
                }
                let cfg = outbound_service_config(in_, Some(attrs));
                set_service_config(&mut r.typed_per_filter_config, &cfg);
            }
            Some(route_action::ClusterSpecifier::WeightedClusters(w)) => {
                for cw in &mut w.clusters {
                    let mut attrs = Attrs::new();
                    add_destination_service_attributes(&mut attrs, scope_service(&cw.name));
                    let cfg = outbound_service_config(in_, Some(attrs));
                    set_service_config(&mut cw.typed_per_filter_config, &cfg);
                }
            }
            Some(route_action::ClusterSpecifier::ClusterHeader(_)) => {}
            _ => tracing::warn!("unknown cluster type in mixer on_outbound_route_configuration"),
        },
        // The 502 direct response stands for the BlackHoleCluster.
        Some(route::Action::DirectResponse(_)) => {
            if virtual_host == util::BLACK_HOLE_ROUTE_NAME {
                let mut attrs = Attrs::new();
                add_virtual_destination_service_attributes(&mut attrs, util::BLACK_HOLE_CLUSTER);
                let cfg = outbound_service_config(in_, Some(attrs));
                set_service_config(&mut r.typed_per_filter_config, &cfg);
            }
        }
        Some(route::Action::Redirect(_)) => {}
        _ => tracing::warn!("unknown route type in mixer on_outbound_route_configuration"),
    }
}

/// The inbound route config of a workload's service: its attributes and QuotaSpecs.
fn inbound_service_config(in_: &InputParams<'_>) -> ServiceConfig {
    let mesh = &in_.push.mesh;
    let service = in_
        .service
        .or(in_.service_instance.map(|i| i.service.as_ref()));
    let mut attrs = Attrs::new();
    add_destination_service_attributes(&mut attrs, service);
    let mut quota_spec = Vec::new();
    if let Some(svc) = service {
        let specs = crate::model::config::quota_specs_for_destination(
            in_.push.configs(Kind::QuotaSpecBinding),
            in_.push.configs(Kind::QuotaSpec),
            &svc.hostname,
        );
        for c in specs {
            if let Spec::QuotaSpec(q) = &c.spec {
                quota_spec.push(QuotaSpec::clone(q));
            }
        }
    }
    ServiceConfig {
        disable_check_calls: disable_policy_checks(Side::Inbound, mesh, in_.node),
        disable_report_calls: mesh.disable_mixer_http_reports,
        mixer_attributes: attributes(attrs),
        quota_spec,
        ..Default::default()
    }
}

fn chain_protocol(c: &FilterChain) -> ListenerProtocol {
    c.listener_protocol.unwrap_or(ListenerProtocol::Unknown)
}

/// On a sniffing listener, the HTTP filter (if any) on each HTTP chain and the TCP filter on
/// each TCP chain.
fn add_by_chain_protocol(chains: &mut [FilterChain], http: Option<&HttpFilter>, tcp: &Filter) {
    for c in chains.iter_mut() {
        match chain_protocol(c) {
            ListenerProtocol::Http => c.http.extend(http.cloned()),
            ListenerProtocol::Tcp => c.tcp.push(tcp.clone()),
            _ => {}
        }
    }
}

/// Puts `node`'s own values into the attributes that name the proxy.
fn localize_attributes(attrs: &mut Option<Attributes>, node: &Proxy) {
    let Some(a) = attrs else {
        return;
    };
    for (k, v) in a.attributes.iter_mut() {
        match k.as_str() {
            "source.uid" | "context.reporter.uid" => *v = attr_uid(node),
            "source.namespace" => *v = attr_namespace(node),
            "context.proxy_version" => *v = attr_proxy_version(node),
            _ => {}
        }
    }
}

fn localize_http_filter(hf: &mut HttpFilter, node: &Proxy) -> bool {
    if hf.name != MIXER {
        return false;
    }
    let Some(http_filter::ConfigType::TypedConfig(any)) = &mut hf.config_type else {
        return false;
    };
    if any.type_url != HttpClientConfig::type_url() {
        return false;
    }
    let Ok(mut cfg) = HttpClientConfig::decode(any.value.as_slice()) else {
        return false;
    };
    localize_attributes(&mut cfg.mixer_attributes, node);
    localize_attributes(&mut cfg.forward_attributes, node);
    any.value = cfg.encode_to_vec();
    true
}

fn localize_network_filter(f: &mut Filter, node: &Proxy) {
    let Some(filter::ConfigType::TypedConfig(any)) = &mut f.config_type else {
        return;
    };
    if f.name == MIXER && any.type_url == TcpClientConfig::type_url() {
        if let Ok(mut cfg) = TcpClientConfig::decode(any.value.as_slice()) {
            localize_attributes(&mut cfg.mixer_attributes, node);
            any.value = cfg.encode_to_vec();
        }
    } else if f.name == filter_names::HTTP_CONNECTION_MANAGER
        && any.type_url == HttpConnectionManager::type_url()
    {
        match wire::rewrite_http_filters(&any.value, |hf| localize_http_filter(hf, node)) {
            Ok(Some(v)) => any.value = v,
            Ok(None) => {}
            Err(e) => tracing::warn!("mixer: cannot read an HTTP connection manager: {e}"),
        }
    }
}

impl Plugin for MixerPlugin {
    fn on_outbound_listener(&self, in_: &InputParams<'_>, m: &mut MutableObjects<'_>) {
        let mesh = &in_.push.mesh;
        if !mixer_configured(mesh) {
            return;
        }
        let node = in_.node;
        let attrs = outbound_listener_attributes(node);
        let skip_http = skip_http_filter(Side::Outbound, mesh, node);
        match in_.listener_protocol {
            ListenerProtocol::Http => {
                if skip_http {
                    return;
                }
                let f = build_http_filter(Side::Outbound, mesh, attrs, node);
                for c in m.filter_chains.iter_mut() {
                    c.http.push(f.clone());
                }
            }
            ListenerProtocol::Tcp => {
                let tcp = build_tcp_filter(Side::Outbound, mesh, &attrs, node, in_.service);
                if node.node_type == NodeType::Router {
                    // A gateway's TCP listener may terminate TLS into an HTTP connection
                    // manager: each chain gets the filter of its own protocol.
                    let http = build_http_filter(Side::Outbound, mesh, attrs, node);
                    for c in m.filter_chains.iter_mut() {
                        if chain_protocol(c) == ListenerProtocol::Http && !skip_http {
                            c.http.push(http.clone());
                        } else {
                            c.tcp.push(tcp.clone());
                        }
                    }
                } else {
                    for c in m.filter_chains.iter_mut() {
                        if c.is_fall_through {
                            let svc = util::fall_through_service(in_.scope.allow_any_outbound);
                            let f = build_tcp_filter(
                                Side::Outbound,
                                mesh,
                                &outbound_listener_attributes(node),
                                node,
                                Some(svc),
                            );
                            c.tcp.push(f);
                        } else {
                            c.tcp.push(tcp.clone());
                        }
                    }
                }
            }
            ListenerProtocol::Auto => {
                let tcp = build_tcp_filter(Side::Outbound, mesh, &attrs, node, in_.service);
                let http =
                    (!skip_http).then(|| build_http_filter(Side::Outbound, mesh, attrs, node));
                add_by_chain_protocol(m.filter_chains, http.as_ref(), &tcp);
            }
            ListenerProtocol::Unknown => tracing::warn!(
                "unknown listener type {:?} in mixer on_outbound_listener",
                in_.listener_protocol
            ),
        }
    }

    fn on_inbound_listener(&self, in_: &InputParams<'_>, m: &mut MutableObjects<'_>) {
        let mesh = &in_.push.mesh;
        if !mixer_configured(mesh) {
            return;
        }
        let node = in_.node;
        let attrs = inbound_listener_attributes(node, m.listener);
        let skip_http = skip_http_filter(Side::Inbound, mesh, node);
        match in_.listener_protocol {
            ListenerProtocol::Http => {
                if skip_http {
                    return;
                }
                let f = build_http_filter(Side::Inbound, mesh, attrs, node);
                for c in m.filter_chains.iter_mut() {
                    c.http.push(f.clone());
                }
            }
            ListenerProtocol::Tcp => {
                let f = build_tcp_filter(Side::Inbound, mesh, &attrs, node, None);
                for c in m.filter_chains.iter_mut() {
                    c.tcp.push(f.clone());
                }
            }
            ListenerProtocol::Auto => {
                let tcp = build_tcp_filter(Side::Inbound, mesh, &attrs, node, None);
                let http =
                    (!skip_http).then(|| build_http_filter(Side::Inbound, mesh, attrs, node));
                add_by_chain_protocol(m.filter_chains, http.as_ref(), &tcp);
            }
            ListenerProtocol::Unknown => tracing::warn!(
                "unknown listener type {:?} in mixer on_inbound_listener",
                in_.listener_protocol
            ),
        }
    }

    fn on_virtual_listener(&self, in_: &InputParams<'_>, m: &mut MutableObjects<'_>) {
        let mesh = &in_.push.mesh;
        if !mixer_configured(mesh) || in_.listener_protocol != ListenerProtocol::Tcp {
            return;
        }
        let attrs = outbound_listener_attributes(in_.node);
        let f = build_tcp_filter(Side::Outbound, mesh, &attrs, in_.node, in_.service);
        for c in m.filter_chains.iter_mut() {
            c.tcp.push(f.clone());
        }
    }

    fn on_outbound_cluster(&self, in_: &InputParams<'_>, c: &mut Cluster) {
        let mesh = &in_.push.mesh;
        if !mesh.sidecar_to_telemetry_session_affinity {
            return;
        }
        // Upstream matches on the report server's host (an empty one matches every cluster).
        let host = mesh.mixer_report_server.split(':').next().unwrap_or("");
        if !c.name.contains(host) {
            return;
        }
        // Session affinity needs the telemetry service's one VIP resolved by DNS (with
        // ClientIP affinity on the Kubernetes service), not its endpoints.
        let address = in_.service.map(|s| s.address.as_str()).unwrap_or("");
        let port = in_.port.map(|p| p.port).unwrap_or(0);
        c.cluster_discovery_type = Some(cluster::ClusterDiscoveryType::Type(
            cluster::DiscoveryType::StrictDns as i32,
        ));
        c.load_assignment = Some(ClusterLoadAssignment {
            cluster_name: c.name.clone(),
            endpoints: vec![LocalityLbEndpoints {
                lb_endpoints: vec![LbEndpoint {
                    host_identifier: Some(lb_endpoint::HostIdentifier::Endpoint(Endpoint {
                        address: Some(util::build_address(address, port)),
                        ..Default::default()
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        });
        c.eds_cluster_config = None;
    }

    fn on_outbound_route_configuration(&self, in_: &InputParams<'_>, r: &mut RouteConfiguration) {
        if !mixer_configured(&in_.push.mesh) {
            return;
        }
        for vh in &mut r.virtual_hosts {
            for route in &mut vh.routes {
                modify_outbound_route(in_, &vh.name, route);
            }
        }
    }

    fn on_inbound_route_configuration(&self, in_: &InputParams<'_>, r: &mut RouteConfiguration) {
        if !mixer_configured(&in_.push.mesh) {
            return;
        }
        match in_.listener_protocol {
            ListenerProtocol::Http => {
                let cfg = inbound_service_config(in_);
                for vh in &mut r.virtual_hosts {
                    for route in &mut vh.routes {
                        set_service_config(&mut route.typed_per_filter_config, &cfg);
                    }
                }
            }
            ListenerProtocol::Tcp => {}
            _ => tracing::warn!("unknown listener type in mixer on_inbound_route_configuration"),
        }
    }

    fn localizes_outbound_listeners(&self, in_: &InputParams<'_>) -> bool {
        mixer_configured(&in_.push.mesh)
    }

    fn localize_outbound_listener(&self, in_: &InputParams<'_>, l: &mut Listener) {
        if !mixer_configured(&in_.push.mesh) {
            return;
        }
        for fc in &mut l.filter_chains {
            for f in &mut fc.filters {
                localize_network_filter(f, in_.node);
            }
        }
    }
}

#[cfg(test)]
mod tests;
