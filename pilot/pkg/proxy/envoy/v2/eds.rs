//! The endpoint index and EDS generation (upstream `pilot/pkg/proxy/envoy/v2/eds.go`).
//!
//! Registries report the complete endpoint list of a service per registry shard
//! ([`crate::model::XdsUpdater::eds_update`]); the index keeps them per hostname and namespace.
//! A `ClusterLoadAssignment` for `outbound|<port>|<subset>|<hostname>` is built from the
//! endpoints whose service port name is the port's name, grouped by locality.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;

use envoy_types::pb::envoy::config::core::v3::{
    address, socket_address, Address, Locality, Metadata, Pipe, SocketAddress,
};
use envoy_types::pb::envoy::config::endpoint::v3::{
    lb_endpoint, ClusterLoadAssignment, Endpoint, LbEndpoint, LocalityLbEndpoints,
};
use envoy_types::pb::google::protobuf::{value, Struct, UInt32Value, Value};

use crate::model::service::AddressFamily;
use crate::model::{Environment, IstioEndpoint, PushContext};
use istio_pkg::config::model::Spec;
use istio_pkg::config::schema::Kind;
use istio_pkg::config::{host, labels};

/// Endpoint metadata keys (upstream `util.IstioMetadataKey`,
/// `util.EnvoyTransportSocketMetadataKey`).
pub const ISTIO_METADATA_KEY: &str = "istio";
pub const TRANSPORT_SOCKET_METADATA_KEY: &str = "envoy.transport_socket_match";

static GENERATION: AtomicU64 = AtomicU64::new(1);

/// The endpoints of one service (hostname + namespace), per registry shard.
#[derive(Debug, Clone, Default)]
pub struct EndpointShards {
    pub shards: BTreeMap<String, Vec<IstioEndpoint>>,
    /// Every service account seen in the endpoints so far; a new one needs a full push
    /// (secure naming lives in CDS).
    pub service_accounts: BTreeSet<String>,
    /// Changes with every update; EDS cache entries remember the generation they were built
    /// from.
    pub generation: u64,
}

/// An endpoint with upstream's JSON field names (for `/debug/endpointShardz`).
pub fn endpoint_json(e: &IstioEndpoint) -> serde_json::Value {
    serde_json::json!({
        "Labels": e.labels.0,
        "Family": match e.family { AddressFamily::Tcp => 0, AddressFamily::Unix => 1 },
        "Address": e.address,
        "EndpointPort": e.endpoint_port,
        "ServicePortName": e.service_port_name,
        "UID": e.uid,
        "ServiceAccount": e.service_account,
        "Network": e.network,
        "Locality": e.locality,
        "LbWeight": e.lb_weight,
        "TLSMode": e.tls_mode,
    })
}

/// What an endpoint update requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateOutcome {
    /// Nothing to push (removal of endpoints that were never known).
    None,
    /// Push EDS for the hostname only.
    Eds,
    /// A new service or a new service account: push everything.
    Full,
}

/// Endpoints by hostname, then namespace (upstream `EndpointShardsByService`).
#[derive(Debug, Default)]
pub struct EndpointIndex {
    pub by_service: HashMap<String, HashMap<String, EndpointShards>>,
}

