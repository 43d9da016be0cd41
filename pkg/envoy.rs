//! Running Envoy (upstream `pkg/envoy`): the restart-epoch [`agent`], the Envoy [`proxy`]
//! command line and process, the certificate [`watcher`] that triggers hot restarts, the
//! [`bootstrap`] seam that produces each epoch's config file, and a small [`admin`] client.

pub mod admin;
pub mod agent;
pub mod bootstrap;
pub mod proxy;
pub mod watcher;

pub use agent::{Agent, EpochConfig, Handle, Outcome, Proxy, RunError};
pub use bootstrap::{BootstrapWriter, NodeMetadata};
pub use proxy::{Envoy, EnvoyConfig};
