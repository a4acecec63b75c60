//! The dashboard's telemetry collector against the sim's exporters: discovery of the DaemonSet's
//! pods, a cycle over every exporter, history per GPU, and a failing exporter marked stale with
//! its last sample kept.

use std::time::Duration;

use frontend::contract::ExporterError;
use gpuboard::cluster::cache::ClusterCache;
use gpuboard::telemetry::discovery::exporter_targets;
use gpuboard::telemetry::{Telemetry, TelemetrySettings};
use gpuboard_sim::seed::LAB_GPU_NODES;
use gpuboard_testkit::eventually;

use super::{WAIT, start_sim};

#[tokio::test]
async fn a_cycle_reads_every_exporter_and_a_failing_one_goes_stale_not_zero() {
    let sim = start_sim().await;
    let client = gpuboard_testkit::client_for(&sim.kubeconfig).await;
    let cache = ClusterCache::start(client, gpuboard_sim::exporters::NAMESPACE);
    cache
        .exporter_pods
        .wait_until_ready()
        .await
        .expect("synced");
    let targets = exporter_targets(&cache.exporter_pods.state());
    let nodes: Vec<&str> = targets.iter().map(|t| t.node.as_str()).collect();
    assert_eq!(nodes, LAB_GPU_NODES);
    assert!(
        targets
            .iter()
            .all(|t| t.url.starts_with("http://127.0.") && t.url.ends_with("/api/v1/gpus"))
    );

    let telemetry = Telemetry::default();
    let settings = TelemetrySettings {
        timeout: Duration::from_secs(2),
        ..Default::default()
    };
    // The exporters publish their first sample within their first interval.
    eventually("every exporter's first sample", WAIT, || async {
        let answered = telemetry.cycle_once(&targets, &settings).await;
        let with_gpus = telemetry
            .snapshot()
            .values()
            .filter(|n| n.last_good.as_ref().is_some_and(|g| g.gpus.len() == 1))
            .count();
        if answered == LAB_GPU_NODES.len() && with_gpus == LAB_GPU_NODES.len() {
            Ok(())
        } else {
            Err(format!("{answered} answered, {with_gpus} with a GPU"))
        }
    })
    .await;
    let node110 = telemetry.node("node-110").expect("node-110");
    let gpu = &node110.last_good.as_ref().expect("an answer").gpus[0];
    assert_eq!(gpu.identity.name, "NVIDIA GeForce GTX 1080 Ti");
    assert!(!node110.is_stale());
    assert!(!telemetry.history(&gpu.identity.uuid).is_empty());

    // node-110's exporter stops answering: stale, with the last good sample and its time kept.
    let mut broken = targets.clone();
    for t in broken.iter_mut().filter(|t| t.node == "node-110") {
        t.url = "http://127.0.0.1:1/api/v1/gpus".into();
    }
    assert_eq!(
        telemetry.cycle_once(&broken, &settings).await,
        LAB_GPU_NODES.len() - 1
    );
    let stale = telemetry.node("node-110").expect("still known");
    assert!(stale.is_stale());
    assert!(
        matches!(stale.error, Some(ExporterError::Unreachable(_))),
        "{:?}",
        stale.error
    );
    assert_eq!(stale.last_good_at_ms, node110.last_good_at_ms);
    assert_eq!(
        stale.last_good.expect("kept").gpus[0].identity.uuid,
        gpu.identity.uuid
    );

    // An exporter that answers for another node is not believed.
    let mut swapped = targets.clone();
    let node109 = swapped
        .iter()
        .position(|t| t.node == "node-109")
        .expect("node-109");
    let node106 = swapped
        .iter()
        .position(|t| t.node == "node-106")
        .expect("node-106");
    swapped[node109].url = targets[node106].url.clone();
    telemetry.cycle_once(&swapped, &settings).await;
    assert_eq!(
        telemetry.node("node-109").expect("known").error,
        Some(ExporterError::WrongNode("node-106".into()))
    );

    // An exporter pod that goes away takes its node out of telemetry.
    let fewer: Vec<_> = targets
        .iter()
        .filter(|t| t.node != "node-105")
        .cloned()
        .collect();
    telemetry.cycle_once(&fewer, &settings).await;
    assert!(telemetry.node("node-105").is_none());
}
