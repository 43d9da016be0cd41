//! Network filters: TCP proxy to one cluster, and the file access log shared with the HTTP
//! connection manager (upstream `core/v1alpha3/networkfilter.go` and `buildAccessLog`).

use envoy_types::pb::envoy::config::accesslog::v3::{access_log, AccessLog};
use envoy_types::pb::envoy::config::core::v3::{grpc_service, GrpcService};
use envoy_types::pb::envoy::config::listener::v3::{filter, Filter};
use envoy_types::pb::envoy::extensions::access_loggers::file::v3::{
    file_access_log, FileAccessLog,
};
use envoy_types::pb::envoy::extensions::access_loggers::grpc::v3::{
    CommonGrpcAccessLogConfig, HttpGrpcAccessLogConfig,
};
use envoy_types::pb::envoy::extensions::filters::network::tcp_proxy::v3::{tcp_proxy, TcpProxy};
use envoy_types::pb::google::protobuf::{value, Struct, Value};

use istio_api::istio::mesh::v1alpha1::mesh_config::AccessLogEncoding;
use istio_api::istio::mesh::v1alpha1::MeshConfig;

use crate::networking::util::{self, filter_names};

use super::Ctx;

/// Text access log format for Istio 1.2 proxies.
pub const ENVOY_TEXT_LOG_FORMAT_12: &str = "[%START_TIME%] \"%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%\" %RESPONSE_CODE% %RESPONSE_FLAGS% \"%DYNAMIC_METADATA(istio.mixer:status)%\" \"%UPSTREAM_TRANSPORT_FAILURE_REASON%\" %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% \"%REQ(X-FORWARDED-FOR)%\" \"%REQ(USER-AGENT)%\" \"%REQ(X-REQUEST-ID)%\" \"%REQ(:AUTHORITY)%\" \"%UPSTREAM_HOST%\" %UPSTREAM_CLUSTER% %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME%\n";

/// Text access log format for Istio 1.3 and later (adds `%ROUTE_NAME%`).
pub const ENVOY_TEXT_LOG_FORMAT_13: &str = "[%START_TIME%] \"%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%\" %RESPONSE_CODE% %RESPONSE_FLAGS% \"%DYNAMIC_METADATA(istio.mixer:status)%\" \"%UPSTREAM_TRANSPORT_FAILURE_REASON%\" %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% \"%REQ(X-FORWARDED-FOR)%\" \"%REQ(USER-AGENT)%\" \"%REQ(X-REQUEST-ID)%\" \"%REQ(:AUTHORITY)%\" \"%UPSTREAM_HOST%\" %UPSTREAM_CLUSTER% %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% %ROUTE_NAME%\n";

/// JSON access log fields (1.2 set; 1.3 adds `route_name`).
const JSON_LOG_FIELDS_12: &[(&str, &str)] = &[
    ("start_time", "%START_TIME%"),
    ("method", "%REQ(:METHOD)%"),
    ("path", "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%"),
    ("protocol", "%PROTOCOL%"),
    ("response_code", "%RESPONSE_CODE%"),
    ("response_flags", "%RESPONSE_FLAGS%"),
    ("bytes_received", "%BYTES_RECEIVED%"),
    ("bytes_sent", "%BYTES_SENT%"),
    ("duration", "%DURATION%"),
    (
        "upstream_service_time",
        "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%",
    ),
    ("x_forwarded_for", "%REQ(X-FORWARDED-FOR)%"),
    ("user_agent", "%REQ(USER-AGENT)%"),
    ("request_id", "%REQ(X-REQUEST-ID)%"),
    ("authority", "%REQ(:AUTHORITY)%"),
    ("upstream_host", "%UPSTREAM_HOST%"),
    ("upstream_cluster", "%UPSTREAM_CLUSTER%"),
    ("upstream_local_address", "%UPSTREAM_LOCAL_ADDRESS%"),
    ("downstream_local_address", "%DOWNSTREAM_LOCAL_ADDRESS%"),
    ("downstream_remote_address", "%DOWNSTREAM_REMOTE_ADDRESS%"),
    ("requested_server_name", "%REQUESTED_SERVER_NAME%"),
    (
        "istio_policy_status",
        "%DYNAMIC_METADATA(istio.mixer:status)%",
    ),
    (
        "upstream_transport_failure_reason",
        "%UPSTREAM_TRANSPORT_FAILURE_REASON%",
    ),
];

fn string_struct<'a>(fields: impl IntoIterator<Item = (&'a str, &'a str)>) -> Struct {
    Struct {
        fields: fields
            .into_iter()
            .map(|(k, v)| {
                (
                    k.to_owned(),
                    Value {
                        kind: Some(value::Kind::StringValue(v.to_owned())),
                    },
                )
            })
            .collect(),
    }
}

/// The file access log from the mesh config (`accessLogFile`, `accessLogFormat`,
/// `accessLogEncoding`), or `None` when access logging is off.
pub(crate) fn file_access_log(ctx: &Ctx<'_>) -> Option<AccessLog> {
    build_file_access_log(&ctx.push.mesh, util::is_istio_version_ge13(ctx.proxy))
}

