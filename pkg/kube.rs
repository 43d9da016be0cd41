//! Kubernetes API access shared by the control plane (upstream `pkg/kube`): building clients
//! from a kubeconfig, and reading and writing Istio config objects as CRD instances.

pub mod crd;

use std::path::Path;

/// Failure to reach or use the Kubernetes API.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read kubeconfig {path}: {source}")]
    Kubeconfig {
        path: String,
        #[source]
        source: kube::config::KubeconfigError,
    },
    #[error("cannot find a Kubernetes configuration (no kubeconfig given, none in $KUBECONFIG or ~/.kube/config, and not in a cluster): {0}")]
    Infer(#[from] kube::config::InferConfigError),
    #[error("cannot build a Kubernetes client: {0}")]
    Client(#[from] kube::Error),
    #[error("{0}")]
    Other(String),
}

/// A client from a kubeconfig file and optional context, as upstream's `--kubeconfig` and
/// `--context` flags mean: an empty path infers the configuration (`$KUBECONFIG`,
/// `~/.kube/config`, then the in-cluster service account).
pub async fn client(
    kubeconfig: Option<&Path>,
    context: Option<&str>,
) -> Result<kube::Client, Error> {
    let config = match kubeconfig.filter(|p| !p.as_os_str().is_empty()) {
        None if context.is_none_or(str::is_empty) => kube::Config::infer().await?,
        None => {
            let options = kube::config::KubeConfigOptions {
                context: context.map(str::to_string),
                ..Default::default()
            };
            kube::Config::from_kubeconfig(&options)
                .await
                .map_err(|source| Error::Kubeconfig {
                    path: "$KUBECONFIG".into(),
                    source,
                })?
        }
        Some(path) => {
            let kubeconfig =
                kube::config::Kubeconfig::read_from(path).map_err(|source| Error::Kubeconfig {
                    path: path.display().to_string(),
                    source,
                })?;
            let options = kube::config::KubeConfigOptions {
                context: context.filter(|c| !c.is_empty()).map(str::to_string),
                ..Default::default()
            };
            kube::Config::from_custom_kubeconfig(kubeconfig, &options)
                .await
                .map_err(|source| Error::Kubeconfig {
                    path: path.display().to_string(),
                    source,
                })?
        }
    };
    Ok(kube::Client::try_from(config)?)
}
