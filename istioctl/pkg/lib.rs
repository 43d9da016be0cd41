//! istioctl: the Istio configuration command line utility.
#![forbid(unsafe_code)]
pub mod cli;
pub mod validate;
