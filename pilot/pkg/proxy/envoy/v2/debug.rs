//! Debug HTTP endpoints (upstream `pilot/pkg/proxy/envoy/v2/debug.go`), served on :8080 and
//! :15014: `/ready`, `/debug/{edsz,adsz,cdsz,syncz,registryz,endpointz,endpointShardz,
//! configz,push_status,config_dump}` and `/v1/registration`.
//!
//! Envoy resources are rendered as upstream's jsonpb does, in their v2 form (the crate
//! `envoy-v2-api` downgrades and renders them): `/debug/config_dump?proxyID=pod.ns` is the
//! Envoy admin v2alpha `ConfigDump` of what a connected proxy is sent, and `adsz`/`cdsz` list
//! each connection's listeners, routes and clusters when PILOT_DEBUG_ADSZ_CONFIG is set (as
//! upstream; without it they list connections only). Upstream keeps the last resources sent on
//! each connection for these; pilot here generates them again from the current push context,
//! which gives what was last pushed unless a push for the proxy is still in flight.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use envoy_types::pb::envoy::config::core::v3::{address, socket_address};
use envoy_types::pb::envoy::config::endpoint::v3::{lb_endpoint, ClusterLoadAssignment};
use envoy_types::pb::google::protobuf::{value, Struct, Value as PbValue};
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::discovery::DiscoveryServer;
use super::eds::{build_cluster_load_assignment, endpoint_json};
use crate::model::{Service, ServiceInstance};
use crate::networking::core::ResourceKind;

type Params = Query<HashMap<String, String>>;

impl DiscoveryServer {
    /// The debug routes, for the lead's HTTP servers on :8080 and :15014.
    pub fn debug_router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/ready", get(ready))
            .route("/debug/edsz", get(edsz))
            .route("/debug/adsz", get(adsz))
            .route("/debug/cdsz", get(cdsz))
            .route("/debug/syncz", get(syncz))
            .route("/debug/registryz", get(registryz))
            .route("/debug/endpointz", get(endpointz))
            .route("/debug/endpointShardz", get(endpoint_shardz))
            .route("/debug/configz", get(configz))
            .route("/debug/push_status", get(push_status))
            .route("/debug/config_dump", get(config_dump))
            .route(
                "/v1/registration",
                get(crate::proxy::envoy::discovery::list_all_endpoints),
            )
            .with_state(self.clone())
    }
}

type S = State<Arc<DiscoveryServer>>;

fn json_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Go's `json.MarshalIndent(v, prefix, indent)`.
pub(crate) fn marshal_indent<T: Serialize>(v: &T, prefix: &str, indent: &str) -> String {
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(indent.as_bytes());
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    if v.serialize(&mut ser).is_err() {
        return "null".into();
    }
    let s = String::from_utf8(buf).unwrap_or_default();
    if prefix.is_empty() {
        s
    } else {
        s.replace('\n', &format!("\n{prefix}"))
    }
}

async fn ready(State(s): S) -> StatusCode {
    if s.is_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    }
}

/// Go's `%v` of a `time.Time` is not reproducible here; RFC 3339 is close enough for humans.
fn time_string(t: SystemTime) -> String {
    istio_pkg::log::rfc3339_utc(t)
}

