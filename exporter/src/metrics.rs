//! The `/metrics` encoder: dcgm-exporter's metric names, units and labels (so Grafana boards built
//! for it work unchanged), plus what it lacks: Xid counters per (GPU, Xid), a `gpuboard_gpu_info`
//! series with static identity, and the exporter's own health. Prometheus text 0.0.4 or OpenMetrics 1.0.
//!
//! In OpenMetrics a counter's samples must end in `_total`; dcgm's counters do not, so there they are
//! typed `unknown` to keep their names. gpuboard's own counters end in `_total` and are true counters.

use std::fmt::Write;

use gpuboard_exporter_api::{Attribution, Gpu, NodeGpus, PodRef};

use crate::snapshot::{Health, Snapshot};
use gpuboard_exporter_api::dcgm::{DCGM_FIELDS, Kind, gpuboard, labels};

/// The content types of the two exposition formats.
pub const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
/// The exposition formats `/metrics` serves.
pub enum Format {
    Prometheus,
    OpenMetrics,
}

/// Escapes a label value as the exposition formats require.
/// Writes what is written to it into a label value, escaped as the exposition formats require.
struct Escaped<'a>(&'a mut String);

impl std::fmt::Write for Escaped<'_> {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        for c in text.chars() {
            match c {
                '\\' => self.0.push_str("\\\\"),
                '"' => self.0.push_str("\\\""),
                '\n' => self.0.push_str("\\n"),
                c => self.0.push(c),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
fn escape(value: &str) -> String {
    let mut out = String::new();
    let _ = Escaped(&mut out).write_str(value);
    out
}

/// Writes a sample value as the exposition formats spell it.
fn write_number(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        let _ = write!(out, "{v}");
    }
}

struct Writer {
    out: String,
    format: Format,
    /// The `# HELP` and `# TYPE` lines of the family begun last, written with its first sample:
    /// a family without samples is left out (a labelled counter nothing has counted yet).
    header: Option<String>,
}

impl Writer {
    fn new(format: Format, capacity: usize) -> Self {
        Writer {
            out: String::with_capacity(capacity),
            format,
            header: None,
        }
    }

    /// Begins a family; returns the sample name to use.
    fn family(&mut self, name: &str, kind: Kind, help: &str) -> String {
        let (declared, sample, ty) = match (self.format, kind) {
            (_, Kind::Gauge) => (name.to_string(), name.to_string(), "gauge"),
            (Format::Prometheus, Kind::DcgmCounter) => {
                (name.to_string(), name.to_string(), "counter")
            }
            (Format::OpenMetrics, Kind::DcgmCounter) => {
                (name.to_string(), name.to_string(), "unknown")
            }
            (Format::Prometheus, Kind::Counter) => (name.to_string(), name.to_string(), "counter"),
            (Format::OpenMetrics, Kind::Counter) => (
                name.trim_end_matches("_total").to_string(),
                name.to_string(),
                "counter",
            ),
        };
        self.header = Some(format!(
            "# HELP {declared} {help}\n# TYPE {declared} {ty}\n"
        ));
        sample
    }

    fn sample(&mut self, name: &str, labels: &str, value: f64) {
        if let Some(header) = self.header.take() {
            self.out.push_str(&header);
        }
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            self.out.push_str(labels);
            self.out.push('}');
        }
        self.out.push(' ');
        write_number(&mut self.out, value);
        self.out.push('\n');
    }
}

/// A label set as the exposition writes it (`a="1",b="x"`), values escaped as they are added.
#[derive(Debug, Clone, Default)]
struct Labels(String);

impl Labels {
    fn with(mut self, name: &str, value: impl std::fmt::Display) -> Self {
        if !self.0.is_empty() {
            self.0.push(',');
        }
        self.0.push_str(name);
        self.0.push_str("=\"");
        let _ = write!(Escaped(&mut self.0), "{value}");
        self.0.push('"');
        self
    }

    fn as_str(&self) -> &str {
        &self.0
    }
}

