//! The JSON API for scripts (`/api/v1/...`): the same operations as the pages, through the same
//! [`frontend::backend::Backend`], so the same validation and the cluster's RBAC apply. Scripts
//! send `Authorization: Bearer <token>` (no cookie, no CSRF token); a signed-in browser may call it
//! too, with the session's CSRF token on changes. Bodies and answers are camelCase JSON; every
//! error is `{"reason", "message"}` (and `field` for a refused field); nothing is cached (`crate::headers`).
//!
//! Each handler's `#[utoipa::path]` gives its method and path to both the router and the OpenAPI
//! document (`/api/v1/openapi.json`), so nothing is served that the document does not describe.

mod access;
mod doctor;
mod join_tokens;
mod workloads;

use std::collections::BTreeMap;
use std::sync::LazyLock;

use axum::extract::rejection::JsonRejection;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use frontend::contract::PageError;
use serde::Serialize;
use utoipa::OpenApi;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;

/// The document's frame; the operations come from the routes ([`routes`]).
#[derive(OpenApi)]
#[openapi(
    info(
        title = "gpuboard",
        description = "The dashboard's JSON API: join tokens, service-account tokens and access, the GPU-node doctor, GPU work. Every call acts with the caller's own token, so the cluster's RBAC decides. See docs/api.md."
    ),
    modifiers(&BearerToken),
    security(("bearer" = [])),
    components(schemas(ApiError))
)]
struct Frame;

/// Every operation takes `Authorization: Bearer <token>`, a token the cluster accepts.
struct BearerToken;

impl utoipa::Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        openapi
            .components
            .get_or_insert_default()
            .add_security_scheme(
                "bearer",
                SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
            );
    }
}

/// The API's routes and the OpenAPI document describing them, made together.
pub fn routes() -> (axum::Router<AppState>, utoipa::openapi::OpenApi) {
    let api = OpenApiRouter::new()
        .routes(routes!(openapi_json))
        .merge(join_tokens::routes())
        .merge(access::routes())
        .merge(doctor::routes())
        .merge(workloads::routes());
    OpenApiRouter::with_openapi(Frame::openapi())
        .nest("/api/v1", api)
        .split_for_parts()
}

/// The OpenAPI document alone (what `/api/v1/openapi.json` serves; the access tests walk it).
pub fn document() -> utoipa::openapi::OpenApi {
    routes().1
}

/// The document as served, made once.
static DOCUMENT_JSON: LazyLock<String> = LazyLock::new(|| {
    document().to_pretty_json().unwrap_or_else(|e| {
        tracing::error!(error = %e, "the OpenAPI document cannot be written as JSON");
        String::from("{}")
    })
});

/// This document: OpenAPI 3.1, generated from the API's types and routes.
#[utoipa::path(get, path = "/openapi.json", tag = "meta",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json"), Refusals))]
async fn openapi_json() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        DOCUMENT_JSON.as_str(),
    )
        .into_response()
}

/// The path of a namespaced object: `/namespaces/{namespace}/.../{name}`.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ObjectPath {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
}

/// The refusals any operation may answer (not every one can give each), as [`ApiError`]s;
/// 413 also in plain text, when the body's declared length is over the limit.
pub struct Refusals;

impl utoipa::IntoResponses for Refusals {
    fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::Response>> {
        let too_large = format!("The body is over {} KiB", crate::app::MAX_BODY_BYTES / 1024);
        let refusals: [(u16, &str); 10] = [
            (
                400,
                "BadRequest: the body, query or path is not what the operation reads",
            ),
            (
                401,
                "Unauthorized: no token, or the cluster does not accept it",
            ),
            (
                403,
                "Forbidden: the cluster's RBAC refused the caller, or a browser's change lacked its CSRF token",
            ),
            (404, "NotFound: no such object"),
            (409, "Refused: the cluster refused (it exists already, say)"),
            (413, &too_large),
            (415, "BadRequest: the body is not sent as application/json"),
            (
                422,
                "Invalid (a field, named in `field`), Rejected (the cluster found the request invalid) or BadRequest (a field of the wrong type)",
            ),
            (
                429,
                "TooManyRequests: too many failed attempts with tokens from this client",
            ),
            (
                503,
                "ServiceUnavailable: the cluster, or the shared session store, could not be reached",
            ),
        ];
        refusals
            .into_iter()
            .map(|(status, description)| {
                let error = ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ApiError")))
                    .build();
                let mut response = ResponseBuilder::new()
                    .description(description)
                    .content("application/json", error);
                if status == 413 {
                    response = response.content("text/plain", ContentBuilder::new().build());
                }
                (status.to_string(), response.build().into())
            })
            .collect()
    }
}

