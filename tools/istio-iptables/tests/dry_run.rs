//! `istio-iptables --dry-run` and `istio-clean-iptables -dryRun` as processes: the exact stdout
//! for the injection template's flags and variants, and bad input failing before any command.

use std::process::{Command, Output};

fn run_with(bin: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(bin);
    cmd.args(args).env_clear();
    if let Ok(path) = std::env::var("PATH") {
        cmd.env("PATH", path);
    }
    cmd.envs(env.iter().copied());
    cmd.output().expect("run the binary")
}

fn iptables(args: &[&str], env: &[(&str, &str)]) -> Output {
    run_with(env!("CARGO_BIN_EXE_istio-iptables"), args, env)
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

/// The injection template's arguments, with `mode` and then `extra`.
fn template(mode: &str, extra: &[&'static str]) -> Vec<&'static str> {
    let mode: &'static str = Box::leak(mode.to_string().into_boxed_str());
    let mut v = vec![
        "-p", "15001", "-z", "15006", "-u", "1337", "-m", mode, "-i", "*", "-x", "", "-b", "*",
        "-d", "15020",
    ];
    v.extend_from_slice(extra);
    v.push("--dry-run");
    v
}

const EMPTY_ENVIRONMENT: &str = "Environment:
------------
ENVOY_PORT=
INBOUND_CAPTURE_PORT=
ISTIO_INBOUND_INTERCEPTION_MODE=
ISTIO_INBOUND_TPROXY_MARK=
ISTIO_INBOUND_TPROXY_ROUTE_TABLE=
ISTIO_INBOUND_PORTS=
ISTIO_LOCAL_EXCLUDE_PORTS=
ISTIO_SERVICE_CIDR=
ISTIO_SERVICE_EXCLUDE_CIDR=

";

/// The "Variables:" block of the injection template's flags, with `changes` (name, value) applied.
fn variables(changes: &[(&str, &str)]) -> String {
    let mut vars = vec![
        ("PROXY_PORT", "15001"),
        ("PROXY_INBOUND_CAPTURE_PORT", "15006"),
        ("PROXY_UID", "1337"),
        ("PROXY_GID", "1337"),
        ("INBOUND_INTERCEPTION_MODE", "REDIRECT"),
        ("INBOUND_TPROXY_MARK", "1337"),
        ("INBOUND_TPROXY_ROUTE_TABLE", "133"),
        ("INBOUND_PORTS_INCLUDE", "*"),
        ("INBOUND_PORTS_EXCLUDE", "15020"),
        ("OUTBOUND_IP_RANGES_INCLUDE", "*"),
        ("OUTBOUND_IP_RANGES_EXCLUDE", ""),
        ("OUTBOUND_PORTS_EXCLUDE", ""),
        ("KUBEVIRT_INTERFACES", ""),
        ("ENABLE_INBOUND_IPV6", ""),
    ];
    for (k, v) in changes {
        vars.iter_mut()
            .find(|(name, _)| name == k)
            .expect("known variable")
            .1 = v;
    }
    let mut s = String::from("Variables:\n----------\n");
    for (k, v) in vars {
        s.push_str(&format!("{k}={v}\n"));
    }
    s.push('\n');
    s
}

const NO_IPV6_AND_SAVES: &str = "ip6tables -F INPUT
ip6tables -A INPUT -m state --state ESTABLISHED -j ACCEPT
ip6tables -A INPUT -i lo -d ::1 -j ACCEPT
ip6tables -A INPUT -j REJECT
iptables-save 
ip6tables-save 
";

#[test]
fn redirect_injection_template() {
    let o = iptables(&template("REDIRECT", &[]), &[]);
    assert!(o.status.success(), "{o:?}");
    let want = format!(
        "{EMPTY_ENVIRONMENT}{}{}{NO_IPV6_AND_SAVES}",
        variables(&[]),
        "iptables -t nat -N ISTIO_REDIRECT
iptables -t nat -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-port 15001
iptables -t nat -N ISTIO_IN_REDIRECT
iptables -t nat -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-port 15006
iptables -t nat -N ISTIO_INBOUND
iptables -t nat -A PREROUTING -p tcp -j ISTIO_INBOUND
iptables -t nat -A ISTIO_INBOUND -p tcp --dport 22 -j RETURN
iptables -t nat -A ISTIO_INBOUND -p tcp --dport 15020 -j RETURN
iptables -t nat -A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT
iptables -t nat -N ISTIO_OUTPUT
iptables -t nat -A OUTPUT -p tcp -j ISTIO_OUTPUT
iptables -t nat -A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN
iptables -t nat -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -j ISTIO_IN_REDIRECT
iptables -t nat -A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN
iptables -t nat -A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN
iptables -t nat -A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN
iptables -t nat -A ISTIO_OUTPUT -j ISTIO_REDIRECT
"
    );
    assert_eq!(stdout(&o), want);
    assert!(
        o.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn tproxy_injection_template_with_outbound_ports_kubevirt_mark_and_gid() {
    let o = iptables(
        &template(
            "TPROXY",
            &["-o", "3306,6379", "-k", "net1", "-t", "0x539", "-g", "1338"],
        ),
        &[],
    );
    assert!(o.status.success(), "{o:?}");
    let vars = variables(&[
        ("PROXY_GID", "1338"),
        ("INBOUND_INTERCEPTION_MODE", "TPROXY"),
        ("INBOUND_TPROXY_MARK", "0x539"),
        ("OUTBOUND_PORTS_EXCLUDE", "3306,6379"),
        ("KUBEVIRT_INTERFACES", "net1"),
    ]);
    let want = format!(
        "{EMPTY_ENVIRONMENT}{vars}{}{NO_IPV6_AND_SAVES}",
        "iptables -t nat -N ISTIO_REDIRECT
iptables -t nat -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-port 15001
iptables -t nat -N ISTIO_IN_REDIRECT
iptables -t nat -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-port 15006
iptables -t mangle -N ISTIO_DIVERT
iptables -t mangle -A ISTIO_DIVERT -j MARK --set-mark 0x539
iptables -t mangle -A ISTIO_DIVERT -j ACCEPT
ip -f inet rule add fwmark 0x539 lookup 133
ip -f inet route add local default dev lo table 133
iptables -t mangle -N ISTIO_TPROXY
iptables -t mangle -A ISTIO_TPROXY ! -d 127.0.0.1/32 -p tcp -j TPROXY --tproxy-mark 0x539/0xffffffff --on-port 15001
iptables -t mangle -N ISTIO_INBOUND
iptables -t mangle -A PREROUTING -p tcp -j ISTIO_INBOUND
iptables -t mangle -A ISTIO_INBOUND -p tcp --dport 22 -j RETURN
iptables -t mangle -A ISTIO_INBOUND -p tcp --dport 15020 -j RETURN
iptables -t mangle -A ISTIO_INBOUND -p tcp -m socket -j ISTIO_DIVERT
iptables -t mangle -A ISTIO_INBOUND -p tcp -j ISTIO_TPROXY
iptables -t nat -N ISTIO_OUTPUT
iptables -t nat -A OUTPUT -p tcp -j ISTIO_OUTPUT
iptables -t nat -A ISTIO_OUTPUT -p tcp --dport 3306 -j RETURN
iptables -t nat -A ISTIO_OUTPUT -p tcp --dport 6379 -j RETURN
iptables -t nat -A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN
iptables -t nat -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -j ISTIO_IN_REDIRECT
iptables -t nat -A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN
iptables -t nat -A ISTIO_OUTPUT -m owner --gid-owner 1338 -j RETURN
iptables -t nat -A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN
iptables -t nat -I PREROUTING 1 -i net1 -j RETURN
iptables -t nat -A ISTIO_OUTPUT -j ISTIO_REDIRECT
iptables -t nat -I PREROUTING 1 -i net1 -j ISTIO_REDIRECT
"
    );
    assert_eq!(stdout(&o), want);
}

#[test]
fn ipv6_pod_with_ranges() {
    let args = [
        "-p",
        "15001",
        "-z",
        "15006",
        "-u",
        "1337",
        "-m",
        "REDIRECT",
        "-i",
        "10.96.0.0/12,fd00:10:96::/112",
        "-x",
        "fd00:10:96::1/128",
        "-b",
        "*",
        "-d",
        "15020",
        "--dry-run",
    ];
    let o = iptables(&args, &[("STUB_IP", "fd00:10:244::5")]);
    assert!(o.status.success(), "{o:?}");
    let vars = variables(&[
        (
            "OUTBOUND_IP_RANGES_INCLUDE",
            "10.96.0.0/12,fd00:10:96::/112",
        ),
        ("OUTBOUND_IP_RANGES_EXCLUDE", "fd00:10:96::1/128"),
        ("ENABLE_INBOUND_IPV6", "fd00:10:244::5"),
    ]);
    let want = format!(
        "{EMPTY_ENVIRONMENT}{vars}{}",
        "ip -6 addr add ::6/128 dev lo
iptables -t nat -N ISTIO_REDIRECT
iptables -t nat -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-port 15001
iptables -t nat -N ISTIO_IN_REDIRECT
iptables -t nat -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-port 15006
iptables -t nat -N ISTIO_INBOUND
iptables -t nat -A PREROUTING -p tcp -j ISTIO_INBOUND
iptables -t nat -A ISTIO_INBOUND -p tcp --dport 22 -j RETURN
iptables -t nat -A ISTIO_INBOUND -p tcp --dport 15020 -j RETURN
iptables -t nat -A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT
iptables -t nat -N ISTIO_OUTPUT
iptables -t nat -A OUTPUT -p tcp -j ISTIO_OUTPUT
iptables -t nat -A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN
iptables -t nat -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -j ISTIO_IN_REDIRECT
iptables -t nat -A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN
iptables -t nat -A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN
iptables -t nat -A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN
iptables -t nat -A ISTIO_OUTPUT -d 10.96.0.0/12 -j ISTIO_REDIRECT
iptables -t nat -A ISTIO_OUTPUT -j RETURN
ip6tables -t nat -N ISTIO_REDIRECT
ip6tables -t nat -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-port 15001
ip6tables -t nat -N ISTIO_IN_REDIRECT
ip6tables -t nat -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-port 15006
ip6tables -t nat -N ISTIO_INBOUND
ip6tables -t nat -A PREROUTING -p tcp -j ISTIO_INBOUND
ip6tables -t nat -A ISTIO_INBOUND -p tcp --dport 22 -j RETURN
ip6tables -t nat -A ISTIO_INBOUND -p tcp --dport 15020 -j RETURN
ip6tables -t nat -N ISTIO_OUTPUT
ip6tables -t nat -A OUTPUT -p tcp -j ISTIO_OUTPUT
ip6tables -t nat -A ISTIO_OUTPUT -o lo -s ::6/128 -j RETURN
ip6tables -t nat -A ISTIO_OUTPUT -o lo ! -d ::1/128 -j ISTIO_IN_REDIRECT
ip6tables -t nat -A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN
ip6tables -t nat -A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN
ip6tables -t nat -A ISTIO_OUTPUT -d ::1/128 -j RETURN
ip6tables -t nat -A ISTIO_OUTPUT -d fd00:10:96::1/128 -j RETURN
ip6tables -t nat -A ISTIO_OUTPUT -d fd00:10:96::/112 -j ISTIO_REDIRECT
ip6tables -t nat -A ISTIO_OUTPUT -j RETURN
iptables-save 
ip6tables-save 
"
    );
    assert_eq!(stdout(&o), want);
}

#[test]
fn environment_twins_and_defaults() {
    // No -u: --dry-run assumes the proxy user is root, so PROXY_UID is "0,0".
    let env = [
        ("ISTIO_INBOUND_INTERCEPTION_MODE", "REDIRECT"),
        ("ISTIO_INBOUND_PORTS", "9080"),
        ("ISTIO_SERVICE_CIDR", "10.0.0.0/8"),
        ("DRY_RUN", "true"),
        ("DISABLE_REDIRECTION_ON_LOCAL_LOOPBACK", "1"),
    ];
    let o = iptables(&[], &env);
    assert!(o.status.success(), "{o:?}");
    let out = stdout(&o);
    assert!(
        out.contains("ISTIO_INBOUND_INTERCEPTION_MODE=REDIRECT\n"),
        "{out}"
    );
    assert!(out.contains("ISTIO_INBOUND_PORTS=9080\n"));
    assert!(out.contains("PROXY_UID=0,0\nPROXY_GID=0,0\n"));
    let rules: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("iptables"))
        .collect();
    assert_eq!(
        rules,
        [
            "iptables -t nat -N ISTIO_REDIRECT",
            "iptables -t nat -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-port 15001",
            "iptables -t nat -N ISTIO_IN_REDIRECT",
            "iptables -t nat -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-port 15001",
            "iptables -t nat -N ISTIO_INBOUND",
            "iptables -t nat -A PREROUTING -p tcp -j ISTIO_INBOUND",
            "iptables -t nat -A ISTIO_INBOUND -p tcp --dport 9080 -j ISTIO_IN_REDIRECT",
            "iptables -t nat -N ISTIO_OUTPUT",
            "iptables -t nat -A OUTPUT -p tcp -j ISTIO_OUTPUT",
            "iptables -t nat -A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN",
            "iptables -t nat -A ISTIO_OUTPUT -m owner --uid-owner 0 -j RETURN",
            "iptables -t nat -A ISTIO_OUTPUT -m owner --uid-owner 0 -j RETURN",
            "iptables -t nat -A ISTIO_OUTPUT -m owner --gid-owner 0 -j RETURN",
            "iptables -t nat -A ISTIO_OUTPUT -m owner --gid-owner 0 -j RETURN",
            "iptables -t nat -A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN",
            "iptables -t nat -A ISTIO_OUTPUT -d 10.0.0.0/8 -j ISTIO_REDIRECT",
            "iptables -t nat -A ISTIO_OUTPUT -j RETURN",
            "ip6tables -F INPUT",
            "ip6tables -A INPUT -m state --state ESTABLISHED -j ACCEPT",
            "ip6tables -A INPUT -i lo -d ::1 -j ACCEPT",
            "ip6tables -A INPUT -j REJECT",
            "iptables-save ",
            "ip6tables-save ",
        ]
    );
}

#[test]
fn skip_rule_apply_prints_nothing() {
    let o = iptables(&["--dry-run", "--skip-rule-apply"], &[]);
    assert!(o.status.success());
    assert_eq!(stdout(&o), "");
}

#[test]
fn bad_input_fails_before_any_command() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["-m", "tproxy"],
            "-m/--istio-inbound-interception-mode ($ISTIO_INBOUND_INTERCEPTION_MODE)",
        ),
        (
            &["-b", "80,http"],
            "-b/--istio-inbound-ports ($ISTIO_INBOUND_PORTS)",
        ),
        (
            &["-d", "15020,"],
            "-d/--istio-local-exclude-ports ($ISTIO_LOCAL_EXCLUDE_PORTS)",
        ),
        (
            &["-o", "99999"],
            "-o/--istio-local-outbound-ports-exclude ($ISTIO_LOCAL_OUTBOUND_PORTS_EXCLUDE)",
        ),
        (&["-p", "envoy"], "-p/--envoy-port ($ENVOY_PORT)"),
        (
            &["-i", "10.0.0.0/33"],
            "-i/--istio-service-cidr ($ISTIO_SERVICE_CIDR)",
        ),
        (
            &["-x", "*"],
            "-x/--istio-service-exclude-cidr ($ISTIO_SERVICE_EXCLUDE_CIDR)",
        ),
        (
            &["-x", "10.0.0.0/8, 172.16.0.0/12"],
            "-x/--istio-service-exclude-cidr ($ISTIO_SERVICE_EXCLUDE_CIDR)",
        ),
    ];
    for (args, flag) in cases {
        let mut all = args.to_vec();
        all.push("--dry-run");
        let o = iptables(&all, &[]);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert_eq!(stdout(&o), "", "{args:?}: nothing may run");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains(flag) && err.contains(&format!("{:?}", args[1])),
            "{args:?}: {err}"
        );
    }
    // The same through the environment.
    let o = iptables(
        &["--dry-run"],
        &[("ISTIO_INBOUND_INTERCEPTION_MODE", "NONE")],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr)
        .contains("invalid value \"NONE\" for -m/--istio-inbound-interception-mode"));
}

