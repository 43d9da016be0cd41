//! Bazel labels as they appear in our BUILD files.

use std::fmt;

use crate::policy::CRATES_REPO;

/// A parsed label.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Label {
    /// `@crates//:<cargo-package-name>`.
    Crate(String),
    /// A target of this repository: `//dir:name`, `:name`, `//dir` or a bare `name`.
    Local { package: String, name: String },
    /// Anything else (other repositories, `@@`, malformed).
    Other(String),
}

impl Label {
    /// Parses `label` as written in the BUILD file of package `current`.
    pub fn parse(label: &str, current: &str) -> Label {
        if let Some(rest) = label.strip_prefix(CRATES_REPO) {
            return match rest.strip_prefix(':') {
                Some(name) if !name.is_empty() && !name.contains(':') => {
                    Label::Crate(name.to_owned())
                }
                _ => Label::Other(label.to_owned()),
            };
        }
        if label.starts_with('@') {
            return Label::Other(label.to_owned());
        }
        if let Some(rest) = label.strip_prefix("//") {
            return match rest.split_once(':') {
                Some((package, name)) if !name.is_empty() => Label::Local {
                    package: package.to_owned(),
                    name: name.to_owned(),
                },
                Some(_) => Label::Other(label.to_owned()),
                None => match rest.rsplit('/').next() {
                    Some(last) if !last.is_empty() => Label::Local {
                        package: rest.to_owned(),
                        name: last.to_owned(),
                    },
                    _ => Label::Other(label.to_owned()),
                },
            };
        }
        let name = label.strip_prefix(':').unwrap_or(label);
        if name.is_empty() || name.contains(':') {
            return Label::Other(label.to_owned());
        }
        Label::Local {
            package: current.to_owned(),
            name: name.to_owned(),
        }
    }

    /// A label for target `name` of package `package`.
    pub fn local(package: &str, name: &str) -> Label {
        Label::Local {
            package: package.to_owned(),
            name: name.to_owned(),
        }
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Label::Crate(name) => write!(f, "{CRATES_REPO}:{name}"),
            Label::Local { package, name } => write!(f, "//{package}:{name}"),
            Label::Other(raw) => f.write_str(raw),
        }
    }
}

/// The workspace-relative file a source-file label such as `//api:Cargo.toml` names.
pub fn file_path(label: &str) -> Option<String> {
    let rest = label
        .strip_prefix("@//")
        .or_else(|| label.strip_prefix("//"))?;
    let (package, file) = rest.split_once(':')?;
    if file.is_empty() {
        return None;
    }
    Some(if package.is_empty() {
        file.to_owned()
    } else {
        format!("{package}/{file}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_we_use() {
        assert_eq!(
            Label::parse("@crates//:serde", "x"),
            Label::Crate("serde".into())
        );
        assert_eq!(Label::parse(":lib", "api"), Label::local("api", "lib"));
        assert_eq!(Label::parse("lib", "api"), Label::local("api", "lib"));
        assert_eq!(
            Label::parse("//pkg:istio_pkg", "x"),
            Label::local("pkg", "istio_pkg")
        );
        assert_eq!(
            Label::parse("//tools/bazel-check", "x"),
            Label::local("tools/bazel-check", "bazel-check")
        );
        assert_eq!(Label::parse("//:root", "x"), Label::local("", "root"));
        assert!(matches!(
            Label::parse("@@crates//:serde", "x"),
            Label::Other(_)
        ));
        assert!(matches!(
            Label::parse("@rules_rust//rust:x", "x"),
            Label::Other(_)
        ));
        assert_eq!(
            Label::local("pkg", "istio_pkg").to_string(),
            "//pkg:istio_pkg"
        );
    }

    #[test]
    fn file_labels() {
        assert_eq!(file_path("//:Cargo.toml").as_deref(), Some("Cargo.toml"));
        assert_eq!(
            file_path("//api:Cargo.toml").as_deref(),
            Some("api/Cargo.toml")
        );
        assert_eq!(
            file_path("@//tools/x:Cargo.toml").as_deref(),
            Some("tools/x/Cargo.toml")
        );
        assert_eq!(file_path("api/Cargo.toml"), None);
    }
}
