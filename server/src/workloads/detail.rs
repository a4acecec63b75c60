//! One Job or workspace as its page shows it: the object, its pods and the events of both, read
//! with the user's token (so RBAC decides), and the state they make together: the Job's or pods'
//! phase, every container's state and last run, and each problem explained ([`Explanation`]),
//! the seeds' "finished program under `restartPolicy: Always`" among them.

use frontend::contract::PageError;
use frontend::contract::workload_detail::{
    Condition, ContainerRow, ContainerState, EventRow, EventType, Explanation, PodRow, Termination,
    WorkloadDetail,
};
use frontend::contract::workloads::{OWNER_LABEL, WORKLOAD_LABEL, WorkloadKind, WorkloadState};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{
    ContainerStateTerminated, ContainerStatus, Event, Pod, PodTemplateSpec, Service,
};
use kube::Api;
use kube::api::ListParams;

use super::clone;
use crate::cluster::accounting::{GPU_PRODUCT_LABEL, spec_gpus};
use crate::cluster::refusal::page_error;

/// Event reads (one per object) in flight at once.
const CONCURRENT_EVENT_READS: usize = 8;

/// The object a workload name stands for.
#[derive(Debug, Clone)]
pub enum Found {
    Job(Box<Job>),
    Workspace {
        deployment: Box<Deployment>,
        /// The Service gpuboard made beside it, if any.
        service: Option<Box<Service>>,
    },
}

impl Found {
    fn kind(&self) -> WorkloadKind {
        match self {
            Found::Job(_) => WorkloadKind::Job,
            Found::Workspace { .. } => WorkloadKind::Workspace,
        }
    }

    fn meta(&self) -> &kube::api::ObjectMeta {
        match self {
            Found::Job(job) => &job.metadata,
            Found::Workspace { deployment, .. } => &deployment.metadata,
        }
    }

    fn template(&self) -> Option<&PodTemplateSpec> {
        match self {
            Found::Job(job) => job.spec.as_ref().map(|s| &s.template),
            Found::Workspace { deployment, .. } => Some(&deployment.spec.template),
        }
    }

    /// Whether gpuboard made it (its workload label names it).
    pub fn made_by_gpuboard(&self) -> bool {
        let meta = self.meta();
        meta.labels
            .as_ref()
            .and_then(|l| l.get(WORKLOAD_LABEL))
            .is_some_and(|w| Some(w) == meta.name.as_ref())
    }

    /// The object as events name it.
    fn reference(&self) -> EventSource {
        let kind = match self {
            Found::Job(_) => "Job",
            Found::Workspace { .. } => "Deployment",
        };
        EventSource::of(kind, self.meta())
    }
}

/// An object whose events are read: its kind, name and uid (a recreated object of the same name
/// does not inherit its predecessor's events).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSource {
    kind: String,
    name: String,
    uid: String,
}

impl EventSource {
    fn of(kind: &str, meta: &kube::api::ObjectMeta) -> Self {
        EventSource {
            kind: kind.to_string(),
            name: meta.name.clone().unwrap_or_default(),
            uid: meta.uid.clone().unwrap_or_default(),
        }
    }

    fn field_selector(&self) -> String {
        let mut fields = format!(
            "involvedObject.kind={},involvedObject.name={}",
            self.kind, self.name
        );
        if !self.uid.is_empty() {
            fields.push_str(&format!(",involvedObject.uid={}", self.uid));
        }
        fields
    }
}

/// The most pods a page reads (the newest [`WorkloadDetail::MAX_PODS`] are shown).
const POD_READ_LIMIT: u32 = 500;

/// The Job `namespace/name`, else the Deployment (with gpuboard's Service beside it).
pub async fn find(client: &kube::Client, namespace: &str, name: &str) -> Result<Found, PageError> {
    let jobs = Api::<Job>::namespaced(client.clone(), namespace);
    if let Some(job) = jobs.get_opt(name).await.map_err(page_error)? {
        return Ok(Found::Job(Box::new(job)));
    }
    let deployments = Api::<Deployment>::namespaced(client.clone(), namespace);
    let Some(deployment) = deployments.get_opt(name).await.map_err(page_error)? else {
        return Err(PageError::NotFound(format!(
            "no Job or Deployment named {name} in {namespace}"
        )));
    };
    let services = Api::<Service>::namespaced(client.clone(), namespace);
    // A user who may not read Services still sees the workspace, without its ports.
    let service = match services.get_opt(name).await {
        Ok(service) => service.filter(|s| {
            s.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(WORKLOAD_LABEL))
                .is_some_and(|w| w == name)
        }),
        Err(kube::Error::Api(s)) if s.code == 403 => None,
        Err(e) => return Err(page_error(e)),
    };
    Ok(Found::Workspace {
        deployment: Box::new(deployment),
        service: service.map(Box::new),
    })
}

