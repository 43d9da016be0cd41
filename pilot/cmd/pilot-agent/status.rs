//! The status server on `--statusPort` (upstream `pilot/cmd/pilot-agent/status`):
//!
//! - `/healthz/ready`: 200 when Envoy is ready ([`ready::Probe`]), else 503 with the reason;
//! - `/quitquitquit`: `POST` from loopback makes pilot-agent shut down (403 from elsewhere,
//!   405 for other methods);
//! - `/app-health/<container>/{livez,readyz}`: the application's Kubernetes probes, rewritten
//!   by the injector and described in `ISTIO_KUBE_APP_PROBERS`, are run against the
//!   application on localhost and answered with its status code (400 for an unknown path);
//! - anything else is 404.

pub mod ready;

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{anyhow, bail};
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, Method, Request, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use istio_pilot::model::context::NodeType;
use istio_pkg::envoy::admin;

/// The variable the injector passes the rewritten application probes in.
pub const KUBE_APP_PROBER_ENV_NAME: &str = "ISTIO_KUBE_APP_PROBERS";
const READY_PATH: &str = "/healthz/ready";
const QUIT_PATH: &str = "/quitquitquit";
/// Upstream's fixed timeout of a forwarded probe.
const DEFAULT_PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Status server settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub local_host_addr: String,
    pub admin_port: u16,
    pub status_port: u16,
    pub application_ports: Vec<u16>,
    /// `ISTIO_KUBE_APP_PROBERS` (JSON).
    pub kube_app_probers: String,
    pub node_type: NodeType,
}

/// How one application probe is run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppProber {
    Http {
        path: String,
        port: u16,
        https: bool,
        timeout: Duration,
    },
    Tcp {
        port: u16,
        timeout: Duration,
    },
}

/// Whether `path` is `/app-health/<container>/livez` or `.../readyz`.
fn is_app_prober_path(path: &str) -> bool {
    let Some(rest) = path.strip_prefix("/app-health/") else {
        return false;
    };
    match rest.split_once('/') {
        Some((container, probe)) => {
            !container.is_empty() && (probe == "livez" || probe == "readyz")
        }
        None => false,
    }
}

fn int_port(v: Option<&Value>, path: &str) -> anyhow::Result<u16> {
    let not_int = || anyhow!("invalid prober config for {path}, the port must be int type");
    match v {
        None => Ok(0),
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .ok_or_else(|| anyhow!("invalid prober config for {path}, port {n} is out of range")),
        Some(_) => Err(not_int()),
    }
}

fn http_prober(action: &Value, path: &str, timeout: Duration) -> anyhow::Result<AppProber> {
    let obj = action
        .as_object()
        .ok_or_else(|| anyhow!("invalid prober config for {path}: not a JSON object"))?;
    Ok(AppProber::Http {
        path: obj
            .get("path")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        port: int_port(obj.get("port"), path)?,
        https: obj.get("scheme").and_then(Value::as_str) == Some("HTTPS"),
        timeout,
    })
}

/// Reads `ISTIO_KUBE_APP_PROBERS`: a map from prober path to either an `HTTPGetAction` (the
/// Istio 1.4 injector's format) or a probe with `httpGet` or `tcpSocket` and
/// `timeoutSeconds` (the format of later injectors).
pub fn parse_probers(json: &str) -> anyhow::Result<BTreeMap<String, AppProber>> {
    let decode =
        |e: String| anyhow!("failed to decode app http prober err = {e}, json string = {json}");
    let doc: Value = serde_json::from_str(json).map_err(|e| decode(e.to_string()))?;
    let Value::Object(map) = doc else {
        return Err(decode("not a JSON object".into()));
    };
    let mut probers = BTreeMap::new();
    for (path, v) in map {
        if !is_app_prober_path(&path) {
            bail!(
                r"invalid key, must be in form of regex pattern ^/app-health/[^\/]+/(livez|readyz)$"
            );
        }
        let Value::Object(o) = &v else {
            bail!("invalid prober config for {path}: not a JSON object");
        };
        let timeout = match o.get("timeoutSeconds").and_then(Value::as_u64) {
            Some(s) if s > 0 => Duration::from_secs(s),
            _ => DEFAULT_PROBE_TIMEOUT,
        };
        let prober = if let Some(h) = o.get("httpGet") {
            http_prober(h, &path, timeout)?
        } else if let Some(t) = o.get("tcpSocket") {
            AppProber::Tcp {
                port: int_port(t.get("port"), &path)?,
                timeout,
            }
        } else {
            http_prober(&v, &path, DEFAULT_PROBE_TIMEOUT)?
        };
        probers.insert(path, prober);
    }
    Ok(probers)
}

