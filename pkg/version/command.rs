//! The `version` subcommand shared by every binary (upstream `version.CobraCommand`).
//!
//! ```no_run
//! use clap::{Parser, Subcommand};
//! use istio_pkg::version;
//!
//! #[derive(Parser)]
//! struct Cli {
//!     #[command(subcommand)]
//!     cmd: Cmd,
//! }
//!
//! #[derive(Subcommand)]
//! enum Cmd {
//!     #[command(about = version::ABOUT)]
//!     Version(version::Args),
//! }
//!
//! fn main() -> Result<(), version::Error> {
//!     match Cli::parse().cmd {
//!         Cmd::Version(args) => version::run(&args, &mut std::io::stdout()),
//!     }
//! }
//! ```

use std::io::{self, Write};

use clap::ArgAction;

use super::output::go_json_indent;
use super::{info, BuildInfo, MeshInfo, ProxyInfo, ServerInfo, Version};
use crate::gostr::parse_go_bool;

/// One-line description for the `version` subcommand.
pub const ABOUT: &str = "Print build version information";

// Documented for rustdoc only, so clap doesn't take it as the subcommand's `about`.
#[cfg_attr(
    doc,
    doc = "Flags of the `version` subcommand (use [`ABOUT`] as its description)."
)]
#[derive(clap::Args, Clone, Debug, Default, PartialEq, Eq)]
pub struct Args {
    /// Print only the version number (--short=false prints the full build information).
    #[arg(
        short = 's',
        long = "short",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        default_value = "false",
        value_parser = parse_go_bool,
        action = ArgAction::Set,
        overrides_with = "short"
    )]
    pub short: bool,

    /// Output format: 'yaml' or 'json'.
    #[arg(
        short = 'o',
        long = "output",
        value_name = "FORMAT",
        default_value = "",
        hide_default_value = true,
        overrides_with = "output"
    )]
    pub output: String,
}

#[cfg_attr(
    doc,
    doc = "Flags of a `version` subcommand that can also query the mesh (istioctl). istioctl turns
`--short` and `--remote` on by default; do that with
`cmd.mut_arg(\"short\", |a| a.default_value(\"true\"))` and likewise for `remote`."
)]
#[derive(clap::Args, Clone, Debug, Default, PartialEq, Eq)]
pub struct RemoteArgs {
    /// The common flags.
    #[command(flatten)]
    pub version: Args,

    /// Also report the versions of the control plane and proxies (--remote=false skips it).
    #[arg(
        long = "remote",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        default_value = "false",
        value_parser = parse_go_bool,
        action = ArgAction::Set,
        overrides_with = "remote"
    )]
    pub remote: bool,
}

/// How the `version` command prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputFormat {
    /// The default: Go-syntax long form, or the bare version with `--short`.
    Text,
    /// `-o yaml`.
    Yaml,
    /// `-o json`.
    Json,
}