impl EndpointIndex {
    /// Replaces the endpoints of `hostname` in `namespace` from registry `shard` (upstream
    /// `edsUpdate`).
    pub fn update(
        &mut self,
        shard: &str,
        hostname: &str,
        namespace: &str,
        endpoints: Vec<IstioEndpoint>,
    ) -> UpdateOutcome {
        if endpoints.is_empty() {
            let Some(by_ns) = self.by_service.get_mut(hostname) else {
                return UpdateOutcome::None;
            };
            let Some(shards) = by_ns.get_mut(namespace) else {
                return UpdateOutcome::None;
            };
            shards.shards.remove(shard);
            shards.generation = GENERATION.fetch_add(1, Ordering::Relaxed);
            if shards.shards.is_empty() {
                by_ns.remove(namespace);
                if by_ns.is_empty() {
                    self.by_service.remove(hostname);
                }
            }
            return UpdateOutcome::Eds;
        }
        let by_ns = self.by_service.entry(hostname.to_owned()).or_default();
        let mut outcome = UpdateOutcome::Eds;
        let shards = by_ns.entry(namespace.to_owned()).or_insert_with(|| {
            outcome = UpdateOutcome::Full;
            EndpointShards::default()
        });
        for e in &endpoints {
            if !e.service_account.is_empty()
                && shards.service_accounts.insert(e.service_account.clone())
            {
                outcome = UpdateOutcome::Full;
            }
        }
        shards.shards.insert(shard.to_owned(), endpoints);
        shards.generation = GENERATION.fetch_add(1, Ordering::Relaxed);
        outcome
    }

    /// Removes what registry `shard` reported for a deleted service.
    pub fn remove_service(&mut self, shard: &str, hostname: &str, namespace: &str) {
        self.update(shard, hostname, namespace, Vec::new());
    }

    /// The generation of a service's endpoints (0 when it has none).
    pub fn generation(&self, hostname: &str, namespace: &str) -> u64 {
        self.by_service
            .get(hostname)
            .and_then(|m| m.get(namespace))
            .map_or(0, |s| s.generation)
    }

    pub fn get(&self, hostname: &str, namespace: &str) -> Option<&EndpointShards> {
        self.by_service.get(hostname).and_then(|m| m.get(namespace))
    }
}

/// The parts of a cluster name `direction|port|subset|hostname` (upstream `ParseSubsetKey`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubsetKey<'a> {
    pub direction: &'a str,
    pub port: u32,
    pub subset: &'a str,
    pub hostname: &'a str,
}

/// Splits a cluster name; `None` for names that are not `dir|port|subset|host`.
pub fn parse_subset_key(name: &str) -> Option<SubsetKey<'_>> {
    let mut it = name.split('|');
    let (direction, port, subset, hostname) = (it.next()?, it.next()?, it.next()?, it.next()?);
    if it.next().is_some() {
        return None;
    }
    Some(SubsetKey {
        direction,
        port: port.parse().unwrap_or(0),
        subset,
        hostname,
    })
}

/// The hostname a cluster name refers to (empty for other names).
pub fn cluster_hostname(name: &str) -> &str {
    parse_subset_key(name).map_or("", |k| k.hostname)
}

/// `region/zone/subzone` as an Envoy locality; `None` for an empty string.
pub fn convert_locality(locality: &str) -> Option<Locality> {
    if locality.is_empty() {
        return None;
    }
    let mut parts = locality.splitn(3, '/');
    let mut next = || parts.next().unwrap_or("").to_owned();
    Some(Locality {
        region: next(),
        zone: next(),
        sub_zone: next(),
    })
}

fn string_value(s: &str) -> Value {
    Value {
        kind: Some(value::Kind::StringValue(s.to_owned())),
    }
}

/// Endpoint metadata as upstream's `BuildLbEndpointMetadata`: `istio: {uid, network}` and
/// `envoy.transport_socket_match: {tlsMode}`.
pub fn lb_endpoint_metadata(uid: &str, network: &str, tls_mode: &str) -> Option<Metadata> {
    if uid.is_empty() && network.is_empty() && tls_mode == "disabled" {
        return None;
    }
    let mut md = Metadata::default();
    if !uid.is_empty() || !network.is_empty() {
        let mut s = Struct::default();
        if !uid.is_empty() {
            s.fields.insert("uid".into(), string_value(uid));
        }
        if !network.is_empty() {
            s.fields.insert("network".into(), string_value(network));
        }
        md.filter_metadata.insert(ISTIO_METADATA_KEY.into(), s);
    }
    if !tls_mode.is_empty() {
        let mut s = Struct::default();
        s.fields.insert("tlsMode".into(), string_value(tls_mode));
        md.filter_metadata
            .insert(TRANSPORT_SOCKET_METADATA_KEY.into(), s);
    }
    Some(md)
}

