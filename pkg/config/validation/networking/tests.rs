//! Table tests (ported from upstream's validation_test.go): Gateway, Sidecar, EnvoyFilter,
//! ServiceEntry.

use super::*;
use crate::config::validation::Error;
use istio_api::istio::networking::v1alpha3::{
    envoy_filter::{
        listener_match::{FilterChainMatch, FilterMatch, SubFilterMatch},
        ClusterMatch, EnvoyConfigObjectMatch, EnvoyConfigObjectPatch, Filter, InsertPosition,
        ListenerMatch, Patch, ProxyMatch,
    },
    service_entry::Endpoint,
    IstioEgressListener, IstioIngressListener, WorkloadSelector,
};

/// Upstream's table check: `want` empty means valid, otherwise the error text must contain it.
#[track_caller]
fn check(result: Result, want: &str, name: &str) {
    match (result, want) {
        (Ok(()), "") => {}
        (Ok(()), want) => panic!("{name}: got no error, want one containing {want:?}"),
        (Err(e), "") => panic!("{name}: got error {e}, want none"),
        (Err(e), want) => assert!(e.to_string().contains(want), "{name}: {e} lacks {want:?}"),
    }
}

fn port(number: u32, protocol: &str, name: &str) -> Port {
    Port {
        number,
        protocol: protocol.into(),
        name: name.into(),
    }
}

fn server(hosts: &[&str], port: Option<Port>, tls: Option<TlsOptions>) -> Server {
    Server {
        hosts: hosts.iter().map(|h| (*h).to_owned()).collect(),
        port,
        tls,
        ..Default::default()
    }
}

fn gateway(servers: Vec<Server>) -> Gateway {
    Gateway {
        servers,
        ..Default::default()
    }
}

#[test]
fn gateway_table() {
    let cases = [
        ("empty", gateway(vec![]), "server"),
        (
            "happy domain",
            gateway(vec![server(
                &["foo.bar.com"],
                Some(port(7, "http", "name1")),
                None,
            )]),
            "",
        ),
        (
            "happy multiple servers",
            gateway(vec![
                server(&["foo.bar.com"], Some(port(7, "http", "name1")), None),
                server(&["bar.foo.com"], Some(port(8, "http", "name2")), None),
            ]),
            "",
        ),
        (
            "invalid port",
            gateway(vec![server(
                &["foo.bar.com"],
                Some(port(66000, "http", "name1")),
                None,
            )]),
            "port",
        ),
        (
            "duplicate port names",
            gateway(vec![
                server(&["foo.bar.com"], Some(port(80, "http", "foo")), None),
                server(&["scooby.doo.com"], Some(port(8080, "http", "foo")), None),
            ]),
            "port names",
        ),
        (
            "invalid domain",
            gateway(vec![server(
                &["foo.*.bar.com"],
                Some(port(7, "http", "")),
                None,
            )]),
            "domain",
        ),
    ];
    for (name, gw, want) in cases {
        check(validate_gateway("foo", "bar", &gw), want, name);
    }
}

#[test]
fn gateway_messages() {
    let gw = gateway(vec![
        server(&["foo.bar.com"], Some(port(80, "http", "foo")), None),
        server(&["scooby.doo.com"], Some(port(8080, "http", "foo")), None),
    ]);
    assert_eq!(
        validate_gateway("foo.bar", "ns", &gw),
        Err(Error::Multi(vec![
            r#"invalid gateway name: "foo.bar""#.into(),
            "port names in servers must be unique: duplicate name foo".into(),
        ]))
    );
    assert_eq!(
        validate_gateway("gw", "ns", &gateway(vec![])),
        Err(Error::new("gateway must have at least one server"))
    );
    // A missing port name shows the port in protobuf text form.
    assert_eq!(
        validate_gateway(
            "gw",
            "ns",
            &gateway(vec![server(
                &["foo.bar.com"],
                Some(port(80, "HTTP", "")),
                None
            )])
        ),
        Err(Error::new(
            r#"port name must be set: number:80 protocol:"HTTP" "#
        ))
    );
}

fn tls(mode: ServerTlsMode, cert: &str, key: &str, ca: &str, credential: &str) -> TlsOptions {
    TlsOptions {
        mode: mode as i32,
        server_certificate: cert.into(),
        private_key: key.into(),
        ca_certificates: ca.into(),
        credential_name: credential.into(),
        ..Default::default()
    }
}

