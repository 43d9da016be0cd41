//! Envoy v2 fields that the v3 message types no longer have, appended to encoded messages.
//!
//! Sidecars of Istio 1.4 run Envoy 1.13 and speak xDS v2. v2 and v3 share field numbers, so
//! the server sends v3 messages to them, but a few v2 fields Istio 1.4 sets were removed from
//! v3 (and so from our prost types). Protobuf merges repeated occurrences of a message field,
//! so those fields are appended to the encoded v3 message as extra bytes:
//!
//! - `HttpConnectionManager.tracing.operation_name` (7.1): EGRESS on outbound listeners;
//! - `HttpConnectionManager.idle_timeout` (11): from the `IDLE_TIMEOUT` node metadata.

use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager;
use envoy_types::pb::google::protobuf::Duration;
use prost::Message;

/// `HttpConnectionManager.tracing` (both versions).
pub const HCM_TRACING: u32 = 7;
/// `HttpConnectionManager.idle_timeout` in v2.
pub const HCM_IDLE_TIMEOUT: u32 = 11;

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
