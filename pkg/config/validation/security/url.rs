//! The part of Go 1.13's `net/url.Parse` that JWKS URI checks depend on: scheme, authority and
//! host:port syntax, percent-escapes, and Go's error texts (`parse <url>: <reason>`).

use crate::gostr::quote;

/// The pieces of a parsed URL that callers use.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Url {
    /// Lower-cased scheme; empty when the URL has none.
    pub(crate) scheme: String,
    /// `host[:port]` of the authority (userinfo removed, escapes decoded).
    pub(crate) host: String,
}

impl Url {
    /// The host without its port (and without brackets for IPv6 literals).
    pub(crate) fn hostname(&self) -> &str {
        let h = self.host.as_str();
        if !h.contains(':') {
            return h;
        }
        match h.find(']') {
            Some(i) => h[..i].strip_prefix('[').unwrap_or(&h[..i]),
            None => h.split(':').next().unwrap_or(h),
        }
    }

    /// The port of the authority, or an empty string.
    pub(crate) fn port(&self) -> &str {
        let h = self.host.as_str();
        let Some(colon) = h.find(':') else {
            return "";
        };
        if let Some(i) = h.find("]:") {
            return &h[i + 2..];
        }
        if h[colon + 1..].contains(':') {
            return "";
        }
        &h[colon + 1..]
    }
}

/// Parses `raw` as Go's `url.Parse` does, far enough to find the scheme and host.
pub(crate) fn parse(raw: &str) -> Result<Url, String> {
    let (without_fragment, fragment) = match raw.split_once('#') {
        Some((u, f)) => (u, Some(f)),
        None => (raw, None),
    };
    let url =
        parse_reference(without_fragment).map_err(|e| format!("parse {without_fragment}: {e}"))?;
    if let Some(f) = fragment {
        unescape(f, Mode::Fragment).map_err(|e| format!("parse {raw}: {e}"))?;
    }
    Ok(url)
}

fn parse_reference(raw: &str) -> Result<Url, String> {
    if raw.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return Err("net/url: invalid control character in URL".into());
    }
    let mut url = Url::default();
    if raw == "*" {
        return Ok(url);
    }
    let (scheme, rest) = get_scheme(raw)?;
    url.scheme = scheme.to_ascii_lowercase();
    let rest = if rest.ends_with('?') && rest.matches('?').count() == 1 {
        &rest[..rest.len() - 1]
    } else {
        rest.split_once('?').map_or(rest, |(r, _)| r)
    };
    if !rest.starts_with('/') {
        if !url.scheme.is_empty() {
            // A rootless path after a scheme is opaque.
            return Ok(url);
        }
        let segment = rest.split('/').next().unwrap_or_default();
        if segment.contains(':') {
            return Err("first path segment in URL cannot contain colon".into());
        }
    }
    let mut path = rest;
    if let Some(after) = rest.strip_prefix("//") {
        if !url.scheme.is_empty() || !rest.starts_with("///") {
            let (authority, p) = match after.find('/') {
                Some(i) => (&after[..i], &after[i..]),
                None => (after, ""),
            };
            url.host = parse_authority(authority)?;
            path = p;
        }
    }
    unescape(path, Mode::Path)?;
    Ok(url)
}

fn get_scheme(raw: &str) -> Result<(&str, &str), String> {
    for (i, c) in raw.bytes().enumerate() {
        match c {
            b'a'..=b'z' | b'A'..=b'Z' => {}
            b'0'..=b'9' | b'+' | b'-' | b'.' if i == 0 => return Ok(("", raw)),
            b'0'..=b'9' | b'+' | b'-' | b'.' => {}
            b':' if i == 0 => return Err("missing protocol scheme".into()),
            b':' => return Ok((&raw[..i], &raw[i + 1..])),
            _ => return Ok(("", raw)),
        }
    }
    Ok(("", raw))
}

fn parse_authority(authority: &str) -> Result<String, String> {
    let (userinfo, host) = match authority.rfind('@') {
        Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
        None => (None, authority),
    };
    let host = parse_host(host)?;
    if let Some(u) = userinfo {
        if !u.bytes().all(valid_userinfo_byte) {
            return Err("net/url: invalid userinfo".into());
        }
        unescape(u, Mode::UserPassword)?;
    }
    Ok(host)
}

