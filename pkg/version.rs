//! Build version information (upstream `istio.io/pkg/version`) and the `version` subcommand.
//!
//! # Build-time values
//!
//! The values are baked in at compile time from these environment variables, which the
//! project's `make build` sets (an unset or empty variable gives the default):
//!
//! | variable              | field (JSON key)            | default                      |
//! |-----------------------|-----------------------------|------------------------------|
//! | `ISTIO_VERSION`       | `version`                   | the crate version (`1.4.10`) |
//! | `ISTIO_GIT_REVISION`  | `revision`                  | `unknown`                    |
//! | `ISTIO_RUSTC_VERSION` | `golang_version`            | `unknown`                    |
//! | `ISTIO_BUILD_STATUS`  | `status` (`Clean`/`Modified`) | `unknown`                  |
//! | `ISTIO_GIT_TAG`       | `tag`                       | `unknown`                    |
//! | `ISTIO_BUILD_HUB`     | [`DockerBuildInfo::hub`]    | `unknown`                    |
//!
//! The `golang_version` key is kept so the output format is unchanged; it holds our compiler's
//! version. Cargo rebuilds this crate (and relinks its dependents) when any of these change,
//! so set them for release builds rather than on every development build.
//! `ISTIO_BUILD_USER` and `ISTIO_BUILD_HOST` are not used: Istio 1.4 no longer reports them.
//!
//! # Output
//!
//! - [`BuildInfo`]'s `Display` is Go's `String()`: `<version>-<revision>-<status>`; this is the
//!   body of the monitoring `/version` endpoint (`info().to_string()`, no newline).
//! - [`BuildInfo::long_form`] is Go's `%#v`, printed by `version`:
//!   `version.BuildInfo{Version:"1.4.10", GitRevision:"…", GolangVersion:"…", BuildStatus:"Clean", GitTag:"1.4.10"}`.
//! - `version -s` prints the version alone; `-o json` / `-o yaml` print [`Version`] (see
//!   [`run`]).

mod command;
mod output;

use std::fmt;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use crate::gostr::quote;

pub use command::{run, run_with_remote, Args, Error, OutputFormat, RemoteArgs, ABOUT};

/// `value` unless it is missing or empty, else `default`.
const fn or_default(value: Option<&'static str>, default: &'static str) -> &'static str {
    match value {
        Some(v) if !v.is_empty() => v,
        _ => default,
    }
}

const UNKNOWN: &str = "unknown";

/// `ISTIO_VERSION` at build time, or the crate version.
pub const BUILD_VERSION: &str = or_default(option_env!("ISTIO_VERSION"), env!("CARGO_PKG_VERSION"));
/// `ISTIO_GIT_REVISION` at build time, or `unknown`.
pub const BUILD_GIT_REVISION: &str = or_default(option_env!("ISTIO_GIT_REVISION"), UNKNOWN);
/// `ISTIO_RUSTC_VERSION` at build time, or `unknown`.
pub const BUILD_RUSTC_VERSION: &str = or_default(option_env!("ISTIO_RUSTC_VERSION"), UNKNOWN);
/// `ISTIO_BUILD_STATUS` at build time, or `unknown`.
pub const BUILD_STATUS: &str = or_default(option_env!("ISTIO_BUILD_STATUS"), UNKNOWN);
/// `ISTIO_GIT_TAG` at build time, or `unknown`.
pub const BUILD_GIT_TAG: &str = or_default(option_env!("ISTIO_GIT_TAG"), UNKNOWN);
/// `ISTIO_BUILD_HUB` at build time, or `unknown`.
pub const BUILD_HUB: &str = or_default(option_env!("ISTIO_BUILD_HUB"), UNKNOWN);

/// Version information about a binary build. The JSON keys are upstream's.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct BuildInfo {
    /// Release version, e.g. `1.4.10`.
    #[serde(rename = "version")]
    pub version: String,
    /// Source commit, possibly suffixed `-dirty`.
    #[serde(rename = "revision")]
    pub git_revision: String,
    /// Compiler version (the key is upstream's, which named Go's version).
    #[serde(rename = "golang_version")]
    pub golang_version: String,
    /// `Clean` or `Modified` work tree.
    #[serde(rename = "status")]
    pub build_status: String,
    /// `git describe --tags` of the source.
    #[serde(rename = "tag")]
    pub git_tag: String,
}

