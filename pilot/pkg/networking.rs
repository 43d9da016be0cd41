//! Envoy configuration generation (upstream `pilot/pkg/networking`).

pub mod core;
pub mod plugin;
pub mod util;
