//! Kubernetes-style config documents (`apiVersion`, `kind`, `metadata`, `spec`) and their
//! conversion into [`Config`].
//!
//! Input is a stream of YAML documents or concatenated JSON objects, as `kubectl` reads it.
//! Every error says which document it is about (position and line), which object
//! (`Kind/namespace/name`) when that is known, and which field.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

use super::model::{Config, ConfigMeta};
use super::protojson;
use super::schema::{self, Family, Schema};
use super::validation;
use crate::yaml;

/// Top-level fields a config object may have.
pub const TOP_LEVEL_FIELDS: [&str; 5] = ["apiVersion", "kind", "metadata", "spec", "status"];

/// The Kubernetes object metadata Istio reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectMeta {
    pub name: String,
    pub namespace: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub resource_version: String,
    pub creation_timestamp: Option<String>,
}

/// One object as read from a document, before its spec is interpreted.
#[derive(Debug, Clone, PartialEq)]
pub struct KubeObject {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    /// The `spec` member (`Value::Null` when absent).
    pub spec: Value,
    /// The whole object as read.
    pub raw: Map<String, Value>,
}

impl KubeObject {
    /// `Kind/namespace/name`, the prefix upstream puts on errors about an object.
    pub fn reference(&self) -> ObjectRef {
        ObjectRef {
            kind: self.kind.clone(),
            namespace: self.metadata.namespace.clone(),
            name: self.metadata.name.clone(),
        }
    }

    /// The API group of `apiVersion` (empty for the core group).
    pub fn group(&self) -> &str {
        self.api_version.rsplit_once('/').map_or("", |(g, _)| g)
    }

    /// The version of `apiVersion`.
    pub fn version(&self) -> &str {
        self.api_version
            .rsplit_once('/')
            .map_or(self.api_version.as_str(), |(_, v)| v)
    }

    /// Top-level members other than apiVersion, kind, metadata, spec and status.
    pub fn unknown_top_level_fields(&self) -> impl Iterator<Item = &str> {
        self.raw
            .keys()
            .map(String::as_str)
            .filter(|k| !TOP_LEVEL_FIELDS.contains(k))
    }

    /// Whether this is a `kind: List` (or `*List`) wrapper with `items`.
    pub fn is_list(&self) -> bool {
        self.kind.ends_with("List") && self.raw.get("items").is_some_and(Value::is_array)
    }
}

/// Names an object in errors: `Kind/namespace/name` (upstream's format).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectRef {
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.kind, self.namespace, self.name)
    }
}

/// What is wrong with an object.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// The text is not YAML/JSON.
    #[error("{0}")]
    Syntax(String),
    /// A document that is not a mapping.
    #[error("document is {0}, expected an object with apiVersion, kind, metadata and spec")]
    NotAnObject(&'static str),
    /// A required field is missing or empty.
    #[error("{0}: required field is missing")]
    Missing(&'static str),
    /// A field of the object envelope has the wrong type.
    #[error("{path}: {message}")]
    Field { path: String, message: String },
    /// A top-level field other than apiVersion, kind, metadata, spec and status.
    #[error("unknown field {0:?}")]
    UnknownField(String),
    /// Neither an Istio kind nor a Mixer kind.
    #[error("unknown kind {kind:?} (apiVersion {api_version:?})")]
    UnknownKind { api_version: String, kind: String },
    /// The spec does not fit its message.
    #[error("cannot parse proto message: {0}")]
    Spec(protojson::Error),
    /// The spec failed its kind's validation.
    #[error("{0}")]
    Invalid(validation::Error),
}

/// Where a document is in its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// 0-based index of the document in the stream.
    pub index: usize,
    /// 1-based line where the document starts.
    pub line: usize,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "document {} (line {})", self.index + 1, self.line)
    }
}

/// An error about one document, with where it is and which object it concerns.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct DocumentError {
    pub position: Position,
    pub object: Option<ObjectRef>,
    pub error: Box<Error>,
}

impl fmt::Display for DocumentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.object {
            Some(o) => write!(f, "{}: {o}: {}", self.position, self.error),
            None => write!(f, "{}: {}", self.position, self.error),
        }
    }
}

/// A decoded document: its position and its value (`Null` for an empty document).
#[derive(Debug, Clone, PartialEq)]
pub struct RawDocument {
    pub position: Position,
    pub value: Value,
}

