//! Go-compatible text helpers shared by the `log` and `version` modules.
//!
//! Istio's Go binaries parse flag values with Go's `strconv` rules (`--log_as_json=T`,
//! `--log_rotate_max_age=0x10`) and print Go-syntax values (`%#v`, `%q`). These helpers
//! reproduce exactly those wire-visible behaviours so our binaries accept the same command lines
//! and print the same text.

/// Parses a boolean the way Go's `strconv.ParseBool` does (used by pflag for bool flags).
///
/// The error text is Go's, so clap shows `invalid value 'x' for '--flag': strconv.ParseBool: …`.
pub(crate) fn parse_go_bool(s: &str) -> Result<bool, String> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!(
            "strconv.ParseBool: parsing {}: invalid syntax",
            go_quote(s)
        )),
    }
}

/// Parses a signed integer the way pflag's int flags do (`strconv.ParseInt(s, 0, 64)`):
/// optional sign, base prefixes `0x`, `0o`, `0b`, a leading `0` for octal, and `_` digit
/// separators.
pub(crate) fn parse_go_int(s: &str) -> Result<i64, String> {
    let syntax = || format!("strconv.ParseInt: parsing {}: invalid syntax", go_quote(s));
    let range = || {
        format!(
            "strconv.ParseInt: parsing {}: value out of range",
            go_quote(s)
        )
    };

    let (negative, unsigned) = match s.as_bytes().first() {
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    let bytes = unsigned.as_bytes();
    let (radix, digits, prefixed) = match bytes {
        [b'0', b'x' | b'X', ..] => (16, &unsigned[2..], true),
        [b'0', b'o' | b'O', ..] => (8, &unsigned[2..], true),
        [b'0', b'b' | b'B', ..] => (2, &unsigned[2..], true),
        [b'0', _, ..] => (8, &unsigned[1..], true),
        _ => (10, unsigned, false),
    };
    if digits.is_empty() {
        return Err(syntax());
    }
    if !underscores_well_placed(digits, prefixed) {
        return Err(syntax());
    }

    let mut value: u64 = 0;
    let mut overflow = false;
    for c in digits.chars().filter(|&c| c != '_') {
        let d = c.to_digit(radix).ok_or_else(syntax)?;
        match value
            .checked_mul(u64::from(radix))
            .and_then(|v| v.checked_add(u64::from(d)))
        {
            Some(v) => value = v,
            None => overflow = true,
        }
    }
    if overflow {
        return Err(range());
    }
    if negative {
        if value > i64::MAX as u64 + 1 {
            return Err(range());
        }
        Ok((value as i128).wrapping_neg() as i64)
    } else {
        i64::try_from(value).map_err(|_| range())
    }
}

/// Go only accepts `_` between digits, or right after a base prefix.
fn underscores_well_placed(digits: &str, prefixed: bool) -> bool {
    let mut prev_underscore = false;
    let mut prev_digit = prefixed;
    for c in digits.chars() {
        if c == '_' {
            if !prev_digit || prev_underscore {
                return false;
            }
            prev_underscore = true;
        } else {
            prev_underscore = false;
            prev_digit = true;
        }
    }
    !prev_underscore
}

/// Quotes a string as Go's `strconv.Quote` (and so `%q` and `%#v`) does.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if go_printable(c) => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// An approximation of Go's `unicode.IsPrint`: graphic characters plus the ASCII space.
/// Controls, non-ASCII spaces and the common invisible format characters are not printable.
fn go_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    let cp = c as u32;
    if cp & 0xfffe == 0xfffe || (0xfdd0..=0xfdef).contains(&cp) {
        return false;
    }
    !matches!(c,
        '\u{ad}'
        | '\u{600}'..='\u{605}'
        | '\u{61c}'
        | '\u{6dd}'
        | '\u{180e}'
        | '\u{200b}'..='\u{200f}'
        | '\u{202a}'..='\u{202e}'
        | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{206f}'
        | '\u{feff}'
        | '\u{fff9}'..='\u{fffb}'
        | '\u{e000}'..='\u{f8ff}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_bool_accepts_strconv_spellings() {
        for t in ["1", "t", "T", "TRUE", "true", "True"] {
            assert_eq!(parse_go_bool(t), Ok(true), "{t}");
        }
        for f in ["0", "f", "F", "FALSE", "false", "False"] {
            assert_eq!(parse_go_bool(f), Ok(false), "{f}");
        }
        assert_eq!(
            parse_go_bool("yes"),
            Err(r#"strconv.ParseBool: parsing "yes": invalid syntax"#.to_string())
        );
    }

    #[test]
    fn go_int_bases_signs_and_separators() {
        let ok = [
            ("0", 0),
            ("30", 30),
            ("-1", -1),
            ("+7", 7),
            ("0x1F", 31),
            ("0X10", 16),
            ("0o17", 15),
            ("017", 15),
            ("0b101", 5),
            ("1_000", 1000),
            ("0x_1f", 31),
            ("0_7", 7),
            ("9223372036854775807", i64::MAX),
            ("-9223372036854775808", i64::MIN),
        ];
        for (s, v) in ok {
            assert_eq!(parse_go_int(s), Ok(v), "{s}");
        }
        for s in ["", "-", "abc", "1__0", "_1", "1_", "0x", "08", "1.5", " 1"] {
            assert_eq!(
                parse_go_int(s),
                Err(format!(
                    "strconv.ParseInt: parsing {}: invalid syntax",
                    go_quote(s)
                )),
                "{s:?}"
            );
        }
        for s in [
            "9223372036854775808",
            "-9223372036854775809",
            "0xffffffffffffffffff",
        ] {
            assert!(
                parse_go_int(s).unwrap_err().ends_with("value out of range"),
                "{s}"
            );
        }
    }

    #[test]
    fn quote_like_strconv() {
        assert_eq!(go_quote("1.4.10"), r#""1.4.10""#);
        assert_eq!(go_quote(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(
            go_quote("l1\nl2\t\u{7}\u{1}\u{7f}"),
            r#""l1\nl2\t\a\x01\x7f""#
        );
        assert_eq!(go_quote("héllo ✓"), "\"héllo ✓\"");
        assert_eq!(
            go_quote("\u{a0}\u{200b}\u{10ffff}"),
            r#""\u00a0\u200b\U0010ffff""#
        );
    }
}
