//! The dashboard's shared watch cache against a started sim: it syncs, watches the exporter's pods
//! by label in their namespace, and follows changes without being asked again; what is made from
//! every pod is kept until they change.

use std::sync::Arc;

use gpuboard::cluster::accounting::asking_for_gpus;
use gpuboard::cluster::cache::{ClusterCache, FromPods};
use gpuboard::telemetry::discovery::ExporterKind;
use gpuboard_sim::SimHandle;
use gpuboard_sim::seed::{LAB_GPU_NODES, seed_lab};
use gpuboard_testkit::eventually;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

use super::{WAIT, start_sim};

/// A client of `sim` and the dashboard's cache over it.
async fn cache_over(sim: &SimHandle) -> (kube::Client, ClusterCache) {
    let client = gpuboard_testkit::client_for(&sim.kubeconfig).await;
    let cache = ClusterCache::start(
        client.clone(),
        gpuboard_sim::exporters::NAMESPACE,
        &ExporterKind::Gpuboard.selector(),
    );
    (client, cache)
}

#[tokio::test]
async fn the_cache_syncs_and_follows_changes() {
    let sim = start_sim().await;
    let (client, cache) = cache_over(&sim).await;
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

#[tokio::test]
async fn what_is_made_from_every_pod_is_kept_until_the_pods_change() {
    let sim = start_sim().await;
    let (client, cache) = cache_over(&sim).await;
    let gpu_pods = FromPods::new(asking_for_gpus);
    let names = |pods: &[Arc<Pod>]| -> Vec<String> {
        pods.iter()
            .filter_map(|p| p.metadata.name.clone())
            .collect()
    };
    // The sim's pods settle after the first list; two reads between which none changed
    // must share the value.
    let first = eventually("two reads with no pod changed between", WAIT, || async {
        let before = cache.pods_generation();
        let first = gpu_pods.get(&cache).await.map_err(|e| e.to_string())?;
        let again = gpu_pods.get(&cache).await.map_err(|e| e.to_string())?;
        if cache.pods_generation() != before {
            return Err("the pods changed meanwhile".to_string());
        }
        assert!(
            Arc::ptr_eq(&first, &again),
            "unchanged pods: the value kept"
        );
        Ok(first)
    })
    .await;
    assert!(!names(&first).contains(&"trainer".to_string()));
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "trainer", "namespace": "default"},
        "spec": {"containers": [{"name": "main", "image": "cuda",
            "resources": {"limits": {"nvidia.com/gpu": "1"}}}]}
    }))
    .expect("a pod");
    let idle: Pod = serde_json::from_value(json!({
        "metadata": {"name": "idle", "namespace": "default"},
        "spec": {"containers": [{"name": "main", "image": "busybox"}]}
    }))
    .expect("a pod");
    // The idle pod first: once the watch has delivered the trainer, it has delivered the idle
    // pod too, so its absence below is the rule's doing.
    let pods: Api<Pod> = Api::namespaced(client, "default");
    for pod in [&idle, &pod] {
        pods.create(&PostParams::default(), pod)
            .await
            .expect("created");
    }
    let now = eventually(
        "the pod asking for a GPU to be among them",
        WAIT,
        || async {
            let now = gpu_pods.get(&cache).await.map_err(|e| e.to_string())?;
            match names(&now).contains(&"trainer".to_string()) {
                true => Ok(now),
                false => Err(format!("not yet: {:?}", names(&now))),
            }
        },
    )
    .await;
    let cached = cache.pods().await.expect("synced");
    assert!(
        names(&cached).contains(&"idle".to_string()),
        "the idle pod is in the cache"
    );
    assert!(
        !names(&now).contains(&"idle".to_string()),
        "a pod asking for no GPU is not among them"
    );
}
