//! `gpuboard-sim` from the outside: real kubectl (what the seeds do with kubectl must work),
//! kube-rs (typed clients, the runtime watcher, errors, scale), the simulated exporters, and the
//! Helm chart installed with a real helm.
//! One test binary, so the crate's tests link once.

mod exporters;
mod helm_chart;
mod kube_rs;
mod kubectl;
mod pki;
mod workloads;

use std::time::Duration;

use gpuboard_sim::{SimConfig, SimHandle};

/// How long a test waits for the sim's controllers (they tick every 100 ms) to do something.
const WAIT: Duration = Duration::from_secs(10);

async fn start_sim() -> SimHandle {
    start_sim_with(SimConfig::default()).await
}

async fn start_sim_with(config: SimConfig) -> SimHandle {
    gpuboard_sim::start_temporary(config)
        .await
        .expect("the sim starts")
}

async fn admin_client(sim: &SimHandle) -> kube::Client {
    gpuboard_testkit::client_for(&sim.kubeconfig).await
}
