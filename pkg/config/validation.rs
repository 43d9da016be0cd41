//! Validation of Istio configuration (upstream `pkg/config/validation`, Istio 1.4.10).
//!
//! Each config kind has a `validate_*` function that takes the typed message and returns
//! `Ok(())` or an [`Error`] whose text is exactly what upstream prints for the same input
//! (`istioctl validate` and the Galley webhook show it to users). The [`Error`] type models
//! upstream's composition of errors: a single plain error, or a flattened list formatted as
//! hashicorp/go-multierror v1.0.0 does.
//!
//! Differences from upstream that cannot be avoided, or follow from typed Rust messages:
//! * Go iterates maps in random order; messages produced while walking a map (labels, headers,
//!   endpoint ports, locality weights, ...) are emitted here in ascending key order, so output
//!   is deterministic.
//! * States a prost message cannot hold (a nil element inside a list or map, such as a `null`
//!   header match or Mixer attribute, or a nil oneof payload) are not checked, since they
//!   cannot occur.
//! * The Envoy filter patch value is not decoded against the Envoy v2 API (the workspace has no
//!   Envoy protos); see [`validate_envoy_filter`].
//! * Regular expressions are checked with Rust's `regex` after a pass that applies Go's
//!   repetition and brace rules; error texts use Go's codes, and the quoted fragment may differ
//!   from Go's for unusual patterns.
//! * Go behaviours are those of Go 1.13, which built Istio 1.4: `net.ParseIP` accepts leading
//!   zeros in IPv4 addresses, and `url.Parse` errors read `parse <url>: <reason>` (unquoted).
//!
//! Upstream's checks in this package do not depend on environment variables or feature flags in
//! 1.4.10. Its constants `DefaultAuthenticationPolicyName`, `DefaultRbacConfigName` (both
//! `"default"`) and `IstioMeshGateway` (`"mesh"`) are defined privately where they are used.

mod common;
mod error;
mod go_regex;
mod mesh;
mod mixer;
mod networking;
mod security;

pub use common::{
    validate_duration, validate_duration_range, validate_fqdn, validate_http_header_name,
    validate_ipv4_address, validate_ipv4_subnet, validate_mixer_service, validate_percent,
    validate_port, validate_ports, validate_proxy_address, validate_unix_address,
    validate_wildcard_domain, UNIX_ADDRESS_PREFIX,
};
pub use error::Error;
pub use mesh::{
    validate_connect_timeout, validate_datadog_collector, validate_lightstep_collector,
    validate_localities, validate_locality_lb_setting, validate_mesh_config,
    validate_parent_and_drain, validate_proxy_config, validate_zipkin_collector,
};
pub use mixer::{
    validate_http_api_spec, validate_http_api_spec_binding, validate_mixer_attributes,
    validate_quota_spec, validate_quota_spec_binding,
};
pub use networking::{
    validate_destination_rule, validate_envoy_filter, validate_gateway, validate_service_entry,
    validate_sidecar, validate_synthetic_service_entry, validate_virtual_service,
};
pub use security::{
    parse_jwks_uri, validate_attribute, validate_authentication_policy,
    validate_authorization_policy, validate_cluster_rbac_config, validate_rbac_config,
    validate_service_role, validate_service_role_binding, JwksInfo,
};

/// The outcome of a validation: `Ok(())` or the error upstream would report.
pub type Result = std::result::Result<(), Error>;

#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// String checks never panic, whatever the input.
        #[test]
        fn string_checks_do_not_panic(s in "\\PC{0,40}") {
            let _ = validate_fqdn(&s);
            let _ = validate_wildcard_domain(&s);
            let _ = validate_proxy_address(&s);
            let _ = validate_ipv4_subnet(&s);
            let _ = validate_unix_address(&s);
            let _ = parse_jwks_uri(&s);
            let _ = validate_attribute(&s, std::slice::from_ref(&s));
            let _ = go_regex::compile(&s);
            let _ = validate_localities(std::slice::from_ref(&s));
        }

        /// Regex-like inputs never panic the Go-compatible regex check.
        #[test]
        fn regex_check_does_not_panic(s in "[a-z()\\[\\]{}*+?|\\\\,0-9:^$.é]{0,24}") {
            let _ = go_regex::compile(&s);
        }

        /// Host matching is symmetric, and a subset always matches.
        #[test]
        fn host_matching(a in "\\*?[a-c.]{0,6}", b in "\\*?[a-c.]{0,6}") {
            use crate::config::host;
            prop_assert_eq!(host::matches(&a, &b), host::matches(&b, &a));
            if host::subset_of(&a, &b) {
                prop_assert!(host::matches(&a, &b));
            }
        }
    }
}
