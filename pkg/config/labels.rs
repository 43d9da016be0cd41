//! Workload labels (upstream `pkg/config/labels`): label sets, their validation with
//! Kubernetes' label syntax, and DNS-1123 label checks shared by validation.

use std::{collections::BTreeMap, fmt};

use super::validation::Error;
use crate::gostr::quote;

/// Longest DNS-1123 label, and longest label name.
pub const DNS1123_LABEL_MAX_LENGTH: usize = 63;

/// Longest DNS prefix of a label key (the part before `/`, without the slash).
const DNS_NAME_PREFIX_MAX_LENGTH: usize = 253;

/// A set of labels, `key → value`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Instance(pub BTreeMap<String, String>);

impl Instance {
    /// An empty label set.
    pub fn new() -> Self {
        Instance(BTreeMap::new())
    }

    /// True when every label of `self` is in `that` with the same value (the empty set is a
    /// subset of everything).
    pub fn subset_of(&self, that: &Instance) -> bool {
        self.0.iter().all(|(k, v)| that.0.get(k) == Some(v))
    }

    /// True when both sets hold the same labels.
    pub fn equals(&self, that: &Instance) -> bool {
        self.0 == that.0
    }

    /// Checks every key and value; see [`validate`].
    pub fn validate(&self) -> Result<(), Error> {
        validate(self.0.iter())
    }

    /// Parses `k1=v1,k2,k3=v3` (a key alone has the empty value; text after a second `=` in a
    /// pair is dropped, as upstream does).
    pub fn parse(s: &str) -> Instance {
        Instance(
            s.split(',')
                .map(|pair| {
                    let mut kv = pair.split('=');
                    let k = kv.next().unwrap_or_default();
                    let v = kv.next().unwrap_or_default();
                    (k.to_owned(), v.to_owned())
                })
                .collect(),
        )
    }
}

/// `k1=v1,k2` with keys in ascending order (a key with an empty value is printed alone).
impl fmt::Display for Instance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut items: Vec<String> = self
            .0
            .iter()
            .map(|(k, v)| {
                if v.is_empty() {
                    k.clone()
                } else {
                    format!("{k}={v}")
                }
            })
            .collect();
        items.sort();
        f.write_str(&items.join(","))
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Instance {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Instance(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

/// A list of label sets, e.g. the subsets a service is selected by.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Collection(pub Vec<Instance>);

impl Collection {
    /// True when some set of the collection is a subset of `that`. An empty collection selects
    /// everything; otherwise an empty `that` matches nothing.
    pub fn has_subset_of(&self, that: &Instance) -> bool {
        if self.0.is_empty() {
            return true;
        }
        if that.0.is_empty() {
            return false;
        }
        self.0.iter().any(|this| this.subset_of(that))
    }

    /// True when `that` is a subset of some set of the collection (an empty collection is a
    /// superset only of the empty set).
    pub fn is_superset_of(&self, that: &Instance) -> bool {
        if self.0.is_empty() {
            return that.0.is_empty();
        }
        self.0.iter().any(|this| that.subset_of(this))
    }
}

/// Validates label keys and values (upstream `Instance.Validate`), collecting one message per
/// bad key or value, in the order given, as a multierror:
/// `invalid tag key: "k"` (with ` (DNS prefix is too long)` or ` (name is too long)`) and
/// `invalid tag value: "v"`.
///
/// Generated messages use ordered maps, so passing one gives deterministic output.
pub fn validate<'a, I>(labels: I) -> Result<(), Error>
where
    I: IntoIterator<Item = (&'a String, &'a String)>,
{
    let mut messages = Vec::new();
    for (k, v) in labels {
        if let Err(e) = validate_tag_key(k) {
            messages.push(e);
        }
        if !is_label_value(v) {
            messages.push(format!("invalid tag value: {}", quote(v)));
        }
    }
    if messages.is_empty() {
        Ok(())
    } else {
        Err(Error::Multi(messages))
    }
}

/// True for `[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?` of any length.
fn is_dns_label_syntax(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(f), Some(l)) => {
            f.is_ascii_alphanumeric()
                && l.is_ascii_alphanumeric()
                && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        }
        _ => false,
    }
}

/// True for a DNS-1123 label: 1 to 63 letters, digits and `-`, starting and ending with a letter
/// or digit. (Upper case is accepted, as upstream does.)
pub fn is_dns1123_label(value: &str) -> bool {
    value.len() <= DNS1123_LABEL_MAX_LENGTH && is_dns_label_syntax(value)
}

/// True for `*`, or a DNS-1123 label optionally preceded by `*` or `*-`, at most 63 characters
/// in all.
pub fn is_wildcard_dns1123_label(value: &str) -> bool {
    if value.len() > DNS1123_LABEL_MAX_LENGTH {
        return false;
    }
    value == "*"
        || is_dns_label_syntax(value)
        || value.strip_prefix("*-").is_some_and(is_dns_label_syntax)
        || value.strip_prefix('*').is_some_and(is_dns_label_syntax)
}

