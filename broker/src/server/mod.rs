//! `ferry broker`: the log served over the Kafka wire protocol to any Kafka client.
//!
//! One tokio task per connection. Requests of one connection are answered one at a time, in
//! the order they arrived (as Kafka does: it mutes a connection while a request is in
//! flight); clients may pipeline, the next requests wait in the socket buffer. Frames larger
//! than [`BrokerConfig::max_frame_size`], undecodable requests and unknown APIs or versions
//! are logged and close that connection only; ApiVersions at an unknown version gets Kafka's
//! v0 fallback answer instead.
//!
//! Shutdown ([`Broker::run`]'s future resolves): the listener stops accepting, every
//! connection finishes the request it is answering and closes, the group coordinator's timer
//! stops. The caller then closes the [`LogManager`].
//!
//! Copies of record data: Produce hands the records slice of the request frame to
//! `PartitionLog::append`; frames of 64 KiB and more are read into their own buffer, so once
//! the rest of the request is dropped the slice owns it and no copy is made (smaller frames
//! share the connection's read buffer and are copied once; so are all but the last partition
//! of a multi-partition request). Fetch returns the log's bytes as read, never re-encoded, and
//! writes them from the buffers the log read them into: the response is a list of slices
//! (metadata, records, metadata, ...) written with vectored writes
//! (`protocol::encode_fetch_response`); only records under 4 KiB are copied into the
//! metadata buffer. Each log read still zeroes its fresh buffer before `pread` fills it.
//!
//! Request handling times per API (frame read to response written) are kept per connection
//! and logged at debug (target `ferry_broker::server::stats`) when it closes, and in total
//! when the broker stops (`stats`).
//!
//! Performance (`tests/bench/broker.sh`, figures and profile in BENCH.md): one librdkafka
//! client process produces 1.0–1.5 M records/s of 100 bytes here and is itself the
//! bottleneck; the broker then uses ~0.09 CPU-seconds per million records produced (tansu
//! 0.16), over half of it the kernel's copy into the page cache. Large request frames are
//! read into uninitialised capacity (zeroing them showed in the profile).

mod connection;
mod handlers;
mod producers;
mod stats;

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::coordinator::{GroupConfig, GroupCoordinator};
use crate::protocol::DEFAULT_MAX_FRAME_SIZE;
use ferry_log::LogManager;

/// Default `num.partitions` of auto-created topics and CreateTopics with -1 partitions.
pub const DEFAULT_NUM_PARTITIONS: u32 = 1;

/// How long shutdown waits for connections to finish the request they are answering.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Settings of the protocol server (Kafka broker config names in the docs).
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// Address to listen on (`listeners`); port 0 picks a free port.
    pub listen: SocketAddr,
    /// Host advertised in Metadata/FindCoordinator (`advertised.listeners`); `None`: the
    /// listen address, or 127.0.0.1 when listening on an unspecified address.
    pub advertised_host: Option<String>,
    /// Port advertised with it; `None`: the port the listener is bound to (a proxy or NAT in
    /// front of the broker sets it).
    pub advertised_port: Option<u16>,
    /// `node.id` / `broker.id`.
    pub node_id: i32,
    /// The cluster id reported in Metadata.
    pub cluster_id: String,
    /// `num.partitions`: partitions of auto-created topics.
    pub num_partitions: u32,
    /// `auto.create.topics.enable`: Metadata requests create unknown topics.
    pub auto_create_topics: bool,
    /// `socket.request.max.bytes`: larger frames close the connection.
    pub max_frame_size: usize,
    /// Group coordinator settings.
    pub group: GroupConfig,
}

impl BrokerConfig {
    /// Kafka's defaults (except `group.min.session.timeout.ms`, 1000 here) on `listen`.
    pub fn new(listen: SocketAddr) -> BrokerConfig {
        BrokerConfig {
            listen,
            advertised_host: None,
            advertised_port: None,
            node_id: 0,
            cluster_id: "ferry-broker".to_string(),
            num_partitions: DEFAULT_NUM_PARTITIONS,
            auto_create_topics: true,
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            group: GroupConfig::default(),
        }
    }
}

/// Errors starting the server.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The listen address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The stored group offsets cannot be loaded.
    #[error("cannot load consumer group offsets: {0}")]
    Offsets(#[from] ferry_log::Error),
}

/// What every connection shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: BrokerConfig,
    pub(crate) log: Arc<LogManager>,
    pub(crate) advertised: (String, i32),
    pub(crate) producers: producers::Producers,
    pub(crate) groups: Arc<GroupCoordinator>,
    /// Request handling times of the connections closed so far.
    pub(crate) times: stats::BrokerTimes,
}

/// A bound, not yet running, server.
#[derive(Debug)]
pub struct Broker {
    listener: TcpListener,
    shared: Arc<Shared>,
}

impl Broker {
    /// Binds the listener and loads the committed group offsets from `__consumer_offsets`.
    pub async fn bind(config: BrokerConfig, log: Arc<LogManager>) -> Result<Broker, ServerError> {
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| ServerError::Bind {
                    addr: config.listen,
                    source,
                })?;
        let local = listener.local_addr().map_err(|source| ServerError::Bind {
            addr: config.listen,
            source,
        })?;
        let host = match &config.advertised_host {
            Some(h) => h.clone(),
            None if local.ip().is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST).to_string(),
            None => local.ip().to_string(),
        };
        let groups = Arc::new(GroupCoordinator::open(log.clone(), config.group.clone())?);
        let shared = Arc::new(Shared {
            advertised: (
                host,
                i32::from(config.advertised_port.unwrap_or(local.port())),
            ),
            producers: producers::Producers::new(),
            groups,
            times: stats::BrokerTimes::default(),
            log,
            config,
        });
        Ok(Broker { listener, shared })
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` resolves, then stops gracefully (see the module docs).
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let Broker { listener, shared } = self;
        let (stop_tx, stop_rx) = watch::channel(false);
        let ticker = tokio::spawn(shared.groups.clone().run_timers(stop_rx.clone()));
        let mut connections = JoinSet::new();
        tracing::info!(
            addr = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(),
            "ferry broker listening (Kafka protocol)"
        );
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let _ = stream.set_nodelay(true);
                        connections.spawn(connection::run(shared.clone(), stream, peer, stop_rx.clone()));
                    }
                    Err(e) => {
                        // EMFILE and friends: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        drop(listener);
        tracing::info!(
            connections = connections.len(),
            "broker stopping: finishing in-flight requests"
        );
        let _ = stop_tx.send(true);
        let drain = async { while connections.join_next().await.is_some() {} };
        if tokio::time::timeout(SHUTDOWN_GRACE, drain).await.is_err() {
            tracing::warn!("connections still busy after {SHUTDOWN_GRACE:?}; closing them");
            connections.abort_all();
        }
        let _ = ticker.await;
        shared.times.log();
        tracing::info!("broker stopped");
    }
}

/// Binds and serves until `shutdown` resolves.
pub async fn serve(
    config: BrokerConfig,
    log: Arc<LogManager>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServerError> {
    Broker::bind(config, log).await?.run(shutdown).await;
    Ok(())
}

#[cfg(test)]
mod testing;
