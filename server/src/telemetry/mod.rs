//! GPU telemetry for the dashboard. Every interval it gets each node's GPUs from its source
//! ([`GpuSource`]): each exporter's `/api/v1/gpus`, or each dcgm-exporter's `/metrics` (which
//! exporters: [`discovery`]; the text read by [`dcgm`]), with bounded concurrency, a per-request timeout and a bounded answer; or one instant query of Prometheus
//! ([`prometheus`], its samples made into nodes by [`dcgm`]). It keeps a bounded history per GPU
//! ([`history`]), and marks a node whose exporter fails, or whose series Prometheus no longer
//! has, as stale with the time of its last good sample (stale is never shown as zero). Readers get
//! the whole latest state as one shared snapshot, never a copy.

pub mod bounds;
pub mod charts;
pub mod dcgm;
pub mod discovery;
pub mod history;
pub mod prometheus;
mod str_seed;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use bytes::Bytes;
use frontend::contract::{ExporterError, HistoryRange, SampleSource};
use futures::StreamExt;
use gpuboard_exporter_api::NodeGpus;
use gpuboard_exporter_api::dcgm::labels;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::reflector::Store;
use parking_lot::RwLock;

use charts::ChartHistory;
use discovery::{AnswerFormat, ExporterKind, ExporterTarget, exporter_targets, pods_without_port};
use history::GpuHistory;
use prometheus::{Prometheus, PrometheusConfigError, PrometheusSettings};

/// Where the GPU samples come from.
#[derive(Debug, Clone)]
pub enum GpuSource {
    /// Each exporter pod on the nodes: gpuboard-exporter's JSON, or dcgm-exporter's text.
    Exporters(ExporterKind),
    /// Prometheus's instant queries of the DCGM series (from gpuboard-exporter or dcgm-exporter).
    Prometheus(PrometheusSettings),
}

impl GpuSource {
    /// How much history to keep per GPU in memory unless told: an hour for the charts when
    /// asking the exporters; beside Prometheus, which keeps the history and draws the charts,
    /// a quarter of an hour, shown while Prometheus does not answer (at 40,000 GPUs an hour
    /// in memory is some 450 MiB).
    pub fn default_history(&self) -> Duration {
        match self {
            GpuSource::Exporters(_) => Duration::from_secs(3600),
            GpuSource::Prometheus(_) => Duration::from_secs(15 * 60),
        }
    }
}

/// How the collector runs (all are `gpuboard serve` flags).
#[derive(Debug, Clone)]
pub struct TelemetrySettings {
    pub interval: Duration,
    pub concurrency: usize,
    pub timeout: Duration,
    /// How much history to keep per GPU in memory ([`GpuSource::default_history`] unless
    /// told).
    pub history: Duration,
    pub source: GpuSource,
}

/// How long, at least, a node Prometheus has no samples of (every node, while Prometheus does
/// not answer) stays, stale with its last numbers and the reason: an outage shorter than this
/// does not empty the pages, however little history is kept in memory.
pub const MISSING_KEPT_AT_LEAST: Duration = Duration::from_secs(3600);

impl TelemetrySettings {
    /// How long a node without samples stays: as long as history is kept, and at least
    /// [`MISSING_KEPT_AT_LEAST`].
    pub fn missing_kept_for(&self) -> Duration {
        self.history.max(MISSING_KEPT_AT_LEAST)
    }
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        let source = GpuSource::Exporters(ExporterKind::Gpuboard);
        TelemetrySettings {
            interval: Duration::from_secs(5),
            concurrency: 64,
            timeout: Duration::from_secs(2),
            history: source.default_history(),
            source,
        }
    }
}

/// What the dashboard knows of one node's GPUs.
#[derive(Debug, Clone, Default)]
pub struct NodeTelemetry {
    /// The last good answer; kept while the exporter fails, so the page can say how old it is.
    pub last_good: Option<Arc<NodeGpus>>,
    /// When the last good answer came, Unix ms.
    pub last_good_at_ms: Option<i64>,
    /// Why the last fetch failed; None when it succeeded.
    pub error: Option<ExporterError>,
}

impl NodeTelemetry {
    /// Whether the last fetch failed (the values are from `last_good_at_ms`).
    pub fn is_stale(&self) -> bool {
        self.error.is_some()
    }
}

/// Every node's telemetry at the end of one cycle.
pub type TelemetrySnapshot = Arc<HashMap<String, NodeTelemetry>>;

