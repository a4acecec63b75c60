//! Which pods hold which GPU: device ids from the kubelet's pod-resources API (in every form the
//! NVIDIA and GKE device plugins use) turned into a map from GPU to the containers holding it.
//! Refreshed on its own timer, never in the scrape path.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use gpuboard_exporter_api::{Attribution, GpuIdentity, PodRef};

/// One container's devices of one resource, as the kubelet reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodDevices {
    pub namespace: String,
    pub pod: String,
    pub container: String,
    pub resource_name: String,
    pub device_ids: Vec<String>,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
/// Why GPUs could not be attributed to pods.
pub enum AttributionError {
    /// No pod-resources socket: the directory is not mounted, or this is not a kubelet's node.
    #[error(
        "no kubelet pod-resources socket at {0}: mount /var/lib/kubelet/pod-resources read-only to attribute GPUs to pods"
    )]
    NoSocket(String),
    /// The socket is there but the call failed.
    #[error("pod-resources List failed: {0}")]
    Failed(String),
}

/// Something that lists the devices the kubelet handed to containers (the real socket, or the sim).
#[async_trait::async_trait]
pub trait PodResourcesLister: Send + Sync + 'static {
    async fn list(&self) -> Result<Vec<PodDevices>, AttributionError>;
}

/// What a device id names: a whole GPU by UUID, a GPU by its `/dev/nvidiaN` number, or an opaque
/// MIG instance whose parent GPU NVML must tell.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DeviceKey {
    Uuid(String),
    Minor(u32),
    Mig(String),
}

/// Whether a resource is an NVIDIA GPU resource (`nvidia.com/gpu`, `nvidia.com/gpu.shared`,
/// `nvidia.com/mig-1g.10gb`, renamed resources such as `nvidia.com/a100`).
pub fn is_gpu_resource(name: &str) -> bool {
    name.starts_with("nvidia.com/")
}

/// Parses a device id in any of the device plugins' forms:
/// `GPU-<uuid>`, `GPU-<uuid>::<replica>` (time-slicing, MPS), `MIG-<uuid>` (R470+),
/// `MIG-GPU-<uuid>/<gi>/<ci>` (older drivers), GKE's `nvidia0`, `nvidia0/gi7`, `nvidia0/vgpu3`.
pub fn parse_device_id(id: &str) -> Option<DeviceKey> {
    let id = id.trim();
    // A replica suffix names a share of the same device.
    let id = id.split_once("::").map_or(id, |(device, _)| device);
    if let Some(rest) = id.strip_prefix("MIG-GPU-") {
        let uuid = rest.split('/').next().filter(|u| !u.is_empty())?;
        return Some(DeviceKey::Uuid(format!("GPU-{uuid}")));
    }
    if id.starts_with("MIG-") && id.len() > 4 {
        return Some(DeviceKey::Mig(id.to_string()));
    }
    if id.starts_with("GPU-") && id.len() > 4 {
        return Some(DeviceKey::Uuid(id.to_string()));
    }
    if let Some(rest) = id.strip_prefix("nvidia") {
        let number = rest.split('/').next()?;
        return number.parse().ok().map(DeviceKey::Minor);
    }
    None
}

/// The attribution the collector reads when it publishes: status and GPU key -> holders.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AttributionMap {
    pub status: Attribution,
    pub holders: HashMap<DeviceKey, BTreeSet<PodRef>>,
}

impl AttributionMap {
    /// Builds the map from the kubelet's answer; MIG ids are resolved to their parent GPU by `mig_parent`.
    pub fn build(
        devices: &[PodDevices],
        mig_parent: &mut dyn FnMut(&str) -> Option<String>,
    ) -> Self {
        let mut holders: HashMap<DeviceKey, BTreeSet<PodRef>> = HashMap::new();
        for d in devices.iter().filter(|d| is_gpu_resource(&d.resource_name)) {
            let pod = PodRef {
                namespace: d.namespace.clone(),
                pod: d.pod.clone(),
                container: d.container.clone(),
            };
            for id in &d.device_ids {
                let key = match parse_device_id(id) {
                    Some(DeviceKey::Mig(mig)) => match mig_parent(&mig) {
                        Some(parent) => DeviceKey::Uuid(parent),
                        None => DeviceKey::Mig(mig),
                    },
                    Some(key) => key,
                    None => continue,
                };
                holders.entry(key).or_default().insert(pod.clone());
            }
        }
        AttributionMap {
            status: Attribution::Ok,
            holders,
        }
    }

    /// The containers holding a GPU, by UUID or device number, sorted and without repeats.
    pub fn pods_of(&self, gpu: &GpuIdentity) -> Vec<PodRef> {
        let mut out: BTreeSet<PodRef> = BTreeSet::new();
        if let Some(p) = self.holders.get(&DeviceKey::Uuid(gpu.uuid.clone())) {
            out.extend(p.iter().cloned());
        }
        let minor = gpu.minor_number.unwrap_or(gpu.index);
        if let Some(p) = self.holders.get(&DeviceKey::Minor(minor)) {
            out.extend(p.iter().cloned());
        }
        out.into_iter().collect()
    }
}

