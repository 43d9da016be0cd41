//! Feature flags and tunables read from the environment (upstream
//! `pilot/pkg/features/pilot.go`), with upstream's names and defaults.
//!
//! A value that does not parse is reported once at start-up (naming the variable) and the
//! default is used, as upstream does.

use std::time::Duration;

use istio_pkg::keepalive::parse_duration;

/// Every pilot feature flag. Read once with [`Features::from_env`] and passed down; nothing
/// reads the environment on a request path.
#[derive(Debug, Clone, PartialEq)]
pub struct Features {
    /// `PILOT_CERT_DIR`: where the secure gRPC server's certificates are (default `/etc/certs`).
    pub cert_dir: String,
    /// `ISTIO_GPRC_MAXSTREAMS` (sic): concurrent gRPC streams per connection.
    pub max_concurrent_streams: u32,
    /// `PILOT_TRACE_SAMPLING`: mesh-wide trace sampling percentage.
    pub trace_sampling: f64,
    /// `PILOT_PUSH_THROTTLE`: concurrent pushes.
    pub push_throttle: usize,
    /// `PILOT_DEBUG_ADSZ_CONFIG`: include full config in /debug/adsz.
    pub debug_configs: bool,
    /// `PILOT_DEBOUNCE_AFTER`: quiet period before a push.
    pub debounce_after: Duration,
    /// `PILOT_DEBOUNCE_MAX`: longest a push is delayed by a stream of changes.
    pub debounce_max: Duration,
    /// `PILOT_ENABLE_EDS_DEBOUNCE`: debounce EDS-only pushes too.
    pub enable_eds_debounce: bool,
    /// `PILOT_HTTP10`: accept HTTP/1.0 on outbound HTTP listeners.
    pub http10: bool,
    /// `PILOT_INITIAL_FETCH_TIMEOUT`: `initial_fetch_timeout` of generated config sources.
    pub initial_fetch_timeout: Duration,
    /// `TERMINATION_DRAIN_DURATION_SECONDS`.
    pub termination_drain_duration: Duration,
    /// `PILOT_ENABLE_FALLTHROUGH_ROUTE`: a final catch-all route to PassthroughCluster.
    pub enable_fallthrough_route: bool,
    /// `PILOT_DISABLE_XDS_MARSHALING_TO_ANY`: use `config` (Struct) instead of `typed_config`.
    pub disable_xds_marshaling_to_any: bool,
    /// `PILOT_ENABLE_MYSQL_FILTER`.
    pub enable_mysql_filter: bool,
    /// `PILOT_ENABLE_REDIS_FILTER`.
    pub enable_redis_filter: bool,
    /// `PILOT_SIDECAR_USE_REMOTE_ADDRESS`.
    pub use_remote_address: bool,
    /// `USE_ISTIO_JWT_FILTER`.
    pub use_istio_jwt_filter: bool,
    /// `PILOT_SKIP_VALIDATE_TRUST_DOMAIN`.
    pub skip_validate_trust_domain: bool,
    /// `PILOT_RESTRICT_POD_UP_TRAFFIC_LOOP`.
    pub restrict_pod_ip_traffic_loops: bool,
    /// `PILOT_ENABLE_PROTOCOL_SNIFFING_FOR_OUTBOUND`.
    pub enable_protocol_sniffing_for_outbound: bool,
    /// `PILOT_ENABLE_PROTOCOL_SNIFFING_FOR_INBOUND`.
    pub enable_protocol_sniffing_for_inbound: bool,
    /// `PILOT_SCOPE_PUSHES`: push only to proxies a change can affect.
    pub scope_pushes: bool,
    /// `PILOT_SCOPE_GATEWAY_TO_NAMESPACE`.
    pub scope_gateway_to_namespace: bool,
    /// `PILOT_RESPECT_DNS_TTL`.
    pub respect_dns_ttl: bool,
    /// `PILOT_INBOUND_PROTOCOL_DETECTION_TIMEOUT`.
    pub inbound_protocol_detection_timeout: Duration,
    /// `PILOT_ENABLE_HEADLESS_SERVICE_POD_LISTENERS`.
    pub enable_headless_service: bool,
    /// `PILOT_BLOCK_HTTP_ON_443`.
    pub block_http_on_https_port: bool,
    /// `PILOT_ENABLE_CONFIG_DISTRIBUTION_TRACKING`.
    pub enable_distribution_tracking: bool,
    /// `PILOT_DISTRIBUTION_HISTORY_RETENTION`.
    pub distribution_history_retention: Duration,
    /// `PILOT_ENABLE_UNSAFE_REGEX`: use `regex` instead of `safe_regex` in route matches.
    pub enable_unsafe_regex: bool,
    /// `ISTIO_NAMESPACE` / `POD_NAMESPACE`: the control plane's namespace.
    pub istio_namespace: String,
    /// `POD_NAME`.
    pub pod_name: String,
}

