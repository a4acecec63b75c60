//! GPU work: what the submit form, the queue and one job's page exchange with the server, and
//! what `/api/v1/workloads` speaks (camelCase, as Kubernetes writes its JSON).

use serde::{Deserialize, Serialize};

/// The most GPUs one request may name (a node with more is not made).
pub const MAX_GPUS: u64 = 64;
/// At most this many environment variables, volume mounts, ports, command words.
pub const MAX_ENTRIES: usize = 64;
/// The longest image reference, command word or environment value kept.
pub const MAX_TEXT: usize = 4096;
/// The label gpuboard puts on what it submits: who submitted it (a label-safe form of the name).
pub const OWNER_LABEL: &str = "gpuboard.io/owner";
/// The label that ties a workspace's Deployment, pods and Service together.
pub const WORKLOAD_LABEL: &str = "gpuboard.io/workload";
/// The annotation carrying the hash of the request an object was made from (idempotent submit).
pub const REQUEST_HASH_ANNOTATION: &str = "gpuboard.io/request-hash";

/// What runs: a Job runs to completion; a workspace stays up (a Deployment of one replica, and a
/// NodePort Service when ports are asked for).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum WorkloadKind {
    #[default]
    Job,
    Workspace,
}

/// An image the form offers with its defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::VariantArray)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum ImagePreset {
    TensorFlow,
    PyTorch,
    CudaSample,
}

impl ImagePreset {
    pub fn image(self) -> &'static str {
        match self {
            ImagePreset::TensorFlow => "tensorflow/tensorflow:latest-gpu",
            ImagePreset::PyTorch => "pytorch/pytorch:latest",
            ImagePreset::CudaSample => "nvcr.io/nvidia/k8s/cuda-sample:vectoradd-cuda12.5.0",
        }
    }

    /// The preset an image reference is (by its repository), if any.
    pub fn of(image: &str) -> Option<ImagePreset> {
        let lower = image.to_ascii_lowercase();
        if lower.contains("pytorch") || lower.contains("torch") {
            Some(ImagePreset::PyTorch)
        } else if lower.contains("tensorflow") {
            Some(ImagePreset::TensorFlow)
        } else if lower.contains("cuda") {
            Some(ImagePreset::CudaSample)
        } else {
            None
        }
    }
}

/// One environment variable.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct EnvVar {
    pub name: String,
    #[serde(default)]
    pub value: String,
}

/// An existing PersistentVolumeClaim mounted into the container.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ClaimMount {
    pub claim: String,
    pub mount_path: String,
}

/// What the form sends (and scripts POST): every field but `kind`, `name`, `namespace`, `image`
/// and `gpus` may be left out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
#[cfg_attr(
    feature = "ssr",
    derive(utoipa::ToSchema),
    schema(example = json!({"kind": "Job", "name": "train-mnist", "namespace": "ai", "image": "pytorch/pytorch:latest", "gpus": 1, "command": ["python", "train.py"]}))
)]
pub struct NewWorkload {
    pub kind: WorkloadKind,
    pub name: String,
    pub namespace: String,
    pub image: String,
    /// The container's command; empty: the image's entrypoint.
    pub command: Vec<String>,
    pub args: Vec<String>,
    /// Whole GPUs (a number, so that `0.5` can be refused with a reason rather than a parse error).
    pub gpus: f64,
    /// A `nvidia.com/gpu.product` value; empty: any model.
    pub gpu_model: String,
    /// A CPU quantity (`4`, `500m`); empty: none requested.
    pub cpu: String,
    /// A memory quantity (`16Gi`); empty: none requested.
    pub memory: String,
    /// A memory-backed `/dev/shm`; None: on for PyTorch images, off otherwise.
    pub large_shm: Option<bool>,
    pub env: Vec<EnvVar>,
    pub volumes: Vec<ClaimMount>,
    /// Workspace ports exposed on a NodePort Service (e.g. 8888 Jupyter, 22 SSH).
    pub ports: Vec<u32>,
    /// Job: retries before it fails (Kubernetes' default is 6; training wants 0).
    pub backoff_limit: u32,
    pub active_deadline_seconds: Option<u64>,
    pub ttl_seconds_after_finished: Option<u64>,
    /// A PriorityClass name; empty: the cluster's default.
    pub priority_class: String,
}

/// Whether a memory-backed `/dev/shm` is mounted when the request does not say: on for PyTorch
/// images (their data loaders share memory through it).
pub fn large_shm_by_default(image: &str) -> bool {
    ImagePreset::of(image) == Some(ImagePreset::PyTorch)
}

