//! The proxy agent: runs Envoy in restart epochs (upstream `pkg/envoy/agent.go`).
//!
//! Each configuration change (new certificates, or the drain configuration at shutdown) starts
//! a new proxy process with the next restart epoch; Envoy's hot restart protocol hands the
//! listeners over and the older epoch drains and exits on its own. The agent never restarts
//! a proxy that died: when the last running epoch exits, the agent returns and pilot-agent
//! exits, so that Kubernetes sees the failure and applies its own back-off (Istio 1.4
//! behaviour, replacing the earlier in-process retry budget).
//!
//! On shutdown the agent starts a drain epoch, waits the termination drain duration
//! (`TERMINATION_DRAIN_DURATION_SECONDS`) and then kills every epoch still running.

use std::collections::BTreeMap;
use std::future::Future;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::bootstrap;

/// How long the agent waits for killed epochs to exit.
const REAP_TIMEOUT: Duration = Duration::from_secs(5);

/// What an epoch is started with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EpochConfig {
    /// Normal operation; the contents of the watched certificates, so that a change of any of
    /// them is a new configuration.
    Certs(Vec<u8>),
    /// The drain configuration applied at shutdown.
    Drain,
}

/// How an epoch ended, other than a clean exit.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("fork/exec {binary}: {source}")]
    Spawn {
        binary: String,
        #[source]
        source: std::io::Error,
    },
    #[error("wait: {0}")]
    Wait(#[source] std::io::Error),
    /// The process exited unsuccessfully; shown as Go's `*exec.ExitError` is.
    #[error("{}", exit_status_text(.0))]
    Exit(ExitStatus),
    #[error("epoch aborted")]
    Aborted,
    /// The bootstrap file could not be produced; fatal.
    #[error(transparent)]
    Bootstrap(#[from] bootstrap::Error),
}

/// Go's text of an unsuccessful `ExitStatus`: `exit status 1`, `signal: killed`.
pub fn exit_status_text(status: &ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exit status {code}");
    }
    match status.signal() {
        Some(sig) => format!("signal: {}", signal_name(sig)),
        None => status.to_string(),
    }
}

/// Go's names of the common signals (`syscall.Signal.String()`).
fn signal_name(sig: i32) -> String {
    let name = match sig {
        1 => "hangup",
        2 => "interrupt",
        3 => "quit",
        4 => "illegal instruction",
        5 => "trace/breakpoint trap",
        6 => "aborted",
        7 => "bus error",
        8 => "floating point exception",
        9 => "killed",
        10 => "user defined signal 1",
        11 => "segmentation fault",
        12 => "user defined signal 2",
        13 => "broken pipe",
        14 => "alarm clock",
        15 => "terminated",
        _ => return format!("signal {sig}"),
    };
    name.to_owned()
}

/// The commands of one proxy binary, per epoch.
pub trait Proxy: Send + Sync + 'static {
    /// Whether the running server is past initialization (Envoy's admin state LIVE).
    fn is_live(&self) -> impl Future<Output = bool> + Send;

    /// Runs epoch `epoch` with `config` until the process exits, or kills it when `abort` is
    /// cancelled (then [`RunError::Aborted`]).
    fn run(
        &self,
        config: &EpochConfig,
        epoch: u32,
        abort: CancellationToken,
    ) -> impl Future<Output = Result<(), RunError>> + Send;

    /// Cleans up after an epoch exited; must not block.
    fn cleanup(&self, epoch: u32);
}

/// Why the agent stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("failed to generate bootstrap config: {0}")]
    Bootstrap(#[source] bootstrap::Error),
}

/// How the agent ended.
#[derive(Debug)]
pub enum Outcome {
    /// Shutdown was requested; the proxies were drained and stopped.
    Terminated,
    /// The last running epoch exited by itself, with this result.
    Exited {
        epoch: u32,
        result: Result<(), RunError>,
    },
}

struct ExitReport {
    epoch: u32,
    result: Result<(), RunError>,
}

#[derive(Default)]
struct State {
    /// Running epochs and their abort tokens.
    active: BTreeMap<u32, CancellationToken>,
    /// The newest epoch started, if any.
    current_epoch: Option<u32>,
    current_config: Option<EpochConfig>,
}

struct Inner<P> {
    proxy: P,
    /// One restart at a time.
    restart_lock: tokio::sync::Mutex<()>,
    state: Mutex<State>,
    exits: mpsc::UnboundedSender<ExitReport>,
    termination_drain_duration: Duration,
    live_poll_interval: Duration,
    live_timeout: Duration,
}

