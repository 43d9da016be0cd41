//! CIDR lists as the `-i`/`-x` flags take them: `*`, or comma separated `address/prefix` entries,
//! IPv4 and IPv6 mixed. Each range is written back as its network address and prefix length
//! (`10.1.2.3/8` becomes `10.0.0.0/8`), which is what ends up in the `-d` of a rule.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One IP range, normalised to its network address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cidr {
    V4(Ipv4Addr, u8),
    V6(Ipv6Addr, u8),
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cidr::V4(a, p) => write!(f, "{a}/{p}"),
            Cidr::V6(a, p) => write!(f, "{a}/{p}"),
        }
    }
}

/// Why an entry is not a CIDR.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    #[error("{0:?} is not a CIDR (address/prefix-length)")]
    Syntax(String),
    #[error("{0:?} maps an IPv4 range into IPv6 with a prefix shorter than /96")]
    ShortMappedPrefix(String),
}

impl Cidr {
    /// Parses one `address/prefix` entry: the whole string, no surrounding spaces; the prefix is
    /// decimal digits, at most 32 (IPv4) or 128 (IPv6). An IPv4-mapped IPv6 range
    /// (`::ffff:a.b.c.d/n`, n >= 96) is the IPv4 range `a.b.c.d/(n-96)`.
    pub fn parse(s: &str) -> Result<Cidr, CidrError> {
        let syntax = || CidrError::Syntax(s.to_string());
        let (addr, prefix) = s.split_once('/').ok_or_else(syntax)?;
        if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) {
            return Err(syntax());
        }
        let digits = prefix.trim_start_matches('0');
        let prefix: u32 = match digits.len() {
            0 => 0,
            1..=3 => digits.parse().map_err(|_| syntax())?,
            _ => return Err(syntax()),
        };
        let ip = parse_ip(addr).ok_or_else(syntax)?;
        match ip {
            IpAddr::V4(a) => {
                if prefix > 32 {
                    return Err(syntax());
                }
                Ok(Cidr::V4(mask_v4(a, prefix), prefix as u8))
            }
            IpAddr::V6(a) => {
                if prefix > 128 {
                    return Err(syntax());
                }
                if let Some(v4) = a.to_ipv4_mapped() {
                    if prefix < 96 {
                        return Err(CidrError::ShortMappedPrefix(s.to_string()));
                    }
                    let p = prefix - 96;
                    return Ok(Cidr::V4(mask_v4(v4, p), p as u8));
                }
                Ok(Cidr::V6(mask_v6(a, prefix), prefix as u8))
            }
        }
    }

    pub fn is_v4(&self) -> bool {
        matches!(self, Cidr::V4(..))
    }
}

/// An address as `-i`/`-x` entries and `STUB_IP` take it. IPv4 octets may carry leading zeros
/// (they are decimal, `010` is ten).
pub fn parse_ip(s: &str) -> Option<IpAddr> {
    if s.contains(':') {
        return s.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    let mut octets = [0u8; 4];
    let mut parts = s.split('.');
    for o in &mut octets {
        let part = parts.next()?;
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let digits = part.trim_start_matches('0');
        if digits.len() > 3 {
            return None;
        }
        *o = if digits.is_empty() {
            0
        } else {
            digits.parse().ok()?
        };
    }
    if parts.next().is_some() {
        return None;
    }
    Some(IpAddr::V4(Ipv4Addr::from(octets)))
}

fn mask_v4(a: Ipv4Addr, prefix: u32) -> Ipv4Addr {
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    };
    Ipv4Addr::from(u32::from(a) & mask)
}

fn mask_v6(a: Ipv6Addr, prefix: u32) -> Ipv6Addr {
    let mask = if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - prefix)
    };
    Ipv6Addr::from(u128::from(a) & mask)
}

/// The ranges of one flag, split by family.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ranges {
    /// `*`: everything (both families).
    pub wildcard: bool,
    pub v4: Vec<Cidr>,
    pub v6: Vec<Cidr>,
}

impl Ranges {
    /// Parses a `-i`/`-x` value: `*`, or a comma separated list (empty: no ranges).
    /// Every entry must parse; the first one that does not is the error.
    pub fn parse(list: &str) -> Result<Ranges, CidrError> {
        if list == "*" {
            return Ok(Ranges {
                wildcard: true,
                ..Ranges::default()
            });
        }
        let mut out = Ranges::default();
        for entry in split_list(list) {
            let c = Cidr::parse(entry)?;
            if c.is_v4() {
                out.v4.push(c);
            } else {
                out.v6.push(c);
            }
        }
        Ok(out)
    }
}

/// Splits a comma separated flag value; the empty string is the empty list (not one empty entry).
pub fn split_list(s: &str) -> Vec<&str> {
    if s.is_empty() {
        Vec::new()
    } else {
        s.split(',').collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_to_the_network() {
        assert_eq!(Cidr::parse("10.1.2.3/8").unwrap().to_string(), "10.0.0.0/8");
        assert_eq!(
            Cidr::parse("192.168.7.9/32").unwrap().to_string(),
            "192.168.7.9/32"
        );
        assert_eq!(Cidr::parse("0.0.0.0/0").unwrap().to_string(), "0.0.0.0/0");
        assert_eq!(
            Cidr::parse("2001:db8::1/32").unwrap().to_string(),
            "2001:db8::/32"
        );
        assert_eq!(
            Cidr::parse("fd00:0:0:0:0:0:0:1/128").unwrap().to_string(),
            "fd00::1/128"
        );
        assert_eq!(Cidr::parse("::/0").unwrap().to_string(), "::/0");
        assert_eq!(
            Cidr::parse("010.0.0.1/08").unwrap().to_string(),
            "10.0.0.0/8"
        );
    }

    #[test]
    fn mapped_ipv4_is_ipv4() {
        assert_eq!(
            Cidr::parse("::ffff:10.1.0.0/112").unwrap(),
            Cidr::V4(Ipv4Addr::new(10, 1, 0, 0), 16)
        );
        assert!(matches!(
            Cidr::parse("::ffff:10.1.0.0/64"),
            Err(CidrError::ShortMappedPrefix(_))
        ));
    }

    #[test]
    fn rejects_what_is_not_a_cidr() {
        for bad in [
            "",
            "10.0.0.0",
            "10.0.0.0/",
            "10.0.0.0/33",
            "::/129",
            " 10.0.0.0/8",
            "10.0.0.0/8 ",
            "10.0.0/8",
            "10.0.0.256/8",
            "a/8",
            "10.0.0.0/+8",
            "*",
        ] {
            assert_eq!(
                Cidr::parse(bad),
                Err(CidrError::Syntax(bad.to_string())),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn splits_families_in_order() {
        let r = Ranges::parse("10.0.0.0/8,fd00::/8,172.16.0.0/12").unwrap();
        assert!(!r.wildcard);
        assert_eq!(
            r.v4.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
            ["10.0.0.0/8", "172.16.0.0/12"]
        );
        assert_eq!(
            r.v6.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
            ["fd00::/8"]
        );
        assert_eq!(Ranges::parse("").unwrap(), Ranges::default());
        assert!(Ranges::parse("*").unwrap().wildcard);
        assert!(Ranges::parse("10.0.0.0/8,").is_err());
    }
}
