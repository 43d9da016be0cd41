//! Table tests (ported from upstream's validation_test.go).

use super::*;
use crate::config::validation::Error;
use istio_api::istio::mesh::v1alpha1::{
    locality_load_balancer_setting::{Distribute, Failover},
    RemoteService, Tracing,
};

fn secs(seconds: i64) -> Option<Duration> {
    Some(Duration { seconds, nanos: 0 })
}

fn dur(seconds: i64, nanos: i32) -> Duration {
    Duration { seconds, nanos }
}

#[test]
fn parent_and_drain() {
    let hour = 3600;
    let cases = [
        (dur(2, 0), dur(1, 0), true),
        (dur(1, 0), dur(1, 0), false),
        (dur(1, 0), dur(2, 0), false),
        (dur(2, 0), dur(1, 1_000_000), false),
        (dur(2, 1_000_000), dur(1, 0), false),
        (dur(-2, 0), dur(1, 0), false),
        (dur(2, 0), dur(-1, 0), false),
        (dur(1 + hour, 0), dur(10, 0), false),
        (dur(10, 0), dur(1 + hour, 0), false),
    ];
    for (parent, drain, valid) in cases {
        assert_eq!(
            validate_parent_and_drain(Some(&drain), Some(&parent)).is_ok(),
            valid,
            "parent {parent:?} drain {drain:?}"
        );
    }
}

#[test]
fn parent_and_drain_messages() {
    assert_eq!(
        validate_parent_and_drain(Some(&dur(-1, 0)), None),
        Err(Error::Multi(vec![
            "invalid drain duration: duration must be greater than 1ms".into(),
            "invalid parent shutdown duration: duration: nil Duration".into(),
        ]))
    );
    assert_eq!(
        validate_parent_and_drain(Some(&dur(2, 0)), Some(&dur(1, 500_000_000))),
        Err(Error::Multi(vec![
            "parent shutdown time only supports durations to seconds precision".into(),
            "parent shutdown time 1.5s must be greater than drain time 2s".into(),
        ]))
    );
    assert_eq!(
        validate_parent_and_drain(Some(&dur(3601, 0)), Some(&dur(3602, 0))),
        Err(Error::Multi(vec![
            "drain time 1h0m1s must be <1h0m0s".into(),
            "parent shutdown time 1h0m2s must be <1h0m0s".into(),
        ]))
    );
}

#[test]
fn connect_timeout() {
    let cases = [
        (dur(1, 0), true),
        (dur(31, 0), false),
        (dur(0, 99_999), false),
    ];
    for (d, valid) in cases {
        assert_eq!(validate_connect_timeout(Some(&d)).is_ok(), valid, "{d:?}");
    }
    assert_eq!(
        validate_connect_timeout(Some(&dur(31, 0))),
        Err(Error::new("time 31s must be >1ms and <30s"))
    );
    assert_eq!(
        validate_connect_timeout(None),
        Err(Error::new("duration: nil Duration"))
    );
}

#[test]
fn mesh_config() {
    assert!(validate_mesh_config(&MeshConfig::default()).is_err());

    let invalid = MeshConfig {
        mixer_check_server: "10.0.0.100".into(),
        mixer_report_server: "10.0.0.100".into(),
        proxy_listen_port: 0,
        connect_timeout: secs(-1),
        default_config: Some(ProxyConfig::default()),
        ..Default::default()
    };
    let err = validate_mesh_config(&invalid).expect_err("invalid mesh config");
    assert!(err.is_multi());
    assert!(err.messages().len() >= 6, "{err}");
    assert_eq!(
        &err.messages()[..4],
        [
            "invalid Policy Check Server address: unable to split \"10.0.0.100\": address 10.0.0.100: missing port in address",
            "invalid Telemetry Server address: unable to split \"10.0.0.100\": address 10.0.0.100: missing port in address",
            "invalid proxy listen port: port number 0 must be in the range 1..65535",
            "invalid connect timeout: duration must be greater than 1ms",
        ]
    );
}

#[test]
fn mesh_config_valid() {
    let mesh = MeshConfig {
        proxy_listen_port: 15001,
        connect_timeout: secs(10),
        default_config: Some(valid_proxy_config()),
        ..Default::default()
    };
    assert_eq!(validate_mesh_config(&mesh), Ok(()));
    let mesh = MeshConfig {
        default_config: None,
        ..mesh
    };
    assert_eq!(
        validate_mesh_config(&mesh),
        Err(Error::Multi(vec!["missing default config".into()]))
    );
}

