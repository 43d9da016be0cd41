//! `downgrade` on a large sidecar listener (100 filter chains, each an HTTP connection manager
//! with mixer, RBAC-free filters and a router, plus access logs), against the same rewrite done
//! with prost-reflect's `DynamicMessage` (decode, rewrite each Any, encode).

use criterion::{criterion_group, criterion_main, Criterion};
use envoy_types::pb::envoy::config::accesslog::v3 as accesslog;
use envoy_types::pb::envoy::config::core::v3 as core;
use envoy_types::pb::envoy::config::listener::v3 as listener;
use envoy_types::pb::envoy::extensions::access_loggers::file::v3::FileAccessLog;
use envoy_types::pb::envoy::extensions::filters::http::fault::v3::HttpFault;
use envoy_types::pb::envoy::extensions::filters::http::router::v3::Router;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3 as hcm;
use envoy_types::pb::google::protobuf as pbwkt;
use prost::{Message, Name};
use prost_reflect::{DynamicMessage, ReflectMessage, Value};

fn any<M: Message + Name>(m: &M) -> pbwkt::Any {
    pbwkt::Any {
        type_url: M::type_url(),
        value: m.encode_to_vec(),
    }
}

fn big_listener() -> prost_types::Any {
    let chain = |i: u32| {
        let manager = hcm::HttpConnectionManager {
            stat_prefix: format!("inbound_10.0.0.1_{i}"),
            access_log: vec![accesslog::AccessLog {
                name: "envoy.file_access_log".into(),
                config_type: Some(accesslog::access_log::ConfigType::TypedConfig(any(
                    &FileAccessLog {
                        path: "/dev/stdout".into(),
                        ..Default::default()
                    },
                ))),
                ..Default::default()
            }],
            http_filters: vec![
                hcm::HttpFilter {
                    name: "envoy.fault".into(),
                    config_type: Some(hcm::http_filter::ConfigType::TypedConfig(any(
                        &HttpFault::default(),
                    ))),
                    ..Default::default()
                },
                hcm::HttpFilter {
                    name: "envoy.router".into(),
                    config_type: Some(hcm::http_filter::ConfigType::TypedConfig(any(
                        &Router::default(),
                    ))),
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        listener::FilterChain {
            filter_chain_match: Some(listener::FilterChainMatch {
                server_names: (0..5)
                    .map(|n| format!("host-{i}-{n}.example.com"))
                    .collect(),
                ..Default::default()
            }),
            filters: vec![listener::Filter {
                name: "envoy.http_connection_manager".into(),
                config_type: Some(listener::filter::ConfigType::TypedConfig(any(&manager))),
            }],
            ..Default::default()
        }
    };
    let l = listener::Listener {
        name: "virtualOutbound".into(),
        address: Some(core::Address {
            address: Some(core::address::Address::SocketAddress(core::SocketAddress {
                address: "0.0.0.0".into(),
                port_specifier: Some(core::socket_address::PortSpecifier::PortValue(15001)),
                ..Default::default()
            })),
        }),
        filter_chains: (0..100).map(chain).collect(),
        ..Default::default()
    };
    prost_types::Any {
        type_url: listener::Listener::type_url(),
        value: l.encode_to_vec(),
    }
}

/// The same rewrite through prost-reflect, for comparison.
fn reflect_downgrade(any: &prost_types::Any) -> prost_types::Any {
    fn fix(m: &mut DynamicMessage) {
        if m.descriptor().full_name() == "google.protobuf.Any" {
            let url = m
                .get_field_by_number(1)
                .unwrap()
                .as_str()
                .unwrap()
                .to_string();
            let v2 = envoy_v2_api::v2_type_url(&url).unwrap();
            let desc = envoy_v2_api::pool()
                .get_message_by_name(envoy_v2_api::type_name(v2))
                .unwrap();
            let bytes = m
                .get_field_by_number(2)
                .unwrap()
                .as_bytes()
                .unwrap()
                .clone();
            let mut inner = DynamicMessage::decode(desc, bytes).unwrap();
            fix(&mut inner);
            m.set_field_by_number(1, Value::String(v2.to_string()));
            m.set_field_by_number(2, Value::Bytes(inner.encode_to_vec().into()));
            return;
        }
        for (_, v) in m.fields_mut() {
            visit(v);
        }
    }
    fn visit(v: &mut Value) {
        match v {
            Value::Message(m) => fix(m),
            Value::List(l) => l.iter_mut().for_each(visit),
            Value::Map(m) => m.values_mut().for_each(visit),
            _ => {}
        }
    }
    let v2 = envoy_v2_api::v2_type_url(&any.type_url).unwrap();
    let desc = envoy_v2_api::pool()
        .get_message_by_name(envoy_v2_api::type_name(v2))
        .unwrap();
    let mut m = DynamicMessage::decode(desc, any.value.as_slice()).unwrap();
    fix(&mut m);
    prost_types::Any {
        type_url: v2.to_string(),
        value: m.encode_to_vec(),
    }
}

fn bench(c: &mut Criterion) {
    let l = big_listener();
    let wire = envoy_v2_api::downgrade(l.clone()).unwrap();
    // Both ways give the same bytes (the walk keeps field order; prost-reflect writes fields in
    // number order, which is also how prost encoded the input).
    assert_eq!(reflect_downgrade(&l), wire);
    let mut g = c.benchmark_group("downgrade");
    g.throughput(criterion::Throughput::Bytes(l.value.len() as u64));
    g.bench_function("wire_walk_listener_100_chains", |b| {
        b.iter(|| envoy_v2_api::downgrade(std::hint::black_box(l.clone())).unwrap())
    });
    g.bench_function("dynamic_message_listener_100_chains", |b| {
        b.iter(|| reflect_downgrade(std::hint::black_box(&l)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
