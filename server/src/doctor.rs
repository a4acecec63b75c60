//! The GPU-node doctor: why a node will not join, not schedule, or not offer its GPUs, from what
//! the dashboard already knows (the node, its pods, its exporter's answer, the other GPU nodes)
//! and the node's Lease (its heartbeat, read only for one node's diagnosis). Pure: the caller
//! gathers the inputs.

use std::fmt::Write;

use frontend::contract::NodeSummary;
use frontend::contract::doctor::{Check, CheckKind, CheckStatus, Diagnosis};
use frontend::contract::{ExporterError, Skew};
use k8s_openapi::api::core::v1::{Node, Pod};

use crate::telemetry::NodeTelemetry;

/// Xid codes that mean the GPU or its link failed (the GPU needs a reset or the node a reboot).
const FATAL_XIDS: [u64; 7] = [48, 63, 64, 74, 79, 94, 95];
/// A heartbeat this far ahead of the API server means the node's clock runs ahead.
const CLOCK_AHEAD_SECONDS: i64 = 5;
/// A heartbeat older than this means the kubelet stopped renewing (or its clock runs behind).
const HEARTBEAT_STALE_SECONDS: i64 = 60;
/// Kubernetes' version-skew policy: a kubelet may be up to three minor versions older.
const MAX_KUBELET_MINORS_BEHIND: i64 = 3;

/// What was read of the node's Lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heartbeat {
    /// Not read (the overview's summary skips the clock).
    NotRead,
    /// No Lease in `kube-node-lease`.
    Missing,
    /// Its renewTime.
    Renewed(jiff::Timestamp),
}

/// Everything one node's diagnosis reads.
pub struct DoctorInput<'a> {
    pub node: &'a Node,
    /// The node's row, with its skew flags against the other GPU nodes.
    pub summary: &'a NodeSummary,
    /// The control plane's kubelet version (its API server's, on kubeadm clusters).
    pub control_plane_version: Option<&'a str>,
    /// The pods on the node (any phase).
    pub pods: &'a [&'a Pod],
    pub telemetry: Option<&'a NodeTelemetry>,
    pub heartbeat: Heartbeat,
    pub now: jiff::Timestamp,
}

/// Whether `pod` is an NVIDIA device plugin pod (the seeds' and NVIDIA's manifests).
pub fn is_device_plugin(pod: &Pod) -> bool {
    let meta = &pod.metadata;
    let labelled = meta.labels.as_ref().is_some_and(|l| {
        l.get("name")
            .is_some_and(|v| v == "nvidia-device-plugin-ds")
            || l.get("app.kubernetes.io/name")
                .is_some_and(|v| v == "nvidia-device-plugin")
    });
    labelled
        || meta
            .name
            .as_deref()
            .is_some_and(|n| n.starts_with("nvidia-device-plugin"))
}

fn check(check: CheckKind, status: CheckStatus, seen: impl Into<String>) -> Check {
    Check {
        check,
        status,
        seen: seen.into(),
    }
}

fn condition<'a>(
    node: &'a Node,
    kind: &str,
) -> Option<&'a k8s_openapi::api::core::v1::NodeCondition> {
    node.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == kind)
}

fn ready(node: &Node) -> Check {
    match condition(node, "Ready") {
        Some(c) if c.status == "True" => check(CheckKind::Ready, CheckStatus::Pass, "Ready=True"),
        Some(c) => check(
            CheckKind::Ready,
            CheckStatus::Fail,
            format!(
                "Ready={} {} {}",
                c.status,
                c.reason.as_deref().unwrap_or_default(),
                c.message.as_deref().unwrap_or_default()
            )
            .trim()
            .to_string(),
        ),
        None => check(CheckKind::Ready, CheckStatus::Fail, "no Ready condition"),
    }
}

fn pressure(node: &Node) -> Check {
    let under: Vec<&str> = ["MemoryPressure", "DiskPressure", "PIDPressure"]
        .into_iter()
        .filter(|kind| condition(node, kind).is_some_and(|c| c.status == "True"))
        .collect();
    if under.is_empty() {
        check(CheckKind::Pressure, CheckStatus::Pass, "none")
    } else {
        check(CheckKind::Pressure, CheckStatus::Warn, under.join(", "))
    }
}

fn cordoned(summary: &NodeSummary) -> Check {
    if summary.unschedulable {
        check(CheckKind::Cordoned, CheckStatus::Warn, "SchedulingDisabled")
    } else {
        check(CheckKind::Cordoned, CheckStatus::Pass, "schedulable")
    }
}

