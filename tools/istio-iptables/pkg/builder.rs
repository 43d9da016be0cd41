//! The command list of `istio-iptables`, built from the config alone ([`plan`]).
//!
//! Every command carries what to do when it fails ([`OnFailure`]); [`crate::exec`] prints or
//! runs the list. Commands print as `program arg1 arg2 ...`, the `--dry-run` output.

use std::fmt;

use crate::check::Checked;
use crate::cidr::{split_list, Cidr};
use crate::config::Config;
use crate::constants::*;

/// The external programs the tools run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Program {
    Iptables,
    Ip6tables,
    IptablesSave,
    Ip6tablesSave,
    Ip,
}

impl Program {
    pub fn name(self) -> &'static str {
        match self {
            Program::Iptables => "iptables",
            Program::Ip6tables => "ip6tables",
            Program::IptablesSave => "iptables-save",
            Program::Ip6tablesSave => "ip6tables-save",
            Program::Ip => "ip",
        }
    }
}

/// What a failing command means for the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnFailure {
    /// The run fails (upstream panics: exit code 2).
    Abort,
    /// Print this line to stdout and go on.
    Warn(&'static str),
    /// Run this command instead (it aborts when it fails too).
    Fallback(Box<Command>),
    /// Go on; the command's stderr is discarded.
    IgnoreQuietly,
}

/// One command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub program: Program,
    pub args: Vec<String>,
    pub on_failure: OnFailure,
}

impl Command {
    pub fn new(program: Program, args: &[&str]) -> Command {
        Command {
            program,
            args: args.iter().map(|s| s.to_string()).collect(),
            on_failure: OnFailure::Abort,
        }
    }

    pub fn on_failure(mut self, f: OnFailure) -> Command {
        self.on_failure = f;
        self
    }
}

impl fmt::Display for Command {
    /// `program` and the arguments joined by single spaces (a trailing space when there are none).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.program.name(), self.args.join(" "))
    }
}

/// The address family of a rule: iptables or ip6tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    fn program(self) -> Program {
        match self {
            Family::V4 => Program::Iptables,
            Family::V6 => Program::Ip6tables,
        }
    }
}

/// An ordered command list with helpers for `iptables -t <table> ...` rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleSet {
    commands: Vec<Command>,
}

impl RuleSet {
    pub fn new() -> RuleSet {
        RuleSet::default()
    }

    /// Adds any command.
    pub fn push(&mut self, c: Command) -> &mut Self {
        self.commands.push(c);
        self
    }

    /// `-t table <args...>`, aborting on failure.
    pub fn table(&mut self, family: Family, table: &str, args: &[&str]) -> &mut Self {
        let mut all = vec!["-t", table];
        all.extend_from_slice(args);
        self.push(Command::new(family.program(), &all))
    }

    /// `-t table -N chain`
    pub fn new_chain(&mut self, family: Family, table: &str, chain: &str) -> &mut Self {
        self.table(family, table, &["-N", chain])
    }

    /// `-t table -A chain <params...>`
    pub fn append(
        &mut self,
        family: Family,
        table: &str,
        chain: &str,
        params: &[&str],
    ) -> &mut Self {
        let mut all = vec!["-A", chain];
        all.extend_from_slice(params);
        self.table(family, table, &all)
    }

    /// `-t table -I chain <position> <params...>`
    pub fn insert(
        &mut self,
        family: Family,
        table: &str,
        chain: &str,
        position: u32,
        params: &[&str],
    ) -> &mut Self {
        let pos = position.to_string();
        let mut all = vec!["-I", chain, &pos];
        all.extend_from_slice(params);
        self.table(family, table, &all)
    }

    /// Like [`RuleSet::append`] with another failure policy.
    pub fn append_with(
        &mut self,
        family: Family,
        table: &str,
        chain: &str,
        params: &[&str],
        f: OnFailure,
    ) -> &mut Self {
        self.append(family, table, chain, params);
        if let Some(last) = self.commands.last_mut() {
            last.on_failure = f;
        }
        self
    }

    /// The iptables commands, as printed.
    pub fn build_v4(&self) -> Vec<String> {
        self.lines(Program::Iptables)
    }

    /// The ip6tables commands, as printed.
    pub fn build_v6(&self) -> Vec<String> {
        self.lines(Program::Ip6tables)
    }

    fn lines(&self, p: Program) -> Vec<String> {
        self.commands
            .iter()
            .filter(|c| c.program == p)
            .map(|c| c.to_string())
            .collect()
    }

    pub fn commands(&self) -> &[Command] {
        &self.commands
    }

