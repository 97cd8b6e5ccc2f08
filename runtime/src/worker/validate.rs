//! Checking a connector config before anything starts.

use ferry_api::{ConfigIssue, ConfigMap, ConnectorType};

use super::WorkerConfig;
use super::task_setup::converter_for;
use crate::plugins;

/// Checks a connector config without starting anything: common keys, the connector's own
/// keys, sink topics, and the converters. Every problem is reported.
pub fn validate_connector(worker: &WorkerConfig, config: &ConfigMap) -> Vec<ConfigIssue> {
    let mut issues = super::config::connector_config_def().validate(config);
    let Some(class) = config
        .get("connector.class")
        .filter(|c| !c.trim().is_empty())
    else {
        return issues;
    };
    let Some(plugin) = plugins::connector(class.trim()) else {
        issues.push(ConfigIssue {
            key: "connector.class".into(),
            value: Some(class.clone()),
            message: format!(
                "unknown connector class (known: {})",
                plugins::connector_names().join(", ")
            ),
        });
        return issues;
    };
    let connector = plugin.new_connector();
    issues.extend(connector.validate(config));
    issues.extend(crate::errors::config_def(plugin.connector_type()).validate(config));
    if plugin.connector_type() == ConnectorType::Sink {
        issues.extend(super::config::sink_config_def().validate(config));
        issues.extend(super::config::validate_sink_topics(config));
    }
    for is_key in [true, false] {
        if let Err(e) = converter_for(worker, config, is_key) {
            let key = if is_key {
                "key.converter"
            } else {
                "value.converter"
            };
            issues.push(ConfigIssue {
                key: key.into(),
                value: config.get(key).cloned(),
                message: e.to_string(),
            });
        }
    }
    issues
}
