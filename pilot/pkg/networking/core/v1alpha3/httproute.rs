//! RDS for sidecars (upstream `core/v1alpha3/httproute.go` and the default routes of
//! `route/route.go`).
//!
//! Outbound route configs are named after the listener port (`8080`), the sniffed
//! `hostname:port`, or `http_proxy`; each holds one virtual host per HTTP service on that
//! port, named `<hostname>:<port>`, matching every name a client may use for it. VirtualService
//! routing is not generated yet: every service gets its default route.

use std::collections::{BTreeMap, HashSet};

use envoy_types::pb::envoy::config::route::v3::{
    retry_policy::RetryHostPredicate, route, route_action, route_match, Decorator,
    DirectResponseAction, RetryPolicy, Route, RouteAction, RouteConfiguration, RouteMatch,
    VirtualHost,
};
use envoy_types::pb::google::protobuf::{BoolValue, Duration, UInt32Value};

use crate::model::service::{registry, UNSPECIFIED_IP};
use crate::model::{Port, Resolution, Service, ServiceInstance};
use crate::networking::plugin::{InputParams, ListenerProtocol};
use crate::networking::util::{self, filter_names, TrafficDirection};
use istio_pkg::config::protocol::Instance as Protocol;

use super::listener::RDS_HTTP_PROXY;
use super::Ctx;

/// Name of the default route (1.3+ proxies).
pub const DEFAULT_ROUTE_NAME: &str = "default";

/// Upstream's default retry conditions for outbound routes.
pub const DEFAULT_RETRY_ON: &str =
    "connect-failure,refused-stream,unavailable,cancelled,resource-exhausted,retriable-status-codes";

fn zero() -> Option<Duration> {
    Some(Duration {
        seconds: 0,
        nanos: 0,
    })
}

/// The catch-all inbound route to `cluster` (upstream `BuildDefaultHTTPInboundRoute`): no
/// timeout, no gRPC timeout cap.
pub(crate) fn default_inbound_route(ctx: &Ctx<'_>, cluster: &str, operation: &str) -> Route {
    #[allow(deprecated)] // max_grpc_timeout is what Envoy 1.13 knows.
    let action = RouteAction {
        cluster_specifier: Some(route_action::ClusterSpecifier::Cluster(cluster.to_owned())),
        timeout: zero(),
        max_grpc_timeout: zero(),
        ..Default::default()
    };
    Route {
        name: if util::is_istio_version_ge13(ctx.proxy) {
            DEFAULT_ROUTE_NAME.into()
        } else {
            String::new()
        },
        r#match: Some(prefix_match("/")),
        decorator: Some(Decorator {
            operation: operation.to_owned(),
            ..Default::default()
        }),
        action: Some(route::Action::Route(action)),
        ..Default::default()
    }
}

/// The default outbound route: the inbound one plus the default retry policy.
pub(crate) fn default_outbound_route(ctx: &Ctx<'_>, cluster: &str, operation: &str) -> Route {
    let mut r = default_inbound_route(ctx, cluster, operation);
    if let Some(route::Action::Route(a)) = &mut r.action {
        a.retry_policy = Some(default_retry_policy());
    }
    r
}

/// Upstream's default retry policy: 2 retries on connection failures and 503s, preferring
/// hosts not tried yet.
pub fn default_retry_policy() -> RetryPolicy {
    RetryPolicy {
        retry_on: DEFAULT_RETRY_ON.into(),
        num_retries: Some(UInt32Value { value: 2 }),
        retriable_status_codes: vec![503],
        retry_host_predicate: vec![RetryHostPredicate {
            name: filter_names::PREVIOUS_HOSTS_PREDICATE.into(),
            ..Default::default()
        }],
        host_selection_retry_max_attempts: 5,
        ..Default::default()
    }
}

fn prefix_match(p: &str) -> RouteMatch {
    RouteMatch {
        path_specifier: Some(route_match::PathSpecifier::Prefix(p.to_owned())),
        ..Default::default()
    }
}