/// How the last cycles went, for the dashboard's own `/metrics`.
#[derive(Debug, Default)]
pub struct CycleStats {
    pub cycles: AtomicU64,
    pub last_duration_us: AtomicU64,
    pub last_targets: AtomicU64,
    pub last_answered: AtomicU64,
    /// Exporter fetches that failed, over every cycle.
    pub failures: AtomicU64,
}

impl GpuSource {
    /// The source, as the pages name it.
    pub fn kind(&self) -> SampleSource {
        match self {
            GpuSource::Exporters(ExporterKind::Gpuboard) => SampleSource::GpuboardExporter,
            GpuSource::Exporters(ExporterKind::Dcgm { .. }) => SampleSource::DcgmExporter,
            GpuSource::Prometheus(_) => SampleSource::Prometheus,
        }
    }
}

/// The exporters' latest answers and per-GPU history, shared by all page views.
pub struct Telemetry {
    nodes: ArcSwap<HashMap<String, NodeTelemetry>>,
    history: RwLock<HashMap<String, GpuHistory>>,
    /// Counts finished cycles; open pages are told through `/events` when it moves.
    cycles: tokio::sync::watch::Sender<u64>,
    pub stats: CycleStats,
    /// Where the samples come from.
    source: SampleSource,
    /// Prometheus, when it is the source: the charts' longer ranges are asked of it.
    prometheus: Option<Prometheus>,
    /// How much history is kept in memory per GPU (`--telemetry-history`).
    history_span: Duration,
    /// Prometheus's recent answers for the charts, each kept for one step.
    chart_cache: parking_lot::Mutex<charts::ChartCache>,
    /// Why Prometheus, when it is the source, did not answer the last cycle (None when it did).
    source_failure: RwLock<Option<String>>,
}

/// The source as the doctor reads it: what it is, and why it gives no samples at all now
/// (Prometheus not answering), so a node it never had samples of is said in those words.
#[derive(Debug, Clone, Default)]
pub struct SourceNow {
    /// What the source is.
    pub kind: SampleSource,
    /// Why it did not answer the last cycle, when it is Prometheus and did not.
    pub failure: Option<String>,
}

impl Default for Telemetry {
    fn default() -> Self {
        Telemetry {
            nodes: ArcSwap::default(),
            history: RwLock::default(),
            cycles: tokio::sync::watch::Sender::new(0),
            stats: CycleStats::default(),
            source: SampleSource::default(),
            prometheus: None,
            history_span: TelemetrySettings::default().history,
            chart_cache: parking_lot::Mutex::default(),
            source_failure: RwLock::default(),
        }
    }
}

type HttpClient = Client<HttpConnector, Empty<Bytes>>;

async fn fetch(
    client: &HttpClient,
    target: &ExporterTarget,
    timeout: Duration,
) -> Result<NodeGpus, ExporterError> {
    let uri: http::Uri = target
        .url
        .parse()
        .map_err(|e| ExporterError::Unreachable(format!("bad address {}: {e}", target.url)))?;
    let answer = tokio::time::timeout(timeout, async {
        let response = client
            .get(uri)
            .await
            .map_err(|e| ExporterError::Unreachable(e.to_string()))?;
        if !response.status().is_success() {
            return Err(ExporterError::Status(response.status().as_u16()));
        }
        let limit = match target.format {
            AnswerFormat::GpuboardJson => bounds::MAX_ANSWER_BYTES,
            AnswerFormat::DcgmText => bounds::MAX_TEXT_ANSWER_BYTES,
        };
        let body = Limited::new(response.into_body(), limit)
            .collect()
            .await
            .map_err(|e| {
                ExporterError::Invalid(if e.is::<http_body_util::LengthLimitError>() {
                    format!("larger than {} KiB", limit / 1024)
                } else {
                    e.to_string()
                })
            })?
            .to_bytes();
        match target.format {
            AnswerFormat::GpuboardJson => read_answer(&body),
            AnswerFormat::DcgmText => read_dcgm_text(&target.node, &body),
        }
    })
    .await
    .map_err(|_| ExporterError::Timeout {
        ms: timeout.as_millis() as u64,
    })??;
    if answer.node != target.node {
        return Err(ExporterError::WrongNode(answer.node));
    }
    Ok(answer)
}

/// The longest refusal of an exporter's answer, before the ellipsis that says it was cut.
const MAX_MESSAGE_BYTES: usize = 200;

