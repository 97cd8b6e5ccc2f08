//! The Kafka wire protocol of `ferry broker`, without I/O: bytes in, requests out; responses
//! in, bytes out. The codec is the `kafka-protocol` crate; this module adds the framing
//! (4-byte big-endian size prefix, a maximum frame size), request-header decoding that never
//! panics on hostile input, the version table the server advertises, and response encoding
//! (including ApiVersions' special rules: its response header is always v0, and an
//! unsupported ApiVersions version is answered in v0 with `UNSUPPORTED_VERSION` so the
//! client can retry with a version it finds in the list).
//!
//! Everything here is unit-tested and fuzzed (`tests` below) without sockets.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{
    ApiKey, ApiVersionsResponse, FetchResponse, RequestHeader, RequestKind, ResponseHeader,
    ResponseKind,
};
use kafka_protocol::protocol::{Decodable, Encodable, Message, VersionRange};

/// Kafka's `socket.request.max.bytes` default: 100 MiB.
pub const DEFAULT_MAX_FRAME_SIZE: usize = 104_857_600;

/// Size of the length prefix of every frame.
pub const FRAME_PREFIX: usize = 4;

/// A frame that cannot be accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The size prefix is negative.
    #[error("frame size {0} is negative")]
    Negative(i32),
    /// The size prefix exceeds the maximum frame size.
    #[error("frame of {size} bytes exceeds the maximum frame size {max}")]
    TooLarge {
        /// Announced size.
        size: usize,
        /// The limit.
        max: usize,
    },
}

/// Reads the size prefix at the front of `buf`: `Ok(None)` if fewer than 4 bytes are there.
pub fn frame_size(buf: &[u8], max: usize) -> Result<Option<usize>, FrameError> {
    let Some(prefix) = buf.get(..FRAME_PREFIX) else {
        return Ok(None);
    };
    let size = i32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
    let size = usize::try_from(size).map_err(|_| FrameError::Negative(size))?;
    if size > max {
        return Err(FrameError::TooLarge { size, max });
    }
    Ok(Some(size))
}

/// Splits one complete frame (without its size prefix) off the front of `buf`; `Ok(None)` when
/// the frame is not complete yet. An error leaves `buf` untouched: the connection must close.
pub fn split_frame(buf: &mut BytesMut, max: usize) -> Result<Option<BytesMut>, FrameError> {
    match frame_size(buf, max)? {
        Some(size) if buf.len() >= FRAME_PREFIX + size => {
            buf.advance(FRAME_PREFIX);
            Ok(Some(buf.split_to(size)))
        }
        _ => Ok(None),
    }
}

/// A decoded request.
#[derive(Debug)]
pub struct Request {
    /// The API of the request.
    pub api_key: ApiKey,
    /// Its header (api version, correlation id, client id).
    pub header: RequestHeader,
    /// Its body.
    pub body: RequestKind,
}

impl Request {
    /// The request's API version.
    pub fn version(&self) -> i16 {
        self.header.request_api_version
    }

    /// The correlation id to echo in the response.
    pub fn correlation_id(&self) -> i32 {
        self.header.correlation_id
    }
}

/// Why a frame is not a request this server can answer normally.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Shorter than the fixed part of a request header (api key, version, correlation id).
    #[error("frame of {0} bytes is too short for a request header")]
    Truncated(usize),
    /// An API key this server does not implement (or nobody knows).
    #[error("unsupported API key {api_key} (version {version}, correlation id {correlation_id})")]
    UnsupportedApi {
        /// The raw key.
        api_key: i16,
        /// The raw version.
        version: i16,
        /// The correlation id.
        correlation_id: i32,
    },
    /// A known API at a version outside [`supported_versions`].
    #[error(
        "unsupported version {version} of {api_key:?} (supported {range}, correlation id {correlation_id})"
    )]
    UnsupportedVersion {
        /// The API.
        api_key: ApiKey,
        /// The requested version.
        version: i16,
        /// What this server supports.
        range: VersionRange,
        /// The correlation id.
        correlation_id: i32,
    },
    /// The header or the body does not decode.
    #[error("malformed {api_key:?} v{version} request (correlation id {correlation_id}): {reason}")]
    Malformed {
        /// The API.
        api_key: ApiKey,
        /// The version.
        version: i16,
        /// The correlation id.
        correlation_id: i32,
        /// The codec's message.
        reason: String,
    },
}

impl DecodeError {
    /// The response to send before closing, if any: Kafka answers an unsupported ApiVersions
    /// version with a v0 response listing what it supports; everything else closes.
    pub fn response(&self) -> Option<Bytes> {
        match self {
            DecodeError::UnsupportedVersion {
                api_key: ApiKey::ApiVersions,
                correlation_id,
                ..
            } => {
                let body = api_versions_response(ResponseError::UnsupportedVersion.code());
                encode_response(*correlation_id, ApiKey::ApiVersions, 0, &body.into()).ok()
            }
            _ => None,
        }
    }
}

