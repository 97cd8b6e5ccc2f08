//! `/connectors/...`: Kafka Connect's `ConnectorsResource`.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use ferry_api::config::{HIDDEN, Type};
use ferry_api::{ConfigMap, ConnectorType, SourceMap, Value as ConnectValue};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{
    JsonBody, Params, RestError, RestState, Result, connector_def, mask, query_flag, query_pairs,
};
use crate::herder::{
    ConnectorInfo, ConnectorOffsets, ConnectorStatus, HerderError, RestartRequest, StateInfo,
};
use crate::lifecycle::{TargetState, TaskId};
use ferry_converters::json::{from_schemaless_json, to_schemaless_json};

type St = State<RestState>;

fn kind_name(kind: Option<ConnectorType>) -> &'static str {
    match kind {
        Some(ConnectorType::Source) => "source",
        Some(ConnectorType::Sink) => "sink",
        None => "unknown",
    }
}

fn info_json(info: &ConnectorInfo) -> Value {
    json!({
        "name": info.name,
        "config": mask(&info.config),
        "tasks": info.tasks.iter().map(task_id_json).collect::<Vec<_>>(),
        "type": kind_name(info.kind),
    })
}

fn task_id_json(id: &TaskId) -> Value {
    json!({"connector": id.connector, "task": id.task})
}

fn state_json(state: &StateInfo, id: Option<usize>) -> Value {
    let mut m = Map::new();
    if let Some(id) = id {
        m.insert("id".into(), json!(id));
    }
    m.insert("state".into(), json!(state.state));
    m.insert("worker_id".into(), json!(state.worker_id));
    if let Some(trace) = &state.trace {
        m.insert("trace".into(), json!(trace));
    }
    Value::Object(m)
}

fn status_json(status: &ConnectorStatus) -> Value {
    json!({
        "name": status.name,
        "connector": state_json(&status.connector, None),
        "tasks": status.tasks.iter().map(|(id, s)| state_json(s, Some(*id))).collect::<Vec<_>>(),
        "type": kind_name(status.kind),
    })
}

/// A status serialized straight from the herder's types (the body of `GET
/// /connectors?expand=status`, which UIs poll, is built without a JSON tree).
#[derive(Serialize)]
struct StatusOut<'a> {
    name: &'a str,
    connector: StateOut<'a>,
    tasks: Vec<StateOut<'a>>,
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Serialize)]
struct StateOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<usize>,
    state: &'a str,
    worker_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    trace: Option<&'a str>,
}

impl<'a> StateOut<'a> {
    fn new(state: &'a StateInfo, id: Option<usize>) -> Self {
        StateOut {
            id,
            state: state.state,
            worker_id: &state.worker_id,
            trace: state.trace.as_deref(),
        }
    }
}

#[derive(Serialize)]
struct StatusEntry<'a> {
    status: StatusOut<'a>,
}

/// `{"<name>": {"status": {...}}, ...}` in the statuses' order.
struct StatusMap<'a>(&'a [ConnectorStatus]);

impl Serialize for StatusMap<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|s| {
            let status = StatusOut {
                name: &s.name,
                connector: StateOut::new(&s.connector, None),
                tasks: s
                    .tasks
                    .iter()
                    .map(|(id, t)| StateOut::new(t, Some(*id)))
                    .collect(),
                kind: kind_name(s.kind),
            };
            (s.name.as_str(), StatusEntry { status })
        }))
    }
}

/// Checks a connector name from a URL or a body (Kafka: non-empty, no control characters).
fn check_name(name: &str) -> Result<()> {
    if name.trim().is_empty() {
        return Err(RestError::bad_request("Connector name must not be empty"));
    }
    if name.chars().any(char::is_control) {
        return Err(RestError::bad_request(format!(
            "Connector name {name:?} must not contain control characters"
        )));
    }
    Ok(())
}

/// A JSON config object as Kafka Connect's string map: strings as they are, numbers and
/// booleans as their text (Jackson's coercion); anything else is 400.
fn config_map(object: Map<String, Value>) -> Result<ConfigMap> {
    object
        .into_iter()
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s,
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                other => {
                    return Err(RestError::bad_request(format!(
                        "config key \"{k}\": value {other} is not a string"
                    )));
                }
            };
            Ok((k, text))
        })
        .collect()
}

/// A PUT that sends `[hidden]` back for a PASSWORD key keeps the stored value.
fn restore_hidden(config: &mut ConfigMap, stored: Option<&ConfigMap>) {
    let def = connector_def(config);
    restore_hidden_with(&def, config, stored);
}

