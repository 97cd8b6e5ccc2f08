//! What the server's tests share: a broker on a temporary directory, served over real TCP,
//! and a client speaking the client side of the codec (or raw bytes). A test module needs
//! only `use crate::server::testing::*;` (the protocol's messages and error codes come with it).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
pub(super) use kafka_protocol::error::ResponseError as E;
pub(super) use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, Request, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{Broker, BrokerConfig, handlers};
use ferry_log::{LogConfig, LogManager};
use ferry_record::RecordBatchBuilder;

pub(super) struct TestBroker {
    pub(super) addr: SocketAddr,
    pub(super) log: Arc<LogManager>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    _dir: Option<tempfile::TempDir>,
}

impl TestBroker {
    /// A broker on a fresh directory, with `num.partitions` 2.
    pub(super) async fn start(max_frame: usize) -> TestBroker {
        let dir = tempfile::tempdir().unwrap();
        let log = Arc::new(LogManager::open(LogConfig::new(dir.path())).unwrap());
        let mut config = BrokerConfig::new("127.0.0.1:0".parse().unwrap());
        config.max_frame_size = max_frame;
        config.num_partitions = 2;
        let mut broker = TestBroker::serve(config, log).await;
        broker._dir = Some(dir);
        broker
    }

    /// A second server (default config) on this one's log, as after a restart: it has no
    /// producer state in memory.
    pub(super) async fn restarted(&self) -> TestBroker {
        let config = BrokerConfig::new("127.0.0.1:0".parse().unwrap());
        TestBroker::serve(config, self.log.clone()).await
    }

    async fn serve(config: BrokerConfig, log: Arc<LogManager>) -> TestBroker {
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
            _dir: None,
        }
    }

    pub(super) async fn client(&self) -> Client {
        Client {
            stream: TcpStream::connect(self.addr).await.unwrap(),
            next: 0,
        }
    }

    pub(super) async fn shutdown(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(10), &mut self.task)
            .await
            .expect("graceful shutdown")
            .unwrap();
    }
}

pub(super) struct Client {
    /// For tests that write raw bytes.
    pub(super) stream: TcpStream,
    next: i32,
}

pub(super) fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

impl Client {
    pub(super) async fn send(&mut self, api: ApiKey, version: i16, body: &RequestKind) -> i32 {
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
    pub(super) async fn frame(&mut self) -> Option<Bytes> {
        let mut len = [0u8; 4];
        tokio::time::timeout(Duration::from_secs(10), self.stream.read_exact(&mut len))
            .await
            .expect("response in time")
            .ok()?;
        let mut buf = vec![0u8; i32::from_be_bytes(len) as usize];
        self.stream.read_exact(&mut buf).await.ok()?;
        Some(Bytes::from(buf))
    }

    /// The body of the next response frame, once its header is checked.
    async fn response_body(&mut self, api: ApiKey, version: i16, correlation_id: i32) -> Bytes {
        let mut frame = self
            .frame()
            .await
            .expect("a response, not a closed connection");
        let header =
            ResponseHeader::decode(&mut frame, api.response_header_version(version)).unwrap();
        assert_eq!(header.correlation_id, correlation_id);
        frame
    }

    pub(super) async fn recv(
        &mut self,
        api: ApiKey,
        version: i16,
        correlation_id: i32,
    ) -> ResponseKind {
        let mut body = self.response_body(api, version, correlation_id).await;
        ResponseKind::decode(api, &mut body, version)
            .unwrap_or_else(|e| panic!("{api:?} v{version} response does not decode: {e:#}"))
    }

    /// Sends `body` at `version` and returns its response, of the request's own response type.
    pub(super) async fn request<R>(&mut self, version: i16, body: R) -> R::Response
    where
        R: Request + Into<RequestKind>,
    {
        let api = ApiKey::try_from(R::KEY).expect("a known API");
        let id = self.send(api, version, &body.into()).await;
        let mut body = self.response_body(api, version, id).await;
        R::Response::decode(&mut body, version)
            .unwrap_or_else(|e| panic!("{api:?} v{version} response does not decode: {e:#}"))
    }

    /// Sends `body` as `api` at `version` and returns its response.
    pub(super) async fn call(
        &mut self,
        api: ApiKey,
        version: i16,
        body: impl Into<RequestKind>,
    ) -> ResponseKind {
        let id = self.send(api, version, &body.into()).await;
        self.recv(api, version, id).await
    }

    pub(super) async fn closed(&mut self) -> bool {
        let mut b = [0u8; 1];
        matches!(
            tokio::time::timeout(Duration::from_secs(5), self.stream.read(&mut b)).await,
            Ok(Ok(0)) | Ok(Err(_))
        )
    }
}

/// A v2 batch of `n` records with producer fields and compression bits set, CRC fixed up.
pub(super) fn batch(n: usize, producer: Option<(i64, i16, i32)>, compression: i16) -> Bytes {
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

/// A produce request of `records` to one partition.
pub(super) fn produce(topic: &str, partition: i32, acks: i16, records: Bytes) -> ProduceRequest {
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

/// The error code and base offset of the first partition of a produce response.
pub(super) fn produce_result(r: ProduceResponse) -> (i16, i64) {
    let p = &r.responses[0].partition_responses[0];
    (p.error_code, p.base_offset)
}

/// A fetch request of partition 0 of `topic` (by name and by id, for every version).
pub(super) fn fetch(topic: &str, offset: i64, max_wait_ms: i32, min_bytes: i32) -> FetchRequest {
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

/// The error code, high watermark and records of the first partition of a fetch response.
pub(super) fn fetched(r: FetchResponse) -> (i16, i64, Bytes) {
    let p = &r.responses[0].partitions[0];
    (
        p.error_code,
        p.high_watermark,
        p.records.clone().unwrap_or_default(),
    )
}

/// CreateTopics of one topic; its result.
pub(super) async fn create_topic(
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
    c.request(7, r).await.topics[0].clone()
}
