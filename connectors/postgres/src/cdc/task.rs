//! The CDC task. A background reader ([`super::reader`]) does the snapshot and the
//! streaming and hands batches to `poll`; `commit` (called once the runtime has committed
//! offsets) wakes it to confirm the committed position to the slot ([`super::offset`] says
//! which position that is).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ferry_api::{ConfigMap, ConnectError, SourceRecord, SourceTask, SourceTaskContext};
use tokio::sync::mpsc;

use super::config;
use super::offset::{self, Position};
use super::reader::{Batch, Reader, Shared};
use super::slot;
use crate::connection::Endpoint;

const QUEUED_BATCHES: usize = 4;
const POLL_WAIT: Duration = Duration::from_millis(500);

/// The CDC task.
#[derive(Debug, Default)]
pub struct PostgresCdcTask {
    rx: Option<mpsc::Receiver<Batch>>,
    reader: Option<tokio::task::JoinHandle<()>>,
    shared: Arc<Shared>,
    /// With `slot.drop.on.stop`: where the slot to drop is.
    drop_slot: Option<(Endpoint, String)>,
}

#[async_trait]
impl SourceTask for PostgresCdcTask {
    async fn start(
        &mut self,
        context: SourceTaskContext,
        config: &ConfigMap,
    ) -> ferry_api::Result<()> {
        let config = config::parse(config)?;
        let partition = offset::partition(&config.prefix);
        let committed = context.offset_reader().offset(&partition).await?;
        let position = Position::from_offset(committed.as_ref());
        tracing::info!(connector = %config.connector, slot = %config.slot, ?position, "starting change data capture");
        let (tx, rx) = mpsc::channel(QUEUED_BATCHES);
        self.rx = Some(rx);
        if config.drop_slot_on_stop {
            self.drop_slot = Some((config.endpoint.clone(), config.slot.clone()));
        }
        let reader = Reader::new(
            config,
            context,
            partition,
            self.shared.clone(),
            tx,
            position,
        );
        self.reader = Some(tokio::spawn(reader.run()));
        Ok(())
    }

    async fn poll(&mut self) -> ferry_api::Result<Vec<SourceRecord>> {
        let Some(rx) = self.rx.as_mut() else {
            return Err(ConnectError::Other("the CDC task was not started".into()));
        };
        match tokio::time::timeout(POLL_WAIT, rx.recv()).await {
            Err(_) => Ok(Vec::new()),
            Ok(Some(batch)) => batch,
            Ok(None) => Err(ConnectError::Other("the change reader stopped".into())),
        }
    }

    async fn commit(&mut self) -> ferry_api::Result<()> {
        self.shared.committed.notify_one();
        Ok(())
    }

    async fn stop(&mut self) -> ferry_api::Result<()> {
        self.rx = None;
        if let Some(reader) = self.reader.take() {
            reader.abort();
            // The slot can only be dropped once the reader's replication connection is gone.
            let _ = reader.await;
        }
        if let Some((endpoint, slot)) = self.drop_slot.take() {
            slot::drop_slot_when_released(&endpoint, &slot).await?;
        }
        Ok(())
    }
}
