//! Protobuf JSON as upstream Istio 1.4 reads it.
//!
//! Upstream decodes config specs with gogo's jsonpb, which is more forgiving than the canonical
//! protobuf JSON mapping: `null` means "not set" for every field type (except
//! `google.protobuf.Value`), durations use Go's syntax (`10ms`, `1m30s`, `1h`), and, for Istio
//! kinds, unknown fields are ignored. The generated serde impls (pbjson) implement the canonical
//! mapping, so a spec first goes through [`normalize`], which walks the JSON value against the
//! message descriptor and:
//!
//! - drops `null` members, and replaces `null` list items and map values with defaults;
//! - rewrites Go durations to the canonical `"<seconds>.<fraction>s"` form;
//! - rejects values of the wrong JSON type with an error naming the field path, the expected type
//!   and what was found (instead of serde's generic messages);
//! - keeps or drops unknown fields according to [`UnknownFields`];
//! - when a field is given under both its proto name and its JSON name, keeps the JSON name's
//!   value, as jsonpb does.
//!
//! [`decode`] runs the normalization and the typed deserialization in one go.

use std::fmt;

use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};
use serde::de::DeserializeOwned;
use serde_json::{Map, Number, Value};

/// What to do with object members that name no field of the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownFields {
    /// Fail, naming the field (Mixer's decoding, and jsonpb's default).
    Reject,
    /// Drop them silently (how upstream reads Istio config kinds).
    Ignore,
}

/// A spec that does not fit its message, with the JSON path of the offending value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// Path of the value, e.g. `spec.http[0].timeout`.
    pub path: String,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for Error {}

/// Normalizes `value` for the message `message_name` (see the module docs) and deserializes it.
/// `path` names the value in errors (e.g. `spec`).
pub fn decode<T>(
    message_name: &str,
    mut value: Value,
    unknown: UnknownFields,
    path: &str,
) -> Result<T, Error>
where
    T: DeserializeOwned,
{
    let descriptor = istio_api::descriptor_pool()
        .get_message_by_name(message_name)
        .ok_or_else(|| Error {
            path: path.to_string(),
            message: format!("no message type {message_name}"),
        })?;
    let mut p = Path::new(path);
    normalize_message(&descriptor, &mut value, unknown, &mut p)?;
    serde_path_to_error::deserialize(value).map_err(|e| {
        let inner = e.path().to_string();
        Error {
            path: join_serde_path(path, &inner),
            message: e.into_inner().to_string(),
        }
    })
}

/// Normalizes `value` in place for the message `descriptor` (see the module docs).
pub fn normalize(
    descriptor: &MessageDescriptor,
    value: &mut Value,
    unknown: UnknownFields,
    path: &str,
) -> Result<(), Error> {
    normalize_message(descriptor, value, unknown, &mut Path::new(path))
}

fn join_serde_path(base: &str, inner: &str) -> String {
    match (base.is_empty(), inner.is_empty() || inner == ".") {
        (_, true) => base.to_string(),
        (true, false) => inner.to_string(),
        (false, false) if inner.starts_with('[') => format!("{base}{inner}"),
        (false, false) => format!("{base}.{inner}"),
    }
}

/// The JSON path being visited, rendered only when an error is reported.
struct Path {
    segments: Vec<Segment>,
}

enum Segment {
    Key(String),
    Index(usize),
}

impl Path {
    fn new(base: &str) -> Self {
        let segments = if base.is_empty() {
            Vec::new()
        } else {
            vec![Segment::Key(base.to_string())]
        };
        Path { segments }
    }

    fn error(&self, message: impl Into<String>) -> Error {
        let mut path = String::new();
        for s in &self.segments {
            match s {
                Segment::Key(k) => {
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(k);
                }
                Segment::Index(i) => {
                    path.push('[');
                    path.push_str(&i.to_string());
                    path.push(']');
                }
            }
        }
        Error {
            path,
            message: message.into(),
        }
    }

