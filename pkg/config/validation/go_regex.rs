//! Compiling a regular expression with Go's (RE2) rules and Go's error text.
//!
//! Upstream checks a user-supplied pattern with Go's `regexp.Compile` and shows its error
//! (`error parsing regexp: missing closing ): `(``). Rust's `regex` crate accepts nearly the
//! same syntax; the differences that matter for validation are handled here before the pattern
//! reaches it:
//! * Go rejects stacked repetition operators (`a**`, `a++`) as "invalid nested repetition
//!   operator"; Rust accepts some of them.
//! * Go reads a `{` that does not start a valid `{n}`, `{n,}` or `{n,m}` as a literal; Rust
//!   rejects it. Such braces are escaped before compiling.
//! * Go limits repeat counts to 1000.
//!
//! The remaining Rust errors are mapped onto Go's error codes; the quoted fragment is the part
//! of the pattern Rust points at, which may differ from Go's for unusual patterns.

use regex_syntax::ast::{self, ErrorKind};

/// Largest repeat count Go accepts.
const MAX_REPEAT: u32 = 1000;

/// Compiles `expr` as Go would; on failure returns Go's error text.
pub(crate) fn compile(expr: &str) -> Result<(), String> {
    let translated = prescan(expr).map_err(|e| e.to_string())?;
    if let Err(e) = ast::parse::Parser::new().parse(&translated) {
        return Err(map_ast_error(&translated, &e).to_string());
    }
    regex::Regex::new(&translated)
        .map(|_| ())
        .map_err(|_| GoError::new("invalid or unsupported Perl syntax", expr).to_string())
}

/// Go's `*regexp/syntax.Error`.
struct GoError<'a> {
    code: &'static str,
    expr: &'a str,
}

impl<'a> GoError<'a> {
    fn new(code: &'static str, expr: &'a str) -> Self {
        GoError { code, expr }
    }
}

impl std::fmt::Display for GoError<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "error parsing regexp: {}: `{}`", self.code, self.expr)
    }
}

/// Parses `{n}`, `{n,}` or `{n,m}` at the start of `s`; returns (min, max, length).
fn parse_repeat(s: &str) -> Option<(u64, Option<u64>, usize)> {
    let body_end = s.find('}')?;
    let body = s.get(1..body_end)?;
    let number = |t: &str| -> Option<u64> {
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        // Saturate: anything this large is rejected as too big anyway.
        Some(t.parse().unwrap_or(u64::MAX))
    };
    let (min, max) = match body.split_once(',') {
        None => {
            let n = number(body)?;
            (n, Some(n))
        }
        Some((lo, "")) => (number(lo)?, None),
        Some((lo, hi)) => (number(lo)?, Some(number(hi)?)),
    };
    Some((min, max, body_end + 1))
}

/// Walks the pattern once, checking Go's repetition rules and escaping literal braces.
fn prescan(expr: &str) -> Result<String, GoError<'_>> {
    let mut out = String::with_capacity(expr.len() + 8);
    // Start of the repetition operator that ended the previous token, if it was one.
    let mut last_repeat: Option<usize> = None;
    let mut i = 0;
    while i < expr.len() {
        let rest = &expr[i..];
        let Some(c) = rest.chars().next() else { break };
        let mut repeat_end = None;
        match c {
            '\\' => {
                let len = escape_len(rest);
                out.push_str(&rest[..len]);
                i += len;
            }
            '[' => {
                let len = class_len(rest);
                out.push_str(&rest[..len]);
                i += len;
            }
            '*' | '+' | '?' => repeat_end = Some(i + 1),
            '{' => match parse_repeat(rest) {
                Some((min, max, len)) => {
                    let too_big = min > u64::from(MAX_REPEAT)
                        || max.is_some_and(|m| m > u64::from(MAX_REPEAT) || min > m);
                    if too_big {
                        return Err(GoError::new("invalid repeat count", &rest[..len]));
                    }
                    repeat_end = Some(i + len);
                }
                None => {
                    out.push_str("\\{");
                    i += 1;
                }
            },
            c => {
                out.push(c);
                i += c.len_utf8();
            }
        }
        match repeat_end {
            Some(mut end) => {
                if expr[end..].starts_with('?') {
                    end += 1;
                }
                if let Some(start) = last_repeat {
                    return Err(GoError::new(
                        "invalid nested repetition operator",
                        &expr[start..end],
                    ));
                }
                out.push_str(&expr[i..end]);
                last_repeat = Some(i);
                i = end;
            }
            None => last_repeat = None,
        }
    }
    Ok(out)
}

/// Length of the escape sequence at the start of `s` (a backslash and what it applies to).
fn escape_len(s: &str) -> usize {
    let mut chars = s.char_indices().skip(1);
    match chars.next() {
        None => 1,
        Some((j, 'p' | 'P' | 'x')) if s[j + 1..].starts_with('{') => {
            s[j..].find('}').map_or(s.len(), |k| j + k + 1)
        }
        Some((j, c)) => j + c.len_utf8(),
    }
}

