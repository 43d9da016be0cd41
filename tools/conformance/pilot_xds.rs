//! Pilot's generated xDS for upstream's "none" test proxy against upstream's goldens
//! pilot/pkg/proxy/envoy/v2/testdata/none_*.json.
//!
//! The setup is upstream's `initLocalPilotTestEnv` (pilot/pkg/proxy/envoy/v2/xds_test.go):
//! pilot-discovery with `--registries Mock`, the vector set's tests/testdata/config as
//! `--configDir`, the default mesh, PILOT_ENABLE_PROTOCOL_SNIFFING_FOR_INBOUND=true (set by
//! `TestLDSIsolated`), and the services that test adds to the debug memory registry. The proxy
//! is `TestLDSIsolated/sidecar_none`'s: `sidecar~10.11.0.1~test-1.none~none.svc.cluster.local`
//! with metadata `INTERCEPTION_MODE: NONE, HTTP10: "1"` (and nothing else, as upstream's ADS
//! client sends it). Its resources are sorted into the files as upstream's ADS client does:
//! listeners by the first filter of their last filter chain (HTTP connection manager or TCP
//! proxy), clusters into EDS and others, routes for the names the HTTP listeners imply.
//!
//! Upstream's own test checks two things and only logs the golden differences, because the
//! goldens were last regenerated in January 2019 (Istio 1.1 development) and went stale as 1.4
//! evolved. This suite checks:
//!
//! - upstream 1.4.10's assertions: five HTTP listeners, some TCP listeners; and, for TestEds's
//!   first client in the same env, the TCP, Unix-socket and weighted-ServiceEntry endpoints;
//! - every golden compared structurally with what we generate (order ignored where Envoy
//!   ignores it): each difference must be one of [`KNOWN_STALE`], the changes between the
//!   goldens' pilot and 1.4.10, each tied to the 1.4.10 code that makes it. Any other
//!   difference fails the case and is printed.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use anyhow::{anyhow, Context};
use envoy_v2_api::golden;
use prost_reflect::{DynamicMessage, ReflectMessage};
use tokio_util::sync::CancellationToken;

use istio_pilot::bootstrap::cli::{self, Command};
use istio_pilot::bootstrap::server::Server;
use istio_pilot::model::service::{AddressFamily, UNSPECIFIED_IP};
use istio_pilot::model::{
    IstioEndpoint, NodeMetadata, Port, PortList, Resolution, Service, ServiceAttributes,
};
use istio_pilot::proxy::envoy::v2::dump::{self, ProxyResources};
use istio_pilot::proxy::envoy::v2::version::{V3_CLUSTER, V3_ENDPOINT, V3_LISTENER, V3_ROUTE};
use istio_pkg::config::protocol::Instance as Protocol;

use crate::envoy_v2_goldens::{FILES, TESTDATA};
use crate::Tally;

const NODE_ID: &str = "sidecar~10.11.0.1~test-1.none~none.svc.cluster.local";
const EDS_CLIENT: &str = "sidecar~10.10.10.10~test-1.default~default.svc.cluster.local";
const UDS_PATH: &str = "/var/run/test/socket";

/// Repeated fields whose order Envoy does not depend on, or that pilot builds from maps.
const UNORDERED: &[&str] = &[
    "virtual_hosts",
    "virtual_hosts.domains",
    "endpoints",
    "endpoints.lb_endpoints",
];

/// A difference the goldens' age explains: a pattern of the difference's text (`*` matches
/// any run of characters) and why 1.4.10 generates otherwise, with the upstream code that does.
struct Stale {
    pattern: &'static str,
    why: &'static str,
}

