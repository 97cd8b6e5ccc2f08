//! Kafka Connect's error handling (KIP-298, KIP-610), per task: what happens when a record
//! fails in a converter, or when a sink task reports one it could not write.
//!
//! - `errors.retry.timeout` / `errors.retry.delay.max.ms`: a retriable failure is tried
//!   again, with exponential backoff from 300 ms up to the maximum delay, until the timeout
//!   (0: never retried, -1: retried forever).
//! - `errors.tolerance`: `none` (default) fails the task on the first failed record; `all`
//!   skips it and carries on.
//! - `errors.log.enable` / `errors.log.include.messages`: tolerated failures are logged,
//!   optionally with the record's key, value and headers.
//! - `errors.deadletterqueue.topic.name` (sinks only): tolerated records are appended, as
//!   they were consumed, to this topic, created if missing; with
//!   `errors.deadletterqueue.context.headers.enable` they carry Kafka's
//!   `__connect.errors.*` headers saying where they came from and why they failed.
//!
//! [`ErrorHandler`] makes those decisions ([`handler`]), writing to the dead letter queue
//! ([`dead_letter`]); [`ErrantReporter`] offers them to sink tasks through
//! `SinkTaskContext::errant_record_reporter` ([`reporter`]). The keys are in [`config`].

mod config;
mod dead_letter;
mod failure;
mod handler;
mod reporter;

pub use config::config_def;
pub(crate) use failure::{Consumed, Failure, Stage};
pub(crate) use handler::ErrorHandler;
pub(crate) use reporter::ErrantReporter;
