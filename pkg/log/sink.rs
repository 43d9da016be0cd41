//! Log destinations: the `--log_target` paths (opened like zap's `Open`) and the optional
//! rotating file, written to together under one lock so lines never interleave.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::sync::{Mutex, PoisonError};

use super::rotate::RotatingFile;
use crate::gostr::quote;

/// One destination.
pub(crate) enum Sink {
    Stdout,
    Stderr,
    File(File),
    Rotating(RotatingFile),
    Writer(Box<dyn Write + Send>),
}

impl Sink {
    fn write_record(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            // Written unbuffered, like zap's os.File sinks: one record, then flush.
            Sink::Stdout => {
                let mut out = io::stdout().lock();
                out.write_all(buf)?;
                out.flush()
            }
            Sink::Stderr => io::stderr().lock().write_all(buf),
            Sink::File(f) => f.write_all(buf),
            Sink::Rotating(r) => r.write_all(buf),
            Sink::Writer(w) => w.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Stdout => io::stdout().flush(),
            Sink::Stderr => io::stderr().flush(),
            Sink::File(f) => f.sync_all(),
            Sink::Rotating(r) => r.flush(),
            Sink::Writer(w) => w.flush(),
        }
    }
}

/// All destinations of one subscriber.
pub(crate) struct Output {
    sinks: Mutex<Vec<Sink>>,
}

impl Output {
    pub(crate) fn new(sinks: Vec<Sink>) -> Output {
        Output {
            sinks: Mutex::new(sinks),
        }
    }

    /// Writes one record to every sink; every sink is tried, and the failures are reported
    /// together.
    pub(crate) fn write(&self, buf: &[u8]) -> Result<(), String> {
        let mut sinks = self.sinks.lock().unwrap_or_else(PoisonError::into_inner);
        let errors: Vec<String> = sinks
            .iter_mut()
            .filter_map(|s| s.write_record(buf).err().map(|e| e.to_string()))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }

    /// Flushes every sink (files are synced to disk).
    pub(crate) fn sync(&self) -> Result<(), String> {
        let mut sinks = self.sinks.lock().unwrap_or_else(PoisonError::into_inner);
        let errors: Vec<String> = sinks
            .iter_mut()
            .filter_map(|s| s.flush().err().map(|e| e.to_string()))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }
}

/// Opens a `--log_target` value. Like zap, a target is a URL whose scheme defaults to `file`:
/// `stdout` and `stderr` are the standard streams, anything else is a file opened for appending
/// (created 0644). `file:///path` and `file://localhost/path` URLs are accepted; other schemes,
/// query strings, fragments, user info, ports and other hosts are refused.
///
/// The error text is the reason only; the caller wraps it with the target.
pub(crate) fn open_target(target: &str) -> Result<Sink, String> {
    let path = target_path(target)?;
    match path.as_str() {
        "stdout" => Ok(Sink::Stdout),
        "stderr" => Ok(Sink::Stderr),
        _ => open_append(&path)
            .map(Sink::File)
            .map_err(|e| format!("open {path}: {e}")),
    }
}

#[cfg(unix)]
fn open_append(path: &str) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o644)
        .open(path)
}

#[cfg(not(unix))]
fn open_append(path: &str) -> io::Result<File> {
    OpenOptions::new().append(true).create(true).open(path)
}