/// Splits a YAML stream or a sequence of JSON objects into documents. JSON is recognised by a
/// leading `{` or `[`, as `kubectl` does. A syntax error ends the stream: it is returned last.
pub fn documents(text: &str) -> Vec<Result<RawDocument, DocumentError>> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        json_documents(text)
    } else {
        yaml::documents(text)
            .map(|d| match d {
                Ok(doc) => Ok(RawDocument {
                    position: Position {
                        index: doc.index,
                        line: doc.line,
                    },
                    value: doc.value,
                }),
                Err(e) => Err(DocumentError {
                    position: Position {
                        index: 0,
                        line: e.line,
                    },
                    object: None,
                    error: Box::new(Error::Syntax(e.to_string())),
                }),
            })
            .enumerate()
            .map(|(i, r)| {
                r.map_err(|mut e| {
                    e.position.index = i;
                    e
                })
            })
            .collect()
    }
}

fn json_documents(text: &str) -> Vec<Result<RawDocument, DocumentError>> {
    let mut out = Vec::new();
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    let mut index = 0;
    loop {
        let offset = stream.byte_offset();
        let line = 1 + text[..offset].matches('\n').count() + leading_newlines(&text[offset..]);
        match stream.next() {
            None => break,
            Some(Ok(value)) => out.push(Ok(RawDocument {
                position: Position { index, line },
                value,
            })),
            Some(Err(e)) => {
                out.push(Err(DocumentError {
                    position: Position {
                        index,
                        line: e.line(),
                    },
                    object: None,
                    error: Box::new(Error::Syntax(format!(
                        "json: line {} column {}: {e}",
                        e.line(),
                        e.column()
                    ))),
                }));
                break;
            }
        }
        index += 1;
    }
    out
}

fn leading_newlines(s: &str) -> usize {
    s.chars()
        .take_while(|c| c.is_whitespace())
        .filter(|&c| c == '\n')
        .count()
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn string_field(obj: &Map<String, Value>, key: &str, path: &str) -> Result<String, Error> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(Error::Field {
            path: path.to_string(),
            message: format!("expected a string, found {}", type_name(other)),
        }),
    }
}

fn string_map(
    obj: &Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<BTreeMap<String, String>, Error> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                other => Err(Error::Field {
                    path: format!("{path}.{k}"),
                    message: format!("expected a string, found {}", type_name(other)),
                }),
            })
            .collect(),
        Some(other) => Err(Error::Field {
            path: path.to_string(),
            message: format!("expected an object of strings, found {}", type_name(other)),
        }),
    }
}

/// Reads the object envelope of a document. `apiVersion` and `kind` must be present; the spec
/// is left for [`convert_object`].
pub fn parse_object(value: Value) -> Result<KubeObject, Error> {
    let raw = match value {
        Value::Object(m) => m,
        other => return Err(Error::NotAnObject(type_name(&other))),
    };
    let kind = string_field(&raw, "kind", "kind")?;
    let api_version = string_field(&raw, "apiVersion", "apiVersion")?;
    let metadata = match raw.get("metadata") {
        None | Some(Value::Null) => ObjectMeta::default(),
        Some(Value::Object(m)) => ObjectMeta {
            name: string_field(m, "name", "metadata.name")?,
            namespace: string_field(m, "namespace", "metadata.namespace")?,
            labels: string_map(m, "labels", "metadata.labels")?,
            annotations: string_map(m, "annotations", "metadata.annotations")?,
            resource_version: string_field(m, "resourceVersion", "metadata.resourceVersion")?,
            creation_timestamp: Some(string_field(
                m,
                "creationTimestamp",
                "metadata.creationTimestamp",
            )?)
            .filter(|s| !s.is_empty()),
        },
        Some(other) => {
            return Err(Error::Field {
                path: "metadata".into(),
                message: format!("expected an object, found {}", type_name(other)),
            });
        }
    };
    if kind.is_empty() {
        return Err(Error::Missing("kind"));
    }
    if api_version.is_empty() {
        return Err(Error::Missing("apiVersion"));
    }
    let spec = raw.get("spec").cloned().unwrap_or(Value::Null);
    Ok(KubeObject {
        api_version,
        kind,
        metadata,
        spec,
        raw,
    })
}

