//! The rule builder (upstream's builder tests, on our own fixtures) and [`plan`] per scenario,
//! with the command lists derived from upstream 1.4.10's run.go.

use super::*;
use crate::check::check;

// ---- RuleSet: append / insert, split by family ----

#[test]
fn v4_insert_single_rule() {
    let mut r = RuleSet::new();
    r.insert(
        Family::V4,
        "filter",
        "FORWARD",
        3,
        &["-s", "10.0.0.0/8", "-j", "DROP"],
    );
    assert_eq!(
        r.build_v4(),
        ["iptables -t filter -I FORWARD 3 -s 10.0.0.0/8 -j DROP"]
    );
    assert!(r.build_v6().is_empty());
}

#[test]
fn v4_append_rules_keep_their_order() {
    let mut r = RuleSet::new();
    r.append(Family::V4, "raw", "OUTPUT", &["-p", "udp", "-j", "NOTRACK"])
        .append(
            Family::V4,
            "raw",
            "OUTPUT",
            &["-p", "icmp", "-j", "NOTRACK"],
        )
        .append(Family::V4, "raw", "OUTPUT", &["-p", "tcp", "-j", "NOTRACK"]);
    assert_eq!(
        r.build_v4(),
        [
            "iptables -t raw -A OUTPUT -p udp -j NOTRACK",
            "iptables -t raw -A OUTPUT -p icmp -j NOTRACK",
            "iptables -t raw -A OUTPUT -p tcp -j NOTRACK",
        ]
    );
    assert!(r.build_v6().is_empty());
}

#[test]
fn v4_mixed_insert_and_append() {
    let mut r = RuleSet::new();
    r.append(Family::V4, "nat", "POSTROUTING", &["-j", "MASQUERADE"])
        .insert(
            Family::V4,
            "nat",
            "POSTROUTING",
            1,
            &["-d", "10.0.0.0/8", "-j", "RETURN"],
        )
        .insert(
            Family::V4,
            "nat",
            "POSTROUTING",
            2,
            &["-d", "192.168.0.0/16", "-j", "RETURN"],
        )
        .append(
            Family::V4,
            "nat",
            "POSTROUTING",
            &["-o", "eth0", "-j", "ACCEPT"],
        );
    assert_eq!(
        r.build_v4(),
        [
            "iptables -t nat -A POSTROUTING -j MASQUERADE",
            "iptables -t nat -I POSTROUTING 1 -d 10.0.0.0/8 -j RETURN",
            "iptables -t nat -I POSTROUTING 2 -d 192.168.0.0/16 -j RETURN",
            "iptables -t nat -A POSTROUTING -o eth0 -j ACCEPT",
        ]
    );
}

#[test]
fn v6_rules() {
    let mut r = RuleSet::new();
    r.insert(
        Family::V6,
        "mangle",
        "PREROUTING",
        2,
        &["-i", "eth1", "-j", "ACCEPT"],
    )
    .append(
        Family::V6,
        "mangle",
        "PREROUTING",
        &["-j", "MARK", "--set-mark", "7"],
    )
    .insert(
        Family::V6,
        "mangle",
        "PREROUTING",
        1,
        &["-i", "eth2", "-j", "ACCEPT"],
    );
    assert_eq!(
        r.build_v6(),
        [
            "ip6tables -t mangle -I PREROUTING 2 -i eth1 -j ACCEPT",
            "ip6tables -t mangle -A PREROUTING -j MARK --set-mark 7",
            "ip6tables -t mangle -I PREROUTING 1 -i eth2 -j ACCEPT",
        ]
    );
    assert!(r.build_v4().is_empty());
}

#[test]
fn v4_and_v6_interleaved() {
    let mut r = RuleSet::new();
    r.new_chain(Family::V4, "nat", "MINE")
        .new_chain(Family::V6, "nat", "MINE")
        .append(Family::V4, "nat", "MINE", &["-j", "RETURN"])
        .push(Command::new(Program::Ip, &["link"]))
        .append(Family::V6, "nat", "MINE", &["-j", "RETURN"]);
    assert_eq!(
        r.build_v4(),
        [
            "iptables -t nat -N MINE",
            "iptables -t nat -A MINE -j RETURN"
        ]
    );
    assert_eq!(
        r.build_v6(),
        [
            "ip6tables -t nat -N MINE",
            "ip6tables -t nat -A MINE -j RETURN"
        ]
    );
    assert_eq!(r.commands().len(), 5);
    assert_eq!(r.commands()[3].to_string(), "ip link");
}