/// [`file_access_log`] for a mesh config and proxy version (>= 1.3 adds `%ROUTE_NAME%`).
#[allow(deprecated)] // `format` and `json_format` are the fields Envoy 1.13 knows.
pub fn build_file_access_log(mesh: &MeshConfig, ge13: bool) -> Option<AccessLog> {
    if mesh.access_log_file.is_empty() {
        return None;
    }
    let format = if mesh.access_log_encoding == AccessLogEncoding::Json as i32 {
        let custom = if mesh.access_log_format.is_empty() {
            None
        } else {
            match serde_json::from_str::<std::collections::BTreeMap<String, String>>(
                &mesh.access_log_format,
            ) {
                Ok(m) => Some(string_struct(
                    m.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                )),
                Err(e) => {
                    tracing::error!(
                        "error parsing provided json log format, default log format will be used: {e}"
                    );
                    None
                }
            }
        };
        let json = custom.unwrap_or_else(|| {
            let mut s = string_struct(JSON_LOG_FIELDS_12.iter().copied());
            if ge13 {
                s.fields.insert(
                    "route_name".into(),
                    Value {
                        kind: Some(value::Kind::StringValue("%ROUTE_NAME%".into())),
                    },
                );
            }
            s
        });
        file_access_log::AccessLogFormat::JsonFormat(json)
    } else {
        let text = if !mesh.access_log_format.is_empty() {
            mesh.access_log_format.clone()
        } else if ge13 {
            ENVOY_TEXT_LOG_FORMAT_13.to_owned()
        } else {
            ENVOY_TEXT_LOG_FORMAT_12.to_owned()
        };
        file_access_log::AccessLogFormat::Format(text)
    };
    let fl = FileAccessLog {
        path: mesh.access_log_file.clone(),
        access_log_format: Some(format),
    };
    Some(AccessLog {
        name: filter_names::FILE_ACCESS_LOG.into(),
        config_type: Some(access_log::ConfigType::TypedConfig(util::message_to_any(
            &fl,
        ))),
        ..Default::default()
    })
}

/// Log name of the HTTP access log service stream.
pub const HTTP_ENVOY_ACCESS_LOG_NAME: &str = "http_envoy_accesslog";
/// Bootstrap cluster of the Envoy access log service.
pub const ENVOY_ACCESS_LOG_CLUSTER: &str = "envoy_accesslog_service";
/// Headers of the metadata exchange filter, sent to the access log service.
const ENVOY_WASM_HEADERS_TO_LOG: [&str; 2] = ["x-envoy-peer-metadata", "x-envoy-peer-metadata-id"];

/// The HTTP gRPC access log to the Envoy access log service
/// (`enableEnvoyAccessLogService`), or `None` when it is off.
pub fn build_http_grpc_access_log(mesh: &MeshConfig) -> Option<AccessLog> {
    if !mesh.enable_envoy_access_log_service {
        return None;
    }
    let headers: Vec<String> = ENVOY_WASM_HEADERS_TO_LOG
        .iter()
        .map(|h| h.to_string())
        .collect();
    let config = HttpGrpcAccessLogConfig {
        common_config: Some(CommonGrpcAccessLogConfig {
            log_name: HTTP_ENVOY_ACCESS_LOG_NAME.into(),
            grpc_service: Some(GrpcService {
                target_specifier: Some(grpc_service::TargetSpecifier::EnvoyGrpc(
                    grpc_service::EnvoyGrpc {
                        cluster_name: ENVOY_ACCESS_LOG_CLUSTER.into(),
                        ..Default::default()
                    },
                )),
                ..Default::default()
            }),
            ..Default::default()
        }),
        additional_request_headers_to_log: headers.clone(),
        additional_response_headers_to_log: headers,
        ..Default::default()
    };
    Some(AccessLog {
        name: filter_names::HTTP_GRPC_ACCESS_LOG.into(),
        config_type: Some(access_log::ConfigType::TypedConfig(util::message_to_any(
            &config,
        ))),
        ..Default::default()
    })
}

/// A TCP proxy to `cluster` with stat prefix `stat_prefix`.
pub(crate) fn tcp_proxy(stat_prefix: &str, cluster: &str) -> TcpProxy {
    TcpProxy {
        stat_prefix: stat_prefix.to_owned(),
        cluster_specifier: Some(tcp_proxy::ClusterSpecifier::Cluster(cluster.to_owned())),
        ..Default::default()
    }
}

/// Wraps a TCP proxy config into the `envoy.tcp_proxy` network filter.
pub(crate) fn tcp_proxy_filter(config: &TcpProxy) -> Filter {
    Filter {
        name: filter_names::TCP_PROXY.into(),
        config_type: Some(filter::ConfigType::TypedConfig(util::message_to_any(
            config,
        ))),
    }
}

/// TCP proxy with the mesh access log (upstream `setAccessLogAndBuildTCPFilter`).
pub(crate) fn tcp_proxy_with_access_log(ctx: &Ctx<'_>, mut config: TcpProxy) -> Filter {
    if let Some(al) = file_access_log(ctx) {
        config.access_log.push(al);
    }
    tcp_proxy_filter(&config)
}

