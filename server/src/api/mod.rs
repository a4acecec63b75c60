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

/// The HTTP status and reason word of a [`PageError`]: one rule for the JSON API and the
/// pages' server functions.
pub fn status_of(e: &PageError) -> (StatusCode, &'static str) {
    match e {
        PageError::SignedOut => (StatusCode::UNAUTHORIZED, "Unauthorized"),
        PageError::Unreachable(_) => (StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable"),
        PageError::Refused(_) => (StatusCode::CONFLICT, "Refused"),
        PageError::Rejected(_) => (StatusCode::UNPROCESSABLE_ENTITY, "Rejected"),
        PageError::Server(_) => (StatusCode::INTERNAL_SERVER_ERROR, "InternalError"),
        PageError::BadRequest(_) => (StatusCode::BAD_REQUEST, "BadRequest"),
        PageError::Forbidden(_) => (StatusCode::FORBIDDEN, "Forbidden"),
        PageError::NotFound(_) => (StatusCode::NOT_FOUND, "NotFound"),
        PageError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "Invalid"),
    }
}

/// A server function's error answers with its error's status ([`status_of`]) instead of
/// server_fn's 500 for every error, so a refusal of bad input is a 4xx at both doors. The
/// browser's server-function client reads any 4xx or 5xx as the error.
pub async fn server_fn_status(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let response = next.run(request).await;
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR
        || !response.headers().contains_key("serverfnerror")
    {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // An error's body is already in memory: no limit to meet.
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return Response::from_parts(parts, axum::body::Body::empty());
    };
    if let Ok(error) = serde_json::from_slice::<PageError>(&bytes) {
        parts.status = status_of(&error).0;
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

impl From<PageError> for ApiError {
    fn from(e: PageError) -> Self {
        let (status, reason) = status_of(&e);
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

/// A JSON body that must be an object ([`frontend::contract::is_json_object`]): axum's `Json`,
/// but `[]` or `"text"` is refused.
pub struct JsonObject<T>(pub T);

impl<S, T> axum::extract::FromRequest<S> for JsonObject<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        let is_json = request
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| {
                let v = v.trim();
                v == "application/json" || v.ends_with("+json")
            });
        if !is_json {
            return Err(ApiError {
                status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
                reason: "BadRequest",
                message: "expected a body with Content-Type: application/json".into(),
                field: None,
            });
        }
        let bytes = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|e| ApiError::bad_request(e.body_text()))?;
        Ok(JsonObject(object_from_bytes(&bytes)?))
    }
}

/// `bytes` read as a JSON object of type `T`; anything but an object is refused.
pub fn object_from_bytes<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if !frontend::contract::is_json_object(bytes) {
        return Err(ApiError::bad_request(
            "the body must be a JSON object ({...})".into(),
        ));
    }
    // axum's words name the field that failed.
    Ok(axum::Json::<T>::from_bytes(bytes)?.0)
}

/// As [`object_from_bytes`], where no body at all means `T`'s defaults.
pub fn object_or_default<T: serde::de::DeserializeOwned + Default>(
    bytes: &[u8],
) -> Result<T, ApiError> {
    if bytes.is_empty() {
        Ok(T::default())
    } else {
        object_from_bytes(bytes)
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
