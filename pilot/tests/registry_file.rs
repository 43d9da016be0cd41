//! The `--configDir` store against a real directory: files are written, edited, broken and
//! deleted, and the store contents and handler events follow.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use istio_pilot::config::file::{FileOptions, FileStore};
use istio_pilot::model::{ConfigStore, ConfigStoreCache, Event};
use istio_pkg::config::schema::Kind;
use tokio_util::sync::CancellationToken;

type Events = Arc<Mutex<Vec<(Event, Kind, String)>>>;

fn record(store: &FileStore) -> Events {
    let events: Events = Arc::default();
    for kind in store.kinds() {
        let e = events.clone();
        store.register_event_handler(
            kind,
            Arc::new(move |_, cfg, ev| e.lock().unwrap().push((ev, cfg.meta.kind, cfg.meta.key()))),
        );
    }
    events
}

fn take(events: &Events) -> Vec<(Event, Kind, String)> {
    std::mem::take(&mut *events.lock().unwrap())
}

fn gateway(name: &str, host: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1alpha3
kind: Gateway
metadata: {{name: {name}, namespace: ns}}
spec:
  servers: [{{port: {{number: 80, name: http, protocol: HTTP}}, hosts: ['{host}']}}]
"
    )
}

fn vs(name: &str, host: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {{name: {name}, namespace: ns}}
spec:
  hosts: ['{host}']
  http: [{{route: [{{destination: {{host: '{host}'}}}}]}}]
"
    )
}

const SERVICE: &str = "apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: ns}
spec: {ports: [{name: http, port: 9080}]}
";

fn write(dir: &Path, file: &str, docs: &[&str]) {
    let path = dir.join(file);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(path, docs.join("---\n")).unwrap();
}

fn host_of_gateway(store: &FileStore, name: &str) -> Option<String> {
    let cfg = store.get(Kind::Gateway, name, "ns")?;
    match &cfg.spec {
        istio_pkg::config::model::Spec::Gateway(g) => Some(g.servers[0].hosts[0].clone()),
        _ => None,
    }
}

#[test]
fn scans_apply_diffs_and_contain_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(
        d,
        "a.yaml",
        &[&gateway("gw1", "a.com"), SERVICE, &vs("vs1", "a.com")],
    );
    write(d, "sub/b.yml", &[&gateway("gw2", "b.com")]);
    write(d, "ignored.txt", &[&gateway("gw9", "x.com")]);
    let store = FileStore::new(d, FileOptions::default());
    let events = record(&store);
    assert!(!store.has_synced());

    let s = store.scan();
    assert!(store.has_synced());
    assert_eq!((s.added, s.updated, s.deleted), (3, 0, 0), "{s:?}");
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    let mut got = take(&events);
    got.sort_by(|a, b| a.2.cmp(&b.2));
    assert_eq!(
        got,
        [
            (Event::Add, Kind::Gateway, "ns/gw1".to_string()),
            (Event::Add, Kind::Gateway, "ns/gw2".to_string()),
            (Event::Add, Kind::VirtualService, "ns/vs1".to_string()),
        ]
    );
    let rv = store
        .get(Kind::Gateway, "gw1", "ns")
        .unwrap()
        .meta
        .resource_version
        .clone();

    // Nothing changed: no events.
    let s = store.scan();
    assert_eq!((s.added, s.updated, s.deleted), (0, 0, 0));
    assert!(take(&events).is_empty());

    // Edit one object, add one, drop one.
    write(
        d,
        "a.yaml",
        &[&gateway("gw1", "changed.com"), &gateway("gw3", "c.com")],
    );
    let s = store.scan();
    assert_eq!((s.added, s.updated, s.deleted), (1, 1, 1), "{s:?}");
    assert_eq!(
        host_of_gateway(&store, "gw1").as_deref(),
        Some("changed.com")
    );
    assert_ne!(
        store
            .get(Kind::Gateway, "gw1", "ns")
            .unwrap()
            .meta
            .resource_version,
        rv
    );
    assert!(store.get(Kind::VirtualService, "vs1", "ns").is_none());
    let mut got = take(&events);
    got.sort_by(|a, b| a.2.cmp(&b.2));
    assert_eq!(
        got,
        [
            (Event::Update, Kind::Gateway, "ns/gw1".to_string()),
            (Event::Add, Kind::Gateway, "ns/gw3".to_string()),
            (Event::Delete, Kind::VirtualService, "ns/vs1".to_string()),
        ]
    );

    // An object becomes invalid: its last good version stays, the rest of the file applies.
    write(
        d,
        "a.yaml",
        &[&gateway("gw1", ""), &gateway("gw3", "c2.com")],
    );
    let s = store.scan();
    assert_eq!((s.added, s.updated, s.deleted), (0, 1, 0), "{s:?}");
    assert_eq!(s.errors.len(), 1, "{:?}", s.errors);
    assert!(s.errors[0].contains("a.yaml"), "{}", s.errors[0]);
    assert!(s.errors[0].contains("Gateway/ns/gw1"), "{}", s.errors[0]);
    assert_eq!(
        host_of_gateway(&store, "gw1").as_deref(),
        Some("changed.com")
    );
    assert_eq!(host_of_gateway(&store, "gw3").as_deref(), Some("c2.com"));
    assert_eq!(
        take(&events),
        [(Event::Update, Kind::Gateway, "ns/gw3".to_string())]
    );

    // The file stops parsing: everything it provided stays; other files still apply.
    write(d, "a.yaml", &["kind: [\n"]);
    write(d, "sub/b.yml", &[&gateway("gw2", "b2.com")]);
    let s = store.scan();
    assert!(!s.errors.is_empty());
    assert!(
        s.errors.iter().any(|e| e.contains("a.yaml")),
        "{:?}",
        s.errors
    );
    assert_eq!(
        host_of_gateway(&store, "gw1").as_deref(),
        Some("changed.com")
    );
    assert_eq!(host_of_gateway(&store, "gw3").as_deref(), Some("c2.com"));
    assert_eq!(host_of_gateway(&store, "gw2").as_deref(), Some("b2.com"));
    assert_eq!(
        take(&events),
        [(Event::Update, Kind::Gateway, "ns/gw2".to_string())]
    );

    // Fixed again.
    write(d, "a.yaml", &[&gateway("gw1", "fixed.com")]);
    let s = store.scan();
    assert_eq!((s.added, s.updated, s.deleted), (0, 1, 1), "{s:?}");
    assert!(store.get(Kind::Gateway, "gw3", "ns").is_none());

    // The same object in two files: the first path wins, the other is reported.
    write(d, "z.yaml", &[&gateway("gw1", "dup.com")]);
    let s = store.scan();
    assert_eq!(s.errors.len(), 1, "{:?}", s.errors);
    assert!(s.errors[0].contains("z.yaml"), "{}", s.errors[0]);
    assert_eq!(host_of_gateway(&store, "gw1").as_deref(), Some("fixed.com"));
    take(&events);

    // Deleting a file deletes its objects.
    std::fs::remove_file(d.join("sub/b.yml")).unwrap();
    std::fs::remove_file(d.join("a.yaml")).unwrap();
    let s = store.scan();
    assert_eq!(s.deleted, 1, "{s:?}");
    assert_eq!(s.updated, 1, "z.yaml's gw1 takes over: {s:?}");
    assert_eq!(host_of_gateway(&store, "gw1").as_deref(), Some("dup.com"));
    assert!(store.get(Kind::Gateway, "gw2", "ns").is_none());
    let mut got = take(&events);
    got.sort_by(|a, b| a.2.cmp(&b.2));
    assert_eq!(
        got,
        [
            (Event::Update, Kind::Gateway, "ns/gw1".to_string()),
            (Event::Delete, Kind::Gateway, "ns/gw2".to_string()),
        ]
    );
}

