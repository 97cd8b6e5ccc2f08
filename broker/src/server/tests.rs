//! The server over real TCP, with the client side of the codec and raw bytes.

use super::*;
use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::error::ResponseError as E;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::protocol::SUPPORTED_APIS;
use ferry_log::LogConfig;
use ferry_record::RecordBatchBuilder;

struct TestBroker {
    addr: SocketAddr,
    log: Arc<LogManager>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl TestBroker {
    async fn start(max_frame: usize) -> TestBroker {
        let dir = tempfile::tempdir().unwrap();
        let log = Arc::new(LogManager::open(LogConfig::new(dir.path())).unwrap());
        let mut config = BrokerConfig::new("127.0.0.1:0".parse().unwrap());
        config.max_frame_size = max_frame;
        config.num_partitions = 2;
        let broker = Broker::bind(config, log.clone()).await.unwrap();
        let addr = broker.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(broker.run(async {
            let _ = rx.await;
        }));
        TestBroker {
            addr,
            log,
            stop: Some(tx),
            task,
            _dir: dir,
        }
    }

    async fn client(&self) -> Client {
        Client {
            stream: TcpStream::connect(self.addr).await.unwrap(),
            next: 0,
        }
    }

    async fn shutdown(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(10), &mut self.task)
            .await
            .expect("graceful shutdown")
            .unwrap();
    }
}

struct Client {
    stream: TcpStream,
    next: i32,
}

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

impl Client {
    async fn send(&mut self, api: ApiKey, version: i16, body: &RequestKind) -> i32 {
        self.next += 1;
        let mut header = RequestHeader::default();
        header.request_api_key = api as i16;
        header.request_api_version = version;
        header.correlation_id = self.next;
        header.client_id = Some(s("server-test"));
        let mut buf = BytesMut::new();
        buf.put_i32(0);
        header
            .encode(&mut buf, api.request_header_version(version))
            .unwrap();
        body.encode(&mut buf, version).unwrap();
        let len = (buf.len() - 4) as i32;
        buf[..4].copy_from_slice(&len.to_be_bytes());
        self.stream.write_all(&buf).await.unwrap();
        self.next
    }

    /// The next response frame, `None` if the server closed the connection.
    async fn frame(&mut self) -> Option<Bytes> {
        let mut len = [0u8; 4];
        tokio::time::timeout(Duration::from_secs(10), self.stream.read_exact(&mut len))
            .await
            .expect("response in time")
            .ok()?;
        let mut buf = vec![0u8; i32::from_be_bytes(len) as usize];
        self.stream.read_exact(&mut buf).await.ok()?;
        Some(Bytes::from(buf))
    }

    async fn recv(&mut self, api: ApiKey, version: i16, correlation_id: i32) -> ResponseKind {
        let mut frame = self
            .frame()
            .await
            .expect("a response, not a closed connection");
        let header =
            ResponseHeader::decode(&mut frame, api.response_header_version(version)).unwrap();
        assert_eq!(header.correlation_id, correlation_id);
        ResponseKind::decode(api, &mut frame, version)
            .unwrap_or_else(|e| panic!("{api:?} v{version} response does not decode: {e:#}"))
    }

    async fn call(
        &mut self,
        api: ApiKey,
        version: i16,
        body: impl Into<RequestKind>,
    ) -> ResponseKind {
        let id = self.send(api, version, &body.into()).await;
        self.recv(api, version, id).await
    }

    async fn closed(&mut self) -> bool {
        let mut b = [0u8; 1];
        matches!(
            tokio::time::timeout(Duration::from_secs(5), self.stream.read(&mut b)).await,
            Ok(Ok(0)) | Ok(Err(_))
        )
    }
}

