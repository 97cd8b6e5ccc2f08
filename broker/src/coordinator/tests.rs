use super::*;
use crate::log::LogConfig;

fn open(dir: &std::path::Path) -> (Arc<LogManager>, Arc<GroupCoordinator>) {
    let log = Arc::new(LogManager::open(LogConfig::new(dir)).unwrap());
    let c = Arc::new(GroupCoordinator::open(log.clone(), GroupConfig::default()).unwrap());
    (log, c)
}

fn join_args(group: &str, member: &str, session_ms: i32, rebalance_ms: i32) -> JoinArgs {
    JoinArgs {
        group_id: group.into(),
        member_id: member.into(),
        group_instance_id: None,
        client_id: "worker".into(),
        client_host: "/127.0.0.1".into(),
        session_timeout_ms: session_ms,
        rebalance_timeout_ms: rebalance_ms,
        protocol_type: "connect".into(),
        protocols: vec![
            ("sessioned".into(), Bytes::from_static(b"meta-s")),
            ("default".into(), Bytes::from_static(b"meta-d")),
        ],
    }
}

async fn sync(
    c: &GroupCoordinator,
    g: &str,
    generation: i32,
    m: &str,
    a: Vec<(String, Bytes)>,
) -> SyncResult {
    c.sync(g, generation, m, Some("connect"), None, a).await
}

#[tokio::test]
async fn one_connect_worker_joins_syncs_heartbeats_and_leaves() {
    let dir = tempfile::tempdir().unwrap();
    let (_log, c) = open(dir.path());
    let j = c.join(join_args("connect-cluster", "", 1000, 5000)).await;
    assert_eq!(j.error_code, 0);
    assert_eq!(j.generation_id, 1);
    assert_eq!(j.protocol_type.as_deref(), Some("connect"));
    assert_eq!(j.protocol_name.as_deref(), Some("sessioned"));
    assert_eq!(j.leader, j.member_id);
    assert_eq!(j.members.len(), 1);
    assert_eq!(&j.members[0].metadata[..], b"meta-s");
    let me = j.member_id.clone();
    assert_eq!(
        c.heartbeat("connect-cluster", 1, &me),
        0,
        "CompletingRebalance heartbeats are fine"
    );
    let s = sync(
        &c,
        "connect-cluster",
        1,
        &me,
        vec![(me.clone(), Bytes::from_static(b"all"))],
    )
    .await;
    assert_eq!((s.error_code, &s.assignment[..]), (0, &b"all"[..]));
    assert_eq!(c.heartbeat("connect-cluster", 1, &me), 0);
    assert_eq!(
        c.heartbeat("connect-cluster", 0, &me),
        E::IllegalGeneration.code()
    );
    assert_eq!(
        c.heartbeat("connect-cluster", 1, "nobody"),
        E::UnknownMemberId.code()
    );
    let d = c.describe("connect-cluster");
    assert_eq!(
        (d.state, d.protocol_name.as_str(), d.members.len()),
        ("Stable", "sessioned", 1)
    );
    assert_eq!(
        c.leave("connect-cluster", std::slice::from_ref(&me)),
        (0, vec![0])
    );
    assert_eq!(c.describe("connect-cluster").state, "Empty");
    assert_eq!(c.list()[0].protocol_type, "connect");
}

#[tokio::test]
async fn session_timeouts_follow_the_configured_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let (_log, c) = open(dir.path());
    let j = c.join(join_args("g", "", 999, 5000)).await;
    assert_eq!(j.error_code, E::InvalidSessionTimeout.code());
    let j = c.join(join_args("g", "", 1000, 5000)).await;
    assert_eq!(j.error_code, 0, "group.min.session.timeout.ms is 1000");
    let mut other = join_args("g", "", 1000, 5000);
    other.protocol_type = "consumer".into();
    let j = c.join(other).await;
    assert_eq!(j.error_code, E::InconsistentGroupProtocol.code());
}

