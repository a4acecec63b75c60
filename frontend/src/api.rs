//! The API contract between browser and server: the DTOs the pages show and the server functions
//! that return them. Reads are GETs; the server refuses any other method without the session's
//! CSRF token, so a future server function that changes the cluster must send it.

use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;
use serde::{Deserialize, Serialize};

/// One node as the nodes table shows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeSummary {
    pub name: String,
    pub ready: bool,
    pub unschedulable: bool,
    pub roles: Vec<String>,
    pub internal_ip: String,
    pub gpu_model: Option<String>,
    pub gpus_allocatable: u32,
    pub os_image: String,
    pub kernel: String,
    pub container_runtime: String,
    pub kubelet_version: String,
    /// Seconds since the node was created.
    pub age_seconds: i64,
    /// GPUs requested by the node's active pods (the effective-request rule).
    pub gpus_allocated: u32,
    /// GPUs at or above the busy threshold, by the exporter.
    pub gpus_busy: u32,
    /// The NVIDIA driver version, by the exporter.
    pub driver: Option<String>,
    /// What differs from most GPU nodes: "kernel", "driver", "runtime" (the seeds warn about mixed kernels).
    pub skew: Vec<String>,
}

/// Every node of the cluster, sorted by name.
#[server(input = GetUrl)]
pub async fn list_nodes() -> Result<Vec<NodeSummary>, ServerFnError> {
    let backend = use_context::<crate::backend::SharedBackend>()
        .ok_or_else(|| ServerFnError::new("the server has no cluster backend"))?;
    backend
        .nodes()
        .await
        .map_err(|e| ServerFnError::new(e.to_string()))
}

/// Who is signed in, for the page header; the CSRF token goes into the sign-out form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurrentUser {
    pub username: String,
    pub groups: Vec<String>,
    pub csrf_token: String,
}

/// The signed-in user, or None on pages served without a session (the sign-in page).
#[server(input = GetUrl)]
pub async fn whoami() -> Result<Option<CurrentUser>, ServerFnError> {
    Ok(crate::backend::signed_in_user().map(|u| CurrentUser {
        username: u.username,
        groups: u.groups,
        csrf_token: u.csrf_token,
    }))
}

/// One GPU as the GPUs page shows it: identity from the exporter, the latest sample, and who
/// uses it (pod names only where the user may list pods in that namespace).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GpuRow {
    pub node: String,
    pub index: u32,
    pub model: String,
    pub uuid: String,
    pub memory_total_bytes: u64,
    pub memory_used_bytes: Option<u64>,
    pub utilization_percent: Option<f64>,
    pub temperature_celsius: Option<f64>,
    pub power_watts: Option<f64>,
    /// Whether a pod holds the GPU or a process runs on it, whether or not the user may see which.
    pub in_use: bool,
    /// `namespace/pod` of the holders the user may see.
    pub pods: Vec<String>,
    /// Holders in namespaces the user may not list pods in.
    pub hidden_pods: usize,
    /// The node's exporter is not answering; the values are from `sampled_at_ms`.
    pub stale: bool,
    pub sampled_at_ms: i64,
}

/// One page of the GPUs the exporters report, filtered and sorted as asked.
#[server(input = GetUrl)]
pub async fn list_gpus(
    #[server(default)] query: crate::gpu_table::GpuQuery,
) -> Result<crate::gpu_table::GpuPage, ServerFnError> {
    let backend = use_context::<crate::backend::SharedBackend>()
        .ok_or_else(|| ServerFnError::new("the server has no cluster backend"))?;
    let user =
        crate::backend::signed_in_user().ok_or_else(|| ServerFnError::new("sign in first"))?;
    let rows = backend
        .gpus(&user)
        .await
        .map_err(|e| ServerFnError::new(e.to_string()))?;
    Ok(crate::gpu_table::page_of(rows, &query))
}

/// One point of a GPU's history, for the node page's charts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryPoint {
    /// Unix seconds.
    pub at_s: i64,
    pub utilization_percent: Option<f64>,
    pub memory_used_mib: Option<f64>,
    pub temperature_celsius: Option<f64>,
    pub power_watts: Option<f64>,
}

/// A GPU card on the node page: the row plus its history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GpuCard {
    pub gpu: GpuRow,
    pub power_limit_watts: Option<f64>,
    pub history: Vec<HistoryPoint>,
}

/// A pod on the node and the GPUs it asks for (the effective-request rule).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodePod {
    pub namespace: String,
    pub name: String,
    pub phase: String,
    pub gpus: u32,
}

/// A node condition as `kubectl describe node` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeCondition {
    pub kind: String,
    pub status: String,
    pub reason: String,
    pub message: String,
}

/// Everything the node page shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeDetail {
    pub summary: NodeSummary,
    pub conditions: Vec<NodeCondition>,
    pub taints: Vec<String>,
    pub labels: Vec<(String, String)>,
    pub gpus: Vec<GpuCard>,
    /// Pods the user may see, with their GPU requests.
    pub pods: Vec<NodePod>,
    /// Pods on the node in namespaces the user may not list pods in.
    pub hidden_pods: usize,
    /// Why the node's exporter has no fresh data, if it has not.
    pub telemetry_error: Option<String>,
}

/// One node's page; None when there is no such node.
#[server(input = GetUrl)]
pub async fn get_node_detail(name: String) -> Result<Option<NodeDetail>, ServerFnError> {
    let backend = use_context::<crate::backend::SharedBackend>()
        .ok_or_else(|| ServerFnError::new("the server has no cluster backend"))?;
    let user =
        crate::backend::signed_in_user().ok_or_else(|| ServerFnError::new("sign in first"))?;
    backend
        .node(&user, &name)
        .await
        .map_err(|e| ServerFnError::new(e.to_string()))
}

/// A problem the overview calls out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Alert {
    /// The node is not Ready.
    NotReady { node: String },
    /// The node's exporter does not answer; `since_ms` is its last good sample (None: never).
    StaleExporter {
        node: String,
        since_ms: Option<i64>,
        error: String,
    },
    /// The scheduler's allocatable `nvidia.com/gpu` differs from the GPUs the exporter sees:
    /// the device plugin is missing or broken.
    DeviceMismatch {
        node: String,
        allocatable: u32,
        seen: u32,
    },
}

/// The overview: counts, the heat map (one cell per GPU) and alerts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Overview {
    pub nodes_ready: usize,
    pub nodes_total: usize,
    /// GPUs the exporters report.
    pub gpus_total: usize,
    /// Allocatable `nvidia.com/gpu` over all nodes.
    pub gpus_allocatable: u32,
    /// GPUs requested by active pods (the effective-request rule).
    pub gpus_allocated: u32,
    /// GPUs at or above the busy threshold.
    pub gpus_busy: usize,
    pub busy_threshold_percent: f64,
    pub average_utilization_percent: Option<f64>,
    /// The newest sample's time, Unix ms: the clock alerts measure ages against.
    pub sampled_at_ms: i64,
    pub heat: crate::heatmap::HeatMap,
    pub alerts: Vec<Alert>,
}

/// The overview page's data.
#[server(input = GetUrl)]
pub async fn get_overview() -> Result<Overview, ServerFnError> {
    let backend = use_context::<crate::backend::SharedBackend>()
        .ok_or_else(|| ServerFnError::new("the server has no cluster backend"))?;
    let user =
        crate::backend::signed_in_user().ok_or_else(|| ServerFnError::new("sign in first"))?;
    backend
        .overview(&user)
        .await
        .map_err(|e| ServerFnError::new(e.to_string()))
}
