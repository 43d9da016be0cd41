//! Table tests (ported from upstream's validation_test.go).

use super::*;
use istio_api::istio::mixer::v1::{
    attributes::{AttributeValue, StringMap},
    config::client::{
        quota_spec_binding::QuotaSpecReference, ApiKey, AttributeMatch, HttpapiSpecPattern,
        HttpapiSpecReference, IstioService, Quota, QuotaRule, StringMatch,
    },
};
use pbjson_types::Duration;

fn attributes(value: Value) -> Attributes {
    Attributes {
        attributes: [(
            "api.service".to_owned(),
            AttributeValue { value: Some(value) },
        )]
        .into(),
    }
}

fn valid_attributes() -> Attributes {
    attributes(Value::StringValue("my-service".into()))
}

fn invalid_attributes() -> Attributes {
    attributes(Value::StringValue(String::new()))
}

fn valid_service() -> IstioService {
    IstioService {
        service: "*cnn.com".into(),
        ..Default::default()
    }
}

#[test]
fn mixer_attributes() {
    let cases = [
        (
            "happy string",
            Value::StringValue("my-service".into()),
            true,
        ),
        ("invalid string", Value::StringValue(String::new()), false),
        (
            "happy duration",
            Value::DurationValue(Duration {
                seconds: 1,
                nanos: 0,
            }),
            true,
        ),
        (
            "invalid duration",
            Value::DurationValue(Duration {
                seconds: 0,
                nanos: -1_000_000_000,
            }),
            false,
        ),
        ("happy bytes", Value::BytesValue(vec![1, 2, 3]), true),
        ("invalid bytes", Value::BytesValue(vec![]), false),
        (
            "happy timestamp",
            Value::TimestampValue(Timestamp::default()),
            true,
        ),
        (
            "invalid timestamp",
            Value::TimestampValue(Timestamp {
                seconds: 0,
                nanos: -1,
            }),
            false,
        ),
        (
            "happy stringmap",
            Value::StringMapValue(StringMap {
                entries: [("foo".to_owned(), "bar".to_owned())].into(),
            }),
            true,
        ),
        (
            "invalid stringmap",
            Value::StringMapValue(StringMap::default()),
            false,
        ),
        ("happy int64", Value::Int64Value(0), true),
        ("happy bool", Value::BoolValue(false), true),
    ];
    for (name, value, valid) in cases {
        assert_eq!(
            validate_mixer_attributes(Some(&attributes(value))).is_ok(),
            valid,
            "{name}"
        );
    }
    assert_eq!(
        validate_mixer_attributes(None),
        Err(Error::new("list of attributes is nil/empty"))
    );
    assert_eq!(
        validate_mixer_attributes(Some(&Attributes::default())),
        Err(Error::new("list of attributes is nil/empty"))
    );
}

#[test]
fn mixer_attribute_messages() {
    let cases = [
        (
            Value::StringValue(String::new()),
            r#"string attribute for "api.service" should not be empty"#.to_owned(),
        ),
        (
            Value::BytesValue(vec![]),
            r#"bytes attribute for "api.service" should not be "#.to_owned(),
        ),
        (
            Value::StringMapValue(StringMap::default()),
            r#"stringmap attribute for "api.service" should not be nil"#.to_owned(),
        ),
        (
            Value::TimestampValue(Timestamp { seconds: 0, nanos: -1 }),
            "timestamp: &types.Timestamp{Seconds: 0,\nNanos: -1,\n}: nanos not in range [0, 1e9)"
                .to_owned(),
        ),
        (
            Value::TimestampValue(Timestamp {
                seconds: MAX_TIMESTAMP_SECONDS,
                nanos: 0,
            }),
            format!(
                "timestamp: &types.Timestamp{{Seconds: {MAX_TIMESTAMP_SECONDS},\nNanos: 0,\n}} after 10000-01-01"
            ),
        ),
        (
            Value::TimestampValue(Timestamp {
                seconds: MIN_TIMESTAMP_SECONDS - 1,
                nanos: 0,
            }),
            format!(
                "timestamp: &types.Timestamp{{Seconds: {},\nNanos: 0,\n}} before 0001-01-01",
                MIN_TIMESTAMP_SECONDS - 1
            ),
        ),
        (
            Value::DurationValue(Duration { seconds: 0, nanos: 5 }),
            "duration must be greater than 1ms".to_owned(),
        ),
    ];
    for (value, want) in cases {
        assert_eq!(
            validate_mixer_attributes(Some(&attributes(value))),
            Err(Error::Multi(vec![want.clone()])),
            "{want}"
        );
    }
}