#[tokio::test]
async fn a_second_member_triggers_a_rebalance_and_shares_the_work() {
    let dir = tempfile::tempdir().unwrap();
    let (_log, c) = open(dir.path());
    let a = c.join(join_args("g", "", 10_000, 10_000)).await;
    let a_id = a.member_id.clone();
    let s = sync(
        &c,
        "g",
        1,
        &a_id,
        vec![(a_id.clone(), Bytes::from_static(b"a:all"))],
    )
    .await;
    assert_eq!(s.error_code, 0);

    // b joins: its JoinGroup waits until a rejoins
    let c2 = c.clone();
    let b = tokio::spawn(async move { c2.join(join_args("g", "", 10_000, 10_000)).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(c.heartbeat("g", 1, &a_id), E::RebalanceInProgress.code());
    let a2 = c.join(join_args("g", &a_id, 10_000, 10_000)).await;
    let b = b.await.unwrap();
    assert_eq!((a2.error_code, b.error_code), (0, 0));
    assert_eq!((a2.generation_id, b.generation_id), (2, 2));
    assert_eq!(a2.leader, a_id, "the leader stays");
    assert_eq!(a2.members.len(), 2);
    assert!(b.members.is_empty());

    // b's SyncGroup waits for the leader's
    let c2 = c.clone();
    let b_id = b.member_id.clone();
    let b_sync = tokio::spawn(async move { sync(&c2, "g", 2, &b_id, vec![]).await });
    tokio::time::sleep(Duration::from_millis(20)).await;
    let assignments = vec![
        (a_id.clone(), Bytes::from_static(b"a:half")),
        (b.member_id.clone(), Bytes::from_static(b"b:half")),
    ];
    let sa = sync(&c, "g", 2, &a_id, assignments).await;
    let sb = b_sync.await.unwrap();
    assert_eq!(&sa.assignment[..], b"a:half");
    assert_eq!(&sb.assignment[..], b"b:half");
    assert_eq!(sb.protocol_name.as_deref(), Some("sessioned"));
}

#[tokio::test]
async fn a_silent_member_is_evicted_after_its_session_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let (_log, c) = open(dir.path());
    let a = c.join(join_args("g", "", 1000, 1000)).await;
    sync(&c, "g", 1, &a.member_id, vec![]).await;
    let (stop_tx, stop_rx) = watch::channel(false);
    let timers = tokio::spawn(c.clone().run_timers(stop_rx));
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(c.describe("g").members.len(), 1);
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        c.describe("g").state,
        "Empty",
        "evicted after 1 s without heartbeats"
    );
    assert_eq!(c.heartbeat("g", 1, &a.member_id), E::UnknownMemberId.code());
    let _ = stop_tx.send(true);
    timers.await.unwrap();
}

#[tokio::test]
async fn members_that_do_not_rejoin_are_dropped_at_the_rebalance_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let (_log, c) = open(dir.path());
    let a = c.join(join_args("g", "", 5000, 1000)).await;
    sync(&c, "g", 1, &a.member_id, vec![]).await;
    let (stop_tx, stop_rx) = watch::channel(false);
    let timers = tokio::spawn(c.clone().run_timers(stop_rx));
    // a keeps heartbeating but never rejoins
    let c2 = c.clone();
    let a_id = a.member_id.clone();
    let beat = tokio::spawn(async move {
        for _ in 0..30 {
            c2.heartbeat("g", 1, &a_id);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let started = Instant::now();
    let b = c.join(join_args("g", "", 5000, 1000)).await;
    assert_eq!(b.error_code, 0);
    assert_eq!(b.generation_id, 2);
    assert_eq!(b.leader, b.member_id);
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert_eq!(c.describe("g").members.len(), 1);
    beat.abort();
    let _ = stop_tx.send(true);
    timers.await.unwrap();
}

#[tokio::test]
async fn offsets_are_stored_in_kafkas_format_and_reloaded() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (log, c) = open(dir.path());
        let commit = |t: &str, p: i32, o: i64| CommitOffset {
            topic: t.into(),
            partition: p,
            offset: o,
            leader_epoch: -1,
            metadata: format!("m{o}"),
        };
        // simple (generation -1) commits of a group without members
        assert_eq!(
            c.commit_offsets("g", -1, "", &[commit("t", 0, 5), commit("t", 1, 7)]),
            vec![0, 0]
        );
        assert_eq!(c.commit_offsets("g", -1, "", &[commit("t", 0, 9)]), vec![0]);
        assert_eq!(c.commit_offsets("h", -1, "", &[commit("u", 0, 1)]), vec![0]);
        assert_eq!(
            c.commit_offsets("g", 3, "ghost", &[commit("t", 0, 1)]),
            vec![E::IllegalGeneration.code()]
        );
        let big = CommitOffset {
            metadata: "x".repeat(MAX_OFFSET_METADATA + 1),
            ..commit("t", 2, 1)
        };
        assert_eq!(
            c.commit_offsets("g", -1, "", &[big]),
            vec![E::OffsetMetadataTooLarge.code()]
        );
        // the records are Kafka's OffsetCommitKey v1 / OffsetCommitValue v3
        let p = log.partition(OFFSETS_TOPIC, 0).unwrap();
        let data = p.read(0, 1 << 20).unwrap().data;
        let first = batches(data)
            .next()
            .unwrap()
            .unwrap()
            .records()
            .next()
            .unwrap()
            .unwrap();
        assert_eq!(&first.key.unwrap()[..], &encode_key("g", "t", 0)[..]);
        assert_eq!(decode_value(first.value.unwrap()).unwrap().offset, 5);
        assert_eq!(c.delete("h"), 0);
        assert_eq!(c.delete("h"), E::GroupIdNotFound.code());
        log.close().unwrap();
    }
    let (_log, c) = open(dir.path());
    let all = c.fetch_offsets("g", None);
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].0, "t");
    let offsets: Vec<(i32, i64, String)> = all[0]
        .1
        .iter()
        .map(|o| (o.partition, o.offset, o.metadata.clone()))
        .collect();
    assert_eq!(offsets, vec![(0, 9, "m9".into()), (1, 7, "m7".into())]);
    let some = c.fetch_offsets("g", Some(vec![("t".into(), vec![1, 3])]));
    assert_eq!((some[0].1[0].offset, some[0].1[1].offset), (7, -1));
    assert!(
        c.fetch_offsets("h", None).is_empty(),
        "deleted groups stay deleted"
    );
    assert_eq!(
        c.list()
            .iter()
            .map(|g| g.group_id.as_str())
            .collect::<Vec<_>>(),
        vec!["g"]
    );
}

