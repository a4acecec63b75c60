//! The GPU queue in `squeue`'s manner, from the shared watch cache (no API call per view): one row
//! per pod that asks for GPUs, pending ones first in the scheduler's order (higher priority, then
//! older) with their position and parsed reason, running ones with their GPUs' utilization from
//! the exporters, then the finished. Jobs that have no pod because their namespace's GPU quota is
//! full (the Job controller's `FailedCreate`) come after the scheduler's queue, with the quota
//! that holds them. Names are hidden where the user may not list pods.

use std::collections::HashMap;
use std::sync::Arc;

use frontend::contract::workloads::{
    OWNER_LABEL, Queue, QueueRow, QuotaHold, WORKLOAD_LABEL, WorkloadKind, WorkloadState,
};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Node, Pod, ResourceQuota};

use super::{detail, fit, reasons};
use crate::cluster::accounting::{GPU_PRODUCT_LABEL, gpu_model, node_of, pod_gpus, spec_gpus};
use crate::cluster::permissions::PodVisibility;
use crate::telemetry::TelemetrySnapshot;

/// The figures a queue is made from.
pub struct QueueInput<'a> {
    pub pods: &'a [Arc<Pod>],
    pub jobs: &'a [Arc<Job>],
    pub quotas: &'a [Arc<ResourceQuota>],
    pub nodes: &'a [Arc<Node>],
    pub telemetry: &'a TelemetrySnapshot,
    pub visible: &'a PodVisibility,
    /// The signed-in user's owner label value.
    pub owner: &'a str,
    pub now: jiff::Timestamp,
}

fn state(pod: &Pod) -> WorkloadState {
    match pod.status.as_ref().and_then(|s| s.phase.as_deref()) {
        Some("Running") => WorkloadState::Running,
        Some("Succeeded") => WorkloadState::Succeeded,
        Some("Failed") => WorkloadState::Failed,
        _ => WorkloadState::Pending,
    }
}

/// The workload a pod belongs to: its Job, its workspace, or itself.
fn workload_of(pod: &Pod) -> (String, Option<WorkloadKind>) {
    let meta = &pod.metadata;
    let owner = meta
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true));
    if let Some(o) = owner.filter(|o| o.kind == "Job") {
        return (o.name.clone(), Some(WorkloadKind::Job));
    }
    if let Some(w) = meta.labels.as_ref().and_then(|l| l.get(WORKLOAD_LABEL)) {
        return (w.clone(), Some(WorkloadKind::Workspace));
    }
    (meta.name.clone().unwrap_or_default(), None)
}

/// The pod's `PodScheduled=False` message, if the scheduler has turned it down.
fn unschedulable_message(pod: &Pod) -> Option<&str> {
    pod.status
        .as_ref()?
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "PodScheduled" && c.status == "False")?
        .message
        .as_deref()
}

