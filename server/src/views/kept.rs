//! What the overview, the nodes table and the node page's doctor compute from the whole
//! cluster, the same for every user (the nodes' rows; the overview's counts, alerts and a large
//! cluster's heat map by node), kept instead of made for every page view (at 5,000 nodes the doctor's
//! pass alone is tens of milliseconds). A kept view is used while the nodes, the pods and the
//! telemetry snapshot are the ones it was made from, for at most [`MAX_AGE`]; and, when they
//! have changed, for [`MAX_LAG`] after it was made, so a cluster whose nodes report every few
//! milliseconds (5,000 kubelets) has it made at most once per [`MAX_LAG`], and by one page view
//! at a time.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use frontend::contract::{NodeSummary, Overview};

use crate::telemetry::TelemetrySnapshot;

/// How long a view is used after what it was made from has changed.
pub const MAX_LAG: Duration = Duration::from_secs(1);
/// How long a view is used while nothing changes (the rows' ages are counted when it is made).
pub const MAX_AGE: Duration = Duration::from_secs(60);

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
    /// The overview but what depends on who looks: its heat map is by node past
    /// [`frontend::contract::HeatMap::MAX_GPU_CELLS`] GPUs, else empty (a cell per GPU shows
    /// the pods the user may see); its GPU work is empty.
    pub overview: Overview,
}

/// A view with what it was made from and when.
struct Made {
    inputs: Inputs,
    at: Instant,
    view: Arc<ClusterView>,
}

/// The last view made, and the lock that lets one page view at a time make the next.
#[derive(Default)]
pub struct KeptView {
    last: Mutex<Option<Made>>,
    making: tokio::sync::Mutex<()>,
}

impl KeptView {
    /// The view kept, if it may stand for `inputs` now (see the module's rules), with the
    /// snapshot it was made from.
    pub fn get(&self, inputs: &Inputs) -> Option<(TelemetrySnapshot, Arc<ClusterView>)> {
        let last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let made = last.as_ref()?;
        let age = made.at.elapsed();
        let usable = age < MAX_LAG || (age < MAX_AGE && made.inputs.same(inputs));
        usable.then(|| (made.inputs.snapshot.clone(), Arc::clone(&made.view)))
    }

    /// Makes the view with `make` unless another page view made one meanwhile: one at a time,
    /// so those arriving while it is made wait for it and use it.
    pub async fn get_or_make<F, E>(
        &self,
        inputs: impl Fn() -> Inputs,
        make: impl FnOnce(Inputs) -> F,
    ) -> Result<(TelemetrySnapshot, Arc<ClusterView>), E>
    where
        F: Future<Output = Result<ClusterView, E>>,
    {
        if let Some(kept) = self.get(&inputs()) {
            return Ok(kept);
        }
        let _making = self.making.lock().await;
        // Read again: what was made while this waited may stand for the inputs now.
        let now = inputs();
        if let Some(kept) = self.get(&now) {
            return Ok(kept);
        }
        let view = Arc::new(make(now.clone()).await?);
        let snapshot = now.snapshot.clone();
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(Made {
            inputs: now,
            at: Instant::now(),
            view: Arc::clone(&view),
        });
        Ok((snapshot, view))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn view(nodes: usize) -> ClusterView {
        ClusterView {
            summaries: vec![NodeSummary::default(); nodes],
            overview: Overview::default(),
        }
    }

    /// Backdates the kept view by `by`.
    fn age(kept: &KeptView, by: Duration) {
        let mut last = kept.last.lock().expect("unpoisoned");
        let made = last.as_mut().expect("a view");
        made.at = Instant::now().checked_sub(by).expect("a past instant");
    }

    #[tokio::test]
    async fn a_view_stands_for_its_inputs_a_minute_and_for_changed_ones_a_second() {
        let kept = KeptView::default();
        let makes = AtomicUsize::new(0);
        let snapshot: TelemetrySnapshot = Arc::new(HashMap::new());
        let inputs = Inputs {
            snapshot: snapshot.clone(),
            nodes_generation: 3,
            pods_generation: 7,
        };
        let get = |inputs: Inputs, nodes: usize| {
            let makes = &makes;
            let kept = &kept;
            async move {
                kept.get_or_make(
                    || inputs.clone(),
                    |_| async move {
                        makes.fetch_add(1, Ordering::SeqCst);
                        Ok::<_, ()>(view(nodes))
                    },
                )
                .await
                .expect("made")
                .1
            }
        };
        let first = get(inputs.clone(), 2).await;
        assert_eq!(makes.load(Ordering::SeqCst), 1);
        let again = get(inputs.clone(), 9).await;
        assert!(
            Arc::ptr_eq(&first, &again),
            "the same inputs: the same view"
        );
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
        // Within MAX_LAG a change does not make the view again.
        for other in &changed {
            assert!(Arc::ptr_eq(&get(other.clone(), 9).await, &first));
        }
        assert_eq!(makes.load(Ordering::SeqCst), 1);
        // Past it, a change does; the same inputs still do not.
        age(&kept, MAX_LAG);
        assert!(Arc::ptr_eq(&get(inputs.clone(), 9).await, &first));
        for (i, other) in changed.iter().enumerate() {
            age(&kept, MAX_LAG);
            let made = get(other.clone(), 10 + i).await;
            assert_eq!(made.summaries.len(), 10 + i);
        }
        assert_eq!(makes.load(Ordering::SeqCst), 4);
        // Past MAX_AGE, even the same inputs make it again (the rows' ages move on).
        age(&kept, MAX_AGE);
        assert_eq!(get(changed[2].clone(), 20).await.summaries.len(), 20);
    }

    #[tokio::test]
    async fn page_views_arriving_together_make_one_view() {
        let kept = Arc::new(KeptView::default());
        let makes = Arc::new(AtomicUsize::new(0));
        let snapshot: TelemetrySnapshot = Arc::new(HashMap::new());
        let views = (0..8).map(|_| {
            let (kept, makes, snapshot) = (kept.clone(), makes.clone(), snapshot.clone());
            tokio::spawn(async move {
                let inputs = || Inputs {
                    snapshot: snapshot.clone(),
                    nodes_generation: 1,
                    pods_generation: 1,
                };
                kept.get_or_make(inputs, |_| async move {
                    makes.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    Ok::<_, ()>(view(1))
                })
                .await
                .expect("made")
            })
        });
        for view in views.collect::<Vec<_>>() {
            view.await.expect("joined");
        }
        assert_eq!(makes.load(Ordering::SeqCst), 1);
    }
}
