//! Hook points through which features (authn, mixer, health checks, ...) add filters to the
//! generated config (upstream `pilot/pkg/networking/plugin/plugin.go`).
//!
//! The generator calls every registered [`Plugin`] at the same points upstream does; each hook
//! defaults to doing nothing. Plugins: [`mixer`] (Mixer's policy and telemetry filters).

pub mod mixer;

use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use envoy_types::pb::envoy::config::listener::v3::{Filter, FilterChainMatch, Listener};
use envoy_types::pb::envoy::config::route::v3::RouteConfiguration;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::HttpFilter;
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3::DownstreamTlsContext;

use crate::features::Features;
use crate::model::{Port, Proxy, PushContext, Service, ServiceInstance, SidecarScope};
use istio_pkg::config::protocol::Instance as Protocol;

pub mod health;

use super::util;

/// What kind of filter chain a listener (or one of its chains) carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListenerProtocol {
    /// UDP and anything Envoy cannot proxy.
    Unknown,
    Http,
    Tcp,
    /// Decided per connection by protocol sniffing (HTTP and TCP chains).
    Auto,
}

/// Direction for [`model_protocol_to_listener_protocol`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Inbound,
    Outbound,
}

/// The listener protocol of a service port protocol (upstream
/// `ModelProtocolToListenerProtocol`): unnamed ports are TCP unless sniffing is on for the
/// direction.
pub fn model_protocol_to_listener_protocol(
    features: &Features,
    proxy: &Proxy,
    protocol: Protocol,
    direction: Direction,
) -> ListenerProtocol {
    let mut p = protocol;
    if p == Protocol::Unsupported {
        let sniff = match direction {
            Direction::Inbound => util::sniffing_enabled_for_inbound(features, proxy),
            Direction::Outbound => util::sniffing_enabled_for_outbound(features, proxy),
        };
        if !sniff {
            p = Protocol::Tcp;
        }
    }
    match p {
        Protocol::Http | Protocol::Http2 | Protocol::Grpc | Protocol::GrpcWeb => {
            ListenerProtocol::Http
        }
        Protocol::Tcp
        | Protocol::Https
        | Protocol::Tls
        | Protocol::Mongo
        | Protocol::Redis
        | Protocol::MySql => ListenerProtocol::Tcp,
        Protocol::Udp => ListenerProtocol::Unknown,
        Protocol::Unsupported => ListenerProtocol::Auto,
    }
}

/// What a hook is called about (upstream `InputParams`).
pub struct InputParams<'a> {
    pub listener_protocol: ListenerProtocol,
    pub features: &'a Features,
    pub node: &'a Proxy,
    pub push: &'a PushContext,
    /// The proxy's sidecar scope (upstream `Node.SidecarScope`).
    pub scope: &'a SidecarScope,
    pub service_instance: Option<&'a ServiceInstance>,
    pub service: Option<&'a Service>,
    pub port: Option<&'a Port>,
    /// The listener bind address, when the hook concerns a listener.
    pub bind: &'a str,
    /// Inbound cluster name override (inbound passthrough chains).
    pub inbound_cluster_name: &'a str,
}

/// Filters a plugin adds to one filter chain.
#[derive(Debug, Clone, Default)]
pub struct FilterChain {
    pub filter_chain_match: Option<FilterChainMatch>,
    pub tls_context: Option<DownstreamTlsContext>,
    /// HTTP filters, placed before cors/fault/router.
    pub http: Vec<HttpFilter>,
    /// Network filters, placed before the terminal filter.
    pub tcp: Vec<Filter>,
    pub listener_protocol: Option<ListenerProtocol>,
    pub is_fall_through: bool,
}

/// The listener being built and its chains' plugin filters (upstream `MutableObjects`).
pub struct MutableObjects<'a> {
    pub listener: &'a mut Listener,
    pub filter_chains: &'a mut Vec<FilterChain>,
}

