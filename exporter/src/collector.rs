//! The sampling loop, apart from serving: a [`Collector`] initialises its [`GpuSource`] (again, with
//! back-off, after a lost GPU or driver), samples the fast fields every interval and the slow ones
//! on their own schedule (which field is which: [`crate::fields`]), and publishes an immutable
//! [`Snapshot`] that scrapes read without touching NVML.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use gpuboard_exporter_api::{GPU_LOST, Gpu, GpuFields, GpuIdentity, GpuProcess, NodeGpus};
use parking_lot::{Mutex, MutexGuard};

use crate::attribution::AttributionMap;
use crate::fields::{self, Schedule};
use crate::snapshot::{Health, Snapshot};
use crate::source::{FieldErrors, GpuSource, SourceError, SystemInfo};

const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// One GPU's answer to one round, read without the state held.
struct Reading {
    fields: GpuFields,
    errors: FieldErrors,
    result: Result<Vec<GpuProcess>, SourceError>,
}

struct GpuState {
    identity: GpuIdentity,
    fields: GpuFields,
    processes: Vec<GpuProcess>,
    field_errors: FieldErrors,
    xids: BTreeMap<u64, u64>,
}

struct State {
    initialised: bool,
    /// When a lost GPU asked for NVML to be initialised again.
    reinit_at: Option<Instant>,
    system: SystemInfo,
    gpus: Vec<GpuState>,
    /// Why there is nothing to read, when there is not.
    unavailable: Option<String>,
    next_init: Instant,
    backoff: Duration,
    sampled_once: bool,
    sampled_at_ms: i64,
    health: Health,
    /// Xid counts survive re-initialisation, keyed by UUID.
    xids_by_uuid: BTreeMap<String, BTreeMap<u64, u64>>,
}

/// Samples one node's GPUs and publishes snapshots. Calls block; run them on threads (NVML) or
/// on a timer task (the sim's simulated GPUs).
pub struct Collector {
    node: String,
    source: Arc<dyn GpuSource>,
    state: Mutex<State>,
    attribution: ArcSwap<AttributionMap>,
    published: ArcSwap<Snapshot>,
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

impl Collector {
    /// A collector for `node`'s GPUs from `source`; nothing is read until the first round.
    pub fn new(node: impl Into<String>, source: Arc<dyn GpuSource>) -> Self {
        let state = State {
            initialised: false,
            reinit_at: None,
            system: SystemInfo::default(),
            gpus: Vec::new(),
            unavailable: None,
            next_init: Instant::now(),
            backoff: FIRST_BACKOFF,
            sampled_once: false,
            sampled_at_ms: 0,
            health: Health::default(),
            xids_by_uuid: BTreeMap::new(),
        };
        let node = node.into();
        let first = Snapshot::new(
            NodeGpus {
                node: node.clone(),
                ..Default::default()
            },
            Health::default(),
            Err("the first sample is not done yet".into()),
        );
        Collector {
            node,
            source,
            state: Mutex::new(state),
            attribution: ArcSwap::from_pointee(AttributionMap::default()),
            published: ArcSwap::from_pointee(first),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock()
    }

    /// The latest snapshot: what every scrape serves.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.published.load_full()
    }

    /// Takes a new attribution (from the refresher) and republishes.
    pub fn set_attribution(&self, map: AttributionMap) {
        self.attribution.store(Arc::new(map));
        let mut state = self.lock();
        state.health.attribution_refreshed_ms = now_ms();
        self.publish(&state);
    }

    /// The parent GPU's UUID of a MIG device, for attribution.
    pub fn mig_parent_uuid(&self, mig_uuid: &str) -> Option<String> {
        self.source.mig_parent_uuid(mig_uuid)
    }

