//! e2e (`make e2e`): the Istio CRDs on a real kube-apiserver, and every kind's objects created,
//! read, listed, watched, updated and deleted through kube-rs with our config types.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use istio_pkg::config::crd;
use istio_pkg::config::kube::{convert_object, parse_object};
use istio_pkg::config::model::Config;
use istio_pkg::config::schema::{self, Kind};
use istio_pkg::kube::crd::{api, from_dynamic, to_dynamic};
use istio_test::TestEnv;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, CustomResourceValidation,
};
use kube::api::{Api, DeleteParams, ListParams, PostParams, WatchEvent, WatchParams};
use serde_json::{json, Value};

/// A small valid spec for every CRD kind, and a change to apply to it.
fn fixture(kind: Kind) -> (Value, Value) {
    match kind {
        Kind::VirtualService => (
            json!({"hosts": ["reviews"], "http": [{"route": [{"destination": {"host": "reviews", "subset": "v1"}}], "timeout": "10s"}]}),
            json!({"hosts": ["reviews"], "http": [{"route": [{"destination": {"host": "reviews", "subset": "v2"}}]}]}),
        ),
        Kind::DestinationRule => (
            json!({"host": "reviews", "subsets": [{"name": "v1", "labels": {"version": "v1"}}]}),
            json!({"host": "reviews", "trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL"}}}),
        ),
        Kind::ServiceEntry => (
            json!({"hosts": ["api.example.com"], "location": "MESH_EXTERNAL", "resolution": "DNS",
                   "ports": [{"number": 443, "name": "https", "protocol": "HTTPS"}]}),
            json!({"hosts": ["api.example.com"], "resolution": "NONE", "ports": [{"number": 80, "name": "http", "protocol": "HTTP"}]}),
        ),
        Kind::Gateway => (
            json!({"selector": {"istio": "ingressgateway"}, "servers": [{"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["*"]}]}),
            json!({"selector": {"istio": "ingressgateway"}, "servers": [{"port": {"number": 8080, "name": "http", "protocol": "HTTP"}, "hosts": ["*"]}]}),
        ),
        Kind::EnvoyFilter => (
            json!({"workloadSelector": {"labels": {"app": "a"}}, "configPatches": [{"applyTo": "HTTP_FILTER",
                   "match": {"context": "SIDECAR_INBOUND"}, "patch": {"operation": "INSERT_BEFORE", "value": {"name": "envoy.lua", "config": {"inlineCode": "x"}}}}]}),
            json!({"workloadSelector": {"labels": {"app": "b"}}}),
        ),
        Kind::Sidecar => (
            json!({"egress": [{"hosts": ["./*", "istio-system/*"]}]}),
            json!({"egress": [{"hosts": ["*/*"]}], "outboundTrafficPolicy": {"mode": "REGISTRY_ONLY"}}),
        ),
        Kind::HttpApiSpec => (
            json!({"attributes": {"attributes": {"api.service": {"stringValue": "books"}}},
                   "patterns": [{"attributes": {"attributes": {"api.operation": {"stringValue": "list"}}},
                                 "httpMethod": "GET", "uriTemplate": "/books"}]}),
            json!({"attributes": {"attributes": {"api.service": {"stringValue": "books"}}},
                   "patterns": [{"attributes": {"attributes": {"api.operation": {"stringValue": "add"}}},
                                 "httpMethod": "POST", "uriTemplate": "/books"}]}),
        ),
        Kind::HttpApiSpecBinding => (
            json!({"services": [{"name": "books"}], "apiSpecs": [{"name": "books-api"}]}),
            json!({"services": [{"name": "books", "namespace": "x"}], "apiSpecs": [{"name": "books-api"}]}),
        ),
        Kind::QuotaSpec => (
            json!({"rules": [{"quotas": [{"quota": "requestcount", "charge": 1}]}]}),
            json!({"rules": [{"quotas": [{"quota": "requestcount", "charge": 2}]}]}),
        ),
        Kind::QuotaSpecBinding => (
            json!({"services": [{"name": "books"}], "quotaSpecs": [{"name": "q"}]}),
            json!({"services": [{"name": "books"}], "quotaSpecs": [{"name": "q2"}]}),
        ),
        Kind::Rule => (
            json!({"match": "true", "actions": [{"handler": "h", "instances": ["i"]}]}),
            json!({"match": "false", "actions": [{"handler": "h", "instances": ["i"]}]}),
        ),
        Kind::AttributeManifest => (
            json!({"name": "istio-proxy", "attributes": {"source.ip": {"valueType": "IP_ADDRESS"}}}),
            json!({"name": "istio-proxy", "attributes": {"source.uid": {"valueType": "STRING"}}}),
        ),
        Kind::Adapter => (
            json!({"description": "a test adapter", "sessionBased": false, "templates": ["metric"]}),
            json!({"description": "changed", "templates": ["metric", "logentry"]}),
        ),
        Kind::Instance => (
            json!({"compiledTemplate": "metric", "params": {"value": "1", "dimensions": {"source": "source.workload.name"}}}),
            json!({"compiledTemplate": "metric", "params": {"value": "2"}}),
        ),
        Kind::Template => (json!({"descriptor": "Cg=="}), json!({"descriptor": "Cgo="})),
        Kind::Handler => (
            json!({"compiledAdapter": "prometheus", "params": {"metrics": [{"name": "c", "kind": "COUNTER"}]}}),
            json!({"compiledAdapter": "prometheus", "params": {"metrics": []}}),
        ),
        Kind::AuthenticationPolicy => (
            json!({"targets": [{"name": "books"}], "peers": [{"mtls": {}}]}),
            json!({"targets": [{"name": "books"}], "peers": [{"mtls": {"mode": "PERMISSIVE"}}]}),
        ),
        Kind::AuthenticationMeshPolicy => (
            json!({"peers": [{"mtls": {}}]}),
            json!({"peers": [{"mtls": {"mode": "PERMISSIVE"}}]}),
        ),
        Kind::ServiceRole => (
            json!({"rules": [{"services": ["books.default.svc.cluster.local"], "methods": ["GET"]}]}),
            json!({"rules": [{"services": ["*"], "methods": ["GET", "HEAD"]}]}),
        ),
        Kind::ServiceRoleBinding => (
            json!({"subjects": [{"user": "alice"}], "roleRef": {"kind": "ServiceRole", "name": "reader"}}),
            json!({"subjects": [{"user": "bob"}], "roleRef": {"kind": "ServiceRole", "name": "reader"}}),
        ),
        Kind::RbacConfig | Kind::ClusterRbacConfig => {
            (json!({"mode": "ON"}), json!({"mode": "OFF"}))
        }
        Kind::AuthorizationPolicy => (
            json!({"selector": {"matchLabels": {"app": "books"}}, "rules": [{"to": [{"operation": {"methods": ["GET"]}}]}]}),
            json!({"selector": {"matchLabels": {"app": "books"}}}),
        ),
        Kind::SyntheticServiceEntry => (json!({}), json!({})),
    }
}

fn config(kind: Kind, namespace: &str, spec: Value) -> Config {
    let s = kind.schema();
    // Upstream requires these two names for the singleton kinds.
    let name = match kind {
        Kind::AuthenticationMeshPolicy | Kind::RbacConfig | Kind::ClusterRbacConfig => {
            "default".to_string()
        }
        _ => format!("{}-e2e", s.type_name),
    };
    let obj = json!({
        "apiVersion": s.api_version(),
        "kind": s.kube_kind,
        "metadata": {"name": name, "namespace": namespace, "labels": {"e2e": "yes"}},
        "spec": spec,
    });
    let parsed = parse_object(obj).expect("fixture envelope");
    let cfg = convert_object(s, &parsed, "", namespace).expect("fixture decodes");
    cfg.validate()
        .unwrap_or_else(|e| panic!("fixture for {kind} must be valid: {e}"));
    cfg
}

#[tokio::test]
#[ignore = "needs a real kube-apiserver: make e2e"]
async fn crds_of_all_23_kinds_are_established() {
    let env = TestEnv::global();
    let client = env.client().await;
    let crds: Api<CustomResourceDefinition> = Api::all(client);
    let mut names = Vec::new();
    for s in schema::crds() {
        let name = format!("{}.{}", s.resource, s.group);
        let got = crds
            .get(&name)
            .await
            .unwrap_or_else(|e| panic!("CRD {name}: {e}"));
        let established = got
            .status
            .and_then(|st| st.conditions)
            .unwrap_or_default()
            .iter()
            .any(|c| c.type_ == "Established" && c.status == "True");
        assert!(established, "CRD {name} is not established");
        names.push(name);
    }
    assert_eq!(names.len(), 23);
    // The API server's copy carries our schema (as generated, and committed under install/).
    for ours in crd::all_crds() {
        let name = ours["metadata"]["name"].as_str().expect("name");
        let stored = crds.get(name).await.expect("stored CRD");
        let stored = serde_json::to_value(&stored.spec.versions[0].schema).expect("schema");
        // Through the same typed form, so numbers compare alike (`0` and `0.0`).
        let ours: CustomResourceValidation =
            serde_json::from_value(ours["spec"]["versions"][0]["schema"].clone())
                .expect("typed schema");
        let ours = serde_json::to_value(&ours).expect("schema");
        assert_eq!(stored, ours, "{name}: stored schema");
    }
}

#[tokio::test]
#[ignore = "needs a real kube-apiserver: make e2e"]
async fn every_kind_round_trips_through_the_api_server() {
    let env = TestEnv::global();
    let ns = env.namespace("crud").await;
    let client = env.client().await;
    for s in schema::crds() {
        let (spec, changed) = fixture(s.kind);
        let cfg = config(s.kind, &ns.name, spec);
        let api = api(client.clone(), s, Some(&ns.name));
        let obj = to_dynamic(&cfg).expect("dynamic object");

        // Watch from now, so the events of this test's changes are seen.
        let list = api
            .list(&ListParams::default())
            .await
            .unwrap_or_else(|e| panic!("{}: list: {e}", s.kube_kind));
        let version = list.metadata.resource_version.unwrap_or_default();
        let mut events = api
            .watch(&WatchParams::default().timeout(20), &version)
            .await
            .unwrap_or_else(|e| panic!("{}: watch: {e}", s.kube_kind))
            .boxed();

        let created = api
            .create(&PostParams::default(), &obj)
            .await
            .unwrap_or_else(|e| panic!("{}: create: {e}", s.kube_kind));
        let back = from_dynamic(s, &created, "")
            .unwrap_or_else(|e| panic!("{}: read back: {e}", s.kube_kind));
        assert_eq!(back.spec, cfg.spec, "{}: created spec", s.kube_kind);
        assert_eq!(back.meta.name, cfg.meta.name);
        assert_eq!(back.meta.labels, cfg.meta.labels);

        let got = api
            .get(&cfg.meta.name)
            .await
            .unwrap_or_else(|e| panic!("{}: get: {e}", s.kube_kind));
        let got = from_dynamic(s, &got, "").expect("decodes");
        assert_eq!(got.spec, cfg.spec, "{}: got spec", s.kube_kind);

        let listed = api
            .list(&ListParams::default().labels("e2e=yes"))
            .await
            .expect("list");
        assert!(
            listed
                .items
                .iter()
                .any(|o| o.metadata.name.as_deref() == Some(cfg.meta.name.as_str())),
            "{}: listed",
            s.kube_kind
        );

        let mut updated_cfg = config(s.kind, &ns.name, changed);
        updated_cfg.meta.resource_version = got.meta.resource_version.clone();
        let updated = api
            .replace(
                &cfg.meta.name,
                &PostParams::default(),
                &to_dynamic(&updated_cfg).expect("dynamic"),
            )
            .await
            .unwrap_or_else(|e| panic!("{}: replace: {e}", s.kube_kind));
        assert_eq!(
            from_dynamic(s, &updated, "").expect("decodes").spec,
            updated_cfg.spec
        );

        api.delete(&cfg.meta.name, &DeleteParams::default())
            .await
            .unwrap_or_else(|e| panic!("{}: delete: {e}", s.kube_kind));

        // The watch saw all three changes, in order, with our specs.
        let mut seen = Vec::new();
        while seen.len() < 3 {
            let next = tokio::time::timeout(Duration::from_secs(20), events.try_next())
                .await
                .unwrap_or_else(|_| {
                    panic!("{}: watch events timed out after {seen:?}", s.kube_kind)
                })
                .unwrap_or_else(|e| panic!("{}: watch: {e}", s.kube_kind));
            match next {
                Some(WatchEvent::Added(o)) => {
                    seen.push(("added", from_dynamic(s, &o, "").expect("decodes").spec))
                }
                Some(WatchEvent::Modified(o)) => {
                    seen.push(("modified", from_dynamic(s, &o, "").expect("decodes").spec))
                }
                Some(WatchEvent::Deleted(o)) => {
                    seen.push(("deleted", from_dynamic(s, &o, "").expect("decodes").spec))
                }
                Some(WatchEvent::Bookmark(_)) => {}
                Some(WatchEvent::Error(e)) => panic!("{}: watch error {e:?}", s.kube_kind),
                None => panic!("{}: watch ended after {seen:?}", s.kube_kind),
            }
        }
        let kinds: Vec<&str> = seen.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            kinds,
            vec!["added", "modified", "deleted"],
            "{}",
            s.kube_kind
        );
        assert_eq!(seen[0].1, cfg.spec);
        assert_eq!(seen[1].1, updated_cfg.spec);
    }
}
