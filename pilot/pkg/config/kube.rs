//! Config stores backed by the Kubernetes API (upstream `pilot/pkg/config/kube`).

pub mod crd;