fn default_request(api: ApiKey) -> RequestKind {
    match api {
        ApiKey::Produce => {
            let mut r = ProduceRequest::default();
            r.acks = 1;
            r.into()
        }
        ApiKey::Fetch => FetchRequest::default().into(),
        ApiKey::ListOffsets => ListOffsetsRequest::default().into(),
        ApiKey::Metadata => MetadataRequest::default().into(),
        ApiKey::OffsetCommit => OffsetCommitRequest::default().into(),
        ApiKey::OffsetFetch => OffsetFetchRequest::default().into(),
        ApiKey::FindCoordinator => FindCoordinatorRequest::default().into(),
        ApiKey::JoinGroup => JoinGroupRequest::default().into(),
        ApiKey::Heartbeat => HeartbeatRequest::default().into(),
        ApiKey::LeaveGroup => LeaveGroupRequest::default().into(),
        ApiKey::SyncGroup => SyncGroupRequest::default().into(),
        ApiKey::DescribeGroups => DescribeGroupsRequest::default().into(),
        ApiKey::ListGroups => ListGroupsRequest::default().into(),
        ApiKey::ApiVersions => ApiVersionsRequest::default().into(),
        ApiKey::CreateTopics => CreateTopicsRequest::default().into(),
        ApiKey::DeleteTopics => DeleteTopicsRequest::default().into(),
        ApiKey::InitProducerId => InitProducerIdRequest::default().into(),
        ApiKey::DescribeConfigs => DescribeConfigsRequest::default().into(),
        ApiKey::AlterConfigs => AlterConfigsRequest::default().into(),
        ApiKey::IncrementalAlterConfigs => IncrementalAlterConfigsRequest::default().into(),
        ApiKey::CreatePartitions => CreatePartitionsRequest::default().into(),
        ApiKey::DeleteGroups => DeleteGroupsRequest::default().into(),
        ApiKey::OffsetDelete => OffsetDeleteRequest::default().into(),
        other => panic!("no default request for {other:?}"),
    }
}

#[tokio::test]
async fn every_api_answers_at_every_version() {
    let b = TestBroker::start(1 << 20).await;
    let mut c = b.client().await;
    for &api in SUPPORTED_APIS {
        let range = crate::protocol::supported_versions(api).unwrap();
        for v in range.min..=range.max {
            c.call(api, v, default_request(api)).await;
        }
    }
    b.shutdown().await;
}

/// A v2 batch of `n` records with producer fields and compression bits set, CRC fixed up.
fn batch(n: usize, producer: Option<(i64, i16, i32)>, compression: i16) -> Bytes {
    let mut b = RecordBatchBuilder::new(1_700_000_000_000);
    for i in 0..n {
        b.append(
            1_700_000_000_000 + i as i64,
            Some(b"k"),
            Some(format!("v{i}").as_bytes()),
            &[],
        );
    }
    let mut data = b.finish_mut();
    let attributes = i16::from_be_bytes([data[21], data[22]]) | compression;
    data[21..23].copy_from_slice(&attributes.to_be_bytes());
    if let Some((pid, epoch, seq)) = producer {
        data[43..51].copy_from_slice(&pid.to_be_bytes());
        data[51..53].copy_from_slice(&epoch.to_be_bytes());
        data[53..57].copy_from_slice(&seq.to_be_bytes());
    }
    let crc = crc32c::crc32c(&data[21..]);
    data[17..21].copy_from_slice(&crc.to_be_bytes());
    data.freeze()
}

fn produce(topic: &str, partition: i32, acks: i16, records: Bytes) -> ProduceRequest {
    let mut part = produce_request::PartitionProduceData::default();
    part.index = partition;
    part.records = Some(records);
    let mut t = produce_request::TopicProduceData::default();
    t.name = TopicName(s(topic));
    t.partition_data.push(part);
    let mut r = ProduceRequest::default();
    r.acks = acks;
    r.timeout_ms = 1000;
    r.topic_data.push(t);
    r
}

fn produce_result(r: ResponseKind) -> (i16, i64) {
    let ResponseKind::Produce(r) = r else {
        panic!("{r:?}")
    };
    let p = &r.responses[0].partition_responses[0];
    (p.error_code, p.base_offset)
}

fn fetch(topic: &str, offset: i64, max_wait_ms: i32, min_bytes: i32) -> FetchRequest {
    let mut p = fetch_request::FetchPartition::default();
    p.partition = 0;
    p.fetch_offset = offset;
    p.partition_max_bytes = 1 << 20;
    let mut t = fetch_request::FetchTopic::default();
    t.topic = TopicName(s(topic));
    t.topic_id = handlers::topic_id(topic);
    t.partitions.push(p);
    let mut r = FetchRequest::default();
    r.max_wait_ms = max_wait_ms;
    r.min_bytes = min_bytes;
    r.max_bytes = 1 << 20;
    r.topics.push(t);
    r
}

fn fetched(r: ResponseKind) -> (i16, i64, Bytes) {
    let ResponseKind::Fetch(r) = r else {
        panic!("{r:?}")
    };
    let p = &r.responses[0].partitions[0];
    (
        p.error_code,
        p.high_watermark,
        p.records.clone().unwrap_or_default(),
    )
}

