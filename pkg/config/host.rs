//! Host names with wildcard matching (upstream `pkg/config/host`).
//!
//! A host [`Name`] is a DNS name that may start with `*`, which stands for any (possibly empty)
//! prefix: `*.example.com` covers `a.example.com` and `a.b.example.com`, and `*` covers every
//! name. [`Names`] is a list of them with upstream's sort order (most specific first).

use std::{borrow::Borrow, cmp::Ordering, fmt, ops::Deref};

/// A host name, possibly wildcarded with a leading `*`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name(String);

impl Name {
    /// Wraps a host name.
    pub fn new(name: impl Into<String>) -> Self {
        Name(name.into())
    }

    /// The host name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Unwraps the host name.
    pub fn into_string(self) -> String {
        self.0
    }

    /// True when the name starts with `*`.
    pub fn is_wildcarded(&self) -> bool {
        is_wildcarded(&self.0)
    }

    /// True when the two names can describe a common host (the relation is symmetric).
    pub fn matches(&self, other: &Name) -> bool {
        matches(&self.0, &other.0)
    }

    /// True when every host this name describes is also described by `other`.
    pub fn subset_of(&self, other: &Name) -> bool {
        subset_of(&self.0, &other.0)
    }
}

impl Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for Name {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for Name {
    fn from(s: &str) -> Self {
        Name(s.to_owned())
    }
}

impl From<String> for Name {
    fn from(s: String) -> Self {
        Name(s)
    }
}

impl From<Name> for String {
    fn from(n: Name) -> Self {
        n.0
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// True when `name` starts with `*`.
pub fn is_wildcarded(name: &str) -> bool {
    name.starts_with('*')
}

/// The part of a wildcarded name after its leading `*`.
fn wildcard_suffix(name: &str) -> &str {
    &name[1..]
}

/// [`Name::matches`] on string slices: true when `a` and `b` can describe a common host.
///
/// Two plain names match when equal; a wildcard matches any name ending with its suffix; two
/// wildcards match when one suffix ends with the other.
pub fn matches(a: &str, b: &str) -> bool {
    match (is_wildcarded(a), is_wildcarded(b)) {
        (true, true) => {
            let (sa, sb) = (wildcard_suffix(a), wildcard_suffix(b));
            if a.len() < b.len() {
                sb.ends_with(sa)
            } else {
                sa.ends_with(sb)
            }
        }
        (true, false) => b.ends_with(wildcard_suffix(a)),
        (false, true) => a.ends_with(wildcard_suffix(b)),
        (false, false) => a == b,
    }
}

/// [`Name::subset_of`] on string slices: true when every host `a` describes is described by `b`.
pub fn subset_of(a: &str, b: &str) -> bool {
    match (is_wildcarded(a), is_wildcarded(b)) {
        (true, true) => a.len() >= b.len() && wildcard_suffix(a).ends_with(wildcard_suffix(b)),
        (true, false) => false,
        (false, true) => a.ends_with(wildcard_suffix(b)),
        (false, false) => a == b,
    }
}

/// Upstream's order of host names: plain names before wildcards; within each group longer names
/// first, and names of equal length alphabetically.
pub fn compare(a: &str, b: &str) -> Ordering {
    is_wildcarded(a)
        .cmp(&is_wildcarded(b))
        .then_with(|| b.len().cmp(&a.len()))
        .then_with(|| a.cmp(b))
}

/// A list of host names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Names(pub Vec<Name>);

impl Names {
    /// An empty list.
    pub fn new() -> Self {
        Names(Vec::new())
    }

    /// Sorts the names into upstream's order (see [`compare`]): the most specific names first,
    /// wildcards last.
    pub fn sort(&mut self) {
        self.0.sort_by(|a, b| compare(a, b));
    }

    /// True when the list holds exactly `host` (no wildcard matching).
    pub fn contains(&self, host: &str) -> bool {
        self.0.iter().any(|h| h.as_str() == host)
    }

    /// The names of either list that are a subset of some name of the other, each once, in the
    /// order they are found (for each name of `self`, the names of `other` in turn).
    pub fn intersection(&self, other: &Names) -> Names {
        let mut result = Names(Vec::with_capacity(self.0.len()));
        for h in &self.0 {
            for o in &other.0 {
                let picked = if h.subset_of(o) {
                    h
                } else if o.subset_of(h) {
                    o
                } else {
                    continue;
                };
                if !result.contains(picked) {
                    result.0.push(picked.clone());
                }
            }
        }
        result
    }

    /// Builds a list from host strings.
    pub fn from_strs<S: AsRef<str>>(hosts: &[S]) -> Names {
        hosts.iter().map(|h| Name::from(h.as_ref())).collect()
    }

    /// The hosts visible to `namespace` from a list of `namespace/host` entries: entries
    /// without a `/` are kept as they are; `ns/host` entries are kept (as `host`) when `ns` is
    /// `namespace` or `*`.
    pub fn for_namespace<S: AsRef<str>>(hosts: &[S], namespace: &str) -> Names {
        hosts
            .iter()
            .filter_map(|h| {
                let h = h.as_ref();
                match h.split_once('/') {
                    None => Some(h),
                    Some((ns, rest)) if ns == namespace || ns == "*" => rest.split('/').next(),
                    Some(_) => None,
                }
            })
            .map(Name::from)
            .collect()
    }
}

impl Deref for Names {
    type Target = Vec<Name>;
    fn deref(&self) -> &Vec<Name> {
        &self.0
    }
}

impl std::ops::DerefMut for Names {
    fn deref_mut(&mut self) -> &mut Vec<Name> {
        &mut self.0
    }
}

impl FromIterator<Name> for Names {
    fn from_iter<I: IntoIterator<Item = Name>>(iter: I) -> Self {
        Names(iter.into_iter().collect())
    }
}

impl IntoIterator for Names {
    type Item = Name;
    type IntoIter = std::vec::IntoIter<Name>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Names {
    type Item = &'a Name;
    type IntoIter = std::slice::Iter<'a, Name>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// Upstream's `NewNames`: a list of names from host strings.
pub fn new_names<S: AsRef<str>>(hosts: &[S]) -> Names {
    Names::from_strs(hosts)
}

/// Upstream's `NamesForNamespace`; see [`Names::for_namespace`].
pub fn names_for_namespace<S: AsRef<str>>(hosts: &[S], namespace: &str) -> Names {
    Names::for_namespace(hosts, namespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Names {
        Names::from_strs(v)
    }

    #[test]
    fn name_matches() {
        let cases = [
            ("", "", true),
            ("", "foo.com", false),
            ("foo.com", "", false),
            ("foo.com", "foo.com", true),
            ("bar.com", "foo.com", false),
            ("foo.com", "bar.com", false),
            ("bar.foo.com", "foo.com", false),
            ("foo.com", "bar.foo.com", false),
            ("*.com", "foo.com", true),
            ("*.com", "bar.com", true),
            ("*.foo.com", "bar.foo.com", true),
            ("*", "foo.com", true),
            ("*", "*.com", true),
            ("*", "com", true),
            ("*", "*", true),
            ("*", "", true),
            ("*.com", "*.foo.com", true),
            ("foo.com", "*.foo.com", false),
            ("*.foo.com", "foo.com", false),
            ("*.foo.bar.baz", "baz", false),
            ("baz", "*.foo.bar.baz", false),
            ("*.foo.bar.baz", "*.baz", true),
            ("foo.bar.baz", "*.baz", true),
        ];
        for (a, b, want) in cases {
            assert_eq!(
                Name::from(a).matches(&Name::from(b)),
                want,
                "{a:?}.matches({b:?})"
            );
            assert_eq!(matches(b, a), want, "matches is symmetric for {a:?}, {b:?}");
        }
    }

    #[test]
    fn name_subset_of() {
        let cases = [
            ("", "", true),
            ("", "foo.com", false),
            ("foo.com", "", false),
            ("foo.com", "foo.com", true),
            ("bar.com", "foo.com", false),
            ("foo.com", "bar.com", false),
            ("bar.foo.com", "foo.com", false),
            ("foo.com", "bar.foo.com", false),
            ("foo.com", "*.com", true),
            ("bar.com", "*.com", true),
            ("bar.foo.com", "*.foo.com", true),
            ("foo.com", "*", true),
            ("*.com", "*", true),
            ("com", "*", true),
            ("*", "*", true),
            ("", "*", true),
            ("*.foo.com", "*.com", true),
            ("*.foo.com", "foo.com", false),
            ("*.foo.bar.baz", "baz", false),
            ("foo.bar.baz", "*.baz", true),
            ("*.com", "*.foo.com", false),
        ];
        for (a, b, want) in cases {
            assert_eq!(
                Name::from(a).subset_of(&Name::from(b)),
                want,
                "{a:?}.subset_of({b:?})"
            );
        }
    }

    #[test]
    fn names_intersection() {
        let cases: [(&[&str], &[&str], &[&str]); 10] = [
            (&["foo,com"], &["bar.com"], &[]),
            (&["foo.com", "bar.com"], &["bar.com"], &["bar.com"]),
            (&["foo.com", "bar.com"], &["*.com"], &["foo.com", "bar.com"]),
            (&["*.com"], &["foo.com", "bar.com"], &["foo.com", "bar.com"]),
            (
                &["foo.com", "*.net"],
                &["*.com", "bar.net"],
                &["foo.com", "bar.net"],
            ),
            (&["foo.com", "*.net"], &["*.bar.net"], &["*.bar.net"]),
            (&["foo.com", "bar.net"], &["*"], &["foo.com", "bar.net"]),
            (&["foo.com"], &[], &[]),
            (&[], &["bar.com"], &[]),
            (&["*", "foo.com"], &["foo.com"], &["foo.com"]),
        ];
        for (a, b, want) in cases {
            assert_eq!(
                names(a).intersection(&names(b)),
                names(want),
                "{a:?} ∩ {b:?}"
            );
        }
    }

    #[test]
    fn names_for_namespace_filters() {
        let cases: [(&[&str], &str, &[&str]); 6] = [
            (&["ns1/foo.com", "ns2/bar.com"], "ns1", &["foo.com"]),
            (&["ns1/foo.com", "ns2/bar.com"], "ns3", &[]),
            (
                &["ns1/foo.com", "*/bar.com"],
                "ns1",
                &["foo.com", "bar.com"],
            ),
            (&["ns1/foo.com", "*/bar.com"], "ns3", &["bar.com"]),
            (&["foo.com", "ns2/bar.com"], "ns2", &["foo.com", "bar.com"]),
            (&["foo.com", "ns2/bar.com"], "ns3", &["foo.com"]),
        ];
        for (hosts, ns, want) in cases {
            assert_eq!(
                names_for_namespace(hosts, ns),
                names(want),
                "{hosts:?} in {ns}"
            );
        }
    }

    #[test]
    fn names_sort_order() {
        let cases: [(&[&str], &[&str]); 8] = [
            (&["b", "a"], &["a", "b"]),
            (&["bb", "cc", "aa"], &["aa", "bb", "cc"]),
            (&["b", "a", "aa"], &["aa", "a", "b"]),
            (
                &["foo.com", "bar.com", "foo.bar.com"],
                &["foo.bar.com", "bar.com", "foo.com"],
            ),
            (&["a", "*", "z"], &["a", "z", "*"]),
            (
                &["foo.com", "bar.com", "*.com"],
                &["bar.com", "foo.com", "*.com"],
            ),
            (
                &[
                    "foo.com",
                    "bar.com",
                    "*.com",
                    "*.foo.com",
                    "*",
                    "baz.bar.com",
                ],
                &[
                    "baz.bar.com",
                    "bar.com",
                    "foo.com",
                    "*.foo.com",
                    "*.com",
                    "*",
                ],
            ),
            (&["", "a", ""], &["a", "", ""]),
        ];
        for (input, want) in cases {
            let mut got = names(input);
            got.sort();
            assert_eq!(got, names(want), "sort({input:?})");
        }
    }

    #[test]
    fn name_conversions() {
        let n = Name::from("*.example.com");
        assert!(n.is_wildcarded());
        assert_eq!(n.to_string(), "*.example.com");
        assert_eq!(n, "*.example.com");
        assert!(!Name::default().is_wildcarded());
        assert!(names(&["a.com"]).contains("a.com"));
        assert!(!names(&["*.com"]).contains("a.com"));
    }
}
