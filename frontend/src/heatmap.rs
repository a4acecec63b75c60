//! The overview's heat map ([`HeatMap`], in the contract): one cell per GPU, or per node beyond
//! [`HeatMap::MAX_GPU_CELLS`] GPUs, coloured by utilization. It carries only what the map draws
//! and what hovering a cell shows, and draws itself as one SVG string, so a 4,000-GPU cluster
//! costs a few hundred kilobytes of page instead of a component per cell.

use std::collections::HashMap;
use std::fmt::Write;

use crate::contract::{GpuRow, HeatCell, HeatCells, HeatMap, HeatModel, HeatNode, HeatNodeCell};
use crate::format::{gib, with_unit};
use crate::i18n::{Lang, tr, trf};

/// How the map lays out its cells: per row, distance between origins and a cell's side (SVG
/// units, pixels at full width). Sized to the cell count (GPUs, or nodes): five cells are
/// large, 4,000 are small ones in rows of 64; every layout is about as wide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub columns: usize,
    pub step: usize,
    pub side: usize,
}

impl Layout {
    /// The layout for `cells` cells.
    pub fn for_cells(cells: usize) -> Layout {
        let (columns, step, side) = match cells {
            0..=16 => (cells.max(1), 56, 50),
            17..=128 => (32, 28, 24),
            129..=1024 => (48, 20, 17),
            _ => (64, 16, 14),
        };
        Layout {
            columns,
            step,
            side,
        }
    }
}
const MIB: u64 = 1024 * 1024;

/// A utilization as the map carries it: whole percent, 0 to 100.
pub fn whole_percent(utilization: f64) -> u8 {
    utilization.round().clamp(0.0, 100.0) as u8
}

impl HeatMap {
    /// The map of `rows`, which come sorted by node and index.
    pub fn from_rows(rows: &[GpuRow]) -> HeatMap {
        let mut map = HeatMap::default();
        let mut models = HashMap::new();
        let mut cells = Vec::with_capacity(rows.len());
        for row in rows {
            if map.nodes.last().is_none_or(|n| n.name != row.node) {
                map.nodes.push(HeatNode {
                    name: row.node.clone(),
                    stale: row.stale,
                });
            }
            let model = map.model_index(
                &mut models,
                HeatModel {
                    name: row.model.clone(),
                    memory_total_bytes: row.memory_total_bytes,
                },
            );
            cells.push(HeatCell {
                node: map.nodes.len() as u32 - 1,
                index: row.index,
                model,
                utilization_percent: row.utilization_percent.map(whole_percent),
                memory_used_mib: row.memory_used_bytes.map(|b| (b / MIB) as u32),
                pods: row.pods.clone(),
                hidden_pods: row.hidden_pods as u32,
            });
        }
        map.cells = HeatCells::Gpus(cells);
        map
    }

    /// The index of `model` in [`HeatMap::models`], added when new (`seen` remembers where).
    pub fn model_index(&mut self, seen: &mut HashMap<HeatModel, u32>, model: HeatModel) -> u32 {
        let next = seen.len() as u32;
        *seen.entry(model.clone()).or_insert_with(|| {
            self.models.push(model);
            next
        })
    }

    /// Whether a cell is a node (a large cluster) rather than a GPU.
    pub fn is_by_node(&self) -> bool {
        matches!(self.cells, HeatCells::Nodes(_))
    }

    /// How many cells the map draws.
    pub fn cell_count(&self) -> usize {
        match &self.cells {
            HeatCells::Gpus(cells) => cells.len(),
            HeatCells::Nodes(cells) => cells.len(),
        }
    }

    /// The node a cell belongs to (or is).
    pub fn node_of(&self, cell: usize) -> Option<&HeatNode> {
        let node = match &self.cells {
            HeatCells::Gpus(cells) => cells.get(cell)?.node as usize,
            HeatCells::Nodes(cells) => cells.get(cell).map(|_| cell)?,
        };
        self.nodes.get(node)
    }

