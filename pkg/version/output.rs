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
}