/// dcgm-exporter's labels of one GPU: `gpu`, `UUID`, `pci_bus_id`, `device`, `modelName`,
/// `Hostname`, `DCGM_FI_DRIVER_VERSION`.
fn gpu_labels(node: &NodeGpus, gpu: &Gpu) -> Labels {
    let id = &gpu.identity;
    Labels::default()
        .with(labels::GPU, id.index)
        .with(labels::UUID, &id.uuid)
        .with(labels::PCI_BUS_ID, &id.pci_bus_id)
        .with(
            labels::DEVICE,
            format_args!("nvidia{}", id.minor_number.unwrap_or(id.index)),
        )
        .with(labels::MODEL_NAME, &id.name)
        .with(labels::HOSTNAME, &node.node)
        .with(
            labels::DRIVER_VERSION,
            node.driver_version.as_deref().unwrap_or(""),
        )
}

/// A GPU's labels with the holding container's (empty when no pod holds it, as dcgm-exporter
/// writes them: every series of a family then has the same label names).
fn with_pod(labels: &Labels, pod: Option<&PodRef>) -> Labels {
    let (container, namespace, name) =
        pod.map_or(("", "", ""), |p| (&*p.container, &*p.namespace, &*p.pod));
    labels
        .clone()
        .with(labels::CONTAINER, container)
        .with(labels::NAMESPACE, namespace)
        .with(labels::POD, name)
}

/// Renders a snapshot: its GPUs and the exporter's health. A family no GPU has a value for is
/// left out.
pub fn render(snapshot: &Snapshot, format: Format) -> String {
    let node = &snapshot.gpus;
    let mut w = Writer::new(format, 1024 + node.gpus.len() * 6 * 1024);
    let labels: Vec<Labels> = node.gpus.iter().map(|g| gpu_labels(node, g)).collect();
    // A GPU held by several pods (time-slicing, MPS) gets one series per pod.
    let series: Vec<Vec<Labels>> = node
        .gpus
        .iter()
        .zip(&labels)
        .map(|(g, base)| {
            if g.pods.is_empty() {
                vec![with_pod(base, None)]
            } else {
                g.pods.iter().map(|p| with_pod(base, Some(p))).collect()
            }
        })
        .collect();

    for field in DCGM_FIELDS {
        if node
            .gpus
            .iter()
            .all(|g| field.series_value(&g.fields).is_none())
        {
            continue;
        }
        let name = w.family(field.series, field.kind, field.help);
        for (gpu, label_sets) in node.gpus.iter().zip(&series) {
            if let Some(v) = field.series_value(&gpu.fields) {
                for labels in label_sets {
                    w.sample(&name, labels.as_str(), v);
                }
            }
        }
    }
    render_identity(&mut w, node, &labels);
    render_health(&mut w, node, &snapshot.health);
    if format == Format::OpenMetrics {
        w.out.push_str("# EOF\n");
    }
    w.out
}

fn render_identity(w: &mut Writer, node: &NodeGpus, labels: &[Labels]) {
    let name = w.family(
        gpuboard::GPU_INFO,
        Kind::Gauge,
        "Static identity of a GPU; the value is always 1.",
    );
    for (gpu, base) in node.gpus.iter().zip(labels) {
        let id = &gpu.identity;
        let info = base
            .clone()
            .with(gpuboard::SERIAL, id.serial.as_deref().unwrap_or(""))
            .with(
                gpuboard::CUDA_VERSION,
                node.cuda_version.as_deref().unwrap_or(""),
            )
            .with(
                gpuboard::COMPUTE_CAPABILITY,
                id.compute_capability.as_deref().unwrap_or(""),
            )
            .with(gpuboard::MIG_MODE, gpuboard::mode(id.mig_enabled))
            .with(gpuboard::ECC_MODE, gpuboard::mode(id.ecc_enabled));
        w.sample(&name, info.as_str(), 1.0);
    }
    let name = w.family(
        gpuboard::MEMORY_TOTAL_BYTES,
        Kind::Gauge,
        "Total frame buffer memory of a GPU, in bytes.",
    );
    for (gpu, base) in node.gpus.iter().zip(labels) {
        w.sample(&name, base.as_str(), gpu.identity.memory_total_bytes as f64);
    }
    let name = w.family(
        gpuboard::POWER_LIMIT_WATTS,
        Kind::Gauge,
        "Enforced power limit of a GPU, in watts.",
    );
    for (gpu, base) in node.gpus.iter().zip(labels) {
        if let Some(limit) = gpu.identity.power_limit_watts {
            w.sample(&name, base.as_str(), limit);
        }
    }
    let name = w.family(
        gpuboard::XID_ERRORS_TOTAL,
        Kind::Counter,
        "Xid errors reported by the driver since the exporter started, per GPU and Xid code.",
    );
    for (gpu, base) in node.gpus.iter().zip(labels) {
        for (xid, count) in &gpu.xid_errors {
            w.sample(
                &name,
                base.clone().with(gpuboard::XID, xid).as_str(),
                *count as f64,
            );
        }
    }
}

