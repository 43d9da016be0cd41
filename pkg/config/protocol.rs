//! TEMPORARY scaffold until the protocol port lands (replaced wholesale on merge).
#![allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Instance {
    Tcp,
    Udp,
    Grpc,
    GrpcWeb,
    Http,
    Http2,
    Https,
    Tls,
    Mongo,
    Redis,
    MySql,
    Unsupported,
}
pub fn parse(s: &str) -> Instance {
    match s.to_ascii_lowercase().as_str() {
        "tcp" => Instance::Tcp,
        "udp" => Instance::Udp,
        "grpc" => Instance::Grpc,
        "grpc-web" => Instance::GrpcWeb,
        "http" => Instance::Http,
        "http2" => Instance::Http2,
        "https" => Instance::Https,
        "tls" => Instance::Tls,
        "mongo" => Instance::Mongo,
        "redis" => Instance::Redis,
        "mysql" => Instance::MySql,
        _ => Instance::Unsupported,
    }
}
