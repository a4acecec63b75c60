//! The simulated control plane: one loop that runs every controller in turn on each tick.

pub mod cluster;
pub mod deployments;
pub mod events;
pub mod jobs;
pub mod kubelet;
pub mod quotas;
pub mod scheduler;

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Sim;

/// Runs the controllers until the sim is dropped.
pub async fn run(sim: Arc<Sim>, tick: Duration) {
    let mut scheduler = scheduler::Scheduler::default();
    let mut kubelets = kubelet::Kubelets::default();
    let mut last_expiry = Instant::now();
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        {
            let mut store = sim.lock_store();
            cluster::namespaces(&mut store, &sim.ca);
            cluster::node_lifecycle(&mut store);
            cluster::node_leases(&mut store, &sim.hardware);
            cluster::garbage_collect(&mut store);
            jobs::run(&mut store);
            deployments::run(&mut store);
            quotas::run(&mut store);
            scheduler.run(&mut store);
            cluster::token_cleaner(&mut store);
            cluster::bootstrap_signer(&mut store);
            if last_expiry.elapsed() >= Duration::from_secs(10) {
                events::expire(&mut store, 3600);
                last_expiry = Instant::now();
            }
        }
        kubelets.run(&sim);
    }
}
