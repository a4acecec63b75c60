//! The GPU queue in `squeue`'s manner, from the shared watch cache (no API call per view): one row
//! per pod that asks for GPUs, pending ones first in the scheduler's order (higher priority, then
//! older) with their position and parsed reason, running ones with their GPUs' utilization from
//! the exporters, then the finished. Jobs that have no pod because their namespace's GPU quota is
//! full (the Job controller's `FailedCreate`) come after the scheduler's queue, with the quota
//! that holds them. Names are hidden where the user may not list pods.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use frontend::contract::workloads::{
    OWNER_LABEL, PendingReason, QUEUE_PAGE_SIZE, Queue, QueueQuery, QueueRow, QuotaHold,
    WORKLOAD_LABEL, WorkloadKind, WorkloadState,
};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Node, Pod, PodSpec, ResourceQuota};

use super::{detail, fit, reasons};
use crate::cluster::accounting::{
    GPU_PRODUCT_LABEL, gpu_model, is_active, node_of, pod_gpus, spec_gpus, waits_for_scheduler,
};
use crate::cluster::permissions::PodVisibility;
use crate::telemetry::TelemetrySnapshot;

/// The figures a queue is made from.
pub struct QueueInput<'a> {
    /// The pods that ask for GPUs (others may be among them; they are not in the queue). A
    /// Job's pods ask for what its template does (unless admission rewrites them), so these
    /// also say which Jobs have a pod.
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

/// Where an entry sorts: the scheduler's queue first, then Jobs the quota holds back, then
/// what is on a node (bound pending, running), then the finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Group {
    Waiting,
    HeldByQuota,
    OnANode,
    Finished,
}

/// What a row is made from.
enum Source<'a> {
    Pod(&'a Pod),
    HeldJob(&'a Job, QuotaHold),
}

/// One pod (or held Job) placed in the queue: what ordering, counting and filtering need,
/// before its row is made (only the rows of the page asked for are).
struct Entry<'a> {
    source: Source<'a>,
    group: Group,
    state: WorkloadState,
    gpus: u32,
    priority: i32,
    created: Option<jiff::Timestamp>,
    mine: bool,
}

impl Entry<'_> {
    fn meta(&self) -> &kube::api::ObjectMeta {
        match &self.source {
            Source::Pod(pod) => &pod.metadata,
            Source::HeldJob(job, _) => &job.metadata,
        }
    }

    fn namespace_and_name(&self) -> (&str, &str) {
        let meta = self.meta();
        (
            meta.namespace.as_deref().unwrap_or(""),
            meta.name.as_deref().unwrap_or(""),
        )
    }
}

/// Which rows of the queue to make.
pub enum Rows<'a> {
    /// One page, of the user's own rows when the query says so.
    Page(&'a QueueQuery),
    /// The head of the queue (waiting in the scheduler's order, then held by quota) and the
    /// running, `n` of each (the overview's panel).
    Head(usize),
}

fn is_mine(input: &QueueInput, meta: &kube::api::ObjectMeta) -> bool {
    !input.owner.is_empty() && owner_of(meta).as_deref() == Some(input.owner)
}

fn pod_entry<'a>(input: &QueueInput, pod: &'a Pod, gpus: u32) -> Entry<'a> {
    let state = state(pod);
    let group = if waits_for_scheduler(pod) {
        Group::Waiting
    } else if is_active(pod) {
        Group::OnANode
    } else {
        Group::Finished
    };
    Entry {
        group,
        state,
        gpus,
        priority: pod.spec.as_ref().and_then(|s| s.priority).unwrap_or(0),
        created: pod.metadata.creation_timestamp.as_ref().map(|t| t.0),
        mine: is_mine(input, &pod.metadata),
        source: Source::Pod(pod),
    }
}

