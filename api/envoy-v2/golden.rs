//! Upstream's golden files, and structural comparison of v2 messages.
//!
//! Upstream's `pilot/pkg/proxy/envoy/v2/testdata/none_*.json` are Go `encoding/json` dumps of the
//! generated Go structs, not proto3 JSON: field names as in the `.proto` (the Go `json` tags),
//! a oneof as its Go field (`"PortSpecifier"`) holding one key named after the Go wrapper field
//! of the member (`{"PortValue": 7071}`), `Struct` as `{"fields": {"k": {"Kind": {...}}}}`,
//! `Any` as `{"type_url", "value"}` with base64 bytes, wrappers as `{"value"}`, enums as
//! numbers, `null` for unset pointers, slices and oneofs. Durations appear either as
//! `{"seconds", "nanos"}` or, in files written by the gogo-generated API of earlier releases,
//! as integer nanoseconds. [`from_go_json`] reads that form with the v2 descriptors.
//!
//! [`diff`] compares two messages field by field and lists the differences, treating an opaque
//! `config` `Struct` and a `typed_config` `Any` of the same filter as the same configuration.

use std::borrow::Cow;
use std::collections::BTreeMap;

use base64::Engine as _;
use prost_reflect::{
    DeserializeOptions, DynamicMessage, FieldDescriptor, Kind, MapKey, MessageDescriptor,
    ReflectMessage, Value,
};
use serde_json::Value as Json;

use crate::json::{encode, message_to_json};
use crate::{pool, type_name, Error, JsonOptions};

fn go_err(message: &MessageDescriptor, path: &str, reason: impl Into<String>) -> Error {
    Error::GoJson {
        message: message.full_name().to_string(),
        path: if path.is_empty() {
            "<root>".to_string()
        } else {
            path.to_string()
        },
        reason: reason.into(),
    }
}

/// The message descriptor of a v2 (or Istio, or Google) message by full name.
pub fn descriptor(full_message_name: &str) -> Result<MessageDescriptor, Error> {
    pool()
        .get_message_by_name(full_message_name)
        .ok_or_else(|| Error::UnknownType {
            type_name: full_message_name.to_string(),
        })
}

/// Decodes an `Any` (v2 type URL) into a dynamic message, e.g. pilot's downgraded output, to
/// [`diff`] it against a golden.
pub fn from_any(any: &prost_types::Any) -> Result<DynamicMessage, Error> {
    let desc = descriptor(type_name(&any.type_url))?;
    DynamicMessage::decode(desc.clone(), any.value.as_slice()).map_err(|e| Error::Malformed {
        message: desc.full_name().to_string(),
        reason: e.to_string(),
        path: Default::default(),
    })
}

/// Reads one message from upstream's Go `encoding/json` form.
pub fn from_go_json(full_message_name: &str, value: &Json) -> Result<DynamicMessage, Error> {
    let desc = descriptor(full_message_name)?;
    message(&desc, value, "")
}

/// Reads a golden file's object of `name → message` (what upstream's ADS client saved: listeners
/// by name, clusters by name, …), in name order.
pub fn from_go_json_map(
    full_message_name: &str,
    value: &Json,
) -> Result<BTreeMap<String, DynamicMessage>, Error> {
    let desc = descriptor(full_message_name)?;
    let obj = value
        .as_object()
        .ok_or_else(|| go_err(&desc, "", "expected an object of name to message"))?;
    obj.iter()
        .map(|(k, v)| Ok((k.clone(), message(&desc, v, k)?)))
        .collect()
}

/// Go's name for a proto field or oneof in generated code (protoc-gen-go's `CamelCase`):
/// underscores before a lowercase letter vanish and that letter is capitalized, as is the first
/// letter and any lowercase letter after a digit.
pub fn go_camel_case(name: &str) -> String {
    let b = name.as_bytes();
    let mut out = String::with_capacity(name.len());
    let mut i = 0;
    if b.first() == Some(&b'_') {
        out.push('X');
        i = 1;
    }
    while i < b.len() {
        let c = b[i];
        if c == b'_' && b.get(i + 1).is_some_and(u8::is_ascii_lowercase) {
            i += 1;
            continue;
        }
        if c.is_ascii_digit() {
            out.push(c as char);
            i += 1;
            continue;
        }
        out.push(c.to_ascii_uppercase() as char);
        i += 1;
        while i < b.len() && b[i].is_ascii_lowercase() {
            out.push(b[i] as char);
            i += 1;
        }
    }
    out
}

