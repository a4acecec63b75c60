//! Where GPU readings come from: the [`GpuSource`] trait that NVML and the sim's simulated GPUs
//! implement, and how a source reports failure (absent field, unavailable, lost).

use std::collections::BTreeMap;

use frontend::gpu_api::{GpuFields, GpuIdentity, GpuProcess};

/// Driver-wide facts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SystemInfo {
    pub driver_version: Option<String>,
    pub cuda_version: Option<String>,
    pub nvml_version: Option<String>,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum SourceError {
    /// Nothing to read at all (no library, no driver, no GPU): say what to check.
    #[error("{0}")]
    Unavailable(String),
    /// The GPU or driver went away under us (GpuLost, driver/library mismatch): re-initialise.
    #[error("{0}")]
    Lost(String),
}

/// Per-field failures of one GPU in one round: field name -> reason.
pub type FieldErrors = BTreeMap<String, String>;

/// A source of GPU readings. Calls block (NVML is synchronous); the collector runs them on its own threads.
pub trait GpuSource: Send + Sync + 'static {
    /// (Re)initialises and reads the static facts of every GPU.
    fn init(&self) -> Result<(SystemInfo, Vec<GpuIdentity>), SourceError>;
    /// Reads the fast fields of GPU `index` into `fields` and returns its processes.
    /// A field the GPU does not support stays None; one that fails goes into `errors`.
    fn sample_fast(
        &self,
        index: usize,
        fields: &mut GpuFields,
        errors: &mut FieldErrors,
    ) -> Result<Vec<GpuProcess>, SourceError>;
    /// Reads the slow fields (energy, PCIe, remapped rows) of GPU `index`.
    fn sample_slow(
        &self,
        index: usize,
        fields: &mut GpuFields,
        errors: &mut FieldErrors,
    ) -> Result<(), SourceError>;
    /// The UUID of the GPU a MIG device (`MIG-...`) belongs to, for attribution.
    fn mig_parent_uuid(&self, _mig_uuid: &str) -> Option<String> {
        None
    }
    /// Xid errors seen since the last call: (GPU index, Xid).
    fn drain_xids(&self) -> Vec<(usize, u64)> {
        Vec::new()
    }
}

/// Copies the fast fields of `from` into `to`, keeping `to`'s slow fields.
pub fn merge_fast(to: &mut GpuFields, from: &GpuFields) {
    let slow = std::mem::replace(to, from.clone());
    merge_slow(to, &slow);
}

/// Copies the slow fields of `from` into `to`.
pub fn merge_slow(to: &mut GpuFields, from: &GpuFields) {
    to.total_energy_millijoules = from.total_energy_millijoules;
    to.pcie_replay_count = from.pcie_replay_count;
    to.pcie_tx_bytes_per_second = from.pcie_tx_bytes_per_second;
    to.pcie_rx_bytes_per_second = from.pcie_rx_bytes_per_second;
    to.correctable_remapped_rows = from.correctable_remapped_rows;
    to.uncorrectable_remapped_rows = from.uncorrectable_remapped_rows;
    to.row_remap_failure = from.row_remap_failure;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_and_slow_merges_keep_each_other() {
        let mut state = GpuFields {
            total_energy_millijoules: Some(5),
            utilization_percent: Some(1.0),
            ..Default::default()
        };
        merge_fast(
            &mut state,
            &GpuFields {
                utilization_percent: Some(90.0),
                ..Default::default()
            },
        );
        assert_eq!(
            (state.utilization_percent, state.total_energy_millijoules),
            (Some(90.0), Some(5))
        );
        merge_slow(
            &mut state,
            &GpuFields {
                total_energy_millijoules: Some(9),
                utilization_percent: Some(0.0),
                ..Default::default()
            },
        );
        assert_eq!(
            (state.utilization_percent, state.total_energy_millijoules),
            (Some(90.0), Some(9))
        );
    }
}
