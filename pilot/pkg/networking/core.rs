//! The interface between the xDS server and config generation (upstream
//! `pilot/pkg/networking/core`): the server asks a [`ConfigGenerator`] for a proxy's clusters,
//! listeners and routes; EDS is the server's own (it owns the endpoint index).

use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use envoy_types::pb::envoy::config::listener::v3::Listener;
use envoy_types::pb::envoy::config::route::v3::RouteConfiguration;

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use prost::Message;

use crate::model::{Proxy, PushContext};

/// Type URL of the v3 `Cluster` (what [`ConfigGenerator::build_clusters_encoded`] wraps).
pub const CLUSTER_TYPE_URL: &str = "type.googleapis.com/envoy.config.cluster.v3.Cluster";

/// Type URL of the v3 `Listener`.
pub const LISTENER_TYPE_URL: &str = "type.googleapis.com/envoy.config.listener.v3.Listener";

/// One listener of a proxy as encoded (bare, v3) `Listener` messages: the part of this proxy
/// and a part shared with other proxies. Protobuf parsers merge concatenated messages and
/// keep the wire order of repeated fields, so `own` followed by `shared` decodes as the whole
/// listener, with `own`'s filter chains first.
#[derive(Debug, Clone)]
pub struct EncodedListener {
    pub own: Bytes,
    pub shared: Option<Arc<SharedListener>>,
}

/// The shared part of outbound listeners, encoded once per push context and proxy shape.
#[derive(Debug)]
pub struct SharedListener {
    /// The bare v3 `Listener` message bytes.
    pub v3: Bytes,
    /// The same part for v2 clients, filled by the server on first use.
    pub v2: OnceLock<Bytes>,
}

impl SharedListener {
    pub fn new(v3: Bytes) -> SharedListener {
        SharedListener {
            v3,
            v2: OnceLock::new(),
        }
    }
}

/// Encodes a `google.protobuf.Any` of `type_url` whose value is the concatenation of
/// `parts`, without copying them into an intermediate buffer first.
pub fn encode_any_parts(type_url: &str, parts: &[&[u8]]) -> Bytes {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let mut buf = any_header(type_url, len);
    for p in parts {
        buf.extend_from_slice(p);
    }
    Bytes::from(buf)
}

/// Encodes each message as a `google.protobuf.Any` of `type_url`.
pub fn encode_any_all<'a, M: Message + 'a>(
    type_url: &str,
    msgs: impl Iterator<Item = &'a M>,
) -> Vec<Bytes> {
    msgs.map(|m| encode_any(type_url, m)).collect()
}

/// Encodes one message as a `google.protobuf.Any` of `type_url`, the message written
/// straight into the `Any`'s buffer.
pub fn encode_any<M: Message>(type_url: &str, m: &M) -> Bytes {
    let len = m.encoded_len();
    let mut buf = any_header(type_url, len);
    m.encode_raw(&mut buf);
    Bytes::from(buf)
}

/// A buffer holding the fields of an `Any` up to its `value` bytes (of length `len`), with
/// room for them.
fn any_header(type_url: &str, len: usize) -> Vec<u8> {
    use prost::encoding::{encode_key, encode_varint, encoded_len_varint, WireType};
    let mut buf = Vec::with_capacity(
        2 + encoded_len_varint(type_url.len() as u64)
            + type_url.len()
            + encoded_len_varint(len as u64)
            + len,
    );
    if !type_url.is_empty() {
        encode_key(1, WireType::LengthDelimited, &mut buf);
        encode_varint(type_url.len() as u64, &mut buf);
        buf.extend_from_slice(type_url.as_bytes());
    }
    if len > 0 {
        encode_key(2, WireType::LengthDelimited, &mut buf);
        encode_varint(len as u64, &mut buf);
    }
    buf
}

pub mod v1alpha3;

pub use v1alpha3::ConfigGeneratorImpl;

/// The xDS resource kinds pilot serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceKind {
    Cluster,
    Endpoint,
    Listener,
    Route,
}

/// Generates Envoy configuration for one proxy from one push context.
///
/// Implementations are pure: the same proxy inputs and push context give the same output, so
/// the server may generate once per [`ConfigGenerator::scope_key`] and share the result.
pub trait ConfigGenerator: Send + Sync {
    /// CDS: every cluster the proxy needs.
    fn build_clusters(&self, proxy: &Proxy, push: &PushContext) -> Vec<Cluster>;

    /// CDS as the server sends it: [`ConfigGenerator::build_clusters`], each cluster encoded
    /// as a `google.protobuf.Any` of [`CLUSTER_TYPE_URL`]. Implementations may share encoded
    /// parts between proxies instead of encoding everything per call.
    fn build_clusters_encoded(&self, proxy: &Proxy, push: &PushContext) -> Vec<Bytes> {
        encode_any_all(CLUSTER_TYPE_URL, self.build_clusters(proxy, push).iter())
    }

    /// LDS: every listener of the proxy.
    fn build_listeners(&self, proxy: &Proxy, push: &PushContext) -> Vec<Listener>;

    /// LDS as the server sends it: the listeners of [`ConfigGenerator::build_listeners`],
    /// each as encoded parts, so that what many proxies share is encoded once.
    fn build_listeners_encoded(&self, proxy: &Proxy, push: &PushContext) -> Vec<EncodedListener> {
        self.build_listeners(proxy, push)
            .iter()
            .map(|l| EncodedListener {
                own: Bytes::from(l.encode_to_vec()),
                shared: None,
            })
            .collect()
    }

    /// RDS: the named route configurations (names come from the listeners' RDS references).
    fn build_http_routes(
        &self,
        proxy: &Proxy,
        push: &PushContext,
        route_names: &[String],
    ) -> Vec<RouteConfiguration>;

    /// A hash of exactly the proxy inputs that `kind`'s output depends on (besides the push
    /// context and, for routes, the requested names): two proxies with equal keys get equal
    /// output for `kind`.
    fn scope_key(&self, kind: ResourceKind, proxy: &Proxy, push: &PushContext) -> u64;
}
