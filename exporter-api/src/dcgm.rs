//! dcgm-exporter's series for the members of [`GpuFields`] and the labels that name a GPU, its
//! node and the pod holding it: what `gpuboard-exporter` writes on `/metrics`, and what the
//! dashboard reads back when its samples come from NVIDIA's dcgm-exporter or from Prometheus.
//! One descriptor per field ([`DCGM_FIELDS`]) keeps the name, unit and member in one place for
//! both directions.

use crate::GpuFields;

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

const MIB: f64 = 1024.0 * 1024.0;

/// One member of [`GpuFields`] and the dcgm-exporter series it is exposed as.
#[derive(Debug)]
pub struct DcgmField {
    /// The `GpuFields` member's name; also the key of its read failures (`fieldErrors`).
    pub name: &'static str,
    /// The series' name, as dcgm-exporter writes it.
    pub series: &'static str,
    pub kind: Kind,
    /// The series' help text, as dcgm-exporter writes it.
    pub help: &'static str,
    pub unit: Unit,
    pub get: fn(&GpuFields) -> Option<f64>,
    pub set: fn(&mut GpuFields, Option<f64>),
}

impl DcgmField {
    /// The field's value in the unit of its series.
    pub fn series_value(&self, fields: &GpuFields) -> Option<f64> {
        let value = (self.get)(fields)?;
        Some(match self.unit {
            Unit::Same => value,
            Unit::WholeMebibytes => (value / MIB).floor(),
        })
    }

    /// Sets the field from a sample of its series (the inverse of [`Self::series_value`]); a
    /// value that is not a finite number leaves it unset.
    pub fn set_from_series(&self, fields: &mut GpuFields, value: f64) {
        let value = value.is_finite().then_some(match self.unit {
            Unit::Same => value,
            Unit::WholeMebibytes => value * MIB,
        });
        (self.set)(fields, value);
    }

    /// Copies this field from `from` into `to`.
    pub fn copy(&self, to: &mut GpuFields, from: &GpuFields) {
        (self.set)(to, (self.get)(from));
    }
}

/// The descriptor of a series, by its name.
pub fn by_series(name: &str) -> Option<&'static DcgmField> {
    DCGM_FIELDS.iter().copied().find(|f| f.series == name)
}

/// The labels dcgm-exporter puts on every GPU series (gpuboard-exporter writes the same).
pub mod labels {
    /// The GPU's index on its node.
    pub const GPU: &str = "gpu";
    pub const UUID: &str = "UUID";
    pub const PCI_BUS_ID: &str = "pci_bus_id";
    pub const DEVICE: &str = "device";
    pub const MODEL_NAME: &str = "modelName";
    /// The node, as dcgm-exporter up to 4.8.2 names it (from `NODE_NAME` when it is set).
    pub const HOSTNAME: &str = "Hostname";
    /// The node, as dcgm-exporter from 4.8.3 names it.
    pub const HOSTNAME_LOWER: &str = "hostname";
    pub const DRIVER_VERSION: &str = "DCGM_FI_DRIVER_VERSION";
    /// The container holding the GPU, from the kubelet's pod-resources API.
    pub const POD: &str = "pod";
    pub const NAMESPACE: &str = "namespace";
    pub const CONTAINER: &str = "container";
    /// What Prometheus renames the three above to when a scrape's own target labels take the names
    /// (dcgm-exporter's chart scrapes with `honorLabels: false`).
    pub const EXPORTED_POD: &str = "exported_pod";
    pub const EXPORTED_NAMESPACE: &str = "exported_namespace";
    pub const EXPORTED_CONTAINER: &str = "exported_container";
    /// On dcgm-exporter's series of one MIG instance (under its parent GPU's `UUID`).
    pub const MIG_INSTANCE: &str = "GPU_I_ID";
}

/// gpuboard-exporter's own series beside dcgm-exporter's (absent where dcgm-exporter is the source).
pub mod gpuboard {
    /// Static identity, value 1; labels `serial`, `cuda_version`, `compute_capability`,
    /// `mig_mode` and `ecc_mode` (`enabled`, `disabled`, `unsupported`).
    pub const GPU_INFO: &str = "gpuboard_gpu_info";
    pub const MEMORY_TOTAL_BYTES: &str = "gpuboard_gpu_memory_total_bytes";
    pub const POWER_LIMIT_WATTS: &str = "gpuboard_gpu_power_limit_watts";
    /// Xid errors per GPU and code (label `xid`) since the exporter started.
    pub const XID_ERRORS_TOTAL: &str = "gpuboard_gpu_xid_errors_total";
    /// Every per-GPU series of gpuboard's own.
    pub const SERIES: [&str; 4] = [
        GPU_INFO,
        MEMORY_TOTAL_BYTES,
        POWER_LIMIT_WATTS,
        XID_ERRORS_TOTAL,
    ];

