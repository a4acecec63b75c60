//! `/api/v1/workloads`: submit (or dry-run) a Job or workspace, check its fit, read the queue,
//! read one with its logs (followed as a stream), delete one. The body is the submit form's
//! ([`NewWorkload`]).

use axum::extract::State;
use axum::http::StatusCode;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use frontend::backend::SignedInUser;
use frontend::contract::workload_detail::{LogQuery, Logs, WorkloadDetail};
use frontend::contract::workloads::{Deleted, FitCheck, NewWorkload, Queue, QueueQuery, Submitted};
use futures::StreamExt;
use serde::Deserialize;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiError, ApiPath, ApiQuery, ApiResult, JsonObject, ObjectPath, Refusals};
use crate::app::AppState;

/// The operations on GPU work, under `/api/v1`.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(queue, submit))
        .routes(routes!(fit))
        .routes(routes!(one, remove))
        .routes(routes!(logs))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct SubmitQuery {
    /// Only check: the cluster dry-runs it, nothing is made.
    #[serde(default)]
    dry_run: bool,
}

/// Submits a Job or a workspace: 201 when made, 200 when the same request had made it already
/// (a retry or double click makes one object) or on a dry run.
#[utoipa::path(post, path = "/workloads", tag = "workloads", params(SubmitQuery),
    request_body = NewWorkload,
    responses(
        (status = 201, description = "Made", body = Submitted),
        (status = 200, description = "Made already by the same request, or a dry run", body = Submitted),
        Refusals))]
async fn submit(
    State(state): State<AppState>,
    user: SignedInUser,
    ApiQuery(query): ApiQuery<SubmitQuery>,
    JsonObject(request): JsonObject<NewWorkload>,
) -> ApiResult<Submitted> {
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

/// The fit check for a submit body: fits now (on which nodes), waits (why, and how many are
/// ahead), or never fits (why).
#[utoipa::path(post, path = "/workloads/fit", tag = "workloads", request_body = NewWorkload,
    responses((status = 200, body = FitCheck), Refusals))]
async fn fit(
    State(state): State<AppState>,
    _user: SignedInUser,
    JsonObject(request): JsonObject<NewWorkload>,
) -> ApiResult<FitCheck> {
    let check = state.backend.fit_workload(&request).await?;
    Ok((StatusCode::OK, axum::Json(check)))
}

/// One page of the queue (`?mineOnly=true&page=N`, 200 rows a page; the counts cover it all):
/// pending first in the scheduler's order, then held by quota, running, finished.
#[utoipa::path(get, path = "/workloads", tag = "workloads", params(QueueQuery),
    responses((status = 200, body = Queue), Refusals))]
async fn queue(
    State(state): State<AppState>,
    user: SignedInUser,
    ApiQuery(query): ApiQuery<QueueQuery>,
) -> ApiResult<Queue> {
    let queue = state.backend.queue(&user, &query).await?;
    Ok((StatusCode::OK, axum::Json(queue)))
}

/// Deletes the Job (its pods go too), else gpuboard's Deployment and Service of that name.
#[utoipa::path(delete, path = "/namespaces/{namespace}/workloads/{name}", tag = "workloads",
    params(ObjectPath), responses((status = 200, body = Deleted), Refusals))]
async fn remove(
    State(state): State<AppState>,
    user: SignedInUser,
    ApiPath(ObjectPath { namespace, name }): ApiPath<ObjectPath>,
) -> ApiResult<Deleted> {
    let deleted = state
        .backend
        .delete_workload(&user, &namespace, &name)
        .await?;
    Ok((StatusCode::OK, axum::Json(deleted)))
}

/// One Job (else Deployment): its state, pods, why it waits, its GPUs, events, and the form
/// that makes it again.
#[utoipa::path(get, path = "/namespaces/{namespace}/workloads/{name}", tag = "workloads",
    params(ObjectPath), responses((status = 200, body = WorkloadDetail), Refusals))]
async fn one(
    State(state): State<AppState>,
    user: SignedInUser,
    ApiPath(ObjectPath { namespace, name }): ApiPath<ObjectPath>,
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

/// The logs as `text/plain` (as `kubectl logs` prints them), or as JSON when asked
/// (`Accept: application/json`); with `follow=true` a stream that ends with the container, as
/// text, or as server-sent events (one line per event, a `failure` event if the stream breaks,
/// then an `end` event) for `EventSource`.
#[utoipa::path(get, path = "/namespaces/{namespace}/workloads/{name}/logs", tag = "workloads",
    params(ObjectPath, LogQuery),
    responses(
        (status = 200, description = "The log lines", content(
            (String = "text/plain"),
            (Logs = "application/json"),
            (String = "text/event-stream"))),
        Refusals))]
async fn logs(
    State(state): State<AppState>,
    user: SignedInUser,
    ApiPath(ObjectPath { namespace, name }): ApiPath<ObjectPath>,
    ApiQuery(query): ApiQuery<LogQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
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
