//! The simulated twin of `gpuboard-exporter`: the exporter crate's own collector, attribution and
//! HTTP server over simulated GPUs (its `GpuSource` and `PodResourcesLister` seams). Each GPU node gets one on its own loopback address, published as that
//! node's exporter pod (label `app.kubernetes.io/name=gpuboard-exporter`, podIP = that address), so
//! the dashboard finds it as it would in a cluster. A GPU held by a running pod works as hard as
//! the pod's program says (utilization, memory, rising temperature and power); an idle GPU rests.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Weak};

use parking_lot::Mutex;
use std::time::{Duration, Instant};

use gpuboard_exporter::attribution::{AttributionError, PodDevices, PodResourcesLister};
use gpuboard_exporter::collector::Collector;
use gpuboard_exporter::fields::Schedule;
use gpuboard_exporter::source::{FieldErrors, GpuSource, SourceError, SystemInfo};
use gpuboard_exporter::{server, spawn_attribution};
use gpuboard_exporter_api::{APP_LABEL, APP_NAME, GpuFields, GpuIdentity, GpuProcess, PORT_NAME};
use serde_json::{Value, json};

use super::programs::compute_capability;
use super::resources::by_kind;
use super::seed::{GpuModel, NodeHardware};
use super::store::now_rfc3339;
use super::{GpuHolder, Sim, SimError, admission};

/// Where the exporters' DaemonSet and pods live, as `deploy/` installs them.
pub const NAMESPACE: &str = "gpuboard";
const DAEMONSET: &str = APP_NAME;
const MANAGED_BY: &str = "gpuboard-sim";
const MIB: u64 = 1024 * 1024;
/// How fast a GPU's temperature follows its load (seconds to get ~63% of the way).
const THERMAL_TIME_CONSTANT_S: f64 = 8.0;

/// Whether a pod is run by the sim itself (its exporters), so the simulated kubelet leaves it alone.
pub fn is_sim_managed(pod: &Value) -> bool {
    pod["metadata"]["labels"]["app.kubernetes.io/managed-by"] == MANAGED_BY
}

/// The CUDA version a driver branch ships with.
fn cuda_for_driver(driver: &str) -> &'static str {
    match driver.split('.').next().and_then(|m| m.parse::<u32>().ok()) {
        Some(m) if m >= 580 => "13.0",
        Some(m) if m >= 550 => "12.4",
        Some(m) if m >= 535 => "12.2",
        Some(m) if m >= 470 => "11.4",
        Some(m) if m >= 440 => "10.2",
        _ => "10.1",
    }
}

/// What a simulated GPU generation supports, as NVML would say.
struct Support {
    compute_capability: f64,
    datacenter: bool,
}

impl Support {
    fn of(name: &str) -> Self {
        Support {
            compute_capability: compute_capability(name).parse().unwrap_or(0.0),
            datacenter: !name.contains("GeForce"),
        }
    }
    fn energy(&self) -> bool {
        self.compute_capability >= 7.0
    }
    fn row_remapping(&self) -> bool {
        self.compute_capability >= 8.0
    }
    fn hbm(&self) -> bool {
        self.compute_capability >= 8.0 && self.datacenter
    }
}

struct Thermal {
    temperature: f64,
    energy_mj: f64,
    power: f64,
    last: Instant,
}

/// A node's simulated GPUs, read from the sim's device allocation.
pub struct SimGpuSource {
    sim: Weak<Sim>,
    /// The node's place in `Sim::hardware` (found once: a round must not search 1,000 nodes).
    node: usize,
    thermal: Mutex<Vec<Thermal>>,
    started: Instant,
}

impl SimGpuSource {
    /// The GPUs of `sim.hardware[node]`.
    pub fn new(sim: &Arc<Sim>, node: usize) -> Self {
        SimGpuSource {
            sim: Arc::downgrade(sim),
            node,
            thermal: Mutex::new(Vec::new()),
            started: Instant::now(),
        }
    }

    fn sim(&self) -> Result<Arc<Sim>, SourceError> {
        self.sim
            .upgrade()
            .ok_or_else(|| SourceError::Unavailable("the simulated cluster stopped".into()))
    }

    /// Runs `f` on the node's hardware.
    fn hardware<T>(
        &self,
        f: impl FnOnce(&Sim, &NodeHardware) -> Result<T, SourceError>,
    ) -> Result<T, SourceError> {
        let sim = self.sim()?;
        let hw = sim
            .hardware
            .get(self.node)
            .ok_or_else(|| SourceError::Unavailable(format!("no simulated node {}", self.node)))?;
        f(&sim, hw)
    }

