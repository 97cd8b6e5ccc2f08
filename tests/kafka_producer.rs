//! The producer of `KafkaLog` against an in-process `ferry broker`, behind a TCP proxy that
//! counts Produce requests and can lose a response: batching with `linger.ms` and
//! `batch.size`, and idempotent retries that cannot write a record twice.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferry_api::TopicPartition;
use ferry_broker::server::{Broker, BrokerConfig};
use ferry_log::{LogConfig, LogManager};
use ferry_record::{RecordBatchBuilder, batches};
use ferry_runtime::log::{KafkaLog, Log, NewTopic, ProducerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy saw and what it should break.
#[derive(Default)]
struct Proxy {
    produce_requests: AtomicUsize,
    /// Drop the connection instead of forwarding the next Produce response (the broker has
    /// appended the records; the client never hears so).
    lose_next_produce_response: AtomicBool,
}

async fn read_frame(s: &mut (impl AsyncReadExt + Unpin)) -> Option<Vec<u8>> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).await.ok()?;
    let mut frame = vec![0u8; i32::from_be_bytes(len) as usize + 4];
    frame[..4].copy_from_slice(&len);
    s.read_exact(&mut frame[4..]).await.ok()?;
    Some(frame)
}

async fn pump(proxy: Arc<Proxy>, client: TcpStream, broker: std::net::SocketAddr) {
    let Ok(upstream) = TcpStream::connect(broker).await else {
        return;
    };
    let (mut cr, mut cw) = client.into_split();
    let (mut br, mut bw) = upstream.into_split();
    let (ids_tx, mut ids_rx) = tokio::sync::mpsc::unbounded_channel::<(i32, bool)>();
    let p = proxy.clone();
    let up = tokio::spawn(async move {
        while let Some(frame) = read_frame(&mut cr).await {
            let api = i16::from_be_bytes([frame[4], frame[5]]);
            let id = i32::from_be_bytes([frame[8], frame[9], frame[10], frame[11]]);
            if api == 0 {
                p.produce_requests.fetch_add(1, Ordering::SeqCst);
            }
            let _ = ids_tx.send((id, api == 0));
            if bw.write_all(&frame).await.is_err() {
                return;
            }
        }
    });
    while let Some(frame) = read_frame(&mut br).await {
        let id = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
        let mut produce = false;
        while let Ok((req, is_produce)) = ids_rx.try_recv() {
            if req == id {
                produce = is_produce;
                break;
            }
        }
        if produce
            && proxy
                .lose_next_produce_response
                .swap(false, Ordering::SeqCst)
        {
            break; // closes both sides: the response is lost
        }
        if cw.write_all(&frame).await.is_err() {
            break;
        }
    }
    up.abort();
}

/// A broker on a free port, advertised at a proxy's port so that every connection the
/// client makes goes through the proxy.
struct Setup {
    proxy: Arc<Proxy>,
    addr: String,
    log: Arc<LogManager>,
    _dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(LogManager::open(LogConfig::new(dir.path())).unwrap());
    let front = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let front_addr = front.local_addr().unwrap();
    let mut config = BrokerConfig::new("127.0.0.1:0".parse().unwrap());
    config.advertised_port = Some(front_addr.port());
    let broker = Broker::bind(config, log.clone()).await.unwrap();
    let broker_addr = broker.local_addr().unwrap();
    tokio::spawn(broker.run(std::future::pending()));
    let proxy = Arc::new(Proxy::default());
    let p = proxy.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = front.accept().await {
            tokio::spawn(pump(p.clone(), client, broker_addr));
        }
    });
    Setup {
        proxy,
        addr: front_addr.to_string(),
        log,
        _dir: dir,
    }
}

fn batch(values: &[&str]) -> Bytes {
    let mut b = RecordBatchBuilder::new(1_000);
    for v in values {
        b.append(1_000, None, Some(v.as_bytes()), &[]);
    }
    b.finish()
}

/// Every record value of a partition, in offset order, with the batches' producer ids.
fn stored(log: &LogManager, topic: &str, partition: i32) -> (Vec<String>, Vec<i64>) {
    let p = log.partition(topic, partition).unwrap();
    let data = p.read(0, 64 << 20).unwrap().data;
    let (mut values, mut pids) = (Vec::new(), Vec::new());
    for b in batches(data) {
        let b = b.unwrap();
        assert!(b.crc_valid());
        pids.push(b.producer_id());
        for r in b.records() {
            values.push(String::from_utf8(r.unwrap().value.unwrap().to_vec()).unwrap());
        }
    }
    (values, pids)
}

async fn connect(s: &Setup, config: ProducerConfig) -> Arc<KafkaLog> {
    let log = KafkaLog::connect_with(std::slice::from_ref(&s.addr), "producer-test", config)
        .await
        .expect("connect");
    Arc::new(log)
}

