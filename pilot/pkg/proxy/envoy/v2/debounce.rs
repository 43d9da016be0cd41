//! Debouncing of push requests (upstream `debounce` in `discovery.go`).
//!
//! Changes arrive in bursts (a deployment rollout updates many endpoints). A push starts once
//! no change arrived for `after` (PILOT_DEBOUNCE_AFTER), or once `max` (PILOT_DEBOUNCE_MAX)
//! passed since the first change of the burst; requests of a burst are merged. At most one
//! debounced push runs at a time: changes arriving during a push are merged into the next one.
//! With PILOT_ENABLE_EDS_DEBOUNCE=false, EDS-only requests bypass the debounce.

use std::future::Future;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::model::PushRequest;

#[derive(Debug, Clone, Copy)]
pub struct DebounceOptions {
    pub after: Duration,
    pub max: Duration,
    pub enable_eds_debounce: bool,
}

/// Reads requests from `rx` until `shutdown` and calls `push` with merged requests.
pub async fn debounce<F, Fut>(
    mut rx: mpsc::UnboundedReceiver<PushRequest>,
    opts: DebounceOptions,
    shutdown: CancellationToken,
    push: F,
) where
    F: Fn(PushRequest) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<()>();
    let mut pending: Option<PushRequest> = None;
    let mut start = Instant::now();
    let mut last_change = Instant::now();
    let mut events = 0usize;
    let mut in_flight = false;
    let mut deadline: Option<Instant> = None;
    let mut counter = 0u64;

    loop {
        let timer = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        let mut ready = false;
        tokio::select! {
            _ = shutdown.cancelled() => return,
            Some(()) = done_rx.recv() => {
                in_flight = false;
                ready = true;
            }
            r = rx.recv() => {
                let Some(r) = r else { return };
                if !opts.enable_eds_debounce && !r.full {
                    tokio::spawn(push(r));
                    continue;
                }
                last_change = Instant::now();
                if events == 0 {
                    deadline = Some(last_change + opts.after);
                    start = last_change;
                }
                events += 1;
                pending = Some(match pending.take() {
                    Some(p) => p.merge(r),
                    None => r,
                });
            }
            _ = timer => {
                deadline = None;
                ready = !in_flight;
            }
        }
        if !ready {
            continue;
        }
        let Some(req) = pending.take() else {
            continue;
        };
        let now = Instant::now();
        let since_start = now - start;
        let quiet = now - last_change;
        if since_start >= opts.max || quiet >= opts.after {
            counter += 1;
            tracing::info!(
                target: "ads",
                "Push debounce stable[{counter}] {events}: {quiet:?} since last change, {since_start:?} since last push, full={}",
                req.full
            );
            events = 0;
            in_flight = true;
            let fut = push(req);
            let done = done_tx.clone();
            tokio::spawn(async move {
                fut.await;
                let _ = done.send(());
            });
        } else {
            pending = Some(req);
            deadline = Some(now + (opts.after - quiet));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    type Log = Arc<Mutex<Vec<(Duration, PushRequest)>>>;

    fn start(
        opts: DebounceOptions,
        push_takes: Duration,
    ) -> (mpsc::UnboundedSender<PushRequest>, Log, CancellationToken) {
        let (tx, rx) = mpsc::unbounded_channel();
        let log: Log = Arc::default();
        let shutdown = CancellationToken::new();
        let t0 = Instant::now();
        let l = log.clone();
        tokio::spawn(debounce(rx, opts, shutdown.clone(), move |r| {
            let l = l.clone();
            async move {
                l.lock().unwrap().push((Instant::now() - t0, r));
                tokio::time::sleep(push_takes).await;
            }
        }));
        (tx, log, shutdown)
    }

    const OPTS: DebounceOptions = DebounceOptions {
        after: Duration::from_millis(100),
        max: Duration::from_secs(1),
        enable_eds_debounce: true,
    };

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[tokio::test(start_paused = true)]
    async fn merges_a_burst_after_the_quiet_period() {
        let (tx, log, _s) = start(OPTS, ms(0));
        tx.send(PushRequest::eds(["a".to_string()])).unwrap();
        tokio::time::sleep(ms(50)).await;
        tx.send(PushRequest::eds(["b".to_string()])).unwrap();
        tokio::time::sleep(ms(50)).await;
        assert!(log.lock().unwrap().is_empty(), "pushed before quiet period");
        tokio::time::sleep(ms(200)).await;
        let log = log.lock().unwrap();
        assert_eq!(log.len(), 1);
        assert_eq!(log[0].0, ms(150));
        assert!(!log[0].1.full);
        assert_eq!(log[0].1.eds_updates.len(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn max_delay_caps_a_continuous_stream() {
        let (tx, log, _s) = start(OPTS, ms(0));
        for _ in 0..30 {
            tx.send(PushRequest::full()).unwrap();
            tokio::time::sleep(ms(50)).await;
        }
        let log = log.lock().unwrap();
        assert!(!log.is_empty(), "no push within 1.5s of constant changes");
        assert!(
            log[0].0 >= ms(1000) && log[0].0 <= ms(1100),
            "{:?}",
            log[0].0
        );
        assert!(log[0].1.full);
    }

    #[tokio::test(start_paused = true)]
    async fn one_push_at_a_time_and_changes_during_a_push_are_merged() {
        let (tx, log, _s) = start(OPTS, ms(500));
        tx.send(PushRequest::full()).unwrap();
        tokio::time::sleep(ms(150)).await;
        assert_eq!(log.lock().unwrap().len(), 1);
        tx.send(PushRequest::eds(["x".to_string()])).unwrap();
        tx.send(PushRequest::eds(["y".to_string()])).unwrap();
        tokio::time::sleep(ms(300)).await;
        // First push still running (ends at 600ms).
        assert_eq!(log.lock().unwrap().len(), 1);
        tokio::time::sleep(ms(300)).await;
        let log = log.lock().unwrap();
        assert_eq!(log.len(), 2);
        assert_eq!(log[1].0, ms(600));
        assert_eq!(log[1].1.eds_updates.len(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn eds_bypasses_debounce_when_disabled() {
        let opts = DebounceOptions {
            enable_eds_debounce: false,
            ..OPTS
        };
        let (tx, log, _s) = start(opts, ms(0));
        tx.send(PushRequest::eds(["a".to_string()])).unwrap();
        tokio::time::sleep(ms(1)).await;
        assert_eq!(log.lock().unwrap().len(), 1);
        assert_eq!(log.lock().unwrap()[0].0, ms(0));
        tx.send(PushRequest::full()).unwrap();
        tokio::time::sleep(ms(50)).await;
        assert_eq!(
            log.lock().unwrap().len(),
            1,
            "full push must still be debounced"
        );
        tokio::time::sleep(ms(100)).await;
        assert_eq!(log.lock().unwrap().len(), 2);
    }
}