/// Length of the character class at the start of `s` (through its closing `]`, or the whole
/// rest when it is unclosed, which the parser then reports).
fn class_len(s: &str) -> usize {
    let bytes = s.as_bytes();
    let mut j = 1;
    if bytes.get(j) == Some(&b'^') {
        j += 1;
    }
    if bytes.get(j) == Some(&b']') {
        j += 1;
    }
    while j < bytes.len() {
        match bytes[j] {
            b'\\' => j += escape_len(&s[j..]),
            b'[' if bytes.get(j + 1) == Some(&b':') => {
                j = s[j + 2..].find(":]").map_or(j + 1, |k| j + 2 + k + 2);
            }
            b']' => return j + 1,
            _ => j += 1,
        }
    }
    s.len()
}

/// The repetition operator at the start of `s` (`*`, `+`, `?` or `{...}`), with a trailing `?`.
fn repeat_operator(s: &str) -> &str {
    let len = match s.chars().next() {
        Some('{') => parse_repeat(s).map_or(1, |(_, _, len)| len),
        Some(c) => c.len_utf8(),
        None => 0,
    };
    let len = if s[len..].starts_with('?') {
        len + 1
    } else {
        len
    };
    &s[..len]
}

/// Maps a Rust parse error onto Go's code and fragment.
fn map_ast_error<'a>(expr: &'a str, e: &ast::Error) -> GoError<'a> {
    let span = e.span();
    let (start, end) = (span.start.offset, span.end.offset.max(span.start.offset));
    let fragment = expr.get(start..end).unwrap_or(expr);
    match e.kind() {
        ErrorKind::GroupUnclosed => GoError::new("missing closing )", expr),
        ErrorKind::GroupUnopened => GoError::new("unexpected )", expr),
        ErrorKind::ClassUnclosed => {
            GoError::new("missing closing ]", expr.get(start..).unwrap_or(expr))
        }
        ErrorKind::ClassRangeInvalid | ErrorKind::ClassRangeLiteral => {
            GoError::new("invalid character class range", fragment)
        }
        ErrorKind::EscapeUnexpectedEof => {
            GoError::new("trailing backslash at end of expression", "")
        }
        ErrorKind::ClassEscapeInvalid
        | ErrorKind::EscapeHexEmpty
        | ErrorKind::EscapeHexInvalid
        | ErrorKind::EscapeHexInvalidDigit
        | ErrorKind::EscapeUnrecognized
        | ErrorKind::UnsupportedBackreference => GoError::new("invalid escape sequence", fragment),
        ErrorKind::RepetitionMissing => GoError::new(
            "missing argument to repetition operator",
            expr.get(start..).map_or(fragment, repeat_operator),
        ),
        ErrorKind::RepetitionCountInvalid
        | ErrorKind::RepetitionCountDecimalEmpty
        | ErrorKind::RepetitionCountUnclosed
        | ErrorKind::DecimalEmpty
        | ErrorKind::DecimalInvalid => GoError::new("invalid repeat count", fragment),
        ErrorKind::GroupNameDuplicate { .. }
        | ErrorKind::GroupNameEmpty
        | ErrorKind::GroupNameInvalid
        | ErrorKind::GroupNameUnexpectedEof => GoError::new("invalid named capture", fragment),
        _ => GoError::new("invalid or unsupported Perl syntax", fragment),
    }
}

#[cfg(test)]
mod tests {
    use super::compile;

    #[test]
    fn accepts_go_patterns() {
        for ok in [
            r"release-1\.2-23434",
            r"^1\.4.*",
            "a{b",
            "a{1,2}",
            "a{,2}",
            "x+?",
            "[a-z]+",
            "[]a]",
            "[[:alpha:]]*",
            r"\p{Greek}+",
            "",
        ] {
            assert_eq!(compile(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn go_error_texts() {
        let cases = [
            (
                "%#@~++==`24c234`",
                "error parsing regexp: invalid nested repetition operator: `++`",
            ),
            (
                "a**",
                "error parsing regexp: invalid nested repetition operator: `**`",
            ),
            (
                "a+?*",
                "error parsing regexp: invalid nested repetition operator: `+?*`",
            ),
            ("(", "error parsing regexp: missing closing ): `(`"),
            ("a(b", "error parsing regexp: missing closing ): `a(b`"),
            ("a)", "error parsing regexp: unexpected ): `a)`"),
            ("[a", "error parsing regexp: missing closing ]: `[a`"),
            (
                "a{1001}",
                "error parsing regexp: invalid repeat count: `{1001}`",
            ),
            (
                "a{2,1}",
                "error parsing regexp: invalid repeat count: `{2,1}`",
            ),
            (
                "*",
                "error parsing regexp: missing argument to repetition operator: `*`",
            ),
        ];
        for (expr, want) in cases {
            assert_eq!(compile(expr), Err(want.to_string()), "{expr}");
        }
        assert!(compile(r"\8").is_err());
        assert!(compile("[z-a]").is_err());
    }
}