#[test]
fn usage_errors_and_help() {
    let o = iptables(&["--no-such-flag", "--dry-run"], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stdout(&o), "");
    let o = iptables(&["--help"], &[]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("--istio-inbound-interception-mode"));
}

#[test]
fn clean_dry_run() {
    let o = run_with(
        env!("CARGO_BIN_EXE_istio-clean-iptables"),
        &["-dryRun"],
        &[],
    );
    assert!(o.status.success(), "{o:?}");
    let mut want = String::new();
    for prog in ["iptables", "ip6tables"] {
        for rest in [
            "-t nat -D PREROUTING -p tcp -j ISTIO_INBOUND",
            "-t mangle -D PREROUTING -p tcp -j ISTIO_INBOUND",
            "-t nat -D OUTPUT -p tcp -j ISTIO_OUTPUT",
            "-t nat -F ISTIO_OUTPUT",
            "-t nat -X ISTIO_OUTPUT",
            "-t nat -F ISTIO_INBOUND",
            "-t nat -X ISTIO_INBOUND",
            "-t mangle -F ISTIO_INBOUND",
            "-t mangle -X ISTIO_INBOUND",
            "-t mangle -F ISTIO_DIVERT",
            "-t mangle -X ISTIO_DIVERT",
            "-t mangle -F ISTIO_TPROXY",
            "-t mangle -X ISTIO_TPROXY",
            "-t nat -F ISTIO_REDIRECT",
            "-t nat -X ISTIO_REDIRECT",
            "-t nat -F ISTIO_IN_REDIRECT",
            "-t nat -X ISTIO_IN_REDIRECT",
        ] {
            want.push_str(&format!("{prog} {rest}\n"));
        }
    }
    want.push_str("iptables-save \nip6tables-save \n");
    assert_eq!(stdout(&o), want);

    let o = run_with(
        env!("CARGO_BIN_EXE_istio-clean-iptables"),
        &["--bogus"],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr)
        .starts_with("flag provided but not defined: -bogus\nUsage of "));
}
