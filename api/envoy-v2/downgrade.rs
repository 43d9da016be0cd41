//! v3 → v2: rewriting type URLs of `Any` values, and checking that no v3-only field is set.
//!
//! The walk reads the protobuf wire format directly, guided by a compact schema derived once
//! from the v2 descriptors: every field of every message is checked against the v2 message
//! (unknown numbers are v3-only fields), enum values against the v2 enums, and every `Any` is
//! rewritten to its v2 type URL with its value walked in turn. Sub-messages that cannot contain
//! an `Any` are only checked and then copied as they are; only the path down to each `Any` is
//! re-encoded (its length prefixes change with the type URLs). This is several times faster
//! than decoding into prost-reflect's `DynamicMessage` and encoding again (see
//! `benches/downgrade.rs`).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::OnceLock;

use prost_reflect::{DescriptorPool, Kind};

use crate::type_url::{self, type_name, EMPTY, EMPTY_IN_V2};
use crate::{pool, Error, FieldPath};

const ANY: &str = "google.protobuf.Any";

/// Rewrites a v3 `Any` for a v2 client: the type URL, and every `Any` nested in its value
/// (recursively). Fails if the message, or anything in it, uses a field, enum value or type
/// that Envoy's v2 API does not have.
///
/// Types that are not Envoy's (`google.protobuf.*`, `istio.*`) keep their URL; their values are
/// still walked when their schema is known. An Envoy type URL that is already v2 is kept too.
/// Envoy v3 filter configs whose v2 filter took no config (CORS, gRPC-Web, TLS inspector, …)
/// become `google.protobuf.Empty` when their value is empty.
pub fn downgrade(any: prost_types::Any) -> Result<prost_types::Any, Error> {
    let (type_url, value) = downgrade_bytes(&any.type_url, &any.value)?;
    Ok(prost_types::Any { type_url, value })
}

/// [`downgrade`] on borrowed parts: returns the v2 type URL and value.
pub fn downgrade_bytes(type_url: &str, value: &[u8]) -> Result<(String, Vec<u8>), Error> {
    let schema = schema();
    let mut out = Vec::with_capacity(value.len() + 64);
    let url = Walker {
        schema,
        mode: Mode::Downgrade,
    }
    .any_value(type_url, value, Some(&mut out))?;
    Ok((url.into_owned(), out))
}

/// Checks that an `Any` is pure v2: its type and every nested `Any`'s type is a v2 (or
/// non-Envoy) type, and no field or enum value is unknown to the v2 API.
pub fn check_v2(any: &prost_types::Any) -> Result<(), Error> {
    Walker {
        schema: schema(),
        mode: Mode::Check,
    }
    .any_value(&any.type_url, &any.value, None)
    .map(|_| ())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Downgrade,
    Check,
}

/// What the walk needs of one field.
#[derive(Clone, Copy)]
enum FieldKind {
    /// A message (map entries included): index into `Schema::messages`.
    Message(usize),
    /// An enum: index into `Schema::enums`.
    Enum(usize),
    /// Any other type, with the wire type of its unpacked encoding.
    Scalar(u8),
    /// The `type_url` string of a discovery request or response, rewritten like an `Any`'s.
    TypeUrl,
}

/// v3 fields that only select the xDS version of a config source: meaningless to a v2 client
/// (which always gets v2), so `downgrade` drops them instead of failing.
const VERSION_SELECTORS: &[(&str, u32)] = &[
    ("envoy.api.v2.core.ConfigSource", 6), // resource_api_version
    ("envoy.api.v2.core.ApiConfigSource", 8), // transport_api_version
    ("envoy.api.v2.core.SelfConfigSource", 1), // transport_api_version
];

/// Messages whose `type_url` string names the type of the resources they carry.
const TYPE_URL_FIELDS: &[&str] = &[
    "envoy.api.v2.DiscoveryRequest",
    "envoy.api.v2.DiscoveryResponse",
    "envoy.api.v2.DeltaDiscoveryRequest",
    "envoy.api.v2.DeltaDiscoveryResponse",
];

struct Field {
    number: u32,
    name: String,
    repeated: bool,
    kind: FieldKind,
}

