//! Envoy-facing servers (upstream `pilot/pkg/proxy/envoy`): the xDS server in [`v2`] and the
//! legacy `/v1/registration` listing in [`discovery`].

pub mod discovery;
pub mod v2;
