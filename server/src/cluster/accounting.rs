//! The GPU accounting every page agrees on, in one place: how many GPUs a pod holds (the
//! effective-request rule), which pods still hold theirs, GPUs allocated per node, and which GPUs
//! count as busy and in the average utilization (only fresh samples: a stale exporter's old
//! numbers are shown as stale, never counted).

use std::collections::HashMap;
use std::sync::Arc;

use frontend::contract::GpuRow;
use k8s_openapi::api::core::v1::{Container, Node, Pod, PodSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::telemetry::NodeTelemetry;

/// The extended resource the NVIDIA device plugin advertises.
pub const GPU_RESOURCE: &str = "nvidia.com/gpu";

/// The node label GPU Feature Discovery puts the GPU model under (`NVIDIA-GeForce-GTX-1080-Ti`).
pub const GPU_PRODUCT_LABEL: &str = "nvidia.com/gpu.product";

/// A GPU at or above this utilization counts as busy.
pub const BUSY_PERCENT: f64 = 50.0;

/// A count of whole GPUs (`"2"`). Extended resources are whole numbers and API servers write them
/// canonically; anything else (`"500m"`, garbage) counts as 0.
pub fn whole_gpus(q: Option<&Quantity>) -> u32 {
    q.and_then(|q| q.0.trim().parse::<u32>().ok()).unwrap_or(0)
}

/// GPUs a node offers: its allocatable `nvidia.com/gpu`.
pub fn allocatable_gpus(node: &Node) -> u32 {
    whole_gpus(
        node.status
            .as_ref()
            .and_then(|s| s.allocatable.as_ref())
            .and_then(|a| a.get(GPU_RESOURCE)),
    )
}

/// A node's GPU model, from its [`GPU_PRODUCT_LABEL`].
pub fn gpu_model(node: &Node) -> Option<&str> {
    node.metadata
        .labels
        .as_ref()?
        .get(GPU_PRODUCT_LABEL)
        .map(String::as_str)
}

/// GPUs a container asks for: the larger of its limit and request (whole devices).
pub fn container_gpus(c: &Container) -> u32 {
    let resources = c.resources.as_ref();
    let limit = whole_gpus(
        resources
            .and_then(|r| r.limits.as_ref())
            .and_then(|l| l.get(GPU_RESOURCE)),
    );
    let request = whole_gpus(
        resources
            .and_then(|r| r.requests.as_ref())
            .and_then(|l| l.get(GPU_RESOURCE)),
    );
    limit.max(request)
}

/// GPUs a pod holds: the larger of its containers' sum and its largest init container.
/// Saturating: a pod asking for absurd numbers cannot wrap the totals.
pub fn pod_gpus(pod: &Pod) -> u32 {
    pod.spec.as_ref().map_or(0, spec_gpus)
}

/// The pods that ask for GPUs (at least one, by [`pod_gpus`]).
pub fn asking_for_gpus(pods: &[Arc<Pod>]) -> Vec<Arc<Pod>> {
    pods.iter().filter(|p| pod_gpus(p) > 0).cloned().collect()
}

/// GPUs a pod made from `spec` holds (a Job's or Deployment's template): [`pod_gpus`]' rule.
pub fn spec_gpus(spec: &PodSpec) -> u32 {
    let containers = spec
        .containers
        .iter()
        .map(container_gpus)
        .fold(0u32, u32::saturating_add);
    let init = spec
        .init_containers
        .iter()
        .flatten()
        .map(container_gpus)
        .max()
        .unwrap_or(0);
    containers.max(init)
}

/// Whether a pod still holds what it asked for (not Succeeded or Failed).
pub fn is_active(pod: &Pod) -> bool {
    !matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded") | Some("Failed")
    )
}

/// Whether the scheduler has yet to place the pod: not finished and bound to no node (the
/// queue's waiting rows, the fit check's "ahead of you").
pub fn waits_for_scheduler(pod: &Pod) -> bool {
    is_active(pod) && node_of(pod).is_none()
}

/// The node a pod is bound to, if any.
pub fn node_of(pod: &Pod) -> Option<&str> {
    pod.spec.as_ref()?.node_name.as_deref()
}

/// The node's InternalIP (where its NodePorts are reached), if it reports one.
pub fn internal_ip(node: &Node) -> Option<&str> {
    node.status
        .as_ref()?
        .addresses
        .iter()
        .flatten()
        .find(|a| a.type_ == "InternalIP")
        .map(|a| a.address.as_str())
}

/// GPUs held by the active pods bound to each node.
pub fn allocated_by_node(pods: &[Arc<Pod>]) -> HashMap<&str, u32> {
    let mut allocated: HashMap<&str, u32> = HashMap::new();
    for pod in pods.iter().filter(|p| is_active(p)) {
        if let Some(node) = node_of(pod) {
            let sum = allocated.entry(node).or_default();
            *sum = sum.saturating_add(pod_gpus(pod));
        }
    }
    allocated
}