static INFO: LazyLock<BuildInfo> = LazyLock::new(BuildInfo::current);

/// This binary's build information.
pub fn info() -> &'static BuildInfo {
    &INFO
}

/// This binary's image coordinates.
pub fn docker_info() -> DockerBuildInfo {
    DockerBuildInfo {
        hub: BUILD_HUB.to_string(),
        tag: BUILD_VERSION.to_string(),
    }
}

/// Why [`BuildInfo::from_old_string`] failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid BuildInfo input, field '{0}' is not valid")]
pub struct InvalidOldFormat(pub String);

impl BuildInfo {
    /// The build information compiled into this binary.
    pub fn current() -> BuildInfo {
        BuildInfo {
            version: BUILD_VERSION.to_string(),
            git_revision: BUILD_GIT_REVISION.to_string(),
            golang_version: BUILD_RUSTC_VERSION.to_string(),
            build_status: BUILD_STATUS.to_string(),
            git_tag: BUILD_GIT_TAG.to_string(),
        }
    }

    /// Go's `%#v` rendering, as the `version` command prints it.
    pub fn long_form(&self) -> String {
        format!(
            "version.BuildInfo{{Version:{}, GitRevision:{}, GolangVersion:{}, BuildStatus:{}, GitTag:{}}}",
            quote(&self.version),
            quote(&self.git_revision),
            quote(&self.golang_version),
            quote(&self.build_status),
            quote(&self.git_tag),
        )
    }

    /// Parses the `Key: value` lines that pre-1.1 Istio components printed for `--version`.
    /// Blank lines and unknown keys are skipped; a non-blank line without `:` is an error.
    pub fn from_old_string(text: &str) -> Result<BuildInfo, InvalidOldFormat> {
        let mut info = BuildInfo::default();
        for line in text.split('\n') {
            if line.trim().is_empty() {
                continue;
            }
            let Some((key, value)) = line.split_once(':') else {
                return Err(InvalidOldFormat(line.to_string()));
            };
            let value = value.trim().to_string();
            match key {
                "Version" => info.version = value,
                "GitRevision" => info.git_revision = value,
                "GolangVersion" => info.golang_version = value,
                "BuildStatus" => info.build_status = value,
                "GitTag" => info.git_tag = value,
                _ => {}
            }
        }
        Ok(info)
    }
}

impl fmt::Display for BuildInfo {
    /// `<version>-<revision>-<status>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}-{}-{}",
            self.version, self.git_revision, self.build_status
        )
    }
}

/// The image hub and tag a binary was built for.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DockerBuildInfo {
    /// Image registry, e.g. `docker.io/istio`.
    #[serde(rename = "Hub")]
    pub hub: String,
    /// Image tag (the build version).
    #[serde(rename = "Tag")]
    pub tag: String,
}

/// The version of one control-plane component, as reported by `istioctl version --remote`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerInfo {
    /// Component name, e.g. `pilot`.
    #[serde(rename = "Component")]
    pub component: String,
    /// Its build information.
    #[serde(rename = "Info")]
    pub info: BuildInfo,
}

/// The versions of all control-plane components.
pub type MeshInfo = Vec<ServerInfo>;

/// The Istio version of one data-plane proxy.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyInfo {
    /// Proxy ID (`<pod>.<namespace>`).
    #[serde(rename = "ID")]
    pub id: String,
    /// The proxy's Istio version.
    #[serde(rename = "IstioVersion")]
    pub istio_version: String,
}

impl ProxyInfo {
    /// Go's `%#v` rendering.
    pub fn long_form(&self) -> String {
        format!(
            "version.ProxyInfo{{ID:{}, IstioVersion:{}}}",
            quote(&self.id),
            quote(&self.istio_version)
        )
    }
}

/// Everything the `version` command reports; absent parts are left out of JSON and YAML.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Version {
    /// This binary.
    #[serde(rename = "clientVersion", skip_serializing_if = "Option::is_none")]
    pub client_version: Option<BuildInfo>,
    /// The control plane (with `--remote`).
    #[serde(rename = "meshVersion", skip_serializing_if = "Option::is_none")]
    pub mesh_version: Option<MeshInfo>,
    /// The proxies (with `--remote`).
    #[serde(rename = "dataPlaneVersion", skip_serializing_if = "Option::is_none")]
    pub data_plane_version: Option<Vec<ProxyInfo>>,
}

#[cfg(test)]
mod tests;
