//! The GPU inventory: every GPU the exporters report, with who holds it shown only where the
//! user may list pods, and its CSV export.

use std::collections::{BTreeSet, HashMap};

use frontend::api::GpuRow;
use frontend::gpu_api::PodRef;

use crate::telemetry::NodeTelemetry;

/// The namespaces whose pods hold GPUs, to ask the cluster about.
pub fn holder_namespaces(nodes: &HashMap<String, NodeTelemetry>) -> BTreeSet<String> {
    nodes
        .values()
        .filter_map(|n| n.last_good.as_ref())
        .flat_map(|g| {
            g.gpus
                .iter()
                .flat_map(|gpu| gpu.pods.iter().map(|p| p.namespace.clone()))
        })
        .collect()
}

/// Builds the rows; `visible` says whether the user may see pods of a namespace.
pub fn gpu_rows(
    nodes: &HashMap<String, NodeTelemetry>,
    visible: impl Fn(&str) -> bool,
) -> Vec<GpuRow> {
    let mut rows = Vec::new();
    for (node, telemetry) in nodes {
        let Some(answer) = &telemetry.last_good else {
            continue;
        };
        for gpu in &answer.gpus {
            let (shown, hidden): (Vec<&PodRef>, Vec<&PodRef>) =
                gpu.pods.iter().partition(|p| visible(&p.namespace));
            rows.push(GpuRow {
                node: node.clone(),
                index: gpu.identity.index,
                model: gpu.identity.name.clone(),
                uuid: gpu.identity.uuid.clone(),
                memory_total_bytes: gpu.identity.memory_total_bytes,
                memory_used_bytes: gpu.fields.memory_used_bytes,
                utilization_percent: gpu.fields.utilization_percent,
                temperature_celsius: gpu.fields.temperature_celsius,
                power_watts: gpu.fields.power_watts,
                in_use: !gpu.pods.is_empty() || !gpu.processes.is_empty(),
                pods: shown
                    .iter()
                    .map(|p| format!("{}/{}", p.namespace, p.pod))
                    .collect(),
                hidden_pods: hidden.len(),
                stale: telemetry.is_stale(),
                sampled_at_ms: answer.sampled_at_ms,
            });
        }
    }
    rows.sort_by(|a, b| a.node.cmp(&b.node).then(a.index.cmp(&b.index)));
    rows
}

fn csv_field(value: &str) -> String {
    // Quote always; a leading formula character is defused for spreadsheets.
    let value = if value.starts_with(['=', '+', '-', '@']) {
        format!("'{value}")
    } else {
        value.to_string()
    };
    format!("\"{}\"", value.replace('"', "\"\""))
}

fn opt(v: Option<f64>) -> String {
    v.map(|v| format!("{v}")).unwrap_or_default()
}

/// The rows as CSV, with units in the header.
pub fn to_csv(rows: &[GpuRow]) -> String {
    let mut out = String::from(
        "node,index,model,uuid,memory_total_bytes,memory_used_bytes,utilization_percent,temperature_celsius,power_watts,in_use,pods,hidden_pods,stale\n",
    );
    for r in rows {
        let fields = [
            csv_field(&r.node),
            r.index.to_string(),
            csv_field(&r.model),
            csv_field(&r.uuid),
            r.memory_total_bytes.to_string(),
            r.memory_used_bytes
                .map(|b| b.to_string())
                .unwrap_or_default(),
            opt(r.utilization_percent),
            opt(r.temperature_celsius),
            opt(r.power_watts),
            r.in_use.to_string(),
            csv_field(&r.pods.join(" ")),
            r.hidden_pods.to_string(),
            r.stale.to_string(),
        ];
        out.push_str(&fields.join(","));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use frontend::gpu_api::{Gpu, GpuIdentity, NodeGpus};

    use super::*;

    fn node(gpus: Vec<(u32, Vec<(&str, &str)>)>) -> NodeTelemetry {
        NodeTelemetry {
            last_good: Some(Arc::new(NodeGpus {
                node: "n".into(),
                gpus: gpus
                    .into_iter()
                    .map(|(index, pods)| Gpu {
                        identity: GpuIdentity {
                            index,
                            uuid: format!("GPU-{index}"),
                            name: "H100".into(),
                            ..Default::default()
                        },
                        pods: pods
                            .into_iter()
                            .map(|(ns, pod)| PodRef {
                                namespace: ns.into(),
                                pod: pod.into(),
                                container: "c".into(),
                            })
                            .collect(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })),
            last_good_at_ms: Some(1),
            error: None,
        }
    }

    #[test]
    fn pod_names_show_only_where_allowed_but_use_always_shows() {
        let nodes = HashMap::from([(
            "n".to_string(),
            node(vec![
                (0, vec![("team-a", "train")]),
                (1, vec![("team-b", "secret")]),
                (2, vec![]),
            ]),
        )]);
        assert_eq!(
            holder_namespaces(&nodes).into_iter().collect::<Vec<_>>(),
            ["team-a", "team-b"]
        );
        let rows = gpu_rows(&nodes, |ns| ns == "team-a");
        assert_eq!(
            rows.iter()
                .map(|r| (r.in_use, r.pods.clone(), r.hidden_pods))
                .collect::<Vec<_>>(),
            [
                (true, vec!["team-a/train".to_string()], 0),
                (true, vec![], 1),
                (false, vec![], 0),
            ]
        );
        let csv = to_csv(&rows);
        assert!(!csv.contains("secret"));
        assert_eq!(csv.lines().count(), 4);
    }

    #[test]
    fn stale_nodes_keep_their_rows_and_say_so() {
        let mut stale = node(vec![(0, vec![])]);
        stale.error = Some("timeout".into());
        let rows = gpu_rows(&HashMap::from([("n".to_string(), stale)]), |_| true);
        assert!(rows[0].stale);
    }

    #[test]
    fn csv_fields_are_quoted_and_defused() {
        assert_eq!(csv_field("a\"b"), "\"a\"\"b\"");
        assert_eq!(csv_field("=cmd()"), "\"'=cmd()\"");
    }
}
