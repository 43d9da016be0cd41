//! The mesh-wide configuration (`MeshConfig`, the `mesh` key of the `istio` ConfigMap) and the
//! per-proxy defaults (`ProxyConfig`), with upstream 1.4's defaults and its rules for reading
//! user YAML over them.
//!
//! Reading follows upstream: every top-level field present in the YAML replaces the default
//! (nested messages are replaced whole, not merged), except `defaultConfig`, whose non-default
//! fields are laid over the default ProxyConfig. `null` leaves a default in place. Unknown fields
//! are ignored. The result is validated.

use std::path::Path;

use prost_reflect::MessageDescriptor;
use serde_json::{Map, Value};

use super::constants;
use super::protojson::{self, UnknownFields};
use super::validation;
use crate::yaml;
use istio_api::istio::mesh::v1alpha1::{
    mesh_config::{self, outbound_traffic_policy},
    AuthenticationPolicy, MeshConfig, MeshNetworks, ProxyConfig, RemoteService,
};
use pbjson_types::{BoolValue, Duration};

/// Failure to read a mesh configuration.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to convert to proto: {0}")]
    Yaml(#[from] yaml::Error),
    #[error("failed to convert to proto: {0}")]
    Decode(#[from] protojson::Error),
    #[error("failed to convert to proto: {0}")]
    NotAnObject(String),
    #[error("{0}")]
    Invalid(#[from] validation::Error),
}

fn secs(s: i64) -> Option<Duration> {
    Some(Duration {
        seconds: s,
        nanos: 0,
    })
}

/// Upstream's `DefaultProxyConfig`.
pub fn default_proxy_config() -> ProxyConfig {
    ProxyConfig {
        config_path: constants::CONFIG_PATH_DIR.to_string(),
        binary_path: constants::BINARY_PATH_FILENAME.to_string(),
        service_cluster: constants::SERVICE_CLUSTER_NAME.to_string(),
        drain_duration: secs(45),
        parent_shutdown_duration: secs(60),
        discovery_address: constants::DISCOVERY_PLAIN_ADDRESS.to_string(),
        connect_timeout: secs(1),
        statsd_udp_address: String::new(),
        envoy_metrics_service: Some(RemoteService::default()),
        envoy_access_log_service: Some(RemoteService::default()),
        proxy_admin_port: 15000,
        control_plane_auth_policy: AuthenticationPolicy::None as i32,
        custom_config_file: String::new(),
        concurrency: 0,
        stat_name_length: 189,
        tracing: None,
        ..Default::default()
    }
}

/// Upstream's `DefaultMeshConfig`.
pub fn default_mesh_config() -> MeshConfig {
    MeshConfig {
        mixer_check_server: String::new(),
        mixer_report_server: String::new(),
        disable_policy_checks: true,
        policy_check_fail_open: false,
        sidecar_to_telemetry_session_affinity: false,
        root_namespace: constants::ISTIO_SYSTEM_NAMESPACE.to_string(),
        proxy_listen_port: 15001,
        connect_timeout: secs(1),
        ingress_service: "istio-ingressgateway".to_string(),
        enable_tracing: true,
        access_log_file: "/dev/stdout".to_string(),
        access_log_encoding: mesh_config::AccessLogEncoding::Text as i32,
        default_config: Some(default_proxy_config()),
        sds_uds_path: String::new(),
        enable_sds_token_mount: false,
        trust_domain: String::new(),
        trust_domain_aliases: Vec::new(),
        default_service_export_to: vec!["*".to_string()],
        default_virtual_service_export_to: vec!["*".to_string()],
        default_destination_rule_export_to: vec!["*".to_string()],
        outbound_traffic_policy: Some(mesh_config::OutboundTrafficPolicy {
            mode: outbound_traffic_policy::Mode::AllowAny as i32,
        }),
        // Envoy's own default refresh rate.
        dns_refresh_rate: secs(5),
        protocol_detection_timeout: Some(Duration {
            seconds: 0,
            nanos: 100_000_000,
        }),
        enable_auto_mtls: Some(BoolValue { value: false }),
        ..Default::default()
    }
}

fn descriptor(name: &str) -> Result<MessageDescriptor, Error> {
    istio_api::descriptor_pool()
        .get_message_by_name(name)
        .ok_or_else(|| Error::NotAnObject(format!("no message type {name}")))
}

/// Reads the YAML into a normalized JSON object whose keys are the fields' JSON names.
fn normalized_object(
    text: &str,
    desc: &MessageDescriptor,
    path: &str,
) -> Result<Map<String, Value>, Error> {
    let mut value = match yaml::from_str(text)? {
        Value::Null => Value::Object(Map::new()),
        v => v,
    };
    protojson::normalize(desc, &mut value, UnknownFields::Ignore, path)?;
    let Value::Object(members) = value else {
        return Err(Error::NotAnObject(format!("{path}: expected an object")));
    };
    Ok(members
        .into_iter()
        .map(|(k, v)| match desc.get_field_by_name(&k) {
            Some(f) => (f.json_name().to_string(), v),
            None => (k, v),
        })
        .collect())
}

fn to_object<T: serde::Serialize>(m: &T) -> Map<String, Value> {
    match serde_json::to_value(m) {
        Ok(Value::Object(o)) => o,
        _ => Map::new(),
    }
}

/// Reads mesh config YAML over `defaults` (upstream's `ApplyMeshConfig`) and validates it.
pub fn apply_mesh_config(text: &str, defaults: MeshConfig) -> Result<MeshConfig, Error> {
    let desc = descriptor("istio.mesh.v1alpha1.MeshConfig")?;
    let mut user = normalized_object(text, &desc, "")?;
    let mut merged = to_object(&defaults);

    // defaultConfig: the user's non-default ProxyConfig fields over the default ProxyConfig.
    let user_proxy = user.remove("defaultConfig");
    for (k, v) in user {
        merged.insert(k, v);
    }
    let mut proxy = to_object(&default_proxy_config());
    if let Some(user_proxy) = user_proxy {
        let typed: ProxyConfig = protojson::decode(
            "istio.mesh.v1alpha1.ProxyConfig",
            user_proxy,
            UnknownFields::Ignore,
            "defaultConfig",
        )?;
        for (k, v) in to_object(&typed) {
            proxy.insert(k, v);
        }
    }
    merged.insert("defaultConfig".to_string(), Value::Object(proxy));

    let mesh: MeshConfig = protojson::decode(
        "istio.mesh.v1alpha1.MeshConfig",
        Value::Object(merged),
        UnknownFields::Ignore,
        "",
    )?;
    validation::validate_mesh_config(&mesh)?;
    Ok(mesh)
}

/// Reads mesh config YAML over upstream's defaults (`ApplyMeshConfigDefaults`).
pub fn apply_mesh_config_defaults(text: &str) -> Result<MeshConfig, Error> {
    apply_mesh_config(text, default_mesh_config())
}

/// Reads a mesh config file (e.g. `/etc/istio/config/mesh`) over the defaults.
pub fn read_mesh_config(path: &Path) -> Result<MeshConfig, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })?;
    apply_mesh_config_defaults(&text)
}

