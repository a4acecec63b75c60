//! Nodes for the nodes table: the mapping from `k8s_openapi` Node to [`NodeSummary`], and the
//! backend that answers from the shared watch cache.

use frontend::api::NodeSummary;
use frontend::backend::{Backend, BackendError};
use k8s_openapi::api::core::v1::Node;

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;

use frontend::api::{GpuRow, NodeDetail, Overview};
use frontend::backend::SignedInUser;

use super::cache::ClusterCache;
use super::gpus::{gpu_rows, holder_namespaces};
use super::node_detail::{card, conditions, is_active, labels, node_pod, pod_gpus, taints};
use super::overview::BUSY_PERCENT;
use super::permissions::{Access, Permissions};
use crate::telemetry::{NodeTelemetry, Telemetry};

/// Reads a node's table row out of its object; absent fields read as empty, never a panic.
pub fn summarize(node: &Node, now: jiff::Timestamp) -> NodeSummary {
    let meta = &node.metadata;
    let labels = meta.labels.clone().unwrap_or_default();
    let status = node.status.clone().unwrap_or_default();
    let info = status.node_info.clone().unwrap_or_default();
    let ready = status
        .conditions
        .iter()
        .flatten()
        .any(|c| c.type_ == "Ready" && c.status == "True");
    let mut roles: Vec<String> = labels
        .keys()
        .filter_map(|k| k.strip_prefix("node-role.kubernetes.io/").map(String::from))
        .collect();
    roles.sort();
    let gpus = status
        .allocatable
        .as_ref()
        .and_then(|a| a.get("nvidia.com/gpu"))
        .and_then(|q| q.0.parse::<u32>().ok())
        .unwrap_or(0);
    let internal_ip = status
        .addresses
        .iter()
        .flatten()
        .find(|a| a.type_ == "InternalIP")
        .map(|a| a.address.clone())
        .unwrap_or_default();
    NodeSummary {
        name: meta.name.clone().unwrap_or_default(),
        ready,
        unschedulable: node
            .spec
            .as_ref()
            .and_then(|s| s.unschedulable)
            .unwrap_or(false),
        roles,
        internal_ip,
        gpu_model: labels
            .get("nvidia.com/gpu.product")
            .map(|p| p.replace('-', " ")),
        gpus_allocatable: gpus,
        os_image: info.os_image,
        kernel: info.kernel_version,
        container_runtime: info.container_runtime_version,
        kubelet_version: info.kubelet_version,
        age_seconds: meta
            .creation_timestamp
            .as_ref()
            .map(|t| (now - t.0).get_seconds())
            .unwrap_or(0),
        ..Default::default()
    }
}

/// Adds each node's GPU use: allocated by its active pods' requests, busy and driver by its exporter.
pub fn add_gpu_use(
    nodes: &mut [NodeSummary],
    pods: &[Arc<Pod>],
    telemetry: &HashMap<String, NodeTelemetry>,
) {
    let mut allocated: HashMap<&str, u32> = HashMap::new();
    for pod in pods.iter().filter(|p| is_active(p)) {
        if let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) {
            *allocated.entry(node).or_default() += pod_gpus(pod);
        }
    }
    for node in nodes.iter_mut() {
        node.gpus_allocated = allocated.get(node.name.as_str()).copied().unwrap_or(0);
        if let Some(gpus) = telemetry.get(&node.name).and_then(|t| t.last_good.as_ref()) {
            node.driver = gpus.driver_version.clone();
            node.gpus_busy = gpus
                .gpus
                .iter()
                .filter(|g| {
                    g.fields
                        .utilization_percent
                        .is_some_and(|u| u >= BUSY_PERCENT)
                })
                .count() as u32;
        }
    }
}

/// The most common value among `values`, if any.
fn most_common<'a>(values: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for v in values.filter(|v| !v.is_empty()) {
        *counts.entry(v).or_default() += 1;
    }
    counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
        .map(|(v, _)| v)
}

