//! The `ferry` command.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use ferry_runtime::herder::distributed::{self, Distributed};
use ferry_runtime::herder::standalone::{self, Standalone};
use ferry_runtime::rest::{self, Loggers, RestState};
use ferry_runtime::worker::WorkerConfig;
use ferry_runtime::worker_group::DistributedConfig;
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
nested YAML keys flatten to Kafka Connect's dotted keys. Every key: `ferry docs`.\nDocs: README.md, docs/architecture.md, docs/configuration.md, docs/formats.md.";

const DISTRIBUTED_EXAMPLES: &str = "\
Examples:
  # Three workers of one group against one broker (each in its own terminal)
  ferry broker --listen 127.0.0.1:9092 --data-dir /tmp/ferry-broker
  ferry distributed configs/distributed.yaml
  # ... the same file with another `listeners` port for the second and third worker

  # Create a connector through any worker; writes are forwarded to the leader
  ferry connectors create -f configs/file-source.yaml --url http://127.0.0.1:8083";

const CONNECTORS_EXAMPLES: &str = "\
Examples:
  ferry connectors list
  ferry connectors create -f configs/file-source.yaml
  ferry connectors status local-file-source -o json
  ferry connectors stop local-file-source && ferry connectors offsets reset local-file-source

Exit codes: 0 done, 1 the request failed (the worker's message is printed), 2 usage error.";

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
        /// Connector configs, one per file (more can be created through the REST API).
        connectors: Vec<PathBuf>,
    },
    /// Run a worker of a distributed group: connectors, configs, offsets and statuses are
    /// shared with the other workers of `group.id` through the brokers of
    /// `bootstrap.servers`.
    #[command(after_help = DISTRIBUTED_EXAMPLES)]
    Distributed {
        /// Worker config (bootstrap.servers, group.id, the *.storage.topic keys, listeners,
        /// ...; Kafka's connect-distributed.properties works as it is).
        worker: PathBuf,
    },
    /// Manage the connectors of a running worker through its REST API.
    #[command(after_help = CONNECTORS_EXAMPLES)]
    Connectors(ferry_runtime::cli::ConnectorsArgs),
    /// Print reference docs generated from the code (`ferry docs --out
    /// docs/configuration.md` rewrites the repository's config reference).
    Docs(ferry_runtime::cli::docs::DocsArgs),
    /// Run the built-in log alone, serving the Kafka protocol to any Kafka client.
    Broker {
        /// Address of the Kafka-protocol listener (port 0 picks a free port).
        #[arg(long, default_value = "127.0.0.1:9092")]
        listen: std::net::SocketAddr,
        /// Data directory of the log.
        #[arg(long, default_value = "./ferry-data")]
        data_dir: PathBuf,
        /// Partitions of auto-created topics (`num.partitions`).
        #[arg(long, default_value_t = ferry_broker::server::DEFAULT_NUM_PARTITIONS)]
        num_partitions: u32,
        /// Create unknown topics on Metadata requests (`auto.create.topics.enable`).
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        auto_create_topics: bool,
    },
}

/// Logs to stderr through a filter that `/admin/loggers` can change at runtime.
fn init_logging() -> Loggers {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let base = std::env::var("FERRY_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .filter(|d| EnvFilter::try_new(d).is_ok())
        .unwrap_or_else(|| "info".into());
    let (filter, handle) = tracing_subscriber::reload::Layer::new(EnvFilter::new(&base));
    tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                .with_target(false),
        )
        .init();
    Loggers::new(
        &base,
        Some(Box::new(move |directives| {
            let filter = EnvFilter::try_new(directives).map_err(|e| e.to_string())?;
            handle.reload(filter).map_err(|e| e.to_string())
        })),
    )
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let loggers = init_logging();
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
            Command::Standalone { worker, connectors } => {
                run_standalone(worker, connectors, loggers).await
            }
            Command::Distributed { worker } => run_distributed(worker, loggers).await,
            Command::Docs(args) => write_docs(&args),
            Command::Connectors(args) => ferry_runtime::cli::run(args).await.map_err(Into::into),
            Command::Broker {
                listen,
                data_dir,
                num_partitions,
                auto_create_topics,
            } => run_broker(listen, data_dir, num_partitions, auto_create_topics).await,
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

fn write_docs(args: &ferry_runtime::cli::docs::DocsArgs) -> anyhow::Result<()> {
    let text = ferry_runtime::cli::docs::render(args.topic);
    match &args.out {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
        }
        None => {
            use std::io::Write as _;
            std::io::stdout()
                .write_all(text.as_bytes())
                .context("cannot write to stdout")
        }
    }
}

