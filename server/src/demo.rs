//! `gpuboard serve --demo`: the dashboard on an embedded simulated cluster (`gpuboard-sim`, the
//! seeds' lab), which writes its kubeconfig and tokens into a state directory and prints how to
//! sign in. Only with the `demo` feature: the product image carries no sim.

use std::path::PathBuf;
use std::time::Duration;

use gpuboard_sim::exporters::SimExporterConfig;
use gpuboard_sim::{SimConfig, SimHandle};

/// Where and how the embedded cluster runs.
#[derive(Debug, Clone)]
pub struct DemoSettings {
    pub state_dir: PathBuf,
    /// The simulated exporters' port on their loopback addresses; 0 picks free ports.
    pub exporter_port: u16,
}

#[derive(Debug, thiserror::Error)]
/// Why the demo could not start.
pub enum DemoError {
    #[error("the simulated cluster did not start: {0}")]
    Sim(#[from] gpuboard_sim::SimError),
    #[error("the simulated cluster's kubeconfig: {0}")]
    Config(#[from] crate::cluster::ClusterError),
}

/// Starts the simulated cluster and returns it with the config the dashboard uses for it.
pub async fn start(settings: &DemoSettings) -> Result<(SimHandle, kube::Config), DemoError> {
    let handle = gpuboard_sim::start(SimConfig {
        state_dir: settings.state_dir.clone(),
        exporters: Some(SimExporterConfig {
            port: settings.exporter_port,
            interval: Duration::from_secs(1),
        }),
        ..Default::default()
    })
    .await?;
    let config = crate::cluster::load_config(Some(&handle.kubeconfig)).await?;
    Ok((handle, config))
}
