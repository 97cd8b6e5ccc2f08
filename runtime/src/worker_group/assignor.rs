//! The leader's incremental cooperative assignment (KIP-415; Kafka's
//! `IncrementalCooperativeAssignor`), as a pure function: [`assign`].
//!
//! Rules:
//! - Work is balanced by count, connectors and tasks separately: after convergence every
//!   member runs ⌊n/m⌋ or ⌈n/m⌉ of each.
//! - Only what must move moves. Members keep what they run; work that no longer exists (a
//!   deleted connector, tasks above a lowered `tasks.max`) and duplicates are revoked. When a
//!   member is above its fair share (a member joined) the excess is revoked *without being
//!   assigned elsewhere in the same round*: the holder stops it first, rejoins, and the next
//!   round assigns it (that is the "cooperative" part).
//! - Work of a departed member ("lost") is held back for `scheduled.rebalance.max.delay.ms`,
//!   counted from when it was first seen lost; members are told the remaining delay so they
//!   rejoin when it ends, and then it is assigned to the least loaded members (a worker that
//!   came back meanwhile, having nothing, gets it). A delay of 0 reassigns at once. No balance
//!   revocations happen while work is held back.
//! - New work (new connectors, more tasks) goes to the least loaded members at once.
//!
//! Assignments are incremental, as Kafka Connect's v1/v2 assignments are: each member is told
//! what to start ([`MemberAssignment::assigned`]) and what to stop
//! ([`MemberAssignment::revoked`]), and keeps running the rest. A member reports what it runs
//! as its `allocation` in JoinGroup metadata; that is [`Member::owned`] here.
//!
//! The leader keeps [`AssignorOutput::next`] and passes it back as
//! [`AssignorInput::previous`] in its next round, and tracks since when work has been held
//! back ([`AssignorOutput::held_back`] non-empty) to fill [`AssignorInput::lost_for`].

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::protocol::{Assignment, NO_ERROR};
use crate::lifecycle::TaskId;

/// A set of connectors and tasks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Work {
    /// Connector instances.
    pub connectors: BTreeSet<String>,
    /// Tasks.
    pub tasks: BTreeSet<TaskId>,
}

impl Work {
    /// Whether there is neither a connector nor a task.
    pub fn is_empty(&self) -> bool {
        self.connectors.is_empty() && self.tasks.is_empty()
    }

    /// The assigned part of a protocol assignment (or a member's allocation).
    pub fn assigned_in(a: &Assignment) -> Work {
        Work {
            connectors: a.connectors.iter().cloned().collect(),
            tasks: a.tasks.iter().cloned().collect(),
        }
    }

    /// The revoked part of a protocol assignment.
    pub fn revoked_in(a: &Assignment) -> Work {
        Work {
            connectors: a.revoked_connectors.iter().cloned().collect(),
            tasks: a.revoked_tasks.iter().cloned().collect(),
        }
    }

    /// What a member runs after applying an incremental assignment: `self` minus revoked,
    /// plus assigned.
    pub fn apply(&self, change: &MemberAssignment) -> Work {
        let mut out = self.clone();
        for c in &change.revoked.connectors {
            out.connectors.remove(c);
        }
        for t in &change.revoked.tasks {
            out.tasks.remove(t);
        }
        out.connectors
            .extend(change.assigned.connectors.iter().cloned());
        out.tasks.extend(change.assigned.tasks.iter().cloned());
        out
    }
}

/// A member of the group as the leader sees it in JoinGroup.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Member {
    /// Member id.
    pub id: String,
    /// REST URL.
    pub url: String,
    /// What it runs now (its metadata's allocation).
    pub owned: Work,
}

/// Everything [`assign`] looks at.
#[derive(Debug, Clone, Default)]
pub struct AssignorInput {
    /// The members of this generation.
    pub members: Vec<Member>,
    /// Every connector in the config topic with its number of task configs.
    pub connectors: BTreeMap<String, usize>,
    /// The leader's previous full assignment per member id ([`AssignorOutput::next`] of its
    /// last round); empty for a new leader.
    pub previous: BTreeMap<String, Work>,
    /// How long ago lost work was first held back (`None`: nothing was held back before).
    pub lost_for: Option<Duration>,
    /// `scheduled.rebalance.max.delay.ms`.
    pub max_delay: Duration,
}

