//! The real GPUs, through NVML (nvml-wrapper, loaded at run time). Handles and static facts are
//! read once per initialisation; each round reads its fields as [`crate::fields::FIELDS`] says;
//! a `GpuLost` or driver/library mismatch asks for a re-init.

use std::ffi::OsString;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use gpuboard_exporter_api::{GpuFields, GpuIdentity, GpuProcess};
use nvml_wrapper::bitmasks::event::EventTypes;
use nvml_wrapper::enums::device::UsedGpuMemory;
use nvml_wrapper::enums::event::XidError;
use nvml_wrapper::error::NvmlError;
use nvml_wrapper::{Device, Nvml};
use parking_lot::{Mutex, RwLock};

use crate::fields::{self, FieldSpec, Schedule};
use crate::source::{FieldErrors, GpuSource, SourceError, SystemInfo};

/// Xid reported by NVML as "unknown" (999 in nvml.h).
const XID_UNKNOWN: u64 = 999;

/// One NVML initialisation and the device handles it gave.
struct Generation {
    nvml: &'static Nvml,
    devices: Vec<Device<'static>>,
}

/// The node's GPUs through NVML.
pub struct NvmlSource {
    lib_path: Option<OsString>,
    generation: RwLock<Option<Generation>>,
    /// Bumped on each initialisation; an Xid thread of an older one stops.
    generation_id: Arc<AtomicU64>,
    /// Xids the event thread has seen and the collector has not drained: (GPU position, Xid).
    xids: Arc<Mutex<Vec<(usize, u64)>>>,
}

impl NvmlSource {
    /// A source that loads libnvidia-ml from `lib_path` (default: the loader's search path) when first initialised.
    pub fn new(lib_path: Option<OsString>) -> Self {
        NvmlSource {
            lib_path,
            generation: RwLock::new(None),
            generation_id: Arc::new(AtomicU64::new(0)),
            xids: Arc::new(Mutex::new(Vec::new())),
        }
    }

    fn with_device<T>(
        &self,
        index: usize,
        f: impl FnOnce(&Device<'static>) -> Result<T, SourceError>,
    ) -> Result<T, SourceError> {
        let guard = self.generation.read();
        let device = guard
            .as_ref()
            .and_then(|g| g.devices.get(index))
            .ok_or_else(|| SourceError::Lost(format!("GPU {index} has no NVML handle")))?;
        f(device)
    }
}

/// Whether an NVML error means the whole library must be re-initialised.
fn is_fatal(e: &NvmlError) -> bool {
    matches!(
        e,
        NvmlError::GpuLost
            | NvmlError::Uninitialized
            | NvmlError::DriverNotLoaded
            | NvmlError::LibRmVersionMismatch
    )
}

/// Records one field's reading: a value sets it, NotSupported leaves it out, a fatal error loses
/// the GPU, any other error is noted under the field's name.
fn record(
    field: &FieldSpec,
    reading: Result<f64, NvmlError>,
    fields: &mut GpuFields,
    errors: &mut FieldErrors,
) -> Result<(), SourceError> {
    match reading {
        Ok(v) => (field.dcgm.set)(fields, Some(v)),
        Err(NvmlError::NotSupported) | Err(NvmlError::FailedToLoadSymbol(_)) => {
            (field.dcgm.set)(fields, None)
        }
        Err(e) if is_fatal(&e) => {
            return Err(SourceError::Lost(format!("{}: {e}", field.name())));
        }
        Err(e) => {
            (field.dcgm.set)(fields, None);
            errors.insert(field.name().to_string(), e.to_string());
        }
    }
    Ok(())
}

impl GpuSource for NvmlSource {
    fn init(&self) -> Result<(SystemInfo, Vec<GpuIdentity>), SourceError> {
        let mut builder = Nvml::builder();
        if let Some(p) = &self.lib_path {
            builder.lib_path(p);
        }
        let nvml = builder.init().map_err(|e| {
            SourceError::Unavailable(format!(
                "NVML could not be initialised ({e}). Check that the NVIDIA driver is loaded on this node, that the container runs with the NVIDIA runtime (runtimeClassName: nvidia, or nvidia as the default runtime) and NVIDIA_VISIBLE_DEVICES=all, NVIDIA_DRIVER_CAPABILITIES=utility"
            ))
        })?;
        // Device handles borrow the library: keep each initialisation alive for the process (one per re-init).
        let nvml: &'static Nvml = Box::leak(Box::new(nvml));
        let count = nvml
            .device_count()
            .map_err(|e| SourceError::Unavailable(format!("NVML cannot count GPUs: {e}")))?;
        if count == 0 {
            return Err(SourceError::Unavailable(
                "NVML sees no GPU on this node: check NVIDIA_VISIBLE_DEVICES and the runtime class"
                    .into(),
            ));
        }
        let info = SystemInfo {
            driver_version: nvml.sys_driver_version().ok(),
            cuda_version: nvml
                .sys_cuda_driver_version()
                .ok()
                .map(|v| format!("{}.{}", v / 1000, (v % 1000) / 10)),
            nvml_version: nvml.sys_nvml_version().ok(),
        };
        let mut devices = Vec::new();
        let mut identities = Vec::new();
        let mut positions = Vec::new();
        for i in 0..count {
            // One GPU failing to open leaves the others reported.
            let d = match nvml.device_by_index(i) {
                Ok(d) => d,
                Err(e) => {
                    tracing::warn!(gpu = i, error = %e, "cannot open GPU; reporting the others");
                    continue;
                }
            };
            let memory_total = d.memory_info().map(|m| m.total).unwrap_or(0);
            positions.push((i, identities.len()));
            identities.push(GpuIdentity {
                index: i,
                minor_number: d.minor_number().ok(),
                uuid: d.uuid().unwrap_or_default(),
                name: d.name().unwrap_or_default(),
                serial: d.serial().ok(),
                pci_bus_id: d.pci_info().map(|p| p.bus_id).unwrap_or_default(),
                memory_total_bytes: memory_total,
                power_limit_watts: d
                    .enforced_power_limit()
                    .ok()
                    .map(|mw| f64::from(mw) / 1000.0),
                ecc_enabled: d.is_ecc_enabled().ok().map(|e| e.currently_enabled),
                compute_capability: d
                    .cuda_compute_capability()
                    .ok()
                    .map(|c| format!("{}.{}", c.major, c.minor)),
                mig_enabled: d.mig_mode().ok().map(|m| m.current == 1),
            });
            devices.push(d);
        }
        *self.generation.write() = Some(Generation { nvml, devices });
        let id = self.generation_id.fetch_add(1, Ordering::SeqCst) + 1;
        spawn_xid_thread(
            nvml,
            positions,
            id,
            self.generation_id.clone(),
            self.xids.clone(),
        );
        Ok((info, identities))
    }

