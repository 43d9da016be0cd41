//! The seam between the agent and the Envoy bootstrap generator (upstream `pkg/bootstrap`).
//!
//! Each epoch Envoy is started with a bootstrap file. Unless `--customConfigFile` names one,
//! pilot-agent renders `envoy-rev<N>.json` from the bootstrap template
//! (`/var/lib/istio/envoy/envoy_bootstrap_tmpl.json`, `ISTIO_BOOTSTRAP`). The agent only needs
//! [`BootstrapWriter`]; the template renderer plugs in behind it. Until it does,
//! [`TemplateUnavailable`] reports that rendering is not available.
//!
//! [`NodeMetadata`] collects the node metadata pilot-agent passes to Envoy from the
//! environment: `ISTIO_META_<K>=v` becomes the string `K: v`, and `ISTIO_METAJSON_<K>` holds a
//! JSON object whose members are merged into the metadata (the variable's name is not used).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use istio_api::istio::mesh::v1alpha1::ProxyConfig;
use serde_json::{Map, Value};

/// Prefix of variables passed as string node metadata.
pub const ISTIO_META_PREFIX: &str = "ISTIO_META_";
/// Prefix of variables holding a JSON object of node metadata.
pub const ISTIO_METAJSON_PREFIX: &str = "ISTIO_METAJSON_";

/// Name of the bootstrap file of an epoch inside `configPath`.
pub fn epoch_file_name(epoch: u32) -> String {
    format!("envoy-rev{epoch}.json")
}

/// The bootstrap file of `epoch` under `config_path`.
pub fn config_file(config_path: &str, epoch: u32) -> PathBuf {
    Path::new(config_path).join(epoch_file_name(epoch))
}

/// Everything the bootstrap of one proxy is generated from (upstream `bootstrap.Config`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config {
    /// The node id, `type~ip~id~domain`.
    pub node: String,
    /// `--dnsRefreshRate`, for STRICT_DNS clusters of the bootstrap.
    pub dns_refresh_rate: String,
    /// The effective proxy configuration.
    pub proxy: ProxyConfig,
    pub pilot_subject_alt_name: Vec<String>,
    pub mixer_subject_alt_name: Vec<String>,
    /// Every address of the node, the `--ip`/`INSTANCE_IP` one first.
    pub node_ips: Vec<String>,
    pub pod_name: String,
    pub pod_namespace: String,
    pub pod_ip: Option<IpAddr>,
    /// SDS socket and token, empty unless control plane SDS is on.
    pub sds_uds_path: String,
    pub sds_token_path: String,
    pub control_plane_auth: bool,
    pub disable_report_calls: bool,
    /// Node metadata from `ISTIO_META_*` / `ISTIO_METAJSON_*`.
    pub metadata: NodeMetadata,
    /// The process environment, for the generator's other inputs (`ISTIO_BOOTSTRAP`,
    /// `STACKDRIVER_*`, platform detection).
    pub local_env: Vec<(String, String)>,
}

/// Why a bootstrap file could not be produced. The agent stops when this happens (retrying
/// cannot help), as upstream does.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("bootstrap template rendering is not available yet")]
    Unavailable,
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Other(String),
}

/// Produces the bootstrap file of an epoch and returns its path.
pub trait BootstrapWriter: Send + Sync + 'static {
    fn create_file_for_epoch(&self, epoch: u32, config: &Config) -> Result<PathBuf, Error>;
}

impl<F> BootstrapWriter for F
where
    F: Fn(u32, &Config) -> Result<PathBuf, Error> + Send + Sync + 'static,
{
    fn create_file_for_epoch(&self, epoch: u32, config: &Config) -> Result<PathBuf, Error> {
        self(epoch, config)
    }
}

/// The writer used until template rendering is implemented: every call fails with
/// [`Error::Unavailable`]. Proxies with `--customConfigFile` never call it.
#[derive(Debug, Clone, Copy, Default)]
pub struct TemplateUnavailable;

impl BootstrapWriter for TemplateUnavailable {
    fn create_file_for_epoch(&self, _epoch: u32, _config: &Config) -> Result<PathBuf, Error> {
        Err(Error::Unavailable)
    }
}

/// A malformed `ISTIO_METAJSON_*` variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid environment variable {variable}: {reason}")]
pub struct MetadataError {
    pub variable: String,
    pub reason: String,
}

/// Node metadata taken from the environment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeMetadata {
    /// `ISTIO_META_<K>` values by `K`. `ISTIO_META_WORKLOAD*` variables are left out, as
    /// upstream (the workload name is typed metadata set separately).
    pub strings: BTreeMap<String, String>,
    /// `ISTIO_METAJSON_<K>` objects by `K` (e.g. `LABELS`, `ANNOTATIONS`).
    pub objects: BTreeMap<String, Map<String, Value>>,
}

