//! Configs: DescribeConfigs (topic overrides and defaults, the broker's static settings),
//! AlterConfigs and IncrementalAlterConfigs (topic overrides only; broker configs are static).

use std::collections::BTreeMap;

use kafka_protocol::error::ResponseError as E;
use kafka_protocol::messages::*;

use super::{error_code, s};
use crate::server::Shared;
use ferry_log::{KNOWN_TOPIC_CONFIGS, TopicConfig};

const RESOURCE_TOPIC: i8 = 2;
const RESOURCE_BROKER: i8 = 4;
const SOURCE_DYNAMIC_TOPIC: i8 = 1;
const SOURCE_STATIC_BROKER: i8 = 4;
const SOURCE_DEFAULT: i8 = 5;
const TYPE_BOOLEAN: i8 = 1;
const TYPE_STRING: i8 = 2;
const TYPE_INT: i8 = 3;
const TYPE_LONG: i8 = 5;
const TYPE_LIST: i8 = 7;

/// The effective default of a topic config, as Kafka names and formats it; `None` for the
/// accepted-but-ignored names without a known default.
fn topic_config_default(key: &str, d: &TopicConfig) -> Option<(String, i8)> {
    let long = |v: i64| Some((v.to_string(), TYPE_LONG));
    match key {
        "segment.bytes" => Some((d.segment_bytes.to_string(), TYPE_INT)),
        "segment.ms" => long(d.segment_ms as i64),
        "index.interval.bytes" => Some((d.index_interval_bytes.to_string(), TYPE_INT)),
        "flush.messages" => long(d.flush_messages.map_or(i64::MAX, |v| v as i64)),
        "flush.ms" => long(d.flush_ms.map_or(i64::MAX, |v| v as i64)),
        "retention.ms" => long(d.retention_ms.unwrap_or(-1)),
        "retention.bytes" => long(d.retention_bytes.map_or(-1, |v| v as i64)),
        "cleanup.policy" => {
            let mut v = Vec::new();
            if d.cleanup_policy.compact {
                v.push("compact");
            }
            if d.cleanup_policy.delete {
                v.push("delete");
            }
            Some((v.join(","), TYPE_LIST))
        }
        "delete.retention.ms" => long(d.delete_retention_ms as i64),
        "min.compaction.lag.ms" => long(d.min_compaction_lag_ms as i64),
        "max.message.bytes" => Some((d.max_message_bytes.to_string(), TYPE_INT)),
        "compression.type" => Some(("producer".into(), TYPE_STRING)),
        "message.timestamp.type" => Some(("CreateTime".into(), TYPE_STRING)),
        "min.insync.replicas" => Some(("1".into(), TYPE_INT)),
        "unclean.leader.election.enable" => Some(("false".into(), TYPE_BOOLEAN)),
        _ => None,
    }
}

fn config_entry(
    name: &str,
    value: String,
    source: i8,
    config_type: i8,
    version: i16,
    synonyms: bool,
) -> describe_configs_response::DescribeConfigsResourceResult {
    let mut c = describe_configs_response::DescribeConfigsResourceResult::default();
    c.name = s(name);
    c.value = Some(s(value.clone()));
    c.config_source = source;
    if version >= 3 {
        c.config_type = config_type;
    }
    if synonyms {
        let mut syn = describe_configs_response::DescribeConfigsSynonym::default();
        syn.name = s(name);
        syn.value = Some(s(value));
        syn.source = source;
        c.synonyms = vec![syn];
    }
    c
}

