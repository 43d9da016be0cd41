//! The readiness probe of `/healthz/ready` (upstream `status/ready/probe.go` and
//! `status/util`): Envoy has received clusters and listeners from Pilot, a gateway has a
//! listener for each application port, and the server is LIVE.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use istio_pilot::model::context::NodeType;
use istio_pkg::envoy::admin;

const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

const CDS_UPDATES_SUCCESS: &str = "cluster_manager.cds.update_success";
const CDS_UPDATES_REJECTION: &str = "cluster_manager.cds.update_rejected";
const LDS_UPDATES_SUCCESS: &str = "listener_manager.lds.update_success";
const LDS_UPDATES_REJECTION: &str = "listener_manager.lds.update_rejected";

/// The xDS counters the probe looks at.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub cds_updates_success: u64,
    pub cds_updates_rejection: u64,
    pub lds_updates_success: u64,
    pub lds_updates_rejection: u64,
}

impl std::fmt::Display for Stats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "cds updates: {} successful, {} rejected; lds updates: {} successful, {} rejected",
            self.cds_updates_success,
            self.cds_updates_rejection,
            self.lds_updates_success,
            self.lds_updates_rejection
        )
    }
}

/// Reads the counters from Envoy's `/stats` text (`name: value` lines); the first line that
/// starts with a counter's name counts, absent counters are 0.
pub fn parse_stats(text: &str) -> Result<Stats, String> {
    let mut stats = Stats::default();
    let mut errors = Vec::new();
    let mut slots: [(&str, &mut u64, bool); 4] = [
        (CDS_UPDATES_SUCCESS, &mut stats.cds_updates_success, false),
        (
            CDS_UPDATES_REJECTION,
            &mut stats.cds_updates_rejection,
            false,
        ),
        (LDS_UPDATES_SUCCESS, &mut stats.lds_updates_success, false),
        (
            LDS_UPDATES_REJECTION,
            &mut stats.lds_updates_rejection,
            false,
        ),
    ];
    for line in text.split_inclusive('\n') {
        for (name, value, found) in slots.iter_mut() {
            if *found || !line.starts_with(*name) {
                continue;
            }
            *found = true;
            let parts: Vec<&str> = line.split(':').collect();
            if parts.len() != 2 {
                errors.push(format!("envoy stat {name} missing separator. line:{line}"));
                continue;
            }
            match parts[1].trim().parse::<u64>() {
                Ok(v) => **value = v,
                Err(e) => errors.push(format!(
                    "failed parsing Envoy stat {name} (error: {e}) line: {line}"
                )),
            }
        }
    }
    if errors.is_empty() {
        Ok(stats)
    } else {
        Err(errors.join("; "))
    }
}

/// Ports of the listeners a gateway serves on `0.0.0.0`, from `/listeners?format=json`.
pub fn router_listener_ports(json: &[u8]) -> Result<Vec<u16>, String> {
    let doc: serde_json::Value = serde_json::from_slice(json).map_err(|e| e.to_string())?;
    let statuses = doc
        .get("listener_statuses")
        .or_else(|| doc.get("listenerStatuses"))
        .and_then(|v| v.as_array())
        .cloned()
        .unwrap_or_default();
    let mut ports = Vec::new();
    for l in &statuses {
        let local = l.get("local_address").or_else(|| l.get("localAddress"));
        let Some(sock) =
            local.and_then(|a| a.get("socket_address").or_else(|| a.get("socketAddress")))
        else {
            continue;
        };
        if sock.get("address").and_then(|a| a.as_str()) != Some("0.0.0.0") {
            continue;
        }
        let port = sock
            .get("port_value")
            .or_else(|| sock.get("portValue"))
            .and_then(|p| p.as_u64())
            .and_then(|p| u16::try_from(p).ok());
        if let Some(p) = port {
            ports.push(p);
        }
    }
    Ok(ports)
}

/// Readiness of the local Envoy.
#[derive(Debug)]
pub struct Probe {
    /// `127.0.0.1` or `[::1]`.
    pub local_host_addr: String,
    pub admin_port: u16,
    pub application_ports: Vec<u16>,
    pub node_type: NodeType,
    received_first_update: AtomicBool,
}

