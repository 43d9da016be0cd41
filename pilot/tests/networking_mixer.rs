//! The Mixer plugin through the generator: sidecar LDS, RDS and CDS of a mesh with
//! `mixerCheckServer`/`mixerReportServer` (a default Istio 1.4 install), and the same mesh
//! without them.

mod networking_common;

use std::collections::BTreeMap;
use std::sync::Arc;

use envoy_types::pb::envoy::config::cluster::v3::cluster;
use envoy_types::pb::envoy::config::listener::v3::{Filter, Listener};
use envoy_types::pb::envoy::config::route::v3::RouteConfiguration;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::{
    http_connection_manager::RouteSpecifier, http_filter, HttpFilter,
};
use envoy_types::pb::google::protobuf::Any;
use prost::{Message, Name};
use serde_json::json;

use istio_api::istio::mesh::v1alpha1::MeshConfig;
use istio_api::istio::mixer::v1::attributes::attribute_value;
use istio_api::istio::mixer::v1::config::client::{
    HttpClientConfig, ServiceConfig, TcpClientConfig,
};
use istio_api::istio::mixer::v1::Attributes;
use istio_pilot::model::{Environment, Proxy, PushContext};
use istio_pilot::networking::core::{ConfigGenerator, ConfigGeneratorImpl};
use istio_pilot::networking::plugin::mixer::MixerPlugin;
use istio_pkg::config::mesh::default_mesh_config;

use networking_common::*;

const PROXY_IP: &str = "10.1.1.1";

fn registry() -> Registry {
    let mut r = Registry::default();
    let web = r.add(kube_service(
        "foo",
        "default",
        "10.0.0.10",
        vec![port("http", 8080, "HTTP"), port("tcp", 9000, "TCP")],
    ));
    r.endpoint(&web, 8080, PROXY_IP, 18080);
    r.endpoint(&web, 9000, PROXY_IP, 19000);
    r.add(kube_service(
        "db",
        "default",
        "10.0.0.20",
        vec![port("tcp", 5432, "TCP")],
    ));
    for name in ["istio-policy", "istio-telemetry"] {
        r.add(kube_service(
            name,
            "istio-system",
            if name == "istio-policy" {
                "10.0.1.1"
            } else {
                "10.0.1.2"
            },
            vec![port("grpc-mixer", 9091, "GRPC")],
        ));
    }
    r
}

fn mixer_mesh() -> MeshConfig {
    MeshConfig {
        mixer_check_server: "istio-policy.istio-system.svc.cluster.local:9091".into(),
        mixer_report_server: "istio-telemetry.istio-system.svc.cluster.local:9091".into(),
        ..default_mesh_config()
    }
}

fn gen() -> ConfigGeneratorImpl {
    ConfigGeneratorImpl::new(features()).with_plugin(Arc::new(MixerPlugin::new()))
}

fn setup(mesh: MeshConfig) -> (Environment, PushContext, Proxy) {
    let env = networking_common::env(registry(), Store::default(), mesh);
    let push = networking_common::push(&env);
    let proxy = sidecar(&env, PROXY_IP, "default", json!({}));
    (env, push, proxy)
}

fn any_of<M: Message + Name + Default>(a: &Any) -> M {
    assert_eq!(a.type_url, M::type_url());
    M::decode(a.value.as_slice()).expect("decodes")
}

fn http_mixer(f: &HttpFilter) -> HttpClientConfig {
    assert_eq!(f.name, "mixer");
    match &f.config_type {
        Some(http_filter::ConfigType::TypedConfig(a)) => any_of(a),
        other => panic!("{other:?}"),
    }
}

fn tcp_mixer(f: &Filter) -> TcpClientConfig {
    assert_eq!(f.name, "mixer");
    TcpClientConfig::decode(typed(f)).expect("decodes")
}

fn strings(a: &Option<Attributes>) -> BTreeMap<String, String> {
    a.as_ref()
        .expect("attributes")
        .attributes
        .iter()
        .filter_map(|(k, v)| match &v.value {
            Some(attribute_value::Value::StringValue(s)) => Some((k.clone(), s.clone())),
            _ => None,
        })
        .collect()
}

