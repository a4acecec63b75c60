//! Real kubectl against a started sim: what the seeds do with kubectl must work.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{Run, kubectl, start_sim};

const TF_POD: &str = "apiVersion: v1
kind: Pod
metadata:
  name: tf-pod
spec:
  containers:
    - name: tf-container
      image: tensorflow/tensorflow:latest-gpu
      resources:
        limits:
          nvidia.com/gpu: 1 # requesting 1 GPUs
";

const TWO_GPU_POD: &str = "apiVersion: v1
kind: Pod
metadata:
  name: gpu-pod
spec:
  containers:
    - name: cuda-container
      image: nvidia/cuda:9.0-devel
      resources:
        limits:
          nvidia.com/gpu: 2 # requesting 2 GPUs
";

async fn k(kc: &Path, args: &[&str]) -> Run {
    let kc = kc.to_path_buf();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        kubectl(&kc, &args.iter().map(String::as_str).collect::<Vec<_>>())
    })
    .await
    .expect("kubectl task")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_works_against_the_seed_lab() {
    let (sim, dir) = start_sim().await;
    let kc = sim.kubeconfig.clone();

    let nodes = k(&kc, &["get", "nodes", "-o", "wide"]).await;
    assert!(nodes.ok, "{}", nodes.stderr);
    for name in [
        "cluster-master",
        "node-110",
        "node-109",
        "node-106",
        "node-105",
        "ai-gpu-flask2.novalocal",
    ] {
        assert!(
            nodes.stdout.contains(name),
            "{name} missing from:\n{}",
            nodes.stdout
        );
    }
    assert!(
        nodes.stdout.contains("KERNEL-VERSION") && nodes.stdout.contains("5.3.0-28-generic"),
        "{}",
        nodes.stdout
    );
    assert!(nodes.stdout.contains("control-plane"), "{}", nodes.stdout);

    let describe = k(&kc, &["describe", "node", "node-110"]).await;
    assert!(describe.ok, "{}", describe.stderr);
    let capacity = describe
        .stdout
        .split("Capacity:")
        .nth(1)
        .unwrap_or("")
        .split("Allocatable:")
        .next()
        .unwrap_or("")
        .to_string();
    let allocatable = describe
        .stdout
        .split("Allocatable:")
        .nth(1)
        .unwrap_or("")
        .split("System Info:")
        .next()
        .unwrap_or("")
        .to_string();
    assert!(
        capacity.contains("nvidia.com/gpu:     1"),
        "Capacity:\n{capacity}"
    );
    assert!(
        allocatable.contains("nvidia.com/gpu:     1"),
        "Allocatable:\n{allocatable}"
    );

    // The seed's tf-pod: applied, scheduled on a GPU node, its logs list the GPU it sees.
    let tf = dir.path().join("tf-pod.yaml");
    std::fs::write(&tf, TF_POD).unwrap();
    let applied = k(&kc, &["apply", "-f", tf.to_str().unwrap()]).await;
    assert!(
        applied.ok && applied.stdout.contains("pod/tf-pod created"),
        "{} {}",
        applied.stdout,
        applied.stderr
    );
    let mut node = String::new();
    for _ in 0..50 {
        node = k(
            &kc,
            &["get", "pod", "tf-pod", "-o", "jsonpath={.spec.nodeName}"],
        )
        .await
        .stdout;
        if !node.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        node.starts_with("node-") || node == "ai-gpu-flask2.novalocal",
        "scheduled on {node:?}"
    );
    let mut logs = String::new();
    for _ in 0..50 {
        logs = k(&kc, &["logs", "tf-pod"]).await.stdout;
        if logs.contains("physical_device:GPU:0") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        logs.contains("Created device /job:localhost/replica:0/task:0/device:GPU:0"),
        "logs:\n{logs}"
    );
    assert!(
        logs.contains("GTX 1080 Ti") || logs.contains("Tesla T4"),
        "logs:\n{logs}"
    );

    // Asking for 2 GPUs fits nowhere: Pending with the scheduler's message.
    let two = dir.path().join("gpu-pod.yaml");
    std::fs::write(&two, TWO_GPU_POD).unwrap();
    assert!(k(&kc, &["apply", "-f", two.to_str().unwrap()]).await.ok);
    let mut described = String::new();
    for _ in 0..50 {
        described = k(&kc, &["describe", "pod", "gpu-pod"]).await.stdout;
        if described.contains("FailedScheduling") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        described.contains("Status:           Pending") || described.contains("Pending"),
        "{described}"
    );
    assert!(
        described.contains("FailedScheduling") && described.contains("Insufficient nvidia.com/gpu"),
        "{described}"
    );
    assert!(described.contains("0/6 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"), "{described}");

    // The seed's token_regenerate flow: a token for dashboard-admin that works.
    let token = k(
        &kc,
        &["create", "token", "dashboard-admin", "-n", "kube-system"],
    )
    .await;
    assert!(token.ok, "{}", token.stderr);
    let token = token.stdout.trim().to_string();
    let whoami = k(&kc, &["--token", &token, "auth", "whoami"]).await;
    assert!(
        whoami
            .stdout
            .contains("system:serviceaccount:kube-system:dashboard-admin"),
        "{} {}",
        whoami.stdout,
        whoami.stderr
    );
    let as_sa = k(
        &kc,
        &["--token", &token, "get", "secrets", "-n", "kube-system"],
    )
    .await;
    assert!(as_sa.ok, "{}", as_sa.stderr);

    let whoami = k(&kc, &["auth", "whoami"]).await;
    assert!(
        whoami.stdout.contains("kubernetes-admin") && whoami.stdout.contains("system:masters"),
        "{}",
        whoami.stdout
    );

    let admin_can = k(
        &kc,
        &["auth", "can-i", "create", "secrets", "-n", "kube-system"],
    )
    .await;
    assert_eq!(admin_can.stdout.trim(), "yes");
    let viewer_kc = sim.state_dir.join("viewer.kubeconfig");
    let viewer_can = k(
        &viewer_kc,
        &["auth", "can-i", "create", "secrets", "-n", "kube-system"],
    )
    .await;
    assert_eq!(viewer_can.stdout.trim(), "no");
    assert!(!viewer_can.ok);
    let viewer_create = k(
        &viewer_kc,
        &["apply", "-f", two.to_str().unwrap(), "-n", "kube-system"],
    )
    .await;
    assert!(
        viewer_create.stderr.contains("forbidden")
            && viewer_create.stderr.contains("User \"viewer\" cannot"),
        "{}",
        viewer_create.stderr
    );

    // No token: refused.
    let bad = k(&kc, &["--token", "not-a-token", "get", "nodes"]).await;
    assert!(
        !bad.ok && bad.stderr.contains("Unauthorized"),
        "{}",
        bad.stderr
    );
    let client = reqwest_free_get(&sim.url, "/api/v1/nodes").await;
    assert!(client.contains("\"code\":401"), "{client}");

    let secrets = k(&kc, &["get", "secrets", "-n", "kube-system"]).await;
    assert!(
        secrets.stdout.contains("bootstrap-token-")
            && secrets.stdout.contains("bootstrap.kubernetes.io/token"),
        "{}",
        secrets.stdout
    );

    let deleted = k(&kc, &["delete", "pod", "tf-pod", "gpu-pod"]).await;
    assert!(
        deleted.ok && deleted.stdout.contains("\"tf-pod\" deleted"),
        "{} {}",
        deleted.stdout,
        deleted.stderr
    );
    let after = k(&kc, &["get", "pods"]).await;
    assert!(
        !after.stdout.contains("tf-pod") && !after.stdout.contains("gpu-pod"),
        "{}",
        after.stdout
    );
}

