//! The GPU-node doctor: why a node will not join, not schedule, or not offer its GPUs, from what
//! the dashboard already knows (the node, its pods, its exporter's answer or why the source
//! gives none, the other GPU nodes)
//! and the node's Lease (its heartbeat, read only for one node's diagnosis). Pure: the caller
//! gathers the inputs.

use std::fmt::Write;

use frontend::contract::Skew;
use frontend::contract::doctor::{Check, CheckKind, CheckStatus, Diagnosis, Seen};
use frontend::contract::{ExporterError, NodeSummary};
use k8s_openapi::api::core::v1::{Node, Pod};

use crate::telemetry::{NodeTelemetry, SourceNow};

/// Xid codes that mean the GPU or its link failed (the GPU needs a reset or the node a reboot);
/// others (63 and 94 among them: a row remapped, an error contained to one application) warn.
const FATAL_XIDS: [u64; 5] = [48, 64, 74, 79, 95];
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
    /// Where `telemetry` comes from, and why it gives none now, for what its absence means.
    pub source: &'a SourceNow,
    pub heartbeat: Heartbeat,
    pub now: jiff::Timestamp,
}

/// Whether `pod` is an NVIDIA device plugin pod (the seeds' and NVIDIA's manifests; not the GPU
/// Operator's validator, which runs to completion).
pub fn is_device_plugin(pod: &Pod) -> bool {
    let meta = &pod.metadata;
    if meta
        .name
        .as_deref()
        .is_some_and(|n| n.contains("validator"))
    {
        return false;
    }
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

fn check(check: CheckKind, status: CheckStatus, seen: Seen) -> Check {
    Check {
        check,
        status,
        seen,
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
        Some(c) if c.status == "True" => check(
            CheckKind::Ready,
            CheckStatus::Pass,
            Seen::text("Ready=True"),
        ),
        Some(c) => check(
            CheckKind::Ready,
            CheckStatus::Fail,
            Seen::text(
                format!(
                    "Ready={} {} {}",
                    c.status,
                    c.reason.as_deref().unwrap_or_default(),
                    c.message.as_deref().unwrap_or_default()
                )
                .trim(),
            ),
        ),
        None => check(CheckKind::Ready, CheckStatus::Fail, Seen::NoReadyCondition),
    }
}

fn pressure(node: &Node) -> Check {
    let under: Vec<&str> = ["MemoryPressure", "DiskPressure", "PIDPressure"]
        .into_iter()
        .filter(|kind| condition(node, kind).is_some_and(|c| c.status == "True"))
        .collect();
    if under.is_empty() {
        check(CheckKind::Pressure, CheckStatus::Pass, Seen::Nothing)
    } else {
        check(
            CheckKind::Pressure,
            CheckStatus::Warn,
            Seen::text(under.join(", ")),
        )
    }
}

fn cordoned(summary: &NodeSummary) -> Check {
    if summary.unschedulable {
        check(
            CheckKind::Cordoned,
            CheckStatus::Warn,
            Seen::text("SchedulingDisabled"),
        )
    } else {
        check(CheckKind::Cordoned, CheckStatus::Pass, Seen::Schedulable)
    }
}

/// The plugin's state on the node: Running if any of its pods runs (an old failed pod does not
/// count against it). Pod names stay out: not every user may list kube-system's pods.
fn device_plugin(pods: &[&Pod]) -> Check {
    let phases: Vec<&str> = pods
        .iter()
        .filter(|p| is_device_plugin(p))
        .map(|p| {
            p.status
                .as_ref()
                .and_then(|s| s.phase.as_deref())
                .unwrap_or("Unknown")
        })
        .collect();
    if phases.contains(&"Running") {
        check(
            CheckKind::DevicePlugin,
            CheckStatus::Pass,
            Seen::text("Running"),
        )
    } else if phases.is_empty() {
        check(
            CheckKind::DevicePlugin,
            CheckStatus::Fail,
            Seen::NoDevicePlugin,
        )
    } else {
        check(
            CheckKind::DevicePlugin,
            CheckStatus::Fail,
            Seen::text(phases.join(", ")),
        )
    }
}

/// GPUs the exporter last saw on the node.
fn seen_gpus(telemetry: Option<&NodeTelemetry>) -> Option<usize> {
    telemetry?.last_good.as_ref().map(|g| g.gpus.len())
}

fn gpus_allocatable(summary: &NodeSummary, telemetry: Option<&NodeTelemetry>) -> Check {
    let allocatable = summary.gpus_allocatable;
    let seen = seen_gpus(telemetry);
    let status = match seen {
        _ if allocatable == 0 => CheckStatus::Fail,
        Some(n) if n == allocatable as usize => CheckStatus::Pass,
        _ => CheckStatus::Warn,
    };
    check(
        CheckKind::GpusAllocatable,
        status,
        Seen::Allocatable { allocatable, seen },
    )
}

/// Whether the node's samples come: from its exporter's answer, or, when it has none, in the
/// source's terms (Prometheus failing fails every node it has no samples of).
fn exporter(telemetry: Option<&NodeTelemetry>, source: &SourceNow) -> Check {
    match telemetry {
        None => match &source.failure {
            Some(why) => check(
                CheckKind::Exporter,
                CheckStatus::Fail,
                Seen::ExporterFailed {
                    error: ExporterError::Prometheus(why.clone()),
                },
            ),
            None => check(
                CheckKind::Exporter,
                CheckStatus::Warn,
                Seen::NoSamples {
                    source: source.kind,
                },
            ),
        },
        Some(t) => match &t.error {
            Some(error) => check(
                CheckKind::Exporter,
                CheckStatus::Fail,
                Seen::ExporterFailed {
                    error: error.clone(),
                },
            ),
            None => check(
                CheckKind::Exporter,
                CheckStatus::Pass,
                Seen::Gpus {
                    count: seen_gpus(Some(t)).unwrap_or(0),
                },
            ),
        },
    }
}

fn software(summary: &NodeSummary) -> Check {
    let seen = Seen::Software {
        kernel: summary.kernel.clone(),
        driver: summary.driver.clone().unwrap_or_else(|| "?".into()),
        os: summary.os_image.clone(),
    };
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
        Seen::text(summary.container_runtime.clone()),
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
    let seen = Seen::Kubelet {
        kubelet: kubelet.to_string(),
        control_plane: control_plane.map(str::to_string),
    };
    let status = match (minor(kubelet), control_plane.and_then(minor)) {
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
        check(CheckKind::Taints, CheckStatus::Pass, Seen::Nothing)
    } else {
        check(
            CheckKind::Taints,
            CheckStatus::Warn,
            Seen::text(blocking.join(", ")),
        )
    }
}

fn xid(telemetry: Option<&NodeTelemetry>) -> Check {
    let Some(gpus) = telemetry.and_then(|t| t.last_good.as_ref()) else {
        return check(CheckKind::Xid, CheckStatus::Warn, Seen::NoExporterData);
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
        (true, _) => check(CheckKind::Xid, CheckStatus::Pass, Seen::Nothing),
        (false, true) => check(CheckKind::Xid, CheckStatus::Fail, Seen::text(seen)),
        (false, false) => check(CheckKind::Xid, CheckStatus::Warn, Seen::text(seen)),
    }
}

fn clock(heartbeat: Heartbeat, now: jiff::Timestamp) -> Option<Check> {
    let (status, seen) = match heartbeat {
        Heartbeat::NotRead => return None,
        Heartbeat::Missing => (CheckStatus::Warn, Seen::NoLease),
        Heartbeat::Renewed(at) => {
            let ahead = at.as_second() - now.as_second();
            if ahead > CLOCK_AHEAD_SECONDS {
                (CheckStatus::Warn, Seen::Ahead { seconds: ahead })
            } else if -ahead > HEARTBEAT_STALE_SECONDS {
                (CheckStatus::Warn, Seen::Late { seconds: -ahead })
            } else {
                (CheckStatus::Pass, Seen::InStep)
            }
        }
    };
    Some(check(CheckKind::Clock, status, seen))
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
            exporter(input.telemetry, input.source),
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
    use frontend::contract::SampleSource;
    use k8s_openapi::api::core::v1::{NodeSpec, Taint};

    #[test]
    fn a_node_without_samples_is_said_in_the_terms_of_the_source() {
        for source in [
            SampleSource::GpuboardExporter,
            SampleSource::DcgmExporter,
            SampleSource::Prometheus,
        ] {
            let check = exporter(
                None,
                &SourceNow {
                    kind: source,
                    failure: None,
                },
            );
            assert_eq!(check.status, CheckStatus::Warn);
            assert_eq!(check.seen, Seen::NoSamples { source });
        }
        // Prometheus not answering: a node it has no samples of fails with the reason.
        let failing = SourceNow {
            kind: SampleSource::Prometheus,
            failure: Some("cannot connect: refused".into()),
        };
        let check = exporter(None, &failing);
        assert_eq!(check.status, CheckStatus::Fail);
        assert_eq!(check.seen.english(), "Prometheus: cannot connect: refused");
        let text = Seen::NoSamples {
            source: SampleSource::Prometheus,
        }
        .english();
        assert!(text.contains("Prometheus"), "{text}");
    }

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
        assert_eq!(
            flagged.seen,
            Seen::text("node.kubernetes.io/not-ready:NoSchedule")
        );
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
            (ahead.status, ahead.seen.english()),
            (
                CheckStatus::Warn,
                "heartbeat 95 s ahead of the API server".to_string()
            )
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
            (fatal.status, fatal.seen),
            (
                CheckStatus::Fail,
                Seen::text("GPU 0: Xid 13 x2, GPU 0: Xid 79 x1")
            )
        );
    }
}
