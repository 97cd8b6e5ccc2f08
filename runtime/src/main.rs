//! The `ferry` command.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ferry_runtime::herder::standalone::{self, Standalone};
use tracing_subscriber::EnvFilter;

const EXAMPLES: &str = "\
Examples:
  # Run the example pipeline: tail /tmp/ferry-in.txt into /tmp/ferry-out.txt
  ferry standalone configs/standalone.yaml configs/file-source.yaml configs/file-sink.yaml

  # Kafka's own quickstart files work too
  ferry standalone connect-standalone.properties connect-file-source.properties

  # More detail in the logs
  FERRY_LOG=debug ferry standalone worker.yaml conn.yaml

Config files may be YAML (.yaml/.yml), Java properties (.properties) or JSON (.json);
nested YAML keys flatten to Kafka Connect's dotted keys. Docs: README.md and DESIGN.md.";

/// Ferry: Kafka Connect's connectors, configs and guarantees in one small binary.
#[derive(Debug, Parser)]
#[command(name = "ferry", version, about, after_help = EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run one worker with its embedded log, and the connectors given as files.
    #[command(after_help = EXAMPLES)]
    Standalone {
        /// Worker config (data.dir, converters, offset.flush.interval.ms, ...).
        worker: PathBuf,
        /// Connector configs, one per file.
        #[arg(required = true)]
        connectors: Vec<PathBuf>,
    },
}

fn init_logging() {
    let filter = EnvFilter::try_from_env("FERRY_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("ferry")
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Standalone { worker, connectors } => run_standalone(worker, connectors).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            for line in format!("{e:#}").lines() {
                eprintln!("error: {line}");
            }
            ExitCode::FAILURE
        }
    }
}

async fn run_standalone(worker: PathBuf, connectors: Vec<PathBuf>) -> anyhow::Result<()> {
    let (worker_config, connector_configs) = standalone::load(&worker, &connectors)?;
    let running = Standalone::start(worker_config, connector_configs).await?;
    let connectors = running.herder().connectors().await.unwrap_or_default();
    tracing::info!(
        connectors = connectors.len(),
        "standalone worker running; stop with Ctrl-C or SIGTERM"
    );
    wait_for_signal().await;
    tracing::info!("stopping: flushing and committing");
    running.shutdown().await;
    Ok(())
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGTERM; only Ctrl-C stops the worker");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
