//! `gpuboard`: the GPU-cluster dashboard. One folder per concern: [`auth`] (sign-in, sessions,
//! the guard), [`cluster`] (kube config, the watch cache, user clients, permissions, GPU
//! accounting), [`telemetry`] (the exporters' GPU samples and their history), [`views`] (what each
//! page shows, for one user), [`bootstrap`] (join tokens and the join command), [`access`]
//! (service accounts and their tokens), [`doctor`] (why a GPU node will not join or offer its
//! GPUs), [`api`] (the JSON API for scripts), [`headers`] (the security headers of every answer),
//! [`app`] (the router that serves it all), [`push`] (the live-update channel), [`transport`]
//! (HTTPS or not), [`retries`] (requests sent twice make one object), [`hex`] (bytes as text). With the `demo` feature,
//! [`demo`] embeds `gpuboard-sim` for `gpuboard serve --demo`.

pub mod access;
pub mod api;
pub mod app;
pub mod auth;
pub mod bootstrap;
pub mod cluster;
#[cfg(feature = "demo")]
pub mod demo;
pub mod doctor;
pub mod headers;
pub mod hex;
pub mod push;
pub mod retries;
pub mod telemetry;
pub mod transport;
pub mod views;
pub mod workloads;

use std::sync::Arc;
use std::time::Duration;

use frontend::backend::SharedBackend;
use leptos::prelude::LeptosOptions;

use app::AppState;
use auth::{Auth, AuthSettings};
use cluster::cache::ClusterCache;
use cluster::clients::UserClients;
use cluster::permissions::Permissions;
use telemetry::discovery::ExporterKind;
use telemetry::{Telemetry, TelemetrySettings};
use views::KubeBackend;

/// How the dashboard runs (the `serve` flags).
#[derive(Debug, Clone)]
pub struct DashboardSettings {
    pub auth: AuthSettings,
    pub telemetry: TelemetrySettings,
    /// The namespace of the exporter DaemonSet (`deploy/`'s is `gpuboard`; dcgm-exporter's where
    /// it is the exporter).
    pub exporter_namespace: String,
    /// How long a user's access review is reused.
    pub permissions_cache_for: Duration,
    /// Answers carry HSTS (behind a TLS ingress with a host name of its own).
    pub hsts: bool,
}

impl Default for DashboardSettings {
    fn default() -> Self {
        DashboardSettings {
            auth: AuthSettings::default(),
            telemetry: TelemetrySettings::default(),
            exporter_namespace: "gpuboard".into(),
            permissions_cache_for: cluster::permissions::DEFAULT_CACHE_FOR,
            hsts: false,
        }
    }
}

/// Why the dashboard could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Cluster(#[from] kube::Error),
    #[error(transparent)]
    Sessions(#[from] tower_sessions::session_store::Error),
    #[error(transparent)]
    Prometheus(#[from] telemetry::prometheus::PrometheusConfigError),
}

/// Starts the dashboard's parts against the cluster of `config` (the server's own identity, which
/// reads; users' clients take its URL and CA with their own tokens): the watch cache, the
/// telemetry collector, and the state the router serves.
pub fn start(
    config: kube::Config,
    settings: &DashboardSettings,
    leptos: LeptosOptions,
) -> Result<AppState, StartError> {
    let client = kube::Client::try_from(config.clone())?;
    let clients = Arc::new(UserClients::new(config.clone()));
    let join_tokens = bootstrap::JoinTokenService::new(clients.clone(), client.clone(), &config);
    let exporters = match &settings.telemetry.source {
        telemetry::GpuSource::Exporters(kind) => kind.selector(),
        telemetry::GpuSource::Prometheus(_) => ExporterKind::Gpuboard.selector(),
    };
    let cache = ClusterCache::start(client.clone(), &settings.exporter_namespace, &exporters);
    let telemetry = Telemetry::start(cache.exporter_pods.clone(), settings.telemetry.clone())?;
    let backend: SharedBackend = Arc::new(KubeBackend {
        cache: cache.clone(),
        telemetry: telemetry.clone(),
        permissions: Permissions::new(clients.clone(), settings.permissions_cache_for),
        join_tokens,
        access: access::AccessService::new(clients.clone()),
        workloads: workloads::WorkloadService::new(clients.clone(), cache, telemetry.clone()),
        client,
        view: Default::default(),
    });
    let auth = Auth::new(clients, settings.auth.clone())?;
    let mut state = AppState::new(leptos, backend, auth, telemetry);
    state.hsts = headers::Hsts(settings.hsts);
    Ok(state)
}
