//! Pilot's xDS server (upstream `pilot/pkg/proxy/envoy/v2`).
//!
//! - [`discovery`]: the [`DiscoveryServer`]: push context, endpoint index, connection table,
//!   debounced pushes; implements [`crate::model::XdsUpdater`].
//! - [`ads`]: the `StreamAggregatedResources` gRPC services (v2 and v3) and the per-connection
//!   protocol (watches, ACK/NACK, pushes).
//! - [`eds`]: the endpoint index and `ClusterLoadAssignment` generation.
//! - [`cache`]: generated responses shared by proxies with equal inputs, pre-encoded.
//! - [`grpc`]: gRPC framing of the streams without per-stream message buffers.
//! - [`version`]: type URLs per xDS version and the v3 → v2 downgrade.
//! - [`monitoring`]: upstream's metrics.
//! - [`debug`]: `/debug/*` and `/ready`.

pub mod ads;
pub mod cache;
pub mod debounce;
pub mod debug;
pub mod discovery;
pub mod dump;
pub mod eds;
pub mod grpc;
pub mod monitoring;
pub mod version;
pub mod wire;

pub use discovery::DiscoveryServer;
