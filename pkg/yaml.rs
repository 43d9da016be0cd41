//! YAML as Istio 1.4 reads it.
//!
//! Upstream decodes YAML with go-yaml v2 (YAML 1.1 scalar rules) into generic Go values and hands
//! them to jsonpb as JSON. This module does the same with a YAML 1.2 syntax parser
//! (saphyr-parser) and go-yaml v2's resolution of plain scalars, producing [`serde_json::Value`]
//! documents:
//!
//! - `null`, `~` and empty scalars are null; `yes`/`no`/`on`/`off`/`y`/`n` (any of upstream's
//!   spellings) are booleans, as in YAML 1.1;
//! - integers in Go's base-prefixed syntax (`0x1F`, `0o17`, `017`, `0b101`, underscores ignored),
//!   then floats; a float with an integral value becomes a JSON integer, because that is how Go's
//!   JSON encoder prints it and therefore what jsonpb sees;
//! - non-string mapping keys become their Go `%v` text (`1`, `true`, `<nil>`);
//! - anchors, aliases and `<<` merge keys are expanded, within a budget so that a small document
//!   cannot expand into an enormous one;
//! - nesting is bounded, so hostile input cannot exhaust the stack later.
//!
//! [`to_string`] renders a JSON value back to YAML the way upstream marshals generic values
//! (go-yaml's key order and quoting, two-space indentation, sequences at the key's indentation).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;
use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Span, Tag};
use serde_json::{Map, Number, Value};

/// Deepest nesting of sequences and mappings accepted in one document.
pub const MAX_DEPTH: usize = 200;

/// Most nodes one document may produce once aliases are expanded.
pub const MAX_EXPANDED_NODES: usize = 2_000_000;

/// A YAML decoding error, with the position where it was detected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("yaml: line {line}: {message}")]
pub struct Error {
    /// 1-based line of the input.
    pub line: usize,
    /// 1-based column of the input.
    pub column: usize,
    /// What went wrong.
    pub message: String,
}

impl Error {
    fn at(span: &Span, message: impl Into<String>) -> Self {
        Error {
            line: span.start.line(),
            column: span.start.col() + 1,
            message: message.into(),
        }
    }

    fn scan(e: &ScanError) -> Self {
        Error {
            line: e.marker().line(),
            column: e.marker().col() + 1,
            message: e.info().to_string(),
        }
    }
}

/// One document of a YAML stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// 0-based position of the document in the stream.
    pub index: usize,
    /// 1-based line where the document's content starts.
    pub line: usize,
    /// The decoded content; `Value::Null` for an empty document.
    pub value: Value,
}

/// Iterates over the documents of a YAML stream. After the first error the iterator ends, as a
/// stream cannot be resynchronised reliably after a syntax error.
pub struct Documents<'a> {
    parser: Parser<'a, saphyr_parser::StrInput<'a>>,
    index: usize,
    done: bool,
}

/// Splits `input` into its YAML documents and decodes each.
pub fn documents(input: &str) -> Documents<'_> {
    Documents {
        parser: Parser::new_from_str(input),
        index: 0,
        done: false,
    }
}

/// Decodes every document of `input`, failing on the first error.
pub fn from_str_multi(input: &str) -> Result<Vec<Document>, Error> {
    documents(input).collect()
}

/// Decodes a stream that must hold exactly one document (an empty stream is `null`).
pub fn from_str(input: &str) -> Result<Value, Error> {
    let mut docs = documents(input);
    let first = match docs.next() {
        None => return Ok(Value::Null),
        Some(doc) => doc?.value,
    };
    match docs.next() {
        None => Ok(first),
        Some(Err(e)) => Err(e),
        Some(Ok(doc)) => Err(Error {
            line: doc.line,
            column: 1,
            message: "expected a single document, found more".to_string(),
        }),
    }
}

