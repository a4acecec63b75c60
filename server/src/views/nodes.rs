//! The nodes table: each node's row read out of its object, its GPU use (allocated by the
//! accounting rules, busy and driver by its exporter), and the flags on GPU nodes whose kernel,
//! driver or container runtime differs from the rest.

use std::collections::HashMap;
use std::sync::Arc;

use frontend::contract::{NodeSummary, Skew};
use k8s_openapi::api::core::v1::{Node, Pod};

use crate::cluster::accounting;
use crate::telemetry::TelemetrySnapshot;

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
    let gpus = accounting::allocatable_gpus(node);
    let internal_ip = accounting::internal_ip(node)
        .unwrap_or_default()
        .to_string();
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
        gpu_model: accounting::gpu_model(node).map(|p| p.replace('-', " ")),
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

/// Adds each node's GPU use: allocated by its active pods' requests; busy and driver by its
/// exporter (busy only when the exporter answers: a stale node's old numbers are not counted).
pub fn add_gpu_use(nodes: &mut [NodeSummary], pods: &[Arc<Pod>], telemetry: &TelemetrySnapshot) {
    let allocated = accounting::allocated_by_node(pods);
    for node in nodes.iter_mut() {
        let name = node.name.as_str();
        node.gpus_allocated = allocated.get(name).copied().unwrap_or(0);
        let exporter = telemetry.get(name);
        let answer = exporter.and_then(|t| t.last_good.as_deref());
        node.driver = answer.and_then(|g| g.driver_version.clone());
        node.gpus_busy = exporter.and_then(accounting::busy_now);
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
            skew.push(Skew::Kernel);
        }
        if let (Some(common), Some(mine)) = (driver.as_deref(), n.driver.as_deref())
            && common != mine
        {
            skew.push(Skew::Driver);
        }
        if runtime.as_deref().is_some_and(|r| r != n.container_runtime) {
            skew.push(Skew::Runtime);
        }
        n.skew = skew;
    }
}

#[cfg(test)]
mod tests {
    use frontend::contract::ExporterError;
    use gpuboard_exporter_api::{Gpu, GpuFields, NodeGpus};

    use super::*;
    use crate::telemetry::NodeTelemetry;

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
        let flags: Vec<Vec<Skew>> = nodes.iter().map(|n| n.skew.clone()).collect();
        assert_eq!(
            flags,
            [
                vec![],
                vec![],
                vec![Skew::Kernel],
                vec![Skew::Driver, Skew::Runtime],
                vec![]
            ]
        );
    }

    #[test]
    fn busy_is_counted_only_for_nodes_whose_exporter_answers_as_the_overview_counts_it() {
        let mut nodes = ["fresh", "stale", "silent"]
            .map(|name| NodeSummary {
                name: name.into(),
                ..Default::default()
            })
            .to_vec();
        let gpu = |util: f64| Gpu {
            fields: GpuFields {
                utilization_percent: Some(util),
                ..Default::default()
            },
            ..Default::default()
        };
        let telemetry = |utils: &[f64], error: Option<ExporterError>| NodeTelemetry {
            last_good: Some(Arc::new(NodeGpus {
                gpus: utils.iter().map(|u| gpu(*u)).collect(),
                ..Default::default()
            })),
            last_good_at_ms: Some(1),
            error,
        };
        let snapshot = Arc::new(HashMap::from([
            ("fresh".to_string(), telemetry(&[90.0, 5.0], None)),
            (
                "stale".to_string(),
                telemetry(&[99.0], Some(ExporterError::Status(500))),
            ),
        ]));
        add_gpu_use(&mut nodes, &[], &snapshot);
        assert_eq!(
            nodes.iter().map(|n| n.gpus_busy).collect::<Vec<_>>(),
            [Some(1), None, None]
        );
        let rows = crate::views::gpus::gpu_rows(
            snapshot.iter(),
            &crate::cluster::permissions::PodVisibility::Everywhere,
        );
        assert_eq!(
            nodes.iter().filter_map(|n| n.gpus_busy).sum::<u32>(),
            crate::cluster::accounting::busy(rows.iter().map(Into::into)),
            "the nodes table and the overview agree"
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
