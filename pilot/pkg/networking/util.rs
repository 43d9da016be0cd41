//! Helpers shared by the config generators (upstream `pilot/pkg/networking/util/util.go` and
//! the cluster-name functions of `pilot/pkg/model/service.go`): well-known cluster and filter
//! names, subset keys, addresses and CIDRs, `Any` packing.

use std::fmt;
use std::net::IpAddr;

use envoy_types::pb::envoy::config::core::v3::{
    address, socket_address, Address, CidrRange, Pipe, SocketAddress,
};
use envoy_types::pb::google::protobuf::{Any, UInt32Value};
use prost::{Message, Name};

use crate::features::Features;
use crate::model::{IstioVersion, Proxy};
use istio_pkg::config::protocol::Instance as Protocol;

/// Cluster that drops everything (unmatched traffic with REGISTRY_ONLY).
pub const BLACK_HOLE_CLUSTER: &str = "BlackHoleCluster";
/// Route name of the catch-all virtual host that answers 502 (REGISTRY_ONLY).
pub const BLACK_HOLE_ROUTE_NAME: &str = "block_all";
/// Cluster forwarding to the original destination (ALLOW_ANY).
pub const PASSTHROUGH_CLUSTER: &str = "PassthroughCluster";
/// Route name of the catch-all virtual host to [`PASSTHROUGH_CLUSTER`].
pub const PASSTHROUGH_ROUTE_NAME: &str = "allow_any";
/// Inbound passthrough clusters, bound to a loopback-ish source address.
pub const INBOUND_PASSTHROUGH_CLUSTER_IPV4: &str = "InboundPassthroughClusterIpv4";
pub const INBOUND_PASSTHROUGH_CLUSTER_IPV6: &str = "InboundPassthroughClusterIpv6";
pub const INBOUND_PASSTHROUGH_BIND_IPV4: &str = "127.0.0.6";
pub const INBOUND_PASSTHROUGH_BIND_IPV6: &str = "::6";
/// Prefix of Unix domain socket addresses.
pub const UNIX_ADDRESS_PREFIX: &str = "unix://";

/// Envoy filter names as Istio 1.4 sends them (Envoy 1.13 accepts these deprecated names).
pub mod filter_names {
    pub const HTTP_CONNECTION_MANAGER: &str = "envoy.http_connection_manager";
    pub const TCP_PROXY: &str = "envoy.tcp_proxy";
    pub const ROUTER: &str = "envoy.router";
    pub const CORS: &str = "envoy.cors";
    pub const FAULT: &str = "envoy.fault";
    pub const GRPC_WEB: &str = "envoy.grpc_web";
    pub const ORIGINAL_DST: &str = "envoy.listener.original_dst";
    pub const HTTP_INSPECTOR: &str = "envoy.listener.http_inspector";
    pub const TLS_INSPECTOR: &str = "envoy.listener.tls_inspector";
    pub const FILE_ACCESS_LOG: &str = "envoy.file_access_log";
    pub const HTTP_GRPC_ACCESS_LOG: &str = "envoy.http_grpc_access_log";
    pub const PREVIOUS_HOSTS_PREDICATE: &str = "envoy.retry_host_predicates.previous_hosts";
}

/// The pseudo service of the fallthrough filter chains and the capture listener's catch-all:
/// [`PASSTHROUGH_CLUSTER`] with ALLOW_ANY, else [`BLACK_HOLE_CLUSTER`] (upstream
/// `FallThroughFilterChainPassthroughService` / `...BlackHoleService`): host and name are the
/// cluster name, nothing else is set.
pub fn fall_through_service(allow_any: bool) -> &'static crate::model::Service {
    fn pseudo(name: &str) -> crate::model::Service {
        crate::model::Service::placeholder(
            name,
            crate::model::ServiceAttributes {
                name: name.to_owned(),
                ..Default::default()
            },
        )
    }
    static PASSTHROUGH: std::sync::LazyLock<crate::model::Service> =
        std::sync::LazyLock::new(|| pseudo(PASSTHROUGH_CLUSTER));
    static BLACK_HOLE: std::sync::LazyLock<crate::model::Service> =
        std::sync::LazyLock::new(|| pseudo(BLACK_HOLE_CLUSTER));
    if allow_any {
        &PASSTHROUGH
    } else {
        &BLACK_HOLE
    }
}