impl Iterator for Documents<'_> {
    type Item = Result<Document, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let result = self.next_document();
        match result {
            Ok(Some(doc)) => Some(Ok(doc)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// A container being built while its events arrive.
enum Frame {
    Seq {
        items: Vec<Value>,
        anchor: usize,
    },
    Map {
        entries: Map<String, Value>,
        /// Keys set explicitly; merged (`<<`) keys never override them.
        explicit: Vec<String>,
        merges: Vec<Value>,
        pending_key: Option<Key>,
        anchor: usize,
    },
}

/// A mapping key as read, before it is known whether it is the merge key.
enum Key {
    Merge,
    Text(String),
}

impl Documents<'_> {
    fn event(&mut self) -> Result<Option<(Event<'_>, Span)>, Error> {
        match self.parser.next_event() {
            None => Ok(None),
            Some(Ok(ev)) => Ok(Some(ev)),
            Some(Err(e)) => Err(Error::scan(&e)),
        }
    }

    fn next_document(&mut self) -> Result<Option<Document>, Error> {
        // Skip stream framing until a document starts or the stream ends.
        let start_line = loop {
            match self.event()? {
                None | Some((Event::StreamEnd, _)) => return Ok(None),
                Some((Event::DocumentStart(_), span)) => break span.start.line(),
                Some(_) => {}
            }
        };
        let mut builder = Builder::default();
        let mut first_content_line = None;
        let mut ended = false;
        let value = loop {
            let Some((event, span)) = self.event()? else {
                return Err(Error {
                    line: start_line,
                    column: 1,
                    message: "unexpected end of stream".into(),
                });
            };
            if matches!(event, Event::DocumentEnd) && builder.stack.is_empty() {
                // A document with no content at all.
                ended = true;
                break Value::Null;
            }
            if first_content_line.is_none() {
                first_content_line = Some(span.start.line());
            }
            if let Some(done) = builder.push(event, &span)? {
                break done;
            }
        };
        if !ended {
            match self.event()? {
                Some((Event::DocumentEnd | Event::StreamEnd, _)) | None => {}
                Some((_, span)) => {
                    return Err(Error::at(&span, "unexpected content after document"));
                }
            }
        }
        let index = self.index;
        self.index += 1;
        Ok(Some(Document {
            index,
            line: first_content_line.unwrap_or(start_line),
            value,
        }))
    }
}

/// Turns the events of one document into a value.
#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, Value>,
    nodes: usize,
}

impl Builder {
    /// Feeds one event; returns the document's value once its root node is complete.
    fn push(&mut self, event: Event<'_>, span: &Span) -> Result<Option<Value>, Error> {
        let value = match event {
            Event::Scalar(text, style, anchor, tag) => {
                if self.expecting_key() {
                    let key = scalar_key(&text, style, tag.as_deref());
                    self.set_key(key, span)?;
                    return Ok(None);
                }
                let v =
                    resolve_scalar(&text, style, tag.as_deref()).map_err(|m| Error::at(span, m))?;
                self.count(1, span)?;
                if anchor > 0 {
                    self.anchors.insert(anchor, v.clone());
                }
                v
            }
            Event::Alias(id) => {
                let Some(v) = self.anchors.get(&id) else {
                    return Err(Error::at(span, "unknown anchor referenced"));
                };
                let v = v.clone();
                self.count(node_count(&v), span)?;
                if self.expecting_key() {
                    let key = value_key(&v);
                    self.set_key(Key::Text(key), span)?;
                    return Ok(None);
                }
                v
            }
            Event::SequenceStart(anchor, tag) => {
                check_collection_tag(tag.as_deref(), "seq", span)?;
                self.open(
                    Frame::Seq {
                        items: Vec::new(),
                        anchor,
                    },
                    span,
                )?;
                return Ok(None);
            }
            Event::MappingStart(anchor, tag) => {
                check_collection_tag(tag.as_deref(), "map", span)?;
                self.open(
                    Frame::Map {
                        entries: Map::new(),
                        explicit: Vec::new(),
                        merges: Vec::new(),
                        pending_key: None,
                        anchor,
                    },
                    span,
                )?;
                return Ok(None);
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(frame) = self.stack.pop() else {
                    return Err(Error::at(span, "unbalanced collection end"));
                };
                let (v, anchor) = match frame {
                    Frame::Seq { items, anchor } => (Value::Array(items), anchor),
                    Frame::Map {
                        mut entries,
                        explicit,
                        merges,
                        anchor,
                        ..
                    } => {
                        apply_merges(&mut entries, &explicit, merges, span)?;
                        (Value::Object(entries), anchor)
                    }
                };
                if anchor > 0 {
                    self.anchors.insert(anchor, v.clone());
                }
                self.count(1, span)?;
                v
            }
            Event::Nothing
            | Event::DocumentEnd
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart(_) => {
                return Err(Error::at(span, "unexpected stream event inside a document"));
            }
        };
        self.attach(value, span)
    }

    fn expecting_key(&self) -> bool {
        matches!(
            self.stack.last(),
            Some(Frame::Map {
                pending_key: None,
                ..
            })
        )
    }

    fn set_key(&mut self, key: Key, span: &Span) -> Result<(), Error> {
        match self.stack.last_mut() {
            Some(Frame::Map { pending_key, .. }) => {
                *pending_key = Some(key);
                Ok(())
            }
            _ => Err(Error::at(span, "mapping key outside a mapping")),
        }
    }

