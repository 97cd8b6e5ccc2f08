//! `/connector-plugins/...` (Kafka Connect's `ConnectorPluginsResource`) and
//! `/admin/loggers/...` (`LoggingResource`).

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ferry_api::config::{ConfigKey, Default, HIDDEN, Type};
use ferry_api::{ConfigDef, ConfigIssue, ConfigMap, ConnectorType};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{JsonBody, Params, RestError, RestState, Result, connector_def, query_pairs};
use crate::plugins as registry;

type St = State<RestState>;

/// `GET /connector-plugins[?connectorsOnly=false]`.
pub(super) async fn list(RawQuery(query): RawQuery) -> Json<Value> {
    let pairs = query_pairs(query.as_deref());
    let connectors_only = !pairs
        .iter()
        .any(|(k, v)| k == "connectorsOnly" && v.eq_ignore_ascii_case("false"));
    let mut out: Vec<Value> = registry::CONNECTORS
        .iter()
        .map(|p| {
            json!({
                "class": p.info().class,
                "type": match p.connector_type() {
                    ConnectorType::Source => "source",
                    ConnectorType::Sink => "sink",
                },
                "version": p.info().version,
            })
        })
        .collect();
    if !connectors_only {
        out.extend(ferry_converters::CONVERTERS.iter().map(|c| {
            json!({"class": c.class, "type": "converter", "version": env!("CARGO_PKG_VERSION")})
        }));
    }
    Json(Value::Array(out))
}

/// The declared keys of a plugin (connector or converter), by class or alias.
fn plugin_def(class: &str) -> Option<ConfigDef> {
    if let Some(plugin) = registry::connector(class) {
        let mut config = ConfigMap::new();
        config.insert("connector.class".into(), plugin.info().class.into());
        return Some(connector_def(&config));
    }
    ferry_converters::converter_plugin(class).map(|c| (c.new)().config_def())
}

fn unknown_plugin(class: &str) -> RestError {
    RestError::not_found(format!("Unknown plugin {class}."))
}

/// Kafka's `ConfigKeyInfo`.
fn key_json(key: &ConfigKey) -> Value {
    let default = match &key.default {
        Default::Required | Default::Null => Value::Null,
        Default::Value(v) => Value::String(v.to_string()),
    };
    json!({
        "name": key.name,
        "type": key.ty.name(),
        "required": matches!(key.default, Default::Required),
        "default_value": default,
        "importance": key.importance.name(),
        "documentation": key.doc,
        "group": Value::Null,
        "width": "NONE",
        "display_name": key.name,
        "dependents": [],
        "order": -1,
    })
}

/// `GET /connector-plugins/{class}/config`: every declared key.
pub(super) async fn config(Params(class): Params<String>) -> Result<Json<Value>> {
    let def = plugin_def(&class).ok_or_else(|| unknown_plugin(&class))?;
    Ok(Json(Value::Array(
        def.keys().iter().map(key_json).collect(),
    )))
}

