//! The command line of `istio-iptables`: upstream's flags, each with an environment twin.
//!
//! Precedence per setting, as upstream: the flag when given on the command line (even given
//! empty, `-x ""`), else its environment variable when set and not empty, else the default.
//! A flag given twice keeps its last value; positional arguments are accepted and ignored.

use std::fmt::Write as _;
use std::net::Ipv6Addr;

use clap::{Arg, ArgAction, ArgMatches, Command};

use crate::constants::*;

/// Every setting of one run. The string fields hold the values as given; [`crate::check`]
/// validates them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub proxy_port: String,
    pub inbound_capture_port: String,
    pub proxy_uid: String,
    pub proxy_gid: String,
    pub inbound_interception_mode: String,
    pub inbound_tproxy_mark: String,
    pub inbound_tproxy_route_table: String,
    pub inbound_ports_include: String,
    pub inbound_ports_exclude: String,
    pub outbound_ports_exclude: String,
    pub outbound_ip_ranges_include: String,
    pub outbound_ip_ranges_exclude: String,
    pub kubevirt_interfaces: String,
    pub iptables_probe_port: u16,
    pub dry_run: bool,
    pub restore_format: bool,
    pub skip_rule_apply: bool,
    pub run_validation: bool,
    /// Set when the pod's address is IPv6: then ip6tables gets the capture rules too.
    pub enable_inbound_ipv6: Option<Ipv6Addr>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            proxy_port: DEFAULT_ENVOY_PORT.into(),
            inbound_capture_port: DEFAULT_INBOUND_CAPTURE_PORT.into(),
            proxy_uid: String::new(),
            proxy_gid: String::new(),
            inbound_interception_mode: String::new(),
            inbound_tproxy_mark: DEFAULT_TPROXY_MARK.into(),
            inbound_tproxy_route_table: DEFAULT_TPROXY_ROUTE_TABLE.into(),
            inbound_ports_include: String::new(),
            inbound_ports_exclude: String::new(),
            outbound_ports_exclude: String::new(),
            outbound_ip_ranges_include: String::new(),
            outbound_ip_ranges_exclude: String::new(),
            kubevirt_interfaces: String::new(),
            iptables_probe_port: DEFAULT_PROBE_PORT,
            dry_run: false,
            restore_format: true,
            skip_rule_apply: false,
            run_validation: false,
            enable_inbound_ipv6: None,
        }
    }
}

/// `(short, long, help)` of the string flags, in upstream's order.
const STRING_FLAGS: &[(Option<char>, &str, &str)] = &[
    (Some('p'), FLAG_ENVOY_PORT, "Specify the envoy port to which redirect all TCP traffic (default $ENVOY_PORT = 15001)"),
    (
        Some('z'),
        FLAG_INBOUND_CAPTURE_PORT,
        "Port to which all inbound TCP traffic to the pod/VM should be redirected to (default $INBOUND_CAPTURE_PORT = 15006)",
    ),
    (
        Some('u'),
        FLAG_PROXY_UID,
        "Specify the UID of the user for which the redirection is not applied. Typically, this is the UID of the proxy container",
    ),
    (Some('g'), FLAG_PROXY_GID, "Specify the GID of the user for which the redirection is not applied. (same default value as -u param)"),
    (Some('m'), FLAG_INTERCEPTION_MODE, "The mode used to redirect inbound connections to Envoy, either \"REDIRECT\" or \"TPROXY\""),
    (
        Some('b'),
        FLAG_INBOUND_PORTS,
        "Comma separated list of inbound ports for which traffic is to be redirected to Envoy (optional). The wildcard character \"*\" can be used to configure redirection for all ports. An empty list will disable",
    ),
    (
        Some('d'),
        FLAG_LOCAL_EXCLUDE_PORTS,
        "Comma separated list of inbound ports to be excluded from redirection to Envoy (optional). Only applies  when all inbound traffic (i.e. \"*\") is being redirected (default to $ISTIO_LOCAL_EXCLUDE_PORTS)",
    ),
    (
        Some('i'),
        FLAG_SERVICE_CIDR,
        "Comma separated list of IP ranges in CIDR form to redirect to envoy (optional). The wildcard character \"*\" can be used to redirect all outbound traffic. An empty list will disable all outbound",
    ),
    (
        Some('x'),
        FLAG_SERVICE_EXCLUDE_CIDR,
        "Comma separated list of IP ranges in CIDR form to be excluded from redirection. Only applies when all  outbound traffic (i.e. \"*\") is being redirected (default to $ISTIO_SERVICE_EXCLUDE_CIDR)",
    ),
    (Some('o'), FLAG_OUTBOUND_PORTS_EXCLUDE, "Comma separated list of outbound ports to be excluded from redirection to Envoy"),
    (
        Some('k'),
        FLAG_KUBEVIRT_INTERFACES,
        "Comma separated list of virtual interfaces whose inbound traffic (from VM) will be treated as outbound",
    ),
    (Some('t'), FLAG_TPROXY_MARK, ""),
    (Some('r'), FLAG_TPROXY_ROUTE_TABLE, ""),
    (None, FLAG_PROBE_PORT, "set listen port for failure detection"),
];

