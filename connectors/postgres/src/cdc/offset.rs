//! The CDC task's offsets, written with each record and read back at start.
//!
//! Source partition `{"server": <topic.prefix>}`; offsets use Debezium's keys where they
//! exist:
//! - snapshot: `{"snapshot": true, "last_snapshot_record": <bool>, "lsn": <consistent
//!   point>, "lsn_resume": <consistent point>, "ts_usec": ...}`;
//! - streaming: `{"lsn": <the change>, "lsn_commit": <its transaction's commit>,
//!   "lsn_resume": <end of the transaction before>, "event": <position in its transaction>,
//!   "txId": ..., "ts_usec": <commit time>}`.
//!
//! The slot's confirmed flush LSN only moves to the `lsn_resume` of the committed offset
//! (or, once everything emitted is committed and no transaction is open, to the end of the
//! last transaction seen), so after a crash streaming restarts at `lsn_resume` and the
//! changes up to the committed `(lsn_commit, event)` are skipped: nothing is lost, and what
//! repeats is what was in the log but not yet committed.

use ferry_api::{SourceMap, Value};

use super::replication::Lsn;
use crate::types::calendar::PG_EPOCH_MICROS;

/// The source partition of a connector whose `topic.prefix` is `prefix`.
pub(super) fn partition(prefix: &str) -> SourceMap {
    SourceMap::single("server", Value::from(prefix))
}

/// Where the task is, from its committed offset (at start) or what it emitted (later).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) enum Position {
    /// Nothing committed.
    #[default]
    Nothing,
    /// A snapshot was under way; `done` when its last record was committed.
    Snapshot { lsn: Lsn, done: bool },
    /// Streaming: restart at `resume`, skip changes up to `(commit, event)`.
    Streaming {
        resume: Lsn,
        commit: Lsn,
        event: u64,
    },
}

impl Position {
    pub(super) fn from_offset(offset: Option<&SourceMap>) -> Position {
        let Some(o) = offset else {
            return Position::Nothing;
        };
        let get = |k: &str| o.get(k).and_then(Value::as_i64).map(|v| v as u64);
        if o.get("snapshot") == Some(&Value::Boolean(true)) {
            return Position::Snapshot {
                lsn: Lsn(get("lsn_resume").or(get("lsn")).unwrap_or(0)),
                done: o.get("last_snapshot_record") == Some(&Value::Boolean(true)),
            };
        }
        match (get("lsn_resume"), get("lsn_commit"), get("event")) {
            (Some(resume), Some(commit), Some(event)) => Position::Streaming {
                resume: Lsn(resume),
                commit: Lsn(commit),
                event,
            },
            // An offset without Ferry's keys (e.g. Debezium's): resume at its commit.
            _ => Position::Streaming {
                resume: Lsn(get("lsn_commit").or(get("lsn")).unwrap_or(0)),
                commit: Lsn(0),
                event: 0,
            },
        }
    }

    /// The LSN that can be confirmed once this position is durable.
    pub(super) fn confirmable(self) -> Lsn {
        match self {
            Position::Nothing => Lsn(0),
            Position::Snapshot { lsn, .. } => lsn,
            Position::Streaming { resume, .. } => resume,
        }
    }
}

/// An open transaction while streaming: what the offsets of its changes are made of, and
/// how many events it has had so far.
#[derive(Debug, Clone, Copy)]
pub(super) struct OpenTx {
    pub(super) xid: u32,
    pub(super) commit: Lsn,
    /// Microseconds since the Postgres epoch (2000-01-01).
    pub(super) commit_time: i64,
    pub(super) events: u64,
    pub(super) resume: Lsn,
}

impl OpenTx {
    /// The commit time in microseconds since the Unix epoch.
    pub(super) fn commit_time_unix_micros(&self) -> i64 {
        self.commit_time + PG_EPOCH_MICROS
    }
}

/// The offset of a snapshot record read at the slot's consistent `point`.
pub(super) fn snapshot_offset(point: Lsn, ts_ms: i64, last: bool) -> SourceMap {
    [
        ("snapshot", Value::Boolean(true)),
        ("last_snapshot_record", Value::Boolean(last)),
        ("lsn", Value::Int64(point.0 as i64)),
        ("lsn_resume", Value::Int64(point.0 as i64)),
        ("ts_usec", Value::Int64(ts_ms * 1000)),
    ]
    .into_iter()
    .collect()
}

/// The offset of the change at `lsn`, the `event`-th of transaction `tx`.
pub(super) fn change_offset(lsn: Lsn, tx: &OpenTx, event: u64) -> SourceMap {
    [
        ("lsn", Value::Int64(lsn.0 as i64)),
        ("lsn_commit", Value::Int64(tx.commit.0 as i64)),
        ("lsn_resume", Value::Int64(tx.resume.0 as i64)),
        ("event", Value::Int64(event as i64)),
        ("txId", Value::Int64(i64::from(tx.xid))),
        ("ts_usec", Value::Int64(tx.commit_time_unix_micros())),
    ]
    .into_iter()
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_read_back_from_the_offsets_written() {
        assert_eq!(Position::from_offset(None), Position::Nothing);
        let point = Lsn(0x1_0000_0010);
        let snapshot = snapshot_offset(point, 1_700_000_000_000, false);
        assert_eq!(
            Position::from_offset(Some(&snapshot)),
            Position::Snapshot {
                lsn: point,
                done: false
            }
        );
        let last = snapshot_offset(point, 1_700_000_000_000, true);
        assert_eq!(
            Position::from_offset(Some(&last)),
            Position::Snapshot {
                lsn: point,
                done: true
            }
        );
        let tx = OpenTx {
            xid: 7,
            commit: Lsn(300),
            commit_time: 0,
            events: 3,
            resume: Lsn(200),
        };
        let change = change_offset(Lsn(250), &tx, 2);
        assert_eq!(change.get("ts_usec"), Some(&Value::Int64(PG_EPOCH_MICROS)));
        let position = Position::from_offset(Some(&change));
        assert_eq!(
            position,
            Position::Streaming {
                resume: Lsn(200),
                commit: Lsn(300),
                event: 2
            }
        );
        assert_eq!(position.confirmable(), Lsn(200));
    }

    #[test]
    fn an_offset_without_ferrys_keys_resumes_at_its_commit() {
        let debezium: SourceMap = [
            ("lsn_commit", Value::Int64(500)),
            ("lsn", Value::Int64(400)),
        ]
        .into_iter()
        .collect();
        assert_eq!(
            Position::from_offset(Some(&debezium)),
            Position::Streaming {
                resume: Lsn(500),
                commit: Lsn(0),
                event: 0
            }
        );
    }
}