/// What one member is told.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberAssignment {
    /// To start.
    pub assigned: Work,
    /// To stop.
    pub revoked: Work,
}

/// The result of one round.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssignorOutput {
    /// Per member id (every member has an entry).
    pub assignments: BTreeMap<String, MemberAssignment>,
    /// After how long members should rejoin so held-back work gets reassigned (zero when
    /// nothing is held back).
    pub delay: Duration,
    /// Lost work kept unassigned in this round.
    pub held_back: Work,
    /// The full assignment after this round, per member id, plus held-back work under the
    /// departed member's id: pass it as [`AssignorInput::previous`] next time.
    pub next: BTreeMap<String, Work>,
}

impl AssignorOutput {
    /// Whether any member must stop something (it will rejoin after doing so).
    pub fn has_revocations(&self) -> bool {
        self.assignments.values().any(|a| !a.revoked.is_empty())
    }

    /// The protocol assignment for `member` (v1/v2; for v0 use [`Self::next`]'s full set).
    pub fn to_protocol(
        &self,
        member: &str,
        version: i16,
        leader: &str,
        leader_url: &str,
        config_offset: i64,
    ) -> Assignment {
        let a = self.assignments.get(member).cloned().unwrap_or_default();
        Assignment {
            version,
            error: NO_ERROR,
            leader: leader.to_string(),
            leader_url: leader_url.to_string(),
            config_offset,
            connectors: a.assigned.connectors.into_iter().collect(),
            tasks: a.assigned.tasks.into_iter().collect(),
            revoked_connectors: a.revoked.connectors.into_iter().collect(),
            revoked_tasks: a.revoked.tasks.into_iter().collect(),
            delay_ms: i32::try_from(self.delay.as_millis()).unwrap_or(i32::MAX),
            topics: None,
        }
    }
}

/// Either connectors or tasks: the two are balanced the same way, separately.
trait Kind {
    type Item: Ord + Clone;
    fn set(w: &Work) -> &BTreeSet<Self::Item>;
    fn set_mut(w: &mut Work) -> &mut BTreeSet<Self::Item>;
}

struct Connectors;
impl Kind for Connectors {
    type Item = String;
    fn set(w: &Work) -> &BTreeSet<String> {
        &w.connectors
    }
    fn set_mut(w: &mut Work) -> &mut BTreeSet<String> {
        &mut w.connectors
    }
}

struct Tasks;
impl Kind for Tasks {
    type Item = TaskId;
    fn set(w: &Work) -> &BTreeSet<TaskId> {
        &w.tasks
    }
    fn set_mut(w: &mut Work) -> &mut BTreeSet<TaskId> {
        &mut w.tasks
    }
}

/// Per-round working state.
struct Round<'a> {
    /// Member ids, sorted.
    ids: Vec<&'a str>,
    configured: Work,
    /// Kept by each member (indexed like `ids`).
    kept: Vec<Work>,
    out: Vec<MemberAssignment>,
    /// Everything some member still runs or is stopping in this round.
    seen: Work,
    held_back: Work,
}