/// The APIs this server implements. Each is served at every version the codec supports
/// ([`supported_versions`]), which reaches back to what kafka-python, librdkafka and the
/// Java clients of Kafka 2.x–4.x negotiate.
pub const SUPPORTED_APIS: &[ApiKey] = &[
    ApiKey::Produce,
    ApiKey::Fetch,
    ApiKey::ListOffsets,
    ApiKey::Metadata,
    ApiKey::OffsetCommit,
    ApiKey::OffsetFetch,
    ApiKey::FindCoordinator,
    ApiKey::JoinGroup,
    ApiKey::Heartbeat,
    ApiKey::LeaveGroup,
    ApiKey::SyncGroup,
    ApiKey::DescribeGroups,
    ApiKey::ListGroups,
    ApiKey::ApiVersions,
    ApiKey::CreateTopics,
    ApiKey::DeleteTopics,
    ApiKey::InitProducerId,
    ApiKey::DescribeConfigs,
    ApiKey::AlterConfigs,
    ApiKey::IncrementalAlterConfigs,
    ApiKey::CreatePartitions,
    ApiKey::DeleteGroups,
    ApiKey::OffsetDelete,
];

/// The versions of `api` this server answers, `None` if it does not implement `api`: those
/// that both the request and the response types of the codec support (`ApiKey::valid_versions`
/// can be wider than what a message type implements, e.g. OffsetCommit v10).
pub fn supported_versions(api: ApiKey) -> Option<VersionRange> {
    macro_rules! both {
        ($req:ty, $resp:ty) => {
            <$req as Message>::VERSIONS.intersect(&<$resp as Message>::VERSIONS)
        };
    }
    use kafka_protocol::messages::*;
    Some(match api {
        ApiKey::Produce => both!(ProduceRequest, ProduceResponse),
        ApiKey::Fetch => both!(FetchRequest, FetchResponse),
        ApiKey::ListOffsets => both!(ListOffsetsRequest, ListOffsetsResponse),
        ApiKey::Metadata => both!(MetadataRequest, MetadataResponse),
        ApiKey::OffsetCommit => both!(OffsetCommitRequest, OffsetCommitResponse),
        ApiKey::OffsetFetch => both!(OffsetFetchRequest, OffsetFetchResponse),
        ApiKey::FindCoordinator => both!(FindCoordinatorRequest, FindCoordinatorResponse),
        ApiKey::JoinGroup => both!(JoinGroupRequest, JoinGroupResponse),
        ApiKey::Heartbeat => both!(HeartbeatRequest, HeartbeatResponse),
        ApiKey::LeaveGroup => both!(LeaveGroupRequest, LeaveGroupResponse),
        ApiKey::SyncGroup => both!(SyncGroupRequest, SyncGroupResponse),
        ApiKey::DescribeGroups => both!(DescribeGroupsRequest, DescribeGroupsResponse),
        ApiKey::ListGroups => both!(ListGroupsRequest, ListGroupsResponse),
        ApiKey::ApiVersions => both!(ApiVersionsRequest, ApiVersionsResponse),
        ApiKey::CreateTopics => both!(CreateTopicsRequest, CreateTopicsResponse),
        ApiKey::DeleteTopics => both!(DeleteTopicsRequest, DeleteTopicsResponse),
        ApiKey::InitProducerId => both!(InitProducerIdRequest, InitProducerIdResponse),
        ApiKey::DescribeConfigs => both!(DescribeConfigsRequest, DescribeConfigsResponse),
        ApiKey::AlterConfigs => both!(AlterConfigsRequest, AlterConfigsResponse),
        ApiKey::IncrementalAlterConfigs => {
            both!(
                IncrementalAlterConfigsRequest,
                IncrementalAlterConfigsResponse
            )
        }
        ApiKey::CreatePartitions => both!(CreatePartitionsRequest, CreatePartitionsResponse),
        ApiKey::DeleteGroups => both!(DeleteGroupsRequest, DeleteGroupsResponse),
        ApiKey::OffsetDelete => both!(OffsetDeleteRequest, OffsetDeleteResponse),
        _ => return None,
    })
}

/// The ApiVersions response body listing [`SUPPORTED_APIS`] (fields of later versions are
/// simply not written by older versions' encoders).
pub fn api_versions_response(error_code: i16) -> ApiVersionsResponse {
    let mut response = ApiVersionsResponse::default();
    response.error_code = error_code;
    response.api_keys = SUPPORTED_APIS
        .iter()
        .filter_map(|&api| {
            let range = supported_versions(api)?;
            let mut v = ApiVersion::default();
            v.api_key = api as i16;
            v.min_version = range.min;
            v.max_version = range.max;
            Some(v)
        })
        .collect();
    response.finalized_features_epoch = -1;
    response
}

