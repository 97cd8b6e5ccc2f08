//! Kafka Connect's `connect` group protocol (docs/formats.md §4; Kafka's `ConnectProtocol`,
//! `IncrementalCooperativeConnectProtocol`, `ExtendedAssignment`,
//! `ConnectProtocolCompatibility`): the member metadata a worker sends in JoinGroup, and the
//! assignment the leader hands out through SyncGroup.
//!
//! Encoding uses the classic Kafka protocol types, big-endian: `INT16`/`INT32`/`INT64`,
//! `STRING` = `INT16` length + UTF-8, `ARRAY` = `INT32` count + elements (`-1` = null where
//! nullable), `NULLABLE_BYTES` = `INT32` length (`-1` = null) + bytes.
//!
//! Readers are tolerant as Kafka's are: any version ≥ 0 is read with the v1 layout, missing
//! trailing optional fields take their defaults (allocation/assignment/revoked null, delay
//! 0), and extra trailing bytes are ignored. Garbage is an error, never a panic.
//!
//! Ferry's extension: Ferry workers append their internal topic names ([`InternalTopics`])
//! after the last field of their metadata, and the leader after the last field of an
//! assignment that refuses a worker ([`TOPICS_MISMATCH`]). Kafka's readers ignore trailing
//! bytes, so the bytes stay readable by Java workers; a v0 message gets the v1 fields that
//! precede the extension (null allocation; null revocations and delay 0) so that the v1
//! layout reads it.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::lifecycle::TaskId;

/// JoinGroup's `protocol_type` for Connect workers.
pub const PROTOCOL_TYPE: &str = "connect";

/// Task number that stands for the connector instance itself in an assignment.
pub const CONNECTOR_TASK: i32 = -1;

/// Assignment error code: none.
pub const NO_ERROR: i16 = 0;
/// Assignment error code: the leader's config is behind a member's (`CONFIG_MISMATCH`).
pub const CONFIG_MISMATCH: i16 = 1;
/// Assignment error code (Ferry's): the member's internal topics are not the group's, so it
/// may not join; the assignment carries the group's [`InternalTopics`].
pub const TOPICS_MISMATCH: i16 = 2;

/// Tag of Ferry's trailing extension.
const EXTENSION_TAG: &str = "ferry.internal.topics";

/// The internal topics a worker uses (`config.storage.topic`, `offset.storage.topic`,
/// `status.storage.topic`): every worker of a group must use the same ones.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InternalTopics {
    /// `config.storage.topic`.
    pub config: String,
    /// `offset.storage.topic`.
    pub offset: String,
    /// `status.storage.topic`.
    pub status: String,
}

impl InternalTopics {
    /// The keys whose values differ from `other`'s, as `key: 'mine' vs 'theirs'`.
    pub fn differences(&self, other: &InternalTopics) -> Vec<String> {
        [
            ("config.storage.topic", &self.config, &other.config),
            ("offset.storage.topic", &self.offset, &other.offset),
            ("status.storage.topic", &self.status, &other.status),
        ]
        .into_iter()
        .filter(|(_, a, b)| a != b)
        .map(|(k, a, b)| format!("{k} is '{a}' here but '{b}' in the group"))
        .collect()
    }

    fn encode(&self, buf: &mut BytesMut) {
        put_string(buf, EXTENSION_TAG);
        put_string(buf, &self.config);
        put_string(buf, &self.offset);
        put_string(buf, &self.status);
    }

    /// The extension at the reader's position, if there is one (anything else: `None`).
    fn decode(r: &mut Reader<'_>) -> Option<InternalTopics> {
        if r.0.is_empty() || r.string("extension").ok()? != EXTENSION_TAG {
            return None;
        }
        Some(InternalTopics {
            config: r.string("config topic").ok()?,
            offset: r.string("offset topic").ok()?,
            status: r.string("status topic").ok()?,
        })
    }
}

