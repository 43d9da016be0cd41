//! Go standard-library behaviour that shows in Istio's wire-visible text: what Go's `strconv`,
//! `fmt`, `time` and `net` packages accept and print. Upstream's flags are parsed with these
//! rules (`--log_as_json=T`, `--log_rotate_max_age=0x10`) and its messages are printed with them
//! (`%q`, `%v` of floats and durations), so our binaries accept the same command lines and print
//! the same text.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Go's `%v` of a float64 (`strconv.FormatFloat(f, 'g', -1, 64)`): the shortest representation,
/// in exponent form when the decimal exponent is below -4 or at least 6 (`1e+06`, `1e-05`).
pub fn format_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    // Rust's `{:e}` gives the shortest round-trip digits: "1.2345e-5".
    let sci = format!("{f:e}");
    let Some((mantissa, exp)) = sci.split_once('e') else {
        return sci;
    };
    let exp: i32 = exp.parse().unwrap_or(0);
    let (neg, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if !(-4..6).contains(&exp) {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push_str(&format!(
            "e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.abs()
        ));
    } else if exp < 0 {
        out.push_str("0.");
        out.push_str(&"0".repeat((-exp - 1) as usize));
        out.push_str(&digits);
    } else {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            out.push_str(&digits);
            out.push_str(&"0".repeat(int_len - digits.len()));
        } else {
            out.push_str(&digits[..int_len]);
            out.push('.');
            out.push_str(&digits[int_len..]);
        }
    }
    out
}

/// Nanoseconds per unit, for Go's `time.Duration`.
pub const NANOS_PER_MICRO: i64 = 1_000;
pub const NANOS_PER_MILLI: i64 = 1_000_000;
pub const NANOS_PER_SECOND: i64 = 1_000_000_000;

/// Go's `time.Duration.String()` for a duration in nanoseconds: `"1h2m3.5s"`, `"1.5ms"`,
/// `"100µs"`, `"0s"`.
pub fn format_duration(nanos: i64) -> String {
    let neg = nanos < 0;
    let mut u = nanos.unsigned_abs();
    let mut out = String::new();
    if u < NANOS_PER_SECOND as u64 {
        let (prec, unit) = match u {
            0 => return "0s".into(),
            u if u < NANOS_PER_MICRO as u64 => (0, "ns"),
            u if u < NANOS_PER_MILLI as u64 => (3, "µs"),
            _ => (6, "ms"),
        };
        let (int, frac) = split_frac(u, prec);
        out.push_str(&int.to_string());
        out.push_str(&frac);
        out.push_str(unit);
    } else {
        let (secs, frac) = split_frac(u, 9);
        u = secs;
        let s = u % 60;
        u /= 60;
        if u > 0 {
            let m = u % 60;
            u /= 60;
            if u > 0 {
                out.push_str(&format!("{u}h"));
            }
            out.push_str(&format!("{m}m"));
        }
        out.push_str(&format!("{s}{frac}s"));
    }
    if neg {
        out.insert(0, '-');
    }
    out
}

/// Splits `v` into its integer part and a `.ddd` fraction of `prec` digits without trailing
/// zeros (empty when the fraction is zero), as Go's `fmtFrac`.
fn split_frac(v: u64, prec: u32) -> (u64, String) {
    let scale = 10u64.pow(prec);
    let frac = v % scale;
    if frac == 0 {
        return (v / scale, String::new());
    }
    let digits = format!("{:0width$}", frac, width = prec as usize);
    (v / scale, format!(".{}", digits.trim_end_matches('0')))
}

/// Go's `strconv.Atoi` on a 64-bit platform, with its error text
/// (`strconv.Atoi: parsing "x": invalid syntax`).
pub fn atoi(s: &str) -> Result<i64, String> {
    let syntax = || format!("strconv.Atoi: parsing {}: invalid syntax", quote(s));
    let range = || format!("strconv.Atoi: parsing {}: value out of range", quote(s));
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() {
        return Err(syntax());
    }
    let mut n: u64 = 0;
    for b in digits.bytes() {
        if !b.is_ascii_digit() {
            return Err(syntax());
        }
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(b - b'0')))
            .ok_or_else(range)?;
    }
    let limit = if neg { 1u64 << 63 } else { (1u64 << 63) - 1 };
    if n > limit {
        return Err(range());
    }
    // `n <= 2^63` here, so the conversion below cannot wrap except for -2^63 itself.
    Ok(if neg {
        (n as i64).wrapping_neg()
    } else {
        n as i64
    })
}

