//! CustomResourceDefinitions (apiextensions.k8s.io/v1) for the Istio config kinds, generated from
//! the schema registry and the protobuf descriptors.
//!
//! The OpenAPI schema of a spec follows the protobuf JSON mapping, as the 1.4 charts' CRDs did:
//! scalars typed (`integer`/`int32`, `number`, `boolean`, `string`), enums as their names,
//! durations and timestamps as strings, `google.protobuf.Struct`/`Value` free-form, wrappers as
//! nullable scalars, and a oneof as "at most one of these fields". Every field, list item and
//! map value is nullable, because upstream reads `null` as "not set" everywhere (a chart's
//! `services:` with nothing after it is a null list, and valid).
//!
//! Unknown fields: upstream ignores them in Istio kinds and rejects them in Mixer kinds, so Istio
//! kinds' schemas keep unknown fields (`x-kubernetes-preserve-unknown-fields`, as the 1.4
//! v1beta1 CRDs did) and Mixer kinds' schemas do not (the API server prunes them, or rejects them
//! under strict field validation, which `kubectl` uses by default). Upstream also accepts a
//! field under its proto name (`compiled_adapter`): Istio kinds keep such a spelling as an
//! unknown field, and Mixer kinds list both spellings (their messages are small; doing the same
//! for Istio kinds would double the schema at every level).

use prost_reflect::{FieldDescriptor, Kind as FieldKind, MessageDescriptor};
use serde_json::{json, Map, Value};

use super::schema::{Family, Kind, Schema};

/// Deepest message nesting expanded in a schema; deeper (recursive) messages are free-form.
const MAX_DEPTH: usize = 12;

/// The CRD manifest files of the 1.4 `istio-init` chart, and the kinds each holds.
pub const FILES: [(&str, &[Kind]); 3] = [
    (
        "crd-10.yaml",
        &[
            Kind::VirtualService,
            Kind::DestinationRule,
            Kind::ServiceEntry,
            Kind::Gateway,
            Kind::EnvoyFilter,
            Kind::HttpApiSpec,
            Kind::HttpApiSpecBinding,
            Kind::QuotaSpec,
            Kind::QuotaSpecBinding,
            Kind::Rule,
            Kind::AttributeManifest,
            Kind::Adapter,
            Kind::Instance,
            Kind::Template,
            Kind::Handler,
            Kind::AuthenticationPolicy,
            Kind::AuthenticationMeshPolicy,
            Kind::ServiceRole,
            Kind::ServiceRoleBinding,
            Kind::RbacConfig,
            Kind::ClusterRbacConfig,
        ],
    ),
    ("crd-11.yaml", &[Kind::Sidecar]),
    ("crd-14.yaml", &[Kind::AuthorizationPolicy]),
];

/// The CRD of a kind, as a JSON value.
pub fn crd(s: &Schema) -> Value {
    let spec_schema = istio_api::descriptor_pool()
        .get_message_by_name(s.message_name)
        .map(|d| message_schema(&d, s.family, 0))
        .unwrap_or_else(|| json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}));
    let mut names = Map::new();
    names.insert("categories".into(), json!(["istio-io", category(s)]));
    names.insert("kind".into(), json!(s.kube_kind));
    names.insert("listKind".into(), json!(format!("{}List", s.kube_kind)));
    names.insert("plural".into(), json!(s.resource));
    if let Some(short) = short_name(s.kind) {
        names.insert("shortNames".into(), json!([short]));
    }
    names.insert("singular".into(), json!(s.kube_kind.to_ascii_lowercase()));

    let mut version = Map::new();
    if let Some(columns) = printer_columns(s.kind) {
        version.insert("additionalPrinterColumns".into(), columns);
    }
    version.insert("name".into(), json!(s.version));
    version.insert(
        "schema".into(),
        json!({"openAPIV3Schema": {
            "type": "object",
            "properties": {
                "spec": spec_schema,
                "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
            },
        }}),
    );
    version.insert("served".into(), json!(true));
    version.insert("storage".into(), json!(true));
    version.insert("subresources".into(), json!({"status": {}}));

    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "annotations": {"helm.sh/resource-policy": "keep"},
            "labels": {
                "app": app_label(s),
                "chart": "istio",
                "heritage": "Tiller",
                "istio": istio_label(s),
                "release": "istio",
            },
            "name": format!("{}.{}", s.resource, s.group),
        },
        "spec": {
            "group": s.group,
            "names": names,
            "scope": if s.cluster_scoped { "Cluster" } else { "Namespaced" },
            "versions": [version],
        },
    })
}