impl NewWorkload {
    /// The request's `/dev/shm` choice, else [`large_shm_by_default`].
    pub fn large_shm_or_default(&self) -> bool {
        self.large_shm
            .unwrap_or_else(|| large_shm_by_default(&self.image))
    }
}

impl Default for NewWorkload {
    fn default() -> Self {
        NewWorkload {
            kind: WorkloadKind::Job,
            name: String::new(),
            namespace: String::new(),
            image: String::new(),
            command: Vec::new(),
            args: Vec::new(),
            gpus: 1.0,
            gpu_model: String::new(),
            cpu: String::new(),
            memory: String::new(),
            large_shm: None,
            env: Vec::new(),
            volumes: Vec::new(),
            ports: Vec::new(),
            backoff_limit: 0,
            active_deadline_seconds: None,
            ttl_seconds_after_finished: None,
            priority_class: String::new(),
        }
    }
}

/// A node port given to a workspace port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NodePort {
    pub port: u32,
    pub node_port: u32,
}

/// The answer to a submit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Submitted {
    pub kind: WorkloadKind,
    pub namespace: String,
    pub name: String,
    /// False when the same request had already made it (a retried submit): nothing new was made.
    pub created: bool,
    /// True when the cluster only checked it (`dryRun=All`).
    pub dry_run: bool,
    /// `Job/name`, `Deployment/name`, `Service/name`: what was (or would be) made.
    pub objects: Vec<String>,
    pub node_ports: Vec<NodePort>,
    /// Exactly what was sent, as YAML.
    pub manifest: String,
}

/// What a delete took away.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Deleted {
    pub namespace: String,
    pub name: String,
    /// `Job/name`, `Deployment/name`, `Service/name`.
    pub objects: Vec<String>,
}

/// Why a request waits for GPUs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all_fields = "camelCase", tag = "reason")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum WaitReason {
    /// Every GPU of the wanted model (or any, when `model` is None) on a suitable node is taken.
    GpusInUse { model: Option<String> },
    /// The namespace's `requests.nvidia.com/gpu` quota has too little left.
    Quota { quota: String, used: u64, hard: u64 },
    /// GPUs are free, but not with enough CPU or memory beside them.
    CpuOrMemory,
    /// The nodes that could take it are cordoned or not Ready.
    NodesUnavailable { nodes: Vec<String> },
}

/// Why a request can never run as it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all_fields = "camelCase", tag = "reason")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum NeverReason {
    /// It needs more GPUs than any one node has.
    TooManyGpus { wanted: u64, largest: u64 },
    /// No node has the model asked for.
    NoSuchModel { model: String },
    /// The namespace's quota is smaller than the request.
    QuotaTooSmall { quota: String, hard: u64 },
    /// It needs more CPU or memory than any suitable node has.
    TooLargeForNodes,
    /// Every node with GPUs has a taint it does not tolerate or no GPU node exists.
    NoGpuNodes,
}

/// Where a request stands before it is sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all_fields = "camelCase", tag = "verdict")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum Fit {
    /// Fits now on these nodes.
    Now {
        nodes: Vec<String>,
    },
    /// Waits; about `ahead` GPU workloads are queued before it.
    Waits {
        why: WaitReason,
        ahead: u32,
    },
    Never {
        why: NeverReason,
    },
}

/// The fit check's answer, with the figures it used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct FitCheck {
    pub fit: Fit,
    /// The most GPUs any one schedulable GPU node has (the form's upper bound).
    pub largest_node_gpus: u64,
    /// Free GPUs per model over Ready, schedulable nodes.
    pub free_by_model: Vec<(String, u64)>,
}

/// The form's live check: the objects it would send, and where they would stand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Preview {
    /// Exactly what a submit sends, as YAML.
    pub manifest: String,
    pub fit: FitCheck,
}

/// What the form offers: where the user may submit, and the cluster's models, classes and claims.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SubmitOptions {
    /// Namespaces where the user may create Jobs (a SelfSubjectAccessReview each).
    pub job_namespaces: Vec<String>,
    /// Namespaces where the user may create Deployments and Services.
    pub workspace_namespaces: Vec<String>,
    /// GPU models (`nvidia.com/gpu.product`) with their node and GPU counts.
    pub models: Vec<(String, u64)>,
    pub largest_node_gpus: u64,
    /// PriorityClasses by name with their values, highest first.
    pub priority_classes: Vec<(String, i32)>,
}

/// A workload's state, as the queue shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum WorkloadState {
    Pending,
    Running,
    Succeeded,
    Failed,
}

