//! `--run-validation`: checks that outbound redirection works before the application starts
//! (istio-cni's "repair" mode, where the CNI plugin installed the rules).
//!
//! Listeners on loopback at the Envoy port and the inbound capture port wait for a connection
//! whose original destination (SO_ORIGINAL_DST) is the probe port; a client keeps dialing
//! 127.0.0.6:<probe port> (`[::6]` for an IPv6 pod) once a second, which only reaches the
//! listeners when the rules redirect it. Success prints "validation passed"; the run gives up
//! after 300 seconds.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use socket2::{Domain, SockAddr, Socket, Type};

use crate::config::Config;

/// How long the probe may take.
pub const TIMEOUT: Duration = Duration::from_secs(300);

/// The addresses of one validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validator {
    /// `127.0.0.1:<envoy port>`, `127.0.0.1:<inbound capture port>` (`[::1]` for IPv6)
    pub listen: Vec<String>,
    /// `127.0.0.6` or `::6`
    pub target_ip: IpAddr,
    pub probe_port: u16,
}

impl Validator {
    /// The validator for a pod whose address is `host_ip` (prints that address, as upstream).
    pub fn new(cfg: &Config, host_ip: IpAddr) -> Validator {
        println!("in new validator: {host_ip}");
        let v6 = matches!(host_ip, IpAddr::V6(a) if a.to_ipv4_mapped().is_none());
        let (listen_ip, target_ip) = if v6 {
            (
                IpAddr::V6(Ipv6Addr::LOCALHOST),
                IpAddr::V6(Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 6)),
            )
        } else {
            (
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V4(Ipv4Addr::new(127, 0, 0, 6)),
            )
        };
        let listen = [&cfg.proxy_port, &cfg.inbound_capture_port]
            .iter()
            .map(|p| match listen_ip {
                IpAddr::V4(a) => format!("{a}:{p}"),
                IpAddr::V6(a) => format!("[{a}]:{p}"),
            })
            .collect();
        Validator {
            listen,
            target_ip,
            probe_port: cfg.iptables_probe_port,
        }
    }

    /// Runs the probe; `Err` is the reason it failed.
    pub fn run(&self, timeout: Duration) -> Result<(), String> {
        let (done_tx, done_rx) = mpsc::channel::<()>();
        let mut listening = false;
        for addr in &self.listen {
            println!("Listening on {addr}");
            match listen(addr) {
                Ok(sock) => {
                    listening = true;
                    let done = done_tx.clone();
                    let probe = self.probe_port;
                    thread::spawn(move || serve(sock, probe, done));
                }
                Err(e) => println!("Error on listening: listen tcp {addr}: {e}"),
            }
        }
        if !listening {
            let e = format!("no listener available: {}", self.listen.join(","));
            println!("validation failed:{e}");
            return Err(e);
        }
        let target = SocketAddr::new(self.target_ip, self.probe_port);
        thread::spawn(move || loop {
            dial(target);
            thread::sleep(Duration::from_secs(1));
        });
        match done_rx.recv_timeout(timeout) {
            Ok(()) => {
                println!("validation passed");
                Ok(())
            }
            Err(_) => Err("validation timeout".to_string()),
        }
    }
}

fn listen(addr: &str) -> std::io::Result<Socket> {
    let sa: SocketAddr = addr
        .parse()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{e}")))?;
    let sock = Socket::new(Domain::for_address(sa), Type::STREAM, None)?;
    if let Err(e) = sock.set_reuse_address(true) {
        println!("fail to set SO_REUSEADDR with error {e}");
    }
    if let Err(e) = sock.set_reuse_port(true) {
        println!("fail to set SO_REUSEPORT with error {e}");
    }
    sock.bind(&SockAddr::from(sa))?;
    sock.listen(128)?;
    Ok(sock)
}

/// Accepts connections until one was redirected from the probe port.
fn serve(listener: Socket, probe_port: u16, done: mpsc::Sender<()>) {
    loop {
        let (conn, peer) = match listener.accept() {
            Ok(c) => c,
            Err(e) => {
                println!("Error accepting:  {e}");
                continue;
            }
        };
        let peer_ip = peer.as_socket().map(|s| s.ip());
        let original = match peer_ip {
            Some(IpAddr::V6(a)) if a.to_ipv4_mapped().is_none() => conn.original_dst_v6(),
            _ => conn.original_dst_v4(),
        };
        let port = match original.map(|o| o.as_socket().map(|s| s.port())) {
            Ok(Some(p)) => p,
            Ok(None) => {
                println!("Error getting original dst: not an IP address");
                continue;
            }
            Err(e) => {
                println!("Error getting original dst: {e}");
                continue;
            }
        };
        if let Ok(local) = conn.local_addr() {
            if let Some(l) = local.as_socket() {
                println!("local addr {l}");
            }
        }
        if let Some(ip) = peer_ip {
            println!("original addr {ip}:{port}");
        }
        let mut stream: TcpStream = conn.into();
        let _ = stream.write_all(port.to_string().as_bytes());
        drop(stream);
        if port == probe_port {
            let _ = done.send(());
            return;
        }
    }
}

/// One connection attempt from loopback to the probe target.
fn dial(target: SocketAddr) {
    let local: SocketAddr = if target.is_ipv4() {
        "127.0.0.1:0".parse().unwrap()
    } else {
        "[::1]:0".parse().unwrap()
    };
    let attempt = || -> std::io::Result<()> {
        let sock = Socket::new(Domain::for_address(target), Type::STREAM, None)?;
        sock.bind(&SockAddr::from(local))?;
        sock.connect_timeout(&SockAddr::from(target), Duration::from_secs(5))?;
        Ok(())
    };
    if let Err(e) = attempt() {
        let shown = match target {
            SocketAddr::V4(t) => t.to_string(),
            SocketAddr::V6(t) => format!("[{}]:{}", t.ip(), t.port()),
        };
        println!("Error connecting to {shown}: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        let cfg = Config::default();
        let v = Validator::new(&cfg, "10.0.0.5".parse().unwrap());
        assert_eq!(v.listen, ["127.0.0.1:15001", "127.0.0.1:15006"]);
        assert_eq!(v.target_ip, "127.0.0.6".parse::<IpAddr>().unwrap());
        assert_eq!(v.probe_port, 15002);
        let v = Validator::new(&cfg, "fd00::5".parse().unwrap());
        assert_eq!(v.listen, ["[::1]:15001", "[::1]:15006"]);
        assert_eq!(v.target_ip, "::6".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn fails_fast_without_listeners() {
        let v = Validator {
            listen: vec!["256.0.0.1:1".into()],
            target_ip: "127.0.0.6".parse().unwrap(),
            probe_port: 15002,
        };
        assert_eq!(
            v.run(Duration::from_secs(1)),
            Err("no listener available: 256.0.0.1:1".into())
        );
    }

    #[test]
    fn times_out_without_redirection() {
        // Nothing redirects 127.0.0.6:<probe> to the listener here, so the probe cannot succeed.
        let v = Validator {
            listen: vec!["127.0.0.1:0".into()],
            target_ip: "127.0.0.6".parse().unwrap(),
            probe_port: 1,
        };
        assert_eq!(
            v.run(Duration::from_millis(300)),
            Err("validation timeout".into())
        );
    }
}
