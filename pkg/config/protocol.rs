//! Application protocols that Istio recognises on a service port (upstream `pkg/config/protocol`).
//!
//! A port's protocol is declared as a free-form string (`"http"`, `"GRPC"`, ...). [`parse`] maps
//! it case-insensitively onto an [`Instance`]; anything unknown becomes
//! [`Instance::Unsupported`]. The predicates group protocols the way the proxy configuration
//! generator needs them.

use std::fmt;

/// A protocol a port carries.
///
/// [`Instance::as_str`] (and `Display`) give the canonical spelling upstream uses in
/// generated configuration and messages, e.g. `"GRPC-Web"` or `"UnsupportedProtocol"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Instance {
    /// gRPC over HTTP/2.
    Grpc,
    /// gRPC-Web.
    GrpcWeb,
    /// HTTP/1.1 (HTTP/1.0 and earlier may not be supported by the proxy).
    Http,
    /// HTTP/2.
    Http2,
    /// HTTPS: TLS carrying HTTP.
    Https,
    /// Opaque TCP; the default for a service port.
    Tcp,
    /// TLS, assumed to carry SNI in the handshake.
    Tls,
    /// UDP (not proxied).
    Udp,
    /// MongoDB wire protocol.
    Mongo,
    /// Redis protocol.
    Redis,
    /// MySQL protocol.
    MySql,
    /// Any protocol name that is not recognised.
    Unsupported,
}

impl Instance {
    /// The canonical name of the protocol, as upstream spells it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Instance::Grpc => "GRPC",
            Instance::GrpcWeb => "GRPC-Web",
            Instance::Http => "HTTP",
            Instance::Http2 => "HTTP2",
            Instance::Https => "HTTPS",
            Instance::Tcp => "TCP",
            Instance::Tls => "TLS",
            Instance::Udp => "UDP",
            Instance::Mongo => "Mongo",
            Instance::Redis => "Redis",
            Instance::MySql => "MySQL",
            Instance::Unsupported => "UnsupportedProtocol",
        }
    }

    /// True for protocols carried over HTTP/2: HTTP2, GRPC and GRPC-Web.
    pub const fn is_http2(self) -> bool {
        matches!(self, Instance::Http2 | Instance::Grpc | Instance::GrpcWeb)
    }

    /// True for protocols the proxy handles with its HTTP stack: HTTP, HTTP2, GRPC, GRPC-Web.
    pub const fn is_http(self) -> bool {
        matches!(
            self,
            Instance::Http | Instance::Http2 | Instance::Grpc | Instance::GrpcWeb
        )
    }

    /// True for protocols the proxy handles as TCP streams: TCP, HTTPS, TLS, Mongo, Redis, MySQL.
    pub const fn is_tcp(self) -> bool {
        matches!(
            self,
            Instance::Tcp
                | Instance::Https
                | Instance::Tls
                | Instance::Mongo
                | Instance::Redis
                | Instance::MySql
        )
    }

    /// True for TLS-wrapped protocols: HTTPS and TLS.
    pub const fn is_tls(self) -> bool {
        matches!(self, Instance::Https | Instance::Tls)
    }

    /// True for gRPC and gRPC-Web.
    pub const fn is_grpc(self) -> bool {
        matches!(self, Instance::Grpc | Instance::GrpcWeb)
    }

    /// True for [`Instance::Unsupported`].
    pub const fn is_unsupported(self) -> bool {
        matches!(self, Instance::Unsupported)
    }
}

impl fmt::Display for Instance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Maps a protocol name onto an [`Instance`], ignoring ASCII case.
///
/// Unknown names, including the empty string, yield [`Instance::Unsupported`].
pub fn parse(s: &str) -> Instance {
    const NAMES: [(&str, Instance); 11] = [
        ("tcp", Instance::Tcp),
        ("udp", Instance::Udp),
        ("grpc", Instance::Grpc),
        ("grpc-web", Instance::GrpcWeb),
        ("http", Instance::Http),
        ("http2", Instance::Http2),
        ("https", Instance::Https),
        ("tls", Instance::Tls),
        ("mongo", Instance::Mongo),
        ("redis", Instance::Redis),
        ("mysql", Instance::MySql),
    ];
    NAMES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(s))
        .map_or(Instance::Unsupported, |&(_, p)| p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_is_case_insensitive() {
        let cases = [
            ("tcp", Instance::Tcp),
            ("http", Instance::Http),
            ("HTTP", Instance::Http),
            ("Http", Instance::Http),
            ("https", Instance::Https),
            ("http2", Instance::Http2),
            ("grpc", Instance::Grpc),
            ("grpc-web", Instance::GrpcWeb),
            ("gRPC-Web", Instance::GrpcWeb),
            ("grpc-Web", Instance::GrpcWeb),
            ("Mysql", Instance::MySql),
            ("udp", Instance::Udp),
            ("Mongo", Instance::Mongo),
            ("mongo", Instance::Mongo),
            ("MONGO", Instance::Mongo),
            ("Redis", Instance::Redis),
            ("redis", Instance::Redis),
            ("REDIS", Instance::Redis),
            ("MySQL", Instance::MySql),
            ("mysql", Instance::MySql),
            ("MYSQL", Instance::MySql),
            ("tls", Instance::Tls),
            ("", Instance::Unsupported),
            ("SMTP", Instance::Unsupported),
            ("http ", Instance::Unsupported),
        ];
        for (input, want) in cases {
            assert_eq!(parse(input), want, "parse({input:?})");
        }
    }

    #[test]
    fn canonical_names() {
        assert_eq!(Instance::GrpcWeb.to_string(), "GRPC-Web");
        assert_eq!(Instance::MySql.to_string(), "MySQL");
        assert_eq!(Instance::Unsupported.to_string(), "UnsupportedProtocol");
        for p in [
            Instance::Grpc,
            Instance::GrpcWeb,
            Instance::Http,
            Instance::Http2,
            Instance::Https,
            Instance::Tcp,
            Instance::Tls,
            Instance::Udp,
            Instance::Mongo,
            Instance::Redis,
            Instance::MySql,
        ] {
            assert_eq!(parse(p.as_str()), p);
        }
    }

    #[test]
    fn predicates() {
        use Instance::*;
        let all = [
            Grpc,
            GrpcWeb,
            Http,
            Http2,
            Https,
            Tcp,
            Tls,
            Udp,
            Mongo,
            Redis,
            MySql,
            Unsupported,
        ];
        let pick =
            |f: fn(Instance) -> bool| all.iter().copied().filter(|&p| f(p)).collect::<Vec<_>>();
        assert_eq!(pick(Instance::is_http2), [Grpc, GrpcWeb, Http2]);
        assert_eq!(pick(Instance::is_http), [Grpc, GrpcWeb, Http, Http2]);
        assert_eq!(
            pick(Instance::is_tcp),
            [Https, Tcp, Tls, Mongo, Redis, MySql]
        );
        assert_eq!(pick(Instance::is_tls), [Https, Tls]);
        assert_eq!(pick(Instance::is_grpc), [Grpc, GrpcWeb]);
        assert_eq!(pick(Instance::is_unsupported), [Unsupported]);
    }
}
