//! e2e (`make e2e`): the Kubernetes registry and the CRD config store against a real
//! kube-apiserver. Objects are created and deleted through the API; the registry must report
//! them (and call `eds_update`) within a second.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use istio_pilot::config::kube::crd::{CrdOptions, CrdStore};
use istio_pilot::model::{
    ConfigStore, ConfigStoreCache, Event, NodeMetadata, Proxy, ServiceDiscovery,
};
use istio_pilot::serviceregistry::fake::{RecordingUpdater, XdsCall};
use istio_pilot::serviceregistry::kube::controller::{Controller, Options};
use istio_pkg::config::kube::{parse_inputs, ParseOptions};
use istio_pkg::config::schema::Kind;
use istio_pkg::kube::crd::api as crd_api;
use istio_test::TestEnv;
use k8s_openapi::api::core::v1::{Endpoints, Node, Pod, Service};
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::json;
use tokio_util::sync::CancellationToken;

const FAST: Duration = Duration::from_secs(1);

async fn env() -> &'static TestEnv {
    tokio::task::spawn_blocking(TestEnv::global)
        .await
        .expect("test env")
}

async fn wait_until(timeout: Duration, f: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    f()
}

fn from<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
    serde_json::from_value(v).expect("object")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a real kube-apiserver: make e2e"]
