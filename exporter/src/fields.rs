//! One descriptor per sampled GPU field: its name, its schedule, how NVML reads it, the
//! dcgm-exporter series it becomes, and how it is got from and set in [`GpuFields`]. The NVML
//! source, the collector (which round replaces which field and its errors) and the `/metrics`
//! encoder are all driven by [`FIELDS`], so adding a field is one entry here plus its member in
//! `GpuFields` (the JSON contract).

use gpuboard_exporter_api::GpuFields;
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

/// How a series is typed in the exposition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Gauge,
    /// A dcgm-exporter counter, named without `_total` (typed `unknown` in OpenMetrics).
    DcgmCounter,
    /// A counter whose samples end in `_total`.
    Counter,
}

/// The unit a dcgm-exporter series is in, from the field's own unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Same,
    /// Bytes reported as whole MiB, as dcgm-exporter reports frame-buffer memory.
    WholeMebibytes,
}

/// The dcgm-exporter series of a field: name, type and help text as dcgm-exporter writes them.
#[derive(Debug, Clone, Copy)]
pub struct DcgmSeries {
    pub name: &'static str,
    pub kind: Kind,
    pub help: &'static str,
    pub unit: Unit,
}

/// One sampled field.
pub struct FieldSpec {
    /// The `GpuFields` member's name; also the key of its read failures (`fieldErrors`, and the
    /// `field` label of `gpuboard_exporter_field_errors_total`).
    pub name: &'static str,
    pub schedule: Schedule,
    /// Reads it from a GPU. `NotSupported` means the GPU has no such field (left out, not an error).
    pub read: fn(&Device<'static>) -> Result<f64, NvmlError>,
    pub dcgm: DcgmSeries,
    pub get: fn(&GpuFields) -> Option<f64>,
    pub set: fn(&mut GpuFields, Option<f64>),
}

impl FieldSpec {
    /// The field's value in the unit of its dcgm-exporter series.
    pub fn dcgm_value(&self, fields: &GpuFields) -> Option<f64> {
        let value = (self.get)(fields)?;
        Some(match self.dcgm.unit {
            Unit::Same => value,
            Unit::WholeMebibytes => (value / MIB).floor(),
        })
    }