pub(super) fn describe_configs(
    sh: &Shared,
    req: DescribeConfigsRequest,
    version: i16,
) -> DescribeConfigsResponse {
    let mut resp = DescribeConfigsResponse::default();
    let synonyms = req.include_synonyms;
    for res in req.resources {
        let mut r = describe_configs_response::DescribeConfigsResult::default();
        r.resource_type = res.resource_type;
        r.resource_name = res.resource_name.clone();
        let wanted = |k: &str| {
            res.configuration_keys
                .as_ref()
                .is_none_or(|keys| keys.iter().any(|w| w.as_str() == k))
        };
        match res.resource_type {
            RESOURCE_TOPIC => match sh.log.topic(&res.resource_name) {
                None => {
                    r.error_code = E::UnknownTopicOrPartition.code();
                    r.error_message =
                        Some(s(format!("unknown topic '{}'", res.resource_name.as_str())));
                }
                Some(meta) => {
                    let defaults = &sh.log.config().defaults;
                    for key in KNOWN_TOPIC_CONFIGS.iter().filter(|k| wanted(k)) {
                        let default = topic_config_default(key, defaults);
                        let entry = match (meta.configs.get(*key), default) {
                            (Some(v), d) => Some((
                                v.clone(),
                                SOURCE_DYNAMIC_TOPIC,
                                d.map_or(TYPE_STRING, |d| d.1),
                            )),
                            (None, Some((v, t))) => Some((v, SOURCE_DEFAULT, t)),
                            (None, None) => None,
                        };
                        if let Some((value, source, ty)) = entry {
                            r.configs
                                .push(config_entry(key, value, source, ty, version, synonyms));
                        }
                    }
                }
            },
            RESOURCE_BROKER => {
                let c = &sh.config;
                let entries = [
                    ("num.partitions", c.num_partitions.to_string(), TYPE_INT),
                    (
                        "auto.create.topics.enable",
                        c.auto_create_topics.to_string(),
                        TYPE_BOOLEAN,
                    ),
                    ("default.replication.factor", "1".to_string(), TYPE_INT),
                    (
                        "offsets.topic.replication.factor",
                        "1".to_string(),
                        TYPE_INT,
                    ),
                    (
                        "socket.request.max.bytes",
                        c.max_frame_size.to_string(),
                        TYPE_INT,
                    ),
                    (
                        "group.min.session.timeout.ms",
                        c.group.min_session_timeout_ms.to_string(),
                        TYPE_INT,
                    ),
                    (
                        "group.max.session.timeout.ms",
                        c.group.max_session_timeout_ms.to_string(),
                        TYPE_INT,
                    ),
                    (
                        "group.initial.rebalance.delay.ms",
                        c.group.initial_rebalance_delay_ms.to_string(),
                        TYPE_INT,
                    ),
                    (
                        "log.dirs",
                        sh.log.data_dir().display().to_string(),
                        TYPE_STRING,
                    ),
                ];
                for (k, v, t) in entries.into_iter().filter(|(k, _, _)| wanted(k)) {
                    r.configs.push(config_entry(
                        k,
                        v,
                        SOURCE_STATIC_BROKER,
                        t,
                        version,
                        synonyms,
                    ));
                }
            }
            other => {
                r.error_code = E::InvalidRequest.code();
                r.error_message = Some(s(format!("resource type {other} is not supported")));
            }
        }
        resp.results.push(r);
    }
    resp
}

/// Topic configs whose values are comma-separated lists (Kafka's LIST type): the only ones
/// IncrementalAlterConfigs may APPEND to or SUBTRACT from.
const LIST_TOPIC_CONFIGS: &[&str] = &[
    "cleanup.policy",
    "follower.replication.throttled.replicas",
    "leader.replication.throttled.replicas",
];

/// Checks that the resource is an existing topic and the new overrides are valid, then (unless
/// `validate_only`) stores them. The error code and message of a refusal.
fn alter_topic_configs(
    sh: &Shared,
    resource_type: i8,
    name: &str,
    change: impl FnOnce(&BTreeMap<String, String>) -> Result<BTreeMap<String, String>, (i16, String)>,
    validate_only: bool,
) -> Result<(), (i16, String)> {
    if resource_type == RESOURCE_BROKER {
        return Err((
            E::InvalidRequest.code(),
            "broker configs of ferry broker are static (set them on the command line)".into(),
        ));
    }
    if resource_type != RESOURCE_TOPIC {
        return Err((
            E::InvalidRequest.code(),
            format!(
                "resource type {resource_type} is not supported; only topic configs can be altered"
            ),
        ));
    }
    let Some(meta) = sh.log.topic(name) else {
        return Err((
            E::UnknownTopicOrPartition.code(),
            format!("unknown topic '{name}'"),
        ));
    };
    let configs = change(&meta.configs)?;
    sh.log
        .config()
        .defaults
        .with_overrides(&configs)
        .map_err(|e| (error_code(&e), e.to_string()))?;
    if validate_only {
        return Ok(());
    }
    sh.log
        .alter_topic_configs(name, configs)
        .map_err(|e| (error_code(&e), e.to_string()))
}