    fn with<R>(&mut self, seg: Segment, f: impl FnOnce(&mut Self) -> R) -> R {
        self.segments.push(seg);
        let r = f(self);
        self.segments.pop();
        r
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a number with a fraction",
        Value::Number(_) => "an integer",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Array(_) | Value::Object(_) => json_type(v).to_string(),
        other => format!("{} ({other})", json_type(other)),
    }
}

fn normalize_message(
    desc: &MessageDescriptor,
    value: &mut Value,
    unknown: UnknownFields,
    path: &mut Path,
) -> Result<(), Error> {
    match desc.full_name() {
        "google.protobuf.Duration" => return normalize_duration(value, path),
        "google.protobuf.Struct" => {
            return match value {
                Value::Object(_) => Ok(()),
                other => Err(path.error(format!(
                    "expected an object (google.protobuf.Struct), found {}",
                    describe(other)
                ))),
            };
        }
        "google.protobuf.ListValue" => {
            return match value {
                Value::Array(_) => Ok(()),
                other => Err(path.error(format!(
                    "expected a list (google.protobuf.ListValue), found {}",
                    describe(other)
                ))),
            };
        }
        "google.protobuf.Value" | "google.protobuf.Any" => return Ok(()),
        "google.protobuf.Timestamp" => {
            return match value {
                Value::String(_) => Ok(()),
                other => Err(path.error(format!(
                    "expected an RFC 3339 timestamp string, found {}",
                    describe(other)
                ))),
            };
        }
        "google.protobuf.DoubleValue"
        | "google.protobuf.FloatValue"
        | "google.protobuf.Int64Value"
        | "google.protobuf.UInt64Value"
        | "google.protobuf.Int32Value"
        | "google.protobuf.UInt32Value"
        | "google.protobuf.BoolValue"
        | "google.protobuf.StringValue"
        | "google.protobuf.BytesValue" => {
            // Wrappers are written as their bare value.
            if let Some(inner) = desc.get_field_by_name("value") {
                return normalize_scalar(&inner, value, path);
            }
            return Ok(());
        }
        _ => {}
    }
    let Value::Object(members) = value else {
        return Err(path.error(format!(
            "expected an object ({}), found {}",
            desc.full_name(),
            describe(value)
        )));
    };
    // jsonpb reads a field under its JSON name in preference to its proto name.
    let both: Vec<String> = members
        .keys()
        .filter_map(|k| {
            let f = desc.get_field_by_name(k)?;
            (f.json_name() != k.as_str() && members.contains_key(f.json_name())).then(|| k.clone())
        })
        .collect();
    for k in both {
        members.remove(&k);
    }
    let mut drop = Vec::new();
    let mut oneofs_seen: Vec<(String, String)> = Vec::new();
    for (key, member) in members.iter_mut() {
        let field = desc
            .get_field_by_json_name(key)
            .or_else(|| desc.get_field_by_name(key));
        let Some(field) = field else {
            match unknown {
                UnknownFields::Ignore => {
                    drop.push(key.clone());
                    continue;
                }
                UnknownFields::Reject => {
                    return Err(
                        path.error(format!("unknown field {key:?} in {}", desc.full_name()))
                    );
                }
            }
        };
        if member.is_null() && !is_value_type(&field) {
            drop.push(key.clone());
            continue;
        }
        if let Some(oneof) = field.containing_oneof() {
            if let Some((_, other)) = oneofs_seen.iter().find(|(o, _)| o == oneof.name()) {
                return Err(path.error(format!(
                    "fields {other:?} and {key:?} both set, but they are alternatives (oneof {})",
                    oneof.name()
                )));
            }
            oneofs_seen.push((oneof.name().to_string(), key.clone()));
        }
        path.with(Segment::Key(key.clone()), |p| {
            normalize_field(&field, member, unknown, p)
        })?;
    }
    for k in drop {
        members.remove(&k);
    }
    Ok(())
}

