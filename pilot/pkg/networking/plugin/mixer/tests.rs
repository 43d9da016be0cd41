//! Upstream mixer_test.go's expectations, plus the route, cluster and localization hooks.

use std::sync::Arc;

use envoy_types::pb::envoy::config::core::v3::Address;
use envoy_types::pb::envoy::config::route::v3::{
    weighted_cluster::ClusterWeight, DirectResponseAction, RouteAction, VirtualHost,
    WeightedCluster,
};
use istio_api::istio::mixer::v1::config::client::{
    quota_spec_binding::QuotaSpecReference, IstioService, Quota, QuotaRule, QuotaSpecBinding,
};
use istio_pkg::config::mesh::{default_mesh_config, empty_mesh_networks};
use istio_pkg::config::model::{Config, ConfigMeta};
use istio_pkg::config::protocol::Instance as Protocol;

use super::*;
use crate::config::memory::MemoryStore;
use crate::features::Features;
use crate::model::{
    ConfigStore, Environment, NodeMetadata, Port, PortList, PushContext, Resolution,
    ServiceAttributes, SidecarScope,
};
use crate::networking::plugin::FilterChain;
use crate::serviceregistry::memory::MemoryRegistry;

struct Fixture {
    push: PushContext,
    scope: SidecarScope,
    features: Features,
}

fn fixture(mesh: MeshConfig, services: Vec<Service>, configs: Vec<Config>) -> Fixture {
    let reg = MemoryRegistry::new("Kubernetes", None);
    for s in services {
        reg.add_service(s);
    }
    let store = MemoryStore::new([Kind::QuotaSpec, Kind::QuotaSpecBinding]);
    for c in configs {
        store.create(c).expect("fixture config");
    }
    let env = Environment::new(
        Arc::new(reg),
        Arc::new(store),
        mesh,
        empty_mesh_networks(),
        "cluster.local",
    );
    let push = PushContext::new(&env);
    let scope = SidecarScope::default_for_namespace(&push, "bar");
    Fixture {
        push,
        scope,
        features: Features::default(),
    }
}

fn mixer_mesh() -> MeshConfig {
    MeshConfig {
        mixer_check_server: "istio-policy.istio-system.svc.cluster.local:9091".into(),
        mixer_report_server: "istio-telemetry.istio-system.svc.cluster.local:9091".into(),
        ..default_mesh_config()
    }
}

fn node_with(kind: &str, id: &str, meta: NodeMetadata) -> Proxy {
    Proxy::parse(&format!("{kind}~10.1.1.1~{id}~bar.svc.cluster.local"), meta).expect("node id")
}

fn node(id: &str) -> Proxy {
    node_with(
        "sidecar",
        id,
        NodeMetadata {
            istio_version: "1.4.10".into(),
            ..Default::default()
        },
    )
}

fn input<'a>(f: &'a Fixture, node: &'a Proxy, protocol: ListenerProtocol) -> InputParams<'a> {
    InputParams {
        listener_protocol: protocol,
        features: &f.features,
        node,
        push: &f.push,
        scope: &f.scope,
        service_instance: None,
        service: None,
        port: None,
        bind: "",
        inbound_cluster_name: "",
    }
}

fn kube_service(name: &str, ns: &str, vip: &str) -> Service {
    Service {
        hostname: format!("{name}.{ns}.svc.cluster.local"),
        address: vip.into(),
        cluster_vips: Default::default(),
        ports: PortList(vec![Port {
            name: "http".into(),
            port: 9091,
            protocol: Protocol::Http,
        }]),
        service_accounts: Vec::new(),
        creation_time: 0,
        resolution: Resolution::ClientSideLb,
        mesh_external: false,
        attributes: ServiceAttributes {
            name: name.into(),
            namespace: ns.into(),
            uid: format!("istio://{ns}/services/{name}"),
            ..Default::default()
        },
    }
}

fn tcp_config(f: &Filter) -> TcpClientConfig {
    assert_eq!(f.name, "mixer");
    match &f.config_type {
        Some(filter::ConfigType::TypedConfig(a)) => {
            assert_eq!(
                a.type_url,
                "type.googleapis.com/istio.mixer.v1.config.client.TcpClientConfig"
            );
            TcpClientConfig::decode(a.value.as_slice()).expect("decodes")
        }
        other => panic!("{other:?}"),
    }
}

fn http_config(f: &HttpFilter) -> HttpClientConfig {
    assert_eq!(f.name, "mixer");
    match &f.config_type {
        Some(http_filter::ConfigType::TypedConfig(a)) => {
            assert_eq!(
                a.type_url,
                "type.googleapis.com/istio.mixer.v1.config.client.HttpClientConfig"
            );
            HttpClientConfig::decode(a.value.as_slice()).expect("decodes")
        }
        other => panic!("{other:?}"),
    }
}

fn service_config(configs: &std::collections::HashMap<String, Any>) -> ServiceConfig {
    let a = configs.get("mixer").expect("mixer per-filter config");
    assert_eq!(
        a.type_url,
        "type.googleapis.com/istio.mixer.v1.config.client.ServiceConfig"
    );
    ServiceConfig::decode(a.value.as_slice()).expect("decodes")
}