/// The Jobs that ask for GPUs, are not suspended, have no pod, and whose namespace's GPU quota
/// has no room for one: the quota holds them back (what the Job controller's `FailedCreate`
/// says; read from the cached quota's figures, so no event list per view).
fn held_jobs<'a>(input: &QueueInput<'a>) -> Vec<Entry<'a>> {
    let with_pods: HashSet<&str> = input
        .pods
        .iter()
        .flat_map(|p| p.metadata.owner_references.iter().flatten())
        .filter(|o| o.kind == "Job")
        .map(|o| o.uid.as_str())
        .collect();
    let mut entries = Vec::new();
    for job in input.jobs {
        let spec = job.spec.as_ref().and_then(|s| s.template.spec.as_ref());
        let gpus = spec.map_or(0, spec_gpus);
        let meta = &job.metadata;
        let namespace = meta.namespace.as_deref().unwrap_or_default();
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
        let full = fit::gpu_quotas(namespace, input.quotas)
            .into_iter()
            .find(|(_, used, hard)| used + u64::from(gpus) > *hard);
        let Some((quota, used, hard)) = full else {
            continue;
        };
        entries.push(Entry {
            group: Group::HeldByQuota,
            state: WorkloadState::Pending,
            gpus,
            priority: spec.and_then(|s| s.priority).unwrap_or(0),
            created: meta.creation_timestamp.as_ref().map(|t| t.0),
            mine: is_mine(input, meta),
            source: Source::HeldJob(job, QuotaHold { quota, used, hard }),
        });
    }
    entries
}

/// Every pod that asks for GPUs and every held Job, in queue order: the scheduler's queue by
/// priority then age; held Jobs and what is on a node oldest first; the finished newest first.
/// Equals keep namespace and name order, so rows do not move between refreshes.
fn ordered<'a>(input: &QueueInput<'a>) -> Vec<Entry<'a>> {
    let mut entries: Vec<Entry> = input
        .pods
        .iter()
        .filter_map(|pod| {
            let gpus = pod_gpus(pod);
            (gpus > 0).then(|| pod_entry(input, pod, gpus))
        })
        .chain(held_jobs(input))
        .collect();
    entries.sort_by(|a, b| {
        a.group
            .cmp(&b.group)
            .then_with(|| match a.group {
                Group::Waiting => b
                    .priority
                    .cmp(&a.priority)
                    .then_with(|| a.created.cmp(&b.created)),
                Group::HeldByQuota | Group::OnANode => a.created.cmp(&b.created),
                Group::Finished => b.created.cmp(&a.created),
            })
            .then_with(|| a.namespace_and_name().cmp(&b.namespace_and_name()))
    });
    entries
}

fn seconds_since(created: Option<&jiff::Timestamp>, now: jiff::Timestamp) -> i64 {
    created.map_or(0, |c| (now.as_second() - c.as_second()).max(0))
}

/// The row of one entry; `position` is its place in the scheduler's queue.
fn row(
    input: &QueueInput,
    models: &HashMap<&str, &str>,
    entry: &Entry,
    position: Option<u32>,
) -> QueueRow {
    let meta = entry.meta();
    let namespace = meta.namespace.clone().unwrap_or_default();
    let shown = input.visible.shows(&namespace);
    let owner = owner_of(meta).filter(|_| shown);
    let mut row = QueueRow {
        mine: entry.mine,
        name: None,
        pod: None,
        kind: None,
        owner,
        gpus: entry.gpus,
        model: None,
        state: entry.state,
        node: None,
        created: entry.created.map(|c| c.to_string()).unwrap_or_default(),
        age_seconds: seconds_since(entry.created.as_ref(), input.now),
        priority: entry.priority,
        position,
        reason: None,
        utilization: None,
        held_by_quota: None,
        namespace,
    };
    let selector_model = |spec: Option<&PodSpec>| {
        spec?
            .node_selector
            .as_ref()?
            .get(GPU_PRODUCT_LABEL)
            .cloned()
    };
    match &entry.source {
        Source::Pod(pod) => {
            let (name, kind) = workload_of(pod);
            let pod_name = meta.name.clone().unwrap_or_default();
            let node = node_of(pod).map(String::from);
            row.model = node
                .as_deref()
                .and_then(|n| models.get(n).map(|m| m.to_string()))
                .or_else(|| selector_model(pod.spec.as_ref()));
            if entry.group == Group::Waiting {
                row.reason = unschedulable_message(pod).map(reasons::parse);
            }
            if let (Some(n), WorkloadState::Running) = (&node, entry.state) {
                row.utilization = utilization(input.telemetry, n, &row.namespace, &pod_name);
            }
            row.kind = kind;
            row.name = shown.then_some(name);
            row.pod = shown.then_some(pod_name);
            row.node = node;
        }
        Source::HeldJob(job, hold) => {
            let spec = job.spec.as_ref().and_then(|s| s.template.spec.as_ref());
            row.model = selector_model(spec);
            row.kind = Some(WorkloadKind::Job);
            row.name = shown.then(|| meta.name.clone().unwrap_or_default());
            row.held_by_quota = Some(hold.clone());
        }
    }
    row
}

