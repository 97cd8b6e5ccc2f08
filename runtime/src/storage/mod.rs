//! The worker's stores: typed views over the internal topics (or, in standalone, a file).

pub mod configs;
pub mod offsets;
pub mod statuses;

pub use configs::{ConfigStore, ConfigStoreError, StoredConnector};
pub use offsets::{OffsetStore, OffsetStoreError};