impl Round<'_> {
    /// Keeps what each member runs, revoking what no longer exists and duplicates.
    fn keep<K: Kind>(&mut self, members: &[&Member]) {
        for (i, m) in members.iter().enumerate() {
            for item in K::set(&m.owned) {
                if K::set(&self.configured).contains(item)
                    && K::set_mut(&mut self.seen).insert(item.clone())
                {
                    K::set_mut(&mut self.kept[i]).insert(item.clone());
                } else {
                    K::set_mut(&mut self.out[i].revoked).insert(item.clone());
                }
            }
        }
    }

    /// Revokes what members hold above their fair share.
    fn revoke_excess<K: Kind>(&mut self) {
        let n = self.ids.len();
        if n == 0 {
            return;
        }
        let total = K::set(&self.configured).len() - K::set(&self.held_back).len();
        let (floor, extra) = (total / n, total % n);
        // The `extra` members that hold the most may keep one more than the floor.
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by_key(|&i| (std::cmp::Reverse(K::set(&self.kept[i]).len()), i));
        for (rank, &i) in order.iter().enumerate() {
            let target = floor + usize::from(rank < extra);
            let excess = K::set(&self.kept[i]).len().saturating_sub(target);
            let victims: Vec<K::Item> = K::set(&self.kept[i])
                .iter()
                .rev()
                .take(excess)
                .cloned()
                .collect();
            for v in victims {
                K::set_mut(&mut self.kept[i]).remove(&v);
                K::set_mut(&mut self.out[i].revoked).insert(v);
            }
        }
    }

    /// Gives everything nobody runs (and that is not held back) to the least loaded members.
    fn assign_free<K: Kind>(&mut self) {
        if self.ids.is_empty() {
            return;
        }
        let free: Vec<K::Item> = K::set(&self.configured)
            .iter()
            .filter(|x| !K::set(&self.seen).contains(*x) && !K::set(&self.held_back).contains(*x))
            .cloned()
            .collect();
        let mut load: Vec<usize> = self.kept.iter().map(|w| K::set(w).len()).collect();
        for item in free {
            let Some(i) = (0..load.len()).min_by_key(|&i| (load[i], i)) else {
                return;
            };
            load[i] += 1;
            K::set_mut(&mut self.out[i].assigned).insert(item);
        }
    }
}

