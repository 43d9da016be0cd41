//! `istio-iptables` and `istio-clean-iptables`: the traffic capture set up by every injected pod's
//! init container (upstream `tools/istio-iptables` and `tools/istio-clean-iptables`, Istio 1.4.10).
//!
//! The flow of `istio-iptables`:
//! 1. [`config`] reads the flags and their environment twins into a [`config::Config`];
//! 2. [`check`] validates the inputs (ports, CIDRs, mode) before anything is run;
//! 3. [`builder::plan`] turns the config into the ordered list of commands — a pure function;
//! 4. [`exec`] prints (`--dry-run`) or runs them with upstream's failure policy per command;
//! 5. [`validation`] optionally probes that the redirection works (`--run-validation`).
//!
//! [`clean`] is the plan of `istio-clean-iptables`.
#![forbid(unsafe_code)]

pub mod app;
pub mod builder;
pub mod check;
pub mod cidr;
pub mod clean;
pub mod config;
pub mod constants;
pub mod exec;
pub mod netif;
pub mod user;
pub mod validation;