/// Errors decoding the protocol's bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// The bytes end inside a required field.
    #[error("connect protocol: {what} is truncated")]
    Truncated {
        /// The field being read.
        what: &'static str,
    },
    /// A field holds a value the protocol does not allow.
    #[error("connect protocol: invalid {what}: {value}")]
    Invalid {
        /// The field.
        what: &'static str,
        /// The offending value.
        value: String,
    },
}

type Result<T, E = ProtocolError> = std::result::Result<T, E>;

/// `connect.protocol`: which group protocols a worker offers (Kafka's
/// `ConnectProtocolCompatibility`). Ordered by version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum ConnectProtocol {
    /// `eager`: protocol `default`, metadata v0; stop-the-world rebalances.
    Eager,
    /// `compatible`: protocol `compatible`, metadata v1; incremental cooperative.
    Compatible,
    /// `sessioned`: protocol `sessioned`, metadata v2; incremental cooperative with
    /// request signing (Kafka Connect's default).
    #[default]
    Sessioned,
}

impl ConnectProtocol {
    /// All modes, oldest first.
    pub const ALL: [ConnectProtocol; 3] = [
        ConnectProtocol::Eager,
        ConnectProtocol::Compatible,
        ConnectProtocol::Sessioned,
    ];

    /// Parses a `connect.protocol` value (`eager`, `compatible`, `sessioned`, any case).
    pub fn from_config(value: &str) -> Option<ConnectProtocol> {
        Self::ALL
            .into_iter()
            .find(|p| p.config_name().eq_ignore_ascii_case(value.trim()))
    }

    /// The `connect.protocol` value.
    pub fn config_name(self) -> &'static str {
        match self {
            ConnectProtocol::Eager => "eager",
            ConnectProtocol::Compatible => "compatible",
            ConnectProtocol::Sessioned => "sessioned",
        }
    }

    /// The group protocol name offered in JoinGroup.
    pub fn protocol_name(self) -> &'static str {
        match self {
            ConnectProtocol::Eager => "default",
            ConnectProtocol::Compatible => "compatible",
            ConnectProtocol::Sessioned => "sessioned",
        }
    }

    /// The mode of a group protocol name (as JoinGroup's response names it).
    pub fn from_protocol_name(name: &str) -> Option<ConnectProtocol> {
        Self::ALL.into_iter().find(|p| p.protocol_name() == name)
    }

    /// The metadata and assignment version: eager 0, compatible 1, sessioned 2.
    pub fn version(self) -> i16 {
        match self {
            ConnectProtocol::Eager => 0,
            ConnectProtocol::Compatible => 1,
            ConnectProtocol::Sessioned => 2,
        }
    }

    /// Whether rebalances are incremental cooperative (compatible and sessioned).
    pub fn is_incremental(self) -> bool {
        self != ConnectProtocol::Eager
    }

    /// The protocols a worker configured with this mode offers, in preference order.
    pub fn offered(self) -> Vec<ConnectProtocol> {
        let mut out: Vec<ConnectProtocol> = Self::ALL.into_iter().filter(|p| *p <= self).collect();
        out.reverse();
        out
    }

    /// JoinGroup's protocol list for a worker in this mode: each offered protocol with
    /// `metadata` encoded in that protocol's version, in preference order.
    pub fn join_protocols(self, metadata: &WorkerMetadata) -> Vec<(String, Bytes)> {
        self.offered()
            .into_iter()
            .map(|p| (p.protocol_name().to_string(), metadata.encode(p.version())))
            .collect()
    }
}

/// The coordinator's choice of protocol (Kafka's `ClassicGroup.selectProtocol`): among the
/// protocols every member offers, each member votes for the first one in its own preference
/// order, and the most votes win (ties: the newer protocol). `None` when no protocol is
/// common to all members. `members` holds each member's offered protocol names in order;
/// names that are not Connect protocols are ignored.
pub fn select_protocol(members: &[Vec<String>]) -> Option<ConnectProtocol> {
    let common: Vec<ConnectProtocol> = ConnectProtocol::ALL
        .into_iter()
        .filter(|p| {
            !members.is_empty()
                && members
                    .iter()
                    .all(|m| m.iter().any(|n| n == p.protocol_name()))
        })
        .collect();
    let mut votes = [0usize; 3];
    for m in members {
        if let Some(p) = m
            .iter()
            .filter_map(|n| ConnectProtocol::from_protocol_name(n))
            .find(|p| common.contains(p))
        {
            votes[p.version() as usize] += 1;
        }
    }
    common
        .into_iter()
        .max_by_key(|p| (votes[p.version() as usize], p.version()))
}