/// `PUT /connector-plugins/{class}/config/validate`: Kafka's `ConfigInfos`, one entry per
/// declared key plus one per key with a problem that is not declared.
pub(super) async fn validate(
    State(state): St,
    Params(class): Params<String>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<Json<Value>> {
    let Some(plugin) = registry::connector(&class) else {
        return Err(RestError::bad_request(format!(
            "Failed to find any class that implements Connector and which name matches {class}, available connectors are: {}",
            registry::connector_names().join(", ")
        )));
    };
    let mut config = ConfigMap::new();
    for (k, v) in body {
        let text = match v {
            Value::String(s) => s,
            Value::Null => continue,
            other => other.to_string(),
        };
        config.insert(k, text);
    }
    match config.get("connector.class") {
        Some(given)
            if registry::connector(given.trim()).map(|p| p.info().class)
                != Some(plugin.info().class) =>
        {
            return Err(RestError::bad_request(format!(
                "Included connector type {given} does not match request type {class}"
            )));
        }
        Some(_) => {}
        None => {
            config.insert("connector.class".into(), plugin.info().class.into());
        }
    }
    let issues = state.herder.validate(config.clone()).await?;
    Ok(Json(config_infos(plugin.info().class, &config, &issues)))
}

fn config_infos(class: &str, config: &ConfigMap, issues: &[ConfigIssue]) -> Value {
    let def = connector_def(config);
    let errors_of = |key: &str| -> Vec<String> {
        issues
            .iter()
            .filter(|i| i.key == key)
            .map(|i| i.to_string())
            .collect()
    };
    let shown = |key: &ConfigKey, raw: Option<&String>| -> Value {
        match (raw, &key.default) {
            (Some(_), _) if key.ty == Type::Password => json!(HIDDEN),
            (Some(v), _) => json!(v),
            (None, Default::Value(v)) => json!(v.to_string()),
            (None, _) => Value::Null,
        }
    };
    let mut configs: Vec<Value> = def
        .keys()
        .iter()
        .map(|key| {
            json!({
                "definition": key_json(key),
                "value": {
                    "name": key.name,
                    "value": shown(key, config.get(key.name)),
                    "recommended_values": [],
                    "errors": errors_of(key.name),
                    "visible": true,
                },
            })
        })
        .collect();
    let mut undeclared: Vec<&str> = issues
        .iter()
        .map(|i| i.key.as_str())
        .filter(|k| def.key(k).is_none())
        .collect();
    undeclared.dedup();
    for key in undeclared {
        configs.push(json!({
            "definition": {
                "name": key, "type": "STRING", "required": false, "default_value": null,
                "importance": "LOW", "documentation": "", "group": null, "width": "NONE",
                "display_name": key, "dependents": [], "order": -1,
            },
            "value": {
                "name": key,
                "value": config.get(key),
                "recommended_values": [],
                "errors": errors_of(key),
                "visible": true,
            },
        }));
    }
    json!({
        "name": class,
        "error_count": issues.len(),
        "groups": ["Common"],
        "configs": configs,
    })
}

fn logger_json(level: &str, last_modified: Option<u64>) -> Value {
    let mut m = Map::new();
    m.insert("level".into(), json!(level));
    if let Some(at) = last_modified {
        m.insert("last_modified".into(), json!(at));
    }
    Value::Object(m)
}

/// `GET /admin/loggers`.
pub(super) async fn loggers(State(state): St) -> Json<Value> {
    Json(Value::Object(
        state
            .loggers
            .all()
            .into_iter()
            .map(|(name, level, at)| (name, logger_json(&level, at)))
            .collect(),
    ))
}

/// `GET /admin/loggers/{logger}`.
pub(super) async fn logger(State(state): St, Params(name): Params<String>) -> Result<Json<Value>> {
    let (level, at) = state
        .loggers
        .level(&name)
        .ok_or_else(|| RestError::not_found(format!("Logger {name} not found.")))?;
    Ok(Json(logger_json(&level, at)))
}

#[derive(Debug, Deserialize)]
pub(super) struct LevelRequest {
    level: Option<String>,
}

/// `PUT /admin/loggers/{logger}` with `{"level": "DEBUG"}`: the loggers changed.
/// With `?scope=cluster` (KIP-976) the answer is 204: a standalone worker is its own
/// cluster.
pub(super) async fn set_logger(
    State(state): St,
    Params(name): Params<String>,
    RawQuery(query): RawQuery,
    JsonBody(body): JsonBody<LevelRequest>,
) -> Result<Response> {
    let level = body
        .level
        .ok_or_else(|| RestError::bad_request("The request body must name a level"))?;
    let pairs = query_pairs(query.as_deref());
    let cluster = match pairs.iter().find(|(k, _)| k == "scope") {
        None => false,
        Some((_, v)) if v.eq_ignore_ascii_case("worker") => false,
        Some((_, v)) if v.eq_ignore_ascii_case("cluster") => true,
        Some((_, v)) => {
            return Err(RestError::bad_request(format!(
                "Invalid scope '{v}'; must be one of worker, cluster"
            )));
        }
    };
    let changed = state
        .loggers
        .set(&name, &level)
        .map_err(RestError::bad_request)?;
    if cluster {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    Ok(Json(changed).into_response())
}
