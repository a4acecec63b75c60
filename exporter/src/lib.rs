//! `gpuboard-exporter`: the per-node GPU exporter. A [`collector::Collector`] samples a
//! [`source::GpuSource`] (NVML on a real node, simulated GPUs in `gpuboard-sim`) on threads of its
//! own, the fields and their schedules are one table ([`fields`]), attribution to pods is refreshed
//! from the kubelet's pod-resources socket on its own timer, and [`server`] serves the latest
//! [`snapshot::Snapshot`] as Prometheus metrics and typed JSON ([`gpuboard_exporter_api`]).
//!
//! [`source::GpuSource`] and [`attribution::PodResourcesLister`] are the seams the simulated
//! cluster plugs into, so it runs this crate's own collector, attribution and server.

pub mod attribution;
pub mod collector;
pub mod fields;
pub mod metrics;
pub mod nvml_source;
pub mod pod_resources;
pub mod server;
pub mod snapshot;
pub mod source;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use attribution::PodResourcesLister;
use collector::Collector;

/// The shortest sampling interval accepted: dcgm-exporter users burned 131% CPU with a 3 ms one.
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);

/// How to run the exporter.
#[derive(Debug, Clone)]
pub struct ExporterConfig {
    pub listen: SocketAddr,
    /// Fast fields (utilization, memory, temperature, power, clocks, processes).
    pub interval: Duration,
    /// Slow fields (energy, PCIe throughput and replays, remapped rows).
    pub slow_interval: Duration,
    /// How often pod attribution is refreshed from the kubelet.
    pub attribution_interval: Duration,
    pub node_name: String,
    /// Ask the kubelet which pods hold the GPUs (off: no pod names leave the node).
    pub pod_attribution: bool,
    pub kubelet_socket: PathBuf,
    pub nvml_lib: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
/// Why the exporter stopped.
pub enum ExporterError {
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot start the sampling threads: {0}")]
    Threads(std::io::Error),
    #[error("the HTTP server stopped: {0}")]
    Serve(std::io::Error),
}

/// Parses a sampling interval such as `1s`, `500ms` or `2m`, refusing ones under [`MIN_INTERVAL`].
pub fn parse_interval(text: &str) -> Result<Duration, String> {
    let interval = humantime::parse_duration(text.trim())
        .map_err(|e| format!("{text:?} is not a duration such as 1s, 500ms or 2m: {e}"))?;
    if interval < MIN_INTERVAL {
        return Err(format!(
            "{text:?} is shorter than the minimum of {}ms",
            MIN_INTERVAL.as_millis()
        ));
    }
    Ok(interval)
}

/// This machine's host name, for when neither --node-name nor NODE_NAME is given.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// Refreshes `collector`'s attribution from `lister` every `every`, on the current tokio runtime.
pub fn spawn_attribution(
    collector: Arc<Collector>,
    lister: Arc<dyn PodResourcesLister>,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    let resolver = collector.clone();
    tokio::spawn(attribution::refresh_loop(
        lister,
        every,
        move |mig| resolver.mig_parent_uuid(mig),
        move |map| collector.set_attribution(map),
    ))
}

/// Runs the exporter on this node's real GPUs until the server stops. `on_listening` is told the
/// bound address (with port 0, the one the system picked) before the first request is served.
pub async fn run(
    config: ExporterConfig,
    on_listening: impl FnOnce(SocketAddr),
) -> Result<(), ExporterError> {
    // Listen first, so /healthz answers while NVML initialises (or cannot).
    let listen_error = |source| ExporterError::Listen {
        addr: config.listen,
        source,
    };
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(listen_error)?;
    let bound = listener.local_addr().map_err(listen_error)?;
    let source = Arc::new(nvml_source::NvmlSource::new(
        config.nvml_lib.clone().map(Into::into),
    ));
    let collector = Arc::new(Collector::new(config.node_name.clone(), source));
    collector::spawn_sampling_threads(collector.clone(), config.interval, config.slow_interval)
        .map_err(ExporterError::Threads)?;
    if config.pod_attribution {
        let lister = Arc::new(pod_resources::KubeletPodResources::new(
            config.kubelet_socket.clone(),
        ));
        spawn_attribution(collector.clone(), lister, config.attribution_interval);
    } else {
        collector.set_attribution(attribution::AttributionMap {
            status: gpuboard_exporter_api::Attribution::Off,
            holders: Default::default(),
        });
    }
    tracing::info!(listen = %bound, node = %config.node_name, interval = ?config.interval, "exporter serving /metrics, /api/v1/gpus, /healthz, /readyz");
    on_listening(bound);
    gpuboard_listener::serve(listener, server::router(collector), &server::limits())
        .await
        .map_err(ExporterError::Serve)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_need_a_unit_and_a_sane_length() {
        assert_eq!(parse_interval("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_interval("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_interval("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_interval("3ms").unwrap_err().contains("minimum"));
        assert!(parse_interval("3").is_err());
        assert!(parse_interval("-1s").is_err());
        assert!(parse_interval("soon").is_err());
    }
}