    /// Copies this field from `from` into `to`.
    pub fn copy(&self, to: &mut GpuFields, from: &GpuFields) {
        (self.set)(to, (self.get)(from));
    }
}

const MIB: f64 = 1024.0 * 1024.0;

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

const fn gauge(name: &'static str, help: &'static str) -> DcgmSeries {
    DcgmSeries {
        name,
        kind: Kind::Gauge,
        help,
        unit: Unit::Same,
    }
}

const fn counter(name: &'static str, help: &'static str) -> DcgmSeries {
    DcgmSeries {
        kind: Kind::DcgmCounter,
        ..gauge(name, help)
    }
}

const fn mebibytes(name: &'static str, help: &'static str) -> DcgmSeries {
    DcgmSeries {
        unit: Unit::WholeMebibytes,
        ..gauge(name, help)
    }
}

fn u64_of(v: Option<f64>) -> Option<u64> {
    v.map(|v| v.max(0.0) as u64)
}

fn bool_of(v: Option<f64>) -> Option<bool> {
    v.map(|v| v != 0.0)
}

/// Every field, in the order dcgm-exporter writes its series.
pub static FIELDS: &[FieldSpec] = &[
    FieldSpec {
        name: "sm_clock_mhz",
        schedule: Schedule::Fast,
        read: |d| d.clock_info(Clock::SM).map(f64::from),
        dcgm: gauge("DCGM_FI_DEV_SM_CLOCK", "SM clock frequency (in MHz)."),
        get: |f| f.sm_clock_mhz,
        set: |f, v| f.sm_clock_mhz = v,
    },
    FieldSpec {
        name: "memory_clock_mhz",
        schedule: Schedule::Fast,
        read: |d| d.clock_info(Clock::Memory).map(f64::from),
        dcgm: gauge("DCGM_FI_DEV_MEM_CLOCK", "Memory clock frequency (in MHz)."),
        get: |f| f.memory_clock_mhz,
        set: |f, v| f.memory_clock_mhz = v,
    },
    FieldSpec {
        name: "memory_temperature_celsius",
        schedule: Schedule::Fast,
        // GPUs without HBM answer 0 (or nonsense) rather than NotSupported.
        read: |d| match field_value(d, FI_MEMORY_TEMP)? {
            t if t > 0.0 && t <= 200.0 => Ok(t),
            _ => Err(NvmlError::NotSupported),
        },
        dcgm: gauge("DCGM_FI_DEV_MEMORY_TEMP", "Memory temperature (in C)."),
        get: |f| f.memory_temperature_celsius,
        set: |f, v| f.memory_temperature_celsius = v,
    },
    FieldSpec {
        name: "temperature_celsius",
        schedule: Schedule::Fast,
        read: |d| d.temperature(TemperatureSensor::Gpu).map(f64::from),
        dcgm: gauge("DCGM_FI_DEV_GPU_TEMP", "GPU temperature (in C)."),
        get: |f| f.temperature_celsius,
        set: |f, v| f.temperature_celsius = v,
    },
    FieldSpec {
        name: "power_watts",
        schedule: Schedule::Fast,
        read: |d| d.power_usage().map(|mw| f64::from(mw) / 1000.0),
        dcgm: gauge("DCGM_FI_DEV_POWER_USAGE", "Power draw (in W)."),
        get: |f| f.power_watts,
        set: |f, v| f.power_watts = v,
    },
    FieldSpec {
        name: "total_energy_millijoules",
        schedule: Schedule::Slow,
        read: |d| d.total_energy_consumption().map(|mj| mj as f64),
        dcgm: counter(
            "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION",
            "Total energy consumption since boot (in mJ).",
        ),
        get: |f| f.total_energy_millijoules.map(|v| v as f64),
        set: |f, v| f.total_energy_millijoules = u64_of(v),
    },
    FieldSpec {
        name: "pcie_replay_count",
        schedule: Schedule::Slow,
        read: |d| d.pcie_replay_counter().map(f64::from),
        dcgm: counter(
            "DCGM_FI_DEV_PCIE_REPLAY_COUNTER",
            "Total number of PCIe retries.",
        ),
        get: |f| f.pcie_replay_count.map(|v| v as f64),
        set: |f, v| f.pcie_replay_count = u64_of(v),
    },
    FieldSpec {
        name: "utilization_percent",
        schedule: Schedule::Fast,
        read: |d| d.utilization_rates().map(|u| f64::from(u.gpu)),
        dcgm: gauge("DCGM_FI_DEV_GPU_UTIL", "GPU utilization (in %)."),
        get: |f| f.utilization_percent,
        set: |f, v| f.utilization_percent = v,
    },
    FieldSpec {
        name: "memory_copy_utilization_percent",
        schedule: Schedule::Fast,
        read: |d| d.utilization_rates().map(|u| f64::from(u.memory)),
        dcgm: gauge("DCGM_FI_DEV_MEM_COPY_UTIL", "Memory utilization (in %)."),
        get: |f| f.memory_copy_utilization_percent,
        set: |f, v| f.memory_copy_utilization_percent = v,
    },
    FieldSpec {
        name: "encoder_utilization_percent",
        schedule: Schedule::Fast,
        read: |d| d.encoder_utilization().map(|u| f64::from(u.utilization)),
        dcgm: gauge("DCGM_FI_DEV_ENC_UTIL", "Encoder utilization (in %)."),
        get: |f| f.encoder_utilization_percent,
        set: |f, v| f.encoder_utilization_percent = v,
    },
    FieldSpec {
        name: "decoder_utilization_percent",
        schedule: Schedule::Fast,
        read: |d| d.decoder_utilization().map(|u| f64::from(u.utilization)),
        dcgm: gauge("DCGM_FI_DEV_DEC_UTIL", "Decoder utilization (in %)."),
        get: |f| f.decoder_utilization_percent,
        set: |f, v| f.decoder_utilization_percent = v,
    },
    FieldSpec {
        name: "memory_free_bytes",
        schedule: Schedule::Fast,
        read: |d| d.memory_info().map(|m| m.free as f64),
        dcgm: mebibytes("DCGM_FI_DEV_FB_FREE", "Frame buffer memory free (in MiB)."),
        get: |f| f.memory_free_bytes.map(|v| v as f64),
        set: |f, v| f.memory_free_bytes = u64_of(v),
    },
    FieldSpec {
        name: "memory_used_bytes",
        schedule: Schedule::Fast,
        // nvml-wrapper reads memory info v2: `used` leaves out the driver's reserved memory,
        // which is its own field (v1 counted it as used).
        read: |d| d.memory_info().map(|m| m.used as f64),
        dcgm: mebibytes("DCGM_FI_DEV_FB_USED", "Frame buffer memory used (in MiB)."),
        get: |f| f.memory_used_bytes.map(|v| v as f64),
        set: |f, v| f.memory_used_bytes = u64_of(v),
    },
    FieldSpec {
        name: "memory_reserved_bytes",
        schedule: Schedule::Fast,
        read: |d| d.memory_info().map(|m| m.reserved as f64),
        dcgm: mebibytes(
            "DCGM_FI_DEV_FB_RESERVED",
            "Frame buffer memory reserved (in MiB).",
        ),
        get: |f| f.memory_reserved_bytes.map(|v| v as f64),
        set: |f, v| f.memory_reserved_bytes = u64_of(v),
    },
    FieldSpec {
        name: "uncorrectable_remapped_rows",
        schedule: Schedule::Slow,
        read: |d| field_value(d, FI_REMAPPED_UNC),
        dcgm: counter(
            "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS",
            "Number of remapped rows for uncorrectable errors",
        ),
        get: |f| f.uncorrectable_remapped_rows.map(|v| v as f64),
        set: |f, v| f.uncorrectable_remapped_rows = u64_of(v),
    },
    FieldSpec {
        name: "correctable_remapped_rows",
        schedule: Schedule::Slow,
        read: |d| field_value(d, FI_REMAPPED_COR),
        dcgm: counter(
            "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS",
            "Number of remapped rows for correctable errors",
        ),
        get: |f| f.correctable_remapped_rows.map(|v| v as f64),
        set: |f, v| f.correctable_remapped_rows = u64_of(v),
    },
    FieldSpec {
        name: "row_remap_failure",
        schedule: Schedule::Slow,
        read: |d| field_value(d, FI_REMAPPED_FAILURE),
        dcgm: gauge(
            "DCGM_FI_DEV_ROW_REMAP_FAILURE",
            "Whether remapping of rows has failed",
        ),
        get: |f| f.row_remap_failure.map(|b| if b { 1.0 } else { 0.0 }),
        set: |f, v| f.row_remap_failure = bool_of(v),
    },
    FieldSpec {
        name: "pcie_tx_bytes_per_second",
        schedule: Schedule::Slow,
        read: |d| {
            d.pcie_throughput(PcieUtilCounter::Send)
                .map(|kb| f64::from(kb) * 1024.0)
        },
        dcgm: gauge(
            "DCGM_FI_PROF_PCIE_TX_BYTES",
            "The rate of data transmitted over the PCIe bus - including both protocol headers and data payloads - in bytes per second.",
        ),
        get: |f| f.pcie_tx_bytes_per_second,
        set: |f, v| f.pcie_tx_bytes_per_second = v,
    },
    FieldSpec {
        name: "pcie_rx_bytes_per_second",
        schedule: Schedule::Slow,
        read: |d| {
            d.pcie_throughput(PcieUtilCounter::Receive)
                .map(|kb| f64::from(kb) * 1024.0)
        },
        dcgm: gauge(
            "DCGM_FI_PROF_PCIE_RX_BYTES",
            "The rate of data received over the PCIe bus - including both protocol headers and data payloads - in bytes per second.",
        ),
        get: |f| f.pcie_rx_bytes_per_second,
        set: |f, v| f.pcie_rx_bytes_per_second = v,
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
        .find(|f| f.name == name)
        .map_or(Schedule::Fast, |f| f.schedule)
}

/// Copies the fields of `schedule` from `from` into `to`, keeping `to`'s others.
pub fn merge(to: &mut GpuFields, from: &GpuFields, schedule: Schedule) {
    for field in of(schedule) {
        field.copy(to, from);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn names_and_series_are_unique() {
        let names: HashSet<_> = FIELDS.iter().map(|f| f.name).collect();
        let series: HashSet<_> = FIELDS.iter().map(|f| f.dcgm.name).collect();
        assert_eq!((names.len(), series.len()), (FIELDS.len(), FIELDS.len()));
    }

    /// Every member of `GpuFields` has exactly one descriptor: set each through its descriptor and
    /// the JSON form must have every member set.
    #[test]
    fn every_gpu_field_has_a_descriptor_and_get_reads_what_set_wrote() {
        let mut fields = GpuFields::default();
        for (i, f) in FIELDS.iter().enumerate() {
            (f.set)(&mut fields, Some(i as f64 + 1.0));
        }
        let json = serde_json::to_value(&fields).expect("serialises");
        let members = json.as_object().expect("an object");
        let unset: Vec<_> = members.iter().filter(|(_, v)| v.is_null()).collect();
        assert!(unset.is_empty(), "members without a descriptor: {unset:?}");
        assert_eq!(members.len(), FIELDS.len());
        for (i, f) in FIELDS.iter().enumerate() {
            let expected = if f.name == "row_remap_failure" {
                1.0
            } else {
                i as f64 + 1.0
            };
            assert_eq!((f.get)(&fields), Some(expected), "{}", f.name);
        }
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
    fn frame_buffer_series_are_in_whole_mebibytes() {
        let used = FIELDS
            .iter()
            .find(|f| f.name == "memory_used_bytes")
            .expect("memory used");
        let fields = GpuFields {
            memory_used_bytes: Some(3 * 1024 * 1024 * 1024 + 5),
            ..Default::default()
        };
        assert_eq!(used.dcgm_value(&fields), Some(3072.0));
        assert_eq!(schedule_of("pcie_tx_bytes_per_second"), Schedule::Slow);
        assert_eq!(schedule_of("gpu"), Schedule::Fast);
    }
}