impl NodeMetadata {
    /// Reads the metadata from `(name, value)` pairs in environment order; a later variable of
    /// the same key wins. A `ISTIO_METAJSON_*` value that is not a JSON object is an error
    /// naming the variable.
    pub fn from_env<I, K, V>(vars: I) -> Result<NodeMetadata, MetadataError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut meta = NodeMetadata::default();
        for (name, value) in vars {
            let (name, value) = (name.as_ref(), value.as_ref());
            if name.starts_with("ISTIO_META_WORKLOAD") {
                continue;
            }
            if let Some(key) = name.strip_prefix(ISTIO_META_PREFIX) {
                meta.strings.insert(key.to_owned(), value.to_owned());
            } else if let Some(key) = name.strip_prefix(ISTIO_METAJSON_PREFIX) {
                let err = |reason: String| MetadataError {
                    variable: name.to_owned(),
                    reason,
                };
                match serde_json::from_str::<Value>(value) {
                    Ok(Value::Object(o)) => {
                        meta.objects.insert(key.to_owned(), o);
                    }
                    Ok(other) => {
                        return Err(err(format!(
                            "expected a JSON object, found {}",
                            json_kind(&other)
                        )))
                    }
                    Err(e) => return Err(err(format!("malformed JSON: {e}"))),
                }
            }
        }
        Ok(meta)
    }

    /// Reads the metadata from the process environment (variables that are not UTF-8 are
    /// skipped).
    pub fn from_process_env() -> Result<NodeMetadata, MetadataError> {
        NodeMetadata::from_env(process_env())
    }

    /// Upstream's untyped metadata map: every `ISTIO_META_*` string, then the members of every
    /// `ISTIO_METAJSON_*` object laid over it.
    pub fn untyped(&self) -> Map<String, Value> {
        let mut m: Map<String, Value> = self
            .strings
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        for o in self.objects.values() {
            for (k, v) in o {
                m.insert(k.clone(), v.clone());
            }
        }
        m
    }
}

/// The process environment as UTF-8 pairs, in the order the OS gives.
pub fn process_env() -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn metadata_from_env() {
        let env = [
            ("PATH", "/bin"),
            ("ISTIO_META_CLUSTER_ID", "Kubernetes"),
            ("ISTIO_META_WORKLOAD_NAME", "reviews-v1"),
            (
                "ISTIO_METAJSON_LABELS",
                r#"{"app":"reviews","version":"v1"}"#,
            ),
            (
                "ISTIO_METAJSON_ANNOTATIONS",
                r#"{"sidecar.istio.io/status":"x"}"#,
            ),
            ("ISTIO_META_CLUSTER_ID", "second"),
        ];
        let m = NodeMetadata::from_env(env).unwrap();
        assert_eq!(
            m.strings,
            BTreeMap::from([("CLUSTER_ID".to_string(), "second".to_string())])
        );
        assert_eq!(
            Value::Object(m.objects["LABELS"].clone()),
            json!({"app": "reviews", "version": "v1"})
        );
        assert_eq!(
            Value::Object(m.untyped()),
            json!({
                "CLUSTER_ID": "second",
                "app": "reviews",
                "version": "v1",
                "sidecar.istio.io/status": "x"
            })
        );
    }

    #[test]
    fn malformed_json_names_the_variable() {
        let err = NodeMetadata::from_env([("ISTIO_METAJSON_LABELS", "{not json")]).unwrap_err();
        assert_eq!(err.variable, "ISTIO_METAJSON_LABELS");
        assert!(
            err.to_string()
                .starts_with("invalid environment variable ISTIO_METAJSON_LABELS: malformed JSON"),
            "{err}"
        );
        let err = NodeMetadata::from_env([("ISTIO_METAJSON_X", "[1]")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid environment variable ISTIO_METAJSON_X: expected a JSON object, found an array"
        );
    }

    #[test]
    fn writers() {
        assert_eq!(
            config_file("/etc/istio/proxy", 3),
            PathBuf::from("/etc/istio/proxy/envoy-rev3.json")
        );
        let err = TemplateUnavailable
            .create_file_for_epoch(0, &Config::default())
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "bootstrap template rendering is not available yet"
        );
        let f = |epoch: u32, c: &Config| Ok(config_file(&c.proxy.config_path, epoch));
        let c = Config {
            proxy: ProxyConfig {
                config_path: "/tmp".into(),
                ..Default::default()
            },
            ..Default::default()
        };
        assert_eq!(
            f.create_file_for_epoch(1, &c).unwrap(),
            PathBuf::from("/tmp/envoy-rev1.json")
        );
    }
}
