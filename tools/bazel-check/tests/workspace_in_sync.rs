//! The real workspace: every BUILD.bazel, MODULE.bazel and WORKSPACE must mirror Cargo.
//!
//! `make test` runs `cargo test --workspace`, so drift fails the build. The Bazel twin of this
//! test is `manual`: a Bazel sandbox has neither `cargo` nor the whole source tree.

use std::path::Path;

#[test]
fn bazel_files_mirror_cargo() {
    if std::env::var_os("CARGO").is_none() {
        eprintln!("skipped: needs `cargo` (run it with `cargo test -p bazel-check`)");
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let report = match bazel_check::check_workspace(dir) {
        Ok(report) => report,
        Err(e) => panic!("bazel-check could not run: {e}"),
    };
    let findings: Vec<String> = report.findings.iter().map(ToString::to_string).collect();
    assert!(
        findings.is_empty(),
        "the Bazel files and Cargo drifted apart ({} findings; mapping rules in \
         tools/bazel-check/README.md):\n{}",
        findings.len(),
        findings.join("\n")
    );
    assert!(report.cargo_targets > 0, "no Cargo target was compared");
    assert!(
        report.bazel_targets >= report.cargo_targets,
        "fewer Bazel targets than Cargo targets"
    );
}
