//! The dashboard's shared watch cache against a started sim: it syncs, watches the exporter's pods
//! by label in their namespace, and follows changes without being asked again.

use gpuboard::cluster::cache::ClusterCache;
use gpuboard::telemetry::discovery::ExporterKind;
use gpuboard_sim::seed::{LAB_GPU_NODES, seed_lab};
use gpuboard_testkit::eventually;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use super::{WAIT, start_sim};

#[tokio::test]
async fn the_cache_syncs_and_follows_changes() {
    let sim = start_sim().await;
    let client = gpuboard_testkit::client_for(&sim.kubeconfig).await;
    let cache = ClusterCache::start(
        client.clone(),
        gpuboard_sim::exporters::NAMESPACE,
        &ExporterKind::Gpuboard.selector(),
    );
    assert_eq!(cache.nodes().await.expect("synced").len(), seed_lab().len());
    cache
        .exporter_pods
        .wait_until_ready()
        .await
        .expect("synced");
    assert_eq!(cache.exporter_pods.state().len(), LAB_GPU_NODES.len());
    let nodes: Api<Node> = Api::all(client);
    nodes
        .patch(
            "node-109",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"unschedulable": true}})),
        )
        .await
        .expect("cordoned");
    eventually("the watch to deliver the cordon", WAIT, || async {
        let node = cache
            .node("node-109")
            .await
            .map_err(|e| e.to_string())?
            .ok_or("no node-109")?;
        match node.spec.as_ref().and_then(|s| s.unschedulable) {
            Some(true) => Ok(()),
            other => Err(format!("unschedulable: {other:?}")),
        }
    })
    .await;
    let stored = cache
        .node("node-109")
        .await
        .expect("synced")
        .expect("there");
    assert!(
        stored.metadata.managed_fields.is_none() && stored.metadata.annotations.is_none(),
        "the cache keeps only what the pages read"
    );
}
