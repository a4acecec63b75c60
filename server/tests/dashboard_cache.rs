//! The dashboard's shared watch cache against a started sim: it syncs, and follows changes
//! without being asked again.

mod common;

use std::time::Duration;

use gpuboard::cluster::cache::ClusterCache;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use common::{admin_client, eventually, start_sim};

#[tokio::test]
async fn the_cache_syncs_and_follows_changes() {
    let (sim, _dir) = start_sim().await;
    let client = admin_client(&sim).await;
    let cache = ClusterCache::start(client.clone());
    assert_eq!(cache.nodes().await.expect("synced").len(), 6);
    let exporter_pods = cache
        .pods()
        .await
        .expect("synced")
        .iter()
        .filter(|p| {
            p.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("app.kubernetes.io/name"))
                .map(String::as_str)
                == Some("gpuboard-exporter")
        })
        .count();
    assert_eq!(exporter_pods, 5);
    let nodes: Api<Node> = Api::all(client);
    nodes
        .patch(
            "node-109",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"unschedulable": true}})),
        )
        .await
        .unwrap();
    let store = cache.nodes.clone();
    let cordoned = eventually(Duration::from_secs(10), || {
        store.state().iter().any(|n| {
            n.metadata.name.as_deref() == Some("node-109")
                && n.spec.as_ref().and_then(|s| s.unschedulable) == Some(true)
        })
    })
    .await;
    assert!(cordoned, "the watch delivered the change");
}
