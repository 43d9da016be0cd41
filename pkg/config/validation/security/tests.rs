//! Table tests (ported from upstream's validation_test.go): authentication, authorization and
//! RBAC kinds.

use super::*;
use istio_api::istio::{
    authentication::v1alpha1::{
        MutualTls, OriginAuthenticationMethod, PeerAuthenticationMethod, PrincipalBinding,
    },
    r#type::v1beta1::WorkloadSelector,
    rbac::v1alpha1::{access_rule::Constraint, rbac_config::Target, RoleRef},
    security::v1beta1::{rule, Condition, Operation, Rule, Source},
};

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

fn jwt(issuer: &str, jwks_uri: &str) -> Jwt {
    Jwt {
        issuer: issuer.into(),
        jwks_uri: jwks_uri.into(),
        jwt_headers: strings(&["x-goog-iap-jwt-assertion"]),
        ..Default::default()
    }
}

fn peer_jwt(j: Jwt) -> PeerAuthenticationMethod {
    PeerAuthenticationMethod {
        params: Some(Params::Jwt(j)),
    }
}

fn origin(j: Jwt) -> OriginAuthenticationMethod {
    OriginAuthenticationMethod { jwt: Some(j) }
}

fn target(name: &str) -> TargetSelector {
    TargetSelector {
        name: name.into(),
        ..Default::default()
    }
}

const CERTS: &str = "https://secure.istio.io/oauth/v1/certs";

#[test]
fn authentication_policy() {
    let default = DEFAULT_AUTHENTICATION_POLICY_NAME;
    let mtls = PeerAuthenticationMethod {
        params: Some(Params::Mtls(MutualTls::default())),
    };
    let cases = [
        (
            "empty policy with namespace-wide policy name",
            default,
            Policy::default(),
            true,
        ),
        (
            "empty policy with non-default name",
            "foo",
            Policy::default(),
            false,
        ),
        (
            "service-specific policy with namespace-wide name",
            default,
            Policy {
                targets: vec![target("foo")],
                ..Default::default()
            },
            false,
        ),
        (
            "Targets only policy",
            "foo",
            Policy {
                targets: vec![target("foo")],
                ..Default::default()
            },
            true,
        ),
        (
            "Source mTLS",
            default,
            Policy {
                peers: vec![mtls.clone()],
                ..Default::default()
            },
            true,
        ),
        (
            "Source JWT",
            default,
            Policy {
                peers: vec![peer_jwt(jwt("istio.io", CERTS))],
                ..Default::default()
            },
            true,
        ),
        (
            "Origin",
            default,
            Policy {
                origins: vec![origin(jwt("istio.io", CERTS))],
                ..Default::default()
            },
            true,
        ),
        (
            "Bad JkwsURI",
            default,
            Policy {
                origins: vec![origin(jwt("istio.io", "secure.istio.io/oauth/v1/certs"))],
                ..Default::default()
            },
            false,
        ),
        (
            "Bad JkwsURI Port",
            default,
            Policy {
                origins: vec![origin(jwt(
                    "istio.io",
                    "https://secure.istio.io:not-a-number/oauth/v1/certs",
                ))],
                ..Default::default()
            },
            false,
        ),
        (
            "Duplicate Jwt issuers",
            default,
            Policy {
                peers: vec![peer_jwt(jwt("istio.io", CERTS))],
                origins: vec![origin(jwt("istio.io", CERTS))],
                ..Default::default()
            },
            false,
        ),
        (
            "Just binding",
            default,
            Policy {
                principal_binding: PrincipalBinding::UseOrigin as i32,
                ..Default::default()
            },
            true,
        ),
        (
            "Bad target name",
            "foo",
            Policy {
                targets: vec![target("foo.bar")],
                ..Default::default()
            },
            false,
        ),
        (
            "Good target name",
            "foo",
            Policy {
                targets: vec![target("good-service-name")],
                ..Default::default()
            },
            true,
        ),
        (
            "target with ports",
            "foo",
            Policy {
                targets: vec![TargetSelector {
                    ports: vec![
                        AuthnPortSelector {
                            port: Some(AuthnPort::Number(8080)),
                        },
                        AuthnPortSelector {
                            port: Some(AuthnPort::Name("http".into())),
                        },
                    ],
                    ..target("svc")
                }],
                ..Default::default()
            },
            true,
        ),
    ];
    for (name, config_name, policy, valid) in cases {
        assert_eq!(
            validate_authentication_policy(config_name, "ns", &policy).is_ok(),
            valid,
            "{name}"
        );
    }
}