/// The label selector the object's pods carry (its `matchLabels`); None when it has none.
fn selector(found: &Found) -> Option<String> {
    let labels = match found {
        Found::Job(job) => job
            .spec
            .as_ref()
            .and_then(|s| s.selector.as_ref())
            .and_then(|s| s.match_labels.clone()),
        Found::Workspace { deployment, .. } => deployment.spec.selector.match_labels.clone(),
    }
    .filter(|l| !l.is_empty())?;
    Some(
        labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(","),
    )
}

/// Whether `pod` is the Job's own (its controller is the Job's uid); a Deployment's pods are
/// owned by its ReplicaSets, so its selector decides.
fn owned_by(found: &Found, pod: &Pod) -> bool {
    let Found::Job(job) = found else {
        return true;
    };
    let Some(uid) = job.metadata.uid.as_deref() else {
        return true;
    };
    pod.metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.controller == Some(true) && o.uid == uid)
}

/// The object's pods, newest first (at most [`POD_READ_LIMIT`] are read).
pub async fn pods_of(
    client: &kube::Client,
    namespace: &str,
    found: &Found,
) -> Result<Vec<Pod>, PageError> {
    let Some(selector) = selector(found) else {
        return Ok(Vec::new());
    };
    let pods = Api::<Pod>::namespaced(client.clone(), namespace);
    let mut list: Vec<Pod> = pods
        .list(
            &ListParams::default()
                .labels(&selector)
                .limit(POD_READ_LIMIT),
        )
        .await
        .map_err(page_error)?
        .items
        .into_iter()
        .filter(|p| owned_by(found, p))
        .collect();
    list.sort_by(|a, b| {
        let created = |p: &Pod| p.metadata.creation_timestamp.as_ref().map(|t| t.0);
        created(b)
            .cmp(&created(a))
            .then_with(|| a.metadata.name.cmp(&b.metadata.name))
    });
    Ok(list)
}

/// The events about `objects`, merged; none where the user may not list events.
pub async fn events_of(
    client: &kube::Client,
    namespace: &str,
    objects: Vec<EventSource>,
) -> Result<Vec<Event>, PageError> {
    let events = Api::<Event>::namespaced(client.clone(), namespace);
    let answers: Vec<Result<Vec<Event>, kube::Error>> = futures::stream::iter(objects)
        .map(|object| {
            let events = events.clone();
            async move {
                let fields = object.field_selector();
                Ok(events
                    .list(&ListParams::default().fields(&fields))
                    .await?
                    .items)
            }
        })
        .buffered(CONCURRENT_EVENT_READS)
        .collect()
        .await;
    let mut merged = Vec::new();
    for answer in answers {
        match answer {
            Ok(items) => merged.extend(items),
            Err(kube::Error::Api(s)) if s.code == 403 => return Ok(Vec::new()),
            Err(e) => return Err(page_error(e)),
        }
    }
    Ok(merged)
}

/// What events are read for: the object, its shown pods, and the Service.
pub fn event_sources(found: &Found, pods: &[Pod]) -> Vec<EventSource> {
    let mut objects = vec![found.reference()];
    objects.extend(
        pods.iter()
            .take(WorkloadDetail::MAX_PODS)
            .map(|p| EventSource::of("Pod", &p.metadata)),
    );
    if let Found::Workspace {
        service: Some(s), ..
    } = found
    {
        objects.push(EventSource::of("Service", &s.metadata));
    }
    objects
}

fn time(t: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>) -> String {
    t.map(|t| t.0.to_string()).unwrap_or_default()
}

fn termination(t: &ContainerStateTerminated) -> Termination {
    Termination {
        reason: t.reason.clone().unwrap_or_default(),
        exit_code: t.exit_code,
        message: t.message.clone().unwrap_or_default(),
        finished: time(t.finished_at.as_ref()),
    }
}

