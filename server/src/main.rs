//! The `gpuboard` binary: `serve` (the dashboard), `exporter` (the per-node NVML exporter) and
//! `sim` (a simulated GPU cluster).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use gpuboard::{cluster, exporter, serve, sim};

#[derive(Parser)]
#[command(
    name = "gpuboard",
    version,
    about = "GPU-cluster dashboard, NVML exporter and simulated cluster"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the dashboard.
    Serve(ServeArgs),
    /// Run the per-node NVML exporter (Prometheus /metrics and a JSON API).
    Exporter(ExporterArgs),
    /// Run a simulated GPU cluster: a Kubernetes API server on loopback that kubectl and kube-rs can use.
    Sim(SimArgs),
}

#[derive(Args)]
struct ServeArgs {
    /// Address to serve the dashboard on.
    #[arg(long, default_value = "127.0.0.1:3000", env = "GPUBOARD_LISTEN")]
    listen: SocketAddr,
    /// Kubeconfig to use; without it, KUBECONFIG, ~/.kube/config, then the in-cluster service account.
    #[arg(long, env = "GPUBOARD_KUBECONFIG")]
    kubeconfig: Option<PathBuf>,
    /// Run an embedded simulated cluster (the seeds' lab) and show it; prints the admin token.
    #[arg(long)]
    demo: bool,
    /// With --demo: where the simulated cluster writes its tokens and kubeconfig.
    #[arg(long, default_value = ".state/demo")]
    demo_state_dir: PathBuf,
    /// Sessions unused this long end (e.g. 30m, 1h).
    #[arg(long, default_value = "30m", value_parser = parse_duration, env = "GPUBOARD_SESSION_IDLE_TIMEOUT")]
    session_idle_timeout: Duration,
    /// Sessions end this long after sign-in, used or not.
    #[arg(long, default_value = "12h", value_parser = parse_duration, env = "GPUBOARD_SESSION_LIFETIME")]
    session_lifetime: Duration,
    /// The dashboard is reached over HTTPS through a proxy or ingress: mark the session cookie Secure.
    #[arg(long, env = "GPUBOARD_BEHIND_TLS")]
    behind_tls: bool,
    /// How often to fetch every exporter's GPUs.
    #[arg(long, default_value = "5s", value_parser = exporter::parse_interval)]
    telemetry_interval: Duration,
    /// How many exporters to fetch at once.
    #[arg(long, default_value_t = 64)]
    telemetry_concurrency: usize,
    /// How long to wait for one exporter before marking its node stale.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    telemetry_timeout: Duration,
    /// How much history to keep per GPU for the charts.
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    telemetry_history: Duration,
    /// Sign-in attempts allowed per client address per minute.
    #[arg(long, default_value_t = 20)]
    signins_per_minute: u32,
    /// With --demo: port of the simulated exporters on their loopback addresses; 0 picks free ports.
    #[arg(long, default_value_t = 9400)]
    demo_exporter_port: u16,
}

#[derive(Args)]
struct ExporterArgs {
    /// Address to serve /metrics, /api/v1/gpus, /healthz and /readyz on.
    #[arg(long, default_value = "0.0.0.0:9400")]
    listen: SocketAddr,
    /// How often to sample the fast fields: utilization, memory, temperature, power, clocks (e.g. 1s, 500ms; at least 100ms).
    #[arg(long, default_value = "1s", value_parser = exporter::parse_interval)]
    interval: Duration,
    /// How often to sample the slow fields: energy, PCIe throughput (about 20 ms per GPU) and replays, remapped rows.
    #[arg(long, default_value = "10s", value_parser = exporter::parse_interval)]
    slow_interval: Duration,
    /// How often to ask the kubelet which pods hold which GPU.
    #[arg(long, default_value = "5s", value_parser = exporter::parse_interval)]
    attribution_interval: Duration,
    /// This node's name (default: $NODE_NAME, then the hostname).
    #[arg(long, env = "NODE_NAME")]
    node_name: Option<String>,
    /// The kubelet pod-resources socket, for attributing GPUs to pods.
    #[arg(long, default_value = "/var/lib/kubelet/pod-resources/kubelet.sock")]
    kubelet_socket: PathBuf,
    /// Path of libnvidia-ml.so.1 (default: the loader's search path).
    #[arg(long)]
    nvml_lib: Option<PathBuf>,
}

