use super::*;
use kafka_protocol::messages::{ApiVersionsRequest, MetadataRequest, ProduceRequest};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use proptest::prelude::*;

/// A request frame (without size prefix) as a client would send it.
fn request_frame(api_key: ApiKey, version: i16, body: &impl Encodable) -> Bytes {
    let mut header = RequestHeader::default();
    header.request_api_key = api_key as i16;
    header.request_api_version = version;
    header.correlation_id = 42;
    header.client_id = Some(StrBytes::from_static_str("test"));
    let mut buf = BytesMut::new();
    header
        .encode(&mut buf, api_key.request_header_version(version))
        .unwrap();
    body.encode(&mut buf, version).unwrap();
    buf.freeze()
}

#[test]
fn frames_split_at_the_size_prefix() {
    let mut buf = BytesMut::from(&[0, 0, 0, 3, b'a', b'b'][..]);
    assert_eq!(split_frame(&mut buf, 10), Ok(None));
    buf.extend_from_slice(b"c\x00\x00");
    assert_eq!(&split_frame(&mut buf, 10).unwrap().unwrap()[..], b"abc");
    assert_eq!(split_frame(&mut buf, 10), Ok(None));
    assert_eq!(&buf[..], &[0, 0]);
    let mut big = BytesMut::from(&[0, 0, 0, 11][..]);
    assert_eq!(
        split_frame(&mut big, 10),
        Err(FrameError::TooLarge { size: 11, max: 10 })
    );
    let mut neg = BytesMut::from(&[0xff, 0xff, 0xff, 0xff][..]);
    assert_eq!(split_frame(&mut neg, 10), Err(FrameError::Negative(-1)));
    assert_eq!(frame_size(&[0, 0, 0], 10), Ok(None));
}

#[test]
fn every_supported_version_passes_the_header_path() {
    for &api in SUPPORTED_APIS {
        let range = supported_versions(api).unwrap();
        for v in range.min..=range.max {
            // a default body of each request type, encoded by the client side of the codec
            let mut buf = BytesMut::new();
            let mut header = RequestHeader::default();
            header.request_api_key = api as i16;
            header.request_api_version = v;
            header.correlation_id = 7;
            header
                .encode(&mut buf, api.request_header_version(v))
                .unwrap();
            // an empty body is not valid for most APIs: the point is the header path
            let decoded = decode_request(buf.freeze());
            match decoded {
                Err(DecodeError::Malformed { correlation_id, .. }) => {
                    assert_eq!(correlation_id, 7)
                }
                Ok(r) => assert_eq!(r.correlation_id(), 7),
                Err(e) => panic!("{api:?} v{v}: {e}"),
            }
        }
    }
}

#[test]
fn api_versions_round_trip_and_flexible_header() {
    let frame = request_frame(ApiKey::ApiVersions, 3, &ApiVersionsRequest::default());
    let req = decode_request(frame).unwrap();
    assert_eq!(req.api_key, ApiKey::ApiVersions);
    assert_eq!(req.version(), 3);
    assert_eq!(req.correlation_id(), 42);
    assert_eq!(req.header.client_id.as_deref(), Some("test"));
    let body = api_versions_response(0);
    let bytes = encode_response(42, ApiKey::ApiVersions, 3, &body.clone().into()).unwrap();
    let mut rest = bytes.slice(4..);
    assert_eq!(
        u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize,
        rest.len()
    );
    // ApiVersions responses always use header v0 (no tagged fields), even at v3+
    let header = ResponseHeader::decode(&mut rest, 0).unwrap();
    assert_eq!(header.correlation_id, 42);
    let decoded = ApiVersionsResponse::decode(&mut rest, 3).unwrap();
    assert_eq!(decoded.api_keys.len(), SUPPORTED_APIS.len());
    let produce = decoded
        .api_keys
        .iter()
        .find(|k| k.api_key == ApiKey::Produce as i16)
        .unwrap();
    assert_eq!((produce.min_version, produce.max_version), (3, 13));
}

#[test]
fn unsupported_api_versions_version_gets_a_v0_answer() {
    let mut frame = BytesMut::new();
    frame.put_i16(ApiKey::ApiVersions as i16);
    frame.put_i16(99);
    frame.put_i32(5);
    frame.put_i16(-1); // null client id
    let err = decode_request(frame.freeze()).unwrap_err();
    assert!(matches!(
        err,
        DecodeError::UnsupportedVersion { version: 99, .. }
    ));
    let answer = err.response().unwrap();
    let mut rest = answer.slice(4..);
    assert_eq!(
        ResponseHeader::decode(&mut rest, 0).unwrap().correlation_id,
        5
    );
    let body = ApiVersionsResponse::decode(&mut rest, 0).unwrap();
    assert_eq!(body.error_code, ResponseError::UnsupportedVersion.code());
    assert!(
        body.api_keys
            .iter()
            .any(|k| k.api_key == ApiKey::ApiVersions as i16 && k.max_version >= 3)
    );
}