/// An exporter's answer from its bytes: its JSON, refused whole when over a bound (either
/// refusal said in at most 200 bytes).
fn read_answer(body: &[u8]) -> Result<NodeGpus, ExporterError> {
    let answer = serde_json::from_slice::<NodeGpus>(body)
        .map_err(|e| ExporterError::Invalid(shortened(e.to_string())))?;
    bounds::check(&answer).map_err(|why| ExporterError::Invalid(shortened(why)))?;
    Ok(answer)
}

/// A dcgm-exporter's answer: its text's GPUs, all on the target's node (an answer with no GPU
/// series is a node without GPU data, saying so), refused whole when over a bound.
fn read_dcgm_text(node: &str, body: &[u8]) -> Result<NodeGpus, ExporterError> {
    let text = std::str::from_utf8(body)
        .map_err(|e| ExporterError::Invalid(shortened(format!("not UTF-8 text: {e}"))))?;
    let now = jiff::Timestamp::now().as_millisecond();
    match dcgm::read_text(node, text, now) {
        Some(Ok(gpus)) => Ok(gpus),
        Some(Err(refused)) => Err(refused.into()),
        None => Ok(NodeGpus {
            node: node.to_string(),
            sampled_at_ms: now,
            unavailable: Some(
                "its /metrics has no DCGM GPU series: check that --dcgm-exporter-selector picks \
                 dcgm-exporter's pods"
                    .into(),
            ),
            ..Default::default()
        }),
    }
}

/// Each node's GPUs from the samples of [`CycleQueries`], or why its samples were refused: the
/// labelled samples name each GPU's node (the values' GPUs are found by UUID among them), and
/// come first, as a GPU's identity is read from its first sample.
fn nodes_of(
    labelled: &[prometheus::VectorSample],
    values: &[prometheus::VectorSample],
    now: i64,
) -> HashMap<String, Result<NodeGpus, ExporterError>> {
    let mut assembler = dcgm::Assembler::default();
    let mut node_of_gpu: HashMap<&str, &str> = HashMap::new();
    for sample in labelled {
        if let Some(value) = sample.number() {
            let node = dcgm::node_label(&sample.metric).unwrap_or_default();
            if let Some(uuid) = dcgm::LabelSet::label(&sample.metric, labels::UUID) {
                node_of_gpu.entry(uuid).or_insert(node);
            }
            assembler.add(node, sample.name(), &sample.metric, value);
        }
    }
    for sample in values {
        let uuid = dcgm::LabelSet::label(&sample.metric, labels::UUID);
        match (sample.number(), uuid.and_then(|u| node_of_gpu.get(u))) {
            (Some(value), Some(node)) => assembler.add(node, sample.name(), &sample.metric, value),
            _ => assembler.unplaced += 1,
        }
    }
    if assembler.unplaced > 0 {
        tracing::debug!(
            samples = assembler.unplaced,
            "Prometheus samples without a usable node label or a UUID"
        );
    }
    assembler
        .finish(now)
        .into_iter()
        .map(|(node, gpus)| (node, gpus.map_err(ExporterError::from)))
        .collect()
}

impl From<dcgm::NodeRefusal> for ExporterError {
    fn from(dcgm::NodeRefusal::OverBound(why): dcgm::NodeRefusal) -> Self {
        ExporterError::Invalid(shortened(why))
    }
}

/// The nodes seen before that `results` lacks and that had a good answer within `kept_for` ms of
/// `now`: they stay, stale; older ones leave with their history.
fn still_missed(
    previous: &HashMap<String, NodeTelemetry>,
    results: &HashMap<String, Result<NodeGpus, ExporterError>>,
    now: i64,
    kept_for: i64,
) -> Vec<String> {
    previous
        .iter()
        .filter(|(node, seen)| {
            !results.contains_key(*node)
                && seen
                    .last_good_at_ms
                    .is_some_and(|at| now.saturating_sub(at) <= kept_for)
        })
        .map(|(node, _)| node.clone())
        .collect()
}

/// The two instant queries of a cycle over Prometheus. The series that name a GPU, its node and
/// its holders come with every label; every other value only with its name and its GPU's UUID
/// (`max by`), which makes the answer about a third as large: at 40,000 GPUs one query of every
/// series with its labels is some 300 MB.
struct CycleQueries {
    labelled: String,
    values: String,
}

impl CycleQueries {
    fn new() -> CycleQueries {
        let values: Vec<&str> = dcgm::value_series().collect();
        CycleQueries {
            labelled: format!("{{__name__=~\"{}\"}}", dcgm::LABELLED_SERIES.join("|")),
            values: format!(
                "max by (__name__, {}, {}) ({{__name__=~\"{}\"}})",
                labels::UUID,
                labels::MIG_INSTANCE,
                values.join("|")
            ),
        }
    }
}

