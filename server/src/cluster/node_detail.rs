//! The node page's data: the node from the cache, its GPUs with their history from telemetry,
//! and the pods on it with their GPU requests by the effective-request rule.

use k8s_openapi::api::core::v1::{Node, Pod};

use frontend::api::{GpuCard, GpuRow, HistoryPoint, NodeCondition, NodePod};

use crate::telemetry::history::Sample;

/// A quantity of whole GPUs (`"2"`); anything else counts as 0.
fn whole(q: Option<&k8s_openapi::apimachinery::pkg::api::resource::Quantity>) -> u32 {
    q.and_then(|q| q.0.trim().parse::<u32>().ok()).unwrap_or(0)
}

/// GPUs a pod holds: the larger of its containers' sum and its largest init container
/// (limits, which equal requests for extended resources).
pub fn pod_gpus(pod: &Pod) -> u32 {
    let Some(spec) = &pod.spec else { return 0 };
    let gpus = |c: &k8s_openapi::api::core::v1::Container| {
        let r = c.resources.as_ref();
        let limit = whole(
            r.and_then(|r| r.limits.as_ref())
                .and_then(|l| l.get("nvidia.com/gpu")),
        );
        let request = whole(
            r.and_then(|r| r.requests.as_ref())
                .and_then(|l| l.get("nvidia.com/gpu")),
        );
        limit.max(request)
    };
    let containers: u32 = spec.containers.iter().map(gpus).sum();
    let init = spec
        .init_containers
        .iter()
        .flatten()
        .map(gpus)
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

pub fn node_pod(pod: &Pod) -> NodePod {
    NodePod {
        namespace: pod.metadata.namespace.clone().unwrap_or_default(),
        name: pod.metadata.name.clone().unwrap_or_default(),
        phase: pod
            .status
            .as_ref()
            .and_then(|s| s.phase.clone())
            .unwrap_or_default(),
        gpus: pod_gpus(pod),
    }
}

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

pub fn labels(node: &Node) -> Vec<(String, String)> {
    node.metadata
        .labels
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

pub fn card(gpu: GpuRow, power_limit_watts: Option<f64>, history: &[Sample]) -> GpuCard {
    GpuCard {
        gpu,
        power_limit_watts,
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

    fn pod(containers: &[u32], init: &[u32]) -> Pod {
        let c = |n: &u32| serde_json::json!({"name": "c", "resources": {"limits": {"nvidia.com/gpu": n.to_string()}}});
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p"},
            "spec": {"containers": containers.iter().map(c).collect::<Vec<_>>(), "initContainers": init.iter().map(c).collect::<Vec<_>>()}
        }))
        .unwrap()
    }

    #[test]
    fn gpus_follow_the_effective_request_rule() {
        assert_eq!(pod_gpus(&pod(&[1, 2], &[])), 3);
        assert_eq!(pod_gpus(&pod(&[1], &[4, 2])), 4);
        assert_eq!(pod_gpus(&pod(&[2], &[1])), 2);
        assert_eq!(pod_gpus(&Pod::default()), 0);
    }

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
