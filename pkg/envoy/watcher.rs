//! Restarts Envoy when its certificates change (upstream `pkg/envoy/watcher.go`).
//!
//! The first configuration, sent at start, starts epoch 0. The certificates' directories are
//! watched (Kubernetes replaces secret files through a symlink swap, which a watch on the file
//! itself would miss); a burst of changes is reported once, after `min_delay`, and a new epoch
//! is started if the certificates' contents differ from the running epoch's.

use std::path::PathBuf;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::agent::{EpochConfig, Handle, Proxy};
use crate::filewatcher;

/// Upstream's minimum delay between a change and the restart it causes.
pub const DEFAULT_MIN_DELAY: Duration = Duration::from_secs(10);

/// The configuration for the current certificates: the contents of each file that can be
/// read, length-prefixed. Missing files count as empty.
pub fn cert_config(certs: &[PathBuf]) -> EpochConfig {
    let mut out = Vec::new();
    for c in certs {
        let bytes = std::fs::read(c).unwrap_or_default();
        out.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
        out.extend_from_slice(&bytes);
    }
    EpochConfig::Certs(out)
}

/// Starts the first epoch, then restarts the proxy on certificate changes until `shutdown`.
pub async fn run<P: Proxy>(
    certs: Vec<PathBuf>,
    min_delay: Duration,
    agent: Handle<P>,
    shutdown: CancellationToken,
) {
    agent.restart(cert_config(&certs)).await;
    let watch = if certs.is_empty() {
        None
    } else {
        match filewatcher::watch(&certs, min_delay) {
            Ok(w) => {
                for dir in certs
                    .iter()
                    .filter_map(|c| c.parent())
                    .collect::<std::collections::BTreeSet<_>>()
                {
                    tracing::info!("watching {} for changes", dir.display());
                }
                Some(w)
            }
            Err(e) => {
                tracing::warn!("failed to watch certificate files: {e}");
                None
            }
        }
    };
    if let Some((_watcher, mut changes)) = watch {
        loop {
            tokio::select! {
                change = changes.recv() => {
                    if change.is_none() {
                        break;
                    }
                    tracing::info!("watchFileEvents: notifying");
                    agent.restart(cert_config(&certs)).await;
                }
                _ = shutdown.cancelled() => break,
            }
        }
    }
    shutdown.cancelled().await;
    tracing::info!("Watcher has successfully terminated");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_follows_contents() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.pem");
        let b = dir.path().join("b.pem");
        let certs = vec![a.clone(), b.clone()];
        let empty = cert_config(&certs);
        std::fs::write(&a, "xy").unwrap();
        let one = cert_config(&certs);
        assert_ne!(empty, one);
        // Moving bytes between files is a change too.
        std::fs::write(&a, "x").unwrap();
        std::fs::write(&b, "y").unwrap();
        assert_ne!(one, cert_config(&certs));
        assert_eq!(cert_config(&certs), cert_config(&certs));
    }
}
