//! Connectors and their tasks.
//!
//! A [`Connector`] is configured once per connector instance and splits its work into task
//! configs; the runtime then runs one [`SourceTask`] or [`SinkTask`] per task config,
//! possibly on another worker than the connector. A connector crate exports one
//! [`ConnectorPlugin`] per connector class, and the runtime lists them in its one registry.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;

use crate::config::{ConfigDef, ConfigIssue, ConfigMap};
use crate::error::{ConnectError, Result};
use crate::record::{SinkRecord, SourceMap, SourceRecord, TopicPartition};

/// Whether a connector reads from an external system (source) or writes to one (sink).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectorType {
    /// Reads an external system, writes the log.
    Source,
    /// Reads the log, writes an external system.
    Sink,
}

impl ConnectorType {
    /// `source` or `sink`, as in Kafka Connect's REST API.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectorType::Source => "source",
            ConnectorType::Sink => "sink",
        }
    }
}

/// What the runtime offers a running connector.
pub trait ConnectorContext: Send + Sync {
    /// Asks the runtime to call [`Connector::task_configs`] again and restart the tasks if
    /// their configs changed (e.g. a source discovered new tables). May be called from any
    /// thread at any time after `start`.
    fn request_task_reconfiguration(&self);
    /// Reports an unrecoverable error; the runtime marks the connector FAILED.
    fn raise_error(&self, error: ConnectError);
}

/// A connector: validates its config, and splits its work into task configs.
///
/// Lifecycle: the runtime creates an instance, calls [`Connector::start`] once, then
/// [`Connector::task_configs`] (again whenever reconfiguration is requested), and finally
/// [`Connector::stop`]. `start` is only ever called on a fresh instance.
#[async_trait]
pub trait Connector: Send {
    /// The connector's version, shown by the REST API.
    fn version(&self) -> &'static str;

    /// The declaration of every key this connector understands.
    fn config_def(&self) -> ConfigDef;

    /// Checks a config without any I/O and reports every problem at once. The default
    /// checks the config against [`Connector::config_def`]; override to add cross-key rules
    /// (and call the default too).
    fn validate(&self, config: &ConfigMap) -> Vec<ConfigIssue> {
        self.config_def().validate(config)
    }

    /// Starts the connector with a config that passed [`Connector::validate`]. May do I/O;
    /// an error marks the connector FAILED.
    async fn start(&mut self, context: Arc<dyn ConnectorContext>, config: &ConfigMap)
    -> Result<()>;

    /// At most `max_tasks` task configs; one task is started per entry.
    fn task_configs(&self, max_tasks: usize) -> Result<Vec<ConfigMap>>;

    /// Stops the connector (not its tasks, which the runtime stops). Called once.
    async fn stop(&mut self) -> Result<()> {
        Ok(())
    }
}

/// Reads the committed offset of a source partition.
#[async_trait]
pub trait OffsetReader: Send + Sync {
    /// The last committed source offset of `partition`, if any.
    async fn offset(&self, partition: &SourceMap) -> Result<Option<SourceMap>>;
}

/// What the runtime offers a source task.
#[derive(Clone)]
pub struct SourceTaskContext {
    offsets: Arc<dyn OffsetReader>,
}

impl std::fmt::Debug for SourceTaskContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceTaskContext").finish_non_exhaustive()
    }
}

impl SourceTaskContext {
    /// Built by the runtime.
    pub fn new(offsets: Arc<dyn OffsetReader>) -> Self {
        SourceTaskContext { offsets }
    }
    /// Reads committed source offsets, to resume where the previous run stopped.
    pub fn offset_reader(&self) -> &dyn OffsetReader {
        self.offsets.as_ref()
    }
}

/// A source task: polls an external system and returns records.
///
/// Lifecycle, all calls from one runtime task, never concurrently: `start`, then `poll`
/// repeatedly (with `commit` between polls after offsets were committed), then `stop`.
#[async_trait]
pub trait SourceTask: Send {
    /// Starts the task with its task config (from [`Connector::task_configs`]). Read the
    /// committed offsets from `context` here to resume. An error fails the task.
    async fn start(&mut self, context: SourceTaskContext, config: &ConfigMap) -> Result<()>;

    /// Returns the next records. May wait for data, but must return (with an empty vector
    /// if nothing came) within about a second, so that the task can be paused or stopped
    /// promptly: the runtime never cancels a `poll` in flight. The runtime does not call
    /// `poll` while too many of this task's records wait to be acknowledged by the log
    /// (back-pressure). A [`ConnectError::Retriable`] error makes the runtime poll again
    /// later; any other error fails the task.
    async fn poll(&mut self) -> Result<Vec<SourceRecord>>;

    /// Called after the runtime committed the offsets of the records returned so far (for
    /// sources that acknowledge upstream). Default: nothing.
    async fn commit(&mut self) -> Result<()> {
        Ok(())
    }

    /// Called once after the last `poll`, to release resources. Default: nothing.
    async fn stop(&mut self) -> Result<()> {
        Ok(())
    }
}

