//! The interface between the xDS server and config generation (upstream
//! `pilot/pkg/networking/core`): the server asks a [`ConfigGenerator`] for a proxy's clusters,
//! listeners and routes; EDS is the server's own (it owns the endpoint index).

use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use envoy_types::pb::envoy::config::listener::v3::Listener;
use envoy_types::pb::envoy::config::route::v3::RouteConfiguration;

use crate::model::{Proxy, PushContext};

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

    /// LDS: every listener of the proxy.
    fn build_listeners(&self, proxy: &Proxy, push: &PushContext) -> Vec<Listener>;

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