/// Direction of a cluster name (upstream `TrafficDirection`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrafficDirection {
    Inbound,
    Outbound,
}

impl TrafficDirection {
    pub fn as_str(self) -> &'static str {
        match self {
            TrafficDirection::Inbound => "inbound",
            TrafficDirection::Outbound => "outbound",
        }
    }

    pub fn parse(s: &str) -> Option<TrafficDirection> {
        match s {
            "inbound" => Some(TrafficDirection::Inbound),
            "outbound" => Some(TrafficDirection::Outbound),
            _ => None,
        }
    }
}

impl fmt::Display for TrafficDirection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The cluster name `direction|port|subset|hostname` (upstream `BuildSubsetKey`); EDS uses the
/// same string as the service name of outbound clusters.
pub fn build_subset_key(
    direction: TrafficDirection,
    subset: &str,
    host: &str,
    port: u32,
) -> String {
    format!("{direction}|{port}|{subset}|{host}")
}

/// The SNI form `outbound_.port_.subset_.hostname` (upstream `BuildDNSSrvSubsetKey`).
pub fn build_dns_srv_subset_key(
    direction: TrafficDirection,
    subset: &str,
    host: &str,
    port: u32,
) -> String {
    format!("{direction}_.{port}_.{subset}_.{host}")
}

/// The parts of a cluster name built by [`build_subset_key`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubsetKey<'a> {
    pub direction: TrafficDirection,
    pub port: u32,
    pub subset: &'a str,
    pub hostname: &'a str,
}

/// Parses `direction|port|subset|hostname` (upstream `ParseSubsetKey`, stricter: an unknown
/// direction or a bad port is `None` instead of zero values).
pub fn parse_subset_key(key: &str) -> Option<SubsetKey<'_>> {
    let mut it = key.splitn(4, '|');
    let direction = TrafficDirection::parse(it.next()?)?;
    let port = it.next()?.parse().ok()?;
    let subset = it.next()?;
    let hostname = it.next()?;
    Some(SubsetKey {
        direction,
        port,
        subset,
        hostname,
    })
}

/// Whether `key` looks like a subset key (upstream `IsValidSubsetKey`: four `|`-separated
/// parts).
pub fn is_valid_subset_key(key: &str) -> bool {
    key.split('|').count() == 4
}

/// An Envoy address for an IP and port, or a pipe for `unix://` binds (upstream
/// `BuildAddress`).
pub fn build_address(bind: &str, port: u32) -> Address {
    if bind.starts_with(UNIX_ADDRESS_PREFIX) {
        return Address {
            address: Some(address::Address::Pipe(Pipe {
                path: bind.to_owned(),
                ..Default::default()
            })),
        };
    }
    Address {
        address: Some(address::Address::SocketAddress(SocketAddress {
            address: bind.to_owned(),
            port_specifier: Some(socket_address::PortSpecifier::PortValue(port)),
            ..Default::default()
        })),
    }
}

/// A CIDR range from an address or `addr/len` (upstream `ConvertAddressToCidr`); a bare
/// address gets /32 or /128.
pub fn convert_address_to_cidr(addr: &str) -> Option<CidrRange> {
    if addr.is_empty() {
        return None;
    }
    let (prefix, len) = match addr.split_once('/') {
        Some((p, l)) => (p, l.parse().unwrap_or(0)),
        None => (addr, max_cidr_prefix(addr)),
    };
    Some(CidrRange {
        address_prefix: prefix.to_owned(),
        prefix_len: Some(UInt32Value { value: len }),
    })
}

fn max_cidr_prefix(addr: &str) -> u32 {
    match addr.parse::<IpAddr>() {
        Ok(IpAddr::V6(_)) => 128,
        _ => 32,
    }
}

