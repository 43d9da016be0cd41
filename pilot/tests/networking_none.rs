//! Sidecar objects and interception mode NONE (the setup of upstream's
//! tests/testdata/config/none.yaml and lds_test.go `TestLDSIsolated/sidecar_none`), and
//! Sidecar scope selection.

mod networking_common;

use std::collections::BTreeMap;
use std::sync::Arc;

use envoy_types::pb::envoy::config::core::v3::{address, socket_address};
use envoy_types::pb::envoy::config::endpoint::v3::lb_endpoint;
use envoy_types::pb::envoy::config::listener::v3::Listener;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::http_connection_manager::RouteSpecifier;
use serde_json::json;

use istio_api::istio::networking::v1alpha3::{
    outbound_traffic_policy, IstioEgressListener, IstioIngressListener, OutboundTrafficPolicy,
    Port as IstioPort, Sidecar, WorkloadSelector,
};
use istio_pilot::features::Features;
use istio_pilot::model::Resolution;
use istio_pilot::networking::core::{ConfigGenerator, ConfigGeneratorImpl};
use istio_pkg::config::mesh::default_mesh_config;
use istio_pkg::config::model::{Config, ConfigMeta, Spec};
use istio_pkg::config::schema::Kind;

use networking_common::*;

const NONE_IP: &str = "10.11.0.1";

fn iport(number: u32, protocol: &str, name: &str) -> Option<IstioPort> {
    Some(IstioPort {
        number,
        protocol: protocol.into(),
        name: name.into(),
    })
}

fn egress(port: Option<IstioPort>, hosts: &[&str]) -> IstioEgressListener {
    IstioEgressListener {
        port,
        hosts: hosts.iter().map(|h| h.to_string()).collect(),
        ..Default::default()
    }
}

fn ingress(port: Option<IstioPort>, default_endpoint: &str) -> IstioIngressListener {
    IstioIngressListener {
        port,
        default_endpoint: default_endpoint.into(),
        ..Default::default()
    }
}

fn sidecar_config(name: &str, ns: &str, spec: Sidecar) -> Arc<Config> {
    let mut meta = ConfigMeta::new(Kind::Sidecar, name, ns);
    meta.resource_version = "1".into();
    Arc::new(Config {
        meta,
        spec: Spec::Sidecar(spec),
    })
}

/// The `default` Sidecar of namespace `none`.
fn none_sidecar() -> Arc<Config> {
    sidecar_config(
        "default",
        "none",
        Sidecar {
            egress: vec![
                egress(iport(9091, "GRPC", "grpc-mixer"), &["istio-system/*"]),
                egress(iport(15004, "GRPC", "grpc-mixer-mtls"), &["istio-system/*"]),
                egress(None, &["none/*", "default/test.default"]),
            ],
            ingress: vec![
                ingress(iport(7071, "HTTP", "httplocal"), "127.0.0.1:17071"),
                ingress(iport(7070, "TCP", "tcplocal"), "127.0.0.1:17070"),
                ingress(iport(18080, "HTTP", "http-echo"), "127.0.0.1:28080"),
                ingress(iport(18079, "TCP", "grpc-ping"), "127.0.0.1:28079"),
            ],
            ..Default::default()
        },
    )
}

/// The ServiceEntries of none.yaml that matter here, plus services that must stay invisible.
fn none_registry(with_mixer: bool) -> Registry {
    let mut r = Registry::default();
    let internal = |r: &mut Registry, host: &str, p| {
        let mut s = external_service(host, "none", "0.0.0.0", Resolution::ClientSideLb, vec![p]);
        s.mesh_external = false;
        r.add(s)
    };
    let s1tcp = internal(&mut r, "s1tcp.none", port("tcplocal", 2000, "TCP"));
    r.endpoint(&s1tcp, 2000, NONE_IP, 7070);
    let s1http = internal(&mut r, "s1http.none", port("httplocal", 2001, "HTTP"));
    r.endpoint(&s1http, 2001, NONE_IP, 7071);
    let s2 = r.add(external_service(
        "s2.external.test.istio.io",
        "none",
        "0.0.0.0",
        Resolution::ClientSideLb,
        vec![port("http-remote", 2005, "TCP")],
    ));
    r.endpoint(&s2, 2005, "10.11.0.2", 7071);
    r.add(external_service(
        "s2dns.external.test.istio.io",
        "none",
        "0.0.0.0",
        Resolution::DnsLb,
        vec![port("tcp1", 2006, "TCP")],
    ));
    r.add(kube_service(
        "other",
        "default",
        "10.0.9.9",
        vec![port("http", 80, "HTTP")],
    ));
    if with_mixer {
        r.add(kube_service(
            "istio-policy",
            "istio-system",
            "10.0.8.8",
            vec![
                port("grpc-mixer", 9091, "GRPC"),
                port("http-monitoring", 15014, "HTTP"),
            ],
        ));
    }
    r
}