#[test]
fn offsets_partition_is_javas_string_hash() {
    // "abc".hashCode() == 96354
    assert_eq!(offsets_partition("abc", 50), 96354 % 50);
    assert_eq!(offsets_partition("anything", 1), 0);
}

#[tokio::test]
async fn a_restarted_static_member_replaces_its_old_incarnation() {
    let dir = tempfile::tempdir().unwrap();
    let (_log, c) = open(dir.path());
    let mut args = join_args("g", "", 60_000, 1000);
    args.group_instance_id = Some("worker-1".into());
    let first = c.join(args.clone()).await;
    sync(&c, "g", 1, &first.member_id, vec![]).await;
    // the process restarts: new connection, empty member id, same instance id
    let started = Instant::now();
    let second = c.join(args).await;
    assert_eq!(second.error_code, 0);
    assert_ne!(second.member_id, first.member_id);
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "no wait for the old session"
    );
    let d = c.describe("g");
    assert_eq!(d.members.len(), 1);
    assert_eq!(d.members[0].group_instance_id.as_deref(), Some("worker-1"));
    assert_eq!(
        c.heartbeat("g", second.generation_id, &first.member_id),
        E::UnknownMemberId.code()
    );
}

#[tokio::test]
async fn offset_delete_forgets_offsets_of_groups_without_members() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (log, c) = open(dir.path());
        let commit = |p: i32, o: i64| CommitOffset {
            topic: "t".into(),
            partition: p,
            offset: o,
            leader_epoch: -1,
            metadata: String::new(),
        };
        assert_eq!(
            c.commit_offsets("connect-sink", -1, "", &[commit(0, 5), commit(1, 7)]),
            vec![0, 0]
        );
        let parts = |ps: &[i32]| ps.iter().map(|&p| ("t".to_string(), p)).collect::<Vec<_>>();
        assert_eq!(
            c.delete_offsets("connect-sink", &parts(&[0, 3])),
            Ok(vec![0, 0]),
            "a partition without an offset is fine"
        );
        let left = c.fetch_offsets("connect-sink", Some(vec![("t".into(), vec![0, 1])]));
        assert_eq!((left[0].1[0].offset, left[0].1[1].offset), (-1, 7));
        assert_eq!(
            c.delete_offsets("nobody", &parts(&[0])),
            Err(E::GroupIdNotFound.code())
        );
        // A group with members keeps its offsets.
        assert_eq!(c.commit_offsets("busy", -1, "", &[commit(0, 1)]), vec![0]);
        let j = c.join(join_args("busy", "", 10_000, 5000)).await;
        assert_eq!(j.error_code, 0);
        assert_eq!(
            c.delete_offsets("busy", &parts(&[0])),
            Err(E::NonEmptyGroup.code())
        );
        assert_eq!(c.delete_offsets("connect-sink", &parts(&[1])), Ok(vec![0]));
        log.close().unwrap();
    }
    // The tombstones survive a restart.
    let (_log, c) = open(dir.path());
    assert!(c.fetch_offsets("connect-sink", None).is_empty());
}

/// Kafka's `GroupCoordinatorService.partitionFor` is `Utils.abs(groupId.hashCode()) %
/// partitions`, `Utils.abs` being the absolute value (0 for `i32::MIN`). These groups hash to
/// negative numbers (`"my-group"`: -1906497762), where the absolute value and clearing the
/// sign bit give different partitions. A failing expectation: Ferry clears the sign bit.
#[test]
fn offsets_partition_is_kafkas_utils_abs_of_the_hash() {
    assert_eq!(offsets_partition("my-group", 50), 12);
    assert_eq!(offsets_partition("connect-local-file-sink", 50), 7);
    // "polygenelubricants".hashCode() is i32::MIN, whose Utils.abs is 0.
    assert_eq!(offsets_partition("polygenelubricants", 50), 0);
}
