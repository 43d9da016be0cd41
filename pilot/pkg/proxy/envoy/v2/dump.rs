//! What pilot sends one proxy, generated on demand from the current push context: the
//! clusters, listeners, the route configurations its listeners name (or that it watches) and
//! the assignments of its EDS clusters. Used by `/debug/config_dump`, `/debug/adsz` and
//! `/debug/cdsz`, and by the conformance runner, which compares it with upstream's goldens.
//!
//! Everything is shown in its v2 form, as a v2 client receives it and as upstream 1.4 renders
//! it (golang/protobuf jsonpb: lowerCamelCase names, defaults omitted).

use envoy_types::pb::envoy::config::cluster::v3::{cluster, Cluster};
use envoy_types::pb::envoy::config::endpoint::v3::ClusterLoadAssignment;
use envoy_types::pb::envoy::config::listener::v3::{filter, Listener};
use envoy_types::pb::envoy::config::route::v3::RouteConfiguration;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::{
    http_connection_manager::RouteSpecifier, HttpConnectionManager,
};
use envoy_v2_api::JsonOptions;
use prost::Message;
use serde_json::Value;

use super::discovery::DiscoveryServer;
use super::eds::build_cluster_load_assignment;
use super::version::{V3_CLUSTER, V3_ENDPOINT, V3_LISTENER, V3_ROUTE};
use crate::model::{NodeMetadata, Proxy};

/// The resources of one proxy (v3 messages, as generated).
#[derive(Debug, Clone, Default)]
pub struct ProxyResources {
    pub clusters: Vec<Cluster>,
    pub listeners: Vec<Listener>,
    pub routes: Vec<RouteConfiguration>,
    pub endpoints: Vec<ClusterLoadAssignment>,
}

impl DiscoveryServer {
    /// The proxy a connection with this node id and metadata would be: parsed as the ADS
    /// server does, with its service instances, labels and locality from the registries.
    pub fn proxy_from_node(&self, node_id: &str, metadata: NodeMetadata) -> Result<Proxy, String> {
        let proxy = Proxy::parse(node_id, metadata).map_err(|e| e.to_string())?;
        Ok(self.refresh_proxy(&proxy, None))
    }

    /// Generates what `proxy` is sent under the current push context. `route_names` are the
    /// route configurations it watches; `None` takes those its listeners name (what Envoy
    /// would request).
    pub fn proxy_resources(&self, proxy: &Proxy, route_names: Option<&[String]>) -> ProxyResources {
        let push = self.push_context();
        let clusters = self.generator.build_clusters(proxy, &push);
        let listeners = self.generator.build_listeners(proxy, &push);
        let names = match route_names {
            Some(n) => n.to_vec(),
            None => rds_route_names(&listeners),
        };
        let routes = if names.is_empty() {
            Vec::new()
        } else {
            self.generator.build_http_routes(proxy, &push, &names)
        };
        let endpoints = eds_cluster_names(&clusters)
            .iter()
            .map(|c| build_cluster_load_assignment(c, &push, &self.endpoints, &self.env))
            .collect();
        ProxyResources {
            clusters,
            listeners,
            routes,
            endpoints,
        }
    }
}

