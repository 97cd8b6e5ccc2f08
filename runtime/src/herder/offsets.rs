//! A connector's committed offsets, read and changed (KIP-875), the same in every mode:
//! source offsets in the offset store, sink offsets as the consumer group
//! `connect-<connector>`'s committed offsets.

use ferry_api::{ConnectorType, SourceMap, TopicPartition};

use super::{AlterRequest, ConnectorOffsets, HerderError};
use crate::log::Log;
use crate::storage::OffsetStore;

fn internal(e: impl std::fmt::Display) -> HerderError {
    HerderError::Internal(e.to_string())
}

fn group(name: &str) -> String {
    format!("connect-{name}")
}

/// The offsets of connector `name` of `kind` (an unknown class reads as a source).
pub(super) async fn read(
    log: &dyn Log,
    offsets: &OffsetStore,
    name: &str,
    kind: Option<ConnectorType>,
) -> Result<ConnectorOffsets, HerderError> {
    match kind {
        Some(ConnectorType::Source) | None => {
            offsets.refresh().await.map_err(internal)?;
            Ok(ConnectorOffsets::Source(offsets.connector_offsets(name)))
        }
        Some(ConnectorType::Sink) => {
            let committed = log.group_offsets(&group(name)).await.map_err(internal)?;
            let mut out: Vec<(String, i32, i64)> = committed
                .into_iter()
                .map(|(tp, o)| (tp.topic.to_string(), tp.partition, o))
                .collect();
            out.sort();
            Ok(ConnectorOffsets::Sink(out))
        }
    }
}

/// Alters (`Some`) or resets (`None`: every partition) the offsets of a stopped connector.
/// A reset sink partition has its committed offset deleted (OffsetDelete), so the sink
/// starts it as if it never committed, at the log start (Kafka Connect's
/// `auto.offset.reset=earliest`).
pub(super) async fn alter(
    log: &dyn Log,
    offsets: &OffsetStore,
    name: &str,
    kind: Option<ConnectorType>,
    request: Option<AlterRequest>,
) -> Result<(), HerderError> {
    let is_sink = kind == Some(ConnectorType::Sink);
    let request = match request {
        Some(r) => r,
        None => match read(log, offsets, name, kind).await? {
            ConnectorOffsets::Source(entries) => {
                AlterRequest::Source(entries.into_iter().map(|(p, _)| (p, None)).collect())
            }
            ConnectorOffsets::Sink(entries) => {
                AlterRequest::Sink(entries.into_iter().map(|(t, p, _)| (t, p, None)).collect())
            }
        },
    };
    match request {
        AlterRequest::Source(entries) if !is_sink => {
            let puts: Vec<(&str, &SourceMap, Option<&SourceMap>)> =
                entries.iter().map(|(p, o)| (name, p, o.as_ref())).collect();
            offsets.put(&puts).await.map_err(internal)?;
        }
        AlterRequest::Sink(entries) if is_sink => {
            let mut commits = Vec::new();
            let mut deletes = Vec::new();
            for (topic, partition, offset) in entries {
                let tp = TopicPartition::new(topic.as_str(), partition);
                match offset {
                    Some(o) => commits.push((tp, o)),
                    None => deletes.push(tp),
                }
            }
            log.commit_offsets(&group(name), &commits)
                .await
                .map_err(internal)?;
            log.delete_offsets(&group(name), &deletes)
                .await
                .map_err(internal)?;
        }
        _ => {
            return Err(HerderError::BadRequest(format!(
                "The offsets given do not fit connector {name}, a {} connector",
                if is_sink { "sink" } else { "source" }
            )));
        }
    }
    tracing::info!(connector = %name, "connector offsets altered");
    Ok(())
}

/// Kafka Connect's answer when offsets are changed while the connector is not stopped.
pub(super) fn not_stopped(name: &str) -> HerderError {
    HerderError::BadRequest(format!(
        "Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/{name}/stop' endpoint"
    ))
}
