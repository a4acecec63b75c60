//! The `gpuboard-sim` binary: a simulated GPU cluster for kubectl, kube-rs, the dashboard and
//! tests, until interrupted.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use gpuboard_exporter::parse_interval;
use gpuboard_sim::{SimConfig, exporters::SimExporterConfig};

/// A simulated GPU cluster: a Kubernetes API server on loopback that kubectl and kube-rs can use,
/// with one simulated gpuboard-exporter per GPU node.
#[derive(Parser)]
#[command(name = "gpuboard-sim", version)]
struct Args {
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
    /// Port of each GPU node's simulated exporter on its own loopback address (127.0.0.11, .12, ...); 0 picks free ports.
    #[arg(long, default_value_t = 9400)]
    exporter_port: u16,
    /// How often the simulated exporters sample their GPUs.
    #[arg(long, default_value = "1s", value_parser = parse_interval)]
    exporter_interval: Duration,
    /// Run no simulated exporters (an API server only).
    #[arg(long)]
    no_exporters: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,tower=warn,hyper=warn".into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let handle = gpuboard_sim::start(SimConfig {
        listen: args.listen,
        state_dir: args.state_dir,
        nodes: args.nodes,
        gpus_per_node: args.gpus_per_node,
        exporters: (!args.no_exporters).then_some(SimExporterConfig {
            port: args.exporter_port,
            interval: args.exporter_interval,
        }),
        ..Default::default()
    })
    .await
    .context("gpuboard-sim")?;
    println!("{}", handle.summary());
    println!("listening on {}", handle.addr);
    tokio::signal::ctrl_c().await?;
    Ok(())
}
