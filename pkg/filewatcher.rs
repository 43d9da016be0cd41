//! Watching config files that Kubernetes mounts from ConfigMaps and Secrets (mesh config,
//! injector templates, certificates).
//!
//! Kubernetes updates such mounts by swapping a `..data` symlink in the mount directory, so
//! watching the file itself misses updates. [`watch`] watches each file's directory and
//! reports, debounced, that one of the files may have changed; the consumer re-reads them and
//! decides whether anything changed.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

/// Why a watch could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("cannot watch {path}: {source}")]
pub struct Error {
    pub path: PathBuf,
    #[source]
    pub source: notify::Error,
}

/// Keeps the watch alive; dropping it stops the notifications.
pub struct FileWatcher {
    _watcher: notify::RecommendedWatcher,
}

impl std::fmt::Debug for FileWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FileWatcher")
    }
}

fn parent(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Watches the directories of `files`. Each burst of changes to one of the files (or to the
/// directory's `..data` link) yields one `()` on the receiver, `debounce` after the burst
/// ends. Directories that do not exist are an error.
pub fn watch(
    files: &[PathBuf],
    debounce: Duration,
) -> Result<(FileWatcher, mpsc::Receiver<()>), Error> {
    let names: BTreeSet<std::ffi::OsString> = files
        .iter()
        .filter_map(|f| f.file_name().map(|n| n.to_os_string()))
        .chain(std::iter::once(std::ffi::OsString::from("..data")))
        .collect();
    let dirs: BTreeSet<PathBuf> = files.iter().map(|f| parent(f)).collect();
    let (raw_tx, mut raw_rx) = mpsc::unbounded_channel::<()>();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if let Ok(ev) = res {
            let relevant = ev
                .paths
                .iter()
                .any(|p| p.file_name().is_some_and(|n| names.contains(n)));
            if relevant {
                let _ = raw_tx.send(());
            }
        }
    })
    .map_err(|source| Error {
        path: files.first().cloned().unwrap_or_default(),
        source,
    })?;
    for d in &dirs {
        watcher
            .watch(d, RecursiveMode::NonRecursive)
            .map_err(|source| Error {
                path: d.clone(),
                source,
            })?;
    }
    let (tx, rx) = mpsc::channel(1);
    tokio::spawn(async move {
        while raw_rx.recv().await.is_some() {
            // Swallow the rest of the burst.
            loop {
                match tokio::time::timeout(debounce, raw_rx.recv()).await {
                    Ok(Some(())) => continue,
                    Ok(None) => return,
                    Err(_) => break,
                }
            }
            if tx.send(()).await.is_err() {
                return;
            }
        }
    });
    Ok((FileWatcher { _watcher: watcher }, rx))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reports_writes_and_symlink_swaps_once_per_burst() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("mesh");
        std::fs::write(&file, "a: 1").unwrap();
        let (_w, mut rx) = watch(std::slice::from_ref(&file), Duration::from_millis(100)).unwrap();
        for i in 0..5 {
            std::fs::write(&file, format!("a: {i}")).unwrap();
        }
        tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .unwrap()
            .unwrap();
        // The burst gave one notification.
        assert!(tokio::time::timeout(Duration::from_millis(400), rx.recv())
            .await
            .is_err());
        // Unrelated files in the directory are ignored.
        std::fs::write(dir.path().join("other"), "x").unwrap();
        assert!(tokio::time::timeout(Duration::from_millis(400), rx.recv())
            .await
            .is_err());
        // A ConfigMap-style ..data swap counts.
        std::os::unix::fs::symlink(dir.path(), dir.path().join("..data")).unwrap();
        tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .unwrap()
            .unwrap();
    }

    #[tokio::test]
    async fn missing_directory_is_an_error() {
        let err = watch(
            &[PathBuf::from("/nonexistent-dir/mesh")],
            Duration::from_millis(10),
        )
        .unwrap_err();
        assert!(err.to_string().contains("/nonexistent-dir"), "{err}");
    }
}
