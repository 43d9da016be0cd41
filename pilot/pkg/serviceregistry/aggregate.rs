//! The aggregate registry (upstream `pilot/pkg/serviceregistry/aggregate`): one
//! [`ServiceDiscovery`] over several registries, queried in the order they were added.
//!
//! - `services`: registries without a cluster id (ServiceEntries, Consul, ...) contribute all
//!   their services as they are; registries with a cluster id (Kubernetes) contribute one
//!   service per hostname (the first registry's wins), and every such registry's address for
//!   that hostname is recorded in `cluster_vips[cluster_id]` (with its LoadBalancer addresses
//!   in `cluster_external_addresses`). Upstream mutates the first registry's service in place;
//!   here the merged service is a copy when anything had to be added.
//! - `get_service`: the first registry that has the hostname.
//! - `instances_by_port`: the instances of every registry, concatenated.
//! - `get_proxy_service_instances`, `get_proxy_workload_labels`, `management_ports`,
//!   `get_istio_service_accounts`: the first registry with a non-empty answer. (Upstream also
//!   records the cluster id of that registry on the proxy; callers that need it use
//!   [`Aggregate::proxy_service_instances_with_cluster`].)

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use istio_pkg::config::labels;

use crate::model::{PortList, Probe, Proxy, Service, ServiceDiscovery, ServiceInstance};

/// One registry of the aggregate.
#[derive(Clone)]
pub struct Registry {
    /// Registry type/name (`Kubernetes`, `ServiceEntries`, `mockAdapter1`, ...).
    pub name: String,
    /// Cluster id; empty for registries that are not per-cluster (ServiceEntries).
    pub cluster_id: String,
    pub discovery: Arc<dyn ServiceDiscovery>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("name", &self.name)
            .field("cluster_id", &self.cluster_id)
            .finish_non_exhaustive()
    }
}

/// Registries merged into one.
#[derive(Debug, Default)]
pub struct Aggregate {
    registries: RwLock<Vec<Registry>>,
}

impl Aggregate {
    pub fn new(registries: Vec<Registry>) -> Aggregate {
        Aggregate {
            registries: RwLock::new(registries),
        }
    }

    /// Appends a registry (queried after the existing ones).
    pub fn add_registry(&self, registry: Registry) {
        self.registries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(registry);
    }

    /// Removes the registry of `cluster_id`; returns whether there was one.
    pub fn delete_registry(&self, cluster_id: &str) -> bool {
        let mut regs = self.registries.write().unwrap_or_else(|e| e.into_inner());
        match regs.iter().position(|r| r.cluster_id == cluster_id) {
            Some(i) => {
                regs.remove(i);
                true
            }
            None => false,
        }
    }

    /// A snapshot of the registries.
    pub fn registries(&self) -> Vec<Registry> {
        self.registries
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Like [`ServiceDiscovery::get_proxy_service_instances`], also returning the cluster id of
    /// the registry that answered (upstream sets it on the proxy).
    pub fn proxy_service_instances_with_cluster(
        &self,
        proxy: &Proxy,
    ) -> Option<(String, Vec<ServiceInstance>)> {
        self.registries().into_iter().find_map(|r| {
            let instances = r.discovery.get_proxy_service_instances(proxy);
            (!instances.is_empty()).then_some((r.cluster_id, instances))
        })
    }
}

impl ServiceDiscovery for Aggregate {
    fn services(&self) -> Vec<Arc<Service>> {
        let mut out: Vec<Arc<Service>> = Vec::new();
        // Hostname -> index in `out`, for per-cluster registries.
        let mut seen: HashMap<String, usize> = HashMap::new();
        for r in self.registries() {
            let svcs = r.discovery.services();
            if r.cluster_id.is_empty() {
                out.extend(svcs);
                continue;
            }
            for s in svcs {
                let idx = match seen.get(&s.hostname) {
                    Some(&i) => i,
                    None => {
                        seen.insert(s.hostname.clone(), out.len());
                        out.push(s.clone());
                        out.len() - 1
                    }
                };
                let merged = &mut out[idx];
                if merged.cluster_vips.get(&r.cluster_id) != Some(&s.address) {
                    Arc::make_mut(merged)
                        .cluster_vips
                        .insert(r.cluster_id.clone(), s.address.clone());
                }
                if let Some(addrs) = s
                    .attributes
                    .cluster_external_addresses
                    .get(&r.cluster_id)
                    .filter(|a| !a.is_empty())
                {
                    if merged
                        .attributes
                        .cluster_external_addresses
                        .get(&r.cluster_id)
                        != Some(addrs)
                    {
                        Arc::make_mut(merged)
                            .attributes
                            .cluster_external_addresses
                            .insert(r.cluster_id.clone(), addrs.clone());
                    }
                }
            }
        }
        out
    }

    fn get_service(&self, hostname: &str) -> Option<Arc<Service>> {
        self.registries()
            .iter()
            .find_map(|r| r.discovery.get_service(hostname))
    }

    fn instances_by_port(
        &self,
        svc: &Service,
        port: u32,
        labels: &labels::Collection,
    ) -> Vec<ServiceInstance> {
        self.registries()
            .iter()
            .flat_map(|r| r.discovery.instances_by_port(svc, port, labels))
            .collect()
    }

    fn get_proxy_service_instances(&self, proxy: &Proxy) -> Vec<ServiceInstance> {
        self.proxy_service_instances_with_cluster(proxy)
            .map(|(_, i)| i)
            .unwrap_or_default()
    }

