//! xDS API versions: type URLs of v2 and v3 resources, and the rewrite that serves a v3
//! resource to a v2 client.
//!
//! Pilot generates Envoy v3 messages. Envoy 1.13 (Istio 1.4's proxy) speaks v2. v2 and v3
//! messages of the resources pilot emits share field numbers, so the bytes are the same and
//! only the type URLs differ: the top-level one and those of nested `Any` values.

use prost_types::Any;

use crate::networking::core::ResourceKind;

/// The API version of a type URL (and of the ADS service a connection came in on).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum XdsVersion {
    V2,
    V3,
}

impl XdsVersion {
    pub fn as_str(self) -> &'static str {
        match self {
            XdsVersion::V2 => "v2",
            XdsVersion::V3 => "v3",
        }
    }
}

pub const V2_CLUSTER: &str = "type.googleapis.com/envoy.api.v2.Cluster";
pub const V2_ENDPOINT: &str = "type.googleapis.com/envoy.api.v2.ClusterLoadAssignment";
pub const V2_LISTENER: &str = "type.googleapis.com/envoy.api.v2.Listener";
pub const V2_ROUTE: &str = "type.googleapis.com/envoy.api.v2.RouteConfiguration";
pub const V3_CLUSTER: &str = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
pub const V3_ENDPOINT: &str = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";
pub const V3_LISTENER: &str = "type.googleapis.com/envoy.config.listener.v3.Listener";
pub const V3_ROUTE: &str = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";

/// The type URL of `kind` in API `version`.
pub fn type_url(kind: ResourceKind, version: XdsVersion) -> &'static str {
    match (version, kind) {
        (XdsVersion::V2, ResourceKind::Cluster) => V2_CLUSTER,
        (XdsVersion::V2, ResourceKind::Endpoint) => V2_ENDPOINT,
        (XdsVersion::V2, ResourceKind::Listener) => V2_LISTENER,
        (XdsVersion::V2, ResourceKind::Route) => V2_ROUTE,
        (XdsVersion::V3, ResourceKind::Cluster) => V3_CLUSTER,
        (XdsVersion::V3, ResourceKind::Endpoint) => V3_ENDPOINT,
        (XdsVersion::V3, ResourceKind::Listener) => V3_LISTENER,
        (XdsVersion::V3, ResourceKind::Route) => V3_ROUTE,
    }
}

/// The kind and version of a request's type URL; `None` for types pilot does not serve.
pub fn parse_type_url(url: &str) -> Option<(ResourceKind, XdsVersion)> {
    [
        ResourceKind::Cluster,
        ResourceKind::Endpoint,
        ResourceKind::Listener,
        ResourceKind::Route,
    ]
    .into_iter()
    .flat_map(|k| [(k, XdsVersion::V2), (k, XdsVersion::V3)])
    .find(|(k, v)| type_url(*k, *v) == url)
}

/// Short name of a kind as used in metric labels and logs (`cds`, `eds`, `lds`, `rds`).
pub fn kind_short(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::Cluster => "cds",
        ResourceKind::Endpoint => "eds",
        ResourceKind::Listener => "lds",
        ResourceKind::Route => "rds",
    }
}

/// Why a resource cannot be served to a v2 client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DowngradeError {
    #[error("no Envoy v2 equivalent of resource type {0}")]
    UnknownType(String),
    #[error("resource does not decode: {0}")]
    Undecodable(String),
}

