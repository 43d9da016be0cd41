//! Traffic policies of destination rules and their subsets.

use istio_api::istio::networking::v1alpha3::{
    load_balancer_settings::{consistent_hash_lb::HashKey, LbPolicy},
    tls_settings::TlSmode,
    traffic_policy::PortTrafficPolicy,
    ConnectionPoolSettings, LoadBalancerSettings, OutlierDetection, Subset, TlsSettings,
    TrafficPolicy,
};

use super::super::{
    common::{fail, validate_duration, validate_percent},
    error::Errors,
    Result,
};
use crate::config::labels;

pub(super) fn validate_traffic_policy(policy: Option<&TrafficPolicy>) -> Result {
    let Some(policy) = policy else {
        return Ok(());
    };
    if policy.outlier_detection.is_none()
        && policy.connection_pool.is_none()
        && policy.load_balancer.is_none()
        && policy.tls.is_none()
        && policy.port_level_settings.is_empty()
    {
        return fail("traffic policy must have at least one field");
    }
    let mut errs = Errors::new();
    errs.append(validate_outlier_detection(
        policy.outlier_detection.as_ref(),
    ));
    errs.append(validate_connection_pool(policy.connection_pool.as_ref()));
    errs.append(validate_load_balancer(policy.load_balancer.as_ref()));
    errs.append(validate_tls(policy.tls.as_ref()));
    errs.append(validate_port_traffic_policies(&policy.port_level_settings));
    errs.finish()
}

pub(super) fn validate_outlier_detection(outlier: Option<&OutlierDetection>) -> Result {
    let Some(outlier) = outlier else {
        return Ok(());
    };
    let mut errs = Errors::new();
    if let Some(d) = &outlier.base_ejection_time {
        errs.append(validate_duration(Some(d)));
    }
    if outlier.consecutive_errors < 0 {
        errs.msg("outlier detection consecutive errors cannot be negative");
    }
    if let Some(d) = &outlier.interval {
        errs.append(validate_duration(Some(d)));
    }
    errs.append(validate_percent(outlier.max_ejection_percent));
    errs.append(validate_percent(outlier.min_health_percent));
    errs.finish()
}

pub(super) fn validate_connection_pool(settings: Option<&ConnectionPoolSettings>) -> Result {
    let Some(settings) = settings else {
        return Ok(());
    };
    if settings.http.is_none() && settings.tcp.is_none() {
        return fail("connection pool must have at least one field");
    }
    let mut errs = Errors::new();
    if let Some(http) = &settings.http {
        let non_negative = [
            (
                http.http1_max_pending_requests,
                "http1 max pending requests must be non-negative",
            ),
            (
                http.http2_max_requests,
                "http2 max requests must be non-negative",
            ),
            (
                http.max_requests_per_connection,
                "max requests per connection must be non-negative",
            ),
            (http.max_retries, "max retries must be non-negative"),
        ];
        for (value, msg) in non_negative {
            if value < 0 {
                errs.msg(msg);
            }
        }
        if let Some(d) = &http.idle_timeout {
            errs.append(validate_duration(Some(d)));
        }
    }
    if let Some(tcp) = &settings.tcp {
        if tcp.max_connections < 0 {
            errs.msg("max connections must be non-negative");
        }
        if let Some(d) = &tcp.connect_timeout {
            errs.append(validate_duration(Some(d)));
        }
    }
    errs.finish()
}

pub(super) fn validate_load_balancer(settings: Option<&LoadBalancerSettings>) -> Result {
    let Some(LbPolicy::ConsistentHash(hash)) = settings.and_then(|s| s.lb_policy.as_ref()) else {
        // Simple load balancing is always valid.
        return Ok(());
    };
    let mut errs = Errors::new();
    if let Some(HashKey::HttpCookie(cookie)) = &hash.hash_key {
        if cookie.name.is_empty() {
            errs.msg("name required for HttpCookie");
        }
        if cookie.ttl.is_none() {
            errs.msg("ttl required for HttpCookie");
        }
    }
    errs.finish()
}

pub(super) fn validate_tls(settings: Option<&TlsSettings>) -> Result {
    let mut errs = Errors::new();
    if let Some(tls) = settings.filter(|t| t.mode == TlSmode::Mutual as i32) {
        if tls.client_certificate.is_empty() {
            errs.msg("client certificate required for mutual tls");
        }
        if tls.private_key.is_empty() {
            errs.msg("private key required for mutual tls");
        }
    }
    errs.finish()
}

pub(super) fn validate_subset(subset: &Subset) -> Result {
    let mut errs = Errors::new();
    errs.append(validate_subset_name(&subset.name));
    errs.append(labels::validate(&subset.labels));
    errs.append(validate_traffic_policy(subset.traffic_policy.as_ref()));
    errs.finish()
}

fn validate_port_traffic_policies(policies: &[PortTrafficPolicy]) -> Result {
    let mut errs = Errors::new();
    for p in policies {
        if p.port.is_none() {
            errs.msg("portTrafficPolicy must have valid port");
        }
        if p.outlier_detection.is_none()
            && p.connection_pool.is_none()
            && p.load_balancer.is_none()
            && p.tls.is_none()
        {
            errs.msg("port traffic policy must have at least one field");
        } else {
            errs.append(validate_outlier_detection(p.outlier_detection.as_ref()));
            errs.append(validate_connection_pool(p.connection_pool.as_ref()));
            errs.append(validate_load_balancer(p.load_balancer.as_ref()));
            errs.append(validate_tls(p.tls.as_ref()));
        }
    }
    errs.finish()
}

/// A subset name must be a non-empty DNS label.
pub(crate) fn validate_subset_name(name: &str) -> Result {
    if name.is_empty() {
        fail("subset name cannot be empty")
    } else if !labels::is_dns1123_label(name) {
        fail(format!("subset name is invalid: {name}"))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
