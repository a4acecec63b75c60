//! Which exporters to ask: the running pods of the dashboard's own exporter DaemonSet (its label,
//! in its namespace, owned by a DaemonSet of that name), or of NVIDIA's dcgm-exporter (the pods
//! `--dcgm-exporter-selector` picks in that namespace, owned by a DaemonSet), one per node, at the
//! pod's IP and its exporter port ([`ExporterPort`]: by default the port named `metrics`). A pod
//! that only carries the label, or runs elsewhere, is not asked.

use std::net::IpAddr;
use std::sync::{Arc, LazyLock};

use gpuboard_exporter_api::{APP_LABEL, APP_NAME, DEFAULT_PORT, GPUS_PATH, PORT_NAME};
use k8s_openapi::api::core::v1::{Pod, PodSpec};

/// Which exporter runs on the nodes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ExporterKind {
    /// gpuboard-exporter, asked for its JSON.
    #[default]
    Gpuboard,
    /// NVIDIA's dcgm-exporter, its pods picked by this label selector, asked for its
    /// Prometheus text at this port.
    Dcgm {
        selector: String,
        port: ExporterPort,
    },
}

/// Which of an exporter pod's ports serves its samples, as a Service's `targetPort` names one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExporterPort {
    /// The container port of this name. A pod with none of that name is asked at
    /// [`DEFAULT_PORT`] (9400, where both exporters listen by default) when the name is the
    /// default `metrics`, and not at all for another name (a misspelt name asks nothing rather
    /// than the wrong port, as a Service's `targetPort` would).
    Named(String),
    /// This port number, whatever the pod declares.
    Number(u16),
}

impl std::fmt::Display for ExporterPort {
    /// As it is given: the name, or the number.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExporterPort::Named(name) => f.write_str(name),
            ExporterPort::Number(number) => write!(f, "{number}"),
        }
    }
}

impl Default for ExporterPort {
    fn default() -> Self {
        ExporterPort::Named(PORT_NAME.to_string())
    }
}

/// Why a port given on the command line is not one.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PortError {
    #[error("{0:?} is not a port: a number from 1 to 65535, or a port name")]
    Number(String),
    #[error(
        "{0:?} is not a port name: at most 15 lower-case letters, digits and '-', with a letter, \
         no '--', not starting or ending with '-'"
    )]
    Name(String),
}

impl std::str::FromStr for ExporterPort {
    type Err = PortError;

    /// A number (`9400`) or a name as Kubernetes allows a container port's (`metrics`).
    fn from_str(text: &str) -> Result<Self, PortError> {
        let text = text.trim();
        if !text.is_empty() && text.chars().all(|c| c.is_ascii_digit()) {
            return match text.parse::<u16>() {
                Ok(number) if number > 0 => Ok(ExporterPort::Number(number)),
                _ => Err(PortError::Number(text.to_string())),
            };
        }
        let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
        let valid = (1..=15).contains(&text.len())
            && text.chars().all(allowed)
            && text.chars().any(|c| c.is_ascii_lowercase())
            && !text.starts_with('-')
            && !text.ends_with('-')
            && !text.contains("--");
        if valid {
            Ok(ExporterPort::Named(text.to_string()))
        } else {
            Err(PortError::Name(text.to_string()))
        }
    }
}

impl ExporterPort {
    /// The port of this pod's containers that this names.
    fn of(&self, spec: &PodSpec) -> Option<u16> {
        match self {
            ExporterPort::Number(number) => Some(*number),
            ExporterPort::Named(name) => {
                let declared = spec
                    .containers
                    .iter()
                    .flat_map(|c| c.ports.iter().flatten())
                    .find(|port| port.name.as_deref() == Some(name.as_str()));
                match declared {
                    Some(port) => u16::try_from(port.container_port).ok(),
                    None => (name == PORT_NAME).then_some(DEFAULT_PORT),
                }
            }
        }
    }
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
            ExporterKind::Dcgm { selector, .. } => selector.clone(),
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

    /// Which port serves the samples: gpuboard-exporter's is always the one named `metrics`.
    pub fn port_setting(&self) -> &ExporterPort {
        static GPUBOARD_PORT: LazyLock<ExporterPort> = LazyLock::new(ExporterPort::default);
        match self {
            ExporterKind::Gpuboard => &GPUBOARD_PORT,
            ExporterKind::Dcgm { port, .. } => port,
        }
    }

    /// The port of this pod that serves the samples.
    fn port(&self, spec: &PodSpec) -> Option<u16> {
        self.port_setting().of(spec)
    }
}

/// Where a node's exporter answers, and in what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExporterTarget {
    pub node: String,
    pub url: String,
    pub format: AnswerFormat,
}