fn pattern(method: &str, p: Pattern) -> HttpapiSpecPattern {
    HttpapiSpecPattern {
        attributes: Some(valid_attributes()),
        http_method: method.into(),
        pattern: Some(p),
    }
}

fn valid_pattern() -> HttpapiSpecPattern {
    pattern("POST", Pattern::UriTemplate("/pet/{id}".into()))
}

fn api_key(k: Key) -> ApiKey {
    ApiKey { key: Some(k) }
}

fn spec(
    attributes: Option<Attributes>,
    patterns: Vec<HttpapiSpecPattern>,
    api_keys: Vec<ApiKey>,
) -> HttpapiSpec {
    HttpapiSpec {
        attributes,
        patterns,
        api_keys,
    }
}

#[test]
fn http_api_spec() {
    let valid_key = || api_key(Key::Query("api_key".into()));
    let cases = [
        (
            "missing pattern",
            spec(Some(valid_attributes()), vec![], vec![valid_key()]),
            false,
        ),
        (
            "invalid pattern (bad attributes)",
            spec(
                Some(invalid_attributes()),
                vec![valid_pattern()],
                vec![valid_key()],
            ),
            false,
        ),
        (
            "invalid pattern (bad http_method)",
            spec(
                Some(valid_attributes()),
                vec![pattern("", Pattern::UriTemplate("/pet/{id}".into()))],
                vec![valid_key()],
            ),
            false,
        ),
        (
            "invalid pattern (missing uri_template)",
            spec(
                Some(valid_attributes()),
                vec![pattern("POST", Pattern::UriTemplate(String::new()))],
                vec![valid_key()],
            ),
            false,
        ),
        (
            "invalid pattern (missing regex)",
            spec(
                Some(valid_attributes()),
                vec![pattern("POST", Pattern::Regex(String::new()))],
                vec![valid_key()],
            ),
            false,
        ),
        (
            "invalid api-key (missing query)",
            spec(
                Some(valid_attributes()),
                vec![valid_pattern()],
                vec![api_key(Key::Query(String::new()))],
            ),
            false,
        ),
        (
            "invalid api-key (missing header)",
            spec(
                Some(valid_attributes()),
                vec![valid_pattern()],
                vec![api_key(Key::Header(String::new()))],
            ),
            false,
        ),
        (
            "invalid api-key (missing cookie)",
            spec(
                Some(valid_attributes()),
                vec![valid_pattern()],
                vec![api_key(Key::Cookie(String::new()))],
            ),
            false,
        ),
        (
            "valid",
            spec(
                Some(valid_attributes()),
                vec![valid_pattern()],
                vec![valid_key()],
            ),
            true,
        ),
        (
            "invalid attribute (empty value)",
            spec(
                Some(Attributes {
                    attributes: [(String::new(), AttributeValue::default())].into(),
                }),
                vec![],
                vec![],
            ),
            false,
        ),
        (
            "patterns without top-level attributes",
            spec(None, vec![valid_pattern()], vec![valid_key()]),
            false,
        ),
    ];
    for (name, s, valid) in cases {
        assert_eq!(
            validate_http_api_spec("foo", "bar", &s).is_ok(),
            valid,
            "{name}"
        );
    }
}

#[test]
fn http_api_spec_messages() {
    let s = spec(
        None,
        vec![valid_pattern(), pattern("", Pattern::Regex(String::new()))],
        vec![],
    );
    assert_eq!(
        validate_http_api_spec("foo", "bar", &s),
        Err(Error::Multi(vec![
            "list of attributes is nil/empty".into(),
            "list of attributes is nil/empty".into(),
            "http_method cannot be empty".into(),
            "regex cannot be empty".into(),
        ]))
    );
}

fn api_spec_ref(name: &str, namespace: &str) -> HttpapiSpecReference {
    HttpapiSpecReference {
        name: name.into(),
        namespace: namespace.into(),
    }
}

#[test]
fn http_api_spec_binding() {
    let binding =
        |services: Vec<IstioService>, api_specs: Vec<HttpapiSpecReference>| HttpapiSpecBinding {
            services,
            api_specs,
        };
    let cases = [
        (
            "no service",
            binding(vec![], vec![api_spec_ref("foo", "bar")]),
            false,
        ),
        ("no spec", binding(vec![valid_service()], vec![]), false),
        (
            "invalid spec",
            binding(vec![valid_service()], vec![api_spec_ref("foo", "--bar")]),
            false,
        ),
        (
            "unnamed spec",
            binding(vec![valid_service()], vec![api_spec_ref("", "bar")]),
            false,
        ),
        (
            "valid",
            binding(vec![valid_service()], vec![api_spec_ref("foo", "bar")]),
            true,
        ),
    ];
    for (name, b, valid) in cases {
        assert_eq!(
            validate_http_api_spec_binding("foo", "bar", &b).is_ok(),
            valid,
            "{name}"
        );
    }
    assert_eq!(
        validate_http_api_spec_binding(
            "foo",
            "bar",
            &binding(vec![], vec![api_spec_ref("", "--bar")])
        ),
        Err(Error::Multi(vec![
            "at least one service must be specified".into(),
            "name is mandatory for HTTPAPISpecReference".into(),
            r#"namespace "--bar" must be a valid label"#.into(),
        ]))
    );
}