/// The inline route config of an inbound HTTP listener: every request to `cluster`, then the
/// plugins' additions (upstream `buildSidecarInboundHTTPRouteConfig`). `service` is the
/// instance's service or the stand-in of a Sidecar ingress listener or passthrough chain.
pub(crate) fn build_sidecar_inbound_route_config(
    ctx: &Ctx<'_>,
    service: &Service,
    instance: Option<&ServiceInstance>,
    service_port: &Port,
    cluster: &str,
) -> RouteConfiguration {
    let port = service_port.port;
    let operation = format!("{}:{port}/*", service.hostname);
    let mut rc = RouteConfiguration {
        name: cluster.to_owned(),
        virtual_hosts: vec![VirtualHost {
            name: format!("{}|http|{port}", TrafficDirection::Inbound),
            domains: vec!["*".into()],
            routes: vec![default_inbound_route(ctx, cluster, &operation)],
            ..Default::default()
        }],
        validate_clusters: Some(BoolValue { value: false }),
        ..Default::default()
    };
    let input = InputParams {
        service_instance: instance,
        service: Some(service),
        port: Some(service_port),
        ..ctx.input(ListenerProtocol::Http)
    };
    for p in ctx.plugins.iter() {
        p.on_inbound_route_configuration(&input, &mut rc);
    }
    rc
}

/// An empty route config, sent for names that match nothing.
pub(crate) fn empty_route_config(name: &str) -> RouteConfiguration {
    RouteConfiguration {
        name: name.to_owned(),
        validate_clusters: Some(BoolValue { value: false }),
        ..Default::default()
    }
}