struct Msg {
    name: String,
    /// Sorted by number.
    fields: Vec<Field>,
    is_any: bool,
    /// Whether an `Any` can occur anywhere below this message (or anything else `downgrade`
    /// rewrites: discovery `type_url` strings, version selectors).
    may_contain_any: bool,
    /// Field numbers of [`VERSION_SELECTORS`] in this message.
    dropped: Vec<u32>,
}

impl Msg {
    fn field(&self, number: u32) -> Option<&Field> {
        self.fields
            .binary_search_by_key(&number, |f| f.number)
            .ok()
            .map(|i| &self.fields[i])
    }
}

struct Enum {
    name: String,
    /// Sorted.
    values: Vec<i32>,
}

/// Where an `Any` with a given type URL goes.
struct UrlTarget {
    /// The type URL to write.
    url: String,
    /// The message of the value.
    msg: usize,
    /// Whether the URL given was a v3 one (not acceptable to [`check_v2`]).
    from_v3: bool,
}

/// FNV-1a: type URLs are short and trusted (they come from pilot), so a simple hash beats
/// SipHash here.
#[derive(Default)]
struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

type FnvMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<Fnv>>;

struct Schema {
    messages: Vec<Msg>,
    by_name: HashMap<String, usize>,
    enums: Vec<Enum>,
    /// Every `type.googleapis.com/` URL with a known target: v3 Envoy types (to their v2
    /// type), v2 Envoy types and non-Envoy types (to themselves).
    urls: FnvMap<String, UrlTarget>,
}

fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| Schema::new(pool()))
}

