//! A size-rotated log file with backup pruning, behaving like the lumberjack v2.0 logger that
//! Istio 1.4 uses for `--log_rotate`.
//!
//! - The file is opened (created with its directories) on the first write, appending to an
//!   existing file.
//! - Before a write that would grow the file past `max_size` megabytes, the file is renamed to a
//!   backup `<name>-<UTC 2006-01-02T15-04-05.000><ext>` next to it and a new file is started.
//!   A single write larger than the limit fails.
//! - After each rotation (and when the file is first opened) backups beyond `max_backups`
//!   (newest kept) and backups older than `max_age` days (judged by the time in their names) are
//!   deleted. Zero or negative values disable either limit. Pruning runs synchronously.
//! - `max_size` of 0 means 100 megabytes. Note that Istio's default, 104857600 "megabytes", means
//!   size-based rotation effectively never happens unless the flag is set.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::clock::{format_backup_time, parse_backup_time};

const MEGABYTE: i64 = 1024 * 1024;
const DEFAULT_MAX_SIZE_MB: i64 = 100;

/// Limits of a [`RotatingFile`], in the units of the `--log_rotate_*` flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RotationLimits {
    /// Megabytes before rotating; 0 means 100.
    pub max_size_mb: i64,
    /// Days to keep backups; 0 or less keeps them forever.
    pub max_age_days: i64,
    /// Backups to keep; 0 or less keeps all.
    pub max_backups: i64,
}

type Clock = Box<dyn Fn() -> SystemTime + Send + Sync>;

/// A writer over a size-rotated file. Each `write` call is kept whole in one file.
pub struct RotatingFile {
    path: PathBuf,
    limits: RotationLimits,
    file: Option<File>,
    size: i64,
    now: Clock,
}

impl std::fmt::Debug for RotatingFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RotatingFile")
            .field("path", &self.path)
            .field("limits", &self.limits)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

fn other(msg: String) -> io::Error {
    io::Error::other(msg)
}

impl RotatingFile {
    /// A rotating file at `path`; nothing is opened until the first write.
    pub fn new(path: impl Into<PathBuf>, limits: RotationLimits) -> RotatingFile {
        RotatingFile {
            path: path.into(),
            limits,
            file: None,
            size: 0,
            now: Box::new(SystemTime::now),
        }
    }

    /// Replaces the clock used for backup names and age pruning (tests).
    #[cfg(test)]
    pub(crate) fn with_clock(
        mut self,
        now: impl Fn() -> SystemTime + Send + Sync + 'static,
    ) -> Self {
        self.now = Box::new(now);
        self
    }

    fn max_bytes(&self) -> i64 {
        let mb = if self.limits.max_size_mb == 0 {
            DEFAULT_MAX_SIZE_MB
        } else {
            self.limits.max_size_mb
        };
        mb.saturating_mul(MEGABYTE)
    }

    fn dir(&self) -> PathBuf {
        match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }

    /// The file name split into the backup prefix (`name-`) and extension (`.log`), using the
    /// last `.` of the file name as Go's `filepath.Ext` does.
    fn prefix_and_ext(&self) -> (String, String) {
        let base = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match base.rfind('.') {
            Some(i) => (format!("{}-", &base[..i]), base[i..].to_string()),
            None => (format!("{base}-"), String::new()),
        }
    }

    fn backup_path(&self) -> PathBuf {
        let (prefix, ext) = self.prefix_and_ext();
        let stamp = format_backup_time((self.now)());
        self.dir().join(format!("{prefix}{stamp}{ext}"))
    }

    fn open_new(&mut self) -> io::Result<()> {
        let dir = self.dir();
        create_dirs(&dir)
            .map_err(|e| other(format!("can't make directories for new logfile: {e}")))?;

        let mut mode = 0o644;
        if let Ok(meta) = fs::metadata(&self.path) {
            mode = permissions_mode(&meta);
            let backup = self.backup_path();
            fs::rename(&self.path, &backup)
                .map_err(|e| other(format!("can't rename log file: {e}")))?;
            keep_owner(&self.path, &meta, mode)?;
        }

        let file = open_truncate(&self.path, mode)
            .map_err(|e| other(format!("can't open new logfile: {e}")))?;
        self.file = Some(file);
        self.size = 0;
        Ok(())
    }

    fn open_existing_or_new(&mut self, write_len: i64) -> io::Result<()> {
        self.prune();
        let meta = match fs::metadata(&self.path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return self.open_new(),
            Err(e) => return Err(other(format!("error getting log file info: {e}"))),
        };
        let existing = i64::try_from(meta.len()).unwrap_or(i64::MAX);
        if existing.saturating_add(write_len) >= self.max_bytes() {
            return self.rotate();
        }
        match OpenOptions::new().append(true).open(&self.path) {
            Ok(file) => {
                self.file = Some(file);
                self.size = existing;
                Ok(())
            }
            Err(_) => self.open_new(),
        }
    }