async fn topic(log: &KafkaLog, name: &str, partitions: u32) {
    log.create_topic(NewTopic {
        name: name.into(),
        partitions,
        configs: Default::default(),
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_produce_response_is_retried_without_a_duplicate() {
    let s = setup().await;
    let log = connect(&s, ProducerConfig::default()).await;
    topic(&log, "idem", 1).await;
    let tp = TopicPartition::new("idem", 0);
    assert_eq!(log.append(&tp, batch(&["a", "b"])).await.unwrap(), 0);
    s.proxy
        .lose_next_produce_response
        .store(true, Ordering::SeqCst);
    let before = s.proxy.produce_requests.load(Ordering::SeqCst);
    // The broker appends c, d; the response is lost; the retry is a duplicate and gets the
    // first append's offset.
    assert_eq!(log.append(&tp, batch(&["c", "d"])).await.unwrap(), 2);
    assert!(
        s.proxy.produce_requests.load(Ordering::SeqCst) >= before + 2,
        "the batch was retried"
    );
    assert_eq!(log.append(&tp, batch(&["e"])).await.unwrap(), 4);
    let (values, pids) = stored(&s.log, "idem", 0);
    assert_eq!(values, ["a", "b", "c", "d", "e"]);
    assert!(pids.iter().all(|&p| p >= 0), "idempotent batches: {pids:?}");
}

/// The same lost response without idempotence writes the records twice: what the test
/// above guards against is real.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_idempotence_the_same_retry_duplicates() {
    let s = setup().await;
    let config = ProducerConfig {
        idempotence: false,
        ..ProducerConfig::default()
    };
    let log = connect(&s, config).await;
    topic(&log, "plain", 1).await;
    let tp = TopicPartition::new("plain", 0);
    s.proxy
        .lose_next_produce_response
        .store(true, Ordering::SeqCst);
    assert_eq!(log.append(&tp, batch(&["x"])).await.unwrap(), 1);
    let (values, pids) = stored(&s.log, "plain", 0);
    assert_eq!(values, ["x", "x"]);
    assert_eq!(pids, [-1, -1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_share_one_request_within_linger() {
    let s = setup().await;
    let config = ProducerConfig {
        linger: Duration::from_millis(300),
        ..ProducerConfig::default()
    };
    let log = connect(&s, config).await;
    topic(&log, "many", 4).await;
    let before = s.proxy.produce_requests.load(Ordering::SeqCst);
    let mut appends = tokio::task::JoinSet::new();
    for i in 0..12 {
        let log = log.clone();
        appends.spawn(async move {
            let tp = TopicPartition::new("many", i % 4);
            log.append(&tp, batch(&[&format!("v{i}")])).await.unwrap()
        });
    }
    let mut offsets = Vec::new();
    while let Some(o) = appends.join_next().await {
        offsets.push(o.unwrap());
    }
    offsets.sort();
    // 3 appends per partition: offsets 0, 1, 2 in each of the 4.
    assert_eq!(offsets, [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]);
    assert_eq!(
        s.proxy.produce_requests.load(Ordering::SeqCst) - before,
        1,
        "12 appends within linger.ms go in one request"
    );
    let mut all = Vec::new();
    for p in 0..4 {
        let (values, _) = stored(&s.log, "many", p);
        assert_eq!(values.len(), 3);
        all.extend(values);
    }
    all.sort();
    let mut expected: Vec<String> = (0..12).map(|i| format!("v{i}")).collect();
    expected.sort();
    assert_eq!(all, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_batch_does_not_wait_for_linger() {
    let s = setup().await;
    let config = ProducerConfig {
        linger: Duration::from_secs(5),
        batch_size: 64,
        ..ProducerConfig::default()
    };
    let log = connect(&s, config).await;
    topic(&log, "full", 1).await;
    let tp = TopicPartition::new("full", 0);
    let started = Instant::now();
    let big = "x".repeat(100);
    assert_eq!(log.append(&tp, batch(&[&big])).await.unwrap(), 0);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a batch of batch.size bytes went at once, not after linger.ms ({:?})",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_batch_fails_alone_and_the_partition_goes_on() {
    let s = setup().await;
    let log = connect(&s, ProducerConfig::default()).await;
    log.create_topic(NewTopic {
        name: "small".into(),
        partitions: 1,
        configs: [("max.message.bytes".to_string(), "200".to_string())].into(),
    })
    .await
    .unwrap();
    let tp = TopicPartition::new("small", 0);
    let e = log
        .append(&tp, batch(&[&"y".repeat(500)]))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("MESSAGE_TOO_LARGE"), "{e}");
    // The refused batch used no sequence numbers: the next one is in order.
    assert_eq!(log.append(&tp, batch(&["ok"])).await.unwrap(), 0);
    assert_eq!(stored(&s.log, "small", 0).0, ["ok"]);
}