/// An exporter pod that can be asked, but for its port: the exporter's, running, with an IP,
/// on a node. Its IP, spec and node.
fn placed<'p>(pod: &'p Pod, kind: &ExporterKind) -> Option<(IpAddr, &'p PodSpec, &'p str)> {
    if !kind.owns(pod) {
        return None;
    }
    let status = pod.status.as_ref()?;
    if status.phase.as_deref() != Some("Running") {
        return None;
    }
    let ip = status.pod_ip.as_deref().filter(|ip| !ip.is_empty())?;
    let spec = pod.spec.as_ref()?;
    Some((ip.parse().ok()?, spec, spec.node_name.as_deref()?))
}

/// The target of one exporter pod: placed, with the exporter port.
fn target(pod: &Pod, kind: &ExporterKind) -> Option<ExporterTarget> {
    let (ip, spec, node) = placed(pod, kind)?;
    let addr = std::net::SocketAddr::new(ip, kind.port(spec)?);
    let (format, path) = kind.answer();
    Some(ExporterTarget {
        node: node.to_string(),
        url: format!("http://{addr}{path}"),
        format,
    })
}

/// The exporter pods that could be asked but declare no port of the name given
/// (`namespace/name`, sorted): their nodes have no telemetry, and the server's log says so.
pub fn pods_without_port(pods: &[Arc<Pod>], kind: &ExporterKind) -> Vec<String> {
    let mut names: Vec<String> = pods
        .iter()
        .filter(|pod| placed(pod, kind).is_some_and(|(_, spec, _)| kind.port(spec).is_none()))
        .map(|pod| {
            let meta = &pod.metadata;
            let (namespace, name) = (meta.namespace.as_deref(), meta.name.as_deref());
            format!(
                "{}/{}",
                namespace.unwrap_or_default(),
                name.unwrap_or_default()
            )
        })
        .collect();
    names.sort();
    names
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
            port: ExporterPort::default(),
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

    #[test]
    fn the_exporter_port_is_the_named_one_a_number_or_the_default() {
        let pods = vec![
            pod("dcgm-a", "node-104", "127.0.0.4", Some("dcgm")),
            // No port named metrics: asked at 9400, where dcgm-exporter listens by default.
            Arc::new({
                let mut bare = (*pod("dcgm-b", "node-105", "127.0.0.5", Some("dcgm"))).clone();
                bare.spec.as_mut().expect("spec").containers[0].ports = None;
                bare
            }),
        ];
        let urls = |port: &str| -> Vec<String> {
            let kind = ExporterKind::Dcgm {
                selector: "app=dcgm".into(),
                port: port.parse().expect("a port"),
            };
            exporter_targets(&pods, &kind)
                .into_iter()
                .map(|t| t.url)
                .collect()
        };
        assert_eq!(
            urls("metrics"),
            [
                "http://127.0.0.4:9401/metrics",
                "http://127.0.0.5:9400/metrics"
            ]
        );
        assert_eq!(
            urls("9500"),
            [
                "http://127.0.0.4:9500/metrics",
                "http://127.0.0.5:9500/metrics"
            ]
        );
        // Another name that no port has: those pods are not asked, rather than asked at 9400,
        // and are named for the server's log.
        assert_eq!(urls("http-metrics"), Vec::<String>::new());
        let unported = |port: &str| {
            let kind = ExporterKind::Dcgm {
                selector: "app=dcgm".into(),
                port: port.parse().expect("a port"),
            };
            pods_without_port(&pods, &kind)
        };
        assert_eq!(
            unported("http-metrics"),
            ["gpuboard/dcgm-a", "gpuboard/dcgm-b"]
        );
        assert_eq!(unported("metrics"), Vec::<String>::new());
        assert_eq!(unported("9500"), Vec::<String>::new());
    }

    #[test]
    fn a_port_is_a_number_from_1_to_65535_or_a_kubernetes_port_name() {
        assert_eq!("9400".parse(), Ok(ExporterPort::Number(9400)));
        assert_eq!(
            " metrics ".parse(),
            Ok(ExporterPort::Named("metrics".into()))
        );
        assert_eq!(
            "gpu-9400".parse(),
            Ok(ExporterPort::Named("gpu-9400".into()))
        );
        for number in ["0", "65536", "99999999999"] {
            assert_eq!(
                number.parse::<ExporterPort>(),
                Err(PortError::Number(number.into()))
            );
        }
        for name in [
            "",
            "Metrics",
            "-metrics",
            "metrics-",
            "a--b",
            "metrics-of-the-gpus",
            "9400-",
            "ports:9400",
        ] {
            assert_eq!(
                name.parse::<ExporterPort>(),
                Err(PortError::Name(name.into())),
                "{name:?}"
            );
        }
    }
}
