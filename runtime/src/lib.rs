//! Ferry's worker runtime: the worker that runs connectors and tasks, the herders that
//! decide what runs, the stores over the internal topics, and the `ferry` CLI
//! (in `main.rs`).
pub mod cli;
pub mod config;
pub mod distributed;
pub mod errors;
pub mod herder;
pub mod log;
pub mod plugins;
pub mod rest;
pub mod storage;
pub mod worker;
