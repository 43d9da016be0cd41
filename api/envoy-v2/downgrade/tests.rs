use envoy_types::pb::envoy::config::core::v3 as core;
use envoy_types::pb::envoy::config::listener::v3 as listener;
use envoy_types::pb::envoy::extensions::filters::http::router::v3::Router;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3 as hcm;
use envoy_types::pb::envoy::extensions::filters::network::tcp_proxy::v3::{
    tcp_proxy::ClusterSpecifier, TcpProxy,
};
use envoy_types::pb::google::protobuf as pbwkt;
use prost::{Message, Name};
use prost_reflect::{DynamicMessage, ReflectMessage};

use super::*;

fn any_of<M: Message + Name>(m: &M) -> prost_types::Any {
    prost_types::Any {
        type_url: M::type_url(),
        value: m.encode_to_vec(),
    }
}

fn wkt_any<M: Message + Name>(m: &M) -> pbwkt::Any {
    pbwkt::Any {
        type_url: M::type_url(),
        value: m.encode_to_vec(),
    }
}

fn url(name: &str) -> String {
    format!("type.googleapis.com/{name}")
}

fn hcm_with_router() -> hcm::HttpConnectionManager {
    hcm::HttpConnectionManager {
        stat_prefix: "inbound_0.0.0.0_8080".into(),
        codec_type: hcm::http_connection_manager::CodecType::Auto as i32,
        http_filters: vec![
            hcm::HttpFilter {
                name: "mixer".into(),
                config_type: Some(hcm::http_filter::ConfigType::TypedConfig(pbwkt::Any {
                    type_url: url("istio.mixer.v1.config.client.HttpClientConfig"),
                    value: Vec::new(),
                })),
                ..Default::default()
            },
            hcm::HttpFilter {
                name: "envoy.router".into(),
                config_type: Some(hcm::http_filter::ConfigType::TypedConfig(wkt_any(
                    &Router {
                        dynamic_stats: Some(pbwkt::BoolValue { value: false }),
                        ..Default::default()
                    },
                ))),
                ..Default::default()
            },
        ],
        ..Default::default()
    }
}

