//! The registry of config kinds: one [`Schema`] per kind the Istio 1.4 charts install as a CRD
//! (23), plus the synthetic ServiceEntry kind galley produces for MCP.
//!
//! A schema ties together everything a consumer needs: the Kubernetes group/version/kind and
//! plural, upstream's internal type name (`virtual-service`), the protobuf message, the MCP
//! collection, the scope, how strictly its spec is decoded, and its validation.

use std::fmt;

use serde_json::Value;

use super::model::Spec;
use super::protojson::{self, UnknownFields};
use super::validation;

/// Every config kind this control plane knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    VirtualService,
    Gateway,
    ServiceEntry,
    SyntheticServiceEntry,
    DestinationRule,
    EnvoyFilter,
    Sidecar,
    HttpApiSpec,
    HttpApiSpecBinding,
    QuotaSpec,
    QuotaSpecBinding,
    Rule,
    AttributeManifest,
    Adapter,
    Instance,
    Template,
    Handler,
    AuthenticationPolicy,
    AuthenticationMeshPolicy,
    ServiceRole,
    ServiceRoleBinding,
    RbacConfig,
    ClusterRbacConfig,
    AuthorizationPolicy,
}

/// Which upstream pipeline reads a kind, which decides how its spec is decoded and checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Pilot's config kinds (upstream's `schemas.Istio` set): unknown spec fields are ignored,
    /// then the kind's validation runs.
    Istio,
    /// Mixer's config kinds (`config.istio.io/v1alpha2` rule, handler, ...): the spec must
    /// decode strictly; there is no further stateless validation.
    Mixer,
}

type ValidateFn = fn(&str, &str, &Spec) -> Result<(), validation::Error>;
type DecodeFn = fn(Value, &str) -> Result<Spec, protojson::Error>;

/// Everything known about one config kind.
pub struct Schema {
    pub kind: Kind,
    /// Kubernetes kind, as written in `kind:` (`VirtualService`, `rule`).
    pub kube_kind: &'static str,
    /// Upstream's internal type name (`virtual-service`).
    pub type_name: &'static str,
    /// Upstream's plural of the type name (`virtual-services`).
    pub plural: &'static str,
    /// The CRD's plural resource name (`virtualservices`).
    pub resource: &'static str,
    /// API group (`networking.istio.io`).
    pub group: &'static str,
    pub version: &'static str,
    /// Full protobuf name of the spec message.
    pub message_name: &'static str,
    /// MCP collection (`istio/networking/v1alpha3/virtualservices`).
    pub collection: &'static str,
    pub cluster_scoped: bool,
    /// Whether the kind is installed as a CRD by the 1.4 charts.
    pub crd: bool,
    pub family: Family,
    pub validate: ValidateFn,
    decode: DecodeFn,
}

impl Schema {
    /// `group/version`, as in `apiVersion:`.
    pub fn api_version(&self) -> String {
        format!("{}/{}", self.group, self.version)
    }

    /// Decodes a spec from its JSON form (as found under `spec:`), the way upstream reads this
    /// kind. `path` names the value in errors.
    pub fn decode_spec(&self, spec: Value, path: &str) -> Result<Spec, protojson::Error> {
        (self.decode)(spec, path)
    }

    /// Validates a spec of this kind.
    pub fn validate_spec(
        &self,
        name: &str,
        namespace: &str,
        spec: &Spec,
    ) -> Result<(), validation::Error> {
        (self.validate)(name, namespace, spec)
    }
}

impl fmt::Debug for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Schema")
            .field("kind", &self.kind)
            .field("api_version", &self.api_version())
            .field("kube_kind", &self.kube_kind)
            .field("message_name", &self.message_name)
            .finish_non_exhaustive()
    }
}

impl Kind {
    /// The schema of this kind.
    pub fn schema(self) -> &'static Schema {
        // SCHEMAS lists the kinds in declaration order; a unit test keeps them aligned.
        &SCHEMAS[self as usize]
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.schema().kube_kind)
    }
}

/// All schemas, in [`Kind`] order.
pub fn all() -> &'static [Schema] {
    &SCHEMAS
}

/// The kinds installed as CRDs by the 1.4 charts (23).
pub fn crds() -> impl Iterator<Item = &'static Schema> {
    SCHEMAS.iter().filter(|s| s.crd)
}

