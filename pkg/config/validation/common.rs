//! Checks shared by several config kinds: ports, domain names, addresses, durations, percents.

use crate::gostr::{self, quote};
use std::time::Duration as StdDuration;

use istio_api::istio::mixer::v1::config::client::IstioService;
use pbjson_types::Duration;

use super::{error::Errors, Error, Result};
use crate::config::labels;

/// Prefix marking an address as a Unix domain socket path (service entry endpoints, sidecar
/// listeners).
pub const UNIX_ADDRESS_PREFIX: &str = "unix://";

/// Longest domain name accepted.
const MAX_DOMAIN_LENGTH: usize = 255;

/// Shorthand for a failed check with a plain message.
pub(crate) fn fail(msg: impl Into<String>) -> Result {
    Err(Error::new(msg))
}

/// Checks that a port number is within 1..=65535.
pub fn validate_port(port: i64) -> Result {
    if (1..=65535).contains(&port) {
        Ok(())
    } else {
        fail(format!("port number {port} must be in the range 1..65535"))
    }
}

/// True when every port is within 1..=65535.
pub fn validate_ports(ports: &[i32]) -> bool {
    ports.iter().all(|p| validate_port(i64::from(*p)).is_ok())
}

/// Checks a fully qualified domain name: at most 255 characters, dot-separated DNS-1123 labels
/// (a trailing dot is allowed) and a top-level domain that is not a number.
pub fn validate_fqdn(fqdn: &str) -> Result {
    check_dns1123_preconditions(fqdn)?;
    validate_dns1123_labels(fqdn)
}

/// Like [`validate_fqdn`], but the first label may be a wildcard: `*`, `*foo` or `*-foo`.
pub fn validate_wildcard_domain(domain: &str) -> Result {
    check_dns1123_preconditions(domain)?;
    let (first, rest) = match domain.split_once('.') {
        Some((f, r)) => (f, Some(r)),
        None => (domain, None),
    };
    if !labels::is_wildcard_dns1123_label(first) {
        return fail(format!(
            "domain name {} invalid (label {} invalid)",
            quote(domain),
            quote(first)
        ));
    }
    rest.map_or(Ok(()), validate_dns1123_labels)
}

/// Length checks common to domain names with and without wildcards.
fn check_dns1123_preconditions(name: &str) -> Result {
    if name.len() > MAX_DOMAIN_LENGTH {
        return fail(format!("domain name {} too long (max 255)", quote(name)));
    }
    if name.is_empty() {
        return fail("empty domain name not allowed");
    }
    Ok(())
}

/// Checks dot-separated labels; the last one may be empty (`istio.io.`).
fn validate_dns1123_labels(domain: &str) -> Result {
    let parts: Vec<&str> = domain.split('.').collect();
    let last = parts.len() - 1;
    let tld = parts[last];
    if gostr::atoi(tld).is_ok() {
        return fail(format!(
            "domain name {} invalid (top level domain {} cannot be all-numeric)",
            quote(domain),
            quote(tld)
        ));
    }
    for (i, label) in parts.iter().enumerate() {
        if i == last && label.is_empty() {
            return Ok(());
        }
        if !labels::is_dns1123_label(label) {
            return fail(format!(
                "domain name {} invalid (label {} invalid)",
                quote(domain),
                quote(label)
            ));
        }
    }
    Ok(())
}

/// Checks a Mixer service reference: exactly one of `name` and `service`, `namespace` and
/// `domain` only with `name`, and valid labels. Errors are returned as a list.
pub fn validate_mixer_service(svc: &IstioService) -> Result {
    let mut errs = Errors::new();
    match (svc.name.is_empty(), svc.service.is_empty()) {
        (true, true) => errs.msg_multi("name or service is mandatory for a service reference"),
        (false, false) => errs.msg_multi("specify either name or service, not both"),
        (true, false) => {
            if !svc.namespace.is_empty() {
                errs.msg_multi("namespace is not valid when service is provided");
            }
            if !svc.domain.is_empty() {
                errs.msg_multi("domain is not valid when service is provided");
            }
        }
        (false, true) => {
            if !labels::is_dns1123_label(&svc.name) {
                errs.msg_multi(format!("name {} must be a valid label", quote(&svc.name)));
            }
        }
    }
    if !svc.namespace.is_empty() && !labels::is_dns1123_label(&svc.namespace) {
        errs.msg_multi(format!(
            "namespace {} must be a valid label",
            quote(&svc.namespace)
        ));
    }
    if !svc.domain.is_empty() {
        errs.append_multi(validate_fqdn(&svc.domain));
    }
    errs.append_multi(labels::validate(&svc.labels));
    errs.finish()
}

/// Checks that a header name is not empty.
pub fn validate_http_header_name(name: &str) -> Result {
    if name.is_empty() {
        fail("header name cannot be empty")
    } else {
        Ok(())
    }
}