fn join(path: &str, seg: &str) -> String {
    if path.is_empty() {
        seg.to_string()
    } else if seg.starts_with('[') {
        format!("{path}{seg}")
    } else {
        format!("{path}.{seg}")
    }
}

fn message(desc: &MessageDescriptor, v: &Json, path: &str) -> Result<DynamicMessage, Error> {
    let mut msg = DynamicMessage::new(desc.clone());
    match (desc.full_name(), v) {
        // gogo's stdduration: a time.Duration, integer nanoseconds.
        ("google.protobuf.Duration", Json::Number(n)) => {
            let ns = n
                .as_i64()
                .ok_or_else(|| go_err(desc, path, format!("duration {n} is not an integer")))?;
            msg.set_field_by_name("seconds", Value::I64(ns / 1_000_000_000));
            msg.set_field_by_name("nanos", Value::I32((ns % 1_000_000_000) as i32));
            return Ok(msg);
        }
        (_, Json::Object(_)) => {}
        _ => return Err(go_err(desc, path, format!("expected an object, found {v}"))),
    }
    let Json::Object(obj) = v else {
        return Err(go_err(desc, path, "expected an object"));
    };
    for (key, val) in obj {
        if key.starts_with("XXX_") {
            continue;
        }
        let here = join(path, key);
        if let Some(field) = desc.get_field_by_name(key) {
            if let Some(value) = field_value(&field, val, &here)? {
                msg.set_field(&field, value);
            }
            continue;
        }
        let Some(oneof) = desc.oneofs().find(|o| go_camel_case(o.name()) == *key) else {
            return Err(go_err(desc, &here, format!("no field or oneof {key:?}")));
        };
        let members = match val {
            Json::Null => continue,
            Json::Object(m) => m,
            other => {
                return Err(go_err(
                    desc,
                    &here,
                    format!("oneof {key} must be an object, found {other}"),
                ))
            }
        };
        if members.len() != 1 {
            return Err(go_err(
                desc,
                &here,
                format!("oneof {key} must hold one member, found {}", members.len()),
            ));
        }
        for (member, mval) in members {
            let field = oneof
                .fields()
                .find(|f| go_camel_case(f.name()) == *member)
                .ok_or_else(|| {
                    go_err(desc, &here, format!("oneof {key} has no member {member:?}"))
                })?;
            let here = join(&here, member);
            // A set member is present even when it holds its zero value.
            let value = match single(&field, &field.kind(), mval, &here)? {
                Some(v) => v,
                None => Value::default_value_for_field(&field),
            };
            msg.set_field(&field, value);
        }
    }
    Ok(msg)
}

fn field_value(field: &FieldDescriptor, v: &Json, path: &str) -> Result<Option<Value>, Error> {
    if v.is_null() {
        return Ok(None);
    }
    let parent = field.parent_message();
    if field.is_map() {
        let Kind::Message(entry) = field.kind() else {
            return Err(go_err(parent, path, "map without entry type"));
        };
        let key_field = entry.map_entry_key_field();
        let value_field = entry.map_entry_value_field();
        let obj = v
            .as_object()
            .ok_or_else(|| go_err(parent, path, "expected an object for a map"))?;
        let mut map = std::collections::HashMap::new();
        for (k, val) in obj {
            let here = format!("{path}[{k:?}]");
            let key = map_key(&key_field.kind(), k)
                .ok_or_else(|| go_err(parent, &here, format!("bad map key {k:?}")))?;
            let value = single(&value_field, &value_field.kind(), val, &here)?
                .unwrap_or_else(|| Value::default_value_for_field(&value_field));
            map.insert(key, value);
        }
        return Ok(Some(Value::Map(map)));
    }
    if field.is_list() {
        let arr = v
            .as_array()
            .ok_or_else(|| go_err(parent, path, "expected an array"))?;
        let mut list = Vec::with_capacity(arr.len());
        for (i, item) in arr.iter().enumerate() {
            let here = format!("{path}[{i}]");
            let value = single(field, &field.kind(), item, &here)?
                .ok_or_else(|| go_err(parent, &here, "null list element"))?;
            list.push(value);
        }
        return Ok(Some(Value::List(list)));
    }
    single(field, &field.kind(), v, path)
}

fn map_key(kind: &Kind, k: &str) -> Option<MapKey> {
    Some(match kind {
        Kind::String => MapKey::String(k.to_string()),
        Kind::Bool => MapKey::Bool(k.parse().ok()?),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => MapKey::I32(k.parse().ok()?),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => MapKey::I64(k.parse().ok()?),
        Kind::Uint32 | Kind::Fixed32 => MapKey::U32(k.parse().ok()?),
        Kind::Uint64 | Kind::Fixed64 => MapKey::U64(k.parse().ok()?),
        _ => return None,
    })
}

