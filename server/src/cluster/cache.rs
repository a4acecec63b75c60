//! The shared watch cache: kube-rs reflectors over nodes, pods and the exporter's pods, held with
//! the server's own read-only identity. Pages read from it, so a page view costs no API call at
//! steady state; the watchers reconnect with back-off on their own and report what they do to
//! the cache's [`Link`], which says whether what the pages show is live. Each object is slimmed to
//! what the dashboard reads before it is stored (no managedFields, annotations, env, volumes,
//! images, and of a pod's or Job's labels only gpuboard's), so the cache's memory follows the
//! cluster's size, not its tenants' annotations and labels.
//! A generation number follows the pods, and one the nodes, so what is computed from all of
//! them can be kept until they change.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use frontend::contract::workloads::{OWNER_LABEL, WORKLOAD_LABEL};
use futures::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Container, Node, Pod, ResourceQuota};
use k8s_openapi::api::scheduling::v1::PriorityClass;
use kube::Api;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};

use super::link::{Link, watch_backoff};

/// How long a page waits for the first list after the server starts.
const FIRST_SYNC_WAIT: Duration = Duration::from_secs(10);

/// The cluster objects every page reads.
#[derive(Clone)]
pub struct ClusterCache {
    pub nodes: Store<Node>,
    pub pods: Store<Pod>,
    /// Pods labelled as the exporter's, in the exporter's namespace (telemetry's targets).
    pub exporter_pods: Store<Pod>,
    /// Every namespace's quotas (the fit check's `requests.nvidia.com/gpu` headroom).
    pub quotas: Store<ResourceQuota>,
    /// The cluster's PriorityClasses (the form's choices, the queue's order).
    pub priority_classes: Store<PriorityClass>,
    /// Every Job (the queue shows those its quota holds back before they have a pod).
    pub jobs: Store<Job>,
    /// Whether the watches and the API server answer: live, or stale since when.
    pub link: Link,
    /// Bumped after each change the pods' watch stores: what is computed from every pod can be
    /// kept until it moves.
    pods_generation: Arc<AtomicU64>,
    /// The same for the nodes.
    nodes_generation: Arc<AtomicU64>,
}

#[derive(Debug, thiserror::Error)]
#[error(
    "the dashboard's cache has not synced its {0} yet: the cluster may be unreachable, or the dashboard's account may lack list and watch on them (re-apply deploy/dashboard-rbac.yaml); the server's log says which"
)]
pub struct NotSynced(pub &'static str);

impl From<NotSynced> for frontend::contract::PageError {
    /// The cache has not synced: in words the page can show.
    fn from(e: NotSynced) -> Self {
        frontend::contract::PageError::Unreachable(e.to_string())
    }
}

/// Starts a reflector for `api` watched with `config`, running until the process ends, storing
/// each object as `slim` leaves it and telling `link` of each event and failure; returns its
/// store and a counter bumped after each change.
fn reflect<K>(
    api: Api<K>,
    config: watcher::Config,
    slim: fn(&mut K),
    what: &'static str,
    link: &Link,
) -> (Store<K>, Arc<AtomicU64>)
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    let (store, writer) = reflector::store();
    let generation = Arc::new(AtomicU64::new(0));
    let bumped = generation.clone();
    let link = link.watch(what);
    let stream = watcher(api, config)
        .backoff(watch_backoff())
        .modify(slim)
        .reflect(writer);
    tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.next().await {
            match event {
                // The store has taken the event by the time it is yielded here.
                Ok(event) => {
                    bumped.fetch_add(1, Ordering::Release);
                    link.saw(matches!(event, watcher::Event::InitDone));
                }
                Err(e) => {
                    tracing::warn!(resource = what, error = %e, "watch failed; retrying with back-off");
                    link.failed(&e);
                }
            }
        }
    });
    (store, generation)
}

/// Drops what no page reads of any object and what tenants can make large: managedFields and
/// annotations (up to 256 KiB each).
pub fn slim_meta(meta: &mut kube::api::ObjectMeta) {
    meta.managed_fields = None;
    meta.annotations = None;
}

