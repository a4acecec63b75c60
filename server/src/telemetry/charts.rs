//! The node page's charts over 1 hour, 1 day or 1 week: when Prometheus is the source, from its
//! range queries, one per charted field for the node's GPUs, each point the field's average over
//! its step ([`HistoryRange::POINTS`] points), the answer kept for one step; else, and for GPUs
//! whose UUID cannot be put in a query, from the history kept in memory, cut to the range. A GPU
//! Prometheus has no series of has an empty chart, as Prometheus is then the source.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

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

/// Each GPU's samples (by UUID), oldest first.
pub type Histories = HashMap<String, Vec<Sample>>;

/// The most answers [`ChartCache`] keeps (open node pages and ranges at once).
const MAX_CACHED: usize = 128;

/// What an answer was asked for: a range and the GPUs of one node page.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    range: HistoryRange,
    uuids: Vec<String>,
}

impl CacheKey {
    pub fn new(range: HistoryRange, uuids: &[&str]) -> CacheKey {
        let mut uuids: Vec<String> = uuids.iter().map(|u| u.to_string()).collect();
        uuids.sort_unstable();
        CacheKey { range, uuids }
    }
}

/// Prometheus's answers for the charts, each kept until its next step is due, so a page that
/// refreshes every cycle asks at most once a step.
#[derive(Debug, Default)]
pub struct ChartCache {
    answers: HashMap<CacheKey, (Instant, Arc<Histories>)>,
}

impl ChartCache {
    /// The answer for `key`, unless it expired by `now`.
    pub fn get(&self, key: &CacheKey, now: Instant) -> Option<Arc<Histories>> {
        self.answers
            .get(key)
            .filter(|(until, _)| *until > now)
            .map(|(_, histories)| histories.clone())
    }

    /// Keeps `histories` for `key` until `until`; when full, expired answers go first, then all.
    pub fn insert(&mut self, key: CacheKey, histories: Arc<Histories>, until: Instant) {
        if self.answers.len() >= MAX_CACHED {
            let now = Instant::now();
            self.answers.retain(|_, (kept_until, _)| *kept_until > now);
            if self.answers.len() >= MAX_CACHED {
                self.answers.clear();
            }
        }
        self.answers.insert(key, (until, histories));
    }
}

/// What one node's charts show.
#[derive(Debug, Default)]
pub struct ChartHistory {
    /// The range the samples cover.
    pub range: HistoryRange,
    /// Each GPU's samples (by UUID), oldest first.
    pub by_gpu: Histories,
    /// Why Prometheus gave no history (the samples are then the ones kept in memory).
    pub error: Option<ExporterError>,
}