#[test]
fn server_table() {
    let http = || Some(port(7, "http", "http"));
    let cases = [
        ("empty", Server::default(), "host"),
        ("empty", Server::default(), "port"),
        ("happy", server(&["foo.bar.com"], http(), None), ""),
        ("happy ip", server(&["1.1.1.1"], http(), None), ""),
        (
            "happy ns/name",
            server(&["ns1/foo.bar.com"], http(), None),
            "",
        ),
        ("happy */name", server(&["*/foo.bar.com"], http(), None), ""),
        ("happy ./name", server(&["./foo.bar.com"], http(), None), ""),
        (
            "invalid domain ns/name format",
            server(&["ns1/foo.*.bar.com"], http(), None),
            "domain",
        ),
        (
            "invalid domain",
            server(&["foo.*.bar.com"], http(), None),
            "domain",
        ),
        (
            "invalid short name host",
            server(&["foo"], http(), None),
            "short names",
        ),
        (
            "invalid namespace",
            server(&["~/foo.bar.com"], http(), None),
            "invalid namespace value \"~\" in gateway",
        ),
        (
            "empty namespace",
            server(&["/foo.bar.com"], http(), None),
            "config namespace and dnsName in host entry cannot be empty",
        ),
        (
            "invalid port",
            server(&["foo.bar.com"], Some(port(66000, "http", "http")), None),
            "port",
        ),
        (
            "invalid tls options",
            server(
                &["foo.bar.com"],
                Some(port(1, "http", "http")),
                Some(tls(ServerTlsMode::Simple, "", "", "", "")),
            ),
            "TLS",
        ),
        (
            "no tls on HTTPS",
            server(&["foo.bar.com"], Some(port(10000, "https", "https")), None),
            "must have TLS",
        ),
        (
            "tls on HTTP",
            server(
                &["foo.bar.com"],
                Some(port(10000, "http", "http")),
                Some(tls(ServerTlsMode::Simple, "", "", "", "")),
            ),
            "cannot have TLS",
        ),
        (
            "tls redirect on HTTP",
            server(
                &["foo.bar.com"],
                Some(port(10000, "http", "http")),
                Some(TlsOptions {
                    https_redirect: true,
                    ..Default::default()
                }),
            ),
            "",
        ),
        (
            "tls on TCP",
            server(
                &["foo.bar.com"],
                Some(port(10000, "tcp", "tcp")),
                Some(tls(ServerTlsMode::Passthrough, "", "", "", "")),
            ),
            "server cannot have TLS settings for non HTTPS/TLS ports",
        ),
    ];
    for (name, s, want) in cases {
        check(validate_server(&s), want, name);
    }
}

#[test]
fn server_port_table() {
    let cases = [
        ("empty", Port::default(), "invalid protocol"),
        ("empty", Port::default(), "port name"),
        ("happy", port(1, "http", "Henry"), ""),
        (
            "invalid protocol",
            port(1, "kafka", "Henry"),
            "invalid protocol",
        ),
        (
            "invalid number",
            port(1 << 30, "http", "http"),
            "port number",
        ),
        ("name, no number", port(0, "http", "Henry"), ""),
    ];
    for (name, p, want) in cases {
        check(validate_server_port(Some(&p)), want, name);
    }
    assert_eq!(
        validate_server_port(None),
        Err(Error::new("port is required"))
    );
    assert_eq!(
        validate_server_port(Some(&port(1, "kafka", "k"))),
        Err(Error::new(
            r#"invalid protocol "kafka", supported protocols are HTTP, HTTP2, GRPC, MONGO, REDIS, MYSQL, TCP"#
        ))
    );
}

