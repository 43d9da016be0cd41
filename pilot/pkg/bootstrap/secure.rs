//! The secure discovery port (`--secureGrpcAddr`, 15012 by default, 15011 in charts with
//! control-plane security): TLS with a required client certificate signed by the mesh root,
//! serving the same ADS and HTTP mux as the plain ports (upstream `initSecureGrpcServer`).
//! Certificates come from `PILOT_CERT_DIR` or `/etc/certs`: `cert-chain.pem`, `key.pem`,
//! `root-cert.pem`. Client certificates are verified against the root; their SANs are not
//! checked, as upstream.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tracing::debug;

/// The directory upstream reads pilot's certificates from by default.
pub const DEFAULT_CERT_DIR: &str = "/etc/certs";

/// Why the secure server could not be configured.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("secure grpc server: {path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("secure grpc server: {0}")]
    Tls(String),
}

fn file_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::File {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// The rustls server config from `cert_dir`: our chain and key, client certificates required
/// and verified against `root-cert.pem`, ALPN h2 and http/1.1.
pub fn tls_config(cert_dir: &Path) -> Result<ServerConfig, Error> {
    let chain_path = cert_dir.join("cert-chain.pem");
    let key_path = cert_dir.join("key.pem");
    let root_path = cert_dir.join("root-cert.pem");
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&chain_path)
        .map_err(|e| file_error(&chain_path, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| file_error(&chain_path, e))?;
    if chain.is_empty() {
        return Err(file_error(&chain_path, "no certificate found"));
    }
    let key = PrivateKeyDer::from_pem_file(&key_path).map_err(|e| file_error(&key_path, e))?;
    let mut roots = RootCertStore::empty();
    let mut any = false;
    for cert in CertificateDer::pem_file_iter(&root_path).map_err(|e| file_error(&root_path, e))? {
        let cert = cert.map_err(|e| file_error(&root_path, e))?;
        roots.add(cert).map_err(|e| file_error(&root_path, e))?;
        any = true;
    }
    if !any {
        return Err(file_error(&root_path, "no root certificate found"));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| Error::Tls(e.to_string()))?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| Error::Tls(format!("{}: {e}", key_path.display())))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// Serves `router` (gRPC and HTTP routes together) over TLS until `shutdown`, then lets open
/// connections finish.
pub async fn serve(
    listener: TcpListener,
    config: ServerConfig,
    router: Router,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        let (tcp, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    debug!("secure accept failed: {e}");
                    continue;
                }
            },
        };
        let acceptor = acceptor.clone();
        let service = TowerToHyperService::new(router.clone());
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(
                std::time::Duration::from_secs(10),
                acceptor.accept(tcp),
            )
            .await
            {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    debug!("TLS handshake with {peer} failed: {e}");
                    return;
                }
                Err(_) => {
                    debug!("TLS handshake with {peer} timed out");
                    return;
                }
            };
            let builder = auto::Builder::new(TokioExecutor::new());
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(tls), service);
            if let Err(e) = watcher.watch(conn.into_owned()).await {
                debug!("secure connection from {peer} ended: {e}");
            }
        });
    }
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), graceful.shutdown()).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    struct Pki {
        dir: tempfile::TempDir,
        client_chain: Vec<CertificateDer<'static>>,
        client_key: PrivateKeyDer<'static>,
        root: CertificateDer<'static>,
    }

    fn pki() -> Pki {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca, ca_key);
        let leaf = |names: Vec<String>| {
            let key = KeyPair::generate().unwrap();
            let cert = CertificateParams::new(names)
                .unwrap()
                .signed_by(&key, &issuer)
                .unwrap();
            (cert, key)
        };
        let (server, server_key) = leaf(vec!["istio-pilot.istio-system".into()]);
        let (client, client_key) = leaf(vec!["spiffe://cluster.local/ns/default/sa/x".into()]);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("cert-chain.pem"), server.pem()).unwrap();
        std::fs::write(dir.path().join("key.pem"), server_key.serialize_pem()).unwrap();
        std::fs::write(dir.path().join("root-cert.pem"), ca_cert.pem()).unwrap();
        Pki {
            dir,
            client_chain: vec![client.der().clone()],
            client_key: PrivateKeyDer::try_from(client_key.serialize_der()).unwrap(),
            root: ca_cert.der().clone(),
        }
    }

    async fn get(
        addr: std::net::SocketAddr,
        pki: &Pki,
        with_client_cert: bool,
    ) -> std::io::Result<String> {
        let mut roots = RootCertStore::empty();
        roots.add(pki.root.clone()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
        let config = if with_client_cert {
            builder
                .with_client_auth_cert(pki.client_chain.clone(), pki.client_key.clone_key())
                .unwrap()
        } else {
            builder.with_no_client_auth()
        };
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let tcp = tokio::net::TcpStream::connect(addr).await?;
        let name = rustls_pki_types::ServerName::try_from("istio-pilot.istio-system").unwrap();
        let mut tls = connector.connect(name, tcp).await?;
        tls.write_all(b"GET /version HTTP/1.0\r\n\r\n").await?;
        let mut out = String::new();
        tls.read_to_string(&mut out).await?;
        Ok(out)
    }

    #[tokio::test]
    async fn requires_a_client_certificate_from_the_mesh_root() {
        let pki = pki();
        let config = tls_config(pki.dir.path()).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = CancellationToken::new();
        let router = Router::new().route("/version", axum::routing::get(|| async { "v1" }));
        let server = tokio::spawn(serve(listener, config, router, stop.clone()));
        let ok = get(addr, &pki, true).await.unwrap();
        assert!(ok.starts_with("HTTP/1.0 200") && ok.ends_with("v1"), "{ok}");
        // Without a client certificate the server refuses the connection.
        let refused = get(addr, &pki, false).await;
        assert!(
            refused.is_err() || !refused.as_ref().unwrap().contains("200"),
            "{refused:?}"
        );
        stop.cancel();
        server.await.unwrap().unwrap();
    }

    #[test]
    fn missing_files_name_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let err = tls_config(dir.path()).unwrap_err().to_string();
        assert!(err.starts_with("secure grpc server: "), "{err}");
        assert!(err.contains("cert-chain.pem"), "{err}");
    }
}