const KNOWN_STALE: &[Stale] = &[
    Stale {
        pattern: "*.circuit_breakers*",
        why: "default circuit-breaker thresholds (max connections, pending requests, requests and retries all 2^32-1) on every cluster (cluster.go getDefaultCircuitBreakerThresholds / applyConnectionPool); the goldens' pilot set max_retries 1024 only",
    },
    Stale {
        pattern: "PassthroughCluster.lb_policy: expected 4 vs actual 6",
        why: "CLUSTER_PROVIDED instead of ORIGINAL_DST_LB for 1.3+ proxies; a node without ISTIO_VERSION counts as the newest (cluster.go lbPolicyClusterProvided)",
    },
    Stale {
        pattern: "InboundPassthroughClusterIpv4: not in the golden",
        why: "1.4's inbound passthrough cluster for inbound protocol sniffing (cluster.go, util.InboundPassthroughClusterIpv4)",
    },
    Stale {
        pattern: "*.dns_refresh_rate: expected (unset) vs actual \"5s\"",
        why: "STRICT_DNS clusters take the mesh dnsRefreshRate (cluster.go buildDefaultCluster)",
    },
    Stale {
        pattern: "*.respect_dns_ttl: expected false vs actual true",
        why: "RespectDnsTtl for 1.3+ proxies with PILOT_RESPECT_DNS_TTL (default true) (cluster.go buildDefaultCluster)",
    },
    Stale {
        pattern: "*.load_assignment.endpoints[*",
        why: "one LocalityLbEndpoints per locality carrying the summed endpoint weight (cluster.go buildLocalityLbEndpoints); the goldens' pilot emitted an extra empty locality first",
    },
    Stale {
        pattern: "inbound|180*|default.none: not in the golden",
        why: "Sidecar ingress ports without a service get a cluster named after the Sidecar (cluster.go buildInboundClusters); the goldens' pilot skipped the fortio ports 18080/18079",
    },
    Stale {
        pattern: "*.eds_config.initial_fetch_timeout: expected (unset) vs actual \"0s\"",
        why: "ADS config sources carry PILOT_INITIAL_FETCH_TIMEOUT (default 0s) (cluster.go, features.InitialFetchTimeout)",
    },
    Stale {
        pattern: "*.rds.config_source.initial_fetch_timeout: expected (unset) vs actual \"0s\"",
        why: "ADS config sources carry PILOT_INITIAL_FETCH_TIMEOUT (default 0s) (features.InitialFetchTimeout)",
    },
    Stale {
        pattern: "*.lb_endpoints[*].load_balancing_weight: expected (unset) vs actual 1",
        why: "EDS endpoints carry their weight, 1 unless set (eds.go buildEnvoyLbEndpoint)",
    },
    Stale {
        pattern: "0.0.0.0_70*: missing",
        why: "Sidecar ingress listeners bind to the proxy's global unicast IP 10.11.0.1, not 0.0.0.0 (listener.go getSidecarInboundBindIP); the fortio ports are new",
    },
    Stale {
        pattern: "10.11.0.1_*: not in the golden",
        why: "Sidecar ingress listeners bind to the proxy's global unicast IP 10.11.0.1, not 0.0.0.0 (listener.go getSidecarInboundBindIP); the fortio ports are new",
    },
    Stale {
        pattern: "virtual: missing",
        why: "the outbound catch-all listener is named virtualOutbound since 1.3 (VirtualOutboundListenerName)",
    },
    Stale {
        pattern: "virtualOutbound: not in the golden",
        why: "the outbound catch-all listener is named virtualOutbound since 1.3 (VirtualOutboundListenerName)",
    },
    Stale {
        pattern: "virtualInbound: not in the golden",
        why: "1.4's inbound catch-all listener on 15006 (listener.go VirtualInboundListenerName); upstream's test counts it among the 5 HTTP listeners",
    },
    Stale {
        pattern: "*.stat_prefix: expected \"127.0.0.1_*\" vs actual \"*_127.0.0.1_*\"",
        why: "HTTP connection manager stat prefix is the lower-cased traffic direction, '_', the listener name, read before the HTTP proxy's direction is set (listener.go buildCompleteFilterChain)",
    },
    Stale {
        pattern: "*accept_http_10*",
        why: "node metadata HTTP10=1 accepted on outbound HTTP listeners and the HTTP proxy (listener.go)",
    },
    Stale {
        pattern: "*.access_log[0].typed_config<envoy.config.accesslog.v2.FileAccessLog>.format: expected \"\" vs actual \"[%START_TIME%]*",
        why: "the 1.3+ default access log format when the mesh sets none (listener.go EnvoyTextLogFormat13)",
    },
    Stale {
        pattern: "*.normalize_path: expected (unset) vs actual true",
        why: "path normalization on every HTTP connection manager (listener.go buildHTTPConnectionManager)",
    },
    Stale {
        pattern: "*.listener_filters_timeout: expected (unset) vs actual \"0.100s\"",
        why: "protocol detection timeout (mesh protocolDetectionTimeout) on 1.3+ sidecar listeners (listener.go buildListener)",
    },
    Stale {
        pattern: "*.continue_on_listener_filters_timeout: expected false vs actual true",
        why: "protocol detection timeout (mesh protocolDetectionTimeout) on 1.3+ sidecar listeners (listener.go buildListener)",
    },
    Stale {
        pattern: "*.traffic_direction: expected 0 vs actual 2",
        why: "outbound listeners carry TrafficDirection OUTBOUND since 1.3 (listener.go)",
    },
    Stale {
        pattern: "127.0.0.1_2443.filter_chains[*]: expected (absent) vs actual {\"filter_chain_match\":{},\"filters\":[{\"name\":\"envoy.tcp_proxy\"*",
        why: "with ALLOW_ANY, TLS outbound listeners end with a catch-all fallthrough chain to PassthroughCluster, marked in metadata (listener.go buildSidecarOutboundTLSFilterChainOpts, isFallthroughFilterChain)",
    },
    Stale {
        pattern: "*.retry_policy.host_selection_retry_max_attempts: expected 3 vs actual 5",
        why: "default retry policy (route/retry DefaultPolicy: HostSelectionRetryMaxAttempts 5)",
    },
    Stale {
        pattern: "*.routes[0].name: expected \"\" vs actual \"default\"",
        why: "the default route is named 'default' (route.DefaultRouteName)",
    },
    Stale {
        pattern: "*.virtual_hosts[*]: expected (absent) vs actual {\"domains\":[\"*\"],\"name\":\"allow_any\"*",
        why: "with outboundTrafficPolicy ALLOW_ANY (1.4's default) route configs end with the allow_any virtual host to PassthroughCluster (httproute.go)",
    },
    Stale {
        pattern: "15006: not in the golden",
        why: "route config for the virtualInbound HTTP listener, which upstream's ADS client requests by port",
    },
    Stale {
        pattern: "18080: not in the golden",
        why: "route config for the fortio ingress listener, which upstream's ADS client requests by port",
    },
    Stale {
        pattern: "127.0.0.1_2443.filter_chains[*]: expected (absent) vs actual {\"filter_chain_match\":{},\"filters\":[{\"name\":\"mixer\"*",
        why: "with ALLOW_ANY, TLS outbound listeners end with a catch-all fallthrough chain to PassthroughCluster, marked in metadata (listener.go buildSidecarOutboundTLSFilterChainOpts, isFallthroughFilterChain)",
    },
    // Mixer (the comparison with the goldens' Mixer address).
    Stale {
        pattern: "*.transport.network_fail_policy.base_retry_wait: expected (unset) vs actual \"0.080s\"",
        why: "Mixer transport: base retry wait 80ms unless the node's policy check metadata sets it (mixer.go buildTransport)",
    },
    Stale {
        pattern: "*.transport.network_fail_policy.max_retry_wait: expected (unset) vs actual \"1s\"",
        why: "Mixer transport: max retry wait 1s unless the node's policy check metadata sets it (mixer.go buildTransport)",
    },
    Stale {
        pattern: "*.mixer_attributes.attributes[\"context.proxy_version\"]: expected (absent) vs actual {\"string_value\":\"65535.65535.65535\"}",
        why: "Mixer attribute context.proxy_version; a node without ISTIO_VERSION parses as 65535.65535.65535 (mixer.go createOutboundListenerAttributes, model ParseIstioVersion)",
    },
    Stale {
        pattern: "127.0.0.1_2443.filter_chains[0].filters[0].typed_config<istio.mixer.v1.config.client.TcpClientConfig>.mixer_attributes.attributes[\"destination.service.*\"].string_value: expected \"www1.googleapis.com\" vs actual \"api1.facebook.com\"",
        why: "each service's TLS chain on a shared port carries that service's Mixer destination attributes (listener.go runs the plugins per service before mergeTCPFilterChains); the goldens' pilot gave both chains the last service's",
    },
    Stale {
        pattern: "*.typed_per_filter_config[\"mixer\"]<istio.mixer.v1.config.client.ServiceConfig>.forward_attributes: expected (unset) vs actual *",
        why: "route Mixer service configs also forward the destination attributes (mixer.go addFilterConfigToRoute)",
    },
];