/// The names that occur more than once among `names`.
fn duplicate_names<'a>(names: impl Iterator<Item = &'a str>) -> Option<String> {
    let mut seen = std::collections::HashSet::new();
    let dups: Vec<&str> = names.filter(|n| !seen.insert(*n)).collect();
    (!dups.is_empty()).then(|| format!("duplicate config keys: {}", dups.join(", ")))
}

/// AlterConfigs (the older, non-incremental API): the given configs replace all of a
/// topic's overrides; a key left out returns to its default.
pub(super) fn alter_configs(sh: &Shared, req: AlterConfigsRequest) -> AlterConfigsResponse {
    let mut resp = AlterConfigsResponse::default();
    for res in req.resources {
        let name = res.resource_name.to_string();
        let configs: BTreeMap<String, String> = res
            .configs
            .iter()
            .filter_map(|c| {
                c.value
                    .as_ref()
                    .map(|v| (c.name.to_string(), v.to_string()))
            })
            .collect();
        let dups = duplicate_names(res.configs.iter().map(|c| c.name.as_str()));
        let result = match dups {
            Some(msg) => Err((E::InvalidRequest.code(), msg)),
            None => alter_topic_configs(
                sh,
                res.resource_type,
                &name,
                |_| Ok(configs),
                req.validate_only,
            ),
        };
        let mut r = alter_configs_response::AlterConfigsResourceResponse::default();
        r.resource_type = res.resource_type;
        r.resource_name = res.resource_name;
        if let Err((code, msg)) = result {
            tracing::info!(resource = %name, error = %msg, "AlterConfigs refused");
            r.error_code = code;
            r.error_message = Some(s(msg));
        }
        resp.responses.push(r);
    }
    resp
}

/// IncrementalAlterConfigs (KIP-339): SET, DELETE, APPEND and SUBTRACT on single keys, the
/// other overrides unchanged. All operations of one resource apply together or not at all.
pub(super) fn incremental_alter_configs(
    sh: &Shared,
    req: IncrementalAlterConfigsRequest,
) -> IncrementalAlterConfigsResponse {
    const SET: i8 = 0;
    const DELETE: i8 = 1;
    const APPEND: i8 = 2;
    const SUBTRACT: i8 = 3;
    let mut resp = IncrementalAlterConfigsResponse::default();
    for res in req.resources {
        let name = res.resource_name.to_string();
        let ops = &res.configs;
        let change = |current: &BTreeMap<String, String>| {
            if let Some(msg) = duplicate_names(ops.iter().map(|c| c.name.as_str())) {
                return Err((E::InvalidRequest.code(), msg));
            }
            let defaults = &sh.log.config().defaults;
            let mut configs = current.clone();
            for op in ops {
                let key = op.name.to_string();
                let value = op.value.as_ref().map(|v| v.to_string());
                let invalid = |msg: String| Err((E::InvalidConfig.code(), msg));
                match op.config_operation {
                    SET => match value {
                        Some(v) => {
                            configs.insert(key, v);
                        }
                        None => return invalid(format!("SET of {key} needs a value")),
                    },
                    DELETE => {
                        configs.remove(&key);
                    }
                    APPEND | SUBTRACT => {
                        if !LIST_TOPIC_CONFIGS.contains(&key.as_str()) {
                            return invalid(format!(
                                "{key} is not a list config; APPEND and SUBTRACT apply only to {}",
                                LIST_TOPIC_CONFIGS.join(", ")
                            ));
                        }
                        let Some(v) = value else {
                            return invalid(format!("APPEND/SUBTRACT of {key} needs a value"));
                        };
                        let now = configs
                            .get(&key)
                            .cloned()
                            .or_else(|| topic_config_default(&key, defaults).map(|d| d.0))
                            .unwrap_or_default();
                        let mut items: Vec<String> = now
                            .split(',')
                            .map(str::trim)
                            .filter(|i| !i.is_empty())
                            .map(String::from)
                            .collect();
                        for item in v.split(',').map(str::trim).filter(|i| !i.is_empty()) {
                            if op.config_operation == APPEND {
                                if !items.iter().any(|i| i == item) {
                                    items.push(item.to_string());
                                }
                            } else {
                                items.retain(|i| i != item);
                            }
                        }
                        if items.is_empty() && key == "cleanup.policy" {
                            return invalid(
                                "cleanup.policy cannot become empty: keep delete, compact or both"
                                    .into(),
                            );
                        }
                        configs.insert(key, items.join(","));
                    }
                    other => {
                        return Err((
                            E::InvalidRequest.code(),
                            format!("unknown config operation {other} for {key}"),
                        ));
                    }
                }
            }
            Ok(configs)
        };
        let result = alter_topic_configs(sh, res.resource_type, &name, change, req.validate_only);
        let mut r = incremental_alter_configs_response::AlterConfigsResourceResponse::default();
        r.resource_type = res.resource_type;
        r.resource_name = res.resource_name;
        if let Err((code, msg)) = result {
            tracing::info!(resource = %name, error = %msg, "IncrementalAlterConfigs refused");
            r.error_code = code;
            r.error_message = Some(s(msg));
        }
        resp.responses.push(r);
    }
    resp
}