/// A parse error quotes what it met; keep what the page shows of it short.
fn shortened(mut message: String) -> String {
    if message.len() > MAX_MESSAGE_BYTES {
        let mut end = MAX_MESSAGE_BYTES;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
        message.push('…');
    }
    message
}

impl Telemetry {
    /// Starts the collector: over the exporter pods of `exporters`, or over Prometheus when the
    /// settings name it (refused at once when its settings cannot be used).
    pub fn start(
        exporters: Store<Pod>,
        settings: TelemetrySettings,
    ) -> Result<Arc<Self>, PrometheusConfigError> {
        let prometheus = match &settings.source {
            GpuSource::Prometheus(prometheus) => {
                Some(Prometheus::new(prometheus, settings.timeout)?)
            }
            GpuSource::Exporters(_) => None,
        };
        let telemetry = Arc::new(Telemetry {
            source: settings.source.kind(),
            prometheus: prometheus.clone(),
            history_span: settings.history,
            ..Telemetry::default()
        });
        let running = telemetry.clone();
        if let GpuSource::Exporters(kind) = &settings.source {
            let kind = kind.clone();
            tokio::spawn(async move { running.run(exporters, kind, settings).await });
        } else if let Some(prometheus) = prometheus {
            tokio::spawn(async move { running.run_prometheus(prometheus, settings).await });
        }
        Ok(telemetry)
    }

