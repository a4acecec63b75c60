//! `/api/v1/workloads`: submit (or dry-run) a Job or workspace, check its fit, read the queue,
//! delete one. The body is the submit form's ([`NewWorkload`]).

use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use frontend::backend::SignedInUser;
use frontend::contract::workloads::{Deleted, FitCheck, NewWorkload, Queue, Submitted};
use serde::Deserialize;

use super::{ApiError, ApiResult};
use crate::app::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/workloads", get(queue).post(submit))
        .route("/workloads/fit", post(fit))
        .route("/namespaces/{namespace}/workloads/{name}", delete(remove))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SubmitQuery {
    #[serde(default)]
    dry_run: bool,
}

/// 201 when made, 200 when the same request had made it already (or on a dry run).
async fn submit(
    State(state): State<AppState>,
    user: SignedInUser,
    query: Result<Query<SubmitQuery>, axum::extract::rejection::QueryRejection>,
    body: Result<axum::Json<NewWorkload>, JsonRejection>,
) -> ApiResult<Submitted> {
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let axum::Json(request) = body.map_err(ApiError::from)?;
    let submitted = state
        .backend
        .submit_workload(&user, &request, query.dry_run)
        .await?;
    let status = if submitted.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(submitted)))
}

async fn fit(
    State(state): State<AppState>,
    _user: SignedInUser,
    body: Result<axum::Json<NewWorkload>, JsonRejection>,
) -> ApiResult<FitCheck> {
    let axum::Json(request) = body.map_err(ApiError::from)?;
    let check = state.backend.fit_workload(&request).await?;
    Ok((StatusCode::OK, axum::Json(check)))
}

async fn queue(State(state): State<AppState>, user: SignedInUser) -> ApiResult<Queue> {
    let queue = state.backend.queue(&user).await?;
    Ok((StatusCode::OK, axum::Json(queue)))
}

async fn remove(
    State(state): State<AppState>,
    user: SignedInUser,
    Path((namespace, name)): Path<(String, String)>,
) -> ApiResult<Deleted> {
    let deleted = state
        .backend
        .delete_workload(&user, &namespace, &name)
        .await?;
    Ok((StatusCode::OK, axum::Json(deleted)))
}