/// One value of a field's type; `None` for JSON null.
fn single(
    field: &FieldDescriptor,
    kind: &Kind,
    v: &Json,
    path: &str,
) -> Result<Option<Value>, Error> {
    if v.is_null() {
        return Ok(None);
    }
    let parent = field.parent_message();
    let bad = |what: &str| go_err(parent, path, format!("expected {what}, found {v}"));
    let int = |v: &Json| -> Option<i128> {
        match v {
            Json::Number(n) => n
                .as_i64()
                .map(i128::from)
                .or_else(|| n.as_u64().map(i128::from)),
            Json::String(s) => s.parse().ok(),
            _ => None,
        }
    };
    let value = match kind {
        Kind::Message(m) => Value::Message(message(m, v, path)?),
        Kind::Enum(e) => match v {
            Json::String(s) => Value::EnumNumber(
                e.get_value_by_name(s)
                    .ok_or_else(|| bad("an enum value name"))?
                    .number(),
            ),
            _ => Value::EnumNumber(
                int(v)
                    .and_then(|n| i32::try_from(n).ok())
                    .ok_or_else(|| bad("an enum number"))?,
            ),
        },
        Kind::Bool => Value::Bool(v.as_bool().ok_or_else(|| bad("a bool"))?),
        Kind::String => Value::String(v.as_str().ok_or_else(|| bad("a string"))?.to_string()),
        Kind::Bytes => {
            let s = v.as_str().ok_or_else(|| bad("base64 bytes"))?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(s)
                .map_err(|e| go_err(parent, path, format!("bad base64: {e}")))?;
            Value::Bytes(bytes.into())
        }
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(
            int(v)
                .and_then(|n| i32::try_from(n).ok())
                .ok_or_else(|| bad("an int32"))?,
        ),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(
            int(v)
                .and_then(|n| i64::try_from(n).ok())
                .ok_or_else(|| bad("an int64"))?,
        ),
        Kind::Uint32 | Kind::Fixed32 => Value::U32(
            int(v)
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| bad("a uint32"))?,
        ),
        Kind::Uint64 | Kind::Fixed64 => Value::U64(
            int(v)
                .and_then(|n| u64::try_from(n).ok())
                .ok_or_else(|| bad("a uint64"))?,
        ),
        Kind::Double => Value::F64(v.as_f64().ok_or_else(|| bad("a number"))?),
        Kind::Float => Value::F32(v.as_f64().ok_or_else(|| bad("a number"))? as f32),
    };
    Ok(Some(value))
}

// ---------------------------------------------------------------------------------------------
// Struct configs

/// Where a filter's config sits: the message holding `name` + `config`/`typed_config`, or
/// [`PER_FILTER`] for `per_filter_config` entries of routes and virtual hosts.
pub const PER_FILTER: &str = "per_filter_config";

const LISTENER_FILTER: &str = "envoy.api.v2.listener.Filter";
const HTTP_FILTER: &str = "envoy.config.filter.network.http_connection_manager.v2.HttpFilter";
const ACCESS_LOG: &str = "envoy.config.filter.accesslog.v2.AccessLog";