#[test]
fn tls_options_table() {
    use ServerTlsMode::*;
    let (cert, key, ca, sds) = (
        "Captain Jean-Luc Picard",
        "Khan Noonien Singh",
        "Commander William T. Riker",
        "sds-name",
    );
    let cases = [
        ("empty", TlsOptions::default(), ""),
        ("simple", tls(Simple, cert, key, "", ""), ""),
        (
            "simple with client bundle",
            tls(Simple, cert, key, ca, ""),
            "",
        ),
        (
            "simple sds with client bundle",
            tls(Simple, cert, key, ca, sds),
            "",
        ),
        (
            "simple no server cert",
            tls(Simple, "", key, "", ""),
            "server certificate",
        ),
        (
            "simple no private key",
            tls(Simple, cert, "", "", ""),
            "private key",
        ),
        (
            "simple sds no server cert",
            tls(Simple, "", key, "", sds),
            "",
        ),
        (
            "simple sds no private key",
            tls(Simple, cert, "", "", sds),
            "",
        ),
        ("mutual", tls(Mutual, cert, key, ca, ""), ""),
        ("mutual sds", tls(Mutual, cert, key, ca, sds), ""),
        (
            "mutual no server cert",
            tls(Mutual, "", key, ca, ""),
            "server certificate",
        ),
        (
            "mutual sds no server cert",
            tls(Mutual, "", key, ca, sds),
            "",
        ),
        (
            "mutual no client CA bundle",
            tls(Mutual, cert, key, "", ""),
            "client CA bundle",
        ),
        (
            "mutual no certs",
            tls(Mutual, "", "", "", ""),
            "server certificate",
        ),
        (
            "mutual no certs",
            tls(Mutual, "", "", "", ""),
            "private key",
        ),
        (
            "mutual no certs",
            tls(Mutual, "", "", "", ""),
            "client CA bundle",
        ),
        (
            "pass through sds no certs",
            tls(Passthrough, "", "", "", sds),
            "",
        ),
        (
            "istio_mutual no certs",
            tls(IstioMutual, "", "", "", ""),
            "",
        ),
        (
            "istio_mutual with server cert",
            tls(IstioMutual, cert, "", "", ""),
            "cannot have associated server cert",
        ),
        (
            "istio_mutual with client bundle",
            tls(IstioMutual, cert, key, ca, ""),
            "cannot have associated",
        ),
        (
            "istio_mutual with private key",
            tls(IstioMutual, "", key, "", ""),
            "cannot have associated private key",
        ),
    ];
    for (name, t, want) in cases {
        check(validate_tls_options(Some(&t)), want, name);
    }
    assert_eq!(
        validate_tls_options(Some(&tls(Mutual, "", "", "", ""))),
        Err(Error::Multi(vec![
            "MUTUAL TLS requires a server certificate".into(),
            "MUTUAL TLS requires a private key".into(),
            "MUTUAL TLS requires a client CA bundle".into(),
        ]))
    );
    assert_eq!(
        validate_tls_options(Some(&tls(IstioMutual, cert, key, ca, ""))),
        Err(Error::Multi(vec![
            "ISTIO_MUTUAL TLS cannot have associated server certificate".into(),
            "ISTIO_MUTUAL TLS cannot have associated private key".into(),
            "ISTIO_MUTUAL TLS cannot have associated CA bundle".into(),
        ]))
    );
}

#[test]
fn export_to() {
    assert_eq!(validate_export_to(&[]), Ok(()));
    assert_eq!(validate_export_to(&[".".into()]), Ok(()));
    assert_eq!(validate_export_to(&["*".into()]), Ok(()));
    assert_eq!(
        validate_export_to(&["ns1".into()]),
        Err(Error::new(
            "only . or * is allowed in the exportTo in the current release"
        ))
    );
    assert_eq!(
        validate_export_to(&[".".into(), "*".into()]),
        Err(Error::new(
            "exportTo should have only one entry (. or *) in the current release"
        ))
    );
}

fn egress(port: Option<Port>, hosts: &[&str], bind: &str) -> IstioEgressListener {
    IstioEgressListener {
        port,
        hosts: hosts.iter().map(|h| (*h).to_owned()).collect(),
        bind: bind.into(),
        ..Default::default()
    }
}

fn ingress(port: Option<Port>, default_endpoint: &str) -> IstioIngressListener {
    IstioIngressListener {
        port,
        default_endpoint: default_endpoint.into(),
        ..Default::default()
    }
}

fn sidecar(ingress: Vec<IstioIngressListener>, egress: Vec<IstioEgressListener>) -> Sidecar {
    Sidecar {
        ingress,
        egress,
        ..Default::default()
    }
}

