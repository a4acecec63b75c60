//! The simulated exporters: published as a DaemonSet's pods, found by label, serving the
//! exporter's own JSON and metrics, and following the pods that hold their GPUs.

use gpuboard_exporter_api::{APP_LABEL, APP_NAME, GPUS_PATH, NodeGpus, PORT_NAME};
use gpuboard_sim::seed::LAB_GPU_NODES;
use gpuboard_testkit::eventually;
use gpuboard_testkit::http::get;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use serde_json::json;

use super::{WAIT, admin_client, start_sim};

async fn exporter_pods(client: &kube::Client) -> Vec<Pod> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), gpuboard_sim::exporters::NAMESPACE);
    pods.list(&ListParams::default().labels(&format!("{APP_LABEL}={APP_NAME}")))
        .await
        .expect("list exporter pods")
        .items
}

/// The address of a node's exporter, found as the dashboard finds it: pod IP and the port named `metrics`.
fn exporter_address(pod: &Pod) -> String {
    let ip = pod
        .status
        .as_ref()
        .and_then(|s| s.pod_ip.clone())
        .expect("pod IP");
    let port = pod.spec.as_ref().expect("spec").containers[0]
        .ports
        .as_ref()
        .and_then(|ports| ports.iter().find(|p| p.name.as_deref() == Some(PORT_NAME)))
        .map(|p| p.container_port)
        .expect("a port named metrics");
    format!("{ip}:{port}")
}

async fn node_gpus(addr: &str) -> Result<NodeGpus, String> {
    let (status, body) = get(addr, GPUS_PATH).await.map_err(|e| e.to_string())?;
    if status != 200 {
        return Err(format!("{status}: {body}"));
    }
    serde_json::from_str(&body).map_err(|e| format!("{e}: {body}"))
}

#[tokio::test]
async fn the_exporters_are_found_by_label_and_follow_the_pods() {
    let sim = start_sim().await;
    let client = admin_client(&sim).await;
    let exporters = exporter_pods(&client).await;
    let mut nodes: Vec<String> = exporters
        .iter()
        .filter_map(|p| p.spec.as_ref()?.node_name.clone())
        .collect();
    nodes.sort();
    assert_eq!(nodes, LAB_GPU_NODES);
    for pod in &exporters {
        let addr = exporter_address(pod);
        assert!(addr.starts_with("127.0."), "{addr}");
        assert_eq!(
            pod.status.as_ref().and_then(|s| s.phase.as_deref()),
            Some("Running")
        );
    }
    let node110 = exporters
        .iter()
        .find(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some("node-110"))
        .expect("node-110's exporter");
    let addr = exporter_address(node110);
    let idle = eventually("node-110's first sample", WAIT, || async {
        let now = node_gpus(&addr).await?;
        if now.gpus.is_empty() {
            Err(format!("{now:?}"))
        } else {
            Ok(now)
        }
    })
    .await;
    assert_eq!(idle.gpus.len(), 1);
    assert_eq!(idle.gpus[0].identity.name, "NVIDIA GeForce GTX 1080 Ti");
    assert_eq!(idle.gpus[0].fields.utilization_percent, Some(0.0));
    let idle_temperature = idle.gpus[0]
        .fields
        .temperature_celsius
        .expect("a temperature");
    let (status, metrics) = get(&addr, "/metrics").await.expect("metrics");
    assert_eq!(status, 200);
    assert!(metrics.contains("DCGM_FI_DEV_GPU_UTIL{gpu=\"0\""));

    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let train: Pod = serde_json::from_value(json!({"metadata": {"name": "train"}, "spec": {
        "nodeSelector": {"kubernetes.io/hostname": "node-110"}, "restartPolicy": "Never",
        "containers": [{"name": "pytorch", "image": "pytorch/pytorch:latest", "command": ["python", "train.py"],
                        "resources": {"limits": {"nvidia.com/gpu": 1}}}]}}))
    .expect("a pod");
    pods.create(&PostParams::default(), &train)
        .await
        .expect("created");
    let busy = eventually(
        "the GPU busy, warmer and attributed to the pod",
        WAIT,
        || async {
            let now = node_gpus(&addr).await?;
            let gpu = &now.gpus[0];
            if gpu.fields.utilization_percent.unwrap_or(0.0) > 80.0
                && !gpu.pods.is_empty()
                && gpu.fields.temperature_celsius > Some(idle_temperature)
            {
                Ok(now)
            } else {
                Err(format!("{gpu:?}"))
            }
        },
    )
    .await;
    let gpu = &busy.gpus[0];
    assert_eq!(
        (
            gpu.pods[0].namespace.as_str(),
            gpu.pods[0].pod.as_str(),
            gpu.pods[0].container.as_str()
        ),
        ("default", "train", "pytorch")
    );
    assert!(gpu.fields.memory_used_bytes.unwrap_or(0) > 1 << 30);
    assert!(gpu.fields.power_watts.unwrap_or(0.0) > 100.0);
    assert_eq!(gpu.processes.len(), 1);
    let (_, metrics) = get(&addr, "/metrics").await.expect("metrics");
    assert!(
        metrics.contains("container=\"pytorch\",namespace=\"default\",pod=\"train\""),
        "{metrics}"
    );

    pods.delete("train", &DeleteParams::default())
        .await
        .expect("deleted");
    eventually("the GPU to rest once the pod is gone", WAIT, || async {
        let now = node_gpus(&addr).await?;
        let gpu = &now.gpus[0];
        if gpu.fields.utilization_percent == Some(0.0) && gpu.pods.is_empty() {
            Ok(())
        } else {
            Err(format!("{gpu:?}"))
        }
    })
    .await;
}

