//! The v3 ⇄ v2 type URL table.
//!
//! Pairs come from the `previous_message_type` annotations of Envoy's v3 protos (generated into
//! `type_table.rs` by `scripts/gen_type_table.py`), kept where the v2 message exists in the
//! vendored v2 API. Types outside Envoy's namespaces (`google.protobuf.*`, `istio.*`, …) are the
//! same in both versions and map to themselves.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::type_table::V3_TO_V2;

/// The prefix of every type URL pilot sends.
pub const TYPE_URL_PREFIX: &str = "type.googleapis.com/";

/// v3 filter configs whose v2 filter (Envoy 1.12/1.13) had no config message: the filter
/// factories took `google.protobuf.Empty`. An empty value of one of these becomes an `Empty`.
pub(crate) const EMPTY_IN_V2: &[&str] = &[
    "envoy.extensions.filters.http.cors.v3.Cors",
    "envoy.extensions.filters.http.grpc_http1_bridge.v3.Config",
    "envoy.extensions.filters.http.grpc_web.v3.GrpcWeb",
    "envoy.extensions.filters.listener.http_inspector.v3.HttpInspector",
    "envoy.extensions.filters.listener.original_dst.v3.OriginalDst",
    "envoy.extensions.filters.listener.proxy_protocol.v3.ProxyProtocol",
    "envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector",
    "envoy.extensions.filters.network.sni_cluster.v3.SniCluster",
    "envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer",
];

/// The v2 type of the filters in [`EMPTY_IN_V2`].
pub(crate) const EMPTY: &str = "google.protobuf.Empty";

/// Pairs that are not in the v3 protos' annotations: Envoy's contrib filters (not in
/// envoy-types, but pilot may build them by hand).
const EXTRA_V3_TO_V2: &[(&str, &str)] = &[(
    "envoy.extensions.filters.network.mysql_proxy.v3.MySQLProxy",
    "envoy.config.filter.network.mysql_proxy.v1alpha1.MySQLProxy",
)];

struct Tables {
    v3_to_v2: HashMap<&'static str, &'static str>,
    v2_to_v3: HashMap<&'static str, &'static str>,
    /// Full type URLs, so the `&'static str` answers need no allocation per call.
    v2_urls: HashMap<&'static str, &'static str>,
    v3_urls: HashMap<&'static str, &'static str>,
}

fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| {
        let mut v3_to_v2 = HashMap::new();
        let mut v2_to_v3 = HashMap::new();
        for &(v3, v2) in V3_TO_V2.iter().chain(EXTRA_V3_TO_V2) {
            v3_to_v2.insert(v3, v2);
            v2_to_v3.insert(v2, v3);
        }
        let url = |name: &str| -> &'static str {
            Box::leak(format!("{TYPE_URL_PREFIX}{name}").into_boxed_str())
        };
        let v2_urls = v3_to_v2.values().map(|&v2| (v2, url(v2))).collect();
        let v3_urls = v2_to_v3.values().map(|&v3| (v3, url(v3))).collect();
        Tables {
            v3_to_v2,
            v2_to_v3,
            v2_urls,
            v3_urls,
        }
    })
}

/// The message name of a type URL: what follows its last `/`.
pub fn type_name(type_url: &str) -> &str {
    type_url.rsplit_once('/').map_or(type_url, |(_, n)| n)
}

/// Whether a message name is Envoy's own (versioned by Envoy), rather than Google's, Istio's or
/// another project's, which are the same in v2 and v3.
fn is_envoy(name: &str) -> bool {
    name.starts_with("envoy.")
}

/// The v2 message name for a v3 one (or the name itself for non-Envoy types).
pub(crate) fn v2_name(v3: &str) -> Option<&'static str> {
    if let Some(v2) = tables().v3_to_v2.get(v3) {
        return Some(v2);
    }
    None
}

/// The v2 type URL for a v3 type URL: `type.googleapis.com/envoy.config.listener.v3.Listener`
/// gives `type.googleapis.com/envoy.api.v2.Listener`. Types that are not Envoy's
/// (`google.protobuf.*`, `istio.*`, …) map to themselves. `None` when an Envoy type has no v2
/// counterpart (v2 names are not accepted either: this maps from v3 only).
pub fn v2_type_url(v3_type_url: &str) -> Option<&'static str> {
    let name = type_name(v3_type_url);
    if !is_envoy(name) {
        return Some(self_url(name));
    }
    let v2 = v2_name(name)?;
    tables().v2_urls.get(v2).copied()
}

/// The v3 type URL for a v2 type URL (the reverse of [`v2_type_url`]).
pub fn v3_type_url(v2_type_url: &str) -> Option<&'static str> {
    let name = type_name(v2_type_url);
    if !is_envoy(name) {
        return Some(self_url(name));
    }
    let v3 = tables().v2_to_v3.get(name)?;
    tables().v3_urls.get(v3).copied()
}

