//! `istioctl validate`: checks Istio config files offline, as the API server's validation
//! webhook would.
//!
//! Per document, as upstream 1.4:
//! - Istio kinds (found by `kind` alone): the spec must decode, the object may only have the
//!   top-level fields apiVersion/kind/metadata/spec/status, and the kind's validation must pass;
//! - Mixer kinds (`config.istio.io/v1alpha2`): the spec must decode strictly; deprecated
//!   per-adapter/per-template kinds are warned about;
//! - Services outside the Istio namespace must name their ports with a known protocol prefix;
//!   Deployments without `app`/`version` labels are warned about;
//! - anything else is ignored.
//!
//! Where upstream is silent or wrong we do better, and say so here: `List` objects have every
//! item validated (upstream only looked at Services and Deployments in lists); a document without
//! `kind`/`apiVersion`, a non-mapping document or a missing `metadata.name` is an error; a
//! namespaced object without a namespace is validated as if in `--namespace` (or `default`), as
//! `kubectl apply` would place it, instead of as a cluster-scoped object; a syntax error in one
//! file does not stop the other files; directories are read recursively (`*.yaml`, `*.yml`,
//! `*.json`).

use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::Value;

use istio_pkg::config::kube::{self, Error as KubeError, KubeObject, ParseOptions};
use istio_pkg::config::protocol;
use istio_pkg::config::schema::{self, Family};
use istio_pkg::config::validation;
use istio_pkg::gostr::quote as go_quote;

/// The apiVersion of Mixer's config kinds.
pub const MIXER_API_VERSION: &str = "config.istio.io/v1alpha2";

/// The Mixer kinds that are not deprecated.
pub const MIXER_KINDS: [&str; 6] = [
    "rule",
    "adapter",
    "template",
    "handler",
    "instance",
    "attributemanifest",
];

/// Mixer's deprecated per-adapter and per-template kinds, still accepted by upstream 1.4.
pub const LEGACY_MIXER_KINDS: [&str; 31] = [
    "apikey",
    "authorization",
    "bypass",
    "checknothing",
    "circonus",
    "cloudwatch",
    "denier",
    "dogstatsd",
    "edge",
    "fluentd",
    "kubernetes",
    "kubernetesenv",
    "listchecker",
    "listentry",
    "logentry",
    "memquota",
    "metric",
    "noop",
    "opa",
    "prometheus",
    "quota",
    "rbac",
    "redisquota",
    "reportnothing",
    "signalfx",
    "solarwinds",
    "stackdriver",
    "statsd",
    "stdio",
    "tracespan",
    "zipkin",
];

/// Labels a Deployment should have for Istio telemetry.
const DEPLOYMENT_LABELS: [&str; 2] = ["app", "version"];

/// The error upstream prints when no file is given.
pub const MISSING_FILENAME: &str = "error: you must specify resources by --filename.\n\
Example resource specifications include:\n   '-f rsrc.yaml'\n   '--filename=rsrc.json'";

/// Options of `istioctl validate`.
#[derive(Debug, Clone)]
pub struct Validator {
    /// The Istio control plane namespace (`-i`); its Services and Deployments are not checked.
    pub istio_namespace: String,
    /// Namespace for namespaced objects that name none (`-n`, else `default`).
    pub default_namespace: String,
    /// `-x/--referential`: accepted for compatibility (see the crate README for its status).
    pub referential: bool,
    /// Run each kind's validation rules. Off, only the structure is checked (the object
    /// envelope and whether the spec decodes into its message): what the API server's CRD schema
    /// checks, without the validation webhook.
    pub semantic: bool,
}

impl Default for Validator {
    fn default() -> Self {
        Validator {
            istio_namespace: "istio-system".to_string(),
            default_namespace: "default".to_string(),
            referential: true,
            semantic: true,
        }
    }
}

/// Why `istioctl validate` failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// No `-f` was given.
    #[error("{MISSING_FILENAME}")]
    MissingFilename,
    /// Some inputs are invalid or unreadable: the list upstream prints (go-multierror form).
    #[error("{0}")]
    Invalid(validation::Error),
}

/// The outcome of validating some text.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
}