fn valid_proxy_config() -> ProxyConfig {
    ProxyConfig {
        config_path: "/etc/istio/proxy".into(),
        binary_path: "/usr/local/bin/envoy".into(),
        discovery_address: "istio-pilot.istio-system:15010".into(),
        proxy_admin_port: 15000,
        drain_duration: secs(45),
        parent_shutdown_duration: secs(60),
        connect_timeout: secs(10),
        service_cluster: "istio-proxy".into(),
        statsd_udp_address: "istio-statsd-prom-bridge.istio-system:9125".into(),
        envoy_metrics_service: Some(RemoteService {
            address: "metrics-service.istio-system:15000".into(),
            ..Default::default()
        }),
        envoy_access_log_service: Some(RemoteService {
            address: "accesslog-service.istio-system:15000".into(),
            ..Default::default()
        }),
        control_plane_auth_policy: 1,
        tracing: None,
        ..Default::default()
    }
}

fn tracing(tracer: Tracer) -> Option<Tracing> {
    Some(Tracing {
        tracer: Some(tracer),
    })
}

fn lightstep(address: &str, token: &str, secure: bool, cacert: &str) -> Option<Tracing> {
    tracing(Tracer::Lightstep(Lightstep {
        address: address.into(),
        access_token: token.into(),
        secure,
        cacert_path: cacert.into(),
    }))
}

#[test]
fn proxy_config() {
    type Modify = fn(&mut ProxyConfig);
    let cases: Vec<(&str, Modify, bool)> = vec![
        ("valid proxy config", |_| {}, true),
        ("config path invalid", |c| c.config_path.clear(), false),
        ("binary path invalid", |c| c.binary_path.clear(), false),
        (
            "discovery address invalid",
            |c| c.discovery_address = "10.0.0.100".into(),
            false,
        ),
        (
            "proxy admin port invalid",
            |c| c.proxy_admin_port = 0,
            false,
        ),
        (
            "drain duration invalid",
            |c| c.drain_duration = secs(-1),
            false,
        ),
        (
            "parent shutdown duration invalid",
            |c| c.parent_shutdown_duration = secs(-1),
            false,
        ),
        (
            "connect timeout invalid",
            |c| c.connect_timeout = secs(-1),
            false,
        ),
        (
            "service cluster invalid",
            |c| c.service_cluster.clear(),
            false,
        ),
        (
            "statsd udp address invalid",
            |c| c.statsd_udp_address = "10.0.0.100".into(),
            false,
        ),
        (
            "envoy metrics service address invalid",
            |c| {
                c.envoy_metrics_service = Some(RemoteService {
                    address: "metrics-service.istio-system".into(),
                    ..Default::default()
                })
            },
            false,
        ),
        (
            "envoy access log service address invalid",
            |c| {
                c.envoy_access_log_service = Some(RemoteService {
                    address: "accesslog-service.istio-system".into(),
                    ..Default::default()
                })
            },
            false,
        ),
        (
            "control plane auth policy invalid",
            |c| c.control_plane_auth_policy = -1,
            false,
        ),
        (
            "control plane auth policy INHERIT",
            |c| c.control_plane_auth_policy = 1000,
            false,
        ),
        (
            "zipkin address is valid",
            |c| {
                c.tracing = tracing(Tracer::Zipkin(Zipkin {
                    address: "zipkin.istio-system:9411".into(),
                }))
            },
            true,
        ),
        (
            "zipkin config invalid",
            |c| {
                c.tracing = tracing(Tracer::Zipkin(Zipkin {
                    address: "10.0.0.100".into(),
                }))
            },
            false,
        ),
        (
            "lightstep config is valid",
            |c| {
                c.tracing = lightstep(
                    "collector.lightstep:8080",
                    "abcdefg1234567",
                    false,
                    "/etc/lightstep/cacert.pem",
                )
            },
            true,
        ),
        (
            "lightstep address invalid",
            |c| {
                c.tracing = lightstep(
                    "10.0.0.100",
                    "abcdefg1234567",
                    false,
                    "/etc/lightstep/cacert.pem",
                )
            },
            false,
        ),
        (
            "lightstep address empty but lightstep access token is not",
            |c| c.tracing = lightstep("", "abcdefg1234567", false, "/etc/lightstep/cacert.pem"),
            false,
        ),
        (
            "lightstep address is valid but access token is empty",
            |c| {
                c.tracing = lightstep(
                    "collector.lightstep:8080",
                    "",
                    false,
                    "/etc/lightstep/cacert.pem",
                )
            },
            false,
        ),
        (
            "lightstep access token empty but lightstep address is not",
            |c| c.tracing = lightstep("10.0.0.100", "", false, "/etc/lightstep/cacert.pem"),
            false,
        ),
        (
            "lightstep address and lightstep token both empty",
            |c| c.tracing = lightstep("", "", false, "/etc/lightstep/cacert.pem"),
            false,
        ),
        (
            "lightstep cacert is missing",
            |c| c.tracing = lightstep("collector.lightstep:8080", "abcdefg1234567", true, ""),
            false,
        ),
        (
            "datadog without address",
            |c| c.tracing = tracing(Tracer::Datadog(Datadog::default())),
            false,
        ),
        (
            "datadog with correct address",
            |c| {
                c.tracing = tracing(Tracer::Datadog(Datadog {
                    address: "datadog-agent:8126".into(),
                }))
            },
            true,
        ),
        (
            "datadog with host ip placeholder",
            |c| {
                c.tracing = tracing(Tracer::Datadog(Datadog {
                    address: "$(HOST_IP):8126".into(),
                }))
            },
            true,
        ),
        (
            "datadog with invalid address",
            |c| {
                c.tracing = tracing(Tracer::Datadog(Datadog {
                    address: "address-missing-port-number".into(),
                }))
            },
            false,
        ),
    ];
    assert!(validate_proxy_config(&ProxyConfig::default()).is_err());
    for (name, modify, valid) in cases {
        let mut config = valid_proxy_config();
        modify(&mut config);
        assert_eq!(validate_proxy_config(&config).is_ok(), valid, "{name}");
    }
}

