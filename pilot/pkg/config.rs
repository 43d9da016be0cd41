//! Config stores (upstream `pilot/pkg/config`): where pilot's Istio config objects come from.
//!
//! - [`memory`]: an in-memory store with change handlers (tests, local mesh, and the index the
//!   other stores keep);
//! - [`file`]: `--configDir`, a directory tree of YAML files kept in sync with a memory store;
//! - [`kube`]: the Istio CRDs on the Kubernetes API server (`kube::crd`).

pub mod file;
pub mod kube;
pub mod memory;
