//! Builds each node's [`NodeGpus`] from samples of dcgm-exporter's series, whoever wrote them
//! (gpuboard-exporter or NVIDIA's dcgm-exporter) and however they came (Prometheus's answer to a
//! query, or an exporter's own text, [`read_text`]): a GPU is named by its `UUID` label, its node by the caller or by a node label, and the
//! pod holding it by the `pod`, `namespace` and `container` labels. gpuboard-exporter's own series
//! (identity, power limit, Xid counts) are used where present; without them the total memory is
//! the sum of the frame buffer's used, free and reserved parts. The pages then read the result
//! exactly as they read an exporter's JSON.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use gpuboard_exporter_api::dcgm::{self, gpuboard, labels};
use gpuboard_exporter_api::{Attribution, Gpu, NodeGpus, PodRef};

use super::bounds;
use super::str_seed::StrAs;

/// The labels of one sample, however they are stored.
pub trait LabelSet {
    /// The value of the label `name`; an empty value is no value.
    fn label(&self, name: &str) -> Option<&str>;
}

impl<S: std::hash::BuildHasher> LabelSet for HashMap<String, String, S> {
    fn label(&self, name: &str) -> Option<&str> {
        self.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }
}

impl LabelSet for prometheus_parse::Labels {
    fn label(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.is_empty())
    }
}

/// The labels that name a sample's node when Prometheus is the source, in the order they are
/// tried: `node` (where a scrape config copies the pod's node into it), then dcgm-exporter's
/// `Hostname` (up to 4.8.2) and `hostname` (from 4.8.3), both set from `NODE_NAME`.
const NODE_LABELS: [&str; 3] = ["node", labels::HOSTNAME, labels::HOSTNAME_LOWER];

/// Every label the assembler reads of a Prometheus sample, beside `__name__`: what
/// [`SeriesLabels`] keeps of an answer (a label not listed here is dropped while the answer is
/// parsed; in debug builds, reading one panics, so a test finds it).
pub const LABELS_READ: [&str; 23] = [
    NODE_LABELS[0],
    labels::HOSTNAME,
    labels::HOSTNAME_LOWER,
    labels::GPU,
    labels::UUID,
    labels::PCI_BUS_ID,
    labels::DEVICE,
    labels::MODEL_NAME,
    labels::DRIVER_VERSION,
    labels::POD,
    labels::NAMESPACE,
    labels::CONTAINER,
    labels::EXPORTED_POD,
    labels::EXPORTED_NAMESPACE,
    labels::EXPORTED_CONTAINER,
    labels::MIG_INSTANCE,
    gpuboard::SERIAL,
    gpuboard::CUDA_VERSION,
    gpuboard::COMPUTE_CAPABILITY,
    gpuboard::MIG_MODE,
    gpuboard::ECC_MODE,
    gpuboard::XID,
    SERIES_NAME,
];

/// The label that holds a series' name.
pub const SERIES_NAME: &str = "__name__";

/// The labels of one sample of Prometheus's answer that the assembler reads ([`LABELS_READ`]),
/// stored compactly: an answer at 40,000 GPUs holds about a million samples, which as maps of
/// Strings took several hundred megabytes. A series' name that is one of the DCGM or gpuboard
/// series is not copied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeriesLabels {
    name: Option<Cow<'static, str>>,
    labels: Vec<(&'static str, Box<str>)>,
}

impl SeriesLabels {
    /// The series' name (`__name__`); empty when the answer has none.
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or_default()
    }
}

impl LabelSet for SeriesLabels {
    fn label(&self, name: &str) -> Option<&str> {
        debug_assert!(
            LABELS_READ.contains(&name),
            "the label {name:?} is read but not kept from Prometheus's answers: add it to LABELS_READ"
        );
        if name == SERIES_NAME {
            return self.name.as_deref().filter(|v| !v.is_empty());
        }
        self.labels
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| &**v)
            .filter(|v| !v.is_empty())
    }
}

/// A series' name as kept: the contract's own `&'static str` when it is a known series.
fn series_name(name: &str) -> Cow<'static, str> {
    dcgm::DCGM_FIELDS
        .iter()
        .map(|f| f.series)
        .chain(gpuboard::SERIES)
        .find(|known| *known == name)
        .map_or_else(|| Cow::Owned(name.to_string()), Cow::Borrowed)
}

