//! Ferry's worker runtime: the worker that runs connectors and tasks, the herders that
//! decide what runs, the stores over the internal topics, and the `ferry` CLI
//! (in `main.rs`).
pub mod cli;
pub mod config;
pub mod errors;
pub mod herder;
pub mod lifecycle;
pub mod log;
pub mod plugins;
pub mod rest;
pub mod rest_path;
pub mod storage;
pub mod worker;
pub mod worker_group;

#[cfg(test)]
mod layering;