#[test]
fn command_lines() {
    assert_eq!(
        Command::new(Program::IptablesSave, &[]).to_string(),
        "iptables-save "
    );
    assert_eq!(
        Command::new(Program::Ip6tables, &["-F", "INPUT"]).to_string(),
        "ip6tables -F INPUT"
    );
}

// ---- plan ----

/// A completed config: what `app::complete` leaves for `-u 1337` on an IPv4 pod.
fn injected(mode: &str) -> Config {
    Config {
        proxy_port: "15001".into(),
        inbound_capture_port: "15006".into(),
        proxy_uid: "1337".into(),
        proxy_gid: "1337".into(),
        inbound_interception_mode: mode.into(),
        outbound_ip_ranges_include: "*".into(),
        outbound_ip_ranges_exclude: "".into(),
        inbound_ports_include: "*".into(),
        inbound_ports_exclude: "15020".into(),
        ..Config::default()
    }
}

fn lines(cfg: &Config) -> Vec<String> {
    lines_with(cfg, true)
}

fn lines_with(cfg: &Config, redirect_loopback: bool) -> Vec<String> {
    let ranges = check(cfg).expect("valid config");
    plan(cfg, &ranges, redirect_loopback)
        .iter()
        .map(|c| c.to_string())
        .collect()
}

const NO_IPV6: [&str; 4] = [
    "ip6tables -F INPUT",
    "ip6tables -A INPUT -m state --state ESTABLISHED -j ACCEPT",
    "ip6tables -A INPUT -i lo -d ::1 -j ACCEPT",
    "ip6tables -A INPUT -j REJECT",
];

fn with_no_ipv6(v4: &[&str]) -> Vec<String> {
    v4.iter()
        .chain(NO_IPV6.iter())
        .map(|s| s.to_string())
        .collect()
}

#[test]
fn redirect_all_ports_all_ranges() {
    assert_eq!(
        lines(&injected("REDIRECT")),
        with_no_ipv6(&[
            "iptables -t nat -N ISTIO_REDIRECT",
            "iptables -t nat -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-port 15001",
            "iptables -t nat -N ISTIO_IN_REDIRECT",
            "iptables -t nat -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-port 15006",
            "iptables -t nat -N ISTIO_INBOUND",
            "iptables -t nat -A PREROUTING -p tcp -j ISTIO_INBOUND",
            "iptables -t nat -A ISTIO_INBOUND -p tcp --dport 22 -j RETURN",
            "iptables -t nat -A ISTIO_INBOUND -p tcp --dport 15020 -j RETURN",
            "iptables -t nat -A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT",
            "iptables -t nat -N ISTIO_OUTPUT",
            "iptables -t nat -A OUTPUT -p tcp -j ISTIO_OUTPUT",
            "iptables -t nat -A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN",
            "iptables -t nat -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -j ISTIO_IN_REDIRECT",
            "iptables -t nat -A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN",
            "iptables -t nat -A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN",
            "iptables -t nat -A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN",
            "iptables -t nat -A ISTIO_OUTPUT -j ISTIO_REDIRECT",
        ])
    );
}

#[test]
fn empty_mode_is_redirect() {
    assert_eq!(lines(&injected("")), lines(&injected("REDIRECT")));
}

#[test]
fn redirect_without_loopback_redirection() {
    let l = lines_with(&injected("REDIRECT"), false);
    assert!(!l
        .iter()
        .any(|c| c.contains("! -d 127.0.0.1/32 -j ISTIO_IN_REDIRECT")));
    assert_eq!(l.len(), lines(&injected("REDIRECT")).len() - 1);
}