fn is_value_type(field: &FieldDescriptor) -> bool {
    matches!(field.kind(), Kind::Message(m) if m.full_name() == "google.protobuf.Value")
        && !field.is_list()
        && !field.is_map()
}

fn normalize_field(
    field: &FieldDescriptor,
    value: &mut Value,
    unknown: UnknownFields,
    path: &mut Path,
) -> Result<(), Error> {
    if field.is_map() {
        let Value::Object(entries) = value else {
            return Err(path.error(format!(
                "expected an object (map), found {}",
                describe(value)
            )));
        };
        let Kind::Message(entry) = field.kind() else {
            return Ok(());
        };
        let value_field = entry.map_entry_value_field();
        for (k, v) in entries.iter_mut() {
            path.with(Segment::Key(k.clone()), |p| {
                if v.is_null() && !is_value_type(&value_field) {
                    *v = default_for(&value_field);
                    Ok(())
                } else {
                    normalize_single(&value_field, v, unknown, p)
                }
            })?;
        }
        return Ok(());
    }
    if field.is_list() {
        let Value::Array(items) = value else {
            return Err(path.error(format!("expected a list, found {}", describe(value))));
        };
        for (i, item) in items.iter_mut().enumerate() {
            path.with(Segment::Index(i), |p| {
                if item.is_null() && !is_value_type(field) {
                    *item = default_for(field);
                    Ok(())
                } else {
                    normalize_single(field, item, unknown, p)
                }
            })?;
        }
        return Ok(());
    }
    normalize_single(field, value, unknown, path)
}

fn normalize_single(
    field: &FieldDescriptor,
    value: &mut Value,
    unknown: UnknownFields,
    path: &mut Path,
) -> Result<(), Error> {
    match field.kind() {
        Kind::Message(m) => normalize_message(&m, value, unknown, path),
        _ => normalize_scalar(field, value, path),
    }
}

/// The value jsonpb leaves for a `null` in a list or map.
fn default_for(field: &FieldDescriptor) -> Value {
    match field.kind() {
        Kind::Message(_) => Value::Object(Map::new()),
        Kind::Bool => Value::Bool(false),
        Kind::String | Kind::Bytes => Value::String(String::new()),
        Kind::Enum(e) => e
            .get_value(0)
            .map_or(Value::from(0), |v| Value::String(v.name().to_string())),
        _ => Value::from(0),
    }
}