    /// What hovering a cell shows: for a GPU its node, index, model, memory, utilization and
    /// holders; for a node its GPUs, how many are busy, their model, memory and average.
    pub fn describe(&self, lang: Lang, cell: usize) -> Option<String> {
        let node = self.node_of(cell)?;
        let mut text = match &self.cells {
            HeatCells::Gpus(cells) => self.describe_gpu(lang, node, cells.get(cell)?)?,
            HeatCells::Nodes(cells) => self.describe_node(lang, node, cells.get(cell)?)?,
        };
        if node.stale {
            let _ = write!(text, " · {}", tr(lang, "stale"));
        }
        Some(text)
    }

    fn describe_node(&self, lang: Lang, node: &HeatNode, cell: &HeatNodeCell) -> Option<String> {
        let model = self.models.get(cell.model as usize)?;
        let memory_used = cell
            .memory_used_mib
            .map(|m| gib(m.saturating_mul(MIB)))
            .unwrap_or_else(|| "—".into());
        let gpus = trf(
            lang,
            "{gpus} GPUs, {busy} busy",
            &[("gpus", &cell.gpus), ("busy", &cell.busy)],
        );
        Some(format!(
            "{} · {gpus} · {} · {} / {} · {}",
            node.name,
            model.name,
            memory_used,
            gib(cell.memory_total_mib.saturating_mul(MIB)),
            with_unit(cell.utilization_percent.map(f64::from), "%"),
        ))
    }

    fn describe_gpu(&self, lang: Lang, node: &HeatNode, cell: &HeatCell) -> Option<String> {
        let model = self.models.get(cell.model as usize)?;
        let memory_used = cell
            .memory_used_mib
            .map(|m| gib(u64::from(m) * MIB))
            .unwrap_or_else(|| "—".into());
        let mut text = format!(
            "{} · GPU {} · {} · {} / {} · {}",
            node.name,
            cell.index,
            model.name,
            memory_used,
            gib(model.memory_total_bytes),
            with_unit(cell.utilization_percent.map(f64::from), "%"),
        );
        if !cell.pods.is_empty() {
            text.push_str(" · ");
            text.push_str(&cell.pods.join(", "));
        }
        if cell.hidden_pods > 0 {
            let _ = write!(
                text,
                " · {} {}",
                cell.hidden_pods,
                tr(lang, "pod(s) in namespaces you cannot list")
            );
        }
        Some(text)
    }

    /// Each cell's node stale, and its utilization.
    fn cell_looks(&self) -> Vec<(bool, Option<u8>)> {
        let stale = |node: usize| self.nodes.get(node).is_some_and(|n| n.stale);
        match &self.cells {
            HeatCells::Gpus(cells) => cells
                .iter()
                .map(|c| (stale(c.node as usize), c.utilization_percent))
                .collect(),
            HeatCells::Nodes(cells) => cells
                .iter()
                .enumerate()
                .map(|(i, c)| (stale(i), c.utilization_percent))
                .collect(),
        }
    }

    /// The map as one SVG element: a `rect` per cell with its position in `data-i`, classed
    /// `u0`..`u10` by utilization (tens of percent), `none` when unknown, `stale` when old.
    /// Only numbers and fixed words go into it, never names from the cluster.
    pub fn svg(&self) -> String {
        let count = self.cell_count();
        let Layout {
            columns,
            step,
            side,
        } = Layout::for_cells(count);
        let rows = count.div_ceil(columns).max(1);
        let (width, height) = (columns.min(count.max(1)) * step, rows * step);
        let mut svg = String::with_capacity(64 * count + 400);
        let _ = write!(
            svg,
            r##"<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}"><defs><pattern id="stale-cell" width="4" height="4" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="2" height="4" fill="#ccc"/><rect x="2" width="2" height="4" fill="#eee"/></pattern></defs>"##
        );
        for (i, (stale, utilization)) in self.cell_looks().into_iter().enumerate() {
            let class = if stale {
                "stale"
            } else {
                utilization_class(utilization)
            };
            let _ = write!(
                svg,
                r#"<rect class="cell {class}" x="{}" y="{}" width="{side}" height="{side}" rx="2" data-i="{i}"/>"#,
                (i % columns) * step,
                (i / columns) * step,
            );
        }
        svg.push_str("</svg>");
        svg
    }
}