/// The route configuration names of the listeners' HTTP connection managers (RDS), sorted and
/// without duplicates.
pub fn rds_route_names(listeners: &[Listener]) -> Vec<String> {
    let mut names: Vec<String> = listeners
        .iter()
        .flat_map(|l| &l.filter_chains)
        .flat_map(|fc| &fc.filters)
        .filter_map(|f| match &f.config_type {
            Some(filter::ConfigType::TypedConfig(any)) => {
                HttpConnectionManager::decode(any.value.as_slice()).ok()
            }
            _ => None,
        })
        .filter_map(|hcm| match hcm.route_specifier {
            Some(RouteSpecifier::Rds(rds)) => Some(rds.route_config_name),
            _ => None,
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The names Envoy asks EDS for: those of the EDS clusters (their `service_name` if set).
pub fn eds_cluster_names(clusters: &[Cluster]) -> Vec<String> {
    clusters
        .iter()
        .filter(|c| {
            c.cluster_discovery_type
                == Some(cluster::ClusterDiscoveryType::Type(
                    cluster::DiscoveryType::Eds as i32,
                ))
        })
        .map(|c| match &c.eds_cluster_config {
            Some(e) if !e.service_name.is_empty() => e.service_name.clone(),
            _ => c.name.clone(),
        })
        .collect()
}

/// One resource in its v2 form (the bytes a v2 client receives).
pub fn to_v2<M: Message>(v3_type_url: &str, msg: &M) -> Result<prost_types::Any, String> {
    let (type_url, value) = envoy_v2_api::downgrade_bytes(v3_type_url, &msg.encode_to_vec())
        .map_err(|e| e.to_string())?;
    Ok(prost_types::Any { type_url, value })
}

/// One resource as upstream's jsonpb renders the v2 message (no `@type`).
pub fn v2_json<M: Message>(v3_type_url: &str, msg: &M) -> Result<Value, String> {
    let any = to_v2(v3_type_url, msg)?;
    let mut json =
        envoy_v2_api::to_json_with(&any, &JsonOptions::JSONPB).map_err(|e| e.to_string())?;
    if let Value::Object(m) = &mut json {
        m.remove("@type");
    }
    Ok(json)
}

fn all_json<M: Message>(v3_type_url: &str, msgs: &[M]) -> Result<Vec<Value>, String> {
    msgs.iter().map(|m| v2_json(v3_type_url, m)).collect()
}

/// A v2alpha admin config dump section: `version_info` (1) and dynamic entries (3), each with
/// the resource at field 2 (`DynamicCluster.cluster`, `DynamicListener.listener`,
/// `DynamicRouteConfig.route_config`).
#[derive(Clone, PartialEq, Message)]
struct DumpSection {
    #[prost(string, tag = "1")]
    version_info: String,
    #[prost(message, repeated, tag = "3")]
    dynamic: Vec<DynamicEntry>,
}

#[derive(Clone, PartialEq, Message)]
struct DynamicEntry {
    #[prost(bytes = "vec", tag = "2")]
    resource: Vec<u8>,
}

/// `envoy.admin.v2alpha.ConfigDump`.
#[derive(Clone, PartialEq, Message)]
struct ConfigDump {
    #[prost(message, repeated, tag = "1")]
    configs: Vec<prost_types::Any>,
}

const ADMIN: &str = "type.googleapis.com/envoy.admin.v2alpha.";

fn section<M: Message>(
    admin_type: &str,
    version_info: &str,
    v3_type_url: &str,
    msgs: &[M],
) -> Result<prost_types::Any, String> {
    let dynamic = msgs
        .iter()
        .map(|m| to_v2(v3_type_url, m).map(|a| DynamicEntry { resource: a.value }))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(prost_types::Any {
        type_url: format!("{ADMIN}{admin_type}"),
        value: DumpSection {
            version_info: version_info.to_owned(),
            dynamic,
        }
        .encode_to_vec(),
    })
}

impl ProxyResources {
    /// The Envoy admin v2alpha `ConfigDump` pilot's `/debug/config_dump` answers: an empty
    /// bootstrap, then the clusters, listeners and route configurations as dynamic active
    /// resources, rendered as jsonpb.
    pub fn config_dump(&self, version_info: &str) -> Result<Value, String> {
        let dump = ConfigDump {
            configs: vec![
                prost_types::Any {
                    type_url: format!("{ADMIN}BootstrapConfigDump"),
                    value: Vec::new(),
                },
                section(
                    "ClustersConfigDump",
                    version_info,
                    V3_CLUSTER,
                    &self.clusters,
                )?,
                section(
                    "ListenersConfigDump",
                    version_info,
                    V3_LISTENER,
                    &self.listeners,
                )?,
                // Upstream leaves the routes' version empty.
                section("RoutesConfigDump", "", V3_ROUTE, &self.routes)?,
            ],
        };
        let any = prost_types::Any {
            type_url: format!("{ADMIN}ConfigDump"),
            value: dump.encode_to_vec(),
        };
        let mut json =
            envoy_v2_api::to_json_with(&any, &JsonOptions::JSONPB).map_err(|e| e.to_string())?;
        if let Value::Object(m) = &mut json {
            m.remove("@type");
        }
        Ok(json)
    }

    /// The clusters as jsonpb v2 JSON.
    pub fn clusters_json(&self) -> Result<Vec<Value>, String> {
        all_json(V3_CLUSTER, &self.clusters)
    }

    /// The listeners as jsonpb v2 JSON.
    pub fn listeners_json(&self) -> Result<Vec<Value>, String> {
        all_json(V3_LISTENER, &self.listeners)
    }

    /// The route configurations as jsonpb v2 JSON.
    pub fn routes_json(&self) -> Result<Vec<Value>, String> {
        all_json(V3_ROUTE, &self.routes)
    }

    /// The assignments as jsonpb v2 JSON.
    pub fn endpoints_json(&self) -> Result<Vec<Value>, String> {
        all_json(V3_ENDPOINT, &self.endpoints)
    }
}
