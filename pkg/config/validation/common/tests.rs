use super::*;

fn dur(seconds: i64, nanos: i32) -> Duration {
    Duration { seconds, nanos }
}

#[test]
fn fqdn() {
    let cases = [
        ("x".repeat(256), false),
        (String::new(), false),
        ("istio.io".into(), true),
        ("istio.io.".into(), true),
        ("istio-pilot.istio-system.svc.cluster.local".into(), true),
        ("istio-pilot.istio-system.svc.cluster.local.".into(), true),
        ("istio..io".into(), false),
        ("*.istio.io".into(), false),
        ("1.2.3.4".into(), false),
        ("foo.123".into(), false),
        ("foo.123.".into(), true),
    ];
    for (fqdn, valid) in cases {
        assert_eq!(validate_fqdn(&fqdn).is_ok(), valid, "{fqdn:?}");
    }
}

#[test]
fn fqdn_messages() {
    assert_eq!(
        validate_fqdn(""),
        Err(Error::new("empty domain name not allowed"))
    );
    assert_eq!(
        validate_fqdn("foo.123"),
        Err(Error::new(
            r#"domain name "foo.123" invalid (top level domain "123" cannot be all-numeric)"#
        ))
    );
    assert_eq!(
        validate_fqdn("foo..com"),
        Err(Error::new(
            r#"domain name "foo..com" invalid (label "" invalid)"#
        ))
    );
    let long = "x".repeat(256);
    assert_eq!(
        validate_fqdn(&long),
        Err(Error::new(format!(
            r#"domain name "{long}" too long (max 255)"#
        )))
    );
}

#[test]
fn wildcard_domain() {
    let cases: [(&str, String, &str); 11] = [
        ("empty", String::new(), "empty"),
        ("too long", "x".repeat(256), "too long"),
        ("happy", "x".repeat(63), ""),
        ("wildcard", "*".into(), ""),
        ("wildcard multi-segment", "*.bar.com".into(), ""),
        ("wildcard single segment", "*foo".into(), ""),
        ("wildcard prefix", "*foo.bar.com".into(), ""),
        ("wildcard prefix dash", "*-foo.bar.com".into(), ""),
        ("bad wildcard", "foo.*.com".into(), "invalid"),
        ("bad wildcard", "foo*.bar.com".into(), "invalid"),
        ("IP address", "1.1.1.1".into(), "invalid"),
    ];
    for (name, input, want) in cases {
        match validate_wildcard_domain(&input) {
            Ok(()) => assert!(want.is_empty(), "{name}: want error containing {want:?}"),
            Err(e) => {
                assert!(!want.is_empty(), "{name}: unexpected error {e}");
                assert!(e.to_string().contains(want), "{name}: {e}");
            }
        }
    }
    assert_eq!(
        validate_wildcard_domain("foo*.bar.com"),
        Err(Error::new(
            r#"domain name "foo*.bar.com" invalid (label "foo*" invalid)"#
        ))
    );
}

#[test]
fn port() {
    for (port, valid) in [
        (0, false),
        (65536, false),
        (-1, false),
        (100, true),
        (1000, true),
        (65535, true),
        (1, true),
    ] {
        assert_eq!(validate_port(port).is_ok(), valid, "{port}");
    }
    assert_eq!(
        validate_port(0),
        Err(Error::new("port number 0 must be in the range 1..65535"))
    );
    assert!(validate_ports(&[1, 80, 65535]));
    assert!(!validate_ports(&[80, 0]));
    assert!(validate_ports(&[]));
}

#[test]
fn proxy_address() {
    let cases = [
        ("istio-pilot:80", true),
        ("istio-pilot", false),
        ("isti..:80", false),
        ("10.0.0.100:9090", true),
        ("10.0.0.100", false),
        ("istio-pilot:port", false),
        ("istio-pilot:100000", false),
        ("[2001:db8::100]:80", true),
        ("[2001:db8::10::20]:80", false),
        ("[2001:db8::100]", false),
        ("[2001:db8::100]:port", false),
        ("2001:db8::100:80", false),
    ];
    for (addr, valid) in cases {
        assert_eq!(validate_proxy_address(addr).is_ok(), valid, "{addr}");
    }
}

#[test]
fn proxy_address_messages() {
    let cases = [
        (
            "istio-pilot",
            r#"unable to split "istio-pilot": address istio-pilot: missing port in address"#,
        ),
        (
            "istio-pilot:port",
            r#"port (port) is not a number: strconv.Atoi: parsing "port": invalid syntax"#,
        ),
        (
            "istio-pilot:100000",
            "port number 100000 must be in the range 1..65535",
        ),
        (
            "isti..:80",
            r#""isti.." is not a valid hostname or an IP address"#,
        ),
        (
            "2001:db8::100:80",
            r#"unable to split "2001:db8::100:80": address 2001:db8::100:80: too many colons in address"#,
        ),
    ];
    for (addr, want) in cases {
        assert_eq!(
            validate_proxy_address(addr),
            Err(Error::new(want)),
            "{addr}"
        );
    }
}

