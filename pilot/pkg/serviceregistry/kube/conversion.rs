//! Kubernetes objects to the model (upstream `pilot/pkg/serviceregistry/kube/conversion.go`
//! and `pkg/config/kube/conversion.go`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use istio_pkg::config::labels;
use istio_pkg::config::protocol::{self, Instance as Protocol};
use k8s_openapi::api::core::v1::{Pod, Service as KubeService, ServicePort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::model::service::{registry, UNSPECIFIED_IP};
use crate::model::{
    IstioEndpoint, Port, PortList, Resolution, Service, ServiceAttributes, ServiceInstance,
    Visibility,
};

/// Service annotation listing SPIFFE identities of the service's workloads.
pub const CANONICAL_SERVICE_ACCOUNTS: &str = "alpha.istio.io/canonical-serviceaccounts";
/// Service annotation listing Kubernetes service accounts of the service's workloads.
pub const KUBERNETES_SERVICE_ACCOUNTS: &str = "alpha.istio.io/kubernetes-serviceaccounts";
/// Service annotation restricting its visibility (`.` or `*`, comma separated).
pub const EXPORT_TO: &str = "networking.istio.io/exportTo";
/// Pod annotation overriding the pod's SPIFFE identity.
pub const IDENTITY: &str = "alpha.istio.io/identity";
/// Pod label overriding the pod's locality (`region.zone.subzone` or `region/zone/subzone`).
pub const LOCALITY_LABEL: &str = "istio-locality";
/// Label carrying a workload's TLS mode.
pub const TLS_MODE_LABEL: &str = "security.istio.io/tlsMode";
/// TLS mode of workloads without the label.
pub const DISABLED_TLS_MODE: &str = "disabled";

/// Ports that are TCP when their name says nothing (SMTP, DNS, MySQL, MongoDB).
const WELL_KNOWN_PORTS: [i32; 4] = [25, 53, 3306, 27017];

/// The protocol of a service port from its Kubernetes protocol and name (upstream
/// `ConvertProtocol`): UDP ports are UDP; a name starting with `grpc-web` is gRPC-Web;
/// otherwise the name up to the first `-` names the protocol; unknown names on well-known
/// ports are TCP.
pub fn convert_protocol(port: i32, name: &str, proto: Option<&str>) -> Protocol {
    if proto == Some("UDP") {
        return Protocol::Udp;
    }
    const GRPC_WEB: &str = "grpc-web";
    if name
        .get(..GRPC_WEB.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(GRPC_WEB))
    {
        return Protocol::GrpcWeb;
    }
    let prefix = name.split('-').next().unwrap_or_default();
    let p = protocol::parse(prefix);
    if p == Protocol::Unsupported && WELL_KNOWN_PORTS.contains(&port) {
        return Protocol::Tcp;
    }
    p
}

fn convert_port(p: &ServicePort) -> Port {
    let name = p.name.clone().unwrap_or_default();
    Port {
        protocol: convert_protocol(p.port, &name, p.protocol.as_deref()),
        name,
        port: p.port.max(0) as u32,
    }
}

/// `<name>.<namespace>.svc.<domain suffix>`.
pub fn service_hostname(name: &str, namespace: &str, domain_suffix: &str) -> String {
    format!("{name}.{namespace}.svc.{domain_suffix}")
}

/// `spiffe://<trust domain>/ns/<namespace>/sa/<service account>`.
pub fn spiffe_uri(trust_domain: &str, namespace: &str, service_account: &str) -> String {
    format!("spiffe://{trust_domain}/ns/{namespace}/sa/{service_account}")
}

/// The identity of a pod: its `alpha.istio.io/identity` annotation under the trust domain, else
/// its service account (upstream `SecureNamingSAN`).
pub fn secure_naming_san(pod: &Pod, trust_domain: &str) -> String {
    let ann = pod.metadata.annotations.as_ref();
    if let Some(identity) = ann.and_then(|a| a.get(IDENTITY)) {
        if identity.is_empty() {
            return String::new();
        }
        return format!("spiffe://{trust_domain}/{identity}");
    }
    spiffe_uri(
        trust_domain,
        pod.metadata.namespace.as_deref().unwrap_or_default(),
        pod.spec
            .as_ref()
            .and_then(|s| s.service_account_name.as_deref())
            .unwrap_or_default(),
    )
}

/// The TLS mode of a pod's endpoints: its `security.istio.io/tlsMode` label, else `disabled`.
pub fn pod_tls_mode(pod: Option<&Pod>) -> String {
    pod.and_then(|p| p.metadata.labels.as_ref())
        .and_then(|l| l.get(TLS_MODE_LABEL))
        .cloned()
        .unwrap_or_else(|| DISABLED_TLS_MODE.to_string())
}

/// A locality label value as a locality: `.` separators become `/` unless it already has `/`
/// (upstream `GetLocalityOrDefault`).
pub fn locality_from_label(label: &str) -> String {
    if label.contains('/') {
        label.to_string()
    } else {
        label.replace('.', "/")
    }
}

/// The labels of an object.
pub fn object_labels(labels: Option<&BTreeMap<String, String>>) -> labels::Instance {
    labels::Instance(labels.cloned().unwrap_or_default())
}

/// The container port a service port targets on `pod` (upstream `FindPort`): a number as is;
/// a name looked up among the pod's container ports with the same protocol.
pub fn find_port(pod: &Pod, svc_port: &ServicePort) -> Option<u32> {
    match &svc_port.target_port {
        Some(IntOrString::Int(n)) => u32::try_from(*n).ok(),
        Some(IntOrString::String(name)) => {
            let want = svc_port.protocol.as_deref().unwrap_or("TCP");
            pod.spec.as_ref()?.containers.iter().find_map(|c| {
                c.ports.iter().flatten().find_map(|p| {
                    (p.name.as_deref() == Some(name)
                        && p.protocol.as_deref().unwrap_or("TCP") == want)
                        .then(|| u32::try_from(p.container_port).ok())
                        .flatten()
                })
            })
        }
        // The API server defaults the target port to the port.
        None => u32::try_from(svc_port.port).ok(),
    }
}

/// Converts a Kubernetes service (upstream `ConvertService`). LoadBalancer ingress host names
/// are not resolved (upstream resolves them through DNS); their IPs are recorded.
pub fn convert_service(
    svc: &KubeService,
    domain_suffix: &str,
    cluster_id: &str,
    trust_domain: &str,
) -> Service {
    let name = svc.metadata.name.clone().unwrap_or_default();
    let namespace = svc.metadata.namespace.clone().unwrap_or_default();
    let spec = svc.spec.clone().unwrap_or_default();
    let mut address = UNSPECIFIED_IP.to_string();
    if let Some(ip) = spec.cluster_ip.as_deref() {
        if !ip.is_empty() && ip != "None" {
            address = ip.to_string();
        }
    }
    let mut resolution = Resolution::ClientSideLb;
    let mut mesh_external = false;
    let mut external = false;
    if spec.type_.as_deref() == Some("ExternalName")
        && spec.external_name.as_deref().is_some_and(|n| !n.is_empty())
    {
        external = true;
        resolution = Resolution::DnsLb;
        mesh_external = true;
    }
    if address == UNSPECIFIED_IP && !external {
        resolution = Resolution::Passthrough;
    }
    let ports = PortList(spec.ports.iter().flatten().map(convert_port).collect());

    let annotations = svc.metadata.annotations.clone().unwrap_or_default();
    let mut service_accounts = Vec::new();
    if let Some(v) = annotations
        .get(CANONICAL_SERVICE_ACCOUNTS)
        .filter(|v| !v.is_empty())
    {
        service_accounts.extend(v.split(',').map(str::to_string));
    }
    if let Some(v) = annotations
        .get(KUBERNETES_SERVICE_ACCOUNTS)
        .filter(|v| !v.is_empty())
    {
        service_accounts.extend(
            v.split(',')
                .map(|sa| spiffe_uri(trust_domain, &namespace, sa)),
        );
    }
    service_accounts.sort();
    let export_to: BTreeSet<Visibility> = annotations
        .get(EXPORT_TO)
        .filter(|v| !v.is_empty())
        .map(|v| v.split(',').filter_map(Visibility::parse).collect())
        .unwrap_or_default();

    let mut cluster_external_addresses = BTreeMap::new();
    if spec.type_.as_deref() == Some("LoadBalancer") {
        let ips: Vec<String> = svc
            .status
            .as_ref()
            .and_then(|s| s.load_balancer.as_ref())
            .and_then(|lb| lb.ingress.as_ref())
            .into_iter()
            .flatten()
            .filter_map(|i| i.ip.clone().filter(|ip| !ip.is_empty()))
            .collect();
        if !ips.is_empty() {
            cluster_external_addresses.insert(cluster_id.to_string(), ips);
        }
    }

    Service {
        hostname: service_hostname(&name, &namespace, domain_suffix),
        cluster_vips: [(cluster_id.to_string(), address.clone())].into(),
        address,
        ports,
        service_accounts,
        creation_time: svc
            .metadata
            .creation_timestamp
            .as_ref()
            .map_or(0, |t| t.0.as_second()),
        resolution,
        mesh_external,
        attributes: ServiceAttributes {
            service_registry: registry::KUBERNETES.to_string(),
            uid: format!("istio://{namespace}/services/{name}"),
            name,
            namespace,
            export_to,
            cluster_external_addresses,
        },
    }
}

/// The instances of an ExternalName service: one per port, at the external name (upstream
/// `ExternalNameServiceInstances`).
pub fn external_name_instances(svc: &KubeService, service: &Arc<Service>) -> Vec<ServiceInstance> {
    let Some(spec) = &svc.spec else {
        return Vec::new();
    };
    let Some(external) = spec.external_name.as_deref().filter(|n| !n.is_empty()) else {
        return Vec::new();
    };
    if spec.type_.as_deref() != Some("ExternalName") {
        return Vec::new();
    }
    let labels = object_labels(svc.metadata.labels.as_ref());
    service
        .ports
        .iter()
        .map(|p| ServiceInstance {
            service: service.clone(),
            service_port: p.clone(),
            endpoint: IstioEndpoint {
                labels: labels.clone(),
                address: external.to_string(),
                endpoint_port: p.port,
                service_port_name: p.name.clone(),
                ..Default::default()
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn protocols_from_port_names() {
        let cases: &[(i32, &str, Option<&str>, Protocol)] = &[
            (80, "", None, Protocol::Unsupported),
            (80, "http", None, Protocol::Http),
            (80, "http", Some("UDP"), Protocol::Udp),
            (80, "http-test", None, Protocol::Http),
            (80, "http.test", None, Protocol::Unsupported),
            (80, "https", None, Protocol::Https),
            (80, "http2", None, Protocol::Http2),
            (80, "grpc", None, Protocol::Grpc),
            (80, "grpc-web", None, Protocol::GrpcWeb),
            (80, "grpc-web-test", None, Protocol::GrpcWeb),
            (80, "GRPC-Web", None, Protocol::GrpcWeb),
            (80, "grpc-test", None, Protocol::Grpc),
            (80, "mongo", None, Protocol::Mongo),
            (80, "mysql", None, Protocol::MySql),
            (80, "redis", None, Protocol::Redis),
            (80, "tcp", None, Protocol::Tcp),
            (80, "tls", None, Protocol::Tls),
            (80, "udp", None, Protocol::Udp),
            (80, "HTTP", None, Protocol::Http),
            (80, "Http-test", None, Protocol::Http),
            (80, "foo", None, Protocol::Unsupported),
            (53, "", None, Protocol::Tcp),
            (53, "dns", None, Protocol::Tcp),
            (3306, "", None, Protocol::Tcp),
            (27017, "", None, Protocol::Tcp),
            (25, "smtp", None, Protocol::Tcp),
            (53, "dns", Some("UDP"), Protocol::Udp),
        ];
        for (port, name, proto, want) in cases {
            assert_eq!(
                convert_protocol(*port, name, *proto),
                *want,
                "{port} {name} {proto:?}"
            );
        }
    }

    fn kube_service(v: serde_json::Value) -> KubeService {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn converts_services() {
        let svc = kube_service(json!({
            "metadata": {"name": "reviews", "namespace": "bookinfo",
                         "creationTimestamp": "2019-11-20T10:11:12Z",
                         "annotations": {
                            CANONICAL_SERVICE_ACCOUNTS: "spiffe://x/ns/a/sa/b,c@d",
                            KUBERNETES_SERVICE_ACCOUNTS: "sa1,sa2",
                            EXPORT_TO: "."}},
            "spec": {"clusterIP": "10.0.0.1", "ports": [
                {"name": "http-web", "port": 9080}, {"name": "dns", "port": 53, "protocol": "UDP"}]}
        }));
        let s = convert_service(&svc, "cluster.local", "Kubernetes", "td");
        assert_eq!(s.hostname, "reviews.bookinfo.svc.cluster.local");
        assert_eq!(s.address, "10.0.0.1");
        assert_eq!(s.resolution, Resolution::ClientSideLb);
        assert!(!s.mesh_external);
        assert_eq!(s.creation_time, 1_574_244_672);
        assert_eq!(s.attributes.uid, "istio://bookinfo/services/reviews");
        assert_eq!(s.attributes.service_registry, "Kubernetes");
        assert_eq!(s.attributes.export_to, [Visibility::Private].into());
        assert_eq!(
            s.service_accounts,
            [
                "c@d",
                "spiffe://td/ns/bookinfo/sa/sa1",
                "spiffe://td/ns/bookinfo/sa/sa2",
                "spiffe://x/ns/a/sa/b"
            ]
        );
        assert_eq!(s.ports.0[0].protocol, Protocol::Http);
        assert_eq!(s.ports.0[1].protocol, Protocol::Udp);
        assert_eq!(s.cluster_vips["Kubernetes"], "10.0.0.1");

        let headless = kube_service(json!({
            "metadata": {"name": "h", "namespace": "ns"},
            "spec": {"clusterIP": "None", "ports": [{"name": "tcp", "port": 90}]}
        }));
        let s = convert_service(&headless, "cluster.local", "c", "td");
        assert_eq!(s.address, UNSPECIFIED_IP);
        assert_eq!(s.resolution, Resolution::Passthrough);

        let ext = kube_service(json!({
            "metadata": {"name": "e", "namespace": "ns", "labels": {"app": "e"}},
            "spec": {"type": "ExternalName", "externalName": "example.com",
                     "ports": [{"name": "http", "port": 80}]}
        }));
        let s = Arc::new(convert_service(&ext, "cluster.local", "c", "td"));
        assert_eq!(s.resolution, Resolution::DnsLb);
        assert!(s.mesh_external);
        let inst = external_name_instances(&ext, &s);
        assert_eq!(inst.len(), 1);
        assert_eq!(inst[0].endpoint.address, "example.com");
        assert_eq!(inst[0].endpoint.endpoint_port, 80);
        assert_eq!(inst[0].endpoint.labels.0["app"], "e");
        assert!(external_name_instances(&headless, &s).is_empty());

        let lb = kube_service(json!({
            "metadata": {"name": "gw", "namespace": "ns"},
            "spec": {"type": "LoadBalancer", "clusterIP": "10.0.0.9"},
            "status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}, {"hostname": "x.elb"}]}}
        }));
        let s = convert_service(&lb, "cluster.local", "c1", "td");
        assert_eq!(s.attributes.cluster_external_addresses["c1"], ["1.2.3.4"]);
    }

    #[test]
    fn pod_identity_ports_and_locality() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "ns",
                         "labels": {TLS_MODE_LABEL: "istio"}},
            "spec": {"serviceAccountName": "sa", "containers": [{"name": "c", "ports": [
                {"name": "web", "containerPort": 8080},
                {"name": "dns", "containerPort": 5353, "protocol": "UDP"}]}]}
        }))
        .unwrap();
        assert_eq!(secure_naming_san(&pod, "td"), "spiffe://td/ns/ns/sa/sa");
        let mut with_id = pod.clone();
        with_id.metadata.annotations = Some([(IDENTITY.to_string(), "custom".to_string())].into());
        assert_eq!(secure_naming_san(&with_id, "td"), "spiffe://td/custom");
        assert_eq!(pod_tls_mode(Some(&pod)), "istio");
        assert_eq!(pod_tls_mode(None), "disabled");
        let port = |v: serde_json::Value| -> ServicePort { serde_json::from_value(v).unwrap() };
        assert_eq!(
            find_port(&pod, &port(json!({"port": 80, "targetPort": "web"}))),
            Some(8080)
        );
        assert_eq!(
            find_port(&pod, &port(json!({"port": 80, "targetPort": 9090}))),
            Some(9090)
        );
        assert_eq!(
            find_port(&pod, &port(json!({"port": 53, "targetPort": "dns"}))),
            None
        );
        assert_eq!(
            find_port(
                &pod,
                &port(json!({"port": 53, "targetPort": "dns", "protocol": "UDP"}))
            ),
            Some(5353)
        );
        assert_eq!(
            find_port(&pod, &port(json!({"port": 80, "targetPort": "nope"}))),
            None
        );
        assert_eq!(locality_from_label("r.z.s"), "r/z/s");
        assert_eq!(locality_from_label("r/z.x"), "r/z.x");
    }
}
