//! The config model shared by every consumer: a [`Config`] is metadata plus the typed spec of
//! its kind.

use std::collections::BTreeMap;

use prost::Message;
use serde_json::Value;

use super::schema::{Kind, Schema};
use istio_api::istio::{
    authentication::v1alpha1 as authn, mixer::adapter::model::v1beta1 as adapter_model,
    mixer::v1::config::client as mixer_client, networking::v1alpha3 as networking,
    policy::v1beta1 as policy, rbac::v1alpha1 as rbac, security::v1beta1 as security,
};

/// Metadata of a config object: which kind it is and the Kubernetes object metadata Istio uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigMeta {
    /// The kind; group, version, plural and the rest follow from [`Kind::schema`].
    pub kind: Kind,
    pub name: String,
    /// Empty for cluster-scoped kinds.
    pub namespace: String,
    /// The DNS domain suffix the config was read for (e.g. `cluster.local`); may be empty.
    pub domain: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub resource_version: String,
    /// RFC 3339 creation time as the API server reported it, if any.
    pub creation_timestamp: Option<String>,
}

impl ConfigMeta {
    /// Metadata of a new object of `kind`.
    pub fn new(kind: Kind, name: impl Into<String>, namespace: impl Into<String>) -> Self {
        ConfigMeta {
            kind,
            name: name.into(),
            namespace: namespace.into(),
            domain: String::new(),
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            resource_version: String::new(),
            creation_timestamp: None,
        }
    }

    /// The schema of this object's kind.
    pub fn schema(&self) -> &'static Schema {
        self.kind.schema()
    }

    /// `namespace/name` (or just `name` for cluster-scoped objects), for logs and errors.
    pub fn key(&self) -> String {
        if self.namespace.is_empty() {
            self.name.clone()
        } else {
            format!("{}/{}", self.namespace, self.name)
        }
    }
}

/// A config object of any kind.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub meta: ConfigMeta,
    pub spec: Spec,
}

impl Config {
    /// Validates the spec with its kind's rules.
    pub fn validate(&self) -> Result<(), super::validation::Error> {
        (self.meta.schema().validate)(&self.meta.name, &self.meta.namespace, &self.spec)
    }
}

macro_rules! specs {
    ($($variant:ident($ty:ty) = $proto:literal),+ $(,)?) => {
        /// The typed spec of a config object. Kinds that share a message (Policy and MeshPolicy,
        /// RbacConfig and ClusterRbacConfig, ServiceEntry and its synthetic twin) share a variant.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Spec {
            $($variant($ty),)+
        }

        impl Spec {
            /// Full protobuf name of the spec's message.
            pub fn message_name(&self) -> &'static str {
                match self {
                    $(Spec::$variant(_) => $proto,)+
                }
            }

            /// The protobuf binary encoding of the spec.
            pub fn encode_to_vec(&self) -> Vec<u8> {
                match self {
                    $(Spec::$variant(m) => m.encode_to_vec(),)+
                }
            }

            /// The spec in protobuf JSON (camelCase names, defaults omitted).
            pub fn to_json(&self) -> Value {
                let v = match self {
                    $(Spec::$variant(m) => serde_json::to_value(m),)+
                };
                // The pbjson serializers only fail on a Duration with inconsistent signs,
                // which decoding never produces.
                v.unwrap_or(Value::Null)
            }

            /// Decodes the protobuf binary form of a spec of the same message as `self`.
            pub fn decode_same(&self, bytes: &[u8]) -> Result<Spec, prost::DecodeError> {
                Ok(match self {
                    $(Spec::$variant(_) => Spec::$variant(<$ty>::decode(bytes)?),)+
                })
            }
        }

        $(
            impl From<$ty> for Spec {
                fn from(m: $ty) -> Self {
                    Spec::$variant(m)
                }
            }
        )+
    };
}

specs! {
    VirtualService(networking::VirtualService) = "istio.networking.v1alpha3.VirtualService",
    Gateway(networking::Gateway) = "istio.networking.v1alpha3.Gateway",
    ServiceEntry(networking::ServiceEntry) = "istio.networking.v1alpha3.ServiceEntry",
    DestinationRule(networking::DestinationRule) = "istio.networking.v1alpha3.DestinationRule",
    EnvoyFilter(networking::EnvoyFilter) = "istio.networking.v1alpha3.EnvoyFilter",
    Sidecar(networking::Sidecar) = "istio.networking.v1alpha3.Sidecar",
    HttpApiSpec(mixer_client::HttpapiSpec) = "istio.mixer.v1.config.client.HTTPAPISpec",
    HttpApiSpecBinding(mixer_client::HttpapiSpecBinding) = "istio.mixer.v1.config.client.HTTPAPISpecBinding",
    QuotaSpec(mixer_client::QuotaSpec) = "istio.mixer.v1.config.client.QuotaSpec",
    QuotaSpecBinding(mixer_client::QuotaSpecBinding) = "istio.mixer.v1.config.client.QuotaSpecBinding",
    AuthenticationPolicy(authn::Policy) = "istio.authentication.v1alpha1.Policy",
    ServiceRole(rbac::ServiceRole) = "istio.rbac.v1alpha1.ServiceRole",
    ServiceRoleBinding(rbac::ServiceRoleBinding) = "istio.rbac.v1alpha1.ServiceRoleBinding",
    RbacConfig(rbac::RbacConfig) = "istio.rbac.v1alpha1.RbacConfig",
    AuthorizationPolicy(security::AuthorizationPolicy) = "istio.security.v1beta1.AuthorizationPolicy",
    Rule(policy::Rule) = "istio.policy.v1beta1.Rule",
    AttributeManifest(policy::AttributeManifest) = "istio.policy.v1beta1.AttributeManifest",
    Instance(policy::Instance) = "istio.policy.v1beta1.Instance",
    Handler(policy::Handler) = "istio.policy.v1beta1.Handler",
    AdapterInfo(adapter_model::Info) = "istio.mixer.adapter.model.v1beta1.Info",
    Template(adapter_model::Template) = "istio.mixer.adapter.model.v1beta1.Template",
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Name;

    #[test]
    fn message_names_match_the_generated_types() {
        let cases: Vec<(Spec, String)> = vec![
            (
                networking::VirtualService::default().into(),
                networking::VirtualService::full_name(),
            ),
            (
                mixer_client::HttpapiSpec::default().into(),
                mixer_client::HttpapiSpec::full_name(),
            ),
            (policy::Rule::default().into(), policy::Rule::full_name()),
            (
                adapter_model::Info::default().into(),
                adapter_model::Info::full_name(),
            ),
            (
                security::AuthorizationPolicy::default().into(),
                security::AuthorizationPolicy::full_name(),
            ),
        ];
        for (spec, name) in cases {
            assert_eq!(spec.message_name(), name);
        }
    }

    #[test]
    fn binary_round_trip() {
        let spec = Spec::VirtualService(networking::VirtualService {
            hosts: vec!["reviews".into()],
            ..Default::default()
        });
        let bytes = spec.encode_to_vec();
        assert_eq!(spec.decode_same(&bytes).expect("decodes"), spec);
        assert_eq!(spec.to_json(), serde_json::json!({"hosts": ["reviews"]}));
    }
}