    /// The labels of [`GPU_INFO`] beyond a GPU's own.
    pub const SERIAL: &str = "serial";
    pub const CUDA_VERSION: &str = "cuda_version";
    pub const COMPUTE_CAPABILITY: &str = "compute_capability";
    pub const MIG_MODE: &str = "mig_mode";
    pub const ECC_MODE: &str = "ecc_mode";
    /// The label of [`XID_ERRORS_TOTAL`] that holds the Xid code.
    pub const XID: &str = "xid";

    /// A mode label's value: on, off, or not a mode this GPU has.
    pub fn mode(flag: Option<bool>) -> &'static str {
        match flag {
            Some(true) => "enabled",
            Some(false) => "disabled",
            None => "unsupported",
        }
    }

    /// The flag of a mode label's value (the inverse of [`mode`]).
    pub fn flag(mode: &str) -> Option<bool> {
        match mode {
            "enabled" => Some(true),
            "disabled" => Some(false),
            _ => None,
        }
    }
}

const fn gauge(series: &'static str, help: &'static str) -> DcgmField {
    DcgmField {
        name: "",
        series,
        kind: Kind::Gauge,
        help,
        unit: Unit::Same,
        get: |_| None,
        set: |_, _| {},
    }
}

const fn counter(series: &'static str, help: &'static str) -> DcgmField {
    DcgmField {
        kind: Kind::DcgmCounter,
        ..gauge(series, help)
    }
}

const fn mebibytes(series: &'static str, help: &'static str) -> DcgmField {
    DcgmField {
        unit: Unit::WholeMebibytes,
        ..gauge(series, help)
    }
}

fn u64_of(v: Option<f64>) -> Option<u64> {
    v.map(|v| v.max(0.0) as u64)
}

fn bool_of(v: Option<f64>) -> Option<bool> {
    v.map(|v| v != 0.0)
}

/// `sm_clock_mhz` as `DCGM_FI_DEV_SM_CLOCK`.
pub static SM_CLOCK_MHZ: DcgmField = DcgmField {
    name: "sm_clock_mhz",
    get: |f| f.sm_clock_mhz,
    set: |f, v| f.sm_clock_mhz = v,
    ..gauge("DCGM_FI_DEV_SM_CLOCK", "SM clock frequency (in MHz).")
};

/// `memory_clock_mhz` as `DCGM_FI_DEV_MEM_CLOCK`.
pub static MEMORY_CLOCK_MHZ: DcgmField = DcgmField {
    name: "memory_clock_mhz",
    get: |f| f.memory_clock_mhz,
    set: |f, v| f.memory_clock_mhz = v,
    ..gauge("DCGM_FI_DEV_MEM_CLOCK", "Memory clock frequency (in MHz).")
};

/// `memory_temperature_celsius` as `DCGM_FI_DEV_MEMORY_TEMP`.
pub static MEMORY_TEMPERATURE_CELSIUS: DcgmField = DcgmField {
    name: "memory_temperature_celsius",
    get: |f| f.memory_temperature_celsius,
    set: |f, v| f.memory_temperature_celsius = v,
    ..gauge("DCGM_FI_DEV_MEMORY_TEMP", "Memory temperature (in C).")
};

/// `temperature_celsius` as `DCGM_FI_DEV_GPU_TEMP`.
pub static TEMPERATURE_CELSIUS: DcgmField = DcgmField {
    name: "temperature_celsius",
    get: |f| f.temperature_celsius,
    set: |f, v| f.temperature_celsius = v,
    ..gauge("DCGM_FI_DEV_GPU_TEMP", "GPU temperature (in C).")
};

/// `power_watts` as `DCGM_FI_DEV_POWER_USAGE`.
pub static POWER_WATTS: DcgmField = DcgmField {
    name: "power_watts",
    get: |f| f.power_watts,
    set: |f, v| f.power_watts = v,
    ..gauge("DCGM_FI_DEV_POWER_USAGE", "Power draw (in W).")
};

/// `total_energy_millijoules` as `DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION`.
pub static TOTAL_ENERGY_MILLIJOULES: DcgmField = DcgmField {
    name: "total_energy_millijoules",
    get: |f| f.total_energy_millijoules.map(|v| v as f64),
    set: |f, v| f.total_energy_millijoules = u64_of(v),
    ..counter(
        "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION",
        "Total energy consumption since boot (in mJ).",
    )
};

/// `pcie_replay_count` as `DCGM_FI_DEV_PCIE_REPLAY_COUNTER`.
pub static PCIE_REPLAY_COUNT: DcgmField = DcgmField {
    name: "pcie_replay_count",
    get: |f| f.pcie_replay_count.map(|v| v as f64),
    set: |f, v| f.pcie_replay_count = u64_of(v),
    ..counter(
        "DCGM_FI_DEV_PCIE_REPLAY_COUNTER",
        "Total number of PCIe retries.",
    )
};

