//! Security kinds: authentication Policy and MeshPolicy, AuthorizationPolicy, and the RBAC
//! kinds (ServiceRole, ServiceRoleBinding, RbacConfig, ClusterRbacConfig).

mod url;

use crate::gostr::{self, quote};
use istio_api::istio::{
    authentication::v1alpha1::{
        peer_authentication_method::Params, port_selector::Port as AuthnPort, Jwt, Policy,
        PortSelector as AuthnPortSelector, TargetSelector,
    },
    rbac::v1alpha1::{
        rbac_config::Mode, AccessRule, RbacConfig, ServiceRole, ServiceRoleBinding, Subject,
    },
    security::v1beta1::AuthorizationPolicy,
};
use std::collections::HashSet;

use super::{
    common::{fail, validate_port, validate_ports},
    error::Errors,
    networking::validate_subset_name,
    Error, Result,
};
use crate::config::{host, labels};

/// The only accepted name of a mesh-wide (or namespace-wide) authentication policy.
const DEFAULT_AUTHENTICATION_POLICY_NAME: &str = "default";
/// The only accepted name of an RbacConfig / ClusterRbacConfig.
const DEFAULT_RBAC_CONFIG_NAME: &str = "default";

/// Checks an authentication Policy (namespaced) or MeshPolicy (cluster-scoped, recognised by an
/// empty `namespace`): naming rules for target-less policies, targets, and the JWT settings of
/// peer and origin methods (each issuer once).
pub fn validate_authentication_policy(name: &str, namespace: &str, policy: &Policy) -> Result {
    let mut errs = Errors::new();
    let cluster_scoped = namespace.is_empty();
    let is_default = name == DEFAULT_AUTHENTICATION_POLICY_NAME;
    if cluster_scoped {
        if !is_default {
            errs.msg(format!(
                "cluster-scoped authentication policy name must be {}, found {}",
                quote(DEFAULT_AUTHENTICATION_POLICY_NAME),
                quote(name)
            ));
        }
        if !policy.targets.is_empty() {
            errs.msg("cluster-scoped authentication policy must not have targets");
        }
    } else {
        if policy.targets.is_empty() && !is_default {
            errs.msg(format!(
                "authentication policy with no target rules  must be named {}, found {}",
                quote(DEFAULT_AUTHENTICATION_POLICY_NAME),
                quote(name)
            ));
        }
        if !policy.targets.is_empty() && is_default {
            errs.msg(format!(
                "authentication policy with name {} must not have any target rules",
                quote(name)
            ));
        }
        for target in &policy.targets {
            errs.append(validate_authn_policy_target(target));
        }
    }

    let mut issuers = HashSet::new();
    let mut check_jwt = |jwt: &Jwt, errs: &mut Errors| {
        if !issuers.insert(jwt.issuer.clone()) {
            errs.msg(format!(
                "jwt with issuer {} already defined",
                quote(&jwt.issuer)
            ));
        }
        errs.append(validate_jwt(jwt));
    };
    for peer in &policy.peers {
        if let Some(Params::Jwt(jwt)) = &peer.params {
            check_jwt(jwt, &mut errs);
        }
    }
    for origin in &policy.origins {
        match &origin.jwt {
            None => errs.msg_multi("jwt cannot be empty"),
            Some(jwt) => check_jwt(jwt, &mut errs),
        }
    }
    errs.finish()
}

fn validate_jwt(jwt: &Jwt) -> Result {
    let mut errs = Errors::new();
    if jwt.issuer.is_empty() {
        errs.msg_multi("issuer must be set");
    }
    for audience in &jwt.audiences {
        if audience.is_empty() {
            errs.msg_multi("audience must be non-empty string");
        }
    }
    if !jwt.jwks_uri.is_empty() {
        if let Err(e) = parse_jwks_uri(&jwt.jwks_uri) {
            errs.push_multi(e);
        }
    }
    for header in &jwt.jwt_headers {
        if header.is_empty() {
            errs.msg_multi("location header must be non-empty string");
        }
    }
    for param in &jwt.jwt_params {
        if param.is_empty() {
            errs.msg_multi("location query must be non-empty string");
        }
    }
    errs.finish()
}