impl Probe {
    pub fn new(
        local_host_addr: String,
        admin_port: u16,
        application_ports: Vec<u16>,
        node_type: NodeType,
    ) -> Probe {
        Probe {
            local_host_addr,
            admin_port,
            application_ports,
            node_type,
            received_first_update: AtomicBool::new(false),
        }
    }

    fn admin(&self) -> String {
        format!("{}:{}", self.local_host_addr, self.admin_port)
    }

    /// `Ok` when ready, else why not.
    pub async fn check(&self) -> Result<(), String> {
        self.check_updated().await?;
        if self.node_type == NodeType::Router {
            self.check_inbound_configured().await?;
        }
        self.check_server_info().await
    }

    /// Pilot has sent clusters and listeners (accepted or not). Once seen, not asked again.
    async fn check_updated(&self) -> Result<(), String> {
        if self.received_first_update.load(Ordering::Relaxed) {
            return Ok(());
        }
        let body = admin::get(&self.admin(), "stats?usedonly", REQUEST_TIMEOUT)
            .await
            .map_err(|e| format!("failed retrieving Envoy stats: {e}"))?;
        let s = parse_stats(&String::from_utf8_lossy(&body))?;
        let cds = s.cds_updates_success > 0 || s.cds_updates_rejection > 0;
        let lds = s.lds_updates_success > 0 || s.lds_updates_rejection > 0;
        if cds && lds {
            self.received_first_update.store(true, Ordering::Relaxed);
            return Ok(());
        }
        Err(format!(
            "config not received from Pilot (is Pilot running?): {s}"
        ))
    }

    /// A gateway listens on every application port.
    async fn check_inbound_configured(&self) -> Result<(), String> {
        if self.application_ports.is_empty() {
            return Ok(());
        }
        let body = admin::get(&self.admin(), "listeners?format=json", REQUEST_TIMEOUT)
            .await
            .map_err(|e| format!("failed retrieving Envoy listeners: {e}"))?;
        let ports = router_listener_ports(&body).map_err(|e| {
            format!(
                "failed parsing Envoy listeners {}: {e}",
                String::from_utf8_lossy(&body)
            )
        })?;
        let missing: Vec<String> = self
            .application_ports
            .iter()
            .filter(|p| !ports.contains(p))
            .map(|p| format!("envoy missing listener for inbound application port: {p}"))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        Err(format!(
            "failed checking application ports. listeners={}; {}",
            String::from_utf8_lossy(&body),
            missing.join("; ")
        ))
    }

    async fn check_server_info(&self) -> Result<(), String> {
        let state = admin::server_state(&self.admin(), REQUEST_TIMEOUT)
            .await
            .map_err(|e| format!("failed to get server info: {e}"))?;
        if state != admin::ServerState::Live {
            return Err(format!("server is not live, current state is: {state}"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats() {
        let text = "cluster_manager.cds.update_attempt: 3\n\
                    cluster_manager.cds.update_success: 2\n\
                    cluster_manager.cds.update_rejected: 1\n\
                    listener_manager.lds.update_success: 5\n";
        assert_eq!(
            parse_stats(text).unwrap(),
            Stats {
                cds_updates_success: 2,
                cds_updates_rejection: 1,
                lds_updates_success: 5,
                lds_updates_rejection: 0,
            }
        );
        assert_eq!(
            parse_stats("").unwrap().to_string(),
            "cds updates: 0 successful, 0 rejected; lds updates: 0 successful, 0 rejected"
        );
        assert!(parse_stats("cluster_manager.cds.update_success: x\n")
            .unwrap_err()
            .starts_with("failed parsing Envoy stat cluster_manager.cds.update_success"));
        assert!(parse_stats("cluster_manager.cds.update_success 1\n")
            .unwrap_err()
            .starts_with("envoy stat cluster_manager.cds.update_success missing separator"));
    }

    #[test]
    fn listeners() {
        let json = br#"{"listener_statuses":[
            {"name":"0.0.0.0_80","local_address":{"socket_address":{"address":"0.0.0.0","port_value":80}}},
            {"name":"10.0.0.1_90","local_address":{"socket_address":{"address":"10.0.0.1","port_value":90}}},
            {"name":"pipe","local_address":{"pipe":{"path":"/x"}}}
        ]}"#;
        assert_eq!(router_listener_ports(json).unwrap(), [80]);
        assert!(router_listener_ports(b"nope").is_err());
    }
}
