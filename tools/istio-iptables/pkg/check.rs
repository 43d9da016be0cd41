//! Validation of the inputs before any command runs. A bad value is an [`InputError`] naming the
//! flag, its environment twin and the value.
//!
//! Upstream passes most values straight to iptables, which rejects a bad port only once the
//! earlier rules are in place, and skips (with a warning) CIDRs it cannot parse. Here every
//! value a rule needs is checked first, so a bad one fails the run before iptables is touched:
//! - ports (`-p`, `-z`) are numbers 0-65535; port lists (`-b`, `-d`, `-o`) are comma separated
//!   ports or `lo:hi` ranges (`-b` also takes `*`), each entry may carry leading blanks as
//!   iptables allows;
//! - CIDR lists (`-i`, `-x`) hold `address/prefix` entries; `-i` also takes `*`, `-x` does not;
//! - the mode (`-m`) is `REDIRECT`, `TPROXY`, or empty (REDIRECT);
//! - the TPROXY mark (`-t`) is a 32-bit number (decimal or `0x` hex).

use crate::cidr::{split_list, CidrError, Ranges};
use crate::config::Config;
use crate::constants::*;

/// A flag value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid value {value:?} for {flag} (${env}): {reason}")]
pub struct InputError {
    /// `-p/--envoy-port`
    pub flag: String,
    /// `ENVOY_PORT`
    pub env: String,
    pub value: String,
    pub reason: String,
}

/// The parsed IP ranges, split by family.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checked {
    pub include: Ranges,
    pub exclude: Ranges,
}

fn err(short: char, long: &str, value: &str, reason: impl Into<String>) -> InputError {
    InputError {
        flag: format!("-{short}/--{long}"),
        env: env_name(long),
        value: value.to_string(),
        reason: reason.into(),
    }
}

/// A port as iptables reads it here: decimal digits after optional blanks, at most 65535.
fn is_port(s: &str) -> bool {
    let d = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    !d.is_empty()
        && d.len() <= 5
        && d.bytes().all(|b| b.is_ascii_digit())
        && d.parse::<u32>().is_ok_and(|p| p <= 65535)
}

fn is_port_or_range(s: &str) -> bool {
    match s.split_once(':') {
        Some((lo, hi)) => is_port(lo) && is_port(hi),
        None => is_port(s),
    }
}

fn check_port(short: char, long: &str, value: &str) -> Result<(), InputError> {
    if is_port(value) {
        Ok(())
    } else {
        Err(err(short, long, value, "not a port number (0-65535)"))
    }
}

fn check_port_list(
    short: char,
    long: &str,
    value: &str,
    wildcard_ok: bool,
) -> Result<(), InputError> {
    if wildcard_ok && value == "*" {
        return Ok(());
    }
    for entry in split_list(value) {
        if !is_port_or_range(entry) {
            let reason = if entry.is_empty() {
                "empty entry in the comma separated list".to_string()
            } else {
                format!("{entry:?} is not a port (0-65535) or a port range lo:hi")
            };
            return Err(err(short, long, value, reason));
        }
    }
    Ok(())
}

fn check_ranges(short: char, long: &str, value: &str) -> Result<Ranges, InputError> {
    Ranges::parse(value).map_err(|e: CidrError| err(short, long, value, e.to_string()))
}

fn is_u32(s: &str) -> bool {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => !h.is_empty() && u32::from_str_radix(h, 16).is_ok(),
        None => !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && s.parse::<u32>().is_ok(),
    }
}

