//! One Job's or workspace's page (`/workloads/<namespace>/<name>`) and
//! `GET /api/v1/namespaces/{ns}/workloads/{name}[/logs]`: its state reconciled from the object,
//! its pods and their containers, each problem explained, its GPUs, its events merged by time, and
//! the logs' options.

use serde::{Deserialize, Serialize};

use super::GpuCard;
use super::workloads::{NewWorkload, NodePort, PendingReason, WorkloadKind, WorkloadState};

/// The most log lines one request returns (and the page keeps while following).
pub const MAX_TAIL_LINES: u32 = 10_000;
/// The tail the page asks for first.
pub const DEFAULT_TAIL_LINES: u32 = 500;

/// A condition of the Job, Deployment or pod, as `kubectl describe` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Condition {
    #[serde(rename = "type")]
    pub kind: String,
    pub status: String,
    pub reason: String,
    pub message: String,
}

/// How a container ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Termination {
    /// `Completed`, `Error`, `OOMKilled`, ...
    pub reason: String,
    pub exit_code: i32,
    pub message: String,
    /// RFC 3339.
    pub finished: String,
}

/// What a container is doing, as the kubelet reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all_fields = "camelCase", tag = "state")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum ContainerState {
    /// Not running: `ContainerCreating`, `ImagePullBackOff`, `CrashLoopBackOff`, ...
    Waiting {
        reason: String,
        message: String,
    },
    Running {
        started: String,
    },
    Terminated {
        termination: Termination,
    },
    /// No status yet (the pod is not scheduled).
    Unknown,
}

/// One container of a pod.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ContainerRow {
    pub name: String,
    pub image: String,
    pub state: ContainerState,
    pub ready: bool,
    pub restarts: i32,
    /// The run before this one, where it restarted.
    pub last_termination: Option<Termination>,
}

/// One pod of the workload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PodRow {
    pub name: String,
    pub node: Option<String>,
    pub phase: String,
    /// RFC 3339.
    pub created: String,
    pub containers: Vec<ContainerRow>,
    pub conditions: Vec<Condition>,
}

/// A problem found in the state, said in plain words by the page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all_fields = "camelCase", tag = "what")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum Explanation {
    /// The seeds' case: the program finished, but the pod's `restartPolicy: Always` (a
    /// Deployment's, or a bare pod's) starts it again, and the kubelet backs off.
    FinishedUnderAlways {
        pod: String,
        container: String,
        exit_code: i32,
    },
    /// The program keeps failing and the kubelet backs off before each restart.
    CrashLoop {
        pod: String,
        container: String,
        exit_code: Option<i32>,
        restarts: i32,
    },
    /// The image cannot be pulled (a wrong name or tag, a private registry, no network).
    ImagePull {
        pod: String,
        container: String,
        image: String,
        message: String,
    },
    /// The container used more memory than its limit and the kernel killed it.
    OutOfMemory {
        pod: String,
        container: String,
        memory_limit: Option<String>,
    },
    /// The program ended with an error.
    ExitedWithError {
        pod: String,
        container: String,
        exit_code: i32,
        message: String,
    },
    /// The container could not be made (a missing ConfigMap, Secret or claim, a bad command).
    CannotStart {
        pod: String,
        container: String,
        reason: String,
        message: String,
    },
    /// The Job controller may not make its pod: the namespace's quota `quota` has no room.
    QuotaRefused { quota: String, message: String },
    /// The node stopped or refused the pod (`Evicted`, `UnexpectedAdmissionError` from the
    /// device plugin, ...).
    PodStopped {
        pod: String,
        reason: String,
        message: String,
    },
    /// The Job gave up after `failed` failed pods (its backoffLimit is `limit`).
    BackoffLimitExceeded { failed: i32, limit: i32 },
    /// The Job ran longer than its activeDeadlineSeconds.
    DeadlineExceeded { seconds: i64 },
}

/// `Normal` or `Warning`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum EventType {
    Normal,
    Warning,
}

/// An event of the workload or one of its pods.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct EventRow {
    /// When it last happened (RFC 3339).
    pub at: String,
    #[serde(rename = "type")]
    pub kind: EventType,
    pub reason: String,
    /// `Pod/tf-x7k2p`.
    pub object: String,
    pub message: String,
    pub count: i32,
}

/// A NodePort of a workspace and the addresses it is reached on (the nodes' InternalIPs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Exposed {
    pub port: NodePort,
    /// `192.168.0.110:31234`, one per node running the workspace.
    pub addresses: Vec<String>,
}

/// One Job or workspace as its page shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct WorkloadDetail {
    pub kind: WorkloadKind,
    pub namespace: String,
    pub name: String,
    /// Who submitted it, where gpuboard did.
    pub owner: Option<String>,
    /// RFC 3339.
    pub created: String,
    /// Seconds since it was created, when it was read.
    pub age_seconds: i64,
    pub state: WorkloadState,
    /// GPUs each pod asks for.
    pub gpus: u32,
    /// The GPU model it asks for (its node selector).
    pub model: Option<String>,
    /// Job: pods running, succeeded and failed; workspace: ready of desired.
    pub active: i32,
    pub succeeded: i32,
    pub failed: i32,
    pub conditions: Vec<Condition>,
    /// The newest pods first (at most [`WorkloadDetail::MAX_PODS`]); `more_pods` beyond them.
    pub pods: Vec<PodRow>,
    pub more_pods: usize,
    pub explanations: Vec<Explanation>,
    /// While Pending: its place in the GPU queue and why the scheduler turned it down.
    pub position: Option<u32>,
    pub pending_reason: Option<PendingReason>,
    /// The GPUs its running pods hold, with their history.
    pub gpu_cards: Vec<GpuCard>,
    pub exposed: Vec<Exposed>,
    /// Newest last.
    pub events: Vec<EventRow>,
    /// Whether the user may delete it (SelfSubjectAccessReview; workspaces only where gpuboard made them).
    pub may_delete: bool,
    /// The form that makes the same thing again ("clone").
    pub form: NewWorkload,
}

impl WorkloadDetail {
    /// The pods a page lists.
    pub const MAX_PODS: usize = 20;
    /// The events a page lists (the newest).
    pub const MAX_EVENTS: usize = 200;
}

/// What a logs request asks for (the query of `.../logs`; camelCase as kubectl's API has it).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
#[cfg_attr(
    feature = "ssr",
    derive(utoipa::ToSchema, utoipa::IntoParams),
    into_params(parameter_in = Query)
)]
pub struct LogQuery {
    /// A pod of the workload; empty: its newest.
    pub pod: String,
    /// Empty: the pod's only (or first) container.
    pub container: String,
    /// The last lines; None: [`DEFAULT_TAIL_LINES`] on the page, everything up to
    /// [`MAX_TAIL_LINES`] for scripts.
    pub tail_lines: Option<u32>,
    pub previous: bool,
    pub timestamps: bool,
    pub follow: bool,
}

/// Logs read at once.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Logs {
    pub pod: String,
    pub container: String,
    pub lines: Vec<String>,
}