fn device_plugin(pods: &[&Pod]) -> Check {
    let plugin = pods.iter().find(|p| is_device_plugin(p));
    match plugin {
        None => check(
            CheckKind::DevicePlugin,
            CheckStatus::Fail,
            "no nvidia-device-plugin pod on this node",
        ),
        Some(pod) => {
            let name = pod.metadata.name.as_deref().unwrap_or_default();
            let phase = pod
                .status
                .as_ref()
                .and_then(|s| s.phase.as_deref())
                .unwrap_or("Unknown");
            let status = if phase == "Running" {
                CheckStatus::Pass
            } else {
                CheckStatus::Fail
            };
            check(CheckKind::DevicePlugin, status, format!("{name}: {phase}"))
        }
    }
}

/// GPUs the exporter last saw on the node.
fn seen_gpus(telemetry: Option<&NodeTelemetry>) -> Option<usize> {
    telemetry?.last_good.as_ref().map(|g| g.gpus.len())
}

fn gpus_allocatable(summary: &NodeSummary, telemetry: Option<&NodeTelemetry>) -> Check {
    let allocatable = summary.gpus_allocatable as usize;
    match seen_gpus(telemetry) {
        None => check(
            CheckKind::GpusAllocatable,
            if allocatable == 0 {
                CheckStatus::Fail
            } else {
                CheckStatus::Warn
            },
            format!("nvidia.com/gpu {allocatable}; the exporter has not reported"),
        ),
        Some(seen) => {
            let status = if allocatable == seen {
                CheckStatus::Pass
            } else if allocatable == 0 {
                CheckStatus::Fail
            } else {
                CheckStatus::Warn
            };
            check(
                CheckKind::GpusAllocatable,
                status,
                format!("nvidia.com/gpu {allocatable}; exporter sees {seen}"),
            )
        }
    }
}

fn exporter_error_words(error: &ExporterError) -> String {
    match error {
        ExporterError::Timeout { ms } => format!("no answer within {ms} ms"),
        ExporterError::Unreachable(e) => e.clone(),
        ExporterError::Status(code) => format!("HTTP {code}"),
        ExporterError::Invalid(e) => e.clone(),
        ExporterError::WrongNode(other) => format!("answers for {other}"),
    }
}

fn exporter(telemetry: Option<&NodeTelemetry>) -> Check {
    match telemetry {
        None => check(
            CheckKind::Exporter,
            CheckStatus::Warn,
            "no gpuboard-exporter pod on this node",
        ),
        Some(t) => match &t.error {
            Some(error) => check(
                CheckKind::Exporter,
                CheckStatus::Fail,
                exporter_error_words(error),
            ),
            None => check(
                CheckKind::Exporter,
                CheckStatus::Pass,
                format!("{} GPU(s)", seen_gpus(Some(t)).unwrap_or(0)),
            ),
        },
    }
}

fn software(summary: &NodeSummary) -> Check {
    let seen = format!(
        "kernel {}, driver {}, {}",
        summary.kernel,
        summary.driver.as_deref().unwrap_or("?"),
        summary.os_image
    );
    let differs = summary.skews(Skew::Kernel) || summary.skews(Skew::Driver);
    let status = if differs {
        CheckStatus::Warn
    } else {
        CheckStatus::Pass
    };
    check(CheckKind::Software, status, seen)
}

fn runtime(summary: &NodeSummary) -> Check {
    let status = if summary.skews(Skew::Runtime) {
        CheckStatus::Warn
    } else {
        CheckStatus::Pass
    };
    check(
        CheckKind::Runtime,
        status,
        summary.container_runtime.clone(),
    )
}

/// The minor version of `v1.MINOR.PATCH`.
fn minor(version: &str) -> Option<i64> {
    version
        .trim_start_matches('v')
        .split('.')
        .nth(1)?
        .parse()
        .ok()
}

fn kubelet_version(summary: &NodeSummary, control_plane: Option<&str>) -> Check {
    let kubelet = summary.kubelet_version.as_str();
    let Some(control_plane) = control_plane else {
        return check(
            CheckKind::KubeletVersion,
            CheckStatus::Warn,
            format!("kubelet {kubelet}; control plane version unknown"),
        );
    };
    let seen = format!("kubelet {kubelet}, control plane {control_plane}");
    let status = match (minor(kubelet), minor(control_plane)) {
        (Some(k), Some(c)) if k > c => CheckStatus::Fail,
        (Some(k), Some(c)) if c - k > MAX_KUBELET_MINORS_BEHIND => CheckStatus::Fail,
        (Some(k), Some(c)) if c > k => CheckStatus::Warn,
        (Some(_), Some(_)) => CheckStatus::Pass,
        _ => CheckStatus::Warn,
    };
    check(CheckKind::KubeletVersion, status, seen)
}

