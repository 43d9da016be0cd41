//! Wiring of `pilot-discovery discovery` (upstream `pilot/pkg/bootstrap`): flags, the HTTP
//! and monitoring servers, and the server that ties registries, config stores and the xDS
//! server together.

pub mod args;
pub mod cli;
pub mod http;
pub mod secure;
pub mod server;

pub use args::PilotArgs;