/// Decodes one frame (without its size prefix) into a request.
pub fn decode_request(mut frame: Bytes) -> Result<Request, DecodeError> {
    if frame.len() < 8 {
        return Err(DecodeError::Truncated(frame.len()));
    }
    let raw_key = i16::from_be_bytes([frame[0], frame[1]]);
    let version = i16::from_be_bytes([frame[2], frame[3]]);
    let correlation_id = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
    let (api_key, range) = match ApiKey::try_from(raw_key)
        .ok()
        .and_then(|k| Some((k, supported_versions(k)?)))
    {
        Some(found) => found,
        None => {
            return Err(DecodeError::UnsupportedApi {
                api_key: raw_key,
                version,
                correlation_id,
            });
        }
    };
    if version < range.min || version > range.max {
        return Err(DecodeError::UnsupportedVersion {
            api_key,
            version,
            range,
            correlation_id,
        });
    }
    let malformed = |reason: String| DecodeError::Malformed {
        api_key,
        version,
        correlation_id,
        reason,
    };
    let header_version = api_key.request_header_version(version);
    let header = RequestHeader::decode(&mut frame, header_version)
        .map_err(|e| malformed(format!("request header: {e:#}")))?;
    let body = RequestKind::decode(api_key, &mut frame, version)
        .map_err(|e| malformed(format!("{e:#}")))?;
    Ok(Request {
        api_key,
        header,
        body,
    })
}

/// An error from the response encoder (a bug in a handler, e.g. a field that the version
/// cannot carry, or a message too large).
#[derive(Debug, thiserror::Error)]
#[error("cannot encode {api_key:?} v{version} response: {reason}")]
pub struct EncodeError {
    /// The API.
    pub api_key: ApiKey,
    /// The version.
    pub version: i16,
    /// The codec's message.
    pub reason: String,
}

/// Encodes a response with its size prefix and header, ready to write to the socket.
pub fn encode_response(
    correlation_id: i32,
    api_key: ApiKey,
    version: i16,
    body: &ResponseKind,
) -> Result<Bytes, EncodeError> {
    encode_with(correlation_id, api_key, version, |buf| {
        body.encode(buf, version)
    })
}

/// A response frame whose body `encode_body` writes.
fn encode_with<E: std::fmt::Display>(
    correlation_id: i32,
    api_key: ApiKey,
    version: i16,
    encode_body: impl FnOnce(&mut BytesMut) -> Result<(), E>,
) -> Result<Bytes, EncodeError> {
    let err = |reason: String| EncodeError {
        api_key,
        version,
        reason,
    };
    let header_version = api_key.response_header_version(version);
    let mut header = ResponseHeader::default();
    header.correlation_id = correlation_id;
    let header_size = header
        .compute_size(header_version)
        .map_err(|e| err(format!("{e:#}")))?;
    let mut buf = BytesMut::with_capacity(FRAME_PREFIX + header_size + 64);
    buf.put_i32(0);
    header
        .encode(&mut buf, header_version)
        .map_err(|e| err(format!("{e:#}")))?;
    encode_body(&mut buf).map_err(|e| err(format!("{e:#}")))?;
    let size = i32::try_from(buf.len() - FRAME_PREFIX)
        .map_err(|_| err(format!("response of {} bytes is too large", buf.len())))?;
    buf[..FRAME_PREFIX].copy_from_slice(&size.to_be_bytes());
    Ok(buf.freeze())
}

/// Record data of at least this size is written from the log's buffer instead of being
/// copied into the response buffer (smaller slices cost more as extra iovecs than as copies).
pub const SPLICE_MIN: usize = 4096;

/// An encoded response as a sequence of byte slices, to be written with vectored writes
/// (`AsyncWriteExt::write_all_buf`): the record data of a Fetch response stays in the buffers
/// the log read it into and goes from there into the socket.
#[derive(Debug, Default)]
pub struct ResponseFrame {
    parts: std::collections::VecDeque<Bytes>,
    remaining: usize,
}

impl ResponseFrame {
    fn push(&mut self, part: Bytes) {
        if !part.is_empty() {
            self.remaining += part.len();
            self.parts.push_back(part);
        }
    }

    /// The slices still to be written, in order.
    pub fn parts(&self) -> impl Iterator<Item = &Bytes> {
        self.parts.iter()
    }
}

impl From<Bytes> for ResponseFrame {
    fn from(b: Bytes) -> Self {
        let mut f = ResponseFrame::default();
        f.push(b);
        f
    }
}

impl Buf for ResponseFrame {
    fn remaining(&self) -> usize {
        self.remaining
    }

    fn chunk(&self) -> &[u8] {
        self.parts.front().map_or(&[], |b| &b[..])
    }

