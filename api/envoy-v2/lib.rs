//! Envoy's xDS **v2** API as Istio 1.4 spoke it.
//!
//! Pilot generates Envoy v3 messages (crate `envoy-types`). Envoy 1.12/1.13 sidecars, as shipped
//! with Istio 1.4, speak v2 only. v2 and v3 messages share field numbers, so the bytes of a v3
//! message are a valid v2 message as long as no v3-only field is set; only the type URLs of
//! `google.protobuf.Any` values differ, at the top level and nested in `typed_config` fields.
//! This crate knows the v2 schema (the `.proto` files under `proto/`, compiled into an embedded
//! descriptor set) and offers:
//!
//! - [`pool`]: the v2 descriptors, together with Istio's own (crate `istio-api`) and Istio's
//!   Envoy filter configs (authn, jwt-auth, alpn, tcp_cluster_rewrite);
//! - [`v2_type_url`] / [`v3_type_url`]: the type URL table;
//! - [`downgrade`] / [`check_v2`]: rewrite (or only check) a v3 `Any` for a v2 client;
//! - [`to_json`] / [`to_json_with`]: proto3 JSON with v2 type names, as Envoy's config dump;
//! - [`golden`]: reading upstream's Go `encoding/json` dumps and comparing messages.
#![forbid(unsafe_code)]

mod downgrade;
pub mod golden;
mod json;
#[rustfmt::skip]
mod type_table;
mod type_url;

use std::fmt;
use std::sync::OnceLock;

use prost::Message as _;
use prost_reflect::DescriptorPool;

pub use downgrade::{check_v2, downgrade, downgrade_bytes};
pub use json::{message_json, to_json, to_json_with, JsonOptions};
pub use type_url::{type_name, v2_type_url, v3_type_url, TYPE_URL_PREFIX};

/// The descriptor set compiled from `proto/` by the build script.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/envoy_v2_descriptor.bin"));

/// The v2 descriptors plus Istio's API (crate `istio-api`): every message pilot sends to a v2
/// proxy, including the Istio types found inside its `typed_config` values.
pub fn pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        build_pool().expect("the embedded descriptor sets are produced by build scripts and link")
    })
}

fn build_pool() -> Result<DescriptorPool, Box<dyn std::error::Error>> {
    let mut pool = istio_api::descriptor_pool().clone();
    let mut ours = prost_types::FileDescriptorSet::decode(FILE_DESCRIPTOR_SET)?;
    // Files that istio-api already holds (Istio's authentication policy, google/rpc/status,
    // the well-known types) were compiled from istio-api's own sources to resolve imports;
    // the pool keeps istio-api's descriptors. A test checks that both describe the same messages.
    ours.file
        .retain(|f| pool.get_file_by_name(f.name()).is_none());
    pool.add_file_descriptor_protos(ours.file)?;
    Ok(pool)
}

/// One step of the path from the message passed in to where an error was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathSegment(String);

/// Where in a message an error was found, e.g.
/// `filter_chains[0].filters[0].typed_config<envoy.config.filter.network.http_connection_manager.v2.HttpConnectionManager>.http_filters[1]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldPath(Vec<PathSegment>);

impl FieldPath {
    pub(crate) fn push_front(&mut self, segment: String) {
        self.0.insert(0, PathSegment(segment));
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("<root>");
        }
        for (i, s) in self.0.iter().enumerate() {
            if i > 0 && !s.0.starts_with('[') && !s.0.starts_with('<') {
                f.write_str(".")?;
            }
            f.write_str(&s.0)?;
        }
        Ok(())
    }
}