async fn kube_registry_follows_services_endpoints_pods_and_nodes() {
    let env = env().await;
    let client = env.client().await;
    let ns = env.namespace("registry").await;
    let n = ns.name.as_str();
    let node_name = format!("node-{n}");

    let updater = Arc::new(RecordingUpdater::new());
    let ctl = Controller::new(
        client.clone(),
        Options {
            watched_namespace: Some(n.to_string()),
            ..Options::default()
        },
        updater.clone(),
    );
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(ctl.clone().run(shutdown.clone()));
    assert!(
        wait_until(Duration::from_secs(20), || ctl.has_synced()).await,
        "registry did not sync"
    );

    // A node with a locality, and a running pod on it (no kubelet: we set the status).
    let nodes: Api<Node> = Api::all(client.clone());
    nodes
        .create(
            &PostParams::default(),
            &from(json!({"metadata": {"name": node_name, "labels": {
                "failure-domain.beta.kubernetes.io/region": "r1",
                "failure-domain.beta.kubernetes.io/zone": "z1"}}})),
        )
        .await
        .expect("node");
    let pods: Api<Pod> = Api::namespaced(client.clone(), n);
    pods.create(
        &PostParams::default(),
        &from(json!({
            "metadata": {"name": "reviews-1", "labels": {"app": "reviews", "version": "v1",
                                                          "security.istio.io/tlsMode": "istio"}},
            "spec": {"nodeName": node_name, "serviceAccountName": "bookinfo-reviews",
                     "containers": [{"name": "app", "image": "none",
                                     "ports": [{"name": "web", "containerPort": 9080}]}]}
        })),
    )
    .await
    .expect("pod");
    pods.patch_status(
        "reviews-1",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"phase": "Running", "podIP": "10.88.0.5",
                                        "podIPs": [{"ip": "10.88.0.5"}]}})),
    )
    .await
    .expect("pod status");
    assert!(
        updater
            .wait_for(
                FAST * 5,
                |c| matches!(c, XdsCall::Proxy { ip, .. } if ip == "10.88.0.5")
            )
            .await
            .is_some(),
        "no proxy update for the pod"
    );

    let services: Api<Service> = Api::namespaced(client.clone(), n);
    let created = services
        .create(
            &PostParams::default(),
            &from(json!({
                "metadata": {"name": "reviews",
                             "annotations": {"networking.istio.io/exportTo": "."}},
                "spec": {"selector": {"app": "reviews"},
                         "ports": [{"name": "http-web", "port": 9080, "targetPort": "web"}]}
            })),
        )
        .await
        .expect("service");
    let cluster_ip = created
        .spec
        .and_then(|s| s.cluster_ip)
        .expect("cluster IP allocated");
    let hostname = format!("reviews.{n}.svc.cluster.local");
    assert!(
        wait_until(FAST, || ctl.get_service(&hostname).is_some()).await,
        "service not reported within 1s"
    );
    let svc = ctl.get_service(&hostname).unwrap();
    assert_eq!(svc.address, cluster_ip);
    assert_eq!(svc.ports.0[0].protocol.as_str(), "HTTP");
    assert!(updater.calls().iter().any(
        |c| matches!(c, XdsCall::Svc { hostname: h, event: Event::Add, .. } if *h == hostname)
    ));

    let endpoints: Api<Endpoints> = Api::namespaced(client.clone(), n);
    updater.take();
    endpoints
        .create(
            &PostParams::default(),
            &from(json!({
                "metadata": {"name": "reviews"},
                "subsets": [{"addresses": [{"ip": "10.88.0.5", "nodeName": node_name,
                                             "targetRef": {"kind": "Pod", "name": "reviews-1", "namespace": n}}],
                             "ports": [{"name": "http-web", "port": 9080}]}]
            })),
        )
        .await
        .expect("endpoints");
    let started = Instant::now();
    let call = updater
        .wait_for(FAST, |c| matches!(c, XdsCall::Eds { hostname: h, endpoints, .. } if *h == hostname && !endpoints.is_empty()))
        .await
        .unwrap_or_else(|| panic!("no eds_update within 1s: {:?}", updater.calls()));
    eprintln!("eds_update after {:?}", started.elapsed());
    let XdsCall::Eds {
        shard,
        namespace,
        endpoints: eps,
        ..
    } = call
    else {
        unreachable!()
    };
    assert_eq!(shard, "Kubernetes");
    assert_eq!(namespace, n);
    assert_eq!(eps.len(), 1);
    let e = &eps[0];
    assert_eq!((e.address.as_str(), e.endpoint_port), ("10.88.0.5", 9080));
    assert_eq!(e.labels.0["version"], "v1");
    assert_eq!(e.locality, "r1/z1");
    assert_eq!(e.tls_mode, "istio");
    assert_eq!(
        e.service_account,
        format!("spiffe://cluster.local/ns/{n}/sa/bookinfo-reviews")
    );

    let instances = ctl.instances_by_port(&svc, 9080, &Default::default());
    assert_eq!(instances.len(), 1);
    let mut proxy = Proxy::parse(
        &format!("sidecar~10.88.0.5~reviews-1.{n}~{n}.svc.cluster.local"),
        NodeMetadata::default(),
    )
    .expect("proxy");
    proxy.ip_addresses = vec!["10.88.0.5".into()];
    let pi = ctl.get_proxy_service_instances(&proxy);
    assert_eq!(pi.len(), 1);
    assert_eq!(pi[0].endpoint.endpoint_port, 9080);

    // Deletions.
    updater.take();
    endpoints
        .delete("reviews", &DeleteParams::default())
        .await
        .expect("delete endpoints");
    assert!(
        updater
            .wait_for(FAST, |c| matches!(c, XdsCall::Eds { hostname: h, endpoints, .. } if *h == hostname && endpoints.is_empty()))
            .await
            .is_some(),
        "no empty eds_update within 1s"
    );
    services
        .delete("reviews", &DeleteParams::default())
        .await
        .expect("delete service");
    assert!(
        wait_until(FAST, || ctl.get_service(&hostname).is_none()).await,
        "service not removed within 1s"
    );
    assert!(updater.calls().iter().any(|c| matches!(
        c,
        XdsCall::Svc {
            event: Event::Delete,
            ..
        }
    )));
    pods.delete("reviews-1", &DeleteParams::default().grace_period(0))
        .await
        .expect("delete pod");
    assert!(
        wait_until(FAST, || ctl.get_proxy_workload_labels(&proxy).0.is_empty()).await,
        "pod not removed"
    );
    let _ = nodes.delete(&node_name, &DeleteParams::default()).await;
    shutdown.cancel();
    task.await.expect("registry task");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a real kube-apiserver: make e2e"]
