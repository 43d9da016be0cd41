//! Envoy v2 fields that the v3 message types no longer have, appended to encoded messages.
//!
//! Sidecars of Istio 1.4 run Envoy 1.13 and speak xDS v2. v2 and v3 share field numbers, so
//! the server sends v3 messages to them, but a few v2 fields Istio 1.4 sets were removed from
//! v3 (and so from our prost types). Protobuf merges repeated occurrences of a message field,
//! so those fields are appended to the encoded v3 message as extra bytes:
//!
//! - `HttpConnectionManager.tracing.operation_name` (7.1): EGRESS on outbound listeners;
//! - `HttpConnectionManager.idle_timeout` (11): from the `IDLE_TIMEOUT` node metadata.

use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::{
    HttpConnectionManager, HttpFilter,
};
use envoy_types::pb::google::protobuf::Duration;
use prost::Message;

/// `HttpConnectionManager.tracing` (both versions).
pub const HCM_TRACING: u32 = 7;
/// `HttpConnectionManager.idle_timeout` in v2.
pub const HCM_IDLE_TIMEOUT: u32 = 11;
/// `HttpConnectionManager.http_filters` (both versions).
pub const HCM_HTTP_FILTERS: u32 = 5;

/// Envoy's default of 100 concurrent streams is too low for the data path; Istio raises it
/// (upstream clusters' `http2_protocol_options`).
pub const HTTP2_MAX_CONCURRENT_STREAMS: u32 = 1_073_741_824;

/// v2 `HttpConnectionManager.Tracing` reduced to the field v3 dropped.
#[derive(Clone, PartialEq, Message)]
struct V2Tracing {
    /// `INGRESS` = 0, `EGRESS` = 1.
    #[prost(int32, tag = "1")]
    operation_name: i32,
}

/// v2-only settings of an HTTP connection manager.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HcmExtras {
    /// Tracing operation EGRESS (outbound); INGRESS is the default and needs no bytes.
    pub egress_tracing: bool,
    pub idle_timeout: Option<Duration>,
}

/// Encodes an HTTP connection manager with its v2-only settings.
pub fn encode_hcm(hcm: &HttpConnectionManager, extras: &HcmExtras) -> Vec<u8> {
    let mut buf = hcm.encode_to_vec();
    if extras.egress_tracing && hcm.tracing.is_some() {
        prost::encoding::message::encode(HCM_TRACING, &V2Tracing { operation_name: 1 }, &mut buf);
    }
    if let Some(d) = &extras.idle_timeout {
        prost::encoding::message::encode(HCM_IDLE_TIMEOUT, d, &mut buf);
    }
    buf
}

/// An encoded message that does not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MalformedMessage;

impl std::fmt::Display for MalformedMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("malformed protobuf message")
    }
}

impl std::error::Error for MalformedMessage {}

impl From<prost::DecodeError> for MalformedMessage {
    fn from(_: prost::DecodeError) -> Self {
        MalformedMessage
    }
}

/// Rewrites the HTTP filters of an encoded HTTP connection manager in place: `f` may change
/// each filter and says whether it did. Every other byte (the v2-only fields included) is
/// kept as it is. Returns the new encoding, or `None` when no filter changed.
pub fn rewrite_http_filters(
    hcm: &[u8],
    mut f: impl FnMut(&mut HttpFilter) -> bool,
) -> Result<Option<Vec<u8>>, MalformedMessage> {
    use prost::encoding::{decode_key, decode_varint, skip_field, DecodeContext, WireType};
    let mut out = Vec::with_capacity(hcm.len() + 64);
    let mut changed = false;
    let mut rest = hcm;
    while !rest.is_empty() {
        let field = rest;
        let (tag, wire_type) = decode_key(&mut rest)?;
        if tag == HCM_HTTP_FILTERS && wire_type == WireType::LengthDelimited {
            let len = usize::try_from(decode_varint(&mut rest)?).map_err(|_| MalformedMessage)?;
            if len > rest.len() {
                return Err(MalformedMessage);
            }
            let (msg, tail) = rest.split_at(len);
            let mut filter = HttpFilter::decode(msg)?;
            if f(&mut filter) {
                changed = true;
                prost::encoding::message::encode(tag, &filter, &mut out);
            } else {
                out.extend_from_slice(&field[..field.len() - tail.len()]);
            }
            rest = tail;
        } else {
            skip_field(wire_type, tag, &mut rest, DecodeContext::default())?;
            out.extend_from_slice(&field[..field.len() - rest.len()]);
        }
    }
    Ok(changed.then_some(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::http_connection_manager::Tracing;

    /// Reads the top-level fields of an encoded message: (field number, payload bytes).
    fn fields(mut b: &[u8]) -> Vec<(u32, Vec<u8>)> {
        let mut out = Vec::new();
        while !b.is_empty() {
            let key = prost::encoding::decode_varint(&mut b).unwrap();
            let (tag, wt) = ((key >> 3) as u32, key & 7);
            match wt {
                0 => {
                    let v = prost::encoding::decode_varint(&mut b).unwrap();
                    out.push((tag, v.to_le_bytes().to_vec()));
                }
                2 => {
                    let len = prost::encoding::decode_varint(&mut b).unwrap() as usize;
                    out.push((tag, b[..len].to_vec()));
                    b = &b[len..];
                }
                other => panic!("wire type {other}"),
            }
        }
        out
    }

    #[test]
    fn hcm_extras() {
        let hcm = HttpConnectionManager {
            stat_prefix: "outbound_0.0.0.0_80".into(),
            tracing: Some(Tracing::default()),
            ..Default::default()
        };
        let extras = HcmExtras {
            egress_tracing: true,
            idle_timeout: Some(Duration {
                seconds: 30,
                nanos: 0,
            }),
        };
        let f = fields(&encode_hcm(&hcm, &extras));
        let tracing: Vec<_> = f.iter().filter(|(t, _)| *t == 7).collect();
        assert_eq!(tracing.len(), 2, "{f:?}");
        assert_eq!(
            V2Tracing::decode(tracing[1].1.as_slice())
                .unwrap()
                .operation_name,
            1
        );
        let idle = f.iter().find(|(t, _)| *t == 11).unwrap();
        assert_eq!(Duration::decode(idle.1.as_slice()).unwrap().seconds, 30);
        // No tracing configured: no operation name either.
        let f = fields(&encode_hcm(
            &HttpConnectionManager::default(),
            &HcmExtras {
                egress_tracing: true,
                idle_timeout: None,
            },
        ));
        assert!(f.iter().all(|(t, _)| *t != 7));
    }
}