/// The status server.
pub struct Server {
    ready: ready::Probe,
    probers: BTreeMap<String, AppProber>,
    status_port: u16,
    last_probe_successful: Mutex<bool>,
    tls: Arc<rustls::ClientConfig>,
}

impl Server {
    /// Checks the configuration; a bad `ISTIO_KUBE_APP_PROBERS` is an error.
    pub fn new(config: Config) -> anyhow::Result<Server> {
        let probers = if config.kube_app_probers.is_empty() {
            BTreeMap::new()
        } else {
            parse_probers(&config.kube_app_probers)?
        };
        Ok(Server {
            ready: ready::Probe::new(
                config.local_host_addr,
                config.admin_port,
                config.application_ports,
                config.node_type,
            ),
            probers,
            status_port: config.status_port,
            last_probe_successful: Mutex::new(false),
            tls: Arc::new(insecure_tls_client()?),
        })
    }

    /// Listens on every interface, as upstream.
    pub async fn bind(&self) -> std::io::Result<TcpListener> {
        istio_pilot::bootstrap::http::bind(&format!(":{}", self.status_port)).await
    }

    /// The routes; `quit` is cancelled by `/quitquitquit`.
    pub fn router(self: Arc<Self>, quit: CancellationToken) -> Router {
        Router::new()
            .route(READY_PATH, any(handle_ready))
            .route(QUIT_PATH, any(handle_quit))
            .route("/app-health/", any(handle_app_probe))
            .route("/app-health/{*rest}", any(handle_app_probe))
            .fallback(istio_pilot::bootstrap::http::not_found)
            .with_state(AppState { server: self, quit })
    }

    /// Serves until `shutdown`; if serving fails, asks the agent to quit (the pod could
    /// never become ready).
    pub async fn run(
        self: Arc<Self>,
        listener: TcpListener,
        shutdown: CancellationToken,
        quit: CancellationToken,
    ) {
        tracing::info!("Opening status port {}", self.status_port);
        let app = self
            .router(quit.clone())
            .into_make_service_with_connect_info::<SocketAddr>();
        let stop = shutdown.clone();
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await;
        if let Err(e) = served {
            tracing::error!("status server failed: {e}");
            quit.cancel();
        }
        tracing::info!("Status server has successfully terminated");
    }
}

#[derive(Clone)]
struct AppState {
    server: Arc<Server>,
    quit: CancellationToken,
}

async fn handle_ready(State(st): State<AppState>) -> Response {
    let result = st.server.ready.check().await;
    let mut last = st
        .server
        .last_probe_successful
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    match result {
        Ok(()) => {
            if !*last {
                tracing::info!("Envoy proxy is ready");
            }
            *last = true;
            StatusCode::OK.into_response()
        }
        Err(reason) => {
            tracing::info!("Envoy proxy is NOT ready: {reason}");
            *last = false;
            (StatusCode::SERVICE_UNAVAILABLE, reason).into_response()
        }
    }
}

/// Go's `IP.IsLoopback`: 127/8 (also IPv4-mapped) and `::1`.
fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map_or(v6.is_loopback(), |v4| v4.is_loopback()),
    }
}

fn plain_error(status: StatusCode, message: &str) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        format!("{message}\n"),
    )
        .into_response()
}

