//! Service accounts and their tokens: list, mint (TokenRequest), regenerate a legacy token, and
//! give a teammate access.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use frontend::backend::SignedInUser;
use frontend::contract::access::{
    IssuedToken, NewAccess, NewToken, RegenerateToken, ServiceAccounts,
};
use serde::Deserialize;

use super::{ApiResult, Endpoint, JsonObject, object_or_default};
use crate::app::AppState;

/// The endpoints of service accounts, tokens, accesses, under `/api/v1`.
pub fn endpoints() -> Vec<Endpoint> {
    vec![
        ("/serviceaccounts", get(list)),
        (
            "/namespaces/{namespace}/serviceaccounts/{name}/token",
            post(mint),
        ),
        (
            "/namespaces/{namespace}/serviceaccounts/{name}/legacy-token",
            post(regenerate),
        ),
        ("/access", post(grant)),
    ]
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    namespace: Option<String>,
}

/// `?namespace=` narrows the list to one namespace.
async fn list(
    State(state): State<AppState>,
    user: SignedInUser,
    Query(query): Query<ListQuery>,
) -> ApiResult<ServiceAccounts> {
    let namespace = query.namespace.as_deref().filter(|ns| !ns.is_empty());
    let accounts = state.backend.service_accounts(&user, namespace).await?;
    Ok((StatusCode::OK, axum::Json(accounts)))
}

/// `{"expirationSeconds": N}` (or no body: a day); 201 with the token and the expiry granted.
async fn mint(
    State(state): State<AppState>,
    user: SignedInUser,
    Path((namespace, name)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<IssuedToken> {
    let request = object_or_default::<NewToken>(&body)?;
    let token = state
        .backend
        .mint_token(&user, &namespace, &name, request)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(token)))
}

/// `{"requestId"?}` (or no body); 201 with the new legacy token; the old one no longer works.
async fn regenerate(
    State(state): State<AppState>,
    user: SignedInUser,
    Path((namespace, name)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<IssuedToken> {
    let request = object_or_default::<RegenerateToken>(&body)?;
    let token = state
        .backend
        .regenerate_legacy_token(&user, &namespace, &name, &request)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(token)))
}

/// `{"namespace", "name", "role", "expirationSeconds"?}`; 201 with the account's first token.
async fn grant(
    State(state): State<AppState>,
    user: SignedInUser,
    JsonObject(request): JsonObject<NewAccess>,
) -> ApiResult<IssuedToken> {
    let token = state.backend.grant_access(&user, &request).await?;
    Ok((StatusCode::CREATED, axum::Json(token)))
}
