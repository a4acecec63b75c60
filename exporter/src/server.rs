//! The exporter's HTTP server: `/metrics` (Prometheus text, or OpenMetrics when the Accept header
//! asks), `/api/v1/gpus` (the typed JSON the dashboard reads), `/healthz` and `/readyz`.
//! Every handler serves the collector's latest snapshot and never touches NVML.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use bytes::Bytes;
use gpuboard_exporter_api::GPUS_PATH;

use crate::collector::Collector;
use crate::metrics::{self, Format, OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE};
use crate::snapshot::Rendering;

/// What the exporter's listener allows: scrapers are few (the dashboard, Prometheus), so a few
/// hundred connections at once, each one request at a time, bound memory under a flood; more
/// are closed at once rather than queued, and slow headers are cut off.
pub fn limits() -> gpuboard_listener::Limits {
    gpuboard_listener::Limits {
        max_connections: 256,
        ..Default::default()
    }
}

/// The exporter's routes over `collector`'s snapshots.
pub fn router(collector: Arc<Collector>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route(GPUS_PATH, get(gpus))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .with_state(collector)
}

/// Whether the client prefers OpenMetrics (Prometheus asks for it first in its Accept header).
fn wants_openmetrics(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"))
}

async fn metrics(State(collector): State<Arc<Collector>>, headers: HeaderMap) -> Response {
    let (format, rendering, content_type) = if wants_openmetrics(&headers) {
        (
            Format::OpenMetrics,
            Rendering::OpenMetrics,
            OPENMETRICS_CONTENT_TYPE,
        )
    } else {
        (
            Format::Prometheus,
            Rendering::Prometheus,
            PROMETHEUS_CONTENT_TYPE,
        )
    };
    let body = collector
        .snapshot()
        .rendered(rendering, |s| metrics::render(s, format).into());
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body,
    )
        .into_response()
}

async fn gpus(State(collector): State<Arc<Collector>>) -> Response {
    let body = collector.snapshot().rendered(Rendering::Json, |s| {
        serde_json::to_vec(&s.gpus)
            .map(Bytes::from)
            .unwrap_or_else(|_| Bytes::from_static(b"{}"))
    });
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

async fn ready(State(collector): State<Arc<Collector>>) -> Response {
    match &collector.snapshot().ready {
        Ok(()) => (StatusCode::OK, "ready\n".to_string()).into_response(),
        Err(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {why}\n"),
        )
            .into_response(),
    }
}
