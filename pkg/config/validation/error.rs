//! The validation error, shaped like upstream's Go errors so that its text is identical.

use std::fmt;

/// A validation failure.
///
/// Upstream builds its errors from plain Go errors and hashicorp/go-multierror v1.0.0 lists, and
/// users see their formatted text. This type keeps that shape:
/// * [`Error::Single`] is a plain error; its text is the message itself.
/// * [`Error::Multi`] is a multierror: a flat list of messages, shown as
///   `"1 error occurred:\n\t* a\n\n"` or `"2 errors occurred:\n\t* a\n\t* b\n\n"`. A
///   multierror may hold a single message; it still prints in list form.
///
/// When an error is embedded in another message (Go's `fmt.Errorf("...: %v", err)`), its full
/// text, list form included, becomes part of the new single message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// A plain error.
    Single(String),
    /// A go-multierror list.
    Multi(Vec<String>),
}

impl Error {
    /// A plain error with the given message.
    pub fn new(msg: impl Into<String>) -> Self {
        Error::Single(msg.into())
    }

    /// The messages this error holds: one for a plain error, the list for a multierror.
    pub fn messages(&self) -> &[String] {
        match self {
            Error::Single(m) => std::slice::from_ref(m),
            Error::Multi(v) => v,
        }
    }

    /// True for the list form.
    pub fn is_multi(&self) -> bool {
        matches!(self, Error::Multi(_))
    }

    fn into_messages(self) -> Vec<String> {
        match self {
            Error::Single(m) => vec![m],
            Error::Multi(v) => v,
        }
    }

    /// Upstream's `multierror.Prefix(err, prefix)`: prefixes each message of a list, or the
    /// message of a plain error, with `prefix` and a space. The shape is kept.
    #[must_use]
    pub fn prefixed(self, prefix: &str) -> Self {
        let add = |m: String| format!("{prefix} {m}");
        match self {
            Error::Single(m) => Error::Single(add(m)),
            Error::Multi(v) => Error::Multi(v.into_iter().map(add).collect()),
        }
    }

    /// Upstream's `multierror.Append(err, other)` with both errors present: a list of the
    /// messages of both, flattened one level.
    #[must_use]
    pub fn join(self, other: Error) -> Self {
        let mut v = self.into_messages();
        v.extend(other.into_messages());
        Error::Multi(v)
    }

    /// Upstream's `multierror.Append(nil, err)`: the error in list form.
    #[must_use]
    pub fn into_multi(self) -> Self {
        Error::Multi(self.into_messages())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Single(m) => f.write_str(m),
            Error::Multi(v) if v.len() == 1 => write!(f, "1 error occurred:\n\t* {}\n\n", v[0]),
            Error::Multi(v) => {
                write!(f, "{} errors occurred:", v.len())?;
                for m in v {
                    write!(f, "\n\t* {m}")?;
                }
                f.write_str("\n\n")
            }
        }
    }
}

impl std::error::Error for Error {}

impl From<String> for Error {
    fn from(m: String) -> Self {
        Error::Single(m)
    }
}

impl From<&str> for Error {
    fn from(m: &str) -> Self {
        Error::Single(m.to_owned())
    }
}

/// Accumulates errors the two ways upstream does.
///
/// * [`Errors::append`] is upstream's local `appendErrors`: nothing stays nothing, a first error
///   is kept as it is (a plain error stays plain), and any further error turns the result into
///   a flattened list.
/// * [`Errors::append_multi`] is `multierror.Append`: the result is always a list.
#[derive(Debug, Default)]
pub(crate) struct Errors(Option<Error>);

impl Errors {
    pub(crate) fn new() -> Self {
        Errors(None)
    }

    /// `appendErrors(errs, result)`.
    pub(crate) fn append(&mut self, result: super::Result) {
        if let Err(e) = result {
            self.push(e);
        }
    }

    /// `appendErrors(errs, err)` with an error present.
    pub(crate) fn push(&mut self, e: Error) {
        self.0 = Some(match self.0.take() {
            None => e,
            Some(prev) => prev.join(e),
        });
    }

    /// `appendErrors(errs, errors.New(msg))`.
    pub(crate) fn msg(&mut self, msg: impl Into<String>) {
        self.push(Error::new(msg));
    }

    /// `multierror.Append(errs, result)`, skipping `Ok`.
    pub(crate) fn append_multi(&mut self, result: super::Result) {
        if let Err(e) = result {
            self.push_multi(e);
        }
    }

    /// `multierror.Append(errs, err)`.
    pub(crate) fn push_multi(&mut self, e: Error) {
        self.0 = Some(match self.0.take() {
            None => e.into_multi(),
            Some(prev) => prev.join(e),
        });
    }

    /// `multierror.Append(errs, errors.New(msg))`.
    pub(crate) fn msg_multi(&mut self, msg: impl Into<String>) {
        self.push_multi(Error::new(msg));
    }

    /// Replaces everything gathered so far with `result` (upstream assigns instead of
    /// appending in one place, dropping earlier errors).
    pub(crate) fn replace(&mut self, result: super::Result) {
        self.0 = result.err();
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    pub(crate) fn finish(self) -> super::Result {
        self.0.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_matches_go_multierror() {
        assert_eq!(Error::new("boom").to_string(), "boom");
        assert_eq!(
            Error::Multi(vec!["a".into()]).to_string(),
            "1 error occurred:\n\t* a\n\n"
        );
        assert_eq!(
            Error::Multi(vec!["a".into(), "b".into()]).to_string(),
            "2 errors occurred:\n\t* a\n\t* b\n\n"
        );
    }

    #[test]
    fn append_errors_semantics() {
        let mut e = Errors::new();
        e.append(Ok(()));
        assert_eq!(e.finish(), Ok(()));

        let mut e = Errors::new();
        e.msg("a");
        assert_eq!(e.finish(), Err(Error::new("a")));

        let mut e = Errors::new();
        e.push(Error::Multi(vec!["a".into()]));
        assert_eq!(e.finish(), Err(Error::Multi(vec!["a".into()])));

        let mut e = Errors::new();
        e.msg("a");
        e.push(Error::Multi(vec!["b".into(), "c".into()]));
        e.msg("d");
        assert_eq!(
            e.finish(),
            Err(Error::Multi(vec![
                "a".into(),
                "b".into(),
                "c".into(),
                "d".into()
            ]))
        );
    }

    #[test]
    fn multierror_append_semantics() {
        let mut e = Errors::new();
        e.msg_multi("a");
        assert_eq!(e.finish(), Err(Error::Multi(vec!["a".into()])));

        let mut e = Errors::new();
        e.msg_multi("a");
        e.push_multi(Error::Multi(vec!["b".into()]));
        assert_eq!(e.finish(), Err(Error::Multi(vec!["a".into(), "b".into()])));
    }

    #[test]
    fn prefix_keeps_shape() {
        assert_eq!(Error::new("x").prefixed("p:"), Error::new("p: x"));
        assert_eq!(
            Error::Multi(vec!["x".into(), "y".into()]).prefixed("p:"),
            Error::Multi(vec!["p: x".into(), "p: y".into()])
        );
    }

    #[test]
    fn embedding_a_list_embeds_its_text() {
        let inner = Error::Multi(vec!["x".into()]);
        assert_eq!(
            Error::new(format!("outer: {inner}")).to_string(),
            "outer: 1 error occurred:\n\t* x\n\n"
        );
    }
}
