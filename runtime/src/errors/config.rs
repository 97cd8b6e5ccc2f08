//! The `errors.*` keys of a connector, declared once.

use ferry_api::config::{Bool, Key, Long, Short, Str, Validator};
use ferry_api::{ConfigDef, ConfigValue, ConnectorType, Importance};

pub(crate) const RETRY_TIMEOUT: Key<Long> = Key::new(
    "errors.retry.timeout",
    0,
    Importance::Medium,
    "The maximum duration in milliseconds that a failed operation will be reattempted. The default is 0, which means no retries will be attempted. Use -1 for infinite retries.",
)
.with_validator(Validator::at_least(-1.0));
pub(crate) const RETRY_DELAY_MAX: Key<Long> = Key::new(
    "errors.retry.delay.max.ms",
    60_000,
    Importance::Medium,
    "The maximum duration in milliseconds between consecutive retry attempts. Jitter will be added to the delay once this limit is reached to prevent thundering herd issues.",
)
.with_validator(Validator::at_least(1.0));
pub(crate) const TOLERANCE: Key<Str> = Key::new(
    "errors.tolerance",
    "none",
    Importance::Medium,
    "Behavior for tolerating errors during connector operation. 'none' is the default value and signals that any error will result in an immediate connector task failure; 'all' changes the behavior to skip over problematic records.",
)
.with_validator(Validator::OneOfIgnoreCase(&["none", "all"]));
pub(crate) const LOG_ENABLE: Key<Bool> = Key::new(
    "errors.log.enable",
    false,
    Importance::Medium,
    "If true, write each error and the details of the failed operation and problematic record to the Connect application log.",
);
pub(crate) const LOG_INCLUDE_MESSAGES: Key<Bool> = Key::new(
    "errors.log.include.messages",
    false,
    Importance::Medium,
    "Whether to include in the log the Connect record that resulted in a failure. For sink records, the topic, partition, offset, and timestamp will be logged.",
);
pub(crate) const DLQ_TOPIC: Key<Str> = Key::new(
    "errors.deadletterqueue.topic.name",
    "",
    Importance::Medium,
    "The name of the topic to be used as the dead letter queue (DLQ) for messages that result in an error when processed by this sink connector, or its transformations or converters. The topic name is blank by default, which means that no messages are to be recorded in the DLQ.",
);
pub(crate) const DLQ_REPLICATION_FACTOR: Key<Short> = Key::new(
    "errors.deadletterqueue.topic.replication.factor",
    3,
    Importance::Medium,
    "Replication factor used to create the dead letter queue topic when it doesn't already exist. Accepted for compatibility: Ferry creates the topic with the log's default replication.",
)
.with_validator(Validator::custom("-1 (the broker's default) or a positive replication factor", |v| match v {
    ConfigValue::Short(n) if *n == 0 || *n < -1 => {
        Err("a positive replication factor, or -1 for the broker's default".into())
    }
    _ => Ok(()),
}));
pub(crate) const DLQ_CONTEXT_HEADERS: Key<Bool> = Key::new(
    "errors.deadletterqueue.context.headers.enable",
    false,
    Importance::Medium,
    "If true, add headers containing error context to the messages written to the dead letter queue. To avoid clashing with headers from the original record, all error context header keys will start with __connect.errors.",
);

/// The `errors.*` keys of a connector of `kind` (the dead letter queue is for sinks).
pub fn config_def(kind: ConnectorType) -> ConfigDef {
    let def = ConfigDef::new()
        .declare(&RETRY_TIMEOUT)
        .declare(&RETRY_DELAY_MAX)
        .declare(&TOLERANCE)
        .declare(&LOG_ENABLE)
        .declare(&LOG_INCLUDE_MESSAGES);
    if kind == ConnectorType::Source {
        return def;
    }
    def.declare(&DLQ_TOPIC)
        .declare(&DLQ_REPLICATION_FACTOR)
        .declare(&DLQ_CONTEXT_HEADERS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_api::ConfigMap;

    fn map(pairs: &[(&str, &str)]) -> ConfigMap {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn keys_are_validated() {
        let issues = config_def(ConnectorType::Sink).validate(&map(&[
            ("errors.tolerance", "some"),
            ("errors.retry.timeout", "-2"),
            ("errors.deadletterqueue.topic.replication.factor", "0"),
        ]));
        let keys: Vec<&str> = issues.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "errors.retry.timeout",
                "errors.tolerance",
                "errors.deadletterqueue.topic.replication.factor"
            ]
        );
        assert!(
            config_def(ConnectorType::Source)
                .key(DLQ_TOPIC.name())
                .is_none()
        );
    }
}
