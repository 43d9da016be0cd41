//! Rendering of one log entry, byte-for-byte as Istio 1.4's zap encoders render it.
//!
//! Console layout (`--log_as_json=false`): tab-separated time, level, scope (omitted for the
//! default scope), caller (when enabled), then the message, then the structured fields as a JSON
//! object with a space after each `:` and `,`; a stack trace goes on the following lines:
//!
//! ```text
//! 2019-12-10T10:27:48.366573Z⇥info⇥ads⇥v2/ads.rs:42⇥new connection⇥{"node": "sidecar~10.0.0.1", "conn": 7}
//! ```
//!
//! (`⇥` stands for a tab.)
//!
//! JSON layout (`--log_as_json`): one compact object per line with keys in the order `level`,
//! `time`, `scope`, `caller`, `msg`, the fields, then `stack`:
//!
//! ```text
//! {"level":"info","time":"2019-12-10T10:27:48.366573Z","scope":"ads","msg":"new connection","conn":7}
//! ```

use std::time::SystemTime;

use super::clock::format_log_time;
use super::level::Level;

/// A structured field value, as recorded from a `tracing` event or span.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    Str(String),
    Bool(bool),
    I64(i64),
    U64(u64),
    I128(i128),
    U128(u128),
    F64(f64),
}

/// Everything needed to render one line.
#[derive(Clone, Debug)]
pub(crate) struct Entry<'a> {
    pub time: SystemTime,
    pub level: Level,
    /// `None` for the default scope, which upstream does not print.
    pub scope: Option<&'a str>,
    /// Already shortened to `dir/file:line`.
    pub caller: Option<&'a str>,
    pub message: &'a str,
    pub fields: &'a [(&'a str, Value)],
    pub stack: Option<&'a str>,
}

/// Shortens a source path to its last directory and file name (`pkg/log/layer.rs` →
/// `log/layer.rs`), the way zap's short caller encoder does, and appends the line.
pub(crate) fn short_caller(file: &str, line: u32) -> String {
    let trimmed = match file.rfind('/') {
        None => file,
        Some(last) => match file[..last].rfind('/') {
            None => file,
            Some(prev) => &file[prev + 1..],
        },
    };
    format!("{trimmed}:{line}")
}

/// Appends `s` JSON-escaped as zap does: `\` and `"` are backslash-escaped, `\n`, `\r`, `\t`
/// use their short forms, other bytes below 0x20 become `\u00xx` (lowercase hex); nothing else is
/// escaped (no HTML escaping, DEL and non-ASCII are written as is).
pub(crate) fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let b = c as usize;
                out.push_str("\\u00");
                out.push(char::from(HEX[b >> 4]));
                out.push(char::from(HEX[b & 0xf]));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn push_value(out: &mut String, v: &Value) {
    use std::fmt::Write;
    match v {
        Value::Str(s) => push_json_str(out, s),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::I64(n) => {
            let _ = write!(out, "{n}");
        }
        Value::U64(n) => {
            let _ = write!(out, "{n}");
        }
        Value::I128(n) => {
            let _ = write!(out, "{n}");
        }
        Value::U128(n) => {
            let _ = write!(out, "{n}");
        }
        // zap writes floats in the shortest round-trip form without an exponent (as Rust's
        // `Display` does), and the non-finite ones as strings.
        Value::F64(f) if f.is_nan() => out.push_str("\"NaN\""),
        Value::F64(f) if f.is_infinite() && *f > 0.0 => out.push_str("\"+Inf\""),
        Value::F64(f) if f.is_infinite() => out.push_str("\"-Inf\""),
        Value::F64(f) => {
            let _ = write!(out, "{f}");
        }
    }
}

/// Appends `"key":value` pairs; `spaced` selects the console style (`"k": v, "k2": v2`).
fn push_fields(out: &mut String, fields: &[(&str, Value)], spaced: bool, mut first: bool) {
    for (key, value) in fields {
        if !first {
            out.push_str(if spaced { ", " } else { "," });
        }
        first = false;
        push_json_str(out, key);
        out.push_str(if spaced { ": " } else { ":" });
        push_value(out, value);
    }
}

/// Renders `entry` in the console layout, newline included.
pub(crate) fn encode_console(entry: &Entry<'_>) -> String {
    let mut out = String::with_capacity(128 + entry.message.len());
    out.push_str(&format_log_time(entry.time));
    out.push('\t');
    out.push_str(entry.level.as_str());
    if let Some(scope) = entry.scope {
        out.push('\t');
        out.push_str(scope);
    }
    if let Some(caller) = entry.caller {
        out.push('\t');
        out.push_str(caller);
    }
    out.push('\t');
    out.push_str(entry.message);
    if !entry.fields.is_empty() {
        out.push_str("\t{");
        push_fields(&mut out, entry.fields, true, true);
        out.push('}');
    }
    if let Some(stack) = entry.stack.filter(|s| !s.is_empty()) {
        out.push('\n');
        out.push_str(stack);
    }
    out.push('\n');
    out
}