#[test]
fn unknown_apis_and_versions_are_errors_without_answers() {
    let mut frame = BytesMut::new();
    frame.put_i16(999);
    frame.put_i16(0);
    frame.put_i32(1);
    let err = decode_request(frame.freeze()).unwrap_err();
    assert!(matches!(
        err,
        DecodeError::UnsupportedApi { api_key: 999, .. }
    ));
    assert!(err.response().is_none());
    // a real API the server does not implement (SaslHandshake)
    let mut frame = BytesMut::new();
    frame.put_i16(ApiKey::SaslHandshake as i16);
    frame.put_i16(1);
    frame.put_i32(1);
    assert!(matches!(
        decode_request(frame.freeze()),
        Err(DecodeError::UnsupportedApi { .. })
    ));
    // Produce v2 is below what the codec supports
    let mut frame = BytesMut::new();
    frame.put_i16(ApiKey::Produce as i16);
    frame.put_i16(2);
    frame.put_i32(1);
    let err = decode_request(frame.freeze()).unwrap_err();
    assert!(matches!(
        err,
        DecodeError::UnsupportedVersion { version: 2, .. }
    ));
    assert!(err.response().is_none());
    assert!(matches!(
        decode_request(Bytes::from_static(&[0, 3, 0])),
        Err(DecodeError::Truncated(3))
    ));
}

#[test]
fn produce_records_are_slices_of_the_frame() {
    let mut req = ProduceRequest::default();
    req.acks = 1;
    let mut topic = kafka_protocol::messages::produce_request::TopicProduceData::default();
    topic.name = kafka_protocol::messages::TopicName(StrBytes::from_static_str("t"));
    let mut part = kafka_protocol::messages::produce_request::PartitionProduceData::default();
    part.records = Some(Bytes::from_static(b"0123456789"));
    topic.partition_data.push(part);
    req.topic_data.push(topic);
    let frame = request_frame(ApiKey::Produce, 9, &req);
    let start = frame.as_ptr() as usize;
    let end = start + frame.len();
    let decoded = decode_request(frame).unwrap();
    let RequestKind::Produce(p) = decoded.body else {
        panic!("not a produce request")
    };
    let records = p.topic_data[0].partition_data[0].records.clone().unwrap();
    let at = records.as_ptr() as usize;
    assert!(
        at >= start && at < end,
        "records were copied out of the frame"
    );
    assert_eq!(&records[..], b"0123456789");
}