impl Validator {
    /// Validates every document of `text`; errors are prefixed with `Kind/namespace/name:` as
    /// upstream does (or with the document's position when the object is unknown).
    pub fn validate_text(&self, text: &str) -> Report {
        let mut report = Report::default();
        for doc in kube::documents(text) {
            match doc {
                Err(e) => report.errors.push(e.to_string()),
                Ok(doc) if doc.value.is_null() => {}
                Ok(doc) => self.validate_value(doc.value, doc.position, &mut report),
            }
        }
        report
    }

    fn validate_value(&self, value: Value, position: kube::Position, report: &mut Report) {
        for obj in kube::objects(value) {
            match obj {
                Ok(obj) => self.validate_object(&obj, report),
                Err(e) => report.errors.push(format!("{position}: {e}")),
            }
        }
    }

    fn validate_object(&self, obj: &KubeObject, report: &mut Report) {
        let prefix = obj.reference().to_string();
        let push = |report: &mut Report, e: String| report.errors.push(format!("{prefix}: {e}"));
        if let Some(s) = schema::istio_by_kube_kind(&obj.kind) {
            for e in self.check_config(s, obj) {
                push(report, e);
            }
            return;
        }
        if obj.api_version == MIXER_API_VERSION {
            match schema::by_gvk(obj.group(), obj.version(), &obj.kind)
                .filter(|s| s.family == Family::Mixer)
            {
                Some(s) => {
                    for e in self.check_config(s, obj) {
                        push(report, e);
                    }
                }
                None if LEGACY_MIXER_KINDS.contains(&obj.kind.as_str()) => {
                    if let Some(f) = obj.unknown_top_level_fields().next() {
                        push(report, format!("unknown field {f:?}"));
                    }
                    report.warnings.push(format!(
                        "deprecated Mixer kind {:?}, please use \"handler\" or \"instance\" instead",
                        obj.kind
                    ));
                }
                None => push(report, "kind is not supported".to_string()),
            }
            return;
        }
        match obj.kind.as_str() {
            "Service" => {
                for e in self.check_service(obj) {
                    report.errors.push(e);
                }
            }
            "Deployment" => self.check_deployment(obj, report),
            _ => {}
        }
    }

    /// Decoding, top-level fields, then validation, each failure as its own error(s).
    fn check_config(&self, s: &'static schema::Schema, obj: &KubeObject) -> Vec<String> {
        let opts = ParseOptions {
            domain: "",
            default_namespace: &self.default_namespace,
            validate: self.semantic,
            check_top_level_fields: true,
        };
        match kube::read_config(s, obj, &opts) {
            Ok(_) => Vec::new(),
            Err(KubeError::Invalid(v)) => v.messages().to_vec(),
            Err(e) => vec![e.to_string()],
        }
    }

    fn in_istio_namespace(&self, obj: &KubeObject) -> bool {
        obj.metadata.namespace == self.istio_namespace
    }

    fn check_service(&self, obj: &KubeObject) -> Vec<String> {
        if self.in_istio_namespace(obj) {
            return Vec::new();
        }
        let who = format!("{}/{}/:", obj.metadata.name, obj.metadata.namespace);
        let ports = obj.spec.get("ports").and_then(Value::as_array);
        let mut errors = Vec::new();
        for port in ports.into_iter().flatten() {
            let protocol = port.get("protocol").and_then(Value::as_str);
            if protocol.is_some_and(|p| p.eq_ignore_ascii_case("UDP")) {
                continue;
            }
            match port.get("name").and_then(Value::as_str) {
                None => errors.push(format!(
                    "service {who:?} has an unnamed port. This is not recommended, see \
                     https://istio.io/docs/setup/kubernetes/prepare/requirements/"
                )),
                Some(name) => {
                    let prefix = name.split('-').next().unwrap_or(name);
                    if protocol::parse(prefix) == protocol::Instance::Unsupported {
                        errors.push(format!(
                            "service {who:?} port {name:?} does not follow the Istio naming convention. \
                             See https://istio.io/docs/setup/kubernetes/prepare/requirements/"
                        ));
                    }
                }
            }
        }
        errors
    }

