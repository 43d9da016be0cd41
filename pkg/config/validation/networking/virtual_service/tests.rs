//! Table tests (ported from upstream's validation_test.go): VirtualService and its parts.

use super::*;
use istio_api::istio::networking::v1alpha3::{headers::HeaderOperations, HttpMatchRequest};
use pbjson_types::{Duration, UInt32Value};

fn secs(seconds: i64, nanos: i32) -> Option<Duration> {
    Some(Duration { seconds, nanos })
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

fn dest(host: &str) -> Option<Destination> {
    Some(Destination {
        host: host.into(),
        ..Default::default()
    })
}

fn http_dest(host: &str, weight: i32) -> HttpRouteDestination {
    HttpRouteDestination {
        destination: dest(host),
        weight,
        ..Default::default()
    }
}

fn route_dest(host: &str, weight: i32) -> RouteDestination {
    RouteDestination {
        destination: dest(host),
        weight,
    }
}

fn simple_route() -> HttpRoute {
    HttpRoute {
        route: vec![http_dest("foo.baz", 0)],
        ..Default::default()
    }
}

fn cors(
    origins: &[&str],
    methods: &[&str],
    expose: &[&str],
    max_age: Option<Duration>,
) -> CorsPolicy {
    CorsPolicy {
        allow_origin: strings(origins),
        allow_methods: strings(methods),
        allow_headers: strings(&["header1", "header2"]),
        expose_headers: strings(expose),
        max_age,
        ..Default::default()
    }
}

#[test]
fn cors_policy() {
    let get_post = &["GET", "POST"];
    let two = || secs(2, 0);
    let cases = [
        ("valid", cors(&[], get_post, &["header3"], two()), true),
        (
            "bad method",
            cors(&[], &["GET", "PUTT"], &["header3"], two()),
            false,
        ),
        ("bad header", cors(&[], get_post, &[""], two()), false),
        (
            "bad max age",
            cors(&[], get_post, &["header3"], secs(2, 42)),
            false,
        ),
        (
            "good origin",
            cors(&["example.com"], get_post, &["header3"], two()),
            true,
        ),
        (
            "good origin with star",
            cors(&["*"], get_post, &["header3"], two()),
            true,
        ),
        (
            "good origin with http",
            cors(&["http://example.com"], get_post, &["header3"], two()),
            true,
        ),
        (
            "good origin with https",
            cors(&["https://example.com"], get_post, &["header3"], two()),
            true,
        ),
        (
            "good origin with https and port number",
            cors(&["https://example.com:80"], get_post, &["header3"], two()),
            true,
        ),
        (
            "good origin with port number",
            cors(&["example.com:80"], get_post, &["header3"], two()),
            true,
        ),
        (
            "bad origin",
            cors(
                &["example.com", "error$.com"],
                get_post,
                &["header3"],
                two(),
            ),
            false,
        ),
        (
            "bad origin with scheme only",
            cors(&["http://", "https://"], get_post, &["header3"], two()),
            false,
        ),
        (
            "bad origin with bad port string",
            cors(&["example.com:port"], get_post, &["header3"], two()),
            false,
        ),
        (
            "bad origin with bad port number",
            cors(&["example.com:100000"], get_post, &["header3"], two()),
            false,
        ),
        (
            "bad origin with star",
            cors(&["*.example.com"], get_post, &["header3"], two()),
            false,
        ),
        (
            "bad origin format",
            cors(&["a:b:c"], get_post, &["header3"], two()),
            false,
        ),
    ];
    for (name, policy, valid) in cases {
        assert_eq!(validate_cors_policy(Some(&policy)).is_ok(), valid, "{name}");
    }
    assert_eq!(validate_cors_policy(None), Ok(()));
}

#[test]
fn cors_policy_messages() {
    let policy = cors(
        &["a:b:c", "x.com:port"],
        &["PUTT"],
        &[],
        secs(0, 500_000_000),
    );
    assert_eq!(
        validate_cors_policy(Some(&policy)),
        Err(Error::Multi(vec![
            "CORS Allow Origin must be '*' or of [http[s]://]host[:port] format".into(),
            "port in CORS Allow Origin is not a number: port".into(),
            r#""PUTT" is not a supported HTTP method"#.into(),
            "max_age duration is accurate only to seconds precision".into(),
        ]))
    );
    // A numeric port replaces the errors gathered so far, as upstream does.
    let policy = cors(&["bad$.com", "x.com:80"], &[], &[], None);
    assert_eq!(validate_cors_policy(Some(&policy)), Ok(()));
}

#[test]
fn http_status() {
    for (status, valid) in [
        (-100, false),
        (0, false),
        (200, true),
        (600, true),
        (601, false),
    ] {
        assert_eq!(validate_http_status(status).is_ok(), valid, "{status}");
    }
    assert_eq!(
        validate_http_status(9000),
        Err(Error::new("HTTP status 9000 is not in range 200-599"))
    );
}

#[allow(deprecated)]
fn abort(percent: i32, percentage: Option<f64>, error: Option<ErrorType>) -> Abort {
    Abort {
        percent,
        percentage: percentage.map(|value| Percent { value }),
        error_type: error,
    }
}

#[test]
fn fault_injection_abort() {
    let ok = || Some(ErrorType::HttpStatus(200));
    let cases = [
        ("valid", abort(20, None, ok()), true),
        ("valid default", abort(0, None, ok()), true),
        ("invalid percent", abort(-1, None, ok()), false),
        (
            "invalid http status",
            abort(20, None, Some(ErrorType::HttpStatus(9000))),
            false,
        ),
        (
            "invalid low http status",
            abort(20, None, Some(ErrorType::HttpStatus(100))),
            false,
        ),
        ("valid percentage", abort(0, Some(0.001), ok()), true),
        (
            "invalid fractional percent",
            abort(0, Some(-10.0), ok()),
            false,
        ),
        (
            "too small fractional percent",
            abort(0, Some(0.00001), ok()),
            false,
        ),
        (
            "grpc status",
            abort(0, None, Some(ErrorType::GrpcStatus("x".into()))),
            false,
        ),
        (
            "http2 error",
            abort(0, None, Some(ErrorType::Http2Error("x".into()))),
            false,
        ),
    ];
    assert_eq!(validate_http_fault_injection_abort(None), Ok(()));
    for (name, a, valid) in cases {
        assert_eq!(
            validate_http_fault_injection_abort(Some(&a)).is_ok(),
            valid,
            "{name}"
        );
    }
    assert_eq!(
        validate_http_fault_injection_abort(Some(&abort(0, Some(0.00001), ok()))),
        Err(Error::new(
            "percentage 1e-05 is neither 0.0, nor in range [0.0001, 100.0]"
        ))
    );
    assert_eq!(
        validate_http_fault_injection_abort(Some(&abort(0, Some(101.5), None))),
        Err(Error::new(
            "percentage 101.5 is neither 0.0, nor in range [0.0001, 100.0]"
        ))
    );
    assert_eq!(
        validate_http_fault_injection_abort(Some(&abort(
            0,
            None,
            Some(ErrorType::GrpcStatus("x".into()))
        ))),
        Err(Error::Multi(vec![
            "gRPC abort fault injection not supported yet".into()
        ]))
    );
}

#[allow(deprecated)]
fn delay(percent: i32, percentage: Option<f64>, kind: Option<HttpDelayType>) -> Delay {
    Delay {
        percent,
        percentage: percentage.map(|value| Percent { value }),
        http_delay_type: kind,
    }
}

#[test]
fn fault_injection_delay() {
    let fixed = |s, n| secs(s, n).map(HttpDelayType::FixedDelay);
    let cases = [
        ("valid fixed", delay(20, None, fixed(3, 0)), true),
        ("valid default", delay(0, None, fixed(3, 0)), true),
        ("invalid percent", delay(101, None, fixed(3, 0)), false),
        ("invalid delay", delay(20, None, fixed(3, 42)), false),
        (
            "valid fractional percentage",
            delay(0, Some(0.001), fixed(3, 0)),
            true,
        ),
        (
            "invalid fractional percentage",
            delay(0, Some(-10.0), fixed(3, 0)),
            false,
        ),
        (
            "exponential delay",
            delay(0, None, secs(3, 0).map(HttpDelayType::ExponentialDelay)),
            false,
        ),
    ];
    assert_eq!(validate_http_fault_injection_delay(None), Ok(()));
    for (name, d, valid) in cases {
        assert_eq!(
            validate_http_fault_injection_delay(Some(&d)).is_ok(),
            valid,
            "{name}"
        );
    }
    assert_eq!(
        validate_http_fault_injection(Some(&HttpFaultInjection::default())),
        Err(Error::Multi(vec![
            "HTTP fault injection must have an abort and/or a delay".into()
        ]))
    );
}

fn retry(attempts: i32, per_try: Option<Duration>, retry_on: &str) -> HttpRetry {
    HttpRetry {
        attempts,
        per_try_timeout: per_try,
        retry_on: retry_on.into(),
    }
}

#[test]
fn http_retry() {
    let cases = [
        ("valid", retry(10, secs(2, 0), "5xx,gateway-error"), true),
        ("disable retries", retry(0, None, ""), true),
        (
            "invalid, retry policy configured but attempts set to zero",
            retry(0, secs(2, 0), "5xx,gateway-error"),
            false,
        ),
        ("valid default", retry(10, None, ""), true),
        (
            "valid http status retryOn",
            retry(10, secs(2, 0), "503,connect-failure"),
            true,
        ),
        ("invalid attempts", retry(-1, secs(2, 0), ""), false),
        ("invalid timeout", retry(10, secs(2, 1), ""), false),
        ("timeout too small", retry(10, secs(0, 999), ""), false),
        (
            "invalid policy retryOn",
            retry(10, secs(2, 0), "5xx,invalid policy"),
            false,
        ),
        (
            "invalid http status retryOn",
            retry(10, secs(2, 0), "600,connect-failure"),
            false,
        ),
        (
            "grpc policies",
            retry(3, None, "cancelled,unavailable,retriable-status-codes"),
            true,
        ),
    ];
    assert_eq!(validate_http_retry(None), Ok(()));
    for (name, r, valid) in cases {
        assert_eq!(validate_http_retry(Some(&r)).is_ok(), valid, "{name}");
    }
    assert_eq!(
        validate_http_retry(Some(&retry(0, None, "5xx, reset"))),
        Err(Error::Multi(vec![
            "http retry policy configured when attempts are set to 0 (disabled)".into(),
            r#"" reset" is not a valid retryOn policy"#.into(),
        ]))
    );
}

#[test]
fn http_rewrite() {
    let rw = |uri: &str, authority: &str| HttpRewrite {
        uri: uri.into(),
        authority: authority.into(),
    };
    assert_eq!(validate_http_rewrite(None), Ok(()));
    assert_eq!(
        validate_http_rewrite(Some(&rw("/path/to/resource", "foobar.org"))),
        Ok(())
    );
    assert_eq!(
        validate_http_rewrite(Some(&rw("/path/to/resource", ""))),
        Ok(())
    );
    assert_eq!(validate_http_rewrite(Some(&rw("", "foobar.org"))), Ok(()));
    assert_eq!(
        validate_http_rewrite(Some(&rw("", ""))),
        Err(Error::new("rewrite must specify URI, authority, or both"))
    );
}

#[test]
fn port_name() {
    use super::super::validate_port_name;
    let long = "toolong".repeat(14);
    for (name, valid) in [
        ("", false),
        ("simple", true),
        ("full", true),
        (long.as_str(), false),
    ] {
        assert_eq!(validate_port_name(name).is_ok(), valid, "{name}");
    }
    assert_eq!(
        validate_port_name(""),
        Err(Error::new("invalid port name: "))
    );
}

#[test]
fn http_redirect() {
    let rd = |uri: &str, authority: &str, code: u32| HttpRedirect {
        uri: uri.into(),
        authority: authority.into(),
        redirect_code: code,
    };
    let cases = [
        ("empty uri and authority", rd("", "", 0), false),
        ("too small redirect code", rd("t", "", 299), false),
        ("too large redirect code", rd("t", "", 400), false),
        ("empty authority", rd("t", "", 0), true),
        ("empty uri", rd("", "t", 0), true),
        ("empty redirect code", rd("t", "t", 0), true),
        ("normal redirect", rd("t", "t", 308), true),
    ];
    assert_eq!(validate_http_redirect(None), Ok(()));
    for (name, r, valid) in cases {
        assert_eq!(validate_http_redirect(Some(&r)).is_ok(), valid, "{name}");
    }
    assert_eq!(
        validate_http_redirect(Some(&rd("t", "", 299))),
        Err(Error::new("299 is not a valid redirect code, must be 3xx"))
    );
}

#[test]
fn destination() {
    let full = Destination {
        host: "foo.bar".into(),
        subset: "shiny".into(),
        port: Some(PortSelector { number: 5000 }),
    };
    assert!(validate_destination(Some(&Destination::default())).is_err());
    assert_eq!(validate_destination(dest("foo.bar").as_ref()), Ok(()));
    assert_eq!(validate_destination(Some(&full)), Ok(()));
    assert_eq!(validate_destination(None), Ok(()));
    let bad = Destination {
        host: "*".into(),
        subset: "a.b".into(),
        port: Some(PortSelector { number: 70000 }),
    };
    assert_eq!(
        validate_destination(Some(&bad)),
        Err(Error::Multi(vec![
            "invalid destination host *".into(),
            "subset name is invalid: a.b".into(),
            "port number 70000 must be in the range 1..65535".into(),
        ]))
    );
}

fn header_ops(add: &[&str], set: &[&str], remove: &[&str]) -> Option<HeaderOperations> {
    Some(HeaderOperations {
        add: add
            .iter()
            .map(|k| ((*k).to_owned(), String::new()))
            .collect(),
        set: set
            .iter()
            .map(|k| ((*k).to_owned(), String::new()))
            .collect(),
        remove: strings(remove),
    })
}

fn with_headers(
    request: Option<HeaderOperations>,
    response: Option<HeaderOperations>,
) -> HttpRoute {
    HttpRoute {
        route: vec![HttpRouteDestination {
            headers: Some(Headers { request, response }),
            ..http_dest("foo.baz", 0)
        }],
        ..Default::default()
    }
}

#[test]
fn http_route() {
    let name = &["name"];
    let empty = &[""];
    let mut append_headers = simple_route();
    append_headers
        .append_request_headers
        .insert("name".into(), String::new());
    append_headers
        .append_response_headers
        .insert("name".into(), String::new());
    let mut empty_append_headers = simple_route();
    empty_append_headers
        .append_request_headers
        .insert(String::new(), "value".into());
    empty_append_headers
        .append_response_headers
        .insert(String::new(), "value".into());
    let cases = [
        ("empty", HttpRoute::default(), false),
        ("simple", simple_route(), true),
        (
            "no destination",
            HttpRoute {
                route: vec![HttpRouteDestination::default()],
                ..Default::default()
            },
            false,
        ),
        (
            "weighted",
            HttpRoute {
                route: vec![
                    http_dest("foo.baz.south", 25),
                    http_dest("foo.baz.east", 75),
                ],
                ..Default::default()
            },
            true,
        ),
        (
            "total weight > 100",
            HttpRoute {
                route: vec![
                    http_dest("foo.baz.south", 55),
                    http_dest("foo.baz.east", 50),
                ],
                ..Default::default()
            },
            false,
        ),
        (
            "total weight < 100",
            HttpRoute {
                route: vec![
                    http_dest("foo.baz.south", 49),
                    http_dest("foo.baz.east", 50),
                ],
                ..Default::default()
            },
            false,
        ),
        (
            "simple redirect",
            HttpRoute {
                redirect: Some(HttpRedirect {
                    uri: "/lerp".into(),
                    authority: "foo.biz".into(),
                    redirect_code: 0,
                }),
                ..Default::default()
            },
            true,
        ),
        (
            "conflicting redirect and route",
            HttpRoute {
                redirect: Some(HttpRedirect {
                    uri: "/lerp".into(),
                    authority: "foo.biz".into(),
                    redirect_code: 0,
                }),
                ..simple_route()
            },
            false,
        ),
        ("request response headers", append_headers, true),
        (
            "empty request response headers",
            empty_append_headers,
            false,
        ),
        (
            "valid headers",
            with_headers(header_ops(name, name, name), header_ops(name, name, name)),
            true,
        ),
        (
            "empty header name - request add",
            with_headers(header_ops(empty, &[], &[]), None),
            false,
        ),
        (
            "empty header name - request set",
            with_headers(header_ops(&[], empty, &[]), None),
            false,
        ),
        (
            "empty header name - request remove",
            with_headers(header_ops(&[], &[], empty), None),
            false,
        ),
        (
            "empty header name - response add",
            with_headers(None, header_ops(empty, &[], &[])),
            false,
        ),
        (
            "empty header name - response set",
            with_headers(None, header_ops(&[], empty, &[])),
            false,
        ),
        (
            "empty header name - response remove",
            with_headers(None, header_ops(&[], &[], empty)),
            false,
        ),
        (
            "empty header match name",
            HttpRoute {
                r#match: vec![HttpMatchRequest {
                    headers: [(String::new(), Default::default())].into(),
                    ..Default::default()
                }],
                ..simple_route()
            },
            false,
        ),
        ("nil match", simple_route(), true),
        (
            "empty match",
            HttpRoute {
                r#match: vec![HttpMatchRequest::default()],
                ..simple_route()
            },
            true,
        ),
        (
            "mirror percent too large",
            HttpRoute {
                mirror_percent: Some(UInt32Value { value: 101 }),
                ..simple_route()
            },
            false,
        ),
        (
            "bad timeout",
            HttpRoute {
                timeout: secs(0, 1),
                ..simple_route()
            },
            false,
        ),
    ];
    for (name, route, valid) in cases {
        assert_eq!(validate_http_route(&route).is_ok(), valid, "{name}");
    }
}

