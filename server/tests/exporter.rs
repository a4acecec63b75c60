//! `gpuboard exporter` from the outside: start-up without NVML, pod attribution over a real gRPC
//! unix socket (with an answer above gRPC's 4 MiB default), the sim's exporters following its pods,
//! and, on a machine with an NVIDIA GPU, the real NVML readings.

mod common;

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::pin::Pin;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use frontend::gpu_api::NodeGpus;
use gpuboard::exporter::attribution::{AttributionError, PodResourcesLister};
use gpuboard::exporter::collector::Collector;
use gpuboard::exporter::nvml_source::NvmlSource;
use gpuboard::exporter::pod_resources::{
    ContainerDevices, ContainerResources, KubeletPodResources, ListPodResourcesRequest,
    ListPodResourcesResponse, PodResources,
};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use serde_json::json;

use common::{admin_client, start_sim};

/// A plain HTTP/1.0 GET; returns (status, body).
async fn http_get(addr: &str, path: &str) -> std::io::Result<(u16, String)> {
    let reply = common::http::try_request(addr, "GET", path, &[], "").await?;
    Ok((reply.status, reply.body))
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

#[tokio::test]
async fn without_nvml_the_exporter_starts_says_why_and_keeps_running() {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let child = Command::new(env!("CARGO_BIN_EXE_gpuboard"))
        .args([
            "exporter",
            "--listen",
            &addr,
            "--node-name",
            "no-gpu-node",
            "--nvml-lib",
            "/nonexistent/libnvidia-ml.so.1",
        ])
        .args(["--kubelet-socket", "/nonexistent/kubelet.sock"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the exporter starts");
    let mut child = KillOnDrop(child);
    let mut healthy = false;
    for _ in 0..100 {
        if let Ok((200, _)) = http_get(&addr, "/healthz").await {
            healthy = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(healthy, "/healthz answers");
    let (status, body) = http_get(&addr, "/readyz").await.unwrap();
    assert_eq!(status, 503);
    assert!(
        body.contains("NVIDIA driver") && body.contains("NVIDIA_VISIBLE_DEVICES"),
        "{body}"
    );
    let (status, metrics) = http_get(&addr, "/metrics").await.unwrap();
    assert_eq!(status, 200);
    assert!(
        metrics.contains(
            "gpuboard_exporter_gpu_data_available{reason=\"NVML could not be initialised"
        ),
        "{metrics}"
    );
    assert!(!metrics.contains("DCGM_FI_DEV_GPU_UTIL"));
    let (_, json) = http_get(&addr, "/api/v1/gpus").await.unwrap();
    let gpus: NodeGpus = serde_json::from_str(&json).expect("typed JSON");
    assert_eq!(gpus.node, "no-gpu-node");
    assert!(gpus.unavailable.is_some() && gpus.gpus.is_empty());
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        child.0.try_wait().unwrap().is_none(),
        "no crash loop: the process is still running"
    );
    child.0.kill().unwrap();
    let mut log = String::new();
    use std::io::Read;
    child
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    assert!(
        log.contains("runtimeClassName"),
        "the log says what to check: {log}"
    );
}

/// A fake kubelet answering `List` with a fixed response, as tonic's generated code would.
#[derive(Clone)]
struct FakeKubelet(Arc<ListPodResourcesResponse>);

impl tonic::server::NamedService for FakeKubelet {
    const NAME: &'static str = "v1.PodResourcesLister";
}

struct ListHandler(Arc<ListPodResourcesResponse>);

impl tonic::server::UnaryService<ListPodResourcesRequest> for ListHandler {
    type Response = ListPodResourcesResponse;
    type Future = Ready<Result<tonic::Response<ListPodResourcesResponse>, tonic::Status>>;
    fn call(&mut self, _request: tonic::Request<ListPodResourcesRequest>) -> Self::Future {
        ready(Ok(tonic::Response::new((*self.0).clone())))
    }
}

type BoxFuture<T> = Pin<Box<dyn std::future::Future<Output = T> + Send>>;

impl tower::Service<http::Request<tonic::body::Body>> for FakeKubelet {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let response = self.0.clone();
        Box::pin(async move {
            if request.uri().path() != gpuboard::exporter::pod_resources::LIST_PATH {
                return Ok(tonic::Status::unimplemented("only List").into_http());
            }
            let codec = tonic_prost::ProstCodec::<ListPodResourcesResponse, ListPodResourcesRequest>::default();
            let mut grpc = tonic::server::Grpc::new(codec).max_encoding_message_size(usize::MAX);
            Ok(grpc.unary(ListHandler(response), request).await)
        })
    }
}

fn devices(resource: &str, ids: &[&str]) -> ContainerDevices {
    ContainerDevices {
        resource_name: resource.into(),
        device_ids: ids.iter().map(|s| s.to_string()).collect(),
    }
}

#[tokio::test]
async fn attribution_comes_over_the_kubelet_socket_even_when_the_answer_is_large() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("kubelet.sock");
    let missing = KubeletPodResources::new(socket.clone());
    assert!(matches!(
        missing.list().await,
        Err(AttributionError::NoSocket(_))
    ));

    let mut pods = vec![PodResources {
        name: "train".into(),
        namespace: "team-a".into(),
        containers: vec![ContainerResources {
            name: "main".into(),
            devices: vec![
                devices("nvidia.com/gpu", &["GPU-aaaa::0", "GPU-bbbb::0"]),
                devices("example.com/nic", &["eth1"]),
            ],
        }],
    }];
    // Thousands of pods without devices push the answer past gRPC's 4 MiB default (dcgm-exporter#509).
    for i in 0..40_000 {
        pods.push(PodResources {
            name: format!("batch-pod-with-a-long-generated-name-{i:06}-abcdefghijklmnopqrstuvwxyz"),
            namespace: "a-namespace-with-a-fairly-long-name-too".into(),
            containers: vec![ContainerResources {
                name: "worker-container-name".into(),
                devices: vec![],
            }],
        });
    }
    let response = ListPodResourcesResponse {
        pod_resources: pods,
    };
    assert!(prost::Message::encoded_len(&response) > 4 * 1024 * 1024);
    let listener = tokio::net::UnixListener::bind(&socket).unwrap();
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(FakeKubelet(Arc::new(response)))
            .serve_with_incoming(tokio_stream::wrappers::UnixListenerStream::new(listener)),
    );
    let client = KubeletPodResources::new(socket);
    let listed = client.list().await.expect("List over the socket");
    assert_eq!(
        listed.len(),
        2,
        "one entry per container and resource: {:?}",
        &listed[..2.min(listed.len())]
    );
    assert_eq!(listed[0].pod, "train");
    assert_eq!(listed[0].device_ids, ["GPU-aaaa::0", "GPU-bbbb::0"]);
    // The same long-lived channel answers again.
    assert_eq!(client.list().await.expect("second List").len(), 2);
    server.abort();
}

async fn exporter_pods(client: &kube::Client) -> Vec<Pod> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), "gpuboard");
    pods.list(&ListParams::default().labels("app.kubernetes.io/name=gpuboard-exporter"))
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
    let port = pod.spec.as_ref().unwrap().containers[0]
        .ports
        .as_ref()
        .and_then(|ports| ports.iter().find(|p| p.name.as_deref() == Some("metrics")))
        .map(|p| p.container_port)
        .expect("a port named metrics");
    format!("{ip}:{port}")
}

