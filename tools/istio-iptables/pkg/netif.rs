//! The pod's address: the first address of any interface that is not a loopback address, IPv4
//! addresses first (the order of the kernel's address dump), as upstream picks it.
//!
//! The addresses come from an `RTM_GETADDR` netlink dump, so no external program is needed.

use std::io::{self, Read};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use socket2::{Domain, Protocol, Socket, Type};

const AF_NETLINK: i32 = 16;
const NETLINK_ROUTE: i32 = 0;
const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;
const RTM_NEWADDR: u16 = 20;
const RTM_GETADDR: u16 = 22;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const NLMSG_HDRLEN: usize = 16;
const IFADDRMSG_LEN: usize = 8;

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

fn u16_at(b: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(i..i + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(i..i + 4)?.try_into().ok()?))
}

/// Every interface address, in dump order.
pub fn interface_addrs() -> io::Result<Vec<IpAddr>> {
    let sock = Socket::new(
        Domain::from(AF_NETLINK),
        Type::RAW,
        Some(Protocol::from(NETLINK_ROUTE)),
    )?;
    let mut req = Vec::with_capacity(NLMSG_HDRLEN + IFADDRMSG_LEN);
    req.extend_from_slice(&((NLMSG_HDRLEN + IFADDRMSG_LEN) as u32).to_ne_bytes());
    req.extend_from_slice(&RTM_GETADDR.to_ne_bytes());
    req.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    req.extend_from_slice(&1u32.to_ne_bytes()); // sequence
    req.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel assigns ours
    req.extend_from_slice(&[0u8; IFADDRMSG_LEN]); // AF_UNSPEC: every family
    sock.send(&req)?;

    let mut addrs = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = (&sock).read(&mut buf)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "netlink: connection closed",
            ));
        }
        if parse_messages(&buf[..n], &mut addrs)? {
            return Ok(addrs);
        }
    }
}

/// Parses one read of the dump into `out`; true at its end.
fn parse_messages(mut b: &[u8], out: &mut Vec<IpAddr>) -> io::Result<bool> {
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "netlink: malformed message");
    while b.len() >= NLMSG_HDRLEN {
        let len = u32_at(b, 0).ok_or_else(bad)? as usize;
        let kind = u16_at(b, 4).ok_or_else(bad)?;
        if len < NLMSG_HDRLEN || len > b.len() {
            return Err(bad());
        }
        let msg = &b[NLMSG_HDRLEN..len];
        match kind {
            NLMSG_DONE => return Ok(true),
            NLMSG_ERROR => {
                let code = u32_at(msg, 0).ok_or_else(bad)? as i32;
                if code != 0 {
                    return Err(io::Error::from_raw_os_error(-code));
                }
            }
            RTM_NEWADDR => {
                if let Some(a) = parse_addr(msg) {
                    out.push(a);
                }
            }
            _ => {}
        }
        b = &b[align4(len).min(b.len())..];
    }
    Ok(false)
}

/// One `ifaddrmsg` and its attributes: IFA_LOCAL when present (point-to-point links carry the
/// peer in IFA_ADDRESS), else IFA_ADDRESS.
fn parse_addr(msg: &[u8]) -> Option<IpAddr> {
    let family = *msg.first()?;
    let mut attrs = msg.get(IFADDRMSG_LEN..)?;
    let (mut address, mut local) = (None, None);
    while attrs.len() >= 4 {
        let len = u16_at(attrs, 0)? as usize;
        let kind = u16_at(attrs, 2)?;
        if len < 4 || len > attrs.len() {
            break;
        }
        let value = &attrs[4..len];
        let ip = match (family, value.len()) {
            (AF_INET, 4) => Some(IpAddr::V4(Ipv4Addr::new(
                value[0], value[1], value[2], value[3],
            ))),
            (AF_INET6, 16) => Some(IpAddr::V6(Ipv6Addr::from(
                <[u8; 16]>::try_from(value).ok()?,
            ))),
            _ => None,
        };
        match kind {
            IFA_ADDRESS => address = address.or(ip),
            IFA_LOCAL => local = local.or(ip),
            _ => {}
        }
        attrs = &attrs[align4(len).min(attrs.len())..];
    }
    local.or(address)
}

/// The first address that is not a loopback address (127.0.0.0/8, ::1).
pub fn first_non_loopback(addrs: &[IpAddr]) -> Option<IpAddr> {
    addrs.iter().copied().find(|a| !a.is_loopback())
}

/// The pod's address, or upstream's error when there is none.
pub fn local_ip() -> Result<IpAddr, String> {
    let addrs = interface_addrs().map_err(|e| format!("route ip+net: netlinkrib: {e}"))?;
    first_non_loopback(&addrs).ok_or_else(|| "no valid local IP address found".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(kind: u16, value: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&((4 + value.len()) as u16).to_ne_bytes());
        v.extend_from_slice(&kind.to_ne_bytes());
        v.extend_from_slice(value);
        v.resize(align4(v.len()), 0);
        v
    }

    fn message(kind: u16, body: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&((NLMSG_HDRLEN + body.len()) as u32).to_ne_bytes());
        v.extend_from_slice(&kind.to_ne_bytes());
        v.extend_from_slice(&[0; 10]);
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn parses_a_dump() {
        let mut v4 = vec![AF_INET, 24, 0, 0, 2, 0, 0, 0];
        v4.extend(attr(IFA_ADDRESS, &[10, 0, 0, 9]));
        v4.extend(attr(IFA_LOCAL, &[10, 0, 0, 5]));
        let mut v6 = vec![AF_INET6, 64, 0, 0, 2, 0, 0, 0];
        v6.extend(attr(
            IFA_ADDRESS,
            &"fd00::5".parse::<Ipv6Addr>().unwrap().octets(),
        ));
        let mut buf = message(RTM_NEWADDR, &v4);
        buf.extend(message(RTM_NEWADDR, &v6));
        buf.extend(message(NLMSG_DONE, &[0; 4]));
        let mut out = Vec::new();
        assert!(parse_messages(&buf, &mut out).unwrap());
        assert_eq!(
            out,
            [
                "10.0.0.5".parse::<IpAddr>().unwrap(),
                "fd00::5".parse().unwrap()
            ]
        );
    }

    #[test]
    fn skips_loopback() {
        let addrs: Vec<IpAddr> = ["127.0.0.1", "::1", "fd00::5", "10.0.0.1"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(first_non_loopback(&addrs), Some("fd00::5".parse().unwrap()));
        assert_eq!(first_non_loopback(&addrs[..2]), None);
    }

    #[test]
    fn reads_this_host() {
        // The netlink dump works here (whatever the addresses are).
        interface_addrs().unwrap();
    }
}