impl Schema {
    fn new(pool: &DescriptorPool) -> Schema {
        let descs: Vec<_> = pool.all_messages().collect();
        let by_name: HashMap<String, usize> = descs
            .iter()
            .enumerate()
            .map(|(i, d)| (d.full_name().to_string(), i))
            .collect();
        let mut enum_index: HashMap<String, usize> = HashMap::new();
        let mut enums = Vec::new();
        for e in pool.all_enums() {
            let mut values: Vec<i32> = e.values().map(|v| v.number()).collect();
            values.sort_unstable();
            values.dedup();
            enum_index.insert(e.full_name().to_string(), enums.len());
            enums.push(Enum {
                name: e.full_name().to_string(),
                values,
            });
        }
        let mut messages: Vec<Msg> = descs
            .iter()
            .map(|d| {
                let mut fields: Vec<Field> = d
                    .fields()
                    .map(|f| {
                        let type_url_field =
                            f.name() == "type_url" && TYPE_URL_FIELDS.contains(&d.full_name());
                        let kind = match f.kind() {
                            _ if type_url_field => FieldKind::TypeUrl,
                            Kind::Message(m) => FieldKind::Message(by_name[m.full_name()]),
                            Kind::Enum(e) => FieldKind::Enum(enum_index[e.full_name()]),
                            Kind::Double | Kind::Fixed64 | Kind::Sfixed64 => FieldKind::Scalar(1),
                            Kind::Float | Kind::Fixed32 | Kind::Sfixed32 => FieldKind::Scalar(5),
                            Kind::String | Kind::Bytes => FieldKind::Scalar(2),
                            _ => FieldKind::Scalar(0),
                        };
                        Field {
                            number: f.number(),
                            name: f.name().to_string(),
                            repeated: f.is_list() || f.is_map(),
                            kind,
                        }
                    })
                    .collect();
                fields.sort_by_key(|f| f.number);
                let dropped: Vec<u32> = VERSION_SELECTORS
                    .iter()
                    .filter(|(m, _)| *m == d.full_name())
                    .map(|(_, n)| *n)
                    .collect();
                let rewrites = d.full_name() == ANY
                    || !dropped.is_empty()
                    || fields.iter().any(|f| matches!(f.kind, FieldKind::TypeUrl));
                Msg {
                    name: d.full_name().to_string(),
                    fields,
                    is_any: d.full_name() == ANY,
                    may_contain_any: rewrites,
                    dropped,
                }
            })
            .collect();
        // Fixpoint: a message may contain an Any if one of its message fields may.
        loop {
            let mut changed = false;
            for i in 0..messages.len() {
                if messages[i].may_contain_any {
                    continue;
                }
                let hit = messages[i].fields.iter().any(|f| match f.kind {
                    FieldKind::Message(m) => messages[m].may_contain_any,
                    _ => false,
                });
                if hit {
                    messages[i].may_contain_any = true;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        let mut urls = FnvMap::default();
        for (name, &msg) in &by_name {
            let url = format!("{}{name}", type_url::TYPE_URL_PREFIX);
            let target = UrlTarget {
                url: url.clone(),
                msg,
                from_v3: false,
            };
            urls.insert(url, target);
            if let Some(v3) = type_url::v3_type_url(name) {
                if name.starts_with("envoy.") {
                    let target = UrlTarget {
                        url: format!("{}{name}", type_url::TYPE_URL_PREFIX),
                        msg,
                        from_v3: true,
                    };
                    urls.insert(v3.to_string(), target);
                }
            }
        }
        Schema {
            messages,
            by_name,
            enums,
            urls,
        }
    }
}

fn malformed(message: &str, reason: impl Into<String>) -> Error {
    Error::Malformed {
        message: message.to_string(),
        reason: reason.into(),
        path: FieldPath::default(),
    }
}

/// A cursor over wire-format bytes.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.buf.get(self.pos)?;
            self.pos += 1;
            value |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Some(value);
            }
        }
        None
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_len_field(out: &mut Vec<u8>, number: u32, bytes: &[u8]) {
    put_varint(out, (u64::from(number) << 3) | 2);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

struct Walker<'s> {
    schema: &'s Schema,
    mode: Mode,
}

impl<'s> Walker<'s> {
    /// Walks one message; writes its (rewritten) encoding to `out` when given.
    fn message(&self, mi: usize, buf: &[u8], mut out: Option<&mut Vec<u8>>) -> Result<(), Error> {
        let msg = &self.schema.messages[mi];
        if msg.is_any {
            return self.nested_any(msg, buf, out);
        }
        let mut r = Reader { buf, pos: 0 };
        while r.pos < buf.len() {
            let start = r.pos;
            let key = r
                .varint()
                .ok_or_else(|| malformed(&msg.name, "truncated field key"))?;
            let number = u32::try_from(key >> 3).unwrap_or(0);
            let wire = (key & 7) as u8;
            if number == 0 {
                return Err(malformed(&msg.name, "field number 0"));
            }
            let Some(field) = msg.field(number) else {
                if self.mode == Mode::Downgrade && msg.dropped.contains(&number) {
                    skip_value(&mut r, wire)
                        .ok_or_else(|| malformed(&msg.name, "truncated value"))?;
                    continue;
                }
                return Err(Error::V3OnlyField {
                    message: msg.name.clone(),
                    field_number: number,
                    path: FieldPath::default(),
                });
            };
            let payload: &[u8] = match wire {
                0 => {
                    let s = r.pos;
                    r.varint()
                        .ok_or_else(|| malformed(&msg.name, "truncated varint"))?;
                    &buf[s..r.pos]
                }
                1 => r
                    .take(8)
                    .ok_or_else(|| malformed(&msg.name, "truncated fixed64"))?,
                5 => r
                    .take(4)
                    .ok_or_else(|| malformed(&msg.name, "truncated fixed32"))?,
                2 => {
                    let len = r
                        .varint()
                        .and_then(|l| usize::try_from(l).ok())
                        .ok_or_else(|| malformed(&msg.name, "truncated length"))?;
                    r.take(len)
                        .ok_or_else(|| malformed(&msg.name, "length past the end"))?
                }
                w => {
                    return Err(malformed(
                        &msg.name,
                        format!("field {number}: unsupported wire type {w}"),
                    ))
                }
            };
            let raw = &buf[start..r.pos];
            let seg = || {
                if field.repeated {
                    format!("{}[{}]", field.name, occurrences_before(buf, start, number))
                } else {
                    field.name.clone()
                }
            };
            match field.kind {
                FieldKind::Message(child) => {
                    if wire != 2 {
                        return Err(malformed(
                            &msg.name,
                            format!("field {}: wire type {wire} for a message", field.name),
                        ));
                    }
                    let rewrite =
                        self.mode == Mode::Downgrade && self.schema.messages[child].may_contain_any;
                    match out.as_deref_mut() {
                        Some(o) if rewrite => {
                            let mut sub = Vec::with_capacity(payload.len() + 32);
                            self.message(child, payload, Some(&mut sub))
                                .map_err(|e| e.within(seg))?;
                            put_len_field(o, number, &sub);
                        }
                        o => {
                            self.message(child, payload, None)
                                .map_err(|e| e.within(seg))?;
                            if let Some(o) = o {
                                o.extend_from_slice(raw);
                            }
                        }
                    }
                }
                FieldKind::Enum(ei) => {
                    let e = &self.schema.enums[ei];
                    let check = |v: u64| -> Result<(), Error> {
                        // Enum values are int32, sign-extended to 64 bits on the wire.
                        let v = v as i64 as i32;
                        if e.values.binary_search(&v).is_ok() {
                            Ok(())
                        } else {
                            Err(Error::V3OnlyEnumValue {
                                message: msg.name.clone(),
                                field: field.name.clone(),
                                enum_name: e.name.clone(),
                                value: v,
                                path: FieldPath::default(),
                            })
                        }
                    };
                    match wire {
                        0 => {
                            let mut pr = Reader {
                                buf: payload,
                                pos: 0,
                            };
                            if let Some(v) = pr.varint() {
                                check(v)?;
                            }
                        }
                        2 => {
                            let mut pr = Reader {
                                buf: payload,
                                pos: 0,
                            };
                            while pr.pos < payload.len() {
                                let v = pr
                                    .varint()
                                    .ok_or_else(|| malformed(&msg.name, "truncated packed enum"))?;
                                check(v)?;
                            }
                        }
                        _ => {
                            return Err(malformed(
                                &msg.name,
                                format!("field {}: wire type {wire} for an enum", field.name),
                            ))
                        }
                    }
                    if let Some(o) = out.as_deref_mut() {
                        o.extend_from_slice(raw);
                    }
                }
                FieldKind::TypeUrl => {
                    if wire != 2 {
                        return Err(malformed(
                            &msg.name,
                            format!("field {}: wire type {wire} for a string", field.name),
                        ));
                    }
                    if let Some(o) = out.as_deref_mut() {
                        let url = std::str::from_utf8(payload)
                            .map_err(|_| malformed(&msg.name, "type_url is not UTF-8"))?;
                        match type_url::v2_type_url(url) {
                            Some(v2) if type_name(url).starts_with("envoy.") => {
                                put_len_field(o, number, v2.as_bytes())
                            }
                            _ => o.extend_from_slice(raw),
                        }
                    }
                }
                FieldKind::Scalar(expected) => {
                    // Wire type 2 is also the packed form of repeated numbers.
                    if wire != expected && wire != 2 {
                        return Err(malformed(
                            &msg.name,
                            format!(
                                "field {}: wire type {wire}, expected {expected}",
                                field.name
                            ),
                        ));
                    }
                    if let Some(o) = out.as_deref_mut() {
                        o.extend_from_slice(raw);
                    }
                }
            }
        }
        Ok(())
    }