/// The v2 config message of each filter pilot 1.4 configures, by where it sits and its name
/// (upstream's `xdsutil`/`wellknown` names and Istio's own).
const CONFIG_TYPES: &[(&str, &str, &str)] = &[
    (
        LISTENER_FILTER,
        "envoy.http_connection_manager",
        "envoy.config.filter.network.http_connection_manager.v2.HttpConnectionManager",
    ),
    (
        LISTENER_FILTER,
        "envoy.tcp_proxy",
        "envoy.config.filter.network.tcp_proxy.v2.TcpProxy",
    ),
    (
        LISTENER_FILTER,
        "envoy.mongo_proxy",
        "envoy.config.filter.network.mongo_proxy.v2.MongoProxy",
    ),
    (
        LISTENER_FILTER,
        "envoy.redis_proxy",
        "envoy.config.filter.network.redis_proxy.v2.RedisProxy",
    ),
    (
        LISTENER_FILTER,
        "envoy.filters.network.mysql_proxy",
        "envoy.config.filter.network.mysql_proxy.v1alpha1.MySQLProxy",
    ),
    (
        LISTENER_FILTER,
        "envoy.filters.network.rbac",
        "envoy.config.filter.network.rbac.v2.RBAC",
    ),
    (
        LISTENER_FILTER,
        "mixer",
        "istio.mixer.v1.config.client.TcpClientConfig",
    ),
    (
        LISTENER_FILTER,
        "envoy.filters.network.tcp_cluster_rewrite",
        "istio.envoy.config.filter.network.tcp_cluster_rewrite.v2alpha1.TcpClusterRewrite",
    ),
    (
        HTTP_FILTER,
        "envoy.router",
        "envoy.config.filter.http.router.v2.Router",
    ),
    (
        HTTP_FILTER,
        "envoy.fault",
        "envoy.config.filter.http.fault.v2.HTTPFault",
    ),
    (
        HTTP_FILTER,
        "envoy.filters.http.rbac",
        "envoy.config.filter.http.rbac.v2.RBAC",
    ),
    (
        HTTP_FILTER,
        "envoy.filters.http.jwt_authn",
        "envoy.config.filter.http.jwt_authn.v2alpha.JwtAuthentication",
    ),
    (
        HTTP_FILTER,
        "envoy.health_check",
        "envoy.config.filter.http.health_check.v2.HealthCheck",
    ),
    (
        HTTP_FILTER,
        "envoy.lua",
        "envoy.config.filter.http.lua.v2.Lua",
    ),
    (
        HTTP_FILTER,
        "mixer",
        "istio.mixer.v1.config.client.HttpClientConfig",
    ),
    (
        HTTP_FILTER,
        "istio_authn",
        "istio.envoy.config.filter.http.authn.v2alpha1.FilterConfig",
    ),
    (
        HTTP_FILTER,
        "jwt-auth",
        "istio.envoy.config.filter.http.jwt_auth.v2alpha1.JwtAuthentication",
    ),
    (
        HTTP_FILTER,
        "istio.alpn",
        "istio.envoy.config.filter.http.alpn.v2alpha1.FilterConfig",
    ),
    (
        ACCESS_LOG,
        "envoy.file_access_log",
        "envoy.config.accesslog.v2.FileAccessLog",
    ),
    (
        ACCESS_LOG,
        "envoy.http_grpc_access_log",
        "envoy.config.accesslog.v2.HttpGrpcAccessLogConfig",
    ),
    (
        PER_FILTER,
        "mixer",
        "istio.mixer.v1.config.client.ServiceConfig",
    ),
    (
        PER_FILTER,
        "envoy.fault",
        "envoy.config.filter.http.fault.v2.HTTPFault",
    ),
    (
        PER_FILTER,
        "envoy.filters.http.rbac",
        "envoy.config.filter.http.rbac.v2.RBACPerRoute",
    ),
];

/// The v2 config message of filter `name` configured in a `parent` message (full name of the
/// message holding `name` and `config`, or [`PER_FILTER`]), e.g. `("envoy.api.v2.listener.Filter",
/// "envoy.tcp_proxy")` gives `envoy.config.filter.network.tcp_proxy.v2.TcpProxy`.
pub fn config_type(parent: &str, name: &str) -> Option<&'static str> {
    CONFIG_TYPES
        .iter()
        .find(|(p, n, _)| *p == parent && *n == name)
        .map(|(_, _, t)| *t)
}

/// Rewrites every `config` `Struct` (and `per_filter_config` entry) whose filter is known to
/// [`config_type`] into the `typed_config` `Any` of that type, recursively (the Struct of an
/// HTTP connection manager holds the Structs of its HTTP filters). Returns the message and how
/// many configs were converted; Structs of unknown filters stay as they are.
pub fn with_typed_configs(msg: &DynamicMessage) -> Result<(DynamicMessage, usize), Error> {
    let mut count = 0;
    let out = typed_configs(msg, &mut count, "")?;
    Ok((out, count))
}

fn typed_any(
    type_name: &str,
    s: &DynamicMessage,
    count: &mut usize,
    path: &str,
) -> Result<DynamicMessage, Error> {
    let target = descriptor(type_name)?;
    let typed = struct_as(s, target.clone()).map_err(|e| go_err(&target, path, e))?;
    let typed = typed_configs(&typed, count, path)?;
    *count += 1;
    let mut any = DynamicMessage::new(descriptor("google.protobuf.Any")?);
    any.set_field_by_number(
        1,
        Value::String(format!("{}{type_name}", crate::TYPE_URL_PREFIX)),
    );
    any.set_field_by_number(2, Value::Bytes(encode(&typed).into()));
    Ok(any)
}