/// Go's `strconv.ParseUint(s, 10, 32)`, with its error text.
pub fn parse_uint32(s: &str) -> Result<u64, String> {
    let err = |why: &str| format!("strconv.ParseUint: parsing {}: {why}", quote(s));
    if s.is_empty() {
        return Err(err("invalid syntax"));
    }
    let mut n: u64 = 0;
    for b in s.bytes() {
        if !b.is_ascii_digit() {
            return Err(err("invalid syntax"));
        }
        n = n * 10 + u64::from(b - b'0');
        if n > u64::from(u32::MAX) {
            return Err(err("value out of range"));
        }
    }
    Ok(n)
}

/// Go 1.13's `parseIPv4`: four dot-separated decimal fields of at most 255 each; leading zeros
/// are accepted and read as decimal.
fn parse_ipv4(s: &str) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut fields = s.split('.');
    for o in &mut octets {
        let f = fields.next()?;
        if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let v = f.bytes().try_fold(0u32, |n, b| {
            let n = n * 10 + u32::from(b - b'0');
            (n <= 0xFF).then_some(n)
        })?;
        *o = u8::try_from(v).ok()?;
    }
    fields.next().is_none().then(|| Ipv4Addr::from(octets))
}

/// Go's `net.ParseIP`: IPv4 dotted decimal or IPv6 text (no zone), decided by whether a `.` or
/// a `:` comes first.
pub fn parse_ip(s: &str) -> Option<IpAddr> {
    match s.bytes().find(|b| *b == b'.' || *b == b':') {
        Some(b'.') => parse_ipv4(s).map(IpAddr::V4),
        Some(_) => parse_ipv6(s).map(IpAddr::V6),
        None => None,
    }
}

/// IPv6 text; an embedded IPv4 tail follows Go's IPv4 rules.
fn parse_ipv6(s: &str) -> Option<Ipv6Addr> {
    if let Ok(a) = s.parse::<Ipv6Addr>() {
        return Some(a);
    }
    // Go accepts leading zeros in an embedded IPv4 tail; re-parse with a canonical tail.
    let (head, tail) = s.rsplit_once(':')?;
    let v4 = parse_ipv4(tail)?;
    format!("{head}:{v4}").parse().ok()
}

/// Go's `ip.To4() != nil`: an IPv4 address or an IPv4-mapped IPv6 address.
pub fn is_ipv4(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(_) => true,
        IpAddr::V6(v6) => v6.to_ipv4_mapped().is_some(),
    }
}

/// Go's `net.ParseCIDR`, returning the address part, or Go's error text
/// (`invalid CIDR address: x`).
pub fn parse_cidr(s: &str) -> Result<IpAddr, String> {
    let err = || format!("invalid CIDR address: {s}");
    let (addr, mask) = s.split_once('/').ok_or_else(err)?;
    let (ip, bits) = match parse_ipv4(addr) {
        Some(v4) => (IpAddr::V4(v4), 32),
        None => (IpAddr::V6(parse_ipv6(addr).ok_or_else(err)?), 128),
    };
    if mask.is_empty() || !mask.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err());
    }
    let n = mask
        .bytes()
        .try_fold(0u32, |n, b| {
            let n = n * 10 + u32::from(b - b'0');
            (n < 0xFF_FFFF).then_some(n)
        })
        .ok_or_else(err)?;
    if n > bits {
        return Err(err());
    }
    Ok(ip)
}

/// Go's `net.SplitHostPort`, with Go's error text (`address x: missing port in address`).
pub fn split_host_port(hostport: &str) -> Result<(&str, &str), String> {
    let err = |why: &str| format!("address {hostport}: {why}");
    const MISSING_PORT: &str = "missing port in address";
    const TOO_MANY_COLONS: &str = "too many colons in address";

    let i = hostport.rfind(':').ok_or_else(|| err(MISSING_PORT))?;
    let (host, j, k) = if hostport.starts_with('[') {
        let end = hostport
            .find(']')
            .ok_or_else(|| err("missing ']' in address"))?;
        if end + 1 == hostport.len() {
            return Err(err(MISSING_PORT));
        }
        if end + 1 != i {
            return Err(if hostport.as_bytes()[end + 1] == b':' {
                err(TOO_MANY_COLONS)
            } else {
                err(MISSING_PORT)
            });
        }
        (&hostport[1..end], 1, end + 1)
    } else {
        let host = &hostport[..i];
        if host.contains(':') {
            return Err(err(TOO_MANY_COLONS));
        }
        (host, 0, 0)
    };
    if hostport[j..].contains('[') {
        return Err(err("unexpected '[' in address"));
    }
    if hostport[k..].contains(']') {
        return Err(err("unexpected ']' in address"));
    }
    Ok((host, &hostport[i + 1..]))
}

