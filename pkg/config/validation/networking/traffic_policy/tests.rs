//! Table tests (ported from upstream's validation_test.go): DestinationRule and traffic
//! policies.

use super::*;
use crate::config::validation::{validate_destination_rule, Error};
use istio_api::istio::networking::v1alpha3::{
    connection_pool_settings::{HttpSettings, TcpSettings},
    load_balancer_settings::{consistent_hash_lb::HttpCookie, ConsistentHashLb, SimpleLb},
    DestinationRule, PortSelector,
};
use pbjson_types::Duration;

fn secs(seconds: i64, nanos: i32) -> Option<Duration> {
    Some(Duration { seconds, nanos })
}

fn round_robin() -> Option<LoadBalancerSettings> {
    Some(LoadBalancerSettings {
        lb_policy: Some(LbPolicy::Simple(SimpleLb::RoundRobin as i32)),
    })
}

fn good_pool() -> Option<ConnectionPoolSettings> {
    Some(ConnectionPoolSettings {
        tcp: Some(TcpSettings {
            max_connections: 7,
            ..Default::default()
        }),
        http: Some(HttpSettings {
            http2_max_requests: 11,
            ..Default::default()
        }),
    })
}

fn outlier(consecutive_errors: i32, min_health_percent: i32) -> Option<OutlierDetection> {
    Some(OutlierDetection {
        consecutive_errors,
        min_health_percent,
        ..Default::default()
    })
}

fn policy(pool: Option<ConnectionPoolSettings>, min_health: i32) -> TrafficPolicy {
    TrafficPolicy {
        load_balancer: round_robin(),
        connection_pool: pool,
        outlier_detection: outlier(5, min_health),
        ..Default::default()
    }
}

fn subset(name: &str, version: &str, traffic_policy: Option<TrafficPolicy>) -> Subset {
    Subset {
        name: name.into(),
        labels: [("version".to_owned(), version.to_owned())].into(),
        traffic_policy,
    }
}

fn rule(
    host: &str,
    traffic_policy: Option<TrafficPolicy>,
    subsets: Vec<Subset>,
) -> DestinationRule {
    DestinationRule {
        host: host.into(),
        traffic_policy,
        subsets,
        ..Default::default()
    }
}

#[test]
fn destination_rule() {
    let good = || Some(policy(good_pool(), 20));
    let bad = || Some(policy(Some(ConnectionPoolSettings::default()), 20));
    let subsets = || vec![subset("v1", "v1", None), subset("v2", "v2", None)];
    let cases = [
        (
            "simple destination rule",
            rule("reviews", None, subsets()),
            true,
        ),
        ("missing destination name", rule("", None, subsets()), false),
        (
            "missing subset name",
            rule(
                "reviews",
                None,
                vec![subset("", "v1", None), subset("v2", "v2", None)],
            ),
            false,
        ),
        (
            "valid traffic policy, top level",
            rule("reviews", good(), subsets()),
            true,
        ),
        (
            "invalid traffic policy, top level",
            rule("reviews", bad(), subsets()),
            false,
        ),
        (
            "valid traffic policy, subset level",
            rule(
                "reviews",
                None,
                vec![subset("v1", "v1", good()), subset("v2", "v2", None)],
            ),
            true,
        ),
        (
            "invalid traffic policy, subset level",
            rule(
                "reviews",
                None,
                vec![subset("v1", "v1", bad()), subset("v2", "v2", None)],
            ),
            false,
        ),
        (
            "valid traffic policy, both levels",
            rule(
                "reviews",
                good(),
                vec![subset("v1", "v1", good()), subset("v2", "v2", None)],
            ),
            true,
        ),
        (
            "invalid subset labels",
            rule("reviews", None, vec![subset("v1", "v$1", None)]),
            false,
        ),
        (
            "bad export to",
            DestinationRule {
                export_to: vec!["a".into(), "b".into()],
                ..rule("reviews", None, subsets())
            },
            false,
        ),
        (
            "wildcard host",
            rule("*.example.com", None, subsets()),
            true,
        ),
    ];
    for (name, r, valid) in cases {
        assert_eq!(
            validate_destination_rule("foo", "bar", &r).is_ok(),
            valid,
            "{name}"
        );
    }
}

