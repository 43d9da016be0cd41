//! A recording [`XdsUpdater`] for tests: keeps every call and lets a test wait for one.

use std::sync::Mutex;
use std::time::Duration;

use crate::model::{Event, IstioEndpoint, PushRequest, XdsUpdater};

/// One call to the updater.
#[derive(Debug, Clone)]
pub enum XdsCall {
    Eds {
        shard: String,
        hostname: String,
        namespace: String,
        endpoints: Vec<IstioEndpoint>,
    },
    Svc {
        shard: String,
        hostname: String,
        namespace: String,
        event: Event,
    },
    Config(PushRequest),
    Proxy {
        cluster_id: String,
        ip: String,
    },
}

/// Records calls; [`RecordingUpdater::wait_for`] polls for a matching one.
#[derive(Debug, Default)]
pub struct RecordingUpdater {
    calls: Mutex<Vec<XdsCall>>,
}

impl RecordingUpdater {
    pub fn new() -> RecordingUpdater {
        RecordingUpdater::default()
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<XdsCall> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Returns and forgets every call so far.
    pub fn take(&self) -> Vec<XdsCall> {
        std::mem::take(&mut *self.calls.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// The last EDS update for `hostname`, if any.
    pub fn last_eds(&self, hostname: &str) -> Option<Vec<IstioEndpoint>> {
        self.calls().into_iter().rev().find_map(|c| match c {
            XdsCall::Eds {
                hostname: h,
                endpoints,
                ..
            } if h == hostname => Some(endpoints),
            _ => None,
        })
    }

    /// Waits until a recorded call satisfies `pred` (checking calls already made too); returns
    /// it, or `None` after `timeout`.
    pub async fn wait_for(
        &self,
        timeout: Duration,
        pred: impl Fn(&XdsCall) -> bool,
    ) -> Option<XdsCall> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(c) = self.calls().into_iter().find(|c| pred(c)) {
                return Some(c);
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn push(&self, call: XdsCall) {
        self.calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(call);
    }
}

impl XdsUpdater for RecordingUpdater {
    fn eds_update(
        &self,
        shard: &str,
        hostname: &str,
        namespace: &str,
        endpoints: Vec<IstioEndpoint>,
    ) {
        self.push(XdsCall::Eds {
            shard: shard.into(),
            hostname: hostname.into(),
            namespace: namespace.into(),
            endpoints,
        });
    }

    fn svc_update(&self, shard: &str, hostname: &str, namespace: &str, event: Event) {
        self.push(XdsCall::Svc {
            shard: shard.into(),
            hostname: hostname.into(),
            namespace: namespace.into(),
            event,
        });
    }

    fn config_update(&self, req: PushRequest) {
        self.push(XdsCall::Config(req));
    }

    fn proxy_update(&self, cluster_id: &str, ip: &str) {
        self.push(XdsCall::Proxy {
            cluster_id: cluster_id.into(),
            ip: ip.into(),
        });
    }
}
