//! `gpuboard-exporter` from the outside: start-up without NVML, pod attribution over a real gRPC
//! unix socket (with an answer above gRPC's 4 MiB default), and, on a machine with an NVIDIA GPU
//! (run by `scripts/gpu-check.sh`), the real NVML readings.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::pin::Pin;
use std::process::Command;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use gpuboard_exporter::attribution::{AttributionError, PodResourcesLister};
use gpuboard_exporter::collector::Collector;
use gpuboard_exporter::metrics::{Format, render};
use gpuboard_exporter::nvml_source::NvmlSource;
use gpuboard_exporter::pod_resources::{
    ContainerDevices, ContainerResources, KubeletPodResources, LIST_PATH, ListPodResourcesRequest,
    ListPodResourcesResponse, PodResources,
};
use gpuboard_exporter_api::NodeGpus;
use gpuboard_testkit::eventually;
use gpuboard_testkit::http::get;
use gpuboard_testkit::process::Process;

/// The value of an unlabelled sample in a Prometheus text exposition.
fn sample(metrics: &str, name: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn without_nvml_the_exporter_starts_says_why_and_keeps_running() {
    let mut exporter = Process::spawn(
        Command::new(env!("CARGO_BIN_EXE_gpuboard-exporter"))
            .args(["--listen", "127.0.0.1:0", "--node-name", "no-gpu-node"])
            .args(["--nvml-lib", "/nonexistent/libnvidia-ml.so.1"])
            .args(["--kubelet-socket", "/nonexistent/kubelet.sock"]),
    );
    let addr = exporter.listening_address().await.to_string();
    let (status, body) = get(&addr, "/healthz").await.expect("it answers");
    assert_eq!((status, body.as_str()), (200, "ok"));
    let (status, body) = get(&addr, "/readyz").await.unwrap();
    assert_eq!(status, 503);
    assert!(
        body.contains("NVIDIA driver") && body.contains("NVIDIA_VISIBLE_DEVICES"),
        "{body}"
    );
    let (status, metrics) = get(&addr, "/metrics").await.unwrap();
    assert_eq!(status, 200);
    assert!(
        metrics.contains(
            "gpuboard_exporter_gpu_data_available{reason=\"NVML could not be initialised"
        ),
        "{metrics}"
    );
    assert!(!metrics.contains("DCGM_FI_DEV_GPU_UTIL"));
    let (_, json) = get(&addr, "/api/v1/gpus").await.unwrap();
    let gpus: NodeGpus = serde_json::from_str(&json).expect("typed JSON");
    assert_eq!(gpus.node, "no-gpu-node");
    assert!(gpus.unavailable.is_some() && gpus.gpus.is_empty());

    // It tries NVML again after a back-off (each try is stamped) instead of crash-looping.
    let first = sample(&metrics, "gpuboard_exporter_last_collect_timestamp_seconds");
    eventually("a second try at NVML", Duration::from_secs(10), || {
        let addr = addr.clone();
        async move {
            let (_, now) = get(&addr, "/metrics").await.map_err(|e| e.to_string())?;
            let now = sample(&now, "gpuboard_exporter_last_collect_timestamp_seconds");
            if now > first {
                Ok(())
            } else {
                Err(format!("{now:?}"))
            }
        }
    })
    .await;
    assert!(exporter.is_running(), "no crash loop: the process runs on");
    let log = exporter.stop();
    assert!(
        log.contains("runtimeClassName"),
        "the log says what to check: {log}"
    );
}

#[tokio::test]
async fn with_pod_attribution_off_no_pod_names_are_served() {
    let mut exporter = Process::spawn(
        Command::new(env!("CARGO_BIN_EXE_gpuboard-exporter"))
            .args(["--listen", "127.0.0.1:0", "--node-name", "private-node"])
            .args(["--nvml-lib", "/nonexistent/libnvidia-ml.so.1"])
            .arg("--no-pod-attribution"),
    );
    let addr = exporter.listening_address().await.to_string();
    let (_, json) = get(&addr, "/api/v1/gpus").await.expect("it answers");
    let gpus: NodeGpus = serde_json::from_str(&json).expect("typed JSON");
    assert_eq!(gpus.attribution, gpuboard_exporter_api::Attribution::Off);
    assert!(json.contains("\"state\":\"off\""), "{json}");
    let (_, metrics) = get(&addr, "/metrics").await.expect("it answers");
    assert!(
        metrics.contains("gpuboard_exporter_attribution_up{state=\"off\"} 0"),
        "{metrics}"
    );
    exporter.stop();
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
            if request.uri().path() != LIST_PATH {
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

#[test]
#[ignore = "needs an NVIDIA GPU and its driver: run by scripts/gpu-check.sh on a GPU machine"]
fn nvml_reads_the_real_gpus() {
    let lib = std::env::var_os("GPUBOARD_NVML_LIB");
    let collector = Collector::new("this-node", Arc::new(NvmlSource::new(lib)));
    collector.collect_fast();
    collector.collect_slow();
    collector.collect_fast();
    let snapshot = collector.snapshot();
    assert_eq!(snapshot.gpus.unavailable, None, "NVML answers");
    assert_eq!(snapshot.ready, Ok(()));
    assert!(!snapshot.gpus.gpus.is_empty(), "at least one GPU");
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
        assert!(gpu.field_errors.is_empty(), "{:?}", gpu.field_errors);
    }
    let text = render(&snapshot, Format::Prometheus);
    assert!(text.contains("DCGM_FI_DEV_GPU_TEMP{gpu=\"0\""));
}
