//! The contract every [`Log`] implementation keeps, as one suite: the embedded log runs it in
//! unit tests, the Kafka-protocol client against a real `ferry broker` in
//! `tests/log_conformance.rs`. Public only so that integration tests can call it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferry_api::TopicPartition;
use ferry_record::{RecordBatchBuilder, batches};

use super::{Log, LogError, NewTopic};

fn batch(values: &[&str]) -> Bytes {
    let mut b = RecordBatchBuilder::new(1_000);
    for v in values {
        b.append(1_000, Some(b"k"), Some(v.as_bytes()), &[("h", Some(b"x"))]);
    }
    b.finish()
}

fn values(data: Bytes, from: i64) -> Vec<(i64, String)> {
    let mut out = Vec::new();
    for batch in batches(data) {
        for r in batch.expect("batch").records() {
            let r = r.expect("record");
            if r.offset >= from {
                let v = r.value.map(|v| String::from_utf8_lossy(&v).into_owned());
                out.push((r.offset, v.unwrap_or_default()));
            }
        }
    }
    out
}

/// Runs every check against `log`, using topics whose names start with `prefix`.
pub async fn run_all(log: Arc<dyn Log>, prefix: &str) {
    topics(log.as_ref(), prefix).await;
    append_and_fetch(log.as_ref(), prefix).await;
    long_poll(log.clone(), prefix).await;
    group_offsets(log.as_ref(), prefix).await;
}

async fn topics(log: &dyn Log, prefix: &str) {
    let name = format!("{prefix}-topics");
    assert_eq!(log.partition_count(&name).await.unwrap(), None);
    log.create_topic(NewTopic {
        name: name.clone(),
        partitions: 3,
        configs: Default::default(),
    })
    .await
    .unwrap();
    assert_eq!(log.partition_count(&name).await.unwrap(), Some(3));
    assert!(log.topics().await.unwrap().contains(&name));
    let again = log
        .create_topic(NewTopic {
            name: name.clone(),
            partitions: 3,
            configs: Default::default(),
        })
        .await;
    assert!(matches!(again, Err(LogError::TopicExists(_))), "{again:?}");
}

async fn append_and_fetch(log: &dyn Log, prefix: &str) {
    let name = format!("{prefix}-data");
    log.create_topic(NewTopic {
        name: name.clone(),
        partitions: 1,
        configs: Default::default(),
    })
    .await
    .unwrap();
    let tp = TopicPartition::new(name.as_str(), 0);
    assert_eq!(log.append(&tp, batch(&["a", "b"])).await.unwrap(), 0);
    assert_eq!(log.append(&tp, batch(&["c"])).await.unwrap(), 2);
    assert_eq!(log.offset_range(&tp).await.unwrap(), (0, 3));

    let fetched = log
        .fetch(&[(tp.clone(), 0)], 1 << 20, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(fetched.len(), 1);
    assert_eq!(fetched[0].high_watermark, 3);
    assert_eq!(
        values(fetched[0].batches.clone(), 0),
        [(0, "a".into()), (1, "b".into()), (2, "c".into())]
    );
    // From the middle of a batch: the whole batch comes, the caller skips.
    let fetched = log
        .fetch(&[(tp.clone(), 1)], 1 << 20, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(
        values(fetched[0].batches.clone(), 1),
        [(1, "b".into()), (2, "c".into())]
    );
    // Past the end.
    let err = log
        .fetch(&[(tp.clone(), 10)], 1 << 20, Duration::ZERO)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            LogError::OffsetOutOfRange {
                offset: 10,
                log_end: 3,
                ..
            }
        ),
        "{err:?}"
    );
}

async fn long_poll(log: Arc<dyn Log>, prefix: &str) {
    let name = format!("{prefix}-poll");
    log.create_topic(NewTopic {
        name: name.clone(),
        partitions: 1,
        configs: Default::default(),
    })
    .await
    .unwrap();
    let tp = TopicPartition::new(name.as_str(), 0);
    // Nothing there: the fetch waits about max_wait and returns empty.
    let start = Instant::now();
    let fetched = log
        .fetch(&[(tp.clone(), 0)], 1 << 20, Duration::from_millis(300))
        .await
        .unwrap();
    assert!(fetched.iter().all(|f| f.batches.is_empty()));
    assert!(
        start.elapsed() >= Duration::from_millis(250),
        "{:?}",
        start.elapsed()
    );
    // An append during the wait ends it early.
    let writer = {
        let log = log.clone();
        let tp = tp.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            log.append(&tp, batch(&["late"])).await.unwrap();
        })
    };
    let start = Instant::now();
    let fetched = log
        .fetch(&[(tp.clone(), 0)], 1 << 20, Duration::from_secs(10))
        .await
        .unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    writer.await.unwrap();
    assert_eq!(values(fetched[0].batches.clone(), 0), [(0, "late".into())]);
}

async fn group_offsets(log: &dyn Log, prefix: &str) {
    let name = format!("{prefix}-group");
    log.create_topic(NewTopic {
        name: name.clone(),
        partitions: 2,
        configs: Default::default(),
    })
    .await
    .unwrap();
    let group = format!("{prefix}-connect-sink");
    let p0 = TopicPartition::new(name.as_str(), 0);
    let p1 = TopicPartition::new(name.as_str(), 1);
    assert!(
        log.committed_offsets(&group, &[p0.clone(), p1.clone()])
            .await
            .unwrap()
            .is_empty()
    );
    log.commit_offsets(&group, &[(p0.clone(), 5), (p1.clone(), 7)])
        .await
        .unwrap();
    log.commit_offsets(&group, &[(p0.clone(), 6)])
        .await
        .unwrap();
    let committed = log
        .committed_offsets(&group, &[p0.clone(), p1.clone()])
        .await
        .unwrap();
    assert_eq!(committed.get(&p0), Some(&6));
    assert_eq!(committed.get(&p1), Some(&7));
    assert_eq!(
        log.group_offsets(&group).await.unwrap(),
        committed,
        "every committed offset of the group"
    );
    // Deleting offsets (OffsetDelete): the partition reads as never committed; deleting
    // what has no offset, or a group without any, is fine.
    log.delete_offsets(&group, std::slice::from_ref(&p0))
        .await
        .unwrap();
    let after = log
        .committed_offsets(&group, &[p0.clone(), p1.clone()])
        .await
        .unwrap();
    assert_eq!(after.get(&p0), None);
    assert_eq!(after.get(&p1), Some(&7));
    log.delete_offsets(&group, &[p0.clone(), p1.clone()])
        .await
        .unwrap();
    assert!(log.group_offsets(&group).await.unwrap().is_empty());
    log.delete_offsets(
        &format!("{prefix}-no-such-group"),
        std::slice::from_ref(&p0),
    )
    .await
    .unwrap();
    log.commit_offsets(&group, &[(p1.clone(), 9)])
        .await
        .unwrap();
    assert_eq!(
        log.committed_offsets(&group, std::slice::from_ref(&p1))
            .await
            .unwrap()
            .get(&p1),
        Some(&9),
        "a deleted offset can be committed again"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::EmbeddedLog;
    use ferry_log::LogConfig;

    #[tokio::test]
    async fn embedded_log_keeps_the_contract() {
        let dir = tempfile::tempdir().unwrap();
        let log = Arc::new(EmbeddedLog::open(LogConfig::new(dir.path())).unwrap());
        run_all(log, "emb").await;
    }
}
