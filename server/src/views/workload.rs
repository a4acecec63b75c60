//! A workload's page beyond what [`crate::workloads`] reads: the cards of the GPUs its pods hold
//! (the exporters say which), with their history for the charts.

use std::collections::BTreeSet;

use frontend::contract::GpuCard;
use frontend::contract::workload_detail::WorkloadDetail;

use super::{gpus, node};
use crate::cluster::permissions::PodVisibility;
use crate::telemetry::Telemetry;

/// The GPUs the exporters attribute to `page`'s pods, in node and index order.
pub fn gpu_cards(page: &WorkloadDetail, telemetry: &Telemetry) -> Vec<GpuCard> {
    let namespace = page.namespace.as_str();
    let ours: BTreeSet<String> = page
        .pods
        .iter()
        .map(|p| format!("{namespace}/{}", p.name))
        .collect();
    let nodes: BTreeSet<&String> = page.pods.iter().filter_map(|p| p.node.as_ref()).collect();
    // The user read these pods with their own token, so their namespace is shown.
    let visible = PodVisibility::In(BTreeSet::from([namespace.to_string()]));
    let snapshot = telemetry.snapshot();
    let present = nodes
        .into_iter()
        .filter_map(|n| Some((n, snapshot.get(n)?)));
    gpus::gpu_rows(present, &visible)
        .into_iter()
        .filter(|row| row.pods.iter().any(|p| ours.contains(p)))
        .map(|row| {
            let history = telemetry.history(&row.uuid);
            node::card(row, &history)
        })
        .collect()
}
