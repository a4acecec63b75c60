//! "Would this fit now": the scheduler's filters replayed on the watch cache (GPUs, CPU and
//! memory free as allocatable minus the active pods' requests; taints against the workload's
//! tolerations; cordoned and NotReady nodes; the GPU-model node selector) plus the namespace's
//! `requests.nvidia.com/gpu` quota, into fits now / waits (with how many are ahead) / never.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use frontend::contract::workloads::{Fit, FitCheck, NeverReason, WaitReason};
use k8s_openapi::api::core::v1::{Node, Pod, ResourceQuota};
use k8s_openapi::api::scheduling::v1::PriorityClass;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::validate::{Valid, quantity_value};
use crate::cluster::accounting::{
    GPU_RESOURCE, allocatable_gpus, gpu_model, is_active, node_of, pod_gpus, waits_for_scheduler,
    whole_gpus,
};

/// Taints that say a node is unavailable for now rather than closed to this workload.
const TRANSIENT_TAINTS: [&str; 3] = [
    "node.kubernetes.io/not-ready",
    "node.kubernetes.io/unreachable",
    "node.kubernetes.io/unschedulable",
];
/// The quota key for GPUs (extended resources are quota'd by request only).
const GPU_QUOTA: &str = "requests.nvidia.com/gpu";

/// The cluster as the fit check reads it.
pub struct FitInput<'a> {
    pub nodes: &'a [Arc<Node>],
    pub load: &'a PodLoad,
    pub quotas: &'a [Arc<ResourceQuota>],
    pub priority_classes: &'a [Arc<PriorityClass>],
}

/// GPUs, cpu and memory the active pods on one node request.
#[derive(Debug, Clone, Copy, Default)]
struct Used {
    gpus: u64,
    cpu: f64,
    memory: f64,
}

/// The part of a fit check that reads every pod: what the active pods take of each node, and
/// the priorities of the GPU pods waiting for the scheduler. Made once per change of the pod
/// cache and shared by the checks in between, so a check costs the nodes, not the pods.
#[derive(Debug, Default)]
pub struct PodLoad {
    used: HashMap<String, Used>,
    waiting_priorities: Vec<i32>,
}

impl PodLoad {
    pub fn of(pods: &[Arc<Pod>]) -> Self {
        let mut load = PodLoad::default();
        for pod in pods.iter().filter(|p| is_active(p)) {
            if waits_for_scheduler(pod) {
                if pod_gpus(pod) > 0 {
                    let priority = pod.spec.as_ref().and_then(|s| s.priority).unwrap_or(0);
                    load.waiting_priorities.push(priority);
                }
            } else if let Some(node) = node_of(pod) {
                let (cpu, memory) = pod_requests(pod);
                let used = load.used.entry(node.to_string()).or_default();
                used.gpus += u64::from(pod_gpus(pod));
                used.cpu += cpu;
                used.memory += memory;
            }
        }
        load
    }

    /// Pending GPU pods the scheduler would try before one of `priority`.
    fn ahead_of(&self, priority: i32) -> u32 {
        self.waiting_priorities
            .iter()
            .filter(|p| **p >= priority)
            .count() as u32
    }
}

/// What one node offers the request.
struct NodeView<'a> {
    name: &'a str,
    model: Option<&'a str>,
    gpus: u64,
    free_gpus: u64,
    /// Whether cpu and memory fit in what the node has at all, and in what is free.
    size_fits: bool,
    room_fits: bool,
    /// Taints and selector let the workload here.
    admits: bool,
    available: bool,
}

fn quantity(map: Option<&BTreeMap<String, Quantity>>, key: &str) -> f64 {
    map.and_then(|m| m.get(key))
        .and_then(|q| quantity_value(&q.0))
        .unwrap_or(0.0)
}

/// The cpu and memory a pod requests (its containers' sum).
fn pod_requests(pod: &Pod) -> (f64, f64) {
    let containers = pod.spec.iter().flat_map(|s| s.containers.iter());
    containers.fold((0.0, 0.0), |(cpu, mem), c| {
        let requests = c.resources.as_ref().and_then(|r| r.requests.as_ref());
        (
            cpu + quantity(requests, "cpu"),
            mem + quantity(requests, "memory"),
        )
    })
}

