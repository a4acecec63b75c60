//! kube-rs against a started sim: typed lists, the runtime watcher, optimistic concurrency,
//! dry runs, validation errors, and a 1,000-node cluster.

use std::time::Duration;

use futures::StreamExt;
use gpuboard_sim::{SimConfig, SimHandle};
use gpuboard_testkit::eventually;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Node, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::watcher::{self, Event};
use serde_json::json;

use super::{WAIT, admin_client, start_sim, start_sim_with};

fn config_map(name: &str, value: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name}, "data": {"k": value}})).unwrap()
}

#[tokio::test]
async fn watcher_sees_added_modified_deleted_in_order() {
    let sim = start_sim().await;
    let client = admin_client(&sim).await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let stream = watcher::watcher(
        api.clone(),
        watcher::Config::default().labels("app=watched"),
    );
    let mut stream = Box::pin(stream);
    // The initial list completes first.
    loop {
        match tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .expect("initial list")
            .expect("stream")
            .expect("event")
        {
            Event::InitDone => break,
            _ => continue,
        }
    }
    let mut cm = config_map("w", "1");
    cm.metadata.labels = Some([("app".to_string(), "watched".to_string())].into());
    api.create(&PostParams::default(), &cm).await.unwrap();
    api.patch(
        "w",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"k": "2"}})),
    )
    .await
    .unwrap();
    api.delete("w", &DeleteParams::default()).await.unwrap();
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let ev = tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .expect("event in time")
            .expect("stream")
            .expect("event");
        match ev {
            Event::Apply(cm) => seen.push(format!(
                "apply:{}",
                cm.data
                    .unwrap_or_default()
                    .get("k")
                    .cloned()
                    .unwrap_or_default()
            )),
            Event::Delete(_) => seen.push("delete".to_string()),
            _ => {}
        }
    }
    assert_eq!(seen, vec!["apply:1", "apply:2", "delete"]);
}

