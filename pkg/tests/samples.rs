//! Every bundled sample parses without error, passes validation, and round-trips through the
//! proto binary encoding and JSON unchanged.

use std::path::{Path, PathBuf};

use istio_pkg::config::kube::{self, ParseOptions};

fn sample_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("samples dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            sample_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml") {
            out.push(path);
        }
    }
}

#[test]
fn samples_parse_validate_and_round_trip() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples");
    let mut files = Vec::new();
    sample_files(&root, &mut files);
    files.sort();
    assert!(
        files.len() >= 10,
        "expected the bundled samples under {}",
        root.display()
    );
    let opts = ParseOptions {
        domain: "cluster.local",
        default_namespace: "default",
        validate: true,
        check_top_level_fields: true,
    };
    let mut configs = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read sample");
        let inputs = kube::parse_inputs(&text, &opts);
        assert!(
            inputs.errors.is_empty(),
            "{}: {:?}",
            file.display(),
            inputs.errors
        );
        for cfg in &inputs.configs {
            let what = format!("{}: {}/{}", file.display(), cfg.meta.kind, cfg.meta.key());
            let back = cfg
                .spec
                .decode_same(&cfg.spec.encode_to_vec())
                .expect("binary decode");
            assert_eq!(back, cfg.spec, "{what}: binary round trip");
            let json = back.to_json();
            let again = cfg
                .meta
                .schema()
                .decode_spec(json.clone(), "spec")
                .expect("JSON decode");
            assert_eq!(again, cfg.spec, "{what}: JSON round trip");
            assert_eq!(again.to_json(), json, "{what}: stable JSON");
            configs += 1;
        }
    }
    // Every Istio and Mixer kind the samples use is covered: a sanity floor, not an exact count.
    assert!(configs >= 30, "only {configs} configs in the samples");
}
