//! Metrics exposition in the format upstream Istio's OpenCensus exporter served: Prometheus
//! text format 0.0.4 with the metric names exactly as registered.
//!
//! Metrics are recorded with prometheus-client, whose encoder writes OpenMetrics: it appends
//! `_total` to counter samples and ends with `# EOF`. Upstream's counters carry no suffix
//! (`pilot_xds_pushes`, `pilot_total_xds_rejects`, `galley_validation_passed`), and existing
//! dashboards query those names, so [`encode`] turns the OpenMetrics text back into the
//! upstream form.

use prometheus_client::registry::Registry;

/// The `Content-Type` of [`encode`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Encodes `registry` as Prometheus text 0.0.4 with upstream's names.
pub fn encode(registry: &Registry) -> String {
    let mut open_metrics = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut open_metrics, registry);
    to_prometheus_text(&open_metrics)
}

/// Rewrites OpenMetrics text as Prometheus 0.0.4 text: counter samples lose the `_total`
/// suffix the encoder added (and `_created` samples are dropped), `# UNIT` and `# EOF` lines
/// are dropped.
pub fn to_prometheus_text(open_metrics: &str) -> String {
    let mut out = String::with_capacity(open_metrics.len());
    let mut counter: Option<String> = None;
    for line in open_metrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            let name = parts.next().unwrap_or_default();
            counter = (parts.next() == Some("counter")).then(|| name.to_owned());
            out.push_str(line);
            out.push('\n');
            continue;
        }
        if let Some(name) = &counter {
            if !line.starts_with('#') {
                let prefix_len = name.len();
                let rest = &line[prefix_len.min(line.len())..];
                if line.starts_with(name.as_str()) {
                    if let Some(after) = rest.strip_prefix("_total") {
                        out.push_str(name);
                        out.push_str(after);
                        out.push('\n');
                        continue;
                    }
                    if rest.starts_with("_created") {
                        continue;
                    }
                }
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::metrics::counter::Counter;
    use prometheus_client::metrics::family::Family;
    use prometheus_client::metrics::gauge::Gauge;
    use prometheus_client::metrics::histogram::Histogram;

    #[test]
    fn counters_keep_upstream_names() {
        let mut r = Registry::default();
        let pushes = Family::<Vec<(String, String)>, Counter>::default();
        r.register(
            "pilot_xds_pushes",
            "Pilot build and send errors for lds, rds, cds and eds.",
            pushes.clone(),
        );
        let gauge = Gauge::<i64>::default();
        r.register(
            "pilot_xds",
            "Number of endpoints connected to this pilot using XDS.",
            gauge.clone(),
        );
        let hist = Histogram::new([0.5, 1.0]);
        r.register("pilot_proxy_convergence_time", "Delay", hist.clone());
        pushes
            .get_or_create(&vec![("type".into(), "cds".into())])
            .inc_by(3);
        gauge.set(2);
        hist.observe(0.7);
        let text = encode(&r);
        assert!(text.contains("# TYPE pilot_xds_pushes counter\n"), "{text}");
        assert!(
            text.contains("pilot_xds_pushes{type=\"cds\"} 3\n"),
            "{text}"
        );
        assert!(!text.contains("_total"), "{text}");
        assert!(text.contains("pilot_xds 2\n"), "{text}");
        assert!(
            text.contains("pilot_proxy_convergence_time_bucket{le=\"1.0\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("pilot_proxy_convergence_time_count 1\n"),
            "{text}"
        );
        assert!(!text.contains("# EOF"), "{text}");
    }

    #[test]
    fn only_counter_samples_are_renamed() {
        let text = "# TYPE a_total_x gauge\na_total_x 1\n# TYPE c counter\nc_total 2\nc_created 1.5\n# EOF\n";
        assert_eq!(
            to_prometheus_text(text),
            "# TYPE a_total_x gauge\na_total_x 1\n# TYPE c counter\nc 2\n"
        );
    }
}
