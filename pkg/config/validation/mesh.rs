//! The mesh-wide configuration (`MeshConfig`), the proxy defaults (`ProxyConfig`) and locality
//! load-balancing settings.

use crate::gostr::{self, quote};
use std::{
    collections::{HashMap, HashSet},
    time::Duration as StdDuration,
};

use istio_api::istio::mesh::v1alpha1::{
    tracing::{Datadog, Lightstep, Tracer, Zipkin},
    AuthenticationPolicy, LocalityLoadBalancerSetting, MeshConfig, ProxyConfig,
};
use pbjson_types::Duration;

use super::{
    common::{
        duration_nanos, fail, format_std_duration, validate_duration, validate_duration_range,
        validate_port, validate_proxy_address,
    },
    error::Errors,
    Result,
};

/// Bounds of the Envoy connect timeout.
const CONNECT_TIMEOUT_MIN: StdDuration = StdDuration::from_millis(1);
const CONNECT_TIMEOUT_MAX: StdDuration = StdDuration::from_secs(30);

/// Upper bounds of the drain and parent shutdown durations.
const DRAIN_TIME_MAX: StdDuration = StdDuration::from_secs(3600);
const PARENT_SHUTDOWN_TIME_MAX: StdDuration = StdDuration::from_secs(3600);

/// Checks the proxy drain and parent shutdown durations: both valid, whole seconds, the parent
/// shutdown longer than the drain, and both at most an hour. Errors are returned as a list.
pub fn validate_parent_and_drain(drain: Option<&Duration>, parent: Option<&Duration>) -> Result {
    let mut errs = Errors::new();
    if let Err(e) = validate_duration(drain) {
        errs.push_multi(e.prefixed("invalid drain duration:"));
    }
    if let Err(e) = validate_duration(parent) {
        errs.push_multi(e.prefixed("invalid parent shutdown duration:"));
    }
    if !errs.is_empty() {
        return errs.finish();
    }
    let drain = duration_nanos(drain).unwrap_or_default();
    let parent = duration_nanos(parent).unwrap_or_default();
    if drain % gostr::NANOS_PER_SECOND != 0 {
        errs.msg_multi("drain time only supports durations to seconds precision");
    }
    if parent % gostr::NANOS_PER_SECOND != 0 {
        errs.msg_multi("parent shutdown time only supports durations to seconds precision");
    }
    if parent <= drain {
        errs.msg_multi(format!(
            "parent shutdown time {} must be greater than drain time {}",
            gostr::format_duration(parent),
            gostr::format_duration(drain)
        ));
    }
    if drain > nanos(DRAIN_TIME_MAX) {
        errs.msg_multi(format!(
            "drain time {} must be <{}",
            gostr::format_duration(drain),
            format_std_duration(DRAIN_TIME_MAX)
        ));
    }
    if parent > nanos(PARENT_SHUTDOWN_TIME_MAX) {
        errs.msg_multi(format!(
            "parent shutdown time {} must be <{}",
            gostr::format_duration(parent),
            format_std_duration(PARENT_SHUTDOWN_TIME_MAX)
        ));
    }
    errs.finish()
}