#[test]
fn tproxy_all_ports() {
    let mut cfg = injected("TPROXY");
    cfg.inbound_ports_exclude = "15020,15090".into();
    assert_eq!(
        lines(&cfg),
        with_no_ipv6(&[
            "iptables -t nat -N ISTIO_REDIRECT",
            "iptables -t nat -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-port 15001",
            "iptables -t nat -N ISTIO_IN_REDIRECT",
            "iptables -t nat -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-port 15006",
            "iptables -t mangle -N ISTIO_DIVERT",
            "iptables -t mangle -A ISTIO_DIVERT -j MARK --set-mark 1337",
            "iptables -t mangle -A ISTIO_DIVERT -j ACCEPT",
            "ip -f inet rule add fwmark 1337 lookup 133",
            "ip -f inet route add local default dev lo table 133",
            "iptables -t mangle -N ISTIO_TPROXY",
            "iptables -t mangle -A ISTIO_TPROXY ! -d 127.0.0.1/32 -p tcp -j TPROXY --tproxy-mark 1337/0xffffffff --on-port 15001",
            "iptables -t mangle -N ISTIO_INBOUND",
            "iptables -t mangle -A PREROUTING -p tcp -j ISTIO_INBOUND",
            "iptables -t mangle -A ISTIO_INBOUND -p tcp --dport 22 -j RETURN",
            "iptables -t mangle -A ISTIO_INBOUND -p tcp --dport 15020 -j RETURN",
            "iptables -t mangle -A ISTIO_INBOUND -p tcp --dport 15090 -j RETURN",
            "iptables -t mangle -A ISTIO_INBOUND -p tcp -m socket -j ISTIO_DIVERT",
            "iptables -t mangle -A ISTIO_INBOUND -p tcp -j ISTIO_TPROXY",
            "iptables -t nat -N ISTIO_OUTPUT",
            "iptables -t nat -A OUTPUT -p tcp -j ISTIO_OUTPUT",
            "iptables -t nat -A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN",
            "iptables -t nat -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -j ISTIO_IN_REDIRECT",
            "iptables -t nat -A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN",
            "iptables -t nat -A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN",
            "iptables -t nat -A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN",
            "iptables -t nat -A ISTIO_OUTPUT -j ISTIO_REDIRECT",
        ])
    );
}

#[test]
fn tproxy_failure_policies() {
    let cfg = Config {
        inbound_ports_include: "8080".into(),
        ..injected("TPROXY")
    };
    let ranges = check(&cfg).unwrap();
    let cmds = plan(&cfg, &ranges, true);
    let socket: Vec<&Command> = cmds
        .iter()
        .filter(|c| c.args.contains(&"socket".to_string()))
        .collect();
    assert_eq!(socket.len(), 2);
    assert!(socket
        .iter()
        .all(|c| c.on_failure == OnFailure::Warn("No socket match support")));
    let route = cmds
        .iter()
        .find(|c| c.to_string().starts_with("ip -f inet route add"))
        .unwrap();
    assert_eq!(
        route.on_failure,
        OnFailure::Fallback(Box::new(Command::new(
            Program::Ip,
            &["route", "show", "table", "all"]
        )))
    );
    let rule = cmds
        .iter()
        .find(|c| c.to_string().starts_with("ip -f inet rule add"))
        .unwrap();
    assert_eq!(rule.on_failure, OnFailure::Abort);
    assert!(cmds
        .iter()
        .filter(|c| c.program == Program::Ip6tables)
        .all(|c| c.on_failure == OnFailure::IgnoreQuietly));
}