/// The labels of pods and Jobs the pages read (the queue's owner and workspace); the rest are
/// dropped, as a tenant can put any number on their pods.
const READ_LABELS: [&str; 2] = [OWNER_LABEL, WORKLOAD_LABEL];

/// Keeps of `meta`'s labels only [`READ_LABELS`].
fn keep_read_labels(meta: &mut kube::api::ObjectMeta) {
    if let Some(labels) = meta.labels.as_mut() {
        labels.retain(|key, _| READ_LABELS.contains(&key.as_str()));
    }
}

/// Keeps of a node what the pages read: name, labels, creation time, unschedulable and taints,
/// and status but its image list and volumes.
pub fn slim_node(node: &mut Node) {
    slim_meta(&mut node.metadata);
    if let Some(status) = node.status.as_mut() {
        status.images = None;
        status.volumes_attached = None;
        status.volumes_in_use = None;
    }
}

/// Keeps of a pod what the pages read: name, namespace, gpuboard's labels, owners, creation time; the node,
/// priority, node selector, tolerations and each container's name, resources and ports; the
/// phase, addresses and conditions.
pub fn slim_pod(pod: &mut Pod) {
    slim_meta(&mut pod.metadata);
    keep_read_labels(&mut pod.metadata);
    if let Some(spec) = pod.spec.as_mut() {
        let slim_container = |c: &mut Container| {
            *c = Container {
                name: std::mem::take(&mut c.name),
                resources: c.resources.take(),
                ports: c.ports.take(),
                ..Default::default()
            }
        };
        spec.containers.iter_mut().for_each(slim_container);
        spec.init_containers
            .iter_mut()
            .flatten()
            .for_each(slim_container);
        spec.ephemeral_containers = None;
        spec.volumes = None;
        spec.affinity = None;
    }
    if let Some(status) = pod.status.as_mut() {
        status.container_statuses = None;
        status.init_container_statuses = None;
        status.ephemeral_container_statuses = None;
    }
}

/// Keeps of a Job what the queue reads: name, namespace, uid, gpuboard's labels, creation time, suspend,
/// its pod template's (init) containers' resources, node selector and priority, and its status.
pub fn slim_job(job: &mut Job) {
    slim_meta(&mut job.metadata);
    keep_read_labels(&mut job.metadata);
    if let Some(spec) = job.spec.as_mut() {
        spec.template.metadata = None;
        if let Some(pod) = spec.template.spec.as_mut() {
            let init = pod.init_containers.iter_mut().flatten();
            for c in pod.containers.iter_mut().chain(init) {
                *c = Container {
                    name: std::mem::take(&mut c.name),
                    resources: c.resources.take(),
                    ..Default::default()
                };
            }
            pod.volumes = None;
            pod.affinity = None;
        }
    }
}

impl ClusterCache {
    /// Starts watching nodes and pods (all namespaces) with `client`, and the exporter pods that
    /// `exporter_selector` (a label selector) picks in `exporter_namespace`.
    pub fn start(client: kube::Client, exporter_namespace: &str, exporter_selector: &str) -> Self {
        let link = Link::default();
        link.start_probe(client.clone());
        let exporters = watcher::Config::default().labels(exporter_selector);
        let all = watcher::Config::default;
        let (pods, pods_generation) =
            reflect(Api::all(client.clone()), all(), slim_pod, "pods", &link);
        let (nodes, nodes_generation) =
            reflect(Api::all(client.clone()), all(), slim_node, "nodes", &link);
        ClusterCache {
            pods,
            pods_generation,
            nodes,
            nodes_generation,
            exporter_pods: reflect(
                Api::namespaced(client.clone(), exporter_namespace),
                exporters,
                slim_pod,
                "pods",
                &link,
            )
            .0,
            quotas: reflect(
                Api::all(client.clone()),
                all(),
                |q: &mut ResourceQuota| slim_meta(&mut q.metadata),
                "resourcequotas",
                &link,
            )
            .0,
            priority_classes: reflect(
                Api::all(client.clone()),
                all(),
                |c: &mut PriorityClass| slim_meta(&mut c.metadata),
                "priorityclasses",
                &link,
            )
            .0,
            jobs: reflect(Api::all(client), all(), slim_job, "jobs", &link).0,
            link,
        }
    }

