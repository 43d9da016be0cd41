//! The Istio configuration model: schemas of every config kind, parsing of Kubernetes-style
//! documents into [`model::Config`], validation, and the mesh-wide configuration.

pub mod constants;
pub mod crd;
pub mod gateway;
pub mod host;
pub mod kube;
pub mod labels;
pub mod mesh;
pub mod model;
pub mod protocol;
pub mod protojson;
pub mod schema;
pub mod validation;