    fn drain_xids(&self) -> Vec<(usize, u64)> {
        std::mem::take(&mut *self.xids.lock())
    }

    fn mig_parent_uuid(&self, mig_uuid: &str) -> Option<String> {
        let guard = self.generation.read();
        let nvml = guard.as_ref()?.nvml;
        nvml.device_by_uuid(mig_uuid)
            .ok()?
            .mig_parent_device()
            .ok()?
            .uuid()
            .ok()
    }

    fn sample(
        &self,
        index: usize,
        schedule: Schedule,
        fields: &mut GpuFields,
        errors: &mut FieldErrors,
    ) -> Result<(), SourceError> {
        self.with_device(index, |d| {
            for field in fields::of(schedule) {
                record(field, (field.read)(d), fields, errors)?;
            }
            Ok(())
        })
    }

    fn processes(&self, index: usize) -> Result<Vec<GpuProcess>, SourceError> {
        self.with_device(index, |d| match d.running_compute_processes() {
            Ok(ps) => Ok(ps
                .into_iter()
                .map(|p| GpuProcess {
                    pid: p.pid,
                    used_memory_bytes: match p.used_gpu_memory {
                        UsedGpuMemory::Used(b) => Some(b),
                        UsedGpuMemory::Unavailable => None,
                    },
                })
                .collect()),
            Err(e) if is_fatal(&e) => Err(SourceError::Lost(e.to_string())),
            Err(_) => Ok(Vec::new()),
        })
    }
}

/// Listens for critical Xid events on every GPU that supports them, on a thread of its own (the wait
/// is blocking FFI), until a newer initialisation replaces this one. `positions` maps NVML indices
/// to the positions of the GPUs the collector reports.
fn spawn_xid_thread(
    nvml: &'static Nvml,
    positions: Vec<(u32, usize)>,
    id: u64,
    current: Arc<AtomicU64>,
    out: Arc<Mutex<Vec<(usize, u64)>>>,
) {
    let spawned = std::thread::Builder::new()
        .name("nvml-xid-events".into())
        .spawn(move || {
            let Some(set) = register_xid_events(nvml, &positions) else {
                return;
            };
            while current.load(Ordering::SeqCst) == id {
                match set.wait(1000) {
                    Ok(event) if event.event_type.contains(EventTypes::CRITICAL_XID_ERROR) => {
                        let xid = match event.event_data {
                            Some(XidError::Value(v)) => v,
                            Some(XidError::Unknown) => XID_UNKNOWN,
                            None => continue,
                        };
                        let index = event.device.index().ok();
                        if let Some((_, position)) =
                            positions.iter().find(|(i, _)| Some(*i) == index)
                        {
                            tracing::warn!(gpu = index, xid, "Xid error");
                            out.lock().push((*position, xid));
                        }
                    }
                    Ok(_) | Err(NvmlError::Timeout) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "stopped listening for Xid events");
                        return;
                    }
                }
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot start the Xid event thread; Xid errors will not be counted");
    }
}

/// Registers each GPU that supports it for critical Xid events. `register_events` frees the set
/// on any error, so a GPU that refuses makes us start a new set with the GPUs that accepted.
fn register_xid_events(
    nvml: &'static Nvml,
    positions: &[(u32, usize)],
) -> Option<nvml_wrapper::EventSet<'static>> {
    let mut accepted: Vec<u32> = Vec::new();
    let mut set = nvml.create_event_set().ok()?;
    for (index, _) in positions {
        let Ok(device) = nvml.device_by_index(*index) else {
            continue;
        };
        let supported = device
            .supported_event_types()
            .unwrap_or(EventTypes::empty());
        if !supported.contains(EventTypes::CRITICAL_XID_ERROR) {
            continue;
        }
        match device.register_events(EventTypes::CRITICAL_XID_ERROR, set) {
            Ok(s) => {
                set = s;
                accepted.push(*index);
            }
            Err(e) => {
                tracing::warn!(gpu = index, error = %e.error, "GPU refused Xid event registration");
                set = nvml.create_event_set().ok()?;
                for i in &accepted {
                    set = nvml
                        .device_by_index(*i)
                        .ok()?
                        .register_events(EventTypes::CRITICAL_XID_ERROR, set)
                        .ok()?;
                }
            }
        }
    }
    (!accepted.is_empty()).then_some(set)
}
