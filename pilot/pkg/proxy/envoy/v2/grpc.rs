//! gRPC framing of the ADS streams, without per-stream message buffers.
//!
//! tonic's generic server encodes each response into a per-stream buffer that keeps the
//! capacity of the largest message sent (about 1 MB for the EDS response of a 1,000-service
//! mesh), and decodes requests into a buffer that keeps the largest request. With thousands
//! of connections that is gigabytes. Here responses are encoded lazily, in chunks of at most
//! [`CHUNK`] bytes as HTTP/2 flow control asks for data (large resources are passed as their
//! shared bytes, without a copy), and the request buffer is released after each message.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use envoy_types::pb::envoy::service::discovery::v3::DiscoveryRequest;
use http_body::{Body, Frame};
use prost::encoding::{encode_key, encode_varint, WireType};
use prost::Message;
use tokio::sync::mpsc;
use tonic::Status;

use super::wire::XdsResponse;

/// Largest chunk handed to HTTP/2 at once (one default-size DATA frame).
pub const CHUNK: usize = 16 * 1024;

/// Largest request accepted (gRPC's default receive limit).
pub const MAX_REQUEST: usize = 4 * 1024 * 1024;

/// Where the encoder is in a response.
#[derive(Debug)]
struct Encoding {
    resp: XdsResponse,
    /// Bytes of the framed message (5-byte header included).
    total: usize,
    written: usize,
    /// Header and `version_info` written.
    head: bool,
    /// Next resource to write.
    next: usize,
    /// `type_url` and `nonce` written.
    tail: bool,
    /// A large resource to hand over as is, next.
    pending: Option<Bytes>,
}

impl Encoding {
    fn new(resp: XdsResponse) -> Self {
        let total = resp.encoded_len() + 5;
        Encoding {
            resp,
            total,
            written: 0,
            head: false,
            next: 0,
            tail: false,
            pending: None,
        }
    }

    /// The next chunk of the framed message; `None` when all was written.
    fn next_chunk(&mut self) -> Option<Bytes> {
        if let Some(b) = self.pending.take() {
            self.written += b.len();
            return Some(b);
        }
        if self.tail {
            return None;
        }
        let mut buf = BytesMut::with_capacity(CHUNK.min(self.total - self.written));
        if !self.head {
            buf.put_u8(0);
            buf.put_u32((self.total - 5) as u32);
            put_string(1, &self.resp.version_info, &mut buf);
            self.head = true;
        }
        while let Some(r) = self.resp.resources.get(self.next) {
            let mut prefix = BytesMut::with_capacity(11);
            encode_key(2, WireType::LengthDelimited, &mut prefix);
            encode_varint(r.len() as u64, &mut prefix);
            if r.len() > CHUNK / 2 {
                // Large: the prefix now, then the shared bytes without a copy.
                if buf.len() + prefix.len() > CHUNK {
                    break;
                }
                buf.put_slice(&prefix);
                self.pending = Some(r.clone());
                self.next += 1;
                self.written += buf.len();
                return Some(buf.freeze());
            }
            if buf.len() + prefix.len() + r.len() > CHUNK {
                break;
            }
            buf.put_slice(&prefix);
            buf.put_slice(r);
            self.next += 1;
        }
        if self.next == self.resp.resources.len() {
            put_string(4, self.resp.type_url, &mut buf);
            put_string(5, &self.resp.nonce, &mut buf);
            self.tail = true;
            // The whole message is out of our hands: free the in-flight slot now, not when
            // HTTP/2 next asks for data.
            self.resp.permit = None;
        }
        self.written += buf.len();
        Some(buf.freeze())
    }
}

/// The response body of an ADS stream: responses from the connection's send queue, framed
/// lazily, then trailers with the final status.
#[derive(Debug)]
pub struct ResponseBody {
    rx: mpsc::Receiver<Result<XdsResponse, Status>>,
    current: Option<Encoding>,
    done: bool,
}

impl ResponseBody {
    pub fn new(rx: mpsc::Receiver<Result<XdsResponse, Status>>) -> Self {
        ResponseBody {
            rx,
            current: None,
            done: false,
        }
    }
}

fn trailers(status: &Status) -> Frame<Bytes> {
    let mut map = http::HeaderMap::new();
    if status.add_header(&mut map).is_err() {
        map.insert("grpc-status", http::HeaderValue::from_static("13"));
    }
    Frame::trailers(map)
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        loop {
            if let Some(enc) = &mut self.current {
                match enc.next_chunk() {
                    Some(chunk) => return Poll::Ready(Some(Ok(Frame::data(chunk)))),
                    None => self.current = None,
                }
            }
            if self.done {
                return Poll::Ready(None);
            }
            match self.rx.poll_recv(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(resp))) => self.current = Some(Encoding::new(resp)),
                Poll::Ready(Some(Err(status))) => {
                    self.done = true;
                    return Poll::Ready(Some(Ok(trailers(&status))));
                }
                Poll::Ready(None) => {
                    self.done = true;
                    return Poll::Ready(Some(Ok(trailers(&Status::ok("")))));
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        false
    }
}

/// The request side: gRPC messages decoded from the request body, with the buffer released
/// once it is empty.
pub struct RequestStream {
    body: tonic::body::Body,
    buf: BytesMut,
    eof: bool,
}

impl std::fmt::Debug for RequestStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestStream")
            .field("buffered", &self.buf.len())
            .field("eof", &self.eof)
            .finish()
    }
}

