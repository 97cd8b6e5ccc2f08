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
    ApiKey, ApiVersionsResponse, RequestHeader, RequestKind, ResponseHeader, ResponseKind,
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
    body.encode(&mut buf, version)
        .map_err(|e| err(format!("{e:#}")))?;
    let size = i32::try_from(buf.len() - FRAME_PREFIX)
        .map_err(|_| err(format!("response of {} bytes is too large", buf.len())))?;
    buf[..FRAME_PREFIX].copy_from_slice(&size.to_be_bytes());
    Ok(buf.freeze())
}

#[cfg(test)]
mod tests;
