//! A small HTTP/1.1 client for Envoy's admin API on loopback (upstream `pkg/envoy/admin.go`),
//! also used for the other one-shot local requests of pilot-agent and pilot-discovery.
//!
//! Envoy's admin listener refuses HTTP/1.0 (426), so requests are HTTP/1.1 with
//! `Connection: close`; bodies may come chunked.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;

/// Why an admin request failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("request to {address} failed: {source}")]
    Io {
        address: String,
        #[source]
        source: std::io::Error,
    },
    #[error("request to {address} failed: {source}")]
    Http {
        address: String,
        #[source]
        source: hyper::Error,
    },
    #[error("request to {address} timed out after {timeout:?}")]
    Timeout { address: String, timeout: Duration },
    #[error("invalid request {method:?} {path:?}: {reason}")]
    Request {
        method: String,
        path: String,
        reason: String,
    },
    #[error("unexpected status {0}")]
    Status(u16),
    #[error("cannot parse {what}: {reason}")]
    Parse { what: &'static str, reason: String },
}

/// A response: status and whole body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: StatusCode,
    pub body: Bytes,
}

impl Response {
    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends `method /path` with `body` to `address` (`host:port`) and reads the whole response
/// within `timeout`.
pub async fn request(
    address: &str,
    method: &str,
    path: &str,
    body: &str,
    timeout: Duration,
) -> Result<Response, Error> {
    let bad = |reason: String| Error::Request {
        method: method.to_owned(),
        path: path.to_owned(),
        reason,
    };
    let method = Method::from_bytes(method.as_bytes()).map_err(|e| bad(e.to_string()))?;
    let uri = format!("/{}", path.trim_start_matches('/'));
    let req = Request::builder()
        .method(method)
        .uri(&uri)
        .header(http::header::HOST, address)
        .header(http::header::USER_AGENT, "istio-rs")
        .header(http::header::CONNECTION, "close")
        .body(FullBody::from(Bytes::copy_from_slice(body.as_bytes())))
        .map_err(|e| bad(e.to_string()))?;
    let exchange = async {
        let stream = tokio::net::TcpStream::connect(address)
            .await
            .map_err(|source| Error::Io {
                address: address.to_owned(),
                source,
            })?;
        send(address, stream, req).await
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(r) => r,
        Err(_) => Err(Error::Timeout {
            address: address.to_owned(),
            timeout,
        }),
    }
}

/// Sends `req` over an established connection (plain TCP or TLS) and reads the response.
pub async fn send<S>(address: &str, stream: S, req: Request<FullBody>) -> Result<Response, Error>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let http = |source| Error::Http {
        address: address.to_owned(),
        source,
    };
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(http)?;
    let driver = tokio::spawn(async move {
        let _ = conn.await;
    });
    let resp = sender.send_request(req).await.map_err(http)?;
    let status = resp.status();
    let mut body = resp.into_body();
    let mut buf = BytesMut::new();
    while let Some(frame) =
        std::future::poll_fn(|cx| hyper::body::Body::poll_frame(std::pin::Pin::new(&mut body), cx))
            .await
    {
        if let Ok(data) = frame.map_err(http)?.into_data() {
            buf.extend_from_slice(&data);
        }
    }
    driver.abort();
    Ok(Response {
        status,
        body: buf.freeze(),
    })
}

/// `GET http://address/path`; anything but 200 is an error (upstream's `doHTTPGet`).
pub async fn get(address: &str, path: &str, timeout: Duration) -> Result<Bytes, Error> {
    let resp = request(address, "GET", path, "", timeout).await?;
    if resp.status != StatusCode::OK {
        return Err(Error::Status(resp.status.as_u16()));
    }
    Ok(resp.body)
}

/// Envoy's server state (`envoy.admin.v2alpha.ServerInfo.State`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerState {
    Live,
    Draining,
    PreInitializing,
    Initializing,
}

impl ServerState {
    pub fn as_str(self) -> &'static str {
        match self {
            ServerState::Live => "LIVE",
            ServerState::Draining => "DRAINING",
            ServerState::PreInitializing => "PRE_INITIALIZING",
            ServerState::Initializing => "INITIALIZING",
        }
    }
}

