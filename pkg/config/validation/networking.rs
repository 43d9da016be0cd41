//! Networking kinds (`networking.istio.io/v1alpha3`): Gateway, DestinationRule, EnvoyFilter,
//! Sidecar, ServiceEntry. VirtualService lives in [`virtual_service`].

mod traffic_policy;
mod virtual_service;

use crate::gostr::{self, proto_text_quote, quote};
use std::collections::HashSet;

use istio_api::istio::networking::v1alpha3::{
    envoy_filter::{
        self, envoy_config_object_match::ObjectTypes, filter::FilterType, insert_position::Index,
        patch::Operation, ApplyTo,
    },
    server::{tls_options::TlSmode as ServerTlsMode, TlsOptions},
    service_entry::Resolution,
    CaptureMode, DestinationRule, EnvoyFilter, Gateway, Port, Server, ServiceEntry, Sidecar,
};

pub(crate) use traffic_policy::validate_subset_name;
pub use virtual_service::validate_virtual_service;

use super::{
    common::{
        fail, validate_fqdn, validate_ipv4_address, validate_ipv4_subnet, validate_port,
        validate_unix_address, validate_wildcard_domain, UNIX_ADDRESS_PREFIX,
    },
    error::Errors,
    go_regex, Result,
};
use crate::config::{gateway, labels, protocol};

/// Name of Envoy's HTTP connection manager network filter.
const HTTP_CONNECTION_MANAGER: &str = "envoy.http_connection_manager";

/// Checks a Gateway: its name is a DNS label, it has servers, each server is valid, and port
/// names are unique across servers.
pub fn validate_gateway(name: &str, _namespace: &str, gateway: &Gateway) -> Result {
    let mut errs = Errors::new();
    if !labels::is_dns1123_label(name) {
        errs.msg(format!("invalid gateway name: {}", quote(name)));
    }
    if gateway.servers.is_empty() {
        errs.msg("gateway must have at least one server");
    } else {
        for server in &gateway.servers {
            errs.append(validate_server(server));
        }
    }
    let mut port_names = HashSet::new();
    for port in gateway.servers.iter().filter_map(|s| s.port.as_ref()) {
        if !port_names.insert(port.name.as_str()) {
            errs.msg(format!(
                "port names in servers must be unique: duplicate name {}",
                port.name
            ));
        }
    }
    errs.finish()
}

fn validate_server(server: &Server) -> Result {
    let mut errs = Errors::new();
    if server.hosts.is_empty() {
        errs.msg("server config must contain at least one host");
    } else {
        for host in &server.hosts {
            errs.append(validate_namespace_slash_wildcard_hostname(host, true));
        }
    }
    let port_result = validate_server_port(server.port.as_ref());
    let port_ok = port_result.is_ok();
    errs.append(port_result);
    errs.append(validate_tls_options(server.tls.as_ref()));

    if let (true, Some(port)) = (port_ok, server.port.as_ref()) {
        let p = protocol::parse(&port.protocol);
        match &server.tls {
            None if p.is_tls() => errs.msg("server must have TLS settings for HTTPS/TLS protocols"),
            Some(tls) if !p.is_tls() => {
                if !p.is_http() {
                    errs.msg("server cannot have TLS settings for non HTTPS/TLS ports");
                } else if !gateway::is_pass_through_server(server)
                    || !tls.ca_certificates.is_empty()
                    || !tls.private_key.is_empty()
                    || !tls.server_certificate.is_empty()
                {
                    // Only an HTTPS redirect may be configured on a plain-text HTTP port.
                    errs.msg("server cannot have TLS settings for plain text HTTP ports");
                }
            }
            _ => {}
        }
    }
    errs.finish()
}

/// The protobuf compact text form of a port, as Go's `%v` of the message prints it.
fn port_text(port: &Port) -> String {
    let mut s = String::new();
    if port.number != 0 {
        s.push_str(&format!("number:{} ", port.number));
    }
    if !port.protocol.is_empty() {
        s.push_str(&format!("protocol:{} ", proto_text_quote(&port.protocol)));
    }
    if !port.name.is_empty() {
        s.push_str(&format!("name:{} ", proto_text_quote(&port.name)));
    }
    s
}

