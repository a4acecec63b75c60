//! The node page's charts over 1 hour, 1 day or 1 week: from one Prometheus range query per
//! page view (the charted series of the node's GPUs, [`HistoryRange::POINTS`] points each) when
//! Prometheus is the source, else from the history kept in memory, cut to the range.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use frontend::contract::{ExporterError, HistoryRange};
use gpuboard_exporter_api::GpuFields;
use gpuboard_exporter_api::dcgm::{self, DcgmField, labels};

use super::history::Sample;
use super::prometheus::MatrixSeries;

/// The fields the charts draw, one series each.
pub const CHARTED: [&DcgmField; 4] = [
    &dcgm::UTILIZATION_PERCENT,
    &dcgm::MEMORY_USED_BYTES,
    &dcgm::TEMPERATURE_CELSIUS,
    &dcgm::POWER_WATTS,
];

/// What one node's charts show.
#[derive(Debug, Default)]
pub struct ChartHistory {
    /// The range the samples cover.
    pub range: HistoryRange,
    /// Each GPU's samples (by UUID), oldest first.
    pub by_gpu: HashMap<String, Vec<Sample>>,
    /// Why Prometheus gave no history (the samples are then the ones kept in memory).
    pub error: Option<ExporterError>,
}

/// Whether `uuid` can go in a query's regular expression as it is: NVIDIA's `GPU-…` and
/// `MIG-…` names can; a label value with other characters is not asked for.
fn is_plain_uuid(uuid: &str) -> bool {
    !uuid.is_empty() && uuid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// The range query of the charted series of the GPUs `uuids`; None when none can be asked for.
pub fn range_query(uuids: &[&str]) -> Option<String> {
    let plain: Vec<&str> = uuids.iter().copied().filter(|u| is_plain_uuid(u)).collect();
    if plain.is_empty() {
        return None;
    }
    let names: Vec<&str> = CHARTED.iter().map(|f| f.series).collect();
    Some(format!(
        "{{__name__=~\"{}\",{}=~\"{}\"}}",
        names.join("|"),
        labels::UUID,
        plain.join("|")
    ))
}

/// Each GPU's samples in a range query's answer, one per step with any charted value, oldest
/// first. Series of other names, of MIG instances or without a UUID are skipped; where a GPU's
/// series split (its holder changed), their values for one step are merged.
pub fn histories_of(series: &[MatrixSeries]) -> HashMap<String, Vec<Sample>> {
    let mut by_gpu: HashMap<&str, BTreeMap<i64, GpuFields>> = HashMap::new();
    for one in series {
        let Some(field) = CHARTED.iter().find(|f| f.series == one.name()) else {
            continue;
        };
        let uuid = one.metric.get(labels::UUID).map(String::as_str);
        let Some(uuid) = uuid.filter(|u| !u.is_empty()) else {
            continue;
        };
        if one.metric.contains_key(labels::MIG_INSTANCE) {
            continue;
        }
        let steps = by_gpu.entry(uuid).or_default();
        for (at_s, value) in &one.values {
            if let Ok(value) = value.parse::<f64>()
                && value.is_finite()
            {
                field.set_from_series(steps.entry(*at_s as i64).or_default(), value);
            }
        }
    }
    by_gpu
        .into_iter()
        .map(|(uuid, steps)| {
            let samples = steps
                .iter()
                .map(|(at_s, fields)| Sample::of(*at_s, fields))
                .collect();
            (uuid.to_string(), samples)
        })
        .collect()
}

/// The samples of the last `range` before `now_s`.
pub fn within(samples: Vec<Sample>, range: HistoryRange, now_s: i64) -> Vec<Sample> {
    let from = now_s - range.seconds();
    samples.into_iter().filter(|s| s.at_s >= from).collect()
}

/// The ranges a history kept in memory for `span` can show: those it covers, and at least the
/// hour (a shorter history fills part of it).
pub fn ranges_within(span: Duration) -> Vec<HistoryRange> {
    let span_s = i64::try_from(span.as_secs()).unwrap_or(i64::MAX);
    HistoryRange::ALL
        .into_iter()
        .filter(|r| *r == HistoryRange::Hour || r.seconds() <= span_s)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(name: &str, uuid: &str, values: &[(f64, &str)]) -> MatrixSeries {
        let mut metric = HashMap::from([
            ("__name__".to_string(), name.to_string()),
            (labels::UUID.to_string(), uuid.to_string()),
        ]);
        metric.insert("Hostname".into(), "node-110".into());
        MatrixSeries {
            metric,
            values: values.iter().map(|(t, v)| (*t, v.to_string())).collect(),
        }
    }

    #[test]
    fn the_query_asks_for_the_charted_series_of_plain_uuids_only() {
        let query = range_query(&["GPU-1a2b", "GPU-\"}or{", "MIG-3"]).expect("a query");
        assert_eq!(
            query,
            "{__name__=~\"DCGM_FI_DEV_GPU_UTIL|DCGM_FI_DEV_FB_USED|DCGM_FI_DEV_GPU_TEMP|\
             DCGM_FI_DEV_POWER_USAGE\",UUID=~\"GPU-1a2b|MIG-3\"}"
        );
        assert_eq!(range_query(&["a.b", ""]), None);
    }

    #[test]
    fn series_become_one_sample_per_step_per_gpu() {
        let answer = [
            series(
                dcgm::UTILIZATION_PERCENT.series,
                "GPU-a",
                &[(100.0, "40"), (115.0, "60")],
            ),
            // The same GPU under another holder: its values join the same steps.
            series(dcgm::UTILIZATION_PERCENT.series, "GPU-a", &[(130.0, "80")]),
            series(
                dcgm::MEMORY_USED_BYTES.series,
                "GPU-a",
                &[(100.0, "2048"), (130.0, "NaN")],
            ),
            series(dcgm::TEMPERATURE_CELSIUS.series, "GPU-b", &[(115.0, "51")]),
            series(dcgm::SM_CLOCK_MHZ.series, "GPU-b", &[(115.0, "1400")]),
            series(dcgm::POWER_WATTS.series, "", &[(115.0, "300")]),
        ];
        let mut mig = series(dcgm::UTILIZATION_PERCENT.series, "GPU-b", &[(115.0, "99")]);
        mig.metric.insert(labels::MIG_INSTANCE.into(), "1".into());
        let histories = histories_of(&[answer.as_slice(), &[mig]].concat());
        assert_eq!(histories.len(), 2, "{histories:?}");
        let a = &histories["GPU-a"];
        assert_eq!(
            a.iter()
                .map(|s| (s.at_s, s.utilization_percent, s.memory_used_mib))
                .collect::<Vec<_>>(),
            [
                (100, Some(40), Some(2048)),
                (115, Some(60), None),
                (130, Some(80), None)
            ]
        );
        let b = &histories["GPU-b"];
        assert_eq!(b.len(), 1);
        assert_eq!(
            (b[0].temperature_celsius, b[0].utilization_percent),
            (Some(51), None)
        );
    }

    #[test]
    fn memory_shows_the_ranges_it_keeps() {
        let hour = Duration::from_secs(3600);
        assert_eq!(ranges_within(hour), [HistoryRange::Hour]);
        assert_eq!(ranges_within(hour / 2), [HistoryRange::Hour]);
        assert_eq!(
            ranges_within(hour * 24),
            [HistoryRange::Hour, HistoryRange::Day]
        );
        let samples: Vec<Sample> = [0, 100, 3_700]
            .into_iter()
            .map(|at_s| Sample::of(at_s, &GpuFields::default()))
            .collect();
        let kept = within(samples, HistoryRange::Hour, 3_700);
        assert_eq!(
            kept.iter().map(|s| s.at_s).collect::<Vec<_>>(),
            [100, 3_700]
        );
    }
}