fn container_state(status: Option<&ContainerStatus>) -> ContainerState {
    let Some(state) = status.and_then(|s| s.state.as_ref()) else {
        return ContainerState::Unknown;
    };
    if let Some(w) = &state.waiting {
        ContainerState::Waiting {
            reason: w.reason.clone().unwrap_or_default(),
            message: w.message.clone().unwrap_or_default(),
        }
    } else if let Some(r) = &state.running {
        ContainerState::Running {
            started: time(r.started_at.as_ref()),
        }
    } else if let Some(t) = &state.terminated {
        ContainerState::Terminated {
            termination: termination(t),
        }
    } else {
        ContainerState::Unknown
    }
}

/// A pod's row: its containers in spec order, each with its status.
pub fn pod_row(pod: &Pod) -> PodRow {
    let status = pod.status.as_ref();
    let statuses = status
        .and_then(|s| s.container_statuses.as_deref())
        .unwrap_or_default();
    let containers = pod
        .spec
        .iter()
        .flat_map(|s| &s.containers)
        .map(|c| {
            let cs = statuses.iter().find(|s| s.name == c.name);
            ContainerRow {
                name: c.name.clone(),
                image: c.image.clone().unwrap_or_default(),
                state: container_state(cs),
                ready: cs.is_some_and(|s| s.ready),
                restarts: cs.map_or(0, |s| s.restart_count),
                last_termination: cs
                    .and_then(|s| s.last_state.as_ref()?.terminated.as_ref())
                    .map(termination),
            }
        })
        .collect();
    PodRow {
        name: pod.metadata.name.clone().unwrap_or_default(),
        node: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
        phase: status.and_then(|s| s.phase.clone()).unwrap_or_default(),
        created: time(pod.metadata.creation_timestamp.as_ref()),
        containers,
        conditions: status
            .iter()
            .flat_map(|s| s.conditions.iter().flatten())
            .map(|c| Condition {
                kind: c.type_.clone(),
                status: c.status.clone(),
                reason: c.reason.clone().unwrap_or_default(),
                message: c.message.clone().unwrap_or_default(),
            })
            .collect(),
    }
}

/// An event's row; its time is when it last happened.
pub fn event_row(event: &Event) -> EventRow {
    let object = &event.involved_object;
    let at = event
        .last_timestamp
        .as_ref()
        .map(|t| t.0)
        .or(event.event_time.as_ref().map(|t| t.0))
        .or(event.first_timestamp.as_ref().map(|t| t.0))
        .or(event.metadata.creation_timestamp.as_ref().map(|t| t.0));
    EventRow {
        at: at.map(|t| t.to_string()).unwrap_or_default(),
        kind: if event.type_.as_deref() == Some("Warning") {
            EventType::Warning
        } else {
            EventType::Normal
        },
        reason: event.reason.clone().unwrap_or_default(),
        object: format!(
            "{}/{}",
            object.kind.as_deref().unwrap_or_default(),
            object.name.as_deref().unwrap_or_default()
        ),
        message: event.message.clone().unwrap_or_default(),
        count: event.count.unwrap_or(1),
    }
}