impl std::fmt::Display for ServerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Reads the `state` of a `/server_info` JSON document. As with protobuf JSON, an absent state
/// is the enum's zero value, LIVE; unknown fields are ignored.
pub fn parse_server_state(body: &[u8]) -> Result<ServerState, Error> {
    let parse = |reason: String| Error::Parse {
        what: "server_info",
        reason,
    };
    let doc: serde_json::Value = serde_json::from_slice(body).map_err(|e| parse(e.to_string()))?;
    let obj = doc
        .as_object()
        .ok_or_else(|| parse("not a JSON object".into()))?;
    let state = match obj.get("state") {
        None | Some(serde_json::Value::Null) => return Ok(ServerState::Live),
        Some(s) => s,
    };
    let by_name = |n: &str| match n {
        "LIVE" => Some(ServerState::Live),
        "DRAINING" => Some(ServerState::Draining),
        "PRE_INITIALIZING" => Some(ServerState::PreInitializing),
        "INITIALIZING" => Some(ServerState::Initializing),
        _ => None,
    };
    let by_number = |n: i64| match n {
        0 => Some(ServerState::Live),
        1 => Some(ServerState::Draining),
        2 => Some(ServerState::PreInitializing),
        3 => Some(ServerState::Initializing),
        _ => None,
    };
    let found = match state {
        serde_json::Value::String(s) => by_name(s),
        serde_json::Value::Number(n) => n.as_i64().and_then(by_number),
        _ => None,
    };
    found.ok_or_else(|| parse(format!("unknown server state {state}")))
}

/// Envoy's state from `GET /server_info` on `address`.
pub async fn server_state(address: &str, timeout: Duration) -> Result<ServerState, Error> {
    let body = get(address, "server_info", timeout).await?;
    parse_server_state(&body)
}

/// A request body held in memory and sent at once.
#[derive(Debug, Default)]
pub struct FullBody(Option<Bytes>);

impl From<Bytes> for FullBody {
    fn from(b: Bytes) -> FullBody {
        FullBody(Some(b))
    }
}

impl http_body::Body for FullBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        let next = self.0.take().filter(|b| !b.is_empty());
        std::task::Poll::Ready(next.map(|b| Ok(http_body::Frame::data(b))))
    }

    fn is_end_stream(&self) -> bool {
        self.0.as_ref().is_none_or(|b| b.is_empty())
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.0.as_ref().map_or(0, |b| b.len() as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    async fn serve_once(response: &'static str) -> (String, tokio::task::JoinHandle<String>) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let task = tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut req = Vec::new();
            let mut buf = [0u8; 1024];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = s.read(&mut buf).await.unwrap();
                req.extend_from_slice(&buf[..n]);
            }
            s.write_all(response.as_bytes()).await.unwrap();
            s.shutdown().await.unwrap();
            String::from_utf8_lossy(&req).into_owned()
        });
        (addr, task)
    }

    #[tokio::test]
    async fn http11_request_with_chunked_response() {
        let (addr, task) = serve_once(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
        )
        .await;
        let r = request(&addr, "GET", "stats", "", Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!((r.status.as_u16(), r.text().as_str()), (200, "hello world"));
        let req = task.await.unwrap();
        assert!(req.starts_with("GET /stats HTTP/1.1\r\n"), "{req}");
        assert!(
            req.to_ascii_lowercase().contains("connection: close"),
            "{req}"
        );
    }

    #[tokio::test]
    async fn get_rejects_other_statuses_and_parses_server_info() {
        let (addr, _t) = serve_once("HTTP/1.1 503 Unavailable\r\nContent-Length: 0\r\n\r\n").await;
        assert!(matches!(
            get(&addr, "/server_info", Duration::from_secs(5)).await,
            Err(Error::Status(503))
        ));
        let (addr, _t) = serve_once(
            "HTTP/1.0 200 OK\r\n\r\n{\"version\":\"x\",\"state\":\"INITIALIZING\",\"uptime\":\"1s\"}",
        )
        .await;
        assert_eq!(
            server_state(&addr, Duration::from_secs(5)).await.unwrap(),
            ServerState::Initializing
        );
        assert_eq!(parse_server_state(b"{}").unwrap(), ServerState::Live);
        assert_eq!(
            parse_server_state(b"{\"state\":1}").unwrap(),
            ServerState::Draining
        );
        assert!(parse_server_state(b"{\"state\":\"BOGUS\"}").is_err());
        assert!(parse_server_state(b"nope").is_err());
        assert!(matches!(
            get("127.0.0.1:1", "/", Duration::from_secs(5)).await,
            Err(Error::Io { .. })
        ));
    }
}