impl<'de> serde::Deserialize<'de> for SeriesLabels {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(SeriesLabelsVisitor)
    }
}

struct SeriesLabelsVisitor;

impl<'de> serde::de::Visitor<'de> for SeriesLabelsVisitor {
    type Value = SeriesLabels;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a series' labels")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<SeriesLabels, A::Error> {
        let mut kept = SeriesLabels::default();
        let label_name = || StrAs {
            expecting: "a label's name",
            read: known_label,
        };
        while let Some(name) = map.next_key_seed(label_name())? {
            match name {
                Some(SERIES_NAME) => {
                    kept.name = Some(map.next_value_seed(StrAs {
                        expecting: "a series' name",
                        read: series_name,
                    })?);
                }
                // A label given twice is its last value, as a map of it would hold.
                Some(name) => {
                    let value: Box<str> = map.next_value()?;
                    match kept.labels.iter_mut().find(|(n, _)| *n == name) {
                        Some(entry) => entry.1 = value,
                        None => kept.labels.push((name, value)),
                    }
                }
                None => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        Ok(kept)
    }
}

/// A label's name as its entry in [`LABELS_READ`]; None for one the assembler does not read.
fn known_label(name: &str) -> Option<&'static str> {
    LABELS_READ.iter().copied().find(|known| *known == name)
}

/// The node a sample belongs to, by [`NODE_LABELS`].
pub fn node_label(sample: &impl LabelSet) -> Option<&str> {
    NODE_LABELS.iter().find_map(|name| sample.label(name))
}

/// One exporter's answer in the Prometheus text format, all of it on `node`: its GPUs, or None
/// when it has no GPU series. Parsed by the `prometheus-parse` crate, which skips lines it cannot
/// read (and splits label values at commas, which dcgm-exporter's GPU labels do not hold).
pub fn read_text(
    node: &str,
    text: &str,
    sampled_at_ms: i64,
) -> Option<Result<NodeGpus, NodeRefusal>> {
    let lines = text.lines().map(|line| Ok(line.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).ok()?;
    let mut assembler = Assembler::default();
    for sample in &scrape.samples {
        if let Some(value) = scalar(&sample.value) {
            assembler.add(node, &sample.metric, &sample.labels, value);
        }
    }
    assembler.finish(sampled_at_ms).remove(node)
}

/// A text sample's number; histograms and summaries have none (no GPU series is one).
fn scalar(value: &prometheus_parse::Value) -> Option<f64> {
    match value {
        prometheus_parse::Value::Gauge(v)
        | prometheus_parse::Value::Counter(v)
        | prometheus_parse::Value::Untyped(v) => Some(*v),
        _ => None,
    }
}

/// The series asked of Prometheus with every label: they name each GPU, its node and the pods
/// holding it (GPU_UTIL is in dcgm-exporter's default fields: a GPU without it is not seen), and
/// gpuboard-exporter's identity and Xid series carry labels of their own.
pub const LABELLED_SERIES: [&str; 3] = [
    dcgm::UTILIZATION_PERCENT.series,
    gpuboard::GPU_INFO,
    gpuboard::XID_ERRORS_TOTAL,
];

/// The other series the assembler reads: values whose labels are only their GPU's.
pub fn value_series() -> impl Iterator<Item = &'static str> {
    series_names().filter(|name| !LABELLED_SERIES.contains(name))
}

/// Every series name the assembler reads, for a query that asks for exactly these.
pub fn series_names() -> impl Iterator<Item = &'static str> {
    dcgm::DCGM_FIELDS
        .iter()
        .map(|f| f.series)
        .chain(gpuboard::SERIES)
}

/// One GPU as its samples describe it so far.
#[derive(Default)]
struct GpuParts {
    gpu: Gpu,
    pods: BTreeSet<PodRef>,
}

/// One node as its samples describe it so far.
#[derive(Default)]
struct NodeParts {
    driver_version: Option<String>,
    cuda_version: Option<String>,
    gpus: BTreeMap<String, GpuParts>,
    /// Why the node is refused: more GPUs than an answer may have.
    too_many_gpus: bool,
}

/// Why a node's samples were not kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeRefusal {
    /// Its samples break a bound an exporter's answer is held to; the text names it.
    OverBound(String),
}

/// Collects samples, then answers one [`NodeGpus`] per node.
#[derive(Default)]
pub struct Assembler {
    nodes: BTreeMap<String, NodeParts>,
    /// Samples dropped for want of a node or a GPU UUID.
    pub unplaced: usize,
}