#[test]
fn destination_rule_messages() {
    let r = rule(
        "",
        None,
        vec![Subset {
            name: "a.b".into(),
            labels: [("k".to_owned(), "v$".to_owned())].into(),
            traffic_policy: Some(TrafficPolicy::default()),
        }],
    );
    assert_eq!(
        validate_destination_rule("foo", "bar", &r),
        Err(Error::Multi(vec![
            "empty domain name not allowed".into(),
            "subset name is invalid: a.b".into(),
            r#"invalid tag value: "v$""#.into(),
            "traffic policy must have at least one field".into(),
        ]))
    );
}

#[test]
fn traffic_policy() {
    let port_level = TrafficPolicy {
        port_level_settings: vec![PortTrafficPolicy {
            load_balancer: round_robin(),
            connection_pool: good_pool(),
            outlier_detection: outlier(5, 20),
            ..Default::default()
        }],
        ..Default::default()
    };
    let cases = [
        ("valid traffic policy", policy(good_pool(), 20), true),
        (
            "invalid traffic policy, nil entries",
            TrafficPolicy::default(),
            false,
        ),
        (
            "invalid traffic policy, missing port in port level settings",
            port_level.clone(),
            false,
        ),
        (
            "valid port level settings",
            TrafficPolicy {
                port_level_settings: vec![PortTrafficPolicy {
                    port: Some(PortSelector { number: 80 }),
                    ..port_level.port_level_settings[0].clone()
                }],
                ..Default::default()
            },
            true,
        ),
        (
            "empty port level settings",
            TrafficPolicy {
                port_level_settings: vec![PortTrafficPolicy {
                    port: Some(PortSelector { number: 80 }),
                    ..Default::default()
                }],
                ..Default::default()
            },
            false,
        ),
        (
            "invalid traffic policy, bad connection pool",
            policy(Some(ConnectionPoolSettings::default()), 20),
            false,
        ),
        (
            "invalid traffic policy, panic threshold too low",
            policy(good_pool(), -1),
            false,
        ),
    ];
    for (name, p, valid) in cases {
        assert_eq!(validate_traffic_policy(Some(&p)).is_ok(), valid, "{name}");
    }
    assert_eq!(validate_traffic_policy(None), Ok(()));
    assert_eq!(
        validate_port_traffic_policies(&[PortTrafficPolicy::default()]),
        Err(Error::Multi(vec![
            "portTrafficPolicy must have valid port".into(),
            "port traffic policy must have at least one field".into(),
        ]))
    );
}

fn http(
    pending: i32,
    max_requests: i32,
    per_connection: i32,
    retries: i32,
    idle: Option<Duration>,
) -> Option<HttpSettings> {
    Some(HttpSettings {
        http1_max_pending_requests: pending,
        http2_max_requests: max_requests,
        max_requests_per_connection: per_connection,
        max_retries: retries,
        idle_timeout: idle,
        ..Default::default()
    })
}

fn tcp(max_connections: i32, connect_timeout: Option<Duration>) -> Option<TcpSettings> {
    Some(TcpSettings {
        max_connections,
        connect_timeout,
        ..Default::default()
    })
}

fn pool(tcp: Option<TcpSettings>, http: Option<HttpSettings>) -> ConnectionPoolSettings {
    ConnectionPoolSettings { tcp, http }
}

#[test]
fn connection_pool() {
    let cases = [
        (
            "valid connection pool, tcp and http",
            pool(tcp(7, secs(2, 0)), http(2, 11, 5, 4, secs(30, 0))),
            true,
        ),
        (
            "valid connection pool, tcp only",
            pool(tcp(7, secs(2, 0)), None),
            true,
        ),
        (
            "valid connection pool, http only",
            pool(None, http(2, 11, 5, 4, secs(30, 0))),
            true,
        ),
        (
            "valid connection pool, http only with empty idle timeout",
            pool(None, http(2, 11, 5, 4, None)),
            true,
        ),
        ("invalid connection pool, empty", pool(None, None), false),
        (
            "invalid connection pool, bad max connections",
            pool(tcp(-1, None), None),
            false,
        ),
        (
            "invalid connection pool, bad connect timeout",
            pool(tcp(0, secs(2, 5)), None),
            false,
        ),
        (
            "invalid connection pool, bad max pending requests",
            pool(None, http(-1, 0, 0, 0, None)),
            false,
        ),
        (
            "invalid connection pool, bad max requests",
            pool(None, http(0, -1, 0, 0, None)),
            false,
        ),
        (
            "invalid connection pool, bad max requests per connection",
            pool(None, http(0, 0, -1, 0, None)),
            false,
        ),
        (
            "invalid connection pool, bad max retries",
            pool(None, http(0, 0, 0, -1, None)),
            false,
        ),
        (
            "invalid connection pool, bad idle timeout",
            pool(None, http(0, 0, 0, 0, secs(30, 5))),
            false,
        ),
    ];
    for (name, p, valid) in cases {
        assert_eq!(validate_connection_pool(Some(&p)).is_ok(), valid, "{name}");
    }
    assert_eq!(
        validate_connection_pool(Some(&pool(tcp(-1, None), http(-1, -1, -1, -1, None)))),
        Err(Error::Multi(vec![
            "http1 max pending requests must be non-negative".into(),
            "http2 max requests must be non-negative".into(),
            "max requests per connection must be non-negative".into(),
            "max retries must be non-negative".into(),
            "max connections must be non-negative".into(),
        ]))
    );
    assert_eq!(
        validate_connection_pool(Some(&pool(None, None))),
        Err(Error::new("connection pool must have at least one field"))
    );
}