/// One Envoy endpoint (upstream `buildEnvoyLbEndpoint`).
pub fn build_lb_endpoint(e: &IstioEndpoint) -> LbEndpoint {
    let address = match e.family {
        AddressFamily::Tcp => address::Address::SocketAddress(SocketAddress {
            address: e.address.clone(),
            port_specifier: Some(socket_address::PortSpecifier::PortValue(e.endpoint_port)),
            ..Default::default()
        }),
        AddressFamily::Unix => address::Address::Pipe(Pipe {
            path: e.address.clone(),
            ..Default::default()
        }),
    };
    LbEndpoint {
        load_balancing_weight: Some(UInt32Value {
            value: e.lb_weight.max(1),
        }),
        host_identifier: Some(lb_endpoint::HostIdentifier::Endpoint(Endpoint {
            address: Some(Address {
                address: Some(address),
            }),
            ..Default::default()
        })),
        metadata: lb_endpoint_metadata(&e.uid, &e.network, &e.tls_mode),
        ..Default::default()
    }
}

/// Groups endpoints by locality (sorted by locality), with each locality's weight the sum of
/// its endpoints' weights.
pub fn locality_lb_endpoints<'a>(
    endpoints: impl IntoIterator<Item = &'a IstioEndpoint>,
) -> Vec<LocalityLbEndpoints> {
    let mut by_locality: BTreeMap<&str, Vec<LbEndpoint>> = BTreeMap::new();
    for e in endpoints {
        by_locality
            .entry(e.locality.as_str())
            .or_default()
            .push(build_lb_endpoint(e));
    }
    by_locality
        .into_iter()
        .map(|(loc, lb_endpoints)| {
            let weight: u32 = lb_endpoints
                .iter()
                .map(|e| e.load_balancing_weight.as_ref().map_or(0, |w| w.value))
                .fold(0u32, u32::saturating_add);
            LocalityLbEndpoints {
                locality: convert_locality(loc),
                lb_endpoints,
                load_balancing_weight: Some(UInt32Value { value: weight }),
                ..Default::default()
            }
        })
        .collect()
}

/// A DestinationRule host made fully qualified relative to the rule's namespace (upstream
/// `ResolveShortnameToFQDN`): names without a dot get `.<namespace>.svc.<domain>`.
pub fn resolve_short_name(host: &str, namespace: &str, domain: &str) -> String {
    if host == "*" || host.contains('.') {
        return host.to_owned();
    }
    let mut out = host.to_owned();
    if !namespace.is_empty() {
        out.push('.');
        out.push_str(namespace);
    }
    if !domain.is_empty() {
        out.push_str(".svc.");
        out.push_str(domain);
    }
    out
}

/// Endpoint labels a subset selects (upstream `SubsetToLabels` without a proxy): the labels
/// of the named subset in the DestinationRule for `hostname` (an exact host first, else the
/// most specific wildcard). An empty subset, no rule or no such subset select every endpoint.
pub fn subset_labels(push: &PushContext, subset: &str, hostname: &str) -> labels::Collection {
    if subset.is_empty() {
        return labels::Collection::default();
    }
    let mut best: Option<(
        String,
        &istio_api::istio::networking::v1alpha3::DestinationRule,
    )> = None;
    for cfg in push.configs(Kind::DestinationRule) {
        let Spec::DestinationRule(dr) = &cfg.spec else {
            continue;
        };
        let domain = if cfg.meta.domain.is_empty() {
            push.domain_suffix.as_str()
        } else {
            cfg.meta.domain.as_str()
        };
        let h = resolve_short_name(&dr.host, &cfg.meta.namespace, domain);
        if !host::subset_of(hostname, &h) {
            continue;
        }
        let better = match &best {
            None => true,
            Some((b, _)) => host::compare(&h, b) == std::cmp::Ordering::Less,
        };
        if better {
            best = Some((h, dr));
        }
    }
    best.and_then(|(_, dr)| dr.subsets.iter().find(|s| s.name == subset))
        .map(|s| labels::Collection(vec![labels::Instance(s.labels.clone())]))
        .unwrap_or_default()
}