#[test]
fn authentication_policy_messages() {
    assert_eq!(
        validate_authentication_policy("foo", "ns", &Policy::default()),
        Err(Error::new(
            r#"authentication policy with no target rules  must be named "default", found "foo""#
        ))
    );
    let policy = Policy {
        targets: vec![target("foo.bar")],
        peers: vec![peer_jwt(jwt("istio.io", CERTS))],
        origins: vec![
            origin(jwt("istio.io", "ftp://x")),
            OriginAuthenticationMethod { jwt: None },
        ],
        ..Default::default()
    };
    assert_eq!(
        validate_authentication_policy("default", "ns", &policy),
        Err(Error::Multi(vec![
            r#"authentication policy with name "default" must not have any target rules"#.into(),
            r#"target name "foo.bar" must be a valid label"#.into(),
            r#"jwt with issuer "istio.io" already defined"#.into(),
            r#"URI scheme "ftp" is not supported"#.into(),
            "jwt cannot be empty".into(),
        ]))
    );
    let empty_fields = Jwt {
        audiences: strings(&[""]),
        jwt_headers: strings(&[""]),
        jwt_params: strings(&[""]),
        ..Default::default()
    };
    assert_eq!(
        validate_jwt(&empty_fields),
        Err(Error::Multi(vec![
            "issuer must be set".into(),
            "audience must be non-empty string".into(),
            "location header must be non-empty string".into(),
            "location query must be non-empty string".into(),
        ]))
    );
}

#[test]
fn authentication_mesh_policy() {
    let default = DEFAULT_AUTHENTICATION_POLICY_NAME;
    let cases = [
        ("good name", default, Policy::default(), true),
        ("bad-name", "foo", Policy::default(), false),
        (
            "has targets",
            default,
            Policy {
                targets: vec![target("foo")],
                ..Default::default()
            },
            false,
        ),
        (
            "good",
            default,
            Policy {
                peers: vec![PeerAuthenticationMethod {
                    params: Some(Params::Mtls(MutualTls::default())),
                }],
                ..Default::default()
            },
            true,
        ),
        (
            "empty origin",
            default,
            Policy {
                origins: vec![OriginAuthenticationMethod::default()],
                ..Default::default()
            },
            false,
        ),
    ];
    for (name, config_name, policy, valid) in cases {
        assert_eq!(
            validate_authentication_policy(config_name, "", &policy).is_ok(),
            valid,
            "{name}"
        );
    }
    assert_eq!(
        validate_authentication_policy(
            "foo",
            "",
            &Policy {
                targets: vec![target("foo")],
                ..Default::default()
            }
        ),
        Err(Error::Multi(vec![
            r#"cluster-scoped authentication policy name must be "default", found "foo""#.into(),
            "cluster-scoped authentication policy must not have targets".into(),
        ]))
    );
}

#[test]
fn authn_port_selector() {
    let sel = |port| AuthnPortSelector { port };
    assert_eq!(
        validate_authn_port_selector(&sel(Some(AuthnPort::Number(80)))),
        Ok(())
    );
    assert_eq!(
        validate_authn_port_selector(&sel(Some(AuthnPort::Number(70000)))),
        Err(Error::new(
            "port number 70000 must be in the range 1..65535"
        ))
    );
    assert_eq!(
        validate_authn_port_selector(&sel(Some(AuthnPort::Name("a.b".into())))),
        Err(Error::new("subset name is invalid: a.b"))
    );
    let both = Err(Error::Multi(vec![
        "subset name cannot be empty".into(),
        "port number 0 must be in the range 1..65535".into(),
    ]));
    assert_eq!(validate_authn_port_selector(&sel(None)), both);
    assert_eq!(
        validate_authn_port_selector(&sel(Some(AuthnPort::Number(0)))),
        both
    );
}