fn filter_names(fs: &[Filter]) -> Vec<&str> {
    fs.iter().map(|f| f.name.as_str()).collect()
}

fn http_filter_names(fs: &[HttpFilter]) -> Vec<&str> {
    fs.iter().map(|f| f.name.as_str()).collect()
}

/// Every route's `mixer` service config.
fn route_mixer_configs(rc: &RouteConfiguration) -> Vec<ServiceConfig> {
    rc.virtual_hosts
        .iter()
        .flat_map(|vh| vh.routes.iter())
        .map(|r| {
            any_of(
                r.typed_per_filter_config
                    .get("mixer")
                    .expect("mixer config"),
            )
        })
        .collect()
}

fn mentions_mixer(l: &Listener) -> bool {
    l.filter_chains.iter().any(|fc| {
        fc.filters.iter().any(|f| {
            f.name == "mixer"
                || (f.name == "envoy.http_connection_manager"
                    && hcm(f).http_filters.iter().any(|h| h.name == "mixer"))
        })
    })
}

#[test]
fn sidecar_outbound_filters() {
    let (_env, push, proxy) = setup(mixer_mesh());
    let ls = gen().build_listeners(&proxy, &push);

    // HTTP: the mixer filter first, then cors, fault, router.
    let l = listener(&ls, "0.0.0.0_8080");
    let m = hcm(&l.filter_chains.last().unwrap().filters[0]);
    assert_eq!(
        http_filter_names(&m.http_filters),
        ["mixer", "envoy.cors", "envoy.fault", "envoy.router"]
    );
    let cfg = http_mixer(&m.http_filters[0]);
    assert_eq!(
        strings(&cfg.mixer_attributes),
        BTreeMap::from([
            ("context.proxy_version".into(), "1.4.10".into()),
            ("context.reporter.kind".into(), "outbound".into()),
            (
                "context.reporter.uid".into(),
                "kubernetes://app-1.default".into()
            ),
            ("source.namespace".into(), "default".into()),
            ("source.uid".into(), "kubernetes://app-1.default".into()),
        ])
    );
    let t = cfg.transport.expect("transport");
    assert_eq!(
        t.check_cluster,
        "outbound|9091||istio-policy.istio-system.svc.cluster.local"
    );
    assert_eq!(
        t.report_cluster,
        "outbound|9091||istio-telemetry.istio-system.svc.cluster.local"
    );
    assert!(cfg.service_configs["default"].disable_check_calls);

    // TCP: the mixer network filter before tcp_proxy, naming the destination service.
    let l = listener(&ls, "10.0.0.20_5432");
    let fc = &l.filter_chains[0];
    assert_eq!(filter_names(&fc.filters), ["mixer", "envoy.tcp_proxy"]);
    let attrs = strings(&tcp_mixer(&fc.filters[0]).mixer_attributes);
    assert_eq!(
        attrs["destination.service.host"],
        "db.default.svc.cluster.local"
    );
    assert_eq!(attrs["destination.service.name"], "db");
    assert_eq!(attrs["destination.service.namespace"], "default");
    assert_eq!(attrs["source.uid"], "kubernetes://app-1.default");

    // The capture listener's catch-all names the PassthroughCluster (ALLOW_ANY).
    let l = listener(&ls, "virtualOutbound");
    let last = l.filter_chains.last().unwrap();
    assert_eq!(filter_names(&last.filters), ["mixer", "envoy.tcp_proxy"]);
    let attrs = strings(&tcp_mixer(&last.filters[0]).mixer_attributes);
    assert_eq!(attrs["destination.service.name"], "PassthroughCluster");
    // The pod IP blackhole chain is left alone.
    assert_eq!(l.filter_chains[0].filters.len(), 1);
}