#[test]
fn http_route_messages() {
    let route = HttpRoute {
        redirect: Some(HttpRedirect::default()),
        rewrite: Some(HttpRewrite::default()),
        fault: Some(HttpFaultInjection::default()),
        websocket_upgrade: true,
        mirror_percent: Some(UInt32Value { value: 101 }),
        ..simple_route()
    };
    assert_eq!(
        validate_http_route(&route),
        Err(Error::Multi(vec![
            "HTTP route cannot contain both route and redirect".into(),
            "HTTP route cannot contain both fault and redirect".into(),
            "HTTP route rule cannot contain both rewrite and redirect".into(),
            "WebSocket upgrade is not allowed on redirect rules".into(),
            "HTTP fault injection must have an abort and/or a delay".into(),
            "mirror_percent must have a max value of 100 (it has 101)".into(),
            "redirect must specify URI, authority, or both".into(),
            "rewrite must specify URI, authority, or both".into(),
        ]))
    );
    assert_eq!(
        validate_http_route(&HttpRoute::default()),
        Err(Error::new("HTTP route or redirect is required"))
    );
}

#[test]
fn route_destinations() {
    let cases = [
        ("simple", vec![route_dest("foo.baz", 0)], true),
        ("wildcard dash", vec![route_dest("*-foo.baz", 0)], true),
        ("wildcard prefix", vec![route_dest("*foo.baz", 0)], true),
        ("wildcard", vec![route_dest("*", 0)], false),
        ("bad wildcard", vec![route_dest("foo.*", 0)], false),
        ("bad fqdn", vec![route_dest("default/baz", 0)], false),
        ("no destination", vec![RouteDestination::default()], false),
        (
            "weighted",
            vec![
                route_dest("foo.baz.south", 25),
                route_dest("foo.baz.east", 75),
            ],
            true,
        ),
        (
            "weight < 0",
            vec![
                route_dest("foo.baz.south", 5),
                route_dest("foo.baz.east", -1),
            ],
            false,
        ),
        (
            "total weight > 100",
            vec![
                route_dest("foo.baz.south", 55),
                route_dest("foo.baz.east", 50),
            ],
            false,
        ),
        (
            "total weight < 100",
            vec![
                route_dest("foo.baz.south", 49),
                route_dest("foo.baz.east", 50),
            ],
            false,
        ),
        (
            "total weight = 100",
            vec![
                route_dest("foo.baz.south", 100),
                route_dest("foo.baz.east", 0),
            ],
            true,
        ),
        ("weight = 0", vec![route_dest("foo.baz.south", 0)], true),
        (
            "total weight = 0 with multi RouteDestination",
            vec![
                route_dest("foo.baz.south", 0),
                route_dest("foo.baz.east", 0),
            ],
            false,
        ),
    ];
    for (name, routes, valid) in cases {
        assert_eq!(
            validate_route_destinations(&routes).is_ok(),
            valid,
            "{name}"
        );
    }
    assert_eq!(
        validate_route_destinations(&[RouteDestination::default(), route_dest("a.b", 50)]),
        Err(Error::Multi(vec![
            "destination is required".into(),
            "total destination weight 50 != 100".into(),
        ]))
    );
}