#[test]
fn duration() {
    let cases = [
        (dur(1, 0), true),
        (dur(1, -1), false),
        (dur(-11, -1), false),
        (dur(0, 1), false),
        (dur(1, 1), false),
        (dur(0, 1_000_000), true),
        (dur(0, 999_999), false),
    ];
    for (d, valid) in cases {
        assert_eq!(validate_duration(Some(&d)).is_ok(), valid, "{d:?}");
    }
    assert_eq!(
        validate_duration(None),
        Err(Error::new("duration: nil Duration"))
    );
    assert_eq!(
        validate_duration(Some(&dur(0, 1))),
        Err(Error::new("duration must be greater than 1ms"))
    );
    assert_eq!(
        validate_duration(Some(&dur(1, 1))),
        Err(Error::new("only durations to ms precision are supported"))
    );
    assert_eq!(
        validate_duration(Some(&dur(1, -1))),
        Err(Error::new(
            "duration: &types.Duration{Seconds: 1,\nNanos: -1,\n}: seconds and nanos have different signs"
        ))
    );
    assert!(validate_duration(Some(&dur(MAX_DURATION_SECONDS + 1, 0)))
        .is_err_and(|e| e.to_string().ends_with("seconds out of range")));
    assert!(validate_duration(Some(&dur(1, 1_000_000_000)))
        .is_err_and(|e| e.to_string().ends_with("nanos out of range")));
    assert!(validate_duration(Some(&dur(MAX_DURATION_SECONDS, 0)))
        .is_err_and(|e| e.to_string().ends_with("is out of range for time.Duration")));
}

#[test]
fn duration_range() {
    let s = StdDuration::from_secs;
    assert!(validate_duration_range(s(1), StdDuration::from_millis(1), s(30)).is_ok());
    assert_eq!(
        validate_duration_range(s(31), StdDuration::from_millis(1), s(30)),
        Err(Error::new("time 31s must be >1ms and <30s"))
    );
}

#[test]
fn percent() {
    for (v, valid) in [
        (-1, false),
        (0, true),
        (50, true),
        (100, true),
        (101, false),
    ] {
        assert_eq!(validate_percent(v).is_ok(), valid, "{v}");
    }
    assert_eq!(
        validate_percent(101),
        Err(Error::new("percentage 101 is not in range 0..100"))
    );
}

#[test]
fn header_name() {
    assert!(validate_http_header_name("header").is_ok());
    assert!(validate_http_header_name("X-Forwarded-For").is_ok());
    assert_eq!(
        validate_http_header_name(""),
        Err(Error::new("header name cannot be empty"))
    );
}

#[test]
fn ipv4_subnet_and_address() {
    let cases = [
        ("10.0.0.0/8", true),
        ("10.0.0.1", true),
        ("0.0.0.0/0", true),
        ("10.0.0.0/33", false),
        ("10.0.0.0/8/8", false),
        ("2001:db8::/32", false),
        ("2001:db8::1", false),
        ("::ffff:10.0.0.1", true),
        ("foo", false),
        ("", false),
    ];
    for (s, valid) in cases {
        assert_eq!(validate_ipv4_subnet(s).is_ok(), valid, "{s}");
    }
    assert_eq!(
        validate_ipv4_subnet("10.0.0.0/33"),
        Err(Error::new("10.0.0.0/33 is not a valid CIDR block"))
    );
    assert_eq!(
        validate_ipv4_subnet("2001:db8::/32"),
        Err(Error::new("2001:db8::/32 is not a valid IPv4 address"))
    );
    assert_eq!(
        validate_ipv4_address("foo"),
        Err(Error::new("foo is not a valid IP"))
    );
    assert_eq!(
        validate_ipv4_address("::1"),
        Err(Error::new("::1 is not a valid IPv4 address"))
    );
}

#[test]
fn unix_address() {
    let cases = [
        ("/var/run/sock", true),
        ("@abstract", true),
        ("", false),
        ("relative/path", false),
        ("/dir/", false),
        ("/", false),
    ];
    for (s, valid) in cases {
        assert_eq!(validate_unix_address(s).is_ok(), valid, "{s}");
    }
    assert_eq!(
        validate_unix_address(""),
        Err(Error::new("unix address must not be empty"))
    );
    assert_eq!(
        validate_unix_address("a/b"),
        Err(Error::new("a/b is not an absolute path to a file"))
    );
}

fn service(name: &str, namespace: &str, domain: &str, svc: &str) -> IstioService {
    IstioService {
        name: name.into(),
        namespace: namespace.into(),
        domain: domain.into(),
        service: svc.into(),
        ..Default::default()
    }
}

#[test]
fn mixer_service() {
    let cases = [
        ("no name and service", service("", "", "", ""), false),
        (
            "specify both name and service",
            service("", "", "", "service.default.svc.cluster.local"),
            true,
        ),
        (
            "specify both name and service",
            service("svc", "", "", "service.default.svc.cluster.local"),
            false,
        ),
        (
            "specify both namespace and service",
            service("", "ns", "", "service.default.svc.cluster.local"),
            false,
        ),
        (
            "specify both domain and service",
            service("", "", "cluster.local", "service.default.svc.cluster.local"),
            false,
        ),
        ("invalid name label", service("$svc", "", "", ""), false),
        (
            "invalid namespace label",
            service("svc", "$ns", "", ""),
            false,
        ),
        (
            "invalid domain or labels",
            service("svc", "", "$cluster.local", ""),
            false,
        ),
        ("valid", service("svc", "ns", "cluster.local", ""), true),
    ];
    for (name, svc, valid) in cases {
        assert_eq!(validate_mixer_service(&svc).is_ok(), valid, "{name}");
    }
}

#[test]
fn mixer_service_messages() {
    assert_eq!(
        validate_mixer_service(&service("", "", "", "")),
        Err(Error::Multi(vec![
            "name or service is mandatory for a service reference".into()
        ]))
    );
    let mut svc = service("$svc", "$ns", "", "");
    svc.labels.insert("^".into(), "ok".into());
    assert_eq!(
        validate_mixer_service(&svc),
        Err(Error::Multi(vec![
            r#"name "$svc" must be a valid label"#.into(),
            r#"namespace "$ns" must be a valid label"#.into(),
            r#"invalid tag key: "^""#.into(),
        ]))
    );
}
