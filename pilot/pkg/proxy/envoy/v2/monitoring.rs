//! The xDS server's metrics, with upstream 1.4's names, labels and buckets
//! (`pilot/pkg/proxy/envoy/v2/monitoring.go` and the push-context gauges).
//!
//! Upstream exports OpenCensus sums as Prometheus counters without a `_total` suffix.
//! prometheus-client's OpenMetrics encoder appends `_total` to counters, which
//! `istio_pkg::monitoring::encode` (what `/metrics` serves) removes again.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::networking::core::ResourceKind;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TypeLabel {
    pub r#type: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RejectLabels {
    pub node: String,
    pub err: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ClusterLabel {
    pub cluster: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn push_time_histogram() -> Histogram {
    Histogram::new([0.01, 0.1, 1.0, 3.0, 5.0, 10.0, 20.0, 30.0])
}

/// Every metric of the xDS server.
#[derive(Debug)]
pub struct Metrics {
    /// `pilot_xds`: connected endpoints.
    pub xds_clients: Gauge,
    /// `pilot_xds_pushes{type}`: pushes and send/build errors per xDS type.
    pub pushes: Family<TypeLabel, Counter>,
    /// `pilot_xds_push_time{type}`.
    pub push_time: HistogramFamily<TypeLabel>,
    /// `pilot_proxy_convergence_time`.
    pub convergence_time: Histogram,
    /// `pilot_proxy_queue_time`.
    pub queue_time: Histogram,
    /// `pilot_total_xds_rejects`.
    pub total_rejects: Counter,
    pub cds_reject: Family<RejectLabels, Gauge>,
    pub eds_reject: Family<RejectLabels, Gauge>,
    pub lds_reject: Family<RejectLabels, Gauge>,
    pub rds_reject: Family<RejectLabels, Gauge>,
    /// `pilot_rds_expired_nonce`.
    pub rds_expired_nonce: Counter,
    /// `pilot_xds_write_timeout`.
    pub write_timeouts: Counter,
    /// `pilot_xds_push_context_errors`.
    pub push_context_errors: Counter,
    /// `pilot_total_xds_internal_errors`.
    pub internal_errors: Counter,
    /// `pilot_inbound_updates{type}`: config, eds, svc.
    pub inbound_updates: Family<TypeLabel, Counter>,
    /// `pilot_xds_eds_instances{cluster}`.
    pub eds_instances: Family<ClusterLabel, Gauge>,
    /// `pilot_services`.
    pub services: Gauge,
    /// `pilot_virt_services`.
    pub virtual_services: Gauge,
    /// `pilot_eds_no_instances`: clusters without instances in the last push.
    pub eds_no_instances: Gauge,
}

impl Metrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn new(registry: &mut Registry) -> Metrics {
        let m = Metrics {
            xds_clients: Gauge::default(),
            pushes: Family::default(),
            push_time: Family::new_with_constructor(push_time_histogram),
            convergence_time: Histogram::new([0.1, 0.5, 1.0, 3.0, 5.0, 10.0, 20.0, 30.0]),
            queue_time: Histogram::new([0.1, 1.0, 3.0, 5.0, 10.0, 20.0, 30.0]),
            total_rejects: Counter::default(),
            cds_reject: Family::default(),
            eds_reject: Family::default(),
            lds_reject: Family::default(),
            rds_reject: Family::default(),
            rds_expired_nonce: Counter::default(),
            write_timeouts: Counter::default(),
            push_context_errors: Counter::default(),
            internal_errors: Counter::default(),
            inbound_updates: Family::default(),
            eds_instances: Family::default(),
            services: Gauge::default(),
            virtual_services: Gauge::default(),
            eds_no_instances: Gauge::default(),
        };
        let r = &mut Reg(registry);
        r.register(
            "pilot_xds",
            "Number of endpoints connected to this pilot using XDS.",
            m.xds_clients.clone(),
        );
        r.register(
            "pilot_xds_pushes",
            "Pilot build and send errors for lds, rds, cds and eds.",
            m.pushes.clone(),
        );
        r.register(
            "pilot_xds_push_time",
            "Total time in seconds Pilot takes to push lds, rds, cds and eds.",
            m.push_time.clone(),
        );
        r.register(
            "pilot_proxy_convergence_time",
            "Delay in seconds between config change and a proxy receiving all required configuration.",
            m.convergence_time.clone(),
        );
        r.register(
            "pilot_proxy_queue_time",
            "Time in seconds, a proxy is in the push queue before being dequeued.",
            m.queue_time.clone(),
        );
        r.register(
            "pilot_xds_cds_reject",
            "Pilot rejected CSD configs.",
            m.cds_reject.clone(),
        );
        r.register(
            "pilot_xds_eds_reject",
            "Pilot rejected EDS.",
            m.eds_reject.clone(),
        );
        r.register(
            "pilot_xds_lds_reject",
            "Pilot rejected LDS.",
            m.lds_reject.clone(),
        );
        r.register(
            "pilot_xds_rds_reject",
            "Pilot rejected RDS.",
            m.rds_reject.clone(),
        );
        r.register(
            "pilot_xds_eds_instances",
            "Instances for each cluster, as of last push. Zero instances is an error.",
            m.eds_instances.clone(),
        );
        r.register(
            "pilot_services",
            "Total services known to pilot.",
            m.services.clone(),
        );
        r.register(
            "pilot_virt_services",
            "Total virtual services known to pilot.",
            m.virtual_services.clone(),
        );
        r.register(
            "pilot_eds_no_instances",
            "Number of clusters without instances.",
            m.eds_no_instances.clone(),
        );
        r.register(
            "pilot_total_xds_rejects",
            "Total number of XDS responses from pilot rejected by proxy.",
            m.total_rejects.clone(),
        );
        r.register(
            "pilot_rds_expired_nonce",
            "Total number of RDS messages with an expired nonce.",
            m.rds_expired_nonce.clone(),
        );
        r.register(
            "pilot_xds_write_timeout",
            "Pilot XDS response write timeouts.",
            m.write_timeouts.clone(),
        );
        r.register(
            "pilot_xds_push_context_errors",
            "Number of errors (timeouts) initiating push context.",
            m.push_context_errors.clone(),
        );
        r.register(
            "pilot_total_xds_internal_errors",
            "Total number of internal XDS errors in pilot.",
            m.internal_errors.clone(),
        );
        r.register(
            "pilot_inbound_updates",
            "Total number of updates received by pilot.",
            m.inbound_updates.clone(),
        );
        m
    }

    /// Counts a NACK: `pilot_xds_<type>_reject{node,err}` and `pilot_total_xds_rejects`.
    pub fn reject(&self, kind: ResourceKind, node: &str, err: &str) {
        let family = match kind {
            ResourceKind::Cluster => &self.cds_reject,
            ResourceKind::Endpoint => &self.eds_reject,
            ResourceKind::Listener => &self.lds_reject,
            ResourceKind::Route => &self.rds_reject,
        };
        family
            .get_or_create(&RejectLabels {
                node: node.to_owned(),
                err: err.to_owned(),
            })
            .inc();
        self.total_rejects.inc();
    }

    pub fn push_ok(&self, kind: ResourceKind, seconds: f64) {
        let t = super::version::kind_short(kind);
        self.pushes.get_or_create(&TypeLabel { r#type: t }).inc();
        self.push_time
            .get_or_create(&TypeLabel { r#type: t })
            .observe(seconds);
    }

    pub fn push_error(&self, label: &'static str) {
        self.pushes
            .get_or_create(&TypeLabel { r#type: label })
            .inc();
    }

    pub fn inbound(&self, what: &'static str) {
        self.inbound_updates
            .get_or_create(&TypeLabel { r#type: what })
            .inc();
    }
}

/// Registers with upstream's help texts; prometheus-client adds the final period itself.
struct Reg<'a>(&'a mut Registry);

impl Reg<'_> {
    fn register(
        &mut self,
        name: &str,
        help: &str,
        metric: impl prometheus_client::registry::Metric,
    ) {
        self.0
            .register(name, help.strip_suffix('.').unwrap_or(help), metric);
    }
}

/// The send-error label of a kind (`cds_senderr`, ...).
pub fn send_error_label(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::Cluster => "cds_senderr",
        ResourceKind::Endpoint => "eds_senderr",
        ResourceKind::Listener => "lds_senderr",
        ResourceKind::Route => "rds_senderr",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_names_without_total_suffix() {
        let mut reg = Registry::default();
        let m = Metrics::new(&mut reg);
        m.reject(
            ResourceKind::Cluster,
            "sidecar~1.1.1.1~a.b~b.svc",
            "Internal",
        );
        m.reject(
            ResourceKind::Cluster,
            "sidecar~1.1.1.1~a.b~b.svc",
            "Internal",
        );
        m.push_ok(ResourceKind::Listener, 0.02);
        m.inbound("eds");
        m.write_timeouts.inc();
        let out = istio_pkg::monitoring::encode(&reg);
        assert!(out.contains("pilot_total_xds_rejects 2\n"), "{out}");
        // Prometheus' text parser accepts only these types; anything else fails the scrape.
        for line in out.lines().filter(|l| l.starts_with("# TYPE ")) {
            let t = line.split_whitespace().nth(3).unwrap_or_default();
            assert!(["counter", "gauge", "histogram"].contains(&t), "{line}");
        }
        assert!(out.contains("# TYPE pilot_xds_pushes counter\n"), "{out}");
        assert!(
            out.contains(
                "pilot_xds_cds_reject{node=\"sidecar~1.1.1.1~a.b~b.svc\",err=\"Internal\"} 2\n"
            ),
            "{out}"
        );
        assert!(out.contains("pilot_xds_pushes{type=\"lds\"} 1\n"), "{out}");
        assert!(out.contains("pilot_xds_write_timeout 1\n"), "{out}");
        assert!(
            out.contains("pilot_inbound_updates{type=\"eds\"} 1\n"),
            "{out}"
        );
        assert!(
            out.contains("pilot_xds_push_time_bucket{le=\"0.1\",type=\"lds\"} 1\n")
                || out.contains("pilot_xds_push_time_bucket{type=\"lds\",le=\"0.1\"} 1\n"),
            "{out}"
        );
        assert!(
            !out.contains("_total ") && !out.contains("_total{"),
            "{out}"
        );
        // prometheus-client ends help texts with a period itself.
        assert!(
            out.contains("# HELP pilot_xds_write_timeout Pilot XDS response write timeouts.\n"),
            "{out}"
        );
    }
}