fn is_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// The priority `class` gives (the global default's when empty).
pub fn priority_of(class: &str, classes: &[Arc<PriorityClass>]) -> i32 {
    classes
        .iter()
        .find(|c| {
            if class.is_empty() {
                c.global_default == Some(true)
            } else {
                c.metadata.name.as_deref() == Some(class)
            }
        })
        .and_then(|c| c.value)
        .unwrap_or(0)
}

fn views<'a>(valid: &Valid, input: &'a FitInput<'a>) -> Vec<NodeView<'a>> {
    let (cpu, memory) = (
        quantity_value(&valid.request.cpu).unwrap_or(0.0),
        quantity_value(&valid.request.memory).unwrap_or(0.0),
    );
    input
        .nodes
        .iter()
        .filter_map(|node| {
            let name = node.metadata.name.as_deref()?;
            let allocatable = node.status.as_ref().and_then(|s| s.allocatable.as_ref());
            let gpus = u64::from(allocatable_gpus(node));
            let used = input.load.used.get(name).copied().unwrap_or_default();
            let (alloc_cpu, alloc_mem) = (
                quantity(allocatable, "cpu"),
                quantity(allocatable, "memory"),
            );
            let model = gpu_model(node);
            let spec = node.spec.as_ref();
            let taints_ok = spec
                .and_then(|s| s.taints.as_ref())
                .into_iter()
                .flatten()
                .all(|t| {
                    t.effect == "PreferNoSchedule"
                        || TRANSIENT_TAINTS.contains(&t.key.as_str())
                        || (valid.gpus > 0 && t.key == GPU_RESOURCE && t.effect == "NoSchedule")
                });
            let selector_ok = valid.request.gpu_model.is_empty()
                || model == Some(valid.request.gpu_model.as_str());
            Some(NodeView {
                name,
                model,
                gpus,
                free_gpus: gpus.saturating_sub(used.gpus),
                size_fits: cpu <= alloc_cpu && memory <= alloc_mem,
                room_fits: cpu <= alloc_cpu - used.cpu && memory <= alloc_mem - used.memory,
                admits: taints_ok && selector_ok,
                available: is_ready(node) && !spec.and_then(|s| s.unschedulable).unwrap_or(false),
            })
        })
        .collect()
}

/// The namespace's GPU quotas: (name, used, hard) of each (every one must admit a pod).
pub fn gpu_quotas(namespace: &str, quotas: &[Arc<ResourceQuota>]) -> Vec<(String, u64, u64)> {
    quotas
        .iter()
        .filter(|q| q.metadata.namespace.as_deref() == Some(namespace))
        .filter_map(|q| {
            let hard = q.spec.as_ref()?.hard.as_ref()?.get(GPU_QUOTA)?;
            let used = q
                .status
                .as_ref()
                .and_then(|s| s.used.as_ref())
                .and_then(|u| u.get(GPU_QUOTA));
            Some((
                q.metadata.name.clone().unwrap_or_default(),
                u64::from(whole_gpus(used)),
                u64::from(whole_gpus(Some(hard))),
            ))
        })
        .collect()
}

/// The most GPUs one node has (the form's upper bound).
pub fn largest_node_gpus(nodes: &[Arc<Node>]) -> u64 {
    nodes
        .iter()
        .map(|n| u64::from(allocatable_gpus(n)))
        .max()
        .unwrap_or(0)
}

fn never(valid: &Valid, nodes: &[NodeView]) -> Option<NeverReason> {
    let wanted = u64::from(valid.gpus);
    let model = &valid.request.gpu_model;
    if !model.is_empty() && !nodes.iter().any(|n| n.model == Some(model.as_str())) {
        return Some(NeverReason::NoSuchModel {
            model: model.clone(),
        });
    }
    let admitting: Vec<&NodeView> = nodes.iter().filter(|n| n.admits).collect();
    if admitting.is_empty() {
        return Some(NeverReason::NoGpuNodes);
    }
    let largest = admitting.iter().map(|n| n.gpus).max().unwrap_or(0);
    if wanted > largest {
        return Some(NeverReason::TooManyGpus { wanted, largest });
    }
    if !admitting.iter().any(|n| n.gpus >= wanted && n.size_fits) {
        return Some(NeverReason::TooLargeForNodes);
    }
    None
}