/// A GET with no credentials at all, over the sim's TLS (trusting its CA), through kube's own client.
async fn reqwest_free_get(url: &str, path: &str) -> String {
    let mut config = kube::Config::new(url.parse().expect("url"));
    config.accept_invalid_certs = true;
    let client = kube::Client::try_from(config).expect("client");
    let req = http::Request::get(path).body(Vec::new()).expect("request");
    match client.request_text(req).await {
        Ok(body) => body,
        Err(kube::Error::Api(s)) => format!("{{\"code\":{}}}", s.code),
        Err(e) => format!("error: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deploy_manifests_apply_with_strict_field_validation() {
    let (sim, _dir) = start_sim().await;
    let deploy = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy");
    let applied = k(&sim.kubeconfig, &["apply", "-k", deploy.to_str().unwrap()]).await;
    assert!(applied.ok, "{}\n{}", applied.stdout, applied.stderr);
    // The sim runs its exporters in namespace gpuboard already, as if the DaemonSet were installed.
    for line in [
        "namespace/gpuboard configured",
        "daemonset.apps/gpuboard-exporter configured",
        "deployment.apps/gpuboard created",
        "service/gpuboard created",
        "clusterrole.rbac.authorization.k8s.io/gpuboard-cache-reader created",
    ] {
        assert!(
            applied.stdout.contains(line),
            "{line} missing:\n{}",
            applied.stdout
        );
    }
    let svc = k(
        &sim.kubeconfig,
        &[
            "get",
            "service",
            "gpuboard",
            "-n",
            "gpuboard",
            "-o",
            "jsonpath={.spec.ports[0].nodePort}",
        ],
    )
    .await;
    assert_eq!(svc.stdout, "30080");
    // The cache's identity may list nodes and pods but not secrets.
    let can = k(
        &sim.kubeconfig,
        &[
            "auth",
            "can-i",
            "list",
            "secrets",
            "--as",
            "system:serviceaccount:gpuboard:gpuboard",
        ],
    )
    .await;
    assert_eq!(can.stdout.trim(), "no", "{}", can.stderr);
    let can = k(
        &sim.kubeconfig,
        &[
            "auth",
            "can-i",
            "watch",
            "nodes",
            "--as",
            "system:serviceaccount:gpuboard:gpuboard",
        ],
    )
    .await;
    assert_eq!(can.stdout.trim(), "yes", "{}", can.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_create_sets_up_a_namespaced_service_account() {
    let (sim, _dir) = start_sim().await;
    let kc = &sim.kubeconfig;
    for args in [
        vec!["create", "namespace", "team-a"],
        vec!["create", "serviceaccount", "alice", "-n", "team-a"],
        vec![
            "create",
            "role",
            "pod-reader",
            "-n",
            "team-a",
            "--verb=get,list,watch",
            "--resource=pods",
        ],
        vec![
            "create",
            "rolebinding",
            "alice-pods",
            "-n",
            "team-a",
            "--role=pod-reader",
            "--serviceaccount=team-a:alice",
        ],
        vec![
            "create",
            "clusterrolebinding",
            "alice-nodes",
            "--clusterrole=kubeadm:get-nodes",
            "--serviceaccount=team-a:alice",
        ],
        vec![
            "create",
            "secret",
            "generic",
            "s1",
            "-n",
            "team-a",
            "--from-literal=a=b",
        ],
    ] {
        let r = k(kc, &args).await;
        assert!(r.ok, "{args:?}: {}", r.stderr);
    }
    let secret = k(
        kc,
        &[
            "get",
            "secret",
            "s1",
            "-n",
            "team-a",
            "-o",
            "jsonpath={.data.a}",
        ],
    )
    .await;
    assert_eq!(secret.stdout, "Yg==");
    let token = k(kc, &["create", "token", "alice", "-n", "team-a"])
        .await
        .stdout
        .trim()
        .to_string();
    let own = k(kc, &["--token", &token, "get", "pods", "-n", "team-a"]).await;
    assert!(own.ok, "{}", own.stderr);
    let other = k(kc, &["--token", &token, "get", "pods", "-n", "default"]).await;
    assert!(
        !other.ok
            && other.stderr.contains(
                "cannot list resource \"pods\" in API group \"\" in the namespace \"default\""
            ),
        "{}",
        other.stderr
    );
}
