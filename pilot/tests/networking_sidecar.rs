//! Sidecar CDS, LDS and RDS for plain services (expectations of upstream cluster_test.go,
//! listener_test.go, httproute_test.go and the `none` LDS test, as Rust tables).

mod networking_common;

use envoy_types::pb::envoy::config::cluster::v3::cluster;
use envoy_types::pb::envoy::config::core::v3::{address, config_source, socket_address};
use envoy_types::pb::envoy::config::endpoint::v3::lb_endpoint;
use envoy_types::pb::envoy::config::route::v3::{header_matcher, route, route_action};
use envoy_types::pb::envoy::extensions::filters::http::health_check::v3::HealthCheck;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::http_filter;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::http_connection_manager::RouteSpecifier;
use prost::Message;
use serde_json::json;

use istio_api::istio::mesh::v1alpha1::mesh_config::{
    outbound_traffic_policy::Mode, OutboundTrafficPolicy,
};
use istio_pilot::features::Features;
use istio_pilot::model::{PortList, Probe, Resolution};
use istio_pilot::networking::core::{ConfigGenerator, ConfigGeneratorImpl, ResourceKind};
use istio_pkg::config::mesh::default_mesh_config;

use networking_common::*;

const PROXY_IP: &str = "10.1.1.1";

/// The mesh of most tests: services in `default` and one private service elsewhere.
fn registry() -> Registry {
    let mut r = Registry::default();
    let svc_foo = r.add(kube_service(
        "foo",
        "default",
        "10.0.0.10",
        vec![
            port("http", 8080, "HTTP"),
            port("grpc", 9090, "GRPC"),
            port("dns", 53, "UDP"),
        ],
    ));
    r.endpoint(&svc_foo, 8080, PROXY_IP, 18080);
    r.endpoint(&svc_foo, 9090, PROXY_IP, 19090);
    r.add(kube_service(
        "db",
        "default",
        "10.0.0.20",
        vec![port("tcp", 5432, "TCP")],
    ));
    r.add(kube_service(
        "raw",
        "default",
        "10.0.0.30",
        vec![port("", 7000, "")],
    ));
    let ext = r.add(external_service(
        "ext.example.com",
        "default",
        "0.0.0.0",
        Resolution::DnsLb,
        vec![port("tls", 443, "TLS")],
    ));
    r.endpoint(&ext, 443, "ext.example.com", 443);
    let mut hl = kube_service(
        "hl",
        "default",
        "0.0.0.0",
        vec![port("http-web", 8000, "HTTP")],
    );
    hl.resolution = Resolution::Passthrough;
    r.add(hl);
    r.mgmt.insert(
        PROXY_IP.into(),
        PortList(vec![port("mgmt-http", 8081, "HTTP")]),
    );
    r
}

fn gen() -> ConfigGeneratorImpl {
    ConfigGeneratorImpl::new(features())
}

// ------------------------------------------------------------------------------------------
// CDS

#[test]
fn cds_names_and_order() {
    let env = default_env(registry());
    let push = networking_common::push(&env);
    let proxy = sidecar(&env, PROXY_IP, "default", json!({}));
    let cs = gen().build_clusters(&proxy, &push);
    // Order: outbound by service hostname, then the catch-all clusters, then inbound.
    let expected_order = [
        "outbound|5432||db.default.svc.cluster.local",
        "outbound|443||ext.example.com",
        "outbound|8080||foo.default.svc.cluster.local",
        "outbound|9090||foo.default.svc.cluster.local",
        "outbound|8000||hl.default.svc.cluster.local",
        "outbound|7000||raw.default.svc.cluster.local",
        "BlackHoleCluster",
        "PassthroughCluster",
        "inbound|8080|http|foo.default.svc.cluster.local",
        "inbound|9090|grpc|foo.default.svc.cluster.local",
        "inbound|8081|mgmt-http|mgmtCluster",
        "InboundPassthroughClusterIpv4",
    ];
    assert_eq!(names(&cs), expected_order);
}

