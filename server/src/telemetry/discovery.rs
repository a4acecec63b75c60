//! Which exporters to ask: the running pods of the dashboard's own exporter DaemonSet (its label,
//! in its namespace, owned by a DaemonSet of that name), or of NVIDIA's dcgm-exporter (the pods
//! `--dcgm-exporter-selector` picks in that namespace, owned by a DaemonSet), one per node, at the
//! pod's IP and the port named `metrics`. A pod that only carries the label, or runs elsewhere, is
//! not asked.

use std::sync::Arc;

use gpuboard_exporter_api::{APP_LABEL, APP_NAME, DEFAULT_PORT, GPUS_PATH, PORT_NAME};
use k8s_openapi::api::core::v1::Pod;

/// Which exporter runs on the nodes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ExporterKind {
    /// gpuboard-exporter, asked for its JSON.
    #[default]
    Gpuboard,
    /// NVIDIA's dcgm-exporter, its pods picked by this label selector, asked for its
    /// Prometheus text.
    Dcgm { selector: String },
}

/// What an exporter answers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerFormat {
    /// gpuboard-exporter's `/api/v1/gpus`.
    GpuboardJson,
    /// dcgm-exporter's `/metrics`, Prometheus text.
    DcgmText,
}

/// Where dcgm-exporter serves its samples.
const DCGM_PATH: &str = "/metrics";

impl ExporterKind {
    /// The label selector of the exporter pods to watch.
    pub fn selector(&self) -> String {
        match self {
            ExporterKind::Gpuboard => format!("{APP_LABEL}={APP_NAME}"),
            ExporterKind::Dcgm { selector } => selector.clone(),
        }
    }

    /// Whether the pod's controller is the exporter's DaemonSet (for dcgm-exporter, whose
    /// DaemonSet's name differs by install, a DaemonSet).
    fn owns(&self, pod: &Pod) -> bool {
        pod.metadata.owner_references.iter().flatten().any(|o| {
            o.controller == Some(true)
                && o.kind == "DaemonSet"
                && match self {
                    ExporterKind::Gpuboard => o.name == APP_NAME,
                    ExporterKind::Dcgm { .. } => true,
                }
        })
    }

    fn answer(&self) -> (AnswerFormat, &'static str) {
        match self {
            ExporterKind::Gpuboard => (AnswerFormat::GpuboardJson, GPUS_PATH),
            ExporterKind::Dcgm { .. } => (AnswerFormat::DcgmText, DCGM_PATH),
        }
    }
}

/// Where a node's exporter answers, and in what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExporterTarget {
    pub node: String,
    pub url: String,
    pub format: AnswerFormat,
}

/// The target of one exporter pod: running, with an IP, on a node.
fn target(pod: &Pod, kind: &ExporterKind) -> Option<ExporterTarget> {
    if !kind.owns(pod) {
        return None;
    }
    let status = pod.status.as_ref()?;
    if status.phase.as_deref() != Some("Running") {
        return None;
    }
    let ip = status.pod_ip.as_deref().filter(|ip| !ip.is_empty())?;
    let ip: std::net::IpAddr = ip.parse().ok()?;
    let spec = pod.spec.as_ref()?;
    let node = spec.node_name.clone()?;
    let port = spec
        .containers
        .iter()
        .flat_map(|c| c.ports.iter().flatten())
        .find(|port| port.name.as_deref() == Some(PORT_NAME))
        .map_or(i32::from(DEFAULT_PORT), |port| port.container_port);
    let addr = std::net::SocketAddr::new(ip, u16::try_from(port).ok()?);
    let (format, path) = kind.answer();
    Some(ExporterTarget {
        node,
        url: format!("http://{addr}{path}"),
        format,
    })
}

/// The targets among the exporter pods, one per node (the first by pod name, so the choice is
/// stable), sorted by node.
pub fn exporter_targets(pods: &[Arc<Pod>], kind: &ExporterKind) -> Vec<ExporterTarget> {
    let mut pods: Vec<&Arc<Pod>> = pods.iter().collect();
    pods.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    let mut targets: Vec<ExporterTarget> =
        pods.into_iter().filter_map(|p| target(p, kind)).collect();
    targets.sort_by(|a, b| a.node.cmp(&b.node));
    targets.dedup_by(|a, b| a.node == b.node);
    targets
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, node: &str, ip: &str, owner: Option<&str>) -> Arc<Pod> {
        let owners: Vec<serde_json::Value> = owner
            .map(|o| serde_json::json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "name": o, "uid": "u", "controller": true}))
            .into_iter()
            .collect();
        Arc::new(
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": name, "namespace": "gpuboard", "ownerReferences": owners},
                "spec": {"nodeName": node, "containers": [{"name": "exporter", "ports": [{"name": "metrics", "containerPort": 9401}]}]},
                "status": {"phase": "Running", "podIP": ip}
            }))
            .expect("a pod"),
        )
    }

    #[test]
    fn only_the_daemonsets_running_pods_are_asked_one_per_node() {
        let pods = vec![
            pod(
                "gpuboard-exporter-b",
                "node-110",
                "127.0.0.11",
                Some(APP_NAME),
            ),
            pod(
                "gpuboard-exporter-a",
                "node-110",
                "127.0.0.12",
                Some(APP_NAME),
            ),
            pod("impostor", "node-109", "127.0.0.99", None),
            pod("other-ds", "node-106", "127.0.0.98", Some("something-else")),
            pod(
                "gpuboard-exporter-c",
                "node-105",
                "not-an-ip",
                Some(APP_NAME),
            ),
            pod("gpuboard-exporter-v6", "node-104", "::1", Some(APP_NAME)),
        ];
        let json = AnswerFormat::GpuboardJson;
        assert_eq!(
            exporter_targets(&pods, &ExporterKind::Gpuboard),
            [
                ExporterTarget {
                    node: "node-104".into(),
                    url: "http://[::1]:9401/api/v1/gpus".into(),
                    format: json,
                },
                ExporterTarget {
                    node: "node-110".into(),
                    url: "http://127.0.0.12:9401/api/v1/gpus".into(),
                    format: json,
                },
            ]
        );
        // dcgm-exporter's DaemonSet has a name of its install's choosing; a bare pod is still out.
        let dcgm = ExporterKind::Dcgm {
            selector: "app=nvidia-dcgm-exporter".into(),
        };
        let nodes: Vec<(String, AnswerFormat)> = exporter_targets(&pods, &dcgm)
            .into_iter()
            .map(|t| (t.node, t.format))
            .collect();
        let text = AnswerFormat::DcgmText;
        assert_eq!(
            nodes,
            [
                ("node-104".to_string(), text),
                ("node-106".to_string(), text),
                ("node-110".to_string(), text),
            ]
        );
        assert!(
            exporter_targets(&pods, &dcgm)
                .iter()
                .all(|t| t.url.ends_with(":9401/metrics"))
        );
    }
}