/// The colour scale from idle to fully busy, one swatch per class, for under the map.
pub fn legend_svg() -> String {
    let mut svg = String::from(r#"<svg viewBox="0 0 110 10" width="110" height="10">"#);
    for (i, class) in UTILIZATION_CLASSES.iter().enumerate() {
        let _ = write!(
            svg,
            r#"<rect class="{class}" x="{}" width="10" height="10"/>"#,
            i * 10
        );
    }
    svg.push_str("</svg>");
    svg
}

const UTILIZATION_CLASSES: [&str; 11] = [
    "u0", "u1", "u2", "u3", "u4", "u5", "u6", "u7", "u8", "u9", "u10",
];

/// `u0` (idle) to `u10` (fully busy) by tens of percent; `none` when not reported.
fn utilization_class(utilization: Option<u8>) -> &'static str {
    match utilization {
        Some(u) => UTILIZATION_CLASSES[(usize::from(u.min(100)) + 5) / 10],
        None => "none",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(node: &str, index: u32, model: &str, util: Option<f64>, stale: bool) -> GpuRow {
        GpuRow {
            node: node.into(),
            index,
            model: model.into(),
            memory_total_bytes: 11 * 1024 * MIB,
            memory_used_bytes: Some(512 * MIB),
            utilization_percent: util,
            stale,
            ..Default::default()
        }
    }

    #[test]
    fn cells_share_node_and_model_entries() {
        let map = HeatMap::from_rows(&[
            row("a", 0, "A100", Some(97.4), false),
            row("a", 1, "A100", None, false),
            row("b", 0, "T4", Some(3.0), true),
        ]);
        assert_eq!(map.nodes.len(), 2);
        assert_eq!(map.models.len(), 2);
        assert_eq!(
            gpu_cells(&map)
                .iter()
                .map(|c| (c.node, c.model, c.utilization_percent))
                .collect::<Vec<_>>(),
            [(0, 0, Some(97)), (0, 0, None), (1, 1, Some(3))]
        );
        assert_eq!(map.node_of(2).map(|n| n.name.as_str()), Some("b"));
        assert_eq!(map.node_of(3), None);
    }

    #[test]
    fn hover_text_names_node_gpu_model_memory_and_holders() {
        let mut rows = vec![row("node-110", 0, "GTX 1080 Ti", Some(45.0), true)];
        rows[0].pods = vec!["default/tf".into()];
        rows[0].hidden_pods = 2;
        let text = HeatMap::from_rows(&rows).describe(Lang::En, 0).unwrap();
        assert_eq!(
            text,
            "node-110 · GPU 0 · GTX 1080 Ti · 0.5 GiB / 11.0 GiB · 45 % · default/tf · 2 pod(s) in namespaces you cannot list · stale"
        );
    }

    #[test]
    fn svg_has_a_classed_cell_per_gpu_in_rows_of_columns() {
        let count = 65;
        let Layout {
            columns,
            step,
            side,
        } = Layout::for_cells(count);
        let rows: Vec<GpuRow> = (0..count as u32)
            .map(|i| row("a", i, "A100", Some(f64::from(i)), false))
            .collect();
        let mut map = HeatMap::from_rows(&rows);
        let HeatCells::Gpus(cells) = &mut map.cells else {
            panic!("a cell per GPU")
        };
        cells[1].utilization_percent = None;
        let svg = map.svg();
        assert_eq!(svg.matches("<rect class=\"cell ").count(), count);
        assert!(svg.contains(r#"class="cell u0" x="0" y="0""#));
        assert!(svg.contains(&format!(r#"class="cell none" x="{step}" y="0""#)));
        let first_of_second_row = columns as f64;
        let class = format!("u{}", ((first_of_second_row + 5.0) / 10.0) as usize);
        assert!(svg.contains(&format!(
            r#"class="cell {class}" x="0" y="{step}" width="{side}" height="{side}" rx="2" data-i="{columns}""#
        )), "{svg}");
        map.nodes[0].stale = true;
        assert_eq!(map.svg().matches("cell stale").count(), count);
    }

    #[test]
    fn the_legend_shows_every_class_in_order() {
        let legend = legend_svg();
        let classes: Vec<&str> = legend
            .split("class=\"")
            .skip(1)
            .filter_map(|s| s.split('"').next())
            .collect();
        assert_eq!(classes, UTILIZATION_CLASSES);
    }

    #[test]
    fn utilization_classes_round_to_tens() {
        assert_eq!(utilization_class(Some(0)), "u0");
        assert_eq!(utilization_class(Some(4)), "u0");
        assert_eq!(utilization_class(Some(5)), "u1");
        assert_eq!(utilization_class(Some(100)), "u10");
        assert_eq!(utilization_class(None), "none");
    }

    #[test]
    fn the_wire_form_is_short() {
        let map = HeatMap::from_rows(&[row("a", 0, "A100", Some(50.0), false)]);
        let json = serde_json_len(&gpu_cells(&map)[0]);
        assert!(json <= 40, "{json} bytes");
    }

    fn gpu_cells(map: &HeatMap) -> &[HeatCell] {
        match &map.cells {
            HeatCells::Gpus(cells) => cells,
            HeatCells::Nodes(_) => panic!("a cell per GPU"),
        }
    }

    /// Two nodes drawn a cell each, the second stale.
    fn by_node() -> HeatMap {
        let cell = |busy, utilization_percent| HeatNodeCell {
            gpus: 8,
            busy,
            model: 0,
            utilization_percent,
            memory_used_mib: Some(300 * 1024),
            memory_total_mib: 640 * 1024,
        };
        HeatMap {
            nodes: vec![
                HeatNode {
                    name: "gpu-node-0001".into(),
                    stale: false,
                },
                HeatNode {
                    name: "gpu-node-0002".into(),
                    stale: true,
                },
            ],
            models: vec![HeatModel {
                name: "NVIDIA H100 80GB HBM3".into(),
                memory_total_bytes: 80 << 30,
            }],
            cells: HeatCells::Nodes(vec![cell(5, Some(63)), cell(0, None)]),
        }
    }

    #[test]
    fn a_cell_per_node_names_the_node_and_sums_its_gpus() {
        let map = by_node();
        assert!(map.is_by_node());
        assert_eq!(map.cell_count(), 2);
        assert_eq!(
            map.node_of(1).map(|n| n.name.as_str()),
            Some("gpu-node-0002")
        );
        assert_eq!(map.node_of(2), None);
        assert_eq!(map.describe(Lang::En, 2), None);
        assert_eq!(
            map.describe(Lang::En, 0).as_deref(),
            Some(
                "gpu-node-0001 · 8 GPUs, 5 busy · NVIDIA H100 80GB HBM3 · 300.0 GiB / 640.0 GiB · 63 %"
            )
        );
        let zh = map.describe(Lang::Zh, 1).expect("described");
        assert!(zh.contains("8 块 GPU，0 块繁忙"), "{zh}");
        assert!(zh.ends_with("数据过期"), "{zh}");
        let svg = map.svg();
        assert_eq!(svg.matches("<rect class=\"cell ").count(), 2);
        assert!(svg.contains(r#"class="cell u6" x="0" y="0""#), "{svg}");
        assert!(svg.contains(r#"class="cell stale""#), "{svg}");
        let json = serde_json::to_string(&map.cells).expect("serialises");
        assert!(
            json.starts_with(r#"{"nodes":[{"g":8,"b":5,"m":0,"u":63,"#),
            "{json}"
        );
    }

    fn serde_json_len(cell: &HeatCell) -> usize {
        // The same encoding leptos uses for resources.
        serde_json::to_string(cell)
            .map(|s| s.len())
            .unwrap_or(usize::MAX)
    }

    #[test]
    fn cells_are_sized_to_the_gpu_count() {
        let five = Layout::for_cells(5);
        let many = Layout::for_cells(8_000);
        assert!(five.side >= 3 * many.side, "{five:?} vs {many:?}");
        assert_eq!((five.columns, many.columns), (5, 64));
        let rows: Vec<GpuRow> = (0..5)
            .map(|i| row("n", i, "T4", Some(10.0), false))
            .collect();
        let svg = HeatMap::from_rows(&rows).svg();
        assert!(svg.contains(r#"width="50" height="50""#), "{svg}");
        assert!(svg.starts_with(r#"<svg viewBox="0 0 280 56""#), "{svg}");
    }
}
