//! The contract between `gpuboard-exporter` and its readers (the dashboard's telemetry collector,
//! the simulated cluster): how an exporter is found and asked ([`APP_LABEL`], [`PORT_NAME`],
//! [`GPUS_PATH`]), and its answer, `GET /api/v1/gpus`: one node's GPUs with identity, the latest
//! sample of each field (units in the names), processes and attributed pods; and the
//! dcgm-exporter series and labels those fields are exposed as ([`dcgm`]). Defined once, here.

pub mod dcgm;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The label that marks an exporter pod, and its value: also the exporter DaemonSet's name
/// (`deploy/exporter.yaml`).
pub const APP_LABEL: &str = "app.kubernetes.io/name";
pub const APP_NAME: &str = "gpuboard-exporter";
/// The name of the exporter container's port, and the port when none is named.
pub const PORT_NAME: &str = "metrics";
pub const DEFAULT_PORT: u16 = 9400;
/// Where the exporter serves [`NodeGpus`] as JSON.
pub const GPUS_PATH: &str = "/api/v1/gpus";

/// The whole answer of `/api/v1/gpus`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeGpus {
    pub node: String,
    pub driver_version: Option<String>,
    pub cuda_version: Option<String>,
    pub nvml_version: Option<String>,
    /// When the fast fields were last sampled, Unix milliseconds.
    pub sampled_at_ms: i64,
    /// Why the exporter has no GPU data (no NVML library, no GPU, ...); None when it has.
    pub unavailable: Option<String>,
    /// Whether GPUs can be attributed to pods (the kubelet pod-resources socket answered).
    pub attribution: Attribution,
    pub gpus: Vec<Gpu>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "state", content = "reason")]
/// Whether the exporter could ask the kubelet which pods hold its GPUs.
pub enum Attribution {
    Ok,
    #[default]
    Unavailable,
    Failed(String),
    /// Turned off on this exporter (`--no-pod-attribution`): no pod names leave the node.
    Off,
}

/// One GPU: what it is, how it is doing, and who uses it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Gpu {
    #[serde(flatten)]
    pub identity: GpuIdentity,
    #[serde(flatten)]
    pub fields: GpuFields,
    pub processes: Vec<GpuProcess>,
    pub pods: Vec<PodRef>,
    /// Xid errors seen since the exporter started: Xid code -> count.
    pub xid_errors: BTreeMap<u64, u64>,
    /// Fields that failed on this GPU this round, with the reason (NotSupported fields are left out).
    /// Under [`GPU_LOST`]: the whole GPU failed (lost, fallen off the bus), so it has no fields.
    pub field_errors: BTreeMap<String, String>,
}

impl Gpu {
    /// Why the whole GPU failed this round, if it did.
    pub fn failure(&self) -> Option<&str> {
        self.field_errors.get(GPU_LOST).map(String::as_str)
    }
}

/// The `fieldErrors` key under which an exporter reports a GPU that failed whole.
pub const GPU_LOST: &str = "gpu";

/// Static facts, read once per NVML initialisation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GpuIdentity {
    pub index: u32,
    /// The N of `/dev/nvidiaN` (GKE's device plugin names GPUs by it); None when NVML does not say.
    pub minor_number: Option<u32>,
    pub uuid: String,
    pub name: String,
    pub serial: Option<String>,
    pub pci_bus_id: String,
    pub memory_total_bytes: u64,
    pub power_limit_watts: Option<f64>,
    pub ecc_enabled: Option<bool>,
    pub compute_capability: Option<String>,
    pub mig_enabled: Option<bool>,
}

/// The sampled fields; None when the GPU does not support one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GpuFields {
    pub utilization_percent: Option<f64>,
    pub memory_copy_utilization_percent: Option<f64>,
    pub encoder_utilization_percent: Option<f64>,
    pub decoder_utilization_percent: Option<f64>,
    pub memory_used_bytes: Option<u64>,
    pub memory_free_bytes: Option<u64>,
    pub memory_reserved_bytes: Option<u64>,
    pub temperature_celsius: Option<f64>,
    pub memory_temperature_celsius: Option<f64>,
    pub power_watts: Option<f64>,
    pub sm_clock_mhz: Option<f64>,
    pub memory_clock_mhz: Option<f64>,
    // Slow fields, sampled on their own schedule.
    pub total_energy_millijoules: Option<u64>,
    pub pcie_replay_count: Option<u64>,
    pub pcie_tx_bytes_per_second: Option<f64>,
    pub pcie_rx_bytes_per_second: Option<f64>,
    pub correctable_remapped_rows: Option<u64>,
    pub uncorrectable_remapped_rows: Option<u64>,
    pub row_remap_failure: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
/// A process running on a GPU, with the GPU memory it holds when the driver says.
pub struct GpuProcess {
    pub pid: u32,
    pub used_memory_bytes: Option<u64>,
}

/// A container that holds the GPU, from the kubelet's pod-resources API.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodRef {
    pub namespace: String,
    pub pod: String,
    pub container: String,
}