    /// An `Any` inside a message: parses its two fields and rewrites it.
    fn nested_any(&self, msg: &Msg, buf: &[u8], out: Option<&mut Vec<u8>>) -> Result<(), Error> {
        let mut r = Reader { buf, pos: 0 };
        let mut url: &[u8] = &[];
        let mut value: &[u8] = &[];
        while r.pos < buf.len() {
            let key = r
                .varint()
                .ok_or_else(|| malformed(&msg.name, "truncated field key"))?;
            let number = u32::try_from(key >> 3).unwrap_or(0);
            if key & 7 != 2 || !(1..=2).contains(&number) {
                return Err(Error::V3OnlyField {
                    message: msg.name.clone(),
                    field_number: number,
                    path: FieldPath::default(),
                });
            }
            let len = r
                .varint()
                .and_then(|l| usize::try_from(l).ok())
                .ok_or_else(|| malformed(&msg.name, "truncated length"))?;
            let bytes = r
                .take(len)
                .ok_or_else(|| malformed(&msg.name, "length past the end"))?;
            if number == 1 {
                url = bytes;
            } else {
                value = bytes;
            }
        }
        let url =
            std::str::from_utf8(url).map_err(|_| malformed(&msg.name, "type_url is not UTF-8"))?;
        match out {
            Some(o) => {
                let mut sub = Vec::with_capacity(value.len() + 32);
                let new_url = self.any_value(url, value, Some(&mut sub))?;
                if !new_url.is_empty() {
                    put_len_field(o, 1, new_url.as_bytes());
                }
                if !sub.is_empty() {
                    put_len_field(o, 2, &sub);
                }
            }
            None => {
                self.any_value(url, value, None)?;
            }
        }
        Ok(())
    }

