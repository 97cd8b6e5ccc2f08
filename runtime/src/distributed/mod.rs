//! Building blocks of distributed mode (issue 7): the `connect` group protocol codec
//! ([`protocol`]), the leader's incremental cooperative assignor ([`assignor`]) and one
//! worker's group membership ([`coordinator`]). The distributed herder is assembled on top.

pub mod assignor;
pub mod config;
pub mod coordinator;
pub mod protocol;

pub use assignor::{AssignorInput, AssignorOutput, Member, MemberAssignment, Work, assign};
pub use config::{DistributedConfig, distributed_config_def};
pub use coordinator::{Coordinator, CoordinatorError, GroupSettings, Heartbeats, Rebalanced};
pub use protocol::{Assignment, ConnectProtocol, InternalTopics, ProtocolError, WorkerMetadata};