impl<P> Inner<P> {
    fn state(&self) -> MutexGuard<'_, State> {
        // The state stays consistent even if a holder panicked: every update is one statement.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Runs the proxy epochs. Restarts go through a [`Handle`].
pub struct Agent<P> {
    inner: Arc<Inner<P>>,
    exits: mpsc::UnboundedReceiver<ExitReport>,
}

/// Schedules restarts of an [`Agent`].
pub struct Handle<P> {
    inner: Arc<Inner<P>>,
}

impl<P> Clone for Handle<P> {
    fn clone(&self) -> Self {
        Handle {
            inner: self.inner.clone(),
        }
    }
}

impl<P: Proxy> Agent<P> {
    /// A new agent; no epoch runs until the first [`Handle::restart`].
    pub fn new(proxy: P, termination_drain_duration: Duration) -> Agent<P> {
        let (tx, rx) = mpsc::unbounded_channel();
        Agent {
            inner: Arc::new(Inner {
                proxy,
                restart_lock: tokio::sync::Mutex::new(()),
                state: Mutex::new(State::default()),
                exits: tx,
                termination_drain_duration,
                // Envoy gives a hot restart 15 s; wait a little longer than that.
                live_poll_interval: Duration::from_millis(500),
                live_timeout: Duration::from_secs(20),
            }),
            exits: rx,
        }
    }

    /// Changes how often and how long a restart waits for the previous epoch to be live.
    pub fn with_live_wait(mut self, poll_interval: Duration, timeout: Duration) -> Agent<P> {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.live_poll_interval = poll_interval;
            inner.live_timeout = timeout;
        }
        self
    }

    pub fn handle(&self) -> Handle<P> {
        Handle {
            inner: self.inner.clone(),
        }
    }

    /// Runs until the last epoch exits or `shutdown` is cancelled (then the proxies are
    /// drained and stopped). A bootstrap failure stops every epoch and is returned as an
    /// error.
    pub async fn run(mut self, shutdown: CancellationToken) -> Result<Outcome, Error> {
        tracing::info!("Starting proxy agent");
        loop {
            tokio::select! {
                biased;
                report = self.exits.recv() => {
                    // The agent holds a sender itself, so the channel never closes.
                    let Some(ExitReport { epoch, result }) = report else { continue };
                    match &result {
                        Ok(()) => tracing::info!("Epoch {epoch} exited normally"),
                        Err(e) => {
                            if matches!(e, RunError::Exit(s) if s.signal() == Some(9)) {
                                tracing::warn!(
                                    "Envoy may have been out of memory killed. Check memory usage and limits."
                                );
                            }
                            tracing::error!("Epoch {epoch} exited with error: {e}");
                        }
                    }
                    let active = {
                        let mut st = self.inner.state();
                        st.active.remove(&epoch);
                        st.active.len()
                    };
                    if let Err(RunError::Bootstrap(e)) = result {
                        self.abort_all();
                        self.reap().await;
                        return Err(Error::Bootstrap(e));
                    }
                    if active == 0 {
                        tracing::info!("No more active epochs, terminating");
                        return Ok(Outcome::Exited { epoch, result });
                    }
                    tracing::info!("{active} active epochs running");
                }
                _ = shutdown.cancelled() => {
                    self.terminate().await;
                    self.reap().await;
                    tracing::info!("Agent has successfully terminated");
                    return Ok(Outcome::Terminated);
                }
            }
        }
    }