    /// Initialises the source when it is due, or re-initialises it when a lost GPU asked for it;
    /// returns whether there are GPUs to sample.
    fn ensure_initialised(&self) -> bool {
        let reinit = {
            let state = self.lock();
            let now = Instant::now();
            match (state.initialised, state.reinit_at) {
                (true, Some(at)) if now >= at => true,
                (true, _) => return true,
                (false, _) if now < state.next_init => return false,
                (false, _) => false,
            }
        };
        let result = self.source.init();
        let mut state = self.lock();
        match result {
            Ok((system, identities)) => {
                for gpu in std::mem::take(&mut state.gpus) {
                    state.xids_by_uuid.insert(gpu.identity.uuid, gpu.xids);
                }
                let gpus = identities
                    .into_iter()
                    .map(|identity| GpuState {
                        xids: state
                            .xids_by_uuid
                            .get(&identity.uuid)
                            .cloned()
                            .unwrap_or_default(),
                        identity,
                        fields: GpuFields::default(),
                        processes: Vec::new(),
                        field_errors: FieldErrors::new(),
                    })
                    .collect();
                state.gpus = gpus;
                tracing::info!(node = %self.node, gpus = state.gpus.len(), driver = ?system.driver_version, "GPUs found");
                if reinit {
                    state.health.reinits_total += 1;
                }
                state.system = system;
                state.initialised = true;
                state.reinit_at = None;
                state.unavailable = None;
                state.backoff = FIRST_BACKOFF;
                true
            }
            Err(e) => {
                if state.unavailable.as_deref() != Some(&e.to_string()) {
                    tracing::warn!(node = %self.node, error = %e, retry_in = ?state.backoff, "no GPU data");
                }
                state.initialised = false;
                state.reinit_at = None;
                state.gpus.clear();
                state.unavailable = Some(e.to_string());
                state.next_init = Instant::now() + state.backoff;
                state.backoff = (state.backoff * 2).min(MAX_BACKOFF);
                state.health.last_success = false;
                state.health.last_timestamp_ms = now_ms();
                self.publish(&state);
                false
            }
        }
    }

