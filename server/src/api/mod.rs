//! The JSON API for scripts (`/api/v1/...`): the same operations as the pages, through the same
//! [`frontend::backend::Backend`], so the same validation and the cluster's RBAC apply. Scripts
//! send `Authorization: Bearer <token>` (no cookie, no CSRF token); a signed-in browser may call it
//! too, with the session's CSRF token on changes. Bodies and answers are camelCase JSON; every
//! error is `{"reason", "message"}` (and `field` for a refused field); nothing is cached (`crate::headers`).

mod access;
mod doctor;
mod join_tokens;
mod workloads;

use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use frontend::contract::PageError;
use serde::Serialize;

use crate::app::AppState;

/// One endpoint of the API: its path under `/api/v1` and the handlers of its methods.
type Endpoint = (&'static str, MethodRouter<AppState>);

/// Every endpoint of the API, with its whole path: the router is made from this list, and the
/// access tests walk it.
pub fn endpoints() -> Vec<(String, MethodRouter<AppState>)> {
    [
        join_tokens::endpoints(),
        access::endpoints(),
        doctor::endpoints(),
        workloads::endpoints(),
    ]
    .into_iter()
    .flatten()
    .map(|(path, methods)| (format!("/api/v1{path}"), methods))
    .collect()
}

/// An error as the API answers it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiError {
    #[serde(skip)]
    status: StatusCode,
    reason: &'static str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<String>,
}

impl From<PageError> for ApiError {
    fn from(e: PageError) -> Self {
        let (status, reason) = match &e {
            PageError::SignedOut => (StatusCode::UNAUTHORIZED, "Unauthorized"),
            PageError::Unreachable(_) => (StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable"),
            PageError::Refused(_) => (StatusCode::CONFLICT, "Refused"),
            PageError::Rejected(_) => (StatusCode::UNPROCESSABLE_ENTITY, "Rejected"),
            PageError::Server(_) => (StatusCode::INTERNAL_SERVER_ERROR, "InternalError"),
            PageError::Forbidden(_) => (StatusCode::FORBIDDEN, "Forbidden"),
            PageError::NotFound(_) => (StatusCode::NOT_FOUND, "NotFound"),
            PageError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "Invalid"),
        };
        let field = match &e {
            PageError::Invalid(f) => Some(f.field.clone()),
            _ => None,
        };
        let message = match e {
            PageError::Invalid(f) => f.message,
            other => other.to_string(),
        };
        ApiError {
            status,
            reason,
            message,
            field,
        }
    }
}

impl ApiError {
    /// A request the API cannot read (a query string, say), in axum's words.
    pub fn bad_request(message: String) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            reason: "BadRequest",
            message,
            field: None,
        }
    }
}

impl From<JsonRejection> for ApiError {
    /// A body that is not the JSON asked for; axum's text names the field that failed.
    fn from(e: JsonRejection) -> Self {
        ApiError {
            status: e.status(),
            reason: "BadRequest",
            message: e.body_text(),
            field: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(&self)).into_response()
    }
}

/// What a handler answers: JSON, or an [`ApiError`].
pub type ApiResult<T> = Result<(StatusCode, axum::Json<T>), ApiError>;
