//! `/api/v1/join-tokens`: list, create, reveal and revoke kubeadm join tokens.

use axum::extract::State;
use axum::http::StatusCode;
use frontend::backend::SignedInUser;
use frontend::contract::join::{JoinTokens, NewJoinToken, RevealedJoinToken};
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiPath, ApiResult, JsonObject, Refusals};
use crate::app::AppState;

/// The operations on join tokens, under `/api/v1`.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(reveal, revoke))
}

/// A revoked token.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Revoked {
    id: String,
    deleted: bool,
}

/// The join tokens as `kubeadm token list` reads them (no secrets), the join command's endpoint
/// and CA pins, and what the caller may do.
#[utoipa::path(get, path = "/join-tokens", tag = "join tokens",
    responses((status = 200, body = JoinTokens), Refusals))]
async fn list(State(state): State<AppState>, user: SignedInUser) -> ApiResult<JoinTokens> {
    let tokens = state.backend.join_tokens(&user).await?;
    Ok((StatusCode::OK, axum::Json(tokens)))
}

/// Creates a join token: `{}` is kubeadm's defaults; 201 with the token, its expiry and the
/// join command. The same `requestId` sent again answers with the token it made.
#[utoipa::path(post, path = "/join-tokens", tag = "join tokens", request_body = NewJoinToken,
    responses((status = 201, body = RevealedJoinToken), Refusals))]
async fn create(
    State(state): State<AppState>,
    user: SignedInUser,
    JsonObject(request): JsonObject<NewJoinToken>,
) -> ApiResult<RevealedJoinToken> {
    let created = state.backend.create_join_token(&user, &request).await?;
    Ok((StatusCode::CREATED, axum::Json(created)))
}

/// The token `id` with its secret and join command.
#[utoipa::path(get, path = "/join-tokens/{id}", tag = "join tokens",
    params(("id" = String, Path, description = "The token's ID (6 characters)")),
    responses((status = 200, body = RevealedJoinToken), Refusals))]
async fn reveal(
    State(state): State<AppState>,
    user: SignedInUser,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<RevealedJoinToken> {
    let token = state.backend.reveal_join_token(&user, &id).await?;
    Ok((StatusCode::OK, axum::Json(token)))
}

/// Revokes the token `id` (deletes its Secret): it stops authenticating at once.
#[utoipa::path(delete, path = "/join-tokens/{id}", tag = "join tokens",
    params(("id" = String, Path, description = "The token's ID (6 characters)")),
    responses((status = 200, body = Revoked), Refusals))]
async fn revoke(
    State(state): State<AppState>,
    user: SignedInUser,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Revoked> {
    state.backend.delete_join_token(&user, &id).await?;
    Ok((StatusCode::OK, axum::Json(Revoked { id, deleted: true })))
}
