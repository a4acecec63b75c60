//! `/api/v1/join-tokens`: list, create, reveal and revoke kubeadm join tokens.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use frontend::backend::SignedInUser;
use frontend::contract::join::{JoinTokens, NewJoinToken, RevealedJoinToken};

use super::{ApiResult, Endpoint, JsonObject};
use crate::app::AppState;

/// The endpoints of join tokens, under `/api/v1`.
pub fn endpoints() -> Vec<Endpoint> {
    vec![
        ("/join-tokens", get(list).post(create)),
        ("/join-tokens/{id}", get(reveal).delete(revoke)),
    ]
}

async fn list(State(state): State<AppState>, user: SignedInUser) -> ApiResult<JoinTokens> {
    let tokens = state.backend.join_tokens(&user).await?;
    Ok((StatusCode::OK, axum::Json(tokens)))
}

/// `{}` is kubeadm's defaults; 201 with the token, its expiry and the join command.
async fn create(
    State(state): State<AppState>,
    user: SignedInUser,
    JsonObject(request): JsonObject<NewJoinToken>,
) -> ApiResult<RevealedJoinToken> {
    let created = state.backend.create_join_token(&user, &request).await?;
    Ok((StatusCode::CREATED, axum::Json(created)))
}

async fn reveal(
    State(state): State<AppState>,
    user: SignedInUser,
    Path(id): Path<String>,
) -> ApiResult<RevealedJoinToken> {
    let token = state.backend.reveal_join_token(&user, &id).await?;
    Ok((StatusCode::OK, axum::Json(token)))
}

/// 200 with `{"id", "deleted": true}`.
async fn revoke(
    State(state): State<AppState>,
    user: SignedInUser,
    Path(id): Path<String>,
) -> ApiResult<serde_json::Value> {
    state.backend.delete_join_token(&user, &id).await?;
    Ok((
        StatusCode::OK,
        axum::Json(serde_json::json!({"id": id, "deleted": true})),
    ))
}
