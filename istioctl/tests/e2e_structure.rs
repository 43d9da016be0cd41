//! e2e (`make e2e`): `istioctl validate`'s structural verdict (does the object and its spec
//! decode) equals the real API server's acceptance under our CRD schemas, for every document of
//! upstream's galley validation dataset and for our own table of malformed objects.
//!
//! The API server sees each object through a dry-run server-side apply with strict field
//! validation (what `kubectl apply` does by default); semantic validation (the galley webhook)
//! is not installed, so only the structural part is compared.

use std::path::{Path, PathBuf};

use istio_pkg::config::kube::{documents, parse_object, schema_for};
use istio_pkg::kube::crd::api;
use istio_test::TestEnv;
use istioctl::validate::Validator;
use kube::api::{DynamicObject, Patch, PatchParams};
use serde_json::{json, Value};

fn dataset_dir() -> PathBuf {
    let base = std::env::var_os("ISTIO_CONFORMANCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance/istio-1.4.10")
        });
    let dir = base.join("galley/testdata/validation/dataset");
    assert!(
        dir.is_dir(),
        "the validation dataset is not at {}: set ISTIO_CONFORMANCE_DIR",
        dir.display()
    );
    dir
}

/// Our own structural cases: each is rejected by both, or accepted by both.
fn own_cases() -> Vec<(&'static str, Value)> {
    let vs = |spec: Value| {
        json!({"apiVersion": "networking.istio.io/v1alpha3", "kind": "VirtualService",
               "metadata": {"name": "vs"}, "spec": spec})
    };
    let rule = |spec: Value| json!({"apiVersion": "config.istio.io/v1alpha2", "kind": "rule", "metadata": {"name": "r"}, "spec": spec});
    let se = |spec: Value| {
        json!({"apiVersion": "networking.istio.io/v1alpha3", "kind": "ServiceEntry", "metadata": {"name": "se"},
               "spec": spec})
    };
    vec![
        ("hosts not a list", vs(json!({"hosts": "a"}))),
        ("host not a string", vs(json!({"hosts": [5]}))),
        (
            "weight not an integer",
            vs(json!({"hosts": ["a"], "http": [{"route": [{"weight": "heavy"}]}]})),
        ),
        (
            "both uri alternatives",
            vs(
                json!({"hosts": ["a"], "http": [{"match": [{"uri": {"exact": "/a", "prefix": "/b"}}]}]}),
            ),
        ),
        (
            "one uri alternative",
            vs(json!({"hosts": ["a"], "http": [{"match": [{"uri": {"prefix": "/b"}}]}]})),
        ),
        (
            "unknown field in an Istio kind",
            vs(json!({"hosts": ["a"], "colour": "blue"})),
        ),
        (
            "unknown field in a Mixer kind",
            rule(json!({"match": "true", "colour": "blue"})),
        ),
        (
            "valid Mixer rule",
            rule(json!({"match": "true", "actions": [{"handler": "h", "instances": ["i"]}]})),
        ),
        (
            "bad enum",
            se(json!({"hosts": ["a.b"], "resolution": "SOMETIMES"})),
        ),
        (
            "negative unsigned port",
            se(
                json!({"hosts": ["a.b"], "ports": [{"number": -1, "name": "http", "protocol": "HTTP"}]}),
            ),
        ),
        (
            "Struct params are free-form",
            json!({"apiVersion": "config.istio.io/v1alpha2", "kind": "handler", "metadata": {"name": "h"},
                   "spec": {"compiledAdapter": "x", "params": {"anything": [1, {"goes": null}]}}}),
        ),
    ]
}

#[tokio::test]
#[ignore = "needs a real kube-apiserver: make e2e"]
async fn structural_verdicts_match_the_api_server() {
    let env = TestEnv::global();
    let ns = env.namespace("structure").await;
    let client = env.client().await;
    let validator = Validator {
        default_namespace: ns.name.clone(),
        semantic: false,
        ..Validator::default()
    };

    let mut cases: Vec<(String, Value)> = Vec::new();
    let dir = dataset_dir();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("dataset")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    files.sort();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read dataset file");
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        for doc in documents(&text).into_iter().flatten() {
            if !doc.value.is_null() {
                cases.push((format!("{name} #{}", doc.position.index + 1), doc.value));
            }
        }
    }
    let dataset_cases = cases.len();
    cases.extend(own_cases().into_iter().map(|(n, v)| (n.to_string(), v)));

    let mut mismatches = Vec::new();
    let mut checked = 0;
    for (what, value) in cases {
        let obj = parse_object(value.clone()).expect("every case has an envelope");
        let Some(schema) = schema_for(&obj) else {
            continue;
        };
        let ours = validator.validate_text(&value.to_string()).errors;

        let mut dynamic: DynamicObject = serde_json::from_value(value).expect("dynamic object");
        if !schema.cluster_scoped {
            dynamic.metadata.namespace = Some(ns.name.clone());
        }
        let name = dynamic.metadata.name.clone().unwrap_or_default();
        let params = PatchParams::apply("istio-rs-e2e")
            .dry_run()
            .validation_strict();
        let theirs = api(client.clone(), schema, Some(&ns.name))
            .patch(&name, &params, &Patch::Apply(&dynamic))
            .await;
        checked += 1;
        let (ours_ok, theirs_ok) = (ours.is_empty(), theirs.is_ok());
        println!(
            "{}  {what}: istioctl {} / API server {}",
            if ours_ok == theirs_ok { "SAME" } else { "DIFF" },
            if ours_ok {
                "accepts".to_string()
            } else {
                format!("rejects ({})", ours.join("; "))
            },
            match &theirs {
                Ok(_) => "accepts".to_string(),
                Err(e) => format!("rejects ({e})"),
            }
        );
        if ours_ok != theirs_ok {
            mismatches.push(what);
        }
    }
    assert!(
        checked >= dataset_cases,
        "every dataset document is of a known kind"
    );
    assert!(mismatches.is_empty(), "verdicts differ for {mismatches:?}");
}
