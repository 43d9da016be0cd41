//! Property tests of the YAML → Config path: whatever the input, parsing and validation return
//! errors and never panic; whatever parses survives the binary and JSON round trips.
//!
//! The coverage-guided twin of these tests is the cargo-fuzz target in `fuzz/`.

use istio_pkg::config::kube::{self, ParseOptions};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

const OPTS: ParseOptions<'static> = ParseOptions {
    domain: "cluster.local",
    default_namespace: "default",
    validate: true,
    check_top_level_fields: true,
};

/// Field names that occur in Istio specs, so generated objects reach deep into the decoders.
const KEYS: &[&str] = &[
    "hosts",
    "gateways",
    "http",
    "tcp",
    "tls",
    "route",
    "destination",
    "host",
    "subset",
    "port",
    "number",
    "name",
    "protocol",
    "weight",
    "match",
    "uri",
    "prefix",
    "exact",
    "regex",
    "headers",
    "timeout",
    "retries",
    "attempts",
    "perTryTimeout",
    "fault",
    "delay",
    "abort",
    "percentage",
    "value",
    "httpStatus",
    "fixedDelay",
    "subsets",
    "labels",
    "trafficPolicy",
    "loadBalancer",
    "simple",
    "connectionPool",
    "tcp_keepalive",
    "outlierDetection",
    "servers",
    "selector",
    "mode",
    "resolution",
    "location",
    "endpoints",
    "address",
    "ports",
    "exportTo",
    "egress",
    "ingress",
    "rules",
    "from",
    "to",
    "when",
    "source",
    "operation",
    "principals",
    "methods",
    "paths",
    "key",
    "values",
    "peers",
    "origins",
    "jwt",
    "issuer",
    "targets",
    "mtls",
    "services",
    "roleRef",
    "subjects",
    "user",
    "match_labels",
    "configPatches",
    "applyTo",
    "patch",
    "params",
    "compiledAdapter",
    "actions",
    "handler",
    "instances",
    "attributes",
];

const KINDS: &[(&str, &str)] = &[
    ("networking.istio.io/v1alpha3", "VirtualService"),
    ("networking.istio.io/v1alpha3", "DestinationRule"),
    ("networking.istio.io/v1alpha3", "Gateway"),
    ("networking.istio.io/v1alpha3", "ServiceEntry"),
    ("networking.istio.io/v1alpha3", "Sidecar"),
    ("networking.istio.io/v1alpha3", "EnvoyFilter"),
    ("authentication.istio.io/v1alpha1", "Policy"),
    ("authentication.istio.io/v1alpha1", "MeshPolicy"),
    ("rbac.istio.io/v1alpha1", "ServiceRole"),
    ("rbac.istio.io/v1alpha1", "ServiceRoleBinding"),
    ("rbac.istio.io/v1alpha1", "ClusterRbacConfig"),
    ("security.istio.io/v1beta1", "AuthorizationPolicy"),
    ("config.istio.io/v1alpha2", "HTTPAPISpec"),
    ("config.istio.io/v1alpha2", "QuotaSpecBinding"),
    ("config.istio.io/v1alpha2", "rule"),
    ("config.istio.io/v1alpha2", "handler"),
];

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u32>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(|f| json!(f)),
        prop::sample::select(vec![
            "10s",
            "1.5s",
            "100ms",
            "bad",
            "",
            "*",
            "*.example.com",
            "reviews",
            "HTTP",
            "ISTIO_MUTUAL",
            "DNS",
            "MESH_INTERNAL",
            "GET",
            "/api",
            "1.2.3.4",
            "10.0.0.0/8",
            "v1",
            "ON",
            "REGISTRY_ONLY",
            "-1",
            "65536",
        ])
        .prop_map(|s| Value::String(s.to_string())),
        "[a-zA-Z0-9.*/_-]{0,12}".prop_map(Value::String),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..5).prop_map(|kv| {
                Value::Object(
                    kv.into_iter()
                        .map(|(k, v)| (k.to_string(), v))
                        .collect::<Map<_, _>>(),
                )
            }),
        ]
    })
}

fn document() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(KINDS),
        value(),
        "[a-z]{0,6}",
        prop::option::of("[a-z]{1,6}"),
    )
        .prop_map(|((api, kind), spec, name, ns)| {
            let mut meta = Map::new();
            meta.insert("name".into(), Value::String(name));
            if let Some(ns) = ns {
                meta.insert("namespace".into(), Value::String(ns));
            }
            json!({"apiVersion": api, "kind": kind, "metadata": meta, "spec": spec})
        })
}

fn check_round_trips(inputs: &kube::Inputs) {
    for cfg in &inputs.configs {
        let bytes = cfg.spec.encode_to_vec();
        let back = cfg
            .spec
            .decode_same(&bytes)
            .expect("our own encoding decodes");
        assert_eq!(back, cfg.spec);
        let json = back.to_json();
        let again = cfg
            .meta
            .schema()
            .decode_spec(json.clone(), "spec")
            .expect("our own JSON decodes");
        assert_eq!(again, cfg.spec);
        assert_eq!(again.to_json(), json);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        let inputs = kube::parse_inputs(&text, &OPTS);
        check_round_trips(&inputs);
    }

    #[test]
    fn yaml_shaped_text_never_panics(text in "([a-z{}\\[\\],:&*!|>'\"#%@` -]|\n|\n  |\n- |---\n){0,80}") {
        let inputs = kube::parse_inputs(&text, &OPTS);
        check_round_trips(&inputs);
    }

    #[test]
    fn generated_objects_decode_or_fail_cleanly(docs in prop::collection::vec(document(), 1..4)) {
        let text: String = docs.iter().map(|d| istio_pkg::yaml::to_string(d) + "---\n").collect();
        let inputs = kube::parse_inputs(&text, &OPTS);
        check_round_trips(&inputs);
        // Every document is accounted for: a config or an error, never silently dropped.
        prop_assert_eq!(inputs.configs.len() + inputs.errors.len(), docs.len());
        // The same objects as a JSON stream give the same outcome.
        let json_text: String = docs.iter().map(|d| d.to_string() + "\n").collect();
        let from_json = kube::parse_inputs(&json_text, &OPTS);
        prop_assert_eq!(from_json.configs, inputs.configs);
    }

    #[test]
    fn mutated_samples_never_panic(edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let mut bytes = SAMPLE.as_bytes().to_vec();
        for (at, b) in edits {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        let text = String::from_utf8_lossy(&bytes);
        let inputs = kube::parse_inputs(&text, &OPTS);
        check_round_trips(&inputs);
    }
}

const SAMPLE: &str = "apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata:
  name: reviews
  namespace: bookinfo
spec:
  hosts: [reviews]
  http:
  - match:
    - headers: {end-user: {exact: jason}}
    route:
    - destination: {host: reviews, subset: v2}
      weight: 100
    timeout: 1.5s
---
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets:
  - {name: v2, labels: {version: v2}}
";
