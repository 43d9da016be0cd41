//! Pilot's data model (upstream `pilot/pkg/model`): services and endpoints, proxies, config
//! stores, and the push context generation reads from.

pub mod config;
pub mod context;
pub mod push_context;
pub mod service;
pub mod sidecar;

pub use config::{ConfigHandler, ConfigStore, ConfigStoreCache, Event, StoreError};
pub use context::{InterceptionMode, IstioVersion, NodeMetadata, NodeType, Proxy};
pub use push_context::{Environment, PushContext, PushRequest, XdsUpdater};
pub use service::{
    IstioEndpoint, Port, PortList, Probe, Resolution, Service, ServiceAttributes, ServiceDiscovery,
    ServiceInstance, Visibility,
};
pub use sidecar::{EgressListener, SidecarScope};