#[test]
fn proxy_config_reports_every_field() {
    let invalid = ProxyConfig {
        discovery_address: "10.0.0.100".into(),
        proxy_admin_port: 0,
        drain_duration: secs(-1),
        parent_shutdown_duration: secs(-1),
        connect_timeout: secs(-1),
        statsd_udp_address: "10.0.0.100".into(),
        envoy_metrics_service: Some(RemoteService {
            address: "metrics-service".into(),
            ..Default::default()
        }),
        envoy_access_log_service: Some(RemoteService {
            address: "accesslog-service".into(),
            ..Default::default()
        }),
        control_plane_auth_policy: -1,
        tracing: tracing(Tracer::Zipkin(Zipkin {
            address: "10.0.0.100".into(),
        })),
        ..Default::default()
    };
    let err = validate_proxy_config(&invalid).expect_err("invalid proxy config");
    let miss = |a: &str| format!("unable to split \"{a}\": address {a}: missing port in address");
    let want: Vec<String> = vec![
        "config path must be set".into(),
        "binary path must be set".into(),
        "service cluster must be set".into(),
        "invalid parent and drain time combination invalid drain duration: duration must be greater than 1ms".into(),
        "invalid parent and drain time combination invalid parent shutdown duration: duration must be greater than 1ms".into(),
        format!("invalid discovery address: {}", miss("10.0.0.100")),
        format!("invalid zipkin config: {}", miss("10.0.0.100")),
        "invalid connect timeout: duration must be greater than 1ms".into(),
        format!("invalid statsd udp address \"10.0.0.100\": {}", miss("10.0.0.100")),
        format!("invalid envoy metrics service address \"metrics-service\": {}", miss("metrics-service")),
        format!("invalid envoy access log service address \"accesslog-service\": {}", miss("accesslog-service")),
        "invalid proxy admin port: port number 0 must be in the range 1..65535".into(),
        "unrecognized control plane auth policy \"-1\"".into(),
    ];
    assert_eq!(err, Error::Multi(want));
}

#[test]
fn lightstep_messages() {
    let ls = Lightstep {
        address: String::new(),
        access_token: String::new(),
        secure: true,
        cacert_path: String::new(),
    };
    assert_eq!(
        validate_lightstep_collector(&ls),
        Err(Error::Multi(vec![
            "address is required".into(),
            "invalid lightstep address: unable to split \"\": address : missing port in address"
                .into(),
            "access token is required".into(),
            "cacertPath is required".into(),
        ]))
    );
}

fn distribute(from: &str, to: &[(&str, u32)]) -> Distribute {
    Distribute {
        from: from.into(),
        to: to.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect(),
    }
}

fn failover(from: &str, to: &str) -> Failover {
    Failover {
        from: from.into(),
        to: to.into(),
    }
}