    fn open(&mut self, frame: Frame, span: &Span) -> Result<(), Error> {
        if self.expecting_key() {
            // A collection used as a mapping key: go-yaml accepts it as an (unhashable) key only
            // for non-map targets; Kubernetes documents never need one.
            return Err(Error::at(
                span,
                "collections are not supported as mapping keys",
            ));
        }
        if self.stack.len() >= MAX_DEPTH {
            return Err(Error::at(
                span,
                format!("nesting deeper than {MAX_DEPTH} levels"),
            ));
        }
        self.stack.push(frame);
        Ok(())
    }

    fn count(&mut self, n: usize, span: &Span) -> Result<(), Error> {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > MAX_EXPANDED_NODES {
            return Err(Error::at(
                span,
                format!(
                    "document expands to more than {MAX_EXPANDED_NODES} nodes (alias expansion)"
                ),
            ));
        }
        Ok(())
    }

    /// Places a finished value into its parent, or returns it when it is the root.
    fn attach(&mut self, value: Value, span: &Span) -> Result<Option<Value>, Error> {
        match self.stack.last_mut() {
            None => Ok(Some(value)),
            Some(Frame::Seq { items, .. }) => {
                items.push(value);
                Ok(None)
            }
            Some(Frame::Map {
                entries,
                explicit,
                merges,
                pending_key,
                ..
            }) => match pending_key.take() {
                Some(Key::Merge) => {
                    merges.push(value);
                    Ok(None)
                }
                Some(Key::Text(k)) => {
                    explicit.push(k.clone());
                    entries.insert(k, value);
                    Ok(None)
                }
                None => Err(Error::at(span, "mapping value without a key")),
            },
        }
    }
}

/// Applies `<<` merge keys: keys of the merged mappings fill in what the mapping lacks.
fn apply_merges(
    entries: &mut Map<String, Value>,
    explicit: &[String],
    merges: Vec<Value>,
    span: &Span,
) -> Result<(), Error> {
    for merge in merges {
        let sources = match merge {
            Value::Object(m) => vec![m],
            Value::Array(items) => {
                let mut maps = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        Value::Object(m) => maps.push(m),
                        _ => {
                            return Err(Error::at(
                                span,
                                "map merge requires map or sequence of maps as the value",
                            ));
                        }
                    }
                }
                maps
            }
            _ => {
                return Err(Error::at(
                    span,
                    "map merge requires map or sequence of maps as the value",
                ));
            }
        };
        for source in sources {
            for (k, v) in source {
                if !explicit.contains(&k) && !entries.contains_key(&k) {
                    entries.insert(k, v);
                }
            }
        }
    }
    Ok(())
}

fn check_collection_tag(tag: Option<&Tag>, expected: &str, span: &Span) -> Result<(), Error> {
    match tag {
        None => Ok(()),
        Some(t)
            if t.is_yaml_core_schema()
                && (t.suffix == expected || (expected == "map" && t.suffix == "omap")) =>
        {
            Ok(())
        }
        Some(t) if is_non_specific(t) => Ok(()),
        Some(t) => Err(Error::at(
            span,
            format!("unsupported tag {t} on a {expected}"),
        )),
    }
}

/// The non-specific tag `!` (the parser reports it with either an empty handle or suffix).
fn is_non_specific(tag: &Tag) -> bool {
    (tag.handle == "!" && tag.suffix.is_empty()) || (tag.handle.is_empty() && tag.suffix == "!")
}

fn node_count(v: &Value) -> usize {
    match v {
        Value::Array(items) => 1 + items.iter().map(node_count).sum::<usize>(),
        Value::Object(m) => 1 + m.values().map(node_count).sum::<usize>(),
        _ => 1,
    }
}

fn scalar_key(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Key {
    if style == ScalarStyle::Plain && tag.is_none() && text == "<<" {
        return Key::Merge;
    }
    match resolve_scalar(text, style, tag) {
        Ok(v) => Key::Text(value_key(&v)),
        Err(_) => Key::Text(text.to_string()),
    }
}

/// The text Go's `%v` gives a decoded key.
fn value_key(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".to_string(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    }
}

static FLOAT_SYNTAX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$").expect("static regex")
});

