//! The Kubernetes registry (upstream `pilot/pkg/serviceregistry/kube`): conversion of
//! Kubernetes objects into the model, and the controller that watches them.

pub mod controller;
pub mod conversion;