async fn wait_until(timeout: Duration, f: impl Fn() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < deadline {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    f()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_follows_file_events() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    write(&d, "a.yaml", &[&gateway("gw1", "a.com")]);
    let store = Arc::new(FileStore::new(
        &d,
        FileOptions {
            debounce: Duration::from_millis(50),
            // Long enough that only file-system events can explain a quick update.
            rescan_interval: Duration::from_secs(60),
            ..FileOptions::default()
        },
    ));
    let events = record(&store);
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(store.clone().run(shutdown.clone()));
    assert!(wait_until(Duration::from_secs(5), || store.has_synced()).await);
    assert_eq!(host_of_gateway(&store, "gw1").as_deref(), Some("a.com"));

    write(&d, "a.yaml", &[&gateway("gw1", "b.com")]);
    assert!(
        wait_until(Duration::from_secs(5), || host_of_gateway(&store, "gw1")
            .as_deref()
            == Some("b.com"))
        .await,
        "the edit was not picked up"
    );
    write(&d, "new/c.yaml", &[&vs("vs", "c.com")]);
    assert!(
        wait_until(Duration::from_secs(5), || store
            .get(Kind::VirtualService, "vs", "ns")
            .is_some())
        .await,
        "the new file was not picked up"
    );
    std::fs::remove_file(d.join("a.yaml")).unwrap();
    assert!(
        wait_until(Duration::from_secs(5), || store
            .get(Kind::Gateway, "gw1", "ns")
            .is_none())
        .await,
        "the deletion was not picked up"
    );
    let got: Vec<Event> = take(&events).into_iter().map(|e| e.0).collect();
    assert_eq!(got, [Event::Add, Event::Update, Event::Add, Event::Delete]);
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("run stops on shutdown")
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn periodic_rescan_without_a_directory_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("later");
    let store = Arc::new(FileStore::new(
        &root,
        FileOptions {
            rescan_interval: Duration::from_millis(100),
            ..FileOptions::default()
        },
    ));
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(store.clone().run(shutdown.clone()));
    assert!(wait_until(Duration::from_secs(5), || store.has_synced()).await);
    write(&root, "a.yaml", &[&gateway("gw1", "a.com")]);
    assert!(
        wait_until(Duration::from_secs(5), || store
            .get(Kind::Gateway, "gw1", "ns")
            .is_some())
        .await
    );
    shutdown.cancel();
    task.await.unwrap();
}