fn validate_authn_policy_target(target: &TargetSelector) -> Result {
    let mut errs = Errors::new();
    // The target must be a short service name.
    if !labels::is_dns1123_label(&target.name) {
        errs.msg_multi(format!(
            "target name {} must be a valid label",
            quote(&target.name)
        ));
    }
    for port in &target.ports {
        errs.append(validate_authn_port_selector(port));
    }
    errs.finish()
}

/// A port selector is a port number or a port name; unset, both are reported missing.
fn validate_authn_port_selector(selector: &AuthnPortSelector) -> Result {
    let subset_name = validate_subset_name;
    match &selector.port {
        Some(AuthnPort::Number(n)) if *n != 0 => validate_port(i64::from(*n)),
        Some(AuthnPort::Name(name)) if !name.is_empty() => subset_name(name),
        _ => {
            let mut errs = Errors::new();
            errs.append(subset_name(""));
            errs.append(validate_port(0));
            errs.finish()
        }
    }
}

/// What a JWKS URI designates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwksInfo {
    /// Host of the URI.
    pub hostname: host::Name,
    /// `http` or `https`.
    pub scheme: String,
    /// Port from the URI, or 80 / 443 by scheme.
    pub port: i64,
    /// True for `https`.
    pub use_ssl: bool,
}

/// Parses a JWKS URI: an `http` or `https` URL, with the port defaulting to the scheme's.
pub fn parse_jwks_uri(jwks_uri: &str) -> std::result::Result<JwksInfo, Error> {
    let u = url::parse(jwks_uri).map_err(Error::new)?;
    let (use_ssl, default_port) = match u.scheme.as_str() {
        "http" => (false, 80),
        "https" => (true, 443),
        other => {
            return Err(Error::new(format!(
                "URI scheme {} is not supported",
                quote(other)
            )))
        }
    };
    let port = match u.port() {
        "" => default_port,
        p => gostr::atoi(p).map_err(Error::new)?,
    };
    Ok(JwksInfo {
        hostname: host::Name::from(u.hostname()),
        scheme: u.scheme.clone(),
        port,
        use_ssl,
    })
}

/// Checks an AuthorizationPolicy: selector labels are non-empty, and each condition has a key,
/// values, and a known attribute. The first problem found is reported.
pub fn validate_authorization_policy(
    _name: &str,
    _namespace: &str,
    policy: &AuthorizationPolicy,
) -> Result {
    if let Some(selector) = &policy.selector {
        if selector
            .match_labels
            .iter()
            .any(|(k, v)| k.is_empty() || v.is_empty())
        {
            return fail("selector has empty key or values");
        }
    }
    for condition in policy.rules.iter().flat_map(|r| &r.when) {
        if condition.key.is_empty() || condition.values.is_empty() {
            return fail("condition has empty key or values");
        }
        if let Err(e) = validate_attribute(&condition.key, &condition.values) {
            return fail(format!("invalid condition: {e}"));
        }
    }
    Ok(())
}

/// Checks an authorization condition: the key must be a supported attribute, and the values
/// must suit it (IPs or CIDRs, ports, `name[key]` forms).
pub fn validate_attribute(key: &str, values: &[String]) -> Result {
    const EXACT_NO_CHECK: [&str; 7] = [
        "source.namespace",
        "source.user",
        "source.principal",
        "request.auth.principal",
        "request.auth.audiences",
        "request.auth.presenter",
        "connection.sni",
    ];
    const DEPRECATED: [&str; 3] = [
        "destination.name",
        "destination.namespace",
        "destination.user",
    ];
    if key.starts_with("request.headers") || key.starts_with("request.auth.claims") {
        return validate_map_key(key);
    }
    match key {
        "source.ip" | "destination.ip" => validate_ips(values),
        "destination.port" => validate_attribute_ports(values),
        k if EXACT_NO_CHECK.contains(&k) => Ok(()),
        k if k.starts_with("destination.labels") || DEPRECATED.contains(&k) => fail(format!(
            "deprecated attribute ({k}): only supported in v1alpha1"
        )),
        k if k.starts_with("experimental.envoy.filters.") => Ok(()),
        k => fail(format!("unknown attribute ({k})")),
    }
}

