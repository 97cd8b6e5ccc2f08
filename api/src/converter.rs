//! Converters turn Connect data into the bytes stored in the log, and back.

use bytes::Bytes;

use crate::config::{ConfigDef, ConfigMap};
use crate::data::{Schema, Value};
use crate::error::Result;

/// Converts between Connect data (schema + value) and record bytes, for keys or values.
///
/// The runtime configures one instance per connector and role (key or value) and then calls
/// it from that connector's tasks; the two conversion methods must not block.
pub trait Converter: Send + Sync {
    /// The declaration of the converter's own keys (given without the `key.converter.` /
    /// `value.converter.` prefix).
    fn config_def(&self) -> ConfigDef {
        ConfigDef::new()
    }

    /// Configures the converter before first use; `is_key` tells which role it plays.
    fn configure(&mut self, config: &ConfigMap, is_key: bool) -> Result<()>;

    /// Serializes a value. `Ok(None)` is Kafka's null (a tombstone when it is the value).
    // The name mirrors Kafka's `fromConnectData`.
    #[allow(clippy::wrong_self_convention)]
    fn from_connect(
        &self,
        topic: &str,
        schema: Option<&Schema>,
        value: &Value,
    ) -> Result<Option<Bytes>>;

    /// Deserializes bytes (`None` for Kafka's null) into a schema and a value.
    fn to_connect(&self, topic: &str, data: Option<&Bytes>) -> Result<(Option<Schema>, Value)>;
}