    fn advance(&mut self, mut cnt: usize) {
        while cnt > 0 {
            let Some(front) = self.parts.front_mut() else {
                return;
            };
            let n = cnt.min(front.len());
            front.advance(n);
            self.remaining -= n;
            cnt -= n;
            if front.is_empty() {
                self.parts.pop_front();
            }
        }
    }

    fn chunks_vectored<'a>(&'a self, dst: &mut [std::io::IoSlice<'a>]) -> usize {
        let mut n = 0;
        for (slot, part) in dst.iter_mut().zip(self.parts.iter()) {
            *slot = std::io::IoSlice::new(part);
            n += 1;
        }
        n
    }
}

/// Encodes a Fetch response like [`encode_response`], but leaves every partition's records of
/// [`SPLICE_MIN`] bytes or more where they are: the frame refers to them instead of holding a
/// copy.
///
/// How, with the codec's own encoder for every version: the response is encoded twice, with
/// those records set to null and to empty. The two encodings differ exactly in those records'
/// length fields (4 bytes `ff ff ff ff` against `00 00 00 00` before v12, the compact length
/// byte `00` against `01` from v12 on), in order; everything between them is the response's
/// own metadata, copied into one small buffer with the real length fields in between.
pub fn encode_fetch_response(
    correlation_id: i32,
    version: i16,
    mut body: FetchResponse,
) -> Result<ResponseFrame, EncodeError> {
    let err = |reason: String| EncodeError {
        api_key: ApiKey::Fetch,
        version,
        reason,
    };
    // (topic, partition) index of each spliced records slice, in encoding order.
    let mut spliced = Vec::new();
    for (ti, t) in body.responses.iter_mut().enumerate() {
        for (pi, p) in t.partitions.iter_mut().enumerate() {
            if p.records.as_ref().is_some_and(|r| r.len() >= SPLICE_MIN) {
                spliced.push(((ti, pi), p.records.take().unwrap_or_default()));
            }
        }
    }
    let encode = |body: &FetchResponse| {
        encode_with(correlation_id, ApiKey::Fetch, version, |buf| {
            body.encode(buf, version)
        })
    };
    if spliced.is_empty() {
        return encode(&body).map(ResponseFrame::from);
    }
    let with_null = encode(&body)?;
    for ((ti, pi), _) in &spliced {
        body.responses[*ti].partitions[*pi].records = Some(Bytes::new());
    }
    let with_empty = encode(&body)?;
    let (null, empty): (&[u8], &[u8]) = if version >= 12 {
        (&[0], &[1])
    } else {
        (&[0xff; 4], &[0; 4])
    };
    if with_null.len() != with_empty.len() {
        return Err(err(
            "null and empty records encode to different sizes".into()
        ));
    }
    let mut meta = BytesMut::with_capacity(with_null.len() + spliced.len() * 4);
    let mut cuts = Vec::with_capacity(spliced.len());
    let mut pos = 0;
    for (_, records) in &spliced {
        let Some(d) = with_null[pos..]
            .iter()
            .zip(&with_empty[pos..])
            .position(|(a, b)| a != b)
        else {
            return Err(err("fewer records fields than spliced partitions".into()));
        };
        let at = pos + d;
        let field = at..at + null.len();
        if with_null.get(field.clone()) != Some(null) || with_empty.get(field) != Some(empty) {
            return Err(err(format!("unexpected difference at byte {at}")));
        }
        meta.extend_from_slice(&with_null[pos..at]);
        if version >= 12 {
            put_unsigned_varint(&mut meta, records.len() as u64 + 1);
        } else {
            let len = i32::try_from(records.len())
                .map_err(|_| err(format!("records of {} bytes are too large", records.len())))?;
            meta.put_i32(len);
        }
        cuts.push(meta.len());
        pos = at + null.len();
    }
    if with_null[pos..] != with_empty[pos..] {
        return Err(err("more records fields than spliced partitions".into()));
    }
    meta.extend_from_slice(&with_null[pos..]);
    let total = meta.len() - FRAME_PREFIX + spliced.iter().map(|(_, r)| r.len()).sum::<usize>();
    let size =
        i32::try_from(total).map_err(|_| err(format!("response of {total} bytes is too large")))?;
    meta[..FRAME_PREFIX].copy_from_slice(&size.to_be_bytes());
    let meta = meta.freeze();
    let mut frame = ResponseFrame::default();
    let mut from = 0;
    for (cut, (_, records)) in cuts.iter().zip(spliced) {
        frame.push(meta.slice(from..*cut));
        frame.push(records);
        from = *cut;
    }
    frame.push(meta.slice(from..));
    Ok(frame)
}

fn put_unsigned_varint(buf: &mut BytesMut, mut v: u64) {
    while v >= 0x80 {
        buf.put_u8((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    buf.put_u8(v as u8);
}

#[cfg(test)]
mod tests;
