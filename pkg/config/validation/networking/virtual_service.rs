//! VirtualService: hosts, gateways, and HTTP, TLS and TCP routes.

use crate::gostr::{self, quote};
use istio_api::istio::networking::v1alpha3::{
    http_fault_injection::{abort::ErrorType, delay::HttpDelayType, Abort, Delay},
    CorsPolicy, Destination, Headers, HttpFaultInjection, HttpRedirect, HttpRetry, HttpRewrite,
    HttpRoute, HttpRouteDestination, L4MatchAttributes, Percent, PortSelector, RouteDestination,
    TcpRoute, TlsMatchAttributes, TlsRoute, VirtualService,
};

use super::{
    super::{
        common::{
            fail, validate_duration, validate_fqdn, validate_http_header_name,
            validate_ipv4_subnet, validate_percent, validate_port, validate_wildcard_domain,
        },
        error::Errors,
        Error, Result,
    },
    traffic_policy::validate_subset_name,
    validate_export_to,
};
use crate::config::{host, labels};

/// The gateway name that binds a virtual service to all sidecars.
const MESH_GATEWAY: &str = "mesh";

/// `x-envoy-retry-on` and `x-envoy-retry-grpc-on` policies Envoy supports.
const SUPPORTED_RETRY_ON_POLICIES: [&str; 12] = [
    "5xx",
    "gateway-error",
    "reset",
    "connect-failure",
    "retriable-4xx",
    "refused-stream",
    "retriable-status-codes",
    "cancelled",
    "deadline-exceeded",
    "internal",
    "resource-exhausted",
    "unavailable",
];

/// HTTP methods accepted in CORS policies (those Go's net/http names).
const SUPPORTED_METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "CONNECT", "OPTIONS", "TRACE",
];

/// Checks a VirtualService: hosts (no duplicates, no `*` for the mesh gateway), gateway names,
/// at least one route, each HTTP, TLS and TCP route, and `exportTo`.
pub fn validate_virtual_service(_name: &str, _namespace: &str, vs: &VirtualService) -> Result {
    let mut errs = Errors::new();
    let applies_to_mesh = vs.gateways.is_empty() || vs.gateways.iter().any(|g| g == MESH_GATEWAY);
    errs.append(validate_gateway_names(&vs.gateways));

    if vs.hosts.is_empty() {
        errs.msg("virtual service must have at least one host");
    }
    let mut all_hosts_valid = true;
    for host in &vs.hosts {
        match validate_wildcard_domain(host) {
            Err(e) if gostr::parse_ip(host).is_none() => {
                errs.push(e);
                all_hosts_valid = false;
            }
            Err(_) => {}
            Ok(()) if applies_to_mesh && host == "*" => {
                errs.msg(
                    "wildcard host * is not allowed for virtual services bound to the mesh gateway",
                );
                all_hosts_valid = false;
            }
            Ok(()) => {}
        }
    }
    // Duplicates include wildcard overlaps: `*.foo.com` and `*.com` clash.
    if all_hosts_valid {
        for (i, a) in vs.hosts.iter().enumerate() {
            for b in &vs.hosts[i + 1..] {
                if host::matches(a, b) {
                    errs.msg(format!("duplicate hosts in virtual service: {a} & {b}"));
                }
            }
        }
    }

    if vs.http.is_empty() && vs.tcp.is_empty() && vs.tls.is_empty() {
        errs.msg("http, tcp or tls must be provided in virtual service");
    }
    for route in &vs.http {
        errs.append(validate_http_route(route));
    }
    for route in &vs.tls {
        errs.append(validate_tls_route(route, vs));
    }
    for route in &vs.tcp {
        errs.append(validate_tcp_route(route));
    }
    errs.append(validate_export_to(&vs.export_to));
    errs.finish()
}

fn validate_tls_route(tls: &TlsRoute, vs: &VirtualService) -> Result {
    let mut errs = Errors::new();
    if tls.r#match.is_empty() {
        errs.msg("TLS route must have at least one match condition");
    }
    for m in &tls.r#match {
        errs.append(validate_tls_match(m, vs));
    }
    if tls.route.is_empty() {
        errs.msg("TLS route is required");
    }
    errs.append(validate_route_destinations(&tls.route));
    errs.finish()
}

fn validate_tls_match(m: &TlsMatchAttributes, vs: &VirtualService) -> Result {
    let mut errs = Errors::new();
    if m.sni_hosts.is_empty() {
        errs.msg("TLS match must have at least one SNI host");
    } else {
        for sni in &m.sni_hosts {
            errs.append(validate_sni_host(sni, vs));
        }
    }
    for subnet in &m.destination_subnets {
        errs.append(validate_ipv4_subnet(subnet));
    }
    if m.port != 0 {
        errs.append(validate_port(i64::from(m.port)));
    }
    errs.append(labels::validate(&m.source_labels));
    errs.append(validate_gateway_names(&m.gateways));
    errs.finish()
}