#[cfg(test)]
mod tests {
    use kafka_protocol::error::ResponseError as E;
    use kafka_protocol::messages::*;

    use crate::server::testing::*;

    #[tokio::test]
    async fn incremental_alter_configs_applies_all_or_nothing_and_describe_shows_it() {
        let b = TestBroker::start(1 << 20).await;
        let mut c = b.client().await;
        assert_eq!(create_topic(&mut c, "ok", 4, 1).await.error_code, 0);
        // IncrementalAlterConfigs: all operations of a resource apply together or not at all.
        let op = |name: &str, op: i8, value: Option<&str>| {
            let mut c = incremental_alter_configs_request::AlterableConfig::default();
            c.name = s(name);
            c.config_operation = op;
            c.value = value.map(s);
            c
        };
        let alter = |ops: Vec<incremental_alter_configs_request::AlterableConfig>| {
            let mut res = incremental_alter_configs_request::AlterConfigsResource::default();
            res.resource_type = 2;
            res.resource_name = s("ok");
            res.configs = ops;
            let mut req = IncrementalAlterConfigsRequest::default();
            req.resources.push(res);
            req
        };
        let req = alter(vec![
            op("retention.ms", 0, Some("1000")),
            op("segment.bytes", 0, Some("-5")),
        ]);
        let ResponseKind::IncrementalAlterConfigs(r) =
            c.call(ApiKey::IncrementalAlterConfigs, 1, req).await
        else {
            panic!()
        };
        assert_eq!(r.responses[0].error_code, E::InvalidConfig.code());
        assert!(b.log.topic("ok").unwrap().configs.is_empty());
        let req = alter(vec![
            op("retention.ms", 0, Some("1000")),
            op("cleanup.policy", 2, Some("compact")),
        ]);
        let ResponseKind::IncrementalAlterConfigs(r) =
            c.call(ApiKey::IncrementalAlterConfigs, 1, req).await
        else {
            panic!()
        };
        assert_eq!(r.responses[0].error_code, 0, "{:?}", r.responses[0]);
        let p = b.log.partition("ok", 3).unwrap();
        assert_eq!(p.config().retention_ms, Some(1000));
        assert!(p.config().cleanup_policy.compact && p.config().cleanup_policy.delete);
        let req = alter(vec![
            op("retention.ms", 1, None),
            op("retention.ms", 1, None),
        ]);
        let ResponseKind::IncrementalAlterConfigs(r) =
            c.call(ApiKey::IncrementalAlterConfigs, 0, req).await
        else {
            panic!()
        };
        assert_eq!(r.responses[0].error_code, E::InvalidRequest.code());
        let mut res = describe_configs_request::DescribeConfigsResource::default();
        res.resource_type = 2;
        res.resource_name = s("ok");
        res.configuration_keys = None;
        let mut req = DescribeConfigsRequest::default();
        req.resources.push(res);
        let ResponseKind::DescribeConfigs(r) = c.call(ApiKey::DescribeConfigs, 4, req).await else {
            panic!()
        };
        assert_eq!(r.results[0].error_code, 0);
        assert!(
            r.results[0]
                .configs
                .iter()
                .any(|c| c.name.as_str() == "retention.ms")
        );
        b.shutdown().await;
    }
}