    async fn run_prometheus(&self, prometheus: Prometheus, settings: TelemetrySettings) {
        let mut ticker = tokio::time::interval(settings.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tracing::info!(url = prometheus.url(), "GPU samples from Prometheus");
        let queries = CycleQueries::new();
        loop {
            ticker.tick().await;
            let answered = self
                .prometheus_cycle(&prometheus, &queries, &settings)
                .await;
            tracing::debug!(answered, "telemetry cycle over Prometheus");
        }
    }

    /// The instant queries of every series the pages read ([`CycleQueries`]); returns how many
    /// nodes they had samples of. A node it no longer has, or every node when the query fails,
    /// is kept stale with the reason for [`TelemetrySettings::missing_kept_for`]
    /// ([`still_missed`]).
    async fn prometheus_cycle(
        &self,
        prometheus: &Prometheus,
        queries: &CycleQueries,
        settings: &TelemetrySettings,
    ) -> usize {
        let started = Instant::now();
        let answer = tokio::try_join!(
            prometheus.instant(&queries.labelled),
            prometheus.instant(&queries.values)
        );
        let now = jiff::Timestamp::now().as_millisecond();
        let (mut results, missing) = match answer {
            Ok((labelled, values)) => {
                *self.source_failure.write() = None;
                (nodes_of(&labelled, &values, now), ExporterError::NoSeries)
            }
            Err(error) => {
                tracing::warn!(url = prometheus.url(), %error, "asking Prometheus failed");
                let why = shortened(error.to_string());
                *self.source_failure.write() = Some(why.clone());
                (HashMap::new(), ExporterError::Prometheus(why))
            }
        };
        let kept_for = i64::try_from(settings.missing_kept_for().as_millis()).unwrap_or(i64::MAX);
        for node in still_missed(&self.nodes.load(), &results, now, kept_for) {
            results.insert(node, Err(missing.clone()));
        }
        self.record(results.into_iter().collect(), settings, started)
    }

    async fn run(&self, exporters: Store<Pod>, kind: ExporterKind, settings: TelemetrySettings) {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(settings.timeout));
        connector.set_nodelay(true);
        let client: HttpClient = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(settings.interval * 3)
            .build(connector);
        let mut ticker = tokio::time::interval(settings.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        if exporters.wait_until_ready().await.is_err() {
            tracing::error!("the exporter pods' watch stopped before its first list; no telemetry");
            return;
        }
        let mut without_port_logged = 0;
        loop {
            ticker.tick().await;
            let pods = exporters.state();
            let targets = exporter_targets(&pods, &kind);
            let without_port = pods_without_port(&pods, &kind);
            log_pods_without_port(
                &mut without_port_logged,
                &without_port,
                targets.len(),
                &kind,
            );
            let answered = self.cycle(&client, &targets, &settings).await;
            tracing::debug!(exporters = targets.len(), answered, "telemetry cycle");
        }
    }

    /// One round over every exporter; returns how many answered.
    pub async fn cycle_once(
        &self,
        targets: &[ExporterTarget],
        settings: &TelemetrySettings,
    ) -> usize {
        let client: HttpClient = Client::builder(TokioExecutor::new()).build(HttpConnector::new());
        self.cycle(&client, targets, settings).await
    }

    async fn cycle(
        &self,
        client: &HttpClient,
        targets: &[ExporterTarget],
        settings: &TelemetrySettings,
    ) -> usize {
        let started = Instant::now();
        let timeout = settings.timeout;
        let results: Vec<(String, Result<NodeGpus, ExporterError>)> =
            futures::stream::iter(targets.to_vec())
                .map(|t| {
                    let client = client.clone();
                    async move {
                        let result = fetch(&client, &t, timeout).await;
                        (t.node, result)
                    }
                })
                .buffer_unordered(settings.concurrency.max(1))
                .collect()
                .await;
        self.record(results, settings, started)
    }

    /// Keeps one cycle's answers: each node's latest good answer or why it failed, and every GPU's
    /// history; a node not among `results` leaves, and its GPUs' history with it. Returns how
    /// many nodes answered.
    fn record(
        &self,
        results: Vec<(String, Result<NodeGpus, ExporterError>)>,
        settings: &TelemetrySettings,
        started: Instant,
    ) -> usize {
        let targets = results.len();
        let now = jiff::Timestamp::now().as_millisecond();
        let previous = self.nodes.load();
        let mut nodes: HashMap<String, NodeTelemetry> = HashMap::with_capacity(results.len());
        let mut answered = 0;
        {
            let mut history = self.history.write();
            for (node, result) in results {
                let mut entry = previous.get(&node).cloned().unwrap_or_default();
                match result {
                    Ok(gpus) => {
                        answered += 1;
                        for gpu in &gpus.gpus {
                            history
                                .entry(gpu.identity.uuid.clone())
                                .or_insert_with(|| {
                                    GpuHistory::new(settings.history, settings.interval)
                                })
                                .push(now, &gpu.fields);
                        }
                        entry.last_good = Some(Arc::new(gpus));
                        entry.last_good_at_ms = Some(now);
                        entry.error = None;
                    }
                    Err(e) => {
                        self.stats.failures.fetch_add(1, Ordering::Relaxed);
                        entry.error = Some(e);
                    }
                }
                nodes.insert(node, entry);
            }
            // Nodes whose exporter pod went away leave, and their GPUs' history with them.
            let kept: HashSet<&str> = nodes
                .values()
                .filter_map(|n| n.last_good.as_ref())
                .flat_map(|g| g.gpus.iter().map(|gpu| gpu.identity.uuid.as_str()))
                .collect();
            history.retain(|uuid, _| kept.contains(uuid.as_str()));
        }
        self.nodes.store(Arc::new(nodes));
        let stats = &self.stats;
        stats.cycles.fetch_add(1, Ordering::Relaxed);
        stats
            .last_duration_us
            .store(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        stats.last_targets.store(targets as u64, Ordering::Relaxed);
        stats
            .last_answered
            .store(answered as u64, Ordering::Relaxed);
        self.cycles.send_modify(|c| *c += 1);
        answered
    }

    /// Why Prometheus, the source, did not answer the last cycle; None when it did, or when
    /// the exporters are the source (each node's own error says why it gives none).
    pub fn source_failure(&self) -> Option<String> {
        self.source_failure.read().clone()
    }

    /// Where the samples come from and why the source gives none now, if so.
    pub fn source_now(&self) -> SourceNow {
        SourceNow {
            kind: self.source,
            failure: self.source_failure(),
        }
    }

    /// A receiver that changes after every cycle, for the push channel.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.cycles.subscribe()
    }

    /// Every node's telemetry as of the last cycle: shared, not copied.
    pub fn snapshot(&self) -> TelemetrySnapshot {
        self.nodes.load_full()
    }

    /// One node's telemetry.
    pub fn node(&self, name: &str) -> Option<NodeTelemetry> {
        self.nodes.load().get(name).cloned()
    }

    /// The history of one GPU, oldest first.
    pub fn history(&self, uuid: &str) -> Vec<history::Sample> {
        self.history
            .read()
            .get(uuid)
            .map(|h| h.samples())
            .unwrap_or_default()
    }

    /// The ranges the charts can show: every one with Prometheus, else those within the history
    /// kept in memory.
    pub fn history_ranges(&self) -> Vec<HistoryRange> {
        match self.prometheus {
            Some(_) => HistoryRange::ALL.to_vec(),
            None => charts::ranges_within(self.history_span),
        }
    }

    /// The charts of the GPUs `uuids` over `asked`: asked of Prometheus when it is the source
    /// (its answer kept for one step), else (or when it fails, saying why) the history kept in
    /// memory, over `asked` where it covers that range and over the hour where it does not. A
    /// GPU whose UUID cannot be put in a query has its history from memory too.
    pub async fn chart_history(&self, uuids: &[&str], asked: HistoryRange) -> ChartHistory {
        let now_s = jiff::Timestamp::now().as_second();
        let (from_prometheus, error) = match self.prometheus_history(uuids, asked, now_s).await {
            Ok(Some(by_gpu)) => (Some(by_gpu), None),
            Ok(None) => (None, None),
            Err(e) => (None, Some(e)),
        };
        let in_memory = charts::ranges_within(self.history_span);
        let range = match &from_prometheus {
            Some(_) => asked,
            None if in_memory.contains(&asked) => asked,
            None => HistoryRange::Hour,
        };
        let by_gpu = uuids
            .iter()
            .map(|uuid| {
                let samples = match &from_prometheus {
                    Some(answer) if charts::is_plain_uuid(uuid) => {
                        answer.get(*uuid).cloned().unwrap_or_default()
                    }
                    _ => charts::within(self.history(uuid), range, now_s),
                };
                (uuid.to_string(), samples)
            })
            .collect();
        ChartHistory {
            range,
            by_gpu,
            error,
        }
    }

    /// The charted fields of `uuids` over `range` from Prometheus, or from its answer of less
    /// than a step ago; None when it is not the source or no UUID can be asked for.
    async fn prometheus_history(
        &self,
        uuids: &[&str],
        range: HistoryRange,
        now_s: i64,
    ) -> Result<Option<Arc<charts::Histories>>, ExporterError> {
        let Some(prometheus) = &self.prometheus else {
            return Ok(None);
        };
        let key = charts::CacheKey::new(range, uuids);
        if let Some(kept) = self.chart_cache.lock().get(&key, Instant::now()) {
            return Ok(Some(kept));
        }
        let Some(queries) = charts::range_queries(uuids, range) else {
            return Ok(None);
        };
        let start_s = now_s - range.seconds();
        let step_s = range.step_seconds();
        let answers = futures::future::try_join_all(queries.into_iter().map(
            |(field, query)| async move {
                let series = prometheus.range(&query, start_s, now_s, step_s).await?;
                Ok::<_, prometheus::PrometheusError>((field, series))
            },
        ))
        .await
        .map_err(|e| {
            tracing::warn!(url = prometheus.url(), error = %e, "the charts' range query failed");
            ExporterError::Prometheus(shortened(e.to_string()))
        })?;
        let histories = Arc::new(charts::histories_of(&answers));
        self.chart_cache.lock().insert(
            key,
            histories.clone(),
            Instant::now() + Duration::from_secs(step_s as u64),
        );
        Ok(Some(histories))
    }
}

/// What the log says of the exporter pods that declare no port of the name given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PortNews {
    /// Nothing new: none lack it, or no more than were last logged.
    Quiet,
    /// More lack it than were last logged.
    Warn,
    /// None lacks it now, while some did and pods are asked (not while they restart).
    Cleared,
}