/// An SNI host must be a (wildcard) domain or an IP, and fall within one of the virtual
/// service's hosts.
fn validate_sni_host(sni: &str, vs: &VirtualService) -> Result {
    if let Err(e) = validate_wildcard_domain(sni) {
        if gostr::parse_ip(sni).is_none() {
            return Err(e);
        }
    }
    if vs.hosts.iter().any(|h| host::subset_of(sni, h)) {
        return Ok(());
    }
    fail(format!(
        "SNI host {} is not a compatible subset of any of the virtual service hosts: [{}]",
        quote(sni),
        vs.hosts.join(", ")
    ))
}

fn validate_tcp_route(tcp: &TcpRoute) -> Result {
    let mut errs = Errors::new();
    for m in &tcp.r#match {
        errs.append(validate_tcp_match(m));
    }
    if tcp.route.is_empty() {
        errs.msg("TCP route is required");
    }
    errs.append(validate_route_destinations(&tcp.route));
    errs.finish()
}

fn validate_tcp_match(m: &L4MatchAttributes) -> Result {
    let mut errs = Errors::new();
    for subnet in &m.destination_subnets {
        errs.append(validate_ipv4_subnet(subnet));
    }
    if !m.source_subnet.is_empty() {
        errs.append(validate_ipv4_subnet(&m.source_subnet));
    }
    if m.port != 0 {
        errs.append(validate_port(i64::from(m.port)));
    }
    errs.append(labels::validate(&m.source_labels));
    errs.append(validate_gateway_names(&m.gateways));
    errs.finish()
}

/// Header names touched by the `headers` operations: request add, set, remove, then response
/// add, set, remove (map keys in ascending order).
fn header_operation_names(headers: Option<&Headers>) -> Vec<&String> {
    let mut names = Vec::new();
    for ops in [
        headers.and_then(|h| h.request.as_ref()),
        headers.and_then(|h| h.response.as_ref()),
    ]
    .into_iter()
    .flatten()
    {
        names.extend(ops.add.keys());
        names.extend(ops.set.keys());
        names.extend(&ops.remove);
    }
    names
}

pub(super) fn validate_http_route(http: &HttpRoute) -> Result {
    let mut errs = Errors::new();
    if http.redirect.is_some() {
        if !http.route.is_empty() {
            errs.msg("HTTP route cannot contain both route and redirect");
        }
        if http.fault.is_some() {
            errs.msg("HTTP route cannot contain both fault and redirect");
        }
        if http.rewrite.is_some() {
            errs.msg("HTTP route rule cannot contain both rewrite and redirect");
        }
        if http.websocket_upgrade {
            errs.msg("WebSocket upgrade is not allowed on redirect rules");
        }
    } else if http.route.is_empty() {
        errs.msg("HTTP route or redirect is required");
    }

    #[allow(deprecated)]
    let deprecated_names = http
        .append_headers
        .keys()
        .chain(http.append_request_headers.keys())
        .chain(&http.remove_request_headers)
        .chain(http.append_response_headers.keys())
        .chain(&http.remove_response_headers);
    for name in deprecated_names.chain(header_operation_names(http.headers.as_ref())) {
        errs.append(validate_http_header_name(name));
    }

    errs.append(validate_cors_policy(http.cors_policy.as_ref()));
    errs.append(validate_http_fault_injection(http.fault.as_ref()));

    for m in &http.r#match {
        for name in m.headers.keys() {
            errs.append(validate_http_header_name(name));
        }
        if m.port != 0 {
            errs.append(validate_port(i64::from(m.port)));
        }
        errs.append(labels::validate(&m.source_labels));
        errs.append(validate_gateway_names(&m.gateways));
    }

    if let Some(mirror) = &http.mirror_percent {
        if mirror.value > 100 {
            errs.msg(format!(
                "mirror_percent must have a max value of 100 (it has {})",
                mirror.value
            ));
        }
    }
    errs.append(validate_destination(http.mirror.as_ref()));
    errs.append(validate_http_redirect(http.redirect.as_ref()));
    errs.append(validate_http_retry(http.retries.as_ref()));
    errs.append(validate_http_rewrite(http.rewrite.as_ref()));
    errs.append(validate_http_route_destinations(&http.route));
    if let Some(timeout) = &http.timeout {
        errs.append(validate_duration(Some(timeout)));
    }
    errs.finish()
}