/// What the runtime offers a sink task. Requests made here take effect after the current
/// call returns.
pub trait SinkTaskContext: Send + Sync {
    /// The partitions currently assigned to the task.
    fn assignment(&self) -> Vec<TopicPartition>;
    /// Rewinds (or skips) consumption of `partition` to `offset`.
    fn reset_offset(&self, partition: TopicPartition, offset: i64);
    /// Asks for an offset commit (flush) as soon as possible.
    fn request_commit(&self);
    /// How long the runtime waits before delivering the same records again after `put`
    /// returned a [`ConnectError::Retriable`] error (Kafka's `SinkTaskContext.timeout`).
    /// Default: the runtime's own pause.
    fn timeout(&self, timeout: std::time::Duration) {
        let _ = timeout;
    }
    /// Where to report records the task cannot write, instead of failing (Kafka's
    /// `errantRecordReporter()`, KIP-610); `None` when the runtime offers none. What a
    /// report does follows the connector's `errors.*` config, see [`ErrantRecordReporter`].
    fn errant_record_reporter(&self) -> Option<Arc<dyn ErrantRecordReporter>> {
        None
    }
}

/// Takes the records a sink task could not write (KIP-610).
///
/// With `errors.tolerance=all` a report logs the record (with `errors.log.enable`), writes
/// it to the dead letter queue (with `errors.deadletterqueue.topic.name`) and returns `Ok`:
/// the task carries on without it. With `errors.tolerance=none` the report returns the
/// error back, and the task should fail with it. Call it from `put` (or `flush`): offsets
/// after a reported record are committed only once the report has returned.
#[async_trait]
pub trait ErrantRecordReporter: Send + Sync {
    /// Reports one record and why it failed; returns once the report is durable.
    async fn report(&self, record: &SinkRecord, error: &ConnectError) -> Result<()>;
}

/// A sink task: receives records and writes them to an external system.
///
/// Lifecycle, all calls from one runtime task, never concurrently: `start`, `open` with the
/// assigned partitions, then `put` repeatedly with `pre_commit` on each commit interval,
/// `close` when partitions are revoked, and finally `stop`.
#[async_trait]
pub trait SinkTask: Send {
    /// Starts the task with its task config. An error fails the task.
    async fn start(&mut self, context: Arc<dyn SinkTaskContext>, config: &ConfigMap) -> Result<()>;

    /// Partitions were assigned to this task. Default: nothing.
    async fn open(&mut self, partitions: &[TopicPartition]) -> Result<()> {
        let _ = partitions;
        Ok(())
    }

    /// Writes (or buffers) a batch of records. A [`ConnectError::Retriable`] error makes
    /// the runtime redeliver the same batch later; any other error fails the task.
    async fn put(&mut self, records: Vec<SinkRecord>) -> Result<()>;

    /// Makes everything given to `put` so far durable. Default: nothing.
    async fn flush(&mut self, offsets: &HashMap<TopicPartition, i64>) -> Result<()> {
        let _ = offsets;
        Ok(())
    }

    /// Called on each commit interval with the next offset to consume per partition (the
    /// offset after the last record given to `put`). Returns the offsets that are safe to
    /// commit. Default: [`SinkTask::flush`], then all of `offsets`.
    async fn pre_commit(
        &mut self,
        offsets: HashMap<TopicPartition, i64>,
    ) -> Result<HashMap<TopicPartition, i64>> {
        self.flush(&offsets).await?;
        Ok(offsets)
    }

    /// Partitions were revoked; write out what is buffered for them. Default: nothing.
    async fn close(&mut self, partitions: &[TopicPartition]) -> Result<()> {
        let _ = partitions;
        Ok(())
    }

    /// Called once at the end, to release resources. Default: nothing.
    async fn stop(&mut self) -> Result<()> {
        Ok(())
    }
}

/// Names and version of a plugin.
#[derive(Debug, Clone, Copy)]
pub struct PluginInfo {
    /// The class name users write in `connector.class` (Kafka's full Java name where one
    /// exists, e.g. `org.apache.kafka.connect.file.FileStreamSourceConnector`).
    pub class: &'static str,
    /// Other accepted names (e.g. `FileStreamSource`).
    pub aliases: &'static [&'static str],
    /// Version.
    pub version: &'static str,
}

impl PluginInfo {
    /// Whether `name` is the class or one of its aliases.
    pub fn is_named(&self, name: &str) -> bool {
        self.class == name || self.aliases.contains(&name)
    }
}

/// The one value a connector crate exports per connector class.
#[derive(Debug, Clone, Copy)]
pub enum ConnectorPlugin {
    /// A source connector.
    Source {
        /// Names and version.
        info: PluginInfo,
        /// A fresh connector instance.
        connector: fn() -> Box<dyn Connector>,
        /// A fresh task instance.
        task: fn() -> Box<dyn SourceTask>,
    },
    /// A sink connector.
    Sink {
        /// Names and version.
        info: PluginInfo,
        /// A fresh connector instance.
        connector: fn() -> Box<dyn Connector>,
        /// A fresh task instance.
        task: fn() -> Box<dyn SinkTask>,
    },
}

impl ConnectorPlugin {
    /// Names and version.
    pub fn info(&self) -> &PluginInfo {
        match self {
            ConnectorPlugin::Source { info, .. } | ConnectorPlugin::Sink { info, .. } => info,
        }
    }
    /// Source or sink.
    pub fn connector_type(&self) -> ConnectorType {
        match self {
            ConnectorPlugin::Source { .. } => ConnectorType::Source,
            ConnectorPlugin::Sink { .. } => ConnectorType::Sink,
        }
    }
    /// A fresh connector instance.
    pub fn new_connector(&self) -> Box<dyn Connector> {
        match self {
            ConnectorPlugin::Source { connector, .. } | ConnectorPlugin::Sink { connector, .. } => {
                connector()
            }
        }
    }
}
