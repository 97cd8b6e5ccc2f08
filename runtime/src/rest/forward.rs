//! Forwarding a request to the worker that can handle it (distributed mode), as Kafka
//! Connect's `ConnectorsResource.completeOrForwardRequest`: writes go to the leader, a task
//! restart to the worker running the task. A handler answers [`ForwardTo`] (from a
//! `HerderError::Forward`); this layer then sends the same method, path, query and body to
//! that worker and answers with its response.
//!
//! The `forward` query parameter bounds the hops: a user's request (no parameter) may be
//! forwarded with `forward=true`, which may be forwarded once more with `forward=false`,
//! which is answered 409 instead of being forwarded again (the group is rebalancing).

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ForwardTo;
use super::{MAX_BODY_BYTES, REQUEST_TIMEOUT, RestError, RestState};

/// Kafka Connect's answer when a forwarded request would be forwarded again.
const TOO_MANY_HOPS: &str =
    "Cannot complete request because of a conflicting operation (e.g. worker rebalance)";

/// The middleware (see the module docs). Reads are never forwarded and pass straight on.
pub(super) async fn forward(
    State(state): State<RestState>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() == Method::GET {
        return next.run(request).await;
    }
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let query = request.uri().query().map(str::to_string);
    let content_type = request.headers().get(header::CONTENT_TYPE).cloned();
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(e) => {
            return RestError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("Request body too large or unreadable: {e}"),
            )
            .into_response();
        }
    };
    let response = next
        .run(Request::from_parts(parts, Body::from(body.clone())))
        .await;
    let Some(ForwardTo(target)) = response.extensions().get::<ForwardTo>().cloned() else {
        return response;
    };
    let hop = query_forward(query.as_deref());
    if hop == Some(false) {
        return RestError::conflict(TOO_MANY_HOPS).into_response();
    }
    let url = forwarded_url(&target, &path, query.as_deref(), hop.is_none());
    tracing::debug!(%method, %url, "forwarding the request");
    let mut outgoing = state
        .http
        .request(method, &url)
        .timeout(REQUEST_TIMEOUT)
        .body(body);
    if let Some(ct) = content_type {
        outgoing = outgoing.header(header::CONTENT_TYPE, ct);
    }
    let answer = match outgoing.send().await {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(%url, error = %e, "forwarding a request failed");
            return RestError::conflict(format!(
                "{TOO_MANY_HOPS}: forwarding to {target} failed: {e}"
            ))
            .into_response();
        }
    };
    let status = answer.status();
    let content_type = answer.headers().get(header::CONTENT_TYPE).cloned();
    let location = answer.headers().get(header::LOCATION).cloned();
    let bytes = match answer.bytes().await {
        Ok(b) => b,
        Err(e) => {
            return RestError::conflict(format!(
                "{TOO_MANY_HOPS}: reading the answer of {target} failed: {e}"
            ))
            .into_response();
        }
    };
    let mut out = Response::new(Body::from(bytes));
    *out.status_mut() = status;
    let headers = out.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        content_type.unwrap_or(HeaderValue::from_static("application/json")),
    );
    if let Some(l) = location {
        headers.insert(header::LOCATION, l);
    }
    out
}

/// The `forward` query parameter, if given.
fn query_forward(query: Option<&str>) -> Option<bool> {
    super::query_pairs(query)
        .into_iter()
        .find(|(k, _)| k == "forward")
        .map(|(_, v)| v.eq_ignore_ascii_case("true"))
}

/// `target` + `path` + the query with `forward` set to `again` (whether the next worker may
/// forward once more).
fn forwarded_url(target: &str, path: &str, query: Option<&str>, again: bool) -> String {
    let mut url = format!("{}{}", target.trim_end_matches('/'), path);
    let mut params: Vec<&str> = query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("forward="))
        .collect();
    let flag = if again {
        "forward=true"
    } else {
        "forward=false"
    };
    params.push(flag);
    url.push('?');
    url.push_str(&params.join("&"));
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hops_are_counted_in_the_forward_parameter() {
        assert_eq!(query_forward(None), None);
        assert_eq!(
            query_forward(Some("includeTasks=true&forward=TRUE")),
            Some(true)
        );
        assert_eq!(query_forward(Some("forward=false")), Some(false));
        assert_eq!(
            forwarded_url(
                "http://w1:8083/",
                "/connectors/a/restart",
                Some("includeTasks=true"),
                true
            ),
            "http://w1:8083/connectors/a/restart?includeTasks=true&forward=true"
        );
        assert_eq!(
            forwarded_url("http://w1:8083", "/connectors", Some("forward=true"), false),
            "http://w1:8083/connectors?forward=false"
        );
    }
}
