//! Configs: DescribeConfigs (topic overrides and defaults, the broker's static settings),
//! AlterConfigs and IncrementalAlterConfigs (topic overrides only; broker configs are static).

use std::collections::BTreeMap;

use kafka_protocol::error::ResponseError as E;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

use super::{Refusal, refusal, refused, repeated, s};
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

/// The topic config overrides given as (name, value) pairs; a name without a value is left out.
pub(super) fn overrides<'a>(
    pairs: impl Iterator<Item = (&'a StrBytes, Option<&'a StrBytes>)>,
) -> BTreeMap<String, String> {
    pairs
        .filter_map(|(name, value)| value.map(|v| (name.to_string(), v.to_string())))
        .collect()
}

/// Checks that the resource is an existing topic and the new overrides are valid, then (unless
/// `validate_only`) stores them.
fn alter_topic_configs(
    sh: &Shared,
    resource_type: i8,
    name: &str,
    change: impl FnOnce(&BTreeMap<String, String>) -> Result<BTreeMap<String, String>, Refusal>,
    validate_only: bool,
) -> Result<(), Refusal> {
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
        .map_err(|e| refusal(&e))?;
    if validate_only {
        return Ok(());
    }
    sh.log
        .alter_topic_configs(name, configs)
        .map_err(|e| refusal(&e))
}

/// A refusal when a config key occurs more than once among `names`.
fn unique_keys<'a>(names: impl Iterator<Item = &'a str>) -> Result<(), Refusal> {
    let dups = repeated(names);
    if dups.is_empty() {
        return Ok(());
    }
    Err((
        E::InvalidRequest.code(),
        format!("duplicate config keys: {}", dups.join(", ")),
    ))
}

/// The answer for one resource of AlterConfigs or IncrementalAlterConfigs (two generated types
/// with the same fields): its type and name, and the error of a refusal.
macro_rules! resource_answer {
    ($answer:ty, $resource:expr, $refusal:expr) => {{
        let mut r = <$answer>::default();
        if let Some((code, message)) = $refusal {
            r.error_code = code;
            r.error_message = Some(message);
        }
        r.resource_type = $resource.resource_type;
        r.resource_name = $resource.resource_name;
        r
    }};
}

/// AlterConfigs (the older, non-incremental API): the given configs replace all of a
/// topic's overrides; a key left out returns to its default.
pub(super) fn alter_configs(sh: &Shared, req: AlterConfigsRequest) -> AlterConfigsResponse {
    let mut resp = AlterConfigsResponse::default();
    for res in req.resources {
        let name = res.resource_name.to_string();
        let configs = overrides(res.configs.iter().map(|c| (&c.name, c.value.as_ref())));
        let result = unique_keys(res.configs.iter().map(|c| c.name.as_str())).and_then(|()| {
            alter_topic_configs(
                sh,
                res.resource_type,
                &name,
                |_| Ok(configs),
                req.validate_only,
            )
        });
        let error = refused("AlterConfigs", &name, result);
        resp.responses.push(resource_answer!(
            alter_configs_response::AlterConfigsResourceResponse,
            res,
            error
        ));
    }
    resp
}

/// IncrementalAlterConfigs (KIP-339): SET, DELETE, APPEND and SUBTRACT on single keys, the
/// other overrides unchanged. All operations of one resource apply together or not at all.
pub(super) fn incremental_alter_configs(
    sh: &Shared,
    req: IncrementalAlterConfigsRequest,
) -> IncrementalAlterConfigsResponse {
    let mut resp = IncrementalAlterConfigsResponse::default();
    for res in req.resources {
        let name = res.resource_name.to_string();
        let change = |current: &BTreeMap<String, String>| {
            unique_keys(res.configs.iter().map(|c| c.name.as_str()))?;
            apply_operations(&res.configs, current, &sh.log.config().defaults)
        };
        let result = alter_topic_configs(sh, res.resource_type, &name, change, req.validate_only);
        let error = refused("IncrementalAlterConfigs", &name, result);
        resp.responses.push(resource_answer!(
            incremental_alter_configs_response::AlterConfigsResourceResponse,
            res,
            error
        ));
    }
    resp
}

/// The overrides after IncrementalAlterConfigs' operations on `current`, in order; a refusal
/// for the first operation that cannot apply.
fn apply_operations(
    ops: &[incremental_alter_configs_request::AlterableConfig],
    current: &BTreeMap<String, String>,
    defaults: &TopicConfig,
) -> Result<BTreeMap<String, String>, Refusal> {
    const SET: i8 = 0;
    const DELETE: i8 = 1;
    const APPEND: i8 = 2;
    const SUBTRACT: i8 = 3;
    let invalid = |msg: String| Err((E::InvalidConfig.code(), msg));
    let mut configs = current.clone();
    for op in ops {
        let key = op.name.to_string();
        let value = op.value.as_ref().map(|v| v.to_string());
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
                        "cleanup.policy cannot become empty: keep delete, compact or both".into(),
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
}

#[cfg(test)]
mod tests {
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
        let r = c.request(1, req).await;
        assert_eq!(r.responses[0].error_code, E::InvalidConfig.code());
        assert!(b.log.topic("ok").unwrap().configs.is_empty());
        let req = alter(vec![
            op("retention.ms", 0, Some("1000")),
            op("cleanup.policy", 2, Some("compact")),
        ]);
        let r = c.request(1, req).await;
        assert_eq!(r.responses[0].error_code, 0, "{:?}", r.responses[0]);
        let p = b.log.partition("ok", 3).unwrap();
        assert_eq!(p.config().retention_ms, Some(1000));
        assert!(p.config().cleanup_policy.compact && p.config().cleanup_policy.delete);
        let req = alter(vec![
            op("retention.ms", 1, None),
            op("retention.ms", 1, None),
        ]);
        let r = c.request(0, req).await;
        assert_eq!(r.responses[0].error_code, E::InvalidRequest.code());
        let mut res = describe_configs_request::DescribeConfigsResource::default();
        res.resource_type = 2;
        res.resource_name = s("ok");
        res.configuration_keys = None;
        let mut req = DescribeConfigsRequest::default();
        req.resources.push(res);
        let r = c.request(4, req).await;
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
