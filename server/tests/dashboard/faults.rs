//! Faults of the cluster under a running dashboard: the API server gone for a minute while the
//! cluster changes and its watch history is compacted, open watches expired with `410 Gone`, a
//! GPU failing and an exporter hanging. In each, the pages go on with what they had and say
//! what is stale and since when, the rest stays live and right, and once the fault is gone the
//! pages are live again by themselves (within 5 s of the API server's return), with no restart.
//! (An exporter down, lying about its node, malformed or too large: `telemetry.rs`.)

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use frontend::contract::{
    Alert, ClusterLink, ExporterError, GpuRow, NodeSummary, Overview, StaleReason,
};
use gpuboard::DashboardSettings;
use gpuboard::telemetry::TelemetrySettings;
use gpuboard_sim::SimConfig;
use gpuboard_sim::resources::by_kind;
use gpuboard_testkit::eventually;
use gpuboard_testkit::http::request;

use super::{WAIT, json_of, sign_in, start_dashboard, start_sim};

/// How long the API server stays away.
const OUTAGE: Duration = Duration::from_secs(60);
/// How soon after the API server's return the pages must be live and right.
const BACK_WITHIN: Duration = Duration::from_secs(5);

/// A server function's JSON answer for the session `cookie`.
async fn read<T: serde::de::DeserializeOwned>(addr: SocketAddr, cookie: &str, path: &str) -> T {
    let reply = request(addr, "GET", path, &[cookie.to_string()], "").await;
    assert_eq!(reply.status, 200, "{path}: {} {}", reply.head, reply.body);
    serde_json::from_value(json_of(&reply))
        .unwrap_or_else(|e| panic!("{path}: {e}: {}", reply.body))
}

async fn link(addr: SocketAddr, cookie: &str) -> ClusterLink {
    read(addr, cookie, "/api/cluster_link").await
}

async fn nodes(addr: SocketAddr, cookie: &str) -> Vec<NodeSummary> {
    read(addr, cookie, "/api/list_nodes").await
}

/// Every GPU row (the CSV's rows, as JSON through the pages' server function).
async fn gpus(addr: SocketAddr, cookie: &str) -> Vec<GpuRow> {
    let page: frontend::contract::GpuPage = read(addr, cookie, "/api/list_gpus").await;
    page.rows
}

/// Whether node-109 is cordoned and the T4 node gone: what changed while nobody watched.
fn changes_seen(nodes: &[NodeSummary]) -> Result<(), String> {
    let cordoned = nodes
        .iter()
        .any(|n| n.name == "node-109" && n.unschedulable);
    let deleted = !nodes.iter().any(|n| n.name == "ai-gpu-flask2.novalocal");
    if cordoned && deleted {
        Ok(())
    } else {
        Err(format!("cordoned {cordoned}, deleted {deleted}"))
    }
}

/// The newest GPU sample's time.
fn newest_sample(rows: &[GpuRow]) -> i64 {
    rows.iter().map(|r| r.sampled_at_ms).max().unwrap_or(0)
}