/// What a worker tells the group when it joins (Kafka's `ExtendedWorkerState`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WorkerMetadata {
    /// The worker's REST URL (`http://host:port/`).
    pub url: String,
    /// The config topic offset the worker has read up to.
    pub config_offset: i64,
    /// Its current assignment (v1/v2 only; `None` when it has none).
    pub allocation: Option<Assignment>,
    /// Its internal topics (Ferry's extension; `None` from other workers).
    pub topics: Option<InternalTopics>,
}

impl WorkerMetadata {
    /// Encodes the metadata in `version` (0: `default`; 1, 2: with the allocation).
    pub fn encode(&self, version: i16) -> Bytes {
        let mut buf = BytesMut::with_capacity(32 + self.url.len());
        buf.put_i16(version);
        put_string(&mut buf, &self.url);
        buf.put_i64(self.config_offset);
        if version >= 1 {
            match self.allocation.as_ref().filter(|a| !a.is_empty()) {
                Some(a) => {
                    let bytes = a.encode_version(version);
                    buf.put_i32(bytes.len() as i32);
                    buf.put_slice(&bytes);
                }
                None => buf.put_i32(-1),
            }
        }
        if let Some(topics) = &self.topics {
            if version == 0 {
                buf.put_i32(-1);
            }
            topics.encode(&mut buf);
        }
        buf.freeze()
    }

    /// Decodes metadata of any version (read with the v1 layout); returns the version too.
    pub fn decode(bytes: &[u8]) -> Result<(i16, WorkerMetadata)> {
        let mut r = Reader(bytes);
        let version = read_version(&mut r)?;
        let url = r.string("worker url")?;
        let config_offset = r.i64("config offset")?;
        let allocation = match r.optional_bytes("allocation")? {
            Some(b) => Some(Assignment::decode(b)?).filter(|a| !a.is_empty()),
            None => None,
        };
        let topics = InternalTopics::decode(&mut r);
        Ok((
            version,
            WorkerMetadata {
                url,
                config_offset,
                allocation,
                topics,
            },
        ))
    }
}

/// What the leader assigns to one member (Kafka's `ExtendedAssignment`; v0 is `Assignment`,
/// which has no revocations and no delay).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// The version it was (or will be) encoded in.
    pub version: i16,
    /// [`NO_ERROR`] or [`CONFIG_MISMATCH`].
    pub error: i16,
    /// The leader's member id.
    pub leader: String,
    /// The leader's REST URL.
    pub leader_url: String,
    /// The config topic offset the assignment was computed at.
    pub config_offset: i64,
    /// Connectors to run.
    pub connectors: Vec<String>,
    /// Tasks to run.
    pub tasks: Vec<TaskId>,
    /// Connectors to stop (v1/v2).
    pub revoked_connectors: Vec<String>,
    /// Tasks to stop (v1/v2).
    pub revoked_tasks: Vec<TaskId>,
    /// How long until the leader will reassign lost work, in ms (v1/v2).
    pub delay_ms: i32,
    /// The group's internal topics, sent with [`TOPICS_MISMATCH`] (Ferry's extension).
    pub topics: Option<InternalTopics>,
}

impl Default for Assignment {
    fn default() -> Self {
        Assignment {
            version: 1,
            error: NO_ERROR,
            leader: String::new(),
            leader_url: String::new(),
            config_offset: -1,
            connectors: Vec::new(),
            tasks: Vec::new(),
            revoked_connectors: Vec::new(),
            revoked_tasks: Vec::new(),
            delay_ms: 0,
            topics: None,
        }
    }
}

impl Assignment {
    /// Whether nothing is assigned and nothing revoked.
    pub fn is_empty(&self) -> bool {
        self.connectors.is_empty()
            && self.tasks.is_empty()
            && self.revoked_connectors.is_empty()
            && self.revoked_tasks.is_empty()
    }

