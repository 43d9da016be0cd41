//! Compiles the Istio 1.4 API protos at build time.
//!
//! protox (a pure-Rust protobuf compiler) parses the `.proto` files beside this script, prost and
//! tonic generate the Rust types and gRPC stubs, and pbjson generates serde impls that follow the
//! protobuf JSON mapping. Well-known types come from `pbjson-types` so they serialize as upstream's
//! jsonpb does (Duration as "1.5s", Struct as a JSON object, wrappers as plain values).

use std::{env, fs, path::PathBuf};

/// Proto roots compiled into the crate (imports are resolved relative to this directory).
const PROTOS: &[&str] = &[
    "authentication/v1alpha1/policy.proto",
    "google/rpc/status.proto",
    "mcp/v1alpha1/mcp.proto",
    "mcp/v1alpha1/metadata.proto",
    "mcp/v1alpha1/resource.proto",
    "mesh/v1alpha1/config.proto",
    "mesh/v1alpha1/network.proto",
    "mesh/v1alpha1/proxy.proto",
    "mixer/adapter/model/v1beta1/check.proto",
    "mixer/adapter/model/v1beta1/extensions.proto",
    "mixer/adapter/model/v1beta1/info.proto",
    "mixer/adapter/model/v1beta1/infrastructure_backend.proto",
    "mixer/adapter/model/v1beta1/quota.proto",
    "mixer/adapter/model/v1beta1/report.proto",
    "mixer/adapter/model/v1beta1/template.proto",
    "mixer/v1/attributes.proto",
    "mixer/v1/mixer.proto",
    "mixer/v1/config/client/api_spec.proto",
    "mixer/v1/config/client/client_config.proto",
    "mixer/v1/config/client/quota.proto",
    "mixer/v1/config/client/service.proto",
    "networking/v1alpha3/destination_rule.proto",
    "networking/v1alpha3/envoy_filter.proto",
    "networking/v1alpha3/gateway.proto",
    "networking/v1alpha3/service_entry.proto",
    "networking/v1alpha3/sidecar.proto",
    "networking/v1alpha3/virtual_service.proto",
    "policy/v1beta1/cfg.proto",
    "policy/v1beta1/http_response.proto",
    "policy/v1beta1/type.proto",
    "policy/v1beta1/value_type.proto",
    "rbac/v1alpha1/rbac.proto",
    "security/proto/ca_service.proto",
    "security/proto/istioca.proto",
    "security/v1beta1/authorization.proto",
    "type/v1beta1/selector.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Cargo runs build scripts in the package directory; Bazel's cargo_build_script sets
    // CARGO_MANIFEST_DIR to the package as well, with the protos staged through `data`.
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let out = PathBuf::from(env::var("OUT_DIR")?);

    let files: Vec<PathBuf> = PROTOS.iter().map(|p| root.join(p)).collect();
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
    }
    let fds = protox::compile(&files, [&root])?;
    let descriptor_bytes = prost::Message::encode_to_vec(&fds);
    let descriptor_path = out.join("istio_descriptor.bin");
    fs::write(&descriptor_path, &descriptor_bytes)?;

    let mut config = prost_build::Config::new();
    // Well-known types are not generated here: `compile_well_known_types` turns off prost's
    // default mapping to prost-types, and the extern path points them at pbjson-types.
    config
        .compile_well_known_types()
        .extern_path(".google.protobuf", "::pbjson_types")
        .enable_type_names()
        // Ordered maps: deterministic JSON and binary encodings for equal configs.
        .btree_map(["."])
        .type_name_domain(["."], "type.googleapis.com");
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds_with_config(fds, config)?;

    pbjson_build::Builder::new()
        .register_descriptors(&descriptor_bytes)?
        .btree_map(["."])
        .build(&[".istio", ".google.rpc"])?;
    Ok(())
}
