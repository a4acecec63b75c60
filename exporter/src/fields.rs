//! One descriptor per sampled GPU field: its schedule, how NVML reads it, and its member and
//! dcgm-exporter series (the contract's [`dcgm`] descriptor). The NVML source, the collector
//! (which round replaces which field and its errors) and the `/metrics` encoder are all driven by
//! [`FIELDS`], so adding a field is one entry here, its descriptor in `dcgm`, and its member in
//! `GpuFields` (the JSON contract).

use gpuboard_exporter_api::GpuFields;
use gpuboard_exporter_api::dcgm::{self, DcgmField};
use nvml_wrapper::Device;
use nvml_wrapper::enum_wrappers::device::{Clock, PcieUtilCounter, TemperatureSensor};
use nvml_wrapper::enums::device::SampleValue;
use nvml_wrapper::error::NvmlError;
use nvml_wrapper::structs::device::FieldId;

/// Which sampling round reads a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// Every `--interval`: cheap reads (microseconds each).
    Fast,
    /// Every `--slow-interval`: reads that block (PCIe throughput samples for about 20 ms) or
    /// change slowly (energy, replays, remapped rows).
    Slow,
}

/// One sampled field.
pub struct FieldSpec {
    /// The `GpuFields` member, its series on `/metrics`, and how it is got and set.
    pub dcgm: &'static DcgmField,
    pub schedule: Schedule,
    /// Reads it from a GPU. `NotSupported` means the GPU has no such field (left out, not an error).
    pub read: fn(&Device<'static>) -> Result<f64, NvmlError>,
}

impl FieldSpec {
    /// The `GpuFields` member's name; also the key of its read failures (`fieldErrors`, and the
    /// `field` label of `gpuboard_exporter_field_errors_total`).
    pub fn name(&self) -> &'static str {
        self.dcgm.name
    }
}

/// NVML field ids (nvml.h `NVML_FI_DEV_*`) read through `nvmlDeviceGetFieldValues`.
const FI_MEMORY_TEMP: u32 = 82;
const FI_REMAPPED_COR: u32 = 142;
const FI_REMAPPED_UNC: u32 = 143;
const FI_REMAPPED_FAILURE: u32 = 145;

/// One NVML field value as a number; a GPU that has none says `NotSupported`.
fn field_value(device: &Device<'static>, id: u32) -> Result<f64, NvmlError> {
    let values = device.field_values_for(&[FieldId(id)])?;
    let sample = values.into_iter().next().ok_or(NvmlError::NotSupported)??;
    Ok(match sample.value? {
        SampleValue::U32(v) => f64::from(v),
        SampleValue::U64(v) => v as f64,
        SampleValue::I64(v) => v as f64,
        SampleValue::F64(v) => v,
    })
}