/// Checks gateway references: `namespace/name` with DNS-label parts, or (deprecated) an FQDN.
/// As upstream, an FQDN-style entry ends the check: later entries are not looked at.
pub(super) fn validate_gateway_names(names: &[String]) -> Result {
    let mut errs = Errors::new();
    for name in names {
        let Some((namespace, gateway)) = name.split_once('/') else {
            errs.append(validate_fqdn(name));
            return errs.finish();
        };
        if namespace.is_empty() || gateway.is_empty() {
            errs.msg("config namespace and gateway name cannot be empty");
        }
        if !labels::is_dns1123_label(namespace) {
            errs.msg(format!("invalid value for namespace: {}", quote(namespace)));
        }
        if !labels::is_dns1123_label(gateway) {
            errs.msg(format!(
                "invalid value for gateway name: {}",
                quote(gateway)
            ));
        }
    }
    errs.finish()
}

pub(super) fn validate_http_route_destinations(weights: &[HttpRouteDestination]) -> Result {
    let mut errs = Errors::new();
    let mut total: i32 = 0;
    for w in weights {
        if w.destination.is_none() {
            errs.msg_multi("destination is required");
        }
        #[allow(deprecated)]
        let deprecated_names = w
            .append_request_headers
            .keys()
            .chain(w.append_response_headers.keys())
            .chain(&w.remove_request_headers)
            .chain(&w.remove_response_headers);
        for name in deprecated_names.chain(header_operation_names(w.headers.as_ref())) {
            errs.append(validate_http_header_name(name));
        }
        errs.append(validate_destination(w.destination.as_ref()));
        errs.append(validate_percent(w.weight));
        total = total.wrapping_add(w.weight);
    }
    if weights.len() > 1 && total != 100 {
        errs.msg(format!("total destination weight {total} != 100"));
    }
    errs.finish()
}

pub(super) fn validate_route_destinations(weights: &[RouteDestination]) -> Result {
    let mut errs = Errors::new();
    let mut total: i32 = 0;
    for w in weights {
        if w.destination.is_none() {
            errs.msg_multi("destination is required");
        }
        errs.append(validate_destination(w.destination.as_ref()));
        errs.append(validate_percent(w.weight));
        total = total.wrapping_add(w.weight);
    }
    if weights.len() > 1 && total != 100 {
        errs.msg(format!("total destination weight {total} != 100"));
    }
    errs.finish()
}

pub(super) fn validate_cors_policy(policy: Option<&CorsPolicy>) -> Result {
    let Some(policy) = policy else {
        return Ok(());
    };
    let mut errs = Errors::new();
    for origin in policy.allow_origin.iter().filter(|o| *o != "*") {
        let origin = origin.strip_prefix("https://").unwrap_or(origin);
        let origin = origin.strip_prefix("http://").unwrap_or(origin);
        let parts: Vec<&str> = origin.split(':').collect();
        let host = match parts.as_slice() {
            [host] => *host,
            [host, port] => {
                match gostr::atoi(port) {
                    Err(_) => {
                        errs.msg(format!("port in CORS Allow Origin is not a number: {port}"))
                    }
                    // Upstream assigns here instead of appending, dropping earlier errors.
                    Ok(n) => errs.replace(validate_port(n)),
                }
                *host
            }
            _ => {
                errs.msg("CORS Allow Origin must be '*' or of [http[s]://]host[:port] format");
                continue;
            }
        };
        errs.append(validate_fqdn(host));
    }
    for method in &policy.allow_methods {
        errs.append(validate_http_method(method));
    }
    for name in policy.allow_headers.iter().chain(&policy.expose_headers) {
        errs.append(validate_http_header_name(name));
    }
    if let Some(max_age) = &policy.max_age {
        errs.append(validate_duration(Some(max_age)));
        if max_age.nanos > 0 {
            errs.msg_multi("max_age duration is accurate only to seconds precision");
        }
    }
    errs.finish()
}

fn validate_http_method(method: &str) -> Result {
    if SUPPORTED_METHODS.contains(&method) {
        Ok(())
    } else {
        fail(format!("{} is not a supported HTTP method", quote(method)))
    }
}

pub(super) fn validate_http_fault_injection(fault: Option<&HttpFaultInjection>) -> Result {
    let Some(fault) = fault else {
        return Ok(());
    };
    let mut errs = Errors::new();
    if fault.abort.is_none() && fault.delay.is_none() {
        errs.msg_multi("HTTP fault injection must have an abort and/or a delay");
    }
    errs.append(validate_http_fault_injection_abort(fault.abort.as_ref()));
    errs.append(validate_http_fault_injection_delay(fault.delay.as_ref()));
    errs.finish()
}

