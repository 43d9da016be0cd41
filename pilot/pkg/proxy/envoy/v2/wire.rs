//! ADS responses made of pre-encoded resources: one generated resource is shared by every
//! connection it is sent to instead of being copied into a `DiscoveryResponse` per connection.
//!
//! v2 and v3 `DiscoveryRequest`/`DiscoveryResponse` share field numbers, so one encoding
//! serves both (requests decode as the v3 message; the v2 `Node`'s `build_version`, field 5,
//! is an unknown field there and is skipped).

use std::sync::Arc;

use bytes::{BufMut, Bytes};
use prost::encoding::{encode_key, encode_varint, encoded_len_varint, WireType};
use prost::Message;

/// One resource as the bytes of an encoded `google.protobuf.Any`.
pub type EncodedResource = Bytes;

/// A response ready to write: `DiscoveryResponse` fields 1 (version_info), 2 (resources),
/// 4 (type_url) and 5 (nonce).
#[derive(Debug, Clone)]
pub struct XdsResponse {
    pub version_info: Arc<str>,
    pub resources: Arc<[EncodedResource]>,
    pub type_url: &'static str,
    pub nonce: String,
    /// A slot of the server's budget of large responses in flight, released when the
    /// response has been handed to HTTP/2 in full (or dropped).
    pub permit: Option<Arc<tokio::sync::OwnedSemaphorePermit>>,
}

impl XdsResponse {
    /// Size of the encoded message.
    pub fn encoded_len(&self) -> usize {
        // Fields 1, 2, 4 and 5 all have one-byte keys.
        let s = |v: &str| {
            if v.is_empty() {
                0
            } else {
                1 + encoded_len_varint(v.len() as u64) + v.len()
            }
        };
        s(&self.version_info)
            + self
                .resources
                .iter()
                .map(|r| 1 + encoded_len_varint(r.len() as u64) + r.len())
                .sum::<usize>()
            + s(self.type_url)
            + s(&self.nonce)
    }

    /// Writes the encoded `DiscoveryResponse`.
    pub fn encode(&self, buf: &mut impl BufMut) {
        put_string(1, &self.version_info, buf);
        for r in self.resources.iter() {
            encode_key(2, WireType::LengthDelimited, buf);
            encode_varint(r.len() as u64, buf);
            buf.put_slice(r);
        }
        put_string(4, self.type_url, buf);
        put_string(5, &self.nonce, buf);
    }
}

fn put_string(tag: u32, v: &str, buf: &mut impl BufMut) {
    if !v.is_empty() {
        encode_key(tag, WireType::LengthDelimited, buf);
        encode_varint(v.len() as u64, buf);
        buf.put_slice(v.as_bytes());
    }
}

/// Encodes one resource as an `Any` (for [`XdsResponse::resources`]).
pub fn encode_any(any: &prost_types::Any) -> EncodedResource {
    Bytes::from(any.encode_to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use envoy_types::pb::envoy::service::discovery::v3::DiscoveryResponse;

    #[test]
    fn encoded_response_decodes_as_discovery_response() {
        let any = prost_types::Any {
            type_url: "type.googleapis.com/x.Y".into(),
            value: vec![1, 2, 3],
        };
        let resp = XdsResponse {
            version_info: "2019-11-11T00:00:00Z/3".into(),
            resources: vec![encode_any(&any), encode_any(&any)].into(),
            type_url: "type.googleapis.com/envoy.api.v2.Cluster",
            nonce: "n1".into(),
            permit: None,
        };
        let mut buf = Vec::new();
        resp.encode(&mut buf);
        assert_eq!(buf.len(), resp.encoded_len());
        let decoded = DiscoveryResponse::decode(buf.as_slice()).unwrap();
        assert_eq!(decoded.version_info, "2019-11-11T00:00:00Z/3");
        assert_eq!(decoded.type_url, "type.googleapis.com/envoy.api.v2.Cluster");
        assert_eq!(decoded.nonce, "n1");
        assert_eq!(decoded.resources.len(), 2);
        assert_eq!(decoded.resources[1].value, vec![1, 2, 3]);
    }

    #[test]
    fn empty_response_is_empty_message() {
        let resp = XdsResponse {
            version_info: "".into(),
            resources: Vec::new().into(),
            type_url: "",
            nonce: String::new(),
            permit: None,
        };
        assert_eq!(resp.encoded_len(), 0);
    }
}
