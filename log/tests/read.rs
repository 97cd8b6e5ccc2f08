//! `PartitionLog::read_into` answers exactly what `read` answers, with a reused buffer.

mod common;

use std::collections::BTreeMap;

use common::{Rng, batch_at};
use ferry_log::Error;
use ferry_log::{LogConfig, LogManager};

#[test]
fn read_into_matches_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let m = LogManager::open(LogConfig::new(dir.path())).expect("open");
    let configs = BTreeMap::from([("segment.bytes".to_owned(), "5000".to_owned())]);
    m.create_topic("t", 1, configs).expect("create");
    let p = m.partition("t", 0).expect("partition");
    let mut rng = Rng::new(9);
    while p.log_end_offset() < 600 {
        let n = 1 + rng.below(9) as i64;
        p.append(batch_at(p.log_end_offset(), n)).expect("append");
    }
    assert!(p.segment_count() > 3);
    let end = p.log_end_offset();
    let mut buf = Vec::new();
    for _ in 0..300 {
        let offset = rng.below(end as u64 + 1) as i64;
        let max = [1, 100, 3000, 10_000, 1 << 20][rng.below(5) as usize];
        let r = p.read(offset, max).expect("read");
        let info = p.read_into(offset, max, &mut buf).expect("read_into");
        assert_eq!(&buf[..], &r.data[..], "offset {offset}, max {max}");
        assert_eq!(info.high_watermark, r.high_watermark);
        assert_eq!(info.log_start_offset, r.log_start_offset);
    }
    p.read_into(0, 1 << 20, &mut buf).expect("read_into");
    p.read_into(end, 1 << 20, &mut buf).expect("read at end");
    assert!(buf.is_empty());
    assert!(matches!(
        p.read_into(end + 1, 100, &mut buf),
        Err(Error::OffsetOutOfRange { .. })
    ));
}