#[tokio::test]
async fn stale_updates_conflict_and_dry_runs_create_nothing() {
    let sim = start_sim().await;
    let api: Api<ConfigMap> = Api::namespaced(admin_client(&sim).await, "default");
    let created = api
        .create(&PostParams::default(), &config_map("c", "1"))
        .await
        .unwrap();
    let mut fresh = created.clone();
    fresh.data = Some([("k".to_string(), "2".to_string())].into());
    api.replace("c", &PostParams::default(), &fresh)
        .await
        .unwrap();
    let mut stale = created;
    stale.data = Some([("k".to_string(), "3".to_string())].into());
    match api.replace("c", &PostParams::default(), &stale).await {
        Err(kube::Error::Api(s)) => assert_eq!((s.code, s.reason.as_str()), (409, "Conflict")),
        other => panic!("expected 409, got {other:?}"),
    }
    match api
        .create(&PostParams::default(), &config_map("c", "x"))
        .await
    {
        Err(kube::Error::Api(s)) => assert_eq!((s.code, s.reason.as_str()), (409, "AlreadyExists")),
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    let dry = PostParams {
        dry_run: true,
        ..Default::default()
    };
    let answered = api.create(&dry, &config_map("dry", "1")).await.unwrap();
    assert_eq!(answered.metadata.name.as_deref(), Some("dry"));
    assert!(api.get_opt("dry").await.unwrap().is_none());
}

#[tokio::test]
async fn invalid_gpu_requests_and_names_are_refused_with_causes() {
    let sim = start_sim().await;
    let pods: Api<Pod> = Api::namespaced(admin_client(&sim).await, "default");
    let pod = |name: &str, res: serde_json::Value| -> Pod {
        serde_json::from_value(json!({"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "busybox", "resources": res}]}})).unwrap()
    };
    for (name, res, expect) in [
        (
            "frac",
            json!({"limits": {"nvidia.com/gpu": "500m"}}),
            "must be an integer",
        ),
        (
            "uneq",
            json!({"limits": {"nvidia.com/gpu": "1"}, "requests": {"nvidia.com/gpu": "2"}}),
            "must be equal to nvidia.com/gpu limit of 1",
        ),
        ("Bad_Name", json!({}), "RFC 1123 subdomain"),
    ] {
        match pods.create(&PostParams::default(), &pod(name, res)).await {
            Err(kube::Error::Api(s)) => {
                assert_eq!((s.code, s.reason.as_str()), (422, "Invalid"), "{name}");
                assert!(s.message.contains(expect), "{name}: {}", s.message);
            }
            other => panic!("{name}: expected 422, got {other:?}"),
        }
    }
    match pods.get("nope").await {
        Err(kube::Error::Api(s)) => assert_eq!(
            (s.code, s.message.as_str()),
            (404, "pods \"nope\" not found")
        ),
        other => panic!("expected 404, got {other:?}"),
    }
}

#[tokio::test]
async fn generate_name_selectors_paging_and_a_job_that_completes() {
    let sim = start_sim().await;
    let client = admin_client(&sim).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    for i in 0..5 {
        let mut cm = config_map("", &i.to_string());
        cm.metadata.name = None;
        cm.metadata.generate_name = Some("gen-".into());
        cm.metadata.labels = Some(
            [(
                "batch".to_string(),
                if i < 3 { "a" } else { "b" }.to_string(),
            )]
            .into(),
        );
        let made = cms.create(&PostParams::default(), &cm).await.unwrap();
        assert!(made.metadata.name.unwrap().starts_with("gen-"));
    }
    assert_eq!(
        cms.list(&ListParams::default().labels("batch=a"))
            .await
            .unwrap()
            .items
            .len(),
        3
    );
    assert_eq!(
        cms.list(&ListParams::default().labels("batch in (a,b)"))
            .await
            .unwrap()
            .items
            .len(),
        5
    );
    let page = cms
        .list(&ListParams::default().labels("batch").limit(2))
        .await
        .unwrap();
    assert_eq!(page.items.len(), 2);
    let token = page.metadata.continue_.clone().expect("continue token");
    let rest = cms
        .list(
            &ListParams::default()
                .labels("batch")
                .limit(10)
                .continue_token(&token),
        )
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 3);

    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");
    let job: Job = serde_json::from_value(json!({"metadata": {"name": "vectoradd"}, "spec": {"backoffLimit": 0, "template": {"spec": {
        "restartPolicy": "Never",
        "containers": [{"name": "va", "image": "nvcr.io/nvidia/k8s/cuda-sample:vectoradd-cuda12.5.0", "resources": {"limits": {"nvidia.com/gpu": "1"}}}]}}}})).unwrap();
    jobs.create(&PostParams::default(), &job).await.unwrap();
    eventually("the vectoradd job to complete", WAIT, || async {
        let conditions = jobs
            .get("vectoradd")
            .await
            .map_err(|e| e.to_string())?
            .status
            .and_then(|s| s.conditions)
            .unwrap_or_default();
        if conditions
            .iter()
            .any(|c| c.type_ == "Complete" && c.status == "True")
        {
            Ok(())
        } else {
            Err(format!("{conditions:?}"))
        }
    })
    .await;
    let pods: Api<Pod> = Api::namespaced(client, "default");
    let job_pods = pods
        .list(&ListParams::default().labels("batch.kubernetes.io/job-name=vectoradd"))
        .await
        .unwrap();
    assert_eq!(job_pods.items.len(), 1);
    let pod_name = job_pods.items[0].metadata.name.clone().unwrap();
    let logs = pods.logs(&pod_name, &Default::default()).await.unwrap();
    assert!(logs.contains("Test PASSED"), "{logs}");
    jobs.delete("vectoradd", &DeleteParams::background())
        .await
        .unwrap();
    eventually("the Job's pods to go with it", WAIT, || async {
        let left = pods
            .list(&ListParams::default().labels("batch.kubernetes.io/job-name=vectoradd"))
            .await
            .map_err(|e| e.to_string())?
            .items
            .len();
        if left == 0 {
            Ok(())
        } else {
            Err(format!("{left} left"))
        }
    })
    .await;
}

#[tokio::test]
async fn a_node_made_not_ready_is_tainted_and_ready_again_untainted() {
    let sim = start_sim().await;
    let nodes: Api<Node> = Api::all(admin_client(&sim).await);
    let set_ready = |status: &str| json!({"status": {"conditions": [{"type": "Ready", "status": status, "reason": "KubeletNotReady", "message": "set by test"}]}});
    nodes
        .patch_status(
            "node-109",
            &PatchParams::default(),
            &Patch::Strategic(set_ready("False")),
        )
        .await
        .unwrap();
    let tainted = |n: &Node| {
        n.spec
            .as_ref()
            .and_then(|s| s.taints.as_ref())
            .is_some_and(|t| t.iter().any(|t| t.key == "node.kubernetes.io/not-ready"))
    };
    let taint_is = async |wanted: bool| {
        let node = nodes.get("node-109").await.map_err(|e| e.to_string())?;
        if tainted(&node) == wanted {
            Ok(())
        } else {
            Err(format!("{:?}", node.spec.and_then(|s| s.taints)))
        }
    };
    eventually("the NotReady node to get the not-ready taint", WAIT, || {
        taint_is(true)
    })
    .await;
    nodes
        .patch_status(
            "node-109",
            &PatchParams::default(),
            &Patch::Strategic(set_ready("True")),
        )
        .await
        .unwrap();
    eventually("the taint gone once Ready again", WAIT, || taint_is(false)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_node_sim_lists_every_node() {
    let sim = start_sim_with(SimConfig {
        nodes: Some(1000),
        gpus_per_node: 8,
        ..Default::default()
    })
    .await;
    let nodes: Api<Node> = Api::all(admin_client(&sim).await);
    let list = nodes.list(&ListParams::default()).await.unwrap();
    assert_eq!(list.items.len(), 1001);
    let gpus: u64 = list
        .items
        .iter()
        .filter_map(|n| {
            n.status
                .as_ref()?
                .allocatable
                .as_ref()?
                .get("nvidia.com/gpu")?
                .0
                .parse::<u64>()
                .ok()
        })
        .sum();
    assert_eq!(gpus, 8000);
}

async fn raw_get(client: &kube::Client, path: &str) -> Result<String, u16> {
    let req = http::Request::get(path).body(Vec::new()).expect("request");
    match client.request_text(req).await {
        Ok(body) => Ok(body),
        Err(kube::Error::Api(s)) => Err(s.code),
        Err(e) => panic!("{path}: {e}"),
    }
}

#[tokio::test]
async fn anonymous_reads_only_version_health_and_cluster_info() {
    let sim = start_sim().await;
    let mut config = kube::Config::new(sim.url.parse().unwrap());
    config.root_cert = Some(vec![pem_to_der(&sim.sim.ca.cert_pem)]);
    let anonymous = kube::Client::try_from(config).unwrap();
    assert!(
        raw_get(&anonymous, "/version")
            .await
            .unwrap()
            .contains("gitVersion")
    );
    assert_eq!(raw_get(&anonymous, "/healthz").await.unwrap(), "ok");
    let info = raw_get(
        &anonymous,
        "/api/v1/namespaces/kube-public/configmaps/cluster-info",
    )
    .await
    .unwrap();
    assert!(
        info.contains("certificate-authority-data") && info.contains("jws-kubeconfig-"),
        "{info}"
    );
    for path in [
        "/api/v1/nodes",
        "/api",
        "/api/v1/namespaces/kube-system/secrets",
        "/api/v1/namespaces/kube-public/configmaps",
    ] {
        assert_eq!(raw_get(&anonymous, path).await.unwrap_err(), 401, "{path}");
    }
}

fn pem_to_der(pem: &str) -> Vec<u8> {
    use base64::Engine;
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap()
}

fn bearer_client(sim: &SimHandle, token: &str) -> kube::Client {
    let mut config = kube::Config::new(sim.url.parse().unwrap());
    config.root_cert = Some(vec![pem_to_der(&sim.sim.ca.cert_pem)]);
    config.auth_info.token = Some(token.to_string().into());
    kube::Client::try_from(config).unwrap()
}

async fn whoami(client: &kube::Client) -> Result<String, u16> {
    use k8s_openapi::api::authentication::v1::SelfSubjectReview;
    let api: Api<SelfSubjectReview> = Api::all(client.clone());
    match api
        .create(&PostParams::default(), &SelfSubjectReview::default())
        .await
    {
        Ok(r) => Ok(r
            .status
            .and_then(|s| s.user_info)
            .and_then(|u| u.username)
            .unwrap_or_default()),
        Err(kube::Error::Api(s)) => Err(s.code),
        Err(e) => panic!("{e}"),
    }
}

#[tokio::test]
async fn bootstrap_and_legacy_secret_tokens_authenticate_until_removed() {
    use base64::Engine;
    use k8s_openapi::api::core::v1::Secret;
    let sim = start_sim().await;
    let admin = admin_client(&sim).await;
    let secrets: Api<Secret> = Api::namespaced(admin.clone(), "kube-system");
    let boot = secrets
        .list(&ListParams::default().fields("type=bootstrap.kubernetes.io/token"))
        .await
        .unwrap();
    assert_eq!(boot.items.len(), 1, "the default bootstrap token");
    let data = boot.items[0].data.clone().unwrap();
    let text = |k: &str| String::from_utf8(data[k].0.clone()).unwrap();
    let (id, secret) = (text("token-id"), text("token-secret"));
    assert_eq!(
        text("auth-extra-groups"),
        "system:bootstrappers:kubeadm:default-node-token"
    );
    let bootstrap = bearer_client(&sim, &format!("{id}.{secret}"));
    assert_eq!(
        whoami(&bootstrap).await.unwrap(),
        format!("system:bootstrap:{id}")
    );
    // kubeadm's RBAC lets the default-node-token group get nodes.
    assert!(
        Api::<Node>::all(bootstrap.clone())
            .get("node-110")
            .await
            .is_ok()
    );
    assert_eq!(
        whoami(&bearer_client(&sim, &format!("{id}.0000000000000000")))
            .await
            .unwrap_err(),
        401
    );

    // The signer signed cluster-info for it; deleting the token removes the signature and the login.
    let cms: Api<ConfigMap> = Api::namespaced(admin.clone(), "kube-public");
    let signed = |cm: &ConfigMap| {
        cm.data
            .as_ref()
            .is_some_and(|d| d.contains_key(&format!("jws-kubeconfig-{id}")))
    };
    assert!(signed(&cms.get("cluster-info").await.unwrap()));
    secrets
        .delete(&format!("bootstrap-token-{id}"), &DeleteParams::default())
        .await
        .unwrap();
    assert_eq!(whoami(&bootstrap).await.unwrap_err(), 401);
    eventually(
        "the signer to drop the deleted token's signature",
        WAIT,
        || async {
            let info = cms.get("cluster-info").await.map_err(|e| e.to_string())?;
            if signed(&info) {
                Err(format!(
                    "{:?}",
                    info.data.map(|d| d.into_keys().collect::<Vec<_>>())
                ))
            } else {
                Ok(())
            }
        },
    )
    .await;

    // An expired bootstrap token is cleaned away.
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let expired: Secret = serde_json::from_value(json!({"metadata": {"name": "bootstrap-token-abcdef"}, "type": "bootstrap.kubernetes.io/token",
        "data": {"token-id": b64("abcdef"), "token-secret": b64("0123456789abcdef"), "expiration": b64("2001-01-01T00:00:00Z"),
                 "usage-bootstrap-authentication": b64("true")}})).unwrap();
    secrets
        .create(&PostParams::default(), &expired)
        .await
        .unwrap();
    eventually(
        "the token cleaner to delete the expired bootstrap token",
        WAIT,
        || async {
            match secrets.get_opt("bootstrap-token-abcdef").await {
                Ok(None) => Ok(()),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;

    // A legacy service-account token Secret gets a token that works while the Secret exists.
    let sa_secrets: Api<Secret> = Api::namespaced(admin, "kube-system");
    let legacy: Secret = serde_json::from_value(json!({"metadata": {"name": "dashboard-admin-token", "annotations": {"kubernetes.io/service-account.name": "dashboard-admin"}},
        "type": "kubernetes.io/service-account-token"})).unwrap();
    let made = sa_secrets
        .create(&PostParams::default(), &legacy)
        .await
        .unwrap();
    let token = String::from_utf8(made.data.unwrap()["token"].0.clone()).unwrap();
    let legacy_client = bearer_client(&sim, &token);
    assert_eq!(
        whoami(&legacy_client).await.unwrap(),
        "system:serviceaccount:kube-system:dashboard-admin"
    );
    sa_secrets
        .delete("dashboard-admin-token", &DeleteParams::default())
        .await
        .unwrap();
    assert_eq!(whoami(&legacy_client).await.unwrap_err(), 401);
}

/// The next event of a watch: fails the test when none comes within 5 s or the stream ends.
async fn next_event<K>(
    stream: &mut (impl futures::Stream<Item = kube::Result<kube::api::WatchEvent<K>>> + Unpin),
) -> kube::api::WatchEvent<K> {
    tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("an event within 5 s")
        .expect("the watch goes on")
        .expect("an event, not an error")
}

/// The resourceVersion a list answers at: a watch from it sees what comes after.
async fn list_version(api: &Api<ConfigMap>) -> String {
    let list = api.list(&ListParams::default()).await.expect("a list");
    list.metadata.resource_version.expect("a list's version")
}

#[tokio::test]
async fn expiring_watches_ends_open_ones_with_gone_and_refuses_resuming_from_before() {
    use kube::api::{WatchEvent, WatchParams};
    let sim = start_sim().await;
    let api: Api<ConfigMap> = Api::namespaced(admin_client(&sim).await, "default");
    let rv = list_version(&api).await;
    let mut open = Box::pin(api.watch(&WatchParams::default(), &rv).await.unwrap());
    api.create(&PostParams::default(), &config_map("before", "x"))
        .await
        .unwrap();
    match next_event(&mut open).await {
        WatchEvent::Added(cm) => assert_eq!(cm.metadata.name.as_deref(), Some("before")),
        other => panic!("expected the config map, got {other:?}"),
    }
    sim.sim.expire_watches();
    match next_event(&mut open).await {
        WatchEvent::Error(e) => assert_eq!((e.code, e.reason.as_str()), (410, "Expired")),
        other => panic!("expected 410 Gone, got {other:?}"),
    }
    assert!(
        tokio::time::timeout(Duration::from_secs(5), open.next())
            .await
            .unwrap()
            .is_none(),
        "the watch ends after its error"
    );
    let mut resumed = Box::pin(api.watch(&WatchParams::default(), &rv).await.unwrap());
    match next_event(&mut resumed).await {
        WatchEvent::Error(e) => assert_eq!(e.code, 410),
        other => panic!("resuming from before the expiry: expected 410 Gone, got {other:?}"),
    }
}

#[tokio::test]
async fn expired_watch_versions_answer_gone_and_bookmarks_arrive() {
    use kube::api::{WatchEvent, WatchParams};
    let sim = start_sim_with(SimConfig {
        history: 5,
        bookmark_interval: Duration::from_millis(100),
        ..Default::default()
    })
    .await;
    let api: Api<ConfigMap> = Api::namespaced(admin_client(&sim).await, "default");
    for i in 0..10 {
        api.create(&PostParams::default(), &config_map(&format!("g{i}"), "x"))
            .await
            .unwrap();
    }
    let mut stream = Box::pin(api.watch(&WatchParams::default(), "1").await.unwrap());
    match next_event(&mut stream).await {
        WatchEvent::Error(e) => assert_eq!((e.code, e.reason.as_str()), (410, "Expired")),
        other => panic!("expected 410 Gone, got {other:?}"),
    }
    let rv = list_version(&api).await;
    let mut stream = Box::pin(
        api.watch(
            &WatchParams {
                bookmarks: true,
                ..WatchParams::default()
            },
            &rv,
        )
        .await
        .unwrap(),
    );
    match next_event(&mut stream).await {
        WatchEvent::Bookmark(b) => assert!(!b.metadata.resource_version.is_empty()),
        other => panic!("expected a bookmark, got {other:?}"),
    }
}

#[tokio::test]
async fn a_finished_container_under_restart_always_crash_loops_with_back_off() {
    use k8s_openapi::api::core::v1::Event as CoreEvent;
    use kube::api::LogParams;
    let sim = start_sim().await;
    let client = admin_client(&sim).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "tf-pod"}, "spec": {"containers": [
        {"name": "tf-container", "image": "tensorflow/tensorflow:latest-gpu", "resources": {"limits": {"nvidia.com/gpu": 1}}}]}})).unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let events: Api<CoreEvent> = Api::namespaced(client, "default");
    let backoff = eventually("a BackOff event", Duration::from_secs(20), || async {
        let list = events
            .list(&ListParams::default().fields("involvedObject.name=tf-pod,reason=BackOff"))
            .await
            .map_err(|e| e.to_string())?;
        list.items
            .into_iter()
            .next()
            .ok_or_else(|| "no BackOff event yet".to_string())
    })
    .await;
    assert!(
        backoff.message.unwrap_or_default().starts_with(
            "Back-off restarting failed container tf-container in pod tf-pod_default("
        )
    );
    // The container waits out its back-off in CrashLoopBackOff (not a race with the restart).
    let cs = eventually(
        "the container waiting in CrashLoopBackOff",
        WAIT,
        || async {
            let p = pods.get("tf-pod").await.map_err(|e| e.to_string())?;
            let cs = p
                .status
                .and_then(|s| s.container_statuses)
                .and_then(|c| c.into_iter().next())
                .ok_or("no container status")?;
            let waiting = cs
                .state
                .as_ref()
                .and_then(|s| s.waiting.as_ref())
                .and_then(|w| w.reason.as_deref());
            if waiting == Some("CrashLoopBackOff") {
                Ok(cs)
            } else {
                Err(format!("{cs:?}"))
            }
        },
    )
    .await;
    assert!(cs.restart_count >= 1);
    let last = cs.last_state.as_ref().unwrap().terminated.as_ref().unwrap();
    assert_eq!(
        (last.exit_code, last.reason.as_deref()),
        (0, Some("Completed"))
    );
    let previous = pods
        .logs(
            "tf-pod",
            &LogParams {
                previous: true,
                tail_lines: Some(1),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(previous.lines().count(), 1);
    assert!(previous.contains("PhysicalDevice"), "{previous}");
}
