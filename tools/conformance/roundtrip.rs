//! Every document of a supported kind in the vector set (samples, test configs, validation
//! dataset, ...) parses to its proto, survives the binary encoding, and renders to JSON that
//! reads back to the same proto and the same JSON.

use std::path::{Path, PathBuf};

use anyhow::Context;
use istio_pkg::config::kube::{self, ParseOptions};

use crate::Tally;

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            yaml_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
    Ok(())
}

pub fn run(dir: &Path) -> anyhow::Result<Tally> {
    let mut files = Vec::new();
    yaml_files(dir, &mut files)?;
    files.sort();
    let opts = ParseOptions {
        domain: "cluster.local",
        default_namespace: "default",
        validate: false,
        check_top_level_fields: false,
    };
    let mut tally = Tally::new("roundtrip");
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let rel = file
            .strip_prefix(dir)
            .unwrap_or(&file)
            .display()
            .to_string();
        // Helm templates and other non-YAML files are not config: only files that parse count.
        if text.contains("{{") {
            continue;
        }
        let inputs = kube::parse_inputs(&text, &opts);
        for cfg in &inputs.configs {
            let what = format!("{rel}: {}/{}", cfg.meta.kind, cfg.meta.key());
            let bytes = cfg.spec.encode_to_vec();
            let result = cfg
                .spec
                .decode_same(&bytes)
                .map_err(|e| format!("binary decode: {e}"))
                .and_then(|back| {
                    if back != cfg.spec {
                        return Err("binary round trip changed the spec".to_string());
                    }
                    let json = back.to_json();
                    let again = cfg
                        .meta
                        .schema()
                        .decode_spec(json.clone(), "spec")
                        .map_err(|e| format!("JSON decode: {e}"))?;
                    if again != cfg.spec {
                        return Err("JSON round trip changed the spec".to_string());
                    }
                    if again.to_json() != json {
                        return Err("JSON rendering is not stable".to_string());
                    }
                    Ok(())
                });
            match result {
                Ok(()) => tally.case(true, &what, ""),
                Err(e) => tally.case(false, &what, &e),
            }
        }
        // Documents of supported kinds that fail to parse are failures too, except in the
        // validation dataset's deliberately invalid files.
        if !rel.ends_with("-invalid.yaml") {
            for e in &inputs.errors {
                if e.object.is_some() {
                    tally.case(false, &format!("{rel}: {e}"), "parse error");
                }
            }
        }
    }
    Ok(tally)
}
