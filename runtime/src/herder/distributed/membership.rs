//! The worker's group membership, on a task of its own so that a rebalance (JoinGroup waits
//! until every member rejoined) never blocks the herder: it keeps answering requests
//! meanwhile, from its local view, and 409 for writes.
//!
//! The herder and this task talk in events and commands. Before every join the task asks
//! the herder ([`Event::Joining`]) for the view to join with (its config offset and the
//! connectors it knows) and waits for the answer: the herder has by then handled every
//! earlier assignment, so the allocation sent with the join is what the worker really
//! runs (revoked work was stopped first), and with the eager protocol it stops everything
//! before answering. A completed rebalance is [`Event::Rebalanced`]; heartbeats then run in
//! the background until the coordinator asks for a rebalance.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::worker_group::{Coordinator, Heartbeats, Rebalanced, Work};

/// First pause after a failed rebalance; doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// What a worker joins with.
#[derive(Debug, Clone, Default)]
pub(super) struct JoinView {
    /// Its config offset.
    pub(super) config_offset: i64,
    /// Every connector it knows, with its number of tasks (for the leader's assignment).
    pub(super) connectors: BTreeMap<String, usize>,
}

/// What the membership tells the herder.
#[derive(Debug)]
pub(super) enum Event {
    /// A join is about to start: answer with the view to join with (for the eager
    /// protocol, after stopping all work).
    Joining {
        eager: bool,
        reply: oneshot::Sender<JoinView>,
    },
    /// A rebalance completed; with the leader's view of who runs what, when this worker
    /// leads.
    Rebalanced(Box<Rebalanced>, Option<Vec<(String, Work)>>),
    /// A rebalance attempt failed (broker away, ...); another follows.
    Failed(String),
}

enum Command {
    Rejoin(String),
    Leave(oneshot::Sender<()>),
}

/// The handle of the membership task.
#[derive(Debug)]
pub(super) struct Membership {
    commands: mpsc::UnboundedSender<Command>,
    task: tokio::task::JoinHandle<()>,
}

impl Membership {
    /// Joins the group and keeps the membership; events go to `events`.
    pub(super) fn start(coordinator: Coordinator, events: mpsc::Sender<Event>) -> Membership {
        let (commands, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(coordinator, events, rx));
        Membership { commands, task }
    }

    /// Asks for a rebalance (after the current one, if one is under way).
    pub(super) fn rejoin(&self, reason: &str) {
        let _ = self.commands.send(Command::Rejoin(reason.to_string()));
    }

    /// Leaves the group (LeaveGroup) and ends the task.
    pub(super) async fn leave(self) {
        let (done, rx) = oneshot::channel();
        if self.commands.send(Command::Leave(done)).is_ok() {
            let _ = tokio::time::timeout(Duration::from_secs(5), rx).await;
        }
        self.task.abort();
    }
}

/// Waits for the heartbeats to ask for a rebalance; forever when there are none.
async fn rejoin_needed(heartbeats: &mut Option<Heartbeats>) -> String {
    match heartbeats {
        Some(h) => h.rejoin_needed().await,
        None => std::future::pending().await,
    }
}

async fn leave(coordinator: &mut Coordinator) {
    if let Err(e) = coordinator.leave().await {
        tracing::warn!(error = %e, "leaving the group failed; the coordinator will expire this worker's session");
    } else {
        tracing::info!("left the group");
    }
}

async fn run(
    mut coordinator: Coordinator,
    events: mpsc::Sender<Event>,
    mut commands: mpsc::UnboundedReceiver<Command>,
) {
    let mut need: Option<String> = Some("joining the group".into());
    let mut heartbeats: Option<Heartbeats> = None;
    let mut backoff = FIRST_BACKOFF;
    loop {
        if let Some(reason) = need.take() {
            tracing::info!(%reason, "rebalance starting");
            let (reply, view) = oneshot::channel();
            let eager = !coordinator.settings().protocol.is_incremental();
            if events.send(Event::Joining { eager, reply }).await.is_err() {
                return;
            }
            let Ok(view) = view.await else { return };
            let mut again: Option<String> = None;
            let mut leaving: Option<oneshot::Sender<()>> = None;
            let outcome = {
                let rebalance = coordinator.rebalance(view.config_offset, &view.connectors);
                tokio::pin!(rebalance);
                loop {
                    tokio::select! {
                        r = &mut rebalance => break Some(r),
                        command = commands.recv() => match command {
                            Some(Command::Rejoin(r)) => again = Some(r),
                            Some(Command::Leave(done)) => {
                                leaving = Some(done);
                                break None;
                            }
                            None => return,
                        },
                    }
                }
            };
            if let Some(done) = leaving {
                leave(&mut coordinator).await;
                let _ = done.send(());
                return;
            }
            match outcome {
                Some(Ok(rebalanced)) => {
                    backoff = FIRST_BACKOFF;
                    // Heartbeats first: the herder may take a while to start the work.
                    heartbeats = Some(coordinator.start_heartbeats());
                    let owners = coordinator.owners();
                    if events
                        .send(Event::Rebalanced(Box::new(rebalanced), owners))
                        .await
                        .is_err()
                    {
                        return;
                    }
                    need = again;
                }
                Some(Err(e)) => {
                    heartbeats = None;
                    tracing::warn!(error = %e, ?backoff, "rebalance failed; retrying");
                    if events.send(Event::Failed(e.to_string())).await.is_err() {
                        return;
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        command = commands.recv() => match command {
                            Some(Command::Leave(done)) => {
                                leave(&mut coordinator).await;
                                let _ = done.send(());
                                return;
                            }
                            Some(Command::Rejoin(_)) => {}
                            None => return,
                        },
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    need = Some("retrying after a failed rebalance".into());
                }
                None => return,
            }
            continue;
        }
        tokio::select! {
            command = commands.recv() => match command {
                Some(Command::Rejoin(reason)) => need = Some(reason),
                Some(Command::Leave(done)) => {
                    drop(heartbeats.take());
                    leave(&mut coordinator).await;
                    let _ = done.send(());
                    return;
                }
                None => return,
            },
            reason = rejoin_needed(&mut heartbeats) => {
                heartbeats = None;
                need = Some(reason);
            }
        }
    }
}
