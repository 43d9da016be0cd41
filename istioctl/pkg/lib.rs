//! istioctl: the Istio configuration command line utility.
#![forbid(unsafe_code)]
pub mod validate;