#[test]
fn sidecar_inbound_filters_and_routes() {
    let (_env, push, proxy) = setup(mixer_mesh());
    let ls = gen().build_listeners(&proxy, &push);

    let l = listener(&ls, "10.1.1.1_18080");
    let m = hcm(&l.filter_chains[0].filters[0]);
    assert_eq!(
        http_filter_names(&m.http_filters),
        ["mixer", "envoy.cors", "envoy.fault", "envoy.router"]
    );
    let cfg = http_mixer(&m.http_filters[0]);
    let attrs = strings(&cfg.mixer_attributes);
    assert_eq!(attrs["context.reporter.kind"], "inbound");
    assert_eq!(attrs["destination.uid"], "kubernetes://app-1.default");
    assert_eq!(attrs["destination.namespace"], "default");
    assert!(cfg.forward_attributes.is_none());
    let attrs = &cfg.mixer_attributes.as_ref().unwrap().attributes;
    assert_eq!(
        attrs["destination.port"].value,
        Some(attribute_value::Value::Int64Value(18080))
    );
    // The inline route config names the service.
    let Some(RouteSpecifier::RouteConfig(rc)) = &m.route_specifier else {
        panic!("inline routes")
    };
    for sc in route_mixer_configs(rc) {
        let attrs = strings(&sc.mixer_attributes);
        assert_eq!(
            attrs["destination.service.host"],
            "foo.default.svc.cluster.local"
        );
        assert_eq!(attrs["destination.service.name"], "foo");
        assert!(sc.disable_check_calls);
    }

    // Inbound TCP.
    let l = listener(&ls, "10.1.1.1_19000");
    let fc = &l.filter_chains[0];
    assert_eq!(filter_names(&fc.filters), ["mixer", "envoy.tcp_proxy"]);
    let attrs = strings(&tcp_mixer(&fc.filters[0]).mixer_attributes);
    assert_eq!(attrs["context.reporter.kind"], "inbound");
    assert!(!attrs.contains_key("destination.service.host"));

    // virtualInbound carries copies of those chains; its passthrough chains get nothing.
    let l = listener(&ls, "virtualInbound");
    assert!(l.filter_chains[0].filters.iter().all(|f| f.name != "mixer"));
    assert!(mentions_mixer(l));
}

#[test]
fn sidecar_outbound_routes() {
    let (_env, push, proxy) = setup(mixer_mesh());
    let g = gen();
    let rcs = g.build_http_routes(&proxy, &push, &["8080".into()]);
    let rc = &rcs[0];
    let vh = rc
        .virtual_hosts
        .iter()
        .find(|v| v.name == "foo.default.svc.cluster.local:8080")
        .expect("foo vhost");
    let sc: ServiceConfig = any_of(&vh.routes[0].typed_per_filter_config["mixer"]);
    let attrs = strings(&sc.mixer_attributes);
    assert_eq!(
        attrs["destination.service.host"],
        "foo.default.svc.cluster.local"
    );
    assert_eq!(strings(&sc.forward_attributes), attrs);
    let allow_any = rc.virtual_hosts.last().unwrap();
    assert_eq!(allow_any.name, "allow_any");
    let sc: ServiceConfig = any_of(&allow_any.routes[0].typed_per_filter_config["mixer"]);
    assert_eq!(
        strings(&sc.mixer_attributes)["destination.service.name"],
        "PassthroughCluster"
    );
}