/// Whether `text` matches `pattern`, where `*` matches any run of characters.
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, rest) = match parts.split_first() {
        Some(p) => p,
        None => return text.is_empty(),
    };
    let Some(mut t) = text.strip_prefix(first) else {
        return false;
    };
    let Some((last, middle)) = rest.split_last() else {
        return t.is_empty();
    };
    for part in middle {
        match t.find(part) {
            Some(i) => t = &t[i + part.len()..],
            None => return false,
        }
    }
    t.len() >= last.len() && t.ends_with(last)
}

/// Removes Mixer's filters from a golden (Go `encoding/json` form): network and HTTP filters
/// named `mixer` and `mixer` entries of `per_filter_config`. The goldens' pilot was given a
/// Mixer address; 1.4.10's test env passes its mesh config directly (bootstrap `initMesh`
/// returns before the `MixerAddress` override), so the mesh has no Mixer servers and the
/// mixer plugin adds nothing.
fn strip_mixer(v: &mut serde_json::Value) {
    use serde_json::Value;
    fn is_mixer(e: &Value) -> bool {
        e.get("name").and_then(Value::as_str) == Some("mixer")
            || e.pointer("/Kind/StructValue/fields/name/Kind/StringValue")
                .and_then(Value::as_str)
                == Some("mixer")
    }
    match v {
        Value::Array(items) => {
            items.retain(|e| !is_mixer(e));
            items.iter_mut().for_each(strip_mixer);
        }
        Value::Object(m) => {
            if let Some(Value::Object(pfc)) = m.get_mut("per_filter_config") {
                pfc.remove("mixer");
            }
            m.values_mut().for_each(strip_mixer);
        }
        _ => {}
    }
}