/// A multi-document YAML stream of the CRDs of `kinds`, in the given order.
pub fn crds_yaml(kinds: &[Kind]) -> String {
    let mut out = String::from(
        "# Generated from the istio-rs schema registry (pkg/config/crd.rs). Do not edit.\n",
    );
    for (i, k) in kinds.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(&crate::yaml::to_string(&crd(k.schema())));
    }
    out
}

/// Every CRD the charts install, in file order.
pub fn all_crds() -> Vec<Value> {
    FILES
        .iter()
        .flat_map(|(_, kinds)| kinds.iter())
        .map(|k| crd(k.schema()))
        .collect()
}

fn category(s: &Schema) -> String {
    let prefix = s.group.strip_suffix(".istio.io").unwrap_or(s.group);
    match s.family {
        // Upstream files Mixer's kinds under "policy" (config.istio.io's Mixer half).
        Family::Mixer => "policy-istio-io".to_string(),
        Family::Istio => format!("{prefix}-istio-io"),
    }
}

fn app_label(s: &Schema) -> &'static str {
    match s.family {
        Family::Mixer => "mixer",
        Family::Istio => "istio-pilot",
    }
}

fn istio_label(s: &Schema) -> &'static str {
    match s.group {
        "rbac.istio.io" | "security.istio.io" => "security",
        "authentication.istio.io" => "security",
        _ => "core",
    }
}

fn short_name(k: Kind) -> Option<&'static str> {
    match k {
        Kind::VirtualService => Some("vs"),
        Kind::DestinationRule => Some("dr"),
        Kind::ServiceEntry => Some("se"),
        Kind::Gateway => Some("gw"),
        _ => None,
    }
}

fn printer_columns(k: Kind) -> Option<Value> {
    let age = json!({
        "description": "CreationTimestamp is the server time when this object was created.",
        "jsonPath": ".metadata.creationTimestamp",
        "name": "Age",
        "type": "date",
    });
    let column = |path: &str, name: &str, description: &str| json!({"description": description, "jsonPath": path, "name": name, "type": "string"});
    let columns = match k {
        Kind::VirtualService => vec![
            column(".spec.gateways", "Gateways", "The names of gateways and sidecars that should apply these routes"),
            column(".spec.hosts", "Hosts", "The destination hosts to which traffic is being sent"),
            age,
        ],
        Kind::DestinationRule => vec![
            column(".spec.host", "Host", "The name of a service from the service registry"),
            age,
        ],
        Kind::ServiceEntry => vec![
            column(".spec.hosts", "Hosts", "The hosts associated with the ServiceEntry"),
            column(
                ".spec.location",
                "Location",
                "Whether the service is external to the mesh or part of the mesh (MESH_EXTERNAL or MESH_INTERNAL)",
            ),
            column(".spec.resolution", "Resolution", "Service discovery mode for the hosts (NONE, STATIC, or DNS)"),
            age,
        ],
        _ => return None,
    };
    Some(Value::Array(columns))
}

fn free_form() -> Value {
    json!({"x-kubernetes-preserve-unknown-fields": true})
}

