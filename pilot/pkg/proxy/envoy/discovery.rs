//! `/v1/registration` (upstream `pilot/pkg/proxy/envoy/discovery.go`): every service port of
//! the mesh-internal services with its endpoints, a legacy listing kept for debug tools.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::model::{Port, Service};
use crate::proxy::envoy::v2::DiscoveryServer;

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Host {
    #[serde(rename = "ip_address")]
    pub address: String,
    pub port: u32,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct KeyAndService {
    #[serde(rename = "service-key")]
    pub key: String,
    pub hosts: Vec<Host>,
}

/// Upstream's `Service.Key(port, nil)`: the hostname, plus `|<port name>` when the port has a
/// name.
pub fn service_key(svc: &Service, port: &Port) -> String {
    if port.name.is_empty() {
        svc.hostname.clone()
    } else {
        format!("{}|{}", svc.hostname, port.name)
    }
}

/// The listing, sorted by key.
pub fn registration(server: &DiscoveryServer) -> Vec<KeyAndService> {
    let sd = &server.env.service_discovery;
    let none = istio_pkg::config::labels::Collection::default();
    let mut out = Vec::new();
    for svc in sd.services() {
        if svc.mesh_external {
            continue;
        }
        for port in svc.ports.iter() {
            let hosts = sd
                .instances_by_port(&svc, port.port, &none)
                .into_iter()
                .map(|i| Host {
                    address: i.endpoint.address,
                    port: i.endpoint.endpoint_port,
                })
                .collect();
            out.push(KeyAndService {
                key: service_key(&svc, port),
                hosts,
            });
        }
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    out
}

/// `GET /v1/registration`.
pub async fn list_all_endpoints(State(s): State<Arc<DiscoveryServer>>) -> Response {
    let body = crate::proxy::envoy::v2::debug::marshal_indent(&registration(&s), "", " ");
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}
