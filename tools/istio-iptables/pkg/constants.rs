//! Names that are part of the tools' interface: tables, chains, targets, flags, environment.

/// iptables tables.
pub const MANGLE: &str = "mangle";
pub const NAT: &str = "nat";

/// Built-in chains.
pub const INPUT: &str = "INPUT";
pub const OUTPUT: &str = "OUTPUT";
pub const PREROUTING: &str = "PREROUTING";

/// Targets and protocols.
pub const TCP: &str = "tcp";
pub const TPROXY: &str = "TPROXY";
pub const RETURN: &str = "RETURN";
pub const ACCEPT: &str = "ACCEPT";
pub const REJECT: &str = "REJECT";
pub const REDIRECT: &str = "REDIRECT";
pub const MARK: &str = "MARK";

/// The chains Istio owns.
pub const ISTIO_OUTPUT: &str = "ISTIO_OUTPUT";
pub const ISTIO_INBOUND: &str = "ISTIO_INBOUND";
pub const ISTIO_DIVERT: &str = "ISTIO_DIVERT";
pub const ISTIO_TPROXY: &str = "ISTIO_TPROXY";
pub const ISTIO_REDIRECT: &str = "ISTIO_REDIRECT";
pub const ISTIO_IN_REDIRECT: &str = "ISTIO_IN_REDIRECT";

/// Long flag names of `istio-iptables`. Each has an environment twin: the name upper-cased with
/// `-` turned into `_` (see [`env_name`]).
pub const FLAG_ENVOY_PORT: &str = "envoy-port";
pub const FLAG_INBOUND_CAPTURE_PORT: &str = "inbound-capture-port";
pub const FLAG_PROXY_UID: &str = "proxy-uid";
pub const FLAG_PROXY_GID: &str = "proxy-gid";
pub const FLAG_INTERCEPTION_MODE: &str = "istio-inbound-interception-mode";
pub const FLAG_INBOUND_PORTS: &str = "istio-inbound-ports";
pub const FLAG_LOCAL_EXCLUDE_PORTS: &str = "istio-local-exclude-ports";
pub const FLAG_SERVICE_CIDR: &str = "istio-service-cidr";
pub const FLAG_SERVICE_EXCLUDE_CIDR: &str = "istio-service-exclude-cidr";
pub const FLAG_OUTBOUND_PORTS_EXCLUDE: &str = "istio-local-outbound-ports-exclude";
pub const FLAG_KUBEVIRT_INTERFACES: &str = "kube-virt-interfaces";
pub const FLAG_TPROXY_MARK: &str = "istio-inbound-tproxy-mark";
pub const FLAG_TPROXY_ROUTE_TABLE: &str = "istio-inbound-tproxy-route-table";
pub const FLAG_DRY_RUN: &str = "dry-run";
pub const FLAG_RESTORE_FORMAT: &str = "restore-format";
pub const FLAG_PROBE_PORT: &str = "iptables-probe-port";
pub const FLAG_SKIP_RULE_APPLY: &str = "skip-rule-apply";
pub const FLAG_RUN_VALIDATION: &str = "run-validation";

/// The environment variable that stands in for a long flag that was not given.
pub fn env_name(flag: &str) -> String {
    flag.to_ascii_uppercase().replace('-', "_")
}

/// Defaults.
pub const DEFAULT_ENVOY_PORT: &str = "15001";
pub const DEFAULT_INBOUND_CAPTURE_PORT: &str = "15006";
pub const DEFAULT_TPROXY_MARK: &str = "1337";
pub const DEFAULT_TPROXY_ROUTE_TABLE: &str = "133";
pub const DEFAULT_PROBE_PORT: u16 = 15002;
/// The UID used when `-u` is empty and `ENVOY_USER` is not a known user.
pub const DEFAULT_PROXY_UID: &str = "1337";

/// Other environment variables read by the tools.
pub const ENV_DISABLE_LOOPBACK_REDIRECT: &str = "DISABLE_REDIRECTION_ON_LOCAL_LOOPBACK";
pub const ENV_ENVOY_USER: &str = "ENVOY_USER";
pub const DEFAULT_ENVOY_USER: &str = "istio-proxy";
/// `--dry-run` only: the pod address to assume (default 127.0.0.1).
pub const ENV_STUB_IP: &str = "STUB_IP";

/// Exit code of `--run-validation` when the probe fails.
pub const VALIDATION_ERROR_CODE: i32 = 126;