/// The problems of one pod's containers.
fn pod_explanations(pod: &Pod) -> Vec<Explanation> {
    let spec = pod.spec.as_ref();
    let restart_always = spec
        .and_then(|s| s.restart_policy.as_deref())
        .is_none_or(|p| p == "Always");
    let pod_name = pod.metadata.name.clone().unwrap_or_default();
    let memory_limit = |container: &str| {
        let spec = spec?;
        spec.containers
            .iter()
            .chain(spec.init_containers.iter().flatten())
            .find(|c| c.name == container)?
            .resources
            .as_ref()?
            .limits
            .as_ref()?
            .get("memory")
            .map(|q| q.0.clone())
    };
    let mut out = Vec::new();
    let status = pod.status.as_ref();
    if let Some(reason) = status
        .and_then(|s| s.reason.as_deref())
        .filter(|r| !r.is_empty())
    {
        out.push(Explanation::PodStopped {
            pod: pod_name.clone(),
            reason: reason.to_string(),
            message: status.and_then(|s| s.message.clone()).unwrap_or_default(),
        });
    }
    let statuses = status.iter().flat_map(|s| {
        s.init_container_statuses
            .iter()
            .flatten()
            .chain(s.container_statuses.iter().flatten())
    });
    for cs in statuses {
        let (pod, container) = (pod_name.clone(), cs.name.clone());
        let last = cs.last_state.as_ref().and_then(|s| s.terminated.as_ref());
        let state = cs.state.as_ref();
        if let Some(waiting) = state.and_then(|s| s.waiting.as_ref()) {
            let reason = waiting.reason.as_deref().unwrap_or_default();
            let message = waiting.message.clone().unwrap_or_default();
            match reason {
                "CrashLoopBackOff" => out.push(match last {
                    Some(t) if t.reason.as_deref() == Some("OOMKilled") => {
                        Explanation::OutOfMemory {
                            memory_limit: memory_limit(&container),
                            pod,
                            container,
                        }
                    }
                    Some(t) if t.exit_code == 0 && restart_always => {
                        Explanation::FinishedUnderAlways {
                            pod,
                            container,
                            exit_code: 0,
                        }
                    }
                    _ => Explanation::CrashLoop {
                        exit_code: last.map(|t| t.exit_code),
                        restarts: cs.restart_count,
                        pod,
                        container,
                    },
                }),
                "ImagePullBackOff" | "ErrImagePull" | "InvalidImageName" | "ErrImageNeverPull" => {
                    out.push(Explanation::ImagePull {
                        image: cs.image.clone(),
                        pod,
                        container,
                        message,
                    })
                }
                "CreateContainerConfigError" | "CreateContainerError" | "RunContainerError" => out
                    .push(Explanation::CannotStart {
                        reason: reason.to_string(),
                        pod,
                        container,
                        message,
                    }),
                _ => {}
            }
        } else if let Some(t) = state.and_then(|s| s.terminated.as_ref()) {
            if t.reason.as_deref() == Some("OOMKilled") {
                out.push(Explanation::OutOfMemory {
                    memory_limit: memory_limit(&container),
                    pod,
                    container,
                });
            } else if t.exit_code != 0 {
                out.push(Explanation::ExitedWithError {
                    exit_code: t.exit_code,
                    message: t.message.clone().unwrap_or_default(),
                    pod,
                    container,
                });
            }
        } else if last.is_some_and(|t| t.reason.as_deref() == Some("OOMKilled")) {
            // Running again after the kernel killed its last run.
            out.push(Explanation::OutOfMemory {
                memory_limit: memory_limit(&container),
                pod,
                container,
            });
        }
    }
    out
}

/// The Job's own problems: it gave up, or its pod may not be made.
fn job_explanations(job: &Job, events: &[Event]) -> Vec<Explanation> {
    let status = job.status.as_ref();
    let spec = job.spec.as_ref();
    let mut out = Vec::new();
    let failed_condition = status
        .iter()
        .flat_map(|s| s.conditions.iter().flatten())
        .find(|c| c.type_ == "Failed" && c.status == "True");
    match failed_condition.and_then(|c| c.reason.as_deref()) {
        Some("BackoffLimitExceeded") => out.push(Explanation::BackoffLimitExceeded {
            failed: status.and_then(|s| s.failed).unwrap_or(0),
            limit: spec.and_then(|s| s.backoff_limit).unwrap_or(6),
        }),
        Some("DeadlineExceeded") => out.push(Explanation::DeadlineExceeded {
            seconds: spec.and_then(|s| s.active_deadline_seconds).unwrap_or(0),
        }),
        _ => {}
    }
    let active = status.and_then(|s| s.active).unwrap_or(0);
    if active == 0 && job_outcome(job).is_none() {
        // Refused by the quota and still without a pod: the newest refusal says why.
        let refusal = events
            .iter()
            .filter(|e| e.involved_object.kind.as_deref() == Some("Job"))
            .filter(|e| e.reason.as_deref() == Some("FailedCreate"))
            .filter(|e| {
                e.message
                    .as_deref()
                    .is_some_and(|m| m.contains("exceeded quota"))
            })
            .max_by_key(|e| e.last_timestamp.as_ref().map(|t| t.0));
        if let Some(e) = refusal {
            let message = e.message.clone().unwrap_or_default();
            let quota = match super::submit::parse_quota_refusal(&message) {
                Some(frontend::contract::Refusal::QuotaExceeded(q)) => q.quota,
                _ => String::new(),
            };
            out.push(Explanation::QuotaRefused { quota, message });
        }
    }
    out
}