fn restore_hidden_with(
    def: &ferry_api::ConfigDef,
    config: &mut ConfigMap,
    stored: Option<&ConfigMap>,
) {
    let Some(stored) = stored else { return };
    for (k, v) in config.iter_mut() {
        if v == HIDDEN
            && def.key(k).is_some_and(|key| key.ty == Type::Password)
            && let Some(old) = stored.get(k)
        {
            v.clone_from(old);
        }
    }
}

async fn stored_config(state: &RestState, name: &str) -> Result<Option<ConfigMap>> {
    match state.herder.connector_info(name).await {
        Ok(info) => Ok(Some(info.config)),
        Err(HerderError::NotFound(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// `GET /connectors[?expand=status][&expand=info]`.
pub(super) async fn list(State(state): St, RawQuery(query): RawQuery) -> Result<Response> {
    let pairs = query_pairs(query.as_deref());
    let expand = |what: &str| pairs.iter().any(|(k, v)| k == "expand" && v == what);
    let (with_status, with_info) = (expand("status"), expand("info"));
    if with_status && !with_info {
        // One herder request for all of them: this is what UIs poll.
        let statuses = state.herder.connector_statuses().await?;
        return Ok(Json(StatusMap(&statuses)).into_response());
    }
    let names = state.herder.connectors().await?;
    if !with_status && !with_info {
        return Ok(Json(names).into_response());
    }
    let mut out = Map::new();
    for name in names {
        let mut entry = Map::new();
        if with_status {
            match state.herder.connector_status(&name).await {
                Ok(s) => entry.insert("status".into(), status_json(&s)),
                Err(HerderError::NotFound(_)) => continue,
                Err(e) => return Err(e.into()),
            };
        }
        if with_info {
            match state.herder.connector_info(&name).await {
                Ok(i) => entry.insert("info".into(), info_json(&i)),
                Err(HerderError::NotFound(_)) => continue,
                Err(e) => return Err(e.into()),
            };
        }
        out.insert(name, Value::Object(entry));
    }
    Ok(Json(Value::Object(out)).into_response())
}

#[derive(Debug, Deserialize)]
pub(super) struct CreateRequest {
    name: Option<String>,
    config: Option<Map<String, Value>>,
    initial_state: Option<String>,
}

fn target_of(initial: &str) -> Result<TargetState> {
    match initial.to_ascii_uppercase().as_str() {
        "RUNNING" | "STARTED" => Ok(TargetState::Started),
        "PAUSED" => Ok(TargetState::Paused),
        "STOPPED" => Ok(TargetState::Stopped),
        _ => Err(RestError::bad_request(format!(
            "Invalid initial state {initial:?}: expected RUNNING, PAUSED or STOPPED"
        ))),
    }
}

/// `POST /connectors`: 201 with the new connector, 409 when the name is taken.
pub(super) async fn create(
    State(state): St,
    JsonBody(body): JsonBody<CreateRequest>,
) -> Result<Response> {
    let mut config = config_map(body.config.unwrap_or_default())?;
    let name = body
        .name
        .or_else(|| config.get("name").cloned())
        .unwrap_or_default()
        .trim()
        .to_string();
    check_name(&name)?;
    let target = body.initial_state.as_deref().map(target_of).transpose()?;
    config.entry("name".into()).or_insert_with(|| name.clone());
    let info = match target {
        // Stored with its target state in one write: never briefly running (KIP-980).
        Some(target) => state.herder.create_connector(&name, config, target).await?,
        None => {
            state
                .herder
                .put_connector_config(&name, config, false)
                .await?
                .1
        }
    };
    Ok((
        StatusCode::CREATED,
        [(
            header::LOCATION,
            format!("/connectors/{}", crate::rest_path::segment(&name)),
        )],
        Json(info_json(&info)),
    )
        .into_response())
}

/// `GET /connectors/{name}`.
pub(super) async fn info(State(state): St, Params(name): Params<String>) -> Result<Json<Value>> {
    Ok(Json(info_json(&state.herder.connector_info(&name).await?)))
}

/// `GET /connectors/{name}/config` (passwords masked).
pub(super) async fn config(
    State(state): St,
    Params(name): Params<String>,
) -> Result<Json<ConfigMap>> {
    Ok(Json(mask(
        &state.herder.connector_info(&name).await?.config,
    )))
}

/// `PUT /connectors/{name}/config`: 201 when created, 200 when updated.
pub(super) async fn put_config(
    State(state): St,
    Params(name): Params<String>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<Response> {
    check_name(&name)?;
    let mut config = config_map(body)?;
    restore_hidden(&mut config, stored_config(&state, &name).await?.as_ref());
    let (created, info) = state
        .herder
        .put_connector_config(&name, config, true)
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(info_json(&info))).into_response())
}

/// `PATCH /connectors/{name}/config` (KIP-477): merges into the stored config; `null`
/// removes a key.
pub(super) async fn patch_config(
    State(state): St,
    Params(name): Params<String>,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> Result<Json<Value>> {
    let stored = state.herder.connector_info(&name).await?.config;
    let mut config = stored.clone();
    let mut set = Map::new();
    for (k, v) in body {
        if v.is_null() {
            config.remove(&k);
        } else {
            set.insert(k, v);
        }
    }
    let mut set = config_map(set)?;
    restore_hidden(&mut set, Some(&stored));
    config.extend(set);
    let (_, info) = state
        .herder
        .put_connector_config(&name, config, true)
        .await?;
    Ok(Json(info_json(&info)))
}

/// `DELETE /connectors/{name}`: 204.
pub(super) async fn delete(State(state): St, Params(name): Params<String>) -> Result<StatusCode> {
    state.herder.delete_connector(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /connectors/{name}/status`.
pub(super) async fn status(State(state): St, Params(name): Params<String>) -> Result<Json<Value>> {
    Ok(Json(status_json(
        &state.herder.connector_status(&name).await?,
    )))
}

/// `GET /connectors/{name}/tasks`: each task's id and config (passwords masked).
pub(super) async fn tasks(State(state): St, Params(name): Params<String>) -> Result<Json<Value>> {
    let def = connector_def(&state.herder.connector_info(&name).await?.config);
    let tasks = state.herder.task_configs(&name).await?;
    Ok(Json(Value::Array(
        tasks
            .iter()
            .map(|(id, config)| json!({"id": task_id_json(id), "config": def.mask(config)}))
            .collect(),
    )))
}

/// `POST /connectors/{name}/tasks` (internal, Kafka Connect's): the worker running a
/// connector hands the task configs it generated to the leader, which stores them; 204.
pub(super) async fn put_tasks(
    State(state): St,
    Params(name): Params<String>,
    JsonBody(body): JsonBody<Vec<Map<String, Value>>>,
) -> Result<StatusCode> {
    let tasks = body
        .into_iter()
        .map(config_map)
        .collect::<Result<Vec<_>>>()?;
    state.herder.put_task_configs(&name, tasks).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn task_number(name: &str, task: &str) -> Result<usize> {
    task.parse()
        .map_err(|_| RestError::not_found(format!("Task {name}-{task} not found")))
}

/// `GET /connectors/{name}/tasks/{task}/status`.
pub(super) async fn task_status(
    State(state): St,
    Params((name, task)): Params<(String, String)>,
) -> Result<Json<Value>> {
    let n = task_number(&name, &task)?;
    let status = state.herder.connector_status(&name).await?;
    status
        .tasks
        .iter()
        .find(|(id, _)| *id == n)
        .map(|(id, s)| Json(state_json(s, Some(*id))))
        .ok_or_else(|| RestError::not_found(format!("No status found for task {name}-{n}")))
}

/// `POST /connectors/{name}/tasks/{task}/restart`: 204.
pub(super) async fn restart_task(
    State(state): St,
    Params((name, task)): Params<(String, String)>,
) -> Result<StatusCode> {
    let task = task_number(&name, &task)?;
    state
        .herder
        .restart_task(TaskId {
            connector: name,
            task,
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /connectors/{name}/restart[?includeTasks=..&onlyFailed=..]`: with neither flag
/// only the connector instance restarts and the answer is 204; otherwise 202 with the
/// status after the restart.
pub(super) async fn restart(
    State(state): St,
    Params(name): Params<String>,
    RawQuery(query): RawQuery,
) -> Result<Response> {
    let pairs = query_pairs(query.as_deref());
    let request = RestartRequest {
        include_tasks: query_flag(&pairs, "includeTasks"),
        only_failed: query_flag(&pairs, "onlyFailed"),
    };
    let status = state.herder.restart_connector(&name, request).await?;
    if !request.include_tasks && !request.only_failed {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    Ok((StatusCode::ACCEPTED, Json(status_json(&status))).into_response())
}

async fn set_target(state: &RestState, name: &str, target: TargetState) -> Result<()> {
    state.herder.set_target_state(name, target).await?;
    Ok(())
}

/// `PUT /connectors/{name}/pause`: 202.
pub(super) async fn pause(State(state): St, Params(name): Params<String>) -> Result<StatusCode> {
    set_target(&state, &name, TargetState::Paused).await?;
    Ok(StatusCode::ACCEPTED)
}

/// `PUT /connectors/{name}/resume`: 202.
pub(super) async fn resume(State(state): St, Params(name): Params<String>) -> Result<StatusCode> {
    set_target(&state, &name, TargetState::Started).await?;
    Ok(StatusCode::ACCEPTED)
}

/// `PUT /connectors/{name}/stop`: 204 (KIP-875).
pub(super) async fn stop(State(state): St, Params(name): Params<String>) -> Result<StatusCode> {
    set_target(&state, &name, TargetState::Stopped).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /connectors/{name}/topics` (KIP-558): `{"<name>": {"topics": [...]}}`.
pub(super) async fn topics(State(state): St, Params(name): Params<String>) -> Result<Json<Value>> {
    let topics = state.herder.connector_topics(&name, false).await?;
    let mut out = Map::new();
    out.insert(name, json!({ "topics": topics }));
    Ok(Json(Value::Object(out)))
}

/// `PUT /connectors/{name}/topics/reset`: see [`topics`].
pub(super) async fn reset_topics(
    State(state): St,
    Params(name): Params<String>,
) -> Result<Response> {
    state.herder.connector_topics(&name, true).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

fn source_map_json(map: &SourceMap) -> Value {
    let value = ConnectValue::Map(
        map.entries()
            .iter()
            .map(|(k, v)| (ConnectValue::string(k.as_ref()), v.clone()))
            .collect(),
    );
    serde_json::from_slice(&to_schemaless_json(&value)).unwrap_or(Value::Null)
}

fn json_source_map(what: &str, value: &Value) -> Result<SourceMap> {
    let bytes = serde_json::to_vec(value).map_err(|e| RestError::bad_request(e.to_string()))?;
    match from_schemaless_json(&bytes) {
        Ok(ConnectValue::Map(entries)) => entries
            .into_iter()
            .map(|(k, v)| match k {
                ConnectValue::String(s) => Ok((s.as_str().to_string(), v)),
                _ => Err(RestError::bad_request(format!(
                    "{what}: keys must be strings"
                ))),
            })
            .collect(),
        _ => Err(RestError::bad_request(format!(
            "{what}: expected a JSON object, got {value}"
        ))),
    }
}

fn offsets_json(offsets: &ConnectorOffsets) -> Value {
    let list: Vec<Value> = match offsets {
        ConnectorOffsets::Source(entries) => entries
            .iter()
            .map(|(p, o)| json!({"partition": source_map_json(p), "offset": source_map_json(o)}))
            .collect(),
        ConnectorOffsets::Sink(entries) => entries
            .iter()
            .map(|(topic, partition, offset)| {
                json!({
                    "partition": {"kafka_topic": topic, "kafka_partition": partition},
                    "offset": {"kafka_offset": offset},
                })
            })
            .collect(),
    };
    json!({ "offsets": list })
}

/// `GET /connectors/{name}/offsets` (KIP-875; any state).
pub(super) async fn offsets(State(state): St, Params(name): Params<String>) -> Result<Json<Value>> {
    Ok(Json(offsets_json(
        &state.herder.connector_offsets(&name).await?,
    )))
}

#[derive(Debug, Deserialize)]
pub(super) struct AlterOffsets {
    offsets: Option<Vec<OffsetEntry>>,
}

#[derive(Debug, Deserialize)]
struct OffsetEntry {
    partition: Option<Value>,
    offset: Option<Value>,
}

/// Parses a PATCH body for a connector of `kind`; a `null` offset resets that partition.
fn parse_alter(kind: Option<ConnectorType>, body: AlterOffsets) -> Result<AlterRequest> {
    let entries = body.offsets.ok_or_else(|| {
        RestError::bad_request("Offsets to alter must be given as {\"offsets\": [...]}")
    })?;
    if entries.is_empty() {
        return Err(RestError::bad_request(
            "The offsets to alter must not be empty",
        ));
    }
    match kind {
        Some(ConnectorType::Sink) => {
            let mut out = Vec::new();
            for e in entries {
                let p = e.partition.unwrap_or(Value::Null);
                let topic = p.get("kafka_topic").and_then(Value::as_str);
                let partition = p.get("kafka_partition").and_then(Value::as_i64);
                let (Some(topic), Some(partition)) = (topic, partition) else {
                    return Err(RestError::bad_request(format!(
                        "Sink connector partitions need kafka_topic (string) and kafka_partition (integer), got {p}"
                    )));
                };
                let partition = i32::try_from(partition)
                    .ok()
                    .filter(|p| *p >= 0)
                    .ok_or_else(|| {
                        RestError::bad_request(format!(
                            "kafka_partition {partition} is out of range"
                        ))
                    })?;
                let offset = match e.offset {
                    None | Some(Value::Null) => None,
                    Some(o) => Some(
                        o.get("kafka_offset")
                            .and_then(Value::as_i64)
                            .filter(|o| *o >= 0)
                            .ok_or_else(|| {
                                RestError::bad_request(format!(
                                    "Sink connector offsets need a non-negative kafka_offset, got {o}"
                                ))
                            })?,
                    ),
                };
                out.push((topic.to_string(), partition, offset));
            }
            Ok(AlterRequest::Sink(out))
        }
        _ => {
            let mut out = Vec::new();
            for e in entries {
                let p = json_source_map("partition", &e.partition.unwrap_or(Value::Null))?;
                let o = match e.offset {
                    None | Some(Value::Null) => None,
                    Some(o) => Some(json_source_map("offset", &o)?),
                };
                out.push((p, o));
            }
            Ok(AlterRequest::Source(out))
        }
    }
}

use crate::herder::AlterRequest;

/// `PATCH /connectors/{name}/offsets` (KIP-875): the connector must be STOPPED.
pub(super) async fn alter_offsets(
    State(state): St,
    Params(name): Params<String>,
    JsonBody(body): JsonBody<AlterOffsets>,
) -> Result<Json<Value>> {
    let info = state.herder.connector_info(&name).await?;
    let request = parse_alter(info.kind, body)?;
    state.herder.alter_offsets(&name, Some(request)).await?;
    Ok(Json(json!({
        "message": "The offsets for this connector have been altered successfully"
    })))
}

/// `DELETE /connectors/{name}/offsets` (KIP-875): the connector must be STOPPED.
pub(super) async fn reset_offsets(
    State(state): St,
    Params(name): Params<String>,
) -> Result<Json<Value>> {
    state.herder.alter_offsets(&name, None).await?;
    Ok(Json(json!({
        "message": "The offsets for this connector have been reset successfully"
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_passwords_keep_the_stored_value_only_for_password_keys() {
        let mut config: ConfigMap = [
            (
                "connector.class".to_string(),
                "FileStreamSource".to_string(),
            ),
            ("file".to_string(), HIDDEN.to_string()),
        ]
        .into();
        let stored: ConfigMap = [("file".to_string(), "/tmp/a".to_string())].into();
        restore_hidden(&mut config, Some(&stored));
        // `file` is not a PASSWORD key: the text is kept as sent.
        assert_eq!(config["file"], HIDDEN);

        use ferry_api::config::{Default, Importance};
        let def = ferry_api::ConfigDef::new().define(
            "secret",
            Type::Password,
            Default::Null,
            Importance::High,
            "a secret",
        );
        let stored: ConfigMap = [("secret".to_string(), "s3cr3t".to_string())].into();
        let mut sent: ConfigMap = [
            ("secret".to_string(), HIDDEN.to_string()),
            ("other".to_string(), HIDDEN.to_string()),
        ]
        .into();
        restore_hidden_with(&def, &mut sent, Some(&stored));
        assert_eq!(sent["secret"], "s3cr3t");
        assert_eq!(sent["other"], HIDDEN);
        assert_eq!(def.mask(&stored)["secret"], HIDDEN);
        let mut new_secret: ConfigMap = [("secret".to_string(), "n3w".to_string())].into();
        restore_hidden_with(&def, &mut new_secret, Some(&stored));
        assert_eq!(new_secret["secret"], "n3w");
    }

    #[test]
    fn source_offsets_round_trip_through_json() {
        let v = json!({"filename": "/tmp/in.txt", "position": 42});
        let map = json_source_map("partition", &v).unwrap();
        assert_eq!(source_map_json(&map), v);
        assert!(json_source_map("partition", &json!([1])).is_err());
    }

    #[test]
    fn names_with_control_characters_are_refused() {
        assert!(check_name("a\u{7}b").is_err());
        assert!(check_name("  ").is_err());
        assert!(check_name("ok name/1").is_ok());
    }
}