/// v3 type names (after `type.googleapis.com/`) and their v2 names, for the resources and the
/// typed configs pilot emits. Types shared by both versions (`google.protobuf.*`,
/// `udpa.type.v1.TypedStruct`) are not listed: they pass through unchanged.
const V3_TO_V2: &[(&str, &str)] = &[
    ("envoy.config.cluster.v3.Cluster", "envoy.api.v2.Cluster"),
    (
        "envoy.config.endpoint.v3.ClusterLoadAssignment",
        "envoy.api.v2.ClusterLoadAssignment",
    ),
    ("envoy.config.listener.v3.Listener", "envoy.api.v2.Listener"),
    (
        "envoy.config.route.v3.RouteConfiguration",
        "envoy.api.v2.RouteConfiguration",
    ),
    (
        "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "envoy.config.filter.network.http_connection_manager.v2.HttpConnectionManager",
    ),
    (
        "envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
        "envoy.config.filter.network.tcp_proxy.v2.TcpProxy",
    ),
    (
        "envoy.extensions.filters.network.mongo_proxy.v3.MongoProxy",
        "envoy.config.filter.network.mongo_proxy.v2.MongoProxy",
    ),
    (
        "envoy.extensions.filters.network.redis_proxy.v3.RedisProxy",
        "envoy.config.filter.network.redis_proxy.v2.RedisProxy",
    ),
    (
        "envoy.extensions.filters.network.mysql_proxy.v3.MySQLProxy",
        "envoy.config.filter.network.mysql_proxy.v1alpha1.MySQLProxy",
    ),
    (
        "envoy.extensions.filters.http.router.v3.Router",
        "envoy.config.filter.http.router.v2.Router",
    ),
    (
        "envoy.extensions.filters.http.cors.v3.Cors",
        "envoy.config.filter.http.cors.v2.Cors",
    ),
    (
        "envoy.extensions.filters.http.fault.v3.HTTPFault",
        "envoy.config.filter.http.fault.v2.HTTPFault",
    ),
    (
        "envoy.extensions.filters.http.grpc_web.v3.GrpcWeb",
        "envoy.config.filter.http.grpc_web.v2.GrpcWeb",
    ),
    (
        "envoy.extensions.access_loggers.file.v3.FileAccessLog",
        "envoy.config.accesslog.v2.FileAccessLog",
    ),
    (
        "envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
        "envoy.api.v2.auth.UpstreamTlsContext",
    ),
    (
        "envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
        "envoy.api.v2.auth.DownstreamTlsContext",
    ),
];

const TYPE_PREFIX: &str = "type.googleapis.com/";

/// The v2 type URL for a v3 one, from the table; URLs of types shared by both versions are
/// returned unchanged.
pub fn v2_type_url(v3_url: &str) -> Result<String, DowngradeError> {
    let name = v3_url.strip_prefix(TYPE_PREFIX).unwrap_or(v3_url);
    if let Some((_, v2)) = V3_TO_V2.iter().find(|(v3, _)| *v3 == name) {
        return Ok(format!("{TYPE_PREFIX}{v2}"));
    }
    if name.starts_with("google.protobuf.") || name.starts_with("udpa.type.") {
        return Ok(v3_url.to_owned());
    }
    Err(DowngradeError::UnknownType(v3_url.to_owned()))
}

/// Turns a v3 resource into the v2 resource a v2 client expects.
///
/// Every resource sent on a v2 connection goes through here (one call site, in the xDS
/// server's response cache). This rewrites the top-level type URL and, from the table, the
/// typed configs pilot nests in listeners (network, listener and HTTP filters, access logs,
/// transport sockets) and clusters (transport sockets). It does not check that every field
/// set also exists in v2: the descriptor-driven rewrite will replace this body.
pub fn downgrade(any: Any) -> Result<Any, DowngradeError> {
    let type_url = v2_type_url(&any.type_url)?;
    let value = match any.type_url.as_str() {
        V3_LISTENER => nested::listener(&any.value)?,
        V3_CLUSTER => nested::cluster(&any.value)?,
        _ => any.value,
    };
    Ok(Any { type_url, value })
}

/// Rewrites of nested `Any`s (Envoy's own `google.protobuf.Any` type).
mod nested {
    use envoy_types::pb::envoy::config::accesslog::v3::{access_log, AccessLog};
    use envoy_types::pb::envoy::config::cluster::v3::Cluster;
    use envoy_types::pb::envoy::config::core::v3::{transport_socket, TransportSocket};
    use envoy_types::pb::envoy::config::listener::v3::{
        filter, listener_filter, FilterChain, Listener,
    };
    use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::{
        http_filter, HttpConnectionManager,
    };
    use envoy_types::pb::google::protobuf::Any as EnvoyAny;
    use prost::Message;

