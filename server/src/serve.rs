//! `gpuboard serve`: the dashboard. Axum serves the Leptos app (server-rendered, hydrated in the
//! browser), its server functions and the static site, with the cluster backend as context.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use frontend::backend::SharedBackend;
use frontend::{App, shell};
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};

use crate::cluster::nodes::KubeBackend;

/// Serves the dashboard on `listen` until the process ends.
pub async fn run(listen: SocketAddr, client: kube::Client) -> anyhow::Result<()> {
    let conf = get_configuration(None)?;
    let mut options = conf.leptos_options;
    options.site_addr = listen;
    let backend: SharedBackend = Arc::new(KubeBackend { client });
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
        .with_state(options);
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
        anyhow::anyhow!("cannot listen on {listen}: {e} (is another gpuboard already running?)")
    })?;
    tracing::info!("dashboard at http://{listen}");
    axum::serve(listener, app).await?;
    Ok(())
}