/// Resolves a scalar as go-yaml v2 does when decoding into a generic value.
fn resolve_scalar(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Result<Value, String> {
    if let Some(tag) = tag {
        return resolve_tagged(text, tag);
    }
    if style != ScalarStyle::Plain {
        return Ok(Value::String(text.to_string()));
    }
    Ok(resolve_plain(text)?.unwrap_or_else(|| Value::String(text.to_string())))
}

fn resolve_tagged(text: &str, tag: &Tag) -> Result<Value, String> {
    if is_non_specific(tag) {
        // The non-specific tag `!` forces a string.
        return Ok(Value::String(text.to_string()));
    }
    if !tag.is_yaml_core_schema() {
        return Err(format!("unsupported tag {tag}"));
    }
    let resolved = resolve_plain(text)?;
    let mismatch = || format!("cannot decode {text:?} as !!{}", tag.suffix);
    match tag.suffix.as_str() {
        "str" => Ok(Value::String(text.to_string())),
        "null" => match resolved {
            Some(Value::Null) => Ok(Value::Null),
            _ => Err(mismatch()),
        },
        "bool" => match resolved {
            Some(v @ Value::Bool(_)) => Ok(v),
            _ => Err(mismatch()),
        },
        "int" => match resolved {
            Some(Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(Value::Number(n)),
            _ => Err(mismatch()),
        },
        "float" => match resolved {
            Some(Value::Number(n)) => Ok(Value::Number(n)),
            _ => Err(mismatch()),
        },
        other => Err(format!("unsupported tag !!{other}")),
    }
}

/// The value of an untagged plain scalar, or `None` when it is a string.
fn resolve_plain(text: &str) -> Result<Option<Value>, String> {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Ok(Some(Value::Null)),
        "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "true" | "True" | "TRUE" => {
            return Ok(Some(Value::Bool(true)));
        }
        "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" | "false" | "False" | "FALSE" => {
            return Ok(Some(Value::Bool(false)));
        }
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" | "-.inf" | "-.Inf" | "-.INF"
        | ".nan" | ".NaN" | ".NAN" => {
            return Err(format!(
                "unsupported value: {text} has no JSON representation"
            ));
        }
        _ => {}
    }
    let first = text.as_bytes()[0];
    if !(first.is_ascii_digit() || first == b'+' || first == b'-' || first == b'.') {
        return Ok(None);
    }
    let plain: Cow<'_, str> = if text.contains('_') {
        Cow::Owned(text.replace('_', ""))
    } else {
        Cow::Borrowed(text)
    };
    if let Some(n) = parse_go_int(&plain) {
        return Ok(Some(Value::Number(n)));
    }
    if FLOAT_SYNTAX.is_match(&plain) {
        if let Ok(f) = plain.parse::<f64>() {
            return Ok(Some(float_value(f)));
        }
    }
    Ok(None)
}

/// Parses an integer with Go's `strconv.ParseInt(s, 0, 64)` syntax, then as unsigned.
fn parse_go_int(s: &str) -> Option<Number> {
    let (negative, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if body.is_empty() {
        return None;
    }
    let (radix, digits) =
        if let Some(rest) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
            (16, rest)
        } else if let Some(rest) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
            (2, rest)
        } else if let Some(rest) = body.strip_prefix("0o").or_else(|| body.strip_prefix("0O")) {
            (8, rest)
        } else if body.len() > 1 && body.starts_with('0') {
            (8, &body[1..])
        } else {
            (10, body)
        };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = u64::from_str_radix(digits, radix).ok()?;
    if negative {
        if magnitude <= i64::MAX as u64 + 1 {
            // Two's complement wrap gives i64::MIN for magnitude 2^63.
            Some(Number::from((magnitude as i64).wrapping_neg()))
        } else {
            None
        }
    } else {
        Some(Number::from(magnitude))
    }
}

/// A float as Go's JSON encoder would print it: integral values below 1e21 print without a
/// fraction, so they read back as integers.
fn float_value(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 1e21 {
        if f >= i64::MIN as f64 && f < i64::MAX as f64 {
            return Value::Number(Number::from(f as i64));
        }
        if f >= 0.0 && f < u64::MAX as f64 {
            return Value::Number(Number::from(f as u64));
        }
    }
    Number::from_f64(f).map_or(Value::Null, Value::Number)
}

/// Renders `value` as YAML the way upstream marshals generic values (ghodss/yaml over go-yaml
/// v2): mapping keys in go-yaml's natural order, two-space indentation, sequences not indented
/// under their key, strings quoted only when they would read back as something else. The text
/// ends with a newline.
pub fn to_string(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => emit_mapping(&mut out, map, 0),
        Value::Array(items) if !items.is_empty() => emit_sequence(&mut out, items, 0),
        other => {
            out.push_str(&inline(other));
            out.push('\n');
        }
    }
    out
}

/// [`to_string`] for any serializable value.
pub fn to_string_from<T: serde::Serialize>(value: &T) -> Result<String, serde_json::Error> {
    Ok(to_string(&serde_json::to_value(value)?))
}