#[test]
fn tproxy_port_list_custom_mark_and_table() {
    let mut cfg = injected("TPROXY");
    cfg.inbound_ports_include = "9080,9443".into();
    cfg.inbound_tproxy_mark = "0x539".into();
    cfg.inbound_tproxy_route_table = "200".into();
    assert_eq!(
        lines(&cfg)[..23],
        [
            "iptables -t nat -N ISTIO_REDIRECT",
            "iptables -t nat -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-port 15001",
            "iptables -t nat -N ISTIO_IN_REDIRECT",
            // not "*": inbound goes to the Envoy port
            "iptables -t nat -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-port 15001",
            "iptables -t mangle -N ISTIO_DIVERT",
            "iptables -t mangle -A ISTIO_DIVERT -j MARK --set-mark 0x539",
            "iptables -t mangle -A ISTIO_DIVERT -j ACCEPT",
            "ip -f inet rule add fwmark 0x539 lookup 200",
            "ip -f inet route add local default dev lo table 200",
            "iptables -t mangle -N ISTIO_TPROXY",
            "iptables -t mangle -A ISTIO_TPROXY ! -d 127.0.0.1/32 -p tcp -j TPROXY --tproxy-mark 0x539/0xffffffff --on-port 15001",
            "iptables -t mangle -N ISTIO_INBOUND",
            "iptables -t mangle -A PREROUTING -p tcp -j ISTIO_INBOUND",
            "iptables -t mangle -A ISTIO_INBOUND -p tcp --dport 9080 -m socket -j ISTIO_DIVERT",
            "iptables -t mangle -A ISTIO_INBOUND -p tcp --dport 9080 -m socket -j ISTIO_DIVERT",
            "iptables -t mangle -A ISTIO_INBOUND -p tcp --dport 9080 -j ISTIO_TPROXY",
            "iptables -t mangle -A ISTIO_INBOUND -p tcp --dport 9443 -m socket -j ISTIO_DIVERT",
            "iptables -t mangle -A ISTIO_INBOUND -p tcp --dport 9443 -m socket -j ISTIO_DIVERT",
            "iptables -t mangle -A ISTIO_INBOUND -p tcp --dport 9443 -j ISTIO_TPROXY",
            "iptables -t nat -N ISTIO_OUTPUT",
            "iptables -t nat -A OUTPUT -p tcp -j ISTIO_OUTPUT",
            "iptables -t nat -A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN",
            "iptables -t nat -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -j ISTIO_IN_REDIRECT",
        ]
    );
}

#[test]
fn redirect_port_lists_ranges_kubevirt_and_gids() {
    let cfg = Config {
        proxy_uid: "1337,0".into(),
        proxy_gid: "1337,1338".into(),
        inbound_ports_include: "9080,9443".into(),
        inbound_ports_exclude: "15020".into(), // ignored unless "*"
        outbound_ports_exclude: "3306,6379".into(),
        outbound_ip_ranges_include: "10.1.2.3/16,fd00::/8,172.16.0.0/12".into(),
        outbound_ip_ranges_exclude: "10.96.0.1/32,fd00:1::/64".into(),
        kubevirt_interfaces: "net1,net2".into(),
        ..injected("REDIRECT")
    };
    assert_eq!(
        lines(&cfg),
        with_no_ipv6(&[
            "iptables -t nat -N ISTIO_REDIRECT",
            "iptables -t nat -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-port 15001",
            "iptables -t nat -N ISTIO_IN_REDIRECT",
            "iptables -t nat -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-port 15001",
            "iptables -t nat -N ISTIO_INBOUND",
            "iptables -t nat -A PREROUTING -p tcp -j ISTIO_INBOUND",
            "iptables -t nat -A ISTIO_INBOUND -p tcp --dport 9080 -j ISTIO_IN_REDIRECT",
            "iptables -t nat -A ISTIO_INBOUND -p tcp --dport 9443 -j ISTIO_IN_REDIRECT",
            "iptables -t nat -N ISTIO_OUTPUT",
            "iptables -t nat -A OUTPUT -p tcp -j ISTIO_OUTPUT",
            "iptables -t nat -A ISTIO_OUTPUT -p tcp --dport 3306 -j RETURN",
            "iptables -t nat -A ISTIO_OUTPUT -p tcp --dport 6379 -j RETURN",
            "iptables -t nat -A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN",
            "iptables -t nat -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -j ISTIO_IN_REDIRECT",
            "iptables -t nat -A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN",
            "iptables -t nat -A ISTIO_OUTPUT -m owner --uid-owner 0 -j RETURN",
            "iptables -t nat -A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN",
            "iptables -t nat -A ISTIO_OUTPUT -m owner --gid-owner 1338 -j RETURN",
            "iptables -t nat -A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN",
            "iptables -t nat -A ISTIO_OUTPUT -d 10.96.0.1/32 -j RETURN",
            "iptables -t nat -I PREROUTING 1 -i net1 -j RETURN",
            "iptables -t nat -I PREROUTING 1 -i net2 -j RETURN",
            "iptables -t nat -I PREROUTING 1 -i net1 -d 10.1.0.0/16 -j ISTIO_REDIRECT",
            "iptables -t nat -I PREROUTING 1 -i net2 -d 10.1.0.0/16 -j ISTIO_REDIRECT",
            "iptables -t nat -A ISTIO_OUTPUT -d 10.1.0.0/16 -j ISTIO_REDIRECT",
            "iptables -t nat -I PREROUTING 1 -i net1 -d 172.16.0.0/12 -j ISTIO_REDIRECT",
            "iptables -t nat -I PREROUTING 1 -i net2 -d 172.16.0.0/12 -j ISTIO_REDIRECT",
            "iptables -t nat -A ISTIO_OUTPUT -d 172.16.0.0/12 -j ISTIO_REDIRECT",
            "iptables -t nat -A ISTIO_OUTPUT -j RETURN",
        ])
    );
}

