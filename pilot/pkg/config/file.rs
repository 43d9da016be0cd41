//! `--configDir`: Istio config read from a directory tree of YAML files and kept in sync with an
//! in-memory store (upstream `pilot/pkg/config/monitor`: `FileSnapshot` + `Monitor`).
//!
//! Every scan reads the `.yaml`/`.yml` files under the root (recursively), decodes and validates
//! each object of a kind pilot reads, and applies the difference to the store as adds, updates
//! and deletes, so handlers see only real changes. Scans run on file-system events (debounced)
//! and periodically as a fallback.
//!
//! Errors are contained where upstream's are not. Upstream aborts the whole walk on the first
//! file that does not parse or holds an invalid object and then applies nothing at all, so one
//! bad file freezes every other file's changes. Here:
//! - a bad object is logged (file, document, `Kind/namespace/name`, problem) and skipped; the
//!   other objects of the file are still applied;
//! - if an object becomes invalid, its last good version stays in the store;
//! - if a file stops parsing (YAML syntax error) or cannot be read, every object it last
//!   provided stays until the file is fixed or deleted; objects that still parse are updated;
//! - deleting a file deletes its objects.
//!
//! Other differences from upstream: entries whose names start with `.` are skipped (the
//! `..data` links of a mounted ConfigMap would otherwise be read twice), and symbolic links to
//! files are followed (upstream skips them, which hides ConfigMap-mounted files). Documents of
//! other kinds (a `Service` next to a `VirtualService`) and Mixer kinds are ignored. When two
//! files define the same object, the first file in path order wins and the other is logged.
//! Namespaced objects without a namespace keep an empty namespace, as upstream (configurable).
//!
//! The store is read-only through the [`ConfigStore`] API: the files are the source of truth.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use istio_pkg::config::kube::{parse_inputs, ObjectRef, ParseOptions};
use istio_pkg::config::model::Config;
use istio_pkg::config::schema::Kind;
use tokio_util::sync::CancellationToken;

use super::memory::MemoryStore;
use crate::model::{ConfigHandler, ConfigStore, ConfigStoreCache, StoreError};

/// How the file store reads and watches.
#[derive(Debug, Clone)]
pub struct FileOptions {
    /// DNS domain suffix recorded in each config (`--domain`).
    pub domain_suffix: String,
    /// Namespace given to namespaced objects that name none (upstream: empty).
    pub default_namespace: String,
    /// Quiet time after a file-system event before rescanning.
    pub debounce: Duration,
    /// Rescan this often even without events (missed events, network file systems).
    pub rescan_interval: Duration,
}

impl Default for FileOptions {
    fn default() -> Self {
        FileOptions {
            domain_suffix: "cluster.local".into(),
            default_namespace: String::new(),
            debounce: Duration::from_millis(100),
            rescan_interval: Duration::from_secs(5),
        }
    }
}

/// (kind, namespace, name)
type ObjKey = (Kind, String, String);

/// What one file contributed at the last scan.
#[derive(Default)]
struct FileState {
    /// Hash of the bytes last parsed, to skip unchanged files.
    digest: Option<u64>,
    objects: BTreeMap<ObjKey, Arc<Config>>,
}

#[derive(Default)]
struct State {
    files: BTreeMap<PathBuf, FileState>,
    /// What this monitor last put into the store, by key (the file versions, shared with
    /// [`FileState::objects`]).
    applied: BTreeMap<ObjKey, Arc<Config>>,
}

/// The outcome of one scan, for logs and tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ScanSummary {
    pub added: usize,
    pub updated: usize,
    pub deleted: usize,
    /// Problems found (one line each, naming the file and object).
    pub errors: Vec<String>,
}

/// A [`ConfigStoreCache`] mirroring a directory of YAML files.
pub struct FileStore {
    root: PathBuf,
    opts: FileOptions,
    store: MemoryStore,
    state: Mutex<State>,
    synced: AtomicBool,
}

impl std::fmt::Debug for FileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileStore")
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

impl FileStore {
    /// A store for the Istio kinds pilot reads, mirroring `root`. Nothing is read until
    /// [`FileStore::scan`] or [`FileStore::run`].
    pub fn new(root: impl Into<PathBuf>, opts: FileOptions) -> FileStore {
        FileStore::with_kinds(root, opts, super::memory::istio_kinds())
    }