impl RequestStream {
    pub fn new(body: tonic::body::Body) -> Self {
        RequestStream {
            body,
            buf: BytesMut::new(),
            eof: false,
        }
    }

    /// A complete message from the buffer, if there is one.
    fn parse(&mut self) -> Result<Option<DiscoveryRequest>, Status> {
        if self.buf.len() < 5 {
            return Ok(None);
        }
        if self.buf[0] != 0 {
            return Err(Status::unimplemented(
                "compressed requests are not supported",
            ));
        }
        let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]) as usize;
        if len > MAX_REQUEST {
            return Err(Status::resource_exhausted(format!(
                "request of {len} bytes is larger than {MAX_REQUEST}"
            )));
        }
        if self.buf.len() < 5 + len {
            return Ok(None);
        }
        self.buf.advance(5);
        let msg = self.buf.split_to(len);
        if self.buf.is_empty() {
            self.buf = BytesMut::new();
        }
        decode_request(&msg).map(Some)
    }

    /// The next request; `None` at the end of the stream. Cancel-safe.
    pub async fn message(&mut self) -> Result<Option<DiscoveryRequest>, Status> {
        loop {
            if let Some(m) = self.parse()? {
                return Ok(Some(m));
            }
            if self.eof {
                return if self.buf.is_empty() {
                    Ok(None)
                } else {
                    Err(Status::internal("request stream ended inside a message"))
                };
            }
            let frame = std::future::poll_fn(|cx| Pin::new(&mut self.body).poll_frame(cx)).await;
            match frame {
                None => self.eof = true,
                Some(Err(s)) => return Err(s),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.buf.extend_from_slice(&data);
                    }
                }
            }
        }
    }
}

/// Decodes one request message.
pub fn decode_request(bytes: &[u8]) -> Result<DiscoveryRequest, Status> {
    DiscoveryRequest::decode(bytes)
        .map_err(|e| Status::invalid_argument(format!("malformed DiscoveryRequest: {e}")))
}

fn put_string(tag: u32, v: &str, buf: &mut BytesMut) {
    if !v.is_empty() {
        encode_key(tag, WireType::LengthDelimited, buf);
        encode_varint(v.len() as u64, buf);
        buf.put_slice(v.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use envoy_types::pb::envoy::service::discovery::v3::DiscoveryResponse;
    use std::sync::Arc;

    fn framed(resp: XdsResponse) -> (Vec<u8>, usize) {
        let mut enc = Encoding::new(resp);
        let mut out = Vec::new();
        let mut chunks = 0;
        while let Some(c) = enc.next_chunk() {
            assert!(
                c.len() <= CHUNK + 256 || c.len() > CHUNK / 2,
                "chunk of {}",
                c.len()
            );
            out.extend_from_slice(&c);
            chunks += 1;
        }
        (out, chunks)
    }

    #[test]
    fn chunked_frame_decodes_as_one_message() {
        let any = |n: usize| {
            super::super::wire::encode_any(&prost_types::Any {
                type_url: "type.googleapis.com/x.Y".into(),
                value: vec![7u8; n],
            })
        };
        let small = any(700);
        let big = any(100_000);
        let mut resources = vec![small.clone(); 100];
        resources.insert(50, big.clone());
        let resp = XdsResponse {
            version_info: "v1".into(),
            resources: Arc::from(resources),
            type_url: "type.googleapis.com/envoy.api.v2.ClusterLoadAssignment",
            nonce: "n".into(),
            permit: None,
        };
        let (out, chunks) = framed(resp.clone());
        assert!(chunks > 5, "{chunks}");
        assert_eq!(out[0], 0);
        let len = u32::from_be_bytes([out[1], out[2], out[3], out[4]]) as usize;
        assert_eq!(len, out.len() - 5);
        let mut direct = Vec::new();
        resp.encode(&mut direct);
        assert_eq!(&out[5..], &direct[..]);
        let d = DiscoveryResponse::decode(&out[5..]).unwrap();
        assert_eq!(d.resources.len(), 101);
        assert_eq!(d.nonce, "n");
        assert_eq!(d.version_info, "v1");
    }

    /// A response's in-flight slot is released with its last chunk.
    #[test]
    fn permit_released_with_the_last_chunk() {
        let sem = Arc::new(tokio::sync::Semaphore::new(1));
        let permit = sem.clone().try_acquire_owned().unwrap();
        let resp = XdsResponse {
            version_info: "v".into(),
            resources: Arc::from(vec![Bytes::from(vec![1u8; 40_000]); 3]),
            type_url: "t",
            nonce: "n".into(),
            permit: Some(Arc::new(permit)),
        };
        let mut enc = Encoding::new(resp);
        let mut last_seen = false;
        while let Some(_chunk) = enc.next_chunk() {
            if enc.tail {
                // The final chunk has just been produced.
                assert_eq!(sem.available_permits(), 1);
                last_seen = true;
            } else {
                assert_eq!(sem.available_permits(), 0, "held while chunks remain");
            }
        }
        assert!(last_seen);
    }

    #[test]
    fn empty_response_is_one_chunk() {
        let resp = XdsResponse {
            version_info: "v".into(),
            resources: Arc::from(Vec::new()),
            type_url: "t",
            nonce: "n".into(),
            permit: None,
        };
        let (out, chunks) = framed(resp);
        assert_eq!(chunks, 1);
        assert_eq!(out.len(), 5 + 3 + 3 + 3);
    }
}
