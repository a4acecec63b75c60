//! The dashboard against a started simulated cluster: sign-in and sessions through the real
//! router, the watch cache, telemetry, API calls per page view, the token's secrecy across a whole
//! run, and every page in Chinese. One test binary, so the crate's tests link once.

mod access;
mod api_calls;
mod auth;
mod bad_input;
mod cache;
mod doctor;
mod faults;
mod gpu_sources;
mod headers;
mod i18n;
mod join_tokens;
mod openapi;
mod push;
mod routes;
mod sessions_redis;
mod telemetry;
mod token_secrecy;
mod workloads;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use gpuboard::DashboardSettings;
use gpuboard::app::{AppState, router, serve};
use gpuboard::cluster::cache::ClusterCache;
use gpuboard::telemetry::discovery::{ExporterKind, ExporterTarget, exporter_targets};
use gpuboard::transport::Transport;
use gpuboard_sim::{SimConfig, SimHandle};
use gpuboard_testkit::http::{Reply, form, request};
use gpuboard_testkit::process::Process;
use leptos::prelude::LeptosOptions;

/// How long a test waits for the dashboard's caches and collector to catch up.
const WAIT: Duration = Duration::from_secs(15);

async fn start_sim() -> SimHandle {
    gpuboard_sim::start_temporary(SimConfig::default())
        .await
        .expect("the sim starts")
}

/// `deploy/` copied into `into`, with `uncomment` lines of its kustomization made live.
fn deploy_copy(into: &Path, uncomment: &[&str]) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy");
    for dir in ["", "replicas", "prometheus"] {
        std::fs::create_dir_all(into.join(dir)).expect("made");
        for entry in std::fs::read_dir(root.join(dir))
            .expect("readable")
            .flatten()
        {
            if entry.path().is_file() {
                std::fs::copy(entry.path(), into.join(dir).join(entry.file_name()))
                    .expect("copied");
            }
        }
    }
    let path = into.join("kustomization.yaml");
    let mut text = std::fs::read_to_string(&path).expect("readable");
    for line in uncomment {
        let commented = format!("# {line}\n");
        assert!(
            text.contains(&commented),
            "{commented:?} in deploy/kustomization.yaml"
        );
        text = text.replace(&commented, &format!("{line}\n"));
    }
    std::fs::write(&path, text).expect("written");
}

/// The sim's exporters, found as the dashboard finds them: its watch of their pods, then discovery.
async fn sim_exporter_targets(sim: &SimHandle) -> Vec<ExporterTarget> {
    let client = gpuboard_testkit::client_for(&sim.kubeconfig).await;
    let cache = ClusterCache::start(
        client,
        gpuboard_sim::exporters::NAMESPACE,
        &ExporterKind::Gpuboard.selector(),
    );
    cache
        .exporter_pods
        .wait_until_ready()
        .await
        .expect("synced");
    exporter_targets(&cache.exporter_pods.state(), &ExporterKind::Gpuboard)
}

/// The server's own config for `sim` (its admin kubeconfig), as `serve --kubeconfig` would load it.
async fn sim_config(sim: &SimHandle) -> kube::Config {
    gpuboard::cluster::load_config(Some(&sim.kubeconfig))
        .await
        .expect("the sim's kubeconfig")
}

fn leptos_options() -> LeptosOptions {
    LeptosOptions::builder().output_name("gpuboard").build()
}

/// Serves `state` through the production router on a free loopback port.
async fn serve_state(state: AppState) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let (bound, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(serve(
        listener,
        router(state),
        &Transport::Loopback,
        move |addr| {
            let _ = bound.send(addr);
        },
    ));
    rx.await.expect("the dashboard listens")
}

/// The whole dashboard (production router, cache, telemetry) against `sim`.
async fn start_dashboard(sim: &SimHandle, settings: DashboardSettings) -> SocketAddr {
    let state = gpuboard::start(sim_config(sim).await, &settings, leptos_options())
        .expect("the dashboard starts");
    serve_state(state).await
}

/// `Origin:` of a page of the dashboard at `addr`.
fn origin(addr: SocketAddr) -> String {
    format!("Origin: http://{addr}")
}

/// The sign-in form sent at `addr` with `token`, from the dashboard's own page.
async fn post_login(addr: SocketAddr, token: &str) -> Reply {
    request(
        addr,
        "POST",
        "/login",
        &[origin(addr)],
        &form(&[("token", token)]),
    )
    .await
}

/// Signs in at `addr` with `token`; the session cookie as a header line.
async fn sign_in(addr: SocketAddr, token: &str) -> String {
    let reply = post_login(addr, token).await;
    reply
        .session_cookie()
        .unwrap_or_else(|| panic!("sign-in failed: {}", reply.head))
}

/// The CSRF token in a page's sign-out form.
fn csrf_of(page: &str) -> String {
    page.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_else(|| panic!("no sign-out form in:\n{page}"))
        .to_string()
}

/// `gpuboard serve --demo` as its own process on a free port, with its own state dir; its output
/// is read as it comes (so it never blocks however much it logs) and kept.
struct DemoServer {
    addr: SocketAddr,
    process: Process,
    state: tempfile::TempDir,
}

impl DemoServer {
    /// Starts it with `RUST_LOG=<log>` and waits until it listens.
    async fn start(log: &str) -> DemoServer {
        let state = tempfile::tempdir().expect("temp dir");
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut process = Process::spawn(
            Command::new(env!("CARGO_BIN_EXE_gpuboard"))
                .current_dir(&root)
                .env("RUST_LOG", log)
                .args(["serve", "--demo", "--listen", "127.0.0.1:0"])
                .args(["--demo-exporter-port", "0", "--demo-state-dir"])
                .arg(state.path()),
        );
        let addr = process.listening_address().await;
        DemoServer {
            addr,
            process,
            state,
        }
    }

    /// The demo cluster's admin kubeconfig.
    fn kubeconfig(&self) -> PathBuf {
        self.state.path().join("kubeconfig")
    }

    /// Waits until it has logged a line containing `text`.
    async fn wait_for_log(&mut self, text: &str) {
        self.process
            .wait_for(&format!("the log line {text:?}"), WAIT, |line| {
                line.contains(text).then_some(())
            })
            .await
    }

    /// Stops it and returns everything it wrote to stdout and stderr.
    fn stop(self) -> String {
        self.process.stop()
    }
}

/// `method path` at the JSON API with `token` as the bearer and a JSON `body` (empty: none).
async fn api(addr: SocketAddr, token: &str, method: &str, path: &str, body: &str) -> Reply {
    let mut headers = vec![format!("Authorization: Bearer {token}")];
    if !body.is_empty() {
        headers.push("Content-Type: application/json".into());
    }
    request(addr, method, path, &headers, body).await
}

/// A reply's body as JSON; fails the test with the reply when it is not.
fn json_of(reply: &Reply) -> serde_json::Value {
    serde_json::from_str(&reply.body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", reply.head, reply.body))
}

/// Who the cluster says `token` is (`kubectl auth whoami`), or None when it authenticates no one.
async fn whoami(kubeconfig: &std::path::Path, token: &str) -> Option<String> {
    let args = [
        "--token",
        token,
        "auth",
        "whoami",
        "-o",
        "jsonpath={.status.userInfo.username}",
    ];
    let run = gpuboard_testkit::kubectl(kubeconfig, &args).await;
    run.ok.then_some(run.stdout)
}