    pub fn into_commands(self) -> Vec<Command> {
        self.commands
    }
}

const NO_SOCKET_MATCH: &str = "No socket match support";

/// The commands that install the rules, in order. `cfg` must be complete: `proxy_uid` and
/// `proxy_gid` resolved, `enable_inbound_ipv6` set from the pod's address. `ranges` is the
/// checked `-i`/`-x`. `redirect_loopback` is false when `DISABLE_REDIRECTION_ON_LOCAL_LOOPBACK`
/// is set (IPv4 only, as upstream).
///
/// The saves (`iptables-save`, `ip6tables-save`) that end every run are not part of the plan:
/// see [`saves`].
pub fn plan(cfg: &Config, ranges: &Checked, redirect_loopback: bool) -> Vec<Command> {
    use Family::V4;
    let mut r = RuleSet::new();
    if cfg.enable_inbound_ipv6.is_some() {
        r.push(Command::new(
            Program::Ip,
            &["-6", "addr", "add", "::6/128", "dev", "lo"],
        ));
    }

    redirect_chains(&mut r, V4, cfg);
    inbound_v4(&mut r, cfg);
    output_chain(&mut r, V4, cfg);
    // 127.0.0.6: the source of the inbound passthrough cluster's connections.
    r.append(
        V4,
        NAT,
        ISTIO_OUTPUT,
        &["-o", "lo", "-s", "127.0.0.6/32", "-j", RETURN],
    );
    if redirect_loopback {
        r.append(
            V4,
            NAT,
            ISTIO_OUTPUT,
            &[
                "-o",
                "lo",
                "!",
                "-d",
                "127.0.0.1/32",
                "-j",
                ISTIO_IN_REDIRECT,
            ],
        );
    }
    output_returns(&mut r, V4, cfg, "127.0.0.1/32", &ranges.exclude.v4);
    let interfaces = split_list(&cfg.kubevirt_interfaces);
    for iface in &interfaces {
        r.insert(V4, NAT, PREROUTING, 1, &["-i", iface, "-j", RETURN]);
    }

    // Outbound inclusions.
    if ranges.include.wildcard {
        r.append(V4, NAT, ISTIO_OUTPUT, &["-j", ISTIO_REDIRECT]);
        for iface in &interfaces {
            r.insert(V4, NAT, PREROUTING, 1, &["-i", iface, "-j", ISTIO_REDIRECT]);
        }
    } else {
        include_ranges(&mut r, V4, &ranges.include.v4, &interfaces);
    }

    ipv6(&mut r, cfg, ranges);
    r.into_commands()
}