    fn get_proxy_workload_labels(&self, proxy: &Proxy) -> labels::Collection {
        self.registries()
            .iter()
            .map(|r| r.discovery.get_proxy_workload_labels(proxy))
            .find(|l| !l.0.is_empty())
            .unwrap_or_default()
    }

    fn get_istio_service_accounts(&self, svc: &Service, ports: &[u32]) -> Vec<String> {
        self.registries()
            .iter()
            .map(|r| r.discovery.get_istio_service_accounts(svc, ports))
            .find(|a| !a.is_empty())
            .unwrap_or_default()
    }

    fn management_ports(&self, addr: &str) -> PortList {
        self.registries()
            .iter()
            .map(|r| r.discovery.management_ports(addr))
            .find(|p| !p.is_empty())
            .unwrap_or_default()
    }

    fn workload_health_check_info(&self, addr: &str) -> Vec<Probe> {
        self.registries()
            .iter()
            .map(|r| r.discovery.workload_health_check_info(addr))
            .find(|p| !p.is_empty())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{IstioEndpoint, NodeMetadata};
    use crate::serviceregistry::memory::{make_service, MemoryRegistry};

    fn reg(
        name: &str,
        cluster: &str,
        services: &[(&str, &str)],
    ) -> (Registry, Arc<MemoryRegistry>) {
        let m = Arc::new(MemoryRegistry::new(cluster, None));
        for (h, a) in services {
            m.add_service(make_service(h, a));
        }
        (
            Registry {
                name: name.into(),
                cluster_id: cluster.into(),
                discovery: m.clone(),
            },
            m,
        )
    }

    #[test]
    fn merges_per_cluster_services_and_keeps_others() {
        let (k1, _) = reg(
            "Kubernetes",
            "c1",
            &[("a.ns.svc.cluster.local", "10.0.0.1")],
        );
        let (k2, _) = reg(
            "Kubernetes",
            "c2",
            &[
                ("a.ns.svc.cluster.local", "10.1.0.1"),
                ("b.ns.svc.cluster.local", "10.1.0.2"),
            ],
        );
        let (se, _) = reg(
            "ServiceEntries",
            "",
            &[("a.ns.svc.cluster.local", "1.1.1.1"), ("x.com", "0.0.0.0")],
        );
        let agg = Aggregate::new(vec![k1, k2, se]);
        let svcs = agg.services();
        type Row = (String, String, Vec<(String, String)>);
        let got: Vec<Row> = svcs
            .iter()
            .map(|s| {
                (
                    s.hostname.clone(),
                    s.address.clone(),
                    s.cluster_vips.clone().into_iter().collect(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "a.ns.svc.cluster.local".to_string(),
                    "10.0.0.1".to_string(),
                    vec![
                        ("c1".to_string(), "10.0.0.1".to_string()),
                        ("c2".to_string(), "10.1.0.1".to_string())
                    ]
                ),
                (
                    "b.ns.svc.cluster.local".to_string(),
                    "10.1.0.2".to_string(),
                    vec![("c2".to_string(), "10.1.0.2".to_string())]
                ),
                // Registries without a cluster id are neither merged nor given VIPs.
                (
                    "a.ns.svc.cluster.local".to_string(),
                    "1.1.1.1".to_string(),
                    vec![]
                ),
                ("x.com".to_string(), "0.0.0.0".to_string(), vec![]),
            ]
        );
        assert_eq!(
            agg.get_service("a.ns.svc.cluster.local").unwrap().address,
            "10.0.0.1"
        );
        assert!(agg.delete_registry("c1"));
        assert!(!agg.delete_registry("c1"));
        assert_eq!(
            agg.get_service("a.ns.svc.cluster.local").unwrap().address,
            "10.1.0.1"
        );
    }

    #[test]
    fn instances_concatenate_and_proxy_lookups_stop_at_first_hit() {
        let (r1, m1) = reg("K", "c1", &[("a.ns.svc.cluster.local", "10.0.0.1")]);
        let (r2, m2) = reg("K", "c2", &[("a.ns.svc.cluster.local", "10.1.0.1")]);
        let ep = |ip: &str| IstioEndpoint {
            address: ip.into(),
            endpoint_port: 80,
            service_port_name: "http".into(),
            ..Default::default()
        };
        m1.set_endpoints("a.ns.svc.cluster.local", vec![ep("1.0.0.1")]);
        m2.set_endpoints("a.ns.svc.cluster.local", vec![ep("2.0.0.1"), ep("1.0.0.1")]);
        let agg = Aggregate::new(vec![r1, r2]);
        let svc = agg.get_service("a.ns.svc.cluster.local").unwrap();
        assert_eq!(
            agg.instances_by_port(&svc, 80, &labels::Collection::default())
                .len(),
            3
        );
        let mut proxy = Proxy::parse(
            "sidecar~1.0.0.1~p.ns~ns.svc.cluster.local",
            NodeMetadata::default(),
        )
        .unwrap();
        proxy.ip_addresses = vec!["1.0.0.1".into()];
        let (cluster, inst) = agg.proxy_service_instances_with_cluster(&proxy).unwrap();
        assert_eq!(cluster, "c1");
        assert_eq!(inst.len(), 1);
        proxy.ip_addresses = vec!["2.0.0.1".into()];
        assert_eq!(
            agg.proxy_service_instances_with_cluster(&proxy).unwrap().0,
            "c2"
        );
    }
}