async fn run_standalone(
    worker: PathBuf,
    connectors: Vec<PathBuf>,
    loggers: Loggers,
) -> anyhow::Result<()> {
    let (worker_config, connector_configs) = standalone::load(&worker, &connectors)?;
    let mut listeners = Vec::new();
    for url in worker_config.listeners() {
        let listener = rest::bind(&url)
            .await
            .with_context(|| format!("REST listener {url}"))?;
        listeners.push(listener);
    }
    let worker_config = with_bound_ports(worker_config, &listeners)?;
    let running = Standalone::start(worker_config, connector_configs).await?;
    let state = RestState::new(running.herder(), loggers, "ferry-standalone");
    let (stop_rest, rest_stopped) = tokio::sync::watch::channel(false);
    let mut servers = Vec::new();
    for listener in listeners {
        let addr = listener.local_addr()?;
        tracing::info!("REST API listening on http://{addr}");
        let mut stopped = rest_stopped.clone();
        servers.push(tokio::spawn(rest::serve(
            listener,
            state.clone(),
            async move {
                let _ = stopped.wait_for(|s| *s).await;
            },
        )));
    }
    let connectors = running.herder().connectors().await.unwrap_or_default();
    tracing::info!(
        connectors = connectors.len(),
        "standalone worker running; stop with Ctrl-C or SIGTERM"
    );
    wait_for_signal().await;
    tracing::info!("stopping: flushing and committing");
    let _ = stop_rest.send(true);
    for server in servers {
        match tokio::time::timeout(std::time::Duration::from_secs(5), server).await {
            Ok(Ok(Err(e))) => tracing::warn!(error = %e, "REST server failed"),
            Err(_) => tracing::warn!("REST server did not stop within 5 s"),
            _ => {}
        }
    }
    running.shutdown().await;
    Ok(())
}

async fn run_distributed(worker: PathBuf, loggers: Loggers) -> anyhow::Result<()> {
    let config = distributed::load(&worker)?;
    let mut listeners = Vec::new();
    for url in config.worker().listeners() {
        let listener = rest::bind(&url)
            .await
            .with_context(|| format!("REST listener {url}"))?;
        listeners.push(listener);
    }
    let bound = bound_listeners(config.worker(), &listeners)?;
    let config = match bound {
        Some(bound) => {
            let mut originals = config.worker().originals().clone();
            originals.insert("listeners".into(), bound);
            DistributedConfig::parse(&originals).map_err(|issues| {
                anyhow::anyhow!(
                    "{}",
                    issues
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("\n")
                )
            })?
        }
        None => config,
    };
    let group = config.group_id();
    let mut running = Distributed::start(config).await?;
    let state = RestState::new(running.herder(), loggers, &group);
    let (stop_rest, rest_stopped) = tokio::sync::watch::channel(false);
    let mut servers = Vec::new();
    for listener in listeners {
        let addr = listener.local_addr()?;
        tracing::info!("REST API listening on http://{addr}");
        let mut stopped = rest_stopped.clone();
        servers.push(tokio::spawn(rest::serve(
            listener,
            state.clone(),
            async move {
                let _ = stopped.wait_for(|s| *s).await;
            },
        )));
    }
    tracing::info!(%group, "distributed worker running; stop with Ctrl-C or SIGTERM");
    let refused = tokio::select! {
        _ = wait_for_signal() => None,
        reason = running.failed() => Some(reason),
    };
    tracing::info!("stopping: flushing and committing");
    let _ = stop_rest.send(true);
    for server in servers {
        match tokio::time::timeout(std::time::Duration::from_secs(5), server).await {
            Ok(Ok(Err(e))) => tracing::warn!(error = %e, "REST server failed"),
            Err(_) => tracing::warn!("REST server did not stop within 5 s"),
            _ => {}
        }
    }
    running.shutdown().await;
    match refused {
        Some(reason) => Err(anyhow::anyhow!("{reason}")),
        None => Ok(()),
    }
}

async fn run_broker(
    listen: std::net::SocketAddr,
    data_dir: PathBuf,
    num_partitions: u32,
    auto_create_topics: bool,
) -> anyhow::Result<()> {
    use ferry_broker::server::{Broker, BrokerConfig};
    use ferry_log::{LogConfig, LogManager};
    anyhow::ensure!(num_partitions >= 1, "--num-partitions must be at least 1");
    let log = LogManager::open(LogConfig::new(&data_dir))
        .with_context(|| format!("cannot open the log in {}", data_dir.display()))?;
    let log = std::sync::Arc::new(log);
    let mut config = BrokerConfig::new(listen);
    config.num_partitions = num_partitions;
    config.auto_create_topics = auto_create_topics;
    let broker = Broker::bind(config, log.clone()).await?;
    broker.run(wait_for_signal()).await;
    log.close().context("cannot close the log cleanly")?;
    Ok(())
}

/// The `listeners` value naming the ports actually bound, when port 0 asked for any free
/// one (the worker id and advertised URL come from the first listener); `None` otherwise.
fn bound_listeners(
    config: &WorkerConfig,
    listeners: &[tokio::net::TcpListener],
) -> anyhow::Result<Option<String>> {
    let configured = config.listeners();
    if !configured
        .iter()
        .any(|l| l.trim_end_matches('/').ends_with(":0"))
    {
        return Ok(None);
    }
    let mut bound = Vec::with_capacity(listeners.len());
    for (url, listener) in configured.iter().zip(listeners) {
        let port = listener.local_addr()?.port();
        let url = url.trim_end_matches('/');
        bound.push(match url.strip_suffix(":0") {
            Some(prefix) => format!("{prefix}:{port}"),
            None => url.to_string(),
        });
    }
    Ok(Some(bound.join(",")))
}

/// A worker config whose `listeners` name the ports actually bound (see
/// [`bound_listeners`]).
fn with_bound_ports(
    config: WorkerConfig,
    listeners: &[tokio::net::TcpListener],
) -> anyhow::Result<WorkerConfig> {
    let Some(bound) = bound_listeners(&config, listeners)? else {
        return Ok(config);
    };
    let mut originals = config.originals().clone();
    originals.insert("listeners".into(), bound);
    WorkerConfig::parse(&originals).map_err(|issues| {
        anyhow::anyhow!(
            "{}",
            issues
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        )
    })
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
