//! The GPU inventory: every GPU the exporters report, with who holds it shown only where the
//! user may list pods; one page of it, filtered and sorted as asked; and its CSV export.

use std::collections::BTreeSet;

use frontend::contract::{GPU_PAGE_SIZE, GpuPage, GpuQuery, GpuRow, GpuSortKey};
use gpuboard_exporter_api::PodRef;

use crate::cluster::accounting;
use crate::cluster::permissions::PodVisibility;
use crate::telemetry::NodeTelemetry;

/// The namespaces whose pods hold GPUs, to ask the cluster about.
pub fn holder_namespaces<'a>(
    nodes: impl IntoIterator<Item = &'a NodeTelemetry>,
) -> BTreeSet<String> {
    nodes
        .into_iter()
        .filter_map(|n| n.last_good.as_ref())
        .flat_map(|g| {
            g.gpus
                .iter()
                .flat_map(|gpu| gpu.pods.iter().map(|p| p.namespace.clone()))
        })
        .collect()
}

/// The GPU rows of `nodes` (name, telemetry), in node and index order, with holders shown where
/// `visible` says the user may see them.
pub fn gpu_rows<'a>(
    nodes: impl IntoIterator<Item = (&'a String, &'a NodeTelemetry)>,
    visible: &PodVisibility,
) -> Vec<GpuRow> {
    let mut rows = Vec::new();
    for (node, telemetry) in nodes {
        let Some(answer) = &telemetry.last_good else {
            continue;
        };
        for gpu in &answer.gpus {
            let (shown, hidden): (Vec<&PodRef>, Vec<&PodRef>) =
                gpu.pods.iter().partition(|p| visible.shows(&p.namespace));
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
                power_limit_watts: gpu.identity.power_limit_watts,
                in_use: !gpu.pods.is_empty() || !gpu.processes.is_empty(),
                pods: shown
                    .iter()
                    .map(|p| format!("{}/{}", p.namespace, p.pod))
                    .collect(),
                hidden_pods: hidden.len(),
                stale: telemetry.is_stale(),
                sampled_at_ms: answer.sampled_at_ms,
                failure: gpu.failure().map(str::to_string),
            });
        }
    }
    rows.sort_by(|a, b| a.node.cmp(&b.node).then(a.index.cmp(&b.index)));
    rows
}

fn cmp_opt(a: Option<f64>, b: Option<f64>) -> std::cmp::Ordering {
    a.unwrap_or(-1.0).total_cmp(&b.unwrap_or(-1.0))
}

fn sort(rows: &mut [GpuRow], key: GpuSortKey, descending: bool) {
    rows.sort_by(|a, b| {
        let by_place = a.node.cmp(&b.node).then(a.index.cmp(&b.index));
        let ord = match key {
            GpuSortKey::Node => by_place,
            GpuSortKey::Utilization => {
                cmp_opt(a.utilization_percent, b.utilization_percent).then(by_place)
            }
            GpuSortKey::Memory => a.memory_used_bytes.cmp(&b.memory_used_bytes).then(by_place),
            GpuSortKey::Temperature => {
                cmp_opt(a.temperature_celsius, b.temperature_celsius).then(by_place)
            }
            GpuSortKey::Power => cmp_opt(a.power_watts, b.power_watts).then(by_place),
        };
        if descending { ord.reverse() } else { ord }
    });
}

/// Whether a row matches the filter text (node, model, UUID or pod, case-insensitive).
fn matches(row: &GpuRow, filter: &str) -> bool {
    let f = filter.trim().to_lowercase();
    f.is_empty()
        || row.node.to_lowercase().contains(&f)
        || row.model.to_lowercase().contains(&f)
        || row.uuid.to_lowercase().contains(&f)
        || row.pods.iter().any(|p| p.to_lowercase().contains(&f))
}

/// Applies `query` to every row the user may see.
pub fn page_of(rows: Vec<GpuRow>, query: &GpuQuery) -> GpuPage {
    let total = rows.len();
    let in_use = rows.iter().filter(|r| r.in_use).count();
    let average_utilization_percent = accounting::average_utilization(&rows);
    let mut matching: Vec<GpuRow> = rows
        .into_iter()
        .filter(|r| matches(r, &query.filter))
        .collect();
    sort(&mut matching, query.sort, query.descending);
    let count = matching.len();
    let last_page = count.saturating_sub(1) / GPU_PAGE_SIZE;
    let page = query.page.min(last_page);
    let rows = matching
        .into_iter()
        .skip(page * GPU_PAGE_SIZE)
        .take(GPU_PAGE_SIZE)
        .collect();
    GpuPage {
        rows,
        matching: count,
        page,
        page_size: GPU_PAGE_SIZE,
        total,
        in_use,
        average_utilization_percent,
    }
}