/// True when Go 1.13's `http.StatusText(code)` is non-empty.
pub fn is_known_http_status(code: i64) -> bool {
    matches!(
        code,
        100..=103
            | 200..=208
            | 226
            | 300..=305
            | 307
            | 308
            | 400..=418
            | 421..=426
            | 428
            | 429
            | 431
            | 451
            | 500..=508
            | 510
            | 511
    )
}

/// Go's `%#v` of a gogo `*types.Duration` (`&types.Duration{Seconds: 1,\nNanos: 2,\n}`), as it
/// appears in duration range errors.
pub fn duration_go_string(seconds: i64, nanos: i32) -> String {
    format!("&types.Duration{{Seconds: {seconds},\nNanos: {nanos},\n}}")
}

/// Go's `%#v` of a gogo `*types.Timestamp`.
pub fn timestamp_go_string(seconds: i64, nanos: i32) -> String {
    format!("&types.Timestamp{{Seconds: {seconds},\nNanos: {nanos},\n}}")
}

/// Quotes a string as the protobuf text format does (gogo `CompactTextString`): octal escapes
/// for bytes outside printable ASCII.
pub fn proto_text_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for b in s.bytes() {
        match b {
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(char::from(b)),
            _ => out.push_str(&format!("\\{b:03o}")),
        }
    }
    out.push('"');
    out
}

/// Parses a boolean the way Go's `strconv.ParseBool` does (used by pflag for bool flags).
///
/// The error text is Go's, so clap shows `invalid value 'x' for '--flag': strconv.ParseBool: …`.
pub fn parse_go_bool(s: &str) -> Result<bool, String> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!(
            "strconv.ParseBool: parsing {}: invalid syntax",
            quote(s)
        )),
    }
}