    async fn terminate(&self) {
        tracing::info!("Agent draining Proxy");
        self.handle().restart(EpochConfig::Drain).await;
        let d = self.inner.termination_drain_duration;
        tracing::info!(
            "Graceful termination period is {}, starting...",
            crate::gostr::format_duration(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        );
        tokio::time::sleep(d).await;
        tracing::info!("Graceful termination period complete, terminating remaining proxies.");
        self.abort_all();
    }

    /// Waits (a bounded time) for the aborted epochs to report their exit, so that no
    /// process outlives the agent.
    async fn reap(&mut self) {
        let deadline = tokio::time::Instant::now() + REAP_TIMEOUT;
        while !self.inner.state().active.is_empty() {
            match tokio::time::timeout_at(deadline, self.exits.recv()).await {
                Ok(Some(report)) => {
                    self.inner.state().active.remove(&report.epoch);
                }
                _ => {
                    tracing::warn!(
                        "epochs still running after abort: {:?}",
                        self.handle().active_epochs()
                    );
                    return;
                }
            }
        }
    }

    fn abort_all(&self) {
        let st = self.inner.state();
        for (epoch, abort) in &st.active {
            tracing::warn!("Aborting epoch {epoch}...");
            abort.cancel();
        }
        tracing::warn!("Aborted all epochs");
    }
}

impl<P: Proxy> Handle<P> {
    /// Starts a new epoch with `config`, unless it equals the newest epoch's. When an epoch is
    /// running, waits first (up to the live timeout) for it to be live, as Envoy cannot hand
    /// over from a server that is still initializing.
    pub async fn restart(&self, config: EpochConfig) {
        let inner = &self.inner;
        let _one_at_a_time = inner.restart_lock.lock().await;
        let (epoch, abort, previous) = {
            let mut st = inner.state();
            if st.current_config.as_ref() == Some(&config) {
                return;
            }
            let previous = (!st.active.is_empty())
                .then_some(st.current_epoch)
                .flatten();
            let epoch = st.current_epoch.map_or(0, |e| e + 1);
            tracing::info!("Received new config, creating new Envoy epoch {epoch}");
            st.current_epoch = Some(epoch);
            st.current_config = Some(config.clone());
            let abort = CancellationToken::new();
            st.active.insert(epoch, abort.clone());
            (epoch, abort, previous)
        };
        if let Some(previous) = previous {
            self.wait_until_live(previous).await;
        }
        let inner = self.inner.clone();
        tokio::spawn(async move {
            tracing::info!("Epoch {epoch} starting");
            let result = inner.proxy.run(&config, epoch, abort).await;
            inner.proxy.cleanup(epoch);
            let _ = inner.exits.send(ExitReport { epoch, result });
        });
    }

    /// The epoch numbers currently running.
    pub fn active_epochs(&self) -> Vec<u32> {
        self.inner.state().active.keys().copied().collect()
    }

