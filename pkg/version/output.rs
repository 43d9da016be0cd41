//! JSON and YAML text exactly as the Go `version` command prints it.
//!
//! - JSON: Go's `json.MarshalIndent(v, "", "  ")`: two-space indent, `"key": value`, struct
//!   field order, and Go's string escaping (`<`, `>`, `&`, U+2028, U+2029 as `\u` escapes,
//!   `\b` and `\f` as `\u0008` and `\u000c`, lowercase hex).
//! - YAML: what `github.com/ghodss/yaml` (JSON → go-yaml v2.2) produces: mapping keys sorted,
//!   block style, sequences not indented under their key, and go-yaml's choice of plain,
//!   single-quoted or double-quoted scalars. Long plain strings are not folded at 80 columns
//!   (go-yaml 2.2 does), and multi-line strings are double-quoted rather than written as
//!   literal blocks; neither occurs in version output.

use std::io;

use serde::Serialize;
use serde_json::ser::{CharEscape, Formatter, PrettyFormatter};
use serde_json::Value;

/// A `PrettyFormatter` with Go's string escaping.
struct GoFormatter(PrettyFormatter<'static>);

impl Formatter for GoFormatter {
    fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_value(w)
    }

    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            let esc = match c {
                '<' => "\\u003c",
                '>' => "\\u003e",
                '&' => "\\u0026",
                '\u{2028}' => "\\u2028",
                '\u{2029}' => "\\u2029",
                _ => continue,
            };
            w.write_all(&fragment.as_bytes()[start..i])?;
            w.write_all(esc.as_bytes())?;
            start = i + c.len_utf8();
        }
        w.write_all(&fragment.as_bytes()[start..])
    }

    fn write_char_escape<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        esc: CharEscape,
    ) -> io::Result<()> {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let control = |b: u8| {
            [
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ]
        };
        match esc {
            CharEscape::Quote => w.write_all(b"\\\""),
            CharEscape::ReverseSolidus => w.write_all(b"\\\\"),
            CharEscape::Solidus => w.write_all(b"/"),
            CharEscape::Backspace => w.write_all(&control(0x08)),
            CharEscape::FormFeed => w.write_all(&control(0x0c)),
            CharEscape::LineFeed => w.write_all(b"\\n"),
            CharEscape::CarriageReturn => w.write_all(b"\\r"),
            CharEscape::Tab => w.write_all(b"\\t"),
            CharEscape::AsciiControl(b) => w.write_all(&control(b)),
        }
    }
}

/// `json.MarshalIndent(value, "", "  ")`, without a trailing newline.
pub(crate) fn go_json_indent<T: Serialize>(value: &T) -> Result<String, serde_json::Error> {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(
        &mut out,
        GoFormatter(PrettyFormatter::with_indent(b"  ")),
    );
    value.serialize(&mut ser)?;
    // The serializer only writes valid UTF-8.
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// `ghodss/yaml.Marshal(value)`: YAML text ending with a newline.
pub(crate) fn go_yaml<T: Serialize>(value: &T) -> Result<String, serde_json::Error> {
    let value = serde_json::to_value(value)?;
    let mut out = String::new();
    match &value {
        Value::Object(map) if !map.is_empty() => emit_mapping(&mut out, map, 0),
        Value::Array(items) if !items.is_empty() => emit_sequence(&mut out, items, 0),
        other => {
            out.push_str(&inline(other));
            out.push('\n');
        }
    }
    Ok(out)
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
            if crate::log::gostr::parse_go_int(&plain).is_ok() || is_go_uint(&plain) {
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

    #[test]
    fn json_like_go_marshal_indent() {
        let v = json!({"a": {"b": "x<y>&z\u{2028}", "c": []}, "d": "\u{8}\u{c}\u{1}\n\"\\/"});
        assert_eq!(
            go_json_indent(&v).unwrap(),
            "{\n  \"a\": {\n    \"b\": \"x\\u003cy\\u003e\\u0026z\\u2028\",\n    \"c\": []\n  },\n  \
             \"d\": \"\\u0008\\u000c\\u0001\\n\\\"\\\\/\"\n}"
        );
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
            go_yaml(&v).unwrap(),
            "clientVersion:\n  tag: 1.4.10\n  version: 1.4.10\nempty: []\nmeshVersion:\n\
             - Component: pilot\n  Info:\n    revision: abc\n    version: 1.4.10\n\
             - Component: citadel\n  Info: {}\nnested:\n- - a\n  - b\n- []\n"
        );
        assert_eq!(go_yaml(&json!({})).unwrap(), "{}\n");
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
