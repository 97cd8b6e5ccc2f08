//! Kafka Connect's REST API, served by every worker (`listeners`, default
//! `http://127.0.0.1:8083`).
//!
//! Handlers turn requests into [`Herder`] calls and answer with Kafka Connect's bodies and
//! status codes. Every failure — malformed JSON, unknown connector or route, wrong method,
//! a body over [`MAX_BODY_BYTES`] — answers `{"error_code": N, "message": "..."}`. PASSWORD
//! config values leave the worker only as `[hidden]`. `/openapi.json` describes every
//! endpoint.

mod connectors;
mod error;
mod forward;
mod loggers;
mod plugins;

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use bytes::Bytes;
use ferry_api::{ConfigDef, ConfigMap, ConnectorType};
use serde::de::DeserializeOwned;

pub use error::{RestError, Result};
pub use loggers::{ApplyFilter, Loggers};

use crate::herder::Herder;
use crate::plugins as registry;
use crate::worker::config::{connector_config_def, sink_config_def};

/// The largest request body accepted (413 above).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The OpenAPI 3 document served at `/openapi.json`.
pub const OPENAPI: &str = include_str!("openapi.json");

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct RestState {
    herder: Herder,
    loggers: Loggers,
    cluster_id: Arc<str>,
    /// Forwards requests to other workers (distributed mode).
    http: reqwest::Client,
}

impl RestState {
    /// Handlers over `herder`; `cluster_id` is reported by `GET /`. The herder decides
    /// what each worker answers: a distributed one answers 409 while it rebalances and
    /// names the worker a request must be forwarded to ([`forward`]).
    pub fn new(herder: Herder, loggers: Loggers, cluster_id: &str) -> RestState {
        RestState {
            herder,
            loggers,
            cluster_id: cluster_id.into(),
            http: reqwest::Client::new(),
        }
    }
}

/// The router with every endpoint.
pub fn router(state: RestState) -> Router {
    Router::new()
        .route("/", get(root))
        .route("/health", get(health))
        .route("/openapi.json", get(openapi))
        .route(
            "/connectors",
            get(connectors::list).post(connectors::create),
        )
        .route(
            "/connectors/{name}",
            get(connectors::info).delete(connectors::delete),
        )
        .route(
            "/connectors/{name}/config",
            get(connectors::config)
                .put(connectors::put_config)
                .patch(connectors::patch_config),
        )
        .route("/connectors/{name}/status", get(connectors::status))
        .route(
            "/connectors/{name}/tasks",
            get(connectors::tasks).post(connectors::put_tasks),
        )
        .route(
            "/connectors/{name}/tasks/{task}/status",
            get(connectors::task_status),
        )
        .route(
            "/connectors/{name}/tasks/{task}/restart",
            post(connectors::restart_task),
        )
        .route("/connectors/{name}/restart", post(connectors::restart))
        .route("/connectors/{name}/pause", put(connectors::pause))
        .route("/connectors/{name}/resume", put(connectors::resume))
        .route("/connectors/{name}/stop", put(connectors::stop))
        .route("/connectors/{name}/topics", get(connectors::topics))
        .route(
            "/connectors/{name}/topics/reset",
            put(connectors::reset_topics),
        )
        .route(
            "/connectors/{name}/offsets",
            get(connectors::offsets)
                .patch(connectors::alter_offsets)
                .delete(connectors::reset_offsets),
        )
        .route("/connector-plugins", get(plugins::list))
        .route("/connector-plugins/{class}/config", get(plugins::config))
        .route(
            "/connector-plugins/{class}/config/validate",
            put(plugins::validate),
        )
        .route("/admin/loggers", get(plugins::loggers))
        .route(
            "/admin/loggers/{logger}",
            get(plugins::logger).put(plugins::set_logger),
        )
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            forward::forward,
        ))
        .layer(axum::middleware::from_fn(time_limit))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// Binds a listener URL (`http://host:port`; port 0 picks one).
pub async fn bind(listener: &str) -> std::io::Result<tokio::net::TcpListener> {
    let rest = listener
        .trim()
        .strip_prefix("http://")
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("listener \"{listener}\": only http:// listeners are supported"),
            )
        })?
        .trim_end_matches('/');
    let addr = match rest.rsplit_once(':') {
        Some((host, port)) => {
            let host = if host.is_empty() { "0.0.0.0" } else { host };
            format!(
                "{}:{port}",
                host.trim_start_matches('[').trim_end_matches(']')
            )
        }
        None => format!("{rest}:8083"),
    };
    tokio::net::TcpListener::bind(addr).await
}

