//! The UID of `ENVOY_USER` (default `istio-proxy`), read from /etc/passwd.

use std::path::Path;

/// The UID of `name` in a passwd file's text: the first line `name:x:uid:...` with at least six
/// fields and a numeric UID.
pub fn uid_in(passwd: &str, name: &str) -> Option<String> {
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.splitn(7, ':').collect();
        (fields.len() >= 6
            && !name.is_empty()
            && fields[0] == name
            && fields[2].parse::<u32>().is_ok())
        .then(|| fields[2].to_string())
    })
}

/// The UID of `name` in `/etc/passwd` (or `path`).
pub fn lookup_uid(path: &Path, name: &str) -> Result<String, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("open {}: {e}", path.display()))?;
    uid_in(&text, name).ok_or_else(|| format!("user: unknown user {name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_uid() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\nistio-proxy:x:1337:1337::/home/istio-proxy:/bin/sh\nbroken:x:abc:1::/:/bin/sh\nshort:x:5\n";
        assert_eq!(uid_in(passwd, "istio-proxy").as_deref(), Some("1337"));
        assert_eq!(uid_in(passwd, "root").as_deref(), Some("0"));
        assert_eq!(uid_in(passwd, "broken"), None);
        assert_eq!(uid_in(passwd, "short"), None);
        assert_eq!(uid_in(passwd, "nobody"), None);
        assert_eq!(uid_in(passwd, ""), None);
    }
}