pub fn run(dir: &Path) -> anyhow::Result<Tally> {
    let mut tally = Tally::new("pilot-xds");
    let generated = generate(dir)?;
    eds_checks(&mut tally, &generated.eds_client);
    let files = sort_as_adsc(&generated.none)?;

    let http = files.get("none_lds_http.json").map_or(0, BTreeMap::len);
    let tcp = files.get("none_lds_tcp.json").map_or(0, BTreeMap::len);
    tally.case(
        http == 5,
        "TestLDSIsolated/sidecar_none: 5 HTTP listeners",
        &format!(
            "{http}: {:?}",
            files["none_lds_http.json"].keys().collect::<Vec<_>>()
        ),
    );
    tally.case(
        tcp > 0,
        "TestLDSIsolated/sidecar_none: TCP listeners",
        &format!("{tcp}"),
    );

    compare_goldens(&mut tally, dir, &files, "", true)?;

    // The goldens' own setting: Mixer at istio-mixer.istio-system:9091 (upstream's test env
    // passed it as MixerAddress before 1.4 stopped applying it), so the Mixer filters are
    // compared too.
    let mixer = generate_with(dir, Some(MIXER_MESH))?;
    let files = sort_as_adsc(&mixer.none)?;
    compare_goldens(&mut tally, dir, &files, "with Mixer: ", false)?;
    Ok(tally)
}

/// Compares our files with the goldens; `strip` removes the goldens' Mixer filters first.
fn compare_goldens(
    tally: &mut Tally,
    dir: &Path,
    files: &BTreeMap<&'static str, Named>,
    label: &str,
    strip: bool,
) -> anyhow::Result<()> {
    let testdata = dir.join(TESTDATA);
    for (file, type_name) in FILES {
        let path = testdata.join(file);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let mut json: serde_json::Value =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        if strip {
            strip_mixer(&mut json);
        }
        let want = golden::from_go_json_map(type_name, &json)
            .map_err(|e| anyhow!("{file}: {e}"))?
            .into_iter()
            .map(|(n, mut m)| {
                sort_filter_chains(&mut m);
                (n, m)
            })
            .collect::<BTreeMap<_, _>>();
        let got = &files[*file];
        let mut unexplained = Vec::new();
        let mut reasons: BTreeMap<&str, usize> = BTreeMap::new();
        let mut classify = |d: String| match KNOWN_STALE.iter().find(|k| glob(k.pattern, &d)) {
            Some(k) => *reasons.entry(k.why).or_default() += 1,
            None => unexplained.push(d),
        };
        for (name, w) in &want {
            match got.get(name) {
                None => classify(format!("{name}: missing")),
                Some(g) => {
                    for d in golden::diff(w, g, UNORDERED) {
                        classify(format!("{name}.{d}"));
                    }
                }
            }
        }
        for name in got.keys().filter(|n| !want.contains_key(*n)) {
            classify(format!("{name}: not in the golden"));
        }
        let detail = if unexplained.is_empty() {
            let explained: usize = reasons.values().sum();
            let mut d = format!(
                "{} golden resources, {} generated; {explained} differences, each a known 1.4 change:",
                want.len(),
                got.len()
            );
            for (why, n) in &reasons {
                d.push_str(&format!("\n      {n:>3} x {why}"));
            }
            d
        } else {
            format!(
                "{} unexplained differences:\n      {}",
                unexplained.len(),
                unexplained.join("\n      ")
            )
        };
        tally.case(unexplained.is_empty(), &format!("{label}{file}"), &detail);
    }
    Ok(())
}

