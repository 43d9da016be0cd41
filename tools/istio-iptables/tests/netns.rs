//! Real runs of `istio-iptables` and `istio-clean-iptables` inside a network namespace made for
//! each test (`ip netns add`), read back with iptables-save / ip6tables-save.
//!
//! Needs root, iptables and iproute2: `tools/istio-iptables/install-test-deps.sh` installs them
//! (`make e2e` does it first). Run with `cargo test -p istio-iptables --test netns -- --ignored`.

use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

const IGNORE: &str = "needs root, iptables and iproute2 (tools/istio-iptables/install-test-deps.sh); run by make e2e";

/// One test at a time: iptables' legacy backend shares a host-wide lock across namespaces.
static SERIAL: Mutex<()> = Mutex::new(());

/// A network namespace that is deleted when dropped.
struct Netns {
    name: String,
}

impl Netns {
    fn new() -> Netns {
        static N: AtomicUsize = AtomicUsize::new(0);
        for tool in [
            "ip",
            "iptables",
            "ip6tables",
            "iptables-save",
            "ip6tables-save",
        ] {
            let found = Command::new("sh")
                .arg("-c")
                .arg(format!("command -v {tool}"))
                .output()
                .map(|o| o.status.success());
            assert!(found.unwrap_or(false), "{tool} is missing: {IGNORE}");
        }
        let uid = Command::new("id").arg("-u").output().expect("id -u");
        assert_eq!(
            String::from_utf8_lossy(&uid.stdout).trim(),
            "0",
            "not root: {IGNORE}"
        );
        let name = format!(
            "istio-ipt-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        let o = Command::new("ip")
            .args(["netns", "add", &name])
            .output()
            .expect("ip netns add");
        assert!(
            o.status.success(),
            "ip netns add {name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let ns = Netns { name };
        ns.ok("ip link set lo up");
        ns
    }

    /// Runs a shell command line inside the namespace.
    fn sh(&self, script: &str) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.name, "sh", "-c", script])
            .output()
            .expect("ip netns exec")
    }

    /// Runs a shell command line that must succeed; its stdout.
    fn ok(&self, script: &str) -> String {
        let o = self.sh(script);
        assert!(
            o.status.success(),
            "{script}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }

    /// Runs one of our binaries inside the namespace.
    fn run(&self, bin: &str, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.name, bin])
            .args(args)
            .env_remove("DISABLE_REDIRECTION_ON_LOCAL_LOOPBACK")
            .env("ENVOY_USER", "istio-proxy")
            .output()
            .expect("run in netns")
    }

    /// `iptables-save` (or `ip6tables-save`) without comments and counters; `tables` picks the
    /// tables to keep, in the save's order.
    fn saved(&self, program: &str, tables: &[&str]) -> String {
        let raw = self.ok(program);
        let mut out = String::new();
        let mut keep = false;
        for line in raw.lines() {
            if let Some(t) = line.strip_prefix('*') {
                keep = tables.contains(&t);
            }
            if !keep || line.starts_with('#') {
                continue;
            }
            let line = line.strip_suffix(" [0:0]").unwrap_or(line);
            out.push_str(line);
            out.push('\n');
        }
        out
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

const INSTALL: &str = env!("CARGO_BIN_EXE_istio-iptables");
const CLEAN: &str = env!("CARGO_BIN_EXE_istio-clean-iptables");

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// What the install of a pod without IPv6 leaves in ip6tables' filter table.
const IPV6_REFUSED: &str = "*filter
:INPUT ACCEPT
:FORWARD ACCEPT
:OUTPUT ACCEPT
-A INPUT -m state --state ESTABLISHED -j ACCEPT
-A INPUT -d ::1/128 -i lo -j ACCEPT
-A INPUT -j REJECT --reject-with icmp6-port-unreachable
COMMIT
";

const EMPTY_NAT: &str = "*nat
:PREROUTING ACCEPT
:INPUT ACCEPT
:OUTPUT ACCEPT
:POSTROUTING ACCEPT
COMMIT
";

#[test]
#[ignore = "needs root, iptables and iproute2 (tools/istio-iptables/install-test-deps.sh); run by make e2e"]
fn redirect_install_and_clean() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let ns = Netns::new();
    ns.ok("ip addr add 10.77.0.5/32 dev lo");

    let args = [
        "-p", "15001", "-z", "15006", "-u", "1337", "-m", "REDIRECT", "-i", "*", "-x", "", "-b",
        "*", "-d", "15020",
    ];
    let o = ns.run(INSTALL, &args);
    assert!(o.status.success(), "{}{}", text(&o.stdout), text(&o.stderr));
    let stdout = text(&o.stdout);
    assert!(stdout.starts_with("Environment:\n"), "{stdout}");
    assert!(stdout.contains("\niptables -t nat -N ISTIO_REDIRECT\n"));
    assert!(
        stdout.contains("\niptables-save \n# Generated by iptables-save"),
        "the save's output follows its command line"
    );

    assert_eq!(
        ns.saved("iptables-save", &["nat"]),
        "*nat
:PREROUTING ACCEPT
:INPUT ACCEPT
:OUTPUT ACCEPT
:POSTROUTING ACCEPT
:ISTIO_INBOUND -
:ISTIO_IN_REDIRECT -
:ISTIO_OUTPUT -
:ISTIO_REDIRECT -
-A PREROUTING -p tcp -j ISTIO_INBOUND
-A OUTPUT -p tcp -j ISTIO_OUTPUT
-A ISTIO_INBOUND -p tcp -m tcp --dport 22 -j RETURN
-A ISTIO_INBOUND -p tcp -m tcp --dport 15020 -j RETURN
-A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT
-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
-A ISTIO_OUTPUT -s 127.0.0.6/32 -o lo -j RETURN
-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -o lo -j ISTIO_IN_REDIRECT
-A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN
-A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN
-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN
-A ISTIO_OUTPUT -j ISTIO_REDIRECT
-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
COMMIT
"
    );
    assert!(
        !ns.ok("iptables-save").contains("mangle"),
        "REDIRECT mode leaves mangle alone"
    );
    assert_eq!(ns.saved("ip6tables-save", &["filter", "nat"]), IPV6_REFUSED);

    let o = ns.run(CLEAN, &[]);
    assert!(o.status.success(), "{}{}", text(&o.stdout), text(&o.stderr));
    assert!(text(&o.stdout).starts_with("iptables -t nat -D PREROUTING -p tcp -j ISTIO_INBOUND\n"));
    assert_eq!(ns.saved("iptables-save", &["nat"]), EMPTY_NAT);
    assert!(!ns.ok("iptables-save; ip6tables-save").contains("ISTIO"));
    // As upstream, the IPv6 INPUT rules of a pod without IPv6 are not cleaned.
    assert_eq!(ns.saved("ip6tables-save", &["filter", "nat"]), IPV6_REFUSED);
}

