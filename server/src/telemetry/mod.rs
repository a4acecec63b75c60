//! GPU telemetry for the dashboard: finds the exporter pods in the shared cache (label
//! `app.kubernetes.io/name=gpuboard-exporter`, pod IP, the port named `metrics`), fetches each
//! one's `/api/v1/gpus` every interval with bounded concurrency and a per-request timeout, keeps a
//! bounded history per GPU, and marks a node whose exporter fails as stale with the time of its
//! last good sample (stale is never shown as zero).

pub mod history;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use frontend::gpu_api::NodeGpus;
use futures::StreamExt;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use k8s_openapi::api::core::v1::Pod;

use crate::cluster::cache::ClusterCache;
use history::GpuHistory;

pub const EXPORTER_LABEL: (&str, &str) = ("app.kubernetes.io/name", "gpuboard-exporter");
const DEFAULT_EXPORTER_PORT: i32 = 9400;
/// An exporter's answer for a node with many GPUs is tens of KiB; refuse anything absurd.
const MAX_ANSWER_BYTES: usize = 8 * 1024 * 1024;

/// How the collector runs (all are `gpuboard serve` flags).
#[derive(Debug, Clone)]
pub struct TelemetrySettings {
    pub interval: Duration,
    pub concurrency: usize,
    pub timeout: Duration,
    /// How much history to keep per GPU.
    pub history: Duration,
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        TelemetrySettings {
            interval: Duration::from_secs(5),
            concurrency: 64,
            timeout: Duration::from_secs(2),
            history: Duration::from_secs(3600),
        }
    }
}

/// Where a node's exporter answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExporterTarget {
    pub node: String,
    pub url: String,
}

/// What the dashboard knows of one node's GPUs.
#[derive(Debug, Clone, Default)]
pub struct NodeTelemetry {
    /// The last good answer; kept while the exporter fails, so the page can say how old it is.
    pub last_good: Option<Arc<NodeGpus>>,
    /// When the last good answer came, Unix ms.
    pub last_good_at_ms: Option<i64>,
    /// Why the last fetch failed; None when it succeeded.
    pub error: Option<String>,
}

impl NodeTelemetry {
    pub fn is_stale(&self) -> bool {
        self.error.is_some()
    }
}

/// The exporters' latest answers and per-GPU history, shared by all page views.
pub struct Telemetry {
    nodes: RwLock<HashMap<String, NodeTelemetry>>,
    history: RwLock<HashMap<String, GpuHistory>>,
    /// Counts finished cycles; open pages are told through `/events` when it moves.
    cycles: tokio::sync::watch::Sender<u64>,
}

impl Default for Telemetry {
    fn default() -> Self {
        Telemetry {
            nodes: RwLock::default(),
            history: RwLock::default(),
            cycles: tokio::sync::watch::Sender::new(0),
        }
    }
}

/// Finds the exporter targets among the cached pods: running, with an IP, on a node.
pub fn exporter_targets(pods: &[Arc<Pod>]) -> Vec<ExporterTarget> {
    let mut targets: Vec<ExporterTarget> = pods
        .iter()
        .filter(|p| {
            p.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(EXPORTER_LABEL.0))
                .map(String::as_str)
                == Some(EXPORTER_LABEL.1)
        })
        .filter_map(|p| {
            let status = p.status.as_ref()?;
            if status.phase.as_deref() != Some("Running") {
                return None;
            }
            let ip = status.pod_ip.as_deref().filter(|ip| !ip.is_empty())?;
            let spec = p.spec.as_ref()?;
            let node = spec.node_name.clone()?;
            let port = spec
                .containers
                .iter()
                .flat_map(|c| c.ports.iter().flatten())
                .find(|port| port.name.as_deref() == Some("metrics"))
                .map_or(DEFAULT_EXPORTER_PORT, |port| port.container_port);
            let host = if ip.contains(':') {
                format!("[{ip}]")
            } else {
                ip.to_string()
            };
            Some(ExporterTarget {
                node,
                url: format!("http://{host}:{port}/api/v1/gpus"),
            })
        })
        .collect();
    targets.sort_by(|a, b| a.node.cmp(&b.node));
    targets.dedup_by(|a, b| a.node == b.node);
    targets
}

