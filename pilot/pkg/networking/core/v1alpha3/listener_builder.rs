//! Assembly of a sidecar's listeners and the two capture listeners (upstream
//! `core/v1alpha3/listener_builder.go`).
//!
//! Order: inbound (and management) listeners, outbound listeners, `virtualOutbound`
//! (0.0.0.0:15001, original destination, catch-all to PassthroughCluster or
//! BlackHoleCluster), `virtualInbound` (0.0.0.0:15006, the inbound passthrough chains and a
//! copy of every non-bound inbound listener's chains matched by destination port and IP).

// Deprecated v3 fields are the ones Envoy 1.13 (xDS v2) understands; we send those.
#![allow(deprecated)]

use envoy_types::pb::envoy::config::core::v3::address;
use envoy_types::pb::envoy::config::listener::v3::{FilterChain, FilterChainMatch, Listener};
use envoy_types::pb::google::protobuf::{value, BoolValue, Duration, Value};

use crate::model::{InterceptionMode, Port, Service};
use crate::networking::plugin::{self, InputParams, ListenerProtocol, MutableObjects};
use crate::networking::util::{self, filter_names};
use istio_pkg::config::protocol::Instance as Protocol;

use super::listener::{
    self as l, insert_pilot_meta, HttpOpts, APPLICATION_PROTOCOLS, PROXY_INBOUND_LISTEN_PORT,
    VIRTUAL_INBOUND_LISTENER_NAME, VIRTUAL_OUTBOUND_LISTENER_NAME,
};
use super::networkfilter;
use super::Ctx;

fn string_value(s: &str) -> Value {
    Value {
        kind: Some(value::Kind::StringValue(s.to_owned())),
    }
}

fn transparent(ctx: &Ctx<'_>) -> Option<BoolValue> {
    (ctx.proxy.interception_mode() == InterceptionMode::Tproxy).then_some(BoolValue { value: true })
}

/// The listener iptables sends outbound traffic to.
pub(crate) fn build_virtual_outbound_listener(ctx: &Ctx<'_>) -> Listener {
    let (wildcard, _) = util::wildcard_and_localhost(ctx.proxy);
    let mut chains = Vec::new();
    if ctx.features.restrict_pod_ip_traffic_loops {
        chains.push(FilterChain {
            filter_chain_match: Some(FilterChainMatch {
                prefix_ranges: ctx
                    .proxy
                    .ip_addresses
                    .iter()
                    .filter_map(|ip| util::convert_address_to_cidr(ip))
                    .collect(),
                ..Default::default()
            }),
            filters: vec![networkfilter::blackhole_filter()],
            ..Default::default()
        });
    }
    chains.push(FilterChain {
        filters: vec![networkfilter::outbound_fallthrough_filter(ctx)],
        ..Default::default()
    });
    let mut listener = Listener {
        name: VIRTUAL_OUTBOUND_LISTENER_NAME.into(),
        address: Some(util::build_address(
            wildcard,
            u32::try_from(ctx.push.mesh.proxy_listen_port).unwrap_or(0),
        )),
        transparent: transparent(ctx),
        use_original_dst: Some(BoolValue { value: true }),
        filter_chains: chains,
        ..Default::default()
    };
    // Plugins may add network filters before the final catch-all filter, which stands for the
    // PassthroughCluster or BlackHoleCluster pseudo service.
    let port = Port {
        name: String::new(),
        port: u32::try_from(ctx.push.mesh.proxy_listen_port).unwrap_or(0),
        protocol: Protocol::Tcp,
    };
    let input = InputParams {
        service: Some(util::fall_through_service(ctx.scope.allow_any_outbound)),
        port: Some(&port),
        ..ctx.input(ListenerProtocol::Tcp)
    };
    let mut plugin_chains = vec![plugin::FilterChain::default(); listener.filter_chains.len()];
    {
        let mut m = MutableObjects {
            listener: &mut listener,
            filter_chains: &mut plugin_chains,
        };
        for p in ctx.plugins.iter() {
            p.on_virtual_listener(&input, &mut m);
        }
    }
    if let Some(first) = plugin_chains.first() {
        if !first.tcp.is_empty() {
            if let Some(last) = listener.filter_chains.last_mut() {
                let mut filters = first.tcp.clone();
                filters.append(&mut last.filters);
                last.filters = filters;
            }
        }
    }
    listener
}