#[test]
fn kubevirt_with_wildcard_redirects_the_interfaces() {
    let cfg = Config {
        kubevirt_interfaces: "net1".into(),
        ..injected("REDIRECT")
    };
    let l = lines(&cfg);
    let tail: Vec<&str> = l[l.len() - 8..l.len() - 4]
        .iter()
        .map(String::as_str)
        .collect();
    assert_eq!(
        tail,
        [
            "iptables -t nat -A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN",
            "iptables -t nat -I PREROUTING 1 -i net1 -j RETURN",
            "iptables -t nat -A ISTIO_OUTPUT -j ISTIO_REDIRECT",
            "iptables -t nat -I PREROUTING 1 -i net1 -j ISTIO_REDIRECT",
        ]
    );
}

#[test]
fn no_inbound_no_outbound() {
    let cfg = Config {
        inbound_ports_include: "".into(),
        outbound_ip_ranges_include: "".into(),
        ..injected("TPROXY")
    };
    assert_eq!(
        lines(&cfg),
        with_no_ipv6(&[
            "iptables -t nat -N ISTIO_REDIRECT",
            "iptables -t nat -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-port 15001",
            "iptables -t nat -N ISTIO_IN_REDIRECT",
            "iptables -t nat -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-port 15001",
            "iptables -t nat -N ISTIO_OUTPUT",
            "iptables -t nat -A OUTPUT -p tcp -j ISTIO_OUTPUT",
            "iptables -t nat -A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN",
            "iptables -t nat -A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -j ISTIO_IN_REDIRECT",
            "iptables -t nat -A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN",
            "iptables -t nat -A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN",
            "iptables -t nat -A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN",
        ])
    );
}

#[test]
fn only_ipv6_ranges_add_no_ipv4_inclusion() {
    // The include list has no IPv4 entry: no IPv4 inclusion and no final RETURN either.
    let cfg = Config {
        outbound_ip_ranges_include: "fd00::/8".into(),
        ..injected("REDIRECT")
    };
    let l = lines(&cfg);
    assert_eq!(
        l[l.len() - 5],
        "iptables -t nat -A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN"
    );
}

fn ipv6_pod(cfg: Config) -> Config {
    Config {
        enable_inbound_ipv6: Some("fd00::5".parse().unwrap()),
        ..cfg
    }
}

#[test]
fn ipv6_pod_redirect_all() {
    let l = lines(&ipv6_pod(injected("REDIRECT")));
    assert_eq!(l[0], "ip -6 addr add ::6/128 dev lo");
    assert_eq!(l[1..18], lines(&injected("REDIRECT"))[..17]);
    assert_eq!(
        l[18..],
        [
            "ip6tables -t nat -N ISTIO_REDIRECT",
            "ip6tables -t nat -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-port 15001",
            "ip6tables -t nat -N ISTIO_IN_REDIRECT",
            "ip6tables -t nat -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-port 15006",
            "ip6tables -t nat -N ISTIO_INBOUND",
            "ip6tables -t nat -A PREROUTING -p tcp -j ISTIO_INBOUND",
            "ip6tables -t nat -A ISTIO_INBOUND -p tcp --dport 22 -j RETURN",
            "ip6tables -t nat -A ISTIO_INBOUND -p tcp --dport 15020 -j RETURN",
            "ip6tables -t nat -N ISTIO_OUTPUT",
            "ip6tables -t nat -A OUTPUT -p tcp -j ISTIO_OUTPUT",
            "ip6tables -t nat -A ISTIO_OUTPUT -o lo -s ::6/128 -j RETURN",
            "ip6tables -t nat -A ISTIO_OUTPUT -o lo ! -d ::1/128 -j ISTIO_IN_REDIRECT",
            "ip6tables -t nat -A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN",
            "ip6tables -t nat -A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN",
            "ip6tables -t nat -A ISTIO_OUTPUT -d ::1/128 -j RETURN",
            "ip6tables -t nat -A ISTIO_OUTPUT -j ISTIO_REDIRECT",
        ]
    );
}