#[test]
fn shared_outbound_listeners_name_each_proxy() {
    let (env, push, first) = setup(mixer_mesh());
    let g = gen();
    let uid = |ls: &[Listener]| {
        let m = hcm(&listener(ls, "0.0.0.0_8080")
            .filter_chains
            .last()
            .unwrap()
            .filters[0]);
        let http = strings(&http_mixer(&m.http_filters[0]).mixer_attributes)["source.uid"].clone();
        let fc = &listener(ls, "10.0.0.20_5432").filter_chains[0];
        let tcp = strings(&tcp_mixer(&fc.filters[0]).mixer_attributes)["source.uid"].clone();
        (http, tcp)
    };
    let a = g.build_listeners(&first, &push);
    // Same namespace, same scope: the outbound listeners come from the cache.
    let mut second = sidecar(
        &env,
        "10.1.1.2",
        "default",
        json!({"ISTIO_VERSION": "1.4.3"}),
    );
    second.id = "app-2.default".into();
    let b = g.build_listeners(&second, &push);
    assert_eq!(
        uid(&a),
        (
            "kubernetes://app-1.default".to_string(),
            "kubernetes://app-1.default".to_string()
        )
    );
    assert_eq!(
        uid(&b),
        (
            "kubernetes://app-2.default".to_string(),
            "kubernetes://app-2.default".to_string()
        )
    );
    let m = hcm(&listener(&b, "0.0.0.0_8080")
        .filter_chains
        .last()
        .unwrap()
        .filters[0]);
    assert_eq!(
        strings(&http_mixer(&m.http_filters[0]).mixer_attributes)["context.proxy_version"],
        "1.4.3"
    );
    // And the first proxy's copy is still its own.
    assert_eq!(
        uid(&g.build_listeners(&first, &push)).0,
        "kubernetes://app-1.default"
    );
    // What ADS sends is the localized copy too: with Mixer filters, no part is shared.
    let encoded = g.build_listeners_encoded(&second, &push);
    assert!(encoded.iter().all(|l| l.shared.is_none()));
    let decoded: Vec<Listener> = encoded
        .iter()
        .map(|l| Listener::decode(l.own.as_ref()).unwrap())
        .collect();
    assert_eq!(decoded, b);
}

#[test]
fn no_mixer_servers_no_mixer() {
    let (_env, push, proxy) = setup(default_mesh_config());
    let g = gen();
    let ls = g.build_listeners(&proxy, &push);
    assert!(ls.iter().all(|l| !mentions_mixer(l)));
    // And the output equals the generator's without the plugin.
    let plain = ConfigGeneratorImpl::new(features());
    assert_eq!(ls, plain.build_listeners(&proxy, &push));
    let names = ["8080".to_string()];
    let rcs = g.build_http_routes(&proxy, &push, &names);
    assert_eq!(rcs, plain.build_http_routes(&proxy, &push, &names));
    assert!(rcs
        .iter()
        .flat_map(|rc| rc.virtual_hosts.iter())
        .flat_map(|vh| vh.routes.iter())
        .all(|r| r.typed_per_filter_config.is_empty()));
    assert_eq!(
        g.build_clusters(&proxy, &push),
        plain.build_clusters(&proxy, &push)
    );
}

#[test]
fn policy_checks_follow_the_mesh() {
    // Checks on: inbound checks, outbound (no client-side checks) does not.
    let (_env, push, proxy) = setup(MeshConfig {
        disable_policy_checks: false,
        ..mixer_mesh()
    });
    let g = gen();
    let ls = g.build_listeners(&proxy, &push);
    let inbound = hcm(&listener(&ls, "10.1.1.1_18080").filter_chains[0].filters[0]);
    let cfg = http_mixer(&inbound.http_filters[0]);
    assert!(!cfg.service_configs["default"].disable_check_calls);
    let Some(RouteSpecifier::RouteConfig(rc)) = &inbound.route_specifier else {
        panic!()
    };
    assert!(route_mixer_configs(rc)
        .iter()
        .all(|c| !c.disable_check_calls));
    let outbound = hcm(&listener(&ls, "0.0.0.0_8080")
        .filter_chains
        .last()
        .unwrap()
        .filters[0]);
    assert!(http_mixer(&outbound.http_filters[0]).service_configs["default"].disable_check_calls);

    // Checks off and HTTP reports off: no HTTP filters at all, TCP filters stay.
    let (_env, push, proxy) = setup(MeshConfig {
        disable_policy_checks: true,
        disable_mixer_http_reports: true,
        ..mixer_mesh()
    });
    let ls = g.build_listeners(&proxy, &push);
    for name in ["0.0.0.0_8080", "10.1.1.1_18080"] {
        let m = hcm(&listener(&ls, name).filter_chains.last().unwrap().filters[0]);
        assert_eq!(
            http_filter_names(&m.http_filters),
            ["envoy.cors", "envoy.fault", "envoy.router"],
            "{name}"
        );
    }
    let fc = &listener(&ls, "10.0.0.20_5432").filter_chains[0];
    assert_eq!(filter_names(&fc.filters), ["mixer", "envoy.tcp_proxy"]);
    // Routes still tell the filter not to report.
    let rcs = g.build_http_routes(&proxy, &push, &["8080".into()]);
    assert!(route_mixer_configs(&rcs[0])
        .iter()
        .all(|c| c.disable_report_calls && c.disable_check_calls));

    // A proxy forcing checks on.
    let (env, push, _) = setup(mixer_mesh());
    let forced = sidecar(
        &env,
        PROXY_IP,
        "default",
        json!({"policy.istio.io/check": "enable"}),
    );
    let ls = g.build_listeners(&forced, &push);
    let outbound = hcm(&listener(&ls, "0.0.0.0_8080")
        .filter_chains
        .last()
        .unwrap()
        .filters[0]);
    let cfg = http_mixer(&outbound.http_filters[0]);
    assert!(!cfg.service_configs["default"].disable_check_calls);
    let rcs = g.build_http_routes(&forced, &push, &["8080".into()]);
    assert!(route_mixer_configs(&rcs[0])
        .iter()
        .all(|c| !c.disable_check_calls));
}