fn normalize_scalar(
    field: &FieldDescriptor,
    value: &mut Value,
    path: &mut Path,
) -> Result<(), Error> {
    match field.kind() {
        Kind::Bool => match value {
            Value::Bool(_) => Ok(()),
            other => Err(path.error(format!("expected a boolean, found {}", describe(other)))),
        },
        Kind::String => match value {
            Value::String(_) => Ok(()),
            other => Err(path.error(format!("expected a string, found {}", describe(other)))),
        },
        Kind::Bytes => match value {
            Value::String(_) => Ok(()),
            other => Err(path.error(format!(
                "expected a base64 string, found {}",
                describe(other)
            ))),
        },
        Kind::Enum(e) => match value {
            Value::String(s) => {
                if e.get_value_by_name(s).is_some() {
                    Ok(())
                } else {
                    Err(path.error(format!("unknown value {s:?} for enum {}", e.full_name())))
                }
            }
            Value::Number(n) => {
                let known = n
                    .as_i64()
                    .and_then(|i| i32::try_from(i).ok())
                    .and_then(|i| e.get_value(i));
                match known {
                    Some(v) => {
                        *value = Value::String(v.name().to_string());
                        Ok(())
                    }
                    None => {
                        Err(path.error(format!("unknown value {n} for enum {}", e.full_name())))
                    }
                }
            }
            other => Err(path.error(format!(
                "expected a value of enum {}, found {}",
                e.full_name(),
                describe(other)
            ))),
        },
        Kind::Double | Kind::Float => match value {
            Value::Number(_) => Ok(()),
            Value::String(s) if matches!(s.as_str(), "NaN" | "Infinity" | "-Infinity") => Ok(()),
            Value::String(s) => match s.parse::<f64>().ok().and_then(Number::from_f64) {
                Some(n) if is_json_number(s) => {
                    *value = Value::Number(n);
                    Ok(())
                }
                _ => Err(path.error(format!("expected a number, found {}", describe(value)))),
            },
            other => Err(path.error(format!("expected a number, found {}", describe(other)))),
        },
        kind => {
            let (min, max, name): (i128, i128, &str) = match kind {
                Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
                    (i32::MIN.into(), i32::MAX.into(), "a 32-bit integer")
                }
                Kind::Uint32 | Kind::Fixed32 => (0, u32::MAX.into(), "an unsigned 32-bit integer"),
                Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
                    (i64::MIN.into(), i64::MAX.into(), "a 64-bit integer")
                }
                _ => (0, u64::MAX.into(), "an unsigned 64-bit integer"),
            };
            let parsed: Option<i128> = match value {
                Value::Number(n) => n
                    .as_i64()
                    .map(i128::from)
                    .or_else(|| n.as_u64().map(i128::from)),
                Value::String(s) if is_json_integer(s) => s.parse::<i128>().ok(),
                _ => None,
            };
            match parsed {
                Some(i) if (min..=max).contains(&i) => {
                    *value = if i < 0 {
                        Value::from(i as i64)
                    } else {
                        Value::from(i as u64)
                    };
                    Ok(())
                }
                Some(_) => Err(path.error(format!(
                    "expected {name}, found {} (out of range)",
                    describe(value)
                ))),
                None => Err(path.error(format!("expected {name}, found {}", describe(value)))),
            }
        }
    }
}

/// Whether `s` is an integer in JSON's number syntax (what jsonpb accepts inside quotes).
fn is_json_integer(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'))
}

fn is_json_number(s: &str) -> bool {
    let s = s.strip_prefix('-').unwrap_or(s);
    let (mantissa, exp) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    let int_ok = is_json_integer(int);
    let frac_ok = frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()));
    let exp_ok = exp.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit())
    });
    int_ok && frac_ok && exp_ok
}

fn normalize_duration(value: &mut Value, path: &mut Path) -> Result<(), Error> {
    let Value::String(s) = value else {
        return Err(path.error(format!(
            "expected a duration string such as \"1.5s\" or \"10ms\", found {}",
            describe(value)
        )));
    };
    let nanos = parse_go_duration(s).map_err(|e| path.error(format!("bad Duration: {e}")))?;
    *value = Value::String(format_duration(nanos));
    Ok(())
}

/// Parses a duration in Go's `time.ParseDuration` syntax (`300ms`, `-1.5h`, `2h45m`, `0`) into
/// nanoseconds.
pub fn parse_go_duration(input: &str) -> Result<i64, String> {
    let invalid = || format!("time: invalid duration {input:?}");
    let (negative, mut rest) = match input.as_bytes().first() {
        Some(b'-') => (true, &input[1..]),
        Some(b'+') => (false, &input[1..]),
        _ => (false, input),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let int_part = &rest[..int_len];
        rest = &rest[int_len..];
        let mut frac_part = "";
        if let Some(after_dot) = rest.strip_prefix('.') {
            let frac_len = after_dot.bytes().take_while(u8::is_ascii_digit).count();
            frac_part = &after_dot[..frac_len];
            rest = &after_dot[frac_len..];
        }
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(invalid());
        }
        let unit_len = rest
            .char_indices()
            .find(|(_, c)| *c == '.' || c.is_ascii_digit())
            .map_or(rest.len(), |(i, _)| i);
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let scale: u128 = match unit {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => return Err(format!("time: missing unit in duration {input:?}")),
            other => {
                return Err(format!(
                    "time: unknown unit {other:?} in duration {input:?}"
                ))
            }
        };
        let whole: u128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| invalid())?
        };
        let mut value = whole.checked_mul(scale).ok_or_else(invalid)?;
        if !frac_part.is_empty() {
            // Go truncates the fraction to what the unit can represent in nanoseconds.
            let digits = &frac_part[..frac_part.len().min(30)];
            let frac: u128 = digits.parse().map_err(|_| invalid())?;
            let denom = 10u128.pow(digits.len() as u32);
            value += frac * scale / denom;
        }
        total = total.checked_add(value).ok_or_else(invalid)?;
        if total > i64::MAX as u128 + u128::from(negative) {
            return Err(invalid());
        }
    }
    let total = total as i128;
    Ok(if negative { -total } else { total } as i64)
}