#[derive(Args)]
struct SimArgs {
    /// Address to listen on (HTTPS from the sim's own CA, as kubectl sends tokens only over TLS; keep it on loopback).
    #[arg(long, default_value = "127.0.0.1:6443")]
    listen: SocketAddr,
    /// Where to write admin.token, viewer.token, kubeconfig, viewer.kubeconfig and ca.crt.
    #[arg(long, default_value = ".state/sim")]
    state_dir: PathBuf,
    /// Number of synthetic GPU nodes (plus a control plane); without it, the seeds' six-node lab.
    #[arg(long)]
    nodes: Option<usize>,
    /// GPUs per synthetic node (with --nodes).
    #[arg(long, default_value_t = 8)]
    gpus_per_node: usize,
    /// Port of each GPU node's simulated exporter on its own loopback address (127.0.0.10, .11, ...); 0 picks free ports.
    #[arg(long, default_value_t = 9400)]
    exporter_port: u16,
    /// How often the simulated exporters sample their GPUs.
    #[arg(long, default_value = "1s", value_parser = exporter::parse_interval)]
    exporter_interval: Duration,
}

impl SimArgs {
    fn exporters(&self) -> Option<sim::exporters::SimExporterConfig> {
        Some(sim::exporters::SimExporterConfig {
            port: self.exporter_port,
            interval: self.exporter_interval,
        })
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,kube=warn,tower=warn,hyper=warn".into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr)
        .init();
}

fn print_sim(handle: &sim::SimHandle) {
    println!("simulated cluster: {}", handle.url);
    println!("  kubeconfig:   {}", handle.kubeconfig.display());
    println!("  admin token:  {}", handle.admin_token);
    println!(
        "  viewer token: {}",
        handle.state_dir.join("viewer.token").display()
    );
    for (node, addr) in handle.exporters.iter().take(3) {
        println!("  exporter:     http://{addr}/metrics  ({node})");
    }
    if handle.exporters.len() > 3 {
        println!("  ... and {} more exporters", handle.exporters.len() - 3);
    }
    println!(
        "  try: KUBECONFIG={} kubectl get nodes -o wide",
        handle.kubeconfig.display()
    );
}

async fn run_sim(args: SimArgs) -> anyhow::Result<()> {
    let exporters = args.exporters();
    let handle = sim::start(sim::SimConfig {
        listen: args.listen,
        state_dir: args.state_dir,
        nodes: args.nodes,
        gpus_per_node: args.gpus_per_node,
        exporters,
        ..Default::default()
    })
    .await?;
    print_sim(&handle);
    tokio::signal::ctrl_c().await?;
    Ok(())
}

async fn run_serve(args: ServeArgs) -> anyhow::Result<()> {
    let (config, _sim) = if args.demo {
        let handle = sim::start(sim::SimConfig {
            state_dir: args.demo_state_dir,
            exporters: Some(sim::exporters::SimExporterConfig {
                port: args.demo_exporter_port,
                interval: Duration::from_secs(1),
            }),
            ..Default::default()
        })
        .await?;
        print_sim(&handle);
        println!("dashboard: http://{}", args.listen);
        let config = cluster::load_config(Some(&handle.kubeconfig)).await?;
        (config, Some(handle))
    } else {
        (
            cluster::load_config(args.kubeconfig.as_deref()).await?,
            None,
        )
    };
    let settings = gpuboard::auth::AuthSettings {
        idle_timeout: args.session_idle_timeout,
        lifetime: args.session_lifetime,
        // Browsers keep Secure cookies on loopback even over plain HTTP.
        secure_cookie: args.behind_tls || args.listen.ip().is_loopback(),
        signins_per_minute: args.signins_per_minute,
        ..Default::default()
    };
    if !settings.secure_cookie {
        tracing::warn!(
            "serving plain HTTP on a non-loopback address: tokens and session cookies cross the network unencrypted; put TLS in front and pass --behind-tls"
        );
    }
    let telemetry = gpuboard::telemetry::TelemetrySettings {
        interval: args.telemetry_interval,
        concurrency: args.telemetry_concurrency.max(1),
        timeout: args.telemetry_timeout,
        history: args.telemetry_history,
    };
    serve::run(args.listen, config, settings, telemetry).await
}

/// A duration such as 30m, 12h or 90s.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let parsed: jiff::SignedDuration = text
        .trim()
        .parse()
        .map_err(|e| format!("{text:?} is not a duration such as 30m or 12h: {e}"))?;
    Duration::try_from(parsed).map_err(|_| format!("{text:?} is negative"))
}

async fn run_exporter(args: ExporterArgs) -> anyhow::Result<()> {
    let config = exporter::ExporterConfig {
        listen: args.listen,
        interval: args.interval,
        slow_interval: args.slow_interval,
        attribution_interval: args.attribution_interval,
        node_name: args.node_name.unwrap_or_else(exporter::hostname),
        kubelet_socket: args.kubelet_socket,
        nvml_lib: args.nvml_lib,
    };
    exporter::run(config).await?;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    init_tracing();
    match Cli::parse().command {
        Command::Sim(args) => run_sim(args).await,
        Command::Serve(args) => run_serve(args).await,
        Command::Exporter(args) => run_exporter(args).await,
    }
    .context("gpuboard")
}