/// The OpenAPI schema of a message.
fn message_schema(desc: &MessageDescriptor, family: Family, depth: usize) -> Value {
    match desc.full_name() {
        "google.protobuf.Duration" => return json!({"type": "string"}),
        "google.protobuf.Timestamp" => return json!({"type": "string", "format": "date-time"}),
        "google.protobuf.Struct" => {
            return json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true})
        }
        "google.protobuf.Value" | "google.protobuf.Any" => return free_form(),
        "google.protobuf.ListValue" => {
            return json!({"type": "array", "items": free_form()});
        }
        name if name.starts_with("google.protobuf.") && name.ends_with("Value") => {
            // Wrappers: the bare scalar, which may be null.
            if let Some(inner) = desc.get_field_by_name("value") {
                let mut s = scalar_schema(&inner);
                if let Value::Object(m) = &mut s {
                    m.insert("nullable".into(), json!(true));
                }
                return s;
            }
        }
        _ => {}
    }
    if depth >= MAX_DEPTH {
        return json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true});
    }
    let both_spellings = family == Family::Mixer;
    let spellings = |f: &FieldDescriptor| -> Vec<String> {
        let mut names = vec![f.json_name().to_string()];
        if both_spellings && f.name() != f.json_name() {
            names.push(f.name().to_string());
        }
        names
    };
    let mut properties = Map::new();
    for field in desc.fields() {
        let schema = field_schema(&field, family, depth);
        for name in spellings(&field) {
            properties.insert(name, schema.clone());
        }
    }
    let mut out = Map::new();
    out.insert("type".into(), json!("object"));
    if !properties.is_empty() {
        out.insert("properties".into(), Value::Object(properties));
    }
    let alternatives: Vec<Value> = desc
        .oneofs()
        .filter(|o| o.fields().len() > 1)
        .map(|o| {
            let required: Vec<Value> = o
                .fields()
                .flat_map(|f| spellings(&f))
                .map(|n| json!({"required": [n]}))
                .collect();
            // At most one: none, or exactly one spelling of one alternative.
            let mut one_of = vec![json!({"not": {"anyOf": required.clone()}})];
            one_of.extend(required);
            json!({"oneOf": one_of})
        })
        .collect();
    match alternatives.len() {
        0 => {}
        1 => {
            if let Some(Value::Object(alt)) = alternatives.into_iter().next() {
                out.extend(alt);
            }
        }
        _ => {
            out.insert("allOf".into(), Value::Array(alternatives));
        }
    }
    if family == Family::Istio {
        out.insert("x-kubernetes-preserve-unknown-fields".into(), json!(true));
    }
    Value::Object(out)
}

fn field_schema(field: &FieldDescriptor, family: Family, depth: usize) -> Value {
    if field.is_map() {
        let value_schema = match field.kind() {
            FieldKind::Message(entry) => {
                single_schema(&entry.map_entry_value_field(), family, depth + 1)
            }
            _ => free_form(),
        };
        return nullable(json!({"type": "object", "additionalProperties": nullable(value_schema)}));
    }
    let single = single_schema(field, family, depth + 1);
    if field.is_list() {
        nullable(json!({"type": "array", "items": nullable(single)}))
    } else {
        nullable(single)
    }
}

/// Marks a schema as accepting `null` (free-form schemas accept it already).
fn nullable(mut schema: Value) -> Value {
    if let Value::Object(m) = &mut schema {
        if m.contains_key("type") {
            m.insert("nullable".into(), json!(true));
        }
    }
    schema
}

fn single_schema(field: &FieldDescriptor, family: Family, depth: usize) -> Value {
    match field.kind() {
        FieldKind::Message(m) => message_schema(&m, family, depth),
        _ => scalar_schema(field),
    }
}

