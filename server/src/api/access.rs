//! Service accounts and their tokens: list, mint (TokenRequest), regenerate a legacy token, and
//! give a teammate access.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use frontend::backend::SignedInUser;
use frontend::contract::access::{
    IssuedToken, NewAccess, NewToken, RegenerateToken, ServiceAccounts,
};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiPath, ApiQuery, ApiResult, JsonObject, ObjectPath, Refusals, object_or_default};
use crate::app::AppState;

/// The operations on service accounts, their tokens and accesses, under `/api/v1`.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(mint))
        .routes(routes!(regenerate))
        .routes(routes!(grant))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only this namespace's accounts; empty or left out: every namespace the caller may list.
    namespace: Option<String>,
}

/// The service accounts with their legacy token Secrets, and what the caller may do.
#[utoipa::path(get, path = "/serviceaccounts", tag = "access", params(ListQuery),
    responses((status = 200, body = ServiceAccounts), Refusals))]
async fn list(
    State(state): State<AppState>,
    user: SignedInUser,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<ServiceAccounts> {
    let namespace = query.namespace.as_deref().filter(|ns| !ns.is_empty());
    let accounts = state.backend.service_accounts(&user, namespace).await?;
    Ok((StatusCode::OK, axum::Json(accounts)))
}

/// Mints a token with the TokenRequest API: `{"expirationSeconds": N}` (or no body: a day);
/// 201 with the token and the expiry granted.
#[utoipa::path(post, path = "/namespaces/{namespace}/serviceaccounts/{name}/token", tag = "access",
    params(ObjectPath), request_body = Option<NewToken>,
    responses((status = 201, body = IssuedToken), Refusals))]
async fn mint(
    State(state): State<AppState>,
    user: SignedInUser,
    ApiPath(ObjectPath { namespace, name }): ApiPath<ObjectPath>,
    body: Bytes,
) -> ApiResult<IssuedToken> {
    let request = object_or_default::<NewToken>(&body)?;
    let token = state
        .backend
        .mint_token(&user, &namespace, &name, request)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(token)))
}

/// Regenerates the account's legacy token: `{"requestId"?}` (or no body); 201 with the new
/// token; the old one no longer works.
#[utoipa::path(post, path = "/namespaces/{namespace}/serviceaccounts/{name}/legacy-token", tag = "access",
    params(ObjectPath), request_body = Option<RegenerateToken>,
    responses((status = 201, body = IssuedToken), Refusals))]
async fn regenerate(
    State(state): State<AppState>,
    user: SignedInUser,
    ApiPath(ObjectPath { namespace, name }): ApiPath<ObjectPath>,
    body: Bytes,
) -> ApiResult<IssuedToken> {
    let request = object_or_default::<RegenerateToken>(&body)?;
    let token = state
        .backend
        .regenerate_legacy_token(&user, &namespace, &name, &request)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(token)))
}

/// Gives a teammate access: a new service account bound to a role, and its first token (201).
/// If a step fails, what was made is deleted again.
#[utoipa::path(post, path = "/access", tag = "access", request_body = NewAccess,
    responses((status = 201, body = IssuedToken), Refusals))]
async fn grant(
    State(state): State<AppState>,
    user: SignedInUser,
    JsonObject(request): JsonObject<NewAccess>,
) -> ApiResult<IssuedToken> {
    let token = state.backend.grant_access(&user, &request).await?;
    Ok((StatusCode::CREATED, axum::Json(token)))
}