async fn node_gpus(addr: &str) -> NodeGpus {
    let (status, body) = http_get(addr, "/api/v1/gpus")
        .await
        .expect("exporter answers");
    assert_eq!(status, 200);
    serde_json::from_str(&body).expect("typed JSON")
}

#[tokio::test]
async fn the_sims_exporters_are_found_by_label_and_follow_the_pods() {
    let (sim, _dir) = start_sim().await;
    let client = admin_client(&sim).await;
    let exporters = exporter_pods(&client).await;
    let mut nodes: Vec<String> = exporters
        .iter()
        .filter_map(|p| p.spec.as_ref()?.node_name.clone())
        .collect();
    nodes.sort();
    assert_eq!(nodes, common::SEED_GPU_NODES);
    for pod in &exporters {
        let addr = exporter_address(pod);
        assert!(addr.starts_with("127.0."), "{addr}");
        assert_eq!(
            pod.status.as_ref().unwrap().phase.as_deref(),
            Some("Running")
        );
    }
    let node110 = exporters
        .iter()
        .find(|p| p.spec.as_ref().unwrap().node_name.as_deref() == Some("node-110"))
        .unwrap();
    let addr = exporter_address(node110);
    let mut idle = node_gpus(&addr).await;
    for _ in 0..30 {
        if !idle.gpus.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        idle = node_gpus(&addr).await;
    }
    assert_eq!(idle.gpus.len(), 1);
    assert_eq!(idle.gpus[0].identity.name, "NVIDIA GeForce GTX 1080 Ti");
    assert_eq!(idle.gpus[0].fields.utilization_percent, Some(0.0));
    let idle_temperature = idle.gpus[0].fields.temperature_celsius.unwrap();
    let (status, metrics) = http_get(&addr, "/metrics").await.unwrap();
    assert_eq!(status, 200);
    assert!(metrics.contains("DCGM_FI_DEV_GPU_UTIL{gpu=\"0\""));

    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let train: Pod = serde_json::from_value(json!({"metadata": {"name": "train"}, "spec": {
        "nodeSelector": {"kubernetes.io/hostname": "node-110"}, "restartPolicy": "Never",
        "containers": [{"name": "pytorch", "image": "pytorch/pytorch:latest", "command": ["python", "train.py"],
                        "resources": {"limits": {"nvidia.com/gpu": 1}}}]}}))
    .unwrap();
    pods.create(&PostParams::default(), &train).await.unwrap();
    let mut busy = None;
    for _ in 0..100 {
        let now = node_gpus(&addr).await;
        let gpu = &now.gpus[0];
        if gpu.fields.utilization_percent.unwrap_or(0.0) > 80.0
            && !gpu.pods.is_empty()
            && gpu.fields.temperature_celsius > Some(idle_temperature)
        {
            busy = Some(now);
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let busy = busy.expect("the GPU gets busy, warmer, and attributed to the pod");
    let gpu = &busy.gpus[0];
    assert_eq!(
        (
            gpu.pods[0].namespace.as_str(),
            gpu.pods[0].pod.as_str(),
            gpu.pods[0].container.as_str()
        ),
        ("default", "train", "pytorch")
    );
    assert!(gpu.fields.memory_used_bytes.unwrap() > 1 << 30);
    assert!(gpu.fields.power_watts.unwrap() > 100.0);
    assert_eq!(gpu.processes.len(), 1);
    let (_, metrics) = http_get(&addr, "/metrics").await.unwrap();
    assert!(
        metrics.contains("container=\"pytorch\",namespace=\"default\",pod=\"train\""),
        "{metrics}"
    );

    pods.delete("train", &DeleteParams::default())
        .await
        .unwrap();
    let mut rested = false;
    for _ in 0..50 {
        let now = node_gpus(&addr).await;
        if now.gpus[0].fields.utilization_percent == Some(0.0) && now.gpus[0].pods.is_empty() {
            rested = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(rested, "the GPU rests once the pod is gone");
}

#[tokio::test]
async fn a_deleted_exporter_pod_comes_back_as_a_daemonset_would_bring_it() {
    let (sim, _dir) = start_sim().await;
    let client = admin_client(&sim).await;
    let before = exporter_pods(&client).await;
    let name = before[0].metadata.name.clone().unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "gpuboard");
    pods.delete(&name, &DeleteParams::default()).await.unwrap();
    let mut back = false;
    for _ in 0..100 {
        if exporter_pods(&client).await.len() == before.len() {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(back);
}

/// Runs on a machine with an NVIDIA GPU and its driver; elsewhere it says so and skips.
#[test]
fn nvml_reads_the_real_gpus_when_there_are_some() {
    let lib = std::env::var_os("GPUBOARD_NVML_LIB");
    let collector = Collector::new("this-node", Arc::new(NvmlSource::new(lib)));
    collector.collect_fast();
    let snapshot = collector.snapshot();
    if let Some(why) = &snapshot.gpus.unavailable {
        eprintln!(
            "SKIPPED nvml_reads_the_real_gpus_when_there_are_some: no NVIDIA GPU here ({why})"
        );
        return;
    }
    collector.collect_slow();
    collector.collect_fast();
    let snapshot = collector.snapshot();
    assert_eq!(snapshot.ready, Ok(()));
    assert!(snapshot.gpus.driver_version.is_some());
    for gpu in &snapshot.gpus.gpus {
        assert!(gpu.identity.uuid.starts_with("GPU-"), "{:?}", gpu.identity);
        assert!(gpu.identity.memory_total_bytes > 0);
        let f = &gpu.fields;
        assert!(
            f.utilization_percent
                .is_some_and(|u| (0.0..=100.0).contains(&u))
        );
        assert!(
            f.temperature_celsius
                .is_some_and(|t| (5.0..=110.0).contains(&t))
        );
        assert!(
            f.memory_used_bytes
                .is_some_and(|u| u <= gpu.identity.memory_total_bytes)
        );
    }
    let text = String::from_utf8_lossy(&snapshot.text()).to_string();
    assert!(text.contains("DCGM_FI_DEV_GPU_TEMP{gpu=\"0\""));
}