/// The rows `rows` asks for, with the counts over the whole queue.
pub fn queue(input: &QueueInput, rows: Rows) -> Queue {
    let entries = ordered(input);
    let mut queue = Queue::default();
    for entry in &entries {
        match entry.state {
            WorkloadState::Pending => {
                queue.pending += 1;
                queue.gpus_waiting = queue.gpus_waiting.saturating_add(entry.gpus);
            }
            WorkloadState::Running => {
                queue.running += 1;
                queue.gpus_running = queue.gpus_running.saturating_add(entry.gpus);
            }
            _ => {}
        }
    }
    // The scheduler's queue comes first, so an entry's place there is its index.
    let numbered = entries
        .iter()
        .enumerate()
        .map(|(i, e)| (e.group == Group::Waiting).then_some(i as u32 + 1));
    let chosen: Vec<(&Entry, Option<u32>)> = match rows {
        Rows::Page(query) => {
            let kept: Vec<_> = entries
                .iter()
                .zip(numbered)
                .filter(|(e, _)| e.mine || !query.mine_only)
                .collect();
            queue.matching = kept.len();
            queue.page_size = QUEUE_PAGE_SIZE;
            queue.page = query
                .page
                .min(kept.len().saturating_sub(1) / QUEUE_PAGE_SIZE);
            kept.into_iter()
                .skip(queue.page * QUEUE_PAGE_SIZE)
                .take(QUEUE_PAGE_SIZE)
                .collect()
        }
        Rows::Head(n) => {
            queue.matching = entries.len();
            let all: Vec<_> = entries.iter().zip(numbered).collect();
            let waiting = all
                .iter()
                .filter(|(e, _)| matches!(e.group, Group::Waiting | Group::HeldByQuota))
                .take(n);
            let running = all
                .iter()
                .filter(|(e, _)| e.state == WorkloadState::Running)
                .take(n);
            waiting.chain(running).copied().collect()
        }
    };
    let models = models_of(input.nodes, chosen.iter().map(|(entry, _)| *entry));
    queue.rows = chosen
        .into_iter()
        .map(|(entry, position)| row(input, &models, entry, position))
        .collect();
    queue
}

/// The GPU model of each node that one of `entries` is on, from its label (only those nodes':
/// a page shows a few rows of a cluster of thousands of nodes).
fn models_of<'n, 'e: 'x, 'x>(
    nodes: &'n [Arc<Node>],
    entries: impl Iterator<Item = &'x Entry<'e>>,
) -> HashMap<&'n str, &'n str> {
    let on: HashSet<&str> = entries
        .filter_map(|entry| match entry.source {
            Source::Pod(pod) => node_of(pod),
            Source::HeldJob(..) => None,
        })
        .collect();
    if on.is_empty() {
        return HashMap::new();
    }
    nodes
        .iter()
        .filter_map(|n| n.metadata.name.as_deref().map(|name| (name, n)))
        .filter(|(name, _)| on.contains(name))
        .filter_map(|(name, n)| Some((name, gpu_model(n)?)))
        .collect()
}

