//! pilot/pkg/proxy/envoy/v2/testdata/none_*.json: upstream's golden xDS output for its "none"
//! test proxy, Go `encoding/json` dumps of the v2 Go structs (listeners, clusters, endpoints and
//! routes by name). Each file must read into its v2 messages, every message must be pure v2
//! (no field, enum value or type unknown to the v2 API), and the reading must be lossless: the
//! message re-encoded and decoded again renders to the same proto3 JSON. Then every filter
//! config given as a `Struct` (as pilot 1.4 sent them) must read as its typed v2 message, and
//! `golden::diff` must find the typed form equal to the original.
//!
//! The comparison of pilot's own output against these files (with `envoy_v2_api::golden::diff`)
//! belongs with pilot's config generation.

use std::path::Path;

use anyhow::Context;
use envoy_v2_api::golden;
use envoy_v2_api::JsonOptions;
use prost::Message as _;
use prost_reflect::{DynamicMessage, ReflectMessage};

use crate::Tally;

/// Where the goldens are in the vector set.
pub const TESTDATA: &str = "pilot/pkg/proxy/envoy/v2/testdata";

/// Each golden file and the v2 message its values are (upstream's pkg/adsc `Save`).
pub const FILES: &[(&str, &str)] = &[
    ("none_cds.json", "envoy.api.v2.Cluster"),
    ("none_ecds.json", "envoy.api.v2.Cluster"),
    ("none_eds.json", "envoy.api.v2.ClusterLoadAssignment"),
    ("none_lds_http.json", "envoy.api.v2.Listener"),
    ("none_lds_tcp.json", "envoy.api.v2.Listener"),
    ("none_rds.json", "envoy.api.v2.RouteConfiguration"),
];

/// Checks one message; returns how many Struct configs it held, or what went wrong.
fn check(type_name: &str, msg: &DynamicMessage) -> Result<usize, String> {
    let opts = JsonOptions::default();
    let first = envoy_v2_api::message_json(msg, &opts).map_err(|e| e.to_string())?;
    let bytes = msg.encode_to_vec();
    envoy_v2_api::check_v2(&prost_types::Any {
        type_url: format!("{}{type_name}", envoy_v2_api::TYPE_URL_PREFIX),
        value: bytes.clone(),
    })
    .map_err(|e| e.to_string())?;
    let again = DynamicMessage::decode(msg.descriptor(), bytes.as_slice())
        .map_err(|e| format!("decoding the re-encoded message: {e}"))?;
    let second = envoy_v2_api::message_json(&again, &opts).map_err(|e| e.to_string())?;
    if first != second {
        return Err("the re-decoded message renders differently".to_string());
    }
    let (typed, configs) = golden::with_typed_configs(msg).map_err(|e| e.to_string())?;
    envoy_v2_api::check_v2(&prost_types::Any {
        type_url: format!("{}{type_name}", envoy_v2_api::TYPE_URL_PREFIX),
        value: typed.encode_to_vec(),
    })
    .map_err(|e| format!("typed configs: {e}"))?;
    let differences = golden::diff(msg, &typed, &[]);
    if !differences.is_empty() {
        return Err(format!("typed configs differ: {}", differences.join("; ")));
    }
    Ok(configs)
}

pub fn run(dir: &Path) -> anyhow::Result<Tally> {
    let testdata = dir.join(TESTDATA);
    let mut tally = Tally::new("envoy-v2-goldens");
    for (file, type_name) in FILES {
        let path = testdata.join(file);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let json: serde_json::Value =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        match golden::from_go_json_map(type_name, &json) {
            Err(e) => tally.case(false, file, &e.to_string()),
            Ok(messages) => {
                let mut configs = 0;
                let mut failures = Vec::new();
                for (name, msg) in &messages {
                    match check(type_name, msg) {
                        Ok(n) => configs += n,
                        Err(e) => failures.push(format!("{name}: {e}")),
                    }
                }
                let detail = if failures.is_empty() {
                    format!(
                        "{} × {type_name}, {configs} Struct configs read as typed",
                        messages.len()
                    )
                } else {
                    failures.join("; ")
                };
                tally.case(failures.is_empty(), file, &detail);
            }
        }
    }
    Ok(tally)
}
