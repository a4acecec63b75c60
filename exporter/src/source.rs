//! Where GPU readings come from: the [`GpuSource`] trait that NVML and the sim's simulated GPUs
//! implement, and how a source reports failure (absent field, unavailable, lost).

use std::collections::BTreeMap;

use gpuboard_exporter_api::{GpuFields, GpuIdentity, GpuProcess};

use crate::fields::Schedule;

/// Driver-wide facts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SystemInfo {
    pub driver_version: Option<String>,
    pub cuda_version: Option<String>,
    pub nvml_version: Option<String>,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
/// Why a source cannot read its GPUs.
pub enum SourceError {
    /// Nothing to read at all (no library, no driver, no GPU): say what to check.
    #[error("{0}")]
    Unavailable(String),
    /// The GPU or driver went away under us (GpuLost, driver/library mismatch): re-initialise.
    #[error("{0}")]
    Lost(String),
}

/// Per-field failures of one GPU in one round: field name (see [`crate::fields`]) -> reason.
pub type FieldErrors = BTreeMap<String, String>;

/// A source of GPU readings. Calls block (NVML is synchronous); the collector runs them on its own threads.
pub trait GpuSource: Send + Sync + 'static {
    /// (Re)initialises and reads the static facts of every GPU.
    fn init(&self) -> Result<(SystemInfo, Vec<GpuIdentity>), SourceError>;
    /// Reads the fields of `schedule` of GPU `index` into `fields`. A field the GPU does not
    /// support stays None; one that fails goes into `errors` under the field's name.
    fn sample(
        &self,
        index: usize,
        schedule: Schedule,
        fields: &mut GpuFields,
        errors: &mut FieldErrors,
    ) -> Result<(), SourceError>;
    /// The processes running on GPU `index` (read with the fast fields).
    fn processes(&self, index: usize) -> Result<Vec<GpuProcess>, SourceError>;
    /// The UUID of the GPU a MIG device (`MIG-...`) belongs to, for attribution.
    fn mig_parent_uuid(&self, _mig_uuid: &str) -> Option<String> {
        None
    }
    /// Xid errors seen since the last call: (GPU index, Xid).
    fn drain_xids(&self) -> Vec<(usize, u64)> {
        Vec::new()
    }
}