    fn check_deployment(&self, obj: &KubeObject, report: &mut Report) {
        if self.in_istio_namespace(obj) {
            return;
        }
        for label in DEPLOYMENT_LABELS {
            if !obj.metadata.labels.contains_key(label) {
                report.warnings.push(format!(
                    "deployment \"{}/{}:\" may not provide Istio metrics and telemetry without label {label:?}. \
                     See https://istio.io/docs/setup/kubernetes/prepare/requirements/ ",
                    obj.metadata.name, obj.metadata.namespace
                ));
            }
        }
    }

    /// Validates files, directories and `-` (standard input). On success returns the lines
    /// upstream prints; on failure, all errors.
    pub fn validate_files(
        &self,
        filenames: &[String],
        stdin: &mut dyn Read,
    ) -> Result<Outcome, Failure> {
        if filenames.is_empty() {
            return Err(Failure::MissingFilename);
        }
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        for name in filenames {
            let texts = if name == "-" {
                let mut text = String::new();
                match stdin.read_to_string(&mut text) {
                    Ok(_) => vec![Ok(text)],
                    Err(e) => vec![Err(format!("cannot read file \"-\": {e}"))],
                }
            } else {
                read_path(Path::new(name))
            };
            for text in texts {
                match text {
                    Ok(text) => {
                        let report = self.validate_text(&text);
                        errors.extend(report.errors);
                        warnings.extend(report.warnings);
                    }
                    Err(e) => errors.push(e),
                }
            }
        }
        if !errors.is_empty() {
            return Err(Failure::Invalid(validation::Error::Multi(errors)));
        }
        let mut lines = Vec::new();
        for name in filenames {
            if name == "-" {
                lines.push("validation succeed".to_string());
                break;
            }
            lines.push(format!("{} is valid", go_quote(name)));
        }
        Ok(Outcome { lines, warnings })
    }
}

/// What a successful run prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Lines for standard error (upstream prints them there).
    pub lines: Vec<String>,
    pub warnings: Vec<String>,
}