    /// A small, smooth wobble so a busy GPU's line is not flat.
    fn wobble(&self, index: usize, amplitude: f64) -> f64 {
        let t = self.started.elapsed().as_secs_f64();
        amplitude * (t * 0.7 + index as f64 * 1.3).sin()
    }
}

impl GpuSource for SimGpuSource {
    fn init(&self) -> Result<(SystemInfo, Vec<GpuIdentity>), SourceError> {
        let hw = self.hardware(|_, hw| Ok(hw.clone()))?;
        if hw.gpus.is_empty() {
            return Err(SourceError::Unavailable(
                "NVML sees no GPU on this node".into(),
            ));
        }
        let driver = hw.driver.clone().unwrap_or_default();
        let identities = hw
            .gpus
            .iter()
            .map(|g| {
                let support = Support::of(g.model.name);
                GpuIdentity {
                    index: g.index as u32,
                    minor_number: Some(g.index as u32),
                    uuid: g.uuid.clone(),
                    name: g.model.name.to_string(),
                    serial: support
                        .datacenter
                        .then(|| format!("1320{}", &g.uuid[4..12].replace('-', ""))),
                    pci_bus_id: g.pci_bus_id.clone(),
                    memory_total_bytes: g.model.memory_mib * MIB,
                    power_limit_watts: Some(g.model.power_limit_w),
                    ecc_enabled: support.datacenter.then_some(true),
                    compute_capability: Some(compute_capability(g.model.name).to_string()),
                    mig_enabled: support.row_remapping().then_some(false),
                }
            })
            .collect();
        *self.thermal.lock() = hw
            .gpus
            .iter()
            .map(|g| Thermal {
                temperature: 32.0,
                energy_mj: 0.0,
                power: g.model.idle_power_w,
                last: Instant::now(),
            })
            .collect();
        let info = SystemInfo {
            cuda_version: Some(cuda_for_driver(&driver).to_string()),
            nvml_version: Some(format!(
                "{}.{driver}",
                cuda_for_driver(&driver).split('.').next().unwrap_or("10")
            )),
            driver_version: Some(driver),
        };
        Ok((info, identities))
    }

    fn sample(
        &self,
        index: usize,
        schedule: Schedule,
        f: &mut GpuFields,
        _errors: &mut FieldErrors,
    ) -> Result<(), SourceError> {
        let gpu = self.gpu(index)?;
        match schedule {
            Schedule::Fast => self.sample_fast(index, &gpu, f),
            Schedule::Slow => self.sample_slow(index, &gpu, f),
        }
    }

    fn drain_xids(&self) -> Vec<(usize, u64)> {
        self.hardware(|sim, hw| Ok(sim.drain_xids(&hw.name)))
            .unwrap_or_default()
    }

    fn processes(&self, index: usize) -> Result<Vec<GpuProcess>, SourceError> {
        let gpu = self.gpu(index)?;
        Ok(match &gpu.holder {
            Some(h) if gpu.load > 0.0 => vec![GpuProcess {
                pid: 10_000 + (h.pod_uid.bytes().map(u32::from).sum::<u32>() % 50_000),
                used_memory_bytes: Some(gpu.memory_used_bytes()),
            }],
            _ => Vec::new(),
        })
    }
}

/// One simulated GPU as a round sees it: its model, who holds it and how hard it works.
struct GpuNow {
    model: GpuModel,
    holder: Option<GpuHolder>,
    /// 0 (idle) to 1 (fully busy).
    load: f64,
}

impl GpuNow {
    fn memory_total_bytes(&self) -> u64 {
        self.model.memory_mib * MIB
    }

    /// A held GPU has its program's memory in use, more the harder it works.
    fn memory_used_bytes(&self) -> u64 {
        self.holder.as_ref().map_or(0, |_| {
            (self.memory_total_bytes() as f64 * (0.04 + 0.85 * self.load)) as u64
        })
    }
}