/// Renders nanoseconds in the canonical protobuf JSON form (`1.5s`, `0.010s`, `3600s`).
pub fn format_duration(nanos: i64) -> String {
    let sign = if nanos < 0 { "-" } else { "" };
    let abs = nanos.unsigned_abs();
    let secs = abs / 1_000_000_000;
    let frac = abs % 1_000_000_000;
    if frac == 0 {
        return format!("{sign}{secs}s");
    }
    let mut f = format!("{frac:09}");
    while f.len() > 3 && f.ends_with("000") {
        f.truncate(f.len() - 3);
    }
    format!("{sign}{secs}.{f}s")
}

#[cfg(test)]
mod tests {
    use super::*;
    use istio_api::istio::networking::v1alpha3::{DestinationRule, VirtualService};
    use istio_api::istio::policy::v1beta1::Rule;
    use serde_json::json;

    fn vs(v: Value) -> Result<VirtualService, Error> {
        decode(
            "istio.networking.v1alpha3.VirtualService",
            v,
            UnknownFields::Ignore,
            "spec",
        )
    }

    #[test]
    fn go_durations_are_accepted() {
        for (go, nanos) in [
            ("10ms", 10_000_000),
            ("1.5s", 1_500_000_000),
            ("1m30s", 90_000_000_000),
            ("2h", 7_200_000_000_000),
            ("0", 0),
            ("-1.5s", -1_500_000_000),
            ("1us", 1_000),
            ("1\u{b5}s", 1_000),
            ("3ns", 3),
            (".5s", 500_000_000),
            ("1.s", 1_000_000_000),
        ] {
            assert_eq!(parse_go_duration(go), Ok(nanos), "{go}");
        }
        for bad in ["", "1", "s", "1x", "-", "1.5", ".s", "9999999999h"] {
            assert!(parse_go_duration(bad).is_err(), "{bad} should fail");
        }
        assert_eq!(format_duration(1_500_000_000), "1.500s");
        assert_eq!(format_duration(10_000_000), "0.010s");
        assert_eq!(format_duration(1_000), "0.000001s");
        assert_eq!(format_duration(3), "0.000000003s");
        assert_eq!(format_duration(-2_000_000_000), "-2s");

        let v = vs(json!({"hosts": ["a"], "http": [{"timeout": "10ms", "retries": {"attempts": 3, "perTryTimeout": "1m"}}]}))
            .expect("decodes");
        let t = v.http[0].timeout.as_ref().expect("timeout");
        assert_eq!((t.seconds, t.nanos), (0, 10_000_000));
        let p = v.http[0]
            .retries
            .as_ref()
            .and_then(|r| r.per_try_timeout.as_ref())
            .expect("per try");
        assert_eq!(p.seconds, 60);
    }

    #[test]
    fn nulls_mean_unset() {
        let v = vs(json!({"hosts": null, "http": [null, {"timeout": null, "match": null}], "gateways": ["g", null]}))
            .expect("nulls are defaults");
        assert!(v.hosts.is_empty());
        assert_eq!(v.http.len(), 2);
        assert_eq!(v.gateways, vec!["g".to_string(), String::new()]);
    }