    use super::{v2_type_url, DowngradeError};

    const HCM_V3: &str = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";

    fn decode<M: Message + Default>(bytes: &[u8]) -> Result<M, DowngradeError> {
        M::decode(bytes).map_err(|e| DowngradeError::Undecodable(e.to_string()))
    }

    /// Rewrites one nested `Any`: its URL from the table (unknown URLs are left alone), and an
    /// HTTP connection manager's own nested configs.
    fn any(a: &mut EnvoyAny) -> Result<(), DowngradeError> {
        if a.type_url == HCM_V3 {
            let mut hcm: HttpConnectionManager = decode(&a.value)?;
            for f in &mut hcm.http_filters {
                if let Some(http_filter::ConfigType::TypedConfig(t)) = &mut f.config_type {
                    any(t)?;
                }
            }
            access_logs(&mut hcm.access_log)?;
            a.value = hcm.encode_to_vec();
        }
        if let Ok(u) = v2_type_url(&a.type_url) {
            a.type_url = u;
        }
        Ok(())
    }

    fn access_logs(logs: &mut [AccessLog]) -> Result<(), DowngradeError> {
        for l in logs {
            if let Some(access_log::ConfigType::TypedConfig(t)) = &mut l.config_type {
                any(t)?;
            }
        }
        Ok(())
    }

    fn socket(ts: &mut Option<TransportSocket>) -> Result<(), DowngradeError> {
        if let Some(TransportSocket {
            config_type: Some(transport_socket::ConfigType::TypedConfig(t)),
            ..
        }) = ts
        {
            any(t)?;
        }
        Ok(())
    }

    fn chain(c: &mut FilterChain) -> Result<(), DowngradeError> {
        for f in &mut c.filters {
            if let Some(filter::ConfigType::TypedConfig(t)) = &mut f.config_type {
                any(t)?;
            }
        }
        socket(&mut c.transport_socket)
    }

    pub(super) fn listener(bytes: &[u8]) -> Result<Vec<u8>, DowngradeError> {
        let mut l: Listener = decode(bytes)?;
        for c in &mut l.filter_chains {
            chain(c)?;
        }
        if let Some(c) = &mut l.default_filter_chain {
            chain(c)?;
        }
        for f in &mut l.listener_filters {
            if let Some(listener_filter::ConfigType::TypedConfig(t)) = &mut f.config_type {
                any(t)?;
            }
        }
        access_logs(&mut l.access_log)?;
        Ok(l.encode_to_vec())
    }

