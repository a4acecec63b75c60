//! The GPU-node doctor: for one node, a list of checks, each pass, warn or fail, with what was
//! seen (the cluster's own words and numbers). What each check means and what to do about it is
//! the page's to say, in the reader's language (`pages::doctor`).

use serde::{Deserialize, Serialize};

use super::{ExporterError, SampleSource};

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum CheckStatus {
    Pass,
    Warn,
    Fail,
}

/// What is checked.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum CheckKind {
    /// The Ready condition.
    Ready,
    /// Memory, disk or PID pressure.
    Pressure,
    /// Cordoned (unschedulable).
    Cordoned,
    /// The NVIDIA device plugin pod running on the node.
    DevicePlugin,
    /// Allocatable `nvidia.com/gpu` against the GPUs the exporter sees.
    GpusAllocatable,
    /// The node's gpuboard exporter answering.
    Exporter,
    /// Driver, kernel and OS image against the other GPU nodes.
    Software,
    /// The container runtime against the other GPU nodes.
    Runtime,
    /// The kubelet's version against the control plane's.
    KubeletVersion,
    /// Taints GPU pods do not tolerate.
    Taints,
    /// Xid errors the exporter saw.
    Xid,
    /// The node's clock, from its heartbeats (Lease renewals).
    Clock,
}

/// What a check saw: the cluster's own words and numbers, or a finding the page words in the
/// reader's language ([`Seen::english`] for scripts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum Seen {
    /// The cluster's words or values as they are (conditions, phases, taints, Xid codes).
    Text {
        text: String,
    },
    /// Nothing of what the check looks for.
    Nothing,
    /// The node has no Ready condition at all (its kubelet never reported).
    NoReadyCondition,
    Schedulable,
    NoDevicePlugin,
    /// Allocatable `nvidia.com/gpu` and the GPUs the exporter sees (None: it has not reported).
    Allocatable {
        allocatable: u32,
        seen: Option<usize>,
    },
    /// The source has nothing of this node: no exporter pod runs on it, or Prometheus has no
    /// series of it.
    NoSamples {
        source: SampleSource,
    },
    ExporterFailed {
        error: ExporterError,
    },
    /// The exporter answers with this many GPUs.
    Gpus {
        count: usize,
    },
    Software {
        kernel: String,
        driver: String,
        os: String,
    },
    Kubelet {
        kubelet: String,
        control_plane: Option<String>,
    },
    NoExporterData,
    NoLease,
    /// The node's heartbeat is this far ahead of the API server.
    Ahead {
        seconds: i64,
    },
    /// The node's last heartbeat is this old.
    Late {
        seconds: i64,
    },
    InStep,
}

impl Seen {
    /// The cluster's words, as they are.
    pub fn text(text: impl Into<String>) -> Self {
        Seen::Text { text: text.into() }
    }

    /// In English, for scripts (the page words it in the reader's language).
    pub fn english(&self) -> String {
        match self {
            Seen::Text { text } => text.clone(),
            Seen::Nothing => "none".into(),
            Seen::NoReadyCondition => "no Ready condition".into(),
            Seen::Schedulable => "schedulable".into(),
            Seen::NoDevicePlugin => "no nvidia-device-plugin pod on this node".into(),
            Seen::Allocatable {
                allocatable,
                seen: Some(seen),
            } => format!("nvidia.com/gpu {allocatable}; exporter sees {seen}"),
            Seen::Allocatable {
                allocatable,
                seen: None,
            } => format!("nvidia.com/gpu {allocatable}; the exporter has not reported"),
            Seen::NoSamples { source } => match source {
                SampleSource::GpuboardExporter => "no gpuboard-exporter pod on this node",
                SampleSource::DcgmExporter => {
                    "no running dcgm-exporter pod on this node at --dcgm-exporter-port"
                }
                SampleSource::Prometheus => "Prometheus has no series of this node",
            }
            .into(),
            Seen::ExporterFailed { error } => match error {
                ExporterError::Timeout { ms } => format!("no answer within {ms} ms"),
                ExporterError::Unreachable(e) | ExporterError::Invalid(e) => e.clone(),
                ExporterError::Status(code) => format!("HTTP {code}"),
                ExporterError::WrongNode(other) => format!("answers for {other}"),
                ExporterError::Prometheus(e) => format!("Prometheus: {e}"),
                ExporterError::NoSeries => "no current series in Prometheus".into(),
            },
            Seen::Gpus { count } => format!("{count} GPU(s)"),
            Seen::Software { kernel, driver, os } => {
                format!("kernel {kernel}, driver {driver}, {os}")
            }
            Seen::Kubelet {
                kubelet,
                control_plane: Some(cp),
            } => format!("kubelet {kubelet}, control plane {cp}"),
            Seen::Kubelet {
                kubelet,
                control_plane: None,
            } => format!("kubelet {kubelet}; control plane version unknown"),
            Seen::NoExporterData => "no exporter data".into(),
            Seen::NoLease => "no Lease in kube-node-lease".into(),
            Seen::Ahead { seconds } => format!("heartbeat {seconds} s ahead of the API server"),
            Seen::Late { seconds } => format!("last heartbeat {seconds} s ago"),
            Seen::InStep => "in step".into(),
        }
    }
}

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Check {
    pub check: CheckKind,
    pub status: CheckStatus,
    pub seen: Seen,
}

/// A node's checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Diagnosis {
    pub node: String,
    /// Whether the node carries GPUs (GPU checks are skipped on the others).
    pub gpu_node: bool,
    pub checks: Vec<Check>,
}

impl Diagnosis {
    /// The worst status among the checks.
    pub fn worst(&self) -> CheckStatus {
        self.checks
            .iter()
            .map(|c| c.status)
            .max()
            .unwrap_or(CheckStatus::Pass)
    }
}
