//! The source tree as Bazel sees it: files, packages (directories with a BUILD file) and globs.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

/// File names Bazel reads as a package's BUILD file, in order of preference.
pub const BUILD_FILE_NAMES: [&str; 2] = ["BUILD.bazel", "BUILD"];

/// Files whose content the checker reads (everything else only needs to exist, for globs).
const READ_NAMES: [&str; 6] = [
    "BUILD.bazel",
    "BUILD",
    "MODULE.bazel",
    "WORKSPACE",
    "WORKSPACE.bazel",
    "WORKSPACE.bzlmod",
];

/// Workspace-relative file paths (with `/`) and, for Bazel files, their content.
#[derive(Debug, Clone, Default)]
pub struct SourceTree {
    files: BTreeMap<String, String>,
}

impl SourceTree {
    pub fn new() -> SourceTree {
        SourceTree::default()
    }

    /// Adds a file (used by tests to build trees in memory).
    pub fn insert(&mut self, path: impl Into<String>, content: impl Into<String>) {
        self.files.insert(path.into(), content.into());
    }

    /// Builder form of [`SourceTree::insert`].
    pub fn with(mut self, path: impl Into<String>, content: impl Into<String>) -> SourceTree {
        self.insert(path, content);
        self
    }

    /// Walks `root`, skipping hidden directories, symlinks, `target/` and the root's `bazel-*`
    /// output links.
    pub fn from_disk(root: &Path) -> std::io::Result<SourceTree> {
        let mut tree = SourceTree::new();
        walk(root, "", &mut tree)?;
        Ok(tree)
    }

    pub fn contains(&self, path: &str) -> bool {
        self.files.contains_key(path)
    }

    pub fn content(&self, path: &str) -> Option<&str> {
        self.files.get(path).map(String::as_str)
    }

    /// The BUILD file of the package at `dir`, if `dir` is a Bazel package.
    pub fn build_file(&self, dir: &str) -> Option<String> {
        BUILD_FILE_NAMES
            .iter()
            .map(|name| join(dir, name))
            .find(|path| self.contains(path))
    }

    /// Every Bazel package directory, sorted.
    pub fn packages(&self) -> Vec<String> {
        let dirs: BTreeSet<String> = self
            .files
            .keys()
            .filter_map(|path| {
                let (dir, name) = split(path);
                BUILD_FILE_NAMES.contains(&name).then(|| dir.to_owned())
            })
            .collect();
        dirs.into_iter().collect()
    }

    /// Expands a Bazel glob in package `dir`: patterns are relative to the package, and files
    /// of subpackages are not matched. Returns package-relative paths.
    pub fn glob(&self, dir: &str, include: &[String], exclude: &[String]) -> Vec<String> {
        let packages = self.packages();
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        self.files
            .keys()
            .filter_map(|path| path.strip_prefix(&prefix))
            .filter(|rel| !in_subpackage(&packages, dir, rel))
            .filter(|rel| include.iter().any(|p| glob_match(p, rel)))
            .filter(|rel| !exclude.iter().any(|p| glob_match(p, rel)))
            .map(str::to_owned)
            .collect()
    }
}

/// `dir/name`, or `name` at the root.
pub fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_owned()
    } else {
        format!("{dir}/{name}")
    }
}

/// `(directory, file name)` of a workspace-relative path.
pub fn split(path: &str) -> (&str, &str) {
    path.rsplit_once('/').unwrap_or(("", path))
}

fn in_subpackage(packages: &[String], dir: &str, rel: &str) -> bool {
    let mut current = String::new();
    let segments: Vec<&str> = rel.split('/').collect();
    // Every proper ancestor directory of the file below the package itself.
    for segment in &segments[..segments.len().saturating_sub(1)] {
        if !current.is_empty() {
            current.push('/');
        }
        current.push_str(segment);
        if packages.contains(&join(dir, &current)) {
            return true;
        }
    }
    false
}

/// Bazel glob matching: `**` spans any number of path segments, `*` and `?` stay inside one.
pub fn glob_match(pattern: &str, path: &str) -> bool {
    let pat: Vec<&str> = pattern.split('/').collect();
    let segs: Vec<&str> = path.split('/').collect();
    match_segments(&pat, &segs)
}

fn match_segments(pat: &[&str], segs: &[&str]) -> bool {
    match pat.split_first() {
        None => segs.is_empty(),
        Some((&"**", rest)) => (0..=segs.len()).any(|skip| match_segments(rest, &segs[skip..])),
        Some((first, rest)) => match segs.split_first() {
            Some((seg, seg_rest)) => {
                match_segment(first.as_bytes(), seg.as_bytes()) && match_segments(rest, seg_rest)
            }
            None => false,
        },
    }
}

fn match_segment(pat: &[u8], s: &[u8]) -> bool {
    match pat.split_first() {
        None => s.is_empty(),
        Some((b'*', rest)) => (0..=s.len()).any(|skip| match_segment(rest, &s[skip..])),
        Some((b'?', rest)) => !s.is_empty() && match_segment(rest, &s[1..]),
        Some((c, rest)) => s.first() == Some(c) && match_segment(rest, &s[1..]),
    }
}

fn walk(dir: &Path, rel: &str, tree: &mut SourceTree) -> std::io::Result<()> {
    let mut entries: Vec<fs::DirEntry> = fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        let file_type = entry.file_type()?;
        if file_type.is_symlink() {
            continue;
        }
        let path = join(rel, &name);
        if file_type.is_dir() {
            // `bazel-*` output links only live at the root (and are symlinks anyway).
            let output_link = rel.is_empty() && name.starts_with("bazel-");
            if name.starts_with('.') || name == "target" || output_link {
                continue;
            }
            walk(&entry.path(), &path, tree)?;
        } else if READ_NAMES.contains(&name.as_str()) {
            tree.insert(path, fs::read_to_string(entry.path())?);
        } else {
            tree.insert(path, String::new());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_patterns() {
        assert!(glob_match("**/*.rs", "lib.rs"));
        assert!(glob_match("**/*.rs", "config/mesh.rs"));
        assert!(glob_match("pkg/**/*.rs", "pkg/lib.rs"));
        assert!(glob_match("tests/?.rs", "tests/a.rs"));
        assert!(!glob_match("*.rs", "config/mesh.rs"));
        assert!(!glob_match("**/*.rs", "mesh.proto"));
        assert!(glob_match("**", "a/b/c"));
    }

    #[test]
    fn glob_skips_subpackages_and_applies_excludes() {
        let tree = SourceTree::new()
            .with("api/BUILD.bazel", "")
            .with("api/lib.rs", "")
            .with("api/build.rs", "")
            .with("api/mesh/v1/config.proto", "")
            .with("api/sub/BUILD.bazel", "")
            .with("api/sub/x.rs", "");
        let rs = tree.glob("api", &["**/*.rs".into()], &["build.rs".into()]);
        assert_eq!(rs, ["lib.rs"]);
        let protos = tree.glob("api", &["**/*.proto".into()], &[]);
        assert_eq!(protos, ["mesh/v1/config.proto"]);
        assert_eq!(tree.packages(), ["api", "api/sub"]);
        assert_eq!(tree.build_file("api").as_deref(), Some("api/BUILD.bazel"));
    }
}