/// Checks that an integer percentage is within 0..=100.
pub fn validate_percent(val: i32) -> Result {
    if (0..=100).contains(&val) {
        Ok(())
    } else {
        fail(format!("percentage {val} is not in range 0..100"))
    }
}

/// Checks an IPv4 subnet in CIDR notation (`a.b.c.d/n`) or a plain IPv4 address.
pub fn validate_ipv4_subnet(subnet: &str) -> Result {
    if subnet.matches('/').count() != 1 {
        return validate_ipv4_address(subnet);
    }
    match gostr::parse_cidr(subnet) {
        Err(_) => fail(format!("{subnet} is not a valid CIDR block")),
        Ok(ip) if !gostr::is_ipv4(&ip) => fail(format!("{subnet} is not a valid IPv4 address")),
        Ok(_) => Ok(()),
    }
}

/// Checks an IPv4 address in dot-decimal notation (IPv4-mapped IPv6 addresses are accepted, as
/// upstream does).
pub fn validate_ipv4_address(addr: &str) -> Result {
    match gostr::parse_ip(addr) {
        None => fail(format!("{addr} is not a valid IP")),
        Some(ip) if !gostr::is_ipv4(&ip) => fail(format!("{addr} is not a valid IPv4 address")),
        Some(_) => Ok(()),
    }
}

/// Checks a Unix domain socket path: an absolute path not ending in `/`, or an abstract socket
/// name starting with `@`.
pub fn validate_unix_address(addr: &str) -> Result {
    if addr.is_empty() {
        return fail("unix address must not be empty");
    }
    if addr.starts_with('@') {
        return Ok(());
    }
    if !addr.starts_with('/') || addr.ends_with('/') {
        return fail(format!("{addr} is not an absolute path to a file"));
    }
    Ok(())
}

/// Checks a `host:port` address whose host is a domain name or an IP address.
pub fn validate_proxy_address(host_addr: &str) -> Result {
    let (host, port) = gostr::split_host_port(host_addr)
        .map_err(|e| Error::new(format!("unable to split {}: {e}", quote(host_addr))))?;
    let port =
        gostr::atoi(port).map_err(|e| Error::new(format!("port ({port}) is not a number: {e}")))?;
    validate_port(port)?;
    if validate_fqdn(host).is_err() && gostr::parse_ip(host).is_none() {
        return fail(format!(
            "{} is not a valid hostname or an IP address",
            quote(host)
        ));
    }
    Ok(())
}

/// Largest magnitude of `Duration.seconds` protobuf allows (10,000 years).
const MAX_DURATION_SECONDS: i64 = 315_576_000_000;

/// Converts a protobuf duration to nanoseconds as gogo's `DurationFromProto` does, with its
/// error texts for missing, malformed or out-of-range values.
pub(crate) fn duration_nanos(d: Option<&Duration>) -> std::result::Result<i64, Error> {
    let d = d.ok_or_else(|| Error::new("duration: nil Duration"))?;
    let shown = || gostr::duration_go_string(d.seconds, d.nanos);
    if !(-MAX_DURATION_SECONDS..=MAX_DURATION_SECONDS).contains(&d.seconds) {
        return Err(Error::new(format!(
            "duration: {}: seconds out of range",
            shown()
        )));
    }
    if d.nanos <= -1_000_000_000 || d.nanos >= 1_000_000_000 {
        return Err(Error::new(format!(
            "duration: {}: nanos out of range",
            shown()
        )));
    }
    if (d.seconds < 0 && d.nanos > 0) || (d.seconds > 0 && d.nanos < 0) {
        return Err(Error::new(format!(
            "duration: {}: seconds and nanos have different signs",
            shown()
        )));
    }
    d.seconds
        .checked_mul(gostr::NANOS_PER_SECOND)
        .and_then(|n| n.checked_add(i64::from(d.nanos)))
        .ok_or_else(|| {
            Error::new(format!(
                "duration: {} is out of range for time.Duration",
                shown()
            ))
        })
}

/// Checks that a duration is well-formed, at least 1ms, and a whole number of milliseconds.
pub fn validate_duration(d: Option<&Duration>) -> Result {
    let nanos = duration_nanos(d)?;
    if nanos < gostr::NANOS_PER_MILLI {
        return fail("duration must be greater than 1ms");
    }
    if nanos % gostr::NANOS_PER_MILLI != 0 {
        return fail("only durations to ms precision are supported");
    }
    Ok(())
}

/// Checks that `dur` lies within `min..=max`.
pub fn validate_duration_range(dur: StdDuration, min: StdDuration, max: StdDuration) -> Result {
    if dur > max || dur < min {
        return fail(format!(
            "time {} must be >{} and <{}",
            format_std_duration(dur),
            format_std_duration(min),
            format_std_duration(max)
        ));
    }
    Ok(())
}

/// Go's `Duration.String()` of a standard duration (saturating at Go's range).
pub(crate) fn format_std_duration(d: StdDuration) -> String {
    gostr::format_duration(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests;