#[test]
fn cds_cluster_types_and_defaults() {
    let env = default_env(registry());
    let push = networking_common::push(&env);
    let proxy = sidecar(&env, PROXY_IP, "default", json!({}));
    let cs = gen().build_clusters(&proxy, &push);
    let ty =
        |c: &envoy_types::pb::envoy::config::cluster::v3::Cluster| match c.cluster_discovery_type {
            Some(cluster::ClusterDiscoveryType::Type(t)) => t,
            _ => -1,
        };
    let one_sec = Some(envoy_types::pb::google::protobuf::Duration {
        seconds: 1,
        nanos: 0,
    });

    // EDS over ADS, named after the cluster.
    let http_cluster = cluster(&cs, "outbound|8080||foo.default.svc.cluster.local");
    assert_eq!(ty(http_cluster), cluster::DiscoveryType::Eds as i32);
    let eds = http_cluster.eds_cluster_config.as_ref().unwrap();
    assert_eq!(eds.service_name, http_cluster.name);
    let src = eds.eds_config.as_ref().unwrap();
    assert!(matches!(
        src.config_source_specifier,
        Some(config_source::ConfigSourceSpecifier::Ads(_))
    ));
    assert_eq!(src.initial_fetch_timeout.unwrap().seconds, 0);
    assert_eq!(http_cluster.connect_timeout, one_sec);
    assert_eq!(http_cluster.lb_policy, cluster::LbPolicy::RoundRobin as i32);
    assert!(http_cluster.load_assignment.is_none());
    #[allow(deprecated)]
    {
        assert!(http_cluster.http2_protocol_options.is_none());
    }
    let th = &http_cluster.circuit_breakers.as_ref().unwrap().thresholds[0];
    for v in [
        th.max_connections,
        th.max_pending_requests,
        th.max_requests,
        th.max_retries,
    ] {
        assert_eq!(v.unwrap().value, u32::MAX);
    }

    // gRPC: HTTP/2 upstream with Istio's stream limit.
    let grpc = cluster(&cs, "outbound|9090||foo.default.svc.cluster.local");
    #[allow(deprecated)]
    let h2 = grpc.http2_protocol_options.as_ref().unwrap();
    assert_eq!(h2.max_concurrent_streams.unwrap().value, 1_073_741_824);

    // Unnamed port with outbound sniffing: HTTP/2 options and the downstream protocol.
    let raw = cluster(&cs, "outbound|7000||raw.default.svc.cluster.local");
    #[allow(deprecated)]
    {
        assert!(raw.http2_protocol_options.is_some());
        assert_eq!(
            raw.protocol_selection,
            cluster::ClusterProtocolSelection::UseDownstreamProtocol as i32
        );
    }

    // DNS: STRICT_DNS, IPv4, mesh refresh rate, TTL respected, endpoints inline.
    let ext = cluster(&cs, "outbound|443||ext.example.com");
    assert_eq!(ty(ext), cluster::DiscoveryType::StrictDns as i32);
    #[allow(deprecated)]
    {
        assert_eq!(
            ext.dns_lookup_family,
            cluster::DnsLookupFamily::V4Only as i32
        );
        assert_eq!(ext.dns_refresh_rate.unwrap().seconds, 5);
        assert!(ext.respect_dns_ttl);
    }
    assert!(ext.eds_cluster_config.is_none());
    let la = ext.load_assignment.as_ref().unwrap();
    assert_eq!(la.cluster_name, ext.name);
    assert_eq!(la.endpoints.len(), 1);
    let lbe = &la.endpoints[0].lb_endpoints[0];
    assert_eq!(lbe.load_balancing_weight.unwrap().value, 1);
    assert_eq!(la.endpoints[0].load_balancing_weight.unwrap().value, 1);
    match &lbe.host_identifier {
        Some(lb_endpoint::HostIdentifier::Endpoint(e)) => {
            match &e.address.as_ref().unwrap().address {
                Some(address::Address::SocketAddress(s)) => {
                    assert_eq!(s.address, "ext.example.com");
                    assert_eq!(
                        s.port_specifier,
                        Some(socket_address::PortSpecifier::PortValue(443))
                    );
                }
                other => panic!("{other:?}"),
            }
        }
        other => panic!("{other:?}"),
    }

    // Passthrough (headless): original destination, cluster-provided LB.
    let hl = cluster(&cs, "outbound|8000||hl.default.svc.cluster.local");
    assert_eq!(ty(hl), cluster::DiscoveryType::OriginalDst as i32);
    assert_eq!(hl.lb_policy, cluster::LbPolicy::ClusterProvided as i32);

    // Catch-alls.
    let bh = cluster(&cs, "BlackHoleCluster");
    assert_eq!(ty(bh), cluster::DiscoveryType::Static as i32);
    assert_eq!(bh.connect_timeout, one_sec);
    assert!(bh.circuit_breakers.is_none());
    let pt = cluster(&cs, "PassthroughCluster");
    assert_eq!(ty(pt), cluster::DiscoveryType::OriginalDst as i32);
    assert_eq!(pt.lb_policy, cluster::LbPolicy::ClusterProvided as i32);
    assert!(pt.circuit_breakers.is_some());

    // Inbound: static to localhost on the endpoint port.
    let inb = cluster(&cs, "inbound|9090|grpc|foo.default.svc.cluster.local");
    assert_eq!(ty(inb), cluster::DiscoveryType::Static as i32);
    let la = inb.load_assignment.as_ref().unwrap();
    match &la.endpoints[0].lb_endpoints[0].host_identifier {
        Some(lb_endpoint::HostIdentifier::Endpoint(e)) => {
            match &e.address.as_ref().unwrap().address {
                Some(address::Address::SocketAddress(s)) => {
                    assert_eq!(s.address, "127.0.0.1");
                    assert_eq!(
                        s.port_specifier,
                        Some(socket_address::PortSpecifier::PortValue(19090))
                    );
                }
                other => panic!("{other:?}"),
            }
        }
        other => panic!("{other:?}"),
    }
    #[allow(deprecated)]
    {
        assert!(inb.http2_protocol_options.is_some());
    }
    let ipt = cluster(&cs, "InboundPassthroughClusterIpv4");
    let src = ipt
        .upstream_bind_config
        .as_ref()
        .unwrap()
        .source_address
        .as_ref()
        .unwrap();
    assert_eq!(src.address, "127.0.0.6");
}

#[test]
fn cds_version_and_feature_variants() {
    // Pre-1.3 proxies: ORIGINAL_DST_LB (4) and no DNS TTL.
    let env = default_env(registry());
    let push = networking_common::push(&env);
    let old = sidecar(&env, PROXY_IP, "default", json!({"ISTIO_VERSION": "1.2.4"}));
    let cs = gen().build_clusters(&old, &push);
    assert_eq!(cluster(&cs, "PassthroughCluster").lb_policy, 4);
    #[allow(deprecated)]
    {
        assert!(!cluster(&cs, "outbound|443||ext.example.com").respect_dns_ttl);
        // No sniffing for 1.2: unnamed ports are plain TCP.
        assert!(cluster(&cs, "outbound|7000||raw.default.svc.cluster.local")
            .http2_protocol_options
            .is_none());
    }

    // Outbound alt stat name from the mesh pattern.
    let mut mesh = default_mesh_config();
    mesh.outbound_cluster_stat_name = "%SERVICE%_%SERVICE_PORT_NAME%_%SERVICE_PORT%".into();
    mesh.inbound_cluster_stat_name = "in_%SERVICE_FQDN%".into();
    let env = networking_common::env(registry(), Store::default(), mesh);
    let push = networking_common::push(&env);
    let p = sidecar(&env, PROXY_IP, "default", json!({}));
    let cs = gen().build_clusters(&p, &push);
    assert_eq!(
        cluster(&cs, "outbound|8080||foo.default.svc.cluster.local").alt_stat_name,
        "foo.default_http_8080"
    );
    assert_eq!(
        cluster(&cs, "outbound|443||ext.example.com").alt_stat_name,
        "ext.example.com_tls_443"
    );
    assert_eq!(
        cluster(&cs, "inbound|8080|http|foo.default.svc.cluster.local").alt_stat_name,
        "in_foo.default.svc.cluster.local"
    );
}

// ------------------------------------------------------------------------------------------
// LDS

#[test]
fn lds_listener_set() {
    let env = default_env(registry());
    let push = networking_common::push(&env);
    let proxy = sidecar(&env, PROXY_IP, "default", json!({}));
    let ls = gen().build_listeners(&proxy, &push);
    let got: Vec<&str> = ls.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(
        got,
        vec![
            // inbound, then management
            "10.1.1.1_18080",
            "10.1.1.1_19090",
            "10.1.1.1_8081",
            // outbound: TCP first (db, ext, raw is sniffed so "HTTP" group), then HTTP
            "10.0.0.20_5432",
            "0.0.0.0_443",
            "0.0.0.0_8080",
            "0.0.0.0_9090",
            "0.0.0.0_8000",
            "10.0.0.30_7000",
            "virtualOutbound",
            "virtualInbound",
        ]
    );
}

