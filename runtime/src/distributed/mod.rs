//! Building blocks of distributed mode (issue 7): the `connect` group protocol codec and the
//! leader's incremental cooperative assignor. The distributed herder is assembled on top.

pub mod assignor;
pub mod protocol;

pub use assignor::{AssignorInput, AssignorOutput, Member, MemberAssignment, Work, assign};
pub use protocol::{Assignment, ConnectProtocol, ProtocolError, WorkerMetadata};
