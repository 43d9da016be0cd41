//! Classification of gateway servers (upstream `pkg/config/gateway`).

use istio_api::istio::networking::v1alpha3::{server::tls_options::TlSmode, Server};

use super::protocol;

/// The protocol declared on the server's port (unsupported when the port is missing).
fn server_protocol(server: &Server) -> protocol::Instance {
    server
        .port
        .as_ref()
        .map_or(protocol::Instance::Unsupported, |p| {
            protocol::parse(&p.protocol)
        })
}

/// True when the server terminates or passes through TLS on a non-HTTP port: it has TLS
/// settings and its port protocol is not one of the HTTP family.
pub fn is_tls_server(server: &Server) -> bool {
    server.tls.is_some() && !server_protocol(server).is_http()
}

/// True when the proxy serves HTTP on this server: either a plain HTTP-family port, or an
/// HTTPS port with TLS settings whose mode terminates TLS (not a pass-through mode).
pub fn is_http_server(server: &Server) -> bool {
    let p = server_protocol(server);
    p.is_http()
        || (p == protocol::Instance::Https
            && server.tls.is_some()
            && !is_pass_through_server(server))
}

/// True when the server's TLS mode is `PASSTHROUGH` or `AUTO_PASSTHROUGH`.
pub fn is_pass_through_server(server: &Server) -> bool {
    server.tls.as_ref().is_some_and(|tls| {
        tls.mode == TlSmode::Passthrough as i32 || tls.mode == TlSmode::AutoPassthrough as i32
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use istio_api::istio::networking::v1alpha3::{server::TlsOptions, Port};

    fn server(protocol: &str, tls: Option<TlSmode>) -> Server {
        Server {
            port: Some(Port {
                number: 443,
                protocol: protocol.into(),
                name: "p".into(),
            }),
            tls: tls.map(|m| TlsOptions {
                mode: m as i32,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn tls_server() {
        assert!(is_tls_server(&server("TLS", Some(TlSmode::Passthrough))));
        assert!(is_tls_server(&server("HTTPS", Some(TlSmode::Simple))));
        assert!(is_tls_server(&server("TCP", Some(TlSmode::Simple))));
        assert!(!is_tls_server(&server("HTTP", Some(TlSmode::Simple))));
        assert!(!is_tls_server(&server("TLS", None)));
    }

    #[test]
    fn http_server() {
        assert!(is_http_server(&server("HTTP", None)));
        assert!(is_http_server(&server("grpc", None)));
        assert!(is_http_server(&server("HTTPS", Some(TlSmode::Simple))));
        assert!(is_http_server(&server("HTTPS", Some(TlSmode::Mutual))));
        assert!(!is_http_server(&server(
            "HTTPS",
            Some(TlSmode::Passthrough)
        )));
        assert!(!is_http_server(&server(
            "HTTPS",
            Some(TlSmode::AutoPassthrough)
        )));
        assert!(!is_http_server(&server("HTTPS", None)));
        assert!(!is_http_server(&server("TLS", Some(TlSmode::Simple))));
        assert!(!is_http_server(&Server::default()));
    }

    #[test]
    fn pass_through_server() {
        assert!(is_pass_through_server(&server(
            "TLS",
            Some(TlSmode::Passthrough)
        )));
        assert!(is_pass_through_server(&server(
            "TLS",
            Some(TlSmode::AutoPassthrough)
        )));
        assert!(!is_pass_through_server(&server(
            "TLS",
            Some(TlSmode::IstioMutual)
        )));
        assert!(!is_pass_through_server(&server("TLS", None)));
    }
}