/// Whether a GPU counts as busy: a fresh sample at or above [`BUSY_PERCENT`].
pub fn is_busy(utilization: Option<f64>, stale: bool) -> bool {
    !stale && utilization.is_some_and(|u| u >= BUSY_PERCENT)
}

/// Busy GPUs of one node's exporter answer (a fresh one: a stale node's GPUs count as none).
pub fn busy_in(answer: &gpuboard_exporter_api::NodeGpus) -> u32 {
    answer
        .gpus
        .iter()
        .filter(|g| is_busy(g.fields.utilization_percent, false))
        .count() as u32
}

/// What the GPU counts read of one GPU: its utilization and whether its node's exporter is
/// stale.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GpuUse {
    pub utilization_percent: Option<f64>,
    pub stale: bool,
}

impl From<&GpuRow> for GpuUse {
    fn from(row: &GpuRow) -> Self {
        GpuUse {
            utilization_percent: row.utilization_percent,
            stale: row.stale,
        }
    }
}

/// Busy GPUs of a node by its exporter's last answer when that answer is fresh; None when the
/// exporter is stale or never answered (a stale node's old numbers are not counted).
pub fn busy_now(telemetry: &NodeTelemetry) -> Option<u32> {
    telemetry
        .last_good
        .as_deref()
        .filter(|_| !telemetry.is_stale())
        .map(busy_in)
}

/// Busy GPUs among `gpus`.
pub fn busy(gpus: impl IntoIterator<Item = GpuUse>) -> u32 {
    gpus.into_iter()
        .filter(|g| is_busy(g.utilization_percent, g.stale))
        .count() as u32
}

/// The average utilization of the GPUs with a fresh sample; None when there are none.
pub fn average_utilization(gpus: impl IntoIterator<Item = GpuUse>) -> Option<f64> {
    let (sum, count) = gpus
        .into_iter()
        .filter(|g| !g.stale)
        .filter_map(|g| g.utilization_percent)
        .fold((0.0, 0usize), |(sum, count), u| (sum + u, count + 1));
    (count > 0).then(|| sum / count as f64)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn pod(node: Option<&str>, phase: &str, containers: &[&str], init: &[&str]) -> Arc<Pod> {
        let c = |n: &&str| serde_json::json!({"name": "c", "resources": {"limits": {"nvidia.com/gpu": n}}});
        Arc::new(
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": "p"},
                "spec": {"nodeName": node, "containers": containers.iter().map(c).collect::<Vec<_>>(),
                         "initContainers": init.iter().map(c).collect::<Vec<_>>()},
                "status": {"phase": phase}
            }))
            .expect("a pod"),
        )
    }

    #[test]
    fn gpus_follow_the_effective_request_rule() {
        assert_eq!(pod_gpus(&pod(None, "", &["1", "2"], &[])), 3);
        assert_eq!(pod_gpus(&pod(None, "", &["1"], &["4", "2"])), 4);
        assert_eq!(pod_gpus(&pod(None, "", &["2"], &["1"])), 2);
        assert_eq!(pod_gpus(&pod(None, "", &["500m", "x"], &[])), 0);
        assert_eq!(pod_gpus(&Pod::default()), 0);
    }

    #[test]
    fn absurd_requests_saturate_instead_of_wrapping() {
        let huge = pod(Some("a"), "Running", &["4294967295", "4294967295"], &[]);
        assert_eq!(pod_gpus(&huge), u32::MAX);
        let pods = vec![huge.clone(), huge];
        assert_eq!(allocated_by_node(&pods)["a"], u32::MAX);
    }

    #[test]
    fn only_active_bound_pods_are_allocated() {
        let pods = vec![
            pod(Some("a"), "Running", &["2"], &[]),
            pod(Some("a"), "Succeeded", &["1"], &[]),
            pod(None, "Pending", &["4"], &[]),
            pod(Some("b"), "Pending", &["1"], &[]),
        ];
        let allocated = allocated_by_node(&pods);
        assert_eq!((allocated["a"], allocated["b"]), (2, 1));
        assert_eq!(allocated.len(), 2);
    }

    #[test]
    fn stale_gpus_are_neither_busy_nor_averaged() {
        let row = |util: f64, stale: bool| GpuRow {
            utilization_percent: Some(util),
            stale,
            ..Default::default()
        };
        let rows = vec![row(97.0, false), row(10.0, false), row(99.0, true)];
        let uses = |rows: &[GpuRow]| rows.iter().map(GpuUse::from).collect::<Vec<_>>();
        assert_eq!(busy(uses(&rows)), 1);
        assert_eq!(average_utilization(uses(&rows)), Some(53.5));
        assert_eq!(average_utilization(uses(&rows[2..])), None);
    }
}