/// The listener iptables sends inbound traffic to; `inbound` are the inbound listeners, whose
/// chains it takes over when they do not bind to their port.
pub(crate) fn build_virtual_inbound_listener(ctx: &Ctx<'_>, inbound: &[Listener]) -> Listener {
    let (wildcard, _) = util::wildcard_and_localhost(ctx.proxy);
    let mut chains = inbound_passthrough_chains(ctx);
    if util::sniffing_enabled_for_inbound(ctx.features, ctx.proxy) {
        chains.extend(http_passthrough_chains(ctx));
    }
    let mut listener_filters = vec![l::listener_filter(filter_names::ORIGINAL_DST)];

    // Chains of the inbound listeners that do not bind, matched by their address.
    let mut need_tls = false;
    let mut taken: Vec<(String, FilterChain)> = Vec::new();
    for il in inbound {
        let not_bound = il
            .deprecated_v1
            .as_ref()
            .and_then(|d| d.bind_to_port.as_ref())
            .is_some_and(|b| !b.value);
        if !not_bound {
            continue;
        }
        let sock = match il.address.as_ref().and_then(|a| a.address.as_ref()) {
            Some(address::Address::SocketAddress(s)) => Some(s),
            _ => None,
        };
        for c in &il.filter_chains {
            let mut c = c.clone();
            if let Some(s) = sock {
                let m = c.filter_chain_match.get_or_insert_with(Default::default);
                if let Some(envoy_types::pb::envoy::config::core::v3::socket_address::PortSpecifier::PortValue(p)) =
                    s.port_specifier
                {
                    m.destination_port = Some(envoy_types::pb::google::protobuf::UInt32Value { value: p });
                }
                if let Some(cidr) = util::convert_address_to_cidr(&s.address) {
                    m.prefix_ranges = vec![cidr];
                }
                insert_pilot_meta(&mut c, "original_listener_name", string_value(&il.name));
            }
            taken.push((il.name.clone(), c));
        }
        need_tls |= il
            .listener_filters
            .iter()
            .any(|f| f.name == filter_names::TLS_INSPECTOR);
    }
    taken.sort_by(|a, b| a.0.cmp(&b.0));
    chains.extend(taken.into_iter().map(|(_, c)| c));
    if need_tls {
        listener_filters.push(l::listener_filter(filter_names::TLS_INSPECTOR));
    }
    if util::sniffing_enabled_for_inbound(ctx.features, ctx.proxy) {
        listener_filters.push(l::listener_filter(filter_names::HTTP_INSPECTOR));
    }
    let t = ctx.features.inbound_protocol_detection_timeout;
    Listener {
        name: VIRTUAL_INBOUND_LISTENER_NAME.into(),
        address: Some(util::build_address(wildcard, PROXY_INBOUND_LISTEN_PORT)),
        transparent: transparent(ctx),
        listener_filters,
        filter_chains: chains,
        listener_filters_timeout: Some(Duration {
            seconds: t.as_secs() as i64,
            nanos: t.subsec_nanos() as i32,
        }),
        continue_on_listener_filters_timeout: true,
        ..Default::default()
    }
}

fn passthrough_families(ctx: &Ctx<'_>) -> Vec<(&'static str, &'static str)> {
    let (v4, v6) = util::ip_families(ctx.proxy);
    let mut out = Vec::new();
    if v4 {
        out.push((util::INBOUND_PASSTHROUGH_CLUSTER_IPV4, "0.0.0.0/0"));
    }
    if v6 {
        out.push((util::INBOUND_PASSTHROUGH_CLUSTER_IPV6, "::0/0"));
    }
    out
}