async fn create_topic(
    c: &mut Client,
    name: &str,
    partitions: i32,
    replication: i16,
) -> create_topics_response::CreatableTopicResult {
    let mut t = create_topics_request::CreatableTopic::default();
    t.name = TopicName(s(name));
    t.num_partitions = partitions;
    t.replication_factor = replication;
    let mut r = CreateTopicsRequest::default();
    r.topics.push(t);
    let ResponseKind::CreateTopics(resp) = c.call(ApiKey::CreateTopics, 7, r).await else {
        panic!()
    };
    resp.topics[0].clone()
}

#[tokio::test]
async fn produced_batches_are_fetched_byte_for_byte_compressed_or_not() {
    let b = TestBroker::start(1 << 20).await;
    let mut c = b.client().await;
    assert_eq!(create_topic(&mut c, "t", 1, 1).await.error_code, 0);
    let plain = batch(3, None, 0);
    let gzip = batch(2, None, 1); // attributes say gzip: stored as is, never decompressed
    let zstd = batch(4, None, 4);
    for (v, data, base) in [(3, &plain, 0), (9, &gzip, 3), (12, &zstd, 5)] {
        let r = c
            .call(ApiKey::Produce, v, produce("t", 0, -1, data.clone()))
            .await;
        assert_eq!(produce_result(r), (0, base));
    }
    for v in [4i16, 11, 12, 13, 16, 18] {
        let (err, hw, records) = fetched(c.call(ApiKey::Fetch, v, fetch("t", 0, 0, 1)).await);
        assert_eq!((err, hw), (0, 9), "fetch v{v}");
        let mut expected = BytesMut::new();
        for (data, base) in [(&plain, 0i64), (&gzip, 3), (&zstd, 5)] {
            let mut d = BytesMut::from(&data[..]);
            d[..8].copy_from_slice(&base.to_be_bytes());
            d[12..16].copy_from_slice(&0i32.to_be_bytes()); // leader epoch stamped by the broker
            expected.extend_from_slice(&d);
        }
        assert_eq!(records, expected.freeze(), "fetch v{v}");
    }
    // out of range
    let (err, _, _) = fetched(c.call(ApiKey::Fetch, 12, fetch("t", 100, 0, 1)).await);
    assert_eq!(err, E::OffsetOutOfRange.code());
    b.shutdown().await;
}

#[tokio::test]
async fn produce_refuses_old_formats_unknown_partitions_and_bad_acks() {
    let b = TestBroker::start(1 << 20).await;
    let mut c = b.client().await;
    assert_eq!(create_topic(&mut c, "t", 1, 1).await.error_code, 0);
    let mut old = BytesMut::from(&batch(1, None, 0)[..]);
    old[16] = 1; // magic 1
    let r = c
        .call(ApiKey::Produce, 7, produce("t", 0, 1, old.freeze()))
        .await;
    assert_eq!(produce_result(r).0, E::UnsupportedForMessageFormat.code());
    let r = c
        .call(ApiKey::Produce, 7, produce("t", 5, 1, batch(1, None, 0)))
        .await;
    assert_eq!(produce_result(r).0, E::UnknownTopicOrPartition.code());
    let r = c
        .call(ApiKey::Produce, 7, produce("nope", 0, 1, batch(1, None, 0)))
        .await;
    assert_eq!(produce_result(r).0, E::UnknownTopicOrPartition.code());
    let r = c
        .call(ApiKey::Produce, 7, produce("t", 0, 2, batch(1, None, 0)))
        .await;
    assert_eq!(produce_result(r).0, E::InvalidRequiredAcks.code());
    let mut bad_crc = BytesMut::from(&batch(1, None, 0)[..]);
    let last = bad_crc.len() - 1;
    bad_crc[last] ^= 0xff;
    let r = c
        .call(ApiKey::Produce, 7, produce("t", 0, 1, bad_crc.freeze()))
        .await;
    assert_eq!(produce_result(r).0, E::CorruptMessage.code());
    assert_eq!(b.log.partition("t", 0).unwrap().log_end_offset(), 0);
    b.shutdown().await;
}

#[tokio::test]
async fn acks_zero_gets_no_response_and_pipelined_requests_answer_in_order() {
    let b = TestBroker::start(1 << 20).await;
    let mut c = b.client().await;
    assert_eq!(create_topic(&mut c, "t", 1, 1).await.error_code, 0);
    // pipelined: acks=0 produce, acks=1 produce, metadata — two responses, in order
    c.send(
        ApiKey::Produce,
        9,
        &produce("t", 0, 0, batch(2, None, 0)).into(),
    )
    .await;
    let second = c
        .send(
            ApiKey::Produce,
            9,
            &produce("t", 0, 1, batch(1, None, 0)).into(),
        )
        .await;
    let third = c
        .send(ApiKey::Metadata, 12, &MetadataRequest::default().into())
        .await;
    assert_eq!(
        produce_result(c.recv(ApiKey::Produce, 9, second).await),
        (0, 2)
    );
    assert!(matches!(
        c.recv(ApiKey::Metadata, 12, third).await,
        ResponseKind::Metadata(_)
    ));
    b.shutdown().await;
}

