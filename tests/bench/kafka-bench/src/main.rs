//! One librdkafka client process for the broker benchmark (tests/bench/broker.sh): produces or
//! consumes fixed-size records as fast as it can (or at a given rate) and prints one line of
//! `key=value` figures.
//!
//! ```text
//! ferry-kafka-bench produce BROKERS TOPIC --records N [--size 100] [--acks 1|all|0]
//!     [--partitions 1] [--rate R] [--linger-ms 5] [--idempotence] [--nagle-disable]
//!     [--secs LIMIT]
//! ferry-kafka-bench consume BROKERS TOPIC --records N [--partitions 1] [--secs LIMIT]
//! ```
//!
//! Produce latency is librdkafka's delivery-report latency of every 16th record: from the
//! `produce()` call to the acknowledgement (so it includes `linger.ms` and time queued in the
//! client). A BaseProducer is polled on the sending thread, so there is one thread of work in
//! the client besides librdkafka's own broker threads, as in `rdkafka_performance`.

use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{ClientContext, Offset, TopicPartitionList};

#[derive(Debug)]
struct Args {
    mode: String,
    brokers: String,
    topic: String,
    records: u64,
    size: usize,
    acks: String,
    partitions: i32,
    rate: Option<f64>,
    linger_ms: u32,
    idempotence: bool,
    nagle_disable: bool,
    limit: Duration,
}

fn parse() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let mode = it
        .next()
        .ok_or("usage: ferry-kafka-bench produce|consume BROKERS TOPIC ...")?;
    let brokers = it.next().ok_or("missing BROKERS")?;
    let topic = it.next().ok_or("missing TOPIC")?;
    let mut a = Args {
        mode,
        brokers,
        topic,
        records: 1_000_000,
        size: 100,
        acks: "1".into(),
        partitions: 1,
        rate: None,
        linger_ms: 5,
        idempotence: false,
        nagle_disable: false,
        limit: Duration::from_secs(120),
    };
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let bad = |v: &str| format!("bad value for {flag}: {v}");
        match flag.as_str() {
            "--records" => {
                let v = value()?;
                a.records = v.parse().map_err(|_| bad(&v))?
            }
            "--size" => {
                let v = value()?;
                a.size = v.parse().map_err(|_| bad(&v))?
            }
            "--acks" => a.acks = value()?,
            "--partitions" => {
                let v = value()?;
                a.partitions = v.parse().map_err(|_| bad(&v))?
            }
            "--rate" => {
                let v = value()?;
                a.rate = Some(v.parse().map_err(|_| bad(&v))?)
            }
            "--linger-ms" => {
                let v = value()?;
                a.linger_ms = v.parse().map_err(|_| bad(&v))?
            }
            "--secs" => {
                let v = value()?;
                a.limit = Duration::from_secs(v.parse().map_err(|_| bad(&v))?)
            }
            "--idempotence" => a.idempotence = true,
            "--nagle-disable" => a.nagle_disable = true,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(a)
}

/// Delivery reports: latency of each acknowledged record (µs) and failures.
struct Reports {
    start: Instant,
    latencies_us: Mutex<Vec<u32>>,
    delivered: AtomicU64,
    failed: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl ClientContext for Reports {}

impl ProducerContext for Reports {
    /// Nanoseconds since `start` when the record was produced, plus 1; 0 for records whose
    /// latency is not sampled.
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, sent_ns: usize) {
        match result {
            Ok(_) => {
                if sent_ns > 0 {
                    let now = self.start.elapsed().as_nanos() as usize;
                    let us = (now.saturating_sub(sent_ns - 1) / 1000) as u32;
                    if let Ok(mut l) = self.latencies_us.lock() {
                        l.push(us);
                    }
                }
                self.delivered.fetch_add(1, Ordering::Relaxed);
            }
            Err((e, _)) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut f) = self.first_error.lock() {
                    f.get_or_insert_with(|| e.to_string());
                }
            }
        }
    }
}

/// One record in this many has its delivery latency measured.
const LATENCY_SAMPLE: u64 = 16;

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    f64::from(sorted[i]) / 1000.0
}

