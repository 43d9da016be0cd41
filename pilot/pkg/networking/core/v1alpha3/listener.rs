//! LDS for sidecars (upstream `core/v1alpha3/listener.go`).
//!
//! Inbound: one listener per service instance endpoint `<ip>_<port>` (not bound: traffic
//! arrives through `virtualInbound`), or per Sidecar ingress listener; HTTP ports get an HTTP
//! connection manager with an inline route config, TCP ports a TCP proxy, unnamed ports both
//! (protocol sniffing) when inbound sniffing is on.
//! Outbound: per egress listener of the sidecar scope and service port, `0.0.0.0_<port>` for
//! HTTP (routes over RDS) and `<vip>_<port>` for TCP, resolving port conflicts between
//! services the way upstream does (see [`OutboundBuilder::add`]).

// Deprecated v3 fields are the ones Envoy 1.13 (xDS v2) understands; we send those.
#![allow(deprecated)]

use std::collections::HashMap;
use std::sync::Arc;

use envoy_types::pb::envoy::config::core::v3::{
    CidrRange, Http1ProtocolOptions, Http2ProtocolOptions, Metadata, TrafficDirection,
};
use envoy_types::pb::envoy::config::listener::v3::{
    filter, listener, Filter, FilterChain, FilterChainMatch, Listener, ListenerFilter,
};
use envoy_types::pb::envoy::config::route::v3::RouteConfiguration;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::{
    http_connection_manager::{self, Tracing, UpgradeConfig},
    HttpConnectionManager, HttpFilter, Rds,
};
use envoy_types::pb::envoy::r#type::v3::Percent;
use envoy_types::pb::google::protobuf::{value, BoolValue, Duration, Value};

use istio_api::istio::networking::v1alpha3::CaptureMode;
use istio_pkg::config::protocol::Instance as Protocol;

use bytes::Bytes;
use prost::Message;

use crate::model::service::registry;
use crate::model::{InterceptionMode, Port, Proxy, Resolution, Service, ServiceInstance};
use crate::networking::core::{EncodedListener, SharedListener};
use crate::networking::plugin::{
    self, model_protocol_to_listener_protocol, Direction, InputParams, ListenerProtocol,
    MutableObjects,
};
use crate::networking::util::{self, filter_names, TrafficDirection as Dir};

use super::httproute;
use super::networkfilter;
use super::wire::{self, HcmExtras};
use super::Ctx;

/// Name of the listener capturing outbound traffic (iptables redirects to it).
pub const VIRTUAL_OUTBOUND_LISTENER_NAME: &str = "virtualOutbound";
/// Name of the listener capturing inbound traffic.
pub const VIRTUAL_INBOUND_LISTENER_NAME: &str = "virtualInbound";
/// Port iptables redirects inbound traffic to.
pub const PROXY_INBOUND_LISTEN_PORT: u32 = 15006;
/// RDS name of the HTTP proxy listener's routes.
pub const RDS_HTTP_PROXY: &str = "http_proxy";
/// Default HTTP proxy port in NONE interception mode.
pub const DEFAULT_PORT_HTTP_PROXY: u32 = 15002;
/// `server_name` of inbound HTTP connection managers.
pub const ENVOY_SERVER_NAME: &str = "istio-envoy";
/// Metadata key for pilot's own annotations on filter chains.
pub const PILOT_META_KEY: &str = "pilot_meta";
/// ALPN set by the HTTP inspector for HTTP/1.x.
pub const APPLICATION_PROTOCOLS: [&str; 2] = ["http/1.0", "http/1.1"];
pub const H2_PROTOCOL: &str = "h2";
/// HTTP services may not use this port (PILOT_BLOCK_HTTP_ON_443).
pub const CANONICAL_HTTPS_PORT: u32 = 443;

/// Stands for the proxy's own IPs in cached outbound listeners; replaced per proxy.
pub(crate) const POD_IP_PLACEHOLDER: &str = "<pod-ip>";

/// Options of one HTTP connection manager (upstream `httpListenerOpts`).
#[derive(Debug, Clone, Default)]
pub(crate) struct HttpOpts {
    pub route_config: Option<RouteConfiguration>,
    pub rds: String,
    pub use_remote_address: bool,
    /// Tracing operation EGRESS (else INGRESS).
    pub egress: bool,
    /// Inbound settings: client cert forwarding and server name.
    pub inbound: bool,
    /// HTTP/2 codec options (inbound HTTP2/gRPC ports).
    pub http2: bool,
    pub grpc_web: bool,
    pub accept_http10: bool,
    /// The HTTP proxy listener accepts absolute URLs.
    pub allow_absolute_url: bool,
    pub stat_prefix: String,
}

/// One filter chain to build (upstream `filterChainOpts`).
#[derive(Debug, Clone, Default)]
pub(crate) struct ChainOpts {
    pub sni_hosts: Vec<String>,
    pub destination_cidrs: Vec<String>,
    pub metadata: Option<Metadata>,
    pub http: Option<HttpOpts>,
    pub filter_chain_match: Option<FilterChainMatch>,
    pub network_filters: Vec<Filter>,
    pub is_fallthrough: bool,
}

/// One listener to build (upstream `buildListenerOpts`).
#[derive(Debug, Clone, Default)]
pub(crate) struct ListenerOpts {
    pub bind: String,
    pub port: u32,
    pub chains: Vec<ChainOpts>,
    pub bind_to_port: bool,
    pub need_http_inspector: bool,
}

pub(crate) fn listener_filter(name: &str) -> ListenerFilter {
    ListenerFilter {
        name: name.to_owned(),
        ..Default::default()
    }
}