#[test]
fn lds_outbound_http() {
    let env = default_env(registry());
    let push = networking_common::push(&env);
    let proxy = sidecar(&env, PROXY_IP, "default", json!({}));
    let ls = gen().build_listeners(&proxy, &push);
    let l = listener(&ls, "0.0.0.0_8080");
    #[allow(deprecated)]
    {
        let bind = l.deprecated_v1.as_ref().unwrap().bind_to_port.unwrap();
        assert!(!bind.value);
    }
    assert_eq!(l.traffic_direction, 2, "OUTBOUND");
    assert_eq!(l.listener_filters_timeout.unwrap().nanos, 100_000_000);
    assert!(l.continue_on_listener_filters_timeout);
    assert!(l.listener_filters.is_empty());
    assert_eq!(l.filter_chains.len(), 2);
    // The pod IP blackhole chain comes first.
    let bh = &l.filter_chains[0];
    let m = bh.filter_chain_match.as_ref().unwrap();
    assert_eq!(m.prefix_ranges.len(), 1);
    assert_eq!(m.prefix_ranges[0].address_prefix, PROXY_IP);
    assert_eq!(m.prefix_ranges[0].prefix_len.unwrap().value, 32);
    assert_eq!(tcp_cluster(&bh.filters[0]), "BlackHoleCluster");
    // Then HTTP over RDS.
    let fc = &l.filter_chains[1];
    assert!(fc.filter_chain_match.is_none());
    let h = hcm(&fc.filters[0]);
    assert_eq!(h.stat_prefix, "outbound_0.0.0.0_8080");
    match &h.route_specifier {
        Some(RouteSpecifier::Rds(r)) => {
            assert_eq!(r.route_config_name, "8080");
            assert!(matches!(
                r.config_source.as_ref().unwrap().config_source_specifier,
                Some(config_source::ConfigSourceSpecifier::Ads(_))
            ));
        }
        other => panic!("{other:?}"),
    }
    let filters: Vec<&str> = h.http_filters.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(filters, ["envoy.cors", "envoy.fault", "envoy.router"]);
    assert!(!h.use_remote_address.unwrap().value);
    assert!(h.normalize_path.unwrap().value);
    assert_eq!(h.stream_idle_timeout.unwrap().seconds, 0);
    assert_eq!(h.upgrade_configs[0].upgrade_type, "websocket");
    assert_eq!(h.access_log.len(), 1);
    assert_eq!(h.access_log[0].name, "envoy.file_access_log");
    // Tracing on (mesh default): sampling and request ids.
    let t = h.tracing.as_ref().unwrap();
    assert_eq!(t.random_sampling.unwrap().value, 100.0);
    assert!(h.generate_request_id.unwrap().value);
    assert!(h.set_current_client_cert_details.is_none());
}

#[test]
fn lds_outbound_tcp_tls_and_sniffed() {
    let env = default_env(registry());
    let push = networking_common::push(&env);
    let proxy = sidecar(&env, PROXY_IP, "default", json!({}));
    let ls = gen().build_listeners(&proxy, &push);

    // TCP service with a VIP: its own listener, one chain, no blackhole, no fallthrough.
    let db = listener(&ls, "10.0.0.20_5432");
    assert_eq!(db.filter_chains.len(), 1);
    assert!(db.filter_chains[0].filter_chain_match.is_none());
    let t = tcp(&db.filter_chains[0].filters[0]);
    assert_eq!(t.stat_prefix, "outbound|5432||db.default.svc.cluster.local");
    assert_eq!(t.access_log.len(), 1);

    // TLS without VIP: SNI match, TLS inspector, fallthrough to PassthroughCluster.
    let tls = listener(&ls, "0.0.0.0_443");
    let lf: Vec<&str> = tls
        .listener_filters
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(lf, ["envoy.listener.tls_inspector"]);
    assert_eq!(tls.filter_chains.len(), 3);
    assert_eq!(
        tls.filter_chains[1]
            .filter_chain_match
            .as_ref()
            .unwrap()
            .server_names,
        ["ext.example.com"]
    );
    assert_eq!(
        tcp_cluster(&tls.filter_chains[1].filters[0]),
        "outbound|443||ext.example.com"
    );
    let ft = &tls.filter_chains[2];
    assert_eq!(ft.filter_chain_match, Some(Default::default()));
    assert_eq!(tcp_cluster(&ft.filters[0]), "PassthroughCluster");
    let meta = &ft.metadata.as_ref().unwrap().filter_metadata["pilot_meta"];
    assert!(meta.fields.contains_key("fallthrough"));

    // Unnamed port: TCP and HTTP chains, inspectors, sniffed RDS name.
    let raw = listener(&ls, "10.0.0.30_7000");
    let lf: Vec<&str> = raw
        .listener_filters
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(
        lf,
        [
            "envoy.listener.tls_inspector",
            "envoy.listener.http_inspector"
        ]
    );
    assert_eq!(raw.filter_chains.len(), 2);
    assert_eq!(
        tcp_cluster(&raw.filter_chains[0].filters[0]),
        "outbound|7000||raw.default.svc.cluster.local"
    );
    let m = raw.filter_chains[1].filter_chain_match.as_ref().unwrap();
    assert_eq!(m.application_protocols, ["http/1.0", "http/1.1", "h2"]);
    match hcm(&raw.filter_chains[1].filters[0]).route_specifier {
        Some(RouteSpecifier::Rds(r)) => {
            assert_eq!(r.route_config_name, "raw.default.svc.cluster.local:7000")
        }
        other => panic!("{other:?}"),
    }
}