fn valid_userinfo_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.'
                | b'_'
                | b':'
                | b'~'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b'%'
                | b'@'
        )
}

/// `""`, or `:` followed by digits only.
fn valid_optional_port(port: &str) -> bool {
    port.is_empty()
        || port
            .strip_prefix(':')
            .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
}

fn parse_host(host: &str) -> Result<String, String> {
    if host.starts_with('[') {
        let i = host.rfind(']').ok_or("missing ']' in host")?;
        let colon_port = &host[i + 1..];
        if !valid_optional_port(colon_port) {
            return Err(format!("invalid port {} after host", quote(colon_port)));
        }
    } else if let Some(i) = host.rfind(':') {
        let colon_port = &host[i..];
        if !valid_optional_port(colon_port) {
            return Err(format!("invalid port {} after host", quote(colon_port)));
        }
    }
    unescape(host, Mode::Host)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Host,
    Path,
    UserPassword,
    Fragment,
}

/// Characters Go's URL parser refuses, unescaped, in a host name.
fn invalid_in_host(b: u8) -> bool {
    !(b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'_'
                | b'.'
                | b'~'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'['
                | b']'
                | b'<'
                | b'>'
                | b'"'
                | b'%'
        ))
}

/// Decodes `%XX` escapes, with Go's errors for malformed escapes and bad host characters.
fn unescape(s: &str, mode: Mode) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .filter(|h| h.iter().all(u8::is_ascii_hexdigit));
                let Some(hex) = hex else {
                    let end = (i + 3).min(s.len());
                    let shown = s.get(i..end).unwrap_or(&s[i..]);
                    return Err(format!("invalid URL escape {}", quote(shown)));
                };
                let value = hex.iter().fold(0u8, |v, h| {
                    v * 16 + char::from(*h).to_digit(16).map_or(0, |d| d as u8)
                });
                // In a host, escapes may only encode non-ASCII bytes (or `%25`).
                if mode == Mode::Host && value < 0x80 && value != b'%' {
                    return Err(format!("invalid URL escape {}", quote(&s[i..i + 3])));
                }
                out.push(value);
                i += 3;
            }
            b if mode == Mode::Host && b < 0x80 && invalid_in_host(b) => {
                return Err(format!(
                    "invalid character {} in host name",
                    quote(&s[i..i + 1])
                ));
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheme_host_and_port() {
        let u = parse("https://example.com:8443/keys?x=1#f").unwrap_or_default();
        assert_eq!(u.scheme, "https");
        assert_eq!(u.hostname(), "example.com");
        assert_eq!(u.port(), "8443");
        let u = parse("HTTP://user:pw@[::1]:80/").unwrap_or_default();
        assert_eq!(u.scheme, "http");
        assert_eq!(u.hostname(), "::1");
        assert_eq!(u.port(), "80");
        let u = parse("http://example.com").unwrap_or_default();
        assert_eq!(u.port(), "");
        assert_eq!(parse("mailto:x@y").unwrap_or_default().host, "");
        assert_eq!(parse("/relative").unwrap_or_default().scheme, "");
    }

    #[test]
    fn go_error_texts() {
        let cases = [
            ("://x", "parse ://x: missing protocol scheme"),
            (
                "http://x:abc/",
                r#"parse http://x:abc/: invalid port ":abc" after host"#,
            ),
            ("http://[::1/", "parse http://[::1/: missing ']' in host"),
            (
                "1a:b",
                "parse 1a:b: first path segment in URL cannot contain colon",
            ),
            (
                "http://a b/",
                r#"parse http://a b/: invalid character " " in host name"#,
            ),
            (
                "http://x/%zz",
                r#"parse http://x/%zz: invalid URL escape "%zz""#,
            ),
            (
                "http://x\n",
                "parse http://x\n: net/url: invalid control character in URL",
            ),
        ];
        for (raw, want) in cases {
            assert_eq!(parse(raw), Err(want.to_string()), "{raw:?}");
        }
    }
}