/// Reads a file, or every config file under a directory (sorted, recursively).
fn read_path(path: &Path) -> Vec<Result<String, String>> {
    let cannot = |p: &Path, e: std::io::Error| {
        format!(
            "cannot read file {}: {e}",
            go_quote(&p.display().to_string())
        )
    };
    if path.is_dir() {
        let mut files = Vec::new();
        if let Err(e) = collect_files(path, &mut files) {
            return vec![Err(cannot(path, e))];
        }
        files.sort();
        files
            .into_iter()
            .map(|f| std::fs::read_to_string(&f).map_err(|e| cannot(&f, e)))
            .collect()
    } else {
        vec![std::fs::read_to_string(path).map_err(|e| cannot(path, e))]
    }
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_files(&path, out)?;
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
        {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(text: &str) -> Vec<String> {
        Validator::default().validate_text(text).errors
    }

    #[test]
    fn failures_print_as_upstream_multierror() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("bad.yaml");
        std::fs::write(
            &file,
            "apiVersion: networking.istio.io/v1alpha3\nkind: VirtualService\nmetadata: {name: a}\nspec: {}\n---\n\
             apiVersion: networking.istio.io/v1alpha3\nkind: Gateway\nmetadata: {name: b}\nspec: {}\n",
        )
        .expect("write");
        let err = Validator::default()
            .validate_files(&[file.display().to_string()], &mut "".as_bytes())
            .expect_err("invalid");
        assert_eq!(
            err.to_string(),
            "3 errors occurred:\n\t* VirtualService//a: virtual service must have at least one host\n\t\
             * VirtualService//a: http, tcp or tls must be provided in virtual service\n\t\
             * Gateway//b: gateway must have at least one server\n\n"
        );
    }

    #[test]
    fn istio_kind_errors_are_prefixed() {
        let errs = errors(
            "apiVersion: networking.istio.io/v1alpha3\nkind: VirtualService\nmetadata: {name: r, namespace: ns1}\n\
             spec: {hosts: 5}\nextra: 1\n",
        );
        assert_eq!(
            errs,
            vec!["VirtualService/ns1/r: cannot parse proto message: spec.hosts: expected a list, found an integer (5)"]
        );
        let errs = errors("apiVersion: networking.istio.io/v1alpha3\nkind: Gateway\nmetadata: {name: g}\nspec: {}\nextra: 1\n");
        assert_eq!(errs, vec!["Gateway//g: unknown field \"extra\""]);
    }

    #[test]
    fn mixer_kinds() {
        let ok = "apiVersion: config.istio.io/v1alpha2\nkind: handler\nmetadata: {name: h}\n\
                  spec: {compiledAdapter: prometheus, params: {metrics: []}}\n";
        assert!(errors(ok).is_empty());
        let bad = "apiVersion: config.istio.io/v1alpha2\nkind: handler\nmetadata: {name: h}\nspec: {compiledAdapter: 0}\n";
        assert_eq!(
            errors(bad),
            vec!["handler//h: cannot parse proto message: spec.compiledAdapter: expected a string, found an integer (0)"]
        );
        let unknown = "apiVersion: config.istio.io/v1alpha2\nkind: frobnicator\nmetadata: {name: h}\nspec: {}\n";
        assert_eq!(
            errors(unknown),
            vec!["frobnicator//h: kind is not supported"]
        );
        let legacy = "apiVersion: config.istio.io/v1alpha2\nkind: metric\nmetadata: {name: m}\nspec: {value: '1'}\n";
        let report = Validator::default().validate_text(legacy);
        assert!(report.errors.is_empty());
        assert_eq!(report.warnings.len(), 1);
    }

    #[test]
    fn service_port_names() {
        let svc = concat!(
            "apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: d}\nspec:\n  ports:\n",
            "  - {name: http-web, port: 80}\n  - {name: web, port: 81}\n  - {port: 82}\n  - {port: 53, protocol: UDP}\n"
        );
        assert_eq!(
            errors(svc),
            vec![
                "service \"s/d/:\" port \"web\" does not follow the Istio naming convention. See https://istio.io/docs/setup/kubernetes/prepare/requirements/",
                "service \"s/d/:\" has an unnamed port. This is not recommended, see https://istio.io/docs/setup/kubernetes/prepare/requirements/",
            ]
        );
        let in_istio = svc.replace("namespace: d", "namespace: istio-system");
        assert!(errors(&in_istio).is_empty());
    }

    #[test]
    fn deployments_without_labels_warn() {
        let d = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, labels: {app: a}}\nspec: {}\n";
        let report = Validator::default().validate_text(d);
        assert!(report.errors.is_empty());
        assert_eq!(report.warnings.len(), 1);
        assert!(report.warnings[0].contains("\"version\""));
    }

    #[test]
    fn broken_documents_are_errors_not_panics() {
        for text in [
            "kind: [",
            "- a\n- b\n",
            "metadata: {name: x}\n",
            "kind: Gateway\napiVersion: v\nmetadata: 7\n",
            "\u{0}",
        ] {
            let errs = errors(text);
            assert!(!errs.is_empty(), "{text:?} should be rejected");
        }
    }

    #[test]
    fn files_and_success_lines() {
        let dir = tempfile::tempdir().expect("tempdir");
        let good = dir.path().join("good.yaml");
        std::fs::write(
            &good,
            "apiVersion: networking.istio.io/v1alpha3\nkind: DestinationRule\nmetadata: {name: r}\nspec: {host: reviews}\n",
        )
        .expect("write");
        let v = Validator::default();
        let name = good.display().to_string();
        let out = v
            .validate_files(
                &[name.clone(), "-".into(), name.clone()],
                &mut "".as_bytes(),
            )
            .expect("valid");
        assert_eq!(
            out.lines,
            vec![
                format!("{} is valid", go_quote(&name)),
                "validation succeed".to_string()
            ]
        );
        let missing = v
            .validate_files(&["/nonexistent.yaml".into()], &mut "".as_bytes())
            .expect_err("missing file");
        let Failure::Invalid(validation::Error::Multi(list)) = &missing else {
            panic!("{missing:?}")
        };
        assert!(
            list[0].starts_with("cannot read file \"/nonexistent.yaml\""),
            "{missing}"
        );
        let none = v
            .validate_files(&[], &mut "".as_bytes())
            .expect_err("no files");
        assert_eq!(none, Failure::MissingFilename);
        let dir_out = v.validate_files(&[dir.path().display().to_string()], &mut "".as_bytes());
        assert!(dir_out.is_ok());
    }
}