/// True for Kubernetes' qualified name: `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`.
fn is_qualified_name(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(f), Some(l)) => {
            f.is_ascii_alphanumeric()
                && l.is_ascii_alphanumeric()
                && b.iter()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

/// A label value is empty or a qualified name.
fn is_label_value(s: &str) -> bool {
    s.is_empty() || is_qualified_name(s)
}

/// A label key is a qualified name, optionally prefixed by a dotted DNS name and `/`.
fn validate_tag_key(k: &str) -> Result<(), String> {
    let (prefix, name) = match k.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, k),
    };
    let prefix_ok = prefix.is_none_or(|p| p.split('.').all(is_dns_label_syntax));
    if !prefix_ok || !is_qualified_name(name) {
        return Err(format!("invalid tag key: {}", quote(k)));
    }
    if prefix.is_some_and(|p| p.len() > DNS_NAME_PREFIX_MAX_LENGTH) {
        return Err(format!(
            "invalid tag key: {} (DNS prefix is too long)",
            quote(k)
        ));
    }
    if name.len() > DNS1123_LABEL_MAX_LENGTH {
        return Err(format!("invalid tag key: {} (name is too long)", quote(k)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inst(pairs: &[(&str, &str)]) -> Instance {
        pairs.iter().copied().collect()
    }

    #[test]
    fn instance_subset() {
        let a = inst(&[("app", "a")]);
        let a1 = inst(&[("app", "a"), ("prod", "env")]);
        assert!(Instance::new().subset_of(&a));
        assert!(!a.subset_of(&Instance::new()));
        assert!(!a1.subset_of(&a));
        assert!(a.subset_of(&a1));
        assert!(a.equals(&inst(&[("app", "a")])));
        assert!(!a.equals(&a1));
    }

    #[test]
    fn instance_validate() {
        type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], bool);
        let cases: [Case; 15] = [
            ("empty tags", &[], true),
            ("bad tag", &[("^", "^")], false),
            ("good tag", &[("key", "value")], true),
            ("good tag - empty value", &[("key", "")], true),
            ("good tag - DNS prefix", &[("k8s.io/key", "value")], true),
            (
                "good tag - subdomain DNS prefix",
                &[("app.kubernetes.io/name", "value")],
                true,
            ),
            ("bad tag - empty key", &[("", "value")], false),
            ("bad tag key 1", &[(".key", "value")], false),
            ("bad tag key 2", &[("key_", "value")], false),
            ("bad tag key 3", &[("key$", "value")], false),
            (
                "bad tag key - invalid DNS prefix",
                &[("istio./key", "value")],
                false,
            ),
            ("bad tag value 1", &[("key", ".value")], false),
            ("bad tag value 2", &[("key", "value_")], false),
            ("bad tag value 3", &[("key", "value$")], false),
            ("bad key - two slashes", &[("a/b/c", "v")], false),
        ];
        for (name, tags, valid) in cases {
            assert_eq!(inst(tags).validate().is_ok(), valid, "{name}");
        }
    }

    #[test]
    fn validate_messages() {
        assert_eq!(
            inst(&[("^", "^")]).validate(),
            Err(Error::Multi(vec![
                r#"invalid tag key: "^""#.into(),
                r#"invalid tag value: "^""#.into()
            ]))
        );
        let long_name = "a".repeat(64);
        assert_eq!(
            inst(&[(long_name.as_str(), "")]).validate(),
            Err(Error::Multi(vec![format!(
                r#"invalid tag key: "{long_name}" (name is too long)"#
            )]))
        );
        let long_prefix = format!("{}/a", ["a".repeat(60).as_str(); 5].join("."));
        assert_eq!(
            inst(&[(long_prefix.as_str(), "")]).validate(),
            Err(Error::Multi(vec![format!(
                r#"invalid tag key: "{long_prefix}" (DNS prefix is too long)"#
            )]))
        );
    }

    #[test]
    fn collection() {
        let a = inst(&[("app", "a")]);
        let b = inst(&[("app", "b")]);
        let a1 = inst(&[("app", "a"), ("prod", "env")]);
        let ab = Collection(vec![a.clone(), b.clone()]);
        let a1b = Collection(vec![a1.clone(), b.clone()]);
        let none = Collection::default();
        let singleton = Collection(vec![Instance::new()]);

        assert!(!Collection(vec![a.clone()]).has_subset_of(&b));
        for (tag, c) in [
            (&a, &ab),
            (&b, &ab),
            (&a, &none),
            (&a, &singleton),
            (&a1, &ab),
            (&b, &a1b),
        ] {
            assert!(c.has_subset_of(tag), "{c:?}.has_subset_of({tag:?})");
        }
        assert!(!ab.has_subset_of(&Instance::new()));

        assert!(ab.is_superset_of(&a));
        assert!(!ab.is_superset_of(&a1));
        assert!(none.is_superset_of(&Instance::new()));
        assert!(!none.is_superset_of(&a));
    }

    #[test]
    fn dns_labels() {
        for ok in ["a", "a-b", "A1", "0", &"a".repeat(63)] {
            assert!(is_dns1123_label(ok), "{ok}");
        }
        for bad in ["", "-a", "a-", "a.b", "a_b", "*", &"a".repeat(64)] {
            assert!(!is_dns1123_label(bad), "{bad}");
        }
        for ok in ["*", "*a", "*-a", "a", "*foo-bar"] {
            assert!(is_wildcard_dns1123_label(ok), "{ok}");
        }
        for bad in [
            "",
            "**",
            "a*",
            "*-",
            "*.",
            "*--",
            &format!("*{}", "a".repeat(63)),
        ] {
            assert!(!is_wildcard_dns1123_label(bad), "{bad}");
        }
    }

    #[test]
    fn parse_and_display() {
        let i = Instance::parse("b=2,a,c=3=4");
        assert_eq!(i, inst(&[("a", ""), ("b", "2"), ("c", "3")]));
        assert_eq!(i.to_string(), "a,b=2,c=3");
    }
}