fn inbound_v4(r: &mut RuleSet, cfg: &Config) {
    use Family::V4;
    if cfg.inbound_ports_include.is_empty() {
        return;
    }
    let tproxy = cfg.is_tproxy();
    let table = if tproxy {
        // Packets marked in ISTIO_DIVERT are routed to lo through their own routing table;
        // ISTIO_TPROXY hands new connections to Envoy.
        r.new_chain(V4, MANGLE, ISTIO_DIVERT);
        r.append(
            V4,
            MANGLE,
            ISTIO_DIVERT,
            &["-j", MARK, "--set-mark", &cfg.inbound_tproxy_mark],
        );
        r.append(V4, MANGLE, ISTIO_DIVERT, &["-j", ACCEPT]);
        r.push(Command::new(
            Program::Ip,
            &[
                "-f",
                "inet",
                "rule",
                "add",
                "fwmark",
                &cfg.inbound_tproxy_mark,
                "lookup",
                &cfg.inbound_tproxy_route_table,
            ],
        ));
        let show = Command::new(Program::Ip, &["route", "show", "table", "all"]);
        r.push(
            Command::new(
                Program::Ip,
                &[
                    "-f",
                    "inet",
                    "route",
                    "add",
                    "local",
                    "default",
                    "dev",
                    "lo",
                    "table",
                    &cfg.inbound_tproxy_route_table,
                ],
            )
            .on_failure(OnFailure::Fallback(Box::new(show))),
        );
        r.new_chain(V4, MANGLE, ISTIO_TPROXY);
        let mark = format!("{}/0xffffffff", cfg.inbound_tproxy_mark);
        r.append(
            V4,
            MANGLE,
            ISTIO_TPROXY,
            &[
                "!",
                "-d",
                "127.0.0.1/32",
                "-p",
                TCP,
                "-j",
                TPROXY,
                "--tproxy-mark",
                &mark,
                "--on-port",
                &cfg.proxy_port,
            ],
        );
        MANGLE
    } else {
        NAT
    };
    r.new_chain(V4, table, ISTIO_INBOUND);
    r.append(V4, table, PREROUTING, &["-p", TCP, "-j", ISTIO_INBOUND]);

    if cfg.inbound_ports_include == "*" {
        inbound_returns(r, V4, table, cfg);
        if tproxy {
            // Packets of established sockets go to lo; new connections to TPROXY.
            let socket = ["-p", TCP, "-m", "socket", "-j", ISTIO_DIVERT];
            r.append_with(
                V4,
                MANGLE,
                ISTIO_INBOUND,
                &socket,
                OnFailure::Warn(NO_SOCKET_MATCH),
            );
            r.append(V4, MANGLE, ISTIO_INBOUND, &["-p", TCP, "-j", ISTIO_TPROXY]);
        } else {
            r.append(
                V4,
                NAT,
                ISTIO_INBOUND,
                &["-p", TCP, "-j", ISTIO_IN_REDIRECT],
            );
        }
    } else {
        for port in split_list(&cfg.inbound_ports_include) {
            if tproxy {
                // Upstream adds the socket rule twice per port; kept for identical rules.
                let socket = [
                    "-p",
                    TCP,
                    "--dport",
                    port,
                    "-m",
                    "socket",
                    "-j",
                    ISTIO_DIVERT,
                ];
                r.append_with(
                    V4,
                    MANGLE,
                    ISTIO_INBOUND,
                    &socket,
                    OnFailure::Warn(NO_SOCKET_MATCH),
                );
                r.append_with(
                    V4,
                    MANGLE,
                    ISTIO_INBOUND,
                    &socket,
                    OnFailure::Warn(NO_SOCKET_MATCH),
                );
                r.append(
                    V4,
                    MANGLE,
                    ISTIO_INBOUND,
                    &["-p", TCP, "--dport", port, "-j", ISTIO_TPROXY],
                );
            } else {
                r.append(
                    V4,
                    NAT,
                    ISTIO_INBOUND,
                    &["-p", TCP, "--dport", port, "-j", ISTIO_IN_REDIRECT],
                );
            }
        }
    }
}

fn ipv6(r: &mut RuleSet, cfg: &Config, ranges: &Checked) {
    use Family::V6;
    if cfg.enable_inbound_ipv6.is_none() {
        // No IPv6 address: refuse inbound IPv6 except established connections and loopback.
        for args in [
            &["-F", INPUT][..],
            &[
                "-A",
                INPUT,
                "-m",
                "state",
                "--state",
                "ESTABLISHED",
                "-j",
                ACCEPT,
            ],
            &["-A", INPUT, "-i", "lo", "-d", "::1", "-j", ACCEPT],
            &["-A", INPUT, "-j", REJECT],
        ] {
            r.push(Command::new(Program::Ip6tables, args).on_failure(OnFailure::IgnoreQuietly));
        }
        return;
    }
    // IPv6 inbound capture is always NAT REDIRECT, also in TPROXY mode.
    redirect_chains(r, V6, cfg);

    if !cfg.inbound_ports_include.is_empty() {
        r.new_chain(V6, NAT, ISTIO_INBOUND);
        r.append(V6, NAT, PREROUTING, &["-p", TCP, "-j", ISTIO_INBOUND]);
        if cfg.inbound_ports_include == "*" {
            inbound_returns(r, V6, NAT, cfg);
            // As upstream, no jump to ISTIO_IN_REDIRECT here: with "*" IPv6 inbound is not captured.
        } else {
            for port in split_list(&cfg.inbound_ports_include) {
                r.append(
                    V6,
                    NAT,
                    ISTIO_INBOUND,
                    &["-p", TCP, "--dport", port, "-j", ISTIO_IN_REDIRECT],
                );
            }
        }
    }

    output_chain(r, V6, cfg);
    // ::6: the source of the inbound passthrough cluster's connections.
    r.append(
        V6,
        NAT,
        ISTIO_OUTPUT,
        &["-o", "lo", "-s", "::6/128", "-j", RETURN],
    );
    r.append(
        V6,
        NAT,
        ISTIO_OUTPUT,
        &["-o", "lo", "!", "-d", "::1/128", "-j", ISTIO_IN_REDIRECT],
    );
    output_returns(r, V6, cfg, "::1/128", &ranges.exclude.v6);
    let interfaces = split_list(&cfg.kubevirt_interfaces);
    if ranges.include.wildcard {
        r.append(V6, NAT, ISTIO_OUTPUT, &["-j", ISTIO_REDIRECT]);
        // Upstream's IPv6 wildcard branch returns (not redirects) the VM interfaces.
        for iface in &interfaces {
            r.insert(V6, NAT, PREROUTING, 1, &["-i", iface, "-j", RETURN]);
        }
    } else {
        include_ranges(r, V6, &ranges.include.v6, &interfaces);
    }
}

