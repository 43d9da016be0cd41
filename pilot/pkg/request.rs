//! `request <method> <path> [body]`: a one-shot HTTP request to a local admin or debug port
//! (upstream `pilot/pkg/request`), used by `pilot-discovery request` (monitoring port 15014)
//! and `pilot-agent request` (Envoy admin port 15000). The body is printed; statuses above
//! 399 other than 404 are errors.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("request to {address} failed: {source}")]
    Io {
        address: String,
        source: std::io::Error,
    },
    #[error("request to {address} timed out after {timeout:?}")]
    Timeout { address: String, timeout: Duration },
    #[error("malformed HTTP response from {address}: {reason}")]
    Malformed { address: String, reason: String },
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
        let fut = self.exchange(method, path, body);
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(r) => r,
            Err(_) => Err(Error::Timeout {
                address: self.address.clone(),
                timeout: self.timeout,
            }),
        }
    }

    async fn exchange(&self, method: &str, path: &str, body: &str) -> Result<String, Error> {
        let io = |source| Error::Io {
            address: self.address.clone(),
            source,
        };
        let mut stream = tokio::net::TcpStream::connect(&self.address)
            .await
            .map_err(io)?;
        let path = path.trim_start_matches('/');
        // HTTP/1.0 keeps the response simple: no chunked encoding, the body ends at close.
        let head = format!(
            "{method} /{path} HTTP/1.0\r\nHost: {}\r\nUser-Agent: istio-rs\r\nContent-Length: {}\r\n\r\n",
            self.address,
            body.len()
        );
        stream.write_all(head.as_bytes()).await.map_err(io)?;
        stream.write_all(body.as_bytes()).await.map_err(io)?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.map_err(io)?;
        let malformed = |reason: &str| Error::Malformed {
            address: self.address.clone(),
            reason: reason.into(),
        };
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or_else(|| malformed("no end of headers"))?;
        let headers = String::from_utf8_lossy(&raw[..split]);
        let status: u16 = headers
            .lines()
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| malformed("no status line"))?;
        let body = String::from_utf8_lossy(&raw[split + 4..]).into_owned();
        if status > 399 && status != 404 {
            return Err(Error::Status { status, body });
        }
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
        assert!(req.starts_with("GET /debug/syncz HTTP/1.0\r\n"), "{req}");
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