/// Builds a listener with empty filter chains (matches only) from `opts` (upstream
/// `buildListener`).
pub(crate) fn build_listener(ctx: &Ctx<'_>, opts: &ListenerOpts) -> Listener {
    let mut listener_filters = Vec::new();
    let need_tls = opts.chains.iter().any(|c| !c.sni_hosts.is_empty());
    if need_tls || opts.need_http_inspector {
        listener_filters.push(listener_filter(filter_names::TLS_INSPECTOR));
    }
    if opts.need_http_inspector {
        listener_filters.push(listener_filter(filter_names::HTTP_INSPECTOR));
    }
    let mut chains = Vec::with_capacity(opts.chains.len());
    for c in &opts.chains {
        let need_match = c.filter_chain_match.is_some();
        let mut m = c.filter_chain_match.clone().unwrap_or_default();
        if !c.sni_hosts.is_empty() {
            let mut sni = c.sni_hosts.clone();
            sni.sort();
            if !sni.iter().any(|h| h == "*") {
                m.server_names = sni;
            }
        }
        if !c.destination_cidrs.is_empty() {
            let mut cidrs = c.destination_cidrs.clone();
            cidrs.sort();
            for d in cidrs.iter().filter(|d| !d.is_empty()) {
                if let Some(cidr) = cidr_of(d) {
                    if cidr.address_prefix != crate::model::service::UNSPECIFIED_IP {
                        m.prefix_ranges.push(cidr);
                    }
                }
            }
        }
        let m = if !need_match && m == FilterChainMatch::default() {
            None
        } else {
            Some(m)
        };
        chains.push(FilterChain {
            filter_chain_match: m,
            ..Default::default()
        });
    }
    let mut l = Listener {
        name: format!("{}_{}", opts.bind, opts.port),
        address: Some(util::build_address(&opts.bind, opts.port)),
        listener_filters,
        filter_chains: chains,
        ..Default::default()
    };
    if !opts.bind_to_port {
        l.deprecated_v1 = Some(listener::DeprecatedV1 {
            bind_to_port: Some(BoolValue { value: false }),
        });
    }
    if util::is_istio_version_ge13(ctx.proxy) {
        l.listener_filters_timeout =
            util::mesh_duration(ctx.push.mesh.protocol_detection_timeout.as_ref());
        if l.listener_filters_timeout.is_some() {
            l.continue_on_listener_filters_timeout = true;
        }
    }
    l
}

/// CIDR of an address; the pod IP placeholder becomes a placeholder range.
fn cidr_of(addr: &str) -> Option<CidrRange> {
    if addr == POD_IP_PLACEHOLDER {
        return Some(CidrRange {
            address_prefix: POD_IP_PLACEHOLDER.into(),
            prefix_len: None,
        });
    }
    util::convert_address_to_cidr(addr)
}

fn bool_value(v: bool) -> Option<BoolValue> {
    Some(BoolValue { value: v })
}

fn zero_duration() -> Option<Duration> {
    Some(Duration {
        seconds: 0,
        nanos: 0,
    })
}

fn http_filter(name: &str) -> HttpFilter {
    HttpFilter {
        name: name.to_owned(),
        ..Default::default()
    }
}

/// The `envoy.http_connection_manager` filter for `opts` (upstream
/// `buildHTTPConnectionManager`); `plugin_filters` go before cors, fault and router.
pub(crate) fn build_http_connection_manager(
    ctx: &Ctx<'_>,
    opts: &HttpOpts,
    plugin_filters: &[HttpFilter],
) -> Filter {
    let mut filters: Vec<HttpFilter> = plugin_filters.to_vec();
    if opts.grpc_web {
        filters.push(http_filter(filter_names::GRPC_WEB));
    }
    filters.push(http_filter(filter_names::CORS));
    filters.push(http_filter(filter_names::FAULT));
    filters.push(http_filter(filter_names::ROUTER));

    let mut hcm = HttpConnectionManager {
        codec_type: http_connection_manager::CodecType::Auto as i32,
        stat_prefix: opts.stat_prefix.clone(),
        http_filters: filters,
        normalize_path: bool_value(true),
        use_remote_address: bool_value(opts.use_remote_address),
        upgrade_configs: vec![UpgradeConfig {
            upgrade_type: "websocket".into(),
            ..Default::default()
        }],
        stream_idle_timeout: zero_duration(),
        ..Default::default()
    };
    if opts.inbound {
        hcm.forward_client_cert_details =
            http_connection_manager::ForwardClientCertDetails::AppendForward as i32;
        hcm.set_current_client_cert_details =
            Some(http_connection_manager::SetCurrentClientCertDetails {
                subject: bool_value(true),
                uri: true,
                dns: true,
                ..Default::default()
            });
        hcm.server_name = ENVOY_SERVER_NAME.into();
    }
    if opts.http2 {
        hcm.http2_protocol_options = Some(Http2ProtocolOptions::default());
    }
    if opts.accept_http10 || opts.allow_absolute_url {
        hcm.http_protocol_options = Some(Http1ProtocolOptions {
            allow_absolute_url: if opts.allow_absolute_url {
                bool_value(true)
            } else {
                None
            },
            accept_http_10: opts.accept_http10,
            ..Default::default()
        });
    }
    hcm.route_specifier = Some(if opts.rds.is_empty() {
        http_connection_manager::RouteSpecifier::RouteConfig(
            opts.route_config.clone().unwrap_or_default(),
        )
    } else {
        http_connection_manager::RouteSpecifier::Rds(Rds {
            config_source: Some(super::cluster::ads_config_source(ctx)),
            route_config_name: opts.rds.clone(),
        })
    });
    if let Some(al) = networkfilter::file_access_log(ctx) {
        hcm.access_log.push(al);
    }
    if let Some(al) = networkfilter::build_http_grpc_access_log(&ctx.push.mesh) {
        hcm.access_log.push(al);
    }
    if ctx.push.mesh.enable_tracing {
        let random = if (0.0..=100.0).contains(&ctx.features.trace_sampling) {
            ctx.features.trace_sampling
        } else {
            100.0
        };
        hcm.tracing = Some(Tracing {
            client_sampling: Some(Percent { value: 100.0 }),
            random_sampling: Some(Percent { value: random }),
            overall_sampling: Some(Percent { value: 100.0 }),
            ..Default::default()
        });
        hcm.generate_request_id = bool_value(true);
    }
    let extras = HcmExtras {
        egress_tracing: opts.egress,
        idle_timeout: util::parse_positive_go_duration(&ctx.proxy.metadata.idle_timeout),
    };
    Filter {
        name: filter_names::HTTP_CONNECTION_MANAGER.into(),
        config_type: Some(filter::ConfigType::TypedConfig(util::bytes_to_any::<
            HttpConnectionManager,
        >(wire::encode_hcm(
            &hcm, &extras,
        )))),
    }
}

fn pilot_meta_bool(key: &str, v: bool) -> (String, Value) {
    (
        key.to_owned(),
        Value {
            kind: Some(value::Kind::BoolValue(v)),
        },
    )
}

/// Sets `pilot_meta.<key>` on a chain's metadata.
pub(crate) fn insert_pilot_meta(chain: &mut FilterChain, key: &str, v: Value) {
    let md = chain.metadata.get_or_insert_with(Metadata::default);
    md.filter_metadata
        .entry(PILOT_META_KEY.to_owned())
        .or_default()
        .fields
        .insert(key.to_owned(), v);
}

