//! Envoy configuration generation (upstream `pilot/pkg/networking`).

pub mod core;