/// Every field, in the order dcgm-exporter writes its series.
pub static FIELDS: &[FieldSpec] = &[
    FieldSpec {
        dcgm: &dcgm::SM_CLOCK_MHZ,
        schedule: Schedule::Fast,
        read: |d| d.clock_info(Clock::SM).map(f64::from),
    },
    FieldSpec {
        dcgm: &dcgm::MEMORY_CLOCK_MHZ,
        schedule: Schedule::Fast,
        read: |d| d.clock_info(Clock::Memory).map(f64::from),
    },
    FieldSpec {
        dcgm: &dcgm::MEMORY_TEMPERATURE_CELSIUS,
        schedule: Schedule::Fast,
        // GPUs without HBM answer 0 (or nonsense) rather than NotSupported.
        read: |d| match field_value(d, FI_MEMORY_TEMP)? {
            t if t > 0.0 && t <= 200.0 => Ok(t),
            _ => Err(NvmlError::NotSupported),
        },
    },
    FieldSpec {
        dcgm: &dcgm::TEMPERATURE_CELSIUS,
        schedule: Schedule::Fast,
        read: |d| d.temperature(TemperatureSensor::Gpu).map(f64::from),
    },
    FieldSpec {
        dcgm: &dcgm::POWER_WATTS,
        schedule: Schedule::Fast,
        read: |d| d.power_usage().map(|mw| f64::from(mw) / 1000.0),
    },
    FieldSpec {
        dcgm: &dcgm::TOTAL_ENERGY_MILLIJOULES,
        schedule: Schedule::Slow,
        read: |d| d.total_energy_consumption().map(|mj| mj as f64),
    },
    FieldSpec {
        dcgm: &dcgm::PCIE_REPLAY_COUNT,
        schedule: Schedule::Slow,
        read: |d| d.pcie_replay_counter().map(f64::from),
    },
    FieldSpec {
        dcgm: &dcgm::UTILIZATION_PERCENT,
        schedule: Schedule::Fast,
        read: |d| d.utilization_rates().map(|u| f64::from(u.gpu)),
    },
    FieldSpec {
        dcgm: &dcgm::MEMORY_COPY_UTILIZATION_PERCENT,
        schedule: Schedule::Fast,
        read: |d| d.utilization_rates().map(|u| f64::from(u.memory)),
    },
    FieldSpec {
        dcgm: &dcgm::ENCODER_UTILIZATION_PERCENT,
        schedule: Schedule::Fast,
        read: |d| d.encoder_utilization().map(|u| f64::from(u.utilization)),
    },
    FieldSpec {
        dcgm: &dcgm::DECODER_UTILIZATION_PERCENT,
        schedule: Schedule::Fast,
        read: |d| d.decoder_utilization().map(|u| f64::from(u.utilization)),
    },
    FieldSpec {
        dcgm: &dcgm::MEMORY_FREE_BYTES,
        schedule: Schedule::Fast,
        read: |d| d.memory_info().map(|m| m.free as f64),
    },
    FieldSpec {
        dcgm: &dcgm::MEMORY_USED_BYTES,
        schedule: Schedule::Fast,
        // nvml-wrapper reads memory info v2: `used` leaves out the driver's reserved memory,
        // which is its own field (v1 counted it as used).
        read: |d| d.memory_info().map(|m| m.used as f64),
    },
    FieldSpec {
        dcgm: &dcgm::MEMORY_RESERVED_BYTES,
        schedule: Schedule::Fast,
        read: |d| d.memory_info().map(|m| m.reserved as f64),
    },
    FieldSpec {
        dcgm: &dcgm::UNCORRECTABLE_REMAPPED_ROWS,
        schedule: Schedule::Slow,
        read: |d| field_value(d, FI_REMAPPED_UNC),
    },
    FieldSpec {
        dcgm: &dcgm::CORRECTABLE_REMAPPED_ROWS,
        schedule: Schedule::Slow,
        read: |d| field_value(d, FI_REMAPPED_COR),
    },
    FieldSpec {
        dcgm: &dcgm::ROW_REMAP_FAILURE,
        schedule: Schedule::Slow,
        read: |d| field_value(d, FI_REMAPPED_FAILURE),
    },
    FieldSpec {
        dcgm: &dcgm::PCIE_TX_BYTES_PER_SECOND,
        schedule: Schedule::Slow,
        read: |d| {
            d.pcie_throughput(PcieUtilCounter::Send)
                .map(|kb| f64::from(kb) * 1024.0)
        },
    },
    FieldSpec {
        dcgm: &dcgm::PCIE_RX_BYTES_PER_SECOND,
        schedule: Schedule::Slow,
        read: |d| {
            d.pcie_throughput(PcieUtilCounter::Receive)
                .map(|kb| f64::from(kb) * 1024.0)
        },
    },
];

/// The fields one round reads.
pub fn of(schedule: Schedule) -> impl Iterator<Item = &'static FieldSpec> {
    FIELDS.iter().filter(move |f| f.schedule == schedule)
}

/// The round a field error belongs to: a field's own round; anything else (a lost GPU) the fast one.
pub fn schedule_of(name: &str) -> Schedule {
    FIELDS
        .iter()
        .find(|f| f.name() == name)
        .map_or(Schedule::Fast, |f| f.schedule)
}

/// Copies the fields of `schedule` from `from` into `to`, keeping `to`'s others.
pub fn merge(to: &mut GpuFields, from: &GpuFields, schedule: Schedule) {
    for field in of(schedule) {
        field.dcgm.copy(to, from);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The exporter samples every field of the contract, in the contract's order.
    #[test]
    fn every_field_of_the_contract_is_sampled_in_its_order() {
        let sampled: Vec<&str> = FIELDS.iter().map(FieldSpec::name).collect();
        let contract: Vec<&str> = dcgm::DCGM_FIELDS.iter().map(|f| f.name).collect();
        assert_eq!(sampled, contract);
    }

    #[test]
    fn a_merge_replaces_only_its_rounds_fields() {
        let mut state = GpuFields {
            total_energy_millijoules: Some(5),
            utilization_percent: Some(1.0),
            ..Default::default()
        };
        let fast = GpuFields {
            utilization_percent: Some(90.0),
            total_energy_millijoules: Some(7),
            ..Default::default()
        };
        merge(&mut state, &fast, Schedule::Fast);
        assert_eq!(
            (state.utilization_percent, state.total_energy_millijoules),
            (Some(90.0), Some(5))
        );
        let slow = GpuFields {
            total_energy_millijoules: Some(9),
            ..Default::default()
        };
        merge(&mut state, &slow, Schedule::Slow);
        assert_eq!(
            (state.utilization_percent, state.total_energy_millijoules),
            (Some(90.0), Some(9))
        );
    }

    #[test]
    fn a_lost_gpu_belongs_to_the_fast_round() {
        assert_eq!(schedule_of("pcie_tx_bytes_per_second"), Schedule::Slow);
        assert_eq!(schedule_of("gpu"), Schedule::Fast);
    }
}
