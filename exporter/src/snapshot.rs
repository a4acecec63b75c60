//! What the exporter publishes: an immutable [`Snapshot`] of the node's GPUs and of the exporter's
//! own [`Health`], swapped in whole after every round. Each way of serving it (Prometheus text,
//! OpenMetrics, JSON) is rendered on its first request and kept with the snapshot, so scrapes
//! between two rounds cost a copy of bytes.

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use gpuboard_exporter_api::NodeGpus;

/// The exporter's own health, exported as metrics next to the GPU series.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Health {
    /// Whether the last fast collection read every GPU.
    pub last_success: bool,
    pub last_timestamp_ms: i64,
    pub last_duration: Duration,
    /// Field failures since start: (GPU index, UUID, field) -> count.
    pub field_errors_total: BTreeMap<(u32, String, String), u64>,
    pub reinits_total: u64,
    pub attribution_refreshed_ms: i64,
}

/// The forms a snapshot is served in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rendering {
    Prometheus,
    OpenMetrics,
    Json,
}

/// One published state of the node's GPUs.
#[derive(Debug)]
pub struct Snapshot {
    pub gpus: NodeGpus,
    pub health: Health,
    /// Whether the first sample is done; Err says why not.
    pub ready: Result<(), String>,
    renderings: [OnceLock<Bytes>; 3],
}

impl Snapshot {
    /// A snapshot not yet rendered in any form.
    pub fn new(gpus: NodeGpus, health: Health, ready: Result<(), String>) -> Self {
        Snapshot {
            gpus,
            health,
            ready,
            renderings: Default::default(),
        }
    }

    /// This snapshot in `form`, made by `render` the first time it is asked for.
    pub fn rendered(&self, form: Rendering, render: impl FnOnce(&Snapshot) -> Bytes) -> Bytes {
        let slot = &self.renderings[form as usize];
        slot.get_or_init(|| render(self)).clone()
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[test]
    fn each_form_is_rendered_once() {
        let snapshot = Snapshot::new(NodeGpus::default(), Health::default(), Ok(()));
        let calls = Cell::new(0);
        let render = |_: &Snapshot| {
            calls.set(calls.get() + 1);
            Bytes::from_static(b"x")
        };
        snapshot.rendered(Rendering::Json, render);
        snapshot.rendered(Rendering::Json, render);
        snapshot.rendered(Rendering::Prometheus, render);
        assert_eq!(calls.get(), 2);
    }
}
