//! Page views are served from the shared watch cache: once the dashboard has synced, viewing
//! every page again and again makes no list call to the cluster, and the access reviews it asks
//! for are cached. Counted by the sim's `apiserver_request_total` (`GET /metrics`).

use std::collections::BTreeMap;
use std::time::Duration;

use gpuboard::DashboardSettings;
use gpuboard_testkit::http::request;

use super::{sign_in, start_dashboard, start_sim};

/// `apiserver_request_total` by (verb, resource), read with the admin's token.
async fn request_counts(client: &kube::Client) -> BTreeMap<(String, String), u64> {
    let text = client
        .request_text(
            http::Request::get("/metrics")
                .body(Vec::new())
                .expect("a request"),
        )
        .await
        .expect("the sim serves /metrics to an admin");
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string())))
        .expect("the metrics parse");
    let mut counts = BTreeMap::new();
    for sample in scrape
        .samples
        .iter()
        .filter(|s| s.metric == "apiserver_request_total")
    {
        let prometheus_parse::Value::Counter(value) = sample.value else {
            panic!("apiserver_request_total is a counter: {sample:?}");
        };
        let label = |name: &str| sample.labels.get(name).unwrap_or_default().to_string();
        *counts
            .entry((label("verb"), label("resource")))
            .or_default() += value as u64;
    }
    counts
}

fn count(counts: &BTreeMap<(String, String), u64>, verb: &str, resource: &str) -> u64 {
    counts
        .get(&(verb.to_string(), resource.to_string()))
        .copied()
        .unwrap_or(0)
}

#[tokio::test]
async fn page_views_make_no_list_calls_once_synced() {
    let sim = start_sim().await;
    // Access reviews are kept longer than the test runs, so none expires between the rounds.
    let addr = start_dashboard(
        &sim,
        DashboardSettings {
            permissions_cache_for: Duration::from_secs(3600),
            ..Default::default()
        },
    )
    .await;
    let admin = gpuboard_testkit::client_for(&sim.kubeconfig).await;
    let cookie = sign_in(addr, &sim.admin_token).await;
    let pages = ["/", "/nodes", "/gpus", "/nodes/node-110", "/gpus.csv"];
    // Warm-up: the first views wait for the cache to sync and ask their access reviews.
    for path in pages {
        let reply = request(addr, "GET", path, std::slice::from_ref(&cookie), "").await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.head);
    }
    let before = request_counts(&admin).await;
    assert!(
        count(&before, "LIST", "pods") >= 1 && count(&before, "WATCH", "pods") >= 1,
        "the cache listed and watched pods: {before:?}"
    );

    for _ in 0..5 {
        for path in pages {
            let reply = request(addr, "GET", path, std::slice::from_ref(&cookie), "").await;
            assert_eq!(reply.status, 200, "{path}");
        }
    }
    let after = request_counts(&admin).await;

    let lists: Vec<_> = after
        .iter()
        .filter(|((verb, resource), n)| verb == "LIST" && count(&before, verb, resource) != **n)
        .collect();
    assert!(lists.is_empty(), "page views listed: {lists:?}");
    let reviews = count(&after, "POST", "selfsubjectaccessreviews")
        - count(&before, "POST", "selfsubjectaccessreviews");
    assert_eq!(reviews, 0, "access reviews are cached for the session");
}