    /// Every node, once the first list is in.
    pub async fn nodes(&self) -> Result<Vec<Arc<Node>>, NotSynced> {
        synced(&self.nodes, "nodes").await?;
        Ok(self.nodes.state())
    }

    /// One node by name, once the first list is in.
    pub async fn node(&self, name: &str) -> Result<Option<Arc<Node>>, NotSynced> {
        synced(&self.nodes, "nodes").await?;
        Ok(self.nodes.get(&ObjectRef::new(name)))
    }

    /// Every quota, once the first list is in.
    pub async fn quotas(&self) -> Result<Vec<Arc<ResourceQuota>>, NotSynced> {
        synced(&self.quotas, "resource quotas").await?;
        Ok(self.quotas.state())
    }

    /// Every PriorityClass, once the first list is in.
    pub async fn priority_classes(&self) -> Result<Vec<Arc<PriorityClass>>, NotSynced> {
        synced(&self.priority_classes, "priority classes").await?;
        Ok(self.priority_classes.state())
    }

    /// Every Job, once the first list is in.
    pub async fn jobs(&self) -> Result<Vec<Arc<Job>>, NotSynced> {
        synced(&self.jobs, "jobs").await?;
        Ok(self.jobs.state())
    }

    /// A number that changes whenever the pods do. Read it before [`Self::pods`]: what is made
    /// from the pods then is at least as new as the number.
    pub fn pods_generation(&self) -> u64 {
        self.pods_generation.load(Ordering::Acquire)
    }

    /// A number that changes whenever the nodes do, read as [`Self::pods_generation`] is.
    pub fn nodes_generation(&self) -> u64 {
        self.nodes_generation.load(Ordering::Acquire)
    }

    /// Every pod, once the first list is in.
    pub async fn pods(&self) -> Result<Vec<Arc<Pod>>, NotSynced> {
        synced(&self.pods, "pods").await?;
        Ok(self.pods.state())
    }
}