/// `(short, long, help)` of the boolean flags.
const BOOL_FLAGS: &[(Option<char>, &str, &str)] = &[
    (
        Some('n'),
        FLAG_DRY_RUN,
        "Do not call any external dependencies like iptables",
    ),
    (
        Some('f'),
        FLAG_RESTORE_FORMAT,
        "Print iptables rules in iptables-restore interpretable format",
    ),
    (None, FLAG_SKIP_RULE_APPLY, "Skip iptables apply"),
    (None, FLAG_RUN_VALIDATION, "Validate iptables"),
];

/// The clap command of `istio-iptables`.
pub fn command() -> Command {
    let mut cmd = Command::new("istio-iptables")
        .about("Script responsible for setting up port forwarding for Istio sidecar.")
        .args_override_self(true)
        .disable_version_flag(true);
    for &(short, long, help) in STRING_FLAGS {
        let mut arg = Arg::new(long)
            .long(long)
            .help(help)
            .action(ArgAction::Set)
            .num_args(1)
            .allow_hyphen_values(true)
            .value_name("string");
        if let Some(s) = short {
            arg = arg.short(s);
        }
        cmd = cmd.arg(arg);
    }
    for &(short, long, help) in BOOL_FLAGS {
        let mut arg = Arg::new(long)
            .long(long)
            .help(help)
            .action(ArgAction::Set)
            .num_args(0..=1)
            .require_equals(true)
            .default_missing_value("true")
            .value_parser(parse_go_bool_flag);
        if let Some(s) = short {
            arg = arg.short(s);
        }
        cmd = cmd.arg(arg);
    }
    cmd.arg(
        Arg::new("args")
            .num_args(0..)
            .action(ArgAction::Append)
            .hide(true),
    )
}

/// Go's `strconv.ParseBool` spellings.
pub fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

fn parse_go_bool_flag(s: &str) -> Result<bool, String> {
    parse_go_bool(s).ok_or_else(|| format!("strconv.ParseBool: parsing {s:?}: invalid syntax"))
}

/// A probe port as upstream reads it: an integer in Go syntax (decimal, `0x` hex, `0` octal),
/// kept to its low 16 bits; anything else (or negative) is 0.
fn parse_probe_port(s: &str) -> u16 {
    let s = s.strip_prefix('+').unwrap_or(s);
    if s.starts_with('-') {
        return 0;
    }
    let (digits, radix) = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (h, 16)
    } else if let Some(b) = s.strip_prefix("0b").or_else(|| s.strip_prefix("0B")) {
        (b, 2)
    } else if let Some(o) = s.strip_prefix("0o").or_else(|| s.strip_prefix("0O")) {
        (o, 8)
    } else if s.len() > 1 && s.starts_with('0') {
        (&s[1..], 8)
    } else {
        (s, 10)
    };
    u64::from_str_radix(&digits.replace('_', ""), radix)
        .map(|v| v as u16)
        .unwrap_or(0)
}

