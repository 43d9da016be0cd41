//! The xDS server (upstream `pilot/pkg/proxy`): ADS v2 and v3, EDS from the endpoint index,
//! push debouncing, and the debug HTTP endpoints.

pub mod envoy;
