use prost::Message as _;
use serde_json::json;

use super::*;

fn url(name: &str) -> String {
    format!("type.googleapis.com/{name}")
}

#[test]
fn camel_case_like_protoc_gen_go() {
    for (proto, go) in [
        ("port_specifier", "PortSpecifier"),
        ("address", "Address"),
        ("config_source_specifier", "ConfigSourceSpecifier"),
        ("ads", "Ads"),
        ("ip_v4_compat", "IpV4Compat"),
        ("http2_protocol_options", "Http2ProtocolOptions"),
        ("x509_cert", "X509Cert"),
        ("host_rewrite", "HostRewrite"),
        ("_hidden", "XHidden"),
    ] {
        assert_eq!(go_camel_case(proto), go, "{proto}");
    }
}

/// A listener as upstream's Go dump writes it, hand-written.
fn go_listener() -> Json {
    json!({
        "name": "0.0.0.0_7071",
        "address": {"Address": {"SocketAddress": {
            "address": "0.0.0.0",
            "PortSpecifier": {"PortValue": 7071}
        }}},
        "filter_chains": [{
            "filter_chain_match": {"destination_port": {"value": 7071}},
            "filters": [{
                "name": "envoy.tcp_proxy",
                "ConfigType": {"Config": {"fields": {
                    "stat_prefix": {"Kind": {"StringValue": "inbound|7071"}},
                    "cluster": {"Kind": {"StringValue": "inbound|7071||a.ns"}},
                    "idle_timeout": {"Kind": {"StringValue": "3600s"}}
                }}}
            }]
        }],
        "listener_filters": null,
        "listener_filters_timeout": 5000000000u64,
        "drain_type": 1,
        "metadata": {"filter_metadata": {"istio": {"fields": {
            "n": {"Kind": {"NumberValue": 1.5}},
            "l": {"Kind": {"ListValue": {"values": [{"Kind": {"BoolValue": true}}]}}},
            "z": {"Kind": {"NullValue": 0}}
        }}}},
        "XXX_unrecognized": null,
        "XXX_sizecache": 0
    })
}

#[test]
fn go_json_listener_decodes() {
    let l = from_go_json("envoy.api.v2.Listener", &go_listener()).unwrap();
    let j = message_to_json(&l, &JsonOptions::default()).unwrap();
    assert_eq!(
        j,
        json!({
            "name": "0.0.0.0_7071",
            "address": {"socket_address": {"address": "0.0.0.0", "port_value": 7071}},
            "filter_chains": [{
                "filter_chain_match": {"destination_port": 7071},
                "filters": [{
                    "name": "envoy.tcp_proxy",
                    "config": {
                        "stat_prefix": "inbound|7071",
                        "cluster": "inbound|7071||a.ns",
                        "idle_timeout": "3600s"
                    }
                }]
            }],
            "listener_filters_timeout": "5s",
            "drain_type": "MODIFY_ONLY",
            "metadata": {"filter_metadata": {"istio": {"n": 1.5, "l": [true], "z": null}}}
        })
    );
}

#[test]
fn go_json_scalars_any_duration_and_zero_oneof_members() {
    let router = DynamicMessage::decode(
        descriptor("envoy.config.filter.http.router.v2.Router").unwrap(),
        &[0x10, 0x01][..], // start_child_span: true
    )
    .unwrap();
    let value = base64::engine::general_purpose::STANDARD.encode(router.encode_to_vec());
    let route = from_go_json(
        "envoy.api.v2.route.Route",
        &json!({
            "match": {"PathSpecifier": {"Prefix": "/"}},
            "Action": {"Route": {
                "ClusterSpecifier": {"Cluster": "outbound|80||a.ns"},
                "HostRewriteSpecifier": null,
                "timeout": 0,
                "max_grpc_timeout": {"seconds": 2, "nanos": 500},
                "retry_policy": {
                    "num_retries": {"value": 2},
                    "retriable_status_codes": [503],
                    "host_selection_retry_max_attempts": 3
                }
            }},
            "typed_per_filter_config": {"envoy.router": {"type_url": url("envoy.config.filter.http.router.v2.Router"), "value": value}},
            "request_headers_to_add": [{"header": {"key": "k", "value": "v"}, "append": {"value": false}}]
        }),
    )
    .unwrap();
    let j = message_to_json(&route, &JsonOptions::default()).unwrap();
    assert_eq!(
        j,
        json!({
            "match": {"prefix": "/"},
            "route": {
                "cluster": "outbound|80||a.ns",
                "timeout": "0s",
                "max_grpc_timeout": "2.000000500s",
                "retry_policy": {
                    "num_retries": 2,
                    "retriable_status_codes": [503],
                    "host_selection_retry_max_attempts": "3"
                }
            },
            "typed_per_filter_config": {"envoy.router": {
                "@type": url("envoy.config.filter.http.router.v2.Router"),
                "start_child_span": true
            }},
            "request_headers_to_add": [{"header": {"key": "k", "value": "v"}, "append": false}]
        })
    );

    // A oneof member set to its zero value is still set.
    let a = from_go_json(
        "envoy.api.v2.core.SocketAddress",
        &json!({"address": "1.2.3.4", "PortSpecifier": {"PortValue": 0}}),
    )
    .unwrap();
    assert!(a.has_field_by_name("port_value"));
}

