//! The objects GPU work is made of, through real kubectl: the seeds' pod-factory workspace (a
//! Deployment with a NodePort Service), namespace `ai`'s GPU quota refusing pods and Jobs in the
//! API server's and the Job controller's words, PriorityClasses, and short commands that end.

use gpuboard_testkit::{eventually, kubectl, kubectl_ok, until_no_pods};

use super::{WAIT, start_sim};

const WORKSPACE: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: alice-ws
  namespace: ai
spec:
  replicas: 1
  selector:
    matchLabels: {app: alice-ws}
  template:
    metadata:
      labels: {app: alice-ws}
    spec:
      containers:
        - name: main
          image: tensorflow/tensorflow:latest-gpu-jupyter
          command: [sh, -c, 'tail -f /dev/null']
          resources:
            limits: {nvidia.com/gpu: 1}
---
apiVersion: v1
kind: Service
metadata:
  name: alice-ws
  namespace: ai
spec:
  type: NodePort
  selector: {app: alice-ws}
  ports:
    - {name: jupyter, port: 8888}
    - {name: ssh, port: 22}
";

const THREE_GPU_JOB: &str = "apiVersion: batch/v1
kind: Job
metadata:
  name: big
  namespace: ai
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: main
          image: pytorch/pytorch
          command: [python, train.py]
          resources:
            limits: {nvidia.com/gpu: 3}
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workspace_rolls_out_with_node_ports_and_the_quota_refuses_more_gpus() {
    let sim = start_sim().await;
    let kc = &sim.kubeconfig;
    let file = kc.with_file_name("workspace.yaml");
    std::fs::write(&file, WORKSPACE).expect("written");
    kubectl_ok(kc, &["apply", "-f", &file.display().to_string()]).await;
    let rollout = kubectl(
        kc,
        &[
            "rollout",
            "status",
            "deployment/alice-ws",
            "-n",
            "ai",
            "--timeout=20s",
        ],
    )
    .await;
    assert!(rollout.ok, "{}{}", rollout.stdout, rollout.stderr);
    assert!(
        rollout.stdout.contains("successfully rolled out"),
        "{}",
        rollout.stdout
    );
    let ports = kubectl_ok(
        kc,
        &[
            "get",
            "svc",
            "alice-ws",
            "-n",
            "ai",
            "-o",
            "jsonpath={.spec.ports[*].nodePort}",
        ],
    )
    .await;
    let ports: Vec<u32> = ports
        .split_whitespace()
        .map(|p| p.parse().expect("a port"))
        .collect();
    assert_eq!(ports.len(), 2, "{ports:?}");
    assert!(ports.iter().all(|p| (30000..=32767).contains(p)) && ports[0] != ports[1]);

    // The quota (2 GPUs in `ai`) has one in use: a 3-GPU Job is refused pod by pod.
    let file = kc.with_file_name("big.yaml");
    std::fs::write(&file, THREE_GPU_JOB).expect("written");
    kubectl_ok(kc, &["apply", "-f", &file.display().to_string()]).await;
    let described = eventually("a FailedCreate event", WAIT, || async {
        let d = kubectl(kc, &["describe", "job", "big", "-n", "ai"])
            .await
            .stdout;
        if d.contains("FailedCreate") {
            Ok(d)
        } else {
            Err(d)
        }
    })
    .await;
    assert!(
        described.contains("exceeded quota: gpu-quota, requested: requests.nvidia.com/gpu=3, used: requests.nvidia.com/gpu=1, limited: requests.nvidia.com/gpu=2"),
        "{described}"
    );
    let quota = kubectl_ok(
        kc,
        &[
            "get",
            "quota",
            "gpu-quota",
            "-n",
            "ai",
            "-o",
            "jsonpath={.status.used}",
        ],
    )
    .await;
    assert!(
        quota.contains("\"requests.nvidia.com/gpu\":\"1\""),
        "{quota}"
    );

    // A pod naming a missing PriorityClass is refused; a known one sets the priority.
    let run = kubectl(
        kc,
        &[
            "run",
            "p",
            "-n",
            "ai",
            "--image=busybox",
            "--overrides",
            r#"{"spec":{"priorityClassName":"nope"}}"#,
            "--",
            "sleep",
            "60",
        ],
    )
    .await;
    assert!(
        run.stderr
            .contains("no PriorityClass with name nope was found"),
        "{}",
        run.stderr
    );

    // Deleting the Deployment takes its pod with it.
    kubectl_ok(kc, &["delete", "deployment", "alice-ws", "-n", "ai"]).await;
    until_no_pods(kc, &["-n", "ai", "-l", "app=alice-ws"], WAIT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_commands_exit_with_their_status_and_the_seeds_finished_program_crash_loops() {
    let sim = start_sim().await;
    let kc = &sim.kubeconfig;
    kubectl_ok(
        kc,
        &[
            "run",
            "hello",
            "--image=busybox",
            "--restart=Never",
            "--",
            "echo",
            "hello",
        ],
    )
    .await;
    kubectl_ok(
        kc,
        &[
            "run",
            "fails",
            "--image=busybox",
            "--restart=Never",
            "--",
            "sh",
            "-c",
            "echo bye; exit 3",
        ],
    )
    .await;
    kubectl_ok(kc, &["run", "done", "--image=busybox", "--", "true"]).await;
    let phase = |pod: &'static str| async move {
        kubectl(kc, &["get", "pod", pod, "-o", "jsonpath={.status.phase}"])
            .await
            .stdout
    };
    eventually("echo to succeed", WAIT, || async {
        match phase("hello").await.as_str() {
            "Succeeded" => Ok(()),
            p => Err(p.to_string()),
        }
    })
    .await;
    assert_eq!(kubectl_ok(kc, &["logs", "hello"]).await.trim(), "hello");
    eventually("exit 3 to fail", WAIT, || async {
        match phase("fails").await.as_str() {
            "Failed" => Ok(()),
            p => Err(p.to_string()),
        }
    })
    .await;
    let code = kubectl_ok(
        kc,
        &[
            "get",
            "pod",
            "fails",
            "-o",
            "jsonpath={.status.containerStatuses[0].state.terminated.exitCode}",
        ],
    )
    .await;
    assert_eq!(code, "3");
    // `true` under restartPolicy Always: the seeds' "Back-off restarting failed container".
    eventually("true to crash-loop", WAIT * 3, || async {
        let d = kubectl(kc, &["describe", "pod", "done"]).await.stdout;
        if d.contains("CrashLoopBackOff") || d.contains("Back-off restarting failed container") {
            Ok(())
        } else {
            Err(d)
        }
    })
    .await;
}