/// Inbound TCP: proxy to the inbound cluster of the instance's port.
pub(crate) fn inbound_network_filters(ctx: &Ctx<'_>, cluster: &str) -> Vec<Filter> {
    vec![tcp_proxy_with_access_log(ctx, tcp_proxy(cluster, cluster))]
}

/// Outbound TCP to one cluster, with the `IDLE_TIMEOUT` metadata (upstream
/// `buildOutboundNetworkFiltersWithSingleDestination`). Mongo, Redis and MySQL filters are
/// not generated: they are off by default (PILOT_ENABLE_REDIS_FILTER, ..._MYSQL_FILTER) and
/// Mongo's needs plugin support.
pub(crate) fn outbound_single_destination(ctx: &Ctx<'_>, cluster: &str) -> Vec<Filter> {
    let mut config = tcp_proxy(cluster, cluster);
    config.idle_timeout = util::parse_positive_go_duration(&ctx.proxy.metadata.idle_timeout);
    vec![tcp_proxy_with_access_log(ctx, config)]
}

/// The terminal filter of catch-all chains: PassthroughCluster (with access log) when the
/// scope allows any outbound traffic, else BlackHoleCluster (upstream
/// `newTCPProxyOutboundListenerFilter`).
pub(crate) fn outbound_fallthrough_filter(ctx: &Ctx<'_>) -> Filter {
    if ctx.scope.allow_any_outbound {
        tcp_proxy_with_access_log(
            ctx,
            tcp_proxy(util::PASSTHROUGH_CLUSTER, util::PASSTHROUGH_CLUSTER),
        )
    } else {
        blackhole_filter()
    }
}

/// TCP proxy to BlackHoleCluster, without access log.
pub(crate) fn blackhole_filter() -> Filter {
    tcp_proxy_filter(&tcp_proxy(
        util::BLACK_HOLE_CLUSTER,
        util::BLACK_HOLE_CLUSTER,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use envoy_types::pb::envoy::extensions::access_loggers::file::v3::FileAccessLog;
    use prost::Message;

    #[allow(deprecated)]
    fn format_of(mesh: &MeshConfig, ge13: bool) -> Option<file_access_log::AccessLogFormat> {
        let al = build_file_access_log(mesh, ge13)?;
        assert_eq!(al.name, "envoy.file_access_log");
        let Some(access_log::ConfigType::TypedConfig(any)) = al.config_type else {
            panic!("no typed config");
        };
        assert_eq!(
            any.type_url,
            "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog"
        );
        let fl = FileAccessLog::decode(any.value.as_slice()).unwrap();
        assert_eq!(fl.path, mesh.access_log_file);
        fl.access_log_format
    }

    #[test]
    #[allow(deprecated)]
    fn access_log_formats() {
        let mut mesh = istio_pkg::config::mesh::default_mesh_config();
        // Text: 1.3 format with the route name, 1.2 without, custom format verbatim.
        assert_eq!(
            format_of(&mesh, true),
            Some(file_access_log::AccessLogFormat::Format(
                ENVOY_TEXT_LOG_FORMAT_13.into()
            ))
        );
        assert_eq!(
            format_of(&mesh, false),
            Some(file_access_log::AccessLogFormat::Format(
                ENVOY_TEXT_LOG_FORMAT_12.into()
            ))
        );
        mesh.access_log_format = "%START_TIME%\n".into();
        assert_eq!(
            format_of(&mesh, true),
            Some(file_access_log::AccessLogFormat::Format(
                "%START_TIME%\n".into()
            ))
        );
        // JSON: custom fields, or the default set (+ route_name for 1.3) when unparsable.
        mesh.access_log_encoding = AccessLogEncoding::Json as i32;
        mesh.access_log_format = r#"{"a": "%PROTOCOL%"}"#.into();
        match format_of(&mesh, true) {
            Some(file_access_log::AccessLogFormat::JsonFormat(s)) => {
                assert_eq!(s.fields.len(), 1);
                assert!(s.fields.contains_key("a"));
            }
            other => panic!("{other:?}"),
        }
        mesh.access_log_format = "not json".into();
        match format_of(&mesh, true) {
            Some(file_access_log::AccessLogFormat::JsonFormat(s)) => {
                assert_eq!(s.fields.len(), JSON_LOG_FIELDS_12.len() + 1);
                assert!(s.fields.contains_key("route_name"));
            }
            other => panic!("{other:?}"),
        }
        match format_of(&mesh, false) {
            Some(file_access_log::AccessLogFormat::JsonFormat(s)) => {
                assert!(!s.fields.contains_key("route_name"));
            }
            other => panic!("{other:?}"),
        }
        assert!(build_http_grpc_access_log(&mesh).is_none());
        mesh.enable_envoy_access_log_service = true;
        let als = build_http_grpc_access_log(&mesh).unwrap();
        assert_eq!(als.name, "envoy.http_grpc_access_log");
        // No file: no access log.
        mesh.access_log_file.clear();
        assert!(build_file_access_log(&mesh, true).is_none());
    }
}
