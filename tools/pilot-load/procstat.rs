//! CPU time and peak RSS of the measured process, from /proc (Linux).

use std::time::Duration;

use tokio::sync::oneshot;

/// Linux reports /proc/<pid>/stat times in USER_HZ, which is 100 on every supported
/// architecture.
const USER_HZ: f64 = 100.0;

/// User + system CPU seconds of `pid` so far.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / USER_HZ)
}

/// Peak resident set size of `pid` (VmHWM), in bytes.
pub fn peak_rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Samples the peak RSS while the run lasts (VmHWM already is a peak; sampling keeps the last
/// value readable after the process exits).
pub struct Sampler {
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Option<u64>>,
}

impl Sampler {
    pub fn start(pid: u32) -> Sampler {
        let (stop, mut rx) = oneshot::channel();
        let task = tokio::spawn(async move {
            let mut peak = None;
            loop {
                if let Some(p) = peak_rss(pid) {
                    peak = Some(peak.map_or(p, |q: u64| q.max(p)));
                }
                tokio::select! {
                    _ = &mut rx => return peak_rss(pid).map_or(peak, |p| Some(peak.map_or(p, |q| q.max(p)))),
                    _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                }
            }
        });
        Sampler { stop, task }
    }

    pub async fn stop(self) -> Option<u64> {
        let _ = self.stop.send(());
        self.task.await.ok().flatten()
    }
}

/// Stops a spawned server: SIGTERM via `kill`, then a hard kill after 10 s.
pub async fn terminate(child: &mut tokio::process::Child) {
    if let Some(pid) = child.id() {
        let _ = tokio::process::Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status()
            .await;
    }
    if tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .is_err()
    {
        let _ = child.kill().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_process() {
        let pid = std::process::id();
        assert!(cpu_seconds(pid).is_some());
        assert!(peak_rss(pid).unwrap_or(0) > 1024 * 1024);
        assert!(cpu_seconds(u32::MAX).is_none());
    }
}