/// The outbound route config `route_name`, or `None` when the name is not one of ours.
pub(crate) fn build_sidecar_outbound_route_config(
    ctx: &Ctx<'_>,
    route_name: &str,
) -> Option<RouteConfiguration> {
    let sniffing = util::sniffing_enabled_for_outbound(ctx.features, ctx.proxy);
    let mut use_sniffing = false;
    let port_str = if sniffing && !route_name.starts_with(util::UNIX_ADDRESS_PREFIX) {
        match route_name.find(':') {
            Some(i) => {
                use_sniffing = true;
                &route_name[i + 1..]
            }
            None => route_name,
        }
    } else {
        route_name
    };
    let listener_port = match port_str.parse::<u32>() {
        Ok(p) => p,
        Err(_) => {
            if route_name != RDS_HTTP_PROXY && !route_name.starts_with(util::UNIX_ADDRESS_PREFIX) {
                return None;
            }
            0
        }
    };
    let mut vhosts = build_outbound_virtual_hosts(ctx, route_name, listener_port);
    if use_sniffing {
        let matching: Vec<VirtualHost> = vhosts
            .iter()
            .filter(|vh| vh.domains.iter().any(|d| d == route_name))
            .cloned()
            .collect();
        if !matching.is_empty() {
            vhosts = matching;
        }
    }
    vhosts.sort_by(|a, b| a.name.cmp(&b.name));
    if ctx.features.enable_fallthrough_route && !use_sniffing {
        vhosts.push(if ctx.scope.allow_any_outbound {
            VirtualHost {
                name: util::PASSTHROUGH_ROUTE_NAME.into(),
                domains: vec!["*".into()],
                routes: vec![Route {
                    r#match: Some(prefix_match("/")),
                    action: Some(route::Action::Route(RouteAction {
                        cluster_specifier: Some(route_action::ClusterSpecifier::Cluster(
                            util::PASSTHROUGH_CLUSTER.into(),
                        )),
                        ..Default::default()
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            }
        } else {
            VirtualHost {
                name: util::BLACK_HOLE_ROUTE_NAME.into(),
                domains: vec!["*".into()],
                routes: vec![Route {
                    r#match: Some(prefix_match("/")),
                    action: Some(route::Action::DirectResponse(DirectResponseAction {
                        status: 502,
                        ..Default::default()
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            }
        });
    }
    let mut rc = RouteConfiguration {
        name: route_name.to_owned(),
        virtual_hosts: vhosts,
        validate_clusters: Some(BoolValue { value: false }),
        ..Default::default()
    };
    let port = Port {
        name: String::new(),
        port: listener_port,
        protocol: Protocol::Http,
    };
    let input = InputParams {
        port: Some(&port),
        ..ctx.input(ListenerProtocol::Http)
    };
    for p in ctx.plugins.iter() {
        p.on_outbound_route_configuration(&input, &mut rc);
    }
    Some(rc)
}

/// Virtual hosts of the services of the egress listener serving the route (upstream
/// `buildSidecarOutboundVirtualHosts` without VirtualServices).
fn build_outbound_virtual_hosts(
    ctx: &Ctx<'_>,
    route_name: &str,
    listener_port: u32,
) -> Vec<VirtualHost> {
    let Some(egress) = ctx.scope.egress_listener_for_rds(listener_port, route_name) else {
        return Vec::new();
    };
    // Sidecar egress listeners with a port act like HTTP proxies: all ports of their services.
    let listener_port = if egress.port().is_some() {
        0
    } else {
        listener_port
    };
    let mut by_port: BTreeMap<u32, Vec<VirtualHost>> = BTreeMap::new();
    let mut uniques = HashSet::new();
    let mut hostnames = HashSet::new();
    for svc in &egress.services {
        if !hostnames.insert(svc.hostname.as_str()) {
            continue;
        }
        let ports: Vec<&Port> = if listener_port == 0 {
            svc.ports.iter().collect()
        } else {
            svc.ports.get_by_port(listener_port).into_iter().collect()
        };
        for port in ports {
            if !(port.protocol.is_http()
                || util::sniffing_enabled_for_outbound_port(ctx.features, ctx.proxy, port.protocol))
            {
                continue;
            }
            let name = format!("{}:{}", svc.hostname, port.port);
            if !uniques.insert(name.clone()) {
                continue;
            }
            let cluster =
                util::build_subset_key(TrafficDirection::Outbound, "", &svc.hostname, port.port);
            let operation = format!("{}:{}/*", svc.hostname, port.port);
            // Upstream copies the service for one port without its per-cluster VIPs.
            let use_cluster_vips = listener_port == 0;
            by_port.entry(port.port).or_default().push(VirtualHost {
                name,
                domains: virtual_host_domains(ctx, svc, port.port, use_cluster_vips),
                routes: vec![default_outbound_route(ctx, &cluster, &operation)],
                ..Default::default()
            });
        }
    }
    if listener_port == 0 {
        // Merged across ports: only port 80 keeps the port-less domains.
        let mut out = Vec::new();
        for (port, vhosts) in by_port {
            for mut vh in vhosts {
                if port != 80 {
                    vh.domains.retain(|d| d.contains(':'));
                    if vh.domains.is_empty() {
                        continue;
                    }
                }
                out.push(vh);
            }
        }
        out
    } else {
        by_port.remove(&listener_port).unwrap_or_default()
    }
}

/// Every Host header a client of `svc` on `port` may send (upstream
/// `generateVirtualHostDomains`).
pub(crate) fn virtual_host_domains(
    ctx: &Ctx<'_>,
    svc: &Service,
    port: u32,
    use_cluster_vips: bool,
) -> Vec<String> {
    let mut domains = vec![svc.hostname.clone(), format!("{}:{port}", svc.hostname)];
    domains.extend(alt_virtual_hosts(
        &svc.hostname,
        port,
        &ctx.proxy.dns_domain,
    ));
    if svc.resolution == Resolution::Passthrough
        && svc.attributes.service_registry == registry::KUBERNETES
    {
        let wild: Vec<String> = domains.iter().map(|d| format!("*.{d}")).collect();
        domains.extend(wild);
    }
    if !svc.address.is_empty() && svc.address != UNSPECIFIED_IP {
        let addr = if use_cluster_vips {
            svc.address_for_cluster(&ctx.proxy.cluster_id)
        } else {
            svc.address.as_str()
        };
        let full = util::convert_address_to_cidr(addr)
            .and_then(|c| c.prefix_len)
            .is_some_and(|p| p.value == 32);
        if full {
            domains.push(addr.to_owned());
            domains.push(format!("{addr}:{port}"));
        }
    }
    domains
}

/// Short forms of `hostname` valid from a proxy in `proxy_domain` (upstream
/// `generateAltVirtualHosts`): `foo`, `foo.ns`, `foo.ns.svc`, ... with and without port, for
/// the DNS suffix the two share.
pub(crate) fn alt_virtual_hosts(hostname: &str, port: u32, proxy_domain: &str) -> Vec<String> {
    let (uniq, shared) = unique_and_shared_dns_domain(hostname, proxy_domain);
    if shared.is_empty() {
        return Vec::new();
    }
    let mut out = vec![uniq.clone(), format!("{uniq}:{port}")];
    // Longest variant first: foo.ns.svc.cluster, foo.ns.svc, foo.ns.
    for (i, _) in shared
        .match_indices('.')
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
    {
        let variant = format!("{uniq}.{}", &shared[..i]);
        out.push(format!("{variant}:{port}"));
        let n = out.len();
        out.insert(n - 1, variant);
    }
    out
}

/// Splits `fqdn` into the part not shared with `proxy_domain` and the shared DNS suffix.
fn unique_and_shared_dns_domain(fqdn: &str, proxy_domain: &str) -> (String, String) {
    let a: Vec<&str> = fqdn.split('.').rev().collect();
    let b: Vec<&str> = proxy_domain.split('.').rev().collect();
    let shared = a.iter().zip(b.iter()).take_while(|(x, y)| x == y).count();
    if shared == 0 {
        return (fqdn.to_owned(), String::new());
    }
    let uniq: Vec<&str> = a[shared..].iter().rev().copied().collect();
    let suffix: Vec<&str> = a[..shared].iter().rev().copied().collect();
    (uniq.join("."), suffix.join("."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alt_hosts_table() {
        // (hostname, port, proxy domain, want): upstream's TestGenerateVirtualHostDomains
        // and generateAltVirtualHosts doc examples.
        let cases: &[(&str, u32, &str, &[&str])] = &[
            (
                "foo.local.campus.net",
                80,
                "local.campus.net",
                &[
                    "foo",
                    "foo:80",
                    "foo.local.campus",
                    "foo.local.campus:80",
                    "foo.local",
                    "foo.local:80",
                ],
            ),
            (
                "foo.local.campus.net",
                80,
                "remote.campus.net",
                &[
                    "foo.local",
                    "foo.local:80",
                    "foo.local.campus",
                    "foo.local.campus:80",
                ],
            ),
            ("foo.local.campus.net", 80, "", &[]),
            ("foo.local.campus.net", 80, "example.com", &[]),
            (
                "echo.default.svc.cluster.local",
                8123,
                "default.svc.cluster.local",
                &[
                    "echo",
                    "echo:8123",
                    "echo.default.svc.cluster",
                    "echo.default.svc.cluster:8123",
                    "echo.default.svc",
                    "echo.default.svc:8123",
                    "echo.default",
                    "echo.default:8123",
                ],
            ),
            (
                "foo.ns1.svc.cluster.local",
                80,
                "ns2.svc.cluster.local",
                &[
                    "foo.ns1",
                    "foo.ns1:80",
                    "foo.ns1.svc.cluster",
                    "foo.ns1.svc.cluster:80",
                    "foo.ns1.svc",
                    "foo.ns1.svc:80",
                ],
            ),
        ];
        for (h, p, d, want) in cases {
            assert_eq!(alt_virtual_hosts(h, *p, d), *want, "{h} from {d}");
        }
    }

    #[test]
    fn retry_policy_defaults() {
        let p = default_retry_policy();
        assert_eq!(p.num_retries.unwrap().value, 2);
        assert_eq!(p.retriable_status_codes, vec![503]);
        assert_eq!(p.host_selection_retry_max_attempts, 5);
        assert_eq!(
            p.retry_host_predicate[0].name,
            "envoy.retry_host_predicates.previous_hosts"
        );
    }
}