/// What kind of refusal an [`ApiError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub enum Reason {
    /// The body, query or path is not what the operation reads.
    BadRequest,
    /// A field was refused before the cluster was asked (named in `field`).
    Invalid,
    /// No token, or the cluster does not accept it.
    Unauthorized,
    /// The cluster's RBAC refused the caller.
    Forbidden,
    /// No such object.
    NotFound,
    /// The cluster found the request invalid.
    Rejected,
    /// The cluster refused otherwise (it exists already, say).
    Refused,
    /// Too many failed token checks from this client.
    TooManyRequests,
    /// The cluster could not be reached.
    ServiceUnavailable,
    /// The dashboard failed.
    InternalError,
}

/// An error as the API answers it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiError {
    #[serde(skip)]
    status: StatusCode,
    reason: Reason,
    /// In words, for a person.
    message: String,
    /// The field refused, when one was (`Invalid`).
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<String>,
}

/// The HTTP status and reason word of a [`PageError`]: one rule for the JSON API and the
/// pages' server functions.
pub fn status_of(e: &PageError) -> (StatusCode, Reason) {
    match e {
        PageError::SignedOut => (StatusCode::UNAUTHORIZED, Reason::Unauthorized),
        PageError::Unreachable(_) => (StatusCode::SERVICE_UNAVAILABLE, Reason::ServiceUnavailable),
        PageError::Refused(_) => (StatusCode::CONFLICT, Reason::Refused),
        PageError::Rejected(_) => (StatusCode::UNPROCESSABLE_ENTITY, Reason::Rejected),
        PageError::Server(_) => (StatusCode::INTERNAL_SERVER_ERROR, Reason::InternalError),
        PageError::BadRequest(_) => (StatusCode::BAD_REQUEST, Reason::BadRequest),
        PageError::Forbidden(_) => (StatusCode::FORBIDDEN, Reason::Forbidden),
        PageError::NotFound(_) => (StatusCode::NOT_FOUND, Reason::NotFound),
        PageError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, Reason::Invalid),
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
    /// A refusal with its status, reason word and message.
    pub fn new(status: StatusCode, reason: Reason, message: impl Into<String>) -> Self {
        ApiError {
            status,
            reason,
            message: message.into(),
            field: None,
        }
    }

    /// A request the API cannot read (a query string, say), in axum's words.
    pub fn bad_request(message: String) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, Reason::BadRequest, message)
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
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                Reason::BadRequest,
                "expected a body with Content-Type: application/json",
            ));
        }
        // Too large (a body without a length that the limit cut off) stays a 413.
        let bytes = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|e| ApiError::new(e.status(), Reason::BadRequest, e.body_text()))?;
        Ok(JsonObject(object_from_bytes(&bytes)?))
    }
}

/// axum's `Path`, its refusal an [`ApiError`] (a path that is not UTF-8 once decoded, say).
pub struct ApiPath<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for ApiPath<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(ApiPath(value)),
            Err(e) => Err(ApiError::new(e.status(), Reason::BadRequest, e.body_text())),
        }
    }
}

/// axum's `Query`, its refusal an [`ApiError`] in axum's words (an unknown parameter is named).
pub struct ApiQuery<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for ApiQuery<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(ApiQuery(value)),
            Err(e) => Err(ApiError::bad_request(e.body_text())),
        }
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
        ApiError::new(e.status(), Reason::BadRequest, e.body_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(&self)).into_response()
    }
}

/// What a handler answers: JSON, or an [`ApiError`].
pub type ApiResult<T> = Result<(StatusCode, axum::Json<T>), ApiError>;