#[tokio::test]
async fn the_api_server_gone_for_a_minute_is_said_with_since_when_and_the_pages_come_back_right() {
    let mut sim = start_sim().await;
    let addr = start_dashboard(&sim, DashboardSettings::default()).await;
    let cookie = sign_in(addr, &sim.admin_token).await;
    eventually("the cache synced and live", WAIT, || async {
        let nodes = nodes(addr, &cookie).await;
        match link(addr, &cookie).await {
            ClusterLink::Live if nodes.len() == 6 => Ok(()),
            other => Err(format!("{} nodes, {other:?}", nodes.len())),
        }
    })
    .await;

    let (stopped_at, stopped) = (jiff::Timestamp::now(), Instant::now());
    sim.stop_api_server().await;
    let (since, reason) = eventually("the pages to say the cluster is stale", WAIT, || async {
        match link(addr, &cookie).await {
            ClusterLink::Stale {
                since_utc, reason, ..
            } => Ok((since_utc, reason)),
            ClusterLink::Live => Err("live"),
        }
    })
    .await;
    let since_at = jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M:%S", &since)
        .expect("a UTC clock time")
        .to_zoned(jiff::tz::TimeZone::UTC)
        .expect("in UTC")
        .timestamp();
    let off = since_at.duration_since(stopped_at).as_secs_f64();
    assert!(
        (-1.0..5.0).contains(&off),
        "stale since {since}, stopped at {stopped_at}"
    );
    assert_eq!(reason, StaleReason::Unreachable);

    // Meanwhile the cluster changes, and the API server forgets the history the watches would
    // resume from: they must list again when it is back.
    {
        let mut store = sim.sim.lock_store();
        let node = store
            .get(by_kind("Node"), "", "node-109")
            .expect("node-109");
        let mut node = (*node).clone();
        node["spec"]["unschedulable"] = true.into();
        store.update(by_kind("Node"), node, None).expect("cordoned");
        store
            .delete(by_kind("Node"), "", "ai-gpu-flask2.novalocal")
            .expect("deleted");
    }
    sim.sim.expire_watches();
    let lists = sim.sim.requests.count("list", "nodes");

    // Every page answers from what it had, with the banner saying since when.
    for page in ["/", "/nodes", "/gpus", "/queue", "/nodes/node-110"] {
        let reply = request(addr, "GET", page, &[cookie.to_string()], "").await;
        assert_eq!(reply.status, 200, "{page}: {}", reply.head);
        assert!(
            reply.body.contains("data-testid=\"cluster-stale\"") && reply.body.contains(&since),
            "{page} says nothing of the outage:\n{}",
            reply.body
        );
    }
    assert!(
        changes_seen(&nodes(addr, &cookie).await).is_err(),
        "nothing can be seen of the changes while the API server is away"
    );

    // GPU numbers still come from the exporters, live.
    let before = newest_sample(&gpus(addr, &cookie).await);
    eventually("fresh GPU samples during the outage", WAIT, || async {
        let rows = gpus(addr, &cookie).await;
        let newest = newest_sample(&rows);
        let stale = rows.iter().filter(|r| r.stale).count();
        if newest > before && stale == 0 && !rows.is_empty() {
            Ok(())
        } else {
            Err(format!("newest {newest} (was {before}), {stale} stale"))
        }
    })
    .await;

    tokio::time::sleep(OUTAGE.saturating_sub(stopped.elapsed())).await;
    match link(addr, &cookie).await {
        ClusterLink::Stale {
            since_utc,
            for_seconds,
            ..
        } => {
            assert_eq!(since_utc, since, "the outage keeps its start");
            assert!(for_seconds >= 55, "stale for {for_seconds} s");
        }
        ClusterLink::Live => panic!("live while the API server is away"),
    }

    sim.start_api_server()
        .await
        .expect("the API server serves again");
    let back = Instant::now();
    eventually("live and right again", BACK_WITHIN, || async {
        let nodes = nodes(addr, &cookie).await;
        changes_seen(&nodes)?;
        match link(addr, &cookie).await {
            ClusterLink::Live => Ok(()),
            stale => Err(format!("{stale:?}")),
        }
    })
    .await;
    assert!(
        sim.sim.requests.count("list", "nodes") > lists,
        "the watch of nodes was told 410 Gone and listed again"
    );
    eprintln!(
        "live and right {:.1} s after the API server's return",
        back.elapsed().as_secs_f64()
    );
    let reply = request(addr, "GET", "/", &[cookie.to_string()], "").await;
    assert!(!reply.body.contains("cluster-stale"), "the banner is gone");

    // Open watches expire (410 Gone): the cache lists again and follows what changes next.
    let lists = sim.sim.requests.count("list", "nodes");
    sim.sim.expire_watches();
    let client = gpuboard_testkit::client_for(&sim.kubeconfig).await;
    let api: kube::Api<k8s_openapi::api::core::v1::Node> = kube::Api::all(client);
    api.patch(
        "node-106",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(serde_json::json!({"spec": {"unschedulable": true}})),
    )
    .await
    .expect("node-106 cordoned");
    eventually(
        "the change after the watches expired",
        BACK_WITHIN,
        || async {
            let nodes = nodes(addr, &cookie).await;
            let cordoned = nodes
                .iter()
                .any(|n| n.name == "node-106" && n.unschedulable);
            match link(addr, &cookie).await {
                ClusterLink::Live
                    if cordoned && sim.sim.requests.count("list", "nodes") > lists =>
                {
                    Ok(())
                }
                other => Err(format!(
                    "node-106 cordoned {cordoned}, {other:?}, listed again?"
                )),
            }
        },
    )
    .await;
}

/// The row of GPU `index` of `node`.
fn row<'a>(rows: &'a [GpuRow], node: &str, index: u32) -> Result<&'a GpuRow, String> {
    rows.iter()
        .find(|r| r.node == node && r.index == index)
        .ok_or_else(|| format!("no row for GPU {index} of {node}"))
}