/// Checks a fractional percentage when given, or else the deprecated integer percent.
fn validate_percentage_or_default(percentage: Option<&Percent>, default_percent: i32) -> Result {
    match percentage {
        Some(p) if p.value < 0.0 || p.value > 100.0 || (p.value > 0.0 && p.value < 0.0001) => {
            fail(format!(
                "percentage {} is neither 0.0, nor in range [0.0001, 100.0]",
                gostr::format_float(p.value)
            ))
        }
        Some(_) => Ok(()),
        None => validate_percent(default_percent),
    }
}

pub(super) fn validate_http_fault_injection_abort(abort: Option<&Abort>) -> Result {
    let Some(abort) = abort else {
        return Ok(());
    };
    let mut errs = Errors::new();
    #[allow(deprecated)]
    let percent = abort.percent;
    errs.append(validate_percentage_or_default(
        abort.percentage.as_ref(),
        percent,
    ));
    match &abort.error_type {
        Some(ErrorType::GrpcStatus(_)) => {
            errs.msg_multi("gRPC abort fault injection not supported yet");
        }
        Some(ErrorType::Http2Error(_)) => {
            errs.msg_multi("HTTP/2 abort fault injection not supported yet");
        }
        Some(ErrorType::HttpStatus(status)) => errs.append(validate_http_status(*status)),
        None => {}
    }
    errs.finish()
}

pub(super) fn validate_http_status(status: i32) -> Result {
    if (200..=600).contains(&status) {
        Ok(())
    } else {
        fail(format!("HTTP status {status} is not in range 200-599"))
    }
}

pub(super) fn validate_http_fault_injection_delay(delay: Option<&Delay>) -> Result {
    let Some(delay) = delay else {
        return Ok(());
    };
    let mut errs = Errors::new();
    #[allow(deprecated)]
    let percent = delay.percent;
    errs.append(validate_percentage_or_default(
        delay.percentage.as_ref(),
        percent,
    ));
    match &delay.http_delay_type {
        Some(HttpDelayType::FixedDelay(d)) => errs.append(validate_duration(Some(d))),
        Some(HttpDelayType::ExponentialDelay(d)) => {
            errs.append(validate_duration(Some(d)));
            errs.msg_multi("exponentialDelay not supported yet");
        }
        None => {}
    }
    errs.finish()
}

pub(super) fn validate_destination(destination: Option<&Destination>) -> Result {
    let Some(destination) = destination else {
        return Ok(());
    };
    let mut errs = Errors::new();
    if destination.host == "*" {
        errs.msg(format!("invalid destination host {}", destination.host));
    } else {
        errs.append(validate_wildcard_domain(&destination.host));
    }
    if !destination.subset.is_empty() {
        errs.append(validate_subset_name(&destination.subset));
    }
    errs.append(validate_port_selector(destination.port.as_ref()));
    errs.finish()
}

fn validate_port_selector(selector: Option<&PortSelector>) -> Result {
    match selector {
        Some(s) if s.number != 0 => validate_port(i64::from(s.number)),
        _ => Ok(()),
    }
}

pub(super) fn validate_http_retry(retries: Option<&HttpRetry>) -> Result {
    let Some(retries) = retries else {
        return Ok(());
    };
    let mut errs = Errors::new();
    if retries.attempts < 0 {
        errs.msg_multi("attempts cannot be negative");
    }
    if retries.attempts == 0 && (retries.per_try_timeout.is_some() || !retries.retry_on.is_empty())
    {
        errs.msg("http retry policy configured when attempts are set to 0 (disabled)");
    }
    if let Some(d) = &retries.per_try_timeout {
        errs.append(validate_duration(Some(d)));
    }
    if !retries.retry_on.is_empty() {
        for policy in retries.retry_on.split(',') {
            // A policy may also be an HTTP status code.
            let code = gostr::atoi(policy).unwrap_or(0);
            if !gostr::is_known_http_status(code) && !SUPPORTED_RETRY_ON_POLICIES.contains(&policy)
            {
                errs.msg(format!("{} is not a valid retryOn policy", quote(policy)));
            }
        }
    }
    errs.finish()
}

pub(super) fn validate_http_redirect(redirect: Option<&HttpRedirect>) -> Result {
    let Some(redirect) = redirect else {
        return Ok(());
    };
    if redirect.uri.is_empty() && redirect.authority.is_empty() {
        return fail("redirect must specify URI, authority, or both");
    }
    if redirect.redirect_code != 0 && !(300..=399).contains(&redirect.redirect_code) {
        return fail(format!(
            "{} is not a valid redirect code, must be 3xx",
            redirect.redirect_code
        ));
    }
    Ok(())
}

pub(super) fn validate_http_rewrite(rewrite: Option<&HttpRewrite>) -> Result {
    match rewrite {
        Some(r) if r.uri.is_empty() && r.authority.is_empty() => {
            Err(Error::new("rewrite must specify URI, authority, or both"))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests;