#[test]
fn ipv6_pod_ranges_ports_and_kubevirt() {
    let cfg = ipv6_pod(Config {
        inbound_ports_include: "9080".into(),
        outbound_ports_exclude: "5432".into(),
        outbound_ip_ranges_include: "10.0.0.0/8,fd00::1/16,2001:db8::/32".into(),
        outbound_ip_ranges_exclude: "fd00:0:0:1::/64,192.168.0.0/16".into(),
        kubevirt_interfaces: "net1".into(),
        ..injected("TPROXY")
    });
    let l = lines(&cfg);
    let v6_start = l.iter().position(|c| c.starts_with("ip6tables")).unwrap();
    assert_eq!(
        l[v6_start..],
        [
            "ip6tables -t nat -N ISTIO_REDIRECT",
            "ip6tables -t nat -A ISTIO_REDIRECT -p tcp -j REDIRECT --to-port 15001",
            "ip6tables -t nat -N ISTIO_IN_REDIRECT",
            "ip6tables -t nat -A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-port 15001",
            // IPv6 inbound is NAT even in TPROXY mode
            "ip6tables -t nat -N ISTIO_INBOUND",
            "ip6tables -t nat -A PREROUTING -p tcp -j ISTIO_INBOUND",
            "ip6tables -t nat -A ISTIO_INBOUND -p tcp --dport 9080 -j ISTIO_IN_REDIRECT",
            "ip6tables -t nat -N ISTIO_OUTPUT",
            "ip6tables -t nat -A OUTPUT -p tcp -j ISTIO_OUTPUT",
            "ip6tables -t nat -A ISTIO_OUTPUT -p tcp --dport 5432 -j RETURN",
            "ip6tables -t nat -A ISTIO_OUTPUT -o lo -s ::6/128 -j RETURN",
            "ip6tables -t nat -A ISTIO_OUTPUT -o lo ! -d ::1/128 -j ISTIO_IN_REDIRECT",
            "ip6tables -t nat -A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN",
            "ip6tables -t nat -A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN",
            "ip6tables -t nat -A ISTIO_OUTPUT -d ::1/128 -j RETURN",
            "ip6tables -t nat -A ISTIO_OUTPUT -d fd00:0:0:1::/64 -j RETURN",
            "ip6tables -t nat -I PREROUTING 1 -i net1 -d fd00::/16 -j ISTIO_REDIRECT",
            "ip6tables -t nat -A ISTIO_OUTPUT -d fd00::/16 -j ISTIO_REDIRECT",
            "ip6tables -t nat -I PREROUTING 1 -i net1 -d 2001:db8::/32 -j ISTIO_REDIRECT",
            "ip6tables -t nat -A ISTIO_OUTPUT -d 2001:db8::/32 -j ISTIO_REDIRECT",
            "ip6tables -t nat -A ISTIO_OUTPUT -j RETURN",
        ]
    );
    // The IPv4 half keeps the IPv4 entries only.
    assert!(l.contains(&"iptables -t nat -A ISTIO_OUTPUT -d 192.168.0.0/16 -j RETURN".to_string()));
    assert!(
        l.contains(&"iptables -t nat -A ISTIO_OUTPUT -d 10.0.0.0/8 -j ISTIO_REDIRECT".to_string())
    );
}

#[test]
fn ipv6_pod_wildcard_kubevirt_returns() {
    let cfg = ipv6_pod(Config {
        kubevirt_interfaces: "net1".into(),
        ..injected("REDIRECT")
    });
    let l = lines(&cfg);
    assert_eq!(
        l[l.len() - 2..],
        [
            "ip6tables -t nat -A ISTIO_OUTPUT -j ISTIO_REDIRECT",
            "ip6tables -t nat -I PREROUTING 1 -i net1 -j RETURN"
        ]
    );
}

#[test]
fn plan_is_pure() {
    let cfg = injected("TPROXY");
    assert_eq!(lines(&cfg), lines(&cfg));
}