#[test]
#[ignore = "needs root, iptables and iproute2 (tools/istio-iptables/install-test-deps.sh); run by make e2e"]
fn tproxy_install_and_clean() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let ns = Netns::new();
    ns.ok("ip addr add 10.77.0.6/32 dev lo");

    let args = [
        "-p",
        "15001",
        "-z",
        "15006",
        "-u",
        "1337",
        "-m",
        "TPROXY",
        "-i",
        "10.96.0.0/12",
        "-x",
        "10.96.0.1/32",
        "-b",
        "*",
        "-d",
        "15020",
        "-o",
        "3306",
        "-k",
        "net1",
        "-t",
        "0x539",
        "-g",
        "1338",
    ];
    let o = ns.run(INSTALL, &args);
    assert!(o.status.success(), "{}{}", text(&o.stdout), text(&o.stderr));
    assert!(
        !text(&o.stdout).contains("No socket match support"),
        "the socket match is available"
    );

    assert_eq!(
        ns.saved("iptables-save", &["mangle", "nat"]),
        "*mangle
:PREROUTING ACCEPT
:INPUT ACCEPT
:FORWARD ACCEPT
:OUTPUT ACCEPT
:POSTROUTING ACCEPT
:ISTIO_DIVERT -
:ISTIO_INBOUND -
:ISTIO_TPROXY -
-A PREROUTING -p tcp -j ISTIO_INBOUND
-A ISTIO_DIVERT -j MARK --set-xmark 0x539/0xffffffff
-A ISTIO_DIVERT -j ACCEPT
-A ISTIO_INBOUND -p tcp -m tcp --dport 22 -j RETURN
-A ISTIO_INBOUND -p tcp -m tcp --dport 15020 -j RETURN
-A ISTIO_INBOUND -p tcp -m socket -j ISTIO_DIVERT
-A ISTIO_INBOUND -p tcp -j ISTIO_TPROXY
-A ISTIO_TPROXY ! -d 127.0.0.1/32 -p tcp -j TPROXY --on-port 15001 --on-ip 0.0.0.0 --tproxy-mark 0x539/0xffffffff
COMMIT
*nat
:PREROUTING ACCEPT
:INPUT ACCEPT
:OUTPUT ACCEPT
:POSTROUTING ACCEPT
:ISTIO_IN_REDIRECT -
:ISTIO_OUTPUT -
:ISTIO_REDIRECT -
-A PREROUTING -d 10.96.0.0/12 -i net1 -j ISTIO_REDIRECT
-A PREROUTING -i net1 -j RETURN
-A OUTPUT -p tcp -j ISTIO_OUTPUT
-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
-A ISTIO_OUTPUT -p tcp -m tcp --dport 3306 -j RETURN
-A ISTIO_OUTPUT -s 127.0.0.6/32 -o lo -j RETURN
-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -o lo -j ISTIO_IN_REDIRECT
-A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN
-A ISTIO_OUTPUT -m owner --gid-owner 1338 -j RETURN
-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN
-A ISTIO_OUTPUT -d 10.96.0.1/32 -j RETURN
-A ISTIO_OUTPUT -d 10.96.0.0/12 -j ISTIO_REDIRECT
-A ISTIO_OUTPUT -j RETURN
-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
COMMIT
"
    );
    assert!(ns
        .ok("ip rule show")
        .contains("from all fwmark 0x539 lookup 133"));
    assert_eq!(
        ns.ok("ip route show table 133").trim(),
        "local default dev lo scope host"
    );

    let o = ns.run(CLEAN, &[]);
    assert!(o.status.success(), "{}{}", text(&o.stdout), text(&o.stderr));
    let after = ns.ok("iptables-save");
    // kube-virt's PREROUTING rules keep ISTIO_REDIRECT referenced, so (as upstream) that chain
    // cannot be deleted; everything else is gone.
    assert_eq!(
        ns.saved("iptables-save", &["mangle", "nat"]),
        "*mangle
:PREROUTING ACCEPT
:INPUT ACCEPT
:FORWARD ACCEPT
:OUTPUT ACCEPT
:POSTROUTING ACCEPT
COMMIT
*nat
:PREROUTING ACCEPT
:INPUT ACCEPT
:OUTPUT ACCEPT
:POSTROUTING ACCEPT
:ISTIO_REDIRECT -
-A PREROUTING -d 10.96.0.0/12 -i net1 -j ISTIO_REDIRECT
-A PREROUTING -i net1 -j RETURN
COMMIT
",
        "{after}"
    );
    // Nor does it remove the policy route.
    assert!(ns.ok("ip rule show").contains("fwmark 0x539 lookup 133"));
}

