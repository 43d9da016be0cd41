//! `istioctl validate` throughput: 1,000 documents of mixed kinds in one stream.
//!
//! Run with `make bench` or `cargo bench -p istioctl --bench validate`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use istioctl::validate::Validator;

/// Builds a stream of `n` documents cycling through five common kinds.
fn stream(n: usize) -> String {
    let mut out = String::new();
    for i in 0..n {
        let doc = match i % 5 {
            0 => format!(
                "apiVersion: networking.istio.io/v1alpha3\nkind: VirtualService\nmetadata: {{name: vs{i}, namespace: ns{ns}}}\n\
                 spec:\n  hosts: [svc{i}.ns{ns}.svc.cluster.local]\n  http:\n  - match:\n    - uri: {{prefix: /api}}\n      \
                 headers: {{end-user: {{exact: jason}}}}\n    route:\n    - destination: {{host: svc{i}, subset: v1}}\n      \
                 weight: 90\n    - destination: {{host: svc{i}, subset: v2}}\n      weight: 10\n    timeout: 2s\n    \
                 retries: {{attempts: 3, perTryTimeout: 500ms}}\n",
                ns = i % 10
            ),
            1 => format!(
                "apiVersion: networking.istio.io/v1alpha3\nkind: DestinationRule\nmetadata: {{name: dr{i}, namespace: ns{ns}}}\n\
                 spec:\n  host: svc{i}\n  trafficPolicy:\n    tls: {{mode: ISTIO_MUTUAL}}\n    connectionPool:\n      \
                 tcp: {{maxConnections: 100, connectTimeout: 30ms}}\n    outlierDetection: {{consecutiveErrors: 5, interval: 10s}}\n  \
                 subsets:\n  - name: v1\n    labels: {{version: v1}}\n  - name: v2\n    labels: {{version: v2}}\n",
                ns = i % 10
            ),
            2 => format!(
                "apiVersion: networking.istio.io/v1alpha3\nkind: ServiceEntry\nmetadata: {{name: se{i}, namespace: ns{ns}}}\n\
                 spec:\n  hosts: [ext{i}.example.com]\n  location: MESH_EXTERNAL\n  resolution: DNS\n  ports:\n  \
                 - {{number: 443, name: https, protocol: HTTPS}}\n",
                ns = i % 10
            ),
            3 => format!(
                "apiVersion: networking.istio.io/v1alpha3\nkind: Gateway\nmetadata: {{name: gw{i}, namespace: ns{ns}}}\n\
                 spec:\n  selector: {{istio: ingressgateway}}\n  servers:\n  - port: {{number: 80, name: http, protocol: HTTP}}\n    \
                 hosts: ['gw{i}.example.com']\n",
                ns = i % 10
            ),
            _ => format!(
                "apiVersion: security.istio.io/v1beta1\nkind: AuthorizationPolicy\nmetadata: {{name: ap{i}, namespace: ns{ns}}}\n\
                 spec:\n  selector: {{matchLabels: {{app: svc{i}}}}}\n  rules:\n  - from:\n    - source: {{principals: ['cluster.local/ns/a/sa/b']}}\n    \
                 to:\n    - operation: {{methods: [GET], paths: ['/api/*']}}\n",
                ns = i % 10
            ),
        };
        out.push_str(&doc);
        out.push_str("---\n");
    }
    out
}

fn bench_validate(c: &mut Criterion) {
    let text = stream(1000);
    let validator = Validator::default();
    assert!(
        validator.validate_text(&text).errors.is_empty(),
        "the benchmark input must be valid"
    );
    let mut group = c.benchmark_group("istioctl_validate");
    group.throughput(Throughput::Elements(1000));
    group.bench_function("1000_documents", |b| {
        b.iter(|| validator.validate_text(std::hint::black_box(&text)))
    });
    group.finish();
}

criterion_group!(benches, bench_validate);
criterion_main!(benches);
