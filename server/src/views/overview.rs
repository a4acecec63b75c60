//! The overview's counts and alerts: nodes Ready, GPUs seen, allocatable, allocated and busy (by
//! the accounting rules the nodes table uses too), and the alerts (NotReady nodes, stale
//! exporters, failed GPUs, allocatable GPUs that differ from what the exporter sees), and the GPU work a lab
//! admin checks first: the head of the queue and what runs.

use frontend::contract::workloads::Queue;
use frontend::contract::{Alert, GpuRow, HeatMap, NodeSummary, Overview};

use crate::cluster::accounting::{self, BUSY_PERCENT};
use crate::telemetry::TelemetrySnapshot;

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

/// The overview of `nodes` (their rows with GPU use: the nodes table's counts, summed),
/// telemetry, the GPU `rows` the user may see and the doctor's alerts.
pub fn overview(
    nodes: &[NodeSummary],
    telemetry: &TelemetrySnapshot,
    rows: Vec<GpuRow>,
    doctor: Vec<Alert>,
) -> Overview {
    let mut alerts = Vec::new();
    for node in nodes {
        alerts_of(node, telemetry, &mut alerts);
    }
    alerts.extend(doctor);
    Overview {
        nodes_ready: nodes.iter().filter(|n| n.ready).count(),
        nodes_total: nodes.len(),
        gpus_total: rows.len(),
        gpus_allocatable: nodes
            .iter()
            .map(|n| n.gpus_allocatable)
            .fold(0, u32::saturating_add),
        gpus_allocated: nodes
            .iter()
            .map(|n| n.gpus_allocated)
            .fold(0, u32::saturating_add),
        gpus_busy: accounting::busy(rows.iter().map(Into::into)),
        busy_threshold_percent: BUSY_PERCENT,
        average_utilization_percent: accounting::average_utilization(rows.iter().map(Into::into)),
        sampled_at_ms: rows.iter().map(|r| r.sampled_at_ms).max().unwrap_or(0),
        heat: HeatMap::from_rows(&rows),
        alerts,
        work: Queue::default(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use frontend::contract::ExporterError;
    use gpuboard_exporter_api::{Gpu, NodeGpus};

    use super::*;
    use crate::telemetry::NodeTelemetry;

    fn node(name: &str, ready: bool, gpus: u32) -> NodeSummary {
        NodeSummary {
            name: name.into(),
            ready,
            gpus_allocatable: gpus,
            ..Default::default()
        }
    }

    fn row(node: &str, util: f64, stale: bool) -> GpuRow {
        GpuRow {
            node: node.into(),
            utilization_percent: Some(util),
            stale,
            ..Default::default()
        }
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
            ("a".to_string(), seen(2, None)),
            (
                "b".to_string(),
                seen(1, Some(ExporterError::Timeout { ms: 2000 })),
            ),
        ]));
        let rows = vec![
            row("a", 97.0, false),
            row("a", 10.0, false),
            row("b", 99.0, true),
        ];
        let o = overview(&nodes, &telemetry, rows, vec![]);
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
        let o = overview(&nodes, &telemetry, vec![], vec![]);
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
        let o = overview(&nodes, &telemetry, vec![], vec![]);
        assert_eq!(
            o.alerts,
            [Alert::DeviceMismatch {
                node: "a".into(),
                allocatable: 0,
                seen: 8
            }]
        );
    }
}