/// Where `valid` stands on the cluster of `input`.
pub fn fit(valid: &Valid, input: &FitInput) -> FitCheck {
    let nodes = views(valid, input);
    let wanted = u64::from(valid.gpus);
    let mut free_by_model: BTreeMap<String, u64> = BTreeMap::new();
    for n in nodes.iter().filter(|n| n.available && n.gpus > 0) {
        *free_by_model
            .entry(n.model.unwrap_or("").to_string())
            .or_default() += n.free_gpus;
    }
    let check = |fit| FitCheck {
        fit,
        largest_node_gpus: largest_node_gpus(input.nodes),
        free_by_model: free_by_model.clone().into_iter().collect(),
    };
    if let Some(why) = never(valid, &nodes) {
        return check(Fit::Never { why });
    }
    let ahead = input.load.ahead_of(priority_of(
        &valid.request.priority_class,
        input.priority_classes,
    ));
    let quotas = if wanted > 0 {
        gpu_quotas(&valid.request.namespace, input.quotas)
    } else {
        Vec::new()
    };
    // A quota too small for the request at all outranks one that is only full for now.
    if let Some((quota, _, hard)) = quotas.iter().find(|(_, _, hard)| wanted > *hard) {
        let (quota, hard) = (quota.clone(), *hard);
        return check(Fit::Never {
            why: NeverReason::QuotaTooSmall { quota, hard },
        });
    }
    if let Some((quota, used, hard)) = quotas
        .into_iter()
        .find(|(_, used, hard)| used + wanted > *hard)
    {
        return check(Fit::Waits {
            why: WaitReason::Quota { quota, used, hard },
            ahead,
        });
    }
    let candidates: Vec<&NodeView> = nodes
        .iter()
        .filter(|n| n.admits && n.gpus >= wanted && n.size_fits)
        .collect();
    let now: Vec<String> = candidates
        .iter()
        .filter(|n| n.available && n.free_gpus >= wanted && n.room_fits)
        .map(|n| n.name.to_string())
        .collect();
    if !now.is_empty() {
        return check(Fit::Now { nodes: now });
    }
    let why = if candidates.iter().all(|n| !n.available) {
        WaitReason::NodesUnavailable {
            nodes: candidates.iter().map(|n| n.name.to_string()).collect(),
        }
    } else if candidates
        .iter()
        .any(|n| n.available && n.free_gpus >= wanted)
    {
        WaitReason::CpuOrMemory
    } else {
        let model = Some(valid.request.gpu_model.clone()).filter(|m| !m.is_empty());
        WaitReason::GpusInUse { model }
    };
    check(Fit::Waits { why, ahead })
}

#[cfg(test)]
mod tests {
    use frontend::contract::workloads::NewWorkload;
    use serde_json::json;

    use super::*;
    use crate::cluster::accounting::GPU_PRODUCT_LABEL;
    use crate::workloads::validate::validate;