fn is_fallthrough_chain(fc: &FilterChain) -> bool {
    fc.metadata
        .as_ref()
        .and_then(|m| m.filter_metadata.get(PILOT_META_KEY))
        .and_then(|s| s.fields.get("fallthrough"))
        .is_some_and(|v| v.kind == Some(value::Kind::BoolValue(true)))
}

fn is_match_all_chain(fc: &FilterChain) -> bool {
    fc.filter_chain_match
        .as_ref()
        .is_none_or(|m| *m == FilterChainMatch::default())
}

/// Adds the filters to the listener's chains (upstream `buildCompleteFilterChain`).
/// `direction_name` is the lower-case traffic direction used in HTTP stat prefixes.
pub(crate) fn complete_filter_chains(
    ctx: &Ctx<'_>,
    l: &mut Listener,
    opts: &mut ListenerOpts,
    plugin_chains: &[plugin::FilterChain],
    direction_name: &str,
) {
    let name = l.name.clone();
    for (i, opt) in opts.chains.iter_mut().enumerate() {
        let Some(fc) = l.filter_chains.get_mut(i) else {
            break;
        };
        let plugin_chain = plugin_chains.get(i);
        let plugin_tcp = plugin_chain.map(|c| c.tcp.as_slice()).unwrap_or_default();
        fc.metadata = opt.metadata.clone();
        match &mut opt.http {
            None => {
                if let Some((last, rest)) = opt.network_filters.split_last() {
                    if opt.is_fallthrough {
                        let (k, v) = pilot_meta_bool("fallthrough", true);
                        insert_pilot_meta(fc, &k, v);
                    }
                    fc.filters.extend(rest.iter().cloned());
                    fc.filters.extend(plugin_tcp.iter().cloned());
                    fc.filters.push(last.clone());
                } else {
                    fc.filters.extend(plugin_tcp.iter().cloned());
                }
            }
            Some(http) => {
                fc.filters.extend(plugin_tcp.iter().cloned());
                http.stat_prefix = format!("{direction_name}_{name}");
                let plugin_http = plugin_chain.map(|c| c.http.as_slice()).unwrap_or_default();
                fc.filters
                    .push(build_http_connection_manager(ctx, http, plugin_http));
            }
        }
    }
}