#[derive(Serialize)]
struct SyncStatus {
    #[serde(rename = "proxy", skip_serializing_if = "String::is_empty")]
    proxy_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    proxy_version: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    istio_version: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    cluster_sent: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    cluster_acked: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    listener_sent: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    listener_acked: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    route_sent: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    route_acked: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    endpoint_sent: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    endpoint_acked: String,
    #[serde(skip_serializing_if = "is_zero")]
    endpoint_percent: i64,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

async fn syncz(State(s): S) -> Response {
    let n_clusters = s.push_context().all_services().len();
    let out: Vec<SyncStatus> = s
        .connections()
        .iter()
        .map(|c| {
            let p = c.proxy();
            let t = |k| c.type_state(k);
            let (cds, eds, lds, rds) = (
                t(ResourceKind::Cluster),
                t(ResourceKind::Endpoint),
                t(ResourceKind::Listener),
                t(ResourceKind::Route),
            );
            let endpoint_percent = if n_clusters == 0 || eds.nonce_acked.is_empty() {
                0
            } else {
                ((eds.names.len() as f64 / n_clusters as f64) * 100.0) as i64
            };
            SyncStatus {
                proxy_id: p.id.clone(),
                proxy_version: String::new(),
                istio_version: p.metadata.istio_version.clone(),
                cluster_sent: cds.nonce_sent,
                cluster_acked: cds.nonce_acked,
                listener_sent: lds.nonce_sent,
                listener_acked: lds.nonce_acked,
                route_sent: rds.nonce_sent,
                route_acked: rds.nonce_acked,
                endpoint_sent: eds.nonce_sent,
                endpoint_acked: eds.nonce_acked,
                endpoint_percent,
            }
        })
        .collect();
    json_response(StatusCode::OK, marshal_indent(&out, "", "    "))
}

fn connection_summary(s: &DiscoveryServer, resources_key: Option<&str>) -> String {
    let mut out = Vec::new();
    for c in s.connections() {
        let mut m = Map::new();
        m.insert("node".into(), json!(c.con_id));
        m.insert("addr".into(), json!(c.peer_addr));
        m.insert("connect".into(), json!(time_string(c.connect_time)));
        // The resources themselves only with PILOT_DEBUG_ADSZ_CONFIG, as upstream.
        let res = s.features.debug_configs.then(|| {
            let routes = c.type_state(ResourceKind::Route).names.to_vec();
            s.proxy_resources(&c.proxy(), Some(&routes))
        });
        let list = |r: Option<Result<Vec<Value>, String>>| match r {
            None => json!([]),
            Some(Ok(v)) => Value::Array(v),
            Some(Err(e)) => json!([{ "error": e }]),
        };
        match resources_key {
            Some(k) => {
                m.insert(k.into(), list(res.as_ref().map(|r| r.clusters_json())));
            }
            None => {
                m.insert(
                    "listeners".into(),
                    list(res.as_ref().map(|r| r.listeners_json())),
                );
                m.insert(
                    "RDSRoutes".into(),
                    list(res.as_ref().map(|r| r.routes_json())),
                );
                m.insert(
                    "clusters".into(),
                    list(res.as_ref().map(|r| r.clusters_json())),
                );
            }
        }
        out.push(Value::Object(m));
    }
    marshal_indent(&out, "", "  ")
}

async fn adsz(State(s): S, Query(q): Params) -> Response {
    if q.contains_key("push") {
        s.clear_cache();
    }
    json_response(StatusCode::OK, connection_summary(&s, None))
}

async fn cdsz(State(s): S) -> Response {
    json_response(StatusCode::OK, connection_summary(&s, Some("Clusters")))
}

async fn edsz(State(s): S, Query(q): Params) -> Response {
    if q.contains_key("push") {
        s.clear_cache();
    }
    let mut clusters: Vec<String> = s
        .connections()
        .iter()
        .flat_map(|c| c.type_state(ResourceKind::Endpoint).names.to_vec())
        .collect();
    clusters.sort();
    clusters.dedup();
    if clusters.is_empty() {
        return StatusCode::NOT_FOUND.into_response();
    }
    let push = s.push_context();
    let out: Vec<Value> = clusters
        .iter()
        .map(|c| {
            cla_json(&build_cluster_load_assignment(
                c,
                &push,
                &s.endpoints,
                &s.env,
            ))
        })
        .collect();
    json_response(StatusCode::OK, marshal_indent(&out, "", "  "))
}

fn pb_value_json(v: &PbValue) -> Value {
    match &v.kind {
        None | Some(value::Kind::NullValue(_)) => Value::Null,
        Some(value::Kind::NumberValue(n)) => json!(n),
        Some(value::Kind::StringValue(s)) => json!(s),
        Some(value::Kind::BoolValue(b)) => json!(b),
        Some(value::Kind::StructValue(s)) => pb_struct_json(s),
        Some(value::Kind::ListValue(l)) => {
            Value::Array(l.values.iter().map(pb_value_json).collect())
        }
    }
}

fn pb_struct_json(s: &Struct) -> Value {
    let m: BTreeMap<&String, Value> = s
        .fields
        .iter()
        .map(|(k, v)| (k, pb_value_json(v)))
        .collect();
    json!(m)
}

/// A `ClusterLoadAssignment` in protobuf JSON (the fields pilot sets).
pub fn cla_json(cla: &ClusterLoadAssignment) -> Value {
    let endpoints: Vec<Value> = cla
        .endpoints
        .iter()
        .map(|l| {
            let mut m = Map::new();
            if let Some(loc) = &l.locality {
                let mut lm = Map::new();
                for (k, v) in [
                    ("region", &loc.region),
                    ("zone", &loc.zone),
                    ("subZone", &loc.sub_zone),
                ] {
                    if !v.is_empty() {
                        lm.insert(k.into(), json!(v));
                    }
                }
                m.insert("locality".into(), Value::Object(lm));
            }
            let lbs: Vec<Value> = l
                .lb_endpoints
                .iter()
                .map(|e| {
                    let mut em = Map::new();
                    if let Some(lb_endpoint::HostIdentifier::Endpoint(ep)) = &e.host_identifier {
                        let addr = match ep.address.as_ref().and_then(|a| a.address.as_ref()) {
                            Some(address::Address::SocketAddress(sa)) => {
                                let port = match sa.port_specifier {
                                    Some(socket_address::PortSpecifier::PortValue(p)) => p,
                                    _ => 0,
                                };
                                json!({"socketAddress": {"address": sa.address, "portValue": port}})
                            }
                            Some(address::Address::Pipe(p)) => json!({"pipe": {"path": p.path}}),
                            _ => json!({}),
                        };
                        em.insert("endpoint".into(), json!({ "address": addr }));
                    }
                    if let Some(md) = &e.metadata {
                        let fm: BTreeMap<&String, Value> = md
                            .filter_metadata
                            .iter()
                            .map(|(k, v)| (k, pb_struct_json(v)))
                            .collect();
                        em.insert("metadata".into(), json!({ "filterMetadata": fm }));
                    }
                    if let Some(w) = &e.load_balancing_weight {
                        em.insert("loadBalancingWeight".into(), json!(w.value));
                    }
                    Value::Object(em)
                })
                .collect();
            m.insert("lbEndpoints".into(), Value::Array(lbs));
            if let Some(w) = &l.load_balancing_weight {
                m.insert("loadBalancingWeight".into(), json!(w.value));
            }
            Value::Object(m)
        })
        .collect();
    let mut out = Map::new();
    out.insert("clusterName".into(), json!(cla.cluster_name));
    if !endpoints.is_empty() {
        out.insert("endpoints".into(), Value::Array(endpoints));
    }
    Value::Object(out)
}

/// A service with upstream's JSON field names.
pub(crate) fn service_json(s: &Service) -> Value {
    let mut m = Map::new();
    if !s.ports.is_empty() {
        let ports: Vec<Value> = s
            .ports
            .iter()
            .map(|p| {
                let mut pm = Map::new();
                if !p.name.is_empty() {
                    pm.insert("name".into(), json!(p.name));
                }
                pm.insert("port".into(), json!(p.port));
                pm.insert("protocol".into(), json!(p.protocol.as_str()));
                Value::Object(pm)
            })
            .collect();
        m.insert("ports".into(), Value::Array(ports));
    }
    if !s.service_accounts.is_empty() {
        m.insert("serviceAccounts".into(), json!(s.service_accounts));
    }
    m.insert(
        "creationTime".into(),
        json!(istio_pkg::log::rfc3339_utc(
            SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(s.creation_time.max(0) as u64)
        )),
    );
    m.insert("hostname".into(), json!(s.hostname));
    if !s.address.is_empty() {
        m.insert("address".into(), json!(s.address));
    }
    if !s.cluster_vips.is_empty() {
        m.insert("cluster-vips".into(), json!(s.cluster_vips));
    }
    m.insert(
        "Resolution".into(),
        json!(match s.resolution {
            crate::model::Resolution::ClientSideLb => 0,
            crate::model::Resolution::DnsLb => 1,
            crate::model::Resolution::Passthrough => 2,
        }),
    );
    m.insert("MeshExternal".into(), json!(s.mesh_external));
    Value::Object(m)
}

fn instance_json(i: &ServiceInstance) -> Value {
    let mut ep = Map::new();
    ep.insert(
        "Family".into(),
        json!(match i.endpoint.family {
            crate::model::service::AddressFamily::Tcp => 0,
            crate::model::service::AddressFamily::Unix => 1,
        }),
    );
    ep.insert("Address".into(), json!(i.endpoint.address));
    ep.insert("Port".into(), json!(i.endpoint.endpoint_port));
    ep.insert(
        "ServicePort".into(),
        json!({"name": i.service_port.name, "port": i.service_port.port, "protocol": i.service_port.protocol.as_str()}),
    );
    ep.insert("UID".into(), json!(i.endpoint.uid));
    ep.insert("Network".into(), json!(i.endpoint.network));
    ep.insert("Locality".into(), json!(i.endpoint.locality));
    ep.insert("LbWeight".into(), json!(i.endpoint.lb_weight));
    let mut m = Map::new();
    m.insert("endpoint".into(), Value::Object(ep));
    m.insert("service".into(), service_json(&i.service));
    if !i.endpoint.labels.0.is_empty() {
        m.insert("labels".into(), json!(i.endpoint.labels.0));
    }
    if !i.endpoint.service_account.is_empty() {
        m.insert("serviceaccount".into(), json!(i.endpoint.service_account));
    }
    if !i.endpoint.tls_mode.is_empty() {
        m.insert("tlsMode".into(), json!(i.endpoint.tls_mode));
    }
    Value::Object(m)
}

async fn registryz(State(s): S) -> Response {
    let mut out = String::from("[\n");
    for svc in s.env.service_discovery.services() {
        out.push_str(&marshal_indent(&service_json(&svc), "", "  "));
        out.push_str(",\n");
    }
    out.push_str("{}]\n");
    json_response(StatusCode::OK, out)
}

async fn endpointz(State(s): S, Query(q): Params) -> Response {
    let sd = &s.env.service_discovery;
    let none = istio_pkg::config::labels::Collection::default();
    if q.get("brief").is_some_and(|b| !b.is_empty()) {
        let mut out = String::new();
        for svc in sd.services() {
            for p in svc.ports.iter() {
                for i in sd.instances_by_port(&svc, p.port, &none) {
                    let family = match i.endpoint.family {
                        crate::model::service::AddressFamily::Tcp => 0,
                        crate::model::service::AddressFamily::Unix => 1,
                    };
                    out.push_str(&format!(
                        "{}:{} {family} {}:{} {} {}\n",
                        svc.hostname,
                        p.name,
                        i.endpoint.address,
                        i.endpoint.endpoint_port,
                        i.endpoint.labels,
                        i.endpoint.service_account
                    ));
                }
            }
        }
        return json_response(StatusCode::OK, out);
    }
    let mut out = String::from("[\n");
    for svc in sd.services() {
        for p in svc.ports.iter() {
            out.push_str(&format!(
                "\n{{\"svc\": \"{}:{}\", \"ep\": [\n",
                svc.hostname, p.name
            ));
            for i in sd.instances_by_port(&svc, p.port, &none) {
                out.push_str(&marshal_indent(&instance_json(&i), "  ", "  "));
                out.push_str(",\n");
            }
            out.push_str("\n{}]},");
        }
    }
    out.push_str("\n{}]\n");
    json_response(StatusCode::OK, out)
}

async fn endpoint_shardz(State(s): S) -> Response {
    let index = s.endpoints.read().unwrap_or_else(|e| e.into_inner());
    let mut out: BTreeMap<&String, BTreeMap<&String, Value>> = BTreeMap::new();
    for (host, by_ns) in &index.by_service {
        for (ns, shards) in by_ns {
            let sh: BTreeMap<&String, Vec<Value>> = shards
                .shards
                .iter()
                .map(|(k, eps)| (k, eps.iter().map(endpoint_json).collect()))
                .collect();
            let sas: BTreeMap<&String, bool> =
                shards.service_accounts.iter().map(|s| (s, true)).collect();
            out.entry(host)
                .or_default()
                .insert(ns, json!({"Shards": sh, "ServiceAccounts": sas}));
        }
    }
    let body = marshal_indent(&out, " ", " ");
    drop(index);
    json_response(StatusCode::OK, body)
}

async fn configz(State(s): S) -> Response {
    let store = &s.env.config_store;
    let mut out = String::from("\n[\n");
    for kind in store.kinds() {
        let Ok(list) = store.list(kind, None) else {
            continue;
        };
        for c in list {
            let schema = c.meta.schema();
            let mut m = Map::new();
            m.insert("type".into(), json!(schema.type_name));
            m.insert("group".into(), json!(schema.group));
            m.insert("version".into(), json!(schema.version));
            m.insert("name".into(), json!(c.meta.name));
            if !c.meta.namespace.is_empty() {
                m.insert("namespace".into(), json!(c.meta.namespace));
            }
            if !c.meta.domain.is_empty() {
                m.insert("domain".into(), json!(c.meta.domain));
            }
            if !c.meta.labels.is_empty() {
                m.insert("labels".into(), json!(c.meta.labels));
            }
            if !c.meta.annotations.is_empty() {
                m.insert("annotations".into(), json!(c.meta.annotations));
            }
            if !c.meta.resource_version.is_empty() {
                m.insert("resourceVersion".into(), json!(c.meta.resource_version));
            }
            m.insert(
                "creationTimestamp".into(),
                json!(c
                    .meta
                    .creation_timestamp
                    .clone()
                    .unwrap_or_else(|| "0001-01-01T00:00:00Z".into())),
            );
            m.insert("Spec".into(), c.spec.to_json());
            out.push_str(&marshal_indent(&Value::Object(m), "  ", "  "));
            out.push_str(",\n");
        }
    }
    out.push_str("\n{}]");
    json_response(StatusCode::OK, out)
}

async fn push_status(State(s): S) -> Response {
    let push = s.push_context();
    let no_instances = s
        .no_instances
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let mut status = Map::new();
    if !no_instances.is_empty() {
        let m: BTreeMap<String, Value> = no_instances.into_iter().map(|c| (c, json!({}))).collect();
        status.insert("pilot_eds_no_instances".into(), json!(m));
    }
    if !push.errors.is_empty() {
        let m: BTreeMap<String, Value> = push
            .errors
            .iter()
            .map(|e| (e.clone(), json!({ "message": e })))
            .collect();
        status.insert("pilot_push_context_errors".into(), json!(m));
    }
    let body = json!({
        "ProxyStatus": status,
        "Version": push.version,
    });
    json_response(StatusCode::OK, marshal_indent(&body, "", "    "))
}

async fn config_dump(State(s): S, Query(q): Params) -> Response {
    let Some(proxy_id) = q.get("proxyID").filter(|p| !p.is_empty()) else {
        return (
            StatusCode::BAD_REQUEST,
            "You must provide a proxyID in the query string",
        )
            .into_response();
    };
    // The most recent connection of the proxy (connection ids sort by their counter suffix
    // only within equal lengths, so compare the counter).
    let con = s
        .connections()
        .into_iter()
        .filter(|c| c.proxy().id == *proxy_id)
        .max_by_key(|c| connection_counter(&c.con_id));
    let Some(con) = con else {
        return (
            StatusCode::NOT_FOUND,
            "Proxy not connected to this Pilot instance",
        )
            .into_response();
    };
    let routes = con.type_state(ResourceKind::Route).names.to_vec();
    let resources = s.proxy_resources(&con.proxy(), Some(&routes));
    match resources.config_dump(&s.push_context().version) {
        Ok(json) => json_response(StatusCode::OK, marshal_indent(&json, "", "    ")),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e).into_response(),
    }
}

fn connection_counter(con_id: &str) -> u64 {
    con_id
        .rsplit('-')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}
