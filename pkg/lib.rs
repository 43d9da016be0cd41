//! Shared library of the istio-rs control plane. Modules are named as upstream's `pkg/`.
#![forbid(unsafe_code)]

pub mod config;
pub mod ctrlz;
pub mod envoy;
pub mod filewatcher;
pub mod gostr;
pub mod keepalive;
pub mod kube;
pub mod log;
pub mod monitoring;
pub mod version;
pub mod yaml;
