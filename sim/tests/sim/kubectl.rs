//! Real kubectl against a started sim: what the seeds do with kubectl must work. One test per
//! seed flow, so a failure names the flow.

use std::path::Path;

use gpuboard_testkit::{Run, can_i, eventually, kubectl, kubectl_ok};

use super::{WAIT, start_sim};

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

/// Writes `yaml` into the sim's state dir and applies it.
async fn apply(kc: &Path, name: &str, yaml: &str) -> Run {
    let file = kc.with_file_name(name);
    std::fs::write(&file, yaml).expect("manifest written");
    kubectl(kc, &["apply", "-f", &file.display().to_string()]).await
}

/// The part of `kubectl describe node` between two headings.
fn section<'a>(text: &'a str, from: &str, to: &str) -> &'a str {
    text.split(from)
        .nth(1)
        .unwrap_or("")
        .split(to)
        .next()
        .unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_and_describe_nodes_show_the_seed_lab() {
    let sim = start_sim().await;
    let kc = &sim.kubeconfig;
    let nodes = kubectl_ok(kc, &["get", "nodes", "-o", "wide"]).await;
    for name in [
        "cluster-master",
        "node-110",
        "node-109",
        "node-106",
        "node-105",
        "ai-gpu-flask2.novalocal",
    ] {
        assert!(nodes.contains(name), "{name} missing from:\n{nodes}");
    }
    assert!(
        nodes.contains("KERNEL-VERSION") && nodes.contains("5.3.0-28-generic"),
        "{nodes}"
    );
    assert!(nodes.contains("control-plane"), "{nodes}");
    let describe = kubectl_ok(kc, &["describe", "node", "node-110"]).await;
    let capacity = section(&describe, "Capacity:", "Allocatable:");
    let allocatable = section(&describe, "Allocatable:", "System Info:");
    assert!(
        capacity.contains("nvidia.com/gpu:     1"),
        "Capacity:\n{capacity}"
    );
    assert!(
        allocatable.contains("nvidia.com/gpu:     1"),
        "Allocatable:\n{allocatable}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seeds_tf_pod_runs_on_a_gpu_node_logs_its_gpu_and_deletes() {
    let sim = start_sim().await;
    let kc = &sim.kubeconfig;
    let applied = apply(kc, "tf-pod.yaml", TF_POD).await;
    assert!(
        applied.ok && applied.stdout.contains("pod/tf-pod created"),
        "{} {}",
        applied.stdout,
        applied.stderr
    );
    let node = eventually("tf-pod scheduled", WAIT, || async {
        let node = kubectl(
            kc,
            &["get", "pod", "tf-pod", "-o", "jsonpath={.spec.nodeName}"],
        )
        .await
        .stdout;
        if node.is_empty() { Err(node) } else { Ok(node) }
    })
    .await;
    assert!(
        node.starts_with("node-") || node == "ai-gpu-flask2.novalocal",
        "scheduled on {node:?}"
    );
    let logs = eventually("tf-pod's logs to list its GPU", WAIT, || async {
        let logs = kubectl(kc, &["logs", "tf-pod"]).await.stdout;
        if logs.contains("physical_device:GPU:0") {
            Ok(logs)
        } else {
            Err(logs)
        }
    })
    .await;
    assert!(
        logs.contains("Created device /job:localhost/replica:0/task:0/device:GPU:0"),
        "logs:\n{logs}"
    );
    assert!(
        logs.contains("GTX 1080 Ti") || logs.contains("Tesla T4"),
        "logs:\n{logs}"
    );
    let deleted = kubectl(kc, &["delete", "pod", "tf-pod"]).await;
    assert!(
        deleted.ok && deleted.stdout.contains("\"tf-pod\" deleted"),
        "{} {}",
        deleted.stdout,
        deleted.stderr
    );
    let after = kubectl_ok(kc, &["get", "pods"]).await;
    assert!(!after.contains("tf-pod"), "{after}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seeds_two_gpu_pod_stays_pending_with_the_schedulers_message() {
    let sim = start_sim().await;
    let kc = &sim.kubeconfig;
    assert!(apply(kc, "gpu-pod.yaml", TWO_GPU_POD).await.ok);
    let described = eventually("a FailedScheduling event", WAIT, || async {
        let described = kubectl(kc, &["describe", "pod", "gpu-pod"]).await.stdout;
        if described.contains("FailedScheduling") {
            Ok(described)
        } else {
            Err(described)
        }
    })
    .await;
    let status = described
        .lines()
        .find(|l| l.starts_with("Status:"))
        .unwrap_or_default();
    assert_eq!(
        status.split_whitespace().nth(1),
        Some("Pending"),
        "{described}"
    );
    assert!(
        described.contains("Insufficient nvidia.com/gpu"),
        "{described}"
    );
    assert!(described.contains("0/6 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"), "{described}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seeds_token_flow_gives_dashboard_admin_a_working_token() {
    let sim = start_sim().await;
    let kc = &sim.kubeconfig;
    let token = kubectl_ok(
        kc,
        &["create", "token", "dashboard-admin", "-n", "kube-system"],
    )
    .await
    .trim()
    .to_string();
    let whoami = kubectl(kc, &["--token", &token, "auth", "whoami"]).await;
    assert!(
        whoami
            .stdout
            .contains("system:serviceaccount:kube-system:dashboard-admin"),
        "{} {}",
        whoami.stdout,
        whoami.stderr
    );
    kubectl_ok(
        kc,
        &["--token", &token, "get", "secrets", "-n", "kube-system"],
    )
    .await;
    let secrets = kubectl_ok(kc, &["get", "secrets", "-n", "kube-system"]).await;
    assert!(
        secrets.contains("bootstrap-token-") && secrets.contains("bootstrap.kubernetes.io/token"),
        "the default join token is a Secret: {secrets}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rbac_lets_the_admin_act_and_refuses_the_viewer_and_strangers() {
    let sim = start_sim().await;
    let kc = &sim.kubeconfig;
    let whoami = kubectl_ok(kc, &["auth", "whoami"]).await;
    assert!(
        whoami.contains("kubernetes-admin") && whoami.contains("system:masters"),
        "{whoami}"
    );
    let admin_can = kubectl(
        kc,
        &["auth", "can-i", "create", "secrets", "-n", "kube-system"],
    )
    .await;
    assert_eq!(admin_can.stdout.trim(), "yes");
    let viewer = sim.viewer_kubeconfig();
    let viewer_can = kubectl(
        &viewer,
        &["auth", "can-i", "create", "secrets", "-n", "kube-system"],
    )
    .await;
    assert_eq!(viewer_can.stdout.trim(), "no");
    assert!(!viewer_can.ok);
    let viewer_create = apply(&viewer, "viewer-pod.yaml", TWO_GPU_POD).await;
    assert!(
        viewer_create.stderr.contains("forbidden")
            && viewer_create.stderr.contains("User \"viewer\" cannot"),
        "{}",
        viewer_create.stderr
    );
    let bad = kubectl(kc, &["--token", "not-a-token", "get", "nodes"]).await;
    assert!(
        !bad.ok && bad.stderr.contains("Unauthorized"),
        "{}",
        bad.stderr
    );
    let anonymous = anonymous_get(&sim.url, "/api/v1/nodes").await;
    assert!(anonymous.contains("\"code\":401"), "{anonymous}");
}

/// A GET with no credentials at all, over the sim's TLS, through kube's own client.
async fn anonymous_get(url: &str, path: &str) -> String {
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
    let sim = start_sim().await;
    let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy");
    let applied = kubectl(
        &sim.kubeconfig,
        &["apply", "-k", &deploy.display().to_string()],
    )
    .await;
    assert!(applied.ok, "{}\n{}", applied.stdout, applied.stderr);
    // The sim runs its exporters in namespace gpuboard already, as if the DaemonSet were installed.
    for line in [
        "namespace/gpuboard configured",
        "daemonset.apps/gpuboard-exporter configured",
        "deployment.apps/gpuboard created",
        "service/gpuboard created",
        "clusterrole.rbac.authorization.k8s.io/gpuboard-cache-reader created",
        "networkpolicy.networking.k8s.io/gpuboard-exporter created",
    ] {
        assert!(
            applied.stdout.contains(line),
            "{line} missing:\n{}",
            applied.stdout
        );
    }
    let svc = kubectl(
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
    // The cache's identity may list nodes and pods but not secrets; the Roles for cluster-info
    // and node Leases stay in their namespaces.
    let account = "system:serviceaccount:gpuboard:gpuboard";
    for (args, answer) in [
        (&["list", "secrets"][..], "no"),
        (&["watch", "nodes"][..], "yes"),
        (
            &["get", "configmaps/cluster-info", "-n", "kube-public"][..],
            "yes",
        ),
        (&["get", "leases", "-n", "kube-node-lease"][..], "yes"),
    ] {
        assert_eq!(
            can_i(&sim.kubeconfig, account, args).await,
            answer,
            "{args:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_create_sets_up_a_namespaced_service_account() {
    let sim = start_sim().await;
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
        let r = kubectl(kc, &args).await;
        assert!(r.ok, "{args:?}: {}", r.stderr);
    }
    let secret = kubectl(
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
    let token = kubectl(kc, &["create", "token", "alice", "-n", "team-a"])
        .await
        .stdout
        .trim()
        .to_string();
    let own = kubectl(kc, &["--token", &token, "get", "pods", "-n", "team-a"]).await;
    assert!(own.ok, "{}", own.stderr);
    let other = kubectl(kc, &["--token", &token, "get", "pods", "-n", "default"]).await;
    assert!(
        !other.ok
            && other.stderr.contains(
                "cannot list resource \"pods\" in API group \"\" in the namespace \"default\""
            ),
        "{}",
        other.stderr
    );
}

#[tokio::test]
async fn kubectl_sees_node_leases_and_the_device_plugin() {
    let sim = super::start_sim().await;
    let leases =
        gpuboard_testkit::eventually("every Ready node renews its Lease", super::WAIT, || async {
            let out = gpuboard_testkit::kubectl_ok(
                &sim.kubeconfig,
                &["-n", "kube-node-lease", "get", "leases", "-o", "name"],
            )
            .await;
            if out.lines().count() == 6 {
                Ok(out)
            } else {
                Err(out)
            }
        })
        .await;
    assert!(
        leases.contains("lease.coordination.k8s.io/node-110"),
        "{leases}"
    );
    let ds = gpuboard_testkit::kubectl_ok(
        &sim.kubeconfig,
        &[
            "-n",
            "kube-system",
            "get",
            "ds",
            "nvidia-device-plugin-daemonset",
            "-o",
            "jsonpath={.status.numberReady}",
        ],
    )
    .await;
    assert_eq!(ds, "4", "every GPU node but node-109");
    let pods = gpuboard_testkit::kubectl_ok(
        &sim.kubeconfig,
        &[
            "-n",
            "kube-system",
            "get",
            "pods",
            "-l",
            "name=nvidia-device-plugin-ds",
            "-o",
            "jsonpath={.items[*].spec.nodeName}",
        ],
    )
    .await;
    assert!(
        !pods.contains("node-109") && pods.contains("node-110"),
        "{pods}"
    );
}