fn validate_ips(ips: &[String]) -> Result {
    for v in ips {
        if v.contains('/') {
            if let Err(e) = gostr::parse_cidr(v) {
                return fail(format!("bad CIDR range ({v}): {e}"));
            }
        } else if gostr::parse_ip(v).is_none() {
            return fail(format!("bad IP address ({v})"));
        }
    }
    Ok(())
}

fn validate_attribute_ports(ports: &[String]) -> Result {
    for port in ports {
        match gostr::parse_uint32(port) {
            Err(e) => return fail(format!("bad port ({port}): {e}")),
            Ok(p) if p > 65535 => return fail(format!("bad port ({port}): <nil>")),
            Ok(_) => {}
        }
    }
    Ok(())
}

/// A map attribute must look like `name[key]` with non-empty parts.
fn validate_map_key(key: &str) -> Result {
    match key.find('[') {
        Some(open) if key.ends_with(']') && open > 0 && open + 2 < key.len() => Ok(()),
        _ => fail(format!("bad key ({key}): should have format a[b]")),
    }
}

/// Checks a ServiceRole: at least one rule; per rule, regular and `not_` fields are not mixed,
/// ports are valid, and constraints have keys and values and do not repeat a first-class field.
pub fn validate_service_role(_name: &str, _namespace: &str, role: &ServiceRole) -> Result {
    validate_access_rules(&role.rules)
}

fn validate_access_rules(rules: &[AccessRule]) -> Result {
    let mut errs = Errors::new();
    if rules.is_empty() {
        errs.msg("at least 1 rule must be specified");
    }
    for (i, rule) in rules.iter().enumerate() {
        let both = |what: &str| {
            format!(
                "cannot have both regular and *not* attributes for the same kind ({what}) for rule {i}"
            )
        };
        if !rule.methods.is_empty() && !rule.not_methods.is_empty() {
            errs.msg(both("i.e. methods and not_methods"));
        }
        if !rule.ports.is_empty() && !rule.not_ports.is_empty() {
            errs.msg(both("i.e. ports and not_ports"));
        }
        if !validate_ports(&rule.ports) || !validate_ports(&rule.not_ports) {
            errs.msg("at least one port is not in the range of [0, 65535]");
        }
        for (j, constraint) in rule.constraints.iter().enumerate() {
            if constraint.key.is_empty() {
                errs.msg(format!(
                    "key cannot be empty for constraint {j} in rule {i}"
                ));
            }
            if constraint.values.is_empty() {
                errs.msg(format!(
                    "at least 1 value must be specified for constraint {j} in rule {i}"
                ));
            }
            if has_existing_first_class_field_in_role(&constraint.key, rule) {
                errs.msg(format!(
                    "cannot define {} for rule {i} because a similar first-class field has been defined",
                    constraint.key
                ));
            }
        }
    }
    errs.finish()
}

/// True when a constraint repeats a first-class field of the rule: only `destination.port`
/// (as `ports` or `not_ports`) exists in both places.
fn has_existing_first_class_field_in_role(key: &str, rule: &AccessRule) -> bool {
    key == "destination.port" && (!rule.ports.is_empty() || !rule.not_ports.is_empty())
}

