//! Istio config objects on the Kubernetes API: the API resource of each kind, conversion between
//! [`Config`] and kube-rs's `DynamicObject`, and installation of the CRDs.

use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::runtime::wait::{await_condition, conditions};
use serde_json::Value;

use super::Error;
use crate::config::kube::{self as config_kube, parse_object};
use crate::config::model::Config;
use crate::config::schema::Schema;

/// Field manager name used for server-side apply.
pub const FIELD_MANAGER: &str = "istio-rs";

/// The Kubernetes API resource of a config kind.
pub fn api_resource(schema: &Schema) -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(schema.group, schema.version, schema.kube_kind),
        schema.resource,
    )
}

/// An API handle for a kind: namespaced in `namespace`, or cluster-wide for cluster-scoped kinds
/// (and for namespaced kinds when `namespace` is `None`, to list across namespaces).
pub fn api(client: kube::Client, schema: &Schema, namespace: Option<&str>) -> Api<DynamicObject> {
    let resource = api_resource(schema);
    match namespace {
        Some(ns) if !schema.cluster_scoped => Api::namespaced_with(client, ns, &resource),
        _ => Api::all_with(client, &resource),
    }
}

/// A config as a `DynamicObject` ready to create or apply.
pub fn to_dynamic(cfg: &Config) -> Result<DynamicObject, Error> {
    serde_json::from_value(config_kube::to_object(cfg))
        .map_err(|e| Error::Other(format!("{}: {e}", cfg.meta.key())))
}

/// Reads a `DynamicObject` of a known kind back into a config, decoding its spec the way upstream
/// reads the kind.
pub fn from_dynamic(
    schema: &'static Schema,
    obj: &DynamicObject,
    domain: &str,
) -> Result<Config, Error> {
    let value = serde_json::to_value(obj).map_err(|e| Error::Other(e.to_string()))?;
    let parsed = parse_object(value).map_err(|e| Error::Other(e.to_string()))?;
    config_kube::convert_object(schema, &parsed, domain, "default").map_err(|e| {
        Error::Other(format!(
            "{}/{}: {e}",
            parsed.metadata.namespace, parsed.metadata.name
        ))
    })
}

/// Applies CRDs (server-side) and waits until the API server serves each of them, or `timeout`.
pub async fn install_crds(
    client: kube::Client,
    crds: &[Value],
    timeout: Duration,
) -> Result<(), Error> {
    let api: Api<CustomResourceDefinition> = Api::all(client);
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let mut names = Vec::with_capacity(crds.len());
    for crd in crds {
        let name = crd["metadata"]["name"]
            .as_str()
            .ok_or_else(|| Error::Other("CRD without metadata.name".into()))?
            .to_string();
        api.patch(&name, &params, &Patch::Apply(crd))
            .await
            .map_err(|e| Error::Other(format!("applying CRD {name}: {e}")))?;
        names.push(name);
    }
    let waits = names.iter().map(|name| {
        let api = api.clone();
        async move {
            let established = await_condition(api, name, conditions::is_crd_established());
            match tokio::time::timeout(timeout, established).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(Error::Other(format!("waiting for CRD {name}: {e}"))),
                Err(_) => Err(Error::Other(format!(
                    "CRD {name} not established after {timeout:?}"
                ))),
            }
        }
    });
    let results: Vec<Result<(), Error>> = futures::stream::iter(waits)
        .buffer_unordered(8)
        .collect()
        .await;
    results.into_iter().collect()
}

/// Creates the CRDs the API server does not have yet and waits until they are established
/// (upstream pilot's start-up check, skipped with `--disable-install-crds`). Existing CRDs are
/// left as they are: the install (istio-init) owns them.
pub async fn create_missing_crds(
    client: kube::Client,
    crds: &[Value],
    timeout: Duration,
) -> Result<Vec<String>, Error> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let mut missing = Vec::new();
    for crd in crds {
        let name = crd["metadata"]["name"]
            .as_str()
            .ok_or_else(|| Error::Other("CRD without metadata.name".into()))?;
        if api
            .get_opt(name)
            .await
            .map_err(|e| Error::Other(format!("reading CRD {name}: {e}")))?
            .is_none()
        {
            missing.push(crd.clone());
        }
    }
    let names = missing
        .iter()
        .filter_map(|c| c["metadata"]["name"].as_str().map(str::to_string))
        .collect();
    if !missing.is_empty() {
        install_crds(client, &missing, timeout).await?;
    }
    Ok(names)
}