/// Packs a message into `Any` with its v3 type URL (the server rewrites URLs for v2 clients).
pub fn message_to_any<M: Message + Name>(msg: &M) -> Any {
    Any {
        type_url: M::type_url(),
        value: msg.encode_to_vec(),
    }
}

/// Packs already-encoded bytes of message type `M` into `Any`.
pub fn bytes_to_any<M: Name>(value: Vec<u8>) -> Any {
    Any {
        type_url: M::type_url(),
        value,
    }
}

const V1_3: IstioVersion = IstioVersion {
    major: 1,
    minor: 3,
    patch: 0,
};
const V1_4: IstioVersion = IstioVersion {
    major: 1,
    minor: 4,
    patch: 0,
};

/// Whether the proxy runs Istio 1.3 or later (unknown versions count as newest).
pub fn is_istio_version_ge13(proxy: &Proxy) -> bool {
    proxy.istio_version >= V1_3
}

/// Whether the proxy runs Istio 1.4 or later.
pub fn is_istio_version_ge14(proxy: &Proxy) -> bool {
    proxy.istio_version >= V1_4
}

/// Outbound protocol sniffing: the feature flag and a 1.3+ proxy.
pub fn sniffing_enabled_for_outbound(features: &Features, proxy: &Proxy) -> bool {
    features.enable_protocol_sniffing_for_outbound && is_istio_version_ge13(proxy)
}

/// Inbound protocol sniffing: the feature flag and a 1.3+ proxy.
pub fn sniffing_enabled_for_inbound(features: &Features, proxy: &Proxy) -> bool {
    features.enable_protocol_sniffing_for_inbound && is_istio_version_ge13(proxy)
}

/// Whether `protocol` on an outbound port is detected by sniffing.
pub fn sniffing_enabled_for_outbound_port(
    features: &Features,
    proxy: &Proxy,
    protocol: Protocol,
) -> bool {
    sniffing_enabled_for_outbound(features, proxy) && protocol.is_unsupported()
}

/// Whether `protocol` on an inbound port is detected by sniffing.
pub fn sniffing_enabled_for_inbound_port(
    features: &Features,
    proxy: &Proxy,
    protocol: Protocol,
) -> bool {
    sniffing_enabled_for_inbound(features, proxy) && protocol.is_unsupported()
}

/// Wildcard and localhost addresses for the proxy's IP family (upstream
/// `getActualWildcardAndLocalHost`): IPv4 when any address is IPv4.
pub fn wildcard_and_localhost(proxy: &Proxy) -> (&'static str, &'static str) {
    let any_v4 = proxy
        .ip_addresses
        .iter()
        .any(|ip| matches!(ip.parse::<IpAddr>(), Ok(IpAddr::V4(_))));
    if any_v4 {
        ("0.0.0.0", "127.0.0.1")
    } else {
        ("::", "::1")
    }
}

/// Which IP families the proxy has addresses in: (ipv4, ipv6).
pub fn ip_families(proxy: &Proxy) -> (bool, bool) {
    let mut v4 = false;
    let mut v6 = false;
    for ip in &proxy.ip_addresses {
        match ip.parse::<IpAddr>() {
            Ok(IpAddr::V4(_)) => v4 = true,
            Ok(IpAddr::V6(_)) => v6 = true,
            Err(_) => {}
        }
    }
    (v4, v6)
}

/// The IP inbound listeners from a Sidecar bind to: the first global unicast address of the
/// proxy, else the wildcard (upstream `getSidecarInboundBindIP`).
pub fn sidecar_inbound_bind_ip(proxy: &Proxy) -> String {
    let (wildcard, _) = wildcard_and_localhost(proxy);
    for ip in &proxy.ip_addresses {
        if let Ok(addr) = ip.parse::<IpAddr>() {
            if is_global_unicast(addr) {
                return addr.to_string();
            }
        }
    }
    wildcard.to_owned()
}

