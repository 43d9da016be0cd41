//! The health plugin (upstream `pilot/pkg/networking/plugin/health`): on a sidecar's inbound
//! HTTP filter chains, an `envoy.health_check` filter in pass-through mode for each HTTP probe
//! of the workload (Kubernetes readiness/liveness probes, the Prometheus scrape path) that
//! targets the chain's endpoint port or any port.

use envoy_types::pb::envoy::config::route::v3::{header_matcher, HeaderMatcher};
use envoy_types::pb::envoy::extensions::filters::http::health_check::v3::HealthCheck;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::{
    http_filter, HttpFilter,
};
use envoy_types::pb::google::protobuf::BoolValue;

use super::{InputParams, ListenerProtocol, MutableObjects, Plugin};
use crate::model::{NodeType, Probe};
use crate::networking::util;

/// Envoy's name for the health check HTTP filter.
pub const HEALTH_CHECK: &str = "envoy.health_check";

/// Adds health check filters to inbound HTTP chains.
#[derive(Debug, Default, Clone, Copy)]
pub struct HealthPlugin;

/// The pass-through health check filter answering `probe.path`. The path is matched with
/// `exact_match`, as 1.4 does: deprecated in v3, but the field v2 proxies understand.
#[allow(deprecated)]
pub fn health_check_filter(probe: &Probe) -> HttpFilter {
    let config = HealthCheck {
        pass_through_mode: Some(BoolValue { value: true }),
        headers: vec![HeaderMatcher {
            name: ":path".into(),
            header_match_specifier: Some(header_matcher::HeaderMatchSpecifier::ExactMatch(
                probe.path.clone(),
            )),
            ..Default::default()
        }],
        ..Default::default()
    };
    HttpFilter {
        name: HEALTH_CHECK.into(),
        config_type: Some(http_filter::ConfigType::TypedConfig(util::message_to_any(
            &config,
        ))),
        ..Default::default()
    }
}

impl Plugin for HealthPlugin {
    fn on_inbound_listener(&self, input: &InputParams<'_>, m: &mut MutableObjects<'_>) {
        if input.node.node_type != NodeType::Sidecar {
            return;
        }
        let Some(instance) = input.service_instance else {
            return;
        };
        let endpoint_port = instance.endpoint.endpoint_port;
        for chain in m.filter_chains.iter_mut() {
            if chain.listener_protocol != Some(ListenerProtocol::Http) {
                continue;
            }
            for ip in &input.node.ip_addresses {
                for probe in input
                    .push
                    .service_discovery
                    .0
                    .workload_health_check_info(ip)
                {
                    if probe.port.as_ref().is_some_and(|p| p.port != endpoint_port) {
                        continue;
                    }
                    let filter = health_check_filter(&probe);
                    if !chain.http.contains(&filter) {
                        chain.http.push(filter);
                    }
                }
            }
        }
    }
}