impl Config {
    /// Reads the command line (`args` without the program name) and the environment (`env`
    /// looks one variable up).
    pub fn from_args<I, S>(
        args: I,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, clap::Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<std::ffi::OsString> + Clone,
    {
        let argv = std::iter::once(std::ffi::OsString::from("istio-iptables"))
            .chain(args.into_iter().map(Into::into));
        let m = command().try_get_matches_from(argv)?;
        Ok(Config::from_matches(&m, env))
    }

    fn from_matches(m: &ArgMatches, env: impl Fn(&str) -> Option<String>) -> Config {
        let env_set = |flag: &str| env(&env_name(flag)).filter(|v| !v.is_empty());
        let string = |flag: &str, default: &str| -> String {
            m.get_one::<String>(flag)
                .cloned()
                .or_else(|| env_set(flag))
                .unwrap_or_else(|| default.to_string())
        };
        // Booleans from the environment follow Go's ParseBool; what it rejects reads as false.
        let boolean = |flag: &str, default: bool| -> bool {
            match m.get_one::<bool>(flag) {
                Some(b) => *b,
                None => env_set(flag)
                    .map(|v| parse_go_bool(&v).unwrap_or(false))
                    .unwrap_or(default),
            }
        };
        Config {
            proxy_port: string(FLAG_ENVOY_PORT, DEFAULT_ENVOY_PORT),
            inbound_capture_port: string(FLAG_INBOUND_CAPTURE_PORT, DEFAULT_INBOUND_CAPTURE_PORT),
            proxy_uid: string(FLAG_PROXY_UID, ""),
            proxy_gid: string(FLAG_PROXY_GID, ""),
            inbound_interception_mode: string(FLAG_INTERCEPTION_MODE, ""),
            inbound_tproxy_mark: string(FLAG_TPROXY_MARK, DEFAULT_TPROXY_MARK),
            inbound_tproxy_route_table: string(FLAG_TPROXY_ROUTE_TABLE, DEFAULT_TPROXY_ROUTE_TABLE),
            inbound_ports_include: string(FLAG_INBOUND_PORTS, ""),
            inbound_ports_exclude: string(FLAG_LOCAL_EXCLUDE_PORTS, ""),
            outbound_ports_exclude: string(FLAG_OUTBOUND_PORTS_EXCLUDE, ""),
            outbound_ip_ranges_include: string(FLAG_SERVICE_CIDR, ""),
            outbound_ip_ranges_exclude: string(FLAG_SERVICE_EXCLUDE_CIDR, ""),
            kubevirt_interfaces: string(FLAG_KUBEVIRT_INTERFACES, ""),
            iptables_probe_port: parse_probe_port(&string(
                FLAG_PROBE_PORT,
                &DEFAULT_PROBE_PORT.to_string(),
            )),
            dry_run: boolean(FLAG_DRY_RUN, false),
            restore_format: boolean(FLAG_RESTORE_FORMAT, true),
            skip_rule_apply: boolean(FLAG_SKIP_RULE_APPLY, false),
            run_validation: boolean(FLAG_RUN_VALIDATION, false),
            enable_inbound_ipv6: None,
        }
    }

    /// Whether inbound capture uses TPROXY (anything else is REDIRECT).
    pub fn is_tproxy(&self) -> bool {
        self.inbound_interception_mode == TPROXY
    }

    /// The "Variables:" block printed before the rules.
    pub fn variables(&self) -> String {
        let mut s = String::from("Variables:\n----------\n");
        let lines: [(&str, &str); 13] = [
            ("PROXY_PORT", &self.proxy_port),
            ("PROXY_INBOUND_CAPTURE_PORT", &self.inbound_capture_port),
            ("PROXY_UID", &self.proxy_uid),
            ("PROXY_GID", &self.proxy_gid),
            ("INBOUND_INTERCEPTION_MODE", &self.inbound_interception_mode),
            ("INBOUND_TPROXY_MARK", &self.inbound_tproxy_mark),
            (
                "INBOUND_TPROXY_ROUTE_TABLE",
                &self.inbound_tproxy_route_table,
            ),
            ("INBOUND_PORTS_INCLUDE", &self.inbound_ports_include),
            ("INBOUND_PORTS_EXCLUDE", &self.inbound_ports_exclude),
            (
                "OUTBOUND_IP_RANGES_INCLUDE",
                &self.outbound_ip_ranges_include,
            ),
            (
                "OUTBOUND_IP_RANGES_EXCLUDE",
                &self.outbound_ip_ranges_exclude,
            ),
            ("OUTBOUND_PORTS_EXCLUDE", &self.outbound_ports_exclude),
            ("KUBEVIRT_INTERFACES", &self.kubevirt_interfaces),
        ];
        for (k, v) in lines {
            let _ = writeln!(s, "{k}={v}");
        }
        let v6 = self
            .enable_inbound_ipv6
            .map(|a| a.to_string())
            .unwrap_or_default();
        let _ = writeln!(s, "ENABLE_INBOUND_IPV6={v6}");
        s.push('\n');
        s
    }
}

/// The "Environment:" block printed first: the raw values of the variables the shell script
/// version read (unset prints empty).
pub fn environment(env: impl Fn(&str) -> Option<String>) -> String {
    let mut s = String::from("Environment:\n------------\n");
    for k in [
        "ENVOY_PORT",
        "INBOUND_CAPTURE_PORT",
        "ISTIO_INBOUND_INTERCEPTION_MODE",
        "ISTIO_INBOUND_TPROXY_MARK",
        "ISTIO_INBOUND_TPROXY_ROUTE_TABLE",
        "ISTIO_INBOUND_PORTS",
        "ISTIO_LOCAL_EXCLUDE_PORTS",
        "ISTIO_SERVICE_CIDR",
        "ISTIO_SERVICE_EXCLUDE_CIDR",
    ] {
        let _ = writeln!(s, "{k}={}", env(k).unwrap_or_default());
    }
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(args: &[&str], env: &[(&str, &str)]) -> Config {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_args(args, |k| env.get(k).cloned()).unwrap()
    }

    #[test]
    fn defaults() {
        assert_eq!(parse(&[], &[]), Config::default());
    }

    #[test]
    fn injection_template_flags() {
        let c = parse(
            &[
                "-p", "15001", "-z", "15006", "-u", "1337", "-m", "REDIRECT", "-i", "*", "-x", "",
                "-b", "*", "-d", "15020",
            ],
            &[],
        );
        assert_eq!(c.proxy_port, "15001");
        assert_eq!(c.inbound_capture_port, "15006");
        assert_eq!(c.proxy_uid, "1337");
        assert_eq!(c.inbound_interception_mode, "REDIRECT");
        assert_eq!(c.outbound_ip_ranges_include, "*");
        assert_eq!(c.outbound_ip_ranges_exclude, "");
        assert_eq!(c.inbound_ports_include, "*");
        assert_eq!(c.inbound_ports_exclude, "15020");
    }

    #[test]
    fn long_names_and_equals() {
        let c = parse(
            &[
                "--envoy-port=1",
                "--inbound-capture-port",
                "2",
                "--proxy-uid=3",
                "--proxy-gid=4",
                "--istio-inbound-interception-mode=TPROXY",
                "--istio-inbound-tproxy-mark=5",
                "--istio-inbound-tproxy-route-table=6",
                "--istio-inbound-ports=7",
                "--istio-local-exclude-ports=8",
                "--istio-service-cidr=10.0.0.0/8",
                "--istio-service-exclude-cidr=10.1.0.0/16",
                "--istio-local-outbound-ports-exclude=9",
                "--kube-virt-interfaces=eth1",
                "--iptables-probe-port=0x10",
                "--dry-run",
                "--restore-format=false",
                "--skip-rule-apply",
                "--run-validation=true",
            ],
            &[],
        );
        let want = Config {
            proxy_port: "1".into(),
            inbound_capture_port: "2".into(),
            proxy_uid: "3".into(),
            proxy_gid: "4".into(),
            inbound_interception_mode: "TPROXY".into(),
            inbound_tproxy_mark: "5".into(),
            inbound_tproxy_route_table: "6".into(),
            inbound_ports_include: "7".into(),
            inbound_ports_exclude: "8".into(),
            outbound_ports_exclude: "9".into(),
            outbound_ip_ranges_include: "10.0.0.0/8".into(),
            outbound_ip_ranges_exclude: "10.1.0.0/16".into(),
            kubevirt_interfaces: "eth1".into(),
            iptables_probe_port: 16,
            dry_run: true,
            restore_format: false,
            skip_rule_apply: true,
            run_validation: true,
            enable_inbound_ipv6: None,
        };
        assert_eq!(c, want);
    }

    #[test]
    fn environment_twins() {
        let env = [
            ("ENVOY_PORT", "1"),
            ("INBOUND_CAPTURE_PORT", "2"),
            ("PROXY_UID", "3"),
            ("PROXY_GID", "4"),
            ("ISTIO_INBOUND_INTERCEPTION_MODE", "TPROXY"),
            ("ISTIO_INBOUND_TPROXY_MARK", "5"),
            ("ISTIO_INBOUND_TPROXY_ROUTE_TABLE", "6"),
            ("ISTIO_INBOUND_PORTS", "7"),
            ("ISTIO_LOCAL_EXCLUDE_PORTS", "8"),
            ("ISTIO_LOCAL_OUTBOUND_PORTS_EXCLUDE", "9"),
            ("ISTIO_SERVICE_CIDR", "10.0.0.0/8"),
            ("ISTIO_SERVICE_EXCLUDE_CIDR", "10.1.0.0/16"),
            ("KUBE_VIRT_INTERFACES", "eth1"),
            ("IPTABLES_PROBE_PORT", "99"),
            ("DRY_RUN", "1"),
            ("RESTORE_FORMAT", "F"),
            ("SKIP_RULE_APPLY", "True"),
            ("RUN_VALIDATION", "t"),
        ];
        let c = parse(&[], &env);
        assert_eq!(c.proxy_port, "1");
        assert_eq!(c.inbound_capture_port, "2");
        assert_eq!((c.proxy_uid.as_str(), c.proxy_gid.as_str()), ("3", "4"));
        assert!(c.is_tproxy());
        assert_eq!(
            (
                c.inbound_tproxy_mark.as_str(),
                c.inbound_tproxy_route_table.as_str()
            ),
            ("5", "6")
        );
        assert_eq!(
            (
                c.inbound_ports_include.as_str(),
                c.inbound_ports_exclude.as_str()
            ),
            ("7", "8")
        );
        assert_eq!(c.outbound_ports_exclude, "9");
        assert_eq!(
            (
                c.outbound_ip_ranges_include.as_str(),
                c.outbound_ip_ranges_exclude.as_str()
            ),
            ("10.0.0.0/8", "10.1.0.0/16")
        );
        assert_eq!(c.kubevirt_interfaces, "eth1");
        assert_eq!(c.iptables_probe_port, 99);
        assert!(c.dry_run && !c.restore_format && c.skip_rule_apply && c.run_validation);
    }

    #[test]
    fn flag_beats_environment_even_when_empty() {
        let c = parse(
            &["-x", "", "-p", "1"],
            &[
                ("ISTIO_SERVICE_EXCLUDE_CIDR", "10.0.0.0/8"),
                ("ENVOY_PORT", "2"),
            ],
        );
        assert_eq!(c.outbound_ip_ranges_exclude, "");
        assert_eq!(c.proxy_port, "1");
    }

    #[test]
    fn empty_environment_is_unset() {
        let c = parse(&[], &[("ENVOY_PORT", ""), ("RESTORE_FORMAT", "")]);
        assert_eq!(c.proxy_port, "15001");
        assert!(c.restore_format);
    }

    #[test]
    fn lenient_environment_booleans_and_probe_port() {
        let c = parse(&[], &[("DRY_RUN", "yes"), ("IPTABLES_PROBE_PORT", "nope")]);
        assert!(!c.dry_run);
        assert_eq!(c.iptables_probe_port, 0);
        assert_eq!(
            parse(&["--iptables-probe-port", "65537"], &[]).iptables_probe_port,
            1
        );
        assert_eq!(
            parse(&["--iptables-probe-port", "010"], &[]).iptables_probe_port,
            8
        );
    }

    #[test]
    fn last_flag_wins_and_hyphen_values_and_positionals() {
        let c = parse(&["-p", "1", "-p", "2", "-x", "-b", "extra"], &[]);
        assert_eq!(c.proxy_port, "2");
        assert_eq!(c.outbound_ip_ranges_exclude, "-b");
        assert_eq!(c.inbound_ports_include, "");
    }

    #[test]
    fn bad_flag_booleans_and_unknown_flags_are_errors() {
        assert!(Config::from_args(["--dry-run=maybe"], |_| None).is_err());
        assert!(Config::from_args(["--no-such-flag"], |_| None).is_err());
        assert!(Config::from_args(["-p"], |_| None).is_err());
    }

    #[test]
    fn variables_block() {
        let mut c = parse(&["-p", "15001", "-u", "1337", "-b", "*"], &[]);
        c.proxy_gid = "1337".into();
        c.enable_inbound_ipv6 = Some("fd00::5".parse().unwrap());
        let want = "Variables:\n----------\nPROXY_PORT=15001\nPROXY_INBOUND_CAPTURE_PORT=15006\nPROXY_UID=1337\nPROXY_GID=1337\n\
INBOUND_INTERCEPTION_MODE=\nINBOUND_TPROXY_MARK=1337\nINBOUND_TPROXY_ROUTE_TABLE=133\nINBOUND_PORTS_INCLUDE=*\nINBOUND_PORTS_EXCLUDE=\n\
OUTBOUND_IP_RANGES_INCLUDE=\nOUTBOUND_IP_RANGES_EXCLUDE=\nOUTBOUND_PORTS_EXCLUDE=\nKUBEVIRT_INTERFACES=\nENABLE_INBOUND_IPV6=fd00::5\n\n";
        assert_eq!(c.variables(), want);
    }
}
