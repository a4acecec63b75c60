//! The `gpuboard-exporter` binary: the per-node NVML exporter, run by the DaemonSet in
//! `deploy/exporter.yaml`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use gpuboard_exporter::{ExporterConfig, hostname, parse_interval};

/// Per-node GPU exporter: dcgm-exporter-compatible /metrics, a JSON API (/api/v1/gpus), /healthz and /readyz.
#[derive(Parser)]
#[command(name = "gpuboard-exporter", version)]
struct Args {
    /// Address to serve /metrics, /api/v1/gpus, /healthz and /readyz on (port 0 picks a free one).
    #[arg(long, default_value = "0.0.0.0:9400")]
    listen: SocketAddr,
    /// How often to sample the fast fields: utilization, memory, temperature, power, clocks (e.g. 1s, 500ms; at least 100ms).
    #[arg(long, default_value = "1s", value_parser = parse_interval)]
    interval: Duration,
    /// How often to sample the slow fields: energy, PCIe throughput (about 20 ms per GPU) and replays, remapped rows.
    #[arg(long, default_value = "10s", value_parser = parse_interval)]
    slow_interval: Duration,
    /// How often to ask the kubelet which pods hold which GPU.
    #[arg(long, default_value = "5s", value_parser = parse_interval)]
    attribution_interval: Duration,
    /// This node's name (default: $NODE_NAME, then the hostname).
    #[arg(long, env = "NODE_NAME")]
    node_name: Option<String>,
    /// Do not ask the kubelet which pods hold the GPUs: no namespace or pod name is served.
    #[arg(long)]
    no_pod_attribution: bool,
    /// The kubelet pod-resources socket, for attributing GPUs to pods.
    #[arg(long, default_value = "/var/lib/kubelet/pod-resources/kubelet.sock")]
    kubelet_socket: PathBuf,
    /// Path of libnvidia-ml.so.1 (default: the loader's search path).
    #[arg(long)]
    nvml_lib: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,tower=warn,hyper=warn,h2=warn".into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let config = ExporterConfig {
        listen: args.listen,
        interval: args.interval,
        slow_interval: args.slow_interval,
        attribution_interval: args.attribution_interval,
        node_name: args.node_name.unwrap_or_else(hostname),
        pod_attribution: !args.no_pod_attribution,
        kubelet_socket: args.kubelet_socket,
        nvml_lib: args.nvml_lib,
    };
    gpuboard_exporter::run(config, |addr| println!("listening on {addr}"))
        .await
        .context("gpuboard-exporter")
}