fn validate_server_port(port: Option<&Port>) -> Result {
    let Some(port) = port else {
        return fail("port is required");
    };
    let mut errs = Errors::new();
    if protocol::parse(&port.protocol).is_unsupported() {
        errs.msg(format!(
            "invalid protocol {}, supported protocols are HTTP, HTTP2, GRPC, MONGO, REDIS, MYSQL, TCP",
            quote(&port.protocol)
        ));
    }
    if port.number > 0 {
        errs.append(validate_port(i64::from(port.number)));
    }
    if port.name.is_empty() {
        errs.msg(format!("port name must be set: {}", port_text(port)));
    }
    errs.finish()
}

fn validate_tls_options(tls: Option<&TlsOptions>) -> Result {
    let Some(tls) = tls else {
        return Ok(());
    };
    let mut errs = Errors::new();
    let mode = tls.mode;
    if mode == ServerTlsMode::IstioMutual as i32 {
        // Istio mutual TLS takes its certificates from SDS or the default mount paths.
        if !tls.server_certificate.is_empty() {
            errs.msg("ISTIO_MUTUAL TLS cannot have associated server certificate");
        }
        if !tls.private_key.is_empty() {
            errs.msg("ISTIO_MUTUAL TLS cannot have associated private key");
        }
        if !tls.ca_certificates.is_empty() {
            errs.msg("ISTIO_MUTUAL TLS cannot have associated CA bundle");
        }
        return errs.finish();
    }
    let simple = mode == ServerTlsMode::Simple as i32;
    let mutual = mode == ServerTlsMode::Mutual as i32;
    if (simple || mutual) && !tls.credential_name.is_empty() {
        // Credentials are fetched remotely by name; no files are needed.
        return Ok(());
    }
    let label = if simple {
        "SIMPLE"
    } else if mutual {
        "MUTUAL"
    } else {
        return Ok(());
    };
    if tls.server_certificate.is_empty() {
        errs.msg(format!("{label} TLS requires a server certificate"));
    }
    if tls.private_key.is_empty() {
        errs.msg(format!("{label} TLS requires a private key"));
    }
    if mutual && tls.ca_certificates.is_empty() {
        errs.msg("MUTUAL TLS requires a client CA bundle");
    }
    errs.finish()
}

/// Checks a DestinationRule: its host, traffic policy, subsets and `exportTo`.
pub fn validate_destination_rule(_name: &str, _namespace: &str, rule: &DestinationRule) -> Result {
    let mut errs = Errors::new();
    errs.append(validate_wildcard_domain(&rule.host));
    errs.append(traffic_policy::validate_traffic_policy(
        rule.traffic_policy.as_ref(),
    ));
    for subset in &rule.subsets {
        errs.append(traffic_policy::validate_subset(subset));
    }
    errs.append(validate_export_to(&rule.export_to));
    errs.finish()
}

/// Only a single `.` (namespace-local) or `*` (public) entry is supported in `exportTo`.
pub(crate) fn validate_export_to(export_to: &[String]) -> Result {
    match export_to {
        [] => Ok(()),
        [v] if v == "." || v == "*" => Ok(()),
        [_] => fail("only . or * is allowed in the exportTo in the current release"),
        _ => fail("exportTo should have only one entry (. or *) in the current release"),
    }
}

/// Checks an EnvoyFilter: deprecated `filters` entries and `configPatches`.
///
/// Upstream also decodes each patch value into the Envoy v2 message its `applyTo` names and
/// reports unknown fields; the Envoy API is not available here, so patch values are not checked.
pub fn validate_envoy_filter(_name: &str, _namespace: &str, rule: &EnvoyFilter) -> Result {
    #[allow(deprecated)]
    let filters = &rule.filters;
    if !filters.is_empty() {
        tracing::warn!(target: "validation", "Envoy filter: Filters is deprecated. use configPatches instead");
    }
    if !rule.workload_labels.is_empty() {
        tracing::warn!(target: "validation", "Envoy filter: workloadLabels is deprecated. use workloadSelector instead");
    }
    let mut errs = Errors::new();
    if rule
        .workload_selector
        .as_ref()
        .is_some_and(|s| s.labels.is_empty())
    {
        errs.msg("Envoy filter: workloadSelector cannot have empty labels");
    }
    for f in filters {
        errs.append(validate_deprecated_filter(f));
    }
    for patch in &rule.config_patches {
        errs.append(validate_config_patch(patch));
    }
    errs.finish()
}

