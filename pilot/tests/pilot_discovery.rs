//! The pilot-discovery binary as users run it: flags, file config, ADS over v2, the HTTP
//! endpoints, config changes pushed to a connected proxy, and a clean exit on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod ads_client;
use ads_client::{cluster_names, AdsClient, Api, V2_CDS};

const BIN: &str = env!("CARGO_BIN_EXE_pilot-discovery");

fn service_entry(name: &str, host: &str, port: u32) -> String {
    format!(
        "apiVersion: networking.istio.io/v1alpha3\nkind: ServiceEntry\nmetadata:\n  name: {name}\n  namespace: default\n\
         spec:\n  hosts: [{host}]\n  location: MESH_EXTERNAL\n  resolution: DNS\n  ports:\n  - number: {port}\n    name: http\n    protocol: HTTP\n"
    )
}

struct Pilot {
    child: Child,
    grpc: String,
    http: String,
    monitoring: String,
    ctrlz: String,
}

impl Drop for Pilot {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// Starts the binary on loopback with ephemeral ports and reads the bound addresses from its
/// start-up log line.
fn start(config_dir: &std::path::Path) -> Pilot {
    let mut child = Command::new(BIN)
        .args([
            "discovery",
            "--registries=",
            "--meshConfig=",
            "--networksConfig=",
            "--secureGrpcAddr=",
        ])
        .args([
            "--grpcAddr",
            "127.0.0.1:0",
            "--httpAddr",
            "127.0.0.1:0",
            "--monitoringAddr",
            "127.0.0.1:0",
            "--ctrlz_port",
            "0",
            "--ctrlz_address",
            "127.0.0.1",
        ])
        .arg("--configDir")
        .arg(config_dir)
        .env("PILOT_DEBOUNCE_AFTER", "10ms")
        // Logs go to stdout by default, as upstream's.
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start pilot-discovery");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    // Read the log on a thread (and keep draining it so the child never blocks on the pipe).
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains("pilot-discovery serving:") || line.contains("ControlZ available at ")
            {
                let _ = tx.send(line);
            }
        }
    });
    let serving = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("pilot-discovery did not report its addresses within 30s");
    let ctrlz_line = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("pilot-discovery did not report ControlZ's address");
    let ctrlz = ctrlz_line
        .rsplit("ControlZ available at ")
        .next()
        .map(|a| a.split_whitespace().next().unwrap_or("").to_string())
        .expect("ControlZ address");
    let addr = |key: &str| {
        let start = serving.find(&format!("{key}=Some(")).expect(key) + key.len() + 6;
        let end = serving[start..].find(')').expect(")") + start;
        serving[start..end].to_string()
    };
    Pilot {
        child,
        grpc: addr("grpc"),
        http: addr("http"),
        monitoring: addr("monitoring"),
        ctrlz,
    }
}

async fn get(addr: &str, path: &str) -> (u16, String) {
    request(addr, "GET", path, "").await
}

async fn request(addr: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(
        format!(
            "{method} {path} HTTP/1.0\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
    .await
    .expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).await.expect("read");
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

#[tokio::test]
async fn serves_file_config_pushes_changes_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.yaml"),
        service_entry("a", "a.example.com", 80),
    )
    .unwrap();
    let mut pilot = start(dir.path());

    // HTTP endpoints on both ports.
    let (status, _) = get(&pilot.http, "/ready").await;
    assert_eq!(status, 200);
    let (status, version) = get(&pilot.monitoring, "/version").await;
    assert_eq!(status, 200);
    assert!(
        version.starts_with(istio_pkg::version::info().version.as_str()),
        "{version}"
    );

    // ControlZ: scopes listed and changed at run time, metrics as families.
    let (status, scopes) = get(&pilot.ctrlz, "/scopej/ads").await;
    assert_eq!(status, 200, "{scopes}");
    assert!(scopes.contains(r#""output_level":"info""#), "{scopes}");
    let (status, _) = request(
        &pilot.ctrlz,
        "PUT",
        "/scopej/ads",
        r#"{"output_level":"debug","stack_trace_level":"none"}"#,
    )
    .await;
    assert_eq!(status, 202);
    let (_, scopes) = get(&pilot.ctrlz, "/scopej/ads").await;
    assert!(scopes.contains(r#""output_level":"debug""#), "{scopes}");
    let (status, metrics) = get(&pilot.ctrlz, "/metricj/").await;
    assert_eq!(status, 200);
    assert!(metrics.contains(r#""name":"pilot_xds""#), "{metrics}");

    // A v2 sidecar gets the ServiceEntry's cluster with the v2 type URL.
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", pilot.grpc))
        .unwrap()
        .connect()
        .await
        .expect("connect ADS");
    let mut client = AdsClient::connect(
        channel,
        Api::V2,
        "sidecar~10.1.1.1~app-1.default~default.svc.cluster.local",
    )
    .await;
    client.request(V2_CDS, &[]).await;
    let cds = client
        .until(Duration::from_secs(10), |_| true)
        .await
        .expect("a response within 10s");
    assert_eq!(cds.type_url, V2_CDS);
    let names = cluster_names(&cds);
    assert!(
        names.contains(&"outbound|80||a.example.com".to_string()),
        "{names:?}"
    );
    assert!(
        names.contains(&"PassthroughCluster".to_string()),
        "{names:?}"
    );

    // A new file is pushed to the connected proxy.
    std::fs::write(
        dir.path().join("b.yaml"),
        service_entry("b", "b.example.com", 8080),
    )
    .unwrap();
    client
        .until(Duration::from_secs(15), |r| {
            r.type_url == V2_CDS
                && cluster_names(r).contains(&"outbound|8080||b.example.com".to_string())
        })
        .await
        .expect("no CDS push with the new ServiceEntry");

    // Metrics use upstream's names.
    let (status, metrics) = get(&pilot.monitoring, "/metrics").await;
    assert_eq!(status, 200);
    assert!(metrics.contains("pilot_xds "), "{metrics}");
    assert!(metrics.contains("pilot_xds_pushes{"), "{metrics}");
    let (_, on_http) = get(&pilot.http, "/metrics").await;
    assert!(
        on_http.contains("pilot_xds"),
        "the mux is shared by both ports"
    );

    // SIGTERM: a clean exit.
    let pid = pilot.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = pilot.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "pilot-discovery did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status}");
}

#[test]
fn bad_flags_fail_with_a_message_naming_the_flag() {
    let out = Command::new(BIN)
        .args([
            "discovery",
            "--registries",
            "Eureka",
            "--configDir",
            "/nonexistent",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(255));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--registries") && err.contains("Eureka"),
        "{err}"
    );

    let out = Command::new(BIN)
        .args(["discovery", "--grpcAddr"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(255));

    let out = Command::new(BIN).args(["version", "-s"]).output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        istio_pkg::version::info().version
    );
}
