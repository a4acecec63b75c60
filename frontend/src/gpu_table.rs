//! The GPU inventory's query: filter, sort and page, applied on the server so a page of a large
//! cluster carries a few hundred rows, not every GPU (shared by the server function and its tests).

use serde::{Deserialize, Serialize};

use crate::api::GpuRow;

/// Rows per page of the GPU inventory.
pub const PAGE_SIZE: usize = 200;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SortKey {
    #[default]
    Node,
    Utilization,
    Memory,
    Temperature,
    Power,
}

/// What the GPUs page asks for; every field may be left out.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GpuQuery {
    pub filter: String,
    pub sort: SortKey,
    pub descending: bool,
    /// 0-based.
    pub page: usize,
}

/// One page of the inventory, with counts over the whole cluster.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GpuPage {
    pub rows: Vec<GpuRow>,
    /// Rows matching the filter, over all pages.
    pub matching: usize,
    pub page: usize,
    pub page_size: usize,
    pub total: usize,
    pub in_use: usize,
    pub average_utilization_percent: Option<f64>,
}

fn cmp_opt(a: Option<f64>, b: Option<f64>) -> std::cmp::Ordering {
    a.unwrap_or(-1.0).total_cmp(&b.unwrap_or(-1.0))
}

pub fn sort(rows: &mut [GpuRow], key: SortKey, descending: bool) {
    rows.sort_by(|a, b| {
        let by_place = a.node.cmp(&b.node).then(a.index.cmp(&b.index));
        let ord = match key {
            SortKey::Node => by_place,
            SortKey::Utilization => {
                cmp_opt(a.utilization_percent, b.utilization_percent).then(by_place)
            }
            SortKey::Memory => a.memory_used_bytes.cmp(&b.memory_used_bytes).then(by_place),
            SortKey::Temperature => {
                cmp_opt(a.temperature_celsius, b.temperature_celsius).then(by_place)
            }
            SortKey::Power => cmp_opt(a.power_watts, b.power_watts).then(by_place),
        };
        if descending { ord.reverse() } else { ord }
    });
}

/// Whether a row matches the filter text (node, model, UUID or pod, case-insensitive).
pub fn matches(row: &GpuRow, filter: &str) -> bool {
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
    let utils: Vec<f64> = rows
        .iter()
        .filter(|r| !r.stale)
        .filter_map(|r| r.utilization_percent)
        .collect();
    let mut matching: Vec<GpuRow> = rows
        .into_iter()
        .filter(|r| matches(r, &query.filter))
        .collect();
    sort(&mut matching, query.sort, query.descending);
    let count = matching.len();
    let last_page = count.saturating_sub(1) / PAGE_SIZE;
    let page = query.page.min(last_page);
    let rows = matching
        .into_iter()
        .skip(page * PAGE_SIZE)
        .take(PAGE_SIZE)
        .collect();
    GpuPage {
        rows,
        matching: count,
        page,
        page_size: PAGE_SIZE,
        total,
        in_use,
        average_utilization_percent: (!utils.is_empty())
            .then(|| utils.iter().sum::<f64>() / utils.len() as f64),
    }
}

/// A T4 on `node` for tests, used by `pods` (held when any).
#[cfg(test)]
pub(crate) fn test_row(node: &str, util: Option<f64>, pods: &[&str]) -> GpuRow {
    GpuRow {
        node: node.into(),
        index: 0,
        model: "Tesla T4".into(),
        uuid: format!("GPU-{node}"),
        memory_total_bytes: 1 << 34,
        utilization_percent: util,
        in_use: !pods.is_empty(),
        pods: pods.iter().map(|p| p.to_string()).collect(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::test_row as row;

    #[test]
    fn sorts_by_utilization_with_missing_values_last_when_descending() {
        let mut rows = vec![
            row("a", Some(10.0), &[]),
            row("b", None, &[]),
            row("c", Some(90.0), &[]),
        ];
        sort(&mut rows, SortKey::Utilization, true);
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