    /// Starts a new file now, moving the current one to a backup.
    pub fn rotate(&mut self) -> io::Result<()> {
        self.file = None;
        self.open_new()?;
        self.prune();
        Ok(())
    }

    /// The existing backups, newest first.
    fn backups(&self) -> io::Result<Vec<(SystemTime, PathBuf)>> {
        let (prefix, ext) = self.prefix_and_ext();
        let gz_ext = format!("{ext}.gz");
        let mut found = Vec::new();
        for entry in fs::read_dir(self.dir())? {
            let entry = entry?;
            if entry.file_type().map(|t| t.is_dir()).unwrap_or(true) {
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            let stamp = |ext: &str| {
                name.strip_prefix(prefix.as_str())
                    .and_then(|rest| rest.strip_suffix(ext))
                    .and_then(parse_backup_time)
            };
            if let Some(t) = stamp(&ext).or_else(|| stamp(&gz_ext)) {
                found.push((t, entry.path()));
            }
        }
        found.sort_by_key(|b| std::cmp::Reverse(b.0));
        Ok(found)
    }

    /// Deletes backups beyond the count and age limits. Failures are ignored, as upstream.
    fn prune(&self) {
        let RotationLimits {
            max_backups,
            max_age_days,
            ..
        } = self.limits;
        if max_backups <= 0 && max_age_days <= 0 {
            return;
        }
        let Ok(mut files) = self.backups() else {
            return;
        };
        let mut remove = Vec::new();
        if max_backups > 0 {
            // Count distinct backups, a compressed and an uncompressed copy being one.
            let mut seen = std::collections::HashSet::new();
            let mut kept = Vec::new();
            for (t, path) in files {
                let name = path.to_string_lossy();
                seen.insert(name.strip_suffix(".gz").unwrap_or(&name).to_string());
                if seen.len() as i64 > max_backups {
                    remove.push(path);
                } else {
                    kept.push((t, path));
                }
            }
            files = kept;
        }
        if max_age_days > 0 {
            let age = Duration::from_secs(86_400)
                .saturating_mul(max_age_days.min(u32::MAX.into()) as u32);
            if let Some(cutoff) = (self.now)().checked_sub(age) {
                remove.extend(
                    files
                        .into_iter()
                        .filter(|(t, _)| *t < cutoff)
                        .map(|(_, p)| p),
                );
            }
        }
        for path in remove {
            let _ = fs::remove_file(path);
        }
    }
}

impl Write for RotatingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let len = i64::try_from(buf.len()).unwrap_or(i64::MAX);
        let max = self.max_bytes();
        if len > max {
            return Err(other(format!(
                "write length {len} exceeds maximum file size {max}"
            )));
        }
        if self.file.is_none() {
            self.open_existing_or_new(len)?;
        }
        if self.size.saturating_add(len) > max {
            self.rotate()?;
        }
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| other("log file is not open".to_string()))?;
        let n = file.write(buf)?;
        self.size += n as i64;
        Ok(n)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        // Rotation is decided once per record, so a record never straddles two files.
        let n = self.write(buf)?;
        if n < buf.len() {
            let file = self
                .file
                .as_mut()
                .ok_or_else(|| other("log file is not open".to_string()))?;
            file.write_all(&buf[n..])?;
            self.size += (buf.len() - n) as i64;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.file.as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

#[cfg(unix)]
fn create_dirs(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o744)
        .create(dir)
}

#[cfg(not(unix))]
fn create_dirs(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)
}

#[cfg(unix)]
fn permissions_mode(meta: &fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o7777
}

#[cfg(not(unix))]
fn permissions_mode(_meta: &fs::Metadata) -> u32 {
    0o644
}

#[cfg(unix)]
fn open_truncate(path: &Path, mode: u32) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(mode)
        .open(path)
}

#[cfg(not(unix))]
fn open_truncate(path: &Path, _mode: u32) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(path)
}

/// Creates the new file with the old owner, as lumberjack does after renaming on Linux.
#[cfg(unix)]
fn keep_owner(path: &Path, old: &fs::Metadata, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    drop(open_truncate(path, mode)?);
    std::os::unix::fs::chown(path, Some(old.uid()), Some(old.gid()))
}