fn strings(a: &Option<Attributes>) -> BTreeMap<String, String> {
    a.as_ref()
        .expect("attributes")
        .attributes
        .iter()
        .map(|(k, v)| {
            let s = match &v.value {
                Some(attribute_value::Value::StringValue(s)) => s.clone(),
                Some(attribute_value::Value::Int64Value(i)) => format!("int:{i}"),
                Some(attribute_value::Value::BytesValue(b)) => format!("bytes:{b:?}"),
                other => format!("{other:?}"),
            };
            (k.clone(), s)
        })
        .collect()
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn dur(seconds: i64, nanos: i32) -> pbjson_types::Duration {
    pbjson_types::Duration { seconds, nanos }
}

#[test]
fn transport_fail_policy() {
    let mesh = default_mesh_config();
    let cases = [
        // Defaults.
        (
            NodeMetadata::default(),
            FailPolicy::FailClose,
            0,
            dur(0, 80_000_000),
            dur(1, 0),
        ),
        // Retries and wait times from the node.
        (
            NodeMetadata {
                policy_check_retries: "5".into(),
                policy_check_base_retry_wait_time: "1m".into(),
                policy_check_max_retry_wait_time: "1.5s".into(),
                ..Default::default()
            },
            FailPolicy::FailClose,
            5,
            dur(60, 0),
            dur(1, 500_000_000),
        ),
        // Just the retries.
        (
            NodeMetadata {
                policy_check_retries: "1".into(),
                ..Default::default()
            },
            FailPolicy::FailClose,
            1,
            dur(0, 80_000_000),
            dur(1, 0),
        ),
        // Checks disabled by the node: fail open.
        (
            NodeMetadata {
                policy_check: "disable".into(),
                ..Default::default()
            },
            FailPolicy::FailOpen,
            0,
            dur(0, 80_000_000),
            dur(1, 0),
        ),
        // Unparsable values keep the defaults.
        (
            NodeMetadata {
                policy_check_retries: "x".into(),
                policy_check_base_retry_wait_time: "soon".into(),
                ..Default::default()
            },
            FailPolicy::FailClose,
            0,
            dur(0, 80_000_000),
            dur(1, 0),
        ),
    ];
    for (meta, policy, retries, base, max) in cases {
        let n = node_with("sidecar", "foo.bar", meta.clone());
        let t = build_transport(&mesh, &n);
        assert_eq!(
            t.network_fail_policy,
            Some(NetworkFailPolicy {
                policy: policy as i32,
                max_retry: retries,
                base_retry_wait: Some(base),
                max_retry_wait: Some(max),
            }),
            "{meta:?}"
        );
    }
}

#[test]
fn transport_fail_open_by_mesh_and_node_overrides() {
    let mesh = MeshConfig {
        policy_check_fail_open: true,
        ..default_mesh_config()
    };
    let policy = |check: &str| {
        let n = node_with(
            "sidecar",
            "foo.bar",
            NodeMetadata {
                policy_check: check.into(),
                ..Default::default()
            },
        );
        build_transport(&mesh, &n)
            .network_fail_policy
            .unwrap()
            .policy
    };
    assert_eq!(policy(""), FailPolicy::FailOpen as i32);
    assert_eq!(policy("enable"), FailPolicy::FailClose as i32);
    assert_eq!(policy("allow-on-error"), FailPolicy::FailOpen as i32);
}

#[test]
fn transport_clusters_and_batching() {
    let mesh = MeshConfig {
        report_batch_max_entries: 100,
        report_batch_max_time: Some(dur(1, 0)),
        ..mixer_mesh()
    };
    let t = build_transport(&mesh, &node("foo.bar"));
    assert_eq!(
        t.check_cluster,
        "outbound|9091||istio-policy.istio-system.svc.cluster.local"
    );
    assert_eq!(
        t.report_cluster,
        "outbound|9091||istio-telemetry.istio-system.svc.cluster.local"
    );
    assert_eq!(t.report_batch_max_entries, 100);
    assert_eq!(t.report_batch_max_time, Some(dur(1, 0)));
    // No check server: no check cluster.
    let mesh = MeshConfig {
        mixer_check_server: String::new(),
        ..mixer_mesh()
    };
    assert_eq!(build_transport(&mesh, &node("foo.bar")).check_cluster, "");
}

#[test]
fn upstream_cluster_names() {
    let cases = [
        ("", ""),
        ("mixer:9091", "outbound|9091||mixer"),
        ("[::1]:15004", "outbound|15004||::1"),
        // Malformed: what Go's SplitHostPort failure leaves.
        ("mixer.istio-system", "outbound|0||"),
        ("a:b:c", "outbound|0||"),
        ("mixer:port", "outbound|0||mixer"),
    ];
    for (addr, want) in cases {
        assert_eq!(upstream_cluster_name(addr), want, "{addr}");
    }
}

#[test]
fn proxy_versions() {
    let v = IstioVersion {
        major: 1,
        minor: 2,
        patch: 0,
    };
    assert_eq!(proxy_version_string(&v), "1.2.0");
    assert_eq!(
        proxy_version_string(&IstioVersion::MAX),
        "65535.65535.65535"
    );
}

#[test]
fn namespace_from_proxy_id() {
    for (id, ns) in [("foo.bar", "bar"), ("foo.123.bar", "bar"), ("foo", "")] {
        assert_eq!(attr_namespace(&node(id)), attr_string(ns), "{id}");
    }
}

#[test]
fn ip_attributes_are_sixteen_bytes() {
    let AttributeValue {
        value: Some(attribute_value::Value::BytesValue(b)),
    } = attr_ip("10.1.2.3")
    else {
        panic!()
    };
    assert_eq!(
        b,
        vec![0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3]
    );
    assert_eq!(
        attr_ip("not-an-ip"),
        AttributeValue {
            value: Some(attribute_value::Value::BytesValue(Vec::new()))
        }
    );
}

/// Upstream TestOnOutboundListener: the fallthrough chain of a TCP listener names the
/// BlackHoleCluster or PassthroughCluster.
#[test]
fn outbound_tcp_fallthrough_chain() {
    let mesh = MeshConfig {
        mixer_report_server: "mixer.istio-system".into(),
        ..default_mesh_config()
    };
    for (allow_any, host) in [(false, "BlackHoleCluster"), (true, "PassthroughCluster")] {
        let mut f = fixture(mesh.clone(), Vec::new(), Vec::new());
        f.scope.allow_any_outbound = allow_any;
        let n = node("foo.bar");
        let mut chains = vec![
            FilterChain::default(),
            FilterChain {
                is_fall_through: true,
                ..Default::default()
            },
        ];
        let mut l = Listener::default();
        MixerPlugin.on_outbound_listener(
            &input(&f, &n, ListenerProtocol::Tcp),
            &mut MutableObjects {
                listener: &mut l,
                filter_chains: &mut chains,
            },
        );
        for c in &chains {
            assert_eq!(c.tcp.len(), 1);
            assert!(c.http.is_empty());
        }
        let attrs = strings(&tcp_config(&chains[1].tcp[0]).mixer_attributes);
        assert_eq!(attrs["destination.service.host"], host);
        assert_eq!(attrs["destination.service.name"], host);
        // The regular chain has no destination service (none given).
        let attrs = strings(&tcp_config(&chains[0].tcp[0]).mixer_attributes);
        assert!(!attrs.contains_key("destination.service.host"));
    }
}

fn skip_cases() -> Vec<(&'static str, bool, bool, &'static str)> {
    // (name, disablePolicyChecks, disableMixerHttpReports, node type)
    vec![
        ("both disabled", true, true, "router"),
        ("only check disabled", true, false, "router"),
        ("router only report disabled", false, true, "router"),
        ("sidecar only report disabled", false, true, "sidecar"),
        ("both enabled", false, false, "sidecar"),
    ]
}

/// Upstream TestOnOutboundListenerSkipMixer.
#[test]
fn outbound_http_filter_skipped() {
    let want = [0, 1, 1, 0, 1];
    for ((name, checks_off, reports_off, kind), want) in skip_cases().into_iter().zip(want) {
        let mesh = MeshConfig {
            disable_policy_checks: checks_off,
            disable_mixer_http_reports: reports_off,
            mixer_check_server: "mixer".into(),
            mixer_report_server: "mixer".into(),
            ..Default::default()
        };
        let f = fixture(mesh, Vec::new(), Vec::new());
        let n = node_with(kind, "foo.bar", NodeMetadata::default());
        let mut chains = vec![FilterChain::default()];
        let mut l = Listener::default();
        MixerPlugin.on_outbound_listener(
            &input(&f, &n, ListenerProtocol::Http),
            &mut MutableObjects {
                listener: &mut l,
                filter_chains: &mut chains,
            },
        );
        assert_eq!(chains[0].http.len(), want, "{name}");
    }
}

fn test_address() -> Address {
    util::build_address("127.0.0.1", 9090)
}

/// Upstream TestOnInboundListenerSkipMixer.
#[test]
fn inbound_http_filter_skipped() {
    let want = [0, 1, 1, 1, 1];
    for ((name, checks_off, reports_off, kind), want) in skip_cases().into_iter().zip(want) {
        let mesh = MeshConfig {
            disable_policy_checks: checks_off,
            disable_mixer_http_reports: reports_off,
            mixer_check_server: "mixer".into(),
            mixer_report_server: "mixer".into(),
            ..Default::default()
        };
        let f = fixture(mesh, Vec::new(), Vec::new());
        let n = node_with(kind, "foo.bar", NodeMetadata::default());
        let mut chains = vec![FilterChain::default()];
        let mut l = Listener {
            address: Some(test_address()),
            ..Default::default()
        };
        MixerPlugin.on_inbound_listener(
            &input(&f, &n, ListenerProtocol::Http),
            &mut MutableObjects {
                listener: &mut l,
                filter_chains: &mut chains,
            },
        );
        assert_eq!(chains[0].http.len(), want, "{name}");
    }
}

#[test]
fn outbound_http_filter_content() {
    let f = fixture(mixer_mesh(), Vec::new(), Vec::new());
    let n = node("app-1.bar");
    let mut chains = vec![FilterChain::default()];
    let mut l = Listener::default();
    MixerPlugin.on_outbound_listener(
        &input(&f, &n, ListenerProtocol::Http),
        &mut MutableObjects {
            listener: &mut l,
            filter_chains: &mut chains,
        },
    );
    let cfg = http_config(&chains[0].http[0]);
    assert_eq!(
        strings(&cfg.mixer_attributes),
        map(&[
            ("context.proxy_version", "1.4.10"),
            ("context.reporter.kind", "outbound"),
            ("context.reporter.uid", "kubernetes://app-1.bar"),
            ("source.namespace", "bar"),
            ("source.uid", "kubernetes://app-1.bar"),
        ])
    );
    assert_eq!(
        strings(&cfg.forward_attributes),
        map(&[("source.uid", "kubernetes://app-1.bar")])
    );
    assert_eq!(cfg.default_destination_service, "default");
    // The default mesh disables policy checks; reports stay on.
    assert_eq!(
        cfg.service_configs["default"],
        ServiceConfig {
            disable_check_calls: true,
            disable_report_calls: false,
            ..Default::default()
        }
    );
    assert!(!cfg.ignore_forwarded_attributes);
    let t = cfg.transport.expect("transport");
    assert_eq!(
        t.check_cluster,
        "outbound|9091||istio-policy.istio-system.svc.cluster.local"
    );
    assert_eq!(
        t.report_cluster,
        "outbound|9091||istio-telemetry.istio-system.svc.cluster.local"
    );
}

#[test]
fn outbound_policy_checks_enabled() {
    // Client-side checks: with mesh checks on and enableClientSidePolicyCheck, or by the
    // node's POLICY_CHECK; gateways check unless the mesh disables checks.
    let cases = [
        (false, false, "", "sidecar", true),
        (false, true, "", "sidecar", false),
        (true, true, "", "sidecar", true),
        (true, true, "enable", "sidecar", false),
        (false, false, "allow-on-error", "sidecar", false),
        (false, true, "disable", "sidecar", true),
        (false, false, "", "router", false),
        (true, false, "", "router", true),
    ];
    for (checks_off, client_side, policy_check, kind, want) in cases {
        let mesh = MeshConfig {
            disable_policy_checks: checks_off,
            enable_client_side_policy_check: client_side,
            ..mixer_mesh()
        };
        let n = node_with(
            kind,
            "foo.bar",
            NodeMetadata {
                policy_check: policy_check.into(),
                ..Default::default()
            },
        );
        assert_eq!(
            disable_policy_checks(Side::Outbound, &mesh, &n),
            want,
            "{checks_off} {client_side} {policy_check:?} {kind}"
        );
    }
}

#[test]
fn outbound_tcp_and_auto_chains() {
    let svc = kube_service("db", "bar", "10.0.0.20");
    let f = fixture(mixer_mesh(), Vec::new(), Vec::new());
    let n = node("app-1.bar");
    let mut chains = vec![
        FilterChain {
            listener_protocol: Some(ListenerProtocol::Tcp),
            ..Default::default()
        },
        FilterChain {
            listener_protocol: Some(ListenerProtocol::Http),
            ..Default::default()
        },
        FilterChain::default(),
    ];
    let mut l = Listener::default();
    let mut in_ = input(&f, &n, ListenerProtocol::Auto);
    in_.service = Some(&svc);
    MixerPlugin.on_outbound_listener(
        &in_,
        &mut MutableObjects {
            listener: &mut l,
            filter_chains: &mut chains,
        },
    );
    assert_eq!((chains[0].tcp.len(), chains[0].http.len()), (1, 0));
    assert_eq!((chains[1].tcp.len(), chains[1].http.len()), (0, 1));
    assert_eq!((chains[2].tcp.len(), chains[2].http.len()), (0, 0));
    let cfg = tcp_config(&chains[0].tcp[0]);
    assert_eq!(
        strings(&cfg.mixer_attributes),
        map(&[
            ("context.proxy_version", "1.4.10"),
            ("context.reporter.kind", "outbound"),
            ("context.reporter.uid", "kubernetes://app-1.bar"),
            ("destination.service.host", "db.bar.svc.cluster.local"),
            ("destination.service.name", "db"),
            ("destination.service.namespace", "bar"),
            ("destination.service.uid", "istio://bar/services/db"),
            ("source.namespace", "bar"),
            ("source.uid", "kubernetes://app-1.bar"),
        ])
    );
    assert!(cfg.disable_check_calls);
    assert!(!cfg.disable_report_calls);
}

#[test]
fn gateway_tcp_listener_chains_by_protocol() {
    let f = fixture(mixer_mesh(), Vec::new(), Vec::new());
    let n = node_with("router", "gw.istio-system", NodeMetadata::default());
    let mut chains = vec![
        FilterChain {
            listener_protocol: Some(ListenerProtocol::Http),
            ..Default::default()
        },
        FilterChain {
            listener_protocol: Some(ListenerProtocol::Tcp),
            ..Default::default()
        },
    ];
    let mut l = Listener::default();
    MixerPlugin.on_outbound_listener(
        &input(&f, &n, ListenerProtocol::Tcp),
        &mut MutableObjects {
            listener: &mut l,
            filter_chains: &mut chains,
        },
    );
    assert_eq!((chains[0].tcp.len(), chains[0].http.len()), (0, 1));
    assert_eq!((chains[1].tcp.len(), chains[1].http.len()), (1, 0));
    assert!(http_config(&chains[0].http[0]).ignore_forwarded_attributes);
}

#[test]
fn inbound_attributes() {
    let f = fixture(mixer_mesh(), Vec::new(), Vec::new());
    let n = node_with(
        "sidecar",
        "app-1.bar",
        NodeMetadata {
            istio_version: "1.4.3".into(),
            mesh_id: "mesh1".into(),
            ..Default::default()
        },
    );
    let mut chains = vec![FilterChain::default()];
    let mut l = Listener {
        address: Some(util::build_address("10.1.1.1", 8080)),
        ..Default::default()
    };
    MixerPlugin.on_inbound_listener(
        &input(&f, &n, ListenerProtocol::Tcp),
        &mut MutableObjects {
            listener: &mut l,
            filter_chains: &mut chains,
        },
    );
    let cfg = tcp_config(&chains[0].tcp[0]);
    let ip = format!(
        "bytes:{:?}",
        vec![0u8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 1, 1]
    );
    assert_eq!(
        strings(&cfg.mixer_attributes),
        map(&[
            ("context.proxy_version", "1.4.3"),
            ("context.reporter.kind", "inbound"),
            ("context.reporter.uid", "kubernetes://app-1.bar"),
            ("destination.ip", &ip),
            ("destination.mesh.id", "mesh1"),
            ("destination.namespace", "bar"),
            ("destination.port", "int:8080"),
            ("destination.uid", "kubernetes://app-1.bar"),
        ])
    );
    // The default mesh disables policy checks.
    assert!(cfg.disable_check_calls);
}

#[test]
fn nothing_without_mixer_servers() {
    let f = fixture(default_mesh_config(), Vec::new(), Vec::new());
    let n = node("app-1.bar");
    for protocol in [
        ListenerProtocol::Http,
        ListenerProtocol::Tcp,
        ListenerProtocol::Auto,
    ] {
        let mut chains = vec![
            FilterChain {
                listener_protocol: Some(ListenerProtocol::Tcp),
                ..Default::default()
            },
            FilterChain {
                listener_protocol: Some(ListenerProtocol::Http),
                is_fall_through: true,
                ..Default::default()
            },
        ];
        let mut l = Listener {
            address: Some(test_address()),
            ..Default::default()
        };
        let in_ = input(&f, &n, protocol);
        let mut m = MutableObjects {
            listener: &mut l,
            filter_chains: &mut chains,
        };
        MixerPlugin.on_outbound_listener(&in_, &mut m);
        MixerPlugin.on_inbound_listener(&in_, &mut m);
        MixerPlugin.on_virtual_listener(&in_, &mut m);
        assert!(chains.iter().all(|c| c.tcp.is_empty() && c.http.is_empty()));
    }
    let mut rc = route_config();
    let before = rc.clone();
    let in_ = input(&f, &n, ListenerProtocol::Http);
    MixerPlugin.on_outbound_route_configuration(&in_, &mut rc);
    MixerPlugin.on_inbound_route_configuration(&in_, &mut rc);
    assert_eq!(rc, before);
}

#[test]
fn virtual_listener_names_the_fallthrough_service() {
    let f = fixture(mixer_mesh(), Vec::new(), Vec::new());
    let n = node("app-1.bar");
    let mut chains = vec![FilterChain::default(); 2];
    let mut l = Listener::default();
    let mut in_ = input(&f, &n, ListenerProtocol::Tcp);
    in_.service = Some(util::fall_through_service(true));
    MixerPlugin.on_virtual_listener(
        &in_,
        &mut MutableObjects {
            listener: &mut l,
            filter_chains: &mut chains,
        },
    );
    assert!(chains.iter().all(|c| c.tcp.len() == 1));
    let attrs = strings(&tcp_config(&chains[0].tcp[0]).mixer_attributes);
    assert_eq!(attrs["destination.service.host"], "PassthroughCluster");
    assert_eq!(attrs["destination.service.name"], "PassthroughCluster");
    // HTTP virtual listeners get nothing.
    let mut chains = vec![FilterChain::default()];
    MixerPlugin.on_virtual_listener(
        &input(&f, &n, ListenerProtocol::Http),
        &mut MutableObjects {
            listener: &mut l,
            filter_chains: &mut chains,
        },
    );
    assert!(chains[0].tcp.is_empty());
}

fn cluster_route(cluster: &str) -> Route {
    Route {
        action: Some(route::Action::Route(RouteAction {
            cluster_specifier: Some(route_action::ClusterSpecifier::Cluster(cluster.into())),
            ..Default::default()
        })),
        ..Default::default()
    }
}

fn route_config() -> RouteConfiguration {
    RouteConfiguration {
        name: "9091".into(),
        virtual_hosts: vec![
            VirtualHost {
                name: "db.bar.svc.cluster.local:9091".into(),
                routes: vec![
                    cluster_route("outbound|9091||db.bar.svc.cluster.local"),
                    cluster_route("outbound|9091||unknown.example.com"),
                    Route {
                        action: Some(route::Action::Route(RouteAction {
                            cluster_specifier: Some(
                                route_action::ClusterSpecifier::WeightedClusters(WeightedCluster {
                                    clusters: vec![
                                        ClusterWeight {
                                            name: "outbound|9091|v1|db.bar.svc.cluster.local"
                                                .into(),
                                            ..Default::default()
                                        },
                                        ClusterWeight {
                                            name: "outbound|9091||other.example.com".into(),
                                            ..Default::default()
                                        },
                                    ],
                                    ..Default::default()
                                }),
                            ),
                            ..Default::default()
                        })),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            },
            VirtualHost {
                name: "allow_any".into(),
                routes: vec![cluster_route("PassthroughCluster")],
                ..Default::default()
            },
            VirtualHost {
                name: "block_all".into(),
                routes: vec![Route {
                    action: Some(route::Action::DirectResponse(DirectResponseAction {
                        status: 502,
                        ..Default::default()
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            },
        ],
        ..Default::default()
    }
}

#[test]
fn outbound_route_service_configs() {
    let f = fixture(
        mixer_mesh(),
        vec![kube_service("db", "bar", "10.0.0.20")],
        Vec::new(),
    );
    let n = node("app-1.bar");
    let mut rc = route_config();
    MixerPlugin.on_outbound_route_configuration(&input(&f, &n, ListenerProtocol::Http), &mut rc);
    let db = map(&[
        ("destination.service.host", "db.bar.svc.cluster.local"),
        ("destination.service.name", "db"),
        ("destination.service.namespace", "bar"),
        ("destination.service.uid", "istio://bar/services/db"),
    ]);
    let routes = &rc.virtual_hosts[0].routes;
    let c = service_config(&routes[0].typed_per_filter_config);
    assert!(c.disable_check_calls);
    assert!(!c.disable_report_calls);
    assert_eq!(strings(&c.mixer_attributes), db);
    assert_eq!(strings(&c.forward_attributes), db);
    // A host the scope does not know: empty attributes.
    let c = service_config(&routes[1].typed_per_filter_config);
    assert_eq!(strings(&c.mixer_attributes), BTreeMap::new());
    assert_eq!(strings(&c.forward_attributes), BTreeMap::new());
    // Weighted clusters: the route keeps the default config, each cluster names its service.
    let c = service_config(&routes[2].typed_per_filter_config);
    assert_eq!(c.mixer_attributes, None);
    assert!(c.disable_check_calls);
    let Some(route::Action::Route(RouteAction {
        cluster_specifier: Some(route_action::ClusterSpecifier::WeightedClusters(w)),
        ..
    })) = &routes[2].action
    else {
        panic!()
    };
    let c = service_config(&w.clusters[0].typed_per_filter_config);
    assert_eq!(strings(&c.mixer_attributes), db);
    let c = service_config(&w.clusters[1].typed_per_filter_config);
    assert_eq!(strings(&c.mixer_attributes), BTreeMap::new());
    // Passthrough and blackhole name their pseudo destinations.
    let c = service_config(&rc.virtual_hosts[1].routes[0].typed_per_filter_config);
    assert_eq!(
        strings(&c.mixer_attributes),
        map(&[("destination.service.name", "PassthroughCluster")])
    );
    let c = service_config(&rc.virtual_hosts[2].routes[0].typed_per_filter_config);
    assert_eq!(
        strings(&c.forward_attributes),
        map(&[("destination.service.name", "BlackHoleCluster")])
    );
}

#[test]
fn outbound_route_respects_node_policy_check() {
    let f = fixture(mixer_mesh(), Vec::new(), Vec::new());
    let n = node_with(
        "sidecar",
        "app-1.bar",
        NodeMetadata {
            policy_check: "enable".into(),
            ..Default::default()
        },
    );
    let mut rc = route_config();
    MixerPlugin.on_outbound_route_configuration(&input(&f, &n, ListenerProtocol::Http), &mut rc);
    let c = service_config(&rc.virtual_hosts[0].routes[0].typed_per_filter_config);
    assert!(!c.disable_check_calls);
}

fn config(kind: Kind, name: &str, ns: &str, spec: impl Into<Spec>) -> Config {
    Config {
        meta: ConfigMeta {
            domain: "cluster.local".into(),
            ..ConfigMeta::new(kind, name, ns)
        },
        spec: spec.into(),
    }
}

fn quota(name: &str) -> QuotaSpec {
    QuotaSpec {
        rules: vec![QuotaRule {
            quotas: vec![Quota {
                quota: name.into(),
                charge: 1,
            }],
            ..Default::default()
        }],
    }
}

#[test]
fn inbound_route_service_config_with_quotas() {
    let svc = kube_service("db", "bar", "10.0.0.20");
    let binding = QuotaSpecBinding {
        services: vec![IstioService {
            name: "db".into(),
            ..Default::default()
        }],
        quota_specs: vec![
            QuotaSpecReference {
                name: "q2".into(),
                namespace: String::new(),
            },
            QuotaSpecReference {
                name: "q1".into(),
                namespace: "bar".into(),
            },
            QuotaSpecReference {
                name: "missing".into(),
                namespace: String::new(),
            },
        ],
    };
    let other = QuotaSpecBinding {
        services: vec![IstioService {
            service: "*.other.*".into(),
            ..Default::default()
        }],
        quota_specs: vec![QuotaSpecReference {
            name: "q3".into(),
            namespace: "bar".into(),
        }],
    };
    let f = fixture(
        mixer_mesh(),
        Vec::new(),
        vec![
            config(Kind::QuotaSpecBinding, "b", "bar", binding),
            config(Kind::QuotaSpecBinding, "o", "bar", other),
            config(Kind::QuotaSpec, "q1", "bar", quota("one")),
            config(Kind::QuotaSpec, "q2", "bar", quota("two")),
            config(Kind::QuotaSpec, "q3", "bar", quota("three")),
        ],
    );
    let n = node("app-1.bar");
    let mut rc = route_config();
    let mut in_ = input(&f, &n, ListenerProtocol::Http);
    in_.service = Some(&svc);
    MixerPlugin.on_inbound_route_configuration(&in_, &mut rc);
    for vh in &rc.virtual_hosts {
        for r in &vh.routes {
            let c = service_config(&r.typed_per_filter_config);
            assert!(c.disable_check_calls);
            assert_eq!(
                strings(&c.mixer_attributes),
                map(&[
                    ("destination.service.host", "db.bar.svc.cluster.local"),
                    ("destination.service.name", "db"),
                    ("destination.service.namespace", "bar"),
                    ("destination.service.uid", "istio://bar/services/db"),
                ])
            );
            assert_eq!(c.forward_attributes, None);
            assert_eq!(c.quota_spec, vec![quota("one"), quota("two")]);
        }
    }
    // TCP: nothing.
    let mut rc = route_config();
    let before = rc.clone();
    let in_ = input(&f, &n, ListenerProtocol::Tcp);
    MixerPlugin.on_inbound_route_configuration(&in_, &mut rc);
    assert_eq!(rc, before);
}

#[test]
fn telemetry_session_affinity() {
    let telemetry = kube_service("istio-telemetry", "istio-system", "10.0.0.9");
    let port = telemetry.ports.0[0].clone();
    let eds = || Cluster {
        name: "outbound|9091||istio-telemetry.istio-system.svc.cluster.local".into(),
        cluster_discovery_type: Some(cluster::ClusterDiscoveryType::Type(
            cluster::DiscoveryType::Eds as i32,
        )),
        eds_cluster_config: Some(Default::default()),
        ..Default::default()
    };
    // Off by default.
    let f = fixture(mixer_mesh(), Vec::new(), Vec::new());
    let n = node("app-1.bar");
    let mut in_ = input(&f, &n, ListenerProtocol::Unknown);
    in_.service = Some(&telemetry);
    in_.port = Some(&port);
    let mut c = eds();
    MixerPlugin.on_outbound_cluster(&in_, &mut c);
    assert_eq!(c, eds());

    let f = fixture(
        MeshConfig {
            sidecar_to_telemetry_session_affinity: true,
            ..mixer_mesh()
        },
        Vec::new(),
        Vec::new(),
    );
    let mut in_ = input(&f, &n, ListenerProtocol::Unknown);
    in_.service = Some(&telemetry);
    in_.port = Some(&port);
    let mut c = eds();
    MixerPlugin.on_outbound_cluster(&in_, &mut c);
    assert_eq!(
        c.cluster_discovery_type,
        Some(cluster::ClusterDiscoveryType::Type(
            cluster::DiscoveryType::StrictDns as i32
        ))
    );
    assert_eq!(c.eds_cluster_config, None);
    let la = c.load_assignment.expect("load assignment");
    assert_eq!(la.cluster_name, c.name);
    let Some(lb_endpoint::HostIdentifier::Endpoint(e)) =
        &la.endpoints[0].lb_endpoints[0].host_identifier
    else {
        panic!()
    };
    assert_eq!(e.address, Some(util::build_address("10.0.0.9", 9091)));
    // Other clusters are left alone.
    let mut other = Cluster {
        name: "outbound|9091||istio-policy.istio-system.svc.cluster.local".into(),
        ..Default::default()
    };
    MixerPlugin.on_outbound_cluster(&in_, &mut other);
    assert_eq!(other.load_assignment, None);
}

#[test]
fn localized_filters_name_the_proxy() {
    use envoy_types::pb::envoy::config::listener::v3::FilterChain as EnvoyChain;
    let f = fixture(mixer_mesh(), Vec::new(), Vec::new());
    let first = node("app-1.bar");
    let mut chains = vec![FilterChain::default()];
    let mut l = Listener::default();
    MixerPlugin.on_outbound_listener(
        &input(&f, &first, ListenerProtocol::Http),
        &mut MutableObjects {
            listener: &mut l,
            filter_chains: &mut chains,
        },
    );
    let mut tcp_chains = vec![FilterChain::default()];
    MixerPlugin.on_outbound_listener(
        &input(&f, &first, ListenerProtocol::Tcp),
        &mut MutableObjects {
            listener: &mut l,
            filter_chains: &mut tcp_chains,
        },
    );
    let hcm = HttpConnectionManager {
        stat_prefix: "outbound_0.0.0.0_9091".into(),
        http_filters: vec![
            chains[0].http[0].clone(),
            HttpFilter {
                name: "envoy.router".into(),
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    let extras = wire::HcmExtras {
        egress_tracing: false,
        idle_timeout: Some(envoy_types::pb::google::protobuf::Duration {
            seconds: 5,
            nanos: 0,
        }),
    };
    let hcm_bytes = wire::encode_hcm(&hcm, &extras);
    let mut shared = Listener {
        filter_chains: vec![
            EnvoyChain {
                filters: vec![Filter {
                    name: filter_names::HTTP_CONNECTION_MANAGER.into(),
                    config_type: Some(filter::ConfigType::TypedConfig(util::bytes_to_any::<
                        HttpConnectionManager,
                    >(
                        hcm_bytes.clone()
                    ))),
                }],
                ..Default::default()
            },
            EnvoyChain {
                filters: vec![tcp_chains[0].tcp[0].clone()],
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    let second = node_with(
        "sidecar",
        "app-2.other",
        NodeMetadata {
            istio_version: "1.4.3".into(),
            ..Default::default()
        },
    );
    MixerPlugin
        .localize_outbound_listener(&input(&f, &second, ListenerProtocol::Unknown), &mut shared);
    let want = map(&[
        ("context.proxy_version", "1.4.3"),
        ("context.reporter.kind", "outbound"),
        ("context.reporter.uid", "kubernetes://app-2.other"),
        ("source.namespace", "other"),
        ("source.uid", "kubernetes://app-2.other"),
    ]);
    let Some(filter::ConfigType::TypedConfig(a)) = &shared.filter_chains[0].filters[0].config_type
    else {
        panic!()
    };
    let got = HttpConnectionManager::decode(a.value.as_slice()).unwrap();
    assert_eq!(got.http_filters.len(), 2);
    assert_eq!(got.http_filters[1].name, "envoy.router");
    assert_eq!(got.stat_prefix, hcm.stat_prefix);
    let cfg = http_config(&got.http_filters[0]);
    assert_eq!(strings(&cfg.mixer_attributes), want);
    assert_eq!(
        strings(&cfg.forward_attributes),
        map(&[("source.uid", "kubernetes://app-2.other")])
    );
    // The v2-only idle timeout appended to the encoding is still there.
    assert!(a.value.ends_with(&hcm_bytes[hcm.encode_to_vec().len()..]));
    let cfg = tcp_config(&shared.filter_chains[1].filters[0]);
    assert_eq!(strings(&cfg.mixer_attributes), want);
    // Without mixer servers nothing is touched.
    let plain = fixture(default_mesh_config(), Vec::new(), Vec::new());
    let before = shared.clone();
    MixerPlugin.localize_outbound_listener(
        &input(&plain, &first, ListenerProtocol::Unknown),
        &mut shared,
    );
    assert_eq!(shared, before);
}

#[test]
fn go_number_parsing() {
    assert_eq!(go_atoi("5"), (5, true));
    assert_eq!(go_atoi("+5"), (5, true));
    assert_eq!(go_atoi("-1"), (-1, true));
    assert_eq!(go_atoi(""), (0, false));
    assert_eq!(go_atoi(" 5"), (0, false));
    assert_eq!(go_atoi("99999999999999999999"), (i64::MAX, false));
    assert_eq!(go_atoi("-99999999999999999999"), (i64::MIN, false));
    // A negative retry count wraps like Go's uint32 conversion.
    let n = node_with(
        "sidecar",
        "foo.bar",
        NodeMetadata {
            policy_check_retries: "-1".into(),
            ..Default::default()
        },
    );
    let t = build_transport(&default_mesh_config(), &n);
    assert_eq!(t.network_fail_policy.unwrap().max_retry, u32::MAX);
}