/// The `ClusterLoadAssignment` of `cluster_name` from the index (upstream
/// `loadAssignmentsForClusterIsolated` without locality and network rewriting). Unknown
/// services, ports and non-service clusters get an empty assignment.
///
/// When the index has no endpoints for the service, the registry is asked directly (upstream's
/// legacy path, for registries that do not report endpoints through EDS updates).
///
/// The index lock is held only while reading the index, never while calling the registry
/// (registries call [`crate::model::XdsUpdater::eds_update`] with their own locks held).
pub fn build_cluster_load_assignment(
    cluster_name: &str,
    push: &PushContext,
    index: &RwLock<EndpointIndex>,
    env: &Environment,
) -> ClusterLoadAssignment {
    let mut cla = ClusterLoadAssignment {
        cluster_name: cluster_name.to_owned(),
        ..Default::default()
    };
    let Some(key) = parse_subset_key(cluster_name) else {
        return cla;
    };
    if key.direction != "outbound" && key.direction != "inbound" {
        return cla;
    }
    let Some(svc) = push.service_by_hostname(key.hostname) else {
        return cla;
    };
    let Some(port) = svc.ports.get_by_port(key.port) else {
        return cla;
    };
    let selector = subset_labels(push, key.subset, key.hostname);
    let from_index = {
        let index = index.read().unwrap_or_else(|e| e.into_inner());
        index
            .get(key.hostname, &svc.attributes.namespace)
            .map(|shards| {
                let eps = shards.shards.values().flatten().filter(|e| {
                    e.service_port_name == port.name && selector.has_subset_of(&e.labels)
                });
                locality_lb_endpoints(eps)
            })
    };
    match from_index {
        Some(endpoints) => cla.endpoints = endpoints,
        None => {
            let instances = env
                .service_discovery
                .instances_by_port(svc, port.port, &selector);
            cla.endpoints = locality_lb_endpoints(instances.iter().map(|i| &i.endpoint));
        }
    }
    cla
}

