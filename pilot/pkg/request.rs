//! `request <method> <path> [body]`: a one-shot HTTP request to a local admin or debug port
//! (upstream `pilot/pkg/request`), used by `pilot-discovery request` (monitoring port 15014)
//! and `pilot-agent request` (Envoy admin port 15000). The body is printed; statuses above
//! 399 other than 404 are errors. Requests are HTTP/1.1: Envoy's admin port refuses HTTP/1.0.

use std::time::Duration;

use istio_pkg::envoy::admin;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("request to {address} failed: {reason}")]
    Io { address: String, reason: String },
    #[error("request to {address} timed out after {timeout:?}")]
    Timeout { address: String, timeout: Duration },
    #[error("received unsuccessful status code {status}: {body}")]
    Status { status: u16, body: String },
    #[error("invalid method {0:?}")]
    Method(String),
}

/// A request target.
#[derive(Debug, Clone)]
pub struct Command {
    /// `host:port`.
    pub address: String,
    pub timeout: Duration,
}

impl Command {
    pub fn new(address: impl Into<String>) -> Command {
        Command {
            address: address.into(),
            timeout: Duration::from_secs(60),
        }
    }

    /// Sends `method path` with `body` and returns the response body (as upstream prints it).
    pub async fn send(&self, method: &str, path: &str, body: &str) -> Result<String, Error> {
        if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(Error::Method(method.to_owned()));
        }
        let resp = admin::request(&self.address, method, path, body, self.timeout)
            .await
            .map_err(|e| match e {
                admin::Error::Timeout { address, timeout } => Error::Timeout { address, timeout },
                admin::Error::Request { method, .. } => Error::Method(method),
                other => Error::Io {
                    address: self.address.clone(),
                    reason: match other {
                        admin::Error::Io { source, .. } => source.to_string(),
                        admin::Error::Http { source, .. } => source.to_string(),
                        e => e.to_string(),
                    },
                },
            })?;
        let status = resp.status.as_u16();
        let text = resp.text();
        if status > 399 && status != 404 {
            return Err(Error::Status { status, body: text });
        }
        Ok(text)
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
            let mut buf = vec![0u8; 4096];
            let n = s.read(&mut buf).await.unwrap();
            s.write_all(response.as_bytes()).await.unwrap();
            String::from_utf8_lossy(&buf[..n]).into_owned()
        });
        (addr, task)
    }

    #[tokio::test]
    async fn sends_and_returns_body() {
        let (addr, task) = serve_once("HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello").await;
        let body = Command::new(addr)
            .send("GET", "debug/syncz", "")
            .await
            .unwrap();
        assert_eq!(body, "hello");
        let req = task.await.unwrap();
        assert!(req.starts_with("GET /debug/syncz HTTP/1.1\r\n"), "{req}");
    }

    #[tokio::test]
    async fn error_statuses() {
        let (addr, _t) = serve_once("HTTP/1.0 404 Not Found\r\n\r\nnope").await;
        assert_eq!(
            Command::new(addr).send("GET", "/x", "").await.unwrap(),
            "nope"
        );
        let (addr, _t) = serve_once("HTTP/1.0 500 Oops\r\n\r\nbroken").await;
        let err = Command::new(addr)
            .send("POST", "/x", "b")
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "received unsuccessful status code 500: broken"
        );
        assert!(matches!(
            Command::new("127.0.0.1:1").send("GET", "/", "").await,
            Err(Error::Io { .. })
        ));
        assert!(matches!(
            Command::new("127.0.0.1:1").send("G T", "/", "").await,
            Err(Error::Method(_))
        ));
    }
}