/// Go's `IP.IsGlobalUnicast`: not unspecified, loopback, multicast, link-local or broadcast.
fn is_global_unicast(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            !(v4.is_unspecified()
                || v4.is_loopback()
                || v4.is_multicast()
                || v4.is_link_local()
                || v4.is_broadcast())
        }
        IpAddr::V6(v6) => {
            !(v6.is_unspecified()
                || v6.is_loopback()
                || v6.is_multicast()
                || (v6.segments()[0] & 0xffc0) == 0xfe80)
        }
    }
}

/// Parses a Go duration string into protobuf form; `None` for empty, invalid or non-positive.
pub fn parse_positive_go_duration(s: &str) -> Option<envoy_types::pb::google::protobuf::Duration> {
    if s.is_empty() {
        return None;
    }
    let nanos = istio_pkg::config::protojson::parse_go_duration(s).ok()?;
    if nanos <= 0 {
        return None;
    }
    Some(envoy_types::pb::google::protobuf::Duration {
        seconds: nanos / 1_000_000_000,
        nanos: (nanos % 1_000_000_000) as i32,
    })
}

/// Converts a mesh-config duration into Envoy's protobuf duration.
pub fn mesh_duration(
    d: Option<&pbjson_types::Duration>,
) -> Option<envoy_types::pb::google::protobuf::Duration> {
    d.map(|d| envoy_types::pb::google::protobuf::Duration {
        seconds: d.seconds,
        nanos: d.nanos,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subset_keys_round_trip() {
        let cases = [
            (
                TrafficDirection::Outbound,
                "",
                "foo.default.svc.cluster.local",
                80,
                "outbound|80||foo.default.svc.cluster.local",
            ),
            (
                TrafficDirection::Inbound,
                "http",
                "s1http.none",
                7071,
                "inbound|7071|http|s1http.none",
            ),
            (
                TrafficDirection::Outbound,
                "v1",
                "*.example.com",
                443,
                "outbound|443|v1|*.example.com",
            ),
        ];
        for (dir, subset, host, port, want) in cases {
            let key = build_subset_key(dir, subset, host, port);
            assert_eq!(key, want);
            assert!(is_valid_subset_key(&key));
            let p = parse_subset_key(&key).unwrap();
            assert_eq!(
                (p.direction, p.subset, p.hostname, p.port),
                (dir, subset, host, port)
            );
        }
        assert_eq!(
            build_dns_srv_subset_key(TrafficDirection::Outbound, "v1", "a.b", 80),
            "outbound_.80_.v1_.a.b"
        );
        assert!(parse_subset_key("sideways|80||a").is_none());
        assert!(parse_subset_key("outbound|http||a").is_none());
        assert!(parse_subset_key("outbound|80|a").is_none());
        assert!(!is_valid_subset_key("BlackHoleCluster"));
    }

    #[test]
    fn cidrs() {
        let c = convert_address_to_cidr("10.1.2.3").unwrap();
        assert_eq!(
            (c.address_prefix.as_str(), c.prefix_len.unwrap().value),
            ("10.1.2.3", 32)
        );
        let c = convert_address_to_cidr("10.1.0.0/16").unwrap();
        assert_eq!(
            (c.address_prefix.as_str(), c.prefix_len.unwrap().value),
            ("10.1.0.0", 16)
        );
        let c = convert_address_to_cidr("::1").unwrap();
        assert_eq!(c.prefix_len.unwrap().value, 128);
        assert!(convert_address_to_cidr("").is_none());
    }

    #[test]
    fn addresses() {
        match build_address("unix:///var/run/a.sock", 0).address {
            Some(address::Address::Pipe(p)) => assert_eq!(p.path, "unix:///var/run/a.sock"),
            other => panic!("{other:?}"),
        }
        match build_address("1.2.3.4", 80).address {
            Some(address::Address::SocketAddress(s)) => {
                assert_eq!(s.address, "1.2.3.4");
                assert_eq!(
                    s.port_specifier,
                    Some(socket_address::PortSpecifier::PortValue(80))
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_positive_go_duration("1m30s").unwrap().seconds, 90);
        assert!(parse_positive_go_duration("0s").is_none());
        assert!(parse_positive_go_duration("bogus").is_none());
        assert!(parse_positive_go_duration("").is_none());
    }
}