impl SimGpuSource {
    fn gpu(&self, index: usize) -> Result<GpuNow, SourceError> {
        self.hardware(|sim, hw| {
            let gpu = hw
                .gpus
                .get(index)
                .ok_or_else(|| SourceError::Lost(format!("GPU {index} is gone")))?;
            if sim.gpu_failed(&hw.name, index) {
                return Err(SourceError::Lost(
                    "GPU is lost (it has fallen off the bus)".into(),
                ));
            }
            let holder = sim.gpu_holder(&hw.name, index);
            Ok(GpuNow {
                model: gpu.model.clone(),
                load: holder.as_ref().map_or(0.0, |h| h.load.clamp(0.0, 1.0)),
                holder,
            })
        })
    }

    fn sample_fast(
        &self,
        index: usize,
        gpu: &GpuNow,
        f: &mut GpuFields,
    ) -> Result<(), SourceError> {
        let (model, load) = (&gpu.model, gpu.load);
        let support = Support::of(model.name);
        let mut thermal = self.thermal.lock();
        let t = thermal
            .get_mut(index)
            .ok_or_else(|| SourceError::Lost(format!("GPU {index} is not initialised")))?;
        let dt = t.last.elapsed().as_secs_f64();
        t.last = Instant::now();
        let target = 32.0 + 50.0 * load;
        t.temperature += (target - t.temperature) * (1.0 - (-dt / THERMAL_TIME_CONSTANT_S).exp());
        t.power = model.idle_power_w
            + (model.power_limit_w - model.idle_power_w) * 0.95 * load
            + self.wobble(index, load * 3.0);
        t.energy_mj += t.power * dt * 1000.0;

        let total = gpu.memory_total_bytes();
        let reserved = if support.datacenter { total / 100 } else { 0 };
        let used = gpu.memory_used_bytes();
        f.utilization_percent = Some(if load > 0.0 {
            (load * 100.0 + self.wobble(index, 2.0))
                .clamp(0.0, 100.0)
                .round()
        } else {
            0.0
        });
        f.memory_copy_utilization_percent = Some((load * 40.0).round());
        f.encoder_utilization_percent = Some(0.0);
        f.decoder_utilization_percent = Some(0.0);
        f.memory_used_bytes = Some(used);
        f.memory_reserved_bytes = Some(reserved);
        f.memory_free_bytes = Some(total.saturating_sub(used + reserved));
        f.temperature_celsius = Some(t.temperature.round());
        f.memory_temperature_celsius = support.hbm().then(|| (t.temperature + 6.0).round());
        f.power_watts = Some((t.power * 100.0).round() / 100.0);
        f.sm_clock_mhz = Some(if load > 0.0 { 1755.0 } else { 345.0 });
        f.memory_clock_mhz = Some(if support.hbm() { 2619.0 } else { 5005.0 });
        Ok(())
    }

    fn sample_slow(
        &self,
        index: usize,
        gpu: &GpuNow,
        f: &mut GpuFields,
    ) -> Result<(), SourceError> {
        let support = Support::of(gpu.model.name);
        let energy = self.thermal.lock().get(index).map(|t| t.energy_mj as u64);
        f.total_energy_millijoules = if support.energy() { energy } else { None };
        f.pcie_replay_count = Some(0);
        f.pcie_tx_bytes_per_second = Some((gpu.load * 2.0e9).round());
        f.pcie_rx_bytes_per_second = Some((gpu.load * 6.0e9).round());
        if support.row_remapping() {
            f.correctable_remapped_rows = Some(0);
            f.uncorrectable_remapped_rows = Some(0);
            f.row_remap_failure = Some(false);
        }
        Ok(())
    }
}

/// The kubelet's pod-resources answer for a simulated node: who holds each GPU.
pub struct SimPodResources {
    sim: Weak<Sim>,
    /// The node's place in `Sim::hardware`.
    node: usize,
}

#[async_trait::async_trait]
impl PodResourcesLister for SimPodResources {
    async fn list(&self) -> Result<Vec<PodDevices>, AttributionError> {
        let sim = self
            .sim
            .upgrade()
            .ok_or_else(|| AttributionError::Failed("the simulated cluster stopped".into()))?;
        let hw = sim.hardware.get(self.node);
        let mut by_container: BTreeMap<(String, String, String), Vec<String>> = BTreeMap::new();
        let holders = hw.map(|hw| sim.gpu_holders(&hw.name)).unwrap_or_default();
        for (index, holder) in holders.into_iter().enumerate() {
            let (Some(h), Some(gpu)) = (holder, hw.and_then(|hw| hw.gpus.get(index))) else {
                continue;
            };
            by_container
                .entry((h.namespace, h.pod, h.container))
                .or_default()
                .push(gpu.uuid.clone());
        }
        Ok(by_container
            .into_iter()
            .map(|((namespace, pod, container), device_ids)| PodDevices {
                namespace,
                pod,
                container,
                resource_name: "nvidia.com/gpu".into(),
                device_ids,
            })
            .collect())
    }
}