#[tokio::test]
async fn a_deleted_exporter_pod_comes_back_as_a_daemonset_would_bring_it() {
    let sim = start_sim().await;
    let client = admin_client(&sim).await;
    let before = exporter_pods(&client).await;
    let name = before[0].metadata.name.clone().expect("a name");
    let pods: Api<Pod> = Api::namespaced(client.clone(), gpuboard_sim::exporters::NAMESPACE);
    pods.delete(&name, &DeleteParams::default())
        .await
        .expect("deleted");
    eventually("the exporter pod back", WAIT, || async {
        let now = exporter_pods(&client).await;
        if now.len() == before.len() {
            Ok(())
        } else {
            Err(now.len())
        }
    })
    .await;
}

#[tokio::test]
async fn every_pod_the_sim_runs_has_a_loopback_address() {
    let sim = start_sim().await;
    let client = admin_client(&sim).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    for i in 0..3 {
        let pod: Pod =
            serde_json::from_value(json!({"metadata": {"name": format!("web-{i}")}, "spec": {
            "containers": [{"name": "web", "image": "nginx", "command": ["sleep", "infinity"]}]}}))
            .expect("a pod");
        pods.create(&PostParams::default(), &pod)
            .await
            .expect("created");
    }
    eventually("the three pods running with addresses", WAIT, || async {
        let listed = pods
            .list(&ListParams::default())
            .await
            .map_err(|e| e.to_string())?;
        let with_ip = listed
            .items
            .iter()
            .filter(|p| p.status.as_ref().and_then(|s| s.pod_ip.as_ref()).is_some())
            .count();
        if with_ip == 3 {
            Ok(())
        } else {
            Err(format!("{with_ip} with an address"))
        }
    })
    .await;
    let all = Api::<Pod>::all(client)
        .list(&ListParams::default())
        .await
        .expect("every pod");
    let mut ips: Vec<String> = all
        .items
        .iter()
        .filter_map(|p| p.status.as_ref()?.pod_ip.clone())
        .collect();
    assert!(ips.len() >= LAB_GPU_NODES.len() + 3, "{ips:?}");
    for ip in &ips {
        let ip: std::net::IpAddr = ip.parse().expect("an IP");
        assert!(ip.is_loopback(), "{ip}");
    }
    let count = ips.len();
    ips.sort();
    ips.dedup();
    assert_eq!(ips.len(), count, "every pod its own address: {ips:?}");
}