/// `utilization_percent` as `DCGM_FI_DEV_GPU_UTIL`.
pub static UTILIZATION_PERCENT: DcgmField = DcgmField {
    name: "utilization_percent",
    get: |f| f.utilization_percent,
    set: |f, v| f.utilization_percent = v,
    ..gauge("DCGM_FI_DEV_GPU_UTIL", "GPU utilization (in %).")
};

/// `memory_copy_utilization_percent` as `DCGM_FI_DEV_MEM_COPY_UTIL`.
pub static MEMORY_COPY_UTILIZATION_PERCENT: DcgmField = DcgmField {
    name: "memory_copy_utilization_percent",
    get: |f| f.memory_copy_utilization_percent,
    set: |f, v| f.memory_copy_utilization_percent = v,
    ..gauge("DCGM_FI_DEV_MEM_COPY_UTIL", "Memory utilization (in %).")
};

/// `encoder_utilization_percent` as `DCGM_FI_DEV_ENC_UTIL`.
pub static ENCODER_UTILIZATION_PERCENT: DcgmField = DcgmField {
    name: "encoder_utilization_percent",
    get: |f| f.encoder_utilization_percent,
    set: |f, v| f.encoder_utilization_percent = v,
    ..gauge("DCGM_FI_DEV_ENC_UTIL", "Encoder utilization (in %).")
};

/// `decoder_utilization_percent` as `DCGM_FI_DEV_DEC_UTIL`.
pub static DECODER_UTILIZATION_PERCENT: DcgmField = DcgmField {
    name: "decoder_utilization_percent",
    get: |f| f.decoder_utilization_percent,
    set: |f, v| f.decoder_utilization_percent = v,
    ..gauge("DCGM_FI_DEV_DEC_UTIL", "Decoder utilization (in %).")
};

/// `memory_free_bytes` as `DCGM_FI_DEV_FB_FREE`.
pub static MEMORY_FREE_BYTES: DcgmField = DcgmField {
    name: "memory_free_bytes",
    get: |f| f.memory_free_bytes.map(|v| v as f64),
    set: |f, v| f.memory_free_bytes = u64_of(v),
    ..mebibytes("DCGM_FI_DEV_FB_FREE", "Frame buffer memory free (in MiB).")
};

/// `memory_used_bytes` as `DCGM_FI_DEV_FB_USED`.
pub static MEMORY_USED_BYTES: DcgmField = DcgmField {
    name: "memory_used_bytes",
    get: |f| f.memory_used_bytes.map(|v| v as f64),
    set: |f, v| f.memory_used_bytes = u64_of(v),
    ..mebibytes("DCGM_FI_DEV_FB_USED", "Frame buffer memory used (in MiB).")
};

/// `memory_reserved_bytes` as `DCGM_FI_DEV_FB_RESERVED`.
pub static MEMORY_RESERVED_BYTES: DcgmField = DcgmField {
    name: "memory_reserved_bytes",
    get: |f| f.memory_reserved_bytes.map(|v| v as f64),
    set: |f, v| f.memory_reserved_bytes = u64_of(v),
    ..mebibytes(
        "DCGM_FI_DEV_FB_RESERVED",
        "Frame buffer memory reserved (in MiB).",
    )
};

/// `uncorrectable_remapped_rows` as `DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS`.
pub static UNCORRECTABLE_REMAPPED_ROWS: DcgmField = DcgmField {
    name: "uncorrectable_remapped_rows",
    get: |f| f.uncorrectable_remapped_rows.map(|v| v as f64),
    set: |f, v| f.uncorrectable_remapped_rows = u64_of(v),
    ..counter(
        "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS",
        "Number of remapped rows for uncorrectable errors",
    )
};

/// `correctable_remapped_rows` as `DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS`.
pub static CORRECTABLE_REMAPPED_ROWS: DcgmField = DcgmField {
    name: "correctable_remapped_rows",
    get: |f| f.correctable_remapped_rows.map(|v| v as f64),
    set: |f, v| f.correctable_remapped_rows = u64_of(v),
    ..counter(
        "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS",
        "Number of remapped rows for correctable errors",
    )
};

/// `row_remap_failure` as `DCGM_FI_DEV_ROW_REMAP_FAILURE`.
pub static ROW_REMAP_FAILURE: DcgmField = DcgmField {
    name: "row_remap_failure",
    get: |f| f.row_remap_failure.map(|b| if b { 1.0 } else { 0.0 }),
    set: |f, v| f.row_remap_failure = bool_of(v),
    ..gauge(
        "DCGM_FI_DEV_ROW_REMAP_FAILURE",
        "Whether remapping of rows has failed",
    )
};