/// How the sim runs its exporters.
#[derive(Debug, Clone)]
pub struct SimExporterConfig {
    /// The port on each node's loopback address (9400 as in a cluster; 0 picks free ports, for tests).
    pub port: u16,
    pub interval: Duration,
}

/// One running simulated exporter.
struct Running {
    collector: Arc<Collector>,
}

/// A middleware for `node`'s exporter that never answers while the sim says it hangs
/// ([`Sim::hang_exporter`]).
fn hang_when_told(
    sim: Weak<Sim>,
    node: String,
) -> impl Fn(
    axum::extract::Request,
    axum::middleware::Next,
) -> std::pin::Pin<Box<dyn Future<Output = axum::response::Response> + Send>>
+ Clone
+ Send
+ Sync
+ 'static {
    move |request, next| {
        let hung = sim.upgrade().is_some_and(|sim| sim.exporter_hung(&node));
        Box::pin(async move {
            if hung {
                std::future::pending::<()>().await;
            }
            next.run(request).await
        })
    }
}

/// The running simulated exporters.
pub struct Started {
    /// (node, address) of each exporter.
    pub addresses: Vec<(String, SocketAddr)>,
    /// The tasks to stop with the sim.
    pub tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// Starts an exporter for every GPU node and the task that samples them.
pub async fn start(sim: &Arc<Sim>, config: &SimExporterConfig) -> Result<Started, SimError> {
    let mut tasks = Vec::new();
    let mut addresses = Vec::new();
    let mut running = Vec::new();
    let mut pods = Vec::new();
    for (node, hw) in sim.hardware.iter().enumerate() {
        let Some(ip) = hw.exporter_ip.as_ref().filter(|_| !hw.gpus.is_empty()) else {
            continue;
        };
        let addr: SocketAddr =
            format!("{ip}:{}", config.port)
                .parse()
                .map_err(|_| SimError::Listen {
                    addr: SocketAddr::from(([127, 0, 0, 1], config.port)),
                    source: std::io::Error::other("bad exporter address"),
                })?;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| SimError::Listen { addr, source })?;
        let bound = listener
            .local_addr()
            .map_err(|source| SimError::Listen { addr, source })?;
        let collector = Arc::new(Collector::new(
            hw.name.clone(),
            Arc::new(SimGpuSource::new(sim, node)),
        ));
        let app = server::router(collector.clone()).layer(axum::middleware::from_fn(
            hang_when_told(Arc::downgrade(sim), hw.name.clone()),
        ));
        tasks.push(tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!(error = %e, "a simulated exporter stopped");
            }
        }));
        let lister = Arc::new(SimPodResources {
            sim: Arc::downgrade(sim),
            node,
        });
        tasks.push(spawn_attribution(
            collector.clone(),
            lister,
            config.interval,
        ));
        pods.push(exporter_pod(hw, bound));
        addresses.push((hw.name.clone(), bound));
        running.push(Running { collector });
    }
    publish_pods(sim, &pods);
    let interval = config.interval;
    let weak = Arc::downgrade(sim);
    tasks.push(tokio::spawn(async move {
        sample_loop(weak, running, pods, interval).await
    }));
    Ok(Started { addresses, tasks })
}

/// Samples every simulated exporter each interval (slow fields every fifth), and puts back
/// exporter pods that were deleted, as the DaemonSet controller would.
async fn sample_loop(sim: Weak<Sim>, running: Vec<Running>, pods: Vec<Value>, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut round: u64 = 0;
    loop {
        ticker.tick().await;
        for r in &running {
            r.collector.collect_fast();
            if round.is_multiple_of(5) {
                r.collector.collect_slow();
            }
        }
        if round % 5 == 4 {
            let Some(sim) = sim.upgrade() else { return };
            publish_pods(&sim, &pods);
        }
        round += 1;
    }
}