/// Checks every value the rules use and returns the parsed ranges.
pub fn check(c: &Config) -> Result<Checked, InputError> {
    match c.inbound_interception_mode.as_str() {
        "" | REDIRECT | TPROXY => {}
        other => {
            return Err(err(
                'm',
                FLAG_INTERCEPTION_MODE,
                other,
                "the mode must be REDIRECT or TPROXY",
            ))
        }
    }
    check_port('p', FLAG_ENVOY_PORT, &c.proxy_port)?;
    check_port('z', FLAG_INBOUND_CAPTURE_PORT, &c.inbound_capture_port)?;
    check_port_list('b', FLAG_INBOUND_PORTS, &c.inbound_ports_include, true)?;
    check_port_list(
        'd',
        FLAG_LOCAL_EXCLUDE_PORTS,
        &c.inbound_ports_exclude,
        false,
    )?;
    check_port_list(
        'o',
        FLAG_OUTBOUND_PORTS_EXCLUDE,
        &c.outbound_ports_exclude,
        false,
    )?;
    if c.is_tproxy() && !is_u32(&c.inbound_tproxy_mark) {
        return Err(err(
            't',
            FLAG_TPROXY_MARK,
            &c.inbound_tproxy_mark,
            "the mark must be a 32-bit number (decimal or 0x hex)",
        ));
    }
    let include = check_ranges('i', FLAG_SERVICE_CIDR, &c.outbound_ip_ranges_include)?;
    if c.outbound_ip_ranges_exclude == "*" {
        return Err(err(
            'x',
            FLAG_SERVICE_EXCLUDE_CIDR,
            "*",
            "the wildcard cannot be excluded; list the CIDRs to exclude",
        ));
    }
    let exclude = check_ranges(
        'x',
        FLAG_SERVICE_EXCLUDE_CIDR,
        &c.outbound_ip_ranges_exclude,
    )?;
    Ok(Checked { include, exclude })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(f: impl FnOnce(&mut Config)) -> Result<Checked, InputError> {
        let mut c = Config::default();
        f(&mut c);
        check(&c)
    }

    #[test]
    fn typical_injection_values_pass() {
        let r = with(|c| {
            c.inbound_interception_mode = "REDIRECT".into();
            c.outbound_ip_ranges_include = "*".into();
            c.inbound_ports_include = "*".into();
            c.inbound_ports_exclude = "15020".into();
            c.outbound_ports_exclude = "8080, 9090,1000:2000".into();
        })
        .unwrap();
        assert!(r.include.wildcard);
        assert_eq!(r.exclude, Ranges::default());
        with(|c| c.inbound_interception_mode = "TPROXY".into()).unwrap();
        with(|c| c.inbound_ports_include = "80,443".into()).unwrap();
    }

    #[test]
    fn bad_mode() {
        let e = with(|c| c.inbound_interception_mode = "tproxy".into()).unwrap_err();
        assert_eq!(e.flag, "-m/--istio-inbound-interception-mode");
        assert_eq!(e.env, "ISTIO_INBOUND_INTERCEPTION_MODE");
        assert_eq!(e.to_string(), "invalid value \"tproxy\" for -m/--istio-inbound-interception-mode ($ISTIO_INBOUND_INTERCEPTION_MODE): the mode must be REDIRECT or TPROXY");
    }

    #[test]
    fn bad_ports() {
        let e = with(|c| c.inbound_ports_exclude = "15020,abc".into()).unwrap_err();
        assert_eq!(e.flag, "-d/--istio-local-exclude-ports");
        assert_eq!(e.value, "15020,abc");
        assert!(e.reason.contains("\"abc\""), "{e}");
        assert_eq!(
            with(|c| c.outbound_ports_exclude = "80,".into())
                .unwrap_err()
                .flag,
            "-o/--istio-local-outbound-ports-exclude"
        );
        assert_eq!(
            with(|c| c.inbound_ports_include = "65536".into())
                .unwrap_err()
                .flag,
            "-b/--istio-inbound-ports"
        );
        assert_eq!(
            with(|c| c.inbound_ports_exclude = "*".into())
                .unwrap_err()
                .flag,
            "-d/--istio-local-exclude-ports"
        );
        assert_eq!(
            with(|c| c.proxy_port = "".into()).unwrap_err().flag,
            "-p/--envoy-port"
        );
        assert_eq!(
            with(|c| c.inbound_capture_port = "15006x".into())
                .unwrap_err()
                .flag,
            "-z/--inbound-capture-port"
        );
    }

    #[test]
    fn bad_cidrs() {
        let e =
            with(|c| c.outbound_ip_ranges_include = "10.0.0.0/8,10.0.0.0/40".into()).unwrap_err();
        assert_eq!(e.flag, "-i/--istio-service-cidr");
        assert!(e.reason.contains("10.0.0.0/40"));
        assert_eq!(
            with(|c| c.outbound_ip_ranges_exclude = "*".into())
                .unwrap_err()
                .flag,
            "-x/--istio-service-exclude-cidr"
        );
        assert_eq!(
            with(|c| c.outbound_ip_ranges_exclude = "10.0.0.0/8, 172.16.0.0/12".into())
                .unwrap_err()
                .env,
            "ISTIO_SERVICE_EXCLUDE_CIDR"
        );
    }

    #[test]
    fn tproxy_mark() {
        with(|c| {
            c.inbound_interception_mode = "TPROXY".into();
            c.inbound_tproxy_mark = "0x539".into();
        })
        .unwrap();
        let e = with(|c| {
            c.inbound_interception_mode = "TPROXY".into();
            c.inbound_tproxy_mark = "1337/0xff".into();
        })
        .unwrap_err();
        assert_eq!(e.flag, "-t/--istio-inbound-tproxy-mark");
    }
}