fn nanos(d: StdDuration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// Checks LightStep tracing settings: address, access token, and a CA certificate path when
/// secure. Errors are returned as a list.
pub fn validate_lightstep_collector(ls: &Lightstep) -> Result {
    let mut errs = Errors::new();
    if ls.address.is_empty() {
        errs.msg_multi("address is required");
    }
    if let Err(e) = validate_proxy_address(&ls.address) {
        errs.push_multi(e.prefixed("invalid lightstep address:"));
    }
    if ls.access_token.is_empty() {
        errs.msg_multi("access token is required");
    }
    if ls.secure && ls.cacert_path.is_empty() {
        errs.msg_multi("cacertPath is required");
    }
    errs.finish()
}

/// Checks the Zipkin collector address.
pub fn validate_zipkin_collector(z: &Zipkin) -> Result {
    validate_proxy_address(&z.address)
}

/// Checks the Datadog agent address; a `$(HOST_IP)` placeholder stands for an IP address.
pub fn validate_datadog_collector(d: &Datadog) -> Result {
    validate_proxy_address(&d.address.replacen("$(HOST_IP)", "127.0.0.1", 1))
}

/// Checks that the Envoy connect timeout is a valid duration between 1ms and 30s.
pub fn validate_connect_timeout(timeout: Option<&Duration>) -> Result {
    validate_duration(timeout)?;
    let nanos = duration_nanos(timeout)?;
    let dur = StdDuration::from_nanos(u64::try_from(nanos).unwrap_or_default());
    validate_duration_range(dur, CONNECT_TIMEOUT_MIN, CONNECT_TIMEOUT_MAX)
}

/// Checks the mesh configuration: Mixer addresses, proxy listen port, connect timeout, the
/// default proxy configuration and locality load balancing. Errors are returned as a list.
pub fn validate_mesh_config(mesh: &MeshConfig) -> Result {
    let mut errs = Errors::new();
    if !mesh.mixer_check_server.is_empty() {
        if let Err(e) = validate_proxy_address(&mesh.mixer_check_server) {
            errs.push_multi(e.prefixed("invalid Policy Check Server address:"));
        }
    }
    if !mesh.mixer_report_server.is_empty() {
        if let Err(e) = validate_proxy_address(&mesh.mixer_report_server) {
            errs.push_multi(e.prefixed("invalid Telemetry Server address:"));
        }
    }
    if let Err(e) = validate_port(i64::from(mesh.proxy_listen_port)) {
        errs.push_multi(e.prefixed("invalid proxy listen port:"));
    }
    if let Err(e) = validate_connect_timeout(mesh.connect_timeout.as_ref()) {
        errs.push_multi(e.prefixed("invalid connect timeout:"));
    }
    match &mesh.default_config {
        None => errs.msg_multi("missing default config"),
        Some(config) => errs.append_multi(validate_proxy_config(config)),
    }
    errs.append_multi(validate_locality_lb_setting(
        mesh.locality_lb_setting.as_ref(),
    ));
    errs.finish()
}

/// Checks a proxy configuration: paths, service cluster, drain timing, discovery address,
/// tracers, connect timeout, stats and service addresses, admin port and control plane
/// authentication policy. Errors are returned as a list.
pub fn validate_proxy_config(config: &ProxyConfig) -> Result {
    let mut errs = Errors::new();
    if config.config_path.is_empty() {
        errs.msg_multi("config path must be set");
    }
    if config.binary_path.is_empty() {
        errs.msg_multi("binary path must be set");
    }
    if config.service_cluster.is_empty() {
        errs.msg_multi("service cluster must be set");
    }
    if let Err(e) = validate_parent_and_drain(
        config.drain_duration.as_ref(),
        config.parent_shutdown_duration.as_ref(),
    ) {
        errs.push_multi(e.prefixed("invalid parent and drain time combination"));
    }
    // Mutual TLS relies on CDS, so the discovery address is mandatory.
    if config.discovery_address.is_empty() {
        errs.msg_multi("discovery address must be set to the proxy discovery service");
    } else if let Err(e) = validate_proxy_address(&config.discovery_address) {
        errs.push_multi(e.prefixed("invalid discovery address:"));
    }

    match config.tracing.as_ref().and_then(|t| t.tracer.as_ref()) {
        Some(Tracer::Lightstep(ls)) => {
            if let Err(e) = validate_lightstep_collector(ls) {
                errs.push_multi(e.prefixed("invalid lightstep config:"));
            }
        }
        Some(Tracer::Zipkin(z)) => {
            if let Err(e) = validate_zipkin_collector(z) {
                errs.push_multi(e.prefixed("invalid zipkin config:"));
            }
        }
        Some(Tracer::Datadog(d)) => {
            if let Err(e) = validate_datadog_collector(d) {
                errs.push_multi(e.prefixed("invalid datadog config:"));
            }
        }
        _ => {}
    }

    if let Err(e) = validate_connect_timeout(config.connect_timeout.as_ref()) {
        errs.push_multi(e.prefixed("invalid connect timeout:"));
    }

    let addr = &config.statsd_udp_address;
    if !addr.is_empty() {
        if let Err(e) = validate_proxy_address(addr) {
            errs.push_multi(e.prefixed(&format!("invalid statsd udp address {}:", quote(addr))));
        }
    }
    #[allow(deprecated)]
    let addr = &config.envoy_metrics_service_address;
    if !addr.is_empty() {
        match validate_proxy_address(addr) {
            Err(e) => errs.push_multi(e.prefixed(&format!(
                "invalid envoy metrics service address {}:",
                quote(addr)
            ))),
            Ok(()) => tracing::warn!(
                target: "validation",
                "EnvoyMetricsServiceAddress is deprecated, use EnvoyMetricsService instead."
            ),
        }
    }
    let remote = [
        (
            &config.envoy_metrics_service,
            "invalid envoy metrics service address",
        ),
        (
            &config.envoy_access_log_service,
            "invalid envoy access log service address",
        ),
    ];
    for (service, what) in remote {
        let Some(addr) = service
            .as_ref()
            .map(|s| &s.address)
            .filter(|a| !a.is_empty())
        else {
            continue;
        };
        if let Err(e) = validate_proxy_address(addr) {
            errs.push_multi(e.prefixed(&format!("{what} {}:", quote(addr))));
        }
    }

    if let Err(e) = validate_port(i64::from(config.proxy_admin_port)) {
        errs.push_multi(e.prefixed("invalid proxy admin port:"));
    }
    let policy = config.control_plane_auth_policy;
    if policy != AuthenticationPolicy::None as i32
        && policy != AuthenticationPolicy::MutualTls as i32
    {
        let shown = AuthenticationPolicy::try_from(policy)
            .map_or_else(|_| policy.to_string(), |p| p.as_str_name().to_owned());
        errs.msg_multi(format!(
            "unrecognized control plane auth policy {}",
            quote(&shown)
        ));
    }
    errs.finish()
}

/// Checks locality load-balancing settings: `distribute` and `failover` are exclusive, weights
/// are non-zero and total 100, localities are well-formed and do not overlap, and failover
/// moves to a different, non-wildcard region.
pub fn validate_locality_lb_setting(lb: Option<&LocalityLoadBalancerSetting>) -> Result {
    let Some(lb) = lb else {
        return Ok(());
    };
    if !lb.distribute.is_empty() && !lb.failover.is_empty() {
        return fail("can not simultaneously specify 'distribute' and 'failover'");
    }
    let mut sources = Vec::with_capacity(lb.distribute.len());
    for d in &lb.distribute {
        sources.push(d.from.clone());
        let destinations: Vec<String> = d.to.keys().cloned().collect();
        if d.to.values().any(|w| *w == 0) {
            return fail("locality weight must not be in range [1, 100]");
        }
        let total = d.to.values().fold(0u32, |sum, w| sum.wrapping_add(*w));
        if total != 100 {
            return fail(format!("total locality weight {total} != 100"));
        }
        validate_localities(&destinations)?;
    }
    validate_localities(&sources)?;
    for f in &lb.failover {
        if f.from == f.to {
            return fail("locality lb failover settings must specify different regions");
        }
        if f.to.contains('*') {
            return fail("locality lb failover region should not contain '*' wildcard");
        }
    }
    Ok(())
}

/// Marks a whole region (as a zone key) or a whole zone (as a sub-zone key).
const ALL: &str = "*";

/// Checks `region[/zone[/subzone]]` localities: a single trailing `*` wildcard at most, no empty
/// parts, and no locality covered by an earlier one.
pub fn validate_localities(localities: &[String]) -> Result {
    // region -> zone -> sub-zones claimed so far; `*` keys mark whole regions and zones.
    let mut claimed: HashMap<&str, HashMap<&str, HashSet<&str>>> = HashMap::new();
    for locality in localities {
        let stars = locality.matches('*').count();
        if stars > 1 || (stars == 1 && !locality.ends_with('*')) {
            return fail(format!(
                "locality {locality} wildcard '*' number can not exceed 1 and must be in the end"
            ));
        }
        let items: Vec<&str> = locality.splitn(3, '/').collect();
        if items.iter().any(|i| i.is_empty()) {
            return fail(format!(
                "locality {locality} must not contain empty region/zone/subzone info"
            ));
        }
        let overlap = || -> Result {
            fail(format!(
                "locality {locality} overlap with previous specified ones"
            ))
        };
        if claimed.contains_key(ALL) {
            return overlap();
        }
        match items.as_slice() {
            [region] => {
                if claimed.contains_key(region) {
                    return overlap();
                }
                claimed.insert(region, HashMap::from([(ALL, HashSet::from([ALL]))]));
            }
            [region, zone] => {
                let zones = claimed.entry(region).or_default();
                if zones.contains_key(ALL) || zones.contains_key(zone) {
                    return overlap();
                }
                zones.insert(zone, HashSet::from([ALL]));
            }
            [region, zone, subzone] => {
                let zones = claimed.entry(region).or_default();
                if zones.contains_key(ALL) {
                    return overlap();
                }
                let subzones = zones.entry(zone).or_default();
                if subzones.contains(ALL) || subzones.contains(subzone) {
                    return overlap();
                }
                subzones.insert(subzone);
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