    /// Encodes the assignment in its own [`version`](Self::version).
    pub fn encode(&self) -> Bytes {
        self.encode_version(self.version)
    }

    /// Encodes the assignment in `version` (0: no revocations and no delay).
    pub fn encode_version(&self, version: i16) -> Bytes {
        let mut buf = BytesMut::with_capacity(64);
        buf.put_i16(version);
        buf.put_i16(self.error);
        put_string(&mut buf, &self.leader);
        put_string(&mut buf, &self.leader_url);
        buf.put_i64(self.config_offset);
        put_tasks(&mut buf, &self.connectors, &self.tasks);
        if version >= 1 || self.topics.is_some() {
            put_tasks(&mut buf, &self.revoked_connectors, &self.revoked_tasks);
            buf.put_i32(self.delay_ms);
        }
        if let Some(topics) = &self.topics {
            topics.encode(&mut buf);
        }
        buf.freeze()
    }

    /// Decodes an assignment of any version (read with the v1 layout).
    pub fn decode(bytes: &[u8]) -> Result<Assignment> {
        let mut r = Reader(bytes);
        let version = read_version(&mut r)?;
        let error = r.i16("error")?;
        let leader = r.string("leader")?;
        let leader_url = r.string("leader url")?;
        let config_offset = r.i64("config offset")?;
        let (connectors, tasks) = read_tasks(&mut r, "assignment")?;
        let (revoked_connectors, revoked_tasks) = read_tasks(&mut r, "revoked")?;
        let delay_ms = if r.0.is_empty() { 0 } else { r.i32("delay")? };
        let topics = InternalTopics::decode(&mut r);
        Ok(Assignment {
            version,
            error,
            leader,
            leader_url,
            config_offset,
            connectors,
            tasks,
            revoked_connectors,
            revoked_tasks,
            delay_ms,
            topics,
        })
    }
}

fn put_string(buf: &mut BytesMut, s: &str) {
    // STRING's length is an INT16: longer strings (never legitimate here) are cut at a
    // character boundary rather than written with a wrong length.
    let mut end = s.len().min(i16::MAX as usize);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    buf.put_i16(end as i16);
    buf.put_slice(&s.as_bytes()[..end]);
}

/// Writes `{connector, tasks}` entries as Kafka does (`ConnectProtocol.taskAssignments`):
/// each connector gets `-1` first, in the order given, then tasks are appended to their
/// connector's entry (new entries in order of first appearance).
fn put_tasks(buf: &mut BytesMut, connectors: &[String], tasks: &[TaskId]) {
    fn push<'a>(entries: &mut Vec<(&'a str, Vec<i32>)>, name: &'a str, task: i32) {
        match entries.iter_mut().find(|(n, _)| *n == name) {
            Some((_, ts)) => ts.push(task),
            None => entries.push((name, vec![task])),
        }
    }
    let mut entries: Vec<(&str, Vec<i32>)> = Vec::new();
    for c in connectors {
        push(&mut entries, c, CONNECTOR_TASK);
    }
    for t in tasks {
        push(
            &mut entries,
            &t.connector,
            i32::try_from(t.task).unwrap_or(i32::MAX),
        );
    }
    buf.put_i32(entries.len() as i32);
    for (name, ts) in entries {
        put_string(buf, name);
        buf.put_i32(ts.len() as i32);
        for t in ts {
            buf.put_i32(t);
        }
    }
}

fn read_version(r: &mut Reader<'_>) -> Result<i16> {
    let version = r.i16("version")?;
    if version < 0 {
        return Err(ProtocolError::Invalid {
            what: "version",
            value: version.to_string(),
        });
    }
    Ok(version)
}

