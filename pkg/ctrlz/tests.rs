use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt;

use super::*;
use crate::log::{self, Scope};

const ADS: Scope = Scope::new("ads", "ADS debugging");

fn ctx() -> (Ctx, LogHandle) {
    let (_layer, handle) =
        log::build_layer_with_writer(&log::Args::default(), &[ADS], std::io::sink()).unwrap();
    let metrics: MetricsFn = Arc::new(|| {
        "# HELP pilot_xds Number of endpoints connected.\n# TYPE pilot_xds gauge\npilot_xds 3\n\
         # HELP pilot_xds_pushes Pushes.\n# TYPE pilot_xds_pushes counter\n\
         pilot_xds_pushes{type=\"cds\"} 5\npilot_xds_pushes{type=\"eds\"} 7\n"
            .to_string()
    });
    (
        Ctx {
            log: Some(handle.clone()),
            metrics: Some(metrics),
            sigusr1: Arc::new(Notify::new()),
        },
        handle,
    )
}

async fn call(ctx: &Ctx, method: &str, path: &str, body: &str) -> (StatusCode, String) {
    let resp = router(ctx.clone())
        .oneshot(
            Request::builder()
                .method(method)
                .uri(path)
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await
        .unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

#[tokio::test]
async fn scopes_are_listed_read_and_changed() {
    let (ctx, handle) = ctx();
    let (st, body) = call(&ctx, "GET", "/scopej/", "").await;
    assert_eq!(st, StatusCode::OK);
    let v: Vec<ScopeJson> = serde_json::from_str(&body).unwrap();
    let ads = v.iter().find(|s| s.name == "ads").unwrap();
    assert_eq!(ads.output_level, "info");
    assert_eq!(ads.description, "ADS debugging");
    assert!(v.iter().any(|s| s.name == "default"));

    let (st, _) = call(
        &ctx,
        "PUT",
        "/scopej/ads",
        r#"{"output_level":"debug","stack_trace_level":"error","log_callers":true}"#,
    )
    .await;
    assert_eq!(st, StatusCode::ACCEPTED);
    let info = handle.scope("ads").unwrap();
    assert_eq!(info.output_level, Level::Debug);
    assert_eq!(info.stack_trace_level, Level::Error);
    assert!(info.log_callers);
    let (st, body) = call(&ctx, "GET", "/scopej/ads", "").await;
    assert_eq!(st, StatusCode::OK);
    assert!(body.contains(r#""output_level":"debug""#), "{body}");

    // As upstream: an unknown level leaves the level alone, an unknown scope is a 400.
    let (st, _) = call(&ctx, "PUT", "/scopej/ads", r#"{"output_level":"loud"}"#).await;
    assert_eq!(st, StatusCode::ACCEPTED);
    assert_eq!(handle.scope("ads").unwrap().output_level, Level::Debug);
    let (st, body) = call(&ctx, "PUT", "/scopej/nope", r#"{"output_level":"debug"}"#).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(body.contains("unknown scope name: nope"), "{body}");
    let (st, body) = call(&ctx, "PUT", "/scopej/ads", "{not json").await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(body.contains("unable to decode request"), "{body}");
}

#[tokio::test]
async fn process_topics_report_this_process() {
    let (ctx, _) = ctx();
    let (st, body) = call(&ctx, "GET", "/procj/", "").await;
    assert_eq!(st, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["pid"], std::process::id());
    assert!(v["threads"].as_u64().unwrap() >= 1);
    for k in [
        "egid",
        "euid",
        "gid",
        "groups",
        "ppid",
        "uid",
        "wd",
        "hostname",
        "tempdir",
        "goroutines",
    ] {
        assert!(v.get(k).is_some(), "missing {k} in {body}");
    }
    let (_, body) = call(&ctx, "GET", "/memj/", "").await;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(v["resident_bytes"].as_u64().unwrap() > 0, "{body}");
    let (st, _) = call(&ctx, "PUT", "/memj/forcecollection", "").await;
    assert_eq!(st, StatusCode::ACCEPTED);

    let (_, body) = call(&ctx, "GET", "/envj/", "").await;
    let v: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap();
    let path = std::env::var("PATH").unwrap_or_default();
    assert!(v
        .iter()
        .any(|e| e["name"] == "PATH" && e["value"] == path.as_str()));
    let (_, body) = call(&ctx, "GET", "/argj/", "").await;
    let v: Vec<String> = serde_json::from_str(&body).unwrap();
    assert_eq!(v, std::env::args().collect::<Vec<_>>());
    let (_, body) = call(&ctx, "GET", "/versionj/", "").await;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["version"], crate::version::info().version.as_str());
}

#[tokio::test]
async fn metrics_as_prom2json_families() {
    let (ctx, _) = ctx();
    let (st, body) = call(&ctx, "GET", "/metricj/", "").await;
    assert_eq!(st, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v[0]["name"], "pilot_xds");
    assert_eq!(v[0]["type"], "GAUGE");
    assert_eq!(v[0]["metrics"][0]["value"], "3");
    assert_eq!(v[1]["name"], "pilot_xds_pushes");
    assert_eq!(v[1]["metrics"][1]["labels"]["type"], "eds");
    assert_eq!(v[1]["metrics"][1]["value"], "7");
}

#[test]
fn prometheus_text_histograms_and_escapes() {
    let text = "# TYPE t histogram\nt_bucket{le=\"0.5\",path=\"a\\\"b\"} 1\nt_sum 2.5\nt_count 1\n";
    let f = parse_prometheus_text(text);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].kind, "HISTOGRAM");
    assert_eq!(f[0].metrics.len(), 3);
    assert_eq!(f[0].metrics[0].labels["path"], "a\"b");
    assert_eq!(f[0].metrics[0].labels["le"], "0.5");
    assert_eq!(f[0].metrics[2].name, "t_count");
}

#[tokio::test]
async fn html_pages_and_signals() {
    let (ctx, _) = ctx();
    for p in [
        "/",
        "/scopez/",
        "/memz/",
        "/envz/",
        "/procz/",
        "/argz/",
        "/versionz/",
        "/metricz/",
        "/signalz/",
    ] {
        let (st, body) = call(&ctx, "GET", p, "").await;
        assert_eq!(st, StatusCode::OK, "{p}");
        assert!(body.starts_with("<!DOCTYPE html>"), "{p}");
    }
    let (_, body) = call(&ctx, "GET", "/scopez/", "").await;
    assert!(body.contains("<td>ads</td>"), "{body}");
    let (st, _) = call(&ctx, "GET", "/nothing", "").await;
    assert_eq!(st, StatusCode::NOT_FOUND);

    let notified = ctx.sigusr1.clone();
    let wait = tokio::spawn(async move { notified.notified().await });
    tokio::task::yield_now().await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let (st, _) = call(&ctx, "POST", "/signalj/SIGUSR1", "").await;
    assert_eq!(st, StatusCode::ACCEPTED);
    tokio::time::timeout(std::time::Duration::from_secs(2), wait)
        .await
        .expect("SIGUSR1 delivered")
        .unwrap();
}

#[tokio::test]
async fn serves_on_its_port_and_stops() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let shutdown = CancellationToken::new();
    let args = Args {
        port: 0,
        address: "127.0.0.1".into(),
    };
    let server = run(&args, None, None, shutdown.clone()).await.unwrap();
    let addr = server.address();
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /scopej/ HTTP/1.0\r\n\r\n").await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    assert!(out.starts_with("HTTP/1.0 200"), "{out}");
    assert!(out.ends_with("[]\n"), "{out}");
    // A second server on the same port fails, for the caller to log.
    let taken = Args {
        port: addr.port(),
        address: "127.0.0.1".into(),
    };
    assert!(run(&taken, None, None, shutdown.clone()).await.is_err());
    shutdown.cancel();
    tokio::time::timeout(std::time::Duration::from_secs(5), server.stopped())
        .await
        .expect("stops on shutdown");
}

#[test]
fn bind_addresses() {
    let a = |address: &str| {
        bind_address(&Args {
            port: 9876,
            address: address.into(),
        })
    };
    assert_eq!(a("localhost"), "localhost:9876");
    assert_eq!(a("*"), "0.0.0.0:9876");
    assert_eq!(a("::1"), "[::1]:9876");
    assert_eq!(a("10.0.0.1"), "10.0.0.1:9876");
}