    async fn wait_until_live(&self, epoch: u32) {
        let inner = &self.inner;
        tracing::info!("waiting for epoch {epoch} to go live before performing a hot restart");
        let deadline = tokio::time::Instant::now() + inner.live_timeout;
        loop {
            if !inner.state().active.contains_key(&epoch) {
                tracing::warn!("epoch {epoch} exited while waiting for it to go live.");
                return;
            }
            if inner.proxy.is_live().await {
                return;
            }
            if tokio::time::Instant::now() + inner.live_poll_interval > deadline {
                tracing::warn!("timed out waiting for epoch {epoch} to go live.");
                return;
            }
            tokio::time::sleep(inner.live_poll_interval).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// A proxy whose epochs run until told to exit (by epoch) or aborted.
    #[derive(Default)]
    struct Fake {
        live: AtomicBool,
        started: Mutex<Vec<(u32, EpochConfig)>>,
        cleaned: Mutex<Vec<u32>>,
        exits: Mutex<BTreeMap<u32, tokio::sync::oneshot::Sender<Result<(), RunError>>>>,
    }

    impl Proxy for Arc<Fake> {
        async fn is_live(&self) -> bool {
            self.live.load(Ordering::SeqCst)
        }

        async fn run(
            &self,
            config: &EpochConfig,
            epoch: u32,
            abort: CancellationToken,
        ) -> Result<(), RunError> {
            let (tx, rx) = tokio::sync::oneshot::channel();
            self.exits.lock().unwrap().insert(epoch, tx);
            self.started.lock().unwrap().push((epoch, config.clone()));
            tokio::select! {
                r = rx => r.unwrap_or(Err(RunError::Aborted)),
                _ = abort.cancelled() => Err(RunError::Aborted),
            }
        }

        fn cleanup(&self, epoch: u32) {
            self.cleaned.lock().unwrap().push(epoch);
        }
    }

    impl Fake {
        fn exit(&self, epoch: u32, result: Result<(), RunError>) {
            let tx = self.exits.lock().unwrap().remove(&epoch).unwrap();
            tx.send(result).unwrap();
        }

        fn started(&self) -> Vec<(u32, EpochConfig)> {
            self.started.lock().unwrap().clone()
        }
    }

    async fn until(what: &str, f: impl Fn() -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !f() {
            assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    fn certs(s: &str) -> EpochConfig {
        EpochConfig::Certs(s.as_bytes().to_vec())
    }

    #[tokio::test]
    async fn epochs_follow_config_changes_and_the_agent_ends_with_the_last_one() {
        let fake = Arc::new(Fake::default());
        fake.live.store(true, Ordering::SeqCst);
        let agent = Agent::new(fake.clone(), Duration::ZERO);
        let h = agent.handle();
        let run = tokio::spawn(agent.run(CancellationToken::new()));
        h.restart(certs("a")).await;
        h.restart(certs("a")).await; // same config: nothing to do
        until("epoch 0", || fake.started().len() == 1).await;
        h.restart(certs("b")).await;
        until("epoch 1", || fake.started().len() == 2).await;
        assert_eq!(fake.started(), [(0, certs("a")), (1, certs("b"))]);
        assert_eq!(h.active_epochs(), [0, 1]);
        // The old epoch hands over and exits; the agent carries on with epoch 1.
        fake.exit(0, Ok(()));
        until("epoch 0 gone", || h.active_epochs() == [1]).await;
        assert!(!run.is_finished());
        // The last epoch dies: the agent returns its result, and restarts nothing.
        fake.exit(1, Err(RunError::Exit(ExitStatus::from_raw(3 << 8))));
        let outcome = run.await.unwrap().unwrap();
        match outcome {
            Outcome::Exited {
                epoch: 1,
                result: Err(e),
            } => assert_eq!(e.to_string(), "exit status 3"),
            other => panic!("{other:?}"),
        }
        assert_eq!(fake.started().len(), 2);
        assert_eq!(*fake.cleaned.lock().unwrap(), [0, 1]);
    }

    #[tokio::test]
    async fn shutdown_drains_then_aborts_everything() {
        let fake = Arc::new(Fake::default());
        fake.live.store(true, Ordering::SeqCst);
        let agent = Agent::new(fake.clone(), Duration::from_millis(50));
        let h = agent.handle();
        let stop = CancellationToken::new();
        let run = tokio::spawn(agent.run(stop.clone()));
        h.restart(certs("a")).await;
        until("epoch 0", || fake.started().len() == 1).await;
        stop.cancel();
        assert!(matches!(run.await.unwrap(), Ok(Outcome::Terminated)));
        assert_eq!(fake.started(), [(0, certs("a")), (1, EpochConfig::Drain)]);
        // Both epochs were killed and had exited when the agent returned.
        let mut cleaned = fake.cleaned.lock().unwrap().clone();
        cleaned.sort();
        assert_eq!(cleaned, [0, 1]);
        assert!(h.active_epochs().is_empty());
    }

    #[tokio::test]
    async fn restart_waits_for_the_previous_epoch_to_be_live() {
        let fake = Arc::new(Fake::default());
        let agent = Agent::new(fake.clone(), Duration::ZERO)
            .with_live_wait(Duration::from_millis(10), Duration::from_secs(5));
        let h = agent.handle();
        let _run = tokio::spawn(agent.run(CancellationToken::new()));
        h.restart(certs("a")).await;
        until("epoch 0", || fake.started().len() == 1).await;
        let h2 = h.clone();
        let restarting = tokio::spawn(async move { h2.restart(certs("b")).await });
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(fake.started().len(), 1, "restarted before epoch 0 was live");
        fake.live.store(true, Ordering::SeqCst);
        restarting.await.unwrap();
        until("epoch 1", || fake.started().len() == 2).await;

        // An epoch that already exited is not waited for.
        fake.live.store(false, Ordering::SeqCst);
        fake.exit(1, Ok(()));
        until("epoch 1 gone", || h.active_epochs() == [0]).await;
        tokio::time::timeout(Duration::from_secs(2), h.restart(certs("c")))
            .await
            .expect("waited for an epoch that had exited");
        until("epoch 2", || fake.started().len() == 3).await;
    }

    #[tokio::test]
    async fn bootstrap_failure_is_fatal() {
        let fake = Arc::new(Fake::default());
        let agent = Agent::new(fake.clone(), Duration::ZERO);
        let h = agent.handle();
        let run = tokio::spawn(agent.run(CancellationToken::new()));
        h.restart(certs("a")).await;
        until("epoch 0", || fake.started().len() == 1).await;
        fake.exit(0, Err(bootstrap::Error::Unavailable.into()));
        let err = run.await.unwrap().unwrap_err();
        assert_eq!(
            err.to_string(),
            "failed to generate bootstrap config: bootstrap template rendering is not available yet"
        );
    }

    #[test]
    fn go_exit_texts() {
        assert_eq!(
            exit_status_text(&ExitStatus::from_raw(1 << 8)),
            "exit status 1"
        );
        assert_eq!(exit_status_text(&ExitStatus::from_raw(9)), "signal: killed");
        assert_eq!(
            exit_status_text(&ExitStatus::from_raw(11)),
            "signal: segmentation fault"
        );
        assert_eq!(
            exit_status_text(&ExitStatus::from_raw(40)),
            "signal: signal 40"
        );
    }
}