/// Serves the API on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: RestState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn root(axum::extract::State(state): axum::extract::State<RestState>) -> impl IntoResponse {
    axum::Json(serde_json::json!({
        "version": env!("CARGO_PKG_VERSION"),
        "commit": option_env!("FERRY_COMMIT").unwrap_or("unknown"),
        "kafka_cluster_id": &*state.cluster_id,
    }))
}

async fn health(
    axum::extract::State(state): axum::extract::State<RestState>,
) -> Result<impl IntoResponse> {
    match state.herder.connectors().await {
        Ok(_) => Ok(axum::Json(serde_json::json!({
            "status": "healthy",
            "message": "Worker has completed startup and is ready to handle requests."
        }))),
        Err(e) => Err(RestError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("Worker is not ready: {e}"),
        )),
    }
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

/// How long a request may take before it answers 500, as Kafka Connect's
/// `ConnectorsResource.REQUEST_TIMEOUT_MS`.
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(90);

async fn time_limit(request: Request, next: axum::middleware::Next) -> axum::response::Response {
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            RestError::new(StatusCode::INTERNAL_SERVER_ERROR, "Request timed out").into_response()
        }
    }
}

async fn not_found() -> RestError {
    RestError::not_found("HTTP 404 Not Found")
}

async fn method_not_allowed() -> RestError {
    RestError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "HTTP 405 Method Not Allowed",
    )
}

/// A JSON body; malformed JSON is 400 and an oversized body 413, both as error bodies.
pub(crate) struct JsonBody<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = RestError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|r| RestError::new(r.status(), r.body_text()))?;
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| RestError::bad_request(format!("Malformed JSON in the request body: {e}")))
    }
}

/// Path parameters; a bad one is 404 (as Jersey answers for an unparsable path).
pub(crate) struct Params<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Params<T> {
    type Rejection = RestError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(t)| Params(t))
            .map_err(|e| RestError::not_found(e.body_text()))
    }
}

/// The query string's pairs, percent-decoded (repeated keys kept: `expand=a&expand=b`).
pub(crate) fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// Whether a boolean query parameter is `true` (any case); absent is false.
pub(crate) fn query_flag(pairs: &[(String, String)], key: &str) -> bool {
    pairs
        .iter()
        .any(|(k, v)| k == key && v.eq_ignore_ascii_case("true"))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The declared keys of a connector config: the common keys, the sink keys for sinks, and
/// the connector's own. Used to mask passwords and to describe configs.
pub fn connector_def(config: &ConfigMap) -> ConfigDef {
    let def = connector_config_def();
    match config
        .get("connector.class")
        .and_then(|c| registry::connector(c.trim()))
    {
        Some(plugin) => {
            let def = if plugin.connector_type() == ConnectorType::Sink {
                def.merge(&sink_config_def())
            } else {
                def
            };
            def.merge(&plugin.new_connector().config_def())
        }
        None => def,
    }
}

/// `config` with PASSWORD values replaced by `[hidden]`.
pub fn mask(config: &ConfigMap) -> ConfigMap {
    connector_def(config).mask(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_decode_and_keep_repeats() {
        let q = query_pairs(Some(
            "expand=status&expand=info&includeTasks=TRUE&x=a%20b+c&y",
        ));
        assert_eq!(q[0], ("expand".into(), "status".into()));
        assert_eq!(q[1], ("expand".into(), "info".into()));
        assert!(query_flag(&q, "includeTasks"));
        assert!(!query_flag(&q, "onlyFailed"));
        assert_eq!(q[3].1, "a b c");
        assert_eq!(q[4], ("y".into(), String::new()));
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }

    #[test]
    fn openapi_document_is_json_and_lists_every_route() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI).expect("valid JSON");
        let paths = doc["paths"].as_object().expect("paths");
        for p in [
            "/",
            "/connectors",
            "/connectors/{name}",
            "/connectors/{name}/config",
            "/connectors/{name}/status",
            "/connectors/{name}/tasks",
            "/connectors/{name}/tasks/{task}/status",
            "/connectors/{name}/tasks/{task}/restart",
            "/connectors/{name}/restart",
            "/connectors/{name}/pause",
            "/connectors/{name}/resume",
            "/connectors/{name}/stop",
            "/connectors/{name}/topics",
            "/connectors/{name}/topics/reset",
            "/connectors/{name}/offsets",
            "/connector-plugins",
            "/connector-plugins/{class}/config",
            "/connector-plugins/{class}/config/validate",
            "/admin/loggers",
            "/admin/loggers/{logger}",
        ] {
            assert!(paths.contains_key(p), "{p} missing from openapi.json");
        }
    }
}
