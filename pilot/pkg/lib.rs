//! Pilot (upstream `pilot/`): service discovery and Envoy xDS configuration.
//!
//! Module map, mirroring upstream `pilot/pkg`:
//! - [`model`]: services, proxies, config stores, push context;
//! - [`serviceregistry`]: Kubernetes, ServiceEntry (external), memory (Mock) and aggregate
//!   registries;
//! - [`config`]: config stores (memory, `--configDir` files, Kubernetes CRDs);
//! - [`networking`]: Envoy config generation (`core/v1alpha3`: CDS, LDS, RDS);
//! - [`proxy`]: the xDS server (`envoy/v2`: ADS v2 and v3, EDS, debug endpoints);
//! - [`bootstrap`]: wiring of `pilot-discovery discovery`;
//! - [`features`]: environment-variable feature flags.
#![forbid(unsafe_code)]

pub mod bootstrap;
pub mod config;
pub mod features;
pub mod model;
pub mod networking;
pub mod proxy;
pub mod request;
pub mod serviceregistry;