/// `type.googleapis.com/<name>` as a `&'static str`, interned once per name.
fn self_url(name: &str) -> &'static str {
    use std::sync::Mutex;
    static URLS: OnceLock<Mutex<HashMap<String, &'static str>>> = OnceLock::new();
    let urls = URLS.get_or_init(Default::default);
    let mut urls = match urls.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    };
    if let Some(u) = urls.get(name) {
        return u;
    }
    let u: &'static str = Box::leak(format!("{TYPE_URL_PREFIX}{name}").into_boxed_str());
    urls.insert(name.to_string(), u);
    u
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(name: &str) -> String {
        format!("{TYPE_URL_PREFIX}{name}")
    }

    /// Every type pilot 1.4 emits (resources, filters, access loggers, TLS contexts, RBAC, SDS).
    const PILOT_TYPES: &[(&str, &str)] = &[
        ("envoy.config.listener.v3.Listener", "envoy.api.v2.Listener"),
        ("envoy.config.cluster.v3.Cluster", "envoy.api.v2.Cluster"),
        (
            "envoy.config.endpoint.v3.ClusterLoadAssignment",
            "envoy.api.v2.ClusterLoadAssignment",
        ),
        (
            "envoy.config.route.v3.RouteConfiguration",
            "envoy.api.v2.RouteConfiguration",
        ),
        (
            "envoy.service.discovery.v3.DiscoveryResponse",
            "envoy.api.v2.DiscoveryResponse",
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
            "envoy.extensions.filters.network.thrift_proxy.v3.ThriftProxy",
            "envoy.config.filter.network.thrift_proxy.v2alpha1.ThriftProxy",
        ),
        (
            "envoy.extensions.filters.network.rbac.v3.RBAC",
            "envoy.config.filter.network.rbac.v2.RBAC",
        ),
        (
            "envoy.extensions.filters.http.router.v3.Router",
            "envoy.config.filter.http.router.v2.Router",
        ),
        (
            "envoy.extensions.filters.http.fault.v3.HTTPFault",
            "envoy.config.filter.http.fault.v2.HTTPFault",
        ),
        (
            "envoy.extensions.filters.http.rbac.v3.RBAC",
            "envoy.config.filter.http.rbac.v2.RBAC",
        ),
        (
            "envoy.extensions.filters.http.rbac.v3.RBACPerRoute",
            "envoy.config.filter.http.rbac.v2.RBACPerRoute",
        ),
        (
            "envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication",
            "envoy.config.filter.http.jwt_authn.v2alpha.JwtAuthentication",
        ),
        (
            "envoy.extensions.filters.http.lua.v3.Lua",
            "envoy.config.filter.http.lua.v2.Lua",
        ),
        (
            "envoy.extensions.filters.http.health_check.v3.HealthCheck",
            "envoy.config.filter.http.health_check.v2.HealthCheck",
        ),
        (
            "envoy.extensions.access_loggers.file.v3.FileAccessLog",
            "envoy.config.accesslog.v2.FileAccessLog",
        ),
        (
            "envoy.extensions.access_loggers.grpc.v3.HttpGrpcAccessLogConfig",
            "envoy.config.accesslog.v2.HttpGrpcAccessLogConfig",
        ),
        (
            "envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
            "envoy.api.v2.auth.UpstreamTlsContext",
        ),
        (
            "envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
            "envoy.api.v2.auth.DownstreamTlsContext",
        ),
        (
            "envoy.extensions.transport_sockets.tls.v3.Secret",
            "envoy.api.v2.auth.Secret",
        ),
        (
            "envoy.config.grpc_credential.v3.FileBasedMetadataConfig",
            "envoy.config.grpc_credential.v2alpha.FileBasedMetadataConfig",
        ),
        (
            "envoy.config.core.v3.HealthCheck",
            "envoy.api.v2.core.HealthCheck",
        ),
        ("envoy.config.rbac.v3.RBAC", "envoy.config.rbac.v2.RBAC"),
        (
            "envoy.admin.v3.ConfigDump",
            "envoy.admin.v2alpha.ConfigDump",
        ),
        (
            "envoy.admin.v3.ListenersConfigDump",
            "envoy.admin.v2alpha.ListenersConfigDump",
        ),
    ];

    #[test]
    fn pilot_types_map_both_ways() {
        for (v3, v2) in PILOT_TYPES {
            assert_eq!(v2_type_url(&url(v3)), Some(url(v2).as_str()), "{v3}");
            assert_eq!(v3_type_url(&url(v2)), Some(url(v3).as_str()), "{v2}");
        }
    }

    #[test]
    fn non_envoy_types_map_to_themselves() {
        for name in [
            "google.protobuf.Struct",
            "google.protobuf.Empty",
            "istio.mixer.v1.config.client.HttpClientConfig",
            "istio.envoy.config.filter.http.authn.v2alpha1.FilterConfig",
        ] {
            assert_eq!(v2_type_url(&url(name)), Some(url(name).as_str()));
            assert_eq!(v3_type_url(&url(name)), Some(url(name).as_str()));
        }
    }

    #[test]
    fn unmapped_types() {
        // v2 names are not v3 names, and v3-only types have no v2 counterpart.
        assert_eq!(v2_type_url(&url("envoy.api.v2.Listener")), None);
        assert_eq!(
            v2_type_url(&url("envoy.extensions.filters.http.cors.v3.Cors")),
            None
        );
        assert_eq!(v3_type_url(&url("envoy.config.listener.v3.Listener")), None);
    }

    #[test]
    fn every_pair_names_real_messages() {
        let pool = crate::pool();
        for &(v3, v2) in V3_TO_V2.iter().chain(EXTRA_V3_TO_V2) {
            assert!(v3.contains(".v3."), "{v3}");
            assert!(pool.get_message_by_name(v2).is_some(), "{v2} not in pool");
        }
        for name in EMPTY_IN_V2 {
            assert!(v2_name(name).is_none(), "{name} has a v2 message");
        }
    }

    #[test]
    fn type_name_of_urls() {
        assert_eq!(type_name("type.googleapis.com/a.B"), "a.B");
        assert_eq!(type_name("example.com/x/a.B"), "a.B");
        assert_eq!(type_name("a.B"), "a.B");
    }
}