/// Why nodes turned a pod down, one entry of the scheduler's histogram in plain terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all_fields = "camelCase", tag = "why")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum NodeMisfit {
    /// `Insufficient <resource>`.
    NotEnough { resource: String },
    /// `node(s) had untolerated taint ...`.
    UntoleratedTaint,
    /// `node(s) didn't match Pod's node affinity/selector`.
    SelectorMismatch,
    /// `node(s) were unschedulable` (cordoned).
    Cordoned,
    /// `Too many pods`.
    TooManyPods,
    /// Anything else, as the scheduler wrote it.
    Other { text: String },
}

/// One entry of the histogram: how many nodes, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MisfitCount {
    pub nodes: u32,
    pub misfit: NodeMisfit,
}

/// Why a pod is Pending, parsed from its PodScheduled condition; `raw` is the scheduler's text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PendingReason {
    pub counts: Vec<MisfitCount>,
    pub raw: String,
}

/// One row of the queue: one GPU pod (a Job's or a workspace's, or a bare pod).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct QueueRow {
    pub namespace: String,
    /// The workload's name (its Job or Deployment, else the pod); None where the user may not
    /// list pods in its namespace.
    pub name: Option<String>,
    pub pod: Option<String>,
    pub kind: Option<WorkloadKind>,
    /// Who submitted it, where gpuboard submitted it.
    pub owner: Option<String>,
    pub gpus: u32,
    pub model: Option<String>,
    pub state: WorkloadState,
    pub node: Option<String>,
    /// When it was created (RFC 3339).
    pub created: String,
    /// Seconds since it was created (a pending one's wait).
    pub age_seconds: i64,
    pub priority: i32,
    /// 1 for the head of the queue; None unless Pending.
    pub position: Option<u32>,
    pub reason: Option<PendingReason>,
    /// Mean utilization of its GPUs (running ones, from the exporters), percent.
    pub utilization: Option<f64>,
    /// Whether the signed-in user submitted it (gpuboard's owner label).
    pub mine: bool,
    /// A Job with no pod yet because its namespace's GPU quota is full (the Job controller's
    /// `FailedCreate`): not in the scheduler's queue, so without a position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_by_quota: Option<QuotaHold>,
}

/// The quota that holds a Job back: its name, GPUs in use and its limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct QuotaHold {
    pub quota: String,
    pub used: u64,
    pub hard: u64,
}

/// Rows per page of the queue.
pub const QUEUE_PAGE_SIZE: usize = 200;

/// Which page of the queue to show; every field may be left out (`?mineOnly=true&page=2`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(
    feature = "ssr",
    derive(utoipa::ToSchema, utoipa::IntoParams),
    into_params(parameter_in = Query)
)]
pub struct QueueQuery {
    /// Only what the signed-in user submitted (the owner label).
    pub mine_only: bool,
    /// 0-based; past the last page gives the last.
    pub page: usize,
}

/// One page of the queue: pending first (in queue order), then running, then finished. The
/// counts are over the whole queue, `matching` over the rows `mine_only` keeps. (The overview's
/// panel is not paged: its head and running rows, `matching` the whole queue, `pageSize` 0.)
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Queue {
    pub rows: Vec<QueueRow>,
    /// Rows the query keeps, over all pages.
    pub matching: usize,
    pub page: usize,
    pub page_size: usize,
    pub pending: u32,
    pub running: u32,
    /// GPUs the running rows hold.
    pub gpus_running: u32,
    /// GPUs the pending rows ask for.
    pub gpus_waiting: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_minimal_body_is_enough_and_unknown_fields_are_refused() {
        let body: NewWorkload = serde_json::from_str(
            r#"{"kind":"Job","name":"tf","namespace":"ai","image":"tensorflow/tensorflow:latest-gpu","command":["python","train.py"],"gpus":1}"#,
        )
        .unwrap();
        assert_eq!(body.backoff_limit, 0);
        assert_eq!(body.kind, WorkloadKind::Job);
        let e = serde_json::from_str::<NewWorkload>(r#"{"gpu":1}"#).unwrap_err();
        assert!(e.to_string().contains("unknown field `gpu`"), "{e}");
    }

    #[test]
    fn presets_are_recognised_by_repository() {
        assert_eq!(
            ImagePreset::of("pytorch/pytorch:2.3"),
            Some(ImagePreset::PyTorch)
        );
        assert_eq!(
            ImagePreset::of(ImagePreset::TensorFlow.image()),
            Some(ImagePreset::TensorFlow)
        );
        assert_eq!(ImagePreset::of("busybox"), None);
    }
}