fn vs(hosts: &[&str], gateways: &[&str], http: Vec<HttpRoute>) -> VirtualService {
    VirtualService {
        hosts: strings(hosts),
        gateways: strings(gateways),
        http,
        ..Default::default()
    }
}

#[test]
fn virtual_service() {
    let r = || vec![simple_route()];
    let mut remove_headers = simple_route();
    #[allow(deprecated)]
    {
        remove_headers.remove_response_headers = strings(&["unwantedHeader", "secretStuff"]);
    }
    let cases = [
        ("simple", vs(&["foo.bar"], &[], r()), true),
        (
            "duplicate hosts",
            vs(&["*.foo.bar", "*.bar"], &[], r()),
            false,
        ),
        ("no hosts", vs(&[], &[], r()), false),
        ("bad host", vs(&["foo.ba!r"], &[], r()), false),
        (
            "no tcp or http routing",
            vs(&["foo.bar"], &[], vec![]),
            false,
        ),
        ("bad gateway", vs(&["foo.bar"], &["b@dgateway"], r()), false),
        (
            "FQDN for gateway",
            vs(&["foo.bar"], &["gateway.example.com"], r()),
            true,
        ),
        (
            "namespace/name for gateway",
            vs(&["foo.bar"], &["ns1/gateway"], r()),
            true,
        ),
        (
            "namespace/* for gateway",
            vs(&["foo.bar"], &["ns1/*"], r()),
            false,
        ),
        (
            "*/name for gateway",
            vs(&["foo.bar"], &["*/gateway"], r()),
            false,
        ),
        ("wildcard for mesh gateway", vs(&["*"], &[], r()), false),
        (
            "wildcard for explicit mesh gateway",
            vs(&["*"], &["gw", "mesh"], r()),
            false,
        ),
        (
            "wildcard for non-mesh gateway",
            vs(&["*"], &["somegateway"], r()),
            true,
        ),
        ("IP host", vs(&["10.0.0.1"], &[], r()), true),
        (
            "valid removeResponseHeaders",
            vs(&["foo.bar"], &[], vec![remove_headers]),
            true,
        ),
        (
            "missing tcp route",
            VirtualService {
                tcp: vec![TcpRoute {
                    r#match: vec![L4MatchAttributes {
                        port: 999,
                        ..Default::default()
                    }],
                    route: vec![],
                }],
                ..vs(&["foo.bar"], &[], vec![])
            },
            false,
        ),
        (
            "valid tcp route",
            VirtualService {
                tcp: vec![TcpRoute {
                    r#match: vec![L4MatchAttributes {
                        port: 999,
                        source_subnet: "10.0.0.0/8".into(),
                        destination_subnets: strings(&["10.1.0.0/16"]),
                        ..Default::default()
                    }],
                    route: vec![route_dest("foo.baz", 0)],
                }],
                ..vs(&["foo.bar"], &[], vec![])
            },
            true,
        ),
        (
            "missing tls route",
            VirtualService {
                tls: vec![TlsRoute {
                    r#match: vec![TlsMatchAttributes {
                        port: 999,
                        sni_hosts: strings(&["foo.bar"]),
                        ..Default::default()
                    }],
                    route: vec![],
                }],
                ..vs(&["foo.bar"], &[], vec![])
            },
            false,
        ),
        (
            "valid tls route",
            VirtualService {
                tls: vec![TlsRoute {
                    r#match: vec![TlsMatchAttributes {
                        sni_hosts: strings(&["a.foo.bar"]),
                        ..Default::default()
                    }],
                    route: vec![route_dest("foo.baz", 0)],
                }],
                ..vs(&["*.foo.bar"], &[], vec![])
            },
            true,
        ),
        (
            "bad export to",
            VirtualService {
                export_to: strings(&["ns"]),
                ..vs(&["foo.bar"], &[], r())
            },
            false,
        ),
    ];
    for (name, v, valid) in cases {
        assert_eq!(
            validate_virtual_service("", "", &v).is_ok(),
            valid,
            "{name}"
        );
    }
}

