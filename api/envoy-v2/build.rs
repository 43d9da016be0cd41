//! Compiles the vendored Envoy v2 protos (and their dependencies) into one descriptor set;
//! files Istio's API already has (`api/`) are imported from there, not vendored again.
//!
//! protox, a pure-Rust protobuf compiler, parses every `.proto` file under `proto/`; the
//! resulting `FileDescriptorSet` is embedded in the library, which reads and writes v2 messages
//! dynamically through prost-reflect. No Rust types are generated.

use std::{
    env, fs,
    path::{Path, PathBuf},
};

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "proto") {
            out.push(path);
        }
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Cargo runs build scripts in the package directory; Bazel's cargo_build_script sets
    // CARGO_MANIFEST_DIR to the package as well, with the protos staged through `data`.
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let root = manifest.join("proto");
    // Imports of Istio's and Google's API files (Istio's authn filter imports the
    // authentication Policy) resolve from istio-api's sources, the directory above.
    let istio_api = manifest.join("..");
    let out = PathBuf::from(env::var("OUT_DIR")?);

    let mut files = Vec::new();
    collect(&root, &mut files)?;
    files.sort();
    println!("cargo:rerun-if-changed={}", root.display());
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
    }
    println!(
        "cargo:rerun-if-changed={}",
        istio_api.join("authentication").display()
    );
    println!(
        "cargo:rerun-if-changed={}",
        istio_api.join("google").display()
    );
    let fds = protox::Compiler::new([&root, &istio_api])?
        .include_imports(true)
        // Comments are not needed at run time and would triple the embedded size.
        .include_source_info(false)
        .open_files(&files)?
        .file_descriptor_set();
    fs::write(
        out.join("envoy_v2_descriptor.bin"),
        prost::Message::encode_to_vec(&fds),
    )?;
    Ok(())
}