    /// A GPU was lost (or the driver changed under us): report it empty, keep reporting the
    /// others, and re-initialise after a back-off.
    fn lose_gpu(&self, state: &mut State, index: usize, e: &SourceError) {
        if let Some(gpu) = state.gpus.get_mut(index) {
            if !gpu.field_errors.contains_key(GPU_LOST) {
                tracing::warn!(node = %self.node, gpu = index, error = %e, "GPU lost; re-initialising NVML");
            }
            gpu.fields = GpuFields::default();
            gpu.processes.clear();
            gpu.field_errors.insert(GPU_LOST.into(), e.to_string());
        }
        if state.reinit_at.is_none() {
            state.reinit_at = Some(Instant::now() + state.backoff);
            state.backoff = (state.backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// One fast round: utilization, memory, temperature, power, clocks, processes, Xids.
    pub fn collect_fast(&self) {
        if !self.ensure_initialised() {
            return;
        }
        let started = Instant::now();
        let Some(readings) = self.read_all(Schedule::Fast) else {
            return;
        };
        let xids = self.source.drain_xids();
        let mut guard = self.lock();
        let state = &mut *guard;
        let Some(all_read) = self.apply(state, Schedule::Fast, readings) else {
            return;
        };
        for (index, xid) in xids {
            if let Some(gpu) = state.gpus.get_mut(index) {
                *gpu.xids.entry(xid).or_default() += 1;
            }
        }
        state.sampled_once = true;
        state.sampled_at_ms = now_ms();
        state.health.last_success = all_read;
        state.health.last_timestamp_ms = now_ms();
        state.health.last_duration = started.elapsed();
        self.publish(state);
    }

    /// One slow round: energy, PCIe throughput and replays, remapped rows. Published with the next fast round.
    pub fn collect_slow(&self) {
        if let Some(readings) = self.read_all(Schedule::Slow) {
            self.apply(&mut self.lock(), Schedule::Slow, readings);
        }
    }

    /// Reads every GPU's fields of `schedule` (and, in the fast round, its processes) without
    /// holding the state: NVML calls block. None when there is nothing initialised to read.
    fn read_all(&self, schedule: Schedule) -> Option<Vec<Reading>> {
        let count = {
            let state = self.lock();
            if !state.initialised {
                return None;
            }
            state.gpus.len()
        };
        let readings = (0..count)
            .map(|index| {
                let mut fields = GpuFields::default();
                let mut errors = FieldErrors::new();
                let result = self
                    .source
                    .sample(index, schedule, &mut fields, &mut errors)
                    .and_then(|()| match schedule {
                        Schedule::Fast => self.source.processes(index),
                        Schedule::Slow => Ok(Vec::new()),
                    });
                Reading {
                    fields,
                    errors,
                    result,
                }
            })
            .collect();
        Some(readings)
    }

    /// Puts one round's readings into the state. A GPU that failed is lost in the fast round (and
    /// left for the fast round to notice in the slow one). Returns whether every GPU was read, or
    /// None when the GPUs changed while reading (a re-initialisation), which drops the round.
    fn apply(&self, state: &mut State, schedule: Schedule, readings: Vec<Reading>) -> Option<bool> {
        if !state.initialised || state.gpus.len() != readings.len() {
            return None;
        }
        let mut all_read = true;
        for (index, reading) in readings.into_iter().enumerate() {
            match (reading.result, schedule) {
                (Ok(processes), _) => {
                    let gpu = &mut state.gpus[index];
                    fields::merge(&mut gpu.fields, &reading.fields, schedule);
                    if schedule == Schedule::Fast {
                        gpu.processes = processes;
                    }
                    record_field_errors(state, index, reading.errors, schedule);
                }
                (Err(e), Schedule::Fast) => {
                    all_read = false;
                    self.lose_gpu(state, index, &e);
                }
                (Err(_), Schedule::Slow) => all_read = false,
            }
        }
        Some(all_read)
    }

    fn publish(&self, state: &State) {
        let attribution = self.attribution.load();
        let gpus = if state.initialised {
            state
                .gpus
                .iter()
                .map(|g| Gpu {
                    identity: g.identity.clone(),
                    fields: g.fields.clone(),
                    processes: g.processes.clone(),
                    pods: attribution.pods_of(&g.identity),
                    xid_errors: g.xids.clone(),
                    field_errors: g.field_errors.clone(),
                })
                .collect()
        } else {
            Vec::new()
        };
        let node_gpus = NodeGpus {
            node: self.node.clone(),
            driver_version: state.system.driver_version.clone(),
            cuda_version: state.system.cuda_version.clone(),
            nvml_version: state.system.nvml_version.clone(),
            sampled_at_ms: state.sampled_at_ms,
            unavailable: state.unavailable.clone(),
            attribution: attribution.status.clone(),
            gpus,
        };
        let ready = match (&state.unavailable, state.sampled_once) {
            (Some(why), _) => Err(why.clone()),
            (None, false) => Err("the first sample is not done yet".into()),
            (None, true) => Ok(()),
        };
        self.published.store(Arc::new(Snapshot::new(
            node_gpus,
            state.health.clone(),
            ready,
        )));
    }
}

/// Replaces GPU `index`'s field errors of one round with `errors`, and counts them.
fn record_field_errors(state: &mut State, index: usize, errors: FieldErrors, schedule: Schedule) {
    let gpu = &mut state.gpus[index];
    gpu.field_errors
        .retain(|name, _| fields::schedule_of(name) != schedule);
    for field in errors.keys() {
        *state
            .health
            .field_errors_total
            .entry((gpu.identity.index, gpu.identity.uuid.clone(), field.clone()))
            .or_default() += 1;
    }
    gpu.field_errors.extend(errors);
}

/// Runs the fast and slow rounds on two threads of their own (NVML calls block; the PCIe
/// throughput call alone takes about 20 ms per GPU). The threads run for the life of the process.
pub fn spawn_sampling_threads(
    collector: Arc<Collector>,
    interval: Duration,
    slow_interval: Duration,
) -> std::io::Result<()> {
    let fast = collector.clone();
    std::thread::Builder::new()
        .name("gpu-sample-fast".into())
        .spawn(move || sample_every(interval, || fast.collect_fast()))?;
    std::thread::Builder::new()
        .name("gpu-sample-slow".into())
        .spawn(move || sample_every(slow_interval, || collector.collect_slow()))?;
    Ok(())
}

fn sample_every(interval: Duration, mut round: impl FnMut()) {
    let mut next = Instant::now();
    loop {
        round();
        next += interval;
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        } else {
            // Fell behind (a slow call): start again from now rather than bursting.
            next = now;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use super::*;

    /// Three GPUs; GPU 1 can be made lost, GPU 2's power read fails, init can be made to fail.
    #[derive(Default)]
    struct FakeSource {
        gpu1_lost: AtomicBool,
        no_driver: AtomicBool,
        inits: AtomicUsize,
    }

    impl GpuSource for FakeSource {
        fn init(&self) -> Result<(SystemInfo, Vec<GpuIdentity>), SourceError> {
            self.inits.fetch_add(1, Ordering::SeqCst);
            if self.no_driver.load(Ordering::SeqCst) {
                return Err(SourceError::Unavailable(
                    "NVML could not be initialised: check the driver".into(),
                ));
            }
            let gpus = (0..3)
                .map(|i| GpuIdentity {
                    index: i,
                    uuid: format!("GPU-{i}"),
                    ..Default::default()
                })
                .collect();
            Ok((
                SystemInfo {
                    driver_version: Some("580.1".into()),
                    ..Default::default()
                },
                gpus,
            ))
        }

        fn sample(
            &self,
            index: usize,
            schedule: Schedule,
            f: &mut GpuFields,
            errors: &mut FieldErrors,
        ) -> Result<(), SourceError> {
            if index == 1 && self.gpu1_lost.load(Ordering::SeqCst) {
                return Err(SourceError::Lost("GPU is lost".into()));
            }
            match schedule {
                Schedule::Fast => {
                    f.utilization_percent = Some(10.0 * (index + 1) as f64);
                    if index == 2 {
                        errors.insert("power_watts".into(), "Unknown error".into());
                    } else {
                        f.power_watts = Some(100.0);
                    }
                }
                Schedule::Slow => f.total_energy_millijoules = Some(42),
            }
            Ok(())
        }

        fn processes(&self, _index: usize) -> Result<Vec<GpuProcess>, SourceError> {
            Ok(vec![])
        }

        fn drain_xids(&self) -> Vec<(usize, u64)> {
            vec![(0, 48)]
        }
    }

    fn utilizations(c: &Collector) -> Vec<Option<f64>> {
        c.snapshot()
            .gpus
            .gpus
            .iter()
            .map(|g| g.fields.utilization_percent)
            .collect()
    }

    #[test]
    fn not_ready_until_the_first_sample() {
        let c = Collector::new("n", Arc::new(FakeSource::default()));
        assert!(c.snapshot().ready.is_err());
        c.collect_fast();
        assert_eq!(c.snapshot().ready, Ok(()));
    }

    #[test]
    fn a_failing_field_or_a_lost_gpu_leaves_the_others_reported() {
        let source = Arc::new(FakeSource::default());
        let c = Collector::new("n", source.clone());
        c.collect_fast();
        c.collect_slow();
        c.collect_fast();
        let snap = c.snapshot();
        assert_eq!(utilizations(&c), [Some(10.0), Some(20.0), Some(30.0)]);
        // GPU 2's power failed: absent there, present elsewhere, counted, and slow fields were kept.
        assert_eq!(snap.gpus.gpus[2].fields.power_watts, None);
        assert_eq!(snap.gpus.gpus[0].fields.power_watts, Some(100.0));
        assert!(snap.gpus.gpus[2].field_errors.contains_key("power_watts"));
        assert_eq!(
            snap.health
                .field_errors_total
                .get(&(2, "GPU-2".into(), "power_watts".into())),
            Some(&2)
        );
        assert_eq!(snap.gpus.gpus[0].fields.total_energy_millijoules, Some(42));
        assert_eq!(snap.gpus.gpus[0].xid_errors.get(&48), Some(&2));

        source.gpu1_lost.store(true, Ordering::SeqCst);
        c.collect_fast();
        let snap = c.snapshot();
        assert_eq!(utilizations(&c), [Some(10.0), None, Some(30.0)]);
        assert!(snap.gpus.gpus[1].failure().is_some());
        assert!(!snap.health.last_success);
        assert!(
            crate::metrics::render(&snap, crate::metrics::Format::Prometheus).starts_with("# HELP")
        );
        assert_eq!(snap.ready, Ok(()), "the node is still reported");
    }

    #[test]
    fn a_lost_gpu_brings_a_reinitialisation_after_a_back_off_and_xids_survive_it() {
        let source = Arc::new(FakeSource::default());
        let c = Collector::new("n", source.clone());
        c.collect_fast();
        source.gpu1_lost.store(true, Ordering::SeqCst);
        c.collect_fast();
        assert_eq!(
            source.inits.load(Ordering::SeqCst),
            1,
            "no re-init before the back-off"
        );
        c.lock().reinit_at = Some(Instant::now());
        source.gpu1_lost.store(false, Ordering::SeqCst);
        c.collect_fast();
        assert_eq!(source.inits.load(Ordering::SeqCst), 2);
        assert_eq!(utilizations(&c), [Some(10.0), Some(20.0), Some(30.0)]);
        let snap = c.snapshot();
        assert_eq!(snap.health.reinits_total, 1);
        assert_eq!(snap.gpus.gpus[0].xid_errors.get(&48), Some(&3));
    }

    #[test]
    fn no_driver_means_not_ready_with_the_reason_and_retries_with_back_off() {
        let source = Arc::new(FakeSource::default());
        source.no_driver.store(true, Ordering::SeqCst);
        let c = Collector::new("n", source.clone());
        c.collect_fast();
        c.collect_fast();
        assert_eq!(
            source.inits.load(Ordering::SeqCst),
            1,
            "the second round waits for the back-off"
        );
        let snap = c.snapshot();
        assert!(
            snap.ready
                .as_ref()
                .unwrap_err()
                .contains("check the driver")
        );
        assert!(snap.gpus.gpus.is_empty());
        assert!(
            crate::metrics::render(&snap, crate::metrics::Format::Prometheus)
                .contains("gpuboard_exporter_gpu_data_available{reason=")
        );
        source.no_driver.store(false, Ordering::SeqCst);
        c.lock().next_init = Instant::now();
        c.collect_fast();
        assert_eq!(c.snapshot().ready, Ok(()));
        assert_eq!(utilizations(&c).len(), 3);
    }
}