#[test]
fn jwks_uri() {
    assert_eq!(
        parse_jwks_uri("https://secure.istio.io/oauth/v1/certs"),
        Ok(JwksInfo {
            hostname: "secure.istio.io".into(),
            scheme: "https".into(),
            port: 443,
            use_ssl: true,
        })
    );
    assert_eq!(
        parse_jwks_uri("http://example.com:8080/keys"),
        Ok(JwksInfo {
            hostname: "example.com".into(),
            scheme: "http".into(),
            port: 8080,
            use_ssl: false,
        })
    );
    assert_eq!(
        parse_jwks_uri("secure.istio.io/oauth/v1/certs"),
        Err(Error::new(r#"URI scheme "" is not supported"#))
    );
    assert_eq!(
        parse_jwks_uri("https://secure.istio.io:not-a-number/oauth/v1/certs"),
        Err(Error::new(
            r#"parse https://secure.istio.io:not-a-number/oauth/v1/certs: invalid port ":not-a-number" after host"#
        ))
    );
    assert_eq!(
        parse_jwks_uri("https://x:99999999999999999999/"),
        Err(Error::new(
            r#"strconv.Atoi: parsing "99999999999999999999": value out of range"#
        ))
    );
}

fn authz_policy(labels: &[(&str, &str)], when: Vec<Condition>) -> AuthorizationPolicy {
    AuthorizationPolicy {
        selector: Some(WorkloadSelector {
            match_labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }),
        rules: vec![Rule {
            from: vec![rule::From {
                source: Some(Source {
                    principals: strings(&["sa1"]),
                    ..Default::default()
                }),
            }],
            to: vec![rule::To {
                operation: Some(Operation {
                    methods: strings(&["GET"]),
                    ..Default::default()
                }),
            }],
            when,
        }],
    }
}

fn cond(key: &str, values: &[&str]) -> Condition {
    Condition {
        key: key.into(),
        values: strings(values),
    }
}

#[test]
fn authorization_policy() {
    let app = &[("app", "httpbin"), ("version", "v1")];
    let cases = [
        (
            "good",
            authz_policy(
                app,
                vec![
                    cond("source.ip", &["1.2.3.4", "5.6.7.0/24"]),
                    cond("request.headers[:authority]", &["v1", "v2"]),
                ],
            ),
            true,
        ),
        (
            "key missing",
            authz_policy(app, vec![cond("", &["v1", "v2"])]),
            false,
        ),
        (
            "values missing",
            authz_policy(app, vec![cond("source.ip", &[])]),
            false,
        ),
        (
            "empty selector: key",
            authz_policy(&[("app", ""), ("version", "v1")], vec![]),
            false,
        ),
        (
            "empty selector: value",
            authz_policy(&[("app", "httpbin"), ("", "v1")], vec![]),
            false,
        ),
        (
            "invalid attribute",
            authz_policy(&[("app", "httpbin")], vec![cond("key1", &["v1"])]),
            false,
        ),
        ("no selector", AuthorizationPolicy::default(), true),
    ];
    for (name, p, valid) in cases {
        assert_eq!(
            validate_authorization_policy("", "", &p).is_ok(),
            valid,
            "{name}"
        );
    }
    assert_eq!(
        validate_authorization_policy("", "", &authz_policy(app, vec![cond("key1", &["v1"])])),
        Err(Error::new("invalid condition: unknown attribute (key1)"))
    );
    assert_eq!(
        validate_authorization_policy("", "", &authz_policy(&[("", "v1")], vec![])),
        Err(Error::new("selector has empty key or values"))
    );
    assert_eq!(
        validate_authorization_policy("", "", &authz_policy(app, vec![cond("", &["v"])])),
        Err(Error::new("condition has empty key or values"))
    );
}

#[test]
fn attributes() {
    let cases: [(&str, &[&str], Result); 16] = [
        ("request.headers[User-Agent]", &["x"], Ok(())),
        (
            "request.headers[]",
            &["x"],
            Err(Error::new(
                "bad key (request.headers[]): should have format a[b]",
            )),
        ),
        (
            "request.headers",
            &["x"],
            Err(Error::new(
                "bad key (request.headers): should have format a[b]",
            )),
        ),
        ("request.auth.claims[iss]", &["x"], Ok(())),
        ("source.ip", &["10.1.2.3", "10.1.0.0/16"], Ok(())),
        (
            "source.ip",
            &["10.1.0.0/33"],
            Err(Error::new(
                "bad CIDR range (10.1.0.0/33): invalid CIDR address: 10.1.0.0/33",
            )),
        ),
        (
            "destination.ip",
            &["a.b"],
            Err(Error::new("bad IP address (a.b)")),
        ),
        ("destination.port", &["80", "65535"], Ok(())),
        (
            "destination.port",
            &["65536"],
            Err(Error::new("bad port (65536): <nil>")),
        ),
        (
            "destination.port",
            &["http"],
            Err(Error::new(
                r#"bad port (http): strconv.ParseUint: parsing "http": invalid syntax"#,
            )),
        ),
        ("source.namespace", &["default"], Ok(())),
        ("connection.sni", &["www.example.com"], Ok(())),
        ("experimental.envoy.filters.a.b[c]", &["x"], Ok(())),
        (
            "destination.labels[version]",
            &["v1"],
            Err(Error::new(
                "deprecated attribute (destination.labels[version]): only supported in v1alpha1",
            )),
        ),
        (
            "destination.user",
            &["v1"],
            Err(Error::new(
                "deprecated attribute (destination.user): only supported in v1alpha1",
            )),
        ),
        ("foo", &["v1"], Err(Error::new("unknown attribute (foo)"))),
    ];
    for (key, values, want) in cases {
        assert_eq!(validate_attribute(key, &strings(values)), want, "{key}");
    }
}

fn access_rule(
    methods: &[&str],
    not_methods: &[&str],
    ports: &[i32],
    not_ports: &[i32],
) -> AccessRule {
    AccessRule {
        methods: strings(methods),
        not_methods: strings(not_methods),
        ports: ports.to_vec(),
        not_ports: not_ports.to_vec(),
        ..Default::default()
    }
}

fn constraint(key: &str, values: &[&str]) -> Constraint {
    Constraint {
        key: key.into(),
        values: strings(values),
    }
}

fn with_constraints(constraints: Vec<Constraint>) -> AccessRule {
    AccessRule {
        constraints,
        ..access_rule(&["GET", "POST"], &[], &[], &[])
    }
}

#[test]
fn service_role() {
    let kv = || constraint("key", &["value"]);
    let cases = [
        ("empty rules", ServiceRole::default(), "at least 1 rule must be specified"),
        (
            "has both methods and not_methods",
            ServiceRole {
                rules: vec![access_rule(&["GET", "POST"], &["DELETE"], &[], &[])],
            },
            "cannot have both regular and *not* attributes for the same kind (i.e. methods and not_methods) for rule 0",
        ),
        (
            "has both ports and not_ports",
            ServiceRole {
                rules: vec![access_rule(&[], &[], &[9080], &[443])],
            },
            "cannot have both regular and *not* attributes for the same kind (i.e. ports and not_ports) for rule 0",
        ),
        (
            "has out of range port",
            ServiceRole {
                rules: vec![access_rule(&[], &[], &[9080, -80], &[])],
            },
            "at least one port is not in the range of [0, 65535]",
        ),
        (
            "has both first-class field and constraints",
            ServiceRole {
                rules: vec![AccessRule {
                    constraints: vec![constraint("destination.port", &["80"])],
                    ..access_rule(&[], &[], &[9080], &[])
                }],
            },
            "cannot define destination.port for rule 0 because a similar first-class field has been defined",
        ),
        (
            "no key in constraint",
            ServiceRole {
                rules: vec![
                    with_constraints(vec![kv(), kv()]),
                    with_constraints(vec![kv(), constraint("", &["value"])]),
                ],
            },
            "key cannot be empty for constraint 1 in rule 1",
        ),
        (
            "no value in constraint",
            ServiceRole {
                rules: vec![
                    with_constraints(vec![kv(), kv()]),
                    with_constraints(vec![kv(), constraint("key", &[])]),
                ],
            },
            "at least 1 value must be specified for constraint 1 in rule 1",
        ),
        (
            "success proto",
            ServiceRole {
                rules: vec![
                    AccessRule {
                        not_hosts: strings(&["finances.google.com"]),
                        ..with_constraints(vec![kv(), kv()])
                    },
                    with_constraints(vec![kv(), kv()]),
                ],
            },
            "",
        ),
    ];
    for (name, role, want) in cases {
        let got = validate_service_role("foo", "bar", &role);
        match want {
            "" => assert_eq!(got, Ok(()), "{name}"),
            want => assert_eq!(
                got.map_err(|e| e.to_string()),
                Err(want.to_owned()),
                "{name}"
            ),
        }
    }
}

fn subject(user: &str, group: &str, properties: &[(&str, &str)]) -> Subject {
    #[allow(deprecated)]
    Subject {
        user: user.into(),
        group: group.into(),
        properties: properties
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        ..Default::default()
    }
}

fn role_ref(kind: &str, name: &str) -> Option<RoleRef> {
    Some(RoleRef {
        kind: kind.into(),
        name: name.into(),
    })
}

fn binding(subjects: Vec<Subject>, role_ref: Option<RoleRef>, role: &str) -> ServiceRoleBinding {
    ServiceRoleBinding {
        subjects,
        role_ref,
        role: role.into(),
        ..Default::default()
    }
}

#[test]
fn service_role_binding() {
    let two = || {
        vec![
            subject("User0", "Group0", &[("prop0", "value0")]),
            subject("User1", "Group1", &[("prop1", "value1")]),
        ]
    };
    let good_ref = || role_ref("ServiceRole", "ServiceRole001");
    let cases = [
        ("no subject", binding(vec![], good_ref(), ""), "at least 1 subject must be specified"),
        (
            "no user, group and properties",
            binding(
                vec![subject("User0", "Group0", &[("prop0", "value0")]), subject("", "", &[])],
                good_ref(),
                "",
            ),
            "empty subjects are not allowed. Found an empty subject at index 1",
        ),
        (
            "no roleRef",
            binding(two(), None, ""),
            "exactly one of `roleRef`, `role`, or `actions` must be specified",
        ),
        (
            "incorrect kind",
            binding(two(), role_ref("ServiceRoleTypo", "ServiceRole001"), ""),
            r#"kind set to "ServiceRoleTypo", currently the only supported value is "ServiceRole""#,
        ),
        ("no name", binding(two(), None, "/"), "`role` cannot have an empty ServiceRole name"),
        ("no name", binding(two(), role_ref("ServiceRole", ""), ""), "`name` in `roleRef` cannot be empty"),
        (
            "first-class field already exists",
            binding(
                vec![Subject {
                    namespaces: strings(&["default"]),
                    ..subject("", "", &[("source.namespace", "istio-system")])
                }],
                good_ref(),
                "",
            ),
            "cannot define source.namespace for binding 0 because a similar first-class field has been defined",
        ),
        (
            "use * for names",
            binding(
                vec![Subject {
                    names: strings(&["*"]),
                    ..Default::default()
                }],
                good_ref(),
                "",
            ),
            "do not use * for names or not_names (in rule 0)",
        ),
        ("success proto", binding(two(), good_ref(), ""), ""),
        ("role in root namespace", binding(two(), None, "/viewer"), ""),
        (
            "inline actions",
            ServiceRoleBinding {
                actions: vec![access_rule(&["GET"], &[], &[], &[])],
                ..binding(two(), None, "")
            },
            "",
        ),
        (
            "bad inline actions",
            ServiceRoleBinding {
                actions: vec![access_rule(&["GET"], &["POST"], &[], &[])],
                ..binding(two(), None, "")
            },
            "cannot have both regular and *not* attributes for the same kind (i.e. methods and not_methods) for rule 0",
        ),
    ];
    for (name, b, want) in cases {
        let got = validate_service_role_binding("foo", "bar", &b);
        match want {
            "" => assert_eq!(got, Ok(()), "{name}"),
            want => assert_eq!(
                got.map_err(|e| e.to_string()),
                Err(want.to_owned()),
                "{name}"
            ),
        }
    }
    assert_eq!(
        validate_service_role_binding("foo", "bar", &binding(vec![], good_ref(), "r")),
        Err(Error::Multi(vec![
            "at least 1 subject must be specified".into(),
            "exactly one of `roleRef`, `role`, or `actions` must be specified".into(),
        ]))
    );
}

#[test]
fn rbac_config() {
    let cfg = |mode: Mode, inclusion: bool, exclusion: bool| RbacConfig {
        mode: mode as i32,
        inclusion: inclusion.then(Target::default),
        exclusion: exclusion.then(Target::default),
        ..Default::default()
    };
    let cases = [
        (
            "invalid name",
            "cluster-rbac-config",
            cfg(Mode::OnWithInclusion, false, false),
            r#"ClusterRbacConfig has invalid name(cluster-rbac-config), name must be "default""#,
        ),
        ("success proto", "default", cfg(Mode::On, false, false), ""),
        (
            "empty exclusion",
            "default",
            cfg(Mode::OnWithExclusion, false, false),
            "exclusion cannot be null (use 'exclusion: {}' for none)",
        ),
        (
            "empty inclusion",
            "default",
            cfg(Mode::OnWithInclusion, false, false),
            "inclusion cannot be null (use 'inclusion: {}' for none)",
        ),
        (
            "with inclusion",
            "default",
            cfg(Mode::OnWithInclusion, true, false),
            "",
        ),
        (
            "with exclusion",
            "default",
            cfg(Mode::OnWithExclusion, false, true),
            "",
        ),
    ];
    for (case, name, config, want) in cases {
        let got = validate_cluster_rbac_config(name, "", &config);
        match want {
            "" => assert_eq!(got, Ok(()), "{case}"),
            want => assert_eq!(got, Err(Error::new(want)), "{case}"),
        }
    }
    assert_eq!(
        validate_rbac_config("x", "", &cfg(Mode::Off, false, false)),
        Err(Error::new(
            r#"RbacConfig has invalid name(x), name must be "default""#
        ))
    );
    assert_eq!(
        validate_rbac_config("default", "", &cfg(Mode::Off, false, false)),
        Ok(())
    );
}

#[test]
fn jwks_uri_table() {
    let info = |host: &str, scheme: &str, port: i64, use_ssl: bool| JwksInfo {
        hostname: host.into(),
        scheme: scheme.into(),
        port,
        use_ssl,
    };
    let cases = [
        ("foo.bar.com", None),
        ("tcp://foo.bar.com:abc", None),
        ("http://foo.bar.com:abc", None),
        (
            "http://foo.bar.com",
            Some(info("foo.bar.com", "http", 80, false)),
        ),
        (
            "https://foo.bar.com",
            Some(info("foo.bar.com", "https", 443, true)),
        ),
        (
            "http://foo.bar.com:1234",
            Some(info("foo.bar.com", "http", 1234, false)),
        ),
        (
            "https://foo.bar.com:1234/secure/key",
            Some(info("foo.bar.com", "https", 1234, true)),
        ),
        (
            "HTTPS://[::1]:8443/keys",
            Some(info("::1", "https", 8443, true)),
        ),
    ];
    for (uri, want) in cases {
        assert_eq!(parse_jwks_uri(uri).ok(), want, "{uri}");
    }
}

#[test]
fn condition_table() {
    let cases: [(&str, &[&str], bool); 22] = [
        ("request.headers[:authority]", &["productpage"], true),
        ("request.headers[]", &["productpage"], false),
        ("source.ip", &["1.2.3.4", "5.6.7.0/24"], true),
        ("source.ip", &["a.b.c.d"], false),
        ("source.namespace", &[], true),
        ("source.user", &[], true),
        ("source.principal", &[], true),
        ("request.auth.principal", &[], true),
        ("request.auth.audiences", &[], true),
        ("request.auth.presenter", &[], true),
        ("request.auth.claims[id]", &["123"], true),
        ("request.auth.claims[]", &[], false),
        ("destination.ip", &["1.2.3.4", "5.6.7.0/24"], true),
        ("destination.ip", &["a.b.c.d"], false),
        ("destination.port", &["80", "90"], true),
        ("destination.port", &["80", "x"], false),
        ("destination.labels[app]", &[], false),
        ("destination.name", &[], false),
        ("destination.namespace", &[], false),
        ("destination.use", &[], false),
        ("connection.sni", &[], true),
        ("experimental.envoy.filters.a.b[c]", &[], true),
    ];
    for (key, values, valid) in cases {
        assert_eq!(
            validate_attribute(key, &strings(values)).is_ok(),
            valid,
            "{key}"
        );
    }
}