#[cfg(not(unix))]
fn keep_owner(_path: &Path, _old: &fs::Metadata, _mode: u32) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    use std::time::UNIX_EPOCH;

    /// A manual clock: seconds since the epoch, advanced by the test.
    fn clock() -> (
        Arc<AtomicU64>,
        impl Fn() -> SystemTime + Send + Sync + 'static,
    ) {
        let secs = Arc::new(AtomicU64::new(1_575_973_668));
        let c = secs.clone();
        (secs, move || {
            UNIX_EPOCH + Duration::from_secs(c.load(Ordering::SeqCst))
        })
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    fn limits(max_backups: i64, max_age_days: i64) -> RotationLimits {
        RotationLimits {
            max_size_mb: 1,
            max_age_days,
            max_backups,
        }
    }

    #[test]
    fn creates_directories_and_appends_to_existing() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("a/b/pilot.log");
        let mut f = RotatingFile::new(&path, limits(0, 0));
        f.write_all(b"one\n").unwrap();
        drop(f);
        let mut f = RotatingFile::new(&path, limits(0, 0));
        f.write_all(b"two\n").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "one\ntwo\n");
        assert_eq!(names(&tmp.path().join("a/b")), ["pilot.log"]);
    }

    #[test]
    fn rotates_before_exceeding_size_with_backup_name() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("pilot.log");
        let (_secs, now) = clock();
        let mut f = RotatingFile::new(&path, limits(0, 0)).with_clock(now);
        let chunk = vec![b'x'; 600 * 1024];
        f.write_all(&chunk).unwrap();
        f.write_all(&chunk).unwrap(); // 1.2 MB > 1 MB: rotates first
        assert_eq!(
            names(tmp.path()),
            ["pilot-2019-12-10T10-27-48.000.log", "pilot.log"]
        );
        assert_eq!(fs::metadata(&path).unwrap().len(), chunk.len() as u64);
        let backup = tmp.path().join("pilot-2019-12-10T10-27-48.000.log");
        assert_eq!(fs::metadata(backup).unwrap().len(), chunk.len() as u64);
    }

    #[test]
    fn oversized_write_is_rejected() {
        let tmp = tempfile::tempdir().unwrap();
        let mut f = RotatingFile::new(tmp.path().join("x.log"), limits(0, 0));
        let err = f.write_all(&vec![0u8; 1024 * 1024 + 1]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "write length 1048577 exceeds maximum file size 1048576"
        );
    }

    #[test]
    fn existing_file_too_full_is_rotated_on_open() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("noext");
        fs::write(&path, vec![b'y'; 1024 * 1024 - 2]).unwrap();
        let (_secs, now) = clock();
        let mut f = RotatingFile::new(&path, limits(0, 0)).with_clock(now);
        f.write_all(b"abc").unwrap();
        assert_eq!(
            names(tmp.path()),
            ["noext", "noext-2019-12-10T10-27-48.000"]
        );
        assert_eq!(fs::read(&path).unwrap(), b"abc");
    }

    #[test]
    fn keeps_at_most_max_backups_newest_first() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("p.log");
        let (secs, now) = clock();
        let mut f = RotatingFile::new(&path, limits(2, 0)).with_clock(now);
        f.write_all(b"first\n").unwrap();
        for _ in 0..4 {
            secs.fetch_add(1, Ordering::SeqCst);
            f.rotate().unwrap();
            f.write_all(b"next\n").unwrap();
        }
        // Unrelated files in the directory are left alone.
        fs::write(tmp.path().join("p-notatime.log"), b"").unwrap();
        secs.fetch_add(1, Ordering::SeqCst);
        f.rotate().unwrap();
        assert_eq!(
            names(tmp.path()),
            [
                "p-2019-12-10T10-27-52.000.log",
                "p-2019-12-10T10-27-53.000.log",
                "p-notatime.log",
                "p.log"
            ]
        );
    }

    #[test]
    fn removes_backups_older_than_max_age() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("p.log");
        fs::write(tmp.path().join("p-2019-11-01T00-00-00.000.log"), b"old").unwrap();
        fs::write(tmp.path().join("p-2019-11-01T00-00-00.000.log.gz"), b"old").unwrap();
        fs::write(tmp.path().join("p-2019-12-09T00-00-00.000.log"), b"recent").unwrap();
        let (_secs, now) = clock();
        let mut f = RotatingFile::new(&path, limits(0, 30)).with_clock(now);
        f.write_all(b"x").unwrap(); // pruning also runs when the file is first opened
        assert_eq!(
            names(tmp.path()),
            ["p-2019-12-09T00-00-00.000.log", "p.log"]
        );
    }

    #[test]
    fn zero_size_means_one_hundred_megabytes() {
        let f = RotatingFile::new(
            "x.log",
            RotationLimits {
                max_size_mb: 0,
                max_age_days: 0,
                max_backups: 0,
            },
        );
        assert_eq!(f.max_bytes(), 100 * 1024 * 1024);
        let f = RotatingFile::new(
            "x.log",
            RotationLimits {
                max_size_mb: 104_857_600,
                max_age_days: 30,
                max_backups: 1000,
            },
        );
        assert_eq!(f.max_bytes(), 104_857_600 * 1024 * 1024);
    }

    #[cfg(unix)]
    #[test]
    fn new_file_keeps_old_mode() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("m.log");
        fs::write(&path, b"").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        let mut f = RotatingFile::new(&path, limits(0, 0));
        f.rotate().unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