/// The outbound capture chain ISTIO_REDIRECT, and ISTIO_IN_REDIRECT used when inbound traffic
/// is NATed (to the inbound capture port when all inbound ports are captured).
fn redirect_chains(r: &mut RuleSet, family: Family, cfg: &Config) {
    r.new_chain(family, NAT, ISTIO_REDIRECT);
    r.append(
        family,
        NAT,
        ISTIO_REDIRECT,
        &["-p", TCP, "-j", REDIRECT, "--to-port", &cfg.proxy_port],
    );
    r.new_chain(family, NAT, ISTIO_IN_REDIRECT);
    let in_port = if cfg.inbound_ports_include == "*" {
        &cfg.inbound_capture_port
    } else {
        &cfg.proxy_port
    };
    r.append(
        family,
        NAT,
        ISTIO_IN_REDIRECT,
        &["-p", TCP, "-j", REDIRECT, "--to-port", in_port],
    );
}

/// With every inbound port captured: SSH and the excluded ports return from ISTIO_INBOUND.
fn inbound_returns(r: &mut RuleSet, family: Family, table: &str, cfg: &Config) {
    // SSH is never captured.
    r.append(
        family,
        table,
        ISTIO_INBOUND,
        &["-p", TCP, "--dport", "22", "-j", RETURN],
    );
    for port in split_list(&cfg.inbound_ports_exclude) {
        r.append(
            family,
            table,
            ISTIO_INBOUND,
            &["-p", TCP, "--dport", port, "-j", RETURN],
        );
    }
}

/// ISTIO_OUTPUT, the jump to it from OUTPUT, and the returns for excluded outbound ports.
fn output_chain(r: &mut RuleSet, family: Family, cfg: &Config) {
    r.new_chain(family, NAT, ISTIO_OUTPUT);
    r.append(family, NAT, OUTPUT, &["-p", TCP, "-j", ISTIO_OUTPUT]);
    for port in split_list(&cfg.outbound_ports_exclude) {
        r.append(
            family,
            NAT,
            ISTIO_OUTPUT,
            &["-p", TCP, "--dport", port, "-j", RETURN],
        );
    }
}

/// Returns from ISTIO_OUTPUT for the proxy's own uids and gids, the loopback address and the
/// excluded ranges.
fn output_returns(r: &mut RuleSet, family: Family, cfg: &Config, loopback: &str, exclude: &[Cidr]) {
    for uid in split_list(&cfg.proxy_uid) {
        r.append(
            family,
            NAT,
            ISTIO_OUTPUT,
            &["-m", "owner", "--uid-owner", uid, "-j", RETURN],
        );
    }
    for gid in split_list(&cfg.proxy_gid) {
        r.append(
            family,
            NAT,
            ISTIO_OUTPUT,
            &["-m", "owner", "--gid-owner", gid, "-j", RETURN],
        );
    }
    r.append(family, NAT, ISTIO_OUTPUT, &["-d", loopback, "-j", RETURN]);
    for cidr in exclude {
        r.append(
            family,
            NAT,
            ISTIO_OUTPUT,
            &["-d", &cidr.to_string(), "-j", RETURN],
        );
    }
}

/// Redirects only the included ranges (from ISTIO_OUTPUT and the VM interfaces), then returns
/// everything else; nothing when no range of the family is included.
fn include_ranges(r: &mut RuleSet, family: Family, include: &[Cidr], interfaces: &[&str]) {
    if include.is_empty() {
        return;
    }
    for cidr in include {
        let cidr = cidr.to_string();
        for iface in interfaces {
            r.insert(
                family,
                NAT,
                PREROUTING,
                1,
                &["-i", iface, "-d", &cidr, "-j", ISTIO_REDIRECT],
            );
        }
        r.append(
            family,
            NAT,
            ISTIO_OUTPUT,
            &["-d", &cidr, "-j", ISTIO_REDIRECT],
        );
    }
    r.append(family, NAT, ISTIO_OUTPUT, &["-j", RETURN]);
}

/// The two saves that end every run (they print the resulting tables).
pub fn saves() -> [Command; 2] {
    [
        Command::new(Program::IptablesSave, &[]),
        Command::new(Program::Ip6tablesSave, &[]),
    ]
}

#[cfg(test)]
mod tests;
