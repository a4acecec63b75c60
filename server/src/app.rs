//! The dashboard's HTTP application: [`router`] builds it once from an [`AppState`] (the Leptos
//! app server-rendered and hydrated, its server functions, the static site, the push channel,
//! the CSV export and the dashboard's own metrics, all behind the guard of [`crate::auth`]);
//! [`serve`] runs it. Tests call [`router`] too, so they test what runs.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use axum::Router;
use axum::extract::{FromRef, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use frontend::backend::{SharedBackend, SignedInUser};
use frontend::{App, shell};
use leptos::prelude::*;
use leptos_axum::{AxumRouteListing, LeptosRoutes, generate_route_list};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::{RequestBodyTimeoutLayer, TimeoutLayer};

use crate::auth::{self, Auth};
use crate::headers::{self, Hsts};
use crate::push::PushChannels;
use crate::telemetry::Telemetry;
use crate::transport::Transport;
use crate::views::gpus::to_csv;
use gpuboard_listener::Limits;

/// No form or server-function call of the dashboard is anywhere near this.
pub(crate) const MAX_BODY_BYTES: usize = 256 * 1024;
/// A request body (a form, a submitted workload) arrives within this.
const BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// A handler begins its answer within this (streams, once begun, run on).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

/// Everything the routes share.
#[derive(Clone)]
pub struct AppState {
    pub leptos: LeptosOptions,
    pub backend: SharedBackend,
    pub auth: Arc<Auth>,
    /// The telemetry collector: its cycles drive `/events`; its figures, `/metrics`.
    pub telemetry: Arc<Telemetry>,
    /// Whether answers carry HSTS.
    pub hsts: Hsts,
    /// The live-update channels open now.
    pub push: PushChannels,
}

impl AppState {
    /// The state of a dashboard serving `backend` behind `auth`, live-updated by `telemetry`.
    pub fn new(
        leptos: LeptosOptions,
        backend: SharedBackend,
        auth: Arc<Auth>,
        telemetry: Arc<Telemetry>,
    ) -> Self {
        AppState {
            leptos,
            backend,
            auth,
            telemetry,
            hsts: Hsts(false),
            push: PushChannels::default(),
        }
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}

impl FromRef<AppState> for Arc<Auth> {
    fn from_ref(state: &AppState) -> Self {
        state.auth.clone()
    }
}

/// The page routes, found once per process by running the app with resource loading switched
/// off. That switch is process-wide (leptos_server's `SuppressResourceLoad`), so generating the
/// list while another router in the process renders a page would leave that page's resources
/// pending forever (leptos-rs/leptos#4773); the tests start many dashboards in one process.
static PAGE_ROUTES: LazyLock<Vec<AxumRouteListing>> = LazyLock::new(|| generate_route_list(App));

/// The routes beside the pages, their server functions and the JSON API ([`crate::api::routes`]):
/// sign-in and out, health, the push channel, the CSV export, the dashboard's metrics. The router
/// is made from this list, and the access tests walk it.
pub fn endpoints() -> Vec<(String, MethodRouter<AppState>)> {
    let own: [(&str, MethodRouter<AppState>); 6] = [
        ("/login", post(auth::login)),
        ("/logout", post(auth::logout)),
        ("/healthz", get(|| async { "ok" })),
        ("/events", get(crate::push::updates)),
        ("/gpus.csv", get(gpus_csv)),
        ("/metrics", get(metrics)),
    ];
    own.into_iter()
        .map(|(path, methods)| (path.to_string(), methods))
        .collect()
}

/// The paths of the pages (with `{param}`s), as the router serves them.
pub fn page_paths() -> Vec<String> {
    PAGE_ROUTES.iter().map(|r| r.path().to_string()).collect()
}

/// The whole dashboard.
pub fn router(state: AppState) -> Router {
    let routes = PAGE_ROUTES.clone();
    let backend = state.backend.clone();
    Router::new()
        .leptos_routes_with_context(
            &state,
            routes,
            move || {
                provide_context(backend.clone());
                headers::page_policy();
            },
            {
                let leptos = state.leptos.clone();
                move || shell(leptos.clone())
            },
        )
        .merge(
            endpoints()
                .into_iter()
                .fold(Router::new(), |router, (path, methods)| {
                    router.route(&path, methods)
                }),
        )
        .merge(crate::api::routes().0)
        // The not-found page gets no backend (nothing of the cluster can render there).
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(headers::page_policy, shell))
        .layer(axum::middleware::from_fn(crate::api::server_fn_status))
        .layer(axum::middleware::from_fn_with_state(
            state.auth.clone(),
            auth::guard::require_user,
        ))
        .layer(state.auth.session_layer())
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(RequestBodyTimeoutLayer::new(BODY_TIMEOUT))
        // An answer not begun in time (the cluster hangs): 504, and the handler is dropped.
        .layer(TimeoutLayer::with_status_code(
            StatusCode::GATEWAY_TIMEOUT,
            ANSWER_TIMEOUT,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.hsts,
            headers::secure,
        ))
        .with_state(state)
}

/// Serves `app` on `listener` as `transport` says until the process ends, with the listener's
/// default limits (`gpuboard_listener`). `on_listening` is told the bound address.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    transport: &Transport,
    on_listening: impl FnOnce(SocketAddr),
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    tracing::info!("dashboard at {}://{addr}", transport.scheme());
    on_listening(addr);
    let limits = Limits::default();
    match transport {
        Transport::Tls(identity) => {
            let (cert, key) = (identity.cert_pem.clone(), identity.key_pem.clone());
            gpuboard_listener::serve_tls(listener, app, cert, key, &limits).await
        }
        Transport::Loopback | Transport::BehindTlsProxy => {
            gpuboard_listener::serve(listener, app, &limits).await
        }
    }
}

