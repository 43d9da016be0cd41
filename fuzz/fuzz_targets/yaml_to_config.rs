//! Any bytes, read as a config stream: parsing, decoding and validation must return errors,
//! never panic, and whatever decodes must survive the binary and JSON round trips.
#![no_main]

use istio_pkg::config::kube::{self, ParseOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let opts = ParseOptions {
        domain: "cluster.local",
        default_namespace: "default",
        validate: true,
        check_top_level_fields: true,
    };
    let inputs = kube::parse_inputs(&text, &opts);
    for cfg in &inputs.configs {
        let bytes = cfg.spec.encode_to_vec();
        let back = cfg.spec.decode_same(&bytes).expect("our own encoding decodes");
        assert_eq!(back, cfg.spec);
        let json = back.to_json();
        let again = cfg.meta.schema().decode_spec(json, "spec").expect("our own JSON decodes");
        assert_eq!(again, cfg.spec);
    }
});