impl Assembler {
    /// Adds one sample of `series` on `node`; samples of series it does not read are ignored, and
    /// a sample without a `UUID` is counted in `unplaced`.
    pub fn add(&mut self, node: &str, series: &str, sample: &impl LabelSet, value: f64) {
        let field = dcgm::by_series(series);
        if field.is_none() && !is_gpuboard_series(series) {
            return;
        }
        // A MIG instance's series would overwrite its parent GPU's with the instance's share.
        if sample.label(labels::MIG_INSTANCE).is_some() {
            return;
        }
        let Some(uuid) = sample.label(labels::UUID) else {
            self.unplaced += 1;
            return;
        };
        // The node is a map key before the bounds are checked: refuse a name no node can have.
        if node.is_empty() || node.len() > bounds::MAX_NAME_BYTES {
            self.unplaced += 1;
            return;
        }
        // Looked up before a key is made: this runs for every sample of every cycle.
        if !self.nodes.contains_key(node) {
            self.nodes.insert(node.to_string(), NodeParts::default());
        }
        let Some(parts) = self.nodes.get_mut(node) else {
            return;
        };
        if parts.too_many_gpus {
            return;
        }
        if !parts.gpus.contains_key(uuid) && parts.gpus.len() == bounds::MAX_GPUS {
            parts.too_many_gpus = true;
            parts.gpus.clear();
            return;
        }
        if let Some(driver) = sample.label(labels::DRIVER_VERSION) {
            parts
                .driver_version
                .get_or_insert_with(|| driver.to_string());
        }
        if !parts.gpus.contains_key(uuid) {
            let mut gpu = GpuParts::default();
            identify(&mut gpu.gpu, uuid, sample);
            parts.gpus.insert(uuid.to_string(), gpu);
        }
        let Some(gpu) = parts.gpus.get_mut(uuid) else {
            return;
        };
        if let Some(pod) = holder(sample)
            && gpu.pods.len() < bounds::MAX_PODS_PER_GPU
        {
            gpu.pods.insert(pod);
        }
        match field {
            Some(field) => field.set_from_series(&mut gpu.gpu.fields, value),
            None => read_gpuboard_series(&mut parts.cuda_version, gpu, series, sample, value),
        }
    }

    /// Every node with at least one GPU, or why its samples were refused, by node name.
    pub fn finish(self, sampled_at_ms: i64) -> BTreeMap<String, Result<NodeGpus, NodeRefusal>> {
        self.nodes
            .into_iter()
            .map(|(name, parts)| {
                let node = finish_node(&name, parts, sampled_at_ms);
                (name, node)
            })
            .collect()
    }
}

fn is_gpuboard_series(series: &str) -> bool {
    gpuboard::SERIES.contains(&series)
}

/// A GPU's identity from the labels every series of it carries.
fn identify(gpu: &mut Gpu, uuid: &str, sample: &impl LabelSet) {
    let id = &mut gpu.identity;
    id.uuid = uuid.to_string();
    id.index = sample
        .label(labels::GPU)
        .and_then(|i| i.parse().ok())
        .unwrap_or_default();
    id.name = sample
        .label(labels::MODEL_NAME)
        .unwrap_or_default()
        .to_string();
    id.pci_bus_id = sample
        .label(labels::PCI_BUS_ID)
        .unwrap_or_default()
        .to_string();
    // `device` is `nvidia<N>`: gpuboard-exporter writes the minor number there.
    id.minor_number = sample
        .label(labels::DEVICE)
        .and_then(|d| d.strip_prefix("nvidia"))
        .and_then(|n| n.parse().ok());
}

/// The container holding the GPU, when the sample names one. Prometheus renames the exporter's
/// `pod`, `namespace` and `container` to `exported_*` when its own target labels take those
/// names; the renamed ones are then the holder's. A scrape that keeps its target's own `pod` where
/// the exporter wrote none (an idle GPU under `honorLabels: false`) would name the exporter's pod
/// as the holder, so scrape with `honorLabels: true`, as `deploy/`'s PodMonitor does.
fn holder(sample: &impl LabelSet) -> Option<PodRef> {
    let exported = sample.label(labels::EXPORTED_POD).is_some();
    let [pod, namespace, container] = if exported {
        [
            labels::EXPORTED_POD,
            labels::EXPORTED_NAMESPACE,
            labels::EXPORTED_CONTAINER,
        ]
    } else {
        [labels::POD, labels::NAMESPACE, labels::CONTAINER]
    };
    Some(PodRef {
        namespace: sample.label(namespace)?.to_string(),
        pod: sample.label(pod)?.to_string(),
        container: sample.label(container).unwrap_or_default().to_string(),
    })
}