/// Finds the schema of an object: Istio kinds by kind alone (as upstream), Mixer kinds by
/// `config.istio.io/v1alpha2` and kind.
pub fn schema_for(obj: &KubeObject) -> Option<&'static Schema> {
    schema::istio_by_kube_kind(&obj.kind).or_else(|| {
        schema::by_gvk(obj.group(), obj.version(), &obj.kind).filter(|s| s.family == Family::Mixer)
    })
}

/// Converts an object of a known kind into a [`Config`]: decodes the spec the way upstream
/// reads the kind and requires a name. Cluster-scoped kinds drop any namespace; namespaced kinds
/// without one get `default_namespace`.
pub fn convert_object(
    schema: &'static Schema,
    obj: &KubeObject,
    domain: &str,
    default_namespace: &str,
) -> Result<Config, Error> {
    if obj.metadata.name.is_empty() {
        return Err(Error::Missing("metadata.name"));
    }
    let spec = schema
        .decode_spec(obj.spec.clone(), "spec")
        .map_err(Error::Spec)?;
    let namespace = if schema.cluster_scoped {
        String::new()
    } else if obj.metadata.namespace.is_empty() {
        default_namespace.to_string()
    } else {
        obj.metadata.namespace.clone()
    };
    Ok(Config {
        meta: ConfigMeta {
            kind: schema.kind,
            name: obj.metadata.name.clone(),
            namespace,
            domain: domain.to_string(),
            labels: obj.metadata.labels.clone(),
            annotations: obj.metadata.annotations.clone(),
            resource_version: obj.metadata.resource_version.clone(),
            creation_timestamp: obj.metadata.creation_timestamp.clone(),
        },
        spec,
    })
}

/// Renders a config as a Kubernetes object (the reverse of [`convert_object`]): apiVersion and
/// kind of its schema, its metadata, and its spec in protobuf JSON. A namespaced object without
/// a namespace goes to `default`, as upstream does.
pub fn to_object(cfg: &Config) -> Value {
    let schema = cfg.meta.schema();
    let mut metadata = Map::new();
    metadata.insert("name".into(), Value::String(cfg.meta.name.clone()));
    if !schema.cluster_scoped {
        let ns = if cfg.meta.namespace.is_empty() {
            "default"
        } else {
            cfg.meta.namespace.as_str()
        };
        metadata.insert("namespace".into(), Value::String(ns.to_string()));
    }
    let string_map = |m: &BTreeMap<String, String>| {
        Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        )
    };
    if !cfg.meta.labels.is_empty() {
        metadata.insert("labels".into(), string_map(&cfg.meta.labels));
    }
    if !cfg.meta.annotations.is_empty() {
        metadata.insert("annotations".into(), string_map(&cfg.meta.annotations));
    }
    if !cfg.meta.resource_version.is_empty() {
        metadata.insert(
            "resourceVersion".into(),
            Value::String(cfg.meta.resource_version.clone()),
        );
    }
    let mut obj = Map::new();
    obj.insert("apiVersion".into(), Value::String(schema.api_version()));
    obj.insert("kind".into(), Value::String(schema.kube_kind.to_string()));
    obj.insert("metadata".into(), Value::Object(metadata));
    obj.insert("spec".into(), cfg.spec.to_json());
    Value::Object(obj)
}

/// The outcome of reading a stream of config documents.
#[derive(Debug, Default)]
pub struct Inputs {
    /// Objects of known kinds, decoded (and validated when asked).
    pub configs: Vec<Config>,
    /// Well-formed objects of other kinds (Services, Deployments, ...).
    pub others: Vec<KubeObject>,
    /// One entry per rejected document; the others are still read.
    pub errors: Vec<DocumentError>,
}

/// Options for [`parse_inputs`].
#[derive(Debug, Clone, Default)]
pub struct ParseOptions<'a> {
    /// DNS domain suffix recorded in each config's metadata.
    pub domain: &'a str,
    /// Namespace for namespaced objects that do not name one.
    pub default_namespace: &'a str,
    /// Run each kind's validation.
    pub validate: bool,
    /// Reject top-level fields other than apiVersion, kind, metadata, spec and status.
    pub check_top_level_fields: bool,
}