/// Checks a ServiceRoleBinding: subjects are non-empty, properties do not repeat first-class
/// fields, `*` is not used in names, exactly one of `roleRef`, `role` or `actions` is set and
/// each is valid.
pub fn validate_service_role_binding(
    _name: &str,
    _namespace: &str,
    binding: &ServiceRoleBinding,
) -> Result {
    let mut errs = Errors::new();
    if binding.subjects.is_empty() {
        errs.msg("at least 1 subject must be specified");
    }
    for (i, subject) in binding.subjects.iter().enumerate() {
        if is_first_class_field_empty(subject) {
            errs.msg(format!(
                "empty subjects are not allowed. Found an empty subject at index {i}"
            ));
        }
        for key in subject.properties.keys() {
            if has_existing_first_class_field_in_binding(key, subject) {
                errs.msg(format!(
                    "cannot define {key} for binding {i} because a similar first-class field has been defined"
                ));
            }
        }
        // `source.principal: "*"` differs from the old `user: "*"`; avoid the ambiguity.
        if subject
            .names
            .iter()
            .chain(&subject.not_names)
            .any(|n| n == "*")
        {
            errs.msg(format!("do not use * for names or not_names (in rule {i})"));
        }
    }
    let role_fields = [
        binding.role_ref.is_some(),
        !binding.actions.is_empty(),
        !binding.role.is_empty(),
    ];
    if role_fields.iter().filter(|set| **set).count() != 1 {
        errs.msg("exactly one of `roleRef`, `role`, or `actions` must be specified");
    }
    if let Some(role_ref) = &binding.role_ref {
        const EXPECTED_KIND: &str = "ServiceRole";
        if role_ref.kind != EXPECTED_KIND {
            errs.msg(format!(
                "kind set to {}, currently the only supported value is {}",
                quote(&role_ref.kind),
                quote(EXPECTED_KIND)
            ));
        }
        if role_ref.name.is_empty() {
            errs.msg("`name` in `roleRef` cannot be empty");
        }
    }
    if !binding.actions.is_empty() {
        errs.append(validate_access_rules(&binding.actions));
    }
    // A role in the root namespace is written `/name`; `/` alone names nothing.
    if binding.role == "/" {
        errs.msg("`role` cannot have an empty ServiceRole name");
    }
    errs.finish()
}

fn is_first_class_field_empty(s: &Subject) -> bool {
    #[allow(deprecated)]
    let group = &s.group;
    s.user.is_empty()
        && group.is_empty()
        && s.properties.is_empty()
        && s.namespaces.is_empty()
        && s.not_namespaces.is_empty()
        && s.groups.is_empty()
        && s.not_groups.is_empty()
        && s.ips.is_empty()
        && s.not_ips.is_empty()
        && s.names.is_empty()
        && s.not_names.is_empty()
}

/// True when a binding property repeats a first-class field that is set.
fn has_existing_first_class_field_in_binding(key: &str, s: &Subject) -> bool {
    match key {
        "source.principal" => !s.names.is_empty(),
        "request.auth.claims[groups]" => !s.groups.is_empty(),
        "source.namespace" => !s.namespaces.is_empty(),
        "source.ip" => !s.ips.is_empty(),
        _ => false,
    }
}

fn check_rbac_config(name: &str, kind: &str, config: &RbacConfig) -> Result {
    if name != DEFAULT_RBAC_CONFIG_NAME {
        return fail(format!(
            "{kind} has invalid name({name}), name must be {}",
            quote(DEFAULT_RBAC_CONFIG_NAME)
        ));
    }
    if config.mode == Mode::OnWithInclusion as i32 && config.inclusion.is_none() {
        return fail("inclusion cannot be null (use 'inclusion: {}' for none)");
    }
    if config.mode == Mode::OnWithExclusion as i32 && config.exclusion.is_none() {
        return fail("exclusion cannot be null (use 'exclusion: {}' for none)");
    }
    Ok(())
}

/// Checks a ClusterRbacConfig: it is named `default`, and the inclusion or exclusion list its
/// mode needs is present.
pub fn validate_cluster_rbac_config(name: &str, _namespace: &str, config: &RbacConfig) -> Result {
    check_rbac_config(name, "ClusterRbacConfig", config)
}

/// Checks a (deprecated) RbacConfig with the rules of [`validate_cluster_rbac_config`].
pub fn validate_rbac_config(name: &str, _namespace: &str, config: &RbacConfig) -> Result {
    tracing::warn!(target: "validation", "RbacConfig is deprecated, use ClusterRbacConfig instead.");
    check_rbac_config(name, "RbacConfig", config)
}

#[cfg(test)]
mod tests;