/// Errors of this crate. Each names the message (v2 full name) and, where it applies, the
/// field and the path to it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A field number that the v2 message does not have: pilot set a v3-only field.
    #[error("{message} has no field {field_number} in Envoy's v2 API (a v3-only field) at {path}")]
    V3OnlyField {
        message: String,
        field_number: u32,
        path: FieldPath,
    },
    /// An enum value that the v2 enum does not have: pilot used a v3-only enum value.
    #[error("{message}.{field}: {enum_name} has no value {value} in Envoy's v2 API at {path}")]
    V3OnlyEnumValue {
        message: String,
        field: String,
        enum_name: String,
        value: i32,
        path: FieldPath,
    },
    /// A type URL whose message has no v2 counterpart.
    #[error("{type_url} has no Envoy v2 counterpart at {path}")]
    NoV2Type { type_url: String, path: FieldPath },
    /// A message type that is not in [`pool`].
    #[error("unknown message type {type_name}")]
    UnknownType { type_name: String },
    /// Bytes that do not parse as the message they claim to be.
    #[error("malformed {message} at {path}: {reason}")]
    Malformed {
        message: String,
        reason: String,
        path: FieldPath,
    },
    /// The JSON rendering failed.
    #[error("rendering {message} as JSON: {reason}")]
    Json { message: String, reason: String },
    /// A Go `encoding/json` document that does not fit the message.
    #[error("Go JSON for {message} at {path}: {reason}")]
    GoJson {
        message: String,
        path: String,
        reason: String,
    },
}

impl Error {
    /// Adds `segment` in front of the error's path (errors are built where they are found and
    /// gain their path while the walk unwinds).
    pub(crate) fn within(mut self, segment: impl FnOnce() -> String) -> Self {
        match &mut self {
            Error::V3OnlyField { path, .. }
            | Error::V3OnlyEnumValue { path, .. }
            | Error::NoV2Type { path, .. }
            | Error::Malformed { path, .. } => path.push_front(segment()),
            Error::UnknownType { .. } | Error::Json { .. } | Error::GoJson { .. } => {}
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_has_v2_resources_filters_and_istio_types() {
        let pool = pool();
        for name in [
            "envoy.api.v2.Listener",
            "envoy.api.v2.Cluster",
            "envoy.api.v2.ClusterLoadAssignment",
            "envoy.api.v2.RouteConfiguration",
            "envoy.api.v2.DiscoveryRequest",
            "envoy.api.v2.auth.UpstreamTlsContext",
            "envoy.config.filter.network.http_connection_manager.v2.HttpConnectionManager",
            "envoy.config.filter.network.tcp_proxy.v2.TcpProxy",
            "envoy.config.filter.http.router.v2.Router",
            "envoy.config.filter.http.jwt_authn.v2alpha.JwtAuthentication",
            "envoy.config.accesslog.v2.FileAccessLog",
            "envoy.config.rbac.v2.RBAC",
            "envoy.admin.v2alpha.ConfigDump",
            "istio.envoy.config.filter.http.authn.v2alpha1.FilterConfig",
            "istio.mixer.v1.config.client.HttpClientConfig",
            "google.protobuf.Struct",
        ] {
            assert!(pool.get_message_by_name(name).is_some(), "{name} missing");
        }
        assert!(pool
            .get_service_by_name("envoy.service.discovery.v2.AggregatedDiscoveryService")
            .is_some());
    }

    #[test]
    fn vendored_istio_policy_matches_istio_api() {
        // authentication/v1alpha1/policy.proto and google/rpc/status.proto are imported from
        // istio-api's sources; what was compiled here must equal istio-api's, which the pool keeps.
        let ours = prost_types::FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).unwrap();
        let theirs =
            prost_types::FileDescriptorSet::decode(istio_api::FILE_DESCRIPTOR_SET).unwrap();
        for name in [
            "authentication/v1alpha1/policy.proto",
            "google/rpc/status.proto",
        ] {
            let a = ours.file.iter().find(|f| f.name() == name).unwrap();
            let b = theirs.file.iter().find(|f| f.name() == name).unwrap();
            assert_eq!(a.message_type, b.message_type, "{name}");
            assert_eq!(a.enum_type, b.enum_type, "{name}");
        }
    }

    #[test]
    fn field_path_display() {
        let mut p = FieldPath::default();
        assert_eq!(p.to_string(), "<root>");
        p.push_front("http_filters".into());
        p.push_front("<x.Y>".into());
        p.push_front("typed_config".into());
        p.push_front("[0]".into());
        p.push_front("filters".into());
        assert_eq!(p.to_string(), "filters[0].typed_config<x.Y>.http_filters");
    }
}