/// Whether `row` is live with numbers.
fn live(row: &GpuRow) -> Result<(), String> {
    if !row.stale && row.failure.is_none() && row.utilization_percent.is_some() {
        Ok(())
    } else {
        Err(format!("{row:?}"))
    }
}

#[tokio::test]
async fn a_failing_gpu_and_a_hung_exporter_are_said_and_the_rest_stays_live() {
    let sim = gpuboard_sim::start_temporary(SimConfig {
        nodes: Some(2),
        gpus_per_node: 2,
        ..Default::default()
    })
    .await
    .expect("the sim starts");
    let settings = DashboardSettings {
        telemetry: TelemetrySettings {
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            ..Default::default()
        },
        ..Default::default()
    };
    let addr = start_dashboard(&sim, settings).await;
    let cookie = sign_in(addr, &sim.admin_token).await;
    let (failing, hanging) = ("gpu-node-0001", "gpu-node-0002");
    eventually("every GPU live", WAIT, || async {
        let rows = gpus(addr, &cookie).await;
        if rows.len() != 4 {
            return Err(format!("{} rows", rows.len()));
        }
        rows.iter().try_for_each(live)
    })
    .await;

    sim.sim.fail_gpu(failing, 1);
    sim.sim.hang_exporter(hanging, true);
    eventually(
        "the failed GPU and the hung exporter said",
        WAIT,
        || async {
            let rows = gpus(addr, &cookie).await;
            let failed = row(&rows, failing, 1)?;
            if failed.failure.is_none() || failed.utilization_percent.is_some() {
                return Err(format!("not failed: {failed:?}"));
            }
            for index in 0..2 {
                let stale = row(&rows, hanging, index)?;
                if !stale.stale {
                    return Err(format!("not stale: {stale:?}"));
                }
            }
            Ok(())
        },
    )
    .await;
    let hung = row(&gpus(addr, &cookie).await, hanging, 0)
        .expect("a row")
        .clone();

    // The rest stays live: the failed GPU's neighbour keeps fresh numbers.
    let neighbour = row(&gpus(addr, &cookie).await, failing, 0)
        .expect("a row")
        .sampled_at_ms;
    eventually("the neighbour's next sample", WAIT, || async {
        let rows = gpus(addr, &cookie).await;
        let now = row(&rows, failing, 0)?;
        live(now)?;
        if now.sampled_at_ms > neighbour {
            Ok(())
        } else {
            Err("no newer sample".to_string())
        }
    })
    .await;
    let rows = gpus(addr, &cookie).await;
    let failed = row(&rows, failing, 1).expect("a row");
    assert!(
        failed
            .failure
            .as_deref()
            .is_some_and(|why| why.contains("lost")),
        "{failed:?}"
    );
    // Cycles went on meanwhile (the neighbour's newer sample); the hung node's sample did not.
    let stale = row(&rows, hanging, 0).expect("a row");
    assert!(
        stale.utilization_percent.is_some() && stale.sampled_at_ms == hung.sampled_at_ms,
        "a stale node keeps its last numbers: {stale:?}, when it went stale {hung:?}"
    );

    // The overview says both, with the reasons (neither is counted as busy or in the average).
    let overview: Overview = read(addr, &cookie, "/api/get_overview").await;
    assert!(
        overview.alerts.iter().any(|a| matches!(a,
            Alert::GpuFailed { node, index: 1, error } if node == failing && error.contains("lost"))),
        "{:?}",
        overview.alerts
    );
    assert!(
        overview.alerts.iter().any(|a| matches!(a,
            Alert::StaleExporter { node, error: ExporterError::Timeout { .. }, .. } if node == hanging)),
        "{:?}",
        overview.alerts
    );
    assert_eq!(overview.gpus_total, 4);
    for path in ["/gpus".to_string(), format!("/nodes/{failing}")] {
        let page = request(addr, "GET", &path, std::slice::from_ref(&cookie), "").await;
        assert!(
            page.body.contains("data-testid=\"gpu-failed\""),
            "{path}: {}",
            page.body
        );
    }

    // Both mended: live again by themselves.
    sim.sim.mend_gpu(failing, 1);
    sim.sim.hang_exporter(hanging, false);
    eventually("every GPU live again", WAIT, || async {
        gpus(addr, &cookie).await.iter().try_for_each(live)
    })
    .await;
}