fn typed_configs(
    msg: &DynamicMessage,
    count: &mut usize,
    path: &str,
) -> Result<DynamicMessage, Error> {
    let desc = msg.descriptor();
    let mut out = msg.clone();
    for (field, value) in out.fields_mut() {
        let here = join(path, field.name());
        match value {
            Value::Message(m) => *m = typed_configs(m, count, &here)?,
            Value::List(l) => {
                for (i, v) in l.iter_mut().enumerate() {
                    if let Value::Message(m) = v {
                        *m = typed_configs(m, count, &format!("{here}[{i}]"))?;
                    }
                }
            }
            Value::Map(m) => {
                for (k, v) in m.iter_mut() {
                    if let Value::Message(m) = v {
                        *m = typed_configs(m, count, &format!("{here}[{}]", map_key_str(k)))?;
                    }
                }
            }
            _ => {}
        }
    }
    let (Some(sf), Some(tf)) = (
        desc.get_field_by_name("config"),
        desc.get_field_by_name("typed_config"),
    ) else {
        return per_filter(out, count, path);
    };
    if !is_struct(&sf) || !out.has_field(&sf) {
        return Ok(out);
    }
    let name = out
        .get_field_by_name("name")
        .and_then(|n| n.as_str().map(str::to_string))
        .unwrap_or_default();
    let Some(t) = config_type(desc.full_name(), &name) else {
        return Ok(out);
    };
    let Value::Message(s) = out.get_field(&sf).into_owned() else {
        return Ok(out);
    };
    let any = typed_any(t, &s, count, &join(path, "config"))?;
    out.clear_field(&sf);
    out.set_field(&tf, Value::Message(any));
    Ok(out)
}

fn per_filter(
    mut out: DynamicMessage,
    count: &mut usize,
    path: &str,
) -> Result<DynamicMessage, Error> {
    let desc = out.descriptor();
    let (Some(sf), Some(tf)) = (
        desc.get_field_by_name("per_filter_config"),
        desc.get_field_by_name("typed_per_filter_config"),
    ) else {
        return Ok(out);
    };
    let (Value::Map(structs), Value::Map(mut typed)) = (
        out.get_field(&sf).into_owned(),
        out.get_field(&tf).into_owned(),
    ) else {
        return Ok(out);
    };
    let mut remaining = structs.clone();
    for (k, v) in &structs {
        let (MapKey::String(name), Value::Message(s)) = (k, v) else {
            continue;
        };
        let Some(t) = config_type(PER_FILTER, name) else {
            continue;
        };
        let here = join(path, &format!("per_filter_config[{name:?}]"));
        typed.insert(k.clone(), Value::Message(typed_any(t, s, count, &here)?));
        remaining.remove(k);
    }
    out.set_field(&sf, Value::Map(remaining));
    out.set_field(&tf, Value::Map(typed));
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// diff

/// Pairs of (opaque `Struct` config, typed `Any` config) fields that hold the same filter
/// configuration in two forms.
const CONFIG_FORMS: &[(&str, &str)] = &[
    ("config", "typed_config"),
    ("per_filter_config", "typed_per_filter_config"),
];

/// Compares two messages of the same type and lists each difference as
/// `path: expected <value> vs actual <value>` (values as compact proto3 JSON).
///
/// `unordered` lists repeated fields whose order carries no meaning, as field paths without
/// indices (`"filter_chains"`, `"virtual_hosts.domains"`, `"filter_chains.filters.typed_config.http_filters"`):
/// their elements are matched regardless of position (equal elements first, then by their
/// `name` field, then in order).
///
/// A `config` `Struct` on one side and a `typed_config` `Any` on the other (likewise
/// `per_filter_config` and `typed_per_filter_config` entries of the same filter) are compared
/// by reading the `Struct` as proto3 JSON of the `Any`'s message type. `Any` values are
/// compared by type and decoded content.
pub fn diff(expected: &DynamicMessage, actual: &DynamicMessage, unordered: &[&str]) -> Vec<String> {
    let mut d = Differ {
        unordered,
        out: Vec::new(),
    };
    d.message(expected, actual, "", "");
    d.out
}

struct Differ<'a> {
    unordered: &'a [&'a str],
    out: Vec<String>,
}

const MAX_RENDER: usize = 300;

fn render_msg(m: &DynamicMessage) -> String {
    let s = match message_to_json(m, &JsonOptions::default()) {
        Ok(j) => j.to_string(),
        Err(_) => format!("{m:?}"),
    };
    truncate(s)
}