fn clause(match_type: MatchType) -> AttributeMatch {
    AttributeMatch {
        clause: [(
            "api.operation".to_owned(),
            StringMatch {
                match_type: Some(match_type),
            },
        )]
        .into(),
    }
}

fn quota(name: &str, charge: i32) -> Quota {
    Quota {
        quota: name.into(),
        charge,
    }
}

fn quota_spec(r#match: Vec<AttributeMatch>, quotas: Vec<Quota>) -> QuotaSpec {
    QuotaSpec {
        rules: vec![QuotaRule { r#match, quotas }],
    }
}

#[test]
fn quota_spec_table() {
    let valid_match = || clause(MatchType::Exact("getPet".into()));
    let valid_quota = || quota("myQuota", 2);
    let cases = [
        (
            "no rules",
            QuotaSpec {
                rules: vec![QuotaRule::default()],
            },
            false,
        ),
        ("empty spec", QuotaSpec::default(), false),
        (
            "invalid match (exact)",
            quota_spec(
                vec![clause(MatchType::Exact(String::new()))],
                vec![valid_quota()],
            ),
            false,
        ),
        (
            "invalid match (prefix)",
            quota_spec(
                vec![clause(MatchType::Prefix(String::new()))],
                vec![valid_quota()],
            ),
            false,
        ),
        (
            "invalid match (regex)",
            quota_spec(
                vec![clause(MatchType::Regex(String::new()))],
                vec![valid_quota()],
            ),
            false,
        ),
        ("no quota", quota_spec(vec![valid_match()], vec![]), false),
        (
            "invalid quota/charge",
            quota_spec(vec![valid_match()], vec![quota("", 0)]),
            false,
        ),
        (
            "valid",
            quota_spec(vec![valid_match()], vec![valid_quota()]),
            true,
        ),
        (
            "regression test - empty clause",
            quota_spec(
                vec![AttributeMatch {
                    clause: [(String::new(), StringMatch::default())].into(),
                }],
                vec![],
            ),
            false,
        ),
    ];
    for (name, s, valid) in cases {
        assert_eq!(
            validate_quota_spec("foo", "bar", &s).is_ok(),
            valid,
            "{name}"
        );
    }
    assert_eq!(
        validate_quota_spec(
            "foo",
            "bar",
            &quota_spec(
                vec![clause(MatchType::Prefix(String::new()))],
                vec![quota("", -1)]
            )
        ),
        Err(Error::Multi(vec![
            r#"StringMatch_Prefix for attribute "api.operation" cannot be empty"#.into(),
            "quota name cannot be empty".into(),
            "quota charge amount must be positive".into(),
        ]))
    );
}

fn quota_spec_ref(name: &str, namespace: &str) -> QuotaSpecReference {
    QuotaSpecReference {
        name: name.into(),
        namespace: namespace.into(),
    }
}

#[test]
fn quota_spec_binding() {
    let binding =
        |services: Vec<IstioService>, quota_specs: Vec<QuotaSpecReference>| QuotaSpecBinding {
            services,
            quota_specs,
        };
    let cases = [
        (
            "no service",
            binding(vec![], vec![quota_spec_ref("foo", "bar")]),
            false,
        ),
        ("no spec", binding(vec![valid_service()], vec![]), false),
        (
            "invalid spec",
            binding(vec![valid_service()], vec![quota_spec_ref("foo", "--bar")]),
            false,
        ),
        (
            "invalid service",
            binding(
                vec![IstioService::default()],
                vec![quota_spec_ref("foo", "bar")],
            ),
            false,
        ),
        (
            "valid",
            binding(vec![valid_service()], vec![quota_spec_ref("foo", "bar")]),
            true,
        ),
    ];
    for (name, b, valid) in cases {
        assert_eq!(
            validate_quota_spec_binding("foo", "bar", &b).is_ok(),
            valid,
            "{name}"
        );
    }
    assert_eq!(
        validate_quota_spec_binding(
            "foo",
            "bar",
            &binding(vec![valid_service()], vec![quota_spec_ref("", "")])
        ),
        Err(Error::Multi(vec![
            "name is mandatory for QuotaSpecReference".into()
        ]))
    );
}