async fn crd_store_follows_istio_objects() {
    let env = env().await;
    let client = env.client().await;
    let ns = env.namespace("crdstore").await;
    let n = ns.name.as_str();

    let store = Arc::new(CrdStore::new(
        client.clone(),
        CrdOptions {
            watched_namespace: Some(n.to_string()),
            kinds: vec![Kind::VirtualService, Kind::Gateway],
            ..CrdOptions::default()
        },
    ));
    let events: Arc<Mutex<Vec<(Event, String)>>> = Arc::default();
    let e = events.clone();
    store.register_event_handler(
        Kind::VirtualService,
        Arc::new(move |_, cfg, ev| e.lock().unwrap().push((ev, cfg.meta.key()))),
    );
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(store.clone().run(shutdown.clone()));
    assert!(
        wait_until(Duration::from_secs(20), || store.has_synced()).await,
        "CRD store did not sync"
    );

    let yaml = format!(
        "apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {{name: reviews, namespace: {n}}}
spec:
  hosts: [reviews]
  http: [{{route: [{{destination: {{host: reviews, subset: v1}}}}]}}]
"
    );
    let inputs = parse_inputs(
        &yaml,
        &ParseOptions {
            domain: "cluster.local",
            default_namespace: n,
            validate: true,
            check_top_level_fields: true,
        },
    );
    let vs = inputs.configs.into_iter().next().expect("config");
    let rv = store.create_async(vs.clone()).await.expect("create");
    assert!(!rv.is_empty());
    assert!(
        wait_until(FAST, || store
            .get(Kind::VirtualService, "reviews", n)
            .is_some())
        .await,
        "created object not seen within 1s"
    );
    assert_eq!(
        store.get(Kind::VirtualService, "reviews", n).unwrap().spec,
        vs.spec
    );

    // An object that the API server accepts but Istio's validation rejects is skipped;
    // the rest stays.
    let api = crd_api(client.clone(), Kind::VirtualService.schema(), Some(n));
    let bad: DynamicObject = from(json!({
        "apiVersion": "networking.istio.io/v1alpha3", "kind": "VirtualService",
        "metadata": {"name": "invalid", "namespace": n},
        "spec": {"hosts": []}
    }));
    api.create(&PostParams::default(), &bad)
        .await
        .expect("API server accepts the object");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(store.get(Kind::VirtualService, "invalid", n).is_none());
    assert_eq!(store.list(Kind::VirtualService, Some(n)).unwrap().len(), 1);

    // Update through the store (synchronous API on a multi-threaded runtime).
    let mut updated = (*store.get(Kind::VirtualService, "reviews", n).unwrap()).clone();
    if let istio_pkg::config::model::Spec::VirtualService(v) = &mut updated.spec {
        v.hosts.push("ratings".into());
    }
    let s2 = store.clone();
    tokio::task::spawn_blocking(move || s2.update(updated))
        .await
        .unwrap()
        .expect("update");
    assert!(
        wait_until(FAST, || {
            events
                .lock()
                .unwrap()
                .iter()
                .any(|(ev, k)| *ev == Event::Update && k.ends_with("/reviews"))
        })
        .await,
        "update not seen within 1s"
    );

    store
        .delete_async(Kind::VirtualService, "reviews", n)
        .await
        .expect("delete");
    assert!(
        wait_until(FAST, || store
            .get(Kind::VirtualService, "reviews", n)
            .is_none())
        .await,
        "deletion not seen within 1s"
    );
    let got: Vec<Event> = events.lock().unwrap().iter().map(|e| e.0).collect();
    assert_eq!(got, [Event::Add, Event::Update, Event::Delete]);
    shutdown.cancel();
    task.await.expect("store task");
}