fn render_health(w: &mut Writer, node: &NodeGpus, health: &Health) {
    let name = w.family(
        "gpuboard_exporter_gpu_data_available",
        Kind::Gauge,
        "1 when NVML answers and sees GPUs; 0 with the reason (no driver, no library, no GPU visible) otherwise.",
    );
    match &node.unavailable {
        None => w.sample(&name, "", 1.0),
        Some(why) => {
            let reason: String = why.chars().take(300).collect();
            w.sample(
                &name,
                Labels::default().with("reason", reason).as_str(),
                0.0,
            )
        }
    }
    let gauges = [
        (
            "gpuboard_exporter_gpus",
            "GPUs this exporter reports.",
            node.gpus.len() as f64,
        ),
        (
            "gpuboard_exporter_last_collect_success",
            "1 when the last collection read every GPU.",
            if health.last_success { 1.0 } else { 0.0 },
        ),
        (
            "gpuboard_exporter_last_collect_timestamp_seconds",
            "When the last collection ran, Unix seconds.",
            health.last_timestamp_ms as f64 / 1000.0,
        ),
        (
            "gpuboard_exporter_last_collect_duration_seconds",
            "How long the last fast collection took.",
            health.last_duration.as_secs_f64(),
        ),
    ];
    for (metric, help, value) in gauges {
        let name = w.family(metric, Kind::Gauge, help);
        w.sample(&name, "", value);
    }
    let name = w.family(
        "gpuboard_exporter_nvml_reinits_total",
        Kind::Counter,
        "NVML re-initialisations after a lost GPU or driver.",
    );
    w.sample(&name, "", health.reinits_total as f64);
    let name = w.family(
        "gpuboard_exporter_field_errors_total",
        Kind::Counter,
        "Failed reads of a field on a GPU (fields a GPU does not support are left out, not counted).",
    );
    for ((gpu, uuid, field), count) in &health.field_errors_total {
        let labels = Labels::default()
            .with("gpu", gpu)
            .with("UUID", uuid)
            .with("field", field);
        w.sample(&name, labels.as_str(), *count as f64);
    }
    let name = w.family(
        "gpuboard_exporter_attribution_up",
        Kind::Gauge,
        "1 when GPUs are attributed to pods through the kubelet pod-resources socket; state says why not.",
    );
    let (up, state) = match &node.attribution {
        Attribution::Ok => (1.0, "ok"),
        Attribution::Unavailable => (0.0, "no_socket"),
        Attribution::Failed(_) => (0.0, "failed"),
        Attribution::Off => (0.0, "off"),
    };
    w.sample(&name, Labels::default().with("state", state).as_str(), up);
    let name = w.family(
        "gpuboard_exporter_attribution_last_refresh_timestamp_seconds",
        Kind::Gauge,
        "When the attribution last changed, Unix seconds (0: never).",
    );
    w.sample(&name, "", health.attribution_refreshed_ms as f64 / 1000.0);
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use gpuboard_exporter_api::{GpuFields, GpuIdentity};

    use super::*;

    fn gpu(index: u32, util: f64, pods: Vec<PodRef>) -> Gpu {
        Gpu {
            identity: GpuIdentity {
                index,
                minor_number: Some(index),
                uuid: format!("GPU-0000000{index}-aaaa-bbbb-cccc-dddddddddddd"),
                name: "NVIDIA H100 80GB HBM3".into(),
                pci_bus_id: format!("00000000:{:02X}:00.0", 0x17 + index),
                memory_total_bytes: 80 * 1024 * 1024 * 1024,
                power_limit_watts: Some(700.0),
                ..Default::default()
            },
            fields: GpuFields {
                utilization_percent: Some(util),
                memory_used_bytes: Some(3 * 1024 * 1024 * 1024 + 5),
                power_watts: Some(123.45),
                total_energy_millijoules: Some(987_654_321),
                // Index 1 has no memory temperature: it must be left out for that GPU only.
                memory_temperature_celsius: (index == 0).then_some(41.0),
                ..Default::default()
            },
            xid_errors: if index == 1 {
                BTreeMap::from([(79, 2)])
            } else {
                BTreeMap::new()
            },
            pods,
            ..Default::default()
        }
    }

    fn node() -> NodeGpus {
        let pod = |name: &str| PodRef {
            namespace: "team-a".into(),
            pod: name.into(),
            container: "main".into(),
        };
        NodeGpus {
            node: "node-110".into(),
            driver_version: Some("580.159.04".into()),
            attribution: Attribution::Ok,
            gpus: vec![
                gpu(0, 97.0, vec![pod("train-a"), pod("train-b")]),
                gpu(1, 0.0, vec![]),
            ],
            ..Default::default()
        }
    }

    fn snapshot(gpus: NodeGpus) -> Snapshot {
        Snapshot::new(gpus, Health::default(), Ok(()))
    }

    fn samples(text: &str) -> Vec<prometheus_parse::Sample> {
        let lines = text.lines().map(|l| Ok(l.to_string()));
        prometheus_parse::Scrape::parse(lines)
            .expect("exposition parses")
            .samples
    }

    fn value(s: &prometheus_parse::Sample) -> f64 {
        match s.value {
            prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => f64::NAN,
        }
    }

    /// What promtool's linter says of dcgm-exporter's own conventions, kept on purpose so that
    /// its dashboards and alerts work unchanged: its camelCase labels (`modelName`, `Hostname`,
    /// `UUID`), and its counters' names, without `_total`.
    fn is_dcgm_convention(problem: &str) -> bool {
        let Some((metric, what)) = problem.split_once(' ') else {
            return false;
        };
        what == "label names should be written in 'snake_case' not 'camelCase'"
            || (metric.starts_with("DCGM_FI_")
                && (what == "counter metrics should have \"_total\" suffix"
                    || what == "metric name should not include type 'counter'"))
    }

    #[test]
    fn promtool_reads_the_text_and_finds_nothing_but_dcgm_exporters_conventions() {
        use std::io::Write as _;
        use std::process::{Command, Stdio};
        let text = render(&snapshot(node()), Format::Prometheus);
        let mut promtool = Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect(
                "promtool runs (Debian's prometheus package: scripts/setup.sh test installs it)",
            );
        promtool
            .stdin
            .take()
            .expect("its stdin")
            .write_all(text.as_bytes())
            .expect("written");
        let out = promtool.wait_with_output().expect("it ends");
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // 0: nothing to say; 3: lint problems only; anything else: the text did not parse.
        assert!(
            matches!(out.status.code(), Some(0 | 3)),
            "promtool: {:?}\n{said}",
            out.status
        );
        let others: Vec<&str> = said
            .lines()
            .filter(|l| !l.trim().is_empty() && !is_dcgm_convention(l))
            .collect();
        assert!(others.is_empty(), "promtool found: {others:#?}");
        assert!(
            said.contains("DCGM_FI_DEV_GPU_UTIL"),
            "promtool read the samples: {said}"
        );
    }

    /// Every query of the example Grafana dashboard in `deploy/prometheus/`: PromQL promtool
    /// parses, over series this exporter writes.
    #[test]
    fn the_example_grafana_dashboard_asks_promql_over_series_the_exporter_writes() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../deploy/prometheus/grafana-dashboard.json"
        );
        let dashboard: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).expect("readable")).expect("JSON");
        let mut queries: Vec<String> = dashboard["panels"]
            .as_array()
            .expect("panels")
            .iter()
            .flat_map(|panel| panel["targets"].as_array().cloned().unwrap_or_default())
            .map(|target| target["expr"].as_str().expect("an expr").to_string())
            .collect();
        // `label_values(SERIES, LABEL)` asks for SERIES too.
        for variable in dashboard["templating"]["list"]
            .as_array()
            .expect("variables")
        {
            if let Some(definition) = variable["definition"].as_str() {
                let inner = definition
                    .strip_prefix("label_values(")
                    .and_then(|d| d.split(',').next())
                    .expect("label_values(series, label)");
                queries.push(inner.to_string());
            }
        }
        assert!(queries.len() >= 10, "{queries:?}");
        // A GPU with every field, so that every family is written.
        let mut full = node();
        for field in DCGM_FIELDS {
            (field.set)(&mut full.gpus[0].fields, Some(1.0));
        }
        let written: std::collections::HashSet<String> =
            samples(&render(&snapshot(full), Format::Prometheus))
                .into_iter()
                .map(|s| s.metric)
                .collect();
        for query in &queries {
            let mut rest = query.as_str();
            while let Some(brace) = rest.find('{') {
                let before = &rest[..brace];
                let series = before
                    .rsplit(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                    .next()
                    .unwrap_or_default();
                assert!(
                    written.contains(series),
                    "{series:?} in {query:?} is not a series the exporter writes"
                );
                rest = &rest[brace + 1..];
            }
        }
        // Grafana's variables, as Grafana would fill them in.
        let rules: String = queries
            .iter()
            .enumerate()
            .map(|(i, q)| {
                let q = q.replace("$node", ".*").replace("$__range", "1h");
                let quoted = serde_json::to_string(&q).expect("a string");
                format!("      - record: dashboard:query_{i}\n        expr: {quoted}\n")
            })
            .collect();
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("rules.yml");
        std::fs::write(
            &file,
            format!("groups:\n  - name: dashboard\n    rules:\n{rules}"),
        )
        .expect("written");
        let out = std::process::Command::new("promtool")
            .args(["check", "rules"])
            .arg(&file)
            .output()
            .expect("promtool runs (scripts/setup.sh test installs it)");
        assert!(
            out.status.success(),
            "promtool: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[test]
    fn prometheus_text_parses_back_with_dcgm_names_labels_and_units() {
        let text = render(&snapshot(node()), Format::Prometheus);
        let all = samples(&text);
        let util: Vec<_> = all
            .iter()
            .filter(|s| s.metric == "DCGM_FI_DEV_GPU_UTIL")
            .collect();
        // The shared GPU has one series per pod, the idle one a single series.
        assert_eq!(util.len(), 3);
        let shared: Vec<_> = util
            .iter()
            .filter(|s| s.labels.get("gpu") == Some("0"))
            .collect();
        assert_eq!(shared.len(), 2);
        assert!(
            shared
                .iter()
                .all(|s| value(s) == 97.0 && s.labels.get("namespace") == Some("team-a"))
        );
        let pods: Vec<_> = shared.iter().filter_map(|s| s.labels.get("pod")).collect();
        assert_eq!(pods, ["train-a", "train-b"]);
        let first = shared[0];
        assert_eq!(
            first.labels.get("UUID"),
            Some("GPU-00000000-aaaa-bbbb-cccc-dddddddddddd")
        );
        assert_eq!(first.labels.get("device"), Some("nvidia0"));
        assert_eq!(first.labels.get("modelName"), Some("NVIDIA H100 80GB HBM3"));
        assert_eq!(first.labels.get("pci_bus_id"), Some("00000000:17:00.0"));
        assert_eq!(first.labels.get("Hostname"), Some("node-110"));
        assert_eq!(
            first.labels.get("DCGM_FI_DRIVER_VERSION"),
            Some("580.159.04")
        );
        let fb: Vec<_> = all
            .iter()
            .filter(|s| s.metric == "DCGM_FI_DEV_FB_USED")
            .map(value)
            .collect();
        assert_eq!(
            fb,
            [3072.0, 3072.0, 3072.0],
            "whole MiB, as dcgm-exporter reports"
        );
        let power = all
            .iter()
            .find(|s| s.metric == "DCGM_FI_DEV_POWER_USAGE")
            .map(value);
        assert_eq!(power, Some(123.45));
        let energy = all
            .iter()
            .find(|s| s.metric == "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION")
            .expect("energy");
        assert!(matches!(energy.value, prometheus_parse::Value::Counter(v) if v == 987_654_321.0));
        let mem_temp: Vec<_> = all
            .iter()
            .filter(|s| s.metric == "DCGM_FI_DEV_MEMORY_TEMP")
            .collect();
        assert!(mem_temp.iter().all(|s| s.labels.get("gpu") == Some("0")) && !mem_temp.is_empty());
        let xid = all
            .iter()
            .find(|s| s.metric == "gpuboard_gpu_xid_errors_total")
            .expect("xid counter");
        assert_eq!(
            (xid.labels.get("xid"), xid.labels.get("gpu"), value(xid)),
            (Some("79"), Some("1"), 2.0)
        );
        assert_eq!(
            all.iter()
                .filter(|s| s.metric == "gpuboard_gpu_info")
                .count(),
            2
        );
        assert!(
            all.iter()
                .any(|s| s.metric == "gpuboard_exporter_attribution_up" && value(s) == 1.0)
        );
        // Fields no GPU has are left out entirely.
        assert!(!text.contains("DCGM_FI_DEV_ROW_REMAP_FAILURE"));
    }

    #[test]
    fn label_values_are_escaped() {
        // (prometheus-parse 0.2 does not unescape, so this is checked on the text itself.)
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        let mut n = node();
        n.node = "odd\"host".into();
        assert!(render(&snapshot(n), Format::Prometheus).contains("Hostname=\"odd\\\"host\""));
    }

    #[test]
    fn openmetrics_parses_back_and_keeps_dcgm_names() {
        use openmetrics_parser::OpenMetricsType;
        let text = render(&snapshot(node()), Format::OpenMetrics);
        let exposition = openmetrics_parser::openmetrics::parse_openmetrics(&text)
            .unwrap_or_else(|e| panic!("not valid OpenMetrics ({e:?}):\n{text}"));
        let family = |name: &str| {
            exposition
                .families
                .get(name)
                .unwrap_or_else(|| panic!("no family {name}"))
        };
        assert_eq!(
            family("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION").family_type,
            OpenMetricsType::Unknown
        );
        assert_eq!(
            family("gpuboard_gpu_xid_errors").family_type,
            OpenMetricsType::Counter
        );
        assert_eq!(family("DCGM_FI_DEV_GPU_UTIL").iter_samples().count(), 3);
        assert!(text.ends_with("# EOF\n"));
        assert!(text.contains("# TYPE DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION unknown\n"));
        assert!(text.contains("# TYPE gpuboard_gpu_xid_errors counter\n"));
        assert!(text.contains("\ngpuboard_gpu_xid_errors_total{"));
        assert!(text.contains("\nDCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION{"));
    }

    #[test]
    fn without_gpus_only_health_is_exported_with_the_reason() {
        let node = NodeGpus {
            node: "n".into(),
            unavailable: Some("NVML could not be initialised (libloading error)".into()),
            ..Default::default()
        };
        let all = samples(&render(&snapshot(node), Format::Prometheus));
        assert!(
            all.iter()
                .all(|s| s.metric.starts_with("gpuboard_exporter_"))
        );
        let available = all
            .iter()
            .find(|s| s.metric == "gpuboard_exporter_gpu_data_available")
            .expect("health");
        assert_eq!(value(available), 0.0);
        assert!(
            available
                .labels
                .get("reason")
                .is_some_and(|r| r.contains("libloading"))
        );
        let attribution = all
            .iter()
            .find(|s| s.metric == "gpuboard_exporter_attribution_up")
            .expect("attribution");
        assert_eq!(
            (value(attribution), attribution.labels.get("state")),
            (0.0, Some("no_socket"))
        );
    }
}