/// Upstream TestEds's checks on its first client (10.10.10.10): TCPEndpoints, UDSEndpoints
/// and WeightedServiceEntry.
fn eds_checks(tally: &mut Tally, r: &ProxyResources) {
    use envoy_types::pb::envoy::config::core::v3::address;
    use envoy_types::pb::envoy::config::endpoint::v3::lb_endpoint::HostIdentifier;
    let cla = |name: &str| r.endpoints.iter().find(|c| c.cluster_name == name);
    let addr_of = |e: &envoy_types::pb::envoy::config::endpoint::v3::LbEndpoint| -> String {
        match &e.host_identifier {
            Some(HostIdentifier::Endpoint(ep)) => {
                match ep.address.as_ref().and_then(|a| a.address.as_ref()) {
                    Some(address::Address::SocketAddress(sa)) => sa.address.clone(),
                    Some(address::Address::Pipe(p)) => format!("pipe:{}", p.path),
                    _ => String::new(),
                }
            }
            _ => String::new(),
        }
    };

    let tcp = "outbound|8080||eds.test.svc.cluster.local";
    let found: Vec<String> = cla(tcp)
        .iter()
        .flat_map(|c| &c.endpoints)
        .flat_map(|l| &l.lb_endpoints)
        .map(addr_of)
        .collect();
    tally.case(
        found == ["127.0.0.1"],
        "TestEds/TCPEndpoints: outbound|8080||eds.test.svc.cluster.local has 127.0.0.1",
        &format!("{found:?}"),
    );

    let uds = "outbound|0||localuds.cluster.local";
    let found: Vec<String> = cla(uds)
        .iter()
        .flat_map(|c| &c.endpoints)
        .take(1)
        .flat_map(|l| &l.lb_endpoints)
        .map(addr_of)
        .collect();
    tally.case(
        found == [format!("pipe:{UDS_PATH}")],
        "TestEds/UDSEndpoints: the UDS cluster is in CDS and its one endpoint is the socket",
        &format!("{found:?}"),
    );

    let weighted = "outbound|80||weighted.static.svc.cluster.local";
    let mut got = BTreeMap::new();
    for l in cla(weighted).iter().flat_map(|c| &c.endpoints) {
        let region = l
            .locality
            .as_ref()
            .map(|l| l.region.clone())
            .unwrap_or_default();
        got.insert(region, l.load_balancing_weight.map_or(0, |w| w.value));
        for e in &l.lb_endpoints {
            got.insert(addr_of(e), e.load_balancing_weight.map_or(0, |w| w.value));
        }
    }
    let want: BTreeMap<String, u32> = [
        ("a", 9),
        ("b", 3),
        ("3.3.3.3", 1),
        ("2.2.2.2", 8),
        ("1.1.1.1", 3),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    tally.case(
        got == want,
        "TestEds/WeightedServiceEntry: locality and endpoint weights",
        &format!("{got:?}"),
    );
}

/// Starts pilot as upstream's test does and generates the none proxy's resources.
/// What the checks read: the none proxy's resources and those of TestEds's client.
struct Generated {
    none: ProxyResources,
    /// `adsConnectAndWait(0x0a0a0a0a)`: 10.10.10.10 in `default`, default ADS client metadata.
    eds_client: ProxyResources,
}

/// The mesh config of the goldens' pilot: Mixer for checks and reports.
const MIXER_MESH: &str =
    "mixerCheckServer: istio-mixer.istio-system:9091\nmixerReportServer: istio-mixer.istio-system:9091\n";

fn generate(dir: &Path) -> anyhow::Result<Generated> {
    generate_with(dir, None)
}

/// [`generate`] with a mesh config file of this content instead of the default mesh.
fn generate_with(dir: &Path, mesh: Option<&str>) -> anyhow::Result<Generated> {
    let mesh_file = match mesh {
        Some(text) => {
            let path =
                std::env::temp_dir().join(format!("pilot-xds-mesh-{}.yaml", std::process::id()));
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
            Some(path)
        }
        None => None,
    };
    let mesh_flag = match &mesh_file {
        Some(p) => format!("--meshConfig={}", p.display()),
        None => "--meshConfig=".to_string(),
    };
    let config_dir = dir.join("tests/testdata/config");
    let argv = [
        "pilot-discovery",
        "discovery",
        "--registries",
        "Mock",
        "--configDir",
        config_dir.to_str().context("config dir path")?,
        mesh_flag.as_str(),
        "--networksConfig=",
        "--namespace",
        "testing",
        "--grpcAddr",
        "127.0.0.1:0",
        "--httpAddr=",
        "--monitoringAddr=",
        "--secureGrpcAddr=",
    ];
    let parsed = cli::parse(argv).map_err(|e| anyhow!("pilot flags: {e}"))?;
    let Command::Discovery(args) = parsed.command else {
        return Err(anyhow!("pilot flags: not a discovery command"));
    };
    // Before any other thread exists (the runtime is built below).
    std::env::set_var("PILOT_ENABLE_PROTOCOL_SNIFFING_FOR_INBOUND", "true");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let result = rt.block_on(async move {
        let shutdown = CancellationToken::new();
        let server = Server::start(*args, parsed.keepalive, shutdown.clone()).await?;
        add_test_services(&server);
        // Let the registry events settle, then build the push context from everything.
        tokio::time::sleep(Duration::from_millis(300)).await;
        server
            .discovery
            .push(istio_pilot::model::PushRequest::full())
            .await;
        let mut meta = serde_json::Map::new();
        meta.insert("INTERCEPTION_MODE".into(), "NONE".into());
        meta.insert("HTTP10".into(), "1".into());
        let meta = NodeMetadata::from_json(serde_json::Value::Object(meta))
            .map_err(|e| anyhow!("node metadata: {e}"))?;
        let proxy = server
            .discovery
            .proxy_from_node(NODE_ID, meta)
            .map_err(|e| anyhow!("node {NODE_ID}: {e}"))?;
        // Upstream's ADS client asks RDS for each HTTP listener's port ("http_proxy" for
        // 15002), so generate with those names.
        let plain = server.discovery.proxy_resources(&proxy, Some(&[]));
        let names = adsc_route_names(&plain.listeners);
        let none = server.discovery.proxy_resources(&proxy, Some(&names));

        // Upstream's ADS client sends only ISTIO_VERSION 65536.65536.65536 without metadata.
        let mut meta = serde_json::Map::new();
        meta.insert("ISTIO_VERSION".into(), "65536.65536.65536".into());
        let meta = NodeMetadata::from_json(serde_json::Value::Object(meta))
            .map_err(|e| anyhow!("node metadata: {e}"))?;
        let proxy = server
            .discovery
            .proxy_from_node(EDS_CLIENT, meta)
            .map_err(|e| anyhow!("node {EDS_CLIENT}: {e}"))?;
        let eds_client = server.discovery.proxy_resources(&proxy, None);
        shutdown.cancel();
        let _ = server.wait().await;
        Ok(Generated { none, eds_client })
    });
    if let Some(p) = &mesh_file {
        let _ = std::fs::remove_file(p);
    }
    result
}

fn port(name: &str, port: u32, protocol: Protocol) -> Port {
    Port {
        name: name.into(),
        port,
        protocol,
    }
}

fn service(hostname: &str, address: &str, ports: Vec<Port>, name: &str, ns: &str) -> Service {
    Service {
        hostname: hostname.into(),
        address: address.into(),
        cluster_vips: Default::default(),
        ports: PortList(ports),
        service_accounts: Vec::new(),
        creation_time: 0,
        resolution: Resolution::ClientSideLb,
        mesh_external: false,
        attributes: ServiceAttributes {
            name: name.into(),
            namespace: ns.into(),
            ..Default::default()
        },
    }
}

fn endpoint(address: &str, port: u32, port_name: &str, locality: &str) -> IstioEndpoint {
    IstioEndpoint {
        address: address.into(),
        endpoint_port: port,
        service_port_name: port_name.into(),
        locality: locality.into(),
        ..Default::default()
    }
}

/// `testPorts(0)` of xds_test.go.
fn test_ports() -> Vec<Port> {
    vec![
        port("http", 80, Protocol::Http),
        port("http-status", 81, Protocol::Http),
        port("custom", 90, Protocol::Tcp),
        port("mongo", 100, Protocol::Mongo),
        port("redis", 110, Protocol::Redis),
        port("mysql", 120, Protocol::MySql),
        port("h2port", 66, Protocol::Grpc),
    ]
}

/// The services and instances upstream's test env adds to the debug memory registry.
fn add_test_services(server: &Server) {
    let mem = &server.mem_registry;
    let hello = "hello.default.svc.cluster.local";
    mem.add_service(service(
        hello,
        "10.10.0.3",
        test_ports(),
        "service3",
        "default",
    ));
    // The test env's backend port.
    let mut e = endpoint("127.0.0.1", 15_000, "http", "az");
    e.service_account = "hello-sa".into();
    mem.set_endpoints(hello, vec![e]);

    let local = "local.default.svc.cluster.local";
    mem.add_service(service(
        local,
        "10.10.0.4",
        vec![port("http", 80, Protocol::Http)],
        "local",
        "default",
    ));
    mem.set_endpoints(local, vec![endpoint("10.3.0.3", 15_000, "http", "az")]);

    let s3 = "service3.default.svc.cluster.local";
    mem.add_service(service(
        s3,
        "10.10.0.1",
        test_ports(),
        "service3",
        "default",
    ));
    let mut v1 = endpoint("10.2.0.1", 2080, "http-main", "az");
    v1.labels.0.insert("version".into(), "v1".into());
    let mut v2 = endpoint("10.3.0.1", 2080, "http-main", "az");
    v2.labels.0.insert("version".into(), "v2".into());
    v2.labels
        .0
        .insert("app".into(), "my-gateway-controller".into());
    mem.set_endpoints(s3, vec![v1, v2]);

    let ingress = "istio-ingress.istio-system.svc.cluster.local";
    let mut svc = service(
        ingress,
        "10.10.0.2",
        vec![
            port("http", 80, Protocol::Http),
            port("https", 443, Protocol::Https),
        ],
        "",
        "",
    );
    svc.attributes = ServiceAttributes::default();
    mem.add_service(svc);
    let mut eps = Vec::new();
    for (p, name) in [(80, "http"), (443, "https")] {
        let mut e = endpoint("10.3.0.2", p, name, "az");
        e.labels.0.insert("istio".into(), "ingress".into());
        eps.push(e);
    }
    mem.set_endpoints(ingress, eps);

    // AddHTTPService: one "http-main" port; upstream's helper drops the VIP and sets no
    // attributes.
    for (host, p) in [
        ("service4.default.svc.cluster.local", 80),
        ("eds.test.svc.cluster.local", 8080),
    ] {
        mem.add_service(service(
            host,
            UNSPECIFIED_IP,
            vec![port("http-main", p, Protocol::Http)],
            "",
            "",
        ));
    }
    let mut e = endpoint("127.0.0.1", 80, "http-main", "");
    e.service_account = "hello-sa".into();
    e.uid = "uid1".into();
    e.labels.0.insert("version".into(), "v1".into());
    mem.set_endpoints("eds.test.svc.cluster.local", vec![e]);

    // TestEds's addUdsEndpoint: a mesh-external gRPC service on port 0 behind a Unix socket.
    let uds = "localuds.cluster.local";
    let mut svc = service(
        uds,
        UNSPECIFIED_IP,
        vec![port("grpc", 0, Protocol::Grpc)],
        "",
        "",
    );
    svc.mesh_external = true;
    mem.add_service(svc);
    let mut e = endpoint(UDS_PATH, 0, "grpc", "localhost");
    e.family = AddressFamily::Unix;
    e.labels.0.insert("socket".into(), "unix".into());
    mem.set_endpoints(uds, vec![e]);
}

/// The name of a listener's deciding filter: the first of its last filter chain, skipping
/// Mixer's (upstream's ADS client).
fn deciding_filter(l: &envoy_types::pb::envoy::config::listener::v3::Listener) -> &str {
    let Some(fc) = l.filter_chains.last() else {
        return "";
    };
    match fc.filters.first() {
        Some(f) if f.name == "mixer" => fc.filters.get(1).map_or("", |f| f.name.as_str()),
        Some(f) => f.name.as_str(),
        None => "",
    }
}

fn listener_port(l: &envoy_types::pb::envoy::config::listener::v3::Listener) -> u32 {
    use envoy_types::pb::envoy::config::core::v3::{address, socket_address};
    match l.address.as_ref().and_then(|a| a.address.as_ref()) {
        Some(address::Address::SocketAddress(sa)) => match sa.port_specifier {
            Some(socket_address::PortSpecifier::PortValue(p)) => p,
            _ => 0,
        },
        _ => 0,
    }
}

fn adsc_route_names(
    listeners: &[envoy_types::pb::envoy::config::listener::v3::Listener],
) -> Vec<String> {
    listeners
        .iter()
        .filter(|l| deciding_filter(l) == "envoy.http_connection_manager")
        .map(|l| match listener_port(l) {
            15002 => "http_proxy".to_string(),
            p => p.to_string(),
        })
        .collect()
}

type Named = BTreeMap<String, DynamicMessage>;

/// Envoy picks a listener's filter chain by the most specific match, not by position: both
/// sides are compared with their chains ordered by match (the catch-all chain first).
fn sort_filter_chains(listener: &mut DynamicMessage) {
    use prost_reflect::Value;
    let Some(field) = listener.descriptor().get_field_by_name("filter_chains") else {
        return;
    };
    if let Value::List(chains) = listener.get_field_mut(&field) {
        let key = |v: &Value| match v {
            Value::Message(fc) => fc
                .get_field_by_name("filter_chain_match")
                .and_then(|m| match m.as_ref() {
                    Value::Message(m) => envoy_v2_api::message_json(m, &Default::default()).ok(),
                    _ => None,
                })
                .map(|j| j.to_string())
                .unwrap_or_default(),
            _ => String::new(),
        };
        chains.sort_by_cached_key(key);
    }
}

fn v2_message<M: prost::Message>(v3_url: &str, m: &M) -> anyhow::Result<DynamicMessage> {
    let any = dump::to_v2(v3_url, m).map_err(|e| anyhow!(e))?;
    golden::from_any(&any).map_err(|e| anyhow!("{e}"))
}

/// Our resources as v2 messages, filed as upstream's ADS client `Save`s them.
fn sort_as_adsc(r: &ProxyResources) -> anyhow::Result<BTreeMap<&'static str, Named>> {
    let mut files: BTreeMap<&'static str, Named> =
        FILES.iter().map(|(f, _)| (*f, Named::new())).collect();
    for l in &r.listeners {
        let file = match deciding_filter(l) {
            "envoy.http_connection_manager" => "none_lds_http.json",
            "envoy.tcp_proxy" => "none_lds_tcp.json",
            _ => continue,
        };
        let mut m = v2_message(V3_LISTENER, l)?;
        sort_filter_chains(&mut m);
        files.get_mut(file).map(|f| f.insert(l.name.clone(), m));
    }
    for c in &r.clusters {
        let eds = dump::eds_cluster_names(std::slice::from_ref(c));
        let file = if eds.is_empty() {
            "none_cds.json"
        } else {
            "none_ecds.json"
        };
        let m = v2_message(V3_CLUSTER, c)?;
        files.get_mut(file).map(|f| f.insert(c.name.clone(), m));
    }
    for rc in &r.routes {
        let m = v2_message(V3_ROUTE, rc)?;
        files
            .get_mut("none_rds.json")
            .map(|f| f.insert(rc.name.clone(), m));
    }
    for cla in &r.endpoints {
        let m = v2_message(V3_ENDPOINT, cla)?;
        files
            .get_mut("none_eds.json")
            .map(|f| f.insert(cla.cluster_name.clone(), m));
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn glob_matches_runs() {
        assert!(glob("a*c", "abbbc"));
        assert!(glob("*.x: y", "name.x: y"));
        assert!(glob("exact", "exact"));
        assert!(!glob("exact", "exactly"));
        assert!(!glob("a*c", "abbbd"));
        assert!(glob("*mid*", "xxmidyy"));
        assert!(!glob("*mid*", "xxmdyy"));
        assert!(!glob("ab*b", "ab"));
    }
}