    /// Resolves the type of an `Any`, walks its value (into `out` when given) and returns the
    /// type URL to write.
    fn any_value(
        &self,
        url: &str,
        value: &[u8],
        out: Option<&mut Vec<u8>>,
    ) -> Result<Cow<'s, str>, Error> {
        if let Some(t) = self.schema.urls.get(url) {
            if !(t.from_v3 && self.mode == Mode::Check) {
                self.message(t.msg, value, out)
                    .map_err(|e| e.within(|| format!("<{}>", type_name(&t.url))))?;
                return Ok(Cow::Borrowed(&t.url));
            }
        }
        let name = type_name(url);
        let prefix = &url[..url.len() - name.len()];
        let no_v2 = || Error::NoV2Type {
            type_url: url.to_string(),
            path: FieldPath::default(),
        };
        let target: &str = if !name.starts_with("envoy.") {
            name
        } else if self.mode == Mode::Downgrade {
            match type_url::v2_name(name) {
                Some(v2) => v2,
                // Already a v2 type (the pool holds no v3 message): kept as it is.
                None if self.schema.by_name.contains_key(name) => name,
                None if EMPTY_IN_V2.contains(&name) && value.is_empty() => EMPTY,
                None => return Err(no_v2()),
            }
        } else if self.schema.by_name.contains_key(name) {
            name
        } else {
            return Err(no_v2());
        };
        let new_url: Cow<'s, str> = if target == name {
            Cow::Owned(url.to_string())
        } else {
            Cow::Owned(format!("{prefix}{target}"))
        };
        let segment = || format!("<{target}>");
        match self.schema.by_name.get(target) {
            Some(&mi) => self
                .message(mi, value, out)
                .map_err(|e| e.within(segment))?,
            None if !target.starts_with("envoy.") => {
                // A non-Envoy type this crate does not know: same in v2 and v3, copied.
                if let Some(o) = out {
                    o.extend_from_slice(value);
                }
            }
            None => return Err(no_v2()),
        }
        Ok(new_url)
    }
}

/// Skips one value of wire type `wire`; `None` if truncated or of an unsupported type.
fn skip_value(r: &mut Reader<'_>, wire: u8) -> Option<()> {
    match wire {
        0 => r.varint().map(|_| ()),
        1 => r.take(8).map(|_| ()),
        5 => r.take(4).map(|_| ()),
        2 => r
            .varint()
            .and_then(|l| usize::try_from(l).ok())
            .and_then(|l| r.take(l))
            .map(|_| ()),
        _ => None,
    }
}

/// How often field `number` occurs in `buf` before byte `end`: the index of a repeated element
/// for error paths (computed only when an error is reported).
fn occurrences_before(buf: &[u8], end: usize, number: u32) -> usize {
    let mut r = Reader {
        buf: &buf[..end.min(buf.len())],
        pos: 0,
    };
    let mut n = 0;
    while r.pos < r.buf.len() {
        let Some(key) = r.varint() else { break };
        if key >> 3 == u64::from(number) {
            n += 1;
        }
        if skip_value(&mut r, (key & 7) as u8).is_none() {
            break;
        }
    }
    n
}

#[cfg(test)]
mod tests;