fn validate_deprecated_filter(f: &envoy_filter::Filter) -> Result {
    let mut errs = Errors::new();
    if let Some(pos) = &f.insert_position {
        let relative = pos.index == Index::Before as i32 || pos.index == Index::After as i32;
        if relative && pos.relative_to.is_empty() {
            errs.msg("Envoy filter: missing relativeTo filter with BEFORE/AFTER index");
        }
    }
    if f.filter_type == FilterType::Invalid as i32 {
        errs.msg("Envoy filter: missing filter type");
    }
    if f.filter_name.is_empty() {
        errs.msg("Envoy filter: missing filter name");
    }
    if f.filter_config.is_none() {
        errs.msg("Envoy filter: missing filter config");
    }
    errs.finish()
}

/// Checks one config patch; the first problem found ends the check, as upstream's loop does.
fn validate_config_patch(cp: &envoy_filter::EnvoyConfigObjectPatch) -> Result {
    if cp.apply_to == ApplyTo::Invalid as i32 {
        return fail("Envoy filter: missing applyTo");
    }
    let Some(patch) = &cp.patch else {
        return fail("Envoy filter: missing patch");
    };
    if patch.operation == Operation::Invalid as i32 {
        return fail("Envoy filter: missing patch operation");
    }
    if patch.operation != Operation::Remove as i32 && patch.value.is_none() {
        return fail("Envoy filter: missing patch value for non-remove operation");
    }
    let Some(m) = &cp.r#match else {
        return Ok(());
    };
    if let Some(proxy) = m.proxy.as_ref().filter(|p| !p.proxy_version.is_empty()) {
        if let Err(e) = go_regex::compile(&proxy.proxy_version) {
            return fail(format!(
                "Envoy filter: invalid regex for proxy version, [{e}]"
            ));
        }
    }
    let Some(object) = &m.object_types else {
        return Ok(());
    };
    let apply_to = ApplyTo::try_from(cp.apply_to).ok();
    match apply_to {
        Some(
            ApplyTo::Listener | ApplyTo::FilterChain | ApplyTo::NetworkFilter | ApplyTo::HttpFilter,
        ) => {
            let ObjectTypes::Listener(listener) = object else {
                return fail(
                    "Envoy filter: applyTo for listener class objects cannot have non listener match",
                );
            };
            let filter = listener.filter_chain.as_ref().and_then(|fc| fc.filter.as_ref());
            if let Some(filter) = filter {
                validate_filter_match(filter, apply_to == Some(ApplyTo::HttpFilter))?;
            }
            Ok(())
        }
        Some(ApplyTo::RouteConfiguration | ApplyTo::VirtualHost | ApplyTo::HttpRoute)
            if !matches!(object, ObjectTypes::RouteConfiguration(_)) =>
        {
            fail("Envoy filter: applyTo for http route class objects cannot have non route configuration match")
        }
        Some(ApplyTo::Cluster) if !matches!(object, ObjectTypes::Cluster(_)) => {
            fail("Envoy filter: applyTo for cluster class objects cannot have non cluster match")
        }
        _ => Ok(()),
    }
}

fn validate_filter_match(
    filter: &envoy_filter::listener_match::FilterMatch,
    http_filter: bool,
) -> Result {
    if filter.name.is_empty() {
        return fail("Envoy filter: filter match has no name to match on");
    }
    let Some(sub_filter) = &filter.sub_filter else {
        return Ok(());
    };
    if !http_filter {
        return fail("Envoy filter: subfilter match can be used with applyTo HTTP_FILTER only");
    }
    if filter.name != HTTP_CONNECTION_MANAGER {
        return fail(format!(
            "Envoy filter: subfilter match requires filter match with {HTTP_CONNECTION_MANAGER}"
        ));
    }
    if sub_filter.name.is_empty() {
        return fail("Envoy filter: subfilter match has no name to match on");
    }
    Ok(())
}