fn indent(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

/// A value that fits on the line after `key: ` or `- `.
fn inline(v: &Value) -> String {
    match v {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => scalar(s),
        Value::Array(_) => "[]".to_string(),
        Value::Object(_) => "{}".to_string(),
    }
}

fn is_block(v: &Value) -> bool {
    match v {
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
        _ => false,
    }
}

fn emit_mapping(out: &mut String, map: &serde_json::Map<String, Value>, level: usize) {
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort_by(|a, b| yaml_key_order(a, b));
    for (i, key) in keys.into_iter().enumerate() {
        let value = &map[key.as_str()];
        if i > 0 {
            indent(out, level);
        }
        out.push_str(&scalar(key));
        out.push(':');
        match value {
            Value::Object(m) if !m.is_empty() => {
                out.push('\n');
                indent(out, level + 2);
                emit_mapping(out, m, level + 2);
            }
            Value::Array(a) if !a.is_empty() => {
                out.push('\n');
                indent(out, level);
                emit_sequence(out, a, level);
            }
            other => {
                out.push(' ');
                out.push_str(&inline(other));
                out.push('\n');
            }
        }
    }
}

/// Emits a sequence whose first `- ` is already indented to `level`.
fn emit_sequence(out: &mut String, items: &[Value], level: usize) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            indent(out, level);
        }
        out.push_str("- ");
        match item {
            Value::Object(m) if is_block(item) => emit_mapping(out, m, level + 2),
            Value::Array(a) if is_block(item) => emit_sequence(out, a, level + 2),
            other => {
                out.push_str(&inline(other));
                out.push('\n');
            }
        }
    }
}

