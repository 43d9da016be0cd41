//! galley/testdata/validation/dataset: each `*-valid.yaml` must be accepted and each
//! `*-invalid.yaml` rejected, as the API server with galley's validation webhook does when the
//! file is applied into a namespace (upstream's tests/integration/galley/validation_test.go).

use std::path::Path;

use anyhow::Context;
use istioctl::validate::Validator;

use crate::Tally;

/// The namespace the files are applied into, as upstream's test does with a fresh namespace.
const TEST_NAMESPACE: &str = "validation-test";

pub fn run(dir: &Path) -> anyhow::Result<Tally> {
    let dataset = dir.join("galley/testdata/validation/dataset");
    let mut files: Vec<_> = std::fs::read_dir(&dataset)
        .with_context(|| format!("reading {}", dataset.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let validator = Validator {
        default_namespace: TEST_NAMESPACE.to_string(),
        ..Validator::default()
    };
    let mut tally = Tally::new("validation");
    for file in files {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.ends_with("-skipped.yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("reading {}", file.display()))?;
        let expect_valid = !name.ends_with("-invalid.yaml");
        let report = validator.validate_text(&text);
        let accepted = report.errors.is_empty();
        let detail = match (expect_valid, accepted) {
            (true, true) => "accepted".to_string(),
            (false, false) => format!("rejected: {}", report.errors.join("; ")),
            (true, false) => format!(
                "expected accepted, got rejected: {}",
                report.errors.join("; ")
            ),
            (false, true) => "expected rejected, got accepted".to_string(),
        };
        tally.case(expect_valid == accepted, &name, &detail);
    }
    Ok(tally)
}