type HttpClient = Client<HttpConnector, Empty<Bytes>>;

async fn fetch(
    client: &HttpClient,
    target: &ExporterTarget,
    timeout: Duration,
) -> Result<NodeGpus, String> {
    let uri: http::Uri = target
        .url
        .parse()
        .map_err(|e| format!("bad exporter address {}: {e}", target.url))?;
    tokio::time::timeout(timeout, async {
        let response = client
            .get(uri)
            .await
            .map_err(|e| format!("cannot reach the exporter: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("the exporter answered {}", response.status()));
        }
        let body = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
            .collect()
            .await
            .map_err(|e| format!("cannot read the exporter's answer: {e}"))?
            .to_bytes();
        serde_json::from_slice::<NodeGpus>(&body)
            .map_err(|e| format!("the exporter's answer is not valid: {e}"))
    })
    .await
    .map_err(|_| {
        format!(
            "the exporter did not answer within {} ms",
            timeout.as_millis()
        )
    })?
}

impl Telemetry {
    /// Starts the collector over the exporters found in `cache`.
    pub fn start(cache: ClusterCache, settings: TelemetrySettings) -> Arc<Self> {
        let telemetry = Arc::new(Telemetry::default());
        let running = telemetry.clone();
        tokio::spawn(async move { running.run(cache, settings).await });
        telemetry
    }

    async fn run(&self, cache: ClusterCache, settings: TelemetrySettings) {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(settings.timeout));
        connector.set_nodelay(true);
        let client: HttpClient = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(settings.interval * 3)
            .build(connector);
        let mut ticker = tokio::time::interval(settings.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let Ok(pods) = cache.pods().await else {
                continue;
            };
            let targets = exporter_targets(&pods);
            let started = std::time::Instant::now();
            let answered = self.cycle(&client, &targets, &settings).await;
            tracing::debug!(
                exporters = targets.len(),
                answered,
                duration_ms = started.elapsed().as_millis() as u64,
                "telemetry cycle"
            );
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
        let timeout = settings.timeout;
        let results: Vec<(String, Result<NodeGpus, String>)> =
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
        let now = jiff::Timestamp::now().as_millisecond();
        let mut answered = 0;
        let mut nodes = self.nodes.write().unwrap_or_else(|e| e.into_inner());
        let mut history = self.history.write().unwrap_or_else(|e| e.into_inner());
        let live: std::collections::HashSet<&str> =
            targets.iter().map(|t| t.node.as_str()).collect();
        nodes.retain(|node, _| live.contains(node.as_str()));
        for (node, result) in results {
            let entry = nodes.entry(node).or_default();
            match result {
                Ok(gpus) => {
                    answered += 1;
                    for gpu in &gpus.gpus {
                        history
                            .entry(gpu.identity.uuid.clone())
                            .or_insert_with(|| GpuHistory::new(settings.history, settings.interval))
                            .push(now, &gpu.fields);
                    }
                    entry.last_good = Some(Arc::new(gpus));
                    entry.last_good_at_ms = Some(now);
                    entry.error = None;
                }
                Err(e) => entry.error = Some(e),
            }
        }
        let kept: std::collections::HashSet<String> = nodes
            .values()
            .filter_map(|n| n.last_good.as_ref())
            .flat_map(|g| g.gpus.iter().map(|gpu| gpu.identity.uuid.clone()))
            .collect();
        history.retain(|uuid, _| kept.contains(uuid));
        drop(history);
        drop(nodes);
        self.cycles.send_modify(|c| *c += 1);
        answered
    }

    /// A receiver that changes after every cycle, for the push channel.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.cycles.subscribe()
    }

    /// Every node's telemetry.
    pub fn nodes(&self) -> HashMap<String, NodeTelemetry> {
        self.nodes.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The history of one GPU, oldest first.
    pub fn history(&self, uuid: &str) -> Vec<history::Sample> {
        self.history
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(uuid)
            .map(|h| h.samples())
            .unwrap_or_default()
    }
}