#[test]
fn virtual_service_messages() {
    assert_eq!(
        validate_virtual_service("", "", &vs(&["*.foo.bar", "*.bar", "*"], &[], vec![])),
        Err(Error::Multi(vec![
            "wildcard host * is not allowed for virtual services bound to the mesh gateway".into(),
            "http, tcp or tls must be provided in virtual service".into(),
        ]))
    );
    assert_eq!(
        validate_virtual_service(
            "",
            "",
            &vs(&["*.foo.bar", "*.bar"], &["gw"], vec![simple_route()])
        ),
        Err(Error::new(
            "duplicate hosts in virtual service: *.foo.bar & *.bar"
        ))
    );
    assert_eq!(
        validate_virtual_service(
            "",
            "",
            &vs(
                &["foo.bar"],
                &["ns/b@d", "/", "a.b/c"],
                vec![simple_route()]
            )
        ),
        Err(Error::Multi(vec![
            r#"invalid value for gateway name: "b@d""#.into(),
            "config namespace and gateway name cannot be empty".into(),
            r#"invalid value for namespace: """#.into(),
            r#"invalid value for gateway name: """#.into(),
            r#"invalid value for namespace: "a.b""#.into(),
        ]))
    );
    // An FQDN-style gateway name ends the gateway check, as upstream does.
    assert_eq!(
        validate_virtual_service(
            "",
            "",
            &vs(
                &["foo.bar"],
                &["gw.example.com", "ns/b@d"],
                vec![simple_route()]
            )
        ),
        Ok(())
    );
}

#[test]
fn sni_hosts() {
    let v = vs(&["*.foo.bar", "baz.com"], &[], vec![]);
    assert_eq!(validate_sni_host("a.foo.bar", &v), Ok(()));
    assert_eq!(validate_sni_host("baz.com", &v), Ok(()));
    assert_eq!(
        validate_sni_host("other.com", &v),
        Err(Error::new(
            r#"SNI host "other.com" is not a compatible subset of any of the virtual service hosts: [*.foo.bar, baz.com]"#
        ))
    );
    assert_eq!(
        validate_sni_host("b@d", &v),
        Err(Error::new(
            r#"domain name "b@d" invalid (label "b@d" invalid)"#
        ))
    );
    let m = TlsMatchAttributes::default();
    assert_eq!(
        validate_tls_match(&m, &v),
        Err(Error::new("TLS match must have at least one SNI host"))
    );
}
