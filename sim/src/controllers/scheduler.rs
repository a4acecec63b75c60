//! The scheduler: binds each unscheduled pod to a node where it fits (allocatable cpu, memory,
//! pods and extended resources such as `nvidia.com/gpu`, less what the node's non-terminated pods
//! request; nodeSelector; required node affinity; taints and tolerations), or leaves it Pending
//! with a `FailedScheduling` event in the real message shape.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Value, json};

use super::events;
use crate::quantity;
use crate::resources::by_kind;
use crate::store::{Store, meta_str, now_rfc3339};

/// The effective request of a pod per resource: max(sum of app containers, max of init containers).
pub fn effective_requests(pod: &Value) -> BTreeMap<String, f64> {
    let requests = |c: &Value| -> BTreeMap<String, f64> {
        c["resources"]["requests"]
            .as_object()
            .map(|r| {
                r.iter()
                    .filter_map(|(k, v)| Some((k.clone(), quantity::parse(v.as_str()?)?)))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut sum: BTreeMap<String, f64> = BTreeMap::new();
    for c in pod["spec"]["containers"].as_array().into_iter().flatten() {
        for (k, v) in requests(c) {
            *sum.entry(k).or_default() += v;
        }
    }
    for c in pod["spec"]["initContainers"]
        .as_array()
        .into_iter()
        .flatten()
    {
        for (k, v) in requests(c) {
            let e = sum.entry(k).or_default();
            *e = e.max(v);
        }
    }
    sum
}

pub fn is_terminated(pod: &Value) -> bool {
    matches!(
        pod["status"]["phase"].as_str(),
        Some("Succeeded") | Some("Failed")
    )
}

fn tolerates(pod: &Value, taint: &Value) -> bool {
    pod["spec"]["tolerations"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|t| {
            let key_ok = t["key"]
                .as_str()
                .is_none_or(|k| k.is_empty() || k == taint["key"].as_str().unwrap_or(""));
            let effect_ok = t["effect"]
                .as_str()
                .is_none_or(|e| e.is_empty() || e == taint["effect"].as_str().unwrap_or(""));
            let value_ok = match t["operator"].as_str().unwrap_or("Equal") {
                "Exists" => true,
                _ => t["value"].as_str().unwrap_or("") == taint["value"].as_str().unwrap_or(""),
            };
            let empty_key_needs_exists =
                !t["key"].as_str().unwrap_or("").is_empty() || t["operator"] == "Exists";
            key_ok && effect_ok && value_ok && empty_key_needs_exists
        })
}

fn label_matches_expression(labels: &Value, expr: &Value) -> bool {
    let key = expr["key"].as_str().unwrap_or("");
    let value = labels.get(key).and_then(Value::as_str);
    let values: Vec<&str> = expr["values"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    match expr["operator"].as_str().unwrap_or("") {
        "In" => value.is_some_and(|v| values.contains(&v)),
        "NotIn" => !value.is_some_and(|v| values.contains(&v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => {
            let (Some(v), Some(bound)) = (
                value.and_then(|v| v.parse::<i64>().ok()),
                values.first().and_then(|b| b.parse::<i64>().ok()),
            ) else {
                return false;
            };
            if expr["operator"] == "Gt" {
                v > bound
            } else {
                v < bound
            }
        }
        _ => false,
    }
}

fn matches_node_selection(pod: &Value, node: &Value) -> bool {
    let labels = &node["metadata"]["labels"];
    let selector_ok = pod["spec"]["nodeSelector"]
        .as_object()
        .is_none_or(|sel| sel.iter().all(|(k, v)| labels.get(k) == Some(v)));
    let terms = pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"].as_array();
    let affinity_ok = terms.is_none_or(|terms| {
        terms.iter().any(|term| {
            term["matchExpressions"]
                .as_array()
                .into_iter()
                .flatten()
                .all(|e| label_matches_expression(labels, e))
        })
    });
    selector_ok && affinity_ok
}

/// Why a pod does not fit a node: the reasons of the first filter that failed.
fn misfit(
    pod: &Value,
    node: &Value,
    used: &BTreeMap<String, f64>,
    pod_count: usize,
) -> Vec<String> {
    if node["spec"]["unschedulable"] == true {
        return vec!["node(s) were unschedulable".into()];
    }
    for taint in node["spec"]["taints"].as_array().into_iter().flatten() {
        let effect = taint["effect"].as_str().unwrap_or("");
        if (effect == "NoSchedule" || effect == "NoExecute") && !tolerates(pod, taint) {
            return vec![format!(
                "node(s) had untolerated taint {{{}: {}}}",
                taint["key"].as_str().unwrap_or(""),
                taint["value"].as_str().unwrap_or("")
            )];
        }
    }
    if !matches_node_selection(pod, node) {
        return vec!["node(s) didn't match Pod's node affinity/selector".into()];
    }
    let allocatable = &node["status"]["allocatable"];
    let mut reasons = Vec::new();
    let max_pods = allocatable["pods"]
        .as_str()
        .and_then(quantity::parse)
        .unwrap_or(110.0);
    if pod_count as f64 + 1.0 > max_pods {
        reasons.push("Too many pods".to_string());
    }
    for (res, want) in effective_requests(pod) {
        if want <= 0.0 {
            continue;
        }
        let have = allocatable[&res]
            .as_str()
            .and_then(quantity::parse)
            .unwrap_or(0.0);
        if want + used.get(&res).copied().unwrap_or(0.0) > have + 1e-9 {
            reasons.push(format!("Insufficient {res}"));
        }
    }
    reasons
}

/// The FailedScheduling message: `0/N nodes are available: <count> <reason>, ... preemption: ...`.
pub fn failed_scheduling_message(total: usize, per_node: &[Vec<String>]) -> String {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    let mut preempt_not_helpful = 0;
    for reasons in per_node {
        for r in reasons {
            *counts.entry(r.as_str()).or_default() += 1;
        }
        if !reasons
            .iter()
            .any(|r| r.starts_with("Insufficient") || r == "Too many pods")
        {
            preempt_not_helpful += 1;
        }
    }
    let mut parts: Vec<String> = counts.iter().map(|(r, n)| format!("{n} {r}")).collect();
    parts.sort();
    let mut preempt = Vec::new();
    if preempt_not_helpful > 0 {
        preempt.push(format!(
            "{preempt_not_helpful} Preemption is not helpful for scheduling"
        ));
    }
    let victims = per_node.len() - preempt_not_helpful;
    if victims > 0 {
        preempt.push(format!(
            "{victims} No preemption victims found for incoming pod"
        ));
    }
    preempt.sort();
    format!(
        "0/{total} nodes are available: {}. preemption: 0/{total} nodes are available: {}.",
        parts.join(", "),
        preempt.join(", ")
    )
}

/// Requests in use per node by its non-terminated pods, and their count.
fn usage(store: &Store) -> HashMap<String, (BTreeMap<String, f64>, usize)> {
    let mut out: HashMap<String, (BTreeMap<String, f64>, usize)> = HashMap::new();
    for pod in store.list(by_kind("Pod"), None) {
        let node = pod["spec"]["nodeName"].as_str().unwrap_or("");
        if node.is_empty() || is_terminated(&pod) {
            continue;
        }
        let entry = out.entry(node.to_string()).or_default();
        for (k, v) in effective_requests(&pod) {
            *entry.0.entry(k).or_default() += v;
        }
        entry.1 += 1;
    }
    out
}

/// Where a pod goes (the best node), or why each node turned it down.
type Verdict = (Option<String>, Vec<Vec<String>>);

/// What of a pod decides where it fits: its (init) containers' resources, tolerations, node
/// selector and affinity.
fn scheduling_shape(pod: &Value) -> String {
    let spec = &pod["spec"];
    let resources = |list: &Value| -> Vec<Value> {
        list.as_array()
            .into_iter()
            .flatten()
            .map(|c| c["resources"].clone())
            .collect()
    };
    json!([
        resources(&spec["containers"]),
        resources(&spec["initContainers"]),
        spec["tolerations"],
        spec["nodeSelector"],
        spec["affinity"],
    ])
    .to_string()
}

/// The node with the most free GPUs (then the least CPU in use) that takes `pod`, or every
/// node's reasons for turning it down.
fn place(
    pod: &Value,
    nodes: &[std::sync::Arc<Value>],
    used: &HashMap<String, (BTreeMap<String, f64>, usize)>,
) -> Verdict {
    let mut per_node = Vec::new();
    let mut best: Option<(f64, &str)> = None;
    for node in nodes {
        let name = meta_str(node, "name");
        let (u, count) = used.get(name).cloned().unwrap_or_default();
        let reasons = misfit(pod, node, &u, count);
        if reasons.is_empty() {
            let free_gpu = node["status"]["allocatable"]["nvidia.com/gpu"]
                .as_str()
                .and_then(quantity::parse)
                .unwrap_or(0.0)
                - u.get("nvidia.com/gpu").copied().unwrap_or(0.0);
            let score = free_gpu * 1000.0 - u.get("cpu").copied().unwrap_or(0.0);
            if best.is_none_or(|(s, _)| score > s) {
                best = Some((score, name));
            }
        } else {
            per_node.push(reasons);
        }
    }
    (best.map(|(_, n)| n.to_string()), per_node)
}

/// Last FailedScheduling message per pod uid, so an unchanged verdict is not re-recorded every tick.
#[derive(Default)]
pub struct Scheduler {
    last_verdict: HashMap<String, (String, std::time::Instant)>,
}

impl Scheduler {
    pub fn run(&mut self, store: &mut Store) {
        let pending: Vec<Value> = store
            .list(by_kind("Pod"), None)
            .into_iter()
            .filter(|p| {
                p["spec"]["nodeName"].as_str().unwrap_or("").is_empty() && !is_terminated(p)
            })
            .map(|p| (*p).clone())
            .collect();
        if pending.is_empty() {
            self.last_verdict.clear();
            return;
        }
        let nodes = store.list(by_kind("Node"), None);
        let mut used = usage(store);
        let mut ordered = pending;
        // The scheduling queue's order: higher priority first, then the older pod.
        ordered.sort_by(|a, b| {
            let priority = |p: &Value| p["spec"]["priority"].as_i64().unwrap_or(0);
            priority(b).cmp(&priority(a)).then_with(|| {
                a["metadata"]["creationTimestamp"]
                    .as_str()
                    .cmp(&b["metadata"]["creationTimestamp"].as_str())
            })
        });
        // Pods that ask the same of a node get the same verdict until a bind changes the nodes'
        // use: a thousand identical pending pods cost one pass over the nodes, not a thousand.
        let mut verdicts: HashMap<String, Verdict> = HashMap::new();
        for pod in ordered {
            let shape = scheduling_shape(&pod);
            let (best, per_node) = verdicts
                .entry(shape)
                .or_insert_with(|| place(&pod, &nodes, &used))
                .clone();
            let uid = meta_str(&pod, "uid").to_string();
            match best {
                Some(node) => {
                    let entry = used.entry(node.clone()).or_default();
                    for (k, v) in effective_requests(&pod) {
                        *entry.0.entry(k).or_default() += v;
                    }
                    entry.1 += 1;
                    verdicts.clear();
                    self.last_verdict.remove(&uid);
                    bind(store, pod, &node);
                }
                None => {
                    let message = failed_scheduling_message(nodes.len(), &per_node);
                    let fresh = self
                        .last_verdict
                        .get(&uid)
                        .is_none_or(|(m, at)| *m != message || at.elapsed().as_secs() >= 10);
                    if fresh {
                        self.last_verdict
                            .insert(uid, (message.clone(), std::time::Instant::now()));
                        mark_unschedulable(store, pod, &message);
                    }
                }
            }
        }
    }
}

fn set_condition(pod: &mut Value, cond: Value) {
    let conds = pod["status"]["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut conds: Vec<Value> = conds
        .into_iter()
        .filter(|c| c["type"] != cond["type"])
        .collect();
    conds.push(cond);
    pod["status"]["conditions"] = json!(conds);
}

fn bind(store: &mut Store, mut pod: Value, node: &str) {
    pod["spec"]["nodeName"] = json!(node);
    set_condition(
        &mut pod,
        json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": now_rfc3339()}),
    );
    let msg = format!(
        "Successfully assigned {}/{} to {node}",
        meta_str(&pod, "namespace"),
        meta_str(&pod, "name")
    );
    if let Ok(bound) = store.update(by_kind("Pod"), pod, None) {
        events::record(
            store,
            &bound,
            "Normal",
            "Scheduled",
            &msg,
            "default-scheduler",
            None,
        );
    }
}

fn mark_unschedulable(store: &mut Store, mut pod: Value, message: &str) {
    set_condition(
        &mut pod,
        json!({"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message, "lastProbeTime": null, "lastTransitionTime": now_rfc3339()}),
    );
    if let Ok(p) = store.update(by_kind("Pod"), pod, None) {
        events::record(
            store,
            &p,
            "Warning",
            "FailedScheduling",
            message,
            "default-scheduler",
            None,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_matches_the_scheduler_shape() {
        let per_node = vec![
            vec![
                "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"
                    .to_string(),
            ],
            vec!["Insufficient nvidia.com/gpu".to_string()],
            vec!["Insufficient nvidia.com/gpu".to_string()],
        ];
        assert_eq!(
            failed_scheduling_message(3, &per_node),
            "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 Insufficient nvidia.com/gpu. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod."
        );
    }

    #[test]
    fn effective_request_takes_init_containers_max() {
        let pod = json!({"spec": {
            "containers": [{"resources": {"requests": {"nvidia.com/gpu": "1", "cpu": "500m"}}}, {"resources": {"requests": {"nvidia.com/gpu": "1"}}}],
            "initContainers": [{"resources": {"requests": {"cpu": "2"}}}]}});
        let r = effective_requests(&pod);
        assert_eq!(r["nvidia.com/gpu"], 2.0);
        assert_eq!(r["cpu"], 2.0);
    }

    #[test]
    fn taints_need_tolerations_and_selectors_must_match() {
        let node = json!({"metadata": {"labels": {"gpu": "t4"}}, "spec": {"taints": [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]}, "status": {"allocatable": {"pods": "110"}}});
        let plain = json!({"spec": {"containers": []}});
        assert!(
            misfit(&plain, &node, &BTreeMap::new(), 0)[0]
                .contains("untolerated taint {nvidia.com/gpu: present}")
        );
        let tolerant = json!({"spec": {"containers": [], "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}], "nodeSelector": {"gpu": "a100"}}});
        assert_eq!(
            misfit(&tolerant, &node, &BTreeMap::new(), 0),
            vec!["node(s) didn't match Pod's node affinity/selector"]
        );
    }
}