/// Creates the namespace, the DaemonSet and each node's exporter pod where missing.
fn publish_pods(sim: &Sim, pods: &[Value]) {
    let mut store = sim.lock_store();
    if !store.exists(by_kind("Namespace"), "", NAMESPACE) {
        let _ = store.create(
            by_kind("Namespace"),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}),
        );
    }
    let ds = match store.get(by_kind("DaemonSet"), NAMESPACE, DAEMONSET) {
        Some(ds) => ds,
        None => match store.create(by_kind("DaemonSet"), daemonset(pods.len())) {
            Ok(ds) => ds,
            Err(_) => return,
        },
    };
    let ds_uid = ds["metadata"]["uid"].as_str().unwrap_or("").to_string();
    for pod in pods {
        let name = pod["metadata"]["name"].as_str().unwrap_or("");
        if store.exists(by_kind("Pod"), NAMESPACE, name) {
            continue;
        }
        let mut pod = pod.clone();
        pod["metadata"]["ownerReferences"] = json!([{
            "apiVersion": "apps/v1", "kind": "DaemonSet", "name": DAEMONSET, "uid": ds_uid,
            "controller": true, "blockOwnerDeletion": true,
        }]);
        let now = now_rfc3339();
        pod["status"]["startTime"] = json!(now);
        pod["status"]["containerStatuses"][0]["state"] = json!({"running": {"startedAt": now}});
        for condition in pod["status"]["conditions"]
            .as_array_mut()
            .into_iter()
            .flatten()
        {
            condition["lastTransitionTime"] = json!(now);
        }
        // Admission resets the status of a new pod; this one is already running.
        let status = pod["status"].take();
        if admission::on_create(by_kind("Pod"), &mut pod).is_ok() {
            pod["status"] = status;
            let _ = store.create(by_kind("Pod"), pod);
        }
    }
}

fn labels() -> Value {
    json!({APP_LABEL: DAEMONSET, "app.kubernetes.io/part-of": "gpuboard", "app.kubernetes.io/managed-by": MANAGED_BY})
}

fn daemonset(nodes: usize) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": DAEMONSET, "namespace": NAMESPACE, "labels": labels()},
        "spec": {
            "selector": {"matchLabels": {APP_LABEL: DAEMONSET}},
            "template": {"metadata": {"labels": labels()}, "spec": {"containers": [{"name": "exporter", "image": "gpuboard-exporter:latest"}]}},
        },
        "status": {"currentNumberScheduled": nodes, "desiredNumberScheduled": nodes, "numberAvailable": nodes, "numberReady": nodes, "numberMisscheduled": 0, "updatedNumberScheduled": nodes},
    })
}

/// A node's exporter pod, running, with its loopback address as podIP and its port named `metrics`.
fn exporter_pod(hw: &NodeHardware, addr: SocketAddr) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": super::seed::daemon_pod_name(DAEMONSET, &hw.name), "namespace": NAMESPACE, "labels": labels()},
        "spec": {
            "nodeName": hw.name,
            "containers": [{
                "name": "exporter", "image": "gpuboard-exporter:latest",
                "ports": [{"name": PORT_NAME, "containerPort": addr.port(), "protocol": "TCP"}],
                "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "64Mi"}},
            }],
            "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
        },
        "status": {
            "phase": "Running", "podIP": addr.ip().to_string(), "podIPs": [{"ip": addr.ip().to_string()}], "hostIP": hw.internal_ip,
            "qosClass": "Burstable",
            "conditions": [
                {"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"},
                {"type": "ContainersReady", "status": "True"}, {"type": "PodScheduled", "status": "True"},
            ],
            "containerStatuses": [{"name": "exporter", "ready": true, "started": true, "restartCount": 0, "image": "gpuboard-exporter:latest", "imageID": "", "state": {}}],
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn driver_branches_map_to_cuda_versions() {
        assert_eq!(cuda_for_driver("440.64"), "10.2");
        assert_eq!(cuda_for_driver("550.90.07"), "12.4");
        assert_eq!(cuda_for_driver("580.159.04"), "13.0");
        assert_eq!(cuda_for_driver(""), "10.1");
    }

    #[test]
    fn generations_support_what_nvml_would_report() {
        let gtx = Support::of("NVIDIA GeForce GTX 1080 Ti");
        assert!(!gtx.energy() && !gtx.row_remapping() && !gtx.hbm() && !gtx.datacenter);
        let t4 = Support::of("Tesla T4");
        assert!(t4.energy() && !t4.row_remapping() && !t4.hbm() && t4.datacenter);
        let h100 = Support::of("NVIDIA H100 80GB HBM3");
        assert!(h100.energy() && h100.row_remapping() && h100.hbm());
    }
}