#[test]
fn sidecar_table() {
    let all = || egress(None, &["*/*"], "");
    let bar = |p: Option<Port>, bind: &str| egress(p, &["ns1/bar.com"], bind);
    let uds_bind = "unix:///@foo/bar/com";
    let mut capture_iptables = bar(Some(port(0, "http", "uds")), uds_bind);
    capture_iptables.capture_mode = CaptureMode::Iptables as i32;
    let cases = [
        ("empty ingress and egress", Sidecar::default(), false),
        ("default", sidecar(vec![], vec![all()]), true),
        (
            "import local namespace with wildcard",
            sidecar(vec![], vec![egress(None, &["./*"], "")]),
            true,
        ),
        (
            "import local namespace with fqdn",
            sidecar(vec![], vec![egress(None, &["./foo.com"], "")]),
            true,
        ),
        (
            "import nothing",
            sidecar(vec![], vec![egress(None, &["~/*"], "")]),
            true,
        ),
        (
            "bad egress host 1",
            sidecar(vec![], vec![egress(None, &["*"], "")]),
            false,
        ),
        (
            "bad egress host 2",
            sidecar(vec![], vec![egress(None, &["/"], "")]),
            false,
        ),
        (
            "empty egress host",
            sidecar(vec![], vec![egress(None, &[], "")]),
            false,
        ),
        (
            "multiple wildcard egress",
            sidecar(
                vec![],
                vec![
                    egress(None, &["*/foo.com"], ""),
                    egress(None, &["ns1/bar.com"], ""),
                ],
            ),
            false,
        ),
        (
            "wildcard egress not in end",
            sidecar(
                vec![],
                vec![
                    egress(None, &["*/foo.com"], ""),
                    bar(Some(port(8080, "http", "h8080")), ""),
                ],
            ),
            false,
        ),
        (
            "invalid Port",
            sidecar(vec![], vec![bar(Some(port(1_000_000, "http1", "")), "")]),
            false,
        ),
        (
            "Port without name",
            sidecar(vec![], vec![bar(Some(port(8080, "http", "")), "")]),
            true,
        ),
        (
            "UDS bind in outbound",
            sidecar(vec![], vec![bar(Some(port(0, "http", "uds")), uds_bind)]),
            true,
        ),
        (
            "UDS bind in inbound",
            sidecar(
                vec![IstioIngressListener {
                    bind: uds_bind.into(),
                    ..ingress(Some(port(0, "http", "uds")), "127.0.0.1:9999")
                }],
                vec![],
            ),
            false,
        ),
        (
            "UDS bind in outbound 2",
            sidecar(
                vec![],
                vec![bar(Some(port(0, "http", "uds")), "unix:///foo/bar/com")],
            ),
            true,
        ),
        (
            "invalid bind",
            sidecar(
                vec![],
                vec![bar(Some(port(0, "http", "uds")), "foobar:///@foo/bar/com")],
            ),
            false,
        ),
        (
            "invalid capture mode with uds bind",
            sidecar(vec![], vec![capture_iptables]),
            false,
        ),
        (
            "duplicate UDS bind",
            sidecar(
                vec![],
                vec![
                    bar(Some(port(0, "http", "uds")), uds_bind),
                    bar(Some(port(0, "http", "uds")), uds_bind),
                ],
            ),
            false,
        ),
        (
            "duplicate ports",
            sidecar(
                vec![],
                vec![
                    bar(Some(port(90, "http", "foo")), ""),
                    egress(Some(port(90, "tcp", "tcp")), &["ns2/bar.com"], ""),
                ],
            ),
            false,
        ),
        (
            "ingress without port",
            sidecar(vec![ingress(None, "127.0.0.1:110")], vec![all()]),
            false,
        ),
        (
            "ingress with duplicate ports",
            sidecar(
                vec![
                    ingress(Some(port(90, "http", "foo")), "127.0.0.1:110"),
                    ingress(Some(port(90, "tcp", "bar")), "127.0.0.1:110"),
                ],
                vec![all()],
            ),
            false,
        ),
        (
            "ingress without default endpoint",
            sidecar(
                vec![ingress(Some(port(90, "http", "foo")), "")],
                vec![all()],
            ),
            false,
        ),
        (
            "ingress with invalid default endpoint IP",
            sidecar(
                vec![ingress(Some(port(90, "http", "foo")), "1.1.1.1:90")],
                vec![],
            ),
            false,
        ),
        (
            "ingress with invalid default endpoint uds",
            sidecar(
                vec![ingress(Some(port(90, "http", "foo")), "unix:///")],
                vec![all()],
            ),
            false,
        ),
        (
            "ingress with invalid default endpoint port",
            sidecar(
                vec![ingress(Some(port(90, "http", "foo")), "127.0.0.1:hi")],
                vec![all()],
            ),
            false,
        ),
        (
            "valid ingress and egress",
            sidecar(
                vec![ingress(Some(port(90, "http", "foo")), "127.0.0.1:9999")],
                vec![all()],
            ),
            true,
        ),
        (
            "valid ingress with uds default endpoint",
            sidecar(
                vec![ingress(
                    Some(port(90, "http", "foo")),
                    "unix:///var/run/app.sock",
                )],
                vec![all()],
            ),
            true,
        ),
        (
            "valid ingress with port-only default endpoint",
            sidecar(
                vec![ingress(Some(port(90, "http", "foo")), ":9999")],
                vec![all()],
            ),
            true,
        ),
        (
            "valid ingress and empty egress",
            sidecar(
                vec![ingress(Some(port(90, "http", "foo")), "127.0.0.1:9999")],
                vec![],
            ),
            false,
        ),
        (
            "empty protocol",
            sidecar(
                vec![ingress(Some(port(90, "", "foo")), "127.0.0.1:9999")],
                vec![all()],
            ),
            true,
        ),
        (
            "empty workload selector labels",
            Sidecar {
                workload_selector: Some(WorkloadSelector::default()),
                ..sidecar(vec![], vec![all()])
            },
            false,
        ),
    ];
    for (name, sc, valid) in cases {
        assert_eq!(validate_sidecar("foo", "bar", &sc).is_ok(), valid, "{name}");
    }
}

