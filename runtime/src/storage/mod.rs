//! The worker's stores: typed views over the internal topics (or, in standalone, a file).

pub mod offsets;

pub use offsets::{OffsetStore, OffsetStoreError};