/// gpuboard-exporter's own series: identity, total memory, power limit, Xid counts.
fn read_gpuboard_series(
    cuda_version: &mut Option<String>,
    parts: &mut GpuParts,
    series: &str,
    sample: &impl LabelSet,
    value: f64,
) {
    let id = &mut parts.gpu.identity;
    match series {
        gpuboard::GPU_INFO => {
            id.serial = sample.label(gpuboard::SERIAL).map(str::to_string);
            id.compute_capability = sample
                .label(gpuboard::COMPUTE_CAPABILITY)
                .map(str::to_string);
            id.mig_enabled = sample.label(gpuboard::MIG_MODE).and_then(gpuboard::flag);
            id.ecc_enabled = sample.label(gpuboard::ECC_MODE).and_then(gpuboard::flag);
            if let Some(cuda) = sample.label(gpuboard::CUDA_VERSION) {
                cuda_version.get_or_insert_with(|| cuda.to_string());
            }
        }
        gpuboard::MEMORY_TOTAL_BYTES if value.is_finite() && value >= 0.0 => {
            id.memory_total_bytes = value as u64;
        }
        gpuboard::POWER_LIMIT_WATTS if value.is_finite() => id.power_limit_watts = Some(value),
        gpuboard::XID_ERRORS_TOTAL if value.is_finite() && value >= 0.0 => {
            let errors = &mut parts.gpu.xid_errors;
            if let Some(xid) = sample.label(gpuboard::XID).and_then(|x| x.parse().ok())
                && (errors.len() < bounds::MAX_ENTRIES_PER_GPU || errors.contains_key(&xid))
            {
                errors.insert(xid, value as u64);
            }
        }
        _ => {}
    }
}

