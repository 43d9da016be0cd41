//! `istio-clean-iptables`: removes the chains `istio-iptables` created, for IPv4 and IPv6.
//!
//! As upstream, it removes the jumps from PREROUTING/OUTPUT and flushes and deletes the ISTIO_*
//! chains; every command may fail (a chain that is not there) and runs quietly. It does not undo
//! the rest of an install: the `ip rule`/`ip route` of TPROXY, the `::6` address, the kube-virt
//! PREROUTING rules, and the IPv6 INPUT rules of a pod without IPv6 stay.

use crate::builder::{saves, Command, OnFailure, Program};
use crate::constants::*;

/// The removal commands for one family, in order.
fn remove_chains(program: Program) -> Vec<Command> {
    let steps: [&[&str]; 17] = [
        &["-t", NAT, "-D", PREROUTING, "-p", TCP, "-j", ISTIO_INBOUND],
        &[
            "-t",
            MANGLE,
            "-D",
            PREROUTING,
            "-p",
            TCP,
            "-j",
            ISTIO_INBOUND,
        ],
        &["-t", NAT, "-D", OUTPUT, "-p", TCP, "-j", ISTIO_OUTPUT],
        &["-t", NAT, "-F", ISTIO_OUTPUT],
        &["-t", NAT, "-X", ISTIO_OUTPUT],
        &["-t", NAT, "-F", ISTIO_INBOUND],
        &["-t", NAT, "-X", ISTIO_INBOUND],
        &["-t", MANGLE, "-F", ISTIO_INBOUND],
        &["-t", MANGLE, "-X", ISTIO_INBOUND],
        &["-t", MANGLE, "-F", ISTIO_DIVERT],
        &["-t", MANGLE, "-X", ISTIO_DIVERT],
        &["-t", MANGLE, "-F", ISTIO_TPROXY],
        &["-t", MANGLE, "-X", ISTIO_TPROXY],
        // The redirect chains last: the others jump to them.
        &["-t", NAT, "-F", ISTIO_REDIRECT],
        &["-t", NAT, "-X", ISTIO_REDIRECT],
        &["-t", NAT, "-F", ISTIO_IN_REDIRECT],
        &["-t", NAT, "-X", ISTIO_IN_REDIRECT],
    ];
    steps
        .iter()
        .map(|args| Command::new(program, args).on_failure(OnFailure::IgnoreQuietly))
        .collect()
}

/// Everything `istio-clean-iptables` runs: the removals for iptables then ip6tables, then the saves.
pub fn plan() -> Vec<Command> {
    let mut cmds = remove_chains(Program::Iptables);
    cmds.extend(remove_chains(Program::Ip6tables));
    cmds.extend(saves());
    cmds
}

/// The command line of `istio-clean-iptables` (Go `flag` syntax: `-dryRun`, `--dryRun`,
/// `-dryRun=false`; flags end at the first other argument or `--`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Args {
    Run {
        dry_run: bool,
    },
    /// `-h`, `-help`: print the usage (exit 2, as the flag package of Go 1.13/1.14 that built 1.4 does).
    Help,
    /// A bad flag: the message, then the usage (exit 2).
    Bad(String),
}

pub fn parse_args<I: IntoIterator<Item = String>>(args: I) -> Args {
    let mut dry_run = false;
    for a in args {
        if a == "--" || a == "-" || !a.starts_with('-') {
            break;
        }
        let name = a.strip_prefix("--").unwrap_or(&a[1..]);
        if name.is_empty() || name.starts_with('-') || name.starts_with('=') {
            return Args::Bad(format!("bad flag syntax: {a}"));
        }
        let (name, value) = match name.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (name, None),
        };
        match name {
            "dryRun" => match value {
                None => dry_run = true,
                Some(v) => match crate::config::parse_go_bool(v) {
                    Some(b) => dry_run = b,
                    None => {
                        return Args::Bad(format!(
                            "invalid boolean value {v:?} for -dryRun: strconv.ParseBool: parsing {v:?}: invalid syntax"
                        ))
                    }
                },
            },
            "h" | "help" => return Args::Help,
            other => return Args::Bad(format!("flag provided but not defined: -{other}")),
        }
    }
    Args::Run { dry_run }
}

/// Go's usage text for `program`.
pub fn usage(program: &str) -> String {
    format!(
        "Usage of {program}:\n  -dryRun\n    \tDo not call any external dependencies like ipcmd\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Args {
        parse_args(a.iter().map(|s| s.to_string()))
    }

    #[test]
    fn flags() {
        assert_eq!(args(&[]), Args::Run { dry_run: false });
        assert_eq!(args(&["-dryRun"]), Args::Run { dry_run: true });
        assert_eq!(args(&["--dryRun"]), Args::Run { dry_run: true });
        assert_eq!(args(&["--dryRun=false"]), Args::Run { dry_run: false });
        assert_eq!(
            args(&["-dryRun=1", "extra", "-bogus"]),
            Args::Run { dry_run: true }
        );
        assert_eq!(args(&["--", "-bogus"]), Args::Run { dry_run: false });
        assert_eq!(args(&["-h"]), Args::Help);
        assert_eq!(
            args(&["-dry-run"]),
            Args::Bad("flag provided but not defined: -dry-run".into())
        );
        assert_eq!(
            args(&["-dryRun=maybe"]),
            Args::Bad("invalid boolean value \"maybe\" for -dryRun: strconv.ParseBool: parsing \"maybe\": invalid syntax".into())
        );
    }

    #[test]
    fn plan_is_removals_then_saves() {
        let lines: Vec<String> = plan().iter().map(|c| c.to_string()).collect();
        assert_eq!(lines.len(), 36);
        assert_eq!(
            lines[0],
            "iptables -t nat -D PREROUTING -p tcp -j ISTIO_INBOUND"
        );
        assert_eq!(lines[16], "iptables -t nat -X ISTIO_IN_REDIRECT");
        assert_eq!(
            lines[17],
            "ip6tables -t nat -D PREROUTING -p tcp -j ISTIO_INBOUND"
        );
        assert_eq!(lines[34..], ["iptables-save ", "ip6tables-save "]);
        assert!(plan()[..34]
            .iter()
            .all(|c| c.on_failure == OnFailure::IgnoreQuietly));
        assert!(plan()[34..]
            .iter()
            .all(|c| c.on_failure == OnFailure::Abort));
    }
}
