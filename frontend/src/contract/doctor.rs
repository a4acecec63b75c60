//! The GPU-node doctor: for one node, a list of checks, each pass, warn or fail, with what was
//! seen (the cluster's own words and numbers). What each check means and what to do about it is
//! the page's to say, in the reader's language (`pages::doctor`).

use serde::{Deserialize, Serialize};

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
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

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    pub check: CheckKind,
    pub status: CheckStatus,
    /// What was seen, as the cluster says it (versions, counts, condition messages).
    pub seen: String,
}

/// A node's checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
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