    /// Like [`FileStore::new`] for a chosen set of kinds.
    pub fn with_kinds(
        root: impl Into<PathBuf>,
        opts: FileOptions,
        kinds: impl IntoIterator<Item = Kind>,
    ) -> FileStore {
        let store = MemoryStore::new(kinds);
        store.set_synced(false);
        FileStore {
            root: root.into(),
            opts,
            store,
            state: Mutex::new(State::default()),
            synced: AtomicBool::new(false),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Reads the directory once and applies the changes; the store is synced afterwards.
    pub fn scan(&self) -> ScanSummary {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut summary = ScanSummary::default();
        let files = match list_files(&self.root) {
            Ok(files) => files,
            Err(e) => {
                // An unreadable root changes nothing (as upstream).
                let msg = format!("cannot read config directory {}: {e}", self.root.display());
                tracing::warn!("{msg}");
                summary.errors.push(msg);
                self.mark_synced();
                return summary;
            }
        };
        let kinds: BTreeSet<Kind> = self.store.kinds().into_iter().collect();
        let mut next_files = BTreeMap::new();
        for path in files {
            let prev = state.files.remove(&path);
            let fs = self.read_file(&path, prev, &kinds, &mut summary.errors);
            next_files.insert(path, fs);
        }
        // Files not listed any more are gone: their objects go with them.
        state.files = next_files;

        let mut desired: BTreeMap<ObjKey, (&Path, &Arc<Config>)> = BTreeMap::new();
        for (path, fs) in &state.files {
            for (key, cfg) in &fs.objects {
                if let Some((first, _)) = desired.get(key) {
                    let msg = format!(
                        "{}: {}/{}: already defined in {}; ignored",
                        path.display(),
                        key.0,
                        cfg.meta.key(),
                        first.display()
                    );
                    tracing::warn!("{msg}");
                    summary.errors.push(msg);
                    continue;
                }
                desired.insert(key.clone(), (path.as_path(), cfg));
            }
        }
        let desired: BTreeMap<ObjKey, Arc<Config>> = desired
            .into_iter()
            .map(|(k, (_, c))| (k, c.clone()))
            .collect();

        let stale: Vec<ObjKey> = state
            .applied
            .keys()
            .filter(|k| !desired.contains_key(*k))
            .cloned()
            .collect();
        for key in stale {
            state.applied.remove(&key);
            if self.store.remove(key.0, &key.2, &key.1) {
                summary.deleted += 1;
            }
        }
        for (key, cfg) in desired {
            if state.applied.get(&key) == Some(&cfg) {
                continue;
            }
            let mut stored = Config::clone(&cfg);
            let existing = self.store.get(key.0, &key.2, &key.1);
            stored.meta.resource_version = self.next_version();
            stored.meta.creation_timestamp = match &existing {
                Some(e) => e.meta.creation_timestamp.clone(),
                None => Some(istio_pkg::log::rfc3339_utc(std::time::SystemTime::now())),
            };
            match self.store.apply(stored) {
                Ok(super::memory::Applied::Added) => summary.added += 1,
                Ok(super::memory::Applied::Updated) => summary.updated += 1,
                Ok(super::memory::Applied::Unchanged) => {}
                Err(e) => {
                    let msg = format!("{}: {e}", cfg.meta.key());
                    tracing::warn!("{msg}");
                    summary.errors.push(msg);
                    continue;
                }
            }
            state.applied.insert(key, cfg);
        }
        drop(state);
        if summary.added + summary.updated + summary.deleted > 0 {
            tracing::info!(
                root = %self.root.display(),
                added = summary.added,
                updated = summary.updated,
                deleted = summary.deleted,
                "config files changed"
            );
        }
        self.mark_synced();
        summary
    }

    fn next_version(&self) -> String {
        static VERSION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        (VERSION.fetch_add(1, Ordering::Relaxed) + 1).to_string()
    }

    fn mark_synced(&self) {
        self.synced.store(true, Ordering::Release);
        self.store.set_synced(true);
    }

    /// Parses one file; keeps the previous objects where the file cannot tell what they became.
    fn read_file(
        &self,
        path: &Path,
        prev: Option<FileState>,
        kinds: &BTreeSet<Kind>,
        errors: &mut Vec<String>,
    ) -> FileState {
        let prev = prev.unwrap_or_default();
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => {
                let msg = format!(
                    "cannot read {}: {e}; keeping its last config",
                    path.display()
                );
                tracing::warn!("{msg}");
                errors.push(msg);
                return prev;
            }
        };
        let digest = {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            bytes.hash(&mut h);
            h.finish()
        };
        if prev.digest == Some(digest) {
            return prev;
        }
        let text = match String::from_utf8(bytes) {
            Ok(t) => t,
            Err(_) => {
                let msg = format!("{}: not UTF-8; keeping its last config", path.display());
                tracing::warn!("{msg}");
                errors.push(msg);
                return FileState {
                    digest: Some(digest),
                    ..prev
                };
            }
        };
        let inputs = parse_inputs(
            &text,
            &ParseOptions {
                domain: &self.opts.domain_suffix,
                default_namespace: &self.opts.default_namespace,
                validate: true,
                check_top_level_fields: false,
            },
        );
        let mut objects = BTreeMap::new();
        for cfg in inputs.configs {
            if !kinds.contains(&cfg.meta.kind) {
                continue;
            }
            let key = (
                cfg.meta.kind,
                cfg.meta.namespace.clone(),
                cfg.meta.name.clone(),
            );
            if objects.contains_key(&key) {
                let msg = format!(
                    "{}: {}/{} defined twice; the first one is used",
                    path.display(),
                    key.0,
                    cfg.meta.key()
                );
                tracing::warn!("{msg}");
                errors.push(msg);
                continue;
            }
            objects.insert(key, Arc::new(cfg));
        }
        let mut keep_all = false;
        let mut keep: Vec<ObjectRef> = Vec::new();
        for e in &inputs.errors {
            let msg = format!("{}: {e}", path.display());
            tracing::warn!("{msg}");
            errors.push(msg);
            match &e.object {
                Some(o) => keep.push(o.clone()),
                None => keep_all = true,
            }
        }
        for (key, cfg) in prev.objects {
            if objects.contains_key(&key) {
                continue;
            }
            let named = keep.iter().any(|o| self.refers_to(o, &key));
            if keep_all || named {
                tracing::info!(
                    "{}: keeping the last good version of {}/{}",
                    path.display(),
                    key.0,
                    cfg.meta.key()
                );
                objects.insert(key, cfg);
            }
        }
        FileState {
            digest: Some(digest),
            objects,
        }
    }

    /// Whether an error's object reference names `key`.
    fn refers_to(&self, o: &ObjectRef, key: &ObjKey) -> bool {
        let schema = key.0.schema();
        let ns = if schema.cluster_scoped {
            ""
        } else if o.namespace.is_empty() {
            self.opts.default_namespace.as_str()
        } else {
            o.namespace.as_str()
        };
        o.kind == schema.kube_kind && o.name == key.2 && ns == key.1
    }

    /// Scans now, then on file-system events (debounced) and every `rescan_interval`, until
    /// `shutdown`.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let wake = Arc::new(tokio::sync::Notify::new());
        // Arm the watch before the first scan so no change falls between the two.
        let mut watcher = self.watch(wake.clone());
        let this = self.clone();
        let _ = tokio::task::spawn_blocking(move || this.scan()).await;
        let mut ticker = tokio::time::interval(self.opts.rescan_interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        loop {
            // A watch on a root that was removed sees nothing of its successor: re-arm.
            if watcher.is_some() && !self.root.exists() {
                watcher = None;
            }
            if watcher.is_none() {
                watcher = self.watch(wake.clone());
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = ticker.tick() => {}
                _ = wake.notified() => {
                    // Let a burst of writes settle.
                    loop {
                        tokio::select! {
                            _ = shutdown.cancelled() => return,
                            _ = tokio::time::sleep(self.opts.debounce) => break,
                            _ = wake.notified() => {}
                        }
                    }
                }
            }
            let this = self.clone();
            let _ = tokio::task::spawn_blocking(move || this.scan()).await;
        }
    }

    fn watch(&self, wake: Arc<tokio::sync::Notify>) -> Option<notify::RecommendedWatcher> {
        use notify::Watcher;
        let handler = move |res: notify::Result<notify::Event>| {
            if let Ok(ev) = res {
                if !matches!(ev.kind, notify::EventKind::Access(_)) {
                    wake.notify_one();
                }
            }
        };
        let mut watcher = match notify::recommended_watcher(handler) {
            Ok(w) => w,
            Err(e) => {
                tracing::warn!(
                    "cannot watch {}: {e}; rescanning periodically",
                    self.root.display()
                );
                return None;
            }
        };
        match watcher.watch(&self.root, notify::RecursiveMode::Recursive) {
            Ok(()) => Some(watcher),
            Err(e) => {
                tracing::debug!("cannot watch {} yet: {e}", self.root.display());
                None
            }
        }
    }
}

/// The config files under `root`, sorted: `.yaml`/`.yml` regular files (or links to them),
/// skipping names that start with `.`.
fn list_files(root: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let meta = std::fs::metadata(root)?;
    if meta.is_file() {
        out.push(root.to_path_buf());
        return Ok(out);
    }
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if dir == root => return Err(e),
            Err(e) => {
                tracing::warn!("cannot read {}: {e}", dir.display());
                continue;
            }
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            let path = entry.path();
            let Ok(ft) = entry.file_type() else { continue };
            if ft.is_dir() {
                dirs.push(path);
                continue;
            }
            let is_yaml = matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yaml") | Some("yml")
            );
            if !is_yaml {
                continue;
            }
            // Follow links to files, not to directories (no loops).
            if ft.is_file() || (ft.is_symlink() && path.metadata().is_ok_and(|m| m.is_file())) {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

impl ConfigStore for FileStore {
    fn kinds(&self) -> Vec<Kind> {
        self.store.kinds()
    }

    fn get(&self, kind: Kind, name: &str, namespace: &str) -> Option<Arc<Config>> {
        self.store.get(kind, name, namespace)
    }

    fn list(&self, kind: Kind, namespace: Option<&str>) -> Result<Vec<Arc<Config>>, StoreError> {
        self.store.list(kind, namespace)
    }

    fn create(&self, config: Config) -> Result<String, StoreError> {
        Err(read_only(&config))
    }

    fn update(&self, config: Config) -> Result<String, StoreError> {
        Err(read_only(&config))
    }

    fn delete(&self, kind: Kind, name: &str, namespace: &str) -> Result<(), StoreError> {
        Err(StoreError::ReadOnly {
            kind,
            key: if namespace.is_empty() {
                name.to_string()
            } else {
                format!("{namespace}/{name}")
            },
        })
    }
}

fn read_only(config: &Config) -> StoreError {
    StoreError::ReadOnly {
        kind: config.meta.kind,
        key: config.meta.key(),
    }
}

impl ConfigStoreCache for FileStore {
    fn register_event_handler(&self, kind: Kind, handler: ConfigHandler) {
        self.store.register_event_handler(kind, handler);
    }

    fn has_synced(&self) -> bool {
        self.synced.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VS: &str = "apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: reviews, namespace: bookinfo}
spec:
  hosts: [reviews]
  http: [{route: [{destination: {host: reviews}}]}]
";

    #[test]
    fn lists_yaml_files_and_skips_hidden_entries() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        std::fs::create_dir_all(p.join("sub/deeper")).unwrap();
        std::fs::create_dir_all(p.join("..data")).unwrap();
        for f in [
            "a.yaml",
            "b.yml",
            "c.json",
            "sub/d.yaml",
            "sub/deeper/e.yaml",
            ".hidden.yaml",
            "..data/f.yaml",
        ] {
            std::fs::write(p.join(f), "").unwrap();
        }
        let got: Vec<String> = list_files(p)
            .unwrap()
            .iter()
            .map(|f| f.strip_prefix(p).unwrap().display().to_string())
            .collect();
        assert_eq!(got, ["a.yaml", "b.yml", "sub/d.yaml", "sub/deeper/e.yaml"]);
        assert!(list_files(&p.join("missing")).is_err());
    }

    #[test]
    fn missing_root_is_an_error_but_synced() {
        let dir = tempfile::tempdir().unwrap();
        let fs = FileStore::new(dir.path().join("nope"), FileOptions::default());
        assert!(!fs.has_synced());
        let s = fs.scan();
        assert_eq!(s.errors.len(), 1);
        assert!(fs.has_synced());
    }

    #[test]
    fn writes_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("vs.yaml"), VS).unwrap();
        let fs = FileStore::new(dir.path(), FileOptions::default());
        fs.scan();
        let cfg = fs
            .get(Kind::VirtualService, "reviews", "bookinfo")
            .expect("read");
        assert!(matches!(
            fs.update((*cfg).clone()),
            Err(StoreError::ReadOnly { .. })
        ));
        assert!(matches!(
            fs.delete(Kind::VirtualService, "reviews", "bookinfo"),
            Err(StoreError::ReadOnly { .. })
        ));
    }
}
