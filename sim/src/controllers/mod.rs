//! The simulated control plane: one loop that runs every controller in turn on each tick, and
//! the store indexes the controllers look objects up by (a controller's pods, by its uid).

pub mod cluster;
pub mod deployments;
pub mod events;
pub mod jobs;
pub mod kubelet;
pub mod quotas;
pub mod scheduler;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::Sim;
use crate::store::{Indexer, Store, meta_str};

/// Pods filed by the uid of their controller (the owner reference with `controller: true`).
pub static PODS_BY_CONTROLLER: Indexer = Indexer {
    plural: "pods",
    key_of: |pod| controller_of(pod).map(|r| r["uid"].as_str().unwrap_or("").to_string()),
};

/// A pod's controlling owner reference.
pub fn controller_of(pod: &Value) -> Option<&Value> {
    pod["metadata"]["ownerReferences"]
        .as_array()?
        .iter()
        .find(|r| r["controller"] == true && r["uid"].as_str().is_some_and(|u| !u.is_empty()))
}

/// The pods `owner` (a Job or a Deployment) controls, in its namespace.
pub fn owned_pods(store: &Store, owner: &Value) -> Vec<Arc<Value>> {
    let namespace = meta_str(owner, "namespace");
    store
        .list_indexed(&PODS_BY_CONTROLLER, meta_str(owner, "uid"))
        .into_iter()
        .filter(|p| meta_str(p, "namespace") == namespace)
        .collect()
}

/// The indexes the controllers look objects up by; added once, when the store is made.
pub fn add_indexes(store: &mut Store) {
    store.add_index(&events::BY_INVOLVED_UID);
    store.add_index(&PODS_BY_CONTROLLER);
}

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
