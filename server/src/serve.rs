//! `gpuboard serve`: the dashboard. Axum serves the Leptos app (server-rendered, hydrated in the
//! browser), its server functions and the static site, with the cluster backend as context,
//! behind the sign-in and session layer of [`crate::auth`].

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::post;
use frontend::backend::{SharedBackend, SignedInUser};
use frontend::{App, shell};
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};
use tower_http::limit::RequestBodyLimitLayer;

use crate::auth::{self, Auth, AuthSettings};
use crate::cluster::cache::ClusterCache;
use crate::cluster::gpus::to_csv;
use crate::cluster::nodes::KubeBackend;
use crate::cluster::permissions::Permissions;
use crate::telemetry::{Telemetry, TelemetrySettings};

/// No form or server-function call of the dashboard is anywhere near this.
const MAX_BODY_BYTES: usize = 256 * 1024;
/// Open push channels (`/events`, one per open page) at most; more are answered 503 and those
/// pages work on without live updates until reloaded.
const MAX_PUSH_CHANNELS: usize = 1_000;

/// Serves the dashboard on `listen` until the process ends. `config` is the server's own cluster
/// config: its client reads shared state; users' clients use its URL and CA with their own tokens.
pub async fn run(
    listen: SocketAddr,
    config: kube::Config,
    settings: AuthSettings,
    telemetry: TelemetrySettings,
) -> anyhow::Result<()> {
    let client = kube::Client::try_from(config.clone())?;
    let auth = Auth::new(config.clone(), settings);
    let conf = get_configuration(None)?;
    let mut options = conf.leptos_options;
    options.site_addr = listen;
    let cache = ClusterCache::start(client);
    let kube_backend = Arc::new(KubeBackend {
        telemetry: Telemetry::start(cache.clone(), telemetry),
        permissions: Permissions::new(config),
        cache,
    });
    let backend: SharedBackend = kube_backend.clone();
    let routes = generate_route_list(App);
    let app = Router::new()
        .leptos_routes_with_context(
            &options,
            routes,
            {
                let backend = backend.clone();
                move || provide_context(backend.clone())
            },
            {
                let options = options.clone();
                move || shell(options.clone())
            },
        )
        .route("/healthz", axum::routing::get(|| async { "ok" }))
        .route(
            "/events",
            axum::routing::get({
                let backend = kube_backend.clone();
                let channels = Arc::new(tokio::sync::Semaphore::new(MAX_PUSH_CHANNELS));
                move || updates(backend.clone(), channels.clone())
            }),
        )
        .route(
            "/gpus.csv",
            axum::routing::get({
                let backend = kube_backend.clone();
                move |user: axum::Extension<SignedInUser>| gpus_csv(backend.clone(), user.0)
            }),
        )
        .fallback(leptos_axum::file_and_error_handler(shell))
        .with_state(options)
        .merge(
            Router::new()
                .route("/login", post(auth::login))
                .route("/logout", post(auth::logout))
                .with_state(auth.clone()),
        )
        .layer(axum::middleware::from_fn_with_state(
            auth.clone(),
            auth::require_user,
        ))
        .layer(auth.session_layer())
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES));
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
        anyhow::anyhow!("cannot listen on {listen}: {e} (is another gpuboard already running?)")
    })?;
    tracing::info!("dashboard at http://{listen}");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await?;
    Ok(())
}

/// `GET /gpus.csv`: the GPUs page as CSV, with the same pod visibility.
async fn gpus_csv(backend: Arc<KubeBackend>, user: SignedInUser) -> axum::response::Response {
    use axum::response::IntoResponse;
    let csv = to_csv(&backend.gpu_rows_for(&user).await);
    (
        [
            (axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                axum::http::header::CONTENT_DISPOSITION,
                "attachment; filename=\"gpus.csv\"",
            ),
        ],
        csv,
    )
        .into_response()
}

/// `GET /events`: the push channel. A server-sent event after every telemetry cycle tells open
/// pages to fetch fresh numbers; a comment every 15 s keeps proxies from closing it. Each open
/// channel holds one of `channels`' permits; none left is a 503.
async fn updates(
    backend: Arc<KubeBackend>,
    channels: Arc<tokio::sync::Semaphore>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    use axum::response::sse::{Event, KeepAlive, Sse};
    let Ok(permit) = channels.try_acquire_owned() else {
        tracing::warn!(
            limit = MAX_PUSH_CHANNELS,
            "refused a push channel: too many open"
        );
        return (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            [(axum::http::header::RETRY_AFTER, "60")],
            "too many live pages are open; this one will not update by itself until reloaded\n",
        )
            .into_response();
    };
    let receiver = backend.telemetry.subscribe();
    let stream = futures::stream::unfold((receiver, permit), |(mut receiver, permit)| async move {
        receiver.changed().await.ok()?;
        let cycle = *receiver.borrow_and_update();
        Some((
            Ok::<_, std::convert::Infallible>(Event::default().data(cycle.to_string())),
            (receiver, permit),
        ))
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(std::time::Duration::from_secs(15)))
        .into_response()
}