/// `pcie_tx_bytes_per_second` as `DCGM_FI_PROF_PCIE_TX_BYTES`.
pub static PCIE_TX_BYTES_PER_SECOND: DcgmField = DcgmField {
    name: "pcie_tx_bytes_per_second",
    get: |f| f.pcie_tx_bytes_per_second,
    set: |f, v| f.pcie_tx_bytes_per_second = v,
    ..gauge(
        "DCGM_FI_PROF_PCIE_TX_BYTES",
        "The rate of data transmitted over the PCIe bus - including both protocol headers and data payloads - in bytes per second.",
    )
};

/// `pcie_rx_bytes_per_second` as `DCGM_FI_PROF_PCIE_RX_BYTES`.
pub static PCIE_RX_BYTES_PER_SECOND: DcgmField = DcgmField {
    name: "pcie_rx_bytes_per_second",
    get: |f| f.pcie_rx_bytes_per_second,
    set: |f, v| f.pcie_rx_bytes_per_second = v,
    ..gauge(
        "DCGM_FI_PROF_PCIE_RX_BYTES",
        "The rate of data received over the PCIe bus - including both protocol headers and data payloads - in bytes per second.",
    )
};

/// Every field, in the order dcgm-exporter writes its series.
pub static DCGM_FIELDS: [&DcgmField; 19] = [
    &SM_CLOCK_MHZ,
    &MEMORY_CLOCK_MHZ,
    &MEMORY_TEMPERATURE_CELSIUS,
    &TEMPERATURE_CELSIUS,
    &POWER_WATTS,
    &TOTAL_ENERGY_MILLIJOULES,
    &PCIE_REPLAY_COUNT,
    &UTILIZATION_PERCENT,
    &MEMORY_COPY_UTILIZATION_PERCENT,
    &ENCODER_UTILIZATION_PERCENT,
    &DECODER_UTILIZATION_PERCENT,
    &MEMORY_FREE_BYTES,
    &MEMORY_USED_BYTES,
    &MEMORY_RESERVED_BYTES,
    &UNCORRECTABLE_REMAPPED_ROWS,
    &CORRECTABLE_REMAPPED_ROWS,
    &ROW_REMAP_FAILURE,
    &PCIE_TX_BYTES_PER_SECOND,
    &PCIE_RX_BYTES_PER_SECOND,
];

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn names_and_series_are_unique() {
        let names: HashSet<_> = DCGM_FIELDS.iter().map(|f| f.name).collect();
        let series: HashSet<_> = DCGM_FIELDS.iter().map(|f| f.series).collect();
        assert_eq!(
            (names.len(), series.len()),
            (DCGM_FIELDS.len(), DCGM_FIELDS.len())
        );
    }

    /// Every member of `GpuFields` has exactly one descriptor: set each through its descriptor and
    /// the JSON form must have every member set.
    #[test]
    fn every_gpu_field_has_a_descriptor_and_get_reads_what_set_wrote() {
        let mut fields = GpuFields::default();
        for (i, f) in DCGM_FIELDS.iter().enumerate() {
            (f.set)(&mut fields, Some(i as f64 + 1.0));
        }
        let json = serde_json::to_value(&fields).expect("serialises");
        let members = json.as_object().expect("an object");
        let unset: Vec<_> = members.iter().filter(|(_, v)| v.is_null()).collect();
        assert!(unset.is_empty(), "members without a descriptor: {unset:?}");
        assert_eq!(members.len(), DCGM_FIELDS.len());
        for (i, f) in DCGM_FIELDS.iter().enumerate() {
            let expected = if f.name == "row_remap_failure" {
                1.0
            } else {
                i as f64 + 1.0
            };
            assert_eq!((f.get)(&fields), Some(expected), "{}", f.name);
        }
    }

    #[test]
    fn frame_buffer_series_are_in_whole_mebibytes_both_ways() {
        let fields = GpuFields {
            memory_used_bytes: Some(3 * 1024 * 1024 * 1024 + 5),
            ..Default::default()
        };
        assert_eq!(MEMORY_USED_BYTES.series_value(&fields), Some(3072.0));
        let mut read = GpuFields::default();
        MEMORY_USED_BYTES.set_from_series(&mut read, 3072.0);
        assert_eq!(read.memory_used_bytes, Some(3 * 1024 * 1024 * 1024));
        UTILIZATION_PERCENT.set_from_series(&mut read, f64::NAN);
        assert_eq!(read.utilization_percent, None);
        assert_eq!(
            by_series("DCGM_FI_DEV_GPU_UTIL").map(|f| f.name),
            Some("utilization_percent")
        );
        assert!(by_series("DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL").is_none());
    }
}