#[tokio::test]
async fn idempotent_producers_get_kafkas_sequence_semantics() {
    let b = TestBroker::start(1 << 20).await;
    let mut c = b.client().await;
    assert_eq!(create_topic(&mut c, "t", 1, 1).await.error_code, 0);
    let ResponseKind::InitProducerId(init) = c
        .call(ApiKey::InitProducerId, 4, {
            let mut r = InitProducerIdRequest::default();
            r.transactional_id = None;
            r
        })
        .await
    else {
        panic!()
    };
    assert_eq!(init.error_code, 0);
    let (pid, epoch) = (init.producer_id.0, init.producer_epoch);
    assert!(pid >= 0);
    let send = |seq: i32, n: usize| produce("t", 0, -1, batch(n, Some((pid, epoch, seq)), 0));
    assert_eq!(
        produce_result(c.call(ApiKey::Produce, 9, send(0, 3)).await),
        (0, 0)
    );
    // the same batch again (a retry): success with the original offset, nothing appended
    assert_eq!(
        produce_result(c.call(ApiKey::Produce, 9, send(0, 3)).await),
        (0, 0)
    );
    assert_eq!(b.log.partition("t", 0).unwrap().log_end_offset(), 3);
    // a gap
    let r = c.call(ApiKey::Produce, 9, send(5, 1)).await;
    assert_eq!(produce_result(r).0, E::OutOfOrderSequenceNumber.code());
    assert_eq!(
        produce_result(c.call(ApiKey::Produce, 9, send(3, 2)).await),
        (0, 3)
    );
    // an older epoch after a bump
    let mut bump = InitProducerIdRequest::default();
    bump.transactional_id = None;
    bump.producer_id = ProducerId(pid);
    bump.producer_epoch = epoch;
    let ResponseKind::InitProducerId(bumped) = c.call(ApiKey::InitProducerId, 4, bump).await else {
        panic!()
    };
    assert_eq!(
        (bumped.producer_id.0, bumped.producer_epoch),
        (pid, epoch + 1)
    );
    let r = c
        .call(
            ApiKey::Produce,
            9,
            produce("t", 0, -1, batch(1, Some((pid, epoch + 1, 0)), 0)),
        )
        .await;
    assert_eq!(produce_result(r), (0, 5));
    let r = c.call(ApiKey::Produce, 9, send(5, 1)).await;
    assert_eq!(produce_result(r).0, E::InvalidProducerEpoch.code());
    // transactions are refused clearly
    let mut txn = InitProducerIdRequest::default();
    txn.transactional_id = Some(TransactionalId(s("tx")));
    let ResponseKind::InitProducerId(r) = c.call(ApiKey::InitProducerId, 4, txn).await else {
        panic!()
    };
    assert_ne!(r.error_code, 0);
    b.shutdown().await;
}