/// Errors of the `version` command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `--output` is neither empty, `yaml` nor `json` (upstream's text).
    #[error("--output must be 'yaml' or 'json'")]
    InvalidOutput,
    /// Writing the output failed.
    #[error("cannot write version output: {0}")]
    Io(#[from] io::Error),
    /// Serializing failed (not expected for these types).
    #[error("cannot encode version output: {0}")]
    Encode(#[from] serde_json::Error),
    /// Querying the control plane failed; the local version was still printed.
    #[error("{0}")]
    Remote(Box<dyn std::error::Error + Send + Sync>),
}

impl Args {
    /// The requested format; anything but ``, `yaml` and `json` is an error.
    pub fn output_format(&self) -> Result<OutputFormat, Error> {
        match self.output.as_str() {
            "" => Ok(OutputFormat::Text),
            "yaml" => Ok(OutputFormat::Yaml),
            "json" => Ok(OutputFormat::Json),
            _ => Err(Error::InvalidOutput),
        }
    }
}

/// Replaces a mesh whose components all have the same version by one `control plane` entry.
fn coalesce(mesh: &MeshInfo) -> MeshInfo {
    match mesh.split_first() {
        Some((first, rest)) if rest.iter().all(|s| s.info.version == first.info.version) => {
            vec![ServerInfo {
                component: "control plane".to_string(),
                info: first.info.clone(),
            }]
        }
        _ => mesh.clone(),
    }
}

/// `1.4.9 (3 proxies), 1.4.10 (1 proxies)`, versions in order of first appearance; `none` for
/// no proxies.
fn summarize_proxies(proxies: &[ProxyInfo]) -> String {
    if proxies.is_empty() {
        return "none".to_string();
    }
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for p in proxies {
        match counts.iter_mut().find(|(v, _)| *v == p.istio_version) {
            Some((_, n)) => *n += 1,
            None => counts.push((&p.istio_version, 1)),
        }
    }
    counts
        .iter()
        .map(|(v, n)| format!("{v} ({n} proxies)"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Version {
    /// The exact text the `version` command prints for this report.
    pub fn render(&self, short: bool, format: OutputFormat) -> Result<String, Error> {
        let client = self.client_version.clone().unwrap_or_default();
        let mut out = String::new();
        match format {
            OutputFormat::Json => {
                out.push_str(&go_json_indent(self)?);
                out.push('\n');
            }
            OutputFormat::Yaml => {
                out.push_str(&crate::yaml::to_string_from(self)?);
                out.push('\n');
            }
            OutputFormat::Text if short => {
                match &self.mesh_version {
                    Some(mesh) => {
                        out.push_str(&format!("client version: {}\n", client.version));
                        for s in coalesce(mesh) {
                            out.push_str(&format!("{} version: {}\n", s.component, s.info.version));
                        }
                    }
                    None => out.push_str(&format!("{}\n", client.version)),
                }
                if let Some(proxies) = &self.data_plane_version {
                    out.push_str(&format!(
                        "data plane version: {}\n",
                        summarize_proxies(proxies)
                    ));
                }
            }
            OutputFormat::Text => {
                match &self.mesh_version {
                    Some(mesh) => {
                        out.push_str(&format!("client version: {}\n", client.long_form()));
                        for s in mesh {
                            out.push_str(&format!(
                                "{} version: {}\n",
                                s.component,
                                s.info.long_form()
                            ));
                        }
                    }
                    None => out.push_str(&format!("{}\n", client.long_form())),
                }
                for p in self.data_plane_version.iter().flatten() {
                    out.push_str(&format!("data plane version: {}\n", p.long_form()));
                }
            }
        }
        Ok(out)
    }
}

/// Runs `version` for this binary: validates `--output`, then prints.
pub fn run(args: &Args, out: &mut dyn Write) -> Result<(), Error> {
    run_for(info(), args, out)
}

pub(super) fn run_for(client: &BuildInfo, args: &Args, out: &mut dyn Write) -> Result<(), Error> {
    let format = args.output_format()?;
    let report = Version {
        client_version: Some(client.clone()),
        ..Version::default()
    };
    out.write_all(report.render(args.short, format)?.as_bytes())?;
    Ok(())
}

/// Runs `version` with `--remote` support, as istioctl does: validates `--output`; with
/// `--remote`, asks `mesh` and `proxies` for the remote versions; prints; and finally returns
/// the error of `mesh`, if any (the local version is printed regardless). A failure of
/// `proxies` only leaves the data-plane part out.
pub fn run_with_remote<E1, E2>(
    args: &RemoteArgs,
    mesh: impl FnOnce() -> Result<MeshInfo, E1>,
    proxies: impl FnOnce() -> Result<Vec<ProxyInfo>, E2>,
    out: &mut dyn Write,
) -> Result<(), Error>
where
    E1: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    run_with_remote_for(info(), args, mesh, proxies, out)
}

pub(super) fn run_with_remote_for<E1, E2>(
    client: &BuildInfo,
    args: &RemoteArgs,
    mesh: impl FnOnce() -> Result<MeshInfo, E1>,
    proxies: impl FnOnce() -> Result<Vec<ProxyInfo>, E2>,
    out: &mut dyn Write,
) -> Result<(), Error>
where
    E1: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let format = args.version.output_format()?;
    let mut report = Version {
        client_version: Some(client.clone()),
        ..Version::default()
    };
    let mut server_error = None;
    if args.remote {
        match mesh() {
            Ok(m) => report.mesh_version = Some(m),
            Err(e) => server_error = Some(e.into()),
        }
        report.data_plane_version = proxies().ok();
    }
    out.write_all(report.render(args.version.short, format)?.as_bytes())?;
    match server_error {
        Some(e) => Err(Error::Remote(e)),
        None => Ok(()),
    }
}