/// A MeshNetworks with no networks.
pub fn empty_mesh_networks() -> MeshNetworks {
    MeshNetworks::default()
}

/// Reads MeshNetworks YAML (the `meshNetworks` key of the `istio` ConfigMap).
pub fn load_mesh_networks(text: &str) -> Result<MeshNetworks, Error> {
    let desc = descriptor("istio.mesh.v1alpha1.MeshNetworks")?;
    let members = normalized_object(text, &desc, "")?;
    Ok(protojson::decode(
        "istio.mesh.v1alpha1.MeshNetworks",
        Value::Object(members),
        UnknownFields::Ignore,
        "",
    )?)
}

/// Reads a MeshNetworks file.
pub fn read_mesh_networks(path: &Path) -> Result<MeshNetworks, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })?;
    load_mesh_networks(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_yaml_gives_the_defaults() {
        assert_eq!(
            apply_mesh_config_defaults("").expect("valid"),
            default_mesh_config()
        );
        assert_eq!(
            apply_mesh_config_defaults("{}").expect("valid"),
            default_mesh_config()
        );
    }

    #[test]
    fn top_level_fields_replace_defaults_and_nulls_keep_them() {
        let mesh = apply_mesh_config_defaults(
            "disablePolicyChecks: false\nenable_tracing: false\ningressService: null\n\
             outboundTrafficPolicy: {mode: REGISTRY_ONLY}\ndefaultServiceExportTo: ['.']\n\
             connectTimeout: 10s\nunknownKnob: 3\n",
        )
        .expect("valid");
        assert!(!mesh.disable_policy_checks);
        assert!(!mesh.enable_tracing);
        assert_eq!(mesh.ingress_service, "istio-ingressgateway");
        assert_eq!(
            mesh.outbound_traffic_policy.map(|p| p.mode),
            Some(outbound_traffic_policy::Mode::RegistryOnly as i32)
        );
        assert_eq!(mesh.default_service_export_to, vec!["."]);
        assert_eq!(mesh.connect_timeout.map(|d| d.seconds), Some(10));
        // Untouched defaults survive.
        assert_eq!(mesh.root_namespace, "istio-system");
        assert_eq!(mesh.default_virtual_service_export_to, vec!["*"]);
    }

    #[test]
    fn default_config_is_laid_over_the_default_proxy_config() {
        let mesh = apply_mesh_config_defaults(
            "defaultConfig:\n  discoveryAddress: istio-pilot.istio-system:15010\n  concurrency: 2\n  \
             proxyAdminPort: 0\n  tracing: {zipkin: {address: zipkin.istio-system:9411}}\n",
        )
        .expect("valid");
        let proxy = mesh.default_config.expect("proxy config");
        assert_eq!(proxy.discovery_address, "istio-pilot.istio-system:15010");
        assert_eq!(proxy.concurrency, 2);
        // A default value in the user's ProxyConfig does not override (upstream re-encodes it).
        assert_eq!(proxy.proxy_admin_port, 15000);
        assert_eq!(proxy.binary_path, "/usr/local/bin/envoy");
        assert_eq!(proxy.drain_duration.map(|d| d.seconds), Some(45));
        assert!(proxy.tracing.is_some());
    }

    #[test]
    fn bad_input_is_reported() {
        let err = apply_mesh_config_defaults("connectTimeout: [1]").expect_err("wrong type");
        assert!(err.to_string().contains("connectTimeout"), "{err}");
        let err = apply_mesh_config_defaults("- a\n- b").expect_err("not an object");
        assert!(err.to_string().contains("expected an object"), "{err}");
        assert!(apply_mesh_config_defaults("a: [").is_err());
    }

    #[test]
    fn mesh_networks() {
        let n = load_mesh_networks(
            "networks:\n  network1:\n    endpoints: [{fromRegistry: Kubernetes}]\n    gateways: [{address: 1.1.1.1, port: 80}]\n",
        )
        .expect("valid");
        assert_eq!(n.networks.len(), 1);
        assert_eq!(
            load_mesh_networks("").expect("empty"),
            empty_mesh_networks()
        );
    }
}