#[test]
fn sidecar_messages() {
    assert_eq!(
        validate_sidecar("foo", "bar", &Sidecar::default()),
        Err(Error::new("sidecar: missing egress"))
    );
    assert_eq!(
        validate_sidecar(
            "foo",
            "bar",
            &sidecar(vec![ingress(Some(port(90, "http", "foo")), "1.1.1.1:hi")], vec![egress(None, &["*/*"], "")])
        ),
        Err(Error::Multi(vec![
            "sidecar: defaultEndpoint must be of form 127.0.0.1:<port>".into(),
            r#"sidecar: defaultEndpoint port (hi) is not a number: strconv.Atoi: parsing "hi": invalid syntax"#.into(),
        ]))
    );
    // A bad sidecar host reports the domain error twice, as upstream does; the labels after
    // the first are checked (and named) on their own.
    let err = r#"domain name "*.com" invalid (label "*" invalid)"#;
    assert_eq!(
        validate_sidecar(
            "foo",
            "bar",
            &sidecar(vec![], vec![egress(None, &["ns/foo.*.com"], "")])
        ),
        Err(Error::Multi(vec![err.into(), err.into()]))
    );
    assert_eq!(
        validate_sidecar(
            "foo",
            "bar",
            &sidecar(vec![], vec![egress(None, &["*"], "")])
        ),
        Err(Error::new("host must be of form namespace/dnsName"))
    );
    assert_eq!(
        validate_sidecar(
            "foo",
            "bar",
            &sidecar(
                vec![],
                vec![
                    egress(None, &["a/b.c"], ""),
                    egress(None, &["a/b.c"], ""),
                    egress(None, &["a/b.c"], "")
                ]
            )
        ),
        Err(Error::Multi(vec![
            "sidecar: the egress listener with empty port should be the last listener in the list"
                .into(),
            "sidecar: the egress listener with empty port should be the last listener in the list"
                .into(),
        ]))
    );
}

fn deprecated_filter(index: Index, filter_type: FilterType, name: &str, config: bool) -> Filter {
    Filter {
        insert_position: Some(InsertPosition {
            index: index as i32,
            relative_to: String::new(),
        }),
        filter_type: filter_type as i32,
        filter_name: name.into(),
        filter_config: config.then(pbjson_types::Struct::default),
        ..Default::default()
    }
}

#[allow(deprecated)]
fn with_filters(filters: Vec<Filter>) -> EnvoyFilter {
    EnvoyFilter {
        filters,
        ..Default::default()
    }
}

fn patch(apply_to: ApplyTo, m: Option<EnvoyConfigObjectMatch>, p: Option<Patch>) -> EnvoyFilter {
    EnvoyFilter {
        config_patches: vec![EnvoyConfigObjectPatch {
            apply_to: apply_to as i32,
            r#match: m,
            patch: p,
        }],
        ..Default::default()
    }
}

fn op(operation: Operation, value: bool) -> Option<Patch> {
    Some(Patch {
        operation: operation as i32,
        value: value.then(pbjson_types::Struct::default),
    })
}

fn object_match(object: ObjectTypes) -> Option<EnvoyConfigObjectMatch> {
    Some(EnvoyConfigObjectMatch {
        object_types: Some(object),
        ..Default::default()
    })
}

fn filter_match(name: &str, sub_filter: Option<&str>) -> Option<EnvoyConfigObjectMatch> {
    object_match(ObjectTypes::Listener(ListenerMatch {
        filter_chain: Some(FilterChainMatch {
            filter: Some(FilterMatch {
                name: name.into(),
                sub_filter: sub_filter.map(|n| SubFilterMatch { name: n.into() }),
            }),
            ..Default::default()
        }),
        ..Default::default()
    }))
}

fn proxy_version(v: &str) -> Option<EnvoyConfigObjectMatch> {
    Some(EnvoyConfigObjectMatch {
        proxy: Some(ProxyMatch {
            proxy_version: v.into(),
            ..Default::default()
        }),
        ..Default::default()
    })
}