fn inbound_passthrough_chains(ctx: &Ctx<'_>) -> Vec<FilterChain> {
    passthrough_families(ctx)
        .into_iter()
        .map(|(cluster, cidr)| {
            let filter = networkfilter::tcp_proxy_with_access_log(
                ctx,
                networkfilter::tcp_proxy(cluster, cluster),
            );
            let mut plugin_chains = vec![plugin::FilterChain {
                listener_protocol: Some(ListenerProtocol::Tcp),
                ..Default::default()
            }];
            let mut scratch = Listener::default();
            let input = passthrough_input(ctx, ListenerProtocol::Tcp, cidr, cluster, None);
            {
                let mut m = MutableObjects {
                    listener: &mut scratch,
                    filter_chains: &mut plugin_chains,
                };
                for p in ctx.plugins.iter() {
                    p.on_inbound_passthrough(&input, &mut m);
                }
            }
            let mut filters = plugin_chains
                .first()
                .map(|c| c.tcp.clone())
                .unwrap_or_default();
            filters.push(filter);
            let mut fc = FilterChain {
                filter_chain_match: Some(FilterChainMatch {
                    prefix_ranges: util::convert_address_to_cidr(cidr).into_iter().collect(),
                    ..Default::default()
                }),
                filters,
                ..Default::default()
            };
            insert_pilot_meta(
                &mut fc,
                "original_listener_name",
                string_value(VIRTUAL_INBOUND_LISTENER_NAME),
            );
            fc
        })
        .collect()
}

fn passthrough_input<'a>(
    ctx: &'a Ctx<'a>,
    protocol: ListenerProtocol,
    bind: &'a str,
    cluster: &'a str,
    port: Option<&'a Port>,
) -> InputParams<'a> {
    InputParams {
        port,
        bind,
        inbound_cluster_name: cluster,
        ..ctx.input(protocol)
    }
}

/// HTTP chains of `virtualInbound` when inbound sniffing is on (upstream
/// `newHTTPPassThroughFilterChain`). Upstream builds them for a placeholder instance whose
/// service port is empty, hence the route operation `:0/*` and virtual host `inbound|http|0`.
fn http_passthrough_chains(ctx: &Ctx<'_>) -> Vec<FilterChain> {
    let port = Port {
        name: "virtualInbound".into(),
        port: PROXY_INBOUND_LISTEN_PORT,
        protocol: Protocol::Http,
    };
    let empty_port = Port {
        name: String::new(),
        port: 0,
        protocol: Protocol::Unsupported,
    };
    // Upstream's placeholder instance has an empty service.
    let no_service = Service::placeholder("", Default::default());

    passthrough_families(ctx)
        .into_iter()
        .map(|(cluster, cidr)| {
            let mut plugin_chains = vec![plugin::FilterChain {
                listener_protocol: Some(ListenerProtocol::Http),
                ..Default::default()
            }];
            let mut scratch = Listener::default();
            let input = passthrough_input(ctx, ListenerProtocol::Http, cidr, cluster, Some(&port));
            {
                let mut m = MutableObjects {
                    listener: &mut scratch,
                    filter_chains: &mut plugin_chains,
                };
                for p in ctx.plugins.iter() {
                    p.on_inbound_passthrough(&input, &mut m);
                }
            }
            let mut http: HttpOpts =
                l::inbound_http_opts(ctx, cluster, &no_service, None, &empty_port);
            http.stat_prefix = cluster.to_owned();
            let plugin_http = plugin_chains
                .first()
                .map(|c| c.http.as_slice())
                .unwrap_or_default();
            let hcm = l::build_http_connection_manager(ctx, &http, plugin_http);
            let mut fc = FilterChain {
                filter_chain_match: Some(FilterChainMatch {
                    prefix_ranges: util::convert_address_to_cidr(cidr).into_iter().collect(),
                    application_protocols: APPLICATION_PROTOCOLS
                        .iter()
                        .map(|s| s.to_string())
                        .collect(),
                    ..Default::default()
                }),
                filters: vec![hcm],
                ..Default::default()
            };
            insert_pilot_meta(
                &mut fc,
                "original_listener_name",
                string_value(VIRTUAL_INBOUND_LISTENER_NAME),
            );
            fc
        })
        .collect()
}
