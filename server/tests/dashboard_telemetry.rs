//! The dashboard's telemetry collector against the sim's exporters: discovery by label, a cycle
//! over every exporter, history per GPU, and a failing exporter marked stale with its last sample kept.

mod common;

use std::time::Duration;

use gpuboard::cluster::cache::ClusterCache;
use gpuboard::telemetry::{Telemetry, TelemetrySettings, exporter_targets};

use common::{admin_client, start_sim};

#[tokio::test]
async fn a_cycle_reads_every_exporter_and_a_failing_one_goes_stale_not_zero() {
    let (sim, _dir) = start_sim().await;
    let cache = ClusterCache::start(admin_client(&sim).await);
    let targets = exporter_targets(&cache.pods().await.expect("synced"));
    let nodes: Vec<&str> = targets.iter().map(|t| t.node.as_str()).collect();
    assert_eq!(nodes, common::SEED_GPU_NODES);
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
    let mut answered_with_gpus = false;
    for _ in 0..30 {
        assert_eq!(telemetry.cycle_once(&targets, &settings).await, 5);
        if telemetry
            .nodes()
            .values()
            .all(|n| n.last_good.as_ref().is_some_and(|g| g.gpus.len() == 1))
        {
            answered_with_gpus = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(answered_with_gpus);
    let node110 = telemetry.nodes().remove("node-110").unwrap();
    let gpu = &node110.last_good.as_ref().unwrap().gpus[0];
    assert_eq!(gpu.identity.name, "NVIDIA GeForce GTX 1080 Ti");
    assert!(!node110.is_stale());
    assert!(!telemetry.history(&gpu.identity.uuid).is_empty());

    // node-110's exporter stops answering: stale, with the last good sample and its time kept.
    let mut broken = targets.clone();
    for t in broken.iter_mut().filter(|t| t.node == "node-110") {
        t.url = "http://127.0.0.1:1/api/v1/gpus".into();
    }
    assert_eq!(telemetry.cycle_once(&broken, &settings).await, 4);
    let stale = telemetry.nodes().remove("node-110").unwrap();
    assert!(stale.is_stale());
    assert!(
        stale
            .error
            .as_deref()
            .unwrap()
            .contains("cannot reach the exporter")
    );
    assert_eq!(stale.last_good_at_ms, node110.last_good_at_ms);
    assert_eq!(
        stale.last_good.unwrap().gpus[0].identity.uuid,
        gpu.identity.uuid
    );

    // An exporter pod that goes away takes its node out of telemetry.
    let fewer: Vec<_> = targets
        .iter()
        .filter(|t| t.node != "node-105")
        .cloned()
        .collect();
    telemetry.cycle_once(&fewer, &settings).await;
    assert!(!telemetry.nodes().contains_key("node-105"));
}