/// Extracts the file path from a target, following the parts of Go's `url.Parse` that matter
/// for file names.
fn target_path(raw: &str) -> Result<String, String> {
    let cant_parse = |why: &str| format!("can't parse {} as a URL: {why}", quote(raw));
    if raw.chars().any(|c| (c as u32) < 0x20 || c == '\u{7f}') {
        return Err(cant_parse("invalid control character in URL"));
    }

    let (rest, fragment) = match raw.split_once('#') {
        Some((r, f)) => (r, Some(f)),
        None => (raw, None),
    };

    // A scheme is a letter followed by letters, digits, `+`, `-` or `.`, then `:`.
    let mut scheme = None;
    let mut rest = rest;
    for (i, c) in rest.char_indices() {
        match c {
            'a'..='z' | 'A'..='Z' => {}
            '0'..='9' | '+' | '-' | '.' if i > 0 => {}
            ':' if i == 0 => return Err(cant_parse("missing protocol scheme")),
            ':' => {
                scheme = Some(rest[..i].to_ascii_lowercase());
                rest = &rest[i + 1..];
                break;
            }
            _ => break,
        }
    }

    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, q),
        None => (rest, ""),
    };

    let mut host = "";
    let mut userinfo = false;
    let mut port = "";
    let path = if let Some(after) = rest.strip_prefix("//") {
        let (authority, path) = match after.find('/') {
            Some(i) => (&after[..i], &after[i..]),
            None => (after, ""),
        };
        let hostport = match authority.rsplit_once('@') {
            Some((_, hp)) => {
                userinfo = true;
                hp
            }
            None => authority,
        };
        if let Some(inner) = hostport.strip_prefix('[') {
            let (h, p) = inner
                .split_once(']')
                .ok_or_else(|| cant_parse("missing ']' in host"))?;
            host = h;
            port = p.strip_prefix(':').unwrap_or("");
        } else if let Some((h, p)) = hostport.rsplit_once(':') {
            host = h;
            port = p;
        } else {
            host = hostport;
        }
        path
    } else {
        if scheme.is_none() {
            let first_segment = rest.split('/').next().unwrap_or("");
            if first_segment.contains(':') {
                return Err(cant_parse("first path segment in URL cannot contain colon"));
            }
        }
        rest
    };
    let path = percent_decode(path).ok_or_else(|| cant_parse("invalid URL escape"))?;

    if let Some(s) = &scheme {
        if s != "file" {
            return Err(format!("no sink found for scheme {}", quote(s)));
        }
    }
    if userinfo {
        return Err(format!(
            "user and password not allowed with file URLs: got {raw}"
        ));
    }
    if fragment.is_some_and(|f| !f.is_empty()) {
        return Err(format!("fragments not allowed with file URLs: got {raw}"));
    }
    if !query.is_empty() {
        return Err(format!(
            "query parameters not allowed with file URLs: got {raw}"
        ));
    }
    if !port.is_empty() {
        return Err(format!("ports not allowed with file URLs: got {raw}"));
    }
    if !host.is_empty() && host != "localhost" {
        return Err(format!(
            "file URLs must leave host empty or use localhost: got {raw}"
        ));
    }
    Ok(path)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let text = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(text, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn plain_paths_and_streams() {
        assert_eq!(target_path("stdout").as_deref(), Ok("stdout"));
        assert_eq!(
            target_path("/var/log/pilot.log").as_deref(),
            Ok("/var/log/pilot.log")
        );
        assert_eq!(target_path("logs/a:b.log").as_deref(), Ok("logs/a:b.log"));
        assert_eq!(target_path("a%20b.log").as_deref(), Ok("a b.log"));
        assert_eq!(
            target_path("file:///tmp/x.log").as_deref(),
            Ok("/tmp/x.log")
        );
        assert_eq!(
            target_path("file://localhost/tmp/x.log").as_deref(),
            Ok("/tmp/x.log")
        );
        assert_eq!(target_path("FILE:stderr").as_deref(), Ok("stderr"));
        assert_eq!(target_path("x.log?").as_deref(), Ok("x.log"));
    }

    #[test]
    fn refused_targets() {
        assert_eq!(
            target_path("http://example/x").unwrap_err(),
            r#"no sink found for scheme "http""#
        );
        assert_eq!(
            target_path("/tmp/x.log#frag").unwrap_err(),
            "fragments not allowed with file URLs: got /tmp/x.log#frag"
        );
        assert_eq!(
            target_path("/tmp/x.log?a=b").unwrap_err(),
            "query parameters not allowed with file URLs: got /tmp/x.log?a=b"
        );
        assert_eq!(
            target_path("file://host/x").unwrap_err(),
            "file URLs must leave host empty or use localhost: got file://host/x"
        );
        assert_eq!(
            target_path("file://localhost:80/x").unwrap_err(),
            "ports not allowed with file URLs: got file://localhost:80/x"
        );
        assert_eq!(
            target_path("file://u:p@localhost/x").unwrap_err(),
            "user and password not allowed with file URLs: got file://u:p@localhost/x"
        );
        assert!(target_path("1a:b")
            .unwrap_err()
            .contains("cannot contain colon"));
        assert!(target_path("a%zzb")
            .unwrap_err()
            .contains("invalid URL escape"));
        assert!(target_path(":x")
            .unwrap_err()
            .contains("missing protocol scheme"));
    }

    #[test]
    fn file_targets_append() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("out.log");
        std::fs::write(&path, "existing\n").unwrap();
        let sink = open_target(path.to_str().unwrap()).unwrap();
        let out = Output::new(vec![sink]);
        out.write(b"line\n").unwrap();
        out.sync().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "existing\nline\n");

        let missing = tmp.path().join("no/such/dir.log");
        let err = open_target(missing.to_str().unwrap()).err().unwrap();
        assert!(
            err.starts_with(&format!("open {}: ", missing.display())),
            "{err}"
        );
    }

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    struct Failing;
    impl Write for Failing {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::other("disk full"))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_sink_is_written_and_errors_are_joined() {
        let a = Shared::default();
        let out = Output::new(vec![
            Sink::Writer(Box::new(Failing)),
            Sink::Writer(Box::new(a.clone())),
            Sink::Writer(Box::new(Failing)),
        ]);
        assert_eq!(out.write(b"x\n"), Err("disk full; disk full".to_string()));
        assert_eq!(&*a.0.lock().unwrap(), b"x\n");
    }
}