/// A text field of the CSV: quoted always, and defused for spreadsheets when it could start a
/// formula (OWASP's list: `=`, `+`, `-`, `@`, tab, carriage return).
fn csv_field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_string()
    };
    format!("\"{}\"", value.replace('"', "\"\""))
}

/// A list element defused as [`csv_field`] does, unquoted (the list is quoted whole).
fn csv_field_text(value: &str) -> String {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_string()
    }
}

fn opt(v: Option<f64>) -> String {
    v.map(|v| format!("{v}")).unwrap_or_default()
}

/// The rows as CSV, with units in the header.
pub fn to_csv(rows: &[GpuRow]) -> String {
    let mut out = String::from(
        "node,index,model,uuid,memory_total_bytes,memory_used_bytes,utilization_percent,temperature_celsius,power_watts,in_use,pods,hidden_pods,stale,failure\n",
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
            csv_field(
                &r.pods
                    .iter()
                    .map(|p| csv_field_text(p))
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            r.hidden_pods.to_string(),
            r.stale.to_string(),
            csv_field(r.failure.as_deref().unwrap_or_default()),
        ];
        out.push_str(&fields.join(","));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use std::collections::HashMap;

    use gpuboard_exporter_api::{Gpu, GpuIdentity, NodeGpus};

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
        let nodes = Arc::new(HashMap::from([(
            "n".to_string(),
            node(vec![
                (0, vec![("team-a", "train")]),
                (1, vec![("team-b", "secret")]),
                (2, vec![]),
            ]),
        )]));
        assert_eq!(
            holder_namespaces(nodes.values())
                .into_iter()
                .collect::<Vec<_>>(),
            ["team-a", "team-b"]
        );
        let visible = PodVisibility::In(["team-a".to_string()].into());
        let rows = gpu_rows(nodes.iter(), &visible);
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
        stale.error = Some(frontend::contract::ExporterError::Timeout { ms: 2000 });
        let rows = gpu_rows([(&"n".to_string(), &stale)], &PodVisibility::Everywhere);
        assert!(rows[0].stale);
    }

    #[test]
    fn csv_fields_are_quoted_and_defused() {
        assert_eq!(csv_field("a\"b"), "\"a\"\"b\"");
        assert_eq!(csv_field("=cmd()"), "\"'=cmd()\"");
        assert_eq!(csv_field("\tx"), "\"'\tx\"");
        let row = GpuRow {
            pods: vec!["ns/ok".into(), "-evil".into()],
            ..Default::default()
        };
        let csv = to_csv(&[row]);
        assert!(csv.contains("\"ns/ok '-evil\""), "{csv}");
    }

    /// A T4 on `node` used by `pods`.
    fn row(node: &str, util: Option<f64>, pods: &[&str]) -> GpuRow {
        GpuRow {
            node: node.into(),
            model: "Tesla T4".into(),
            uuid: format!("GPU-{node}"),
            memory_total_bytes: 1 << 34,
            utilization_percent: util,
            in_use: !pods.is_empty(),
            pods: pods.iter().map(|p| p.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn sorts_by_utilization_with_missing_values_last_when_descending() {
        let mut rows = vec![
            row("a", Some(10.0), &[]),
            row("b", None, &[]),
            row("c", Some(90.0), &[]),
        ];
        sort(&mut rows, GpuSortKey::Utilization, true);
        assert_eq!(
            rows.iter().map(|r| r.node.as_str()).collect::<Vec<_>>(),
            ["c", "a", "b"]
        );
    }

    #[test]
    fn filters_on_node_model_uuid_and_pod() {
        let r = row("node-110", None, &["team-a/train"]);
        assert!(
            matches(&r, "NODE-110") && matches(&r, "t4") && matches(&r, "train") && matches(&r, "")
        );
        assert!(!matches(&r, "node-109"));
    }

    #[test]
    fn pages_hold_page_size_rows_and_counts_cover_everything() {
        let rows: Vec<GpuRow> = (0..450)
            .map(|i| {
                row(
                    &format!("n{i:04}"),
                    Some(i as f64 % 100.0),
                    if i % 3 == 0 { &["x/y"] } else { &[] },
                )
            })
            .collect();
        let first = page_of(rows.clone(), &GpuQuery::default());
        assert_eq!(
            (first.rows.len(), first.matching, first.total, first.in_use),
            (200, 450, 450, 150)
        );
        assert_eq!(first.rows[0].node, "n0000");
        let last = page_of(
            rows.clone(),
            &GpuQuery {
                page: 99,
                ..Default::default()
            },
        );
        assert_eq!(
            (last.page, last.rows.len(), last.rows[0].node.as_str()),
            (2, 50, "n0400")
        );
        let filtered = page_of(
            rows,
            &GpuQuery {
                filter: "n000".into(),
                ..Default::default()
            },
        );
        assert_eq!((filtered.matching, filtered.total), (10, 450));
    }
}
