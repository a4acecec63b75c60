//! `gpuboard serve`: the dashboard. Axum serves the Leptos app (server-rendered, hydrated in the
//! browser), its server functions and the static site, with the cluster backend as context,
//! behind the sign-in and session layer of [`crate::auth`].

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::post;
use frontend::backend::SharedBackend;
use frontend::{App, shell};
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};
use tower_http::limit::RequestBodyLimitLayer;

use crate::auth::{self, Auth, AuthSettings};
use crate::cluster::cache::ClusterCache;
use crate::cluster::nodes::KubeBackend;

/// No form or server-function call of the dashboard is anywhere near this.
const MAX_BODY_BYTES: usize = 256 * 1024;

/// Serves the dashboard on `listen` until the process ends. `config` is the server's own cluster
/// config: its client reads shared state; users' clients use its URL and CA with their own tokens.
pub async fn run(
    listen: SocketAddr,
    config: kube::Config,
    settings: AuthSettings,
) -> anyhow::Result<()> {
    let client = kube::Client::try_from(config.clone())?;
    let auth = Auth::new(config, settings);
    let conf = get_configuration(None)?;
    let mut options = conf.leptos_options;
    options.site_addr = listen;
    let backend: SharedBackend = Arc::new(KubeBackend {
        cache: ClusterCache::start(client),
    });
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