fn scalar_schema(field: &FieldDescriptor) -> Value {
    match field.kind() {
        FieldKind::Bool => json!({"type": "boolean"}),
        FieldKind::String => json!({"type": "string"}),
        FieldKind::Bytes => json!({"type": "string", "format": "byte"}),
        FieldKind::Double => json!({"type": "number", "format": "double"}),
        FieldKind::Float => json!({"type": "number", "format": "float"}),
        FieldKind::Int32 | FieldKind::Sint32 | FieldKind::Sfixed32 => {
            json!({"type": "integer", "format": "int32"})
        }
        FieldKind::Uint32 | FieldKind::Fixed32 => {
            json!({"type": "integer", "format": "int32", "minimum": 0})
        }
        FieldKind::Int64 | FieldKind::Sint64 | FieldKind::Sfixed64 => {
            json!({"type": "integer", "format": "int64"})
        }
        FieldKind::Uint64 | FieldKind::Fixed64 => {
            json!({"type": "integer", "format": "int64", "minimum": 0})
        }
        FieldKind::Enum(e) => {
            let names: Vec<Value> = e.values().map(|v| json!(v.name())).collect();
            json!({"type": "string", "enum": names})
        }
        FieldKind::Message(_) => free_form(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::schema;
    use std::path::PathBuf;

    fn chart_files_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../install/kubernetes/helm/istio-init/files")
    }

    #[test]
    fn every_crd_is_in_one_file() {
        let listed: Vec<Kind> = FILES.iter().flat_map(|(_, k)| k.iter().copied()).collect();
        assert_eq!(listed.len(), schema::crds().count());
        for s in schema::crds() {
            assert_eq!(
                listed.iter().filter(|k| **k == s.kind).count(),
                1,
                "{:?}",
                s.kind
            );
        }
        assert_eq!(all_crds().len(), 23);
    }

    #[test]
    fn crd_shape() {
        let vs = crd(Kind::VirtualService.schema());
        assert_eq!(
            vs["metadata"]["name"],
            "virtualservices.networking.istio.io"
        );
        assert_eq!(vs["spec"]["names"]["shortNames"], json!(["vs"]));
        assert_eq!(vs["spec"]["scope"], "Namespaced");
        let spec = &vs["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
        assert_eq!(
            spec["properties"]["hosts"],
            json!({"type": "array", "nullable": true, "items": {"type": "string", "nullable": true}})
        );
        assert_eq!(spec["x-kubernetes-preserve-unknown-fields"], true);
        let http = &spec["properties"]["http"]["items"]["properties"];
        assert_eq!(http["timeout"], json!({"type": "string", "nullable": true}));
        // Istio kinds list JSON names; other spellings pass as preserved unknown fields.
        assert!(spec["properties"].get("exportTo").is_some());
        assert!(spec["properties"].get("export_to").is_none());
        // A oneof allows none or exactly one alternative.
        let uri = &http["match"]["items"]["properties"]["uri"];
        assert_eq!(
            uri["oneOf"][0],
            json!({"not": {"anyOf": [{"required": ["exact"]}, {"required": ["prefix"]}, {"required": ["regex"]}]}})
        );

        let mesh_policy = crd(Kind::AuthenticationMeshPolicy.schema());
        assert_eq!(mesh_policy["spec"]["scope"], "Cluster");

        let rule = crd(Kind::Rule.schema());
        let spec = &rule["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
        assert!(
            spec.get("x-kubernetes-preserve-unknown-fields").is_none(),
            "Mixer kinds are strict"
        );
        let handler = crd(Kind::Handler.schema());
        let params = &handler["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]
            ["spec"]["properties"]["params"];
        assert_eq!(params["x-kubernetes-preserve-unknown-fields"], true);
        let manifest = crd(Kind::AttributeManifest.schema());
        let value_type = &manifest["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
            ["properties"]["spec"]["properties"]["attributes"]["additionalProperties"]
            ["properties"]["valueType"];
        assert_eq!(value_type["type"], "string");
        assert!(value_type["enum"]
            .as_array()
            .is_some_and(|e| e.contains(&json!("STRING_MAP"))));
    }

    /// The committed chart files are what the registry generates. Regenerate with
    /// `REFRESH_GOLDEN=true cargo test -p istio-pkg crd`.
    #[test]
    fn chart_files_are_up_to_date() {
        let dir = chart_files_dir();
        let refresh = std::env::var("REFRESH_GOLDEN").is_ok_and(|v| v == "true");
        for (name, kinds) in FILES {
            let path = dir.join(name);
            let want = crds_yaml(kinds);
            if refresh {
                std::fs::create_dir_all(&dir).expect("create chart dir");
                std::fs::write(&path, &want).expect("write golden");
                continue;
            }
            let have = std::fs::read_to_string(&path).unwrap_or_else(|e| {
                panic!(
                    "{}: {e} (regenerate with REFRESH_GOLDEN=true)",
                    path.display()
                )
            });
            assert!(
                have == want,
                "{} is stale: regenerate with REFRESH_GOLDEN=true cargo test -p istio-pkg crd",
                path.display()
            );
            // And it reads back as the same objects.
            let docs = crate::yaml::from_str_multi(&have).expect("valid YAML");
            let values: Vec<Value> = docs.into_iter().map(|d| d.value).collect();
            let expected: Vec<Value> = kinds.iter().map(|k| crd(k.schema())).collect();
            assert_eq!(values, expected);
        }
    }
}
