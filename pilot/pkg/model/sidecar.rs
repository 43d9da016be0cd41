//! Sidecar scopes: which services and config a sidecar sees (upstream
//! `pilot/pkg/model/sidecar.go`).
//!
//! Without a `Sidecar` object a proxy sees every service visible from its namespace. A
//! `Sidecar` object narrows that to its egress hosts and can define ingress listeners.

use std::sync::Arc;

use istio_pkg::config::model::Config;

use super::context::Proxy;
use super::push_context::PushContext;
use super::service::Service;

/// The view of the mesh one proxy's outbound config is generated from. Proxies with the same
/// scope (same namespace, same Sidecar object) share it, and so can share generated config.
#[derive(Debug)]
pub struct SidecarScope {
    /// The namespace the scope applies to.
    pub namespace: String,
    /// The `Sidecar` object, if the scope comes from one.
    pub config: Option<Arc<Config>>,
    /// Services this scope can reach, sorted by hostname.
    pub services: Vec<Arc<Service>>,
    /// Identifies the scope for caching: `default/<ns>` or `sidecar/<ns>/<name>@<version>`.
    pub key: String,
}

impl SidecarScope {
    /// The scope of a namespace without a `Sidecar` object: every visible service.
    pub fn default_for_namespace(push: &PushContext, namespace: &str) -> SidecarScope {
        SidecarScope {
            namespace: namespace.to_owned(),
            config: None,
            services: push.services_visible_from(namespace),
            key: format!("default/{namespace}"),
        }
    }

    /// The scope from the `Sidecar` object selecting `proxy`, if any.
    ///
    /// Sidecar objects are not interpreted yet: every proxy gets its namespace default.
    pub fn for_proxy(_push: &PushContext, _proxy: &Proxy) -> Option<Arc<SidecarScope>> {
        None
    }
}
