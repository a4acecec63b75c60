//! `/api/v1/workloads`: submit (or dry-run) a Job or workspace, check its fit, read the queue,
//! read one with its logs (followed as a stream), delete one. The body is the submit form's
//! ([`NewWorkload`]).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use frontend::backend::SignedInUser;
use frontend::contract::workload_detail::{LogQuery, WorkloadDetail};
use frontend::contract::workloads::{Deleted, FitCheck, NewWorkload, Queue, QueueQuery, Submitted};
use futures::StreamExt;
use serde::Deserialize;

use super::{ApiError, ApiResult, Endpoint, JsonObject};
use crate::app::AppState;

/// The endpoints of GPU work, under `/api/v1`.
pub fn endpoints() -> Vec<Endpoint> {
    vec![
        ("/workloads", get(queue).post(submit)),
        ("/workloads/fit", post(fit)),
        (
            "/namespaces/{namespace}/workloads/{name}",
            get(one).delete(remove),
        ),
        ("/namespaces/{namespace}/workloads/{name}/logs", get(logs)),
    ]
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
    JsonObject(request): JsonObject<NewWorkload>,
) -> ApiResult<Submitted> {
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
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
    JsonObject(request): JsonObject<NewWorkload>,
) -> ApiResult<FitCheck> {
    let check = state.backend.fit_workload(&request).await?;
    Ok((StatusCode::OK, axum::Json(check)))
}

/// One page of the queue (`?mineOnly=true&page=N`, 200 rows a page; the counts cover it all).
async fn queue(
    State(state): State<AppState>,
    user: SignedInUser,
    query: Result<Query<QueueQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Queue> {
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let queue = state.backend.queue(&user, &query).await?;
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

async fn one(
    State(state): State<AppState>,
    user: SignedInUser,
    Path((namespace, name)): Path<(String, String)>,
) -> ApiResult<WorkloadDetail> {
    let detail = state.backend.workload(&user, &namespace, &name).await?;
    Ok((StatusCode::OK, axum::Json(detail)))
}

/// Whether the request asks for JSON, or for server-sent events (a browser's `EventSource`).
fn accepts(headers: &HeaderMap, media_type: &str) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|t| t.trim().starts_with(media_type)))
}

/// The logs as `text/plain` (as `kubectl logs` prints them), or `Logs` as JSON when asked
/// (`Accept: application/json`); with `follow=true` a stream that ends with the container, as
/// text, or as server-sent events (one line per event, a `failure` event if the stream breaks, then an `end` event) for `EventSource`.
async fn logs(
    State(state): State<AppState>,
    user: SignedInUser,
    Path((namespace, name)): Path<(String, String)>,
    query: Result<Query<LogQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    if !query.follow {
        let logs = state
            .backend
            .workload_logs(&user, &namespace, &name, &query)
            .await?;
        if accepts(&headers, "application/json") {
            return Ok(axum::Json(logs).into_response());
        }
        let mut text = logs.lines.join("\n");
        if !text.is_empty() {
            text.push('\n');
        }
        return Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response());
    }
    let lines = state
        .backend
        .follow_workload_logs(&user, &namespace, &name, &query)
        .await?;
    if accepts(&headers, "text/event-stream") {
        use axum::response::sse::{Event, KeepAlive, Sse};
        let events = lines
            .map(|line| match line {
                Ok(line) => Event::default().data(line),
                Err(e) => Event::default().event("failure").data(e.to_string()),
            })
            .chain(futures::stream::once(async {
                Event::default().event("end").data("")
            }))
            .map(Ok::<_, std::convert::Infallible>);
        return Ok(Sse::new(events)
            .keep_alive(KeepAlive::new().interval(std::time::Duration::from_secs(15)))
            .into_response());
    }
    let body = lines.map(|line| {
        line.map(|mut l| {
            l.push('\n');
            axum::body::Bytes::from(l)
        })
        .map_err(std::io::Error::other)
    });
    Ok((
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        axum::body::Body::from_stream(body),
    )
        .into_response())
}