/// Looks a kind up the way upstream's Istio path does: by its type name derived from the
/// Kubernetes kind (`VirtualService` → `virtual-service`), whatever the apiVersion.
pub fn istio_by_kube_kind(kube_kind: &str) -> Option<&'static Schema> {
    let type_name = camel_to_kebab(kube_kind);
    SCHEMAS
        .iter()
        .find(|s| s.family == Family::Istio && s.type_name == type_name)
}

/// Looks a kind up by group, version and Kubernetes kind.
pub fn by_gvk(group: &str, version: &str, kube_kind: &str) -> Option<&'static Schema> {
    SCHEMAS
        .iter()
        .find(|s| s.crd && s.group == group && s.version == version && s.kube_kind == kube_kind)
}

/// Looks a kind up by its MCP collection.
pub fn by_collection(collection: &str) -> Option<&'static Schema> {
    SCHEMAS.iter().find(|s| s.collection == collection)
}

/// Upstream's conversion of a Kubernetes kind to a type name: `MyName` → `my-name`, with the
/// two initialisms it special-cases.
pub fn camel_to_kebab(s: &str) -> String {
    match s {
        "HTTPAPISpec" => return "http-api-spec".to_string(),
        "HTTPAPISpecBinding" => return "http-api-spec-binding".to_string(),
        _ => {}
    }
    let mut out = String::with_capacity(s.len() + 4);
    for (i, c) in s.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Upstream's conversion of a type name to a Kubernetes kind: `my-name` → `MyName`.
pub fn kebab_to_camel(s: &str) -> String {
    match s {
        "http-api-spec" => return "HTTPAPISpec".to_string(),
        "http-api-spec-binding" => return "HTTPAPISpecBinding".to_string(),
        _ => {}
    }
    s.split('-')
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(first) => first.to_uppercase().chain(c).collect::<String>(),
                None => String::new(),
            }
        })
        .collect()
}

macro_rules! decoder {
    ($name:ident, $variant:ident, $ty:ty, $unknown:expr) => {
        pub(super) fn $name(v: Value, path: &str) -> Result<Spec, protojson::Error> {
            let message: $ty = protojson::decode(
                <$ty as prost::Name>::full_name().as_str(),
                v,
                $unknown,
                path,
            )?;
            Ok(Spec::$variant(message))
        }
    };
}

macro_rules! validator {
    ($name:ident, $variant:ident, $func:path) => {
        pub(super) fn $name(
            name: &str,
            namespace: &str,
            spec: &Spec,
        ) -> Result<(), validation::Error> {
            match spec {
                Spec::$variant(m) => $func(name, namespace, m),
                other => Err(validation::Error::new(format!(
                    "expected a {} spec, found {}",
                    stringify!($variant),
                    other.message_name()
                ))),
            }
        }
    };
}

mod codec {
    use super::*;
    use istio_api::istio::{
        authentication::v1alpha1 as authn, mixer::adapter::model::v1beta1 as adapter_model,
        mixer::v1::config::client as mixer_client, networking::v1alpha3 as networking,
        policy::v1beta1 as policy, rbac::v1alpha1 as rbac, security::v1beta1 as security,
    };

    const LENIENT: UnknownFields = UnknownFields::Ignore;
    const STRICT: UnknownFields = UnknownFields::Reject;