/// One round of incremental cooperative assignment (see the module docs).
pub fn assign(input: &AssignorInput) -> AssignorOutput {
    let mut members: Vec<&Member> = input.members.iter().collect();
    members.sort_by(|a, b| a.id.cmp(&b.id));
    members.dedup_by(|a, b| a.id == b.id);
    let mut configured = Work::default();
    for (name, &tasks) in &input.connectors {
        configured.connectors.insert(name.clone());
        configured.tasks.extend((0..tasks).map(|task| TaskId {
            connector: name.clone(),
            task,
        }));
    }
    let n = members.len();
    let mut round = Round {
        ids: members.iter().map(|m| m.id.as_str()).collect(),
        configured,
        kept: vec![Work::default(); n],
        out: vec![MemberAssignment::default(); n],
        seen: Work::default(),
        held_back: Work::default(),
    };
    round.keep::<Connectors>(&members);
    round.keep::<Tasks>(&members);

    // Lost: what departed members had, still configured, that nobody runs now.
    let mut lost: BTreeMap<&str, Work> = BTreeMap::new();
    for (id, work) in &input.previous {
        if round.ids.contains(&id.as_str()) {
            continue;
        }
        let w = Work {
            connectors: work
                .connectors
                .iter()
                .filter(|c| {
                    round.configured.connectors.contains(*c) && !round.seen.connectors.contains(*c)
                })
                .cloned()
                .collect(),
            tasks: work
                .tasks
                .iter()
                .filter(|t| round.configured.tasks.contains(*t) && !round.seen.tasks.contains(*t))
                .cloned()
                .collect(),
        };
        if !w.is_empty() {
            lost.insert(id, w);
        }
    }
    let elapsed = input.lost_for.unwrap_or_default();
    let hold = !lost.is_empty() && elapsed < input.max_delay && n > 0;
    let delay = if hold {
        input.max_delay - elapsed
    } else {
        Duration::ZERO
    };
    if hold {
        for w in lost.values() {
            round
                .held_back
                .connectors
                .extend(w.connectors.iter().cloned());
            round.held_back.tasks.extend(w.tasks.iter().cloned());
        }
    } else {
        round.revoke_excess::<Connectors>();
        round.revoke_excess::<Tasks>();
    }
    round.assign_free::<Connectors>();
    round.assign_free::<Tasks>();

    let mut next: BTreeMap<String, Work> = BTreeMap::new();
    let mut assignments = BTreeMap::new();
    for (i, id) in round.ids.iter().enumerate() {
        let mut full = round.kept[i].clone();
        full.connectors
            .extend(round.out[i].assigned.connectors.iter().cloned());
        full.tasks
            .extend(round.out[i].assigned.tasks.iter().cloned());
        next.insert(id.to_string(), full);
        assignments.insert(id.to_string(), round.out[i].clone());
    }
    if hold {
        for (id, w) in lost {
            next.insert(id.to_string(), w);
        }
    }
    AssignorOutput {
        assignments,
        delay,
        held_back: round.held_back,
        next,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A simulated group: what each member runs, and the leader's memory.
    #[derive(Debug, Default)]
    struct Group {
        owned: BTreeMap<String, Work>,
        previous: BTreeMap<String, Work>,
        lost_for: Option<Duration>,
        max_delay: Duration,
    }

    impl Group {
        fn with(members: &[&str]) -> Group {
            let mut g = Group::default();
            for m in members {
                g.join(m);
            }
            g
        }

        fn join(&mut self, m: &str) {
            self.owned.insert(m.to_string(), Work::default());
        }

        fn leave(&mut self, m: &str) {
            self.owned.remove(m);
        }

        /// One rebalance; members apply their assignments.
        fn round(&mut self, connectors: &BTreeMap<String, usize>) -> AssignorOutput {
            let input = AssignorInput {
                members: self
                    .owned
                    .iter()
                    .map(|(id, w)| Member {
                        id: id.clone(),
                        url: format!("http://{id}:8083/"),
                        owned: w.clone(),
                    })
                    .collect(),
                connectors: connectors.clone(),
                previous: self.previous.clone(),
                lost_for: self.lost_for,
                max_delay: self.max_delay,
            };
            let out = assign(&input);
            for (id, a) in &out.assignments {
                let w = self.owned.get_mut(id).unwrap();
                *w = w.apply(a);
            }
            self.previous = out.next.clone();
            out
        }

        /// Rebalances until nothing changes; returns the number of rounds that changed something.
        fn converge(&mut self, connectors: &BTreeMap<String, usize>) -> usize {
            for i in 0..10 {
                let out = self.round(connectors);
                if out
                    .assignments
                    .values()
                    .all(|a| a.assigned.is_empty() && a.revoked.is_empty())
                {
                    return i;
                }
            }
            panic!("no convergence: {self:?}");
        }

        fn counts(&self) -> Vec<(usize, usize)> {
            self.owned
                .values()
                .map(|w| (w.connectors.len(), w.tasks.len()))
                .collect()
        }

        fn check_balanced(&self, connectors: &BTreeMap<String, usize>) {
            let mut all_c = Vec::new();
            let mut all_t = Vec::new();
            for w in self.owned.values() {
                all_c.extend(w.connectors.iter().cloned());
                all_t.extend(w.tasks.iter().cloned());
            }
            all_c.sort();
            all_t.sort();
            let want_c: Vec<String> = connectors.keys().cloned().collect();
            let want_t: Vec<TaskId> = connectors
                .iter()
                .flat_map(|(c, &n)| {
                    (0..n).map(move |task| TaskId {
                        connector: c.clone(),
                        task,
                    })
                })
                .collect();
            assert_eq!(all_c, want_c, "every connector exactly once");
            assert_eq!(all_t, want_t, "every task exactly once");
            let counts = self.counts();
            let spread = |f: fn(&(usize, usize)) -> usize| {
                counts.iter().map(f).max().unwrap_or(0) - counts.iter().map(f).min().unwrap_or(0)
            };
            assert!(spread(|c| c.0) <= 1, "connectors unbalanced: {counts:?}");
            assert!(spread(|c| c.1) <= 1, "tasks unbalanced: {counts:?}");
        }
    }

    fn conns(list: &[(&str, usize)]) -> BTreeMap<String, usize> {
        list.iter().map(|(c, n)| (c.to_string(), *n)).collect()
    }

    #[test]
    fn first_assignment_is_balanced_and_complete() {
        let mut g = Group::with(&["w1", "w2", "w3"]);
        let cs = conns(&[("a", 3), ("b", 2), ("c", 4)]);
        let out = g.round(&cs);
        assert!(!out.has_revocations());
        assert_eq!(out.delay, Duration::ZERO);
        g.check_balanced(&cs);
        assert_eq!(g.converge(&cs), 0);
    }

    #[test]
    fn a_joining_member_takes_a_fair_share_and_others_keep_the_rest() {
        let mut g = Group::with(&["w1", "w2"]);
        let cs = conns(&[("a", 4), ("b", 4)]);
        g.converge(&cs);
        let before = g.owned.clone();
        g.join("w3");
        // Round 1: only revocations, nothing reassigned yet.
        let out = g.round(&cs);
        assert!(out.has_revocations());
        assert!(out.assignments["w3"].assigned.is_empty());
        for m in ["w1", "w2"] {
            assert!(out.assignments[m].assigned.is_empty());
            // Kept work is a subset of what it had.
            assert!(g.owned[m].tasks.is_subset(&before[m].tasks));
        }
        let revoked: usize = out
            .assignments
            .values()
            .map(|a| a.revoked.tasks.len())
            .sum();
        assert_eq!(revoked, 2, "only what must move: 8 tasks over 3 = 3,3,2");
        // Round 2: the revoked work goes to the new member.
        let out = g.round(&cs);
        assert!(!out.has_revocations());
        assert_eq!(out.assignments["w3"].assigned.tasks.len(), 2);
        g.check_balanced(&cs);
        assert_eq!(g.converge(&cs), 0);
    }

    #[test]
    fn a_departed_members_work_is_reassigned_at_once_with_no_delay() {
        let mut g = Group::with(&["w1", "w2", "w3"]);
        let cs = conns(&[("a", 3), ("b", 3)]);
        g.converge(&cs);
        let lost = g.owned["w2"].clone();
        g.leave("w2");
        let out = g.round(&cs);
        assert_eq!(out.delay, Duration::ZERO);
        assert!(out.held_back.is_empty());
        let reassigned: BTreeSet<TaskId> = out
            .assignments
            .values()
            .flat_map(|a| a.assigned.tasks.iter().cloned())
            .collect();
        assert_eq!(reassigned, lost.tasks);
        g.check_balanced(&cs);
    }

    #[test]
    fn a_departed_members_work_is_held_back_for_the_delay() {
        let mut g = Group::with(&["w1", "w2", "w3"]);
        g.max_delay = Duration::from_secs(10);
        let cs = conns(&[("a", 3), ("b", 3)]);
        g.converge(&cs);
        let lost = g.owned["w3"].clone();
        g.leave("w3");
        let out = g.round(&cs);
        assert_eq!(out.delay, Duration::from_secs(10));
        assert_eq!(out.held_back, lost);
        assert!(
            out.assignments
                .values()
                .all(|a| a.assigned.is_empty() && a.revoked.is_empty())
        );
        assert_eq!(
            out.to_protocol("w1", 2, "w1", "http://w1:8083/", 4)
                .delay_ms,
            10_000
        );
        // A rejoin before the delay ends keeps holding, with the remaining delay.
        g.lost_for = Some(Duration::from_secs(4));
        let out = g.round(&cs);
        assert_eq!(out.delay, Duration::from_secs(6));
        assert_eq!(out.held_back, lost);
        // A new member meanwhile gets nothing yet, and nobody is revoked for it.
        g.join("w4");
        let out = g.round(&cs);
        assert!(!out.has_revocations());
        assert!(out.assignments["w4"].assigned.is_empty());
        // Once the delay has passed, the lost work goes to the least loaded: the newcomer.
        g.lost_for = Some(Duration::from_secs(10));
        let out = g.round(&cs);
        assert_eq!(out.delay, Duration::ZERO);
        assert!(out.held_back.is_empty());
        assert_eq!(out.assignments["w4"].assigned, lost);
        g.lost_for = None;
        g.converge(&cs);
        g.check_balanced(&cs);
    }

    #[test]
    fn connectors_added_and_removed() {
        let mut g = Group::with(&["w1", "w2"]);
        let cs = conns(&[("a", 2), ("b", 2)]);
        g.converge(&cs);
        let cs2 = conns(&[("a", 2), ("b", 2), ("c", 2)]);
        let out = g.round(&cs2);
        assert!(!out.has_revocations());
        g.check_balanced(&cs2);
        let holder = g
            .owned
            .iter()
            .find(|(_, w)| w.connectors.contains("a"))
            .map(|(id, _)| id.clone())
            .unwrap();
        let cs3 = conns(&[("b", 2), ("c", 2)]);
        let out = g.round(&cs3);
        assert!(out.assignments[&holder].revoked.connectors.contains("a"));
        let revoked_tasks: BTreeSet<TaskId> = out
            .assignments
            .values()
            .flat_map(|a| a.revoked.tasks.iter().cloned())
            .collect();
        assert!(revoked_tasks.iter().any(|t| t.connector == "a"));
        g.converge(&cs3);
        g.check_balanced(&cs3);
    }

    #[test]
    fn tasks_max_changed() {
        let mut g = Group::with(&["w1", "w2"]);
        let cs = conns(&[("a", 4)]);
        g.converge(&cs);
        let fewer = conns(&[("a", 2)]);
        let out = g.round(&fewer);
        let revoked: BTreeSet<usize> = out
            .assignments
            .values()
            .flat_map(|a| a.revoked.tasks.iter().map(|t| t.task))
            .collect();
        assert!(revoked.contains(&2) && revoked.contains(&3));
        g.converge(&fewer);
        g.check_balanced(&fewer);
        let more = conns(&[("a", 6)]);
        g.round(&more);
        g.converge(&more);
        g.check_balanced(&more);
    }

    #[test]
    fn duplicates_are_revoked_and_protocol_assignment_is_incremental() {
        let cs = conns(&[("a", 1)]);
        let both = Work {
            connectors: ["a".to_string()].into(),
            tasks: [TaskId {
                connector: "a".into(),
                task: 0,
            }]
            .into(),
        };
        let input = AssignorInput {
            members: vec![
                Member {
                    id: "x".into(),
                    url: String::new(),
                    owned: both.clone(),
                },
                Member {
                    id: "y".into(),
                    url: String::new(),
                    owned: both.clone(),
                },
            ],
            connectors: cs,
            ..AssignorInput::default()
        };
        let out = assign(&input);
        assert!(out.assignments["x"].revoked.is_empty());
        assert_eq!(out.assignments["y"].revoked, both);
        let p = out.to_protocol("y", 1, "x", "http://x/", 9);
        assert_eq!(p.revoked_connectors, vec!["a".to_string()]);
        assert!(p.connectors.is_empty() && p.tasks.is_empty());
        assert_eq!((p.leader.as_str(), p.config_offset), ("x", 9));
    }

    fn arb_connectors() -> impl Strategy<Value = BTreeMap<String, usize>> {
        proptest::collection::btree_map("[a-f]{1,2}", 0usize..6, 0..8)
    }

    proptest! {
        #[test]
        fn converges_to_every_task_once_and_balanced(
            initial in 1usize..5,
            first in arb_connectors(),
            second in arb_connectors(),
            joins in 0usize..3,
            leaves in 0usize..3,
            delayed in any::<bool>(),
        ) {
            let names: Vec<String> = (0..initial).map(|i| format!("w{i}")).collect();
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            let mut g = Group::with(&refs);
            if delayed {
                g.max_delay = Duration::from_secs(5);
            }
            g.converge(&first);
            g.check_balanced(&first);
            for i in 0..joins {
                g.join(&format!("n{i}"));
            }
            for name in names.iter().take(leaves.min(initial - 1)) {
                g.leave(name);
            }
            g.round(&second);
            // Let any delay run out.
            g.lost_for = Some(Duration::from_secs(5));
            g.round(&second);
            g.lost_for = None;
            g.converge(&second);
            g.check_balanced(&second);
        }
    }
}