fn listener_with(filters: Vec<listener::Filter>) -> listener::Listener {
    listener::Listener {
        name: "0.0.0.0_8080".into(),
        address: Some(core::Address {
            address: Some(core::address::Address::SocketAddress(core::SocketAddress {
                address: "0.0.0.0".into(),
                port_specifier: Some(core::socket_address::PortSpecifier::PortValue(8080)),
                ..Default::default()
            })),
        }),
        filter_chains: vec![listener::FilterChain {
            filters,
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn hcm_listener() -> listener::Listener {
    listener_with(vec![listener::Filter {
        name: "envoy.http_connection_manager".into(),
        config_type: Some(listener::filter::ConfigType::TypedConfig(wkt_any(
            &hcm_with_router(),
        ))),
    }])
}

/// Every type URL found in a v2 message, depth first.
fn type_urls(any: &prost_types::Any) -> Vec<String> {
    fn walk(m: &DynamicMessage, out: &mut Vec<String>) {
        if m.descriptor().full_name() == "google.protobuf.Any" {
            let url = m
                .get_field_by_number(1)
                .unwrap()
                .as_str()
                .unwrap()
                .to_string();
            out.push(url.clone());
            let bytes = m
                .get_field_by_number(2)
                .unwrap()
                .as_bytes()
                .unwrap()
                .clone();
            if let Some(d) = crate::pool().get_message_by_name(type_name(&url)) {
                walk(&DynamicMessage::decode(d, bytes).unwrap(), out);
            }
            return;
        }
        for (_, v) in m.fields() {
            visit(v, out);
        }
    }
    fn visit(v: &prost_reflect::Value, out: &mut Vec<String>) {
        match v {
            prost_reflect::Value::Message(m) => walk(m, out),
            prost_reflect::Value::List(l) => l.iter().for_each(|v| visit(v, out)),
            prost_reflect::Value::Map(m) => m.values().for_each(|v| visit(v, out)),
            _ => {}
        }
    }
    let mut out = vec![any.type_url.clone()];
    let d = crate::pool()
        .get_message_by_name(type_name(&any.type_url))
        .unwrap();
    walk(
        &DynamicMessage::decode(d, any.value.as_slice()).unwrap(),
        &mut out,
    );
    out
}

#[test]
fn nested_hcm_in_listener_is_rewritten() {
    let v3 = any_of(&hcm_listener());
    let v2 = downgrade(v3.clone()).unwrap();
    assert_eq!(
        type_urls(&v2),
        vec![
            url("envoy.api.v2.Listener"),
            url("envoy.config.filter.network.http_connection_manager.v2.HttpConnectionManager"),
            url("istio.mixer.v1.config.client.HttpClientConfig"),
            url("envoy.config.filter.http.router.v2.Router"),
        ]
    );
    check_v2(&v2).unwrap();
    // The v3 form is not v2.
    assert!(matches!(check_v2(&v3), Err(Error::NoV2Type { .. })));

    // Apart from the type URLs, the content is unchanged: the v2 bytes decode as the v3 message
    // once the URLs are mapped back.
    let back = listener::Listener::decode(v2.value.as_slice()).unwrap();
    let Some(listener::filter::ConfigType::TypedConfig(hcm_any)) =
        back.filter_chains[0].filters[0].config_type.clone()
    else {
        panic!("HCM config missing");
    };
    assert_eq!(
        hcm_any.type_url,
        url("envoy.config.filter.network.http_connection_manager.v2.HttpConnectionManager")
    );
    let got = hcm::HttpConnectionManager::decode(hcm_any.value.as_slice()).unwrap();
    assert_eq!(got.stat_prefix, "inbound_0.0.0.0_8080");
    assert_eq!(got.http_filters.len(), 2);
    let Some(hcm::http_filter::ConfigType::TypedConfig(router)) =
        got.http_filters[1].config_type.clone()
    else {
        panic!("router config missing");
    };
    assert_eq!(
        router.type_url,
        url("envoy.config.filter.http.router.v2.Router")
    );
    assert_eq!(
        Router::decode(router.value.as_slice())
            .unwrap()
            .dynamic_stats,
        Some(pbwkt::BoolValue { value: false })
    );
    assert_eq!(back.name, "0.0.0.0_8080");
}

#[test]
fn downgrade_is_idempotent_on_v2_input() {
    let v2 = downgrade(any_of(&hcm_listener())).unwrap();
    assert_eq!(downgrade(v2.clone()).unwrap(), v2);
}

#[test]
fn v3_only_field_is_reported_with_message_and_path() {
    let mut l = hcm_listener();
    l.stat_prefix = "lst".into(); // field 28: added after the v2 API froze
    let err = downgrade(any_of(&l)).unwrap_err();
    match &err {
        Error::V3OnlyField {
            message,
            field_number,
            ..
        } => {
            assert_eq!(message, "envoy.api.v2.Listener");
            assert_eq!(*field_number, 28);
        }
        e => panic!("unexpected {e}"),
    }

    // Deep inside: the router's v3-only field, within the HCM within the listener.
    let mut h = hcm_with_router();
    h.http_filters[1].config_type = Some(hcm::http_filter::ConfigType::TypedConfig(wkt_any(
        &Router {
            respect_expected_rq_timeout: true, // field 6: v3-only
            ..Default::default()
        },
    )));
    let l = listener_with(vec![listener::Filter {
        name: "envoy.http_connection_manager".into(),
        config_type: Some(listener::filter::ConfigType::TypedConfig(wkt_any(&h))),
    }]);
    let err = downgrade(any_of(&l)).unwrap_err();
    let Error::V3OnlyField {
        message,
        field_number,
        path,
    } = &err
    else {
        panic!("unexpected {err}");
    };
    assert_eq!(message, "envoy.config.filter.http.router.v2.Router");
    assert_eq!(*field_number, 6);
    assert_eq!(
        path.to_string(),
        "<envoy.api.v2.Listener>.filter_chains[0].filters[0].typed_config\
         <envoy.config.filter.network.http_connection_manager.v2.HttpConnectionManager>\
         .http_filters[1].typed_config<envoy.config.filter.http.router.v2.Router>"
    );
    assert!(err.to_string().contains("has no field 6"), "{err}");
}

#[test]
fn v3_only_enum_value_is_reported() {
    let mut h = hcm_with_router();
    h.codec_type = hcm::http_connection_manager::CodecType::Http2 as i32;
    downgrade(any_of(&h)).unwrap();
    // HTTP3 came with v3.
    h.codec_type = hcm::http_connection_manager::CodecType::Http3 as i32;
    match downgrade(any_of(&h)).unwrap_err() {
        Error::V3OnlyEnumValue {
            message,
            field,
            enum_name,
            value,
            ..
        } => {
            assert_eq!(
                message,
                "envoy.config.filter.network.http_connection_manager.v2.HttpConnectionManager"
            );
            assert_eq!(field, "codec_type");
            assert_eq!(
                enum_name,
                "envoy.config.filter.network.http_connection_manager.v2.HttpConnectionManager.CodecType"
            );
            assert_eq!(value, 3);
        }
        e => panic!("unexpected {e}"),
    }
}

#[test]
fn tcp_proxy_and_config_less_filters() {
    let tcp = TcpProxy {
        stat_prefix: "outbound|9000||a.default".into(),
        cluster_specifier: Some(ClusterSpecifier::Cluster("outbound|9000||a.default".into())),
        ..Default::default()
    };
    let mut l = listener_with(vec![listener::Filter {
        name: "envoy.tcp_proxy".into(),
        config_type: Some(listener::filter::ConfigType::TypedConfig(wkt_any(&tcp))),
    }]);
    l.listener_filters = vec![listener::ListenerFilter {
        name: "envoy.listener.tls_inspector".into(),
        config_type: Some(listener::listener_filter::ConfigType::TypedConfig(
            pbwkt::Any {
                type_url: url("envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector"),
                value: Vec::new(),
            },
        )),
        ..Default::default()
    }];
    let v2 = downgrade(any_of(&l)).unwrap();
    assert_eq!(
        type_urls(&v2),
        vec![
            url("envoy.api.v2.Listener"),
            url("envoy.config.filter.network.tcp_proxy.v2.TcpProxy"),
            url("google.protobuf.Empty"),
        ]
    );
}

#[test]
fn unknown_envoy_type_and_malformed_bytes() {
    let err = downgrade(prost_types::Any {
        type_url: url("envoy.extensions.filters.http.cache.v3.CacheConfig"),
        value: Vec::new(),
    })
    .unwrap_err();
    assert!(matches!(err, Error::NoV2Type { .. }), "{err}");

    let err = downgrade(prost_types::Any {
        type_url: url("envoy.config.listener.v3.Listener"),
        value: vec![0x0a, 0x05, b'a'], // name, length 5, one byte
    })
    .unwrap_err();
    assert!(matches!(err, Error::Malformed { .. }), "{err}");
}

#[test]
fn unknown_non_envoy_types_are_copied() {
    let any = prost_types::Any {
        type_url: url("example.Unknown"),
        value: vec![0x08, 0x01],
    };
    assert_eq!(downgrade(any.clone()).unwrap(), any);
}

#[test]
fn reader_varints() {
    let mut out = Vec::new();
    for v in [0u64, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
        out.clear();
        put_varint(&mut out, v);
        let mut r = Reader { buf: &out, pos: 0 };
        assert_eq!(r.varint(), Some(v));
        assert_eq!(r.pos, out.len());
    }
    let mut r = Reader {
        buf: &[0x80, 0x80],
        pos: 0,
    };
    assert_eq!(r.varint(), None);
}

#[test]
fn discovery_response_type_urls() {
    use envoy_types::pb::envoy::service::discovery::v3::DiscoveryResponse;
    let resp = DiscoveryResponse {
        version_info: "1".into(),
        resources: vec![wkt_any(&hcm_listener())],
        type_url: listener::Listener::type_url(),
        nonce: "n".into(),
        ..Default::default()
    };
    let v2 = downgrade(any_of(&resp)).unwrap();
    assert_eq!(v2.type_url, url("envoy.api.v2.DiscoveryResponse"));
    let back = DiscoveryResponse::decode(v2.value.as_slice()).unwrap();
    assert_eq!(back.type_url, url("envoy.api.v2.Listener"));
    assert_eq!(back.resources[0].type_url, url("envoy.api.v2.Listener"));
    assert_eq!(back.nonce, "n");
    check_v2(&v2).unwrap();
}

#[test]
fn cluster_with_tls_eds_and_version_selectors() {
    use envoy_types::pb::envoy::config::cluster::v3 as cluster;
    use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3::{
        CommonTlsContext, UpstreamTlsContext,
    };
    let tls = UpstreamTlsContext {
        common_tls_context: Some(CommonTlsContext {
            alpn_protocols: vec!["istio".into()],
            ..Default::default()
        }),
        sni: "outbound_.9080_._.reviews.default.svc.cluster.local".into(),
        ..Default::default()
    };
    let ads = |api_version: i32| core::ConfigSource {
        config_source_specifier: Some(core::config_source::ConfigSourceSpecifier::Ads(
            core::AggregatedConfigSource {},
        )),
        resource_api_version: api_version,
        ..Default::default()
    };
    let c = cluster::Cluster {
        name: "outbound|9080||reviews.default.svc.cluster.local".into(),
        cluster_discovery_type: Some(cluster::cluster::ClusterDiscoveryType::Type(
            cluster::cluster::DiscoveryType::Eds as i32,
        )),
        eds_cluster_config: Some(cluster::cluster::EdsClusterConfig {
            eds_config: Some(ads(core::ApiVersion::V3 as i32)),
            service_name: "outbound|9080||reviews.default.svc.cluster.local".into(),
        }),
        transport_socket: Some(core::TransportSocket {
            name: "envoy.transport_sockets.tls".into(),
            config_type: Some(core::transport_socket::ConfigType::TypedConfig(wkt_any(
                &tls,
            ))),
        }),
        ..Default::default()
    };
    let v2 = downgrade(any_of(&c)).unwrap();
    assert_eq!(
        type_urls(&v2),
        vec![
            url("envoy.api.v2.Cluster"),
            url("envoy.api.v2.auth.UpstreamTlsContext")
        ]
    );
    check_v2(&v2).unwrap();
    // resource_api_version was dropped: the v2 cluster equals one generated without it.
    let mut without = c.clone();
    without.eds_cluster_config.as_mut().unwrap().eds_config = Some(ads(0));
    assert_eq!(downgrade(any_of(&without)).unwrap(), v2);
    // check_v2 does not accept the v3 selector.
    let mut with_selector = v2.clone();
    with_selector.value = {
        let mut back = cluster::Cluster::decode(v2.value.as_slice()).unwrap();
        back.eds_cluster_config.as_mut().unwrap().eds_config = Some(ads(2));
        back.encode_to_vec()
    };
    assert!(matches!(
        check_v2(&with_selector),
        Err(Error::V3OnlyField {
            field_number: 6,
            ..
        })
    ));
}

#[test]
fn route_typed_per_filter_config_map() {
    use envoy_types::pb::envoy::config::route::v3 as route;
    let vh = route::VirtualHost {
        name: "reviews:9080".into(),
        domains: vec!["reviews".into()],
        typed_per_filter_config: [
            (
                "envoy.router".to_string(),
                wkt_any(&Router {
                    suppress_envoy_headers: true,
                    ..Default::default()
                }),
            ),
            (
                "envoy.bad".to_string(),
                wkt_any(&Router {
                    respect_expected_rq_timeout: true,
                    ..Default::default()
                }),
            ),
        ]
        .into_iter()
        .collect(),
        ..Default::default()
    };
    let rc = |vh: route::VirtualHost| route::RouteConfiguration {
        name: "9080".into(),
        virtual_hosts: vec![vh],
        ..Default::default()
    };
    let err = downgrade(any_of(&rc(vh.clone()))).unwrap_err();
    let Error::V3OnlyField { path, .. } = &err else {
        panic!("unexpected {err}");
    };
    assert!(
        path.to_string().starts_with(
            "<envoy.api.v2.RouteConfiguration>.virtual_hosts[0].typed_per_filter_config["
        ),
        "{path}"
    );
    let mut ok = vh;
    ok.typed_per_filter_config.remove("envoy.bad");
    let v2 = downgrade(any_of(&rc(ok))).unwrap();
    assert_eq!(
        type_urls(&v2),
        vec![
            url("envoy.api.v2.RouteConfiguration"),
            url("envoy.config.filter.http.router.v2.Router")
        ]
    );
}