fn truncate(mut s: String) -> String {
    if s.len() > MAX_RENDER {
        let mut cut = MAX_RENDER;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

fn render(v: &Value) -> String {
    match v {
        Value::Message(m) => render_msg(m),
        Value::String(s) => truncate(format!("{s:?}")),
        Value::Bytes(b) => truncate(format!(
            "b64:{}",
            base64::engine::general_purpose::STANDARD.encode(b)
        )),
        Value::List(l) => truncate(format!(
            "[{}]",
            l.iter().map(render).collect::<Vec<_>>().join(", ")
        )),
        Value::Map(m) => truncate(format!("{{{} entries}}", m.len())),
        Value::Bool(b) => b.to_string(),
        Value::I32(n) => n.to_string(),
        Value::I64(n) => n.to_string(),
        Value::U32(n) => n.to_string(),
        Value::U64(n) => n.to_string(),
        Value::F32(n) => n.to_string(),
        Value::F64(n) => n.to_string(),
        Value::EnumNumber(n) => n.to_string(),
    }
}

fn map_key_str(k: &MapKey) -> String {
    match k {
        MapKey::String(s) => format!("{s:?}"),
        MapKey::Bool(b) => b.to_string(),
        MapKey::I32(n) => n.to_string(),
        MapKey::I64(n) => n.to_string(),
        MapKey::U32(n) => n.to_string(),
        MapKey::U64(n) => n.to_string(),
    }
}

/// Reads a `Struct` (proto3 JSON of a message, as pilot 1.4 wrote filter configs) as `target`.
fn struct_as(s: &DynamicMessage, target: MessageDescriptor) -> Result<DynamicMessage, String> {
    let json = message_to_json(s, &JsonOptions::default())?;
    DynamicMessage::deserialize_with_options(target, json, &DeserializeOptions::new())
        .map_err(|e| e.to_string())
}

/// The `Any` holding `s` read as the type of `like` (an `Any`).
fn struct_to_any(s: &DynamicMessage, like: &DynamicMessage) -> Result<DynamicMessage, String> {
    let url = like
        .get_field_by_number(1)
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let target = pool()
        .get_message_by_name(type_name(&url))
        .ok_or_else(|| format!("unknown type {url}"))?;
    let typed = struct_as(s, target)?;
    let mut any = DynamicMessage::new(like.descriptor());
    any.set_field_by_number(1, Value::String(url));
    any.set_field_by_number(2, Value::Bytes(encode(&typed).into()));
    Ok(any)
}

/// Where `b` has no config at all, an empty config on `a` (an empty `Struct`, or an `Any` with
/// an empty value: the filter's defaults) means the same and is dropped.
fn drop_empty_config(
    a: &mut DynamicMessage,
    b: &DynamicMessage,
    sf: &FieldDescriptor,
    tf: &FieldDescriptor,
) {
    if b.has_field(sf) || b.has_field(tf) {
        return;
    }
    if let Value::Message(s) = &*a.get_field(sf) {
        let empty = s
            .get_field_by_name("fields")
            .is_none_or(|f| f.as_map().is_none_or(|m| m.is_empty()));
        if a.has_field(sf) && empty {
            a.clear_field(sf);
        }
    }
    if let Value::Message(any) = &*a.get_field(tf) {
        let empty = any
            .get_field_by_number(2)
            .is_none_or(|v| v.as_bytes().is_none_or(|b| b.is_empty()));
        if a.has_field(tf) && empty {
            a.clear_field(tf);
        }
    }
}

fn is_struct(f: &FieldDescriptor) -> bool {
    let k = if f.is_map() {
        match f.kind() {
            Kind::Message(e) => e.map_entry_value_field().kind(),
            k => k,
        }
    } else {
        f.kind()
    };
    matches!(k, Kind::Message(m) if m.full_name() == "google.protobuf.Struct")
}

impl Differ<'_> {
    fn report(&mut self, path: &str, expected: String, actual: String) {
        let path = if path.is_empty() { "<root>" } else { path };
        self.out
            .push(format!("{path}: expected {expected} vs actual {actual}"));
    }

    /// Moves `Struct` configs into the typed form where the other side is typed.
    fn normalize(&mut self, exp: &mut DynamicMessage, act: &mut DynamicMessage, path: &str) {
        let desc = exp.descriptor();
        for (sname, tname) in CONFIG_FORMS {
            let (Some(sf), Some(tf)) =
                (desc.get_field_by_name(sname), desc.get_field_by_name(tname))
            else {
                continue;
            };
            if !is_struct(&sf) {
                continue;
            }
            if !sf.is_map() {
                drop_empty_config(exp, act, &sf, &tf);
                drop_empty_config(act, exp, &sf, &tf);
            }
            self.lift(exp, act, &sf, &tf, path);
            self.lift(act, exp, &sf, &tf, path);
        }
    }

    /// Where `a` has a `Struct` config (field `sf`) and `b` the typed one (field `tf`), rewrites
    /// `a`'s into the typed form of `b`'s type.
    fn lift(
        &mut self,
        a: &mut DynamicMessage,
        b: &DynamicMessage,
        sf: &FieldDescriptor,
        tf: &FieldDescriptor,
        path: &str,
    ) {
        if sf.is_map() {
            let (Value::Map(structs), Value::Map(typed)) =
                (a.get_field(sf).into_owned(), b.get_field(tf).into_owned())
            else {
                return;
            };
            let mut remaining = structs.clone();
            let mut a_typed = match a.get_field(tf).into_owned() {
                Value::Map(m) => m,
                _ => Default::default(),
            };
            for (k, sv) in &structs {
                let (Value::Message(s), Some(Value::Message(like))) = (sv, typed.get(k)) else {
                    continue;
                };
                match struct_to_any(s, like) {
                    Ok(any) => {
                        remaining.remove(k);
                        a_typed.insert(k.clone(), Value::Message(any));
                    }
                    Err(e) => self.out.push(format!(
                        "{}: cannot read the Struct as the typed config: {e}",
                        join(path, &format!("{}[{}]", sf.name(), map_key_str(k)))
                    )),
                }
            }
            a.set_field(sf, Value::Map(remaining));
            if !a_typed.is_empty() {
                a.set_field(tf, Value::Map(a_typed));
            }
        } else if a.has_field(sf) && b.has_field(tf) {
            let (Value::Message(s), Value::Message(like)) =
                (a.get_field(sf).into_owned(), b.get_field(tf).into_owned())
            else {
                return;
            };
            match struct_to_any(&s, &like) {
                Ok(any) => {
                    a.clear_field(sf);
                    a.set_field(tf, Value::Message(any));
                }
                Err(e) => self.out.push(format!(
                    "{}: cannot read the Struct as the typed config: {e}",
                    join(path, sf.name())
                )),
            }
        }
    }

    fn message(&mut self, exp: &DynamicMessage, act: &DynamicMessage, path: &str, fpath: &str) {
        let desc = exp.descriptor();
        if desc != act.descriptor() {
            self.report(
                path,
                format!("a {}", desc.full_name()),
                format!("a {}", act.descriptor().full_name()),
            );
            return;
        }
        if desc.full_name() == "google.protobuf.Any" {
            return self.any(exp, act, path, fpath);
        }
        // Only messages with a Struct config field need normalized copies.
        let (exp, act) = if CONFIG_FORMS
            .iter()
            .any(|(s, _)| desc.get_field_by_name(s).is_some())
        {
            let (mut e, mut a) = (exp.clone(), act.clone());
            self.normalize(&mut e, &mut a, path);
            (Cow::Owned(e), Cow::Owned(a))
        } else {
            (Cow::Borrowed(exp), Cow::Borrowed(act))
        };
        for field in desc.fields() {
            let here = join(path, field.name());
            let fhere = join(fpath, field.name());
            let (eh, ah) = (exp.has_field(&field), act.has_field(&field));
            if !eh && !ah {
                continue;
            }
            let (ev, av) = (exp.get_field(&field), act.get_field(&field));
            if field.is_map() {
                self.map(&ev, &av, &here, &fhere);
            } else if field.is_list() {
                self.list(&ev, &av, &here, &fhere);
            } else if let (Value::Message(em), Value::Message(am)) = (&*ev, &*av) {
                match (eh, ah) {
                    (true, true) => self.message(em, am, &here, &fhere),
                    (true, false) => self.report(&here, render_msg(em), "(unset)".into()),
                    _ => self.report(&here, "(unset)".into(), render_msg(am)),
                }
            } else if ev != av {
                self.report(&here, render(&ev), render(&av));
            }
        }
    }

    fn any(&mut self, exp: &DynamicMessage, act: &DynamicMessage, path: &str, fpath: &str) {
        let url = |m: &DynamicMessage| {
            m.get_field_by_number(1)
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        };
        let (eu, au) = (url(exp), url(act));
        if type_name(&eu) != type_name(&au) {
            self.report(
                &join(path, "type_url"),
                format!("{eu:?}"),
                format!("{au:?}"),
            );
            return;
        }
        let bytes = |m: &DynamicMessage| {
            m.get_field_by_number(2)
                .and_then(|v| v.as_bytes().cloned())
                .unwrap_or_default()
        };
        let (eb, ab) = (bytes(exp), bytes(act));
        let decoded = pool().get_message_by_name(type_name(&eu)).and_then(|d| {
            Some((
                DynamicMessage::decode(d.clone(), eb.clone()).ok()?,
                DynamicMessage::decode(d, ab.clone()).ok()?,
            ))
        });
        match decoded {
            Some((e, a)) => self.message(&e, &a, &format!("{path}<{}>", type_name(&eu)), fpath),
            None if eb != ab => self.report(
                &join(path, "value"),
                render(&Value::Bytes(eb)),
                render(&Value::Bytes(ab)),
            ),
            None => {}
        }
    }

    fn value(&mut self, e: &Value, a: &Value, path: &str, fpath: &str) {
        match (e, a) {
            (Value::Message(em), Value::Message(am)) => self.message(em, am, path, fpath),
            _ if e != a => self.report(path, render(e), render(a)),
            _ => {}
        }
    }

    fn map(&mut self, e: &Value, a: &Value, path: &str, fpath: &str) {
        let empty = Default::default();
        let em = e.as_map().unwrap_or(&empty);
        let am = a.as_map().unwrap_or(&empty);
        let mut keys: Vec<&MapKey> = em.keys().chain(am.keys()).collect();
        keys.sort_by_key(|k| map_key_str(k));
        keys.dedup();
        for k in keys {
            let here = format!("{path}[{}]", map_key_str(k));
            match (em.get(k), am.get(k)) {
                (Some(ev), Some(av)) => self.value(ev, av, &here, fpath),
                (Some(ev), None) => self.report(&here, render(ev), "(absent)".into()),
                (None, Some(av)) => self.report(&here, "(absent)".into(), render(av)),
                (None, None) => {}
            }
        }
    }

    fn equal(&self, e: &Value, a: &Value, fpath: &str) -> bool {
        let mut d = Differ {
            unordered: self.unordered,
            out: Vec::new(),
        };
        d.value(e, a, "", fpath);
        d.out.is_empty()
    }

    fn list(&mut self, e: &Value, a: &Value, path: &str, fpath: &str) {
        let empty = Vec::new();
        let el = e.as_list().unwrap_or(&empty);
        let al = a.as_list().unwrap_or(&empty);
        if !self.unordered.contains(&fpath) {
            for i in 0..el.len().max(al.len()) {
                let here = format!("{path}[{i}]");
                match (el.get(i), al.get(i)) {
                    (Some(ev), Some(av)) => self.value(ev, av, &here, fpath),
                    (Some(ev), None) => self.report(&here, render(ev), "(absent)".into()),
                    (None, Some(av)) => self.report(&here, "(absent)".into(), render(av)),
                    (None, None) => {}
                }
            }
            return;
        }
        // Unordered: equal elements first, then by name, then in order.
        let mut a_used = vec![false; al.len()];
        let mut e_left = Vec::new();
        for (i, ev) in el.iter().enumerate() {
            match (0..al.len()).find(|&j| !a_used[j] && self.equal(ev, &al[j], fpath)) {
                Some(j) => a_used[j] = true,
                None => e_left.push(i),
            }
        }
        let name = |v: &Value| -> Option<String> {
            v.as_message()?
                .get_field_by_name("name")
                .and_then(|n| n.as_str().map(str::to_string))
                .filter(|n| !n.is_empty())
        };
        let mut still_left = Vec::new();
        for i in e_left {
            let n = name(&el[i]);
            let j = n.as_ref().and_then(|n| {
                (0..al.len()).find(|&j| !a_used[j] && name(&al[j]).as_ref() == Some(n))
            });
            match (j, n) {
                (Some(j), Some(n)) => {
                    a_used[j] = true;
                    self.value(&el[i], &al[j], &format!("{path}[name={n:?}]"), fpath);
                }
                _ => still_left.push(i),
            }
        }
        let mut a_left = (0..al.len()).filter(|&j| !a_used[j]);
        for i in still_left {
            match a_left.next() {
                Some(j) => self.value(&el[i], &al[j], &format!("{path}[{i}~{j}]"), fpath),
                None => self.report(&format!("{path}[{i}]"), render(&el[i]), "(absent)".into()),
            }
        }
        for j in a_left {
            self.report(&format!("{path}[{j}]"), "(absent)".into(), render(&al[j]));
        }
    }
}

#[cfg(test)]
mod tests;