/// Whether `uuid` can go in a query's regular expression as it is: NVIDIA's `GPU-…` and
/// `MIG-…` names can; a label value with other characters is not asked for.
pub fn is_plain_uuid(uuid: &str) -> bool {
    !uuid.is_empty() && uuid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// The smallest window a point averages over: a minute holds at least one sample of a scrape
/// every 15 s, as deploy/prometheus's PodMonitor scrapes.
const MIN_WINDOW_S: i64 = 60;

/// One range query per charted field, of the GPUs `uuids`: the field's average over each step
/// (at least a minute), so a day's or a week's points summarize their step rather than sample
/// it. None when no UUID can be asked for.
pub fn range_queries(
    uuids: &[&str],
    range: HistoryRange,
) -> Option<Vec<(&'static DcgmField, String)>> {
    let plain: Vec<&str> = uuids.iter().copied().filter(|u| is_plain_uuid(u)).collect();
    if plain.is_empty() {
        return None;
    }
    let window_s = range.step_seconds().max(MIN_WINDOW_S);
    let selector = format!("{}=~\"{}\"", labels::UUID, plain.join("|"));
    Some(
        CHARTED
            .iter()
            .map(|field| {
                let query = format!("avg_over_time({}{{{selector}}}[{window_s}s])", field.series);
                (*field, query)
            })
            .collect(),
    )
}

/// Each GPU's samples in the answers of [`range_queries`], one per step with any charted value,
/// oldest first. Series of MIG instances or without a UUID are skipped; where a GPU's series
/// split (its holder changed), their values for one step are merged.
pub fn histories_of(answers: &[(&DcgmField, Vec<MatrixSeries>)]) -> Histories {
    let mut by_gpu: HashMap<&str, BTreeMap<i64, GpuFields>> = HashMap::new();
    for (field, series) in answers {
        for one in series {
            add_series(&mut by_gpu, field, one);
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

/// Adds one series of `field` to its GPU's steps.
fn add_series<'a>(
    by_gpu: &mut HashMap<&'a str, BTreeMap<i64, GpuFields>>,
    field: &DcgmField,
    one: &'a MatrixSeries,
) {
    let uuid = one.metric.get(labels::UUID).map(String::as_str);
    let Some(uuid) = uuid.filter(|u| !u.is_empty()) else {
        return;
    };
    if one.metric.contains_key(labels::MIG_INSTANCE) {
        return;
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

    /// A series of an `avg_over_time` answer: no name, its GPU's labels.
    fn series(uuid: &str, values: &[(f64, &str)]) -> MatrixSeries {
        let metric = HashMap::from([
            (labels::UUID.to_string(), uuid.to_string()),
            ("Hostname".to_string(), "node-110".to_string()),
        ]);
        MatrixSeries {
            metric,
            values: values.iter().map(|(t, v)| (*t, v.to_string())).collect(),
        }
    }

    #[test]
    fn one_query_per_charted_field_of_plain_uuids_averaged_over_each_step() {
        let queries = range_queries(&["GPU-1a2b", "GPU-\"}or{", "MIG-3"], HistoryRange::Day)
            .expect("queries");
        let fields: Vec<&str> = queries.iter().map(|(f, _)| f.series).collect();
        assert_eq!(fields, CHARTED.iter().map(|f| f.series).collect::<Vec<_>>());
        assert_eq!(
            queries[0].1,
            "avg_over_time(DCGM_FI_DEV_GPU_UTIL{UUID=~\"GPU-1a2b|MIG-3\"}[360s])"
        );
        // The hour's 15 s steps average over a minute, which always holds a 15 s scrape.
        let hour = range_queries(&["GPU-1"], HistoryRange::Hour).expect("queries");
        assert!(hour[0].1.ends_with("[60s])"), "{}", hour[0].1);
        assert!(range_queries(&["a.b", ""], HistoryRange::Hour).is_none());
    }

    #[test]
    fn series_become_one_sample_per_step_per_gpu() {
        let mut mig = series("GPU-b", &[(115.0, "99")]);
        mig.metric.insert(labels::MIG_INSTANCE.into(), "1".into());
        let answers = vec![
            (
                &dcgm::UTILIZATION_PERCENT,
                vec![
                    series("GPU-a", &[(100.0, "40"), (115.0, "60")]),
                    // The same GPU under another holder: its values join the same steps.
                    series("GPU-a", &[(130.0, "80")]),
                    mig,
                ],
            ),
            (
                &dcgm::MEMORY_USED_BYTES,
                vec![series("GPU-a", &[(100.0, "2048"), (130.0, "NaN")])],
            ),
            (
                &dcgm::TEMPERATURE_CELSIUS,
                vec![series("GPU-b", &[(115.0, "51")])],
            ),
            (&dcgm::POWER_WATTS, vec![series("", &[(115.0, "300")])]),
        ];
        let histories = histories_of(&answers);
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
    fn the_cache_keeps_an_answer_for_its_step_and_stays_bounded() {
        let mut cache = ChartCache::default();
        let now = Instant::now();
        let key = CacheKey::new(HistoryRange::Day, &["GPU-b", "GPU-a"]);
        cache.insert(key.clone(), Arc::default(), now + Duration::from_secs(360));
        // The same GPUs in another order are the same page.
        let same = CacheKey::new(HistoryRange::Day, &["GPU-a", "GPU-b"]);
        assert!(cache.get(&same, now).is_some());
        assert!(cache.get(&same, now + Duration::from_secs(361)).is_none());
        assert!(
            cache
                .get(&CacheKey::new(HistoryRange::Week, &["GPU-a", "GPU-b"]), now)
                .is_none()
        );
        for i in 0..MAX_CACHED * 2 {
            let key = CacheKey::new(HistoryRange::Hour, &[&format!("GPU-{i}")]);
            cache.insert(key, Arc::default(), now + Duration::from_secs(15));
            assert!(cache.answers.len() <= MAX_CACHED);
        }
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
