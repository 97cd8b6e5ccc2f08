//! Every failure answers Kafka Connect's error body, `{"error_code": N, "message": "..."}`;
//! herder errors map to status codes here and nowhere else.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::herder::HerderError;

/// A failed REST request: its status and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What went wrong.
    pub message: String,
    /// Another worker that can handle the request (distributed mode): the forwarding layer
    /// sends the request there instead of answering this error.
    pub(super) forward: Option<String>,
}

/// Marks a response whose request should be handled by the worker at this URL.
#[derive(Debug, Clone)]
pub(super) struct ForwardTo(pub(super) String);

/// Kafka Connect's 409 when no leader is known (the worker has not joined, or a rebalance
/// is under way).
pub(super) const NO_LEADER: &str = "Cannot complete request momentarily due to no known leader URL, likely because a rebalance was underway.";

impl RestError {
    /// An error with this status and message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> RestError {
        RestError {
            status,
            message: message.into(),
            forward: None,
        }
    }
    /// 400.
    pub fn bad_request(message: impl Into<String>) -> RestError {
        RestError::new(StatusCode::BAD_REQUEST, message)
    }
    /// 404.
    pub fn not_found(message: impl Into<String>) -> RestError {
        RestError::new(StatusCode::NOT_FOUND, message)
    }
    /// 409.
    pub fn conflict(message: impl Into<String>) -> RestError {
        RestError::new(StatusCode::CONFLICT, message)
    }
}

impl std::fmt::Display for RestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.message)
    }
}

impl std::error::Error for RestError {}

impl From<HerderError> for RestError {
    fn from(e: HerderError) -> RestError {
        if let HerderError::Forward { url, message } = e {
            return match url {
                Some(url) => RestError {
                    status: StatusCode::CONFLICT,
                    message,
                    forward: Some(url),
                },
                None => RestError::conflict(NO_LEADER),
            };
        }
        let status = match &e {
            HerderError::NotFound(_) => StatusCode::NOT_FOUND,
            HerderError::AlreadyExists(_) => StatusCode::CONFLICT,
            HerderError::InvalidConfig(_) | HerderError::BadRequest(_) => StatusCode::BAD_REQUEST,
            HerderError::BadState(_) => StatusCode::CONFLICT,
            HerderError::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
            HerderError::Rebalancing | HerderError::Forward { .. } => StatusCode::CONFLICT,
            HerderError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        RestError::new(status, e.to_string())
    }
}

impl IntoResponse for RestError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(status = self.status.as_u16(), message = %self.message, "REST request failed");
        }
        let body = serde_json::json!({
            "error_code": self.status.as_u16(),
            "message": self.message,
        });
        let mut response = (self.status, Json(body)).into_response();
        if let Some(url) = self.forward {
            response.extensions_mut().insert(ForwardTo(url));
        }
        response
    }
}

/// `Result` with [`RestError`].
pub type Result<T, E = RestError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    /// Distributed mode's answers: Kafka Connect's 409s while no leader is known or a
    /// rebalance is under way; a forward carries the other worker's URL to the forwarding
    /// layer.
    #[test]
    fn rebalances_answer_409_and_forwards_carry_the_target() {
        let e = RestError::from(HerderError::Rebalancing);
        assert_eq!(e.status, StatusCode::CONFLICT);
        assert!(
            e.message.contains("momentarily due to stale configuration"),
            "{e}"
        );
        let e = RestError::from(HerderError::Forward {
            url: None,
            message: "not joined".into(),
        });
        assert_eq!(
            (e.status, e.message.as_str()),
            (StatusCode::CONFLICT, NO_LEADER)
        );
        assert!(e.forward.is_none());
        let e = RestError::from(HerderError::Forward {
            url: Some("http://leader:8083/".into()),
            message: "not the leader".into(),
        });
        let response = e.into_response();
        assert_eq!(
            response
                .extensions()
                .get::<ForwardTo>()
                .map(|f| f.0.as_str()),
            Some("http://leader:8083/")
        );
    }
}