fn cookie(name: &str, ttl: Option<Duration>) -> LoadBalancerSettings {
    LoadBalancerSettings {
        lb_policy: Some(LbPolicy::ConsistentHash(ConsistentHashLb {
            minimum_ring_size: 1024,
            hash_key: Some(HashKey::HttpCookie(HttpCookie {
                name: name.into(),
                ttl,
                ..Default::default()
            })),
        })),
    }
}

#[test]
fn load_balancer() {
    let hour = || secs(3600, 0);
    let cases = [
        (
            "valid load balancer with simple load balancing",
            round_robin().unwrap_or_default(),
            true,
        ),
        (
            "valid load balancer with consistentHash load balancing",
            cookie("test", hour()),
            true,
        ),
        (
            "invalid load balancer with consistentHash load balancing, missing ttl",
            cookie("test", None),
            false,
        ),
        (
            "invalid load balancer with consistentHash load balancing, missing name",
            cookie("", hour()),
            false,
        ),
    ];
    for (name, lb, valid) in cases {
        assert_eq!(validate_load_balancer(Some(&lb)).is_ok(), valid, "{name}");
    }
    assert_eq!(
        validate_load_balancer(Some(&cookie("", None))),
        Err(Error::Multi(vec![
            "name required for HttpCookie".into(),
            "ttl required for HttpCookie".into(),
        ]))
    );
}

#[test]
fn outlier_detection() {
    let od = |errors, interval, ejection, max_ejection, min_health| OutlierDetection {
        consecutive_errors: errors,
        interval,
        base_ejection_time: ejection,
        max_ejection_percent: max_ejection,
        min_health_percent: min_health,
    };
    let cases = [
        (
            "valid outlier detection",
            od(5, secs(2, 0), secs(2, 0), 50, 0),
            true,
        ),
        (
            "invalid outlier detection, bad consecutive errors",
            od(-1, None, None, 0, 0),
            false,
        ),
        (
            "invalid outlier detection, bad interval",
            od(0, secs(2, 5), None, 0, 0),
            false,
        ),
        (
            "invalid outlier detection, bad base ejection time",
            od(0, None, secs(2, 5), 0, 0),
            false,
        ),
        (
            "invalid outlier detection, bad max ejection percent",
            od(0, None, None, 105, 0),
            false,
        ),
        (
            "invalid outlier detection, panic threshold too low",
            od(0, None, None, 0, -1),
            false,
        ),
        (
            "invalid outlier detection, panic threshold too high",
            od(0, None, None, 0, 101),
            false,
        ),
    ];
    for (name, o, valid) in cases {
        assert_eq!(
            validate_outlier_detection(Some(&o)).is_ok(),
            valid,
            "{name}"
        );
    }
}

#[test]
fn client_tls() {
    let mutual = TlsSettings {
        mode: TlSmode::Mutual as i32,
        ..Default::default()
    };
    assert_eq!(
        validate_tls(Some(&mutual)),
        Err(Error::Multi(vec![
            "client certificate required for mutual tls".into(),
            "private key required for mutual tls".into(),
        ]))
    );
    let simple = TlsSettings {
        mode: TlSmode::Simple as i32,
        ..Default::default()
    };
    assert_eq!(validate_tls(Some(&simple)), Ok(()));
    assert_eq!(validate_tls(None), Ok(()));
}

#[test]
fn subset_names() {
    assert_eq!(validate_subset_name("v1"), Ok(()));
    assert_eq!(
        validate_subset_name(""),
        Err(Error::new("subset name cannot be empty"))
    );
    assert_eq!(
        validate_subset_name("v1.0"),
        Err(Error::new("subset name is invalid: v1.0"))
    );
}