#[test]
#[ignore = "needs root, iptables and iproute2 (tools/istio-iptables/install-test-deps.sh); run by make e2e"]
fn ipv6_pod_install_and_clean() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let ns = Netns::new();
    ns.ok("sysctl -qw net.ipv6.conf.lo.disable_ipv6=0 2>/dev/null; ip -6 addr add fd00:77::5/128 dev lo nodad");

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
        "*",
        "-x",
        "fd00:10:96::/112",
        "-b",
        "9080",
        "-d",
        "15020",
    ];
    let o = ns.run(INSTALL, &args);
    assert!(o.status.success(), "{}{}", text(&o.stdout), text(&o.stderr));
    assert!(
        text(&o.stdout).contains("\nENABLE_INBOUND_IPV6=fd00:77::5\n"),
        "{}",
        text(&o.stdout)
    );
    assert!(ns.ok("ip -6 addr show dev lo").contains("inet6 ::6/128"));

    assert_eq!(
        ns.saved("ip6tables-save", &["filter", "nat"]),
        "*nat
:PREROUTING ACCEPT
:INPUT ACCEPT
:OUTPUT ACCEPT
:POSTROUTING ACCEPT
:ISTIO_INBOUND -
:ISTIO_IN_REDIRECT -
:ISTIO_OUTPUT -
:ISTIO_REDIRECT -
-A PREROUTING -p tcp -j ISTIO_INBOUND
-A OUTPUT -p tcp -j ISTIO_OUTPUT
-A ISTIO_INBOUND -p tcp -m tcp --dport 9080 -j ISTIO_IN_REDIRECT
-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15001
-A ISTIO_OUTPUT -s ::6/128 -o lo -j RETURN
-A ISTIO_OUTPUT ! -d ::1/128 -o lo -j ISTIO_IN_REDIRECT
-A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN
-A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN
-A ISTIO_OUTPUT -d ::1/128 -j RETURN
-A ISTIO_OUTPUT -d fd00:10:96::/112 -j RETURN
-A ISTIO_OUTPUT -j ISTIO_REDIRECT
-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
COMMIT
"
    );
    // The IPv4 half is installed too.
    assert!(ns
        .ok("iptables-save -t nat")
        .contains("-A ISTIO_INBOUND -p tcp -m tcp --dport 9080 -j ISTIO_IN_REDIRECT"));

    let o = ns.run(CLEAN, &[]);
    assert!(o.status.success(), "{}{}", text(&o.stdout), text(&o.stderr));
    assert!(!ns.ok("iptables-save; ip6tables-save").contains("ISTIO"));
}