/// Waits up to [`FIRST_SYNC_WAIT`] for a store's first list.
async fn synced<K>(store: &Store<K>, what: &'static str) -> Result<(), NotSynced>
where
    K: kube::Resource<DynamicType = ()> + Clone + 'static,
{
    tokio::time::timeout(FIRST_SYNC_WAIT, store.wait_until_ready())
        .await
        .map_err(|_| NotSynced(what))?
        .map_err(|_| NotSynced(what))
}

/// A value computed from every pod, kept until the pods change (their generation moves): at
/// 5,000 nodes most pods are DaemonSets', and a pass over all of them on every page view costs
/// milliseconds. On a cluster whose pods change many times a second it is made about as often
/// as it is asked for; it saves the pass while they are quiet.
pub struct FromPods<T> {
    make: fn(&[Arc<Pod>]) -> T,
    kept: Mutex<Option<(u64, Arc<T>)>>,
}

impl<T> FromPods<T> {
    /// Keeps what `make` computes from the pods.
    pub fn new(make: fn(&[Arc<Pod>]) -> T) -> Self {
        FromPods {
            make,
            kept: Mutex::new(None),
        }
    }

    /// The value for `cache`'s pods now, made again only when they have changed. The generation
    /// is read before the pods, so a value is never kept for pods newer than it was made from.
    pub async fn get(&self, cache: &ClusterCache) -> Result<Arc<T>, NotSynced> {
        let generation = cache.pods_generation();
        let kept = self.kept.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some((made_at, value)) = kept
            && made_at == generation
        {
            return Ok(value);
        }
        let value = Arc::new((self.make)(&cache.pods().await?));
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        if kept
            .as_ref()
            .is_none_or(|(made_at, _)| *made_at <= generation)
        {
            *kept = Some((generation, value.clone()));
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kept_object_drops_its_annotations_and_managed_fields() {
        let mut quota: ResourceQuota = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "gpu", "namespace": "ai", "labels": {"team": "a"},
                "annotations": {"big": "x".repeat(256 * 1024)},
                "managedFields": [{"manager": "kubectl"}]},
            "spec": {"hard": {"requests.nvidia.com/gpu": "2"}}
        }))
        .expect("a quota");
        slim_meta(&mut quota.metadata);
        assert_eq!(quota.metadata.annotations, None);
        assert_eq!(quota.metadata.managed_fields, None);
        assert!(
            quota.metadata.labels.is_some(),
            "labels are read by selectors"
        );
        assert!(quota.spec.is_some());
    }

    #[test]
    fn a_slim_job_keeps_gpuboards_labels_and_its_pods_resources() {
        let mut job: Job = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "j", "namespace": "ns",
                         "labels": {OWNER_LABEL: "alice", "tenant.example/team": "x".repeat(60)}},
            "spec": {"template": {
                "metadata": {"labels": {"big": "x".repeat(60)}},
                "spec": {"containers": [{"name": "c", "image": "i", "args": ["x".repeat(10_000)],
                                         "resources": {"limits": {"nvidia.com/gpu": "2"}}}]}}}
        }))
        .expect("a job");
        slim_job(&mut job);
        let labels = job.metadata.labels.as_ref().expect("labels");
        assert_eq!(labels.keys().collect::<Vec<_>>(), [OWNER_LABEL]);
        let spec = job.spec.as_ref().expect("spec");
        assert_eq!(spec.template.metadata, None);
        let container = &spec.template.spec.as_ref().expect("pod spec").containers[0];
        assert_eq!(container.args, None);
        assert!(container.resources.is_some());
    }

    /// A pod's JSON holding only what the pages read.
    fn small_pod() -> serde_json::Value {
        serde_json::json!({
            "metadata": {"name": "p", "namespace": "ns",
                         "labels": {OWNER_LABEL: "alice", WORKLOAD_LABEL: "w"}},
            "spec": {"nodeName": "n", "priority": 5,
                     "containers": [{"name": "c", "image": "i",
                                     "resources": {"limits": {"nvidia.com/gpu": "1"}},
                                     "ports": [{"name": "metrics", "containerPort": 9400}]}]},
            "status": {"phase": "Running", "podIP": "127.128.0.2"}
        })
    }

    #[test]
    fn a_slim_pod_keeps_what_the_pages_read_and_drops_the_rest() {
        let mut large = small_pod();
        let labels = large["metadata"]["labels"].as_object_mut().expect("labels");
        for i in 0..200 {
            labels.insert(format!("tenant.example/label-{i}"), "v".repeat(60).into());
        }
        large["metadata"]["annotations"] = serde_json::json!({"big": "x".repeat(100_000)});
        large["metadata"]["managedFields"] = serde_json::json!([{"manager": "kubectl"}]);
        let container = &mut large["spec"]["containers"][0];
        container["env"] = (0..200)
            .map(|i| serde_json::json!({"name": format!("E{i}"), "value": "x".repeat(100)}))
            .collect();
        container["command"] = serde_json::json!(["python", "x".repeat(10_000)]);
        large["spec"]["volumes"] = serde_json::json!([{"name": "v", "emptyDir": {}}]);
        large["status"]["containerStatuses"] = serde_json::json!([
            {"name": "c", "ready": true, "restartCount": 0, "image": "i", "imageID": ""}
        ]);
        let pod = |json| serde_json::from_value::<Pod>(json).expect("a pod");
        let (mut large, mut small) = (pod(large), pod(small_pod()));
        slim_pod(&mut large);
        slim_pod(&mut small);
        assert_eq!(large, small, "a large pod slims to its small twin");
        let json = serde_json::to_string(&large).expect("serialises");
        for kept in [
            OWNER_LABEL,
            WORKLOAD_LABEL,
            "nvidia.com/gpu",
            "metrics",
            "127.128.0.2",
            "\"priority\":5",
        ] {
            assert!(json.contains(kept), "{kept} in {json}");
        }
        for dropped in [
            "annotations",
            "managedFields",
            "tenant.example",
            "env",
            "command",
            "volumes",
            "containerStatuses",
            "\"image\"",
        ] {
            assert!(!json.contains(dropped), "{dropped} in {json}");
        }
    }
}