#[test]
fn envoy_filter_table() {
    let remove = || op(Operation::Remove, false);
    let cluster = || object_match(ObjectTypes::Cluster(ClusterMatch::default()));
    let cases = [
        ("empty filters", EnvoyFilter::default(), ""),
        (
            "missing relativeTo",
            with_filters(vec![deprecated_filter(Index::After, FilterType::Network, "envoy.foo", true)]),
            "missing relativeTo",
        ),
        (
            "missing filter type",
            with_filters(vec![deprecated_filter(Index::First, FilterType::Invalid, "envoy.foo", true)]),
            "missing filter type",
        ),
        (
            "missing filter name",
            with_filters(vec![deprecated_filter(Index::First, FilterType::Network, "", true)]),
            "missing filter name",
        ),
        (
            "missing filter config",
            with_filters(vec![deprecated_filter(Index::First, FilterType::Network, "envoy.foo", false)]),
            "missing filter config",
        ),
        (
            "deprecated happy filter config",
            with_filters(vec![deprecated_filter(Index::First, FilterType::Network, "envoy.foo", true)]),
            "",
        ),
        ("invalid applyTo", patch(ApplyTo::Invalid, None, None), "Envoy filter: missing applyTo"),
        ("nil patch", patch(ApplyTo::Listener, None, None), "Envoy filter: missing patch"),
        (
            "invalid patch operation",
            patch(ApplyTo::Listener, None, Some(Patch::default())),
            "Envoy filter: missing patch operation",
        ),
        (
            "nil patch value",
            patch(ApplyTo::Listener, None, op(Operation::Add, false)),
            "Envoy filter: missing patch value for non-remove operation",
        ),
        (
            "match with invalid regex",
            patch(ApplyTo::Listener, proxy_version("%#@~++==`24c234`"), remove()),
            "Envoy filter: invalid regex for proxy version, [error parsing regexp: invalid nested repetition operator: `++`]",
        ),
        (
            "match with valid regex",
            patch(ApplyTo::Listener, proxy_version(r"release-1\.2-23434"), remove()),
            "",
        ),
        (
            "listener with invalid match",
            patch(ApplyTo::Listener, cluster(), remove()),
            "Envoy filter: applyTo for listener class objects cannot have non listener match",
        ),
        (
            "listener with invalid filter match",
            patch(ApplyTo::Listener, filter_match("", None), remove()),
            "Envoy filter: filter match has no name to match on",
        ),
        (
            "listener with sub filter match and invalid applyTo",
            patch(ApplyTo::Listener, filter_match("random", Some("")), remove()),
            "Envoy filter: subfilter match can be used with applyTo HTTP_FILTER only",
        ),
        (
            "listener with sub filter match and invalid filter name",
            patch(ApplyTo::HttpFilter, filter_match("random", Some("")), remove()),
            "Envoy filter: subfilter match requires filter match with envoy.http_connection_manager",
        ),
        (
            "listener with sub filter match and no sub filter name",
            patch(ApplyTo::HttpFilter, filter_match("envoy.http_connection_manager", Some("")), remove()),
            "Envoy filter: subfilter match has no name to match on",
        ),
        (
            "listener with valid sub filter match",
            patch(
                ApplyTo::HttpFilter,
                filter_match("envoy.http_connection_manager", Some("envoy.router")),
                remove(),
            ),
            "",
        ),
        (
            "route configuration with invalid match",
            patch(ApplyTo::VirtualHost, cluster(), remove()),
            "Envoy filter: applyTo for http route class objects cannot have non route configuration match",
        ),
        (
            "cluster with invalid match",
            patch(ApplyTo::Cluster, object_match(ObjectTypes::Listener(ListenerMatch::default())), remove()),
            "Envoy filter: applyTo for cluster class objects cannot have non cluster match",
        ),
        ("happy config", patch(ApplyTo::Cluster, cluster(), op(Operation::Add, true)), ""),
        (
            "empty workload selector",
            EnvoyFilter {
                workload_selector: Some(WorkloadSelector::default()),
                ..Default::default()
            },
            "Envoy filter: workloadSelector cannot have empty labels",
        ),
    ];
    for (name, ef, want) in cases {
        check(validate_envoy_filter("foo", "bar", &ef), want, name);
    }
}

fn endpoint(address: &str, ports: &[(&str, u32)]) -> Endpoint {
    Endpoint {
        address: address.into(),
        ports: ports.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect(),
        ..Default::default()
    }
}

fn service_entry(
    hosts: &[&str],
    addresses: &[&str],
    ports: Vec<Port>,
    endpoints: Vec<Endpoint>,
    resolution: Resolution,
) -> ServiceEntry {
    ServiceEntry {
        hosts: hosts.iter().map(|h| (*h).to_owned()).collect(),
        addresses: addresses.iter().map(|a| (*a).to_owned()).collect(),
        ports,
        endpoints,
        resolution: resolution as i32,
        ..Default::default()
    }
}

