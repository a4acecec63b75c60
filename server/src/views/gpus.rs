//! The GPU inventory: every GPU the exporters report, with who holds it shown only where the
//! user may list pods; one page of it, filtered and sorted as asked; and its CSV export.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use frontend::contract::{GPU_PAGE_SIZE, GpuPage, GpuQuery, GpuRow, GpuSortKey};
use gpuboard_exporter_api::{Gpu, NodeGpus};

use crate::cluster::accounting::{self, GpuUse};
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

/// One GPU of the telemetry snapshot, borrowed: what the inventory counts, filters and sorts
/// by, so that only the rows of the page shown are made.
#[derive(Clone, Copy)]
struct GpuRef<'a> {
    node: &'a str,
    telemetry: &'a NodeTelemetry,
    answer: &'a NodeGpus,
    gpu: &'a Gpu,
}

impl<'a> GpuRef<'a> {
    /// Every GPU of `nodes` (name, telemetry) with a last good answer, in no particular order.
    fn all(nodes: impl IntoIterator<Item = (&'a String, &'a NodeTelemetry)>) -> Vec<GpuRef<'a>> {
        let mut refs = Vec::new();
        for (node, telemetry) in nodes {
            let Some(answer) = &telemetry.last_good else {
                continue;
            };
            refs.extend(answer.gpus.iter().map(|gpu| GpuRef {
                node,
                telemetry,
                answer,
                gpu,
            }));
        }
        refs
    }

    fn is_in_use(&self) -> bool {
        !self.gpu.pods.is_empty() || !self.gpu.processes.is_empty()
    }

    fn use_of(&self) -> GpuUse {
        GpuUse {
            utilization_percent: self.gpu.fields.utilization_percent,
            stale: self.telemetry.is_stale(),
        }
    }

    /// The holders `visible` lets the user see, as `namespace/pod`.
    fn shown_pods<'v>(
        &self,
        visible: &'v PodVisibility,
    ) -> impl Iterator<Item = String> + use<'a, 'v> {
        self.gpu
            .pods
            .iter()
            .filter(move |p| visible.shows(&p.namespace))
            .map(|p| format!("{}/{}", p.namespace, p.pod))
    }

    /// Its row, with holders shown where `visible` says the user may see them.
    fn row(&self, visible: &PodVisibility) -> GpuRow {
        let gpu = self.gpu;
        let pods: Vec<String> = self.shown_pods(visible).collect();
        GpuRow {
            node: self.node.to_string(),
            index: gpu.identity.index,
            model: gpu.identity.name.clone(),
            uuid: gpu.identity.uuid.clone(),
            memory_total_bytes: gpu.identity.memory_total_bytes,
            memory_used_bytes: gpu.fields.memory_used_bytes,
            utilization_percent: gpu.fields.utilization_percent,
            temperature_celsius: gpu.fields.temperature_celsius,
            power_watts: gpu.fields.power_watts,
            power_limit_watts: gpu.identity.power_limit_watts,
            in_use: self.is_in_use(),
            hidden_pods: gpu.pods.len() - pods.len(),
            pods,
            stale: self.telemetry.is_stale(),
            sampled_at_ms: self.answer.sampled_at_ms,
            failure: gpu.failure().map(str::to_string),
        }
    }

    /// Whether it matches `filter`, already lower-case: its node, model, UUID or a holder the
    /// user may see.
    fn matches(&self, filter: &str, visible: &PodVisibility) -> bool {
        let has = |text: &str| text.to_lowercase().contains(filter);
        filter.is_empty()
            || has(self.node)
            || has(&self.gpu.identity.name)
            || has(&self.gpu.identity.uuid)
            || self.shown_pods(visible).any(|p| has(&p))
    }

    /// The inventory's order by `key`, ties (and the node key) by node, index and UUID: a total
    /// order, so a page holds the same GPUs however the rows lay before (two GPUs of a node
    /// can share an index when Prometheus's `gpu` label is missing).
    fn cmp_by(&self, other: &Self, key: GpuSortKey) -> Ordering {
        let (a, b) = (&self.gpu.fields, &other.gpu.fields);
        let by_place = || {
            let (a, b) = (&self.gpu.identity, &other.gpu.identity);
            self.node
                .cmp(other.node)
                .then(a.index.cmp(&b.index))
                .then_with(|| a.uuid.cmp(&b.uuid))
        };
        let by_value = match key {
            GpuSortKey::Node => Ordering::Equal,
            GpuSortKey::Utilization => cmp_opt(a.utilization_percent, b.utilization_percent),
            GpuSortKey::Memory => a.memory_used_bytes.cmp(&b.memory_used_bytes),
            GpuSortKey::Temperature => cmp_opt(a.temperature_celsius, b.temperature_celsius),
            GpuSortKey::Power => cmp_opt(a.power_watts, b.power_watts),
        };
        by_value.then_with(by_place)
    }
}