fn taints(node: &Node) -> Check {
    let blocking: Vec<String> = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .into_iter()
        .flatten()
        .filter(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
        .filter(|t| t.key != "nvidia.com/gpu")
        .map(|t| match &t.value {
            Some(v) => format!("{}={v}:{}", t.key, t.effect),
            None => format!("{}:{}", t.key, t.effect),
        })
        .collect();
    if blocking.is_empty() {
        check(CheckKind::Taints, CheckStatus::Pass, "none")
    } else {
        check(CheckKind::Taints, CheckStatus::Warn, blocking.join(", "))
    }
}

fn xid(telemetry: Option<&NodeTelemetry>) -> Check {
    let Some(gpus) = telemetry.and_then(|t| t.last_good.as_ref()) else {
        return check(CheckKind::Xid, CheckStatus::Warn, "no exporter data");
    };
    let mut seen = String::new();
    let mut fatal = false;
    for gpu in &gpus.gpus {
        for (code, count) in &gpu.xid_errors {
            fatal |= FATAL_XIDS.contains(code);
            if !seen.is_empty() {
                seen.push_str(", ");
            }
            let _ = write!(seen, "GPU {}: Xid {code} x{count}", gpu.identity.index);
        }
    }
    match (seen.is_empty(), fatal) {
        (true, _) => check(CheckKind::Xid, CheckStatus::Pass, "none"),
        (false, true) => check(CheckKind::Xid, CheckStatus::Fail, seen),
        (false, false) => check(CheckKind::Xid, CheckStatus::Warn, seen),
    }
}

fn clock(heartbeat: Heartbeat, now: jiff::Timestamp) -> Option<Check> {
    match heartbeat {
        Heartbeat::NotRead => None,
        Heartbeat::Missing => Some(check(
            CheckKind::Clock,
            CheckStatus::Warn,
            "no Lease in kube-node-lease",
        )),
        Heartbeat::Renewed(at) => {
            let ahead = at.as_second() - now.as_second();
            Some(if ahead > CLOCK_AHEAD_SECONDS {
                check(
                    CheckKind::Clock,
                    CheckStatus::Warn,
                    format!("heartbeat {ahead} s ahead of the API server"),
                )
            } else if -ahead > HEARTBEAT_STALE_SECONDS {
                check(
                    CheckKind::Clock,
                    CheckStatus::Warn,
                    format!("last heartbeat {} s ago", -ahead),
                )
            } else {
                check(CheckKind::Clock, CheckStatus::Pass, "in step")
            })
        }
    }
}

/// Whether the node carries GPUs: it offers `nvidia.com/gpu`, an exporter reports GPUs on it, or
/// it is labelled as a GPU node.
pub fn is_gpu_node(input: &DoctorInput) -> bool {
    input.summary.gpus_allocatable > 0
        || seen_gpus(input.telemetry).is_some_and(|n| n > 0)
        || input
            .node
            .metadata
            .labels
            .as_ref()
            .is_some_and(|l| l.get("nvidia.com/gpu.present").is_some_and(|v| v == "true"))
}

/// Every check of one node.
pub fn diagnose(input: &DoctorInput) -> Diagnosis {
    let gpu_node = is_gpu_node(input);
    let mut checks = vec![
        ready(input.node),
        pressure(input.node),
        cordoned(input.summary),
    ];
    if gpu_node {
        checks.extend([
            device_plugin(input.pods),
            gpus_allocatable(input.summary, input.telemetry),
            exporter(input.telemetry),
            software(input.summary),
            runtime(input.summary),
        ]);
    }
    checks.push(kubelet_version(input.summary, input.control_plane_version));
    if gpu_node {
        checks.push(taints(input.node));
        checks.push(xid(input.telemetry));
    }
    checks.extend(clock(input.heartbeat, input.now));
    Diagnosis {
        node: input.summary.name.clone(),
        gpu_node,
        checks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{NodeSpec, Taint};

    fn summary(kubelet: &str) -> NodeSummary {
        NodeSummary {
            name: "n".into(),
            kubelet_version: kubelet.into(),
            ..Default::default()
        }
    }

    #[test]
    fn kubelet_versions_follow_the_skew_policy() {
        let status =
            |kubelet: &str, cp: Option<&str>| kubelet_version(&summary(kubelet), cp).status;
        assert_eq!(status("v1.34.1", Some("v1.34.0")), CheckStatus::Pass);
        assert_eq!(status("v1.33.2", Some("v1.34.0")), CheckStatus::Warn);
        assert_eq!(status("v1.31.0", Some("v1.34.0")), CheckStatus::Warn);
        assert_eq!(status("v1.30.0", Some("v1.34.0")), CheckStatus::Fail);
        assert_eq!(status("v1.35.0", Some("v1.34.0")), CheckStatus::Fail);
        assert_eq!(status("v1.34.0", None), CheckStatus::Warn);
        assert_eq!(status("garbage", Some("v1.34.0")), CheckStatus::Warn);
    }

    #[test]
    fn only_taints_gpu_pods_do_not_tolerate_are_flagged() {
        let node = |taints: Vec<Taint>| Node {
            spec: Some(NodeSpec {
                taints: Some(taints),
                ..Default::default()
            }),
            ..Default::default()
        };
        let taint = |key: &str, effect: &str| Taint {
            key: key.into(),
            effect: effect.into(),
            ..Default::default()
        };
        assert_eq!(taints(&node(vec![])).status, CheckStatus::Pass);
        assert_eq!(
            taints(&node(vec![
                taint("nvidia.com/gpu", "NoSchedule"),
                taint("x", "PreferNoSchedule")
            ]))
            .status,
            CheckStatus::Pass
        );
        let flagged = taints(&node(vec![taint(
            "node.kubernetes.io/not-ready",
            "NoSchedule",
        )]));
        assert_eq!(flagged.status, CheckStatus::Warn);
        assert_eq!(flagged.seen, "node.kubernetes.io/not-ready:NoSchedule");
    }

    #[test]
    fn heartbeats_ahead_or_late_point_at_the_clock() {
        let now: jiff::Timestamp = "2026-11-24T10:00:00Z".parse().unwrap();
        let at = |s: i64| {
            Heartbeat::Renewed(now.checked_add(jiff::SignedDuration::from_secs(s)).unwrap())
        };
        assert_eq!(clock(Heartbeat::NotRead, now), None);
        assert_eq!(clock(at(-8), now).unwrap().status, CheckStatus::Pass);
        let ahead = clock(at(95), now).unwrap();
        assert_eq!(
            (ahead.status, ahead.seen.as_str()),
            (CheckStatus::Warn, "heartbeat 95 s ahead of the API server")
        );
        assert_eq!(clock(at(-300), now).unwrap().status, CheckStatus::Warn);
        assert_eq!(
            clock(Heartbeat::Missing, now).unwrap().status,
            CheckStatus::Warn
        );
    }

    #[test]
    fn allocatable_gpus_are_compared_with_what_the_exporter_sees() {
        use gpuboard_exporter_api::{Gpu, NodeGpus};
        let telemetry = |n: usize| NodeTelemetry {
            last_good: Some(std::sync::Arc::new(NodeGpus {
                gpus: vec![Gpu::default(); n],
                ..Default::default()
            })),
            last_good_at_ms: Some(1),
            error: None,
        };
        let with = |allocatable: u32| NodeSummary {
            gpus_allocatable: allocatable,
            ..Default::default()
        };
        assert_eq!(
            gpus_allocatable(&with(2), Some(&telemetry(2))).status,
            CheckStatus::Pass
        );
        assert_eq!(
            gpus_allocatable(&with(1), Some(&telemetry(2))).status,
            CheckStatus::Warn
        );
        assert_eq!(
            gpus_allocatable(&with(0), Some(&telemetry(2))).status,
            CheckStatus::Fail
        );
        let mut xids = telemetry(1);
        let gpus = std::sync::Arc::make_mut(xids.last_good.as_mut().unwrap());
        gpus.gpus[0].xid_errors.insert(13, 2);
        assert_eq!(xid(Some(&xids)).status, CheckStatus::Warn);
        let gpus = std::sync::Arc::make_mut(xids.last_good.as_mut().unwrap());
        gpus.gpus[0].xid_errors.insert(79, 1);
        let fatal = xid(Some(&xids));
        assert_eq!(
            (fatal.status, fatal.seen.as_str()),
            (CheckStatus::Fail, "GPU 0: Xid 13 x2, GPU 0: Xid 79 x1")
        );
    }
}
