//! The overview's counts and alerts: nodes Ready, GPUs seen, allocatable, allocated and busy (by
//! the accounting rules the nodes table uses too), the heat map of a large cluster (a cell per
//! node), the alerts (NotReady nodes, stale exporters, failed GPUs, allocatable GPUs that differ
//! from what the exporter sees), and the GPU work a lab admin checks first: the head of the
//! queue and what runs.

use std::collections::HashMap;

use frontend::contract::workloads::Queue;
use frontend::contract::{
    Alert, ExporterError, HeatCells, HeatMap, HeatModel, HeatNode, HeatNodeCell, NodeSummary,
    Overview,
};
use frontend::heatmap::whole_percent;
use gpuboard_exporter_api::NodeGpus;

use super::gpus::gpu_uses;
use crate::cluster::accounting::{self, BUSY_PERCENT, GpuUse};
use crate::telemetry::{NodeTelemetry, TelemetrySnapshot};

const MIB: u64 = 1024 * 1024;

/// The alerts of one node: NotReady, its exporter stale, a GPU failed (by the exporter's last
/// answer, as the GPU rows say), its allocatable GPUs not what the exporter sees.
fn alerts_of(node: &NodeSummary, telemetry: &TelemetrySnapshot, out: &mut Vec<Alert>) {
    if !node.ready {
        out.push(Alert::NotReady {
            node: node.name.clone(),
        });
    }
    let exporter = telemetry.get(&node.name);
    if let Some(t) = exporter
        && let Some(error) = &t.error
    {
        out.push(Alert::StaleExporter {
            node: node.name.clone(),
            since_ms: t.last_good_at_ms,
            error: error.clone(),
        });
    }
    let last_answer = exporter.and_then(|t| t.last_good.as_ref());
    // As the GPU rows do: from the exporter's last answer (when stale, the alert above says so).
    for gpu in last_answer.map_or(&[][..], |g| &g.gpus) {
        if let Some(error) = gpu.failure() {
            out.push(Alert::GpuFailed {
                node: node.name.clone(),
                index: gpu.identity.index,
                error: error.to_string(),
            });
        }
    }
    if let Some(seen) = last_answer.map(|g| g.gpus.len() as u32)
        && seen != node.gpus_allocatable
    {
        out.push(Alert::DeviceMismatch {
            node: node.name.clone(),
            allocatable: node.gpus_allocatable,
            seen,
        });
    }
}

/// How many GPUs the exporters report: whether the heat map can draw a cell for each.
pub fn gpu_count(telemetry: &TelemetrySnapshot) -> usize {
    telemetry
        .values()
        .filter_map(|t| t.last_good.as_ref())
        .map(|answer| answer.gpus.len())
        .sum()
}

/// The heat map with a cell per node, when the cluster has more than
/// [`HeatMap::MAX_GPU_CELLS`] GPUs; else None (the overview draws a cell per GPU, from the rows
/// the user may see).
pub fn heat_by_node_when_large(telemetry: &TelemetrySnapshot) -> Option<HeatMap> {
    (gpu_count(telemetry) > HeatMap::MAX_GPU_CELLS).then(|| heat_by_node(telemetry))
}

/// The heat map with a cell per node that reports GPUs, by name: its GPUs, how many are busy
/// (none when stale, as the nodes table counts), its first GPU's model (a node of mixed models
/// is shown under its first), memory summed, and the average utilization of those that report
/// one (a stale node's from its last answer, as its GPUs' cells would be).
pub fn heat_by_node(telemetry: &TelemetrySnapshot) -> HeatMap {
    let mut answered: Vec<(&String, &NodeTelemetry, &NodeGpus)> = telemetry
        .iter()
        .filter_map(|(name, t)| Some((name, t, t.last_good.as_deref()?)))
        .filter(|(_, _, answer)| !answer.gpus.is_empty())
        .collect();
    answered.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let mut map = HeatMap::default();
    let mut models = HashMap::new();
    let mut cells = Vec::with_capacity(answered.len());
    for (name, telemetry, answer) in answered {
        map.nodes.push(HeatNode {
            name: name.clone(),
            stale: telemetry.is_stale(),
        });
        let first = &answer.gpus[0].identity;
        let model = map.model_index(
            &mut models,
            HeatModel {
                name: first.name.clone(),
                memory_total_bytes: first.memory_total_bytes,
            },
        );
        let used = answer
            .gpus
            .iter()
            .filter_map(|g| g.fields.memory_used_bytes)
            .reduce(u64::saturating_add);
        let total: u64 = answer
            .gpus
            .iter()
            .map(|g| g.identity.memory_total_bytes)
            .fold(0, u64::saturating_add);
        let average = accounting::average_utilization(answer.gpus.iter().map(|g| GpuUse {
            utilization_percent: g.fields.utilization_percent,
            stale: false,
        }));
        cells.push(HeatNodeCell {
            gpus: answer.gpus.len() as u32,
            busy: accounting::busy_now(telemetry).unwrap_or(0),
            model,
            utilization_percent: average.map(whole_percent),
            memory_used_mib: used.map(|bytes| bytes / MIB),
            memory_total_mib: total / MIB,
        });
    }
    map.cells = HeatCells::Nodes(cells);
    map
}

