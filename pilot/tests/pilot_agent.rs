//! The pilot-agent binary as the proxy image runs it, with a stand-in for Envoy: a shell
//! script that records its command line per restart epoch and runs until pilot-agent goes
//! away (or crashes on request). The test serves the stand-in's admin API itself (`/stats`,
//! `/server_info`), so it decides when "Envoy" is configured and live.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::Router;

const BIN: &str = env!("CARGO_BIN_EXE_pilot-agent");

const DRAIN_FILE: &str = "/var/lib/istio/envoy/envoy_bootstrap_drain.json";

/// The stand-in Envoy. `mode` in its directory: `run` (default) or `crash` (exit 3).
const FAKE_ENVOY: &str = r#"#!/bin/sh
dir=$(dirname "$0")
epoch=x
prev=
for a in "$@"; do
  if [ "$prev" = "--restart-epoch" ]; then epoch=$a; fi
  prev=$a
done
for a in "$@"; do printf '%s\n' "$a"; done > "$dir/argv-$epoch.tmp"
echo $$ > "$dir/pid-$epoch"
mv "$dir/argv-$epoch.tmp" "$dir/argv-$epoch"
if [ "$(cat "$dir/mode" 2>/dev/null)" = crash ]; then exit 3; fi
parent=$PPID
while kill -0 "$parent" 2>/dev/null; do sleep 0.1; done
"#;

/// What the fake admin API reports.
#[derive(Clone)]
struct Admin {
    state: Arc<Mutex<(String, String)>>,
    addr: SocketAddr,
}

impl Admin {
    async fn start() -> Admin {
        let state = Arc::new(Mutex::new((String::new(), "LIVE".to_string())));
        let app = Router::new()
            .route(
                "/stats",
                get(
                    |State(s): State<Arc<Mutex<(String, String)>>>,
                     Query(q): Query<BTreeMap<String, String>>| async move {
                        assert!(q.contains_key("usedonly"));
                        s.lock().unwrap().0.clone()
                    },
                ),
            )
            .route(
                "/server_info",
                get(|State(s): State<Arc<Mutex<(String, String)>>>| async move {
                    format!(
                        "{{\"version\":\"fake\",\"state\":\"{}\",\"uptime_current_epoch\":\"1s\"}}",
                        s.lock().unwrap().1
                    )
                }),
            )
            .with_state(state.clone());
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(l, app).await });
        Admin { state, addr }
    }

    fn set(&self, stats: &str, state: &str) {
        *self.state.lock().unwrap() = (stats.to_string(), state.to_string());
    }
}

