//! `/api/v1/workloads` against the sim, as scripts use it: the seeds' TensorFlow job submitted,
//! run and seen in the queue; a retried submit making one Job; the seeds' 2x2 pod said never to
//! fit; the researcher's quota refusal under `gpus` in the plugin's words; a workspace with its
//! node ports; a viewer who can submit nothing; delete taking the pods with it.

use std::time::Duration;

use gpuboard::DashboardSettings;
use gpuboard_testkit::{eventually, kubectl, until_no_pods};
use serde_json::{Value, json};

use super::{api, json_of, start_dashboard, start_sim};

const WAIT: Duration = Duration::from_secs(20);

fn tf_job(name: &str, namespace: &str, gpus: Value) -> String {
    json!({"kind": "Job", "name": name, "namespace": namespace,
           "image": "tensorflow/tensorflow:latest-gpu",
           "command": ["python", "-u", "train.py"], "gpus": gpus})
    .to_string()
}

/// The queue's rows for `name`.
async fn rows_named(addr: std::net::SocketAddr, token: &str, name: &str) -> Vec<Value> {
    let reply = api(addr, token, "GET", "/api/v1/workloads", "").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    json_of(&reply)["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .filter(|r| r["name"] == name)
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seeds_tensorflow_job_runs_once_however_often_it_is_sent_and_deletes_whole() {
    let sim = start_sim().await;
    let addr = start_dashboard(&sim, DashboardSettings::default()).await;
    let admin = &sim.admin_token;
    let body = tf_job("tf-train", "default", json!(1));
    let fits_now_on = || async {
        let probe = tf_job("probe", "default", json!(1));
        let fit = api(addr, admin, "POST", "/api/v1/workloads/fit", &probe).await;
        let fit = json_of(&fit);
        assert_eq!(fit["fit"]["verdict"], "Now", "{fit}");
        fit["fit"]["nodes"].as_array().expect("nodes").clone()
    };
    let free_before = fits_now_on().await;

    let dry = api(addr, admin, "POST", "/api/v1/workloads?dryRun=true", &body).await;
    assert_eq!(dry.status, 200, "{}", dry.body);
    let dry = json_of(&dry);
    assert_eq!(
        (&dry["dryRun"], &dry["created"]),
        (&json!(true), &json!(false))
    );
    assert!(
        dry["manifest"]
            .as_str()
            .unwrap()
            .contains("restartPolicy: Never"),
        "{dry}"
    );
    let jobs = kubectl(&sim.kubeconfig, &["get", "jobs", "-o", "name"])
        .await
        .stdout;
    assert!(jobs.trim().is_empty(), "a dry run made {jobs}");

    // A double click: two submits at once, then a retry.
    let (a, b) = tokio::join!(
        api(addr, admin, "POST", "/api/v1/workloads", &body),
        api(addr, admin, "POST", "/api/v1/workloads", &body)
    );
    let mut statuses = vec![a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, vec![200, 201], "{} / {}", a.body, b.body);
    let retry = api(addr, admin, "POST", "/api/v1/workloads", &body).await;
    assert_eq!(
        (retry.status, &json_of(&retry)["created"]),
        (200, &json!(false)),
        "{}",
        retry.body
    );
    let jobs = kubectl(&sim.kubeconfig, &["get", "jobs", "-o", "name"])
        .await
        .stdout;
    assert_eq!(jobs.trim(), "job.batch/tf-train");
    // The same name with another request is refused under `name`.
    let other = api(
        addr,
        admin,
        "POST",
        "/api/v1/workloads",
        &tf_job("tf-train", "default", json!(0)),
    )
    .await;
    assert_eq!(
        (other.status, &json_of(&other)["field"]),
        (422, &json!("name")),
        "{}",
        other.body
    );
    assert!(other.body.contains("choose another name"), "{}", other.body);

    // It runs on a GPU node, and the queue says so.
    let row = eventually("the job to run", WAIT, || async {
        let rows = rows_named(addr, admin, "tf-train").await;
        match rows.first() {
            Some(r) if r["state"] == "Running" => Ok(r.clone()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    assert_eq!(row["gpus"], 1);
    assert!(
        row["node"]
            .as_str()
            .is_some_and(|n| n.starts_with("node-") || n.starts_with("ai-")),
        "{row}"
    );
    assert_eq!(row["kind"], "Job");
    assert_eq!(row["mine"], true, "{row}");
    // The fit check sees the GPU it took (what it keeps of the pods follows the cache).
    let free_after = fits_now_on().await;
    assert!(free_before.contains(&row["node"]), "{free_before:?} {row}");
    assert!(!free_after.contains(&row["node"]), "{free_after:?} {row}");
    // Only mine, a page at a time; a bad page is refused by name.
    let mine = api(
        addr,
        admin,
        "GET",
        "/api/v1/workloads?mineOnly=true&page=0",
        "",
    )
    .await;
    let mine = json_of(&mine);
    let rows = mine["rows"].as_array().expect("rows");
    assert!(rows.iter().all(|r| r["mine"] == true), "{mine}");
    assert!(rows.iter().any(|r| r["name"] == "tf-train"), "{mine}");
    assert_eq!(
        (&mine["matching"], &mine["pageSize"]),
        (&json!(rows.len()), &json!(200))
    );
    let bad = api(addr, admin, "GET", "/api/v1/workloads?page=first", "").await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(bad.body.contains("page"), "{}", bad.body);

    let deleted = api(
        addr,
        admin,
        "DELETE",
        "/api/v1/namespaces/default/workloads/tf-train",
        "",
    )
    .await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    assert_eq!(json_of(&deleted)["objects"], json!(["Job/tf-train"]));
    until_no_pods(&sim.kubeconfig, &["-l", "job-name=tf-train"], WAIT).await;
    let again = api(
        addr,
        admin,
        "DELETE",
        "/api/v1/namespaces/default/workloads/tf-train",
        "",
    )
    .await;
    assert_eq!(again.status, 404, "{}", again.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fit_quota_and_bad_input_are_answered_under_their_fields() {
    let sim = start_sim().await;
    let addr = start_dashboard(&sim, DashboardSettings::default()).await;
    let researcher = &sim.researcher_token;

    // The seeds' 2x2 pod: never fits, every node has one GPU.
    let fit = api(
        addr,
        researcher,
        "POST",
        "/api/v1/workloads/fit",
        &tf_job("big", "ai", json!(2)),
    )
    .await;
    assert_eq!(fit.status, 200, "{}", fit.body);
    let fit = json_of(&fit);
    assert_eq!(fit["fit"]["verdict"], "Never", "{fit}");
    assert_eq!(
        fit["fit"]["why"],
        json!({"reason": "TooManyGpus", "wanted": 2, "largest": 1})
    );
    let one = json_of(
        &api(
            addr,
            researcher,
            "POST",
            "/api/v1/workloads/fit",
            &tf_job("one", "ai", json!(1)),
        )
        .await,
    );
    assert_eq!(one["fit"]["verdict"], "Now", "{one}");

    // Submitting more than any node has is refused before the cluster is asked.
    let reply = api(
        addr,
        researcher,
        "POST",
        "/api/v1/workloads",
        &tf_job("big", "ai", json!(2)),
    )
    .await;
    assert_eq!(
        (reply.status, &json_of(&reply)["field"]),
        (422, &json!("gpus")),
        "{}",
        reply.body
    );
    for (body, field) in [
        (tf_job("half", "ai", json!(0.5)), "gpus"),
        (tf_job("neg", "ai", json!(-1)), "gpus"),
        (tf_job("Bad_Name", "ai", json!(1)), "name"),
        (json!({"kind": "Job", "name": "x", "namespace": "ai", "image": "not an image", "gpus": 1}).to_string(), "image"),
        (json!({"kind": "Workspace", "name": "x", "namespace": "ai", "image": "busybox", "gpus": 0, "ports": [70000]}).to_string(), "ports[0]"),
        (json!({"kind": "Job", "name": "x", "namespace": "ai", "image": "busybox", "gpus": 0, "env": [{"name": "1A"}]}).to_string(), "env[0].name"),
    ] {
        let reply = api(addr, researcher, "POST", "/api/v1/workloads", &body).await;
        assert_eq!(reply.status, 422, "{body}: {}", reply.body);
        assert_eq!(json_of(&reply)["field"], field, "{body}: {}", reply.body);
    }
    let reply = api(
        addr,
        researcher,
        "POST",
        "/api/v1/workloads",
        r#"{"kind":"Job","gpus":"two"}"#,
    )
    .await;
    assert_eq!(reply.status, 422, "{}", reply.body);
    assert!(reply.body.contains("gpus"), "{}", reply.body);

    // The quota (2 GPUs in `ai`): a workspace holding one, then a job wanting two is refused
    // by the dry run's pod, in the plugin's words, under `gpus`.
    let workspace = json!({"kind": "Workspace", "name": "alice-ws", "namespace": "ai",
        "image": "tensorflow/tensorflow:latest-gpu-jupyter", "command": ["sh", "-c", "tail -f /dev/null"],
        "gpus": 1, "ports": [8888, 22], "volumes": [{"claim": "ai-data", "mountPath": "/data"}]});
    let reply = api(
        addr,
        researcher,
        "POST",
        "/api/v1/workloads",
        &workspace.to_string(),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let made = json_of(&reply);
    assert_eq!(
        made["objects"],
        json!(["Deployment/alice-ws", "Service/alice-ws"])
    );
    let ports = made["nodePorts"].as_array().expect("node ports");
    assert_eq!(ports.len(), 2, "{made}");
    assert!(
        ports
            .iter()
            .all(|p| (30000..=32767).contains(&p["nodePort"].as_u64().unwrap()))
    );
    eventually("the quota to count the workspace", WAIT, || async {
        let used = kubectl(
            &sim.kubeconfig,
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
        .await
        .stdout;
        if used.contains("\"requests.nvidia.com/gpu\":\"1\"") {
            Ok(())
        } else {
            Err(used)
        }
    })
    .await;
    let mut two = json!({"kind": "Job", "name": "two", "namespace": "ai", "image": "busybox",
                         "command": ["sleep", "60"], "gpus": 2});
    // Two GPUs: no seed-lab node has two, so "never" (the node size decides before the quota).
    // The quota is then filled one GPU at a time: the workspace's, then `second`'s.
    let fit = json_of(
        &api(
            addr,
            researcher,
            "POST",
            "/api/v1/workloads/fit",
            &two.to_string(),
        )
        .await,
    );
    assert_eq!(fit["fit"]["verdict"], "Never", "{fit}");
    two["gpus"] = json!(1);
    two["name"] = json!("second");
    let reply = api(
        addr,
        researcher,
        "POST",
        "/api/v1/workloads",
        &two.to_string(),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let third = json!({"kind": "Job", "name": "third", "namespace": "ai", "image": "busybox",
                       "command": ["sleep", "60"], "gpus": 1});
    let refused = eventually("the quota to refuse a third GPU", WAIT, || async {
        let reply = api(
            addr,
            researcher,
            "POST",
            "/api/v1/workloads?dryRun=true",
            &third.to_string(),
        )
        .await;
        if reply.status == 422 {
            Ok(json_of(&reply))
        } else {
            Err(reply.body)
        }
    })
    .await;
    assert_eq!(refused["field"], "gpus", "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("exceeded quota: gpu-quota, requested: requests.nvidia.com/gpu=1, used: requests.nvidia.com/gpu=2, limited: requests.nvidia.com/gpu=2"), "{refused}");
    let fit = json_of(
        &api(
            addr,
            researcher,
            "POST",
            "/api/v1/workloads/fit",
            &third.to_string(),
        )
        .await,
    );
    assert_eq!(fit["fit"]["why"]["reason"], "Quota", "{fit}");
    // Retrying `second` now that its own pod fills the quota: still the same Job, nothing new.
    let retry = api(
        addr,
        researcher,
        "POST",
        "/api/v1/workloads",
        &two.to_string(),
    )
    .await;
    assert_eq!(
        (retry.status, &json_of(&retry)["created"]),
        (200, &json!(false)),
        "{}",
        retry.body
    );

    // The researcher may not submit outside `ai`; the viewer nowhere.
    let reply = api(
        addr,
        researcher,
        "POST",
        "/api/v1/workloads",
        &tf_job("elsewhere", "default", json!(1)),
    )
    .await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    let reply = api(
        addr,
        &sim.viewer_token,
        "POST",
        "/api/v1/workloads",
        &tf_job("v", "ai", json!(1)),
    )
    .await;
    assert_eq!(reply.status, 403, "{}", reply.body);

    // Deleting the workspace takes its Deployment, Service and pod.
    let reply = api(
        addr,
        researcher,
        "DELETE",
        "/api/v1/namespaces/ai/workloads/alice-ws",
        "",
    )
    .await;
    assert_eq!(
        json_of(&reply)["objects"],
        json!(["Deployment/alice-ws", "Service/alice-ws"]),
        "{}",
        reply.body
    );
    until_no_pods(
        &sim.kubeconfig,
        &["-n", "ai", "-l", "gpuboard.io/workload=alice-ws"],
        WAIT,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workspace_whose_service_is_refused_leaves_no_deployment() {
    let sim = start_sim().await;
    let addr = start_dashboard(&sim, DashboardSettings::default()).await;
    let admin = &sim.admin_token;
    // A Service of that name exists already (not gpuboard's): the Deployment must not stay.
    let manifest = sim.kubeconfig.with_file_name("taken.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: v1\nkind: Service\nmetadata: {name: taken}\nspec: {type: NodePort, ports: [{port: 80}]}\n",
    )
    .expect("written");
    gpuboard_testkit::kubectl_ok(
        &sim.kubeconfig,
        &["apply", "-f", &manifest.display().to_string()],
    )
    .await;
    let body = json!({"kind": "Workspace", "name": "taken", "namespace": "default", "image": "busybox",
                      "command": ["sleep", "infinity"], "gpus": 0, "ports": [8888]});
    // The dry run already says the name is taken.
    let dry = api(
        addr,
        admin,
        "POST",
        "/api/v1/workloads?dryRun=true",
        &body.to_string(),
    )
    .await;
    assert_eq!(
        (dry.status, &json_of(&dry)["field"]),
        (422, &json!("name")),
        "{}",
        dry.body
    );
    let reply = api(addr, admin, "POST", "/api/v1/workloads", &body.to_string()).await;
    assert_eq!(reply.status, 422, "{}", reply.body);
    assert_eq!(json_of(&reply)["field"], "name", "{}", reply.body);
    let deployments = kubectl(&sim.kubeconfig, &["get", "deployments", "-o", "name"])
        .await
        .stdout;
    assert!(deployments.trim().is_empty(), "{deployments}");
}

/// The workload page at `path` once it explains itself with `what`.
async fn explained(addr: std::net::SocketAddr, token: &str, path: &str, what: &str) -> Value {
    eventually(&format!("{path} to explain {what}"), WAIT, || async {
        let d = json_of(&api(addr, token, "GET", path, "").await);
        let found = d["explanations"]
            .as_array()
            .is_some_and(|e| e.iter().any(|e| e["what"] == what));
        if found { Ok(d) } else { Err(d.to_string()) }
    })
    .await
}

/// Reads a followed response until its body holds `want`, without waiting for it to end; the
/// head and what came so far. Fails when `want` does not come within `WAIT`.
async fn read_stream_until(
    addr: std::net::SocketAddr,
    token: &str,
    path: &str,
    accept: &str,
    want: &str,
) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nAccept: {accept}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("send");
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains(want) {
        let n = tokio::time::timeout_at(deadline, stream.read(&mut buf))
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "{want:?} did not come within {WAIT:?}; got:\n{}",
                    String::from_utf8_lossy(&got)
                )
            })
            .expect("read");
        assert!(
            n > 0,
            "the stream ended before {want:?}:\n{}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&got).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_jobs_page_has_its_state_gpus_events_and_logs_read_or_followed() {
    let sim = start_sim().await;
    let addr = start_dashboard(&sim, DashboardSettings::default()).await;
    let researcher = &sim.researcher_token;
    let created = api(
        addr,
        researcher,
        "POST",
        "/api/v1/workloads",
        &tf_job("tf-logs", "ai", json!(1)),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let path = "/api/v1/namespaces/ai/workloads/tf-logs";

    // Running on a GPU that the exporter sees it use, with the scheduler's events.
    let detail = eventually(
        "the job's page to show it running on its GPU",
        WAIT,
        || async {
            let reply = api(addr, researcher, "GET", path, "").await;
            let d = json_of(&reply);
            let running = d["state"] == "Running";
            let on_gpu = d["gpuCards"].as_array().is_some_and(|c| !c.is_empty());
            if reply.status == 200 && running && on_gpu {
                Ok(d)
            } else {
                Err(format!("{} {d}", reply.status))
            }
        },
    )
    .await;
    assert_eq!(
        (&detail["kind"], &detail["gpus"]),
        (&json!("Job"), &json!(1))
    );
    let pod = detail["pods"][0]["name"]
        .as_str()
        .expect("a pod")
        .to_string();
    assert_eq!(detail["pods"][0]["containers"][0]["name"], "main");
    let card_pods = &detail["gpuCards"][0]["gpu"]["pods"];
    assert_eq!(card_pods, &json!([format!("ai/{pod}")]), "{detail}");
    let reasons: Vec<&str> = detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["reason"].as_str())
        .collect();
    assert!(
        reasons.contains(&"SuccessfulCreate") && reasons.contains(&"Scheduled"),
        "{reasons:?}"
    );
    assert_eq!(detail["form"]["image"], "tensorflow/tensorflow:latest-gpu");
    assert_eq!(detail["mayDelete"], true);

    // Read at once, as text and as JSON.
    let text = eventually("an epoch in the logs", WAIT, || async {
        let reply = api(
            addr,
            researcher,
            "GET",
            &format!("{path}/logs?tailLines=50"),
            "",
        )
        .await;
        if reply.body.contains("Epoch 1/10") {
            Ok(reply)
        } else {
            Err(format!("{} {}", reply.status, reply.body))
        }
    })
    .await;
    assert!(
        text.header("content-type")
            .unwrap_or_default()
            .starts_with("text/plain")
    );
    let extra = [
        format!("Authorization: Bearer {researcher}"),
        "Accept: application/json".to_string(),
    ];
    let as_json = gpuboard_testkit::http::request(
        addr,
        "GET",
        &format!("{path}/logs?tailLines=1&timestamps=true"),
        &extra,
        "",
    )
    .await;
    let logs = json_of(&as_json);
    assert_eq!(
        (&logs["pod"], &logs["container"]),
        (&json!(pod), &json!("main"))
    );
    let lines = logs["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 1, "{logs}");
    assert!(
        lines[0].as_str().unwrap().starts_with("20"),
        "a timestamp first: {logs}"
    );

    // Followed: later epochs arrive on the open stream, as text and as server-sent events.
    let followed = read_stream_until(
        addr,
        researcher,
        &format!("{path}/logs?follow=true&tailLines=1"),
        "*/*",
        "Epoch 3/10",
    )
    .await;
    assert!(
        followed.contains("transfer-encoding: chunked"),
        "{followed}"
    );
    let events = read_stream_until(
        addr,
        researcher,
        &format!("{path}/logs?follow=true&tailLines=1"),
        "text/event-stream",
        "data: Epoch",
    )
    .await;
    assert!(events.contains("text/event-stream"), "{events}");

    // Bad queries are refused by field; another pod's logs are not this workload's.
    for (query, status, field) in [
        ("tailLines=100000", 422, Some("tailLines")),
        ("pod=kube-apiserver-node-100", 422, Some("pod")),
        ("container=sidecar", 422, Some("container")),
        ("tail=5", 400, None),
    ] {
        let reply = api(addr, researcher, "GET", &format!("{path}/logs?{query}"), "").await;
        assert_eq!(reply.status, status, "{query}: {}", reply.body);
        if let Some(field) = field {
            assert_eq!(json_of(&reply)["field"], field, "{query}: {}", reply.body);
        }
    }
    // Outside the namespace the researcher may read, the cluster says no.
    let elsewhere = api(
        addr,
        researcher,
        "GET",
        "/api/v1/namespaces/default/workloads/x",
        "",
    )
    .await;
    assert_eq!(elsewhere.status, 403, "{}", elsewhere.body);
    let missing = api(
        addr,
        researcher,
        "GET",
        "/api/v1/namespaces/ai/workloads/nothing",
        "",
    )
    .await;
    assert_eq!(missing.status, 404, "{}", missing.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workspace_whose_program_ends_is_explained_as_the_seeds_explain_it() {
    let sim = start_sim().await;
    let addr = start_dashboard(&sim, DashboardSettings::default()).await;
    let admin = &sim.admin_token;
    let body = json!({"kind": "Workspace", "name": "ends", "namespace": "default",
        "image": "busybox", "command": ["sh", "-c", "echo hello; exit 0"], "gpus": 0, "ports": [8888]})
    .to_string();
    let created = api(addr, admin, "POST", "/api/v1/workloads", &body).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let detail = explained(
        addr,
        admin,
        "/api/v1/namespaces/default/workloads/ends",
        "FinishedUnderAlways",
    )
    .await;
    assert_eq!(detail["kind"], "Workspace");
    let exposed = &detail["exposed"][0];
    assert_eq!(exposed["port"]["port"], 8888, "{detail}");
    let node_port = exposed["port"]["nodePort"].as_u64().expect("a node port");
    assert!((30000..=32767).contains(&node_port), "{detail}");
    // Shown with the node's address, never connected to.
    assert!(
        exposed["addresses"][0]
            .as_str()
            .is_some_and(|a| a.ends_with(&format!(":{node_port}"))),
        "{detail}"
    );
    let last = &detail["pods"][0]["containers"][0]["lastTermination"];
    assert_eq!(last["exitCode"], 0, "{detail}");
    // The previous run's output is there to read.
    let previous = api(
        addr,
        admin,
        "GET",
        "/api/v1/namespaces/default/workloads/ends/logs?previous=true",
        "",
    )
    .await;
    assert_eq!((previous.status, previous.body.as_str()), (200, "hello\n"));
    // Clone gives the form back.
    assert_eq!(
        detail["form"]["command"],
        json!(["sh", "-c", "echo hello; exit 0"])
    );
    assert_eq!(detail["form"]["ports"], json!([8888]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_the_quota_holds_back_is_in_the_queue_and_explained_on_its_page() {
    let sim = start_sim().await;
    let addr = start_dashboard(&sim, DashboardSettings::default()).await;
    let researcher = &sim.researcher_token;
    // Made with kubectl (the form's dry run would have refused it): 3 GPUs against a 2-GPU quota.
    let file = sim.kubeconfig.with_file_name("held.yaml");
    std::fs::write(
        &file,
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: held\n  namespace: ai\nspec:\n  backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: main\n        image: tensorflow/tensorflow:latest-gpu\n        resources:\n          limits:\n            nvidia.com/gpu: \"3\"\n",
    )
    .expect("written");
    let applied = kubectl(
        &sim.kubeconfig,
        &["apply", "-f", &file.display().to_string()],
    )
    .await;
    assert!(applied.ok, "{}", applied.stderr);
    let row = eventually("the held Job in the queue", WAIT, || async {
        let rows = rows_named(addr, researcher, "held").await;
        match rows.first() {
            Some(r) if !r["heldByQuota"].is_null() => Ok(r.clone()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    assert_eq!(
        row["heldByQuota"],
        json!({"quota": "gpu-quota", "used": 0, "hard": 2}),
        "{row}"
    );
    assert_eq!(
        (&row["state"], &row["position"]),
        (&json!("Pending"), &Value::Null)
    );
    let detail = explained(
        addr,
        researcher,
        "/api/v1/namespaces/ai/workloads/held",
        "QuotaRefused",
    )
    .await;
    let refusal = detail["explanations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["what"] == "QuotaRefused")
        .unwrap();
    assert!(
        refusal["message"]
            .as_str()
            .unwrap()
            .contains("exceeded quota: gpu-quota"),
        "{refusal}"
    );
}