/// The place in the scheduler's queue of the first of `pods` (pod names in `namespace`) that
/// waits there, and why it waits.
pub fn place_of(
    input: &QueueInput,
    namespace: &str,
    pods: &BTreeSet<&str>,
) -> Option<(u32, Option<PendingReason>)> {
    let entries = ordered(input);
    entries
        .iter()
        .take_while(|e| e.group == Group::Waiting)
        .enumerate()
        .find_map(|(i, e)| {
            let (ns, name) = e.namespace_and_name();
            let Source::Pod(pod) = e.source else {
                return None;
            };
            (ns == namespace && pods.contains(name))
                .then(|| (i as u32 + 1, unschedulable_message(pod).map(reasons::parse)))
        })
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

    fn input<'a>(
        pods: &'a [Arc<Pod>],
        visible: &'a PodVisibility,
        telemetry: &'a TelemetrySnapshot,
        owner: &'a str,
    ) -> QueueInput<'a> {
        QueueInput {
            pods,
            jobs: &[],
            quotas: &[],
            nodes: &[],
            telemetry,
            visible,
            owner,
            now: "2026-11-24T12:00:00Z".parse().unwrap(),
        }
    }

    fn run_rows(pods: &[Arc<Pod>], visible: PodVisibility, owner: &str, rows: Rows) -> Queue {
        let telemetry: TelemetrySnapshot = Arc::new(HashMap::new());
        queue(&input(pods, &visible, &telemetry, owner), rows)
    }

    /// The first page of the queue.
    fn run(pods: &[Arc<Pod>], visible: PodVisibility, owner: &str) -> Queue {
        run_rows(pods, visible, owner, Rows::Page(&QueueQuery::default()))
    }

    #[test]
    fn absurd_gpu_requests_saturate_the_totals_instead_of_wrapping() {
        let created = "2026-11-24T09:00:00Z";
        let pods = vec![
            pod("a", "ai", u32::MAX, 0, created, None, "Pending"),
            pod("b", "ai", u32::MAX, 0, created, None, "Pending"),
            pod("c", "ai", u32::MAX, 0, created, Some("node-110"), "Running"),
            pod("d", "ai", 2, 0, created, Some("node-110"), "Running"),
        ];
        let q = run(&pods, PodVisibility::Everywhere, "");
        assert_eq!((q.gpus_waiting, q.gpus_running), (u32::MAX, u32::MAX));
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
        let input = QueueInput {
            pods: &pods,
            jobs: &jobs,
            quotas: std::slice::from_ref(&quota),
            nodes: &[],
            telemetry: &telemetry,
            visible: &PodVisibility::Everywhere,
            owner: "",
            now: "2026-11-24T12:00:00Z".parse().unwrap(),
        };
        let q = queue(&input, Rows::Page(&QueueQuery::default()));
        let names: Vec<_> = q.rows.iter().map(|r| r.name.clone().unwrap()).collect();
        assert_eq!(names, ["waiting", "held"]);
        // The overview's head: the scheduler's queue, then what the quota holds back.
        let head = queue(&input, Rows::Head(5));
        let names: Vec<_> = head.rows.iter().map(|r| r.name.clone().unwrap()).collect();
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
        let q = queue(
            &QueueInput {
                pods: &pods,
                jobs: &jobs,
                quotas: &[roomy],
                nodes: &[],
                telemetry: &telemetry,
                visible: &PodVisibility::Everywhere,
                owner: "",
                now: "2026-11-24T12:00:00Z".parse().unwrap(),
            },
            Rows::Page(&QueueQuery::default()),
        );
        assert_eq!(q.rows.len(), 1);
    }

    #[test]
    fn a_page_holds_page_size_rows_of_what_the_query_keeps_and_the_counts_cover_all() {
        // 450 waiting pods, every other one alice's.
        let pods: Vec<Arc<Pod>> = (0..450)
            .map(|i| {
                let created = format!("2026-11-24T09:{:02}:{:02}Z", i / 60, i % 60);
                let mut p =
                    (*pod(&format!("p{i:03}"), "lab", 1, 0, &created, None, "Pending")).clone();
                if i % 2 == 1 {
                    p.metadata.labels = Some([(OWNER_LABEL.to_string(), "bob".to_string())].into());
                }
                Arc::new(p)
            })
            .collect();
        let page = |mine_only, page| {
            let query = QueueQuery { mine_only, page };
            run_rows(
                &pods,
                PodVisibility::Everywhere,
                "alice",
                Rows::Page(&query),
            )
        };

        let first = page(false, 0);
        assert_eq!(first.rows.len(), QUEUE_PAGE_SIZE);
        assert_eq!((first.matching, first.page, first.pending), (450, 0, 450));
        assert_eq!(first.rows[0].position, Some(1));
        let last = page(false, 2);
        assert_eq!(last.rows.len(), 50);
        assert_eq!(last.rows[0].position, Some(401));
        // Past the end: the last page.
        assert_eq!(page(false, 9).page, 2);

        let mine = page(true, 1);
        assert_eq!((mine.matching, mine.page, mine.rows.len()), (225, 1, 25));
        assert!(mine.rows.iter().all(|r| r.mine));
        // Alice's 201st pod is the queue's 401st.
        assert_eq!(mine.rows[0].position, Some(401));
        assert_eq!(mine.pending, 450, "the counts stay the whole queue's");
    }

    #[test]
    fn the_head_is_the_first_waiting_and_the_first_running_and_a_pod_knows_its_place() {
        let pods: Vec<Arc<Pod>> = (0..6)
            .map(|i| {
                let created = format!("2026-11-24T09:00:0{i}Z");
                let (node, phase) = if i < 3 {
                    (None, "Pending")
                } else {
                    (Some("n1"), "Running")
                };
                pod(&format!("p{i}"), "lab", 1, 0, &created, node, phase)
            })
            .collect();
        let head = run_rows(&pods, PodVisibility::Everywhere, "", Rows::Head(2));
        let names: Vec<_> = head.rows.iter().map(|r| r.pod.clone().unwrap()).collect();
        assert_eq!(names, ["p0", "p1", "p3", "p4"]);
        assert_eq!((head.pending, head.running), (3, 3));

        let telemetry: TelemetrySnapshot = Arc::new(HashMap::new());
        let visible = PodVisibility::Everywhere;
        let input = input(&pods, &visible, &telemetry, "");
        let (position, reason) = place_of(&input, "lab", &BTreeSet::from(["p2"])).expect("waits");
        assert_eq!(position, 3);
        assert!(reason.is_some_and(|r| r.raw.contains("Insufficient nvidia.com/gpu")));
        assert_eq!(
            place_of(&input, "lab", &BTreeSet::from(["p4"])),
            None,
            "p4 runs"
        );
        assert_eq!(place_of(&input, "other", &BTreeSet::from(["p2"])), None);
    }

    #[test]
    fn a_row_names_its_nodes_gpu_model_or_the_model_its_pod_selects() {
        let node = |name: &str, model: Option<&str>| -> Arc<Node> {
            let mut value = serde_json::json!({"metadata": {"name": name}});
            if let Some(model) = model {
                value["metadata"]["labels"] = serde_json::json!({GPU_PRODUCT_LABEL: model});
            }
            Arc::new(serde_json::from_value(value).expect("a node"))
        };
        let nodes = [
            node("n1", Some("Tesla-T4")),
            node("n2", None),
            node("n3", Some("NVIDIA-A100")),
        ];
        let at = "2026-11-24T09:00:00Z";
        let selecting = {
            let mut p = Arc::unwrap_or_clone(pod("wants-a100", "lab", 1, 0, at, None, "Pending"));
            let spec = p.spec.as_mut().expect("a spec");
            spec.node_selector =
                Some([(GPU_PRODUCT_LABEL.to_string(), "NVIDIA-A100".to_string())].into());
            Arc::new(p)
        };
        let pods = [
            pod("on-t4", "lab", 1, 0, at, Some("n1"), "Running"),
            pod("on-unlabelled", "lab", 1, 0, at, Some("n2"), "Running"),
            pod("anywhere", "lab", 1, 0, at, None, "Pending"),
            selecting,
        ];
        let telemetry: TelemetrySnapshot = Arc::new(HashMap::new());
        let visible = PodVisibility::Everywhere;
        let input = QueueInput {
            nodes: &nodes,
            ..input(&pods, &visible, &telemetry, "")
        };
        let models = |rows: Rows| -> Vec<(String, Option<String>)> {
            queue(&input, rows)
                .rows
                .into_iter()
                .map(|r| (r.pod.expect("shown"), r.model))
                .collect()
        };
        let expected =
            |name: &str, model: Option<&str>| (name.to_string(), model.map(String::from));
        assert_eq!(
            models(Rows::Page(&QueueQuery::default())),
            [
                expected("anywhere", None),
                expected("wants-a100", Some("NVIDIA-A100")),
                expected("on-t4", Some("Tesla-T4")),
                expected("on-unlabelled", None),
            ]
        );
        assert_eq!(
            models(Rows::Head(1)),
            [
                expected("anywhere", None),
                expected("on-t4", Some("Tesla-T4"))
            ]
        );
    }
}