#[test]
fn go_json_errors_name_the_place() {
    let err = from_go_json(
        "envoy.api.v2.Cluster",
        &json!({"name": "c", "load_assignment": {"endpoints": [{"lb_endpoints": [{"bogus": 1}]}]}}),
    )
    .unwrap_err();
    let s = err.to_string();
    assert!(s.contains("envoy.api.v2.endpoint.LbEndpoint"), "{s}");
    assert!(
        s.contains("load_assignment.endpoints[0].lb_endpoints[0].bogus"),
        "{s}"
    );

    let err = from_go_json(
        "envoy.api.v2.core.SocketAddress",
        &json!({"PortSpecifier": {"PortValue": 1, "NamedPort": "x"}}),
    )
    .unwrap_err();
    assert!(err.to_string().contains("one member"), "{err}");

    let err = from_go_json("envoy.api.v2.Cluster", &json!({"type": "x"})).unwrap_err();
    assert!(err.to_string().contains("enum value name"), "{err}");
    assert!(from_go_json("no.Such", &json!({})).is_err());
}

#[test]
fn go_json_map_of_messages() {
    let m = from_go_json_map(
        "envoy.api.v2.Cluster",
        &json!({"b": {"name": "b"}, "a": {"name": "a", "type": 3}}),
    )
    .unwrap();
    assert_eq!(m.keys().collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!(
        m["a"].get_field_by_name("type").unwrap().as_enum_number(),
        Some(3)
    );
}

fn cluster(j: Json) -> DynamicMessage {
    from_go_json("envoy.api.v2.Cluster", &j).unwrap()
}

#[test]
fn diff_reports_paths_and_values() {
    let e = cluster(json!({
        "name": "c", "type": 3, "connect_timeout": 1000000000u64,
        "circuit_breakers": {"thresholds": [{"max_retries": {"value": 1024}}]}
    }));
    let a = cluster(json!({
        "name": "c", "type": 1, "connect_timeout": {"seconds": 1},
        "circuit_breakers": {"thresholds": [{"max_retries": {"value": 10}}, {}]}
    }));
    assert_eq!(
        diff(&e, &a, &[]),
        vec![
            "type: expected 3 vs actual 1".to_string(),
            "circuit_breakers.thresholds[0].max_retries.value: expected 1024 vs actual 10"
                .to_string(),
            "circuit_breakers.thresholds[1]: expected (absent) vs actual {}".to_string(),
        ]
    );
    assert!(diff(&e, &e, &[]).is_empty());
    let unset = cluster(json!({"name": "c", "type": 3, "connect_timeout": 1000000000u64}));
    assert_eq!(
        diff(&e, &unset, &[]),
        vec![
            "circuit_breakers: expected {\"thresholds\":[{\"max_retries\":1024}]} vs actual (unset)"
                .to_string()
        ]
    );
}

#[test]
fn diff_unordered_fields() {
    let vh = |domains: Json| {
        from_go_json(
            "envoy.api.v2.RouteConfiguration",
            &json!({"name": "80", "virtual_hosts": [{"name": "a", "domains": domains}]}),
        )
        .unwrap()
    };
    let e = vh(json!(["a", "a:80", "a.ns"]));
    let a = vh(json!(["a.ns", "a", "a:80"]));
    assert_eq!(diff(&e, &a, &[]).len(), 3);
    assert!(diff(&e, &a, &["virtual_hosts.domains"]).is_empty());
    let b = vh(json!(["a.ns", "a"]));
    assert_eq!(
        diff(&e, &b, &["virtual_hosts.domains"]),
        vec!["virtual_hosts[0].domains[1]: expected \"a:80\" vs actual (absent)".to_string()]
    );

    // Elements paired by name when they differ.
    let rc = |hosts: Json| {
        from_go_json(
            "envoy.api.v2.RouteConfiguration",
            &json!({"virtual_hosts": hosts}),
        )
        .unwrap()
    };
    let e = rc(json!([{"name": "x", "domains": ["x"]}, {"name": "y", "domains": ["y"]}]));
    let a = rc(json!([{"name": "y", "domains": ["y2"]}, {"name": "x", "domains": ["x"]}]));
    assert_eq!(
        diff(&e, &a, &["virtual_hosts"]),
        vec!["virtual_hosts[name=\"y\"].domains[0]: expected \"y\" vs actual \"y2\"".to_string()]
    );
}

/// A filter configured by `config` (Struct, as upstream 1.4 did) equals the same configuration
/// given as a `typed_config` Any.
#[test]
fn diff_struct_config_against_typed_config() {
    let tcp_desc = descriptor("envoy.config.filter.network.tcp_proxy.v2.TcpProxy").unwrap();
    let tcp = |cluster: &str| {
        DynamicMessage::deserialize(
            tcp_desc.clone(),
            json!({"stat_prefix": "s", "cluster": cluster, "idle_timeout": "3600s"}),
        )
        .unwrap()
    };
    let typed = |cluster: &str| {
        let value = base64::engine::general_purpose::STANDARD.encode(tcp(cluster).encode_to_vec());
        from_go_json(
            "envoy.api.v2.listener.Filter",
            &json!({"name": "envoy.tcp_proxy", "ConfigType": {"TypedConfig": {
                "type_url": url("envoy.config.filter.network.tcp_proxy.v2.TcpProxy"),
                "value": value
            }}}),
        )
        .unwrap()
    };
    let structured = from_go_json(
        "envoy.api.v2.listener.Filter",
        &json!({"name": "envoy.tcp_proxy", "ConfigType": {"Config": {"fields": {
            "stat_prefix": {"Kind": {"StringValue": "s"}},
            "cluster": {"Kind": {"StringValue": "c1"}},
            "idle_timeout": {"Kind": {"StringValue": "3600s"}}
        }}}}),
    )
    .unwrap();
    assert!(diff(&structured, &typed("c1"), &[]).is_empty());
    assert!(diff(&typed("c1"), &structured, &[]).is_empty());
    assert_eq!(
        diff(&structured, &typed("c2"), &[]),
        vec![
            "typed_config<envoy.config.filter.network.tcp_proxy.v2.TcpProxy>.cluster: \
             expected \"c1\" vs actual \"c2\""
                .to_string()
        ]
    );

    // per_filter_config entries against typed_per_filter_config entries.
    let route = |j: Json| from_go_json("envoy.api.v2.route.VirtualHost", &j).unwrap();
    let router = DynamicMessage::deserialize(
        descriptor("envoy.config.filter.http.router.v2.Router").unwrap(),
        json!({"start_child_span": true}),
    )
    .unwrap();
    let value = base64::engine::general_purpose::STANDARD.encode(router.encode_to_vec());
    let e = route(
        json!({"name": "v", "per_filter_config": {"envoy.router": {"fields": {
            "start_child_span": {"Kind": {"BoolValue": true}}
        }}}}),
    );
    let a = route(
        json!({"name": "v", "typed_per_filter_config": {"envoy.router": {
            "type_url": url("envoy.config.filter.http.router.v2.Router"), "value": value
        }}}),
    );
    assert!(diff(&e, &a, &[]).is_empty(), "{:?}", diff(&e, &a, &[]));
    let other = route(
        json!({"name": "v", "per_filter_config": {"envoy.router": {"fields": {
            "start_child_span": {"Kind": {"BoolValue": false}}
        }}}}),
    );
    assert_eq!(
        diff(&other, &a, &[]),
        vec![
            "typed_per_filter_config[\"envoy.router\"]<envoy.config.filter.http.router.v2.Router>\
             .start_child_span: expected false vs actual true"
                .to_string()
        ]
    );
}

#[test]
fn diff_empty_config_equals_no_config() {
    let filter = |j: Json| {
        from_go_json(
            "envoy.config.filter.network.http_connection_manager.v2.HttpFilter",
            &j,
        )
        .unwrap()
    };
    let bare = filter(json!({"name": "envoy.router"}));
    let typed_empty = filter(
        json!({"name": "envoy.router", "ConfigType": {"TypedConfig": {
            "type_url": url("envoy.config.filter.http.router.v2.Router")
        }}}),
    );
    let struct_empty = filter(json!({"name": "envoy.router", "ConfigType": {"Config": {}}}));
    assert!(diff(&bare, &typed_empty, &[]).is_empty());
    assert!(diff(&typed_empty, &bare, &[]).is_empty());
    assert!(diff(&struct_empty, &bare, &[]).is_empty());
    assert!(diff(&struct_empty, &typed_empty, &[]).is_empty());
    let typed_set = filter(
        json!({"name": "envoy.router", "ConfigType": {"TypedConfig": {
            "type_url": url("envoy.config.filter.http.router.v2.Router"),
            "value": "EAE="
        }}}),
    );
    assert_eq!(
        diff(&bare, &typed_set, &[]),
        vec![
            "typed_config: expected (unset) vs actual {\"@type\":\"type.googleapis.com/envoy.config.filter.http.router.v2.Router\",\"start_child_span\":true}"
                .to_string()
        ]
    );
}

#[test]
fn config_types_name_real_messages() {
    for (parent, name, t) in CONFIG_TYPES {
        assert!(pool().get_message_by_name(t).is_some(), "{t}");
        if *parent != PER_FILTER {
            assert!(pool().get_message_by_name(parent).is_some(), "{parent}");
        }
        assert_eq!(config_type(parent, name), Some(*t));
    }
    assert_eq!(config_type(LISTENER_FILTER, "envoy.router"), None);
}

#[test]
fn struct_configs_become_typed() {
    let go = json!({
        "name": "l",
        "filter_chains": [{"filters": [{
            "name": "envoy.http_connection_manager",
            "ConfigType": {"Config": {"fields": {
                "stat_prefix": {"Kind": {"StringValue": "s"}},
                "http_filters": {"Kind": {"ListValue": {"values": [
                    {"Kind": {"StructValue": {"fields": {
                        "name": {"Kind": {"StringValue": "envoy.router"}},
                        "config": {"Kind": {"StructValue": {"fields": {
                            "suppress_envoy_headers": {"Kind": {"BoolValue": true}}
                        }}}}
                    }}}},
                    {"Kind": {"StructValue": {"fields": {
                        "name": {"Kind": {"StringValue": "unknown.filter"}},
                        "config": {"Kind": {"StructValue": {"fields": {
                            "x": {"Kind": {"BoolValue": true}}
                        }}}}
                    }}}}
                ]}}}
            }}}
        }]}]
    });
    let l = from_go_json("envoy.api.v2.Listener", &go).unwrap();
    let (typed, n) = with_typed_configs(&l).unwrap();
    assert_eq!(n, 2);
    assert!(
        diff(&l, &typed, &[]).is_empty(),
        "{:?}",
        diff(&l, &typed, &[])
    );
    let j = message_to_json(&typed, &JsonOptions::default()).unwrap();
    let hcm = &j["filter_chains"][0]["filters"][0]["typed_config"];
    assert_eq!(
        hcm["@type"],
        json!(url(
            "envoy.config.filter.network.http_connection_manager.v2.HttpConnectionManager"
        ))
    );
    assert_eq!(
        hcm["http_filters"][0]["typed_config"],
        json!({"@type": url("envoy.config.filter.http.router.v2.Router"), "suppress_envoy_headers": true})
    );
    // Unknown filters keep their Struct.
    assert_eq!(hcm["http_filters"][1]["config"], json!({"x": true}));

    // A Struct that does not fit its type is an error naming the place.
    let bad = json!({"name": "envoy.tcp_proxy", "ConfigType": {"Config": {"fields": {
        "no_such_field": {"Kind": {"BoolValue": true}}
    }}}});
    let f = from_go_json("envoy.api.v2.listener.Filter", &bad).unwrap();
    let err = with_typed_configs(&f).unwrap_err().to_string();
    assert!(
        err.contains("envoy.config.filter.network.tcp_proxy.v2.TcpProxy"),
        "{err}"
    );
    assert!(err.contains("no_such_field"), "{err}");
}