/// Reads every document of `text` into configs (the file-based config source, `istioctl`).
/// A bad document is reported and skipped; the rest are still read. `List` objects are
/// expanded into their items.
pub fn parse_inputs(text: &str, opts: &ParseOptions<'_>) -> Inputs {
    let mut inputs = Inputs::default();
    for doc in documents(text) {
        match doc {
            Err(e) => inputs.errors.push(e),
            Ok(RawDocument {
                value: Value::Null, ..
            }) => {}
            Ok(RawDocument { position, value }) => read_value(value, position, opts, &mut inputs),
        }
    }
    inputs
}

/// Reads the objects of one document: the object itself, or the items of a `List` (recursively,
/// without copying them).
pub fn objects(value: Value) -> Vec<Result<KubeObject, Error>> {
    let mut out = Vec::new();
    push_objects(value, &mut out);
    out
}

fn push_objects(value: Value, out: &mut Vec<Result<KubeObject, Error>>) {
    match parse_object(value) {
        Ok(mut obj) if obj.is_list() => {
            if let Some(Value::Array(items)) = obj.raw.remove("items") {
                for item in items {
                    push_objects(item, out);
                }
            }
        }
        other => out.push(other),
    }
}

fn read_value(value: Value, position: Position, opts: &ParseOptions<'_>, inputs: &mut Inputs) {
    for obj in objects(value) {
        let obj = match obj {
            Ok(obj) => obj,
            Err(error) => {
                inputs.errors.push(DocumentError {
                    position,
                    object: None,
                    error: Box::new(error),
                });
                continue;
            }
        };
        let Some(schema) = schema_for(&obj) else {
            inputs.others.push(obj);
            continue;
        };
        match read_config(schema, &obj, opts) {
            Ok(cfg) => inputs.configs.push(cfg),
            Err(error) => inputs.errors.push(DocumentError {
                position,
                object: Some(obj.reference()),
                error: Box::new(error),
            }),
        }
    }
}

/// Converts, checks and validates one object of a known kind, as the options ask.
pub fn read_config(
    schema: &'static Schema,
    obj: &KubeObject,
    opts: &ParseOptions<'_>,
) -> Result<Config, Error> {
    let cfg = convert_object(schema, obj, opts.domain, opts.default_namespace)?;
    if opts.check_top_level_fields {
        if let Some(f) = obj.unknown_top_level_fields().next() {
            return Err(Error::UnknownField(f.to_string()));
        }
    }
    if opts.validate {
        cfg.validate().map_err(Error::Invalid)?;
    }
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::model::Spec;
    use crate::config::schema::Kind;

    const OPTS: ParseOptions<'static> = ParseOptions {
        domain: "cluster.local",
        default_namespace: "default",
        validate: true,
        check_top_level_fields: true,
    };

    #[test]
    fn reads_a_multi_document_stream() {
        let text = "\
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata:
  name: reviews
  namespace: bookinfo
  labels: {app: reviews}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v1}
    timeout: 10s
