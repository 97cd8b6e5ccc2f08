//! The worker group of distributed mode: how workers find each other through a Kafka group
//! with protocol type `connect`. The group protocol's codec ([`protocol`]), the leader's
//! incremental cooperative assignor ([`assignor`]), one worker's membership client
//! ([`coordinator`]) and the distributed worker's config ([`config`]). The distributed
//! herder (`herder::distributed`) is built on top of it.

pub mod assignor;
pub mod config;
pub mod coordinator;
pub mod protocol;

pub use assignor::{AssignorInput, AssignorOutput, Member, MemberAssignment, Work, assign};
pub use config::{DistributedConfig, distributed_config_def};
pub use coordinator::{Coordinator, CoordinatorError, GroupSettings, Heartbeats, Rebalanced};
pub use protocol::{Assignment, ConnectProtocol, InternalTopics, ProtocolError, WorkerMetadata};