#[tokio::test]
async fn fetch_long_polls_until_data_arrives_or_max_wait() {
    let b = TestBroker::start(1 << 20).await;
    let mut c = b.client().await;
    assert_eq!(create_topic(&mut c, "t", 1, 1).await.error_code, 0);
    let started = Instant::now();
    let (err, _, records) = fetched(c.call(ApiKey::Fetch, 12, fetch("t", 0, 300, 1)).await);
    assert!((err, records.len()) == (0, 0));
    assert!(
        started.elapsed() >= Duration::from_millis(280),
        "waited max_wait_ms"
    );
    let mut producer = b.client().await;
    let poll = tokio::spawn(async move {
        let started = Instant::now();
        let r = fetched(c.call(ApiKey::Fetch, 12, fetch("t", 0, 10_000, 1)).await);
        (r, started.elapsed())
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    producer
        .call(ApiKey::Produce, 9, produce("t", 0, 1, batch(2, None, 0)))
        .await;
    let ((err, hw, records), waited) = poll.await.unwrap();
    assert_eq!((err, hw), (0, 2));
    assert!(!records.is_empty());
    assert!(
        waited < Duration::from_secs(5),
        "answered when data arrived, not at max_wait"
    );
    b.shutdown().await;
}

#[tokio::test]
async fn admin_requests_report_clear_errors() {
    let b = TestBroker::start(1 << 20).await;
    let mut c = b.client().await;
    let r = create_topic(&mut c, "rf3", 1, 3).await;
    assert_eq!(r.error_code, E::InvalidReplicationFactor.code());
    assert!(r.error_message.unwrap().contains("replication"));
    assert_eq!(
        create_topic(&mut c, "ok", -1, -1).await.num_partitions,
        2,
        "num.partitions"
    );
    assert_eq!(
        create_topic(&mut c, "ok", 1, 1).await.error_code,
        E::TopicAlreadyExists.code()
    );
    assert_eq!(
        create_topic(&mut c, "bad/name", 1, 1).await.error_code,
        E::InvalidTopicException.code()
    );
    // CreatePartitions: 2 -> 4 works, shrinking and foreign replicas do not.
    for (count, broker, code) in [
        (4, None, 0),
        (3, None, E::InvalidPartitions.code()),
        (5, Some(7), E::InvalidReplicaAssignment.code()),
    ] {
        let mut cp = create_partitions_request::CreatePartitionsTopic::default();
        cp.name = TopicName(s("ok"));
        cp.count = count;
        cp.assignments = broker.map(|b| {
            let mut a = create_partitions_request::CreatePartitionsAssignment::default();
            a.broker_ids = vec![BrokerId(b)];
            vec![a]
        });
        let mut req = CreatePartitionsRequest::default();
        req.topics.push(cp);
        let ResponseKind::CreatePartitions(r) = c.call(ApiKey::CreatePartitions, 3, req).await
        else {
            panic!()
        };
        assert_eq!(r.results[0].error_code, code, "{:?}", r.results[0]);
    }
    assert_eq!(b.log.topic("ok").unwrap().partitions, 4);
    // IncrementalAlterConfigs: all operations of a resource apply together or not at all.
    let op = |name: &str, op: i8, value: Option<&str>| {
        let mut c = incremental_alter_configs_request::AlterableConfig::default();
        c.name = s(name);
        c.config_operation = op;
        c.value = value.map(s);
        c
    };
    let alter = |ops: Vec<incremental_alter_configs_request::AlterableConfig>| {
        let mut res = incremental_alter_configs_request::AlterConfigsResource::default();
        res.resource_type = 2;
        res.resource_name = s("ok");
        res.configs = ops;
        let mut req = IncrementalAlterConfigsRequest::default();
        req.resources.push(res);
        req
    };
    let req = alter(vec![
        op("retention.ms", 0, Some("1000")),
        op("segment.bytes", 0, Some("-5")),
    ]);
    let ResponseKind::IncrementalAlterConfigs(r) =
        c.call(ApiKey::IncrementalAlterConfigs, 1, req).await
    else {
        panic!()
    };
    assert_eq!(r.responses[0].error_code, E::InvalidConfig.code());
    assert!(b.log.topic("ok").unwrap().configs.is_empty());
    let req = alter(vec![
        op("retention.ms", 0, Some("1000")),
        op("cleanup.policy", 2, Some("compact")),
    ]);
    let ResponseKind::IncrementalAlterConfigs(r) =
        c.call(ApiKey::IncrementalAlterConfigs, 1, req).await
    else {
        panic!()
    };
    assert_eq!(r.responses[0].error_code, 0, "{:?}", r.responses[0]);
    let p = b.log.partition("ok", 3).unwrap();
    assert_eq!(p.config().retention_ms, Some(1000));
    assert!(p.config().cleanup_policy.compact && p.config().cleanup_policy.delete);
    let req = alter(vec![
        op("retention.ms", 1, None),
        op("retention.ms", 1, None),
    ]);
    let ResponseKind::IncrementalAlterConfigs(r) =
        c.call(ApiKey::IncrementalAlterConfigs, 0, req).await
    else {
        panic!()
    };
    assert_eq!(r.responses[0].error_code, E::InvalidRequest.code());
    let mut res = describe_configs_request::DescribeConfigsResource::default();
    res.resource_type = 2;
    res.resource_name = s("ok");
    res.configuration_keys = None;
    let mut req = DescribeConfigsRequest::default();
    req.resources.push(res);
    let ResponseKind::DescribeConfigs(r) = c.call(ApiKey::DescribeConfigs, 4, req).await else {
        panic!()
    };
    assert_eq!(r.results[0].error_code, 0);
    assert!(
        r.results[0]
            .configs
            .iter()
            .any(|c| c.name.as_str() == "retention.ms")
    );
    // auto-creation through Metadata, and a topic error for an invalid name
    let mut md = MetadataRequest::default();
    md.topics = Some(vec![
        {
            let mut t = metadata_request::MetadataRequestTopic::default();
            t.name = Some(TopicName(s("auto")));
            t
        },
        {
            let mut t = metadata_request::MetadataRequestTopic::default();
            t.name = Some(TopicName(s("bad name!")));
            t
        },
    ]);
    let ResponseKind::Metadata(r) = c.call(ApiKey::Metadata, 12, md).await else {
        panic!()
    };
    assert_eq!(
        (r.topics[0].error_code, r.topics[0].partitions.len()),
        (0, 2)
    );
    assert_eq!(r.topics[1].error_code, E::InvalidTopicException.code());
    b.shutdown().await;
}

#[tokio::test]
async fn bad_frames_close_only_their_connection() {
    let b = TestBroker::start(4096).await;
    let mut healthy = b.client().await;
    healthy
        .call(ApiKey::ApiVersions, 3, ApiVersionsRequest::default())
        .await;

    // oversized frame
    let mut c = b.client().await;
    c.stream.write_all(&100_000i32.to_be_bytes()).await.unwrap();
    assert!(c.closed().await, "oversized frame closes the connection");
    // negative size
    let mut c = b.client().await;
    c.stream.write_all(&(-5i32).to_be_bytes()).await.unwrap();
    assert!(c.closed().await);
    // unknown API key
    let mut c = b.client().await;
    c.stream
        .write_all(&[0, 0, 0, 8, 0x7f, 0x00, 0, 0, 0, 0, 0, 1])
        .await
        .unwrap();
    assert!(c.closed().await);
    // garbage body of a known API
    let mut c = b.client().await;
    c.stream
        .write_all(&[0, 0, 0, 12, 0, 3, 0, 12, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0x7f])
        .await
        .unwrap();
    assert!(c.closed().await);
    // a too-short frame
    let mut c = b.client().await;
    c.stream.write_all(&[0, 0, 0, 2, 0, 18]).await.unwrap();
    assert!(c.closed().await);
    // disconnect in the middle of a frame
    let mut c = b.client().await;
    c.stream
        .write_all(&[0, 0, 0, 100, 0, 18, 0, 3])
        .await
        .unwrap();
    drop(c);
    // ApiVersions at an unknown version: a v0 answer, and the connection stays usable
    let mut c = b.client().await;
    let id = c
        .send(
            ApiKey::ApiVersions,
            3,
            &ApiVersionsRequest::default().into(),
        )
        .await;
    c.recv(ApiKey::ApiVersions, 3, id).await;
    c.stream
        .write_all(&[0, 0, 0, 10, 0, 18, 0, 77, 0, 0, 0, 9, 0xff, 0xff])
        .await
        .unwrap();
    let ResponseKind::ApiVersions(r) = c.recv(ApiKey::ApiVersions, 0, 9).await else {
        panic!()
    };
    assert_eq!(r.error_code, E::UnsupportedVersion.code());
    c.call(ApiKey::ApiVersions, 3, ApiVersionsRequest::default())
        .await;

    // everyone else is still served
    healthy
        .call(ApiKey::Metadata, 12, MetadataRequest::default())
        .await;
    b.client()
        .await
        .call(ApiKey::ApiVersions, 0, ApiVersionsRequest::default())
        .await;
    b.shutdown().await;
}

#[tokio::test]
async fn consumer_group_over_the_wire_with_offsets() {
    let b = TestBroker::start(1 << 20).await;
    let mut c = b.client().await;
    let mut fc = FindCoordinatorRequest::default();
    fc.key = s("g");
    let ResponseKind::FindCoordinator(r) = c.call(ApiKey::FindCoordinator, 3, fc).await else {
        panic!()
    };
    assert_eq!((r.error_code, r.port), (0, i32::from(b.addr.port())));
    let mut join = JoinGroupRequest::default();
    join.group_id = GroupId(s("g"));
    join.session_timeout_ms = 1000;
    join.rebalance_timeout_ms = 5000;
    join.protocol_type = s("connect");
    let mut p = join_group_request::JoinGroupRequestProtocol::default();
    p.name = s("default");
    p.metadata = Bytes::from_static(b"worker-metadata");
    join.protocols.push(p);
    let ResponseKind::JoinGroup(j) = c.call(ApiKey::JoinGroup, 9, join).await else {
        panic!()
    };
    assert_eq!((j.error_code, j.generation_id), (0, 1));
    assert_eq!(j.protocol_type.as_deref(), Some("connect"));
    let mut sync = SyncGroupRequest::default();
    sync.group_id = GroupId(s("g"));
    sync.generation_id = 1;
    sync.member_id = j.member_id.clone();
    sync.protocol_type = Some(s("connect"));
    sync.protocol_name = Some(s("default"));
    let mut a = sync_group_request::SyncGroupRequestAssignment::default();
    a.member_id = j.member_id.clone();
    a.assignment = Bytes::from_static(b"tasks");
    sync.assignments.push(a);
    let ResponseKind::SyncGroup(sg) = c.call(ApiKey::SyncGroup, 5, sync).await else {
        panic!()
    };
    assert_eq!((sg.error_code, &sg.assignment[..]), (0, &b"tasks"[..]));
    let mut commit = OffsetCommitRequest::default();
    commit.group_id = GroupId(s("g"));
    commit.generation_id_or_member_epoch = 1;
    commit.member_id = j.member_id.clone();
    let mut t = offset_commit_request::OffsetCommitRequestTopic::default();
    t.name = TopicName(s("t"));
    let mut p = offset_commit_request::OffsetCommitRequestPartition::default();
    p.partition_index = 0;
    p.committed_offset = 42;
    t.partitions.push(p);
    commit.topics.push(t);
    let ResponseKind::OffsetCommit(r) = c.call(ApiKey::OffsetCommit, 8, commit).await else {
        panic!()
    };
    assert_eq!(r.topics[0].partitions[0].error_code, 0);
    for v in [1i16, 7, 8, 9] {
        let mut f = OffsetFetchRequest::default();
        if v >= 8 {
            let mut g = offset_fetch_request::OffsetFetchRequestGroup::default();
            g.group_id = GroupId(s("g"));
            g.topics = None;
            f.groups.push(g);
        } else {
            f.group_id = GroupId(s("g"));
            f.topics = None;
        }
        let ResponseKind::OffsetFetch(r) = c.call(ApiKey::OffsetFetch, v, f).await else {
            panic!()
        };
        let offset = if v >= 8 {
            r.groups[0].topics[0].partitions[0].committed_offset
        } else {
            r.topics[0].partitions[0].committed_offset
        };
        assert_eq!(offset, 42, "OffsetFetch v{v}");
    }
    let mut del = DeleteGroupsRequest::default();
    del.groups_names.push(GroupId(s("g")));
    let ResponseKind::DeleteGroups(r) = c.call(ApiKey::DeleteGroups, 2, del.clone()).await else {
        panic!()
    };
    assert_eq!(r.results[0].error_code, E::NonEmptyGroup.code());
    let mut leave = LeaveGroupRequest::default();
    leave.group_id = GroupId(s("g"));
    let mut m = leave_group_request::MemberIdentity::default();
    m.member_id = j.member_id.clone();
    leave.members.push(m);
    let ResponseKind::LeaveGroup(r) = c.call(ApiKey::LeaveGroup, 5, leave).await else {
        panic!()
    };
    assert_eq!((r.error_code, r.members[0].error_code), (0, 0));
    let ResponseKind::DeleteGroups(r) = c.call(ApiKey::DeleteGroups, 2, del).await else {
        panic!()
    };
    assert_eq!(r.results[0].error_code, 0);
    b.shutdown().await;
}

#[tokio::test]
async fn list_offsets_and_delete_topics() {
    let b = TestBroker::start(1 << 20).await;
    let mut c = b.client().await;
    assert_eq!(create_topic(&mut c, "t", 1, 1).await.error_code, 0);
    c.call(ApiKey::Produce, 9, produce("t", 0, 1, batch(3, None, 0)))
        .await;
    let list = |ts: i64| {
        let mut p = list_offsets_request::ListOffsetsPartition::default();
        p.partition_index = 0;
        p.timestamp = ts;
        let mut t = list_offsets_request::ListOffsetsTopic::default();
        t.name = TopicName(s("t"));
        t.partitions.push(p);
        let mut r = ListOffsetsRequest::default();
        r.topics.push(t);
        r
    };
    for (v, ts, want) in [
        (1i16, -2i64, 0i64),
        (7, -1, 3),
        (10, 1_700_000_000_001, 1),
        (5, 1_800_000_000_000, -1),
    ] {
        let ResponseKind::ListOffsets(r) = c.call(ApiKey::ListOffsets, v, list(ts)).await else {
            panic!()
        };
        let p = &r.topics[0].partitions[0];
        assert_eq!(
            (p.error_code, p.offset),
            (0, want),
            "ListOffsets v{v} at {ts}"
        );
    }
    let mut del = DeleteTopicsRequest::default();
    del.topic_names = vec![TopicName(s("t")), TopicName(s("missing"))];
    let ResponseKind::DeleteTopics(r) = c.call(ApiKey::DeleteTopics, 5, del).await else {
        panic!()
    };
    assert_eq!(r.responses[0].error_code, 0);
    assert_eq!(r.responses[1].error_code, E::UnknownTopicOrPartition.code());
    assert!(b.log.topic("t").is_none());
    b.shutdown().await;
}

#[tokio::test]
async fn a_retry_after_a_restart_is_still_a_duplicate() {
    let b = TestBroker::start(1 << 20).await;
    let mut c = b.client().await;
    assert_eq!(create_topic(&mut c, "t", 1, 1).await.error_code, 0);
    let (pid, epoch) = (12345i64, 0i16);
    let send = |seq: i32, n: usize| produce("t", 0, -1, batch(n, Some((pid, epoch, seq)), 0));
    c.call(ApiKey::Produce, 9, send(0, 2)).await;
    c.call(ApiKey::Produce, 9, send(2, 3)).await;
    // a second server on the same log has no producer state in memory
    let log = b.log.clone();
    let again = Broker::bind(BrokerConfig::new("127.0.0.1:0".parse().unwrap()), log)
        .await
        .unwrap();
    let addr = again.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(again.run(async {
        let _ = rx.await;
    }));
    let mut c2 = Client {
        stream: TcpStream::connect(addr).await.unwrap(),
        next: 0,
    };
    assert_eq!(
        produce_result(c2.call(ApiKey::Produce, 9, send(2, 3)).await),
        (0, 2)
    );
    assert_eq!(b.log.partition("t", 0).unwrap().log_end_offset(), 5);
    let r = c2.call(ApiKey::Produce, 9, send(9, 1)).await;
    assert_eq!(produce_result(r).0, E::OutOfOrderSequenceNumber.code());
    assert_eq!(
        produce_result(c2.call(ApiKey::Produce, 9, send(5, 1)).await),
        (0, 5)
    );
    let _ = tx.send(());
    task.await.unwrap();
    b.shutdown().await;
}

#[tokio::test]
async fn offset_delete_over_the_wire() {
    let b = TestBroker::start(1 << 20).await;
    let mut c = b.client().await;
    let mut commit = OffsetCommitRequest::default();
    commit.group_id = GroupId(s("connect-sink"));
    commit.generation_id_or_member_epoch = -1;
    let mut t = offset_commit_request::OffsetCommitRequestTopic::default();
    t.name = TopicName(s("t"));
    for (partition, offset) in [(0, 4), (1, 8)] {
        let mut p = offset_commit_request::OffsetCommitRequestPartition::default();
        p.partition_index = partition;
        p.committed_offset = offset;
        t.partitions.push(p);
    }
    commit.topics.push(t);
    let ResponseKind::OffsetCommit(r) = c.call(ApiKey::OffsetCommit, 8, commit).await else {
        panic!()
    };
    assert_eq!(r.topics[0].partitions[1].error_code, 0);
    let delete = |group: &str| {
        let mut d = OffsetDeleteRequest::default();
        d.group_id = GroupId(s(group));
        let mut t = offset_delete_request::OffsetDeleteRequestTopic::default();
        t.name = TopicName(s("t"));
        let mut p = offset_delete_request::OffsetDeleteRequestPartition::default();
        p.partition_index = 0;
        t.partitions.push(p);
        d.topics.push(t);
        d
    };
    let ResponseKind::OffsetDelete(r) = c
        .call(ApiKey::OffsetDelete, 0, delete("connect-sink"))
        .await
    else {
        panic!()
    };
    assert_eq!(r.error_code, 0);
    assert_eq!(
        (
            r.topics[0].name.0.as_str(),
            r.topics[0].partitions[0].error_code
        ),
        ("t", 0)
    );
    let mut f = OffsetFetchRequest::default();
    f.group_id = GroupId(s("connect-sink"));
    f.topics = None;
    let ResponseKind::OffsetFetch(r) = c.call(ApiKey::OffsetFetch, 7, f).await else {
        panic!()
    };
    let left: Vec<(i32, i64)> = r.topics[0]
        .partitions
        .iter()
        .map(|p| (p.partition_index, p.committed_offset))
        .collect();
    assert_eq!(left, vec![(1, 8)]);
    let ResponseKind::OffsetDelete(r) = c.call(ApiKey::OffsetDelete, 0, delete("nobody")).await
    else {
        panic!()
    };
    assert_eq!(r.error_code, E::GroupIdNotFound.code());
    b.shutdown().await;
}
