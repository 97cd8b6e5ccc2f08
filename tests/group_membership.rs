//! Group membership over the Kafka protocol (`KafkaLog::join_group` and friends) against a
//! real `ferry broker` process, with the `connect` protocol type and Kafka Connect's member
//! metadata and assignments.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use ferry_runtime::lifecycle::TaskId;
use ferry_runtime::log::{GroupError, JoinResult, KafkaLog, Log, LogError};
use ferry_runtime::worker_group::protocol::{PROTOCOL_TYPE, select_protocol};
use ferry_runtime::worker_group::{
    Assignment, ConnectProtocol, Coordinator, GroupSettings, Rebalanced, WorkerMetadata,
};

const GROUP: &str = "connect-cluster";
const SESSION: Duration = Duration::from_secs(10);
const REBALANCE: Duration = Duration::from_secs(10);

fn protocols(worker: &str) -> Vec<(String, Bytes)> {
    ConnectProtocol::Sessioned.join_protocols(&WorkerMetadata {
        url: format!("http://{worker}:8083/"),
        config_offset: 3,
        allocation: None,
        topics: None,
    })
}

async fn join(log: &KafkaLog, worker: &str, member_id: &str) -> JoinResult {
    log.join_group(
        GROUP,
        PROTOCOL_TYPE,
        member_id,
        SESSION,
        REBALANCE,
        &protocols(worker),
    )
    .await
    .unwrap_or_else(|e| panic!("{worker} joins: {e}"))
}