fn pod_phase(pod: &Pod) -> Option<&str> {
    pod.status.as_ref()?.phase.as_deref()
}

/// How a Job ended, by its conditions (`Complete` or `SuccessCriteriaMet`, `Failed` or
/// `FailureTarget`); None while it runs or waits.
pub fn job_outcome(job: &Job) -> Option<WorkloadState> {
    let conditions = job
        .status
        .iter()
        .flat_map(|s| s.conditions.iter().flatten());
    for c in conditions.filter(|c| c.status == "True") {
        match c.type_.as_str() {
            "Complete" | "SuccessCriteriaMet" => return Some(WorkloadState::Succeeded),
            "Failed" | "FailureTarget" => return Some(WorkloadState::Failed),
            _ => {}
        }
    }
    None
}

/// One state for the whole: a Job by its conditions, then its pods; a workspace by its pods.
fn state(found: &Found, pods: &[Pod]) -> WorkloadState {
    if let Found::Job(job) = found
        && let Some(outcome) = job_outcome(job)
    {
        return outcome;
    }
    if pods.iter().any(|p| pod_phase(p) == Some("Running")) {
        WorkloadState::Running
    } else {
        WorkloadState::Pending
    }
}

fn conditions(found: &Found) -> Vec<Condition> {
    let convert =
        |kind: &str, status: &str, reason: Option<&String>, message: Option<&String>| Condition {
            kind: kind.to_string(),
            status: status.to_string(),
            reason: reason.cloned().unwrap_or_default(),
            message: message.cloned().unwrap_or_default(),
        };
    match found {
        Found::Job(job) => job
            .status
            .iter()
            .flat_map(|s| s.conditions.iter().flatten())
            .map(|c| convert(&c.type_, &c.status, c.reason.as_ref(), c.message.as_ref()))
            .collect(),
        Found::Workspace { deployment, .. } => deployment
            .status
            .iter()
            .flat_map(|s| s.conditions.iter().flatten())
            .map(|c| {
                convert(
                    c.type_.as_deref().unwrap_or_default(),
                    c.status.as_deref().unwrap_or_default(),
                    c.reason.as_ref(),
                    c.message.as_ref(),
                )
            })
            .collect(),
    }
}

/// Running, succeeded and failed pods (a Job's counts; a workspace's ready replicas).
fn counts(found: &Found) -> (i32, i32, i32) {
    match found {
        Found::Job(job) => job.status.as_ref().map_or((0, 0, 0), |s| {
            (
                s.active.unwrap_or(0),
                s.succeeded.unwrap_or(0),
                s.failed.unwrap_or(0),
            )
        }),
        Found::Workspace { deployment, .. } => (
            deployment
                .status
                .as_ref()
                .and_then(|s| s.ready_replicas)
                .unwrap_or(0),
            0,
            0,
        ),
    }
}