fn plugin_chains_for(opts: &ListenerOpts) -> Vec<plugin::FilterChain> {
    opts.chains
        .iter()
        .map(|c| plugin::FilterChain {
            listener_protocol: Some(if c.http.is_some() {
                ListenerProtocol::Http
            } else {
                ListenerProtocol::Tcp
            }),
            is_fall_through: c.is_fallthrough,
            ..Default::default()
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Inbound

/// What one inbound listener serves.
pub(crate) struct InboundTarget<'a> {
    /// Hostname in the inbound cluster name (service, or `name.namespace` of the Sidecar).
    pub hostname: &'a str,
    /// The instance's service, or the Sidecar's stand-in ([`sidecar_ingress_service`]).
    pub service: &'a Service,
    pub instance: Option<&'a ServiceInstance>,
    pub service_port: Port,
    pub bind: String,
    pub port: u32,
    pub bind_to_port: bool,
}

/// The service instance of the proxy whose endpoint port is `port` (upstream
/// `findServiceInstanceForIngressListener`).
pub(crate) fn find_instance_for_ingress(proxy: &Proxy, port: u32) -> Option<&ServiceInstance> {
    proxy
        .service_instances
        .iter()
        .find(|i| i.endpoint.endpoint_port == port)
}

/// The service an ingress listener of a Sidecar stands for when no instance of the workload
/// has its port (upstream builds the same stand-in): host `name.namespace` of the Sidecar,
/// its name and namespace as attributes.
pub(crate) fn sidecar_ingress_service(ctx: &Ctx<'_>) -> Service {
    let (name, namespace) = ctx
        .scope
        .config
        .as_ref()
        .map(|c| (c.meta.name.clone(), c.meta.namespace.clone()))
        .unwrap_or_default();
    Service::placeholder(
        ctx.scope.sidecar_id().unwrap_or_default(),
        crate::model::ServiceAttributes {
            name,
            namespace,
            ..Default::default()
        },
    )
}

/// Inbound listeners from the service instances or the Sidecar's ingress listeners.
pub(crate) fn build_sidecar_inbound_listeners(ctx: &Ctx<'_>) -> Vec<Listener> {
    let none_mode = ctx.proxy.interception_mode() == InterceptionMode::None;
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut out = Vec::new();
    if !ctx.scope.has_custom_ingress_listeners() {
        if none_mode {
            return out;
        }
        for inst in &ctx.proxy.service_instances {
            let target = InboundTarget {
                hostname: &inst.service.hostname,
                service: &inst.service,
                instance: Some(inst),
                service_port: inst.service_port.clone(),
                bind: inst.endpoint.address.clone(),
                port: inst.endpoint.endpoint_port,
                bind_to_port: false,
            };
            if let Some(l) = build_inbound_listener(ctx, &target, &mut seen) {
                out.push(l);
            }
        }
    } else {
        let stand_in = sidecar_ingress_service(ctx);
        for ingress in &ctx.scope.ingress_listeners {
            let Some(p) = &ingress.port else {
                continue;
            };
            let bind_to_port = none_mode || ingress.capture_mode == CaptureMode::None as i32;
            let bind = if ingress.bind.is_empty() {
                util::sidecar_inbound_bind_ip(ctx.proxy)
            } else {
                ingress.bind.clone()
            };
            let instance = find_instance_for_ingress(ctx.proxy, p.number);
            let service = instance.map(|i| i.service.as_ref()).unwrap_or(&stand_in);
            let target = InboundTarget {
                hostname: &service.hostname,
                service,
                instance,
                service_port: Port {
                    name: p.name.clone(),
                    port: p.number,
                    protocol: istio_pkg::config::protocol::parse(&p.protocol),
                },
                bind,
                port: p.number,
                bind_to_port,
            };
            if let Some(l) = build_inbound_listener(ctx, &target, &mut seen) {
                out.push(l);
            }
        }
    }
    out
}

/// Inbound HTTP connection manager options for a target (upstream
/// `buildSidecarInboundHTTPListenerOptsForPortOrUDS`).
pub(crate) fn inbound_http_opts(
    ctx: &Ctx<'_>,
    cluster_name: &str,
    service: &Service,
    instance: Option<&ServiceInstance>,
    service_port: &Port,
) -> HttpOpts {
    HttpOpts {
        route_config: Some(httproute::build_sidecar_inbound_route_config(
            ctx,
            service,
            instance,
            service_port,
            cluster_name,
        )),
        inbound: true,
        http2: service_port.protocol.is_http2(),
        grpc_web: service_port.protocol == Protocol::GrpcWeb,
        accept_http10: ctx.features.http10 || ctx.proxy.metadata.http10 == "1",
        ..Default::default()
    }
}

fn build_inbound_listener(
    ctx: &Ctx<'_>,
    target: &InboundTarget<'_>,
    seen: &mut HashMap<String, String>,
) -> Option<Listener> {
    let key = format!("{}:{}", target.bind, target.port);
    if let Some(old) = seen.get(&key) {
        tracing::debug!(
            "conflicting inbound listener {key}: existing {old}, incoming {}",
            target.hostname
        );
        return None;
    }
    let protocol = model_protocol_to_listener_protocol(
        ctx.features,
        ctx.proxy,
        target.service_port.protocol,
        Direction::Inbound,
    );
    let params = InputParams {
        service_instance: target.instance,
        service: target.instance.map(|i| i.service.as_ref()),
        port: Some(&target.service_port),
        bind: &target.bind,
        ..ctx.input(protocol)
    };
    let mut plugin_chains: Vec<plugin::FilterChain> = ctx
        .plugins
        .iter()
        .flat_map(|p| p.on_inbound_filter_chains(&params))
        .collect();
    if plugin_chains.is_empty() {
        plugin_chains.push(plugin::FilterChain::default());
    }
    let mut opts = ListenerOpts {
        bind: target.bind.clone(),
        port: target.port,
        bind_to_port: target.bind_to_port,
        ..Default::default()
    };
    if protocol == ListenerProtocol::Auto {
        let doubled = plugin_chains.clone();
        plugin_chains.extend(doubled);
        opts.need_http_inspector = true;
    }
    let cluster_name = util::build_subset_key(
        Dir::Inbound,
        &target.service_port.name,
        target.hostname,
        target.service_port.port,
    );
    let half = plugin_chains.len() / 2;
    for (id, chain) in plugin_chains.iter().enumerate() {
        let (http, network_filters, m) = match protocol {
            ListenerProtocol::Http => (
                Some(inbound_http_opts(
                    ctx,
                    &cluster_name,
                    target.service,
                    target.instance,
                    &target.service_port,
                )),
                Vec::new(),
                chain.filter_chain_match.clone(),
            ),
            ListenerProtocol::Tcp => (
                None,
                networkfilter::inbound_network_filters(ctx, &cluster_name),
                chain.filter_chain_match.clone(),
            ),
            ListenerProtocol::Auto => {
                if id < half {
                    let mut fcm = chain.filter_chain_match.clone().unwrap_or_default();
                    fcm.application_protocols
                        .extend(APPLICATION_PROTOCOLS.iter().map(|s| s.to_string()));
                    if fcm.application_protocols.first().map(String::as_str) == Some("istio") {
                        fcm.transport_protocol = "tls".into();
                    }
                    (
                        Some(inbound_http_opts(
                            ctx,
                            &cluster_name,
                            target.service,
                            target.instance,
                            &target.service_port,
                        )),
                        Vec::new(),
                        Some(fcm),
                    )
                } else {
                    (
                        None,
                        networkfilter::inbound_network_filters(ctx, &cluster_name),
                        chain.filter_chain_match.clone(),
                    )
                }
            }
            ListenerProtocol::Unknown => {
                tracing::warn!(
                    "unsupported inbound protocol {} for port {}",
                    target.service_port.protocol,
                    target.service_port.port
                );
                return None;
            }
        };
        opts.chains.push(ChainOpts {
            http,
            network_filters,
            filter_chain_match: m,
            ..Default::default()
        });
    }
    let mut l = build_listener(ctx, &opts);
    l.traffic_direction = TrafficDirection::Inbound as i32;
    let mut chains = plugin_chains_for(&opts);
    {
        let mut m = MutableObjects {
            listener: &mut l,
            filter_chains: &mut chains,
        };
        for p in ctx.plugins.iter() {
            p.on_inbound_listener(&params, &mut m);
        }
    }
    complete_filter_chains(ctx, &mut l, &mut opts, &chains, "inbound");
    seen.insert(key, target.hostname.to_owned());
    Some(l)
}

/// TCP listeners for management (health check) ports on each proxy IP (upstream
/// `buildSidecarInboundMgmtListeners`); not in NONE mode or with Sidecar ingress listeners.
pub(crate) fn build_management_listeners(ctx: &Ctx<'_>, existing: &[&Listener]) -> Vec<Listener> {
    if ctx.scope.has_custom_ingress_listeners()
        || ctx.proxy.interception_mode() == InterceptionMode::None
    {
        return Vec::new();
    }
    let mut addresses: Vec<_> = existing.iter().map(|l| l.address.clone()).collect();
    let mut out = Vec::new();
    for ip in &ctx.proxy.ip_addresses {
        for port in ctx.push.service_discovery.0.management_ports(ip).iter() {
            if matches!(port.protocol, Protocol::Udp | Protocol::Unsupported) {
                continue;
            }
            let cluster = util::build_subset_key(
                Dir::Inbound,
                &port.name,
                super::cluster::MANAGEMENT_CLUSTER_HOSTNAME,
                port.port,
            );
            let mut opts = ListenerOpts {
                bind: ip.clone(),
                port: port.port,
                chains: vec![ChainOpts {
                    network_filters: networkfilter::inbound_network_filters(ctx, &cluster),
                    ..Default::default()
                }],
                ..Default::default()
            };
            let mut l = build_listener(ctx, &opts);
            l.traffic_direction = TrafficDirection::Inbound as i32;
            let chains = plugin_chains_for(&opts);
            complete_filter_chains(ctx, &mut l, &mut opts, &chains, "inbound");
            if addresses.contains(&l.address) {
                tracing::debug!(
                    "omitting listener for management address {} (collides with a service listener)",
                    l.name
                );
                continue;
            }
            addresses.push(l.address.clone());
            out.push(l);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Outbound

/// How an incoming service port collides with an existing listener on the same address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conflict {
    None,
    HttpOverHttp,
    HttpOverTcp,
    HttpOverAuto,
    TcpOverHttp,
    TcpOverTcp,
    TcpOverAuto,
    AutoOverHttp,
    AutoOverTcp,
    AutoOverAuto,
}

struct OutboundEntry {
    services: Vec<Arc<Service>>,
    service_port: Port,
    listener: Listener,
    locked: bool,
    protocol: Protocol,
}

/// An outbound listener of the shared (per scope) set, with what must be patched per proxy.
#[derive(Debug, Clone)]
pub(crate) struct OutboundTemplate {
    pub listener: Listener,
    /// Set for listeners of one endpoint of a headless service: the endpoint IP (dropped for
    /// the proxy with that IP).
    pub headless_endpoint: Option<String>,
    /// The listener split for encoding, when only its pod IP chain differs per proxy.
    pub split: Option<TemplateSplit>,
}

/// An outbound template as encoded parts: the pod IP blackhole chain, which every proxy
/// fills with its own IPs and which comes first, and the rest of the listener, encoded once.
#[derive(Debug, Clone)]
pub(crate) struct TemplateSplit {
    pub head: Option<FilterChain>,
    pub shared: Arc<SharedListener>,
}

fn is_placeholder_chain(fc: &FilterChain) -> bool {
    fc.filter_chain_match.as_ref().is_some_and(|m| {
        m.prefix_ranges.len() == 1 && m.prefix_ranges[0].address_prefix == POD_IP_PLACEHOLDER
    })
}

/// Splits a template whose only per-proxy part is a leading pod IP chain (or that has none);
/// `None` for any other shape, which is then instantiated whole for each proxy.
pub(crate) fn split_template(l: &Listener) -> Option<TemplateSplit> {
    match l
        .filter_chains
        .iter()
        .filter(|fc| is_placeholder_chain(fc))
        .count()
    {
        0 => Some(TemplateSplit {
            head: None,
            shared: Arc::new(SharedListener::new(l.encode_to_vec().into())),
        }),
        1 if is_placeholder_chain(&l.filter_chains[0]) => {
            let mut rest = l.clone();
            let head = rest.filter_chains.remove(0);
            Some(TemplateSplit {
                head: Some(head),
                shared: Arc::new(SharedListener::new(rest.encode_to_vec().into())),
            })
        }
        _ => None,
    }
}

/// Builds the outbound listeners of a scope (upstream `buildSidecarOutboundListeners`).
pub(crate) struct OutboundBuilder<'c, 'a> {
    ctx: &'c Ctx<'a>,
    wildcard: &'static str,
    localhost: &'static str,
    keys: Vec<String>,
    map: HashMap<String, OutboundEntry>,
    headless: HashMap<String, String>,
}

struct OutboundParams<'s> {
    protocol: ListenerProtocol,
    port: Port,
    service: &'s Arc<Service>,
}

impl<'c, 'a> OutboundBuilder<'c, 'a> {
    pub(crate) fn new(ctx: &'c Ctx<'a>) -> Self {
        let (wildcard, localhost) = util::wildcard_and_localhost(ctx.proxy);
        OutboundBuilder {
            ctx,
            wildcard,
            localhost,
            keys: Vec::new(),
            map: HashMap::new(),
            headless: HashMap::new(),
        }
    }

    /// Outbound listeners for every egress listener of the scope, TCP ones first, then the
    /// HTTP proxy listener if enabled. Listeners on the wildcard address carry a blackhole
    /// chain for [`POD_IP_PLACEHOLDER`].
    pub(crate) fn build(mut self) -> Vec<OutboundTemplate> {
        let ctx = self.ctx;
        let none_mode = ctx.proxy.interception_mode() == InterceptionMode::None;
        for egress in &ctx.scope.egress_listeners {
            let istio = egress.istio_listener.as_ref();
            let bind_to_port =
                none_mode || istio.is_some_and(|l| l.capture_mode == CaptureMode::None as i32);
            if let Some(p) = istio.and_then(|l| l.port.as_ref()) {
                let listen_port = Port {
                    name: p.name.clone(),
                    port: p.number,
                    protocol: istio_pkg::config::protocol::parse(&p.protocol),
                };
                let mut bind = istio.map(|l| l.bind.clone()).unwrap_or_default();
                if bind_to_port && bind.is_empty() {
                    bind = self.localhost.to_owned();
                } else if bind.is_empty() {
                    bind = self.wildcard.to_owned();
                }
                let protocol = model_protocol_to_listener_protocol(
                    ctx.features,
                    ctx.proxy,
                    listen_port.protocol,
                    Direction::Outbound,
                );
                for svc in &egress.services {
                    let opts = ListenerOpts {
                        bind: bind.clone(),
                        port: listen_port.port,
                        bind_to_port,
                        ..Default::default()
                    };
                    let params = OutboundParams {
                        protocol,
                        port: listen_port.clone(),
                        service: svc,
                    };
                    self.add(opts, &params, None);
                }
            } else {
                for e in self.map.values_mut() {
                    e.locked = true;
                }
                let mut bind = istio.map(|l| l.bind.clone()).unwrap_or_default();
                if bind_to_port && bind.is_empty() {
                    bind = self.localhost.to_owned();
                }
                for svc in &egress.services {
                    for port in svc.ports.iter() {
                        let opts = ListenerOpts {
                            bind: bind.clone(),
                            port: port.port,
                            bind_to_port,
                            ..Default::default()
                        };
                        let params = OutboundParams {
                            protocol: model_protocol_to_listener_protocol(
                                ctx.features,
                                ctx.proxy,
                                port.protocol,
                                Direction::Outbound,
                            ),
                            port: port.clone(),
                            service: svc,
                        };
                        let headless = ctx.features.enable_headless_service
                            && bind.is_empty()
                            && svc.resolution == Resolution::Passthrough
                            && svc.attributes.service_registry == registry::KUBERNETES
                            && port.protocol.is_tcp();
                        if headless {
                            let instances = ctx.push.service_discovery.0.instances_by_port(
                                svc,
                                port.port,
                                &istio_pkg::config::labels::Collection::default(),
                            );
                            for inst in instances {
                                let mut o = opts.clone();
                                o.bind = inst.endpoint.address.clone();
                                self.add(o, &params, Some(&inst.endpoint.address));
                            }
                        } else {
                            self.add(opts, &params, None);
                        }
                    }
                }
            }
        }
        let mut tcp = Vec::new();
        let mut http = Vec::new();
        for key in &self.keys {
            let Some(e) = self.map.remove(key) else {
                continue;
            };
            let t = OutboundTemplate {
                split: split_template(&e.listener),
                listener: e.listener,
                headless_endpoint: self.headless.get(key).cloned(),
            };
            if e.service_port.protocol.is_tcp() {
                tcp.push(t);
            } else {
                http.push(t);
            }
        }
        tcp.extend(http);
        if let Some(l) = self.build_http_proxy() {
            tcp.push(OutboundTemplate {
                split: split_template(&l),
                listener: l,
                headless_endpoint: None,
            });
        }
        tcp
    }

    /// The HTTP proxy listener (`mesh.proxyHttpPort`, or 15002 in NONE mode).
    fn build_http_proxy(&self) -> Option<Listener> {
        let ctx = self.ctx;
        let none_mode = ctx.proxy.interception_mode() == InterceptionMode::None;
        let mut port = u32::try_from(ctx.push.mesh.proxy_http_port).unwrap_or(0);
        if port == 0 && none_mode {
            port = DEFAULT_PORT_HTTP_PROXY;
        }
        if port == 0 {
            return None;
        }
        let mut opts = ListenerOpts {
            bind: self.localhost.to_owned(),
            port,
            bind_to_port: true,
            chains: vec![ChainOpts {
                http: Some(HttpOpts {
                    rds: RDS_HTTP_PROXY.into(),
                    egress: true,
                    allow_absolute_url: true,
                    accept_http10: ctx.features.http10 || ctx.proxy.metadata.http10 == "1",
                    ..Default::default()
                }),
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut l = build_listener(ctx, &opts);
        let chains = plugin_chains_for(&opts);
        // Upstream sets the direction only after the filters, so the stat prefix says
        // "unspecified".
        complete_filter_chains(ctx, &mut l, &mut opts, &chains, "unspecified");
        l.traffic_direction = TrafficDirection::Outbound as i32;
        Some(l)
    }

    /// HTTP chain options, or `None` when the port adds nothing (upstream
    /// `buildSidecarOutboundHTTPListenerOptsForPortOrUDS`). Sets the bind and returns the key.
    fn http_opts(
        &mut self,
        opts: &mut ListenerOpts,
        params: &OutboundParams<'_>,
    ) -> (String, Option<Vec<ChainOpts>>) {
        let ctx = self.ctx;
        if opts.bind.is_empty() {
            opts.bind = self.wildcard.to_owned();
        }
        let key = format!("{}:{}", opts.bind, params.port.port);
        let sniffing = util::sniffing_enabled_for_outbound(ctx.features, ctx.proxy);
        if let Some(e) = self.map.get_mut(&key) {
            if e.locked {
                return (key, None);
            }
            if !sniffing {
                if !e.service_port.protocol.is_http() {
                    tracing::debug!(
                        "listener {key}: HTTP service {} conflicts with TCP",
                        params.service.hostname
                    );
                }
                e.services.push(params.service.clone());
                return (key, None);
            }
        }
        let rds = if params.port.port == 0 {
            opts.bind.clone()
        } else if params.protocol == ListenerProtocol::Auto
            && sniffing
            && opts.bind != self.wildcard
        {
            format!("{}:{}", params.service.hostname, params.port.port)
        } else {
            params.port.port.to_string()
        };
        let http = HttpOpts {
            use_remote_address: ctx.features.use_remote_address,
            egress: true,
            rds,
            accept_http10: ctx.features.http10 || ctx.proxy.metadata.http10 == "1",
            ..Default::default()
        };
        (
            key,
            Some(vec![ChainOpts {
                http: Some(http),
                ..Default::default()
            }]),
        )
    }

    /// TCP/TLS chain options (upstream `buildSidecarOutboundTCPListenerOptsForPortOrUDS`).
    fn tcp_opts(
        &mut self,
        opts: &mut ListenerOpts,
        params: &OutboundParams<'_>,
    ) -> (String, Option<Vec<ChainOpts>>) {
        let ctx = self.ctx;
        let svc = params.service;
        let mut destination_cidr = String::new();
        if opts.bind.is_empty() {
            let addr = svc.address_for_cluster(&ctx.proxy.cluster_id);
            if !addr.is_empty() {
                if addr.contains('/') {
                    destination_cidr = addr.to_owned();
                    opts.bind = self.wildcard.to_owned();
                } else {
                    opts.bind = addr.to_owned();
                }
            }
        }
        let key = format!("{}:{}", opts.bind, params.port.port);
        let sniffing = util::sniffing_enabled_for_outbound(ctx.features, ctx.proxy);
        if let Some(e) = self.map.get(&key) {
            if e.locked {
                return (key, None);
            }
            if !sniffing && !e.service_port.protocol.is_tcp() {
                tracing::debug!(
                    "listener {key}: TCP service {} conflicts with HTTP",
                    svc.hostname
                );
                return (key, None);
            }
        }
        let mut chains = Vec::new();
        // Without a VirtualService the only destination is the service's own cluster; a
        // single-port service is reached whatever port the listener has.
        let cluster_port = if svc.ports.len() == 1 {
            svc.ports.0[0].port
        } else {
            params.port.port
        };
        let cluster = util::build_subset_key(Dir::Outbound, "", &svc.hostname, cluster_port);
        if params.port.protocol.is_tls() {
            let mut addr = svc.address_for_cluster(&ctx.proxy.cluster_id);
            if addr.contains('/') {
                addr = "";
            }
            let sni_hosts =
                if !destination_cidr.is_empty() || addr.is_empty() || addr == self.wildcard {
                    vec![svc.hostname.clone()]
                } else {
                    Vec::new()
                };
            chains.push(ChainOpts {
                sni_hosts,
                destination_cidrs: vec![destination_cidr],
                network_filters: networkfilter::outbound_single_destination(ctx, &cluster),
                ..Default::default()
            });
        } else {
            chains.push(ChainOpts {
                destination_cidrs: vec![destination_cidr],
                network_filters: networkfilter::outbound_single_destination(ctx, &cluster),
                ..Default::default()
            });
        }
        (key, Some(chains))
    }

    /// Adds one service port (upstream `buildSidecarOutboundListenerForPortOrUDS`): builds its
    /// listener and merges it with any listener already on the same address.
    fn add(
        &mut self,
        mut opts: ListenerOpts,
        params: &OutboundParams<'_>,
        headless_endpoint: Option<&str>,
    ) {
        let ctx = self.ctx;
        if let Some(ip) = headless_endpoint {
            // The key is computed below; remember which listeners are per endpoint.
            let key = format!("{ip}:{}", params.port.port);
            self.headless.entry(key).or_insert_with(|| ip.to_owned());
        }
        if ctx.features.block_http_on_https_port
            && opts.port == CANONICAL_HTTPS_PORT
            && params.port.protocol == Protocol::Http
        {
            tracing::debug!(
                "service {} specifies HTTP on the HTTPS-only port 443",
                params.service.hostname
            );
            return;
        }
        let sniffing = util::sniffing_enabled_for_outbound(ctx.features, ctx.proxy);
        let classify = |p: Protocol, http: Conflict, tcp: Conflict, auto: Conflict| {
            if p.is_http() {
                http
            } else if p.is_tcp() {
                tcp
            } else {
                auto
            }
        };
        let key;
        let mut conflict = Conflict::None;
        match params.protocol {
            ListenerProtocol::Http => {
                let (k, chains) = self.http_opts(&mut opts, params);
                let Some(chains) = chains else {
                    return;
                };
                key = k;
                if let Some(e) = self.map.get(&key).filter(|_| sniffing) {
                    conflict = classify(
                        e.protocol,
                        Conflict::HttpOverHttp,
                        Conflict::HttpOverTcp,
                        Conflict::HttpOverAuto,
                    );
                }
                opts.chains = chains;
            }
            ListenerProtocol::Tcp => {
                let (k, chains) = self.tcp_opts(&mut opts, params);
                let Some(chains) = chains else {
                    return;
                };
                key = k;
                if let Some(e) = self.map.get(&key).filter(|_| sniffing) {
                    conflict = classify(
                        e.protocol,
                        Conflict::TcpOverHttp,
                        Conflict::TcpOverTcp,
                        Conflict::TcpOverAuto,
                    );
                }
                opts.chains = chains;
            }
            ListenerProtocol::Auto => {
                let (_, tcp_chains) = self.tcp_opts(&mut opts, params);
                let Some(tcp_chains) = tcp_chains else {
                    return;
                };
                opts.chains.extend(tcp_chains);
                let (k, http_chains) = self.http_opts(&mut opts, params);
                let Some(mut http_chains) = http_chains else {
                    return;
                };
                key = k;
                for c in &mut http_chains {
                    let m = c.filter_chain_match.get_or_insert_with(Default::default);
                    m.application_protocols
                        .extend(APPLICATION_PROTOCOLS.iter().map(|s| s.to_string()));
                    m.application_protocols.push(H2_PROTOCOL.into());
                }
                opts.chains.extend(http_chains);
                opts.need_http_inspector = true;
                if let Some(e) = self.map.get(&key) {
                    conflict = classify(
                        e.protocol,
                        Conflict::AutoOverHttp,
                        Conflict::AutoOverTcp,
                        Conflict::AutoOverAuto,
                    );
                }
            }
            ListenerProtocol::Unknown => return,
        }

        if opts.bind == self.wildcard && ctx.features.restrict_pod_ip_traffic_loops {
            opts.chains.insert(
                0,
                ChainOpts {
                    destination_cidrs: vec![POD_IP_PLACEHOLDER.to_owned()],
                    network_filters: vec![networkfilter::blackhole_filter()],
                    ..Default::default()
                },
            );
        }

        let mut l = build_listener(ctx, &opts);
        // Fallthrough to Passthrough/BlackHole when no chain matches everything.
        if ctx.features.enable_fallthrough_route {
            let existing_all = self
                .map
                .get(&key)
                .is_some_and(|e| e.listener.filter_chains.iter().any(is_match_all_chain));
            if !l.filter_chains.iter().any(is_match_all_chain) && !existing_all {
                opts.chains.push(ChainOpts {
                    network_filters: vec![networkfilter::outbound_fallthrough_filter(ctx)],
                    is_fallthrough: true,
                    ..Default::default()
                });
                l.filter_chains.push(FilterChain {
                    filter_chain_match: Some(FilterChainMatch::default()),
                    ..Default::default()
                });
            }
        }
        l.traffic_direction = TrafficDirection::Outbound as i32;
        let mut chains = plugin_chains_for(&opts);
        {
            let input = InputParams {
                service: Some(params.service),
                port: Some(&params.port),
                bind: &opts.bind,
                ..ctx.input(params.protocol)
            };
            let mut m = MutableObjects {
                listener: &mut l,
                filter_chains: &mut chains,
            };
            for p in ctx.plugins.iter() {
                p.on_outbound_listener(&input, &mut m);
            }
        }
        complete_filter_chains(ctx, &mut l, &mut opts, &chains, "outbound");

        let incoming = params.port.protocol;
        if let Some(e) = self.map.get(&key) {
            // Mongo and MySQL cannot share a port with anything else (the inspector breaks
            // server-first protocols).
            let well_known = |p: Protocol| matches!(p, Protocol::Mongo | Protocol::MySql);
            if conflict != Conflict::None
                && (well_known(incoming) || well_known(e.protocol))
                && incoming != e.protocol
            {
                tracing::warn!(
                    "conflict on well known port {}: incoming {incoming}, existing {}",
                    params.port.port,
                    e.protocol
                );
                return;
            }
        }

        let svc = params.service.clone();
        match conflict {
            Conflict::None => {
                if self.map.contains_key(&key) {
                    self.merge_tcp_chains(&key, l.filter_chains, &svc);
                } else {
                    self.keys.push(key.clone());
                    self.map.insert(
                        key,
                        OutboundEntry {
                            services: vec![svc],
                            service_port: params.port.clone(),
                            listener: l,
                            locked: false,
                            protocol: params.port.protocol,
                        },
                    );
                }
            }
            Conflict::HttpOverHttp | Conflict::HttpOverAuto | Conflict::AutoOverAuto => {
                if let Some(e) = self.map.get_mut(&key) {
                    e.services.push(svc);
                }
            }
            Conflict::HttpOverTcp => {
                if let Some(e) = self.map.get_mut(&key) {
                    let tcp = std::mem::take(&mut e.listener.filter_chains);
                    e.listener.filter_chains = merge_filter_chains(l.filter_chains, tcp);
                    e.protocol = Protocol::Unsupported;
                    append_inspectors(&mut e.listener.listener_filters);
                    e.services.push(svc);
                }
            }
            Conflict::TcpOverHttp => {
                if let Some(e) = self.map.get_mut(&key) {
                    let http = std::mem::take(&mut e.listener.filter_chains);
                    e.listener.filter_chains = merge_filter_chains(http, l.filter_chains);
                    e.protocol = Protocol::Unsupported;
                    append_inspectors(&mut e.listener.listener_filters);
                }
            }
            Conflict::TcpOverTcp | Conflict::TcpOverAuto => {
                self.merge_tcp_chains(&key, l.filter_chains, &svc);
            }
            Conflict::AutoOverHttp => {
                if let Some(mut e) = self.map.remove(&key) {
                    append_inspectors(&mut e.listener.listener_filters);
                    let mut services = e.services;
                    services.push(svc);
                    self.map.insert(
                        key,
                        OutboundEntry {
                            services,
                            service_port: params.port.clone(),
                            listener: l,
                            locked: false,
                            protocol: Protocol::Unsupported,
                        },
                    );
                }
            }
            Conflict::AutoOverTcp => {
                self.merge_tcp_chains(&key, l.filter_chains, &svc);
                if let Some(e) = self.map.get_mut(&key) {
                    e.protocol = Protocol::Unsupported;
                    append_inspectors(&mut e.listener.listener_filters);
                }
            }
        }
    }

    /// Adds incoming chains whose matches differ from every existing one; a catch-all chain
    /// replaces the fallthrough chain (upstream `mergeTCPFilterChains`).
    fn merge_tcp_chains(&mut self, key: &str, incoming: Vec<FilterChain>, svc: &Arc<Service>) {
        let Some(e) = self.map.get_mut(key) else {
            return;
        };
        let mut chains = std::mem::take(&mut e.listener.filter_chains);
        for inc in incoming {
            let mut conflict = false;
            let mut replaced = false;
            for existing in chains.iter_mut() {
                if is_match_all_chain(existing) {
                    if is_match_all_chain(&inc) {
                        if is_fallthrough_chain(existing) {
                            replaced = true;
                            *existing = inc.clone();
                            continue;
                        }
                        tracing::debug!("listener {key}: TCP service {} conflicts", svc.hostname);
                        conflict = true;
                        break;
                    }
                    continue;
                }
                if existing.filter_chain_match == inc.filter_chain_match {
                    tracing::debug!("listener {key}: TCP service {} conflicts", svc.hostname);
                    conflict = true;
                    break;
                }
            }
            if !conflict && !replaced {
                chains.push(inc);
                e.services.push(svc.clone());
            }
        }
        e.listener.filter_chains = chains;
    }
}

/// TCP chains followed by the HTTP chains, which get the HTTP ALPN matches (upstream
/// `mergeFilterChains`).
fn merge_filter_chains(http: Vec<FilterChain>, mut tcp: Vec<FilterChain>) -> Vec<FilterChain> {
    for mut fc in http {
        let m = fc.filter_chain_match.get_or_insert_with(Default::default);
        m.application_protocols
            .extend(APPLICATION_PROTOCOLS.iter().map(|s| s.to_string()));
        m.application_protocols.push(H2_PROTOCOL.into());
        tcp.push(fc);
    }
    tcp
}

/// Adds the TLS and HTTP inspectors if missing.
fn append_inspectors(filters: &mut Vec<ListenerFilter>) {
    for name in [filter_names::TLS_INSPECTOR, filter_names::HTTP_INSPECTOR] {
        if !filters.iter().any(|f| f.name == name) {
            filters.push(listener_filter(name));
        }
    }
}

/// The proxy's IPs as sorted CIDRs (the pod IP blackhole chain match).
pub(crate) fn pod_ip_cidrs(proxy: &Proxy) -> Vec<CidrRange> {
    let mut ips = proxy.ip_addresses.clone();
    ips.sort();
    ips.iter()
        .filter_map(|ip| util::convert_address_to_cidr(ip))
        .collect()
}

/// Instantiates shared outbound listeners for one proxy: drops the listener of the proxy's
/// own headless endpoint, puts its IPs into the pod IP blackhole chains, and lets the plugins
/// put the proxy's own values into their filters ([`plugin::Plugin::localize_outbound_listener`]).
pub(crate) fn instantiate_outbound(ctx: &Ctx<'_>, templates: &[OutboundTemplate]) -> Vec<Listener> {
    let cidrs = pod_ip_cidrs(ctx.proxy);
    let input = ctx.input(ListenerProtocol::Unknown);
    templates_for(ctx.proxy, templates)
        .map(|t| instantiate_one(ctx, &input, &cidrs, t))
        .collect()
}

/// The templates that apply to `proxy` (all but its own headless endpoint's).
pub(crate) fn templates_for<'t>(
    proxy: &'t Proxy,
    templates: &'t [OutboundTemplate],
) -> impl Iterator<Item = &'t OutboundTemplate> + 't {
    templates
        .iter()
        .filter(move |t| t.headless_endpoint.as_deref() != Some(proxy.ip()))
}

fn instantiate_one(
    ctx: &Ctx<'_>,
    input: &plugin::InputParams<'_>,
    cidrs: &[CidrRange],
    t: &OutboundTemplate,
) -> Listener {
    let mut l = t.listener.clone();
    for fc in &mut l.filter_chains {
        if is_placeholder_chain(fc) {
            if let Some(m) = &mut fc.filter_chain_match {
                m.prefix_ranges = cidrs.to_vec();
            }
        }
    }
    for p in ctx.plugins.iter() {
        p.localize_outbound_listener(input, &mut l);
    }
    l
}

/// [`instantiate_outbound`] as encoded parts, sharing the encoding of each split template;
/// only for proxies no plugin localizes listeners for.
pub(crate) fn instantiate_outbound_encoded(
    ctx: &Ctx<'_>,
    templates: &[OutboundTemplate],
) -> Vec<EncodedListener> {
    let cidrs = pod_ip_cidrs(ctx.proxy);
    let input = ctx.input(ListenerProtocol::Unknown);
    templates_for(ctx.proxy, templates)
        .map(|t| match &t.split {
            Some(split) => {
                let own = match &split.head {
                    Some(head) => {
                        let mut fc = head.clone();
                        if let Some(m) = &mut fc.filter_chain_match {
                            m.prefix_ranges = cidrs.clone();
                        }
                        Listener {
                            filter_chains: vec![fc],
                            ..Default::default()
                        }
                        .encode_to_vec()
                        .into()
                    }
                    None => Bytes::new(),
                };
                EncodedListener {
                    own,
                    shared: Some(split.shared.clone()),
                }
            }
            None => EncodedListener {
                own: instantiate_one(ctx, &input, &cidrs, t)
                    .encode_to_vec()
                    .into(),
                shared: None,
            },
        })
        .collect()
}