fn finish_node(name: &str, parts: NodeParts, sampled_at_ms: i64) -> Result<NodeGpus, NodeRefusal> {
    if parts.too_many_gpus {
        return Err(NodeRefusal::OverBound(format!(
            "gpus: more than {}",
            bounds::MAX_GPUS
        )));
    }
    let mut attributed = false;
    let mut gpus: Vec<Gpu> = parts
        .gpus
        .into_values()
        .map(|mut parts| {
            let fields = &parts.gpu.fields;
            if parts.gpu.identity.memory_total_bytes == 0 {
                parts.gpu.identity.memory_total_bytes = [
                    fields.memory_used_bytes,
                    fields.memory_free_bytes,
                    fields.memory_reserved_bytes,
                ]
                .into_iter()
                .flatten()
                .fold(0, u64::saturating_add);
            }
            attributed |= !parts.pods.is_empty();
            parts.gpu.pods = parts.pods.into_iter().collect();
            parts.gpu
        })
        .collect();
    gpus.sort_by(|a, b| {
        (a.identity.index, &a.identity.uuid).cmp(&(b.identity.index, &b.identity.uuid))
    });
    let node = NodeGpus {
        node: name.to_string(),
        driver_version: parts.driver_version,
        cuda_version: parts.cuda_version,
        nvml_version: None,
        sampled_at_ms,
        unavailable: None,
        // Pods are named only where the exporter could ask the kubelet; a node whose GPUs no pod
        // holds looks the same as one whose exporter cannot ask.
        attribution: if attributed {
            Attribution::Ok
        } else {
            Attribution::Unavailable
        },
        gpus,
    };
    bounds::check(&node).map_err(NodeRefusal::OverBound)?;
    Ok(node)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_labelled_series_are_read_ones_and_the_values_the_rest() {
        // The labelled series are ones the assembler reads (not a misspelt name), and the values
        // query asks for all the others.
        let all: Vec<&str> = series_names().collect();
        assert!(LABELLED_SERIES.iter().all(|s| all.contains(s)));
        assert_eq!(value_series().count(), all.len() - LABELLED_SERIES.len());
    }

    /// A dcgm-exporter 4.8.2 scrape with `-k`, as its README and issues show it: one idle GPU and
    /// one held by a pod, with the driver as a label and no gpuboard series.
    const DCGM_EXPORTER_TEXT: &str = r#"# HELP DCGM_FI_DEV_GPU_UTIL GPU utilization (in %).
# TYPE DCGM_FI_DEV_GPU_UTIL gauge
DCGM_FI_DEV_GPU_UTIL{gpu="0",UUID="GPU-aaaa",pci_bus_id="00000000:00:05.0",device="nvidia0",modelName="NVIDIA H100 80GB HBM3",Hostname="node-7",DCGM_FI_DRIVER_VERSION="580.65.06"} 0
DCGM_FI_DEV_GPU_UTIL{gpu="1",UUID="GPU-bbbb",pci_bus_id="00000000:00:06.0",device="nvidia1",modelName="NVIDIA H100 80GB HBM3",Hostname="node-7",DCGM_FI_DRIVER_VERSION="580.65.06",container="trainer",namespace="team-a",pod="bert-0"} 97
# HELP DCGM_FI_DEV_FB_USED Framebuffer memory used (in MiB).
# TYPE DCGM_FI_DEV_FB_USED gauge
DCGM_FI_DEV_FB_USED{gpu="0",UUID="GPU-aaaa",pci_bus_id="00000000:00:05.0",device="nvidia0",modelName="NVIDIA H100 80GB HBM3",Hostname="node-7",DCGM_FI_DRIVER_VERSION="580.65.06"} 0
DCGM_FI_DEV_FB_USED{gpu="1",UUID="GPU-bbbb",pci_bus_id="00000000:00:06.0",device="nvidia1",modelName="NVIDIA H100 80GB HBM3",Hostname="node-7",DCGM_FI_DRIVER_VERSION="580.65.06",container="trainer",namespace="team-a",pod="bert-0"} 61440
# HELP DCGM_FI_DEV_FB_FREE Framebuffer memory free (in MiB).
# TYPE DCGM_FI_DEV_FB_FREE gauge
DCGM_FI_DEV_FB_FREE{gpu="0",UUID="GPU-aaaa",pci_bus_id="00000000:00:05.0",device="nvidia0",modelName="NVIDIA H100 80GB HBM3",Hostname="node-7",DCGM_FI_DRIVER_VERSION="580.65.06"} 81000
DCGM_FI_DEV_FB_FREE{gpu="1",UUID="GPU-bbbb",pci_bus_id="00000000:00:06.0",device="nvidia1",modelName="NVIDIA H100 80GB HBM3",Hostname="node-7",DCGM_FI_DRIVER_VERSION="580.65.06",container="trainer",namespace="team-a",pod="bert-0"} 19560
# HELP DCGM_FI_DEV_FB_RESERVED Framebuffer memory reserved (in MiB).
# TYPE DCGM_FI_DEV_FB_RESERVED gauge
DCGM_FI_DEV_FB_RESERVED{gpu="0",UUID="GPU-aaaa",pci_bus_id="00000000:00:05.0",device="nvidia0",modelName="NVIDIA H100 80GB HBM3",Hostname="node-7",DCGM_FI_DRIVER_VERSION="580.65.06"} 0
DCGM_FI_DEV_FB_RESERVED{gpu="1",UUID="GPU-bbbb",pci_bus_id="00000000:00:06.0",device="nvidia1",modelName="NVIDIA H100 80GB HBM3",Hostname="node-7",DCGM_FI_DRIVER_VERSION="580.65.06",container="trainer",namespace="team-a",pod="bert-0"} 0
# HELP DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL Total number of NVLink bandwidth counters for all lanes.
# TYPE DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL counter
DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL{gpu="0",UUID="GPU-aaaa",pci_bus_id="00000000:00:05.0",device="nvidia0",modelName="NVIDIA H100 80GB HBM3",Hostname="node-7",DCGM_FI_DRIVER_VERSION="580.65.06"} 12
DCGM_FI_DEV_GPU_TEMP{gpu="9",pci_bus_id="00000000:00:07.0",Hostname="node-7"} 40
"#;

    fn assemble(
        text: &str,
        node: Option<&str>,
    ) -> (BTreeMap<String, Result<NodeGpus, NodeRefusal>>, usize) {
        let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string())))
            .expect("parses");
        let mut assembler = Assembler::default();
        for sample in &scrape.samples {
            let Some(value) = scalar(&sample.value) else {
                continue;
            };
            let node = node.or(node_label(&sample.labels)).unwrap_or_default();
            assembler.add(node, &sample.metric, &sample.labels, value);
        }
        let unplaced = assembler.unplaced;
        (assembler.finish(1_700_000_000_000), unplaced)
    }

    #[test]
    fn a_dcgm_exporter_scrape_becomes_the_nodes_gpus_with_their_holders() {
        let (nodes, unplaced) = assemble(DCGM_EXPORTER_TEXT, None);
        // The temperature sample without a UUID names no GPU.
        assert_eq!(unplaced, 1);
        let node = nodes["node-7"].as_ref().expect("kept");
        assert_eq!(node.driver_version.as_deref(), Some("580.65.06"));
        assert_eq!(node.attribution, Attribution::Ok);
        let [idle, busy] = &node.gpus[..] else {
            panic!("two GPUs: {:?}", node.gpus)
        };
        assert_eq!(
            (
                idle.identity.uuid.as_str(),
                idle.identity.index,
                idle.identity.minor_number
            ),
            ("GPU-aaaa", 0, Some(0))
        );
        assert_eq!(idle.identity.name, "NVIDIA H100 80GB HBM3");
        assert!(idle.pods.is_empty());
        assert_eq!(busy.fields.utilization_percent, Some(97.0));
        assert_eq!(busy.fields.memory_used_bytes, Some(61_440 * 1024 * 1024));
        // No gpuboard series: the total is the frame buffer's parts.
        assert_eq!(busy.identity.memory_total_bytes, 81_000 * 1024 * 1024);
        assert_eq!(
            busy.pods,
            [PodRef {
                namespace: "team-a".into(),
                pod: "bert-0".into(),
                container: "trainer".into()
            }]
        );
    }

    #[test]
    fn the_callers_node_wins_and_prometheus_renamed_holders_are_read() {
        let renamed = DCGM_EXPORTER_TEXT
            .replace("container=", "exported_container=")
            .replace("namespace=", "exported_namespace=")
            .replace("pod=", "exported_pod=");
        let (nodes, _) = assemble(&renamed, Some("node-8"));
        let node = nodes["node-8"].as_ref().expect("kept");
        assert!(!nodes.contains_key("node-7"));
        assert_eq!(node.gpus[1].pods[0].pod, "bert-0");
        assert!(node.gpus[0].pods.is_empty());
    }

    #[test]
    fn an_exporters_own_text_is_all_on_its_node() {
        let node = read_text("node-9", DCGM_EXPORTER_TEXT, 1)
            .expect("GPU series")
            .expect("kept");
        assert_eq!((node.node.as_str(), node.gpus.len()), ("node-9", 2));
        assert!(read_text("node-9", "# nothing here\nup 1\n", 1).is_none());
    }

    #[test]
    fn gpuboard_series_fill_in_identity_and_xids() {
        let text = r#"gpuboard_gpu_info{gpu="0",UUID="GPU-aaaa",Hostname="n",serial="123",cuda_version="13.0",compute_capability="9.0",mig_mode="disabled",ecc_mode="enabled"} 1
gpuboard_gpu_memory_total_bytes{gpu="0",UUID="GPU-aaaa",Hostname="n"} 85899345920
gpuboard_gpu_power_limit_watts{gpu="0",UUID="GPU-aaaa",Hostname="n"} 700
gpuboard_gpu_xid_errors_total{gpu="0",UUID="GPU-aaaa",Hostname="n",xid="79"} 2
DCGM_FI_DEV_FB_FREE{gpu="0",UUID="GPU-aaaa",Hostname="n"} 10
"#;
        let (nodes, _) = assemble(text, None);
        let node = nodes["n"].as_ref().expect("kept");
        let id = &node.gpus[0].identity;
        assert_eq!(node.cuda_version.as_deref(), Some("13.0"));
        assert_eq!(
            (
                id.serial.as_deref(),
                id.compute_capability.as_deref(),
                id.mig_enabled,
                id.ecc_enabled
            ),
            (Some("123"), Some("9.0"), Some(false), Some(true))
        );
        assert_eq!(id.memory_total_bytes, 85_899_345_920);
        assert_eq!(id.power_limit_watts, Some(700.0));
        assert_eq!(node.gpus[0].xid_errors.get(&79), Some(&2));
        // No holder on any GPU: attribution cannot be told from "no holder".
        assert_eq!(node.attribution, Attribution::Unavailable);
    }

    #[test]
    fn a_node_with_more_gpus_than_an_answer_may_have_is_refused_whole() {
        let text: String = (0..=bounds::MAX_GPUS)
            .map(|i| {
                format!("DCGM_FI_DEV_GPU_UTIL{{gpu=\"{i}\",UUID=\"GPU-{i}\",Hostname=\"big\"}} 1\n")
            })
            .collect();
        let (nodes, _) = assemble(&text, None);
        assert!(matches!(&nodes["big"], Err(NodeRefusal::OverBound(why)) if why.contains("gpus")));
        let long_uuid = format!(
            "DCGM_FI_DEV_GPU_UTIL{{UUID=\"{}\",Hostname=\"n\"}} 1\n",
            "u".repeat(300)
        );
        let (nodes, _) = assemble(&long_uuid, None);
        assert!(matches!(&nodes["n"], Err(NodeRefusal::OverBound(why)) if why.contains("uuid")));
        // Frame buffer parts that no GPU has sum to a saturated total, not an overflow.
        let huge = "DCGM_FI_DEV_FB_USED{UUID=\"GPU-h\",Hostname=\"n\"} 1e300\n\
                    DCGM_FI_DEV_FB_FREE{UUID=\"GPU-h\",Hostname=\"n\"} 1e300\n";
        let (nodes, _) = assemble(huge, None);
        let node = nodes["n"].as_ref().expect("kept");
        assert_eq!(node.gpus[0].identity.memory_total_bytes, u64::MAX);
        // A node label no node can have, and a MIG instance's series, are not taken.
        let odd = format!(
            "DCGM_FI_DEV_GPU_UTIL{{UUID=\"GPU-1\",Hostname=\"{}\"}} 1\n\
             DCGM_FI_DEV_GPU_UTIL{{UUID=\"GPU-2\",Hostname=\"m\",GPU_I_ID=\"3\"}} 1\n",
            "n".repeat(300)
        );
        let (nodes, unplaced) = assemble(&odd, None);
        assert!(nodes.is_empty(), "{:?}", nodes.keys());
        assert_eq!(unplaced, 1);
    }

    #[test]
    fn a_prometheus_samples_labels_keep_only_what_is_read() {
        let labels: SeriesLabels = serde_json::from_str(
            r#"{"__name__":"DCGM_FI_DEV_GPU_UTIL","UUID":"GPU-1","Hostname":"node-7",
                "instance":"10.0.0.7:9400","job":"dcgm","pod":"","gpu":"0"}"#,
        )
        .expect("labels");
        assert_eq!(labels.name(), "DCGM_FI_DEV_GPU_UTIL");
        assert!(
            matches!(labels.name, Some(Cow::Borrowed(_))),
            "a known series is not copied"
        );
        assert_eq!(labels.label(labels::UUID), Some("GPU-1"));
        assert_eq!(node_label(&labels), Some("node-7"));
        assert_eq!(
            labels.label(labels::POD),
            None,
            "an empty value is no value"
        );
        let kept: Vec<&str> = labels.labels.iter().map(|(name, _)| *name).collect();
        assert_eq!(
            kept,
            [labels::UUID, labels::HOSTNAME, labels::POD, labels::GPU]
        );
        let other: SeriesLabels =
            serde_json::from_str(r#"{"__name__":"up","job":"x"}"#).expect("labels");
        assert_eq!((other.name(), other.labels.len()), ("up", 0));
        let nameless: SeriesLabels = serde_json::from_str("{}").expect("labels");
        assert_eq!(nameless.name(), "");
        assert!(serde_json::from_str::<SeriesLabels>(r#"{"UUID":3}"#).is_err());
        let twice: SeriesLabels =
            serde_json::from_str(r#"{"UUID":"GPU-1","UUID":"GPU-2"}"#).expect("labels");
        assert_eq!(
            (twice.label(labels::UUID), twice.labels.len()),
            (Some("GPU-2"), 1)
        );
    }

    #[cfg(debug_assertions)]
    #[test]
    #[should_panic(expected = "add it to LABELS_READ")]
    fn reading_a_label_not_kept_from_prometheus_is_caught_in_tests() {
        SeriesLabels::default().label("instance");
    }
}
