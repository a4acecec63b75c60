//! What the overview and the nodes table compute from the whole cluster, the same for every
//! user (the nodes' rows, the doctor's alerts, a large cluster's heat map by node), kept while
//! the nodes, the pods and the telemetry snapshot are the ones it was made from: at most one
//! telemetry cycle. A page view then reads it instead of making it again (at 5,000 nodes the
//! doctor's pass alone is tens of milliseconds).

use std::sync::{Arc, Mutex};

use frontend::contract::{Alert, HeatMap, NodeSummary};

use crate::telemetry::TelemetrySnapshot;

/// What a [`ClusterView`] is made from: a telemetry snapshot and the watch cache's generations.
#[derive(Clone)]
pub struct Inputs {
    pub snapshot: TelemetrySnapshot,
    pub nodes_generation: u64,
    pub pods_generation: u64,
}

impl Inputs {
    /// Whether both are the same inputs: the very same snapshot (held, so its address cannot
    /// be another's) and generations.
    fn same(&self, other: &Inputs) -> bool {
        Arc::ptr_eq(&self.snapshot, &other.snapshot)
            && self.nodes_generation == other.nodes_generation
            && self.pods_generation == other.pods_generation
    }
}

/// The whole cluster as every user's pages share it.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterView {
    /// Every node's row, by name, with GPU use and skew flags.
    pub summaries: Vec<NodeSummary>,
    /// The doctor's alerts for the overview.
    pub doctor: Vec<Alert>,
    /// The heat map with a cell per node, past [`HeatMap::MAX_GPU_CELLS`] GPUs.
    pub heat_by_node: Option<HeatMap>,
}

/// The last view made, with its inputs.
#[derive(Default)]
pub struct KeptView(Mutex<Option<(Inputs, Arc<ClusterView>)>>);

impl KeptView {
    /// The view made from `inputs`, if it is the one kept.
    pub fn get(&self, inputs: &Inputs) -> Option<Arc<ClusterView>> {
        let kept = self.0.lock().unwrap_or_else(|e| e.into_inner());
        kept.as_ref()
            .filter(|(made_from, _)| made_from.same(inputs))
            .map(|(_, view)| Arc::clone(view))
    }

    /// Keeps `view`, made from `inputs`, in place of the last. (Two views made at once may
    /// land out of order; an older one kept is only made again by the next page view, since
    /// it is found by its inputs.)
    pub fn keep(&self, inputs: Inputs, view: Arc<ClusterView>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some((inputs, view));
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn view(nodes: usize) -> Arc<ClusterView> {
        Arc::new(ClusterView {
            summaries: vec![NodeSummary::default(); nodes],
            doctor: vec![],
            heat_by_node: None,
        })
    }

    #[test]
    fn a_view_is_found_only_by_the_same_snapshot_and_generations() {
        let kept = KeptView::default();
        let snapshot: TelemetrySnapshot = Arc::new(HashMap::new());
        let inputs = Inputs {
            snapshot: snapshot.clone(),
            nodes_generation: 3,
            pods_generation: 7,
        };
        assert_eq!(kept.get(&inputs), None);
        kept.keep(inputs.clone(), view(2));
        assert_eq!(kept.get(&inputs), Some(view(2)));
        let changed = [
            Inputs {
                snapshot: Arc::new(HashMap::new()),
                ..inputs.clone()
            },
            Inputs {
                nodes_generation: 4,
                ..inputs.clone()
            },
            Inputs {
                pods_generation: 8,
                ..inputs.clone()
            },
        ];
        for other in &changed {
            assert_eq!(kept.get(other), None);
        }
        kept.keep(changed[2].clone(), view(5));
        assert_eq!(kept.get(&inputs), None, "only the last view is kept");
        assert_eq!(kept.get(&changed[2]), Some(view(5)));
    }
}