/// Renders `entry` in the JSON layout, newline included.
pub(crate) fn encode_json(entry: &Entry<'_>) -> String {
    let mut out = String::with_capacity(160 + entry.message.len());
    out.push_str("{\"level\":");
    push_json_str(&mut out, entry.level.as_str());
    out.push_str(",\"time\":");
    push_json_str(&mut out, &format_log_time(entry.time));
    if let Some(scope) = entry.scope {
        out.push_str(",\"scope\":");
        push_json_str(&mut out, scope);
    }
    if let Some(caller) = entry.caller {
        out.push_str(",\"caller\":");
        push_json_str(&mut out, caller);
    }
    out.push_str(",\"msg\":");
    push_json_str(&mut out, entry.message);
    push_fields(&mut out, entry.fields, false, false);
    if let Some(stack) = entry.stack.filter(|s| !s.is_empty()) {
        out.push_str(",\"stack\":");
        push_json_str(&mut out, stack);
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn t0() -> SystemTime {
        UNIX_EPOCH + Duration::new(1_575_973_668, 366_573_901)
    }

    fn entry<'a>(fields: &'a [(&'a str, Value)]) -> Entry<'a> {
        Entry {
            time: t0(),
            level: Level::Info,
            scope: None,
            caller: None,
            message: "hello",
            fields,
            stack: None,
        }
    }

    #[test]
    fn console_default_scope() {
        assert_eq!(
            encode_console(&entry(&[])),
            "2019-12-10T10:27:48.366573Z\tinfo\thello\n"
        );
    }

    #[test]
    fn console_scope_caller_fields_stack() {
        let fields = [
            ("node", Value::Str("sidecar~10.0.0.1".into())),
            ("conn", Value::I64(7)),
            ("ok", Value::Bool(true)),
            ("ratio", Value::F64(0.5)),
        ];
        let e = Entry {
            level: Level::Warn,
            scope: Some("ads"),
            caller: Some("v2/ads.rs:42"),
            stack: Some("   0: frame\n   1: frame"),
            ..entry(&fields)
        };
        assert_eq!(
            encode_console(&e),
            "2019-12-10T10:27:48.366573Z\twarn\tads\tv2/ads.rs:42\thello\t\
             {\"node\": \"sidecar~10.0.0.1\", \"conn\": 7, \"ok\": true, \"ratio\": 0.5}\n   0: frame\n   1: frame\n"
        );
    }

    #[test]
    fn console_empty_message_keeps_its_column() {
        let fields = [("k", Value::U64(1))];
        let e = Entry {
            message: "",
            ..entry(&fields)
        };
        assert_eq!(
            encode_console(&e),
            "2019-12-10T10:27:48.366573Z\tinfo\t\t{\"k\": 1}\n"
        );
    }

    #[test]
    fn console_message_is_not_escaped() {
        let e = Entry {
            message: "multi\nline \"quoted\"",
            ..entry(&[])
        };
        assert_eq!(
            encode_console(&e),
            "2019-12-10T10:27:48.366573Z\tinfo\tmulti\nline \"quoted\"\n"
        );
    }

    #[test]
    fn json_key_order_and_compactness() {
        let fields = [
            ("conn", Value::I64(-7)),
            ("peer", Value::Str("a\"b".into())),
        ];
        let e = Entry {
            level: Level::Error,
            scope: Some("ads"),
            caller: Some("v2/ads.rs:42"),
            stack: Some("trace"),
            ..entry(&fields)
        };
        assert_eq!(
            encode_json(&e),
            "{\"level\":\"error\",\"time\":\"2019-12-10T10:27:48.366573Z\",\"scope\":\"ads\",\
             \"caller\":\"v2/ads.rs:42\",\"msg\":\"hello\",\"conn\":-7,\"peer\":\"a\\\"b\",\
             \"stack\":\"trace\"}\n"
        );
        assert_eq!(
            encode_json(&entry(&[])),
            "{\"level\":\"info\",\"time\":\"2019-12-10T10:27:48.366573Z\",\"msg\":\"hello\"}\n"
        );
    }

    #[test]
    fn json_escaping_like_zap() {
        let mut s = String::new();
        push_json_str(&mut s, "a\\b\"c\nd\re\tf\u{1}\u{8}\u{1f}<&>\u{7f}é\u{2028}");
        assert_eq!(
            s,
            "\"a\\\\b\\\"c\\nd\\re\\tf\\u0001\\u0008\\u001f<&>\u{7f}é\u{2028}\""
        );
    }

    #[test]
    fn json_numbers_like_zap() {
        let cases = [
            (Value::F64(1.0), "1"),
            (Value::F64(-0.25), "-0.25"),
            (Value::F64(1e21), "1000000000000000000000"),
            (Value::F64(1e-7), "0.0000001"),
            (Value::F64(f64::NAN), "\"NaN\""),
            (Value::F64(f64::INFINITY), "\"+Inf\""),
            (Value::F64(f64::NEG_INFINITY), "\"-Inf\""),
            (Value::U64(u64::MAX), "18446744073709551615"),
            (
                Value::I128(-170141183460469231731687303715884105728),
                "-170141183460469231731687303715884105728",
            ),
            (Value::U128(1), "1"),
        ];
        for (v, want) in cases {
            let mut s = String::new();
            push_value(&mut s, &v);
            assert_eq!(s, want, "{v:?}");
        }
    }

    #[test]
    fn short_caller_keeps_last_directory() {
        assert_eq!(
            short_caller("pilot/pkg/proxy/envoy/v2/ads.rs", 42),
            "v2/ads.rs:42"
        );
        assert_eq!(short_caller("pkg/log.rs", 7), "pkg/log.rs:7");
        assert_eq!(short_caller("main.rs", 1), "main.rs:1");
        assert_eq!(short_caller("/abs.rs", 3), "/abs.rs:3");
    }
}