/// The health plugin: pass-through health check filters on the inbound HTTP chain for the
/// probes targeting its endpoint port or every port, none for other ports or TCP chains.
#[test]
fn lds_health_check_filters_for_probes() {
    use istio_pilot::networking::plugin::health::{HealthPlugin, HEALTH_CHECK};
    let mut reg = registry();
    let probe = |port: Option<u32>, path: &str| Probe {
        port: port.map(|p| networking_common::port(&format!("mgmt-{p}"), p, "HTTP")),
        path: path.into(),
    };
    reg.probes.insert(
        PROXY_IP.into(),
        vec![
            probe(Some(18080), "/ready"),
            probe(Some(18080), "/ready"),
            probe(Some(9999), "/other"),
            probe(None, "/metrics"),
        ],
    );
    let env = default_env(reg);
    let push = networking_common::push(&env);
    let proxy = sidecar(&env, PROXY_IP, "default", json!({}));
    let g = gen().with_plugin(std::sync::Arc::new(HealthPlugin));
    let ls = g.build_listeners(&proxy, &push);
    let inb = listener(&ls, "10.1.1.1_18080");
    let h = hcm(&inb.filter_chains[0].filters[0]);
    let names: Vec<&str> = h.http_filters.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            HEALTH_CHECK,
            HEALTH_CHECK,
            "envoy.cors",
            "envoy.fault",
            "envoy.router"
        ]
    );
    let paths: Vec<String> = h.http_filters[..2]
        .iter()
        .map(|f| {
            let any = match &f.config_type {
                Some(http_filter::ConfigType::TypedConfig(a)) => a,
                other => panic!("{other:?}"),
            };
            assert_eq!(
                any.type_url,
                "type.googleapis.com/envoy.extensions.filters.http.health_check.v3.HealthCheck"
            );
            let hc = HealthCheck::decode(any.value.as_slice()).unwrap();
            assert!(hc.pass_through_mode.unwrap().value);
            #[allow(deprecated)]
            match &hc.headers[0].header_match_specifier {
                Some(header_matcher::HeaderMatchSpecifier::ExactMatch(p)) => {
                    assert_eq!(hc.headers[0].name, ":path");
                    p.clone()
                }
                other => panic!("{other:?}"),
            }
        })
        .collect();
    assert_eq!(paths, ["/ready", "/metrics"]);
    // A v2 proxy receives it as the v2 health check config.
    let v2 = envoy_v2_api::downgrade(prost_types::Any {
        type_url: "type.googleapis.com/envoy.config.listener.v3.Listener".into(),
        value: inb.encode_to_vec(),
    })
    .unwrap();
    assert!(String::from_utf8_lossy(&v2.value)
        .contains("type.googleapis.com/envoy.config.filter.http.health_check.v2.HealthCheck"));
    // Without the plugin, no health check filter.
    let ls = gen().build_listeners(&proxy, &push);
    let h = hcm(&listener(&ls, "10.1.1.1_18080").filter_chains[0].filters[0]);
    assert!(h.http_filters.iter().all(|f| f.name != HEALTH_CHECK));
}