/// Flags GPU nodes whose kernel, driver or container runtime differs from most GPU nodes.
pub fn flag_skew(nodes: &mut [NodeSummary]) {
    let gpu_nodes: Vec<usize> = (0..nodes.len())
        .filter(|i| nodes[*i].gpus_allocatable > 0 || nodes[*i].driver.is_some())
        .collect();
    let pick = |f: fn(&NodeSummary) -> &str| {
        most_common(gpu_nodes.iter().map(|i| f(&nodes[*i]))).map(String::from)
    };
    let kernel = pick(|n| n.kernel.as_str());
    let driver = pick(|n| n.driver.as_deref().unwrap_or(""));
    let runtime = pick(|n| n.container_runtime.as_str());
    for i in gpu_nodes {
        let n = &mut nodes[i];
        let mut skew = Vec::new();
        if kernel.as_deref().is_some_and(|k| k != n.kernel) {
            skew.push("kernel".to_string());
        }
        if let (Some(common), Some(mine)) = (driver.as_deref(), n.driver.as_deref())
            && common != mine
        {
            skew.push("driver".to_string());
        }
        if runtime.as_deref().is_some_and(|r| r != n.container_runtime) {
            skew.push("runtime".to_string());
        }
        n.skew = skew;
    }
}

/// The dashboard's backend: reads from the shared watch cache and the telemetry collector,
/// and asks the cluster (as the user) what the user may see.
pub struct KubeBackend {
    pub cache: ClusterCache,
    pub telemetry: Arc<Telemetry>,
    pub permissions: Permissions,
}

/// The cache has not synced yet: say so in words the page can show.
fn unsynced(e: super::cache::NotSynced) -> BackendError {
    BackendError::Unreachable(e.to_string())
}

impl KubeBackend {
    /// The GPU rows `user` may see, everywhere.
    pub async fn gpu_rows_for(&self, user: &SignedInUser) -> Vec<GpuRow> {
        self.visible_rows(user, &self.telemetry.nodes()).await
    }

    /// The GPU rows of `telemetry`, with pods shown only where `user` may list them.
    async fn visible_rows(
        &self,
        user: &SignedInUser,
        telemetry: &HashMap<String, NodeTelemetry>,
    ) -> Vec<GpuRow> {
        let everywhere = self
            .permissions
            .allows(user, &Access::list_pods(None))
            .await;
        let mut visible = std::collections::HashSet::new();
        if !everywhere {
            for ns in holder_namespaces(telemetry) {
                if self
                    .permissions
                    .allows(user, &Access::list_pods(Some(&ns)))
                    .await
                {
                    visible.insert(ns);
                }
            }
        }
        gpu_rows(telemetry, |ns| everywhere || visible.contains(ns))
    }

    /// Every node's table row, with GPU use and skew flags.
    async fn summaries(
        &self,
        pods: &[Arc<Pod>],
        telemetry: &HashMap<String, NodeTelemetry>,
    ) -> Result<Vec<NodeSummary>, BackendError> {
        let list = self.cache.nodes().await.map_err(unsynced)?;
        let now = jiff::Timestamp::now();
        let mut nodes: Vec<NodeSummary> = list.iter().map(|n| summarize(n, now)).collect();
        nodes.sort_by(|a, b| a.name.cmp(&b.name));
        add_gpu_use(&mut nodes, pods, telemetry);
        flag_skew(&mut nodes);
        Ok(nodes)
    }
}

#[async_trait::async_trait]
impl Backend for KubeBackend {
    async fn nodes(&self) -> Result<Vec<NodeSummary>, BackendError> {
        let pods = self.cache.pods().await.map_err(unsynced)?;
        self.summaries(&pods, &self.telemetry.nodes()).await
    }

    async fn gpus(&self, user: &SignedInUser) -> Result<Vec<GpuRow>, BackendError> {
        Ok(self.gpu_rows_for(user).await)
    }

    async fn overview(&self, user: &SignedInUser) -> Result<Overview, BackendError> {
        let pods = self.cache.pods().await.map_err(unsynced)?;
        let telemetry = self.telemetry.nodes();
        let nodes = self.summaries(&pods, &telemetry).await?;
        let rows = self.visible_rows(user, &telemetry).await;
        Ok(super::overview::overview(&nodes, &pods, &telemetry, rows))
    }