#[test]
#[ignore = "needs root, iptables and iproute2 (tools/istio-iptables/install-test-deps.sh); run by make e2e"]
fn bad_input_touches_nothing_and_a_failing_command_aborts() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let ns = Netns::new();
    ns.ok("ip addr add 10.77.0.7/32 dev lo");
    let before = ns.saved("iptables-save", &["filter", "mangle", "nat"])
        + &ns.saved("ip6tables-save", &["filter", "mangle", "nat"]);

    for bad in [
        &["-b", "80,abc"][..],
        &["-m", "BOGUS"],
        &["-i", "10.0.0.0/8,nonsense"],
    ] {
        let o = ns.run(INSTALL, bad);
        assert_eq!(o.status.code(), Some(1), "{bad:?}");
        assert_eq!(text(&o.stdout), "", "{bad:?}");
        assert!(
            text(&o.stderr).contains(bad[1]),
            "{bad:?}: {}",
            text(&o.stderr)
        );
    }
    let after = ns.saved("iptables-save", &["filter", "mangle", "nat"])
        + &ns.saved("ip6tables-save", &["filter", "mangle", "nat"]);
    assert_eq!(before, after);

    // A second install finds ISTIO_REDIRECT already there: upstream panics (exit 2) after the
    // saves have run.
    let args = ["-u", "1337", "-m", "REDIRECT", "-i", "*", "-b", "*"];
    assert!(ns.run(INSTALL, &args).status.success());
    let o = ns.run(INSTALL, &args);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    let stdout = text(&o.stdout);
    let rules: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("iptables") || l.starts_with("ip6tables"))
        .collect();
    assert_eq!(
        rules,
        [
            "iptables -t nat -N ISTIO_REDIRECT",
            "iptables-save ",
            "ip6tables-save "
        ]
    );
    assert!(
        text(&o.stderr).contains("panic: exit status 1"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
#[ignore = "needs root, iptables and iproute2 (tools/istio-iptables/install-test-deps.sh); run by make e2e"]
fn no_address_fails_like_upstream() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let ns = Netns::new();
    let o = ns.run(INSTALL, &["-u", "1337", "-b", "*", "-i", "*"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("panic: no valid local IP address found"),
        "{}",
        text(&o.stderr)
    );
    // The saves still ran; no rule did.
    assert!(
        text(&o.stdout).starts_with("iptables-save \n"),
        "{}",
        text(&o.stdout)
    );
    assert!(!ns.ok("iptables-save").contains("ISTIO"));
}

#[test]
#[ignore = "needs root, iptables and iproute2 (tools/istio-iptables/install-test-deps.sh); run by make e2e"]
fn run_validation_sees_the_redirect() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let ns = Netns::new();
    ns.ok("ip addr add 10.77.0.8/32 dev lo");
    let args = [
        "-p", "15001", "-z", "15006", "-u", "1337", "-m", "REDIRECT", "-i", "*", "-x", "", "-b",
        "*", "-d", "15020",
    ];
    assert!(ns.run(INSTALL, &args).status.success());

    // istio-cni's repair mode: the rules are there, only validate them.
    let mut validate = args.to_vec();
    validate.extend(["--run-validation", "--skip-rule-apply"]);
    let o = ns.run(INSTALL, &validate);
    assert!(o.status.success(), "{}{}", text(&o.stdout), text(&o.stderr));
    let stdout = text(&o.stdout);
    assert!(stdout.starts_with("in new validator: 10.77.0.8\nListening on 127.0.0.1:15001\nListening on 127.0.0.1:15006\n"), "{stdout}");
    assert!(
        stdout.contains("original addr 127.0.0.1:15002\n"),
        "{stdout}"
    );
    assert!(stdout.ends_with("validation passed\n"), "{stdout}");
}