/// A config generation plugin. Every hook defaults to a no-op.
pub trait Plugin: Send + Sync {
    fn on_outbound_listener(&self, _in: &InputParams<'_>, _m: &mut MutableObjects<'_>) {}
    fn on_inbound_listener(&self, _in: &InputParams<'_>, _m: &mut MutableObjects<'_>) {}
    fn on_virtual_listener(&self, _in: &InputParams<'_>, _m: &mut MutableObjects<'_>) {}
    fn on_inbound_passthrough(&self, _in: &InputParams<'_>, _m: &mut MutableObjects<'_>) {}
    fn on_outbound_cluster(&self, _in: &InputParams<'_>, _c: &mut Cluster) {}
    fn on_inbound_cluster(&self, _in: &InputParams<'_>, _c: &mut Cluster) {}
    fn on_outbound_route_configuration(&self, _in: &InputParams<'_>, _r: &mut RouteConfiguration) {}
    fn on_inbound_route_configuration(&self, _in: &InputParams<'_>, _r: &mut RouteConfiguration) {}
    /// Extra filter chains (e.g. mTLS and plaintext) for an inbound listener.
    fn on_inbound_filter_chains(&self, _in: &InputParams<'_>) -> Vec<FilterChain> {
        Vec::new()
    }
    /// Not an upstream hook: outbound listeners are built once per sidecar scope and proxy
    /// shape (see `core::v1alpha3`), calling [`Plugin::on_outbound_listener`] for whichever
    /// proxy came first, and copied for every other proxy. A plugin whose outbound filters
    /// hold values of that one proxy (its id, its version) puts the values of `in.node` into
    /// each proxy's copy here.
    fn localize_outbound_listener(&self, _in: &InputParams<'_>, _l: &mut Listener) {}
    /// Whether [`Plugin::localize_outbound_listener`] changes anything for `in.node`; when no
    /// plugin does, the shared outbound listeners are sent as encoded once.
    fn localizes_outbound_listeners(&self, _in: &InputParams<'_>) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::NodeMetadata;

    #[test]
    fn protocol_mapping() {
        let on = Features::default();
        let off = Features {
            enable_protocol_sniffing_for_outbound: false,
            ..Features::default()
        };
        let meta = NodeMetadata {
            istio_version: "1.4.0".into(),
            ..Default::default()
        };
        let p = Proxy::parse("sidecar~1.1.1.1~a.ns~ns.svc.cluster.local", meta).unwrap();
        let cases = [
            (
                &on,
                Protocol::Http,
                Direction::Outbound,
                ListenerProtocol::Http,
            ),
            (
                &on,
                Protocol::Grpc,
                Direction::Outbound,
                ListenerProtocol::Http,
            ),
            (
                &on,
                Protocol::Tls,
                Direction::Outbound,
                ListenerProtocol::Tcp,
            ),
            (
                &on,
                Protocol::Mongo,
                Direction::Outbound,
                ListenerProtocol::Tcp,
            ),
            (
                &on,
                Protocol::Udp,
                Direction::Outbound,
                ListenerProtocol::Unknown,
            ),
            (
                &on,
                Protocol::Unsupported,
                Direction::Outbound,
                ListenerProtocol::Auto,
            ),
            // Inbound sniffing is off by default.
            (
                &on,
                Protocol::Unsupported,
                Direction::Inbound,
                ListenerProtocol::Tcp,
            ),
            (
                &off,
                Protocol::Unsupported,
                Direction::Outbound,
                ListenerProtocol::Tcp,
            ),
        ];
        for (f, proto, dir, want) in cases {
            assert_eq!(
                model_protocol_to_listener_protocol(f, &p, proto, dir),
                want,
                "{proto:?} {dir:?}"
            );
        }
        // A 1.2 proxy does not sniff.
        let meta = NodeMetadata {
            istio_version: "1.2.0".into(),
            ..Default::default()
        };
        let old = Proxy::parse("sidecar~1.1.1.1~a.ns~ns.svc.cluster.local", meta).unwrap();
        assert_eq!(
            model_protocol_to_listener_protocol(
                &on,
                &old,
                Protocol::Unsupported,
                Direction::Outbound
            ),
            ListenerProtocol::Tcp
        );
    }
}