fn lb(distribute: Vec<Distribute>, failover: Vec<Failover>) -> LocalityLoadBalancerSetting {
    LocalityLoadBalancerSetting {
        distribute,
        failover,
    }
}

#[test]
fn locality_lb_setting() {
    let cases = [
        (
            "total weight > 100",
            lb(
                vec![distribute("a/b/c", &[("a/b/c", 80), ("a/b1", 25)])],
                vec![],
            ),
            Err(Error::new("total locality weight 105 != 100")),
        ),
        (
            "total weight < 100",
            lb(
                vec![distribute("a/b/c", &[("a/b/c", 80), ("a/b1", 15)])],
                vec![],
            ),
            Err(Error::new("total locality weight 95 != 100")),
        ),
        (
            "weight = 0",
            lb(
                vec![distribute("a/b/c", &[("a/b/c", 0), ("a/b1", 100)])],
                vec![],
            ),
            Err(Error::new("locality weight must not be in range [1, 100]")),
        ),
        (
            "both distribute and failover",
            lb(
                vec![distribute("a/b/c", &[("a/b/c", 80), ("a/b1", 20)])],
                vec![failover("region1", "region2")],
            ),
            Err(Error::new(
                "can not simultaneously specify 'distribute' and 'failover'",
            )),
        ),
        (
            "failover src and dst have same region",
            lb(vec![], vec![failover("region1", "region1")]),
            Err(Error::new(
                "locality lb failover settings must specify different regions",
            )),
        ),
        (
            "failover to wildcard",
            lb(vec![], vec![failover("region1", "region*")]),
            Err(Error::new(
                "locality lb failover region should not contain '*' wildcard",
            )),
        ),
        (
            "overlapping destinations",
            lb(vec![distribute("a/b/c", &[("a", 50), ("a/b", 50)])], vec![]),
            Err(Error::new(
                "locality a/b overlap with previous specified ones",
            )),
        ),
        (
            "overlapping sources",
            lb(
                vec![
                    distribute("a/*", &[("a/b", 100)]),
                    distribute("a/b/c", &[("x", 100)]),
                ],
                vec![],
            ),
            Err(Error::new(
                "locality a/b/c overlap with previous specified ones",
            )),
        ),
        (
            "valid distribute",
            lb(
                vec![distribute("a/b/c", &[("a/b/c", 80), ("a/b1", 20)])],
                vec![],
            ),
            Ok(()),
        ),
        (
            "valid failover",
            lb(vec![], vec![failover("region1", "region2")]),
            Ok(()),
        ),
    ];
    assert_eq!(validate_locality_lb_setting(None), Ok(()));
    for (name, setting, want) in cases {
        assert_eq!(validate_locality_lb_setting(Some(&setting)), want, "{name}");
    }
}

#[test]
fn localities() {
    let cases: [(&str, &[&str], bool); 11] = [
        ("multi wildcard locality", &["*/zone/*"], false),
        ("wildcard not in suffix", &["*/zone"], false),
        ("explicit wildcard region overlap", &["*", "a/b/c"], false),
        ("implicit wildcard region overlap", &["a", "a/b/c"], false),
        ("explicit wildcard zone overlap", &["a/*", "a/b/c"], false),
        ("implicit wildcard zone overlap", &["a/b", "a/b/c"], false),
        (
            "explicit wildcard subzone overlap",
            &["a/b/*", "a/b/c"],
            false,
        ),
        ("duplicate subzone", &["a/b/c", "a/b/c"], false),
        ("empty zone", &["a//c"], false),
        (
            "valid localities",
            &["a1/*", "a2/*", "a3/b3/c3", "a4/b4", "a5/b5/*"],
            true,
        ),
        ("sibling subzones", &["a/b/c", "a/b/d", "a/e"], true),
    ];
    for (name, localities, valid) in cases {
        let localities: Vec<String> = localities.iter().map(|s| (*s).to_owned()).collect();
        assert_eq!(validate_localities(&localities).is_ok(), valid, "{name}");
    }
    let bad = ["*/zone".to_owned()];
    assert_eq!(
        validate_localities(&bad),
        Err(Error::new(
            "locality */zone wildcard '*' number can not exceed 1 and must be in the end"
        ))
    );
    let empty = ["a//c".to_owned()];
    assert_eq!(
        validate_localities(&empty),
        Err(Error::new(
            "locality a//c must not contain empty region/zone/subzone info"
        ))
    );
}