/// Checks the host part of a sidecar or gateway host entry: an FQDN (or `*`), possibly
/// wildcarded; gateways also accept an IP address.
fn validate_sidecar_or_gateway_hostname_part(hostname: &str, is_gateway: bool) -> Result {
    let mut errs = Errors::new();
    if hostname != "*" && !hostname.contains('.') {
        errs.msg("short names (non FQDN) are not allowed");
    }
    if let Err(e) = validate_wildcard_domain(hostname) {
        if !is_gateway {
            errs.push(e.clone());
        }
        if gostr::parse_ip(hostname).is_none() {
            errs.push(e);
        }
    }
    errs.finish()
}

/// Checks a `namespace/dnsName` host entry of a sidecar egress listener or a gateway server
/// (gateways still accept a bare `dnsName`).
fn validate_namespace_slash_wildcard_hostname(hostname: &str, is_gateway: bool) -> Result {
    let Some((namespace, dns_name)) = hostname.split_once('/') else {
        if is_gateway {
            return validate_sidecar_or_gateway_hostname_part(hostname, true);
        }
        return fail("host must be of form namespace/dnsName");
    };
    let mut errs = Errors::new();
    if namespace.is_empty() || dns_name.is_empty() {
        errs.msg("config namespace and dnsName in host entry cannot be empty");
    }
    let (special, kind): (&[&str], &str) = if is_gateway {
        (&["*", "."], "gateway")
    } else {
        (&["*", ".", "~"], "sidecar")
    };
    if !special.contains(&namespace) && !labels::is_dns1123_label(namespace) {
        errs.msg(format!(
            "invalid namespace value {} in {kind}",
            quote(namespace)
        ));
    }
    errs.append(validate_sidecar_or_gateway_hostname_part(
        dns_name, is_gateway,
    ));
    errs.finish()
}

/// Checks a Sidecar: workload selector, ingress listeners (port, bind, default endpoint) and
/// egress listeners (ports or Unix sockets, capture mode, hosts).
pub fn validate_sidecar(_name: &str, _namespace: &str, sidecar: &Sidecar) -> Result {
    let mut errs = Errors::new();
    if sidecar
        .workload_selector
        .as_ref()
        .is_some_and(|s| s.labels.is_empty())
    {
        errs.msg("sidecar: workloadSelector cannot have empty labels");
    }
    if sidecar.egress.is_empty() {
        return fail("sidecar: missing egress");
    }

    let mut ports = HashSet::new();
    for ingress in &sidecar.ingress {
        let Some(port) = &ingress.port else {
            errs.msg("sidecar: port is required for ingress listeners");
            continue;
        };
        errs.append(validate_sidecar_ingress_port_and_bind(port, &ingress.bind));
        if !ports.insert(port.number) {
            errs.msg("sidecar: ports on IP bound listeners must be unique");
        }
        errs.append(validate_default_endpoint(&ingress.default_endpoint));
    }

    let mut ports = HashSet::new();
    let mut unix_sockets = HashSet::new();
    let mut catch_all_found = false;
    let last = sidecar.egress.len() - 1;
    for (index, egress) in sidecar.egress.iter().enumerate() {
        match &egress.port {
            None if catch_all_found => {
                errs.msg("sidecar: egress can have only one listener with empty port");
                continue;
            }
            None if index == last => catch_all_found = true,
            None => errs.msg(
                "sidecar: the egress listener with empty port should be the last listener in the list",
            ),
            Some(port) => {
                errs.append(validate_sidecar_egress_port_bind_and_capture_mode(
                    port,
                    &egress.bind,
                    egress.capture_mode,
                ));
                if port.number == 0 {
                    if !unix_sockets.insert(egress.bind.as_str()) {
                        errs.msg("sidecar: unix domain socket values for listeners must be unique");
                    }
                } else if !ports.insert(port.number) {
                    errs.msg("sidecar: ports on IP bound listeners must be unique");
                }
            }
        }
        if egress.hosts.is_empty() {
            errs.msg("sidecar: egress listener must contain at least one host");
        } else {
            for host in &egress.hosts {
                errs.append(validate_namespace_slash_wildcard_hostname(host, false));
            }
        }
    }
    errs.finish()
}