/// `GET /gpus.csv`: the GPUs page as CSV, with the same pod visibility.
async fn gpus_csv(State(state): State<AppState>, user: SignedInUser) -> Response {
    match state.backend.gpu_rows(&user).await {
        Ok(rows) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"gpus.csv\"",
                ),
            ],
            to_csv(&rows),
        )
            .into_response(),
        Err(e) => (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            format!("{e}\n"),
        )
            .into_response(),
    }
}

/// `GET /metrics`: the dashboard's own figures in the Prometheus text format (telemetry cycles,
/// exporters answering, live-update channels), for its operators and the benchmark.
async fn metrics(State(state): State<AppState>, _user: SignedInUser) -> Response {
    let stats = &state.telemetry.stats;
    let gauges = [
        (
            "gpuboard_telemetry_cycles_total",
            "counter",
            "Telemetry cycles finished.",
            stats.cycles.load(Ordering::Relaxed) as f64,
        ),
        (
            "gpuboard_telemetry_last_cycle_duration_seconds",
            "gauge",
            "How long the last telemetry cycle took, over every exporter.",
            stats.last_duration_us.load(Ordering::Relaxed) as f64 / 1e6,
        ),
        (
            "gpuboard_telemetry_exporters",
            "gauge",
            "Exporters asked in the last cycle.",
            stats.last_targets.load(Ordering::Relaxed) as f64,
        ),
        (
            "gpuboard_telemetry_exporters_answered",
            "gauge",
            "Exporters that answered in the last cycle.",
            stats.last_answered.load(Ordering::Relaxed) as f64,
        ),
        (
            "gpuboard_telemetry_exporter_failures_total",
            "counter",
            "Exporter fetches that failed (timeout, refused, bad answer), over every cycle.",
            stats.failures.load(Ordering::Relaxed) as f64,
        ),
        (
            "gpuboard_push_channels_open",
            "gauge",
            "Open live-update channels (/events).",
            state.push.open() as f64,
        ),
    ];
    let mut text = String::new();
    for (name, kind, help, value) in gauges {
        text.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
        ));
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}