async fn handle_quit(
    State(st): State<AppState>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    method: Method,
) -> Response {
    if !is_loopback(remote.ip()) {
        return plain_error(
            StatusCode::FORBIDDEN,
            "Only requests from localhost are allowed",
        );
    }
    if method != Method::POST {
        return plain_error(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed");
    }
    tracing::info!("handling {QUIT_PATH}, notifying pilot-agent to exit");
    st.quit.cancel();
    (StatusCode::OK, "OK").into_response()
}

async fn handle_app_probe(State(st): State<AppState>, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path();
    let Some(prober) = st.server.probers.get(path) else {
        tracing::error!("Prober does not exists url {path}");
        return (
            StatusCode::BAD_REQUEST,
            format!("app prober config does not exists for {path}"),
        )
            .into_response();
    };
    let result = match prober {
        AppProber::Http {
            path: app_path,
            port,
            https,
            timeout,
        } => {
            let tls = https.then(|| st.server.tls.clone());
            tokio::time::timeout(*timeout, probe_http(*port, app_path, tls, &headers))
                .await
                .unwrap_or_else(|_| Err(format!("timed out after {timeout:?}")))
        }
        AppProber::Tcp { port, timeout } => {
            match tokio::time::timeout(
                *timeout,
                tokio::net::TcpStream::connect(("localhost", *port)),
            )
            .await
            {
                Ok(Ok(_)) => Ok(StatusCode::OK),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err(format!("timed out after {timeout:?}")),
            }
        }
    };
    match result {
        Ok(status) => status.into_response(),
        Err(e) => {
            tracing::error!("Request to probe app failed: {e}, original URL path = {path}");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// `GET` of the application's probe path on localhost, with the incoming headers; the
/// response's status code.
async fn probe_http(
    port: u16,
    path: &str,
    tls: Option<Arc<rustls::ClientConfig>>,
    headers: &HeaderMap,
) -> Result<StatusCode, String> {
    let authority = format!("localhost:{port}");
    let mut req = Request::builder()
        .method(Method::GET)
        .uri(if path.is_empty() { "/" } else { path });
    for (name, value) in headers {
        let hop = [
            header::HOST,
            header::CONNECTION,
            header::CONTENT_LENGTH,
            header::TRANSFER_ENCODING,
        ];
        if !hop.contains(name) {
            req = req.header(name, value);
        }
    }
    let req = req
        .header(header::HOST, &authority)
        .header(header::CONNECTION, "close")
        .body(admin::FullBody::default())
        .map_err(|e| e.to_string())?;
    let tcp = tokio::net::TcpStream::connect(("localhost", port))
        .await
        .map_err(|e| format!("dial {authority}: {e}"))?;
    let resp = match tls {
        None => admin::send(&authority, tcp, req).await,
        Some(config) => {
            let name =
                rustls_pki_types::ServerName::try_from("localhost").map_err(|e| e.to_string())?;
            let stream = tokio_rustls::TlsConnector::from(config)
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS handshake with {authority}: {e}"))?;
            admin::send(&authority, stream, req).await
        }
    };
    resp.map(|r| r.status).map_err(|e| e.to_string())
}

/// A TLS client that accepts any server certificate: kubelet does not verify HTTPS probes
/// either.
fn insecure_tls_client() -> Result<rustls::ClientConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(AcceptAnyCert(provider.clone()));
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

#[derive(Debug)]
struct AcceptAnyCert(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls_pki_types::CertificateDer<'_>,
        _intermediates: &[rustls_pki_types::CertificateDer<'_>],
        _server_name: &rustls_pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls_pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use tower::ServiceExt;

    #[test]
    fn prober_formats() {
        let p = parse_probers(
            r#"{"/app-health/a/livez":{"path":"/hello","port":8080},
                "/app-health/b/readyz":{"path":"/s","port":8443,"scheme":"HTTPS"},
                "/app-health/c/livez":{"httpGet":{"path":"/x","port":9090,"scheme":"HTTP"},"timeoutSeconds":3},
                "/app-health/d/readyz":{"tcpSocket":{"port":5432},"timeoutSeconds":1}}"#,
        )
        .unwrap();
        assert_eq!(
            p["/app-health/a/livez"],
            AppProber::Http {
                path: "/hello".into(),
                port: 8080,
                https: false,
                timeout: DEFAULT_PROBE_TIMEOUT
            }
        );
        assert!(matches!(
            p["/app-health/b/readyz"],
            AppProber::Http {
                https: true,
                port: 8443,
                ..
            }
        ));
        assert_eq!(
            p["/app-health/c/livez"],
            AppProber::Http {
                path: "/x".into(),
                port: 9090,
                https: false,
                timeout: Duration::from_secs(3)
            }
        );
        assert_eq!(
            p["/app-health/d/readyz"],
            AppProber::Tcp {
                port: 5432,
                timeout: Duration::from_secs(1)
            }
        );
    }

    #[test]
    fn bad_probers() {
        let err = |j: &str| parse_probers(j).unwrap_err().to_string();
        assert!(err("{nope").starts_with("failed to decode app http prober err = "));
        assert_eq!(
            err(r#"{"/app-health/a/startz":{"port":1}}"#),
            r"invalid key, must be in form of regex pattern ^/app-health/[^\/]+/(livez|readyz)$"
        );
        assert_eq!(
            err(r#"{"/app-health/a/livez":{"port":"http"}}"#),
            "invalid prober config for /app-health/a/livez, the port must be int type"
        );
        assert!(!is_app_prober_path("/app-health//livez"));
        assert!(!is_app_prober_path("/app-health/a/b/livez"));
    }

    fn server(probers: &str) -> (Arc<Server>, CancellationToken) {
        let s = Server::new(Config {
            local_host_addr: "127.0.0.1".into(),
            admin_port: 1,
            status_port: 0,
            application_ports: vec![],
            kube_app_probers: probers.into(),
            node_type: NodeType::Sidecar,
        })
        .unwrap();
        (Arc::new(s), CancellationToken::new())
    }

    async fn call(router: Router, method: Method, path: &str, from: &str) -> (StatusCode, String) {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .body(Body::empty())
            .unwrap();
        req.extensions_mut()
            .insert(ConnectInfo(from.parse::<SocketAddr>().unwrap()));
        let resp = router.oneshot(req).await.unwrap();
        let status = resp.status();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn quit_only_from_loopback_and_only_post() {
        let (s, quit) = server("");
        let r = s.router(quit.clone());
        assert_eq!(
            call(r.clone(), Method::POST, "/quitquitquit", "10.1.2.3:5555").await,
            (
                StatusCode::FORBIDDEN,
                "Only requests from localhost are allowed\n".into()
            )
        );
        assert_eq!(
            call(r.clone(), Method::GET, "/quitquitquit", "127.0.0.1:5555").await,
            (
                StatusCode::METHOD_NOT_ALLOWED,
                "Method Not Allowed\n".into()
            )
        );
        assert!(!quit.is_cancelled());
        assert_eq!(
            call(
                r.clone(),
                Method::POST,
                "/quitquitquit",
                "[::ffff:127.0.0.1]:5555"
            )
            .await,
            (StatusCode::OK, "OK".into())
        );
        assert!(quit.is_cancelled());
    }

    #[tokio::test]
    async fn unknown_paths() {
        let (s, quit) = server(r#"{"/app-health/a/livez":{"path":"/","port":1}}"#);
        let r = s.router(quit);
        assert_eq!(
            call(r.clone(), Method::GET, "/app-health/b/livez", "127.0.0.1:1").await,
            (
                StatusCode::BAD_REQUEST,
                "app prober config does not exists for /app-health/b/livez".into()
            )
        );
        assert_eq!(
            call(r.clone(), Method::GET, "/", "127.0.0.1:1").await.0,
            StatusCode::NOT_FOUND
        );
        // Envoy's admin port is closed here: not ready.
        let (status, body) = call(r, Method::GET, "/healthz/ready", "127.0.0.1:1").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            body.starts_with("failed retrieving Envoy stats: "),
            "{body}"
        );
    }
}