/// Reads a nullable array of `{connector, tasks}`; missing (end of input) or null is empty.
fn read_tasks(r: &mut Reader<'_>, what: &'static str) -> Result<(Vec<String>, Vec<TaskId>)> {
    let mut connectors = Vec::new();
    let mut tasks = Vec::new();
    if r.0.is_empty() {
        return Ok((connectors, tasks));
    }
    let count = r.i32(what)?;
    for _ in 0..count.max(0) {
        let connector = r.string(what)?;
        let n = r.i32(what)?;
        for _ in 0..n.max(0) {
            match r.i32(what)? {
                CONNECTOR_TASK => connectors.push(connector.clone()),
                t if t >= 0 => tasks.push(TaskId {
                    connector: connector.clone(),
                    task: t as usize,
                }),
                t => {
                    return Err(ProtocolError::Invalid {
                        what: "task id",
                        value: format!("{connector}-{t}"),
                    });
                }
            }
        }
    }
    Ok((connectors, tasks))
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8]> {
        if self.0.len() < n {
            return Err(ProtocolError::Truncated { what });
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn i16(&mut self, what: &'static str) -> Result<i16> {
        Ok(self.take(2, what)?.get_i16())
    }

    fn i32(&mut self, what: &'static str) -> Result<i32> {
        Ok(self.take(4, what)?.get_i32())
    }

    fn i64(&mut self, what: &'static str) -> Result<i64> {
        Ok(self.take(8, what)?.get_i64())
    }

    fn string(&mut self, what: &'static str) -> Result<String> {
        let len = self.i16(what)?;
        let len = usize::try_from(len).map_err(|_| ProtocolError::Invalid {
            what,
            value: format!("string length {len}"),
        })?;
        let bytes = self.take(len, what)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| ProtocolError::Invalid {
            what,
            value: "non-UTF-8 string".into(),
        })
    }

    /// NULLABLE_BYTES; end of input or length -1 is `None`.
    fn optional_bytes(&mut self, what: &'static str) -> Result<Option<&'a [u8]>> {
        if self.0.is_empty() {
            return Ok(None);
        }
        let len = self.i32(what)?;
        if len < 0 {
            return Ok(None);
        }
        Ok(Some(self.take(len as usize, what)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn task(c: &str, n: usize) -> TaskId {
        TaskId {
            connector: c.into(),
            task: n,
        }
    }

    fn hex(s: &str) -> Vec<u8> {
        s.split(|c: char| c.is_whitespace() || c == '|')
            .filter(|p| !p.is_empty())
            .map(|p| u8::from_str_radix(p, 16).unwrap())
            .collect()
    }

    #[test]
    fn metadata_v0_golden_bytes() {
        let m = WorkerMetadata {
            url: "http://w1:8083/".into(),
            config_offset: 5,
            allocation: None,
            topics: None,
        };
        let golden = hex(
            "00 00 | 00 0F 68 74 74 70 3A 2F 2F 77 31 3A 38 30 38 33 2F | 00 00 00 00 00 00 00 05",
        );
        assert_eq!(m.encode(0).as_ref(), golden.as_slice());
        assert_eq!(WorkerMetadata::decode(&golden).unwrap(), (0, m));
    }

    #[test]
    fn metadata_v1_v2_append_the_allocation_or_null() {
        let m = WorkerMetadata {
            url: "http://w1:8083/".into(),
            config_offset: 5,
            allocation: None,
            topics: None,
        };
        let v0 = m.encode(0);
        for version in [1i16, 2] {
            let mut expected = version.to_be_bytes().to_vec();
            expected.extend_from_slice(&v0[2..]);
            expected.extend_from_slice(&[0xFF; 4]);
            assert_eq!(m.encode(version).as_ref(), expected.as_slice());
            assert_eq!(
                WorkerMetadata::decode(&expected).unwrap(),
                (version, m.clone())
            );
        }
        // An empty allocation is written as null too.
        let empty = WorkerMetadata {
            allocation: Some(Assignment::default()),
            ..m.clone()
        };
        assert_eq!(empty.encode(2), m.encode(2));
        // A real allocation is a whole assignment with its own version header.
        let alloc = Assignment {
            version: 2,
            leader: "l".into(),
            leader_url: "u".into(),
            config_offset: 3,
            connectors: vec!["c".into()],
            ..Assignment::default()
        };
        let with = WorkerMetadata {
            allocation: Some(alloc.clone()),
            ..m.clone()
        };
        let bytes = with.encode(2);
        let nested = alloc.encode_version(2);
        assert_eq!(
            &bytes[..bytes.len() - nested.len() - 4],
            &m.encode(2)[..v0.len()]
        );
        assert_eq!(
            &bytes[v0.len()..v0.len() + 4],
            (nested.len() as i32).to_be_bytes()
        );
        assert_eq!(&bytes[v0.len() + 4..], nested.as_ref());
        assert_eq!(WorkerMetadata::decode(&bytes).unwrap(), (2, with));
    }

    #[test]
    fn assignment_v0_golden_bytes() {
        let a = Assignment {
            version: 0,
            error: NO_ERROR,
            leader: "L".into(),
            leader_url: "http://l/".into(),
            config_offset: 7,
            connectors: vec!["c1".into()],
            tasks: vec![task("c1", 0), task("c2", 3)],
            ..Assignment::default()
        };
        let golden = hex(
            "00 00  00 00  00 01 4C  00 09 68 74 74 70 3A 2F 2F 6C 2F  00 00 00 00 00 00 00 07
             00 00 00 02
               00 02 63 31  00 00 00 02  FF FF FF FF  00 00 00 00
               00 02 63 32  00 00 00 01  00 00 00 03",
        );
        assert_eq!(a.encode().as_ref(), golden.as_slice());
        assert_eq!(Assignment::decode(&golden).unwrap(), a);
    }

    #[test]
    fn assignment_v1_golden_bytes() {
        let a = Assignment {
            version: 1,
            error: CONFIG_MISMATCH,
            leader: "L".into(),
            leader_url: "u".into(),
            config_offset: -1,
            connectors: vec![],
            tasks: vec![task("c", 1)],
            revoked_connectors: vec!["d".into()],
            revoked_tasks: vec![task("d", 0)],
            delay_ms: 300_000,
            topics: None,
        };
        let golden = hex("00 01  00 01  00 01 4C  00 01 75  FF FF FF FF FF FF FF FF
             00 00 00 01  00 01 63  00 00 00 01  00 00 00 01
             00 00 00 01  00 01 64  00 00 00 02  FF FF FF FF  00 00 00 00
             00 04 93 E0");
        assert_eq!(a.encode().as_ref(), golden.as_slice());
        assert_eq!(Assignment::decode(&golden).unwrap(), a);
        let v2 = Assignment { version: 2, ..a };
        let mut golden2 = golden.clone();
        golden2[1] = 2;
        assert_eq!(v2.encode().as_ref(), golden2.as_slice());
    }

    #[test]
    fn readers_are_tolerant() {
        // v1 assignment with null arrays and no delay.
        let bytes = hex("00 01 00 00 00 00 00 00 00 00 00 00 00 00 00 01 FF FF FF FF FF FF FF FF");
        let a = Assignment::decode(&bytes).unwrap();
        assert_eq!(a.config_offset, 1);
        assert!(a.is_empty());
        assert_eq!(a.delay_ms, 0);
        // Missing arrays entirely.
        let a = Assignment::decode(&bytes[..16]).unwrap();
        assert!(a.is_empty());
        // A future version with extra bytes reads as v1.
        let mut future = Assignment {
            version: 1,
            connectors: vec!["x".into()],
            delay_ms: 9,
            ..Assignment::default()
        }
        .encode()
        .to_vec();
        future[1] = 7;
        future.extend_from_slice(b"future fields");
        let a = Assignment::decode(&future).unwrap();
        assert_eq!(
            (a.version, a.connectors.clone(), a.delay_ms),
            (7, vec!["x".into()], 9)
        );
        // v0 metadata read by a v1 reader: no allocation.
        let m = WorkerMetadata {
            url: "u".into(),
            config_offset: 1,
            allocation: None,
            topics: None,
        };
        assert_eq!(WorkerMetadata::decode(&m.encode(0)).unwrap().1, m);
        let mut more = m.encode(3).to_vec();
        more.extend_from_slice(&[1, 2, 3]);
        assert_eq!(WorkerMetadata::decode(&more).unwrap(), (3, m));
        // Required fields are required; negative versions are refused.
        assert!(Assignment::decode(&bytes[..10]).is_err());
        assert!(WorkerMetadata::decode(&hex("FF FF 00 00")).is_err());
    }

    /// Ferry's extension rides after the last field, in every version, where Kafka's
    /// readers ignore it; the Kafka fields read the same with or without it.
    #[test]
    fn internal_topics_ride_after_the_last_field() {
        let topics = InternalTopics {
            config: "cfg".into(),
            offset: "off".into(),
            status: "st".into(),
        };
        for version in 0i16..=2 {
            let plain = WorkerMetadata {
                url: "http://w:8083/".into(),
                config_offset: 4,
                allocation: None,
                topics: None,
            };
            let with = WorkerMetadata {
                topics: Some(topics.clone()),
                ..plain.clone()
            };
            let bytes = with.encode(version);
            let base = plain.encode(version);
            assert_eq!(
                &bytes[..base.len()],
                &base[..],
                "v{version}: Kafka's fields first"
            );
            assert_eq!(WorkerMetadata::decode(&bytes).unwrap(), (version, with));
            let refusal = Assignment {
                version,
                error: TOPICS_MISMATCH,
                leader: "l".into(),
                leader_url: "http://l:8083/".into(),
                topics: Some(topics.clone()),
                ..Assignment::default()
            };
            let decoded = Assignment::decode(&refusal.encode()).unwrap();
            assert_eq!(decoded, refusal);
        }
        let group = InternalTopics {
            config: "other".into(),
            ..topics.clone()
        };
        assert_eq!(
            topics.differences(&group),
            vec!["config.storage.topic is 'cfg' here but 'other' in the group".to_string()]
        );
    }

    #[test]
    fn offered_protocols_and_selection() {
        let names = |p: ConnectProtocol| -> Vec<String> {
            p.offered()
                .iter()
                .map(|p| p.protocol_name().to_string())
                .collect()
        };
        assert_eq!(names(ConnectProtocol::Eager), ["default"]);
        assert_eq!(
            names(ConnectProtocol::Compatible),
            ["compatible", "default"]
        );
        assert_eq!(
            names(ConnectProtocol::Sessioned),
            ["sessioned", "compatible", "default"]
        );
        assert_eq!(ConnectProtocol::default(), ConnectProtocol::Sessioned);
        assert_eq!(
            ConnectProtocol::from_config("COMPATIBLE"),
            Some(ConnectProtocol::Compatible)
        );
        assert_eq!(ConnectProtocol::from_config("cooperative"), None);

        let m = WorkerMetadata {
            url: "u".into(),
            config_offset: 0,
            allocation: None,
            topics: None,
        };
        let join = ConnectProtocol::Sessioned.join_protocols(&m);
        assert_eq!(join.len(), 3);
        assert_eq!(join[0].1[..2], [0, 2]);
        assert_eq!(join[2], ("default".to_string(), m.encode(0)));

        use ConnectProtocol::*;
        let s = names(Sessioned);
        let c = names(Compatible);
        let e = names(Eager);
        assert_eq!(select_protocol(&[s.clone(), s.clone()]), Some(Sessioned));
        assert_eq!(select_protocol(&[s.clone(), c.clone()]), Some(Compatible));
        assert_eq!(select_protocol(&[s.clone(), c, e]), Some(Eager));
        assert_eq!(select_protocol(&[s, vec!["range".into()]]), None);
        assert_eq!(select_protocol(&[]), None);
    }

    fn arb_task() -> impl Strategy<Value = TaskId> {
        ("[a-z-]{1,8}", 0usize..50).prop_map(|(c, n)| TaskId {
            connector: c,
            task: n,
        })
    }

    prop_compose! {
        fn arb_assignment()(
            version in 0i16..4,
            error in 0i16..2,
            leader in "\\PC{0,12}",
            leader_url in "\\PC{0,20}",
            config_offset in any::<i64>(),
            connectors in proptest::collection::btree_set("[a-z-]{1,8}", 0..4),
            tasks in proptest::collection::btree_set(arb_task(), 0..6),
            revoked_connectors in proptest::collection::btree_set("[a-z-]{1,8}", 0..3),
            revoked_tasks in proptest::collection::btree_set(arb_task(), 0..4),
            delay_ms in any::<i32>(),
        ) -> Assignment {
            let v1 = version >= 1;
            Assignment {
                version, error, leader, leader_url, config_offset,
                connectors: connectors.into_iter().collect(),
                tasks: tasks.into_iter().collect(),
                revoked_connectors: if v1 { revoked_connectors.into_iter().collect() } else { vec![] },
                revoked_tasks: if v1 { revoked_tasks.into_iter().collect() } else { vec![] },
                delay_ms: if v1 { delay_ms } else { 0 },
                topics: None,
            }
        }
    }

    /// Decoding groups tasks by connector; compare as sets.
    fn normalized(mut a: Assignment) -> Assignment {
        a.connectors.sort();
        a.tasks.sort();
        a.revoked_connectors.sort();
        a.revoked_tasks.sort();
        a
    }

    proptest! {
        #[test]
        fn assignments_round_trip(a in arb_assignment()) {
            let decoded = Assignment::decode(&a.encode()).unwrap();
            prop_assert_eq!(normalized(decoded), normalized(a));
        }

        #[test]
        fn metadata_round_trips(
            url in "\\PC{0,30}",
            config_offset in any::<i64>(),
            alloc in arb_assignment(),
            version in 0i16..3,
        ) {
            let alloc = Assignment { version: version.max(1), ..alloc };
            let m = WorkerMetadata {
                url,
                config_offset,
                allocation: Some(alloc).filter(|a| !a.is_empty()),
                topics: None,
            };
            let (v, decoded) = WorkerMetadata::decode(&m.encode(version)).unwrap();
            prop_assert_eq!(v, version);
            prop_assert_eq!(decoded.url, m.url);
            prop_assert_eq!(decoded.config_offset, m.config_offset);
            let expected = if version == 0 { None } else { m.allocation.map(normalized) };
            prop_assert_eq!(decoded.allocation.map(normalized), expected);
        }

        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = Assignment::decode(&bytes);
            let _ = WorkerMetadata::decode(&bytes);
        }

        #[test]
        fn truncations_never_panic(a in arb_assignment(), cut in 0usize..200) {
            let m = WorkerMetadata { url: "u".into(), config_offset: 1, allocation: Some(a.clone()), topics: None };
            for bytes in [a.encode(), m.encode(2)] {
                let cut = cut.min(bytes.len());
                let _ = Assignment::decode(&bytes[..cut]);
                let _ = WorkerMetadata::decode(&bytes[..cut]);
            }
        }
    }

    /// Sessioned (v2) metadata of a worker that already runs something: its previous
    /// assignment rides as NULLABLE_BYTES holding a whole v2 assignment, version header
    /// included; the connector entry lists `-1` (the connector itself) before its tasks, and
    /// an empty revoked list is an empty array, not null.
    #[test]
    fn metadata_v2_with_an_allocation_golden_bytes() {
        let m = WorkerMetadata {
            url: "u".into(),
            config_offset: 3,
            allocation: Some(Assignment {
                version: 2,
                leader: "l".into(),
                leader_url: "v".into(),
                config_offset: 3,
                connectors: vec!["c".into()],
                tasks: vec![task("c", 0)],
                ..Assignment::default()
            }),
            topics: None,
        };
        let golden = hex("00 02  00 01 75  00 00 00 00 00 00 00 03
             00 00 00 2D
               00 02  00 00  00 01 6C  00 01 76  00 00 00 00 00 00 00 03
               00 00 00 01  00 01 63  00 00 00 02  FF FF FF FF  00 00 00 00
               00 00 00 00
               00 00 00 00");
        assert_eq!(m.encode(2).as_ref(), golden.as_slice());
        assert_eq!(WorkerMetadata::decode(&golden).unwrap(), (2, m));
    }
}