/// What to log, from how many pods lacked the port when last logged, how many do now and how
/// many exporters are asked; so a rollout that changes the pods every cycle warns once.
fn port_news(logged: usize, now: usize, asked: usize) -> PortNews {
    if now > logged {
        PortNews::Warn
    } else if now == 0 && logged > 0 && asked > 0 {
        PortNews::Cleared
    } else {
        PortNews::Quiet
    }
}

/// Logs by [`port_news`] the exporter pods `without` the exporter port (from
/// [`pods_without_port`]); `logged` is how many were last logged. Their nodes have no telemetry
/// and the doctor says so per node; this says why, once.
fn log_pods_without_port(
    logged: &mut usize,
    without: &[String],
    asked: usize,
    kind: &ExporterKind,
) {
    let first = without.first().map(String::as_str).unwrap_or_default();
    match (port_news(*logged, without.len(), asked), kind) {
        (PortNews::Quiet, _) => return,
        (PortNews::Warn, ExporterKind::Dcgm { port, .. }) => tracing::warn!(
            pods = without.len(),
            first,
            %port,
            "exporter pods declare no container port of this name, so their nodes are not asked: set --dcgm-exporter-port to the name or number their port has"
        ),
        (PortNews::Warn, ExporterKind::Gpuboard) => tracing::warn!(
            pods = without.len(),
            first,
            "gpuboard-exporter pods declare no usable port named metrics, so their nodes are not asked: re-apply deploy/exporter.yaml"
        ),
        (PortNews::Cleared, _) => tracing::info!(
            port = %kind.port_setting(),
            "every exporter pod declares the exporter port again"
        ),
    }
    *logged = without.len();
}