fn produce(a: &Args) -> Result<(), String> {
    let reports = Reports {
        start: Instant::now(),
        latencies_us: Mutex::new(Vec::with_capacity(a.records as usize)),
        delivered: AtomicU64::new(0),
        failed: AtomicU64::new(0),
        first_error: Mutex::new(None),
    };
    let producer: BaseProducer<Reports> = ClientConfig::new()
        .set("bootstrap.servers", &a.brokers)
        .set("acks", &a.acks)
        .set("linger.ms", a.linger_ms.to_string())
        .set("enable.idempotence", a.idempotence.to_string())
        .set("socket.nagle.disable", a.nagle_disable.to_string())
        .set("compression.codec", "none")
        .set("queue.buffering.max.messages", "1000000")
        .set("queue.buffering.max.kbytes", "1048576")
        .set("message.timeout.ms", "60000")
        .create_with_context(reports)
        .map_err(|e| format!("cannot create the producer: {e}"))?;
    // Connect and learn the topic before the clock starts.
    producer
        .client()
        .fetch_metadata(Some(&a.topic), Duration::from_secs(10))
        .map_err(|e| format!("metadata of {}: {e}", a.topic))?;
    let payload = vec![b'x'; a.size];
    let start = Instant::now();
    let ctx_start = producer.context().start;
    let deadline = start + a.limit;
    // Records go to partitions in runs of 10000 so each partition still gets large batches.
    let partition = |i: u64| ((i / 10_000) % a.partitions.max(1) as u64) as i32;
    let mut i = 0u64;
    while i < a.records {
        if let Some(rate) = a.rate
            && i % 100 == 0
        {
            let due = start + Duration::from_secs_f64(i as f64 / rate);
            let now = Instant::now();
            if due > now {
                producer.poll(due - now);
                continue;
            }
        }
        // Reading the clock per record would cost the client ~15% of its time: every
        // LATENCY_SAMPLE-th record's latency is measured.
        let sent = if i % LATENCY_SAMPLE == 0 {
            ctx_start.elapsed().as_nanos() as usize + 1
        } else {
            0
        };
        let record = BaseRecord::with_opaque_to(&a.topic, sent)
            .payload(&payload[..])
            .partition(partition(i));
        match producer.send::<[u8], [u8]>(record) {
            Ok(()) => i += 1,
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                producer.poll(Duration::from_millis(1));
            }
            Err((e, _)) => return Err(format!("produce failed: {e}")),
        }
        if i % 1024 == 0 {
            producer.poll(Duration::ZERO);
            if Instant::now() > deadline {
                return Err(format!("time limit reached after {i} records"));
            }
        }
    }
    let flush_limit = deadline.saturating_duration_since(Instant::now());
    producer
        .flush(flush_limit.max(Duration::from_secs(1)))
        .map_err(|e| format!("flush: {e}"))?;
    let secs = start.elapsed().as_secs_f64();
    let r = producer.context();
    let delivered = r.delivered.load(Ordering::Relaxed);
    let failed = r.failed.load(Ordering::Relaxed);
    let mut lat = r.latencies_us.lock().map(|l| l.clone()).unwrap_or_default();
    lat.sort_unstable();
    println!(
        "produce records={delivered} failed={failed} secs={secs:.3} records_per_s={:.0} mb_per_s={:.1} p50_ms={:.2} p99_ms={:.2} p999_ms={:.2} max_ms={:.2}",
        delivered as f64 / secs,
        delivered as f64 * a.size as f64 / secs / 1e6,
        percentile(&lat, 0.50),
        percentile(&lat, 0.99),
        percentile(&lat, 0.999),
        percentile(&lat, 1.0),
    );
    if failed > 0 {
        let e = r.first_error.lock().ok().and_then(|e| e.clone());
        return Err(format!(
            "{failed} records failed, first: {}",
            e.unwrap_or_default()
        ));
    }
    Ok(())
}

fn consume(a: &Args) -> Result<(), String> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &a.brokers)
        .set("group.id", "ferry-kafka-bench")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .set("fetch.wait.max.ms", "100")
        .create()
        .map_err(|e| format!("cannot create the consumer: {e}"))?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..a.partitions {
        tpl.add_partition_offset(&a.topic, p, Offset::Beginning)
            .map_err(|e| e.to_string())?;
    }
    consumer.assign(&tpl).map_err(|e| format!("assign: {e}"))?;
    let deadline = Instant::now() + a.limit;
    let mut count = 0u64;
    let mut bytes = 0u64;
    let mut start = None;
    while count < a.records {
        if count % 4096 == 0 && Instant::now() > deadline {
            return Err(format!("time limit reached after {count} records"));
        }
        match consumer.poll(Duration::from_millis(100)) {
            None => {}
            Some(Ok(m)) => {
                start.get_or_insert_with(Instant::now);
                count += 1;
                bytes += m.payload_len() as u64;
            }
            Some(Err(e)) => return Err(format!("consume failed: {e}")),
        }
    }
    // Timed from the first record received, so connecting and the first fetch's wait are out.
    let secs = start.map_or(0.0, |s| s.elapsed().as_secs_f64());
    println!(
        "consume records={count} secs={secs:.3} records_per_s={:.0} mb_per_s={:.1}",
        count as f64 / secs,
        bytes as f64 / secs / 1e6,
    );
    Ok(())
}

fn main() -> ExitCode {
    let result = parse().and_then(|a| match a.mode.as_str() {
        "produce" => produce(&a),
        "consume" => consume(&a),
        other => Err(format!("unknown mode {other}: produce or consume")),
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ferry-kafka-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
