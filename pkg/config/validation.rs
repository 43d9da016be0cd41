//! TEMPORARY scaffold until the validation port lands (replaced wholesale on merge).
#![allow(missing_docs, unused_variables)]
use istio_api::istio::{
    authentication::v1alpha1 as authn, mixer::v1::config::client as mixer_client,
    networking::v1alpha3 as networking, rbac::v1alpha1 as rbac, security::v1beta1 as security,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(String);
impl Error {
    pub fn new(m: impl Into<String>) -> Self {
        Error(m.into())
    }
    pub fn messages(&self) -> Vec<String> {
        vec![self.0.clone()]
    }
}
impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for Error {}

pub fn validate_virtual_service(
    name: &str,
    namespace: &str,
    spec: &networking::VirtualService,
) -> Result<(), Error> {
    Ok(())
}
pub fn validate_gateway(
    name: &str,
    namespace: &str,
    spec: &networking::Gateway,
) -> Result<(), Error> {
    Ok(())
}
pub fn validate_service_entry(
    name: &str,
    namespace: &str,
    spec: &networking::ServiceEntry,
) -> Result<(), Error> {
    Ok(())
}
pub fn validate_synthetic_service_entry(
    name: &str,
    namespace: &str,
    spec: &networking::ServiceEntry,
) -> Result<(), Error> {
    Ok(())
}
pub fn validate_destination_rule(
    name: &str,
    namespace: &str,
    spec: &networking::DestinationRule,
) -> Result<(), Error> {
    Ok(())
}
pub fn validate_envoy_filter(
    name: &str,
    namespace: &str,
    spec: &networking::EnvoyFilter,
) -> Result<(), Error> {
    Ok(())
}
pub fn validate_sidecar(
    name: &str,
    namespace: &str,
    spec: &networking::Sidecar,
) -> Result<(), Error> {
    Ok(())
}
pub fn validate_http_api_spec(
    name: &str,
    namespace: &str,
    spec: &mixer_client::HttpapiSpec,
) -> Result<(), Error> {
    Ok(())
}
pub fn validate_http_api_spec_binding(
    name: &str,
    namespace: &str,
    spec: &mixer_client::HttpapiSpecBinding,
) -> Result<(), Error> {
    Ok(())
}
pub fn validate_quota_spec(
    name: &str,
    namespace: &str,
    spec: &mixer_client::QuotaSpec,
) -> Result<(), Error> {
    Ok(())
}
pub fn validate_quota_spec_binding(
    name: &str,
    namespace: &str,
    spec: &mixer_client::QuotaSpecBinding,
) -> Result<(), Error> {
    Ok(())
}
pub fn validate_authentication_policy(
    name: &str,
    namespace: &str,
    spec: &authn::Policy,
) -> Result<(), Error> {
    Ok(())
}
pub fn validate_service_role(
    name: &str,
    namespace: &str,
    spec: &rbac::ServiceRole,
) -> Result<(), Error> {
    Ok(())
}
pub fn validate_service_role_binding(
    name: &str,
    namespace: &str,
    spec: &rbac::ServiceRoleBinding,
) -> Result<(), Error> {
    Ok(())
}
pub fn validate_rbac_config(
    name: &str,
    namespace: &str,
    spec: &rbac::RbacConfig,
) -> Result<(), Error> {
    Ok(())
}
pub fn validate_cluster_rbac_config(
    name: &str,
    namespace: &str,
    spec: &rbac::RbacConfig,
) -> Result<(), Error> {
    Ok(())
}
pub fn validate_authorization_policy(
    name: &str,
    namespace: &str,
    spec: &security::AuthorizationPolicy,
) -> Result<(), Error> {
    Ok(())
}
pub fn validate_mesh_config(
    mesh: &istio_api::istio::mesh::v1alpha1::MeshConfig,
) -> Result<(), Error> {
    Ok(())
}
pub fn validate_proxy_config(
    p: &istio_api::istio::mesh::v1alpha1::ProxyConfig,
) -> Result<(), Error> {
    Ok(())
}