fn valid_frames() -> Vec<Bytes> {
    let mut metadata = MetadataRequest::default();
    metadata.topics = None;
    vec![
        request_frame(ApiKey::ApiVersions, 3, &ApiVersionsRequest::default()),
        request_frame(ApiKey::ApiVersions, 0, &ApiVersionsRequest::default()),
        request_frame(ApiKey::Metadata, 12, &metadata),
        request_frame(ApiKey::Metadata, 1, &metadata),
        request_frame(ApiKey::Produce, 9, &ProduceRequest::default()),
        request_frame(ApiKey::Produce, 3, &ProduceRequest::default()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Random bytes never panic the decoder.
    #[test]
    fn random_frames_do_not_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode_request(Bytes::from(data));
    }

    /// A random (api key, version) prefix followed by random bytes never panics.
    #[test]
    fn random_bodies_of_real_apis_do_not_panic(
        api in 0usize..SUPPORTED_APIS.len(),
        version in 0i16..20,
        body in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        let mut frame = BytesMut::new();
        frame.put_i16(SUPPORTED_APIS[api] as i16);
        frame.put_i16(version);
        frame.put_i32(1);
        frame.extend_from_slice(&body);
        let _ = decode_request(frame.freeze());
    }

    /// Truncated and bit-flipped valid requests never panic.
    #[test]
    fn damaged_valid_frames_do_not_panic(
        which in 0usize..6,
        cut in any::<prop::sample::Index>(),
        flip in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let frame = valid_frames()[which].clone();
        let truncated = frame.slice(..cut.index(frame.len() + 1));
        let _ = decode_request(truncated);
        let mut flipped = BytesMut::from(&frame[..]);
        let i = flip.index(flipped.len());
        flipped[i] ^= 1 << bit;
        let _ = decode_request(flipped.freeze());
    }

    /// The frame splitter never panics and never returns more than it was given.
    #[test]
    fn split_frame_is_total(data in proptest::collection::vec(any::<u8>(), 0..64), max in 0usize..64) {
        let mut buf = BytesMut::from(&data[..]);
        if let Ok(Some(frame)) = split_frame(&mut buf, max) {
            prop_assert!(frame.len() + 4 <= data.len());
        }
    }
}

/// A 12-byte Metadata v0 request declaring ~54 million topics: once made the process abort on
/// a multi-GiB allocation inside the codec (fixed in vendor/kafka-protocol); now an error.
#[test]
fn hostile_array_counts_are_errors_not_aborts() {
    for (version, body) in [
        (0i16, &[0x7f, 0xff, 0xff, 0xff][..]),
        (0, &[0x03, 0x3c, 0x0c, 0x00, 0xb6][..]),
        (12, &[0xff, 0xff, 0xff, 0xff, 0x0f][..]), // compact array of u32::MAX - 1
    ] {
        let mut frame = BytesMut::new();
        frame.put_i16(ApiKey::Metadata as i16);
        frame.put_i16(version);
        frame.put_i32(1);
        if version >= 9 {
            frame.put_i16(-1);
            frame.put_u8(0);
        } else {
            frame.put_i16(-1);
        }
        frame.extend_from_slice(body);
        assert!(matches!(
            decode_request(frame.freeze()),
            Err(DecodeError::Malformed { .. })
        ));
    }
}

/// A Fetch response with large (spliced), small (copied), empty and null records over two
/// topics, some partitions with tagged fields set.
fn fetch_response_sample(version: i16, big: usize) -> FetchResponse {
    use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
    let mut resp = FetchResponse::default();
    resp.throttle_time_ms = 3;
    for (t, name) in ["alpha", "beta"].iter().enumerate() {
        let mut topic = FetchableTopicResponse::default();
        topic.topic = kafka_protocol::messages::TopicName(StrBytes::from_static_str(name));
        for p in 0..4 {
            let mut pd = PartitionData::default();
            pd.partition_index = p;
            pd.high_watermark = 1000 + i64::from(p);
            pd.last_stable_offset = pd.high_watermark;
            pd.log_start_offset = 0;
            pd.records = match p {
                0 => Some(Bytes::from(vec![b'a' + t as u8; big])),
                1 => Some(Bytes::from(vec![7u8; 100])),
                2 => Some(Bytes::new()),
                _ => None,
            };
            if p == 1 && version >= 12 {
                pd.current_leader.leader_id = kafka_protocol::messages::BrokerId(5);
                pd.current_leader.leader_epoch = 9;
            }
            topic.partitions.push(pd);
        }
        resp.responses.push(topic);
    }
    resp
}

#[test]
fn spliced_fetch_responses_are_byte_identical_to_copied_ones() {
    let range = supported_versions(ApiKey::Fetch).unwrap();
    for version in range.min..=range.max {
        // Below, at and above the splice threshold; 200 KiB needs a 3-byte compact length.
        for big in [SPLICE_MIN - 1, SPLICE_MIN, 200 * 1024] {
            let resp = fetch_response_sample(version, big);
            let copied = encode_response(7, ApiKey::Fetch, version, &resp.clone().into()).unwrap();
            let mut frame = encode_fetch_response(7, version, resp).unwrap();
            let spliced = frame.copy_to_bytes(frame.remaining());
            assert_eq!(spliced, copied, "v{version}, records of {big} bytes");
        }
    }
}

#[test]
fn spliced_fetch_records_are_not_copied() {
    let version = supported_versions(ApiKey::Fetch).unwrap().max;
    let resp = fetch_response_sample(version, 64 * 1024);
    let sources: Vec<*const u8> = resp
        .responses
        .iter()
        .map(|t| t.partitions[0].records.as_ref().unwrap().as_ptr())
        .collect();
    let frame = encode_fetch_response(1, version, resp).unwrap();
    let parts: Vec<*const u8> = frame.parts().map(|p| p.as_ptr()).collect();
    for s in sources {
        assert!(parts.contains(&s), "a large records slice was copied");
    }
    // metadata, records, metadata, records, metadata
    assert_eq!(frame.parts().count(), 5);
    let mut slices = [std::io::IoSlice::new(&[]); 8];
    assert_eq!(frame.chunks_vectored(&mut slices), 5);
}