    pub(super) fn cluster(bytes: &[u8]) -> Result<Vec<u8>, DowngradeError> {
        let mut c: Cluster = decode(bytes)?;
        socket(&mut c.transport_socket)?;
        for m in &mut c.transport_socket_matches {
            socket(&mut m.transport_socket)?;
        }
        Ok(c.encode_to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_typed_configs_of_listeners_and_clusters() {
        use envoy_types::pb::envoy::config::cluster::v3::Cluster;
        use envoy_types::pb::envoy::config::core::v3::{transport_socket, TransportSocket};
        use envoy_types::pb::envoy::config::listener::v3::{filter, Filter, FilterChain, Listener};
        use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::{
            http_filter, HttpConnectionManager, HttpFilter,
        };
        use envoy_types::pb::google::protobuf::Any as EAny;
        use prost::Message;
        let router = EAny {
            type_url: "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router".into(),
            value: vec![],
        };
        let hcm = HttpConnectionManager {
            stat_prefix: "x".into(),
            http_filters: vec![HttpFilter {
                name: "envoy.router".into(),
                config_type: Some(http_filter::ConfigType::TypedConfig(router)),
                ..Default::default()
            }],
            ..Default::default()
        };
        let l = Listener {
            name: "l".into(),
            filter_chains: vec![FilterChain {
                filters: vec![Filter {
                    name: "envoy.http_connection_manager".into(),
                    config_type: Some(filter::ConfigType::TypedConfig(EAny {
                        type_url: format!("{TYPE_PREFIX}envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"),
                        value: hcm.encode_to_vec(),
                    })),
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let v2 = downgrade(Any {
            type_url: V3_LISTENER.into(),
            value: l.encode_to_vec(),
        })
        .unwrap();
        let back = Listener::decode(v2.value.as_slice()).unwrap();
        let Some(filter::ConfigType::TypedConfig(t)) =
            &back.filter_chains[0].filters[0].config_type
        else {
            panic!("no typed config")
        };
        assert_eq!(
            t.type_url,
            "type.googleapis.com/envoy.config.filter.network.http_connection_manager.v2.HttpConnectionManager"
        );
        let hcm = HttpConnectionManager::decode(t.value.as_slice()).unwrap();
        let Some(http_filter::ConfigType::TypedConfig(r)) = &hcm.http_filters[0].config_type else {
            panic!("no router config")
        };
        assert_eq!(
            r.type_url,
            "type.googleapis.com/envoy.config.filter.http.router.v2.Router"
        );

        let c = Cluster {
            name: "c".into(),
            transport_socket: Some(TransportSocket {
                name: "tls".into(),
                config_type: Some(transport_socket::ConfigType::TypedConfig(EAny {
                    type_url: format!(
                        "{TYPE_PREFIX}envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext"
                    ),
                    value: vec![],
                })),
            }),
            ..Default::default()
        };
        let v2 = downgrade(Any {
            type_url: V3_CLUSTER.into(),
            value: c.encode_to_vec(),
        })
        .unwrap();
        assert_eq!(v2.type_url, V2_CLUSTER);
        let back = Cluster::decode(v2.value.as_slice()).unwrap();
        let Some(transport_socket::ConfigType::TypedConfig(t)) =
            back.transport_socket.unwrap().config_type
        else {
            panic!("no socket config")
        };
        assert_eq!(
            t.type_url,
            "type.googleapis.com/envoy.api.v2.auth.UpstreamTlsContext"
        );
    }

    #[test]
    fn type_urls_round_trip() {
        for kind in [
            ResourceKind::Cluster,
            ResourceKind::Endpoint,
            ResourceKind::Listener,
            ResourceKind::Route,
        ] {
            for v in [XdsVersion::V2, XdsVersion::V3] {
                assert_eq!(parse_type_url(type_url(kind, v)), Some((kind, v)));
            }
        }
        assert_eq!(
            parse_type_url("type.googleapis.com/envoy.api.v2.Secret"),
            None
        );
        assert_eq!(
            type_url(ResourceKind::Listener, XdsVersion::V2),
            V2_LISTENER
        );
    }

    #[test]
    fn downgrade_rewrites_top_level_url_and_keeps_bytes() {
        let any = Any {
            type_url: V3_ROUTE.into(),
            value: vec![10, 1, b'a'],
        };
        let v2 = downgrade(any).unwrap();
        assert_eq!(v2.type_url, V2_ROUTE);
        assert_eq!(v2.value, vec![10, 1, b'a']);
        for (v3, v2) in [
            (V3_ENDPOINT, V2_ENDPOINT),
            (V3_LISTENER, V2_LISTENER),
            (V3_ROUTE, V2_ROUTE),
        ] {
            assert_eq!(v2_type_url(v3).unwrap(), v2);
        }
        assert_eq!(
            v2_type_url("type.googleapis.com/google.protobuf.Struct").unwrap(),
            "type.googleapis.com/google.protobuf.Struct"
        );
        assert!(matches!(
            downgrade(Any {
                type_url: V3_LISTENER.into(),
                value: vec![0xff]
            }),
            Err(DowngradeError::Undecodable(_))
        ));
        assert!(matches!(
            downgrade(Any {
                type_url: "type.googleapis.com/envoy.config.bootstrap.v3.Bootstrap".into(),
                value: vec![]
            }),
            Err(DowngradeError::UnknownType(_))
        ));
    }
}