/// Mean utilization of the GPUs the exporters attribute to `namespace/pod`.
fn utilization(
    telemetry: &TelemetrySnapshot,
    node: &str,
    namespace: &str,
    pod: &str,
) -> Option<f64> {
    let answer = telemetry.get(node)?.last_good.as_ref()?;
    let values: Vec<f64> = answer
        .gpus
        .iter()
        .filter(|g| {
            g.pods
                .iter()
                .any(|p| p.namespace == namespace && p.pod == pod)
        })
        .filter_map(|g| g.fields.utilization_percent)
        .collect();
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// Who submitted it, where gpuboard did (its owner label).
fn owner_of(meta: &kube::api::ObjectMeta) -> Option<String> {
    meta.labels.as_ref()?.get(OWNER_LABEL).cloned()
}

/// The Jobs that ask for GPUs, are not suspended, have no pod, and whose namespace's GPU quota
/// has no room for one: the quota holds them back (what the Job controller's `FailedCreate`
/// says; read from the cached quota's figures, so no event list per view).
fn held_jobs(input: &QueueInput) -> Vec<QueueRow> {
    let with_pods: std::collections::HashSet<&str> = input
        .pods
        .iter()
        .flat_map(|p| p.metadata.owner_references.iter().flatten())
        .filter(|o| o.kind == "Job")
        .map(|o| o.uid.as_str())
        .collect();
    let mut rows = Vec::new();
    for job in input.jobs {
        let gpus = job
            .spec
            .as_ref()
            .and_then(|s| s.template.spec.as_ref())
            .map_or(0, spec_gpus);
        let meta = &job.metadata;
        let namespace = meta.namespace.clone().unwrap_or_default();
        let suspended = job.spec.as_ref().and_then(|s| s.suspend) == Some(true);
        if gpus == 0
            || suspended
            || detail::job_outcome(job).is_some()
            || meta.deletion_timestamp.is_some()
            || meta
                .uid
                .as_deref()
                .is_some_and(|uid| with_pods.contains(uid))
        {
            continue;
        }
        let full = fit::gpu_quotas(&namespace, input.quotas)
            .into_iter()
            .find(|(_, used, hard)| used + u64::from(gpus) > *hard);
        let Some((quota, used, hard)) = full else {
            continue;
        };
        let shown = input.visible.shows(&namespace);
        let owner = owner_of(meta);
        let created = meta.creation_timestamp.as_ref().map(|t| t.0);
        let spec = job.spec.as_ref().and_then(|s| s.template.spec.as_ref());
        rows.push(QueueRow {
            mine: !input.owner.is_empty() && owner.as_deref() == Some(input.owner),
            name: shown.then(|| meta.name.clone().unwrap_or_default()),
            pod: None,
            kind: Some(WorkloadKind::Job),
            owner: if shown { owner } else { None },
            gpus,
            model: spec
                .and_then(|s| s.node_selector.as_ref())
                .and_then(|s| s.get(GPU_PRODUCT_LABEL))
                .cloned(),
            state: WorkloadState::Pending,
            node: None,
            created: created.map(|c| c.to_string()).unwrap_or_default(),
            age_seconds: seconds_since(created.as_ref(), input.now),
            priority: spec.and_then(|s| s.priority).unwrap_or(0),
            position: None,
            reason: None,
            utilization: None,
            held_by_quota: Some(QuotaHold { quota, used, hard }),
            namespace,
        });
    }
    rows
}

fn seconds_since(created: Option<&jiff::Timestamp>, now: jiff::Timestamp) -> i64 {
    created.map_or(0, |c| (now.as_second() - c.as_second()).max(0))
}

/// The queue as `input` shows it.
pub fn queue(input: &QueueInput) -> Queue {
    let models: HashMap<&str, &str> = input
        .nodes
        .iter()
        .filter_map(|n| Some((n.metadata.name.as_deref()?, gpu_model(n)?)))
        .collect();
    // Sorted by namespace and name first: the stable sort below keeps that order among equals,
    // hidden names included.
    let mut pods: Vec<&Arc<Pod>> = input.pods.iter().filter(|p| pod_gpus(p) > 0).collect();
    pods.sort_by(|a, b| {
        (&a.metadata.namespace, &a.metadata.name).cmp(&(&b.metadata.namespace, &b.metadata.name))
    });
    let mut rows: Vec<QueueRow> = pods
        .into_iter()
        .map(|pod| {
            let meta = &pod.metadata;
            let namespace = meta.namespace.clone().unwrap_or_default();
            let shown = input.visible.shows(&namespace);
            let pod_name = meta.name.clone().unwrap_or_default();
            let node = node_of(pod).map(String::from);
            let spec = pod.spec.as_ref();
            let model = node
                .as_deref()
                .and_then(|n| models.get(n).map(|m| m.to_string()))
                .or_else(|| {
                    spec?
                        .node_selector
                        .as_ref()?
                        .get(GPU_PRODUCT_LABEL)
                        .cloned()
                });
            let state = state(pod);
            let (name, kind) = workload_of(pod);
            let owner = owner_of(meta);
            let created = meta.creation_timestamp.as_ref().map(|t| t.0);
            let reason = (state == WorkloadState::Pending && node.is_none())
                .then(|| unschedulable_message(pod).map(reasons::parse))
                .flatten();
            let utilization = match (&node, state) {
                (Some(n), WorkloadState::Running) => {
                    utilization(input.telemetry, n, &namespace, &pod_name)
                }
                _ => None,
            };
            QueueRow {
                mine: !input.owner.is_empty() && owner.as_deref() == Some(input.owner),
                name: shown.then_some(name),
                pod: shown.then_some(pod_name),
                kind,
                owner: if shown { owner } else { None },
                gpus: pod_gpus(pod),
                model,
                state,
                node,
                created: created.map(|c| c.to_string()).unwrap_or_default(),
                age_seconds: seconds_since(created.as_ref(), input.now),
                priority: spec.and_then(|s| s.priority).unwrap_or(0),
                position: None,
                reason,
                utilization,
                held_by_quota: None,
                namespace,
            }
        })
        .collect();
    let mut held = held_jobs(input);
    held.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    rows.extend(held);
    order(&mut rows);
    let mut queue = Queue::default();
    for row in &rows {
        match row.state {
            WorkloadState::Pending => {
                queue.pending += 1;
                queue.gpus_waiting += row.gpus;
            }
            WorkloadState::Running => {
                queue.running += 1;
                queue.gpus_running += row.gpus;
            }
            _ => {}
        }
    }
    queue.rows = rows;
    queue
}

/// Pending (unbound) first in the scheduler's order, numbered; then Jobs the quota holds back,
/// oldest first; then bound pending and running, oldest first; then the finished, newest first. A stable sort: equals keep the order they came
/// in (namespace and pod), so rows do not move between refreshes.
fn order(rows: &mut [QueueRow]) {
    let group = |r: &QueueRow| match (r.state, r.node.is_some()) {
        _ if r.held_by_quota.is_some() => 1,
        (WorkloadState::Pending, false) => 0,
        (WorkloadState::Pending, true) | (WorkloadState::Running, _) => 2,
        _ => 3,
    };
    rows.sort_by(|a, b| {
        group(a).cmp(&group(b)).then_with(|| match group(a) {
            0 => b
                .priority
                .cmp(&a.priority)
                .then_with(|| a.created.cmp(&b.created)),
            1 | 2 => a.created.cmp(&b.created),
            _ => b.created.cmp(&a.created),
        })
    });
    for (i, row) in rows.iter_mut().take_while(|r| group(r) == 0).enumerate() {
        row.position = Some(i as u32 + 1);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn pod(
        name: &str,
        ns: &str,
        gpus: u32,
        priority: i32,
        created: &str,
        node: Option<&str>,
        phase: &str,
    ) -> Arc<Pod> {
        let mut value = serde_json::json!({
            "metadata": {"name": name, "namespace": ns, "creationTimestamp": created,
                         "labels": {OWNER_LABEL: "alice"}},
            "spec": {"priority": priority, "containers": [{"name": "main",
                     "resources": {"limits": {"nvidia.com/gpu": gpus.to_string()}}}]},
            "status": {"phase": phase}
        });
        if let Some(n) = node {
            value["spec"]["nodeName"] = serde_json::json!(n);
        } else {
            value["status"]["conditions"] = serde_json::json!([{"type": "PodScheduled", "status": "False",
                "reason": "Unschedulable", "message": "0/6 nodes are available: 6 Insufficient nvidia.com/gpu."}]);
        }
        Arc::new(serde_json::from_value(value).expect("a pod"))
    }

    fn run(pods: &[Arc<Pod>], visible: PodVisibility, owner: &str) -> Queue {
        let telemetry: TelemetrySnapshot = Arc::new(HashMap::new());
        queue(&QueueInput {
            pods,
            jobs: &[],
            quotas: &[],
            nodes: &[],
            telemetry: &telemetry,
            visible: &visible,
            owner,
            now: "2026-11-24T12:00:00Z".parse().unwrap(),
        })
    }

    #[test]
    fn pending_pods_are_numbered_by_priority_then_age_and_running_ones_follow() {
        let pods = vec![
            pod(
                "running",
                "ai",
                1,
                0,
                "2026-11-24T10:00:00Z",
                Some("node-110"),
                "Running",
            ),
            pod(
                "old-low",
                "ai",
                1,
                0,
                "2026-11-24T09:00:00Z",
                None,
                "Pending",
            ),
            pod(
                "new-high",
                "ai",
                2,
                1000,
                "2026-11-24T11:00:00Z",
                None,
                "Pending",
            ),
            pod(
                "newer-low",
                "ai",
                1,
                0,
                "2026-11-24T11:30:00Z",
                None,
                "Pending",
            ),
            pod(
                "cpu-only",
                "ai",
                0,
                0,
                "2026-11-24T11:30:00Z",
                None,
                "Pending",
            ),
            pod(
                "done",
                "ai",
                1,
                0,
                "2026-11-24T08:00:00Z",
                Some("node-109"),
                "Succeeded",
            ),
        ];
        let q = run(&pods, PodVisibility::Everywhere, "alice");
        let order: Vec<(&str, Option<u32>)> = q
            .rows
            .iter()
            .map(|r| (r.pod.as_deref().unwrap(), r.position))
            .collect();
        assert_eq!(
            order,
            vec![
                ("new-high", Some(1)),
                ("old-low", Some(2)),
                ("newer-low", Some(3)),
                ("running", None),
                ("done", None),
            ]
        );
        assert_eq!(
            (q.pending, q.running, q.gpus_waiting, q.gpus_running),
            (3, 1, 4, 1)
        );
        assert_eq!(q.rows[1].age_seconds, 3 * 3600);
        assert!(q.rows.iter().all(|r| r.mine));
        let reason = q.rows[0].reason.as_ref().expect("a reason");
        assert_eq!(reason.counts[0].nodes, 6);
    }

    #[test]
    fn names_are_hidden_where_pods_may_not_be_listed_and_the_order_is_stable() {
        let pods = vec![
            pod("a", "team-a", 1, 0, "2026-11-24T09:00:00Z", None, "Pending"),
            pod("b", "ai", 1, 0, "2026-11-24T09:00:00Z", None, "Pending"),
        ];
        let visible = PodVisibility::In(BTreeSet::from(["ai".to_string()]));
        let q = run(&pods, visible.clone(), "bob");
        assert_eq!(q.rows[0].namespace, "ai");
        assert_eq!(q.rows[1].name, None);
        assert_eq!(q.rows[1].owner, None);
        assert!(q.rows.iter().all(|r| !r.mine));
        let reversed: Vec<Arc<Pod>> = pods.iter().rev().cloned().collect();
        assert_eq!(run(&reversed, visible, "bob").rows, q.rows);
    }

    #[test]
    fn a_job_the_quota_holds_back_is_listed_with_its_quota_after_the_schedulers_queue() {
        let job = |name: &str, gpus: u32, status: serde_json::Value| -> Arc<Job> {
            Arc::new(
                serde_json::from_value(serde_json::json!({
                    "metadata": {"name": name, "namespace": "ai", "uid": format!("uid-{name}"),
                                 "creationTimestamp": "2026-11-24T11:00:00Z"},
                    "spec": {"template": {"spec": {"containers": [{"name": "main",
                        "resources": {"limits": {"nvidia.com/gpu": gpus.to_string()}}}]}}},
                    "status": status,
                }))
                .unwrap(),
            )
        };
        let quota: Arc<ResourceQuota> = Arc::new(
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": "gpu-quota", "namespace": "ai"},
                "spec": {"hard": {"requests.nvidia.com/gpu": "2"}},
                "status": {"hard": {"requests.nvidia.com/gpu": "2"}, "used": {"requests.nvidia.com/gpu": "2"}},
            }))
            .unwrap(),
        );
        let jobs = vec![
            job("held", 1, serde_json::json!({})),
            job("cpu", 0, serde_json::json!({})),
            job(
                "done",
                1,
                serde_json::json!({"conditions": [{"type": "Complete", "status": "True"}]}),
            ),
        ];
        let pods = vec![pod(
            "waiting",
            "ai",
            1,
            0,
            "2026-11-24T10:00:00Z",
            None,
            "Pending",
        )];
        let telemetry: TelemetrySnapshot = Arc::new(HashMap::new());
        let q = queue(&QueueInput {
            pods: &pods,
            jobs: &jobs,
            quotas: std::slice::from_ref(&quota),
            nodes: &[],
            telemetry: &telemetry,
            visible: &PodVisibility::Everywhere,
            owner: "",
            now: "2026-11-24T12:00:00Z".parse().unwrap(),
        });
        let names: Vec<_> = q.rows.iter().map(|r| r.name.clone().unwrap()).collect();
        assert_eq!(names, ["waiting", "held"]);
        let held = &q.rows[1];
        assert_eq!(held.position, None);
        assert_eq!(
            held.held_by_quota,
            Some(QuotaHold {
                quota: "gpu-quota".into(),
                used: 2,
                hard: 2
            })
        );
        // With room in the quota, a Job without a pod is only between its controller's steps.
        let roomy: Arc<ResourceQuota> = Arc::new({
            let mut q = (*quota).clone();
            q.spec.as_mut().unwrap().hard.as_mut().unwrap().insert(
                "requests.nvidia.com/gpu".into(),
                k8s_openapi::apimachinery::pkg::api::resource::Quantity("8".into()),
            );
            q
        });
        let q = queue(&QueueInput {
            pods: &pods,
            jobs: &jobs,
            quotas: &[roomy],
            nodes: &[],
            telemetry: &telemetry,
            visible: &PodVisibility::Everywhere,
            owner: "",
            now: "2026-11-24T12:00:00Z".parse().unwrap(),
        });
        assert_eq!(q.rows.len(), 1);
    }
}