impl Default for Features {
    fn default() -> Self {
        Features::from_lookup(|_| None).0
    }
}

impl Features {
    /// Reads every flag from the process environment; returns the flags and one warning per
    /// variable that did not parse.
    pub fn from_env() -> (Features, Vec<String>) {
        Features::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads every flag through `lookup` (for tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> (Features, Vec<String>) {
        let mut r = Reader {
            lookup: &lookup,
            warnings: Vec::new(),
        };
        let istio_namespace = r
            .string("ISTIO_NAMESPACE", "")
            .or_empty(|| r.string("POD_NAMESPACE", "istio-system"));
        let f = Features {
            cert_dir: r.string("PILOT_CERT_DIR", ""),
            max_concurrent_streams: r.int("ISTIO_GPRC_MAXSTREAMS", 100_000) as u32,
            trace_sampling: r.float("PILOT_TRACE_SAMPLING", 100.0),
            push_throttle: r.int("PILOT_PUSH_THROTTLE", 100).max(1) as usize,
            debug_configs: r.bool("PILOT_DEBUG_ADSZ_CONFIG", false),
            debounce_after: r.duration("PILOT_DEBOUNCE_AFTER", Duration::from_millis(100)),
            debounce_max: r.duration("PILOT_DEBOUNCE_MAX", Duration::from_secs(10)),
            enable_eds_debounce: r.bool("PILOT_ENABLE_EDS_DEBOUNCE", true),
            http10: r.bool("PILOT_HTTP10", false),
            initial_fetch_timeout: r.duration("PILOT_INITIAL_FETCH_TIMEOUT", Duration::ZERO),
            termination_drain_duration: Duration::from_secs(
                r.int("TERMINATION_DRAIN_DURATION_SECONDS", 5).max(0) as u64,
            ),
            enable_fallthrough_route: r.bool("PILOT_ENABLE_FALLTHROUGH_ROUTE", true),
            disable_xds_marshaling_to_any: r.bool("PILOT_DISABLE_XDS_MARSHALING_TO_ANY", false),
            enable_mysql_filter: r.bool("PILOT_ENABLE_MYSQL_FILTER", false),
            enable_redis_filter: r.bool("PILOT_ENABLE_REDIS_FILTER", false),
            use_remote_address: r.bool("PILOT_SIDECAR_USE_REMOTE_ADDRESS", false),
            use_istio_jwt_filter: r.bool("USE_ISTIO_JWT_FILTER", false),
            skip_validate_trust_domain: r.bool("PILOT_SKIP_VALIDATE_TRUST_DOMAIN", false),
            restrict_pod_ip_traffic_loops: r.bool("PILOT_RESTRICT_POD_UP_TRAFFIC_LOOP", true),
            enable_protocol_sniffing_for_outbound: r
                .bool("PILOT_ENABLE_PROTOCOL_SNIFFING_FOR_OUTBOUND", true),
            enable_protocol_sniffing_for_inbound: r
                .bool("PILOT_ENABLE_PROTOCOL_SNIFFING_FOR_INBOUND", false),
            scope_pushes: r.bool("PILOT_SCOPE_PUSHES", true),
            scope_gateway_to_namespace: r.bool("PILOT_SCOPE_GATEWAY_TO_NAMESPACE", false),
            respect_dns_ttl: r.bool("PILOT_RESPECT_DNS_TTL", true),
            inbound_protocol_detection_timeout: r.duration(
                "PILOT_INBOUND_PROTOCOL_DETECTION_TIMEOUT",
                Duration::from_secs(1),
            ),
            enable_headless_service: r.bool("PILOT_ENABLE_HEADLESS_SERVICE_POD_LISTENERS", true),
            block_http_on_https_port: r.bool("PILOT_BLOCK_HTTP_ON_443", true),
            enable_distribution_tracking: r.bool("PILOT_ENABLE_CONFIG_DISTRIBUTION_TRACKING", true),
            distribution_history_retention: r.duration(
                "PILOT_DISTRIBUTION_HISTORY_RETENTION",
                Duration::from_secs(60),
            ),
            enable_unsafe_regex: r.bool("PILOT_ENABLE_UNSAFE_REGEX", false),
            istio_namespace,
            pod_name: r.string("POD_NAME", ""),
        };
        (f, r.warnings)
    }
}

trait OrEmpty {
    fn or_empty(self, f: impl FnOnce() -> String) -> String;
}

impl OrEmpty for String {
    fn or_empty(self, f: impl FnOnce() -> String) -> String {
        if self.is_empty() {
            f()
        } else {
            self
        }
    }
}

struct Reader<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    warnings: Vec<String>,
}

impl Reader<'_> {
    fn raw(&self, key: &str) -> Option<String> {
        (self.lookup)(key).filter(|v| !v.is_empty())
    }