fn none_setup(with_mixer: bool) -> (istio_pilot::model::Environment, istio_pilot::model::Proxy) {
    let env = env(
        none_registry(with_mixer),
        Store(vec![none_sidecar()]),
        default_mesh_config(),
    );
    let proxy = sidecar(
        &env,
        NONE_IP,
        "none",
        json!({"INTERCEPTION_MODE": "NONE", "HTTP10": "1"}),
    );
    (env, proxy)
}

/// The lds_test setup turns inbound sniffing on.
fn sniffing_gen() -> ConfigGeneratorImpl {
    ConfigGeneratorImpl::new(Features {
        enable_protocol_sniffing_for_inbound: true,
        ..Features::default()
    })
}

fn socket(l: &Listener) -> (String, u32) {
    match &l.address.as_ref().unwrap().address {
        Some(address::Address::SocketAddress(s)) => match s.port_specifier {
            Some(socket_address::PortSpecifier::PortValue(p)) => (s.address.clone(), p),
            _ => panic!("no port"),
        },
        other => panic!("{other:?}"),
    }
}

fn is_http(l: &Listener) -> bool {
    l.filter_chains.iter().any(|c| {
        c.filters
            .iter()
            .any(|f| f.name == "envoy.http_connection_manager")
    })
}

#[test]
fn none_mode_clusters_from_ingress_listeners() {
    let (env, proxy) = none_setup(false);
    let push = push(&env);
    let cs = sniffing_gen().build_clusters(&proxy, &push);
    let n = names(&cs);
    // Imported: the `none` namespace only.
    assert!(n.contains(&"outbound|2000||s1tcp.none"));
    assert!(n.contains(&"outbound|2006||s2dns.external.test.istio.io"));
    assert!(!n.iter().any(|c| c.contains("other.default")));
    // Inbound clusters come from the ingress listeners' default endpoints; a listener
    // without a matching instance is named after the Sidecar.
    for (name, port) in [
        ("inbound|7071|httplocal|s1http.none", 17071),
        ("inbound|7070|tcplocal|s1tcp.none", 17070),
        ("inbound|18080|http-echo|default.none", 28080),
        ("inbound|18079|grpc-ping|default.none", 28079),
    ] {
        let c = cluster(&cs, name);
        let la = c.load_assignment.as_ref().unwrap();
        match &la.endpoints[0].lb_endpoints[0].host_identifier {
            Some(lb_endpoint::HostIdentifier::Endpoint(e)) => {
                match &e.address.as_ref().unwrap().address {
                    Some(address::Address::SocketAddress(s)) => {
                        assert_eq!(s.address, "127.0.0.1");
                        assert_eq!(
                            s.port_specifier,
                            Some(socket_address::PortSpecifier::PortValue(port))
                        );
                    }
                    other => panic!("{other:?}"),
                }
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn none_mode_listeners() {
    let (env, proxy) = none_setup(false);
    let push = push(&env);
    let ls = sniffing_gen().build_listeners(&proxy, &push);
    let got: Vec<&str> = ls.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(
        got,
        [
            "10.11.0.1_7071",
            "10.11.0.1_7070",
            "10.11.0.1_18080",
            "10.11.0.1_18079",
            "127.0.0.1_2000",
            "127.0.0.1_2005",
            "127.0.0.1_2006",
            "127.0.0.1_2001",
            "127.0.0.1_15002",
            "virtualOutbound",
            "virtualInbound",
        ]
    );
    // What upstream's test counts: 7071, 2001, 15002, 18080 and 15006 speak HTTP.
    let http: Vec<&str> = ls
        .iter()
        .filter(|l| is_http(l))
        .map(|l| l.name.as_str())
        .collect();
    assert_eq!(
        http,
        [
            "10.11.0.1_7071",
            "10.11.0.1_18080",
            "127.0.0.1_2001",
            "127.0.0.1_15002",
            "virtualInbound"
        ]
    );
    // NONE: every listener but the capture ones binds its port.
    #[allow(deprecated)]
    for l in ls.iter().filter(|l| !l.name.starts_with("virtual")) {
        assert!(l.deprecated_v1.is_none(), "{} must bind", l.name);
    }
    assert_eq!(
        socket(listener(&ls, "127.0.0.1_2000")),
        ("127.0.0.1".into(), 2000)
    );
    assert_eq!(
        tcp_cluster(&listener(&ls, "127.0.0.1_2000").filter_chains[0].filters[0]),
        "outbound|2000||s1tcp.none"
    );
    // Inbound HTTP to the ingress listener's cluster, HTTP/1.0 accepted (HTTP10 metadata).
    let h = hcm(&listener(&ls, "10.11.0.1_7071").filter_chains[0].filters[0]);
    assert!(h.http_protocol_options.as_ref().unwrap().accept_http_10);
    match h.route_specifier {
        Some(RouteSpecifier::RouteConfig(rc)) => {
            assert_eq!(rc.name, "inbound|7071|httplocal|s1http.none")
        }
        other => panic!("{other:?}"),
    }
    let t = tcp(&listener(&ls, "10.11.0.1_18079").filter_chains[0].filters[0]);
    assert_eq!(t.stat_prefix, "inbound|18079|grpc-ping|default.none");
    // HTTP proxy listener.
    let hp = listener(&ls, "127.0.0.1_15002");
    let h = hcm(&hp.filter_chains[0].filters[0]);
    assert_eq!(h.stat_prefix, "unspecified_127.0.0.1_15002");
    let o = h.http_protocol_options.as_ref().unwrap();
    assert!(o.allow_absolute_url.unwrap().value && o.accept_http_10);
    match h.route_specifier {
        Some(RouteSpecifier::Rds(r)) => assert_eq!(r.route_config_name, "http_proxy"),
        other => panic!("{other:?}"),
    }
    // Bound inbound listeners are not folded into virtualInbound; inbound sniffing adds the
    // HTTP passthrough chain and the HTTP inspector.
    let vi = listener(&ls, "virtualInbound");
    assert_eq!(vi.filter_chains.len(), 2);
    let lf: Vec<&str> = vi
        .listener_filters
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(
        lf,
        [
            "envoy.listener.original_dst",
            "envoy.listener.http_inspector"
        ]
    );
    let h = hcm(&vi.filter_chains[1].filters[0]);
    assert_eq!(h.stat_prefix, "InboundPassthroughClusterIpv4");
    match h.route_specifier {
        Some(RouteSpecifier::RouteConfig(rc)) => {
            assert_eq!(rc.name, "InboundPassthroughClusterIpv4");
            assert_eq!(rc.virtual_hosts[0].name, "inbound|http|0");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn none_mode_routes() {
    let (env, proxy) = none_setup(true);
    let push = push(&env);
    let g = sniffing_gen();
    let ls = g.build_listeners(&proxy, &push);
    // Egress listeners with ports bind to localhost and route all ports of their services.
    let l = listener(&ls, "127.0.0.1_9091");
    match hcm(&l.filter_chains[0].filters[0]).route_specifier {
        Some(RouteSpecifier::Rds(r)) => assert_eq!(r.route_config_name, "9091"),
        other => panic!("{other:?}"),
    }
    let rcs = g.build_http_routes(&proxy, &push, &["9091".into(), "2001".into()]);
    let vh: Vec<&str> = rcs[0]
        .virtual_hosts
        .iter()
        .map(|v| v.name.as_str())
        .collect();
    assert_eq!(
        vh,
        [
            "istio-policy.istio-system.svc.cluster.local:15014",
            "istio-policy.istio-system.svc.cluster.local:9091",
            "allow_any"
        ]
    );
    let vh = &rcs[1].virtual_hosts[0];
    assert_eq!(vh.name, "s1http.none:2001");
    assert_eq!(vh.domains, ["s1http.none", "s1http.none:2001"]);
}

// ------------------------------------------------------------------------------------------
// Sidecar scope selection

fn scope_registry() -> Registry {
    let mut r = Registry::default();
    for (name, ns) in [("a", "ns1"), ("b", "ns1"), ("c", "ns2"), ("a", "ns3")] {
        r.add(kube_service(
            name,
            ns,
            "10.0.0.1",
            vec![port("http", 80, "HTTP")],
        ));
    }
    r
}

fn visible(env: &istio_pilot::model::Environment, p: &istio_pilot::model::Proxy) -> Vec<String> {
    let push = push(env);
    push.sidecar_scope(p)
        .services
        .iter()
        .map(|s| s.hostname.clone())
        .collect()
}

#[test]
fn sidecar_selection_and_imports() {
    let selected = sidecar_config(
        "for-app-x",
        "ns1",
        Sidecar {
            workload_selector: Some(WorkloadSelector {
                labels: BTreeMap::from([("app".to_string(), "x".to_string())]),
            }),
            egress: vec![egress(None, &["ns2/*"])],
            ..Default::default()
        },
    );
    let ns_default = sidecar_config(
        "default",
        "ns1",
        Sidecar {
            egress: vec![egress(
                None,
                &["./b.ns1.svc.cluster.local", "*/a.ns3.svc.cluster.local"],
            )],
            outbound_traffic_policy: Some(OutboundTrafficPolicy {
                mode: outbound_traffic_policy::Mode::RegistryOnly as i32,
            }),
            ..Default::default()
        },
    );
    let root = sidecar_config(
        "default",
        "istio-system",
        Sidecar {
            egress: vec![egress(None, &["./*"])],
            ..Default::default()
        },
    );
    // A newer selector-less Sidecar in ns1 loses to the older one, whatever its name.
    let mut newer = (*sidecar_config(
        "aaa-newer",
        "ns1",
        Sidecar {
            egress: vec![egress(None, &["*/*"])],
            ..Default::default()
        },
    ))
    .clone();
    newer.meta.creation_timestamp = Some("2020-02-01T00:00:00Z".into());
    let mut ns_default = (*ns_default).clone();
    ns_default.meta.creation_timestamp = Some("2020-01-01T00:00:00Z".into());
    let env = env(
        scope_registry(),
        Store(vec![Arc::new(newer), selected, Arc::new(ns_default), root]),
        default_mesh_config(),
    );
    let x = sidecar(&env, "10.9.0.1", "ns1", json!({"LABELS": {"app": "x"}}));
    let y = sidecar(&env, "10.9.0.2", "ns1", json!({"LABELS": {"app": "y"}}));
    let ns2 = sidecar(&env, "10.9.0.3", "ns2", json!({}));
    let ns4 = sidecar(&env, "10.9.0.4", "ns4", json!({}));
    // The selector wins for matching workloads.
    assert_eq!(visible(&env, &x), ["c.ns2.svc.cluster.local"]);
    // Others get the namespace default: `.` is the Sidecar's namespace, `*` any namespace.
    assert_eq!(
        visible(&env, &y),
        ["a.ns3.svc.cluster.local", "b.ns1.svc.cluster.local"]
    );
    // Namespaces without a Sidecar use the root namespace's, `.` meaning their own.
    assert_eq!(visible(&env, &ns2), ["c.ns2.svc.cluster.local"]);
    assert!(visible(&env, &ns4).is_empty());

    let push = push(&env);
    let sy = push.sidecar_scope(&y);
    assert!(!sy.allow_any_outbound, "Sidecar policy overrides the mesh");
    assert!(push.sidecar_scope(&ns2).allow_any_outbound);
    // Scopes are shared within a push.
    assert!(Arc::ptr_eq(&sy, &push.sidecar_scope(&y)));
    assert_ne!(sy.key, push.sidecar_scope(&x).key);
    // REGISTRY_ONLY reaches the generated config.
    let g = ConfigGeneratorImpl::new(features());
    let ls = g.build_listeners(&y, &push);
    assert_eq!(
        tcp_cluster(&listener(&ls, "virtualOutbound").filter_chains[1].filters[0]),
        "BlackHoleCluster"
    );
}

#[test]
fn default_scope_without_sidecars() {
    let env = default_env(scope_registry());
    let p = sidecar(&env, "10.9.0.1", "ns1", json!({}));
    assert_eq!(visible(&env, &p).len(), 4);
    let push = push(&env);
    let s = push.sidecar_scope(&p);
    assert_eq!(s.key, "default/ns1");
    assert_eq!(s.egress_listeners.len(), 1);
    assert!(s.egress_listeners[0].istio_listener.is_none());
    assert!(!s.has_custom_ingress_listeners());
}

// ------------------------------------------------------------------------------------------
// Inbound sniffing (upstream listener_test.go TestInboundListenerConfigProxyV13)

/// A plugin that asks for two inbound filter chains, as upstream's fake plugin does.
struct TwoChains;

impl istio_pilot::networking::plugin::Plugin for TwoChains {
    fn on_inbound_filter_chains(
        &self,
        _in: &istio_pilot::networking::plugin::InputParams<'_>,
    ) -> Vec<istio_pilot::networking::plugin::FilterChain> {
        vec![Default::default(), Default::default()]
    }
}

fn chain_names(l: &Listener) -> Vec<&str> {
    l.filter_chains
        .iter()
        .map(|c| c.filters[0].name.as_str())
        .collect()
}

#[test]
fn inbound_sniffing_chains() {
    let g = ConfigGeneratorImpl::new(Features {
        enable_protocol_sniffing_for_inbound: true,
        ..Features::default()
    })
    .with_plugin(Arc::new(TwoChains));
    let want = [
        "envoy.http_connection_manager",
        "envoy.http_connection_manager",
        "envoy.tcp_proxy",
        "envoy.tcp_proxy",
    ];
    let check = |l: &Listener| {
        assert_eq!(chain_names(l), want, "{}", l.name);
        for c in &l.filter_chains[..2] {
            assert_eq!(
                c.filter_chain_match.as_ref().unwrap().application_protocols,
                ["http/1.0", "http/1.1"]
            );
        }
        let lf: Vec<&str> = l.listener_filters.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            lf,
            [
                "envoy.listener.tls_inspector",
                "envoy.listener.http_inspector"
            ]
        );
    };

    // Three services on the same endpoint port: one listener, from the oldest (unnamed).
    let mut r = Registry::default();
    for (host, proto, age) in [
        ("test1.com", "HTTP", 1),
        ("test2.com", "", 0),
        ("test3.com", "HTTP", 2),
    ] {
        let mut s = external_service(
            host,
            "default",
            "0.0.0.0",
            Resolution::DnsLb,
            vec![port("default", 8080, proto)],
        );
        s.creation_time = age;
        let s = r.add(s);
        r.endpoint(&s, 8080, "1.1.1.1", 8080);
    }
    let env = default_env(r);
    let push = push(&env);
    let p = sidecar(&env, "1.1.1.1", "default", json!({}));
    let ls = g.build_listeners(&p, &push);
    let inbound: Vec<&Listener> = ls.iter().filter(|l| l.traffic_direction == 1).collect();
    assert_eq!(inbound.len(), 1);
    check(inbound[0]);
    let h = hcm(&inbound[0].filter_chains[0].filters[0]);
    match h.route_specifier {
        Some(RouteSpecifier::RouteConfig(rc)) => {
            assert_eq!(rc.name, "inbound|8080|default|test2.com")
        }
        other => panic!("{other:?}"),
    }

    // No instances: no inbound listener.
    let env = default_env(Registry::default());
    let push = networking_common::push(&env);
    let p = sidecar(&env, "1.1.1.1", "default", json!({}));
    assert!(g
        .build_listeners(&p, &push)
        .iter()
        .all(|l| l.traffic_direction != 1));

    // A Sidecar ingress listener with an unknown protocol, without services.
    let sc = sidecar_config(
        "foo",
        "not-default",
        Sidecar {
            ingress: vec![IstioIngressListener {
                port: iport(8080, "unknown", "uds"),
                bind: "1.1.1.1".into(),
                default_endpoint: "127.0.0.1:80".into(),
                ..Default::default()
            }],
            ..Default::default()
        },
    );
    let env = networking_common::env(Registry::default(), Store(vec![sc]), default_mesh_config());
    let push = networking_common::push(&env);
    let p = sidecar(&env, "1.1.1.1", "not-default", json!({}));
    let ls = g.build_listeners(&p, &push);
    let l = listener(&ls, "1.1.1.1_8080");
    check(l);
    assert_eq!(
        tcp(&l.filter_chains[2].filters[0]).stat_prefix,
        "inbound|8080|uds|foo.not-default"
    );
    let cs = g.build_clusters(&p, &push);
    cluster(&cs, "inbound|8080|uds|foo.not-default");
}