    async fn node(
        &self,
        user: &SignedInUser,
        name: &str,
    ) -> Result<Option<NodeDetail>, BackendError> {
        let nodes = self.cache.nodes().await.map_err(unsynced)?;
        let Some(node) = nodes
            .iter()
            .find(|n| n.metadata.name.as_deref() == Some(name))
        else {
            return Ok(None);
        };
        let pods = self.cache.pods().await.map_err(unsynced)?;
        let everywhere = self
            .permissions
            .allows(user, &Access::list_pods(None))
            .await;
        let mut visible_pods = Vec::new();
        let mut hidden_pods = 0;
        for pod in pods.iter().filter(|p| {
            p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(name) && is_active(p)
        }) {
            let namespace = pod.metadata.namespace.as_deref().unwrap_or_default();
            if everywhere
                || self
                    .permissions
                    .allows(user, &Access::list_pods(Some(namespace)))
                    .await
            {
                visible_pods.push(node_pod(pod));
            } else {
                hidden_pods += 1;
            }
        }
        visible_pods.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        // Only this node's GPUs: the rows and permission checks of the rest are not needed here.
        let telemetry = self.telemetry.nodes().remove(name).unwrap_or_default();
        let this_node = HashMap::from([(name.to_string(), telemetry.clone())]);
        let limits: HashMap<String, Option<f64>> = telemetry
            .last_good
            .iter()
            .flat_map(|g| {
                g.gpus
                    .iter()
                    .map(|gpu| (gpu.identity.uuid.clone(), gpu.identity.power_limit_watts))
            })
            .collect();
        let gpus = self
            .visible_rows(user, &this_node)
            .await
            .into_iter()
            .map(|r| {
                let history = self.telemetry.history(&r.uuid);
                let limit = limits.get(&r.uuid).copied().flatten();
                card(r, limit, &history)
            })
            .collect();
        Ok(Some(NodeDetail {
            summary: summarize(node, jiff::Timestamp::now()),
            conditions: conditions(node),
            taints: taints(node),
            labels: labels(node),
            gpus,
            pods: visible_pods,
            hidden_pods,
            telemetry_error: telemetry.error,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_odd_kernel_driver_or_runtime_out_among_gpu_nodes_is_flagged() {
        let node = |name: &str, kernel: &str, driver: &str, runtime: &str| NodeSummary {
            name: name.into(),
            kernel: kernel.into(),
            driver: Some(driver.into()),
            container_runtime: runtime.into(),
            gpus_allocatable: 1,
            ..Default::default()
        };
        let mut nodes = vec![
            node("a", "4.4", "440", "docker"),
            node("b", "4.4", "440", "docker"),
            node("c", "5.3", "440", "docker"),
            node("d", "4.4", "450", "containerd"),
            NodeSummary {
                name: "cp".into(),
                kernel: "6.1".into(),
                ..Default::default()
            },
        ];
        flag_skew(&mut nodes);
        let flags: Vec<Vec<String>> = nodes.iter().map(|n| n.skew.clone()).collect();
        assert_eq!(
            flags,
            [
                vec![],
                vec![],
                vec!["kernel".to_string()],
                vec!["driver".to_string(), "runtime".to_string()],
                vec![]
            ]
        );
    }

    #[test]
    fn a_bare_node_summarizes_without_panicking() {
        let s = summarize(&Node::default(), jiff::Timestamp::now());
        assert_eq!(
            (s.name.as_str(), s.ready, s.gpus_allocatable),
            ("", false, 0)
        );
    }

    #[test]
    fn reads_gpus_roles_and_readiness() {
        let node: Node = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "node-110", "labels": {"node-role.kubernetes.io/worker": "", "nvidia.com/gpu.product": "NVIDIA-GeForce-GTX-1080-Ti"}},
            "status": {"allocatable": {"nvidia.com/gpu": "1"}, "conditions": [{"type": "Ready", "status": "True"}],
                       "nodeInfo": {"kernelVersion": "4.4.222", "osImage": "CentOS", "containerRuntimeVersion": "docker://19.3.8", "kubeletVersion": "v1.34.1",
                                    "machineID": "", "systemUUID": "", "bootID": "", "kubeProxyVersion": "", "operatingSystem": "linux", "architecture": "amd64"}}
        })).unwrap();
        let s = summarize(&node, jiff::Timestamp::now());
        assert!(s.ready);
        assert_eq!(s.gpus_allocatable, 1);
        assert_eq!(s.roles, vec!["worker"]);
        assert_eq!(s.gpu_model.as_deref(), Some("NVIDIA GeForce GTX 1080 Ti"));
    }
}