/// Checks an ingress listener's default endpoint: `unix:///path`, `127.0.0.1:<port>` or
/// `:<port>`.
fn validate_default_endpoint(endpoint: &str) -> Result {
    if endpoint.is_empty() {
        return fail("sidecar: default endpoint must be set for all ingress listeners");
    }
    if let Some(path) = endpoint.strip_prefix(UNIX_ADDRESS_PREFIX) {
        return validate_unix_address(path);
    }
    let mut parts = endpoint.split(':');
    let host = parts.next().unwrap_or_default();
    let Some(port) = parts.next() else {
        return fail("sidecar: defaultEndpoint must be of form 127.0.0.1:<port>");
    };
    let mut errs = Errors::new();
    if !host.is_empty() && host != "127.0.0.1" {
        errs.msg("sidecar: defaultEndpoint must be of form 127.0.0.1:<port>");
    }
    match gostr::atoi(port) {
        Err(e) => errs.msg(format!(
            "sidecar: defaultEndpoint port ({port}) is not a number: {e}"
        )),
        Ok(n) => errs.append(validate_port(n)),
    }
    errs.finish()
}

fn validate_sidecar_egress_port_bind_and_capture_mode(
    port: &Port,
    bind: &str,
    capture_mode: i32,
) -> Result {
    let mut errs = Errors::new();
    if !port.name.is_empty() {
        errs.append(validate_port_name(&port.name));
    }
    errs.append(validate_protocol(&port.protocol));
    if port.number == 0 {
        // A listener without a port number binds a Unix domain socket.
        match bind.strip_prefix(UNIX_ADDRESS_PREFIX) {
            None => {
                errs.msg("sidecar: ports with 0 value must have a unix domain socket bind address")
            }
            Some(path) => errs.append(validate_unix_address(path)),
        }
        if capture_mode != CaptureMode::Default as i32 && capture_mode != CaptureMode::None as i32 {
            errs.msg("sidecar: captureMode must be DEFAULT/NONE for unix domain socket listeners");
        }
    } else {
        errs.append(validate_port(i64::from(port.number)));
        if !bind.is_empty() {
            errs.append(validate_ipv4_address(bind));
        }
    }
    errs.finish()
}

fn validate_sidecar_ingress_port_and_bind(port: &Port, bind: &str) -> Result {
    let mut errs = Errors::new();
    if !port.name.is_empty() {
        errs.append(validate_port_name(&port.name));
    }
    errs.append(validate_protocol(&port.protocol));
    errs.append(validate_port(i64::from(port.number)));
    if !bind.is_empty() {
        errs.append(validate_ipv4_address(bind));
    }
    errs.finish()
}

/// Checks a synthetic ServiceEntry (generated by the platform); the rules are those of
/// [`validate_service_entry`].
pub fn validate_synthetic_service_entry(
    name: &str,
    namespace: &str,
    entry: &ServiceEntry,
) -> Result {
    validate_service_entry(name, namespace, entry)
}

