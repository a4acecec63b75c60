//! The node page's parts read out of the node and its pods: pods with their GPU requests,
//! conditions and taints as kubectl describes them, labels, and a GPU's card with its history.

use frontend::contract::{GpuCard, GpuRow, HistoryPoint, NodeCondition, NodePod};
use k8s_openapi::api::core::v1::{Node, Pod};

use crate::cluster::accounting;
use crate::telemetry::history::Sample;

/// A pod as the node page lists it, with the GPUs it holds.
pub fn node_pod(pod: &Pod) -> NodePod {
    NodePod {
        namespace: pod.metadata.namespace.clone().unwrap_or_default(),
        name: pod.metadata.name.clone().unwrap_or_default(),
        phase: pod
            .status
            .as_ref()
            .and_then(|s| s.phase.clone())
            .unwrap_or_default(),
        gpus: accounting::pod_gpus(pod),
    }
}

/// The node's conditions, as `kubectl describe node` lists them.
pub fn conditions(node: &Node) -> Vec<NodeCondition> {
    node.status
        .iter()
        .flat_map(|s| s.conditions.iter().flatten())
        .map(|c| NodeCondition {
            kind: c.type_.clone(),
            status: c.status.clone(),
            reason: c.reason.clone().unwrap_or_default(),
            message: c.message.clone().unwrap_or_default(),
        })
        .collect()
}

/// The node's taints as kubectl prints them: `key=value:Effect`, or `key:Effect`.
pub fn taints(node: &Node) -> Vec<String> {
    node.spec
        .iter()
        .flat_map(|s| s.taints.iter().flatten())
        .map(|t| match &t.value {
            Some(v) if !v.is_empty() => format!("{}={}:{}", t.key, v, t.effect),
            _ => format!("{}:{}", t.key, t.effect),
        })
        .collect()
}

/// The node's labels, sorted by key.
pub fn labels(node: &Node) -> Vec<(String, String)> {
    node.metadata
        .labels
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// A GPU's card: its row and its kept history as chart points.
pub fn card(gpu: GpuRow, history: &[Sample]) -> GpuCard {
    GpuCard {
        gpu,
        history: history
            .iter()
            .map(|s| HistoryPoint {
                at_s: s.at_s,
                utilization_percent: s.utilization_percent.map(f64::from),
                memory_used_mib: s.memory_used_mib.map(f64::from),
                temperature_celsius: s.temperature_celsius.map(f64::from),
                power_watts: s.power_watts.map(f64::from),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taints_print_as_kubectl_does() {
        let node: Node = serde_json::from_value(serde_json::json!({"spec": {"taints": [
            {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"},
            {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]}}))
        .unwrap();
        assert_eq!(
            taints(&node),
            [
                "node-role.kubernetes.io/control-plane:NoSchedule",
                "nvidia.com/gpu=present:NoSchedule"
            ]
        );
    }
}