    fn string(&mut self, key: &str, default: &str) -> String {
        self.raw(key).unwrap_or_else(|| default.to_owned())
    }

    fn parsed<T>(&mut self, key: &str, default: T, parse: impl Fn(&str) -> Option<T>) -> T {
        match self.raw(key) {
            None => default,
            Some(v) => match parse(&v) {
                Some(x) => x,
                None => {
                    self.warnings
                        .push(format!("invalid value {v:?} for {key}; using the default"));
                    default
                }
            },
        }
    }

    fn bool(&mut self, key: &str, default: bool) -> bool {
        self.parsed(key, default, |v| istio_pkg::gostr::parse_go_bool(v).ok())
    }

    fn int(&mut self, key: &str, default: i64) -> i64 {
        self.parsed(key, default, |v| v.parse().ok())
    }

    fn float(&mut self, key: &str, default: f64) -> f64 {
        self.parsed(key, default, |v| {
            v.parse().ok().filter(|f: &f64| f.is_finite())
        })
    }

    fn duration(&mut self, key: &str, default: Duration) -> Duration {
        self.parsed(key, default, |v| parse_duration(v).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn with(vars: &[(&str, &str)]) -> (Features, Vec<String>) {
        let m: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Features::from_lookup(|k| m.get(k).cloned())
    }

    #[test]
    fn defaults_match_upstream() {
        let (f, w) = with(&[]);
        assert!(w.is_empty());
        assert_eq!(f.debounce_after, Duration::from_millis(100));
        assert_eq!(f.debounce_max, Duration::from_secs(10));
        assert_eq!(f.push_throttle, 100);
        assert!(f.enable_protocol_sniffing_for_outbound);
        assert!(!f.enable_protocol_sniffing_for_inbound);
        assert_eq!(f.istio_namespace, "istio-system");
    }

    #[test]
    fn parses_go_syntax_and_reports_bad_values() {
        let (f, w) = with(&[
            ("PILOT_DEBOUNCE_AFTER", "1s500ms"),
            ("PILOT_ENABLE_EDS_DEBOUNCE", "F"),
            ("PILOT_PUSH_THROTTLE", "many"),
            ("POD_NAMESPACE", "mesh"),
        ]);
        assert_eq!(f.debounce_after, Duration::from_millis(1500));
        assert!(!f.enable_eds_debounce);
        assert_eq!(f.push_throttle, 100);
        assert_eq!(f.istio_namespace, "mesh");
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("PILOT_PUSH_THROTTLE"), "{w:?}");
    }
}