#[test]
fn lds_inbound_and_capture_listeners() {
    let env = default_env(registry());
    let push = networking_common::push(&env);
    let proxy = sidecar(&env, PROXY_IP, "default", json!({}));
    let ls = gen().build_listeners(&proxy, &push);

    // Inbound listeners are on the endpoint address and port.
    let inb = listener(&ls, "10.1.1.1_18080");
    assert_eq!(inb.traffic_direction, 1, "INBOUND");
    let h = hcm(&inb.filter_chains[0].filters[0]);
    assert_eq!(h.stat_prefix, "inbound_10.1.1.1_18080");
    assert_eq!(h.server_name, "istio-envoy");
    assert_eq!(h.forward_client_cert_details, 2, "APPEND_FORWARD");
    let cc = h.set_current_client_cert_details.as_ref().unwrap();
    assert!(cc.subject.unwrap().value && cc.uri && cc.dns);
    let rc = match h.route_specifier {
        Some(RouteSpecifier::RouteConfig(rc)) => rc,
        other => panic!("{other:?}"),
    };
    assert_eq!(rc.name, "inbound|8080|http|foo.default.svc.cluster.local");
    assert_eq!(rc.virtual_hosts[0].name, "inbound|http|8080");
    assert_eq!(rc.virtual_hosts[0].domains, ["*"]);
    let r = &rc.virtual_hosts[0].routes[0];
    assert_eq!(r.name, "default");
    assert_eq!(
        r.decorator.as_ref().unwrap().operation,
        "foo.default.svc.cluster.local:8080/*"
    );
    match &r.action {
        Some(route::Action::Route(a)) => {
            assert!(a.retry_policy.is_none());
            assert_eq!(a.timeout.unwrap().seconds, 0);
        }
        other => panic!("{other:?}"),
    }
    // gRPC inbound: HTTP/2 codec options.
    let g = hcm(&listener(&ls, "10.1.1.1_19090").filter_chains[0].filters[0]);
    assert!(g.http2_protocol_options.is_some());
    // Management port: TCP proxy to the management cluster.
    let mgmt = listener(&ls, "10.1.1.1_8081");
    assert_eq!(
        tcp_cluster(&mgmt.filter_chains[0].filters[0]),
        "inbound|8081|mgmt-http|mgmtCluster"
    );

    // virtualOutbound: original destination, blackhole for the pod IP, then passthrough.
    let vo = listener(&ls, "virtualOutbound");
    assert!(vo.use_original_dst.unwrap().value);
    match &vo.address.as_ref().unwrap().address {
        Some(address::Address::SocketAddress(s)) => {
            assert_eq!(s.address, "0.0.0.0");
            assert_eq!(
                s.port_specifier,
                Some(socket_address::PortSpecifier::PortValue(15001))
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(vo.filter_chains.len(), 2);
    assert_eq!(
        tcp_cluster(&vo.filter_chains[0].filters[0]),
        "BlackHoleCluster"
    );
    assert_eq!(
        tcp_cluster(&vo.filter_chains[1].filters[0]),
        "PassthroughCluster"
    );

    // virtualInbound: original_dst filter, passthrough chain, then every inbound chain.
    let vi = listener(&ls, "virtualInbound");
    assert!(vi.use_original_dst.is_none());
    assert_eq!(vi.listener_filters[0].name, "envoy.listener.original_dst");
    assert_eq!(vi.listener_filters_timeout.unwrap().seconds, 1);
    assert_eq!(
        tcp_cluster(&vi.filter_chains[0].filters[0]),
        "InboundPassthroughClusterIpv4"
    );
    let ports: Vec<u32> = vi.filter_chains[1..]
        .iter()
        .map(|c| {
            c.filter_chain_match
                .as_ref()
                .unwrap()
                .destination_port
                .unwrap()
                .value
        })
        .collect();
    // Sorted by original listener name.
    assert_eq!(ports, [18080, 19090, 8081]);
    let md = &vi.filter_chains[1]
        .metadata
        .as_ref()
        .unwrap()
        .filter_metadata["pilot_meta"];
    assert!(format!("{md:?}").contains("10.1.1.1_18080"));
}

#[test]
fn lds_registry_only_and_tproxy() {
    let mut mesh = default_mesh_config();
    mesh.outbound_traffic_policy = Some(OutboundTrafficPolicy {
        mode: Mode::RegistryOnly as i32,
    });
    let env = networking_common::env(registry(), Store::default(), mesh);
    let push = networking_common::push(&env);
    let proxy = sidecar(
        &env,
        PROXY_IP,
        "default",
        json!({"INTERCEPTION_MODE": "TPROXY"}),
    );
    let ls = gen().build_listeners(&proxy, &push);
    let vo = listener(&ls, "virtualOutbound");
    assert_eq!(
        tcp_cluster(&vo.filter_chains[1].filters[0]),
        "BlackHoleCluster"
    );
    assert!(vo.transparent.unwrap().value);
    // The TLS fallthrough chain blocks too, without access log.
    let tls = listener(&ls, "0.0.0.0_443");
    let t = tcp(&tls.filter_chains[2].filters[0]);
    assert_eq!(t.stat_prefix, "BlackHoleCluster");
    assert!(t.access_log.is_empty());
}

#[test]
fn lds_port_conflicts() {
    // (sniffing on?, services on port 9000, expected chain clusters of 0.0.0.0_9000 or None)
    let mk = |r: &mut Registry, name: &str, proto: &str| {
        r.add(kube_service(
            name,
            "default",
            "0.0.0.0",
            vec![port("p", 9000, proto)],
        ));
    };
    // Two HTTP services: one listener, both in RDS.
    let mut r = Registry::default();
    mk(&mut r, "a", "HTTP");
    mk(&mut r, "b", "HTTP");
    let env = default_env(r);
    let push = networking_common::push(&env);
    let p = sidecar(&env, PROXY_IP, "default", json!({}));
    let g = gen();
    let ls = g.build_listeners(&p, &push);
    assert_eq!(ls.iter().filter(|l| l.name == "0.0.0.0_9000").count(), 1);
    let rc = &g.build_http_routes(&p, &push, &["9000".into()])[0];
    let vh: Vec<&str> = rc.virtual_hosts.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(
        vh,
        [
            "a.default.svc.cluster.local:9000",
            "b.default.svc.cluster.local:9000",
            "allow_any"
        ]
    );

    // TCP then HTTP on the wildcard address.
    let mut r = Registry::default();
    mk(&mut r, "a", "TCP");
    mk(&mut r, "b", "HTTP");
    let env = default_env(r);
    let push = networking_common::push(&env);
    let p = sidecar(&env, PROXY_IP, "default", json!({}));
    // Without sniffing the HTTP service is dropped.
    let no_sniff = ConfigGeneratorImpl::new(Features {
        enable_protocol_sniffing_for_outbound: false,
        ..Features::default()
    });
    let l = listener(&no_sniff.build_listeners(&p, &push), "0.0.0.0_9000").clone();
    assert!(l
        .filter_chains
        .iter()
        .all(|c| c.filters.iter().all(|f| f.name == "envoy.tcp_proxy")));
    // With sniffing the chains merge: TCP chains, then HTTP chains with ALPN matches.
    let l = listener(&gen().build_listeners(&p, &push), "0.0.0.0_9000").clone();
    let lf: Vec<&str> = l.listener_filters.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        lf,
        [
            "envoy.listener.tls_inspector",
            "envoy.listener.http_inspector"
        ]
    );
    let kinds: Vec<&str> = l
        .filter_chains
        .iter()
        .map(|c| c.filters[0].name.as_str())
        .collect();
    assert_eq!(
        kinds,
        [
            "envoy.tcp_proxy",
            "envoy.tcp_proxy",
            "envoy.tcp_proxy",
            "envoy.http_connection_manager"
        ]
    );
    let last = l.filter_chains.last().unwrap();
    assert_eq!(
        last.filter_chain_match
            .as_ref()
            .unwrap()
            .application_protocols,
        ["http/1.0", "http/1.1", "h2"]
    );

    // Two TCP services without VIPs on the same port: the first wins.
    let mut r = Registry::default();
    mk(&mut r, "a", "TCP");
    mk(&mut r, "b", "TCP");
    let env = default_env(r);
    let push = networking_common::push(&env);
    let p = sidecar(&env, PROXY_IP, "default", json!({}));
    let l = listener(&gen().build_listeners(&p, &push), "0.0.0.0_9000").clone();
    assert_eq!(l.filter_chains.len(), 2);
    assert_eq!(
        tcp_cluster(&l.filter_chains[1].filters[0]),
        "outbound|9000||a.default.svc.cluster.local"
    );

    // HTTP on 443 is refused.
    let mut r = Registry::default();
    r.add(kube_service(
        "web",
        "default",
        "10.0.0.5",
        vec![port("http", 443, "HTTP")],
    ));
    let env = default_env(r);
    let push = networking_common::push(&env);
    let p = sidecar(&env, PROXY_IP, "default", json!({}));
    assert!(gen()
        .build_listeners(&p, &push)
        .iter()
        .all(|l| l.name != "0.0.0.0_443"));
}

#[test]
fn lds_shared_outbound_patched_per_proxy() {
    let env = default_env(registry());
    let push = networking_common::push(&env);
    let g = gen();
    let a = sidecar(&env, PROXY_IP, "default", json!({}));
    let b = sidecar(&env, "10.1.1.2", "default", json!({}));
    let la = g.build_listeners(&a, &push);
    let lb = g.build_listeners(&b, &push);
    let prefix = |ls: &[envoy_types::pb::envoy::config::listener::v3::Listener]| {
        listener(ls, "0.0.0.0_8080").filter_chains[0]
            .filter_chain_match
            .as_ref()
            .unwrap()
            .prefix_ranges[0]
            .address_prefix
            .clone()
    };
    assert_eq!(prefix(&la), PROXY_IP);
    assert_eq!(prefix(&lb), "10.1.1.2");
    // b has no instances: no inbound listeners.
    assert!(lb.iter().all(|l| !l.name.starts_with("10.1.1.2_")));
}

// ------------------------------------------------------------------------------------------
// RDS

#[test]
fn rds_outbound_route_configs() {
    let env = default_env(registry());
    let push = networking_common::push(&env);
    let proxy = sidecar(&env, PROXY_IP, "default", json!({}));
    let names: Vec<String> = [
        "8080",
        "raw.default.svc.cluster.local:7000",
        "http_proxy",
        "bogus",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let rcs = gen().build_http_routes(&proxy, &push, &names);
    assert_eq!(rcs.len(), 4);

    let rc = &rcs[0];
    assert_eq!(rc.name, "8080");
    assert!(!rc.validate_clusters.unwrap().value);
    let vh = &rc.virtual_hosts[0];
    assert_eq!(vh.name, "foo.default.svc.cluster.local:8080");
    assert_eq!(
        vh.domains,
        [
            "foo.default.svc.cluster.local",
            "foo.default.svc.cluster.local:8080",
            "foo",
            "foo:8080",
            "foo.default.svc.cluster",
            "foo.default.svc.cluster:8080",
            "foo.default.svc",
            "foo.default.svc:8080",
            "foo.default",
            "foo.default:8080",
            "10.0.0.10",
            "10.0.0.10:8080",
        ]
    );
    let r = &vh.routes[0];
    assert_eq!(r.name, "default");
    assert_eq!(
        r.decorator.as_ref().unwrap().operation,
        "foo.default.svc.cluster.local:8080/*"
    );
    match &r.action {
        Some(route::Action::Route(a)) => {
            assert_eq!(
                a.cluster_specifier,
                Some(route_action::ClusterSpecifier::Cluster(
                    "outbound|8080||foo.default.svc.cluster.local".into()
                ))
            );
            assert_eq!(a.timeout.unwrap().seconds, 0);
            let rp = a.retry_policy.as_ref().unwrap();
            assert_eq!(rp.retry_on, "connect-failure,refused-stream,unavailable,cancelled,resource-exhausted,retriable-status-codes");
        }
        other => panic!("{other:?}"),
    }
    let last = rc.virtual_hosts.last().unwrap();
    assert_eq!(last.name, "allow_any");
    assert_eq!(last.domains, ["*"]);

    // Sniffed route: only that service, no catch-all.
    let rc = &rcs[1];
    let vh: Vec<&str> = rc.virtual_hosts.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(vh, ["raw.default.svc.cluster.local:7000"]);

    // HTTP proxy: every HTTP port of every service; only port 80 keeps port-less domains.
    let rc = &rcs[2];
    let vh: Vec<&str> = rc.virtual_hosts.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(
        vh,
        [
            "foo.default.svc.cluster.local:8080",
            "foo.default.svc.cluster.local:9090",
            "hl.default.svc.cluster.local:8000",
            "raw.default.svc.cluster.local:7000",
            "allow_any"
        ]
    );
    assert!(rc.virtual_hosts[0].domains.iter().all(|d| d.contains(':')));
    // Headless Kubernetes service: wildcard domains for pod names.
    assert!(rc.virtual_hosts[2]
        .domains
        .contains(&"*.hl.default.svc.cluster.local:8000".to_string()));

    // Unknown names get an empty config with that name.
    assert_eq!(rcs[3].name, "bogus");
    assert!(rcs[3].virtual_hosts.is_empty());
}

#[test]
fn rds_registry_only_blocks() {
    let mut mesh = default_mesh_config();
    mesh.outbound_traffic_policy = Some(OutboundTrafficPolicy {
        mode: Mode::RegistryOnly as i32,
    });
    let env = networking_common::env(registry(), Store::default(), mesh);
    let push = networking_common::push(&env);
    let proxy = sidecar(&env, PROXY_IP, "default", json!({}));
    let rc = &gen().build_http_routes(&proxy, &push, &["8080".into()])[0];
    let last = rc.virtual_hosts.last().unwrap();
    assert_eq!(last.name, "block_all");
    match &last.routes[0].action {
        Some(route::Action::DirectResponse(d)) => assert_eq!(d.status, 502),
        other => panic!("{other:?}"),
    }
}

// ------------------------------------------------------------------------------------------
// Scope keys and v2 compatibility

#[test]
fn scope_keys_follow_inputs() {
    let mut r = registry();
    let svc_foo = r.services[0].clone();
    r.endpoint(&svc_foo, 8080, "10.1.1.2", 18080);
    r.endpoint(&svc_foo, 9090, "10.1.1.2", 19090);
    r.mgmt.insert(
        "10.1.1.2".into(),
        PortList(vec![port("mgmt-http", 8081, "HTTP")]),
    );
    let env = default_env(r);
    let push = networking_common::push(&env);
    let g = gen();
    let a = sidecar(&env, PROXY_IP, "default", json!({}));
    let b = sidecar(&env, "10.1.1.2", "default", json!({}));
    let c = sidecar(&env, "10.2.2.2", "other", json!({}));
    let k = |kind, p| g.scope_key(kind, p, &push);
    // Same service instances apart from the IP: same clusters and routes, not listeners.
    assert_eq!(k(ResourceKind::Cluster, &a), k(ResourceKind::Cluster, &b));
    assert_eq!(k(ResourceKind::Route, &a), k(ResourceKind::Route, &b));
    assert_ne!(k(ResourceKind::Listener, &a), k(ResourceKind::Listener, &b));
    assert_ne!(k(ResourceKind::Route, &a), k(ResourceKind::Route, &c));
    assert_ne!(k(ResourceKind::Cluster, &a), k(ResourceKind::Route, &a));
    // And equal keys do give equal output.
    assert_eq!(g.build_clusters(&a, &push), g.build_clusters(&b, &push));
    assert_eq!(
        g.build_http_routes(&a, &push, &["8080".into()]),
        g.build_http_routes(&b, &push, &["8080".into()])
    );
}

/// Default scopes of namespaces that see the same services share their clusters (and the
/// cached outbound build); a service exported only to its own namespace tells them apart.
#[test]
fn default_scopes_share_clusters_across_namespaces() {
    use istio_pilot::model::Visibility;
    let build = |private: bool| {
        let mut r = Registry::default();
        r.add(kube_service(
            "a",
            "ns-a",
            "10.0.0.1",
            vec![port("http", 80, "HTTP")],
        ));
        let mut b = kube_service("b", "ns-b", "10.0.0.2", vec![port("http", 81, "HTTP")]);
        if private {
            b.attributes.export_to.insert(Visibility::Private);
        }
        r.add(b);
        default_env(r)
    };
    let env = build(false);
    let push = networking_common::push(&env);
    let g = gen();
    let a = sidecar(&env, "10.1.0.1", "ns-a", json!({}));
    let c = sidecar(&env, "10.1.0.2", "ns-c", json!({}));
    assert_eq!(
        g.scope_key(ResourceKind::Cluster, &a, &push),
        g.scope_key(ResourceKind::Cluster, &c, &push)
    );
    assert_eq!(g.build_clusters(&a, &push), g.build_clusters(&c, &push));
    // Routes still differ: short names resolve in the proxy's namespace.
    assert_ne!(
        g.scope_key(ResourceKind::Route, &a, &push),
        g.scope_key(ResourceKind::Route, &c, &push)
    );

    let env = build(true);
    let push = networking_common::push(&env);
    let b = sidecar(&env, "10.1.0.3", "ns-b", json!({}));
    let c = sidecar(&env, "10.1.0.2", "ns-c", json!({}));
    assert_ne!(
        g.scope_key(ResourceKind::Cluster, &b, &push),
        g.scope_key(ResourceKind::Cluster, &c, &push)
    );
    let names = |p| {
        g.build_clusters(p, &push)
            .into_iter()
            .map(|c| c.name)
            .collect::<Vec<_>>()
    };
    assert!(names(&b).contains(&"outbound|81||b.ns-b.svc.cluster.local".to_string()));
    assert!(!names(&c).contains(&"outbound|81||b.ns-b.svc.cluster.local".to_string()));
}

/// Field numbers of the top-level v2 messages of Envoy 1.13 that we may send.
const V2_CLUSTER_FIELDS: &[u32] = &[
    1, 2, 3, 4, 5, 6, 8, 9, 10, 13, 14, 16, 17, 18, 19, 20, 21, 22, 24, 25, 26, 27, 28, 29, 30, 31,
    32, 33, 39, 40, 43, 44,
];
const V2_LISTENER_FIELDS: &[u32] = &[
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 15, 16, 17, 18, 19, 20, 21, 22,
];
const V2_HCM_FIELDS: &[u32] = &[
    1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27,
    28, 29, 30, 31, 32, 33, 34, 35,
];
const V2_ROUTE_CONFIG_FIELDS: &[u32] = &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

fn top_level_fields(mut b: &[u8]) -> Vec<u32> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let key = prost::encoding::decode_varint(&mut b).unwrap();
        out.push((key >> 3) as u32);
        match key & 7 {
            0 => {
                prost::encoding::decode_varint(&mut b).unwrap();
            }
            1 => b = &b[8..],
            5 => b = &b[4..],
            2 => {
                let n = prost::encoding::decode_varint(&mut b).unwrap() as usize;
                b = &b[n..];
            }
            w => panic!("wire type {w}"),
        }
    }
    out
}

#[test]
fn generated_messages_use_v2_fields_only() {
    // A cheap stand-in for a full v2 descriptor check: top-level field numbers of every
    // generated Cluster, Listener, HTTP connection manager and RouteConfiguration exist in
    // Envoy 1.13's v2 API.
    let mut mesh = default_mesh_config();
    mesh.tcp_keepalive = Some(Default::default());
    let env = networking_common::env(registry(), Store::default(), mesh);
    let push = networking_common::push(&env);
    let proxy = sidecar(
        &env,
        PROXY_IP,
        "default",
        json!({"IDLE_TIMEOUT": "30s", "HTTP10": "1"}),
    );
    let g = gen();
    for c in g.build_clusters(&proxy, &push) {
        for f in top_level_fields(&c.encode_to_vec()) {
            assert!(
                V2_CLUSTER_FIELDS.contains(&f),
                "cluster {} field {f}",
                c.name
            );
        }
    }
    let ls = g.build_listeners(&proxy, &push);
    let mut hcms = 0;
    for l in &ls {
        for f in top_level_fields(&l.encode_to_vec()) {
            assert!(
                V2_LISTENER_FIELDS.contains(&f),
                "listener {} field {f}",
                l.name
            );
        }
        for fc in &l.filter_chains {
            for filt in &fc.filters {
                if filt.name == "envoy.http_connection_manager" {
                    hcms += 1;
                    let fields = top_level_fields(typed(filt));
                    for f in &fields {
                        assert!(V2_HCM_FIELDS.contains(f), "HCM in {} field {f}", l.name);
                    }
                    // v2-only: idle_timeout (11) from metadata; EGRESS tracing on outbound.
                    assert!(fields.contains(&11), "{}", l.name);
                }
            }
        }
    }
    assert!(hcms > 0);
    for rc in g.build_http_routes(&proxy, &push, &["8080".into(), "http_proxy".into()]) {
        for f in top_level_fields(&rc.encode_to_vec()) {
            assert!(
                V2_ROUTE_CONFIG_FIELDS.contains(&f),
                "route {} field {f}",
                rc.name
            );
        }
    }
}

// ------------------------------------------------------------------------------------------
// Port conflicts (upstream listener_test.go TestOutboundListenerConflict_*)

/// (hostname, protocol, creation time) of a one-port service on 8080.
type AgedService = (&'static str, &'static str, i64);

fn aged(
    host: &str,
    ip: &str,
    proto: &str,
    port_number: u32,
    age: i64,
) -> istio_pilot::model::Service {
    let mut s = external_service(
        host,
        "default",
        ip,
        Resolution::DnsLb,
        vec![port("default", port_number, proto)],
    );
    s.creation_time = age;
    s
}

fn outbound_only(
    g: &ConfigGeneratorImpl,
    services: Vec<istio_pilot::model::Service>,
) -> Vec<envoy_types::pb::envoy::config::listener::v3::Listener> {
    let mut r = Registry::default();
    for s in services {
        r.add(s);
    }
    let env = default_env(r);
    let push = networking_common::push(&env);
    let p = sidecar(&env, "1.1.1.1", "default", json!({}));
    g.build_listeners(&p, &push)
        .into_iter()
        .filter(|l| !l.name.starts_with("virtual"))
        .collect()
}

fn chain_kinds(l: &envoy_types::pb::envoy::config::listener::v3::Listener) -> Vec<&str> {
    l.filter_chains
        .iter()
        .map(|c| match c.filters[0].name.as_str() {
            "envoy.http_connection_manager" => "http",
            _ if c
                .filter_chain_match
                .as_ref()
                .is_some_and(|m| !m.prefix_ranges.is_empty()) =>
            {
                "blackhole"
            }
            _ => "tcp",
        })
        .collect()
}

#[test]
fn outbound_conflicts_with_sniffing() {
    // (services as (host, protocol, age), expected chains of the single 0.0.0.0_8080)
    let cases: &[(&str, &[AgedService], &[&str])] = &[
        (
            "HTTP with current unknown",
            &[
                ("test1.com", "HTTP", 1),
                ("test2.com", "", 0),
                ("test3.com", "HTTP", 2),
            ],
            &["blackhole", "tcp", "http"],
        ),
        (
            "TCP with current unknown",
            &[
                ("test1.com", "TCP", 1),
                ("test2.com", "", 0),
                ("test3.com", "TCP", 2),
            ],
            &["blackhole", "tcp", "http"],
        ),
        (
            "unknown with current TCP",
            &[
                ("test1.com", "", 1),
                ("test2.com", "TCP", 0),
                ("test3.com", "", 2),
            ],
            &["blackhole", "tcp", "http"],
        ),
        (
            "unknown with current HTTP",
            &[
                ("test1.com", "", 1),
                ("test2.com", "HTTP", 0),
                ("test3.com", "", 2),
            ],
            &["blackhole", "tcp", "http"],
        ),
        (
            "HTTP with current MySQL (well-known port)",
            &[("test1.com", "HTTP", 1), ("test2.com", "MySQL", 0)],
            &["blackhole", "tcp"],
        ),
    ];
    for (name, svcs, want) in cases {
        let services = svcs
            .iter()
            .map(|(h, p, age)| aged(h, "0.0.0.0", p, 8080, *age))
            .collect();
        let ls = outbound_only(&gen(), services);
        assert_eq!(
            ls.len(),
            1,
            "{name}: {:?}",
            ls.iter().map(|l| &l.name).collect::<Vec<_>>()
        );
        let l = &ls[0];
        assert_eq!(l.name, "0.0.0.0_8080", "{name}");
        assert_eq!(chain_kinds(l), *want, "{name}");
        if want.contains(&"http") {
            let lf: Vec<&str> = l.listener_filters.iter().map(|f| f.name.as_str()).collect();
            assert_eq!(
                lf,
                [
                    "envoy.listener.tls_inspector",
                    "envoy.listener.http_inspector"
                ],
                "{name}"
            );
            let http = l.filter_chains.last().unwrap();
            assert_eq!(
                http.filter_chain_match
                    .as_ref()
                    .unwrap()
                    .application_protocols,
                ["http/1.0", "http/1.1", "h2"],
                "{name}"
            );
            match hcm(&http.filters[0]).route_specifier {
                Some(RouteSpecifier::Rds(r)) => assert_eq!(r.route_config_name, "8080", "{name}"),
                other => panic!("{name}: {other:?}"),
            }
        }
    }
}

#[test]
fn outbound_conflicts_without_sniffing() {
    let no_sniff = ConfigGeneratorImpl::new(Features {
        enable_protocol_sniffing_for_outbound: false,
        ..Features::default()
    });
    // (services, whether the surviving listener is HTTP): the oldest service keeps the port;
    // with equal ages the first (by hostname) wins.
    let cases: &[(&str, &[AgedService], bool)] = &[
        (
            "HTTP with current TCP",
            &[
                ("test1.com", "HTTP", 1),
                ("test2.com", "TCP", 0),
                ("test3.com", "HTTP", 2),
            ],
            false,
        ),
        (
            "TCP with current HTTP",
            &[
                ("test1.com", "TCP", 1),
                ("test2.com", "HTTP", 0),
                ("test3.com", "TCP", 2),
            ],
            true,
        ),
        (
            "unordered",
            &[
                ("test1.com", "HTTP", 0),
                ("test2.com", "TCP", 0),
                ("test3.com", "TCP", 0),
            ],
            true,
        ),
    ];
    for (name, svcs, want_http) in cases {
        let services = svcs
            .iter()
            .map(|(h, p, age)| aged(h, "0.0.0.0", p, 8080, *age))
            .collect();
        let ls = outbound_only(&no_sniff, services);
        assert_eq!(ls.len(), 1, "{name}");
        assert_eq!(chain_kinds(&ls[0]).contains(&"http"), *want_http, "{name}");
    }
}

#[test]
fn outbound_routes_per_sniffed_vip() {
    // Upstream TestOutboundListenerRouteV13: sniffed ports on VIPs get per-service routes.
    let ls = outbound_only(
        &gen(),
        vec![
            aged("test1.com", "1.2.3.4", "", 8080, 1),
            aged("test2.com", "2.3.4.5", "HTTP", 8080, 0),
            aged("test3.com", "3.4.5.6", "", 8080, 2),
        ],
    );
    let rds = |name: &str| {
        let l = listener(&ls, name);
        let http = l
            .filter_chains
            .iter()
            .find(|c| c.filters[0].name == "envoy.http_connection_manager")
            .unwrap();
        match hcm(&http.filters[0]).route_specifier {
            Some(RouteSpecifier::Rds(r)) => r.route_config_name,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(ls.len(), 3);
    assert_eq!(rds("0.0.0.0_8080"), "8080");
    assert_eq!(rds("1.2.3.4_8080"), "test1.com:8080");
    assert_eq!(rds("3.4.5.6_8080"), "test3.com:8080");
}

#[test]
fn outbound_http_over_https_port() {
    let cases = [
        ("HTTP", Vec::<&str>::new()),
        ("HTTPS", vec!["0.0.0.0_443"]),
        ("TCP", vec!["0.0.0.0_443"]),
    ];
    for (proto, want) in cases {
        let ls = outbound_only(&gen(), vec![aged("test1.com", "0.0.0.0", proto, 443, 1)]);
        let got: Vec<&str> = ls.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(got, want, "{proto} on 443");
    }
}

// ------------------------------------------------------------------------------------------
// Headless services and CIDR addresses

#[test]
fn headless_tcp_services_get_listeners_per_endpoint() {
    // Upstream TestOutboundListenerForHeadlessServices: a Kubernetes headless TCP service gets
    // one listener per endpoint, except the proxy's own.
    let mut r = Registry::default();
    let mut hl = kube_service("db", "default", "0.0.0.0", vec![port("mysql", 3306, "TCP")]);
    hl.resolution = Resolution::Passthrough;
    let hl = r.add(hl);
    for ip in ["10.1.1.1", "10.1.1.5", "10.1.1.6"] {
        r.endpoint(&hl, 3306, ip, 3306);
    }
    let env = default_env(r);
    let push = networking_common::push(&env);
    let g = gen();
    let outbound = |ip: &str| -> Vec<String> {
        let p = sidecar(&env, ip, "default", json!({}));
        g.build_listeners(&p, &push)
            .into_iter()
            .filter(|l| l.traffic_direction == 2)
            .map(|l| l.name)
            .collect()
    };
    assert_eq!(outbound("10.1.1.1"), ["10.1.1.5_3306", "10.1.1.6_3306"]);
    assert_eq!(
        outbound("10.1.1.9"),
        ["10.1.1.1_3306", "10.1.1.5_3306", "10.1.1.6_3306"]
    );
    let p = sidecar(&env, "10.1.1.9", "default", json!({}));
    let ls = g.build_listeners(&p, &push);
    assert_eq!(
        tcp_cluster(&listener(&ls, "10.1.1.5_3306").filter_chains[0].filters[0]),
        "outbound|3306||db.default.svc.cluster.local"
    );
}

#[test]
fn cidr_addresses_listen_on_wildcard_with_a_prefix_match() {
    let mut r = Registry::default();
    r.add(external_service(
        "net.example.com",
        "default",
        "192.168.0.0/16",
        Resolution::Passthrough,
        vec![port("tcp", 6000, "TCP")],
    ));
    let env = default_env(r);
    let push = networking_common::push(&env);
    let p = sidecar(&env, PROXY_IP, "default", json!({}));
    let ls = gen().build_listeners(&p, &push);
    let l = listener(&ls, "0.0.0.0_6000");
    // blackhole for the pod IP, the CIDR chain, then the fallthrough.
    assert_eq!(l.filter_chains.len(), 3);
    let m = l.filter_chains[1].filter_chain_match.as_ref().unwrap();
    assert_eq!(m.prefix_ranges[0].address_prefix, "192.168.0.0");
    assert_eq!(m.prefix_ranges[0].prefix_len.unwrap().value, 16);
    assert_eq!(
        tcp_cluster(&l.filter_chains[2].filters[0]),
        "PassthroughCluster"
    );
}