---
apiVersion: v1
kind: Service
metadata: {name: reviews}
spec: {ports: [{name: http, port: 9080}]}
---
apiVersion: authentication.istio.io/v1alpha1
kind: MeshPolicy
metadata: {name: default, namespace: ignored}
spec: {peers: [{mtls: {}}]}
";
        let inputs = parse_inputs(text, &OPTS);
        assert!(inputs.errors.is_empty(), "{:?}", inputs.errors);
        assert_eq!(inputs.configs.len(), 2);
        let vs = &inputs.configs[0];
        assert_eq!(vs.meta.kind, Kind::VirtualService);
        assert_eq!(vs.meta.key(), "bookinfo/reviews");
        assert_eq!(vs.meta.domain, "cluster.local");
        assert_eq!(
            vs.meta.labels.get("app").map(String::as_str),
            Some("reviews")
        );
        let Spec::VirtualService(spec) = &vs.spec else {
            panic!("wrong spec {:?}", vs.spec)
        };
        assert_eq!(spec.http[0].timeout.as_ref().map(|d| d.seconds), Some(10));
        // Cluster-scoped kinds carry no namespace.
        assert_eq!(inputs.configs[1].meta.namespace, "");
        assert_eq!(inputs.others.len(), 1);
        assert_eq!(inputs.others[0].kind, "Service");
    }

    #[test]
    fn errors_name_document_object_and_field() {
        let text = "\
kind: Gateway
apiVersion: networking.istio.io/v1alpha3
metadata: {name: gw}
spec:
  servers: {port: 80}
---
kind: Gateway
apiVersion: networking.istio.io/v1alpha3
metadata: {namespace: x}
spec: {}
---
kind: Gateway
apiVersion: networking.istio.io/v1alpha3
metadata: {name: gw, labels: {a: 1}}
---
- just a list
---
apiVersion: networking.istio.io/v1alpha3
kind: Gateway
metadata: {name: ok}
spec: {servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ['*']}]}
bogus: 1
";
        let inputs = parse_inputs(text, &OPTS);
        let msgs: Vec<String> = inputs.errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            msgs,
            vec![
                "document 1 (line 1): Gateway//gw: cannot parse proto message: spec.servers: expected a list, found an object",
                "document 2 (line 7): Gateway/x/: metadata.name: required field is missing",
                "document 3 (line 12): metadata.labels.a: expected a string, found a number",
                "document 4 (line 16): document is a list, expected an object with apiVersion, kind, metadata and spec",
                "document 5 (line 18): Gateway//ok: unknown field \"bogus\"",
            ]
        );
        assert!(inputs.configs.is_empty());
    }

    #[test]
    fn json_streams_and_lists() {
        let text = r#"{"apiVersion": "v1", "kind": "List", "items": [
              {"apiVersion": "networking.istio.io/v1alpha3", "kind": "DestinationRule",
               "metadata": {"name": "r"}, "spec": {"host": "reviews"}}]}
            {"apiVersion": "rbac.istio.io/v1alpha1", "kind": "ServiceRole", "metadata": {"name": "x"}, "spec": {"rules": [{"services": ["*"], "methods": ["GET"]}]}}"#;
        let inputs = parse_inputs(text, &OPTS);
        assert!(inputs.errors.is_empty(), "{:?}", inputs.errors);
        let kinds: Vec<_> = inputs.configs.iter().map(|c| c.meta.kind).collect();
        assert_eq!(kinds, vec![Kind::DestinationRule, Kind::ServiceRole]);
        assert_eq!(inputs.configs[0].meta.namespace, "default");
        let broken = parse_inputs("{\"kind\": ", &OPTS);
        assert!(matches!(*broken.errors[0].error, Error::Syntax(_)));
    }

    #[test]
    fn mixer_kinds_need_their_api_version() {
        let text = "apiVersion: config.istio.io/v1alpha2\nkind: rule\nmetadata: {name: r}\nspec: {match: 'true'}\n---\n\
                    apiVersion: example.com/v1\nkind: rule\nmetadata: {name: r}\nspec: {anything: 1}\n";
        let inputs = parse_inputs(text, &OPTS);
        assert!(inputs.errors.is_empty(), "{:?}", inputs.errors);
        assert_eq!(inputs.configs.len(), 1);
        assert_eq!(inputs.others.len(), 1);
    }

    #[test]
    fn objects_round_trip() {
        let text = "apiVersion: networking.istio.io/v1alpha3\nkind: ServiceEntry\nmetadata: {name: se, labels: {a: b}}\n\
                    spec: {hosts: [a.example.com], resolution: DNS, ports: [{number: 80, name: http, protocol: HTTP}]}\n---\n\
                    apiVersion: rbac.istio.io/v1alpha1\nkind: ClusterRbacConfig\nmetadata: {name: default}\nspec: {mode: 'ON'}\n";
        let inputs = parse_inputs(text, &OPTS);
        assert!(inputs.errors.is_empty(), "{:?}", inputs.errors);
        for cfg in &inputs.configs {
            let obj = to_object(cfg);
            let back = parse_object(obj).expect("envelope");
            let again = convert_object(cfg.meta.schema(), &back, "cluster.local", "default")
                .expect("config");
            assert_eq!(&again, cfg);
        }
        let se = to_object(&inputs.configs[0]);
        assert_eq!(se["metadata"]["namespace"], "default");
        assert_eq!(se["spec"]["resolution"], "DNS");
        let rbac = to_object(&inputs.configs[1]);
        assert!(rbac["metadata"].get("namespace").is_none());
    }

    #[test]
    fn syntax_errors_are_reported_with_their_line() {
        let inputs = parse_inputs("kind: Gateway\n---\nkind: [\n", &OPTS);
        let last = inputs.errors.last().expect("syntax error");
        assert!(matches!(*last.error, Error::Syntax(_)));
        assert!(last.position.line >= 3, "{last}");
    }
}