    decoder!(
        virtual_service,
        VirtualService,
        networking::VirtualService,
        LENIENT
    );
    decoder!(gateway, Gateway, networking::Gateway, LENIENT);
    decoder!(
        service_entry,
        ServiceEntry,
        networking::ServiceEntry,
        LENIENT
    );
    decoder!(
        destination_rule,
        DestinationRule,
        networking::DestinationRule,
        LENIENT
    );
    decoder!(envoy_filter, EnvoyFilter, networking::EnvoyFilter, LENIENT);
    decoder!(sidecar, Sidecar, networking::Sidecar, LENIENT);
    decoder!(
        http_api_spec,
        HttpApiSpec,
        mixer_client::HttpapiSpec,
        LENIENT
    );
    decoder!(
        http_api_spec_binding,
        HttpApiSpecBinding,
        mixer_client::HttpapiSpecBinding,
        LENIENT
    );
    decoder!(quota_spec, QuotaSpec, mixer_client::QuotaSpec, LENIENT);
    decoder!(
        quota_spec_binding,
        QuotaSpecBinding,
        mixer_client::QuotaSpecBinding,
        LENIENT
    );
    decoder!(
        authentication_policy,
        AuthenticationPolicy,
        authn::Policy,
        LENIENT
    );
    decoder!(service_role, ServiceRole, rbac::ServiceRole, LENIENT);
    decoder!(
        service_role_binding,
        ServiceRoleBinding,
        rbac::ServiceRoleBinding,
        LENIENT
    );
    decoder!(rbac_config, RbacConfig, rbac::RbacConfig, LENIENT);
    decoder!(
        authorization_policy,
        AuthorizationPolicy,
        security::AuthorizationPolicy,
        LENIENT
    );
    decoder!(rule, Rule, policy::Rule, STRICT);
    decoder!(
        attribute_manifest,
        AttributeManifest,
        policy::AttributeManifest,
        STRICT
    );
    decoder!(instance, Instance, policy::Instance, STRICT);
    decoder!(handler, Handler, policy::Handler, STRICT);
    decoder!(adapter, AdapterInfo, adapter_model::Info, STRICT);
    decoder!(template, Template, adapter_model::Template, STRICT);

    validator!(
        v_virtual_service,
        VirtualService,
        validation::validate_virtual_service
    );
    validator!(v_gateway, Gateway, validation::validate_gateway);
    validator!(
        v_service_entry,
        ServiceEntry,
        validation::validate_service_entry
    );
    validator!(
        v_synthetic_service_entry,
        ServiceEntry,
        validation::validate_synthetic_service_entry
    );
    validator!(
        v_destination_rule,
        DestinationRule,
        validation::validate_destination_rule
    );
    validator!(
        v_envoy_filter,
        EnvoyFilter,
        validation::validate_envoy_filter
    );
    validator!(v_sidecar, Sidecar, validation::validate_sidecar);
    validator!(
        v_http_api_spec,
        HttpApiSpec,
        validation::validate_http_api_spec
    );
    validator!(
        v_http_api_spec_binding,
        HttpApiSpecBinding,
        validation::validate_http_api_spec_binding
    );
    validator!(v_quota_spec, QuotaSpec, validation::validate_quota_spec);
    validator!(
        v_quota_spec_binding,
        QuotaSpecBinding,
        validation::validate_quota_spec_binding
    );
    validator!(
        v_authentication_policy,
        AuthenticationPolicy,
        validation::validate_authentication_policy
    );
    validator!(
        v_service_role,
        ServiceRole,
        validation::validate_service_role
    );
    validator!(
        v_service_role_binding,
        ServiceRoleBinding,
        validation::validate_service_role_binding
    );
    validator!(v_rbac_config, RbacConfig, validation::validate_rbac_config);
    validator!(
        v_cluster_rbac_config,
        RbacConfig,
        validation::validate_cluster_rbac_config
    );
    validator!(
        v_authorization_policy,
        AuthorizationPolicy,
        validation::validate_authorization_policy
    );

    /// Mixer kinds have no stateless checks beyond strict decoding (as galley's webhook).
    pub(super) fn v_none(_: &str, _: &str, _: &Spec) -> Result<(), validation::Error> {
        Ok(())
    }
}

macro_rules! schema {
    (
        $kind:ident, $kube_kind:literal, $type_name:literal, $plural:literal, $resource:literal,
        $group:literal, $version:literal, $message:literal, $collection:literal,
        cluster = $cluster:literal, crd = $crd:literal, $family:ident, $decode:ident, $validate:ident
    ) => {
        Schema {
            kind: Kind::$kind,
            kube_kind: $kube_kind,
            type_name: $type_name,
            plural: $plural,
            resource: $resource,
            group: $group,
            version: $version,
            message_name: $message,
            collection: $collection,
            cluster_scoped: $cluster,
            crd: $crd,
            family: Family::$family,
            validate: codec::$validate,
            decode: codec::$decode,
        }
    };
}