/// Heartbeats until the coordinator says a rebalance is in progress.
async fn until_rebalance(log: &KafkaLog, generation: i32, member: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match log.heartbeat(GROUP, generation, member).await {
            Ok(()) => {}
            Err(LogError::Group(GroupError::RebalanceInProgress { .. })) => return,
            Err(e) => panic!("heartbeat of {member}: {e}"),
        }
        assert!(
            Instant::now() < deadline,
            "no rebalance signalled to {member}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn assignment_for(leader: &JoinResult, connectors: &[&str], task: usize) -> Assignment {
    Assignment {
        version: 2,
        leader: leader.leader.clone(),
        leader_url: "http://w:8083/".into(),
        config_offset: 3,
        connectors: connectors.iter().map(|c| c.to_string()).collect(),
        tasks: vec![TaskId {
            connector: "c".into(),
            task,
        }],
        ..Assignment::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_join_sync_heartbeat_and_leave_a_connect_group() {
    let ws = Workspace::new();
    let broker = FerryBroker::start(&ws);
    let connect = |id: &'static str| {
        let addr = broker.addr.clone();
        async move {
            Arc::new(
                KafkaLog::connect(&[addr], id)
                    .await
                    .expect("connect to broker"),
            )
        }
    };
    let a = connect("worker-a").await;
    let b = connect("worker-b").await;
    let c = connect("worker-c").await;

    // A alone: it leads generation 1.
    let a1 = join(&a, "a", "").await;
    assert!(!a1.member_id.is_empty());
    assert!(a1.is_leader(), "{a1:?}");
    assert_eq!(a1.protocol, "sessioned");
    assert_eq!(a1.members.len(), 1);
    let mine = assignment_for(&a1, &["c"], 0);
    let got = a
        .sync_group(
            GROUP,
            a1.generation,
            &a1.member_id,
            &[(a1.member_id.clone(), mine.encode())],
        )
        .await
        .expect("sync alone");
    assert_eq!(Assignment::decode(&got).unwrap(), mine);
    a.heartbeat(GROUP, a1.generation, &a1.member_id)
        .await
        .expect("heartbeat");

    // B joins: A hears of the rebalance through its heartbeat and rejoins.
    let b_join = {
        let b = b.clone();
        tokio::spawn(async move { join(&b, "b", "").await })
    };
    until_rebalance(&a, a1.generation, &a1.member_id).await;
    let a2 = join(&a, "a", &a1.member_id).await;
    let b2 = b_join.await.unwrap();
    assert_eq!(a2.member_id, a1.member_id, "a rejoin keeps the member id");
    assert_eq!(a2.generation, b2.generation);
    assert!(a2.generation > a1.generation);
    assert_eq!(a2.leader, b2.leader);
    assert_ne!(a2.member_id, b2.member_id);
    assert_eq!(
        (a2.protocol.as_str(), b2.protocol.as_str()),
        ("sessioned", "sessioned")
    );
    let (leader, follower, leader_log, follower_log) = if a2.is_leader() {
        (&a2, &b2, &a, &b)
    } else {
        (&b2, &a2, &b, &a)
    };
    assert!(!follower.is_leader());
    assert!(
        follower.members.is_empty(),
        "only the leader sees the members"
    );
    assert_eq!(leader.members.len(), 2);
    for m in &leader.members {
        let (version, meta) = WorkerMetadata::decode(&m.metadata).expect("member metadata");
        assert_eq!((version, meta.config_offset), (2, 3));
    }
    assert_eq!(
        select_protocol(&[
            protocols("a").into_iter().map(|p| p.0).collect(),
            protocols("b").into_iter().map(|p| p.0).collect(),
        ]),
        Some(ConnectProtocol::Sessioned)
    );

    // SyncGroup: the follower waits for the leader; each gets its own assignment.
    let for_leader = assignment_for(leader, &["c"], 0);
    let for_follower = assignment_for(leader, &[], 1);
    let follower_sync = {
        let log = follower_log.clone();
        let (generation, member) = (follower.generation, follower.member_id.clone());
        tokio::spawn(async move { log.sync_group(GROUP, generation, &member, &[]).await })
    };
    let got_leader = leader_log
        .sync_group(
            GROUP,
            leader.generation,
            &leader.member_id,
            &[
                (leader.member_id.clone(), for_leader.encode()),
                (follower.member_id.clone(), for_follower.encode()),
            ],
        )
        .await
        .expect("leader sync");
    let got_follower = follower_sync.await.unwrap().expect("follower sync");
    assert_eq!(Assignment::decode(&got_leader).unwrap(), for_leader);
    assert_eq!(Assignment::decode(&got_follower).unwrap(), for_follower);
    for (log, r) in [(&a, &a2), (&b, &b2)] {
        log.heartbeat(GROUP, r.generation, &r.member_id)
            .await
            .expect("heartbeat in a stable group");
    }
    // A stale generation is refused with a typed error.
    let stale = a.heartbeat(GROUP, a1.generation, &a1.member_id).await;
    assert!(
        matches!(
            stale,
            Err(LogError::Group(GroupError::IllegalGeneration { .. }))
        ),
        "{stale:?}"
    );

    // A third member: the others are told to rebalance.
    let c_join = {
        let c = c.clone();
        tokio::spawn(async move { join(&c, "c", "").await })
    };
    until_rebalance(&a, a2.generation, &a2.member_id).await;
    until_rebalance(&b, b2.generation, &b2.member_id).await;

    // A and B leave instead of rejoining: C's join completes with C alone, leading.
    a.leave_group(GROUP, &a2.member_id).await.expect("a leaves");
    b.leave_group(GROUP, &b2.member_id).await.expect("b leaves");
    let c3 = tokio::time::timeout(Duration::from_secs(20), c_join)
        .await
        .expect("c's join completes once the others left")
        .unwrap();
    assert!(c3.is_leader());
    assert_eq!(c3.members.len(), 1);
    assert!(c3.generation > a2.generation);
    let gone = a.heartbeat(GROUP, c3.generation, &a2.member_id).await;
    assert!(
        matches!(gone, Err(LogError::Group(GroupError::UnknownMember { .. }))),
        "{gone:?}"
    );
    c.sync_group(
        GROUP,
        c3.generation,
        &c3.member_id,
        &[(c3.member_id.clone(), Bytes::new())],
    )
    .await
    .expect("c syncs");
    c.heartbeat(GROUP, c3.generation, &c3.member_id)
        .await
        .expect("c heartbeats");
    c.leave_group(GROUP, &c3.member_id).await.expect("c leaves");
    // Leaving twice is fine.
    c.leave_group(GROUP, &c3.member_id)
        .await
        .expect("leave again");
    drop(broker);
}

/// Each worker runs the herder's membership loop: rebalance (again at once after
/// revocations), then heartbeat, rebalancing whenever told to, until a second of heartbeats
/// passes quietly. Returns when every worker is quiet in the same generation.
async fn settle(
    workers: Vec<Coordinator>,
    connectors: &BTreeMap<String, usize>,
) -> (Vec<Coordinator>, Vec<Rebalanced>) {
    let mut running = Vec::new();
    for mut w in workers {
        let connectors = connectors.clone();
        running.push(tokio::spawn(async move {
            let deadline = Instant::now() + Duration::from_secs(30);
            'rebalance: loop {
                assert!(Instant::now() < deadline, "{w:?} never settled");
                let r = w
                    .rebalance(0, &connectors)
                    .await
                    .unwrap_or_else(|e| panic!("rebalance of {w:?}: {e}"));
                if r.needs_rejoin() {
                    continue;
                }
                for _ in 0..10 {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    match w.heartbeat().await {
                        Ok(()) => {}
                        Err(e) if Coordinator::must_rejoin(&e) => continue 'rebalance,
                        Err(e) => panic!("heartbeat of {w:?}: {e}"),
                    }
                }
                return (w, r);
            }
        }));
    }
    let mut workers = Vec::new();
    let mut results = Vec::new();
    for task in running {
        let (w, r) = task.await.unwrap();
        workers.push(w);
        results.push(r);
    }
    let generations: BTreeSet<i32> = results.iter().map(|r| r.generation).collect();
    assert_eq!(generations.len(), 1, "one generation: {results:?}");
    (workers, results)
}

fn check_shared(workers: &[Coordinator], connectors: &BTreeMap<String, usize>) {
    let mut all_connectors = Vec::new();
    let mut all_tasks = Vec::new();
    for w in workers {
        all_connectors.extend(w.running().connectors.iter().cloned());
        all_tasks.extend(w.running().tasks.iter().cloned());
    }
    all_connectors.sort();
    all_tasks.sort();
    assert_eq!(
        all_connectors,
        connectors.keys().cloned().collect::<Vec<_>>()
    );
    let expected: usize = connectors.values().sum();
    assert_eq!(all_tasks.len(), expected);
    all_tasks.dedup();
    assert_eq!(all_tasks.len(), expected, "no task twice");
    let counts: Vec<usize> = workers.iter().map(|w| w.running().tasks.len()).collect();
    assert!(
        counts.iter().max().unwrap() - counts.iter().min().unwrap() <= 1,
        "{counts:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coordinators_share_work_and_take_over_a_departed_workers_share() {
    let ws = Workspace::new();
    let broker = FerryBroker::start(&ws);
    let settings = GroupSettings {
        session_timeout: Duration::from_secs(10),
        rebalance_timeout: Duration::from_secs(10),
        heartbeat_interval: Duration::from_millis(200),
        max_delay: Duration::ZERO,
        ..GroupSettings::new("coordinated")
    };
    let connectors: BTreeMap<String, usize> = [("a".to_string(), 3), ("b".to_string(), 3)].into();
    let mut workers = Vec::new();
    for i in 0..2 {
        let log = KafkaLog::connect(std::slice::from_ref(&broker.addr), &format!("w{i}"))
            .await
            .expect("connect");
        workers.push(Coordinator::new(
            Arc::new(log),
            settings.clone(),
            &format!("http://w{i}:8083/"),
        ));
    }
    // The first alone runs everything.
    let mut first = workers.remove(0);
    let r = first.rebalance(0, &connectors).await.expect("first join");
    assert!(r.is_leader);
    assert_eq!(first.running().tasks.len(), 6);
    workers.insert(0, first);

    // Both: the work is shared, each task once, balanced.
    let (mut workers, results) = settle(workers, &connectors).await;
    assert_eq!(results.iter().filter(|r| r.is_leader).count(), 1);
    check_shared(&workers, &connectors);
    for w in &workers {
        w.heartbeat().await.expect("heartbeat");
    }

    // One leaves: the other's background heartbeats are told to rebalance and, with no
    // delay, it takes everything.
    let mut gone = workers.pop().unwrap();
    let mut heartbeats = workers[0].start_heartbeats();
    gone.leave().await.expect("leave");
    let reason = tokio::time::timeout(Duration::from_secs(15), heartbeats.rejoin_needed())
        .await
        .expect("no rebalance after a leave");
    assert!(reason.contains("rebalancing"), "{reason}");
    drop(heartbeats);
    let (workers, _) = settle(workers, &connectors).await;
    check_shared(&workers, &connectors);
    assert_eq!(workers[0].running().tasks.len(), 6);
    drop(broker);
}

/// A worker that stops heartbeating (as after `kill -9`) loses its membership after the
/// session timeout; its work is held back for `scheduled.rebalance.max.delay.ms`, then runs
/// on the survivor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_workers_share_moves_after_session_timeout_and_delay() {
    let ws = Workspace::new();
    let broker = FerryBroker::start(&ws);
    let settings = GroupSettings {
        session_timeout: Duration::from_millis(1500),
        rebalance_timeout: Duration::from_secs(5),
        heartbeat_interval: Duration::from_millis(300),
        max_delay: Duration::from_secs(1),
        ..GroupSettings::new("failover")
    };
    let connectors: BTreeMap<String, usize> = [("a".to_string(), 2), ("b".to_string(), 2)].into();
    let mut workers = Vec::new();
    for i in 0..2 {
        let log = KafkaLog::connect(std::slice::from_ref(&broker.addr), &format!("f{i}"))
            .await
            .expect("connect");
        workers.push(Coordinator::new(
            Arc::new(log),
            settings.clone(),
            &format!("http://f{i}:8083/"),
        ));
    }
    let mut first = workers.remove(0);
    first.rebalance(0, &connectors).await.expect("first join");
    workers.insert(0, first);
    let (mut workers, _) = settle(workers, &connectors).await;
    check_shared(&workers, &connectors);

    // The second worker goes silent.
    let silent = workers.pop().unwrap();
    let started = Instant::now();
    let survivor = &mut workers[0];
    loop {
        tokio::time::sleep(settings.heartbeat_interval).await;
        match survivor.heartbeat().await {
            Ok(()) => {}
            Err(e) if Coordinator::must_rejoin(&e) => break,
            Err(e) => panic!("heartbeat: {e}"),
        }
        assert!(started.elapsed() < Duration::from_secs(10), "never evicted");
    }
    let mut r = survivor.rebalance(0, &connectors).await.expect("rebalance");
    while let Some(delay) = r.rejoin_after() {
        // The lost work is held back (only when the survivor led already); heartbeat
        // through the delay, then rebalance again.
        assert!(delay <= settings.max_delay, "{delay:?}");
        eprintln!("lost work held back for {delay:?}");
        assert_eq!(survivor.running().tasks.len(), 2);
        let until = Instant::now() + delay;
        while Instant::now() < until {
            tokio::time::sleep(settings.heartbeat_interval).await;
            survivor.heartbeat().await.expect("heartbeat while waiting");
        }
        r = survivor.rebalance(0, &connectors).await.expect("rebalance");
    }
    assert_eq!(survivor.running().tasks.len(), 4);
    assert_eq!(survivor.running().connectors.len(), 2);
    let elapsed = started.elapsed();
    eprintln!("work of a silent worker ran elsewhere after {elapsed:?}");
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
    drop(silent);
    drop(broker);
}