/// Number of endpoints in an assignment.
pub fn endpoint_count(cla: &ClusterLoadAssignment) -> usize {
    cla.endpoints.iter().map(|l| l.lb_endpoints.len()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(addr: &str, port_name: &str, locality: &str, weight: u32) -> IstioEndpoint {
        IstioEndpoint {
            address: addr.into(),
            endpoint_port: 8080,
            service_port_name: port_name.into(),
            locality: locality.into(),
            lb_weight: weight,
            uid: format!("kubernetes://{addr}"),
            tls_mode: "istio".into(),
            ..Default::default()
        }
    }

    #[test]
    fn short_names_resolve_in_the_rule_namespace() {
        assert_eq!(
            resolve_short_name("reviews", "ns", "cluster.local"),
            "reviews.ns.svc.cluster.local"
        );
        assert_eq!(
            resolve_short_name("reviews.other", "ns", "cluster.local"),
            "reviews.other"
        );
        assert_eq!(resolve_short_name("*", "ns", "cluster.local"), "*");
    }

    #[test]
    fn subset_keys() {
        assert_eq!(
            parse_subset_key("outbound|80|v1|a.ns.svc.cluster.local"),
            Some(SubsetKey {
                direction: "outbound",
                port: 80,
                subset: "v1",
                hostname: "a.ns.svc.cluster.local"
            })
        );
        assert_eq!(
            parse_subset_key("outbound|80||a").map(|k| (k.subset, k.hostname)),
            Some(("", "a"))
        );
        assert_eq!(parse_subset_key("BlackHoleCluster"), None);
        assert_eq!(
            cluster_hostname("inbound|9080|http|r.default.svc.cluster.local"),
            "r.default.svc.cluster.local"
        );
    }

    #[test]
    fn groups_by_locality_with_summed_weights() {
        let eps = [
            ep("10.0.0.1", "http", "us/east/a", 0),
            ep("10.0.0.2", "http", "us/east/a", 3),
            ep("10.0.0.3", "http", "eu", 2),
            ep("10.0.0.4", "http", "", 0),
        ];
        let locs = locality_lb_endpoints(eps.iter());
        assert_eq!(locs.len(), 3);
        // Sorted by locality string: "", "eu", "us/east/a".
        assert_eq!(locs[0].locality, None);
        assert_eq!(locs[0].load_balancing_weight.as_ref().unwrap().value, 1);
        assert_eq!(
            locs[1].locality,
            Some(Locality {
                region: "eu".into(),
                zone: String::new(),
                sub_zone: String::new()
            })
        );
        let us = &locs[2];
        assert_eq!(
            us.locality,
            Some(Locality {
                region: "us".into(),
                zone: "east".into(),
                sub_zone: "a".into()
            })
        );
        assert_eq!(us.lb_endpoints.len(), 2);
        assert_eq!(us.load_balancing_weight.as_ref().unwrap().value, 4);
    }

    #[test]
    fn endpoint_metadata_as_upstream() {
        let md = lb_endpoint_metadata("kubernetes://a.b", "", "istio").unwrap();
        let istio = &md.filter_metadata[ISTIO_METADATA_KEY];
        assert_eq!(istio.fields["uid"], string_value("kubernetes://a.b"));
        assert!(!istio.fields.contains_key("network"));
        assert_eq!(
            md.filter_metadata[TRANSPORT_SOCKET_METADATA_KEY].fields["tlsMode"],
            string_value("istio")
        );
        assert_eq!(lb_endpoint_metadata("", "", "disabled"), None);
        let md = lb_endpoint_metadata("", "net1", "").unwrap();
        assert!(!md
            .filter_metadata
            .contains_key(TRANSPORT_SOCKET_METADATA_KEY));
        let e = build_lb_endpoint(&ep("1.2.3.4", "http", "", 0));
        let Some(lb_endpoint::HostIdentifier::Endpoint(end)) = e.host_identifier else {
            panic!("no endpoint");
        };
        let Some(address::Address::SocketAddress(sa)) = end.address.unwrap().address else {
            panic!("no socket address");
        };
        assert_eq!(sa.address, "1.2.3.4");
        assert_eq!(
            sa.port_specifier,
            Some(socket_address::PortSpecifier::PortValue(8080))
        );
    }

    #[test]
    fn index_updates_report_what_to_push() {
        let mut idx = EndpointIndex::default();
        let mut e = ep("10.0.0.1", "http", "", 0);
        assert_eq!(
            idx.update("K", "a", "ns", vec![e.clone()]),
            UpdateOutcome::Full
        );
        let g1 = idx.generation("a", "ns");
        assert_eq!(
            idx.update("K", "a", "ns", vec![e.clone()]),
            UpdateOutcome::Eds
        );
        assert!(idx.generation("a", "ns") > g1);
        e.service_account = "spiffe://cluster.local/ns/ns/sa/a".into();
        assert_eq!(
            idx.update("K2", "a", "ns", vec![e.clone()]),
            UpdateOutcome::Full
        );
        assert_eq!(idx.update("K2", "a", "ns", vec![e]), UpdateOutcome::Eds);
        assert_eq!(idx.get("a", "ns").unwrap().shards.len(), 2);
        assert_eq!(idx.update("K", "a", "ns", vec![]), UpdateOutcome::Eds);
        assert_eq!(idx.update("K2", "a", "ns", vec![]), UpdateOutcome::Eds);
        assert!(idx.get("a", "ns").is_none());
        assert_eq!(idx.generation("a", "ns"), 0);
        assert_eq!(idx.update("K", "a", "ns", vec![]), UpdateOutcome::None);
    }
}
