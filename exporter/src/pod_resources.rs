//! The kubelet's pod-resources gRPC API (`v1.PodResourcesLister/List`) over its unix socket: one
//! long-lived, lazily (re)connecting channel with a raised message size limit. The messages are
//! declared here with prost (only the fields we read; prost skips the rest), so no protoc is needed.

use std::path::PathBuf;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use tonic::transport::{Channel, Endpoint, Uri};

use crate::attribution::{AttributionError, PodDevices, PodResourcesLister};

/// The kubelet answers with every pod on the node; large nodes exceed tonic's 4 MiB default.
const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// The gRPC method the exporter calls.
pub const LIST_PATH: &str = "/v1.PodResourcesLister/List";

#[derive(Clone, PartialEq, prost::Message)]
pub struct ListPodResourcesRequest {}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ListPodResourcesResponse {
    #[prost(message, repeated, tag = "1")]
    pub pod_resources: Vec<PodResources>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct PodResources {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub namespace: String,
    #[prost(message, repeated, tag = "3")]
    pub containers: Vec<ContainerResources>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ContainerResources {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(message, repeated, tag = "2")]
    pub devices: Vec<ContainerDevices>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct ContainerDevices {
    #[prost(string, tag = "1")]
    pub resource_name: String,
    #[prost(string, repeated, tag = "2")]
    pub device_ids: Vec<String>,
}

/// Flattens the kubelet's answer into one entry per container and resource.
pub fn flatten(response: ListPodResourcesResponse) -> Vec<PodDevices> {
    let mut out = Vec::new();
    for pod in response.pod_resources {
        for container in pod.containers {
            for devices in container.devices {
                out.push(PodDevices {
                    namespace: pod.namespace.clone(),
                    pod: pod.name.clone(),
                    container: container.name.clone(),
                    resource_name: devices.resource_name,
                    device_ids: devices.device_ids,
                });
            }
        }
    }
    out
}

/// A client of the kubelet socket at a path.
pub struct KubeletPodResources {
    socket: PathBuf,
    channel: Channel,
}

impl KubeletPodResources {
    /// Makes the channel; it connects on first use and again after the kubelet restarts.
    pub fn new(socket: PathBuf) -> Self {
        let path = socket.clone();
        let connector = tower::service_fn(move |_: Uri| {
            let path = path.clone();
            async move {
                let stream = tokio::net::UnixStream::connect(path).await?;
                Ok::<_, std::io::Error>(TokioIo::new(stream))
            }
        });
        // The URI is required by the API and ignored by the connector.
        let channel = Endpoint::from_static("http://kubelet.local")
            .connect_timeout(Duration::from_secs(2))
            .timeout(CALL_TIMEOUT)
            .connect_with_connector_lazy(connector);
        KubeletPodResources { socket, channel }
    }
}

#[async_trait::async_trait]
impl PodResourcesLister for KubeletPodResources {
    async fn list(&self) -> Result<Vec<PodDevices>, AttributionError> {
        if !self.socket.exists() {
            return Err(AttributionError::NoSocket(
                self.socket.display().to_string(),
            ));
        }
        let mut grpc = tonic::client::Grpc::new(self.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE_BYTES);
        grpc.ready()
            .await
            .map_err(|e| AttributionError::Failed(format!("cannot reach the kubelet: {e}")))?;
        let codec =
            tonic_prost::ProstCodec::<ListPodResourcesRequest, ListPodResourcesResponse>::default();
        let path = http::uri::PathAndQuery::from_static(LIST_PATH);
        let response = grpc
            .unary(tonic::Request::new(ListPodResourcesRequest {}), path, codec)
            .await
            .map_err(|status| {
                AttributionError::Failed(format!("{}: {}", status.code(), status.message()))
            })?;
        Ok(flatten(response.into_inner()))
    }
}