    #[test]
    fn unknown_fields_follow_the_policy() {
        let ok = vs(json!({"hosts": ["a"], "bogus": 1, "http": [{"alsoBogus": true}]}))
            .expect("ignored");
        assert_eq!(ok.hosts, vec!["a"]);
        let err = decode::<Rule>(
            "istio.policy.v1beta1.Rule",
            json!({"match": "true", "actions": [{"handler": "h", "badField": 1}]}),
            UnknownFields::Reject,
            "spec",
        )
        .expect_err("strict");
        assert_eq!(err.path, "spec.actions[0]");
        assert_eq!(
            err.message,
            "unknown field \"badField\" in istio.policy.v1beta1.Action"
        );
    }

    #[test]
    fn wrong_types_name_the_field() {
        let err = vs(json!({"hosts": "a"})).expect_err("hosts must be a list");
        assert_eq!(err.to_string(), "spec.hosts: expected a list, found \"a\"");
        let err = vs(json!({"hosts": ["a"], "http": [{"retries": {"attempts": 1.5}}]}))
            .expect_err("fraction");
        assert_eq!(err.path, "spec.http[0].retries.attempts");
        assert!(err.message.contains("32-bit integer"), "{err}");
        let err =
            vs(json!({"hosts": ["a"], "http": [{"retries": {"attempts": 4_294_967_296u64}}]}))
                .expect_err("range");
        assert!(err.message.contains("out of range"), "{err}");
        let err = vs(json!({"hosts": [1]})).expect_err("string list");
        assert_eq!(err.path, "spec.hosts[0]");
        let err = vs(json!({"hosts": ["a"], "http": [{"timeout": 5}]})).expect_err("duration");
        assert!(err.message.contains("duration"), "{err}");
        let err =
            vs(json!({"hosts": ["a"], "http": [{"timeout": "5 seconds"}]})).expect_err("duration");
        assert!(err.message.starts_with("bad Duration"), "{err}");
    }

    #[test]
    fn quoted_numbers_and_enums() {
        let dr: DestinationRule = decode(
            "istio.networking.v1alpha3.DestinationRule",
            json!({"host": "h", "trafficPolicy": {"loadBalancer": {"simple": 2}, "connectionPool": {"tcp": {"maxConnections": "7"}}}}),
            UnknownFields::Ignore,
            "spec",
        )
        .expect("decodes");
        let tp = dr.traffic_policy.expect("policy");
        assert_eq!(
            tp.connection_pool
                .and_then(|c| c.tcp)
                .map(|t| t.max_connections),
            Some(7)
        );
        let err = decode::<DestinationRule>(
            "istio.networking.v1alpha3.DestinationRule",
            json!({"host": "h", "trafficPolicy": {"loadBalancer": {"simple": "FASTEST"}}}),
            UnknownFields::Ignore,
            "spec",
        )
        .expect_err("bad enum");
        assert_eq!(
            err.to_string(),
            "spec.trafficPolicy.loadBalancer.simple: unknown value \"FASTEST\" for enum istio.networking.v1alpha3.LoadBalancerSettings.SimpleLB"
        );
    }

    #[test]
    fn json_name_wins_over_proto_name() {
        let v =
            vs(json!({"hosts": ["a"], "export_to": ["x"], "exportTo": ["y"]})).expect("decodes");
        assert_eq!(v.export_to, vec!["y"]);
    }

    #[test]
    fn struct_values_keep_nulls() {
        let rule: istio_api::istio::policy::v1beta1::Handler = decode(
            "istio.policy.v1beta1.Handler",
            json!({"compiledAdapter": "x", "params": {"a": null, "b": [1, "two"]}}),
            UnknownFields::Reject,
            "spec",
        )
        .expect("decodes");
        let params = rule.params.expect("params");
        assert_eq!(params.fields.len(), 2);
    }
}