    fn node(
        name: &str,
        gpus: u32,
        model: &str,
        ready: bool,
        taints: serde_json::Value,
    ) -> Arc<Node> {
        Arc::new(serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {GPU_PRODUCT_LABEL: model}},
            "spec": {"taints": taints},
            "status": {"allocatable": {"nvidia.com/gpu": gpus.to_string(), "cpu": "8", "memory": "32Gi"},
                       "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]}
        })).unwrap())
    }

    fn gpu_pod(name: &str, node: Option<&str>, gpus: u32) -> Arc<Pod> {
        Arc::new(serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "ai"},
            "spec": {"nodeName": node, "containers": [{"name": "c", "resources": {"limits": {"nvidia.com/gpu": gpus.to_string()}}}]},
            "status": {"phase": if node.is_some() { "Running" } else { "Pending" }}
        })).unwrap())
    }

    fn lab() -> Vec<Arc<Node>> {
        vec![
            node(
                "cluster-master",
                0,
                "",
                true,
                json!([{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]),
            ),
            node("node-110", 1, "GTX-1080-Ti", true, json!([])),
            node("node-109", 1, "GTX-1080-Ti", true, json!([])),
            node("ai-gpu-flask2", 1, "Tesla-T4", false, json!([])),
        ]
    }

    fn check(
        request: NewWorkload,
        nodes: &[Arc<Node>],
        pods: &[Arc<Pod>],
        quotas: &[Arc<ResourceQuota>],
    ) -> Fit {
        let valid = validate(&request, None).expect("valid");
        fit(
            &valid,
            &FitInput {
                nodes,
                load: &PodLoad::of(pods),
                quotas,
                priority_classes: &[],
            },
        )
        .fit
    }

    fn job(gpus: f64, model: &str) -> NewWorkload {
        NewWorkload {
            name: "j".into(),
            namespace: "ai".into(),
            image: "busybox".into(),
            gpus,
            gpu_model: model.into(),
            ..NewWorkload::default()
        }
    }

    #[test]
    fn fits_now_waits_and_never_as_the_seeds_lab_would_say() {
        let nodes = lab();
        assert_eq!(
            check(job(1.0, ""), &nodes, &[], &[]),
            Fit::Now {
                nodes: vec!["node-110".into(), "node-109".into()]
            }
        );
        // The seeds' 2x2 pod: no node has two.
        assert_eq!(
            check(job(2.0, ""), &nodes, &[], &[]),
            Fit::Never {
                why: NeverReason::TooManyGpus {
                    wanted: 2,
                    largest: 1
                }
            }
        );
        assert_eq!(
            check(job(1.0, "A100"), &nodes, &[], &[]),
            Fit::Never {
                why: NeverReason::NoSuchModel {
                    model: "A100".into()
                }
            }
        );
        // Both 1080 Ti taken, one pod already waiting.
        let pods = vec![
            gpu_pod("a", Some("node-110"), 1),
            gpu_pod("b", Some("node-109"), 1),
            gpu_pod("c", None, 1),
        ];
        assert_eq!(
            check(job(1.0, "GTX-1080-Ti"), &nodes, &pods, &[]),
            Fit::Waits {
                why: WaitReason::GpusInUse {
                    model: Some("GTX-1080-Ti".into())
                },
                ahead: 1
            }
        );
        // The T4's node is NotReady.
        assert_eq!(
            check(job(1.0, "Tesla-T4"), &nodes, &[], &[]),
            Fit::Waits {
                why: WaitReason::NodesUnavailable {
                    nodes: vec!["ai-gpu-flask2".into()]
                },
                ahead: 0
            }
        );
        assert_eq!(
            check(
                NewWorkload {
                    cpu: "64".into(),
                    ..job(1.0, "")
                },
                &nodes,
                &[],
                &[]
            ),
            Fit::Never {
                why: NeverReason::TooLargeForNodes
            }
        );
    }

    #[test]
    fn the_namespace_quota_holds_work_back_or_can_never_allow_it() {
        let quota: Arc<ResourceQuota> = Arc::new(serde_json::from_value(json!({
            "metadata": {"name": "gpu-quota", "namespace": "ai"},
            "spec": {"hard": {"requests.nvidia.com/gpu": "2"}},
            "status": {"hard": {"requests.nvidia.com/gpu": "2"}, "used": {"requests.nvidia.com/gpu": "2"}}
        })).unwrap());
        let nodes = vec![node("big", 4, "A100", true, json!([]))];
        assert_eq!(
            check(job(1.0, ""), &nodes, &[], std::slice::from_ref(&quota)),
            Fit::Waits {
                why: WaitReason::Quota {
                    quota: "gpu-quota".into(),
                    used: 2,
                    hard: 2
                },
                ahead: 0
            }
        );
        // A roomy quota beside a small one: the small one decides.
        let roomy: Arc<ResourceQuota> = Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": "roomy", "namespace": "ai"},
                "spec": {"hard": {"requests.nvidia.com/gpu": "10"}},
                "status": {"used": {"requests.nvidia.com/gpu": "9"}}
            }))
            .unwrap(),
        );
        assert_eq!(
            check(job(3.0, ""), &nodes, &[], &[roomy, quota.clone()]),
            Fit::Never {
                why: NeverReason::QuotaTooSmall {
                    quota: "gpu-quota".into(),
                    hard: 2
                }
            }
        );
        assert_eq!(
            check(job(3.0, ""), &nodes, &[], &[quota]),
            Fit::Never {
                why: NeverReason::QuotaTooSmall {
                    quota: "gpu-quota".into(),
                    hard: 2
                }
            }
        );
    }
}