#[test]
fn telemetry_session_affinity_clusters() {
    let (_env, push, proxy) = setup(MeshConfig {
        sidecar_to_telemetry_session_affinity: true,
        ..mixer_mesh()
    });
    let cs = gen().build_clusters(&proxy, &push);
    let c = cluster(
        &cs,
        "outbound|9091||istio-telemetry.istio-system.svc.cluster.local",
    );
    assert_eq!(
        c.cluster_discovery_type,
        Some(cluster::ClusterDiscoveryType::Type(
            cluster::DiscoveryType::StrictDns as i32
        ))
    );
    assert!(c.eds_cluster_config.is_none());
    let p = cluster(
        &cs,
        "outbound|9091||istio-policy.istio-system.svc.cluster.local",
    );
    assert_eq!(
        p.cluster_discovery_type,
        Some(cluster::ClusterDiscoveryType::Type(
            cluster::DiscoveryType::Eds as i32
        ))
    );
}

#[test]
fn v2_clients_get_the_mixer_configs() {
    let (_env, push, proxy) = setup(mixer_mesh());
    let g = gen();
    let ls = g.build_listeners(&proxy, &push);
    for name in [
        "0.0.0.0_8080",
        "10.0.0.20_5432",
        "10.1.1.1_18080",
        "virtualOutbound",
    ] {
        let l = listener(&ls, name);
        let v3 = prost_types::Any {
            type_url: "type.googleapis.com/envoy.config.listener.v3.Listener".into(),
            value: l.encode_to_vec(),
        };
        let v2 = envoy_v2_api::downgrade(v3).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(v2.type_url, "type.googleapis.com/envoy.api.v2.Listener");
        let json = envoy_v2_api::to_json(&v2).expect("v2 JSON");
        let text = json.to_string();
        let mixer_type = if name.contains("5432") || name == "virtualOutbound" {
            "istio.mixer.v1.config.client.TcpClientConfig"
        } else {
            "istio.mixer.v1.config.client.HttpClientConfig"
        };
        assert!(text.contains(mixer_type), "{name}: {text}");
        assert!(text.contains("kubernetes://app-1.default"), "{name}");
    }
    let rcs = g.build_http_routes(&proxy, &push, &["8080".into()]);
    let v3 = prost_types::Any {
        type_url: "type.googleapis.com/envoy.config.route.v3.RouteConfiguration".into(),
        value: rcs[0].encode_to_vec(),
    };
    let v2 = envoy_v2_api::downgrade(v3).expect("route downgrade");
    let text = envoy_v2_api::to_json(&v2).expect("v2 JSON").to_string();
    assert!(
        text.contains("istio.mixer.v1.config.client.ServiceConfig"),
        "{text}"
    );
    assert!(text.contains("foo.default.svc.cluster.local"));
}