#[test]
fn service_entry_table() {
    use Resolution::{Dns, None as NoResolution, Static};
    let two_ports = || {
        vec![
            port(80, "http", "http-valid1"),
            port(8080, "http", "http-valid2"),
        ]
    };
    let one_port = || vec![port(80, "http", "http-valid1")];
    let grpc = || vec![port(6553, "grpc", "grpc-service1")];
    let mut tls_labels = vec![
        endpoint("lon.google.com", &[("http-valid1", 8080)]),
        endpoint("in.google.com", &[("http-valid2", 9080)]),
    ];
    for e in &mut tls_labels {
        e.labels
            .insert("security.istio.io/tlsMode".into(), "istio".into());
    }
    let cases = [
        (
            "discovery type DNS",
            service_entry(
                &["*.google.com"],
                &[],
                two_ports(),
                vec![
                    endpoint("lon.google.com", &[("http-valid1", 8080)]),
                    endpoint("in.google.com", &[("http-valid2", 9080)]),
                ],
                Dns,
            ),
            true,
        ),
        (
            "discovery type DNS, label tlsMode: istio",
            service_entry(&["*.google.com"], &[], two_ports(), tls_labels, Dns),
            true,
        ),
        (
            "discovery type DNS, IP in endpoints",
            service_entry(
                &["*.google.com"],
                &[],
                two_ports(),
                vec![
                    endpoint("1.1.1.1", &[("http-valid1", 8080)]),
                    endpoint("in.google.com", &[("http-valid2", 9080)]),
                ],
                Dns,
            ),
            true,
        ),
        (
            "empty hosts",
            service_entry(
                &[],
                &[],
                one_port(),
                vec![endpoint("in.google.com", &[("http-valid2", 9080)])],
                Dns,
            ),
            false,
        ),
        (
            "bad hosts",
            service_entry(
                &["-"],
                &[],
                one_port(),
                vec![endpoint("in.google.com", &[("http-valid2", 9080)])],
                Dns,
            ),
            false,
        ),
        (
            "full wildcard host",
            service_entry(
                &["foo.com", "*"],
                &[],
                one_port(),
                vec![endpoint("in.google.com", &[("http-valid2", 9080)])],
                Dns,
            ),
            false,
        ),
        (
            "short name host",
            service_entry(
                &["foo", "bar.com"],
                &[],
                one_port(),
                vec![endpoint("in.google.com", &[("http-valid1", 9080)])],
                Dns,
            ),
            true,
        ),
        (
            "undefined endpoint port",
            service_entry(
                &["google.com"],
                &[],
                vec![
                    port(80, "http", "http-valid1"),
                    port(80, "http", "http-valid2"),
                ],
                vec![
                    endpoint("lon.google.com", &[("http-valid1", 8080)]),
                    endpoint("in.google.com", &[("http-dne", 9080)]),
                ],
                Dns,
            ),
            false,
        ),
        (
            "discovery type DNS, non-FQDN endpoint",
            service_entry(
                &["*.google.com"],
                &[],
                two_ports(),
                vec![
                    endpoint("*.lon.google.com", &[("http-valid1", 8080)]),
                    endpoint("in.google.com", &[("http-dne", 9080)]),
                ],
                Dns,
            ),
            false,
        ),
        (
            "discovery type DNS, non-FQDN host",
            service_entry(&["*.google.com"], &[], two_ports(), vec![], Dns),
            false,
        ),
        (
            "discovery type DNS, no endpoints",
            service_entry(&["google.com"], &[], two_ports(), vec![], Dns),
            true,
        ),
        (
            "discovery type DNS, unix endpoint",
            service_entry(
                &["*.google.com"],
                &[],
                one_port(),
                vec![endpoint("unix:///lon/google/com", &[])],
                Dns,
            ),
            false,
        ),
        (
            "discovery type none",
            service_entry(&["google.com"], &[], two_ports(), vec![], NoResolution),
            true,
        ),
        (
            "discovery type none, endpoints provided",
            service_entry(
                &["google.com"],
                &[],
                two_ports(),
                vec![endpoint("lon.google.com", &[("http-valid1", 8080)])],
                NoResolution,
            ),
            false,
        ),
        (
            "discovery type none, cidr addresses",
            service_entry(
                &["google.com"],
                &["172.1.2.16/16"],
                two_ports(),
                vec![],
                NoResolution,
            ),
            true,
        ),
        (
            "discovery type static, cidr addresses with endpoints",
            service_entry(
                &["google.com"],
                &["172.1.2.16/16"],
                two_ports(),
                vec![
                    endpoint("1.1.1.1", &[("http-valid1", 8080)]),
                    endpoint("2.2.2.2", &[("http-valid2", 9080)]),
                ],
                Static,
            ),
            true,
        ),
        (
            "discovery type static",
            service_entry(
                &["google.com"],
                &["172.1.2.16"],
                two_ports(),
                vec![
                    endpoint("1.1.1.1", &[("http-valid1", 8080)]),
                    endpoint("2.2.2.2", &[("http-valid2", 9080)]),
                ],
                Static,
            ),
            true,
        ),
        (
            "discovery type static, FQDN in endpoints",
            service_entry(
                &["google.com"],
                &["172.1.2.16"],
                two_ports(),
                vec![
                    endpoint("google.com", &[("http-valid1", 8080)]),
                    endpoint("2.2.2.2", &[("http-valid2", 9080)]),
                ],
                Static,
            ),
            false,
        ),
        (
            "discovery type static, missing endpoints",
            service_entry(
                &["google.com"],
                &["172.1.2.16"],
                two_ports(),
                vec![],
                Static,
            ),
            false,
        ),
        (
            "discovery type static, bad endpoint port name",
            service_entry(
                &["google.com"],
                &["172.1.2.16"],
                two_ports(),
                vec![
                    endpoint("1.1.1.1", &[("http-valid1", 8080)]),
                    endpoint("2.2.2.2", &[("http-dne", 9080)]),
                ],
                Static,
            ),
            false,
        ),
        (
            "discovery type none, conflicting port names",
            service_entry(
                &["google.com"],
                &[],
                vec![
                    port(80, "http", "http-conflict"),
                    port(8080, "http", "http-conflict"),
                ],
                vec![],
                NoResolution,
            ),
            false,
        ),
        (
            "discovery type none, conflicting port numbers",
            service_entry(
                &["google.com"],
                &[],
                vec![
                    port(80, "http", "http-conflict1"),
                    port(80, "http", "http-conflict2"),
                ],
                vec![],
                NoResolution,
            ),
            false,
        ),
        (
            "discovery type DNS, cidr addresses",
            service_entry(
                &["google.com"],
                &["172.1.2.16/16"],
                two_ports(),
                vec![],
                Dns,
            ),
            false,
        ),
        (
            "multiple hosts with TCP",
            service_entry(
                &["a.com", "b.com"],
                &[],
                vec![port(80, "tcp", "tcp")],
                vec![],
                Dns,
            ),
            false,
        ),
        (
            "multiple hosts with TCP and resolution none",
            service_entry(
                &["a.com", "b.com"],
                &[],
                vec![port(80, "tcp", "tcp")],
                vec![],
                NoResolution,
            ),
            true,
        ),
        (
            "unix socket",
            service_entry(
                &["uds.cluster.local"],
                &[],
                grpc(),
                vec![endpoint("unix:///path/to/socket", &[])],
                Static,
            ),
            true,
        ),
        (
            "unix socket, relative path",
            service_entry(
                &["uds.cluster.local"],
                &[],
                grpc(),
                vec![endpoint("unix://./relative/path.sock", &[])],
                Static,
            ),
            false,
        ),
        (
            "unix socket, endpoint ports",
            service_entry(
                &["uds.cluster.local"],
                &[],
                grpc(),
                vec![endpoint(
                    "unix:///path/to/socket",
                    &[("grpc-service1", 6553)],
                )],
                Static,
            ),
            false,
        ),
        (
            "unix socket, multiple service ports",
            service_entry(
                &["uds.cluster.local"],
                &[],
                vec![
                    port(6553, "grpc", "grpc-service1"),
                    port(80, "http", "http-service2"),
                ],
                vec![endpoint("unix:///path/to/socket", &[])],
                Static,
            ),
            false,
        ),
        (
            "empty protocol",
            service_entry(
                &["google.com"],
                &["172.1.2.16/16"],
                vec![
                    port(80, "http", "http-valid1"),
                    port(8080, "", "http-valid2"),
                ],
                vec![],
                NoResolution,
            ),
            true,
        ),
    ];
    for (name, se, valid) in cases {
        assert_eq!(
            validate_service_entry("foo", "bar", &se).is_ok(),
            valid,
            "{name}"
        );
        assert_eq!(
            validate_synthetic_service_entry("foo", "bar", &se).is_ok(),
            valid,
            "synthetic {name}"
        );
    }
}

#[test]
fn service_entry_messages() {
    let se = service_entry(
        &["*", "a.com"],
        &["10.0.0.0/8"],
        vec![port(80, "tcp", "tcp"), port(80, "kafka", "tcp")],
        vec![endpoint("lon.google.com", &[("dne", 81)])],
        Resolution::Dns,
    );
    assert_eq!(
        validate_service_entry("foo", "bar", &se),
        Err(Error::Multi(vec![
            "invalid host *".into(),
            "CIDR addresses are allowed only for NONE/STATIC resolution types".into(),
            r#"service entry port name "tcp" already defined"#.into(),
            "service entry port 80 already defined".into(),
            "endpoint port 81 is not defined by the service entry".into(),
            "multiple hosts provided with non-HTTP, non-TLS ports".into(),
            "unsupported protocol: kafka".into(),
        ]))
    );
    let unknown = ServiceEntry {
        resolution: 7,
        ..service_entry(
            &["a.com"],
            &[],
            vec![port(80, "http", "http")],
            vec![],
            Resolution::Dns,
        )
    };
    assert_eq!(
        validate_service_entry("foo", "bar", &unknown),
        Err(Error::new("unsupported resolution type "))
    );
}
