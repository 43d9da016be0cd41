//! The HTTP side of pilot: the debug mux on `--httpAddr` (8080) and the same mux plus
//! `/metrics` and `/version` on `--monitoringAddr` (15014). Upstream shares one mux between
//! both, so every path answers on both ports; we do the same.

use std::future::Future;
use std::io;
use std::sync::Arc;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;

use super::args::listen_addr;

/// Renders the metrics exposition (Prometheus text format) on demand.
pub type MetricsFn = Arc<dyn Fn() -> String + Send + Sync>;

/// Binds a Go-style listen address. `:port` listens on every interface, IPv6 and IPv4, and
/// falls back to IPv4 only when the host has no IPv6.
pub async fn bind(addr: &str) -> io::Result<TcpListener> {
    let a = listen_addr(addr).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    match TcpListener::bind(&a).await {
        Ok(l) => Ok(l),
        Err(e) if a.starts_with("[::]:") => {
            let v4 = a.replacen("[::]", "0.0.0.0", 1);
            TcpListener::bind(&v4).await.map_err(|_| e)
        }
        Err(e) => Err(io::Error::new(e.kind(), format!("listen on {addr}: {e}"))),
    }
}

/// `/metrics` and `/version`, added to the shared mux.
pub fn monitoring_routes(metrics: MetricsFn) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(move || {
                let metrics = metrics.clone();
                async move {
                    (
                        [(
                            header::CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8",
                        )],
                        metrics(),
                    )
                }
            }),
        )
        .route("/version", get(|| async { version_string() }))
}

/// Upstream's `BuildInfo.String()`: `<version>-<revision>-<status>`.
pub fn version_string() -> String {
    let info = istio_pkg::version::info();
    format!(
        "{}-{}-{}",
        info.version, info.git_revision, info.build_status
    )
}

/// 404 with a plain message, for unknown paths.
pub async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "404 page not found\n").into_response()
}

/// Serves `router` on `listener` until `shutdown` completes, then finishes in-flight requests.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    axum::serve(listener, router.fallback(not_found))
        .with_graceful_shutdown(shutdown)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Command;

    #[tokio::test]
    async fn metrics_version_and_404() {
        let listener = bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let stop = tokio_util::sync::CancellationToken::new();
        let router = monitoring_routes(Arc::new(|| "pilot_xds 3\n".to_string()));
        let s = stop.clone();
        let server = tokio::spawn(serve(listener, router, async move { s.cancelled().await }));
        let c = Command::new(addr);
        assert_eq!(
            c.send("GET", "/metrics", "").await.unwrap(),
            "pilot_xds 3\n"
        );
        assert_eq!(
            c.send("GET", "/version", "").await.unwrap(),
            version_string()
        );
        assert_eq!(
            c.send("GET", "/nope", "").await.unwrap(),
            "404 page not found\n"
        );
        stop.cancel();
        server.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn bind_reports_bad_addresses() {
        assert!(bind("nonsense").await.is_err());
        let l = bind(":0").await.unwrap();
        assert!(l.local_addr().unwrap().port() > 0);
    }
}