/// Parses a signed integer the way pflag's int flags do (`strconv.ParseInt(s, 0, 64)`):
/// optional sign, base prefixes `0x`, `0o`, `0b`, a leading `0` for octal, and `_` digit
/// separators.
pub fn parse_go_int(s: &str) -> Result<i64, String> {
    let syntax = || format!("strconv.ParseInt: parsing {}: invalid syntax", quote(s));
    let range = || format!("strconv.ParseInt: parsing {}: value out of range", quote(s));

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
pub fn quote(s: &str) -> String {
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
    fn quote_like_go() {
        assert_eq!(quote("abc"), r#""abc""#);
        assert_eq!(quote(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(quote("a\nb\t\u{1}"), r#""a\nb\t\x01""#);
        assert_eq!(quote("héllo"), "\"héllo\"");
        assert_eq!(quote(""), r#""""#);
    }

    #[test]
    fn float_like_go() {
        let cases = [
            (0.0, "0"),
            (1.0, "1"),
            (-1.0, "-1"),
            (101.0, "101"),
            (100.5, "100.5"),
            (0.5, "0.5"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (0.000_012_3, "1.23e-05"),
            (-0.0000001, "-1e-07"),
            (100000.0, "100000"),
            (1234567.0, "1.234567e+06"),
            (1e20, "1e+20"),
            (123456789.0, "1.23456789e+08"),
        ];
        for (f, want) in cases {
            assert_eq!(format_float(f), want, "{f}");
        }
    }

    #[test]
    fn duration_like_go() {
        let cases = [
            (0, "0s"),
            (1, "1ns"),
            (1_100, "1.1µs"),
            (2_200_000, "2.2ms"),
            (NANOS_PER_MILLI, "1ms"),
            (NANOS_PER_SECOND, "1s"),
            (3 * NANOS_PER_SECOND / 2, "1.5s"),
            (30 * NANOS_PER_SECOND, "30s"),
            (60 * NANOS_PER_SECOND, "1m0s"),
            (3_600 * NANOS_PER_SECOND, "1h0m0s"),
            (3_600 * NANOS_PER_SECOND + 1, "1h0m0.000000001s"),
            (-NANOS_PER_SECOND, "-1s"),
            (-1, "-1ns"),
        ];
        for (d, want) in cases {
            assert_eq!(format_duration(d), want, "{d}");
        }
    }

    #[test]
    fn atoi_like_go() {
        assert_eq!(atoi("80"), Ok(80));
        assert_eq!(atoi("-80"), Ok(-80));
        assert_eq!(atoi("+80"), Ok(80));
        assert_eq!(atoi("007"), Ok(7));
        assert_eq!(
            atoi("a"),
            Err(r#"strconv.Atoi: parsing "a": invalid syntax"#.to_string())
        );
        assert_eq!(
            atoi(""),
            Err(r#"strconv.Atoi: parsing "": invalid syntax"#.to_string())
        );
        assert_eq!(
            atoi("-"),
            Err(r#"strconv.Atoi: parsing "-": invalid syntax"#.to_string())
        );
        assert_eq!(
            atoi("99999999999999999999"),
            Err(r#"strconv.Atoi: parsing "99999999999999999999": value out of range"#.to_string())
        );
        assert_eq!(atoi("-9223372036854775808"), Ok(i64::MIN));
        assert!(atoi("9223372036854775808").is_err());
    }

    #[test]
    fn parse_ip_like_go() {
        assert!(parse_ip("1.2.3.4").is_some());
        assert!(parse_ip("001.002.003.004").is_some());
        assert!(parse_ip("256.0.0.1").is_none());
        assert!(parse_ip("1.2.3").is_none());
        assert!(parse_ip("1.2.3.4.5").is_none());
        assert!(parse_ip("1.2.3.4 ").is_none());
        assert!(parse_ip("::1").is_some());
        assert!(parse_ip("2001:db8::1").is_some());
        assert!(parse_ip("::ffff:1.2.3.4").is_some());
        assert!(parse_ip("fe80::1%eth0").is_none());
        assert!(parse_ip("foo").is_none());
        assert!(parse_ip("").is_none());
        assert!(is_ipv4(
            &parse_ip("::ffff:1.2.3.4").unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
        ));
        assert!(!is_ipv4(&IpAddr::V6(Ipv6Addr::LOCALHOST)));
    }

    #[test]
    fn parse_cidr_like_go() {
        assert!(parse_cidr("10.0.0.0/8").is_ok());
        assert!(parse_cidr("10.0.0.0/32").is_ok());
        assert!(parse_cidr("2001:db8::/32").is_ok());
        assert_eq!(
            parse_cidr("10.0.0.0/33"),
            Err("invalid CIDR address: 10.0.0.0/33".to_string())
        );
        assert!(parse_cidr("10.0.0.0/").is_err());
        assert!(parse_cidr("10.0.0/8").is_err());
        assert!(parse_cidr("10.0.0.0").is_err());
    }

    #[test]
    fn split_host_port_like_go() {
        assert_eq!(split_host_port("a:80"), Ok(("a", "80")));
        assert_eq!(split_host_port("[::1]:80"), Ok(("::1", "80")));
        assert_eq!(split_host_port(":80"), Ok(("", "80")));
        assert_eq!(split_host_port("a:"), Ok(("a", "")));
        assert_eq!(
            split_host_port("a"),
            Err("address a: missing port in address".to_string())
        );
        assert_eq!(
            split_host_port("a:b:c"),
            Err("address a:b:c: too many colons in address".to_string())
        );
        assert_eq!(
            split_host_port("[::1:80"),
            Err("address [::1:80: missing ']' in address".to_string())
        );
        assert_eq!(
            split_host_port("[::1]80"),
            Err("address [::1]80: missing port in address".to_string())
        );
        assert_eq!(
            split_host_port("a]:80"),
            Err("address a]:80: unexpected ']' in address".to_string())
        );
    }

    #[test]
    fn proto_text_quoting() {
        assert_eq!(proto_text_quote("HTTP"), r#""HTTP""#);
        assert_eq!(proto_text_quote("é"), r#""\303\251""#);
    }

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
                    quote(s)
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
        assert_eq!(quote("1.4.10"), r#""1.4.10""#);
        assert_eq!(quote(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(quote("l1\nl2\t\u{7}\u{1}\u{7f}"), r#""l1\nl2\t\a\x01\x7f""#);
        assert_eq!(quote("héllo ✓"), "\"héllo ✓\"");
        assert_eq!(
            quote("\u{a0}\u{200b}\u{10ffff}"),
            r#""\u00a0\u200b\U0010ffff""#
        );
    }
}