/// Checks a ServiceEntry: hosts, addresses, ports, endpoints for the resolution mode, and
/// `exportTo`.
pub fn validate_service_entry(_name: &str, _namespace: &str, entry: &ServiceEntry) -> Result {
    let mut errs = Errors::new();
    if entry.hosts.is_empty() {
        errs.msg("service entry must have at least one host");
    }
    for host in &entry.hosts {
        if host == "*" {
            errs.msg(format!("invalid host {host}"));
        } else {
            errs.append(validate_wildcard_domain(host));
        }
    }

    let mut cidr_found = false;
    for address in &entry.addresses {
        cidr_found = cidr_found || address.contains('/');
        errs.append(validate_ipv4_subnet(address));
    }
    let resolution = Resolution::try_from(entry.resolution).ok();
    if cidr_found && !matches!(resolution, Some(Resolution::None | Resolution::Static)) {
        errs.msg("CIDR addresses are allowed only for NONE/STATIC resolution types");
    }

    let mut port_numbers = HashSet::new();
    let mut port_names = HashSet::new();
    for port in &entry.ports {
        if !port_names.insert(port.name.as_str()) {
            errs.msg(format!(
                "service entry port name {} already defined",
                quote(&port.name)
            ));
        }
        if !port_numbers.insert(port.number) {
            errs.msg(format!(
                "service entry port {} already defined",
                port.number
            ));
        }
    }

    match resolution {
        Some(Resolution::None) => {
            if !entry.endpoints.is_empty() {
                errs.msg("no endpoints should be provided for resolution type none");
            }
        }
        Some(Resolution::Static) => validate_static_endpoints(entry, &port_names, &mut errs),
        Some(Resolution::Dns) => validate_dns_endpoints(entry, &port_names, &mut errs),
        // Go prints the name of an unknown enum value, which is empty.
        None => errs.msg("unsupported resolution type "),
    }

    // Several hosts on one entry can only be told apart by HTTP's authority or TLS's SNI,
    // unless the hosts are ignored (resolution NONE).
    if resolution != Some(Resolution::None) && entry.hosts.len() > 1 {
        let can_differentiate = entry.ports.iter().all(|port| {
            let p = protocol::parse(&port.protocol);
            p.is_http() || p.is_tls()
        });
        if !can_differentiate {
            errs.msg("multiple hosts provided with non-HTTP, non-TLS ports");
        }
    }

    for port in &entry.ports {
        errs.append(validate_port_name(&port.name));
        errs.append(validate_protocol(&port.protocol));
        errs.append(validate_port(i64::from(port.number)));
    }
    errs.append(validate_export_to(&entry.export_to));
    errs.finish()
}

fn validate_static_endpoints(entry: &ServiceEntry, port_names: &HashSet<&str>, errs: &mut Errors) {
    if entry.endpoints.is_empty() {
        errs.msg("endpoints must be provided if service entry resolution mode is static");
    }
    let mut unix_endpoint = false;
    for endpoint in &entry.endpoints {
        let addr = &endpoint.address;
        if let Some(path) = addr.strip_prefix(UNIX_ADDRESS_PREFIX) {
            unix_endpoint = true;
            errs.append(validate_unix_address(path));
            if !endpoint.ports.is_empty() {
                errs.msg(format!("unix endpoint {addr} must not include ports"));
            }
        } else {
            errs.append(validate_ipv4_address(addr));
            for name in endpoint.ports.keys() {
                if !port_names.contains(name.as_str()) {
                    errs.msg(format!(
                        "endpoint port {} is not defined by the service entry",
                        endpoint.ports[name]
                    ));
                }
            }
        }
        errs.append(labels::validate(&endpoint.labels));
    }
    if unix_endpoint && entry.ports.len() != 1 {
        errs.msg("exactly 1 service port required for unix endpoints");
    }
}

fn validate_dns_endpoints(entry: &ServiceEntry, port_names: &HashSet<&str>, errs: &mut Errors) {
    if entry.endpoints.is_empty() {
        for host in &entry.hosts {
            if validate_fqdn(host).is_err() {
                errs.msg("hosts must be FQDN if no endpoints are provided for resolution mode DNS");
            }
        }
    }
    for endpoint in &entry.endpoints {
        let addr = &endpoint.address;
        if gostr::parse_ip(addr).is_none() && validate_fqdn(addr).is_err() {
            errs.msg(format!(
                "endpoint address {} is not a valid FQDN or an IP address",
                quote(addr)
            ));
        }
        errs.append(labels::validate(&endpoint.labels));
        for name in endpoint.ports.keys() {
            let port = endpoint.ports[name];
            if !port_names.contains(name.as_str()) {
                errs.msg(format!(
                    "endpoint port {port} is not defined by the service entry"
                ));
            }
            errs.append(validate_port_name(name));
            errs.append(validate_port(i64::from(port)));
        }
    }
}

/// A port name must be a DNS label.
pub(crate) fn validate_port_name(name: &str) -> Result {
    if labels::is_dns1123_label(name) {
        Ok(())
    } else {
        fail(format!("invalid port name: {name}"))
    }
}

/// A port protocol must be empty (protocol sniffing) or one [`protocol::parse`] knows.
pub(crate) fn validate_protocol(protocol_str: &str) -> Result {
    if !protocol_str.is_empty() && protocol::parse(protocol_str).is_unsupported() {
        fail(format!("unsupported protocol: {protocol_str}"))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
