//! The steps of `istio-iptables` between parsing and running, kept free of I/O for tests.

use std::net::IpAddr;

use crate::cidr::parse_ip;
use crate::config::Config;
use crate::constants::*;

/// Completes `cfg` for a run: the UIDs to leave alone (`-u`, else the UID of `ENVOY_USER` — or
/// 1337 when it cannot be found — plus root), the GIDs (`-g`, else the UIDs), and the pod's
/// address (an IPv6 one turns on the ip6tables capture).
///
/// `user_uid` is the lookup of `ENVOY_USER`, `pod_ip` the pod's address (`Err`: the run fails
/// with that message, before any rule).
pub fn complete(
    cfg: &mut Config,
    user_uid: impl FnOnce() -> Result<String, String>,
    pod_ip: Result<Option<IpAddr>, String>,
) -> Result<(), String> {
    if cfg.proxy_uid.is_empty() {
        let uid = user_uid().unwrap_or_else(|_| DEFAULT_PROXY_UID.to_string());
        cfg.proxy_uid = format!("{uid},0");
    }
    if cfg.proxy_gid.is_empty() {
        cfg.proxy_gid = cfg.proxy_uid.clone();
    }
    cfg.enable_inbound_ipv6 = match pod_ip? {
        Some(IpAddr::V6(a)) if a.to_ipv4_mapped().is_none() => Some(a),
        _ => None,
    };
    Ok(())
}

/// The pod address `--dry-run` assumes: `STUB_IP` (default 127.0.0.1); a value that is not an
/// address counts as no address (IPv4 behaviour).
pub fn stub_ip(env: impl Fn(&str) -> Option<String>) -> Option<IpAddr> {
    parse_ip(&env(ENV_STUB_IP).unwrap_or_else(|| "127.0.0.1".to_string()))
}

/// Whether app traffic to the pod's own non-loopback addresses goes back through Envoy: unless
/// `DISABLE_REDIRECTION_ON_LOCAL_LOOPBACK` is set to anything non-empty.
pub fn redirect_loopback(env: impl Fn(&str) -> Option<String>) -> bool {
    env(ENV_DISABLE_LOOPBACK_REDIRECT)
        .unwrap_or_default()
        .is_empty()
}

/// The user whose UID `-u` defaults to: `ENVOY_USER`, default `istio-proxy` (set but empty is
/// the empty name, which no user has).
pub fn envoy_user(env: impl Fn(&str) -> Option<String>) -> String {
    env(ENV_ENVOY_USER).unwrap_or_else(|| DEFAULT_ENVOY_USER.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_defaults() {
        let mut c = Config::default();
        complete(&mut c, || Ok("1337".into()), Ok(None)).unwrap();
        assert_eq!(
            (c.proxy_uid.as_str(), c.proxy_gid.as_str()),
            ("1337,0", "1337,0")
        );

        let mut c = Config::default();
        complete(
            &mut c,
            || Err("user: unknown user istio-proxy".into()),
            Ok(None),
        )
        .unwrap();
        assert_eq!(c.proxy_uid, "1337,0");

        let mut c = Config {
            proxy_uid: "1337".into(),
            ..Config::default()
        };
        complete(&mut c, || panic!("not looked up"), Ok(None)).unwrap();
        assert_eq!(
            (c.proxy_uid.as_str(), c.proxy_gid.as_str()),
            ("1337", "1337")
        );

        let mut c = Config {
            proxy_uid: "1337".into(),
            proxy_gid: "7".into(),
            ..Config::default()
        };
        complete(&mut c, || Ok("0".into()), Ok(None)).unwrap();
        assert_eq!(c.proxy_gid, "7");
    }

    #[test]
    fn ipv6_only_for_an_ipv6_pod() {
        for (ip, want) in [
            ("10.0.0.1", None),
            ("fd00::1", Some("fd00::1")),
            ("::ffff:10.0.0.1", None),
        ] {
            let mut c = Config::default();
            complete(&mut c, || Ok("0".into()), Ok(Some(ip.parse().unwrap()))).unwrap();
            assert_eq!(
                c.enable_inbound_ipv6,
                want.map(|w| w.parse().unwrap()),
                "{ip}"
            );
        }
        let mut c = Config::default();
        assert_eq!(
            complete(
                &mut c,
                || Ok("0".into()),
                Err("no valid local IP address found".into())
            ),
            Err("no valid local IP address found".into())
        );
    }

    #[test]
    fn environment_knobs() {
        assert_eq!(stub_ip(|_| None), Some("127.0.0.1".parse().unwrap()));
        assert_eq!(
            stub_ip(|_| Some("fd00::2".into())),
            Some("fd00::2".parse().unwrap())
        );
        assert_eq!(stub_ip(|_| Some(String::new())), None);
        assert!(redirect_loopback(|_| None));
        assert!(redirect_loopback(|_| Some(String::new())));
        assert!(!redirect_loopback(|_| Some("1".into())));
        assert_eq!(envoy_user(|_| None), "istio-proxy");
        assert_eq!(envoy_user(|_| Some(String::new())), "");
    }
}