/// A pilot-agent process and its files.
struct Agent {
    child: Child,
    dir: tempfile::TempDir,
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Agent {
    fn envoy_dir(&self) -> PathBuf {
        self.dir.path().join("envoy")
    }

    fn certs_dir(&self) -> PathBuf {
        self.dir.path().join("certs")
    }

    fn argv(&self, epoch: u32) -> Option<Vec<String>> {
        let text = std::fs::read_to_string(self.envoy_dir().join(format!("argv-{epoch}"))).ok()?;
        Some(text.lines().map(str::to_string).collect())
    }

    async fn wait_argv(&self, epoch: u32, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(a) = self.argv(epoch) {
                return a;
            }
            assert!(
                Instant::now() < deadline,
                "epoch {epoch} did not start; log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "pilot-agent did not exit; log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn signal(&self, sig: &str) {
        assert!(Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap()
            .success());
    }

    fn log(&self) -> String {
        let out = std::fs::read_to_string(self.dir.path().join("stdout")).unwrap_or_default();
        let err = std::fs::read_to_string(self.dir.path().join("stderr")).unwrap_or_default();
        format!("{out}{err}")
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr")).unwrap_or_default()
    }
}

/// Options of one run.
struct Run<'a> {
    role: &'a str,
    args: Vec<String>,
    env: Vec<(&'a str, String)>,
    custom_config: bool,
    mode: &'a str,
}

impl Default for Run<'_> {
    fn default() -> Self {
        Run {
            role: "sidecar",
            args: Vec::new(),
            env: Vec::new(),
            custom_config: true,
            mode: "run",
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(admin_port: u16, run: Run<'_>) -> Agent {
    let dir = tempfile::tempdir().unwrap();
    let envoy_dir = dir.path().join("envoy");
    let certs = dir.path().join("certs");
    let config = dir.path().join("config");
    for d in [&envoy_dir, &certs, &config] {
        std::fs::create_dir(d).unwrap();
    }
    let envoy = envoy_dir.join("envoy");
    std::fs::write(&envoy, FAKE_ENVOY).unwrap();
    let mut perm = std::fs::metadata(&envoy).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    std::fs::set_permissions(&envoy, perm).unwrap();
    std::fs::write(envoy_dir.join("mode"), run.mode).unwrap();
    for f in ["cert-chain.pem", "key.pem", "root-cert.pem"] {
        std::fs::write(certs.join(f), format!("{f} v1")).unwrap();
    }
    let custom = dir.path().join("custom.json");
    std::fs::write(&custom, "{}").unwrap();

    let mut args: Vec<String> = vec![
        "proxy".into(),
        run.role.into(),
        "--binaryPath".into(),
        envoy.to_string_lossy().into_owned(),
        "--configPath".into(),
        config.to_string_lossy().into_owned(),
        "--serviceCluster".into(),
        "reviews.default".into(),
        "--proxyAdminPort".into(),
        admin_port.to_string(),
        "--ip".into(),
        "10.1.2.3".into(),
    ];
    if run.custom_config {
        args.extend([
            "--customConfigFile".into(),
            custom.to_string_lossy().into_owned(),
        ]);
    }
    args.extend(run.args);
    let mut cmd = Command::new(BIN);
    cmd.args(&args)
        .env_remove("SDS_ENABLED")
        .env("POD_NAME", "reviews-v1-abc")
        .env("POD_NAMESPACE", "default")
        .env("INSTANCE_IP", "10.1.2.3")
        .env("TERMINATION_DRAIN_DURATION_SECONDS", "1")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(dir.path().join("stdout")).unwrap())
        .stderr(std::fs::File::create(dir.path().join("stderr")).unwrap());
    for (k, f) in [
        ("TLS_SERVER_CERT_CHAIN", "cert-chain.pem"),
        ("TLS_SERVER_KEY", "key.pem"),
        ("TLS_SERVER_ROOT_CERT", "root-cert.pem"),
        ("TLS_CLIENT_CERT_CHAIN", "cert-chain.pem"),
        ("TLS_CLIENT_KEY", "key.pem"),
        ("TLS_CLIENT_ROOT_CERT", "root-cert.pem"),
    ] {
        cmd.env(format!("ISTIO_META_{k}"), certs.join(f));
    }
    for (k, v) in run.env {
        cmd.env(k, v);
    }
    let child = cmd.spawn().unwrap();
    Agent { child, dir }
}

/// A plain HTTP/1.1 request; status and body.
async fn http(method: &str, addr: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("Content-Length: 0\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// Polls the status port until `path` answers `want` (the server starts asynchronously and
/// the fake Envoy's state changes under the test).
async fn until_status(addr: &str, path: &str, want: u16) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            let (status, body) = http("GET", addr, path, &[]).await;
            if status == want {
                return body;
            }
            assert!(Instant::now() < deadline, "{path}: {status} {body}");
        }
        assert!(
            Instant::now() < deadline,
            "{path}: status port {addr} not open"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn process_gone(pid_file: &Path) -> bool {
    let pid = std::fs::read_to_string(pid_file).unwrap();
    !Path::new(&format!("/proc/{}", pid.trim())).exists()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envoy_command_line_and_hot_restart_on_certificate_change() {
    let admin = Admin::start().await;
    let agent = start(
        admin.addr.port(),
        Run {
            args: vec![
                "--concurrency".into(),
                "2".into(),
                "--drainDuration".into(),
                "45s".into(),
                "--parentShutdownDuration".into(),
                "1m0s".into(),
                "--unknownFlag".into(),
                "ignored".into(),
            ],
            ..Default::default()
        },
    );
    let custom = agent.dir.path().join("custom.json");
    let argv = agent.wait_argv(0, Duration::from_secs(20)).await;
    assert_eq!(
        argv,
        [
            "-c",
            &custom.to_string_lossy(),
            "--restart-epoch",
            "0",
            "--drain-time-s",
            "45",
            "--parent-shutdown-time-s",
            "60",
            "--service-cluster",
            "reviews.default",
            "--service-node",
            "sidecar~10.1.2.3~reviews-v1-abc.default~default.svc.cluster.local",
            "--max-obj-name-len",
            "189",
            "--local-address-ip-version",
            "v4",
            "--log-format",
            "[Envoy (Epoch 0)] [%Y-%m-%d %T.%e][%t][%l][%n] %v",
            "-l",
            "warning",
            "--component-log-level",
            "misc:error",
            "--concurrency",
            "2",
        ]
    );
    // Touching a file without changing it does not restart.
    let chain = agent.certs_dir().join("cert-chain.pem");
    std::fs::write(&chain, "cert-chain.pem v1").unwrap();
    // A new certificate: after the watcher's delay (10 s), epoch 1 starts with the same
    // command line and the next epoch.
    std::fs::write(agent.certs_dir().join("key.pem"), "key.pem v2").unwrap();
    let argv1 = agent.wait_argv(1, Duration::from_secs(40)).await;
    assert_eq!(argv1[3], "1");
    assert_eq!(
        argv1[17],
        "[Envoy (Epoch 1)] [%Y-%m-%d %T.%e][%t][%l][%n] %v"
    );
    assert_eq!(argv1[..3], argv[..3]);
    assert_eq!(argv1[4..17], argv[4..17]);
    assert!(agent.argv(2).is_none());
    let log = agent.log();
    assert!(
        log.contains("Received new config, creating new Envoy epoch 1"),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_envoy_and_exits_zero() {
    let admin = Admin::start().await;
    let mut agent = start(admin.addr.port(), Run::default());
    agent.wait_argv(0, Duration::from_secs(20)).await;
    agent.signal("-TERM");
    // Envoy is hot-restarted into the drain bootstrap, then everything stops after
    // TERMINATION_DRAIN_DURATION_SECONDS.
    let drain = agent.wait_argv(1, Duration::from_secs(20)).await;
    assert_eq!(drain[..4], ["-c", DRAIN_FILE, "--restart-epoch", "1"]);
    let status = agent.wait_exit(Duration::from_secs(20)).await;
    assert_eq!(status.code(), Some(0), "{}", agent.log());
    for epoch in [0, 1] {
        assert!(
            process_gone(&agent.envoy_dir().join(format!("pid-{epoch}"))),
            "epoch {epoch} still running"
        );
    }
    let log = agent.log();
    assert!(log.contains("Graceful termination period is 1s"), "{log}");
    assert!(log.contains("Agent has successfully terminated"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashing_envoy_is_not_restarted_and_the_agent_fails() {
    let admin = Admin::start().await;
    let mut agent = start(
        admin.addr.port(),
        Run {
            mode: "crash",
            ..Default::default()
        },
    );
    let status = agent.wait_exit(Duration::from_secs(20)).await;
    assert_eq!(status.code(), Some(255), "{}", agent.log());
    assert!(agent.argv(0).is_some());
    assert!(agent.argv(1).is_none(), "a crashed Envoy was restarted");
    let err = agent.stderr();
    assert!(
        err.contains("Envoy exited: epoch 0 exited with error: exit status 3"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_envoy_state() {
    let admin = Admin::start().await;
    let status_port = free_port();
    let agent = start(
        admin.addr.port(),
        Run {
            args: vec!["--statusPort".into(), status_port.to_string()],
            ..Default::default()
        },
    );
    let addr = format!("127.0.0.1:{status_port}");
    admin.set("cluster_manager.cds.update_success: 0\n", "INITIALIZING");
    let body = until_status(&addr, "/healthz/ready", 503).await;
    assert_eq!(
        body,
        "config not received from Pilot (is Pilot running?): cds updates: 0 successful, 0 rejected; lds updates: 0 successful, 0 rejected"
    );
    admin.set(
        "cluster_manager.cds.update_success: 2\nlistener_manager.lds.update_rejected: 1\n",
        "INITIALIZING",
    );
    let body = until_status(&addr, "/healthz/ready", 503).await;
    assert_eq!(body, "server is not live, current state is: INITIALIZING");
    admin.set("", "LIVE");
    // The config check passed once and is not repeated.
    until_status(&addr, "/healthz/ready", 200).await;
    let (status, _) = http("GET", &addr, "/", &[]).await;
    assert_eq!(status, 404);
    drop(agent);
}

/// An application with HTTP endpoints (recording the headers it got) and a TCP port.
async fn app() -> (u16, Arc<Mutex<Vec<HeaderMap>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let router = Router::new()
        .route(
            "/healthy",
            get(move |h: HeaderMap| async move {
                s.lock().unwrap().push(h);
                StatusCode::OK
            }),
        )
        .route("/sick", get(|| async { StatusCode::SERVICE_UNAVAILABLE }));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(l, router).await });
    (port, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_probes_are_rewritten_to_the_application() {
    let admin = Admin::start().await;
    let (app_port, seen) = app().await;
    let closed = free_port();
    let probers = format!(
        r#"{{"/app-health/web/livez":{{"path":"/healthy","port":{app_port}}},
            "/app-health/web/readyz":{{"httpGet":{{"path":"/sick","port":{app_port},"scheme":"HTTP"}},"timeoutSeconds":1}},
            "/app-health/db/livez":{{"tcpSocket":{{"port":{app_port}}},"timeoutSeconds":1}},
            "/app-health/db/readyz":{{"tcpSocket":{{"port":{closed}}},"timeoutSeconds":1}}}}"#
    );
    let status_port = free_port();
    let _agent = start(
        admin.addr.port(),
        Run {
            args: vec!["--statusPort".into(), status_port.to_string()],
            env: vec![("ISTIO_KUBE_APP_PROBERS", probers)],
            ..Default::default()
        },
    );
    let addr = format!("127.0.0.1:{status_port}");
    until_status(&addr, "/app-health/web/livez", 200).await;
    let (status, body) = http(
        "GET",
        &addr,
        "/app-health/web/livez",
        &[("User-Agent", "kube-probe/1.16"), ("X-Custom", "yes")],
    )
    .await;
    assert_eq!((status, body.as_str()), (200, ""));
    let headers = seen.lock().unwrap().last().cloned().unwrap();
    assert_eq!(headers["x-custom"], "yes");
    assert_eq!(headers["user-agent"], "kube-probe/1.16");
    assert_eq!(
        http("GET", &addr, "/app-health/web/readyz", &[]).await.0,
        503
    );
    assert_eq!(http("GET", &addr, "/app-health/db/livez", &[]).await.0, 200);
    assert_eq!(
        http("GET", &addr, "/app-health/db/readyz", &[]).await.0,
        500
    );
    assert_eq!(
        http("GET", &addr, "/app-health/other/livez", &[]).await,
        (
            400,
            "app prober config does not exists for /app-health/other/livez".into()
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quitquitquit_stops_the_agent() {
    let admin = Admin::start().await;
    let status_port = free_port();
    let mut agent = start(
        admin.addr.port(),
        Run {
            args: vec!["--statusPort".into(), status_port.to_string()],
            ..Default::default()
        },
    );
    let addr = format!("127.0.0.1:{status_port}");
    agent.wait_argv(0, Duration::from_secs(20)).await;
    until_status(&addr, "/healthz/ready", 503).await;
    assert_eq!(
        http("GET", &addr, "/quitquitquit", &[]).await,
        (405, "Method Not Allowed\n".into())
    );
    // From an address of this host that is not loopback, when there is one.
    if let Some(ip) = istio_iptables::netif::interface_addrs()
        .unwrap_or_default()
        .into_iter()
        .find(|a| a.is_ipv4() && !a.is_loopback())
    {
        let remote = format!("{ip}:{status_port}");
        assert_eq!(
            http("POST", &remote, "/quitquitquit", &[]).await,
            (403, "Only requests from localhost are allowed\n".into())
        );
    }
    assert!(agent.child.try_wait().unwrap().is_none());
    assert_eq!(
        http("POST", &addr, "/quitquitquit", &[]).await,
        (200, "OK".into())
    );
    let drain = agent.wait_argv(1, Duration::from_secs(20)).await;
    assert_eq!(drain[1], DRAIN_FILE);
    let status = agent.wait_exit(Duration::from_secs(20)).await;
    assert_eq!(status.code(), Some(0), "{}", agent.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_fails_before_envoy_starts() {
    let admin = Admin::start().await;
    let port = admin.addr.port();
    let status_port = free_port().to_string();
    let cases: Vec<(Run<'_>, i32, &str)> = vec![
        (
            Run {
                args: vec![
                    "--statusPort".into(),
                    status_port.clone(),
                    "--applicationPorts".into(),
                    "9080,http".into(),
                ],
                ..Default::default()
            },
            255,
            "invalid --applicationPorts \"http\": strconv.ParseUint: parsing \"http\": invalid syntax",
        ),
        (
            Run {
                env: vec![("ISTIO_METAJSON_LABELS", "{\"app\": ".into())],
                ..Default::default()
            },
            255,
            "invalid environment variable ISTIO_METAJSON_LABELS: malformed JSON",
        ),
        (
            Run {
                args: vec!["--statusPort".into(), "70000".into()],
                ..Default::default()
            },
            255,
            "--statusPort",
        ),
        (
            Run {
                role: "ingress",
                ..Default::default()
            },
            255,
            "Invalid role Type: ingress",
        ),
        (
            Run {
                args: vec!["--statusPort".into(), status_port.clone()],
                env: vec![("ISTIO_KUBE_APP_PROBERS", "{\"/app-health/a/startz\":{}}".into())],
                ..Default::default()
            },
            255,
            "invalid key, must be in form of regex pattern",
        ),
        (
            Run {
                args: vec!["--drainDuration".into(), "0s".into()],
                ..Default::default()
            },
            255,
            "drain duration",
        ),
        // No --customConfigFile: the bootstrap would be rendered from the template.
        (
            Run {
                custom_config: false,
                ..Default::default()
            },
            1,
            "failed to generate bootstrap config: bootstrap template rendering is not available yet",
        ),
    ];
    for (run, code, message) in cases {
        let what = format!("{} {:?} {:?}", run.role, run.args, run.env);
        let mut agent = start(port, run);
        let status = agent.wait_exit(Duration::from_secs(20)).await;
        assert_eq!(status.code(), Some(code), "{what}: {}", agent.log());
        let err = agent.stderr();
        assert!(err.contains(message), "{what}: {err}");
        assert!(agent.argv(0).is_none(), "{what}: Envoy was started");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_goes_to_envoy_admin() {
    // `request` always talks to localhost:15000; skip when the port is taken.
    let Ok(l) = tokio::net::TcpListener::bind("127.0.0.1:15000").await else {
        eprintln!("port 15000 is in use; skipping");
        return;
    };
    let app = Router::new()
        .route("/stats", get(|| async { "server.live: 1\n" }))
        .route(
            "/logging",
            axum::routing::post(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "no") }),
        );
    tokio::spawn(async move { axum::serve(l, app).await });
    let out = tokio::task::spawn_blocking(|| {
        Command::new(BIN)
            .args(["request", "GET", "stats"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "server.live: 1\n\n");
    let out = tokio::task::spawn_blocking(|| {
        Command::new(BIN)
            .args(["request", "POST", "/logging", "level=debug"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(255));
    assert!(out.stdout.is_empty());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("received unsuccessful status code 500: no")
    );
}

#[test]
fn version_and_help() {
    let out = Command::new(BIN).args(["version", "-s"]).output().unwrap();
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stdout).trim().is_empty());
    let out = Command::new(BIN)
        .args(["proxy", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--serviceregistry",
        "--ip",
        "--id",
        "--domain",
        "--trust-domain",
        "--pilotIdentity",
        "--mixerIdentity",
        "--statusPort",
        "--applicationPorts",
        "--configPath",
        "--binaryPath",
        "--serviceCluster",
        "--drainDuration",
        "--parentShutdownDuration",
        "--discoveryAddress",
        "--zipkinAddress",
        "--lightstepAddress",
        "--lightstepAccessToken",
        "--lightstepSecure",
        "--lightstepCacertPath",
        "--datadogAgentAddress",
        "--connectTimeout",
        "--statsdUdpAddress",
        "--envoyMetricsService",
        "--envoyAccessLogService",
        "--proxyAdminPort",
        "--controlPlaneAuthPolicy",
        "--customConfigFile",
        "--proxyLogLevel",
        "--proxyComponentLogLevel",
        "--dnsRefreshRate",
        "--concurrency",
        "--templateFile",
        "--disableInternalTelemetry",
        "--controlPlaneBootstrap",
        "--log_output_level",
    ] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
}