#[cfg(test)]
mod tests {
    use gpuboard_exporter_api::Gpu;
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn pods_without_the_port_are_warned_of_once_and_cleared_only_while_pods_are_asked() {
        assert_eq!(port_news(0, 0, 5), PortNews::Quiet);
        assert_eq!(port_news(0, 3, 2), PortNews::Warn);
        // A rollout: the set changes, but no more lack it than were logged.
        assert_eq!(port_news(3, 3, 2), PortNews::Quiet);
        assert_eq!(port_news(3, 2, 3), PortNews::Quiet);
        assert_eq!(port_news(3, 4, 1), PortNews::Warn);
        // The pods restarting (none asked) is not the port fixed.
        assert_eq!(port_news(3, 0, 0), PortNews::Quiet);
        assert_eq!(port_news(3, 0, 5), PortNews::Cleared);
    }

    #[test]
    fn a_node_without_samples_stays_an_hour_at_least_whatever_history_is_kept() {
        let kept_for = |minutes: u64| {
            TelemetrySettings {
                history: Duration::from_secs(minutes * 60),
                ..Default::default()
            }
            .missing_kept_for()
        };
        assert_eq!(kept_for(15), MISSING_KEPT_AT_LEAST);
        assert_eq!(kept_for(120), Duration::from_secs(7200));
    }

    /// A real answer's bytes: two GPUs.
    fn real_answer() -> Vec<u8> {
        let mut gpus = vec![Gpu::default(), Gpu::default()];
        for (i, gpu) in gpus.iter_mut().enumerate() {
            gpu.identity.uuid = format!("GPU-{i}");
            gpu.identity.name = "NVIDIA GeForce GTX 1080 Ti".into();
        }
        let answer = NodeGpus {
            node: "node-110".into(),
            gpus,
            ..Default::default()
        };
        serde_json::to_vec(&answer).expect("JSON")
    }