/// Refreshes attribution every `every` from `lister` and hands each result to `publish`.
/// A failed call keeps the last good holders (a passing hiccup should not drop every pod label)
/// and says so in the status; a missing socket clears them.
pub async fn refresh_loop(
    lister: Arc<dyn PodResourcesLister>,
    every: Duration,
    mut mig_parent: impl FnMut(&str) -> Option<String> + Send,
    publish: impl Fn(AttributionMap) + Send,
) {
    let mut last = AttributionMap::default();
    let mut mig_cache: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let next = match lister.list().await {
            Ok(devices) => {
                let mut resolve = |mig: &str| {
                    mig_cache
                        .entry(mig.to_string())
                        .or_insert_with(|| mig_parent(mig))
                        .clone()
                };
                AttributionMap::build(&devices, &mut resolve)
            }
            Err(e @ AttributionError::NoSocket(_)) => AttributionMap {
                status: Attribution::Unavailable,
                holders: HashMap::new(),
            }
            .logged_once(&last, &e),
            Err(e) => AttributionMap {
                status: Attribution::Failed(e.to_string()),
                holders: last.holders.clone(),
            }
            .logged_once(&last, &e),
        };
        if next != last {
            publish(next.clone());
            last = next;
        }
    }
}

impl AttributionMap {
    /// Logs a refresh failure when the status changes, not on every tick.
    fn logged_once(self, last: &AttributionMap, error: &AttributionError) -> Self {
        if std::mem::discriminant(&self.status) != std::mem::discriminant(&last.status) {
            tracing::warn!(%error, "GPUs are not attributed to pods");
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn devices(resource: &str, ids: &[&str], pod: &str) -> PodDevices {
        PodDevices {
            namespace: "team-a".into(),
            pod: pod.into(),
            container: "main".into(),
            resource_name: resource.into(),
            device_ids: ids.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn gpu(index: u32, uuid: &str) -> GpuIdentity {
        GpuIdentity {
            index,
            uuid: uuid.into(),
            ..Default::default()
        }
    }

    #[test]
    fn every_device_id_form_parses() {
        let uuid = "GPU-8f6a1c2e-0b1d-4c3a-9e2f-1a2b3c4d5e6f";
        assert_eq!(parse_device_id(uuid), Some(DeviceKey::Uuid(uuid.into())));
        assert_eq!(
            parse_device_id(&format!("{uuid}::3")),
            Some(DeviceKey::Uuid(uuid.into()))
        );
        assert_eq!(
            parse_device_id("MIG-3f1c7b5e-8a2d-5b9e-a1c3-0d4e5f6a7b8c"),
            Some(DeviceKey::Mig(
                "MIG-3f1c7b5e-8a2d-5b9e-a1c3-0d4e5f6a7b8c".into()
            ))
        );
        assert_eq!(
            parse_device_id("MIG-3f1c::1"),
            Some(DeviceKey::Mig("MIG-3f1c".into()))
        );
        assert_eq!(
            parse_device_id("MIG-GPU-8f6a1c2e-0b1d-4c3a-9e2f-1a2b3c4d5e6f/7/0"),
            Some(DeviceKey::Uuid(uuid.into()))
        );
        assert_eq!(parse_device_id("nvidia0"), Some(DeviceKey::Minor(0)));
        assert_eq!(parse_device_id("nvidia3/gi7"), Some(DeviceKey::Minor(3)));
        assert_eq!(parse_device_id("nvidia1/vgpu3"), Some(DeviceKey::Minor(1)));
        for bad in [
            "",
            "GPU-",
            "MIG-",
            "nvidia",
            "nvidiaX",
            "cpu0",
            "MIG-GPU-/1/0",
        ] {
            assert_eq!(parse_device_id(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn shared_gpus_go_to_every_holder_and_other_resources_are_ignored() {
        let a = "GPU-aaaaaaaa-0000-0000-0000-000000000000";
        let b = "GPU-bbbbbbbb-0000-0000-0000-000000000000";
        let list = vec![
            devices("nvidia.com/gpu", &[&format!("{a}::0")], "p1"),
            devices("nvidia.com/gpu.shared", &[&format!("{a}::1")], "p2"),
            devices("nvidia.com/gpu", &["nvidia1"], "gke"),
            devices("example.com/fpga", &[b], "not-a-gpu"),
            devices(
                "nvidia.com/mig-1g.10gb",
                &["MIG-known", "MIG-unknown"],
                "mig",
            ),
        ];
        let mut parent = |mig: &str| (mig == "MIG-known").then(|| b.to_string());
        let map = AttributionMap::build(&list, &mut parent);
        let names = |g: &GpuIdentity| {
            map.pods_of(g)
                .into_iter()
                .map(|p| p.pod)
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&gpu(0, a)), ["p1", "p2"]);
        assert_eq!(names(&gpu(1, b)), ["gke", "mig"]);
        assert!(names(&gpu(2, "GPU-cccccccc")).is_empty());
        // A GPU whose /dev/nvidiaN number differs from its index is matched by the number.
        let mut odd = gpu(0, "GPU-dddddddd");
        odd.minor_number = Some(1);
        assert_eq!(names(&odd), ["gke"]);
        assert_eq!(map.status, Attribution::Ok);
    }
}