/// What the counts read of every GPU of `nodes` (name, telemetry) with a last good answer.
pub fn gpu_uses<'a>(
    nodes: impl IntoIterator<Item = (&'a String, &'a NodeTelemetry)>,
) -> impl Iterator<Item = GpuUse> {
    GpuRef::all(nodes).into_iter().map(|r| r.use_of())
}

/// The GPU rows of `nodes` (name, telemetry), in node and index order, with holders shown where
/// `visible` says the user may see them.
pub fn gpu_rows<'a>(
    nodes: impl IntoIterator<Item = (&'a String, &'a NodeTelemetry)>,
    visible: &PodVisibility,
) -> Vec<GpuRow> {
    let mut refs = GpuRef::all(nodes);
    refs.sort_unstable_by(|a, b| a.cmp_by(b, GpuSortKey::Node));
    refs.iter().map(|r| r.row(visible)).collect()
}

fn cmp_opt(a: Option<f64>, b: Option<f64>) -> Ordering {
    a.unwrap_or(-1.0).total_cmp(&b.unwrap_or(-1.0))
}

/// One page of the GPUs of `nodes` as `query` asks, with counts over every GPU. Only the page's
/// rows are made: the others are counted, filtered and ordered where they lie, and only as many
/// as reach the page's end are sorted (40,000 GPUs cost a selection, not 40,000 rows).
pub fn page_of<'a>(
    nodes: impl IntoIterator<Item = (&'a String, &'a NodeTelemetry)>,
    visible: &PodVisibility,
    query: &GpuQuery,
) -> GpuPage {
    let all = GpuRef::all(nodes);
    let total = all.len();
    let in_use = all.iter().filter(|r| r.is_in_use()).count();
    let average_utilization_percent =
        accounting::average_utilization(all.iter().map(GpuRef::use_of));
    let filter = query.filter.trim().to_lowercase();
    let mut matching: Vec<GpuRef> = all
        .into_iter()
        .filter(|r| r.matches(&filter, visible))
        .collect();
    let order = |a: &GpuRef, b: &GpuRef| {
        let ord = a.cmp_by(b, query.sort);
        if query.descending { ord.reverse() } else { ord }
    };
    let count = matching.len();
    let last_page = count.saturating_sub(1) / GPU_PAGE_SIZE;
    let page = query.page.min(last_page);
    let start = page * GPU_PAGE_SIZE;
    let end = (start + GPU_PAGE_SIZE).min(count);
    // Everything before `end` is moved before it (in no order), then only that part is sorted.
    if end < count {
        matching.select_nth_unstable_by(end, order);
        matching.truncate(end);
    }
    matching.sort_unstable_by(order);
    GpuPage {
        rows: matching[start.min(matching.len())..]
            .iter()
            .map(|r| r.row(visible))
            .collect(),
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

    use gpuboard_exporter_api::{GpuIdentity, PodRef};

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

    /// Nodes `n0000`… with one GPU each: utilization `util(i)`, memory used `i` MiB, held by
    /// `x/y` on every third.
    fn cluster(
        count: usize,
        util: impl Fn(usize) -> Option<f64>,
    ) -> HashMap<String, NodeTelemetry> {
        (0..count)
            .map(|i| {
                let mut node = node(vec![(
                    0,
                    if i % 3 == 0 { vec![("x", "y")] } else { vec![] },
                )]);
                let answer = Arc::make_mut(node.last_good.as_mut().expect("an answer"));
                let gpu = &mut answer.gpus[0];
                gpu.identity.uuid = format!("GPU-{i:04}");
                gpu.identity.name = if i % 2 == 0 { "Tesla T4" } else { "H100" }.into();
                gpu.fields.utilization_percent = util(i);
                gpu.fields.memory_used_bytes = Some(i as u64 * 1024 * 1024);
                (format!("n{i:04}"), node)
            })
            .collect()
    }

    fn nodes_of(page: &GpuPage) -> Vec<&str> {
        page.rows.iter().map(|r| r.node.as_str()).collect()
    }

    #[test]
    fn sorts_by_utilization_with_missing_values_last_when_descending() {
        let nodes = cluster(3, |i| [Some(10.0), None, Some(90.0)][i]);
        let query = GpuQuery {
            sort: GpuSortKey::Utilization,
            descending: true,
            ..Default::default()
        };
        let page = page_of(nodes.iter(), &PodVisibility::Everywhere, &query);
        assert_eq!(nodes_of(&page), ["n0002", "n0000", "n0001"]);
    }

    #[test]
    fn filters_on_node_model_uuid_and_pods_the_user_may_see() {
        let nodes = cluster(30, |_| None);
        let everywhere = PodVisibility::Everywhere;
        let matching = |filter: &str, visible: &PodVisibility| {
            let query = GpuQuery {
                filter: filter.into(),
                ..Default::default()
            };
            page_of(nodes.iter(), visible, &query).matching
        };
        assert_eq!(matching("N0011", &everywhere), 1);
        assert_eq!(matching(" t4 ", &everywhere), 15);
        assert_eq!(matching("gpu-0012", &everywhere), 1);
        assert_eq!(matching("x/Y", &everywhere), 10);
        assert_eq!(matching("x/y", &PodVisibility::In(BTreeSet::new())), 0);
        assert_eq!(matching("", &everywhere), 30);
        assert_eq!(matching("n9999", &everywhere), 0);
    }

    #[test]
    fn pages_hold_page_size_rows_and_counts_cover_everything() {
        let nodes = cluster(450, |i| Some(i as f64 % 100.0));
        let everywhere = PodVisibility::Everywhere;
        let first = page_of(nodes.iter(), &everywhere, &GpuQuery::default());
        assert_eq!(
            (first.rows.len(), first.matching, first.total, first.in_use),
            (200, 450, 450, 150)
        );
        assert_eq!(first.rows[0].node, "n0000");
        let query = GpuQuery {
            page: 99,
            ..Default::default()
        };
        let last = page_of(nodes.iter(), &everywhere, &query);
        assert_eq!(
            (last.page, last.rows.len(), last.rows[0].node.as_str()),
            (2, 50, "n0400")
        );
        let query = GpuQuery {
            filter: "n000".into(),
            ..Default::default()
        };
        let filtered = page_of(nodes.iter(), &everywhere, &query);
        assert_eq!((filtered.matching, filtered.total), (10, 450));
        let query = GpuQuery {
            filter: "nothing".into(),
            ..Default::default()
        };
        let none = page_of(nodes.iter(), &everywhere, &query);
        assert_eq!((none.rows.len(), none.matching, none.page), (0, 0, 0));
    }

    #[test]
    fn gpus_sharing_a_node_and_index_keep_their_order_across_a_page_boundary() {
        // 201 GPUs on one node, all index 0 (no `gpu` label), idle: only the UUID tells them apart.
        let gpus = (0..201).map(|_| (0, vec![])).collect();
        let mut one = node(gpus);
        let answer = Arc::make_mut(one.last_good.as_mut().expect("an answer"));
        for (i, gpu) in answer.gpus.iter_mut().enumerate() {
            // Reverse order: the answer's order must not decide the pages.
            gpu.identity.uuid = format!("GPU-{:03}", 200 - i);
        }
        let nodes = HashMap::from([("n".to_string(), one)]);
        let everywhere = PodVisibility::Everywhere;
        for descending in [false, true] {
            let uuids = |page| -> Vec<String> {
                let query = GpuQuery {
                    sort: GpuSortKey::Utilization,
                    descending,
                    page,
                    ..Default::default()
                };
                page_of(nodes.iter(), &everywhere, &query)
                    .rows
                    .into_iter()
                    .map(|r| r.uuid)
                    .collect()
            };
            let mut both = uuids(0);
            both.extend(uuids(1));
            let mut want: Vec<String> = (0..201).map(|i| format!("GPU-{i:03}")).collect();
            if descending {
                want.reverse();
            }
            assert_eq!(both, want, "descending={descending}");
        }
    }

    #[test]
    fn every_page_in_every_order_is_the_slice_of_all_rows_sorted() {
        // Utilizations repeat, so ties must fall back to node order on every page.
        let nodes = cluster(450, |i| (i % 7 != 0).then_some((i * 37 % 11) as f64));
        let everywhere = PodVisibility::Everywhere;
        for key in [
            GpuSortKey::Node,
            GpuSortKey::Utilization,
            GpuSortKey::Memory,
            GpuSortKey::Temperature,
            GpuSortKey::Power,
        ] {
            for descending in [false, true] {
                let mut all = gpu_rows(nodes.iter(), &everywhere);
                let value = |r: &GpuRow| match key {
                    GpuSortKey::Node => None,
                    GpuSortKey::Utilization => r.utilization_percent,
                    GpuSortKey::Memory => r.memory_used_bytes.map(|b| b as f64),
                    GpuSortKey::Temperature => r.temperature_celsius,
                    GpuSortKey::Power => r.power_watts,
                };
                // A stable sort of the rows in node order: ties keep node order.
                all.sort_by(|a, b| cmp_opt(value(a), value(b)));
                if descending {
                    all.reverse();
                }
                for page in 0..3 {
                    let query = GpuQuery {
                        sort: key,
                        descending,
                        page,
                        ..Default::default()
                    };
                    let got = page_of(nodes.iter(), &everywhere, &query);
                    let want: Vec<&str> = all
                        .iter()
                        .skip(page * GPU_PAGE_SIZE)
                        .take(GPU_PAGE_SIZE)
                        .map(|r| r.node.as_str())
                        .collect();
                    assert_eq!(
                        nodes_of(&got),
                        want,
                        "{key:?} descending={descending} page {page}"
                    );
                }
            }
        }
    }
}