/// The page's data from what was read; the parts that need the cache, the telemetry or an
/// access review (position, GPUs, addresses, `may_delete`) are the caller's to fill.
pub fn detail(found: &Found, pods: &[Pod], events: &[Event]) -> WorkloadDetail {
    let meta = found.meta();
    let spec = found.template().and_then(|t| t.spec.as_ref());
    let mut explanations = match found {
        Found::Job(job) => job_explanations(job, events),
        Found::Workspace { .. } => Vec::new(),
    };
    // The newest pod is the one that matters now; older ones are history.
    if let Some(newest) = pods.first() {
        explanations.extend(pod_explanations(newest));
    }
    let mut rows: Vec<EventRow> = events.iter().map(event_row).collect();
    rows.sort_by(|a, b| a.at.cmp(&b.at));
    let keep_from = rows.len().saturating_sub(WorkloadDetail::MAX_EVENTS);
    let (active, succeeded, failed) = counts(found);
    WorkloadDetail {
        kind: found.kind(),
        namespace: meta.namespace.clone().unwrap_or_default(),
        name: meta.name.clone().unwrap_or_default(),
        owner: meta
            .labels
            .as_ref()
            .and_then(|l| l.get(OWNER_LABEL))
            .cloned(),
        created: time(meta.creation_timestamp.as_ref()),
        age_seconds: meta.creation_timestamp.as_ref().map_or(0, |t| {
            (jiff::Timestamp::now().as_second() - t.0.as_second()).max(0)
        }),
        state: state(found, pods),
        gpus: spec.map_or(0, spec_gpus),
        model: spec
            .and_then(|s| s.node_selector.as_ref())
            .and_then(|s| s.get(GPU_PRODUCT_LABEL))
            .cloned(),
        active,
        succeeded,
        failed,
        conditions: conditions(found),
        pods: pods
            .iter()
            .take(WorkloadDetail::MAX_PODS)
            .map(pod_row)
            .collect(),
        more_pods: pods.len().saturating_sub(WorkloadDetail::MAX_PODS),
        explanations,
        position: None,
        pending_reason: None,
        gpu_cards: Vec::new(),
        exposed: Vec::new(),
        events: rows.split_off(keep_from),
        may_delete: false,
        form: clone::form_of(found),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(restart_policy: &str, status: serde_json::Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "ai", "creationTimestamp": "2026-11-24T10:00:00Z"},
            "spec": {"restartPolicy": restart_policy, "containers": [{"name": "main", "image": "busybox",
                "resources": {"limits": {"memory": "1Gi"}}}]},
            "status": status,
        }))
        .unwrap()
    }

    fn crash_loop(last: serde_json::Value) -> serde_json::Value {
        json!({"phase": "Running", "containerStatuses": [{"name": "main", "image": "busybox", "imageID": "",
            "ready": false, "restartCount": 4,
            "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s restarting failed container"}},
            "lastState": {"terminated": last}}]})
    }

    #[test]
    fn a_finished_program_under_always_is_the_seeds_case_not_a_crash() {
        let done = json!({"exitCode": 0, "reason": "Completed"});
        assert_eq!(
            pod_explanations(&pod("Always", crash_loop(done.clone()))),
            vec![Explanation::FinishedUnderAlways {
                pod: "p".into(),
                container: "main".into(),
                exit_code: 0
            }]
        );
        // A loop of non-zero exits is a failing program.
        let failing = json!({"exitCode": 2, "reason": "Error"});
        assert_eq!(
            pod_explanations(&pod("Always", crash_loop(failing))),
            vec![Explanation::CrashLoop {
                pod: "p".into(),
                container: "main".into(),
                exit_code: Some(2),
                restarts: 4
            }]
        );
        let oom = json!({"exitCode": 137, "reason": "OOMKilled"});
        assert_eq!(
            pod_explanations(&pod("Always", crash_loop(oom))),
            vec![Explanation::OutOfMemory {
                pod: "p".into(),
                container: "main".into(),
                memory_limit: Some("1Gi".into())
            }]
        );
    }

    #[test]
    fn pull_errors_and_failed_runs_are_named() {
        let pulling = json!({"phase": "Pending", "containerStatuses": [{"name": "main", "image": "tensorflow/tensorflw",
            "imageID": "", "ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image"}}}]});
        assert!(matches!(
            &pod_explanations(&pod("Never", pulling))[..],
            [Explanation::ImagePull { image, .. }] if image == "tensorflow/tensorflw"
        ));
        let failed = json!({"phase": "Failed", "containerStatuses": [{"name": "main", "image": "busybox",
            "imageID": "", "ready": false, "restartCount": 0,
            "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}]});
        assert!(matches!(
            &pod_explanations(&pod("Never", failed))[..],
            [Explanation::ExitedWithError { exit_code: 1, .. }]
        ));
        let fine = json!({"phase": "Succeeded", "containerStatuses": [{"name": "main", "image": "busybox",
            "imageID": "", "ready": false, "restartCount": 0,
            "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]});
        assert!(pod_explanations(&pod("Never", fine)).is_empty());
    }

    fn job(status: serde_json::Value) -> Job {
        serde_json::from_value(json!({
            "metadata": {"name": "tf", "namespace": "ai"},
            "spec": {"backoffLimit": 0, "activeDeadlineSeconds": 60,
                "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "busybox"}]}}},
            "status": status,
        }))
        .unwrap()
    }

    fn event(kind: &str, reason: &str, message: &str, at: &str) -> Event {
        serde_json::from_value(json!({
            "metadata": {"name": format!("e.{at}"), "namespace": "ai"},
            "involvedObject": {"kind": kind, "name": "tf", "namespace": "ai"},
            "reason": reason, "message": message, "type": "Warning", "lastTimestamp": at, "count": 1,
        }))
        .unwrap()
    }

    #[test]
    fn a_job_that_gave_up_or_is_held_by_quota_says_so() {
        let gave_up = job(json!({"failed": 1, "conditions": [
            {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]}));
        assert_eq!(
            job_explanations(&gave_up, &[]),
            vec![Explanation::BackoffLimitExceeded {
                failed: 1,
                limit: 0
            }]
        );
        let late = job(json!({"conditions": [
            {"type": "Failed", "status": "True", "reason": "DeadlineExceeded"}]}));
        assert_eq!(
            job_explanations(&late, &[]),
            vec![Explanation::DeadlineExceeded { seconds: 60 }]
        );
        let quota = "pods \"tf-abc\" is forbidden: exceeded quota: gpu-quota, requested: requests.nvidia.com/gpu=1, used: requests.nvidia.com/gpu=2, limited: requests.nvidia.com/gpu=2";
        let events = [
            event(
                "Job",
                "FailedCreate",
                "an older refusal: exceeded quota",
                "2026-11-24T10:00:00Z",
            ),
            event("Job", "FailedCreate", quota, "2026-11-24T10:05:00Z"),
        ];
        assert_eq!(
            job_explanations(&job(json!({})), &events),
            vec![Explanation::QuotaRefused {
                quota: "gpu-quota".into(),
                message: quota.into()
            }]
        );
        // Once its pod is made, the old refusals are history.
        assert!(job_explanations(&job(json!({"active": 1})), &events).is_empty());
    }

    #[test]
    fn the_state_follows_the_jobs_conditions_then_its_pods() {
        let done = Found::Job(Box::new(job(
            json!({"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}),
        )));
        assert_eq!(state(&done, &[]), WorkloadState::Succeeded);
        let running = Found::Job(Box::new(job(json!({"active": 1}))));
        let pods = [pod("Never", json!({"phase": "Running"}))];
        assert_eq!(state(&running, &pods), WorkloadState::Running);
        assert_eq!(state(&running, &[]), WorkloadState::Pending);
    }

    #[test]
    fn events_are_read_by_uid_so_a_recreated_name_starts_clean() {
        let found = Found::Job(Box::new(job(json!({}))));
        let mut pod = pod("Never", json!({}));
        pod.metadata.uid = Some("pod-uid".into());
        let sources = event_sources(&found, &[pod]);
        assert_eq!(
            sources[1].field_selector(),
            "involvedObject.kind=Pod,involvedObject.name=p,involvedObject.uid=pod-uid"
        );
        // Without a uid (never from the API server) the name alone still selects.
        assert_eq!(
            sources[0].field_selector(),
            "involvedObject.kind=Job,involvedObject.name=tf"
        );
    }

    #[test]
    fn a_jobs_pods_are_its_own_and_a_deployment_without_labels_selects_none() {
        let mut owned = job(json!({}));
        owned.metadata.uid = Some("job-uid".into());
        let found = Found::Job(Box::new(owned));
        let with_owner = |uid: &str| -> Pod {
            serde_json::from_value(json!({"metadata": {"name": "p", "ownerReferences": [
                {"apiVersion": "batch/v1", "kind": "Job", "name": "tf", "uid": uid, "controller": true}]}}))
            .unwrap()
        };
        assert!(owned_by(&found, &with_owner("job-uid")));
        assert!(!owned_by(&found, &with_owner("an-older-job")));
        let deployment: Deployment = serde_json::from_value(json!({
            "metadata": {"name": "lab"},
            "spec": {"selector": {"matchExpressions": [{"key": "app", "operator": "Exists"}]},
                     "template": {"spec": {"containers": []}}}}))
        .unwrap();
        let workspace = Found::Workspace {
            deployment: Box::new(deployment),
            service: None,
        };
        assert_eq!(selector(&workspace), None);
    }

    #[test]
    fn events_are_merged_by_time_newest_last() {
        let found = Found::Job(Box::new(job(json!({}))));
        let events = [
            event("Pod", "Started", "b", "2026-11-24T10:02:00Z"),
            event("Job", "SuccessfulCreate", "a", "2026-11-24T10:01:00Z"),
        ];
        let d = detail(&found, &[], &events);
        let order: Vec<&str> = d.events.iter().map(|e| e.reason.as_str()).collect();
        assert_eq!(order, ["SuccessfulCreate", "Started"]);
        assert_eq!(d.events[1].object, "Pod/tf");
        assert_eq!(d.events[1].kind, EventType::Warning);
    }
}
