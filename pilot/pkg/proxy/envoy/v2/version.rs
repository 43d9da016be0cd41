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
pub const V3_CLUSTER: &str = crate::networking::core::CLUSTER_TYPE_URL;
pub const V3_ENDPOINT: &str = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";
pub const V3_LISTENER: &str = crate::networking::core::LISTENER_TYPE_URL;
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
    /// The resource does not decode, or sets a field or enum value v2 does not have.
    #[error("{0}")]
    Invalid(String),
}

/// The v2 type URL for a v3 one; URLs of types shared by both versions (`google.protobuf.*`,
/// Istio's own configs) are returned unchanged.
pub fn v2_type_url(v3_url: &str) -> Result<String, DowngradeError> {
    envoy_v2_api::v2_type_url(v3_url)
        .map(str::to_owned)
        .ok_or_else(|| DowngradeError::UnknownType(v3_url.to_owned()))
}

/// Turns a v3 resource into the v2 resource a v2 client expects.
///
/// Every resource sent on a v2 connection goes through here (one call site, in the xDS
/// server's response cache). The rewrite walks the bytes with Envoy's v2 descriptors
/// (crate `envoy-v2-api`): the top-level and every nested `Any` type URL become v2 URLs,
/// and a field or enum value that v2 does not have is an error naming it, so a v2 proxy
/// never receives config it would misread.
pub fn downgrade(any: Any) -> Result<Any, DowngradeError> {
    if envoy_v2_api::v2_type_url(&any.type_url).is_none() {
        return Err(DowngradeError::UnknownType(any.type_url));
    }
    envoy_v2_api::downgrade(any).map_err(|e| DowngradeError::Invalid(e.to_string()))
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
                        type_url: "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager".to_string(),
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
                    type_url: "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext".to_string(),
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
            Err(DowngradeError::Invalid(_))
        ));
        assert!(matches!(
            downgrade(Any {
                type_url:
                    "type.googleapis.com/envoy.extensions.filters.http.nonexistent.v3.Nothing"
                        .into(),
                value: vec![]
            }),
            Err(DowngradeError::UnknownType(_))
        ));
    }
}