static SCHEMAS: [Schema; 24] = [
    schema!(
        VirtualService,
        "VirtualService",
        "virtual-service",
        "virtual-services",
        "virtualservices",
        "networking.istio.io",
        "v1alpha3",
        "istio.networking.v1alpha3.VirtualService",
        "istio/networking/v1alpha3/virtualservices",
        cluster = false,
        crd = true,
        Istio,
        virtual_service,
        v_virtual_service
    ),
    schema!(
        Gateway,
        "Gateway",
        "gateway",
        "gateways",
        "gateways",
        "networking.istio.io",
        "v1alpha3",
        "istio.networking.v1alpha3.Gateway",
        "istio/networking/v1alpha3/gateways",
        cluster = false,
        crd = true,
        Istio,
        gateway,
        v_gateway
    ),
    schema!(
        ServiceEntry,
        "ServiceEntry",
        "service-entry",
        "service-entries",
        "serviceentries",
        "networking.istio.io",
        "v1alpha3",
        "istio.networking.v1alpha3.ServiceEntry",
        "istio/networking/v1alpha3/serviceentries",
        cluster = false,
        crd = true,
        Istio,
        service_entry,
        v_service_entry
    ),
    schema!(
        SyntheticServiceEntry,
        "SyntheticServiceEntry",
        "synthetic-service-entry",
        "synthetic-service-entries",
        "syntheticserviceentries",
        "networking.istio.io",
        "v1alpha3",
        "istio.networking.v1alpha3.ServiceEntry",
        "istio/networking/v1alpha3/synthetic/serviceentries",
        cluster = true,
        crd = false,
        Istio,
        service_entry,
        v_synthetic_service_entry
    ),
    schema!(
        DestinationRule,
        "DestinationRule",
        "destination-rule",
        "destination-rules",
        "destinationrules",
        "networking.istio.io",
        "v1alpha3",
        "istio.networking.v1alpha3.DestinationRule",
        "istio/networking/v1alpha3/destinationrules",
        cluster = false,
        crd = true,
        Istio,
        destination_rule,
        v_destination_rule
    ),
    schema!(
        EnvoyFilter,
        "EnvoyFilter",
        "envoy-filter",
        "envoy-filters",
        "envoyfilters",
        "networking.istio.io",
        "v1alpha3",
        "istio.networking.v1alpha3.EnvoyFilter",
        "istio/networking/v1alpha3/envoyfilters",
        cluster = false,
        crd = true,
        Istio,
        envoy_filter,
        v_envoy_filter
    ),
    schema!(
        Sidecar,
        "Sidecar",
        "sidecar",
        "sidecars",
        "sidecars",
        "networking.istio.io",
        "v1alpha3",
        "istio.networking.v1alpha3.Sidecar",
        "istio/networking/v1alpha3/sidecars",
        cluster = false,
        crd = true,
        Istio,
        sidecar,
        v_sidecar
    ),
    schema!(
        HttpApiSpec,
        "HTTPAPISpec",
        "http-api-spec",
        "http-api-specs",
        "httpapispecs",
        "config.istio.io",
        "v1alpha2",
        "istio.mixer.v1.config.client.HTTPAPISpec",
        "istio/config/v1alpha2/httpapispecs",
        cluster = false,
        crd = true,
        Istio,
        http_api_spec,
        v_http_api_spec
    ),
    schema!(
        HttpApiSpecBinding,
        "HTTPAPISpecBinding",
        "http-api-spec-binding",
        "http-api-spec-bindings",
        "httpapispecbindings",
        "config.istio.io",
        "v1alpha2",
        "istio.mixer.v1.config.client.HTTPAPISpecBinding",
        "istio/config/v1alpha2/httpapispecbindings",
        cluster = false,
        crd = true,
        Istio,
        http_api_spec_binding,
        v_http_api_spec_binding
    ),
    schema!(
        QuotaSpec,
        "QuotaSpec",
        "quota-spec",
        "quota-specs",
        "quotaspecs",
        "config.istio.io",
        "v1alpha2",
        "istio.mixer.v1.config.client.QuotaSpec",
        "istio/mixer/v1/config/client/quotaspecs",
        cluster = false,
        crd = true,
        Istio,
        quota_spec,
        v_quota_spec
    ),
    schema!(
        QuotaSpecBinding,
        "QuotaSpecBinding",
        "quota-spec-binding",
        "quota-spec-bindings",
        "quotaspecbindings",
        "config.istio.io",
        "v1alpha2",
        "istio.mixer.v1.config.client.QuotaSpecBinding",
        "istio/mixer/v1/config/client/quotaspecbindings",
        cluster = false,
        crd = true,
        Istio,
        quota_spec_binding,
        v_quota_spec_binding
    ),
    schema!(
        Rule,
        "rule",
        "rule",
        "rules",
        "rules",
        "config.istio.io",
        "v1alpha2",
        "istio.policy.v1beta1.Rule",
        "istio/policy/v1beta1/rules",
        cluster = false,
        crd = true,
        Mixer,
        rule,
        v_none
    ),
    schema!(
        AttributeManifest,
        "attributemanifest",
        "attributemanifest",
        "attributemanifests",
        "attributemanifests",
        "config.istio.io",
        "v1alpha2",
        "istio.policy.v1beta1.AttributeManifest",
        "istio/policy/v1beta1/attributemanifests",
        cluster = false,
        crd = true,
        Mixer,
        attribute_manifest,
        v_none
    ),
    schema!(
        Adapter,
        "adapter",
        "adapter",
        "adapters",
        "adapters",
        "config.istio.io",
        "v1alpha2",
        "istio.mixer.adapter.model.v1beta1.Info",
        "istio/config/v1alpha2/adapters",
        cluster = false,
        crd = true,
        Mixer,
        adapter,
        v_none
    ),
    schema!(
        Instance,
        "instance",
        "instance",
        "instances",
        "instances",
        "config.istio.io",
        "v1alpha2",
        "istio.policy.v1beta1.Instance",
        "istio/policy/v1beta1/instances",
        cluster = false,
        crd = true,
        Mixer,
        instance,
        v_none
    ),
    schema!(
        Template,
        "template",
        "template",
        "templates",
        "templates",
        "config.istio.io",
        "v1alpha2",
        "istio.mixer.adapter.model.v1beta1.Template",
        "istio/config/v1alpha2/templates",
        cluster = false,
        crd = true,
        Mixer,
        template,
        v_none
    ),
    schema!(
        Handler,
        "handler",
        "handler",
        "handlers",
        "handlers",
        "config.istio.io",
        "v1alpha2",
        "istio.policy.v1beta1.Handler",
        "istio/policy/v1beta1/handlers",
        cluster = false,
        crd = true,
        Mixer,
        handler,
        v_none
    ),
    schema!(
        AuthenticationPolicy,
        "Policy",
        "policy",
        "policies",
        "policies",
        "authentication.istio.io",
        "v1alpha1",
        "istio.authentication.v1alpha1.Policy",
        "istio/authentication/v1alpha1/policies",
        cluster = false,
        crd = true,
        Istio,
        authentication_policy,
        v_authentication_policy
    ),
    schema!(
        AuthenticationMeshPolicy,
        "MeshPolicy",
        "mesh-policy",
        "mesh-policies",
        "meshpolicies",
        "authentication.istio.io",
        "v1alpha1",
        "istio.authentication.v1alpha1.Policy",
        "istio/authentication/v1alpha1/meshpolicies",
        cluster = true,
        crd = true,
        Istio,
        authentication_policy,
        v_authentication_policy
    ),
    schema!(
        ServiceRole,
        "ServiceRole",
        "service-role",
        "service-roles",
        "serviceroles",
        "rbac.istio.io",
        "v1alpha1",
        "istio.rbac.v1alpha1.ServiceRole",
        "istio/rbac/v1alpha1/serviceroles",
        cluster = false,
        crd = true,
        Istio,
        service_role,
        v_service_role
    ),
    schema!(
        ServiceRoleBinding,
        "ServiceRoleBinding",
        "service-role-binding",
        "service-role-bindings",
        "servicerolebindings",
        "rbac.istio.io",
        "v1alpha1",
        "istio.rbac.v1alpha1.ServiceRoleBinding",
        "istio/rbac/v1alpha1/servicerolebindings",
        cluster = false,
        crd = true,
        Istio,
        service_role_binding,
        v_service_role_binding
    ),
    schema!(
        RbacConfig,
        "RbacConfig",
        "rbac-config",
        "rbac-configs",
        "rbacconfigs",
        "rbac.istio.io",
        "v1alpha1",
        "istio.rbac.v1alpha1.RbacConfig",
        "istio/rbac/v1alpha1/rbacconfigs",
        cluster = false,
        crd = true,
        Istio,
        rbac_config,
        v_rbac_config
    ),
    schema!(
        ClusterRbacConfig,
        "ClusterRbacConfig",
        "cluster-rbac-config",
        "clusterrbacconfigs",
        "clusterrbacconfigs",
        "rbac.istio.io",
        "v1alpha1",
        "istio.rbac.v1alpha1.RbacConfig",
        "istio/rbac/v1alpha1/clusterrbacconfigs",
        cluster = true,
        crd = true,
        Istio,
        rbac_config,
        v_cluster_rbac_config
    ),
    schema!(
        AuthorizationPolicy,
        "AuthorizationPolicy",
        "authorization-policy",
        "authorizationpolicies",
        "authorizationpolicies",
        "security.istio.io",
        "v1beta1",
        "istio.security.v1beta1.AuthorizationPolicy",
        "istio/security/v1beta1/authorizationpolicies",
        cluster = false,
        crd = true,
        Istio,
        authorization_policy,
        v_authorization_policy
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_index_their_schemas() {
        for (i, s) in SCHEMAS.iter().enumerate() {
            assert_eq!(s.kind as usize, i, "{:?} is out of place", s.kind);
            assert_eq!(s.kind.schema().kube_kind, s.kube_kind);
            assert!(
                istio_api::descriptor_pool()
                    .get_message_by_name(s.message_name)
                    .is_some(),
                "{}",
                s.message_name
            );
        }
    }

    #[test]
    fn twenty_three_crds_in_five_groups() {
        assert_eq!(crds().count(), 23);
        let count = |g: &str| crds().filter(|s| s.group == g).count();
        assert_eq!(count("networking.istio.io"), 6);
        assert_eq!(count("config.istio.io"), 10);
        assert_eq!(count("authentication.istio.io"), 2);
        assert_eq!(count("rbac.istio.io"), 4);
        assert_eq!(count("security.istio.io"), 1);
        let cluster: Vec<_> = crds()
            .filter(|s| s.cluster_scoped)
            .map(|s| s.kube_kind)
            .collect();
        assert_eq!(cluster, vec!["MeshPolicy", "ClusterRbacConfig"]);
    }

    #[test]
    fn lookups() {
        assert_eq!(
            istio_by_kube_kind("VirtualService").map(|s| s.kind),
            Some(Kind::VirtualService)
        );
        assert_eq!(
            istio_by_kube_kind("HTTPAPISpecBinding").map(|s| s.kind),
            Some(Kind::HttpApiSpecBinding)
        );
        assert_eq!(
            istio_by_kube_kind("MeshPolicy").map(|s| s.kind),
            Some(Kind::AuthenticationMeshPolicy)
        );
        assert_eq!(
            istio_by_kube_kind("ClusterRbacConfig").map(|s| s.kind),
            Some(Kind::ClusterRbacConfig)
        );
        // Mixer kinds are not part of upstream's Istio set.
        assert!(istio_by_kube_kind("rule").is_none());
        assert_eq!(
            by_gvk("config.istio.io", "v1alpha2", "rule").map(|s| s.kind),
            Some(Kind::Rule)
        );
        assert!(by_gvk("config.istio.io", "v1alpha3", "rule").is_none());
        assert_eq!(
            by_collection("istio/networking/v1alpha3/synthetic/serviceentries").map(|s| s.kind),
            Some(Kind::SyntheticServiceEntry)
        );
    }

    #[test]
    fn case_conversions_round_trip() {
        for s in SCHEMAS
            .iter()
            .filter(|s| s.family == Family::Istio && s.crd)
        {
            assert_eq!(camel_to_kebab(s.kube_kind), s.type_name);
            assert_eq!(kebab_to_camel(s.type_name), s.kube_kind);
        }
    }

    #[test]
    fn decoding_follows_the_family() {
        let lenient = Kind::VirtualService
            .schema()
            .decode_spec(serde_json::json!({"hosts": ["a"], "extra": 1}), "spec");
        assert!(lenient.is_ok());
        let strict = Kind::Rule
            .schema()
            .decode_spec(serde_json::json!({"match": "true", "extra": 1}), "spec")
            .expect_err("mixer kinds are strict");
        assert_eq!(
            strict.to_string(),
            "spec: unknown field \"extra\" in istio.policy.v1beta1.Rule"
        );
    }
}