/// go-yaml v2's mapping key order: runs of digits compare numerically, letters sort after
/// non-letters, otherwise by code point.
fn yaml_key_order(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let ar: Vec<char> = a.chars().collect();
    let br: Vec<char> = b.chars().collect();
    for i in 0..ar.len().min(br.len()) {
        if ar[i] == br[i] {
            continue;
        }
        let al = ar[i].is_alphabetic();
        let bl = br[i].is_alphabetic();
        if al && bl {
            return ar[i].cmp(&br[i]);
        }
        if al || bl {
            return if bl {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        let mut an: i64 = 0;
        let mut bn: i64 = 0;
        if ar[i] == '0' || br[i] == '0' {
            let mut j = i;
            while j > 0 && ar[j - 1].is_ascii_digit() {
                if ar[j - 1] != '0' {
                    an = 1;
                    bn = 1;
                    break;
                }
                j -= 1;
            }
        }
        let mut ai = i;
        while ai < ar.len() && ar[ai].is_ascii_digit() {
            an = an
                .wrapping_mul(10)
                .wrapping_add(i64::from(ar[ai] as u8 - b'0'));
            ai += 1;
        }
        let mut bi = i;
        while bi < br.len() && br[bi].is_ascii_digit() {
            bn = bn
                .wrapping_mul(10)
                .wrapping_add(i64::from(br[bi] as u8 - b'0'));
            bi += 1;
        }
        if an != bn {
            return an.cmp(&bn);
        }
        if ai != bi {
            return ai.cmp(&bi);
        }
        return ar[i].cmp(&br[i]);
    }
    ar.len().cmp(&br.len())
}

/// A string scalar in go-yaml's style: double-quoted if it would read back as another type
/// (null, bool, number, timestamp, base-60 float) or has characters only double quotes can
/// carry; single-quoted if a plain scalar is not allowed; plain otherwise.
fn scalar(s: &str) -> String {
    if resolves_to_non_string(s) || needs_double_quotes(s) {
        double_quoted(s)
    } else if !plain_allowed(s) {
        format!("'{}'", s.replace('\'', "''"))
    } else {
        s.to_string()
    }
}

fn resolves_to_non_string(s: &str) -> bool {
    const SPECIAL: &[&str] = &[
        "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON", "n", "N", "no",
        "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF", "", "~", "null", "Null",
        "NULL", ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf",
        "-.Inf", "-.INF",
    ];
    if SPECIAL.contains(&s) {
        return true;
    }
    let Some(first) = s.chars().next() else {
        return true;
    };
    match first {
        '.' => is_go_float(s),
        '0'..='9' | '+' | '-' => {
            if is_timestamp(s) {
                return true;
            }
            let plain = s.replace('_', "");
            if crate::gostr::parse_go_int(&plain).is_ok() || is_go_uint(&plain) {
                return true;
            }
            if is_yaml_style_float(&plain) {
                return true;
            }
            is_binary_int(&plain) || is_base60_float(s)
        }
        _ => false,
    }
}

/// Unsigned values beyond `i64::MAX` (decimal; the prefixed forms that large don't occur).
fn is_go_uint(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && s.parse::<u64>().is_ok()
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
fn is_yaml_style_float(s: &str) -> bool {
    let b = s.strip_prefix(['-', '+']).unwrap_or(s).as_bytes();
    let digits = |b: &[u8], i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    let mut i = 0;
    if b.first() == Some(&b'.') {
        i = 1;
        if digits(b, &mut i) == 0 {
            return false;
        }
    } else {
        if digits(b, &mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(b, &mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        if digits(b, &mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Roughly Go's `strconv.ParseFloat` for strings starting with `.`.
fn is_go_float(s: &str) -> bool {
    s.parse::<f64>().is_ok()
}

fn is_binary_int(s: &str) -> bool {
    let rest = s.strip_prefix("-0b").or_else(|| s.strip_prefix("0b"));
    rest.is_some_and(|r| !r.is_empty() && r.bytes().all(|b| b == b'0' || b == b'1'))
}

/// `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`
fn is_base60_float(s: &str) -> bool {
    let b = s.strip_prefix(['-', '+']).unwrap_or(s).as_bytes();
    let mut i = 0;
    if !b.first().is_some_and(u8::is_ascii_digit) {
        return false;
    }
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
        i += 1;
    }
    let mut groups = 0;
    while b.get(i) == Some(&b':') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() && i - start < 2 {
            i += 1;
        }
        let group = &b[start..i];
        let ok = match group {
            [d] => d.is_ascii_digit(),
            [a, d] => (b'0'..=b'5').contains(a) && d.is_ascii_digit(),
            _ => false,
        };
        if !ok {
            return false;
        }
        groups += 1;
    }
    if groups == 0 {
        return false;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
            i += 1;
        }
    }
    i == b.len()
}

/// go-yaml tries timestamps for strings that start with exactly four digits and a `-`:
/// `YYYY-M-D`, optionally followed by `T`, `t` or a space and a time.
fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 8 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return false;
    }
    let mut parts = s[5..].splitn(2, ['T', 't', ' ']);
    let date = parts.next().unwrap_or("");
    let time = parts.next();
    let mut dp = date.split('-');
    let (Some(m), Some(d), None) = (dp.next(), dp.next(), dp.next()) else {
        return false;
    };
    let small = |x: &str, max: u32| {
        (1..=2).contains(&x.len())
            && x.bytes().all(|c| c.is_ascii_digit())
            && x.parse::<u32>().is_ok_and(|v| v >= 1 && v <= max)
    };
    if !small(m, 12) || !small(d, 31) {
        return false;
    }
    match time {
        None => true,
        Some(t) => {
            let clock = t.split(['Z', '+', '-']).next().unwrap_or("");
            let mut hms = clock.split(':');
            let h = hms.next().unwrap_or("");
            let mi = hms.next().unwrap_or("");
            let se = hms.next().unwrap_or("");
            let se = se.split('.').next().unwrap_or("");
            let num = |x: &str| (1..=2).contains(&x.len()) && x.bytes().all(|c| c.is_ascii_digit());
            num(h) && num(mi) && num(se) && hms.next().is_none()
        }
    }
}

/// libyaml's printable set (with Unicode output on): note that tabs, C1 controls, the BOM and
/// everything beyond the Basic Multilingual Plane are not printable.
fn yaml_printable(c: char) -> bool {
    matches!(c as u32, 0x0a | 0x20..=0x7e | 0xa0..=0xd7ff | 0xe000..=0xfffd) && c != '\u{feff}'
}

fn yaml_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// Strings that neither plain nor single-quoted style can carry.
fn needs_double_quotes(s: &str) -> bool {
    s.chars().any(|c| !yaml_printable(c) || yaml_break(c))
}

/// libyaml's rules for a plain scalar in block context.
fn plain_allowed(s: &str) -> bool {
    if s.is_empty() || s.starts_with("---") || s.starts_with("...") {
        return false;
    }
    let chars: Vec<char> = s.chars().collect();
    let blank_or_end = |i: usize| chars.get(i).is_none_or(|c| *c == ' ' || *c == '\t');
    let first = chars[0];
    if "#,[]{}&*!|>'\"%@`".contains(first) {
        return false;
    }
    if (first == '?' || first == ':' || first == '-') && blank_or_end(1) {
        return false;
    }
    if first == ' ' || chars.last() == Some(&' ') || s.contains('\t') {
        return false;
    }
    for (i, &c) in chars.iter().enumerate() {
        if c == ':' && blank_or_end(i + 1) {
            return false;
        }
        if c == '#' && i > 0 && (chars[i - 1] == ' ' || chars[i - 1] == '\t') {
            return false;
        }
    }
    true
}

fn double_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if yaml_printable(c) && !yaml_break(c) && c != '"' && c != '\\' {
            out.push(c);
            continue;
        }
        match c {
            '\0' => out.push_str("\\0"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{b}' => out.push_str("\\v"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            '\u{1b}' => out.push_str("\\e"),
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{85}' => out.push_str("\\N"),
            '\u{2028}' => out.push_str("\\L"),
            '\u{2029}' => out.push_str("\\P"),
            c if (c as u32) <= 0xff => out.push_str(&format!("\\x{:02X}", c as u32)),
            c if (c as u32) <= 0xffff => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push_str(&format!("\\U{:08X}", c as u32)),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn one(s: &str) -> Value {
        from_str(s).expect("valid yaml")
    }

    #[test]
    fn scalars_follow_go_yaml_v2() {
        let v = one(concat!(
            "a: yes\nb: Off\nc: ~\nd:\ne: 0x1F\nf: 017\ng: 0b101\nh: 1_000\ni: 1e3\nj: 1.5\n",
            "k: '1'\nl: \"true\"\nm: 08\nnn: -12\no: 2019-01-01\np: +7\nq: .5\nr: 0o17\ns: abc\n",
        ));
        assert_eq!(
            v,
            json!({
                "a": true, "b": false, "c": null, "d": null, "e": 31, "f": 15, "g": 5,
                "h": 1000, "i": 1000, "j": 1.5, "k": "1", "l": "true", "m": 8, "nn": -12,
                "o": "2019-01-01", "p": 7, "q": 0.5, "r": 15, "s": "abc"
            })
        );
    }

    #[test]
    fn large_and_extreme_integers() {
        assert_eq!(one("a: 18446744073709551615"), json!({"a": u64::MAX}));
        assert_eq!(one("a: -9223372036854775808"), json!({"a": i64::MIN}));
        // Out of range for both: falls back to float semantics.
        assert_eq!(one("a: 99999999999999999999")["a"].as_f64(), Some(1e20));
    }

    #[test]
    fn tags_force_types() {
        assert_eq!(
            one("a: !!str 12\nb: !!int '7'\nc: ! 12"),
            json!({"a": "12", "b": 7, "c": "12"})
        );
        assert!(from_str("a: !!int abc").is_err());
        assert!(from_str("a: !custom x").is_err());
    }

    #[test]
    fn non_string_keys_use_go_formatting() {
        assert_eq!(
            one("1: a\ntrue: b\n~: c\n1.5: d"),
            json!({"1": "a", "true": "b", "<nil>": "c", "1.5": "d"})
        );
        // YAML 1.1: `y` and `n` are booleans, so as keys they read as "true" and "false".
        assert_eq!(one("y: 1\nn: 2"), json!({"true": 1, "false": 2}));
    }

    #[test]
    fn anchors_aliases_and_merges() {
        let v = one("base: &b {x: 1, w: 2}\nd:\n  <<: *b\n  w: 3\nl: [*b, *b]\n");
        assert_eq!(v["d"], json!({"x": 1, "w": 3}));
        assert_eq!(v["l"], json!([{"x": 1, "w": 2}, {"x": 1, "w": 2}]));
        let v = one("a: &a {p: 1}\nb: &b {q: 2}\nc:\n  <<: [*a, *b]\n");
        assert_eq!(v["c"], json!({"p": 1, "q": 2}));
        assert!(from_str("a: *nope").is_err());
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut s = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            s.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let err = from_str(&s).expect_err("bomb must fail");
        assert!(err.message.contains("alias expansion"), "{err}");
    }

    #[test]
    fn deep_nesting_is_refused() {
        let s = "[".repeat(MAX_DEPTH + 5) + &"]".repeat(MAX_DEPTH + 5);
        let err = from_str(&s).expect_err("too deep");
        assert!(err.message.contains("nesting"), "{err}");
    }

    #[test]
    fn multi_document_streams() {
        let docs = from_str_multi("a: 1\n---\n# only a comment\n---\nb: 2\n...\n---\n- x\n")
            .expect("valid");
        let values: Vec<_> = docs.iter().map(|d| d.value.clone()).collect();
        assert_eq!(
            values,
            vec![json!({"a": 1}), Value::Null, json!({"b": 2}), json!(["x"])]
        );
        assert_eq!(
            docs.iter().map(|d| d.index).collect::<Vec<_>>(),
            vec![0, 1, 2, 3]
        );
        assert_eq!(docs[0].line, 1);
        assert_eq!(docs[2].line, 5);
        assert!(from_str_multi("").expect("empty").is_empty());
    }

    #[test]
    fn syntax_errors_carry_a_position_and_end_the_stream() {
        let mut docs = documents("a: 1\n---\nb: [1, 2\nc: 3\n---\nd: 4\n");
        assert!(docs.next().expect("first").is_ok());
        let err = docs.next().expect("second").expect_err("broken");
        assert!(err.line >= 3, "{err:?}");
        assert!(docs.next().is_none());
    }

    #[test]
    fn infinities_have_no_json_form() {
        assert!(from_str("a: .inf").is_err());
    }

    #[test]
    fn emitter_round_trips_and_matches_go_style() {
        let v = json!({"b": [1, "two", {"k": "v", "a": null}], "a": {"x": "yes", "y": "", "z": "a: b"}, "c": []});
        // `yes` and `y` are double-quoted: plain, they would read back as booleans.
        let text = to_string(&v);
        assert_eq!(
            text,
            "a:\n  x: \"yes\"\n  \"y\": \"\"\n  z: 'a: b'\nb:\n- 1\n- two\n- a: null\n  k: v\nc: []\n"
        );
        assert_eq!(from_str(&text).expect("reparse"), v);
        let nested = json!({"l": [[1, 2], ["a"]], "s": "multi\nline", "n": -1.5});
        assert_eq!(from_str(&to_string(&nested)).expect("reparse"), nested);
    }

    #[test]
    fn yaml_layout_like_go_yaml() {
        let v = json!({
            "meshVersion": [
                {"Component": "pilot", "Info": {"version": "1.4.10", "revision": "abc"}},
                {"Component": "citadel", "Info": {}}
            ],
            "clientVersion": {"version": "1.4.10", "tag": "1.4.10"},
            "empty": [],
            "nested": [["a", "b"], []],
        });
        assert_eq!(
            to_string_from(&v).unwrap(),
            "clientVersion:\n  tag: 1.4.10\n  version: 1.4.10\nempty: []\nmeshVersion:\n\
             - Component: pilot\n  Info:\n    revision: abc\n    version: 1.4.10\n\
             - Component: citadel\n  Info: {}\nnested:\n- - a\n  - b\n- []\n"
        );
        assert_eq!(to_string_from(&json!({})).unwrap(), "{}\n");
    }

    #[test]
    fn yaml_key_order_is_go_yaml_natural_order() {
        let mut keys = vec![
            "version",
            "tag",
            "golang_version",
            "revision",
            "status",
            "a10",
            "a9",
            "_x",
            "B",
            "a",
        ];
        keys.sort_by(|a, b| yaml_key_order(a, b));
        assert_eq!(
            keys,
            [
                "_x",
                "B",
                "a",
                "a9",
                "a10",
                "golang_version",
                "revision",
                "status",
                "tag",
                "version"
            ]
        );
    }

    #[test]
    fn yaml_scalar_styles() {
        let cases = [
            ("1.4.10", "1.4.10"),
            ("unknown", "unknown"),
            ("Clean", "Clean"),
            (
                "rustc 1.88.0 (6b00bc388 2025-06-23)",
                "rustc 1.88.0 (6b00bc388 2025-06-23)",
            ),
            ("docker.io/istio", "docker.io/istio"),
            ("go1.13.4", "go1.13.4"),
            ("e2a1b3c4d5-dirty", "e2a1b3c4d5-dirty"),
            // Would read back as another type: double quotes.
            ("", "\"\""),
            ("1.4", "\"1.4\""),
            ("1234567", "\"1234567\""),
            ("1e10", "\"1e10\""),
            ("0x1f", "\"0x1f\""),
            ("true", "\"true\""),
            ("yes", "\"yes\""),
            ("null", "\"null\""),
            ("~", "\"~\""),
            (".5", "\".5\""),
            ("2019-12-10", "\"2019-12-10\""),
            ("1:20", "\"1:20\""),
            ("0b101", "\"0b101\""),
            // Plain not allowed: single quotes.
            ("- x", "'- x'"),
            (": x", "': x'"),
            ("a: b", "'a: b'"),
            ("a #b", "'a #b'"),
            ("*ref", "'*ref'"),
            (" lead", "' lead'"),
            ("trail ", "'trail '"),
            ("it's: x", "'it''s: x'"),
            ("---", "'---'"),
            // Only double quotes can carry these.
            ("a\nb", "\"a\\nb\""),
            ("bell\u{7}", "\"bell\\a\""),
            ("\u{1}", "\"\\x01\""),
            ("tab\there", "\"tab\\there\""),
            ("caf\u{e9} \u{a0}", "caf\u{e9} \u{a0}"),
            ("\u{85}\u{feff}\u{1f600}", "\"\\N\\uFEFF\\U0001F600\""),
        ];
        for (input, want) in cases {
            assert_eq!(scalar(input), want, "{input:?}");
        }
    }
}