/// Puts Prometheus's failure (`error`) first among `alerts`, in place of every node's stale
/// alert of the same cause (thousands in a large cluster, each repeating it).
pub fn say_prometheus_failed(alerts: &mut Vec<Alert>, error: String) {
    alerts.retain(|alert| {
        !matches!(
            alert,
            Alert::StaleExporter {
                error: ExporterError::Prometheus(_),
                ..
            }
        )
    });
    alerts.insert(0, Alert::PrometheusFailed { error });
}

/// The overview of `nodes` (their rows with GPU use: the nodes table's counts, summed),
/// telemetry (the GPU counts), its `heat` map and the doctor's alerts.
pub fn overview(
    nodes: &[NodeSummary],
    telemetry: &TelemetrySnapshot,
    heat: HeatMap,
    doctor: Vec<Alert>,
) -> Overview {
    let mut alerts = Vec::new();
    for node in nodes {
        alerts_of(node, telemetry, &mut alerts);
    }
    alerts.extend(doctor);
    let uses: Vec<GpuUse> = gpu_uses(telemetry.iter()).collect();
    Overview {
        nodes_ready: nodes.iter().filter(|n| n.ready).count(),
        nodes_total: nodes.len(),
        gpus_total: uses.len(),
        gpus_allocatable: nodes
            .iter()
            .map(|n| n.gpus_allocatable)
            .fold(0, u32::saturating_add),
        gpus_allocated: nodes
            .iter()
            .map(|n| n.gpus_allocated)
            .fold(0, u32::saturating_add),
        gpus_busy: accounting::busy(uses.iter().copied()),
        busy_threshold_percent: BUSY_PERCENT,
        average_utilization_percent: accounting::average_utilization(uses),
        sampled_at_ms: telemetry
            .values()
            .filter_map(|t| t.last_good.as_ref())
            .map(|answer| answer.sampled_at_ms)
            .max()
            .unwrap_or(0),
        heat,
        alerts,
        work: Queue::default(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use frontend::contract::ExporterError;
    use gpuboard_exporter_api::Gpu;

    use super::*;

    fn node(name: &str, ready: bool, gpus: u32) -> NodeSummary {
        NodeSummary {
            name: name.into(),
            ready,
            gpus_allocatable: gpus,
            ..Default::default()
        }
    }

    /// A node's telemetry whose GPUs are at `utilizations`, each with 1 GiB used of 16.
    fn using(utilizations: &[Option<f64>], error: Option<ExporterError>) -> NodeTelemetry {
        let mut telemetry = seen(utilizations.len(), error);
        let answer = Arc::make_mut(telemetry.last_good.as_mut().expect("an answer"));
        for (gpu, utilization) in answer.gpus.iter_mut().zip(utilizations) {
            gpu.identity.name = "Tesla T4".into();
            gpu.identity.memory_total_bytes = 16 << 30;
            gpu.fields.memory_used_bytes = Some(1 << 30);
            gpu.fields.utilization_percent = *utilization;
        }
        answer.sampled_at_ms = 7 + utilizations.len() as i64;
        telemetry
    }

    fn seen(count: usize, error: Option<ExporterError>) -> NodeTelemetry {
        NodeTelemetry {
            last_good: Some(Arc::new(NodeGpus {
                gpus: vec![Gpu::default(); count],
                ..Default::default()
            })),
            last_good_at_ms: Some(42),
            error,
        }
    }

    #[test]
    fn counts_sum_the_nodes_and_busy_counts_fresh_gpus() {
        let mut nodes = vec![node("a", true, 2), node("b", false, 1)];
        nodes[0].gpus_allocated = 2;
        nodes[1].gpus_allocated = 1;
        let telemetry = Arc::new(HashMap::from([
            ("a".to_string(), using(&[Some(97.0), Some(10.0)], None)),
            (
                "b".to_string(),
                using(&[Some(99.0)], Some(ExporterError::Timeout { ms: 2000 })),
            ),
        ]));
        let o = overview(&nodes, &telemetry, HeatMap::default(), vec![]);
        assert_eq!(o.sampled_at_ms, 9, "the newest answer's time");
        assert_eq!((o.nodes_ready, o.nodes_total), (1, 2));
        assert_eq!(
            (
                o.gpus_total,
                o.gpus_allocatable,
                o.gpus_allocated,
                o.gpus_busy
            ),
            (3, 3, 3, 1)
        );
        assert_eq!(o.average_utilization_percent, Some(53.5));
        assert_eq!(
            o.alerts,
            [
                Alert::NotReady { node: "b".into() },
                Alert::StaleExporter {
                    node: "b".into(),
                    since_ms: Some(42),
                    error: ExporterError::Timeout { ms: 2000 }
                }
            ]
        );
    }

    #[test]
    fn a_failed_gpu_is_said_from_the_last_answer_as_its_row_is_also_when_stale() {
        let failed = |error: Option<ExporterError>| {
            let mut t = seen(2, error);
            let gpus = Arc::make_mut(t.last_good.as_mut().expect("an answer"));
            gpus.gpus[1].identity.index = 1;
            gpus.gpus[1]
                .field_errors
                .insert(gpuboard_exporter_api::GPU_LOST.into(), "GPU is lost".into());
            t
        };
        let nodes = vec![node("a", true, 2), node("b", true, 2)];
        let telemetry = Arc::new(HashMap::from([
            ("a".to_string(), failed(None)),
            (
                "b".to_string(),
                failed(Some(ExporterError::Timeout { ms: 2000 })),
            ),
        ]));
        let o = overview(&nodes, &telemetry, HeatMap::default(), vec![]);
        let failed_on: Vec<&str> = o
            .alerts
            .iter()
            .filter_map(|a| match a {
                Alert::GpuFailed {
                    node,
                    index: 1,
                    error,
                } if error == "GPU is lost" => Some(node.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(failed_on, ["a", "b"], "{:?}", o.alerts);
    }

    #[test]
    fn a_node_whose_exporter_sees_other_gpus_than_allocatable_is_flagged() {
        let nodes = vec![node("a", true, 0)];
        let telemetry = Arc::new(HashMap::from([("a".to_string(), seen(8, None))]));
        let o = overview(&nodes, &telemetry, HeatMap::default(), vec![]);
        assert_eq!(
            o.alerts,
            [Alert::DeviceMismatch {
                node: "a".into(),
                allocatable: 0,
                seen: 8
            }]
        );
    }

    #[test]
    fn a_cell_per_node_sums_its_gpus_busy_only_when_fresh() {
        let telemetry = Arc::new(HashMap::from([
            (
                "b".to_string(),
                using(
                    &[Some(99.0), None],
                    Some(ExporterError::Timeout { ms: 2000 }),
                ),
            ),
            (
                "a".to_string(),
                using(&[Some(97.0), Some(10.0), None], None),
            ),
            ("empty".to_string(), seen(0, None)),
            ("never".to_string(), NodeTelemetry::default()),
        ]));
        assert_eq!(gpu_count(&telemetry), 5);
        let map = heat_by_node(&telemetry);
        let names: Vec<(&str, bool)> = map
            .nodes
            .iter()
            .map(|n| (n.name.as_str(), n.stale))
            .collect();
        assert_eq!(names, [("a", false), ("b", true)]);
        assert_eq!(
            map.models,
            [HeatModel {
                name: "Tesla T4".into(),
                memory_total_bytes: 16 << 30
            }]
        );
        let cell = |gpus, busy, utilization_percent, used_gib: u64| HeatNodeCell {
            gpus,
            busy,
            model: 0,
            utilization_percent,
            memory_used_mib: Some(used_gib * 1024),
            memory_total_mib: u64::from(gpus) * 16 * 1024,
        };
        assert_eq!(
            map.cells,
            HeatCells::Nodes(vec![cell(3, 1, Some(54), 3), cell(2, 0, Some(99), 2)])
        );
    }

    #[test]
    fn the_map_has_a_cell_per_gpu_up_to_its_maximum_then_per_node() {
        let eight = [Some(50.0); 8];
        let mut nodes: HashMap<String, NodeTelemetry> = (0..HeatMap::MAX_GPU_CELLS / 8)
            .map(|i| (format!("n{i:04}"), using(&eight, None)))
            .collect();
        assert_eq!(heat_by_node_when_large(&Arc::new(nodes.clone())), None);
        nodes.insert("one-more".into(), using(&[None], None));
        let beyond = heat_by_node_when_large(&Arc::new(nodes)).expect("a cell per node");
        assert!(beyond.is_by_node());
        assert_eq!(beyond.cell_count(), HeatMap::MAX_GPU_CELLS / 8 + 1);
    }

    #[test]
    fn prometheus_failing_is_said_first_once_for_the_nodes_stale_for_it() {
        let stale = |node: &str, error: ExporterError| Alert::StaleExporter {
            node: node.into(),
            since_ms: None,
            error,
        };
        let mut alerts = vec![
            Alert::NotReady { node: "a".into() },
            stale("a", ExporterError::Prometheus("refused".into())),
            stale("b", ExporterError::NoSeries),
            stale("c", ExporterError::Prometheus("refused".into())),
        ];
        say_prometheus_failed(&mut alerts, "refused".into());
        assert_eq!(
            alerts,
            [
                Alert::PrometheusFailed {
                    error: "refused".into()
                },
                Alert::NotReady { node: "a".into() },
                stale("b", ExporterError::NoSeries),
            ]
        );
    }
}
