//! Test support for tests that need the Kubernetes API server (`make e2e`).
//!
//! [`TestEnv::global`] gives every test of a test binary the same real etcd + kube-apiserver on
//! loopback, started by `tools/kube-test-env/start.sh` (which builds and caches the binaries on
//! first use). If `KUBE_TEST_ENV_DIR` names a running environment (as `make e2e` arranges), it
//! is reused; otherwise this process starts its own in a fresh directory and a watchdog stops it
//! when the process exits. The Istio CRDs are installed once per process.
//!
//! Each test takes its own namespace with [`TestEnv::namespace`]; it is deleted when dropped.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, PostParams};

/// How long CRDs may take to become established.
const CRD_TIMEOUT: Duration = Duration::from_secs(60);

/// A running API server.
#[derive(Debug)]
pub struct TestEnv {
    vars: BTreeMap<String, String>,
}

static ENV: OnceLock<Result<TestEnv, String>> = OnceLock::new();

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

impl TestEnv {
    /// The environment of this test process, started (and the CRDs installed) on first use.
    /// Panics with the scripts' diagnostics if the environment cannot start: an e2e test cannot
    /// run without it.
    pub fn global() -> &'static TestEnv {
        match ENV.get_or_init(start) {
            Ok(env) => env,
            Err(e) => panic!("the kube-apiserver test environment is not available: {e}"),
        }
    }

    /// A value of the environment file (`KUBECONFIG`, `KUBE_TEST_ENV_SERVER`, ...).
    pub fn var(&self, key: &str) -> Option<&str> {
        self.vars.get(key).map(String::as_str)
    }

    /// The kubeconfig of the admin user.
    pub fn kubeconfig(&self) -> &Path {
        Path::new(self.var("KUBECONFIG").unwrap_or_default())
    }

    /// A new client for the calling test's runtime (clients must not outlive their runtime).
    pub async fn client(&self) -> kube::Client {
        istio_pkg::kube::client(Some(self.kubeconfig()), None)
            .await
            .unwrap_or_else(|e| panic!("cannot build a client for the test API server: {e}"))
    }

    /// Creates a namespace named `<prefix>-<unique suffix>` for one test.
    pub async fn namespace(&self, prefix: &str) -> TestNamespace {
        let client = self.client().await;
        let name = format!("{prefix}-{}", unique_suffix());
        let ns: Namespace = serde_json::from_value(serde_json::json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": name, "labels": {"istio-rs-test": "true"}},
        }))
        .unwrap_or_else(|e| panic!("namespace object: {e}"));
        Api::<Namespace>::all(client)
            .create(&PostParams::default(), &ns)
            .await
            .unwrap_or_else(|e| panic!("cannot create test namespace {name}: {e}"));
        TestNamespace {
            name,
            kubeconfig: self.kubeconfig().to_path_buf(),
        }
    }
}

/// A namespace owned by one test; deleted (best effort) when dropped.
#[derive(Debug)]
pub struct TestNamespace {
    pub name: String,
    kubeconfig: PathBuf,
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        // Drop cannot await: delete from a short-lived thread with its own runtime. The whole
        // environment is thrown away at the end anyway, so failures only leave garbage behind.
        let name = self.name.clone();
        let kubeconfig = self.kubeconfig.clone();
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                if let Ok(client) = istio_pkg::kube::client(Some(&kubeconfig), None).await {
                    let _ = Api::<Namespace>::all(client)
                        .delete(&name, &DeleteParams::background())
                        .await;
                }
            });
        })
        .join();
    }
}

fn unique_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{:x}{:x}{n:x}", std::process::id() % 0xffff, nanos % 0xfff)
}

/// Parses the `KEY=VALUE` lines of the environment file.
fn parse_env(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .collect()
}

fn start() -> Result<TestEnv, String> {
    let script = repo_root().join("tools/kube-test-env/start.sh");
    let mut cmd = Command::new(&script);
    cmd.stdout(Stdio::piped()).stderr(Stdio::inherit());
    if std::env::var_os("KUBE_TEST_ENV_DIR").is_none() {
        // Our own environment, stopped by the scripts' watchdog when this process exits.
        let dir =
            std::env::temp_dir().join(format!("istio-rs-kube-test-env-{}", std::process::id()));
        cmd.env("KUBE_TEST_ENV_DIR", dir)
            .env("KUBE_TEST_ENV_WATCH_PID", std::process::id().to_string());
    }
    let output = cmd
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !output.status.success() {
        return Err(format!(
            "{} exited with {} (its diagnostics are above)",
            script.display(),
            output.status
        ));
    }
    let vars = parse_env(&String::from_utf8_lossy(&output.stdout));
    if !vars.contains_key("KUBECONFIG") {
        return Err(format!("{} printed no KUBECONFIG", script.display()));
    }
    let env = TestEnv { vars };
    install_crds(&env)?;
    Ok(env)
}

/// Installs the Istio CRDs, from a thread of its own: the caller may be inside a test runtime,
/// which cannot block on another.
fn install_crds(env: &TestEnv) -> Result<(), String> {
    let kubeconfig = env.kubeconfig().to_path_buf();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async {
            let client = istio_pkg::kube::client(Some(&kubeconfig), None)
                .await
                .map_err(|e| e.to_string())?;
            istio_pkg::kube::crd::install_crds(
                client,
                &istio_pkg::config::crd::all_crds(),
                CRD_TIMEOUT,
            )
            .await
            .map_err(|e| format!("installing the Istio CRDs: {e}"))
        })
    })
    .join()
    .map_err(|_| "the CRD installer thread panicked".to_string())?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_file_parsing() {
        let vars =
            parse_env("KUBECONFIG=/tmp/x/kubeconfig\nKUBE_TEST_ENV_TOKEN=abc=def\n\nnoise\n");
        assert_eq!(
            vars.get("KUBECONFIG").map(String::as_str),
            Some("/tmp/x/kubeconfig")
        );
        assert_eq!(
            vars.get("KUBE_TEST_ENV_TOKEN").map(String::as_str),
            Some("abc=def")
        );
        assert_eq!(vars.len(), 2);
    }

    #[test]
    fn suffixes_are_unique_dns_labels() {
        let a = unique_suffix();
        let b = unique_suffix();
        assert_ne!(a, b);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
    }
}