    /// Whatever the bytes, an answer within the bounds or a short refusal; never a panic.
    fn read_is_total(body: &[u8]) -> Result<(), TestCaseError> {
        match read_answer(body) {
            // read_answer checks the bounds itself before it answers.
            Ok(_) => {}
            Err(ExporterError::Invalid(why)) => {
                prop_assert!(
                    why.len() <= MAX_MESSAGE_BYTES + '…'.len_utf8(),
                    "{}",
                    why.len()
                )
            }
            Err(other) => prop_assert!(false, "not a refusal of the answer: {other:?}"),
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn a_real_answer_changed_anywhere_is_read_or_refused(
            edits in proptest::collection::vec((any::<proptest::sample::Index>(), any::<u8>()), 1..8),
            cut in any::<proptest::sample::Index>(),
        ) {
            let mut body = real_answer();
            for (at, byte) in edits {
                let at = at.index(body.len());
                body[at] = byte;
            }
            read_is_total(&body)?;
            read_is_total(&body[..cut.index(body.len())])?;
        }

        #[test]
        fn an_answer_is_kept_exactly_when_within_its_bounds(
            node in "[a-z0-9.名é-]{0,270}",
            uuids in proptest::collection::vec("[A-Z0-9-]{1,8}|[a-f0-9]{250,256}", 0..70),
            pods_on_first in 0usize..70,
        ) {
            let mut gpus: Vec<Gpu> = uuids.iter().map(|uuid| {
                let mut gpu = Gpu::default();
                gpu.identity.uuid = uuid.clone();
                gpu
            }).collect();
            if let Some(first) = gpus.first_mut() {
                first.pods = (0..pods_on_first)
                    .map(|i| gpuboard_exporter_api::PodRef {
                        namespace: "team-a".into(),
                        pod: format!("train-{i}"),
                        container: "main".into(),
                    })
                    .collect();
            }
            let within = node.len() <= bounds::MAX_NAME_BYTES
                && gpus.len() <= bounds::MAX_GPUS
                && uuids.iter().all(|u| u.len() <= bounds::MAX_NAME_BYTES)
                && (gpus.is_empty() || pods_on_first <= bounds::MAX_PODS_PER_GPU);
            let answer = NodeGpus { node, gpus, ..Default::default() };
            let body = serde_json::to_vec(&answer).expect("JSON");
            read_is_total(&body)?;
            prop_assert_eq!(read_answer(&body).is_ok(), within);
        }

        #[test]
        fn any_bytes_are_read_or_refused(body in proptest::collection::vec(any::<u8>(), 0..512)) {
            read_is_total(&body)?;
        }

        /// dcgm-exporter's text, changed anywhere: its GPUs on the target's node, or a short
        /// refusal; never a panic, never another node.
        #[test]
        fn dcgm_text_changed_anywhere_is_read_or_refused(
            edits in proptest::collection::vec((any::<proptest::sample::Index>(), any::<u8>()), 0..8),
        ) {
            let mut body = DCGM_TEXT.as_bytes().to_vec();
            for (at, byte) in edits {
                let at = at.index(body.len());
                body[at] = byte;
            }
            match read_dcgm_text("node-7", &body) {
                Ok(answer) => {
                    prop_assert_eq!(answer.node.as_str(), "node-7");
                    // An edited UUID makes another GPU; at most one per sample line.
                    prop_assert!(answer.gpus.len() <= 3);
                }
                Err(ExporterError::Invalid(why)) => {
                    prop_assert!(why.len() <= MAX_MESSAGE_BYTES + '…'.len_utf8())
                }
                Err(other) => prop_assert!(false, "not a refusal of the answer: {other:?}"),
            }
        }

        #[test]
        fn any_json_is_read_or_refused(
            text in "[\\[\\]{}\",:0-9a-zA-Z .eE+-]{0,200}",
        ) {
            read_is_total(text.as_bytes())?;
        }
    }

    /// Two GPUs as dcgm-exporter writes them, one held by a pod.
    const DCGM_TEXT: &str = r#"# TYPE DCGM_FI_DEV_GPU_UTIL gauge
DCGM_FI_DEV_GPU_UTIL{gpu="0",UUID="GPU-a",device="nvidia0",modelName="NVIDIA H100 80GB HBM3",Hostname="dcgm-exporter-x1"} 3
DCGM_FI_DEV_GPU_UTIL{gpu="1",UUID="GPU-b",device="nvidia1",modelName="NVIDIA H100 80GB HBM3",Hostname="dcgm-exporter-x1",pod="p",namespace="n",container="c"} 99
# TYPE DCGM_FI_DEV_FB_USED gauge
DCGM_FI_DEV_FB_USED{gpu="1",UUID="GPU-b",device="nvidia1",modelName="NVIDIA H100 80GB HBM3",Hostname="dcgm-exporter-x1",pod="p",namespace="n",container="c"} 1024
"#;

    #[test]
    fn dcgm_text_is_the_targets_node_whatever_its_hostname_says() {
        // Before NODE_NAME was wired in, dcgm-exporter's Hostname was its pod's name.
        let answer = read_dcgm_text("node-7", DCGM_TEXT.as_bytes()).expect("read");
        assert_eq!((answer.node.as_str(), answer.gpus.len()), ("node-7", 2));
        assert_eq!(
            answer.gpus[1].fields.memory_used_bytes,
            Some(1024 * 1024 * 1024)
        );
        let none = read_dcgm_text("node-7", b"go_goroutines 12\n").expect("read");
        assert!(none.gpus.is_empty() && none.unavailable.is_some());
        assert!(matches!(
            read_dcgm_text("node-7", &[0xff, 0xfe]),
            Err(ExporterError::Invalid(why)) if why.contains("UTF-8")
        ));
    }

    #[test]
    fn a_missed_node_stays_stale_for_as_long_as_history_is_kept() {
        let seen = |at: i64| NodeTelemetry {
            last_good_at_ms: Some(at),
            ..Default::default()
        };
        let previous: HashMap<String, NodeTelemetry> = [
            ("answered".to_string(), seen(1_000)),
            ("recent".to_string(), seen(1_000)),
            ("old".to_string(), seen(0)),
            ("never".to_string(), NodeTelemetry::default()),
        ]
        .into();
        let results: HashMap<String, Result<NodeGpus, ExporterError>> =
            [("answered".to_string(), Ok(NodeGpus::default()))].into();
        assert_eq!(still_missed(&previous, &results, 1_500, 1_000), ["recent"]);
        let mut both = still_missed(&previous, &results, 1_000, 1_000);
        both.sort();
        assert_eq!(both, ["old", "recent"]);
        assert!(still_missed(&previous, &results, i64::MIN, i64::MAX).len() == 2);
    }

    #[test]
    fn the_real_answer_is_read() {
        let answer = read_answer(&real_answer()).expect("read");
        assert_eq!((answer.node.as_str(), answer.gpus.len()), ("node-110", 2));
    }
}
