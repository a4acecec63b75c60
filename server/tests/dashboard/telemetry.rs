//! The dashboard's telemetry collector against the sim's exporters: discovery of the DaemonSet's
//! pods, a cycle over every exporter, history per GPU, and a failing exporter marked stale with
//! its last sample kept.

use std::time::Duration;

use frontend::contract::ExporterError;
use gpuboard::telemetry::{Telemetry, TelemetrySettings};
use gpuboard_sim::seed::LAB_GPU_NODES;
use gpuboard_testkit::eventually;

use super::{WAIT, sim_exporter_targets, start_sim};

#[tokio::test]
async fn a_cycle_reads_every_exporter_and_a_failing_one_goes_stale_not_zero() {
    let sim = start_sim().await;
    let targets = sim_exporter_targets(&sim).await;
    let nodes: Vec<&str> = targets.iter().map(|t| t.node.as_str()).collect();
    assert_eq!(nodes, LAB_GPU_NODES);
    assert!(
        targets
            .iter()
            .all(|t| t.url.starts_with("http://127.0.") && t.url.ends_with("/api/v1/gpus"))
    );

    let telemetry = Telemetry::default();
    let settings = TelemetrySettings {
        timeout: Duration::from_secs(2),
        ..Default::default()
    };
    // The exporters publish their first sample within their first interval.
    eventually("every exporter's first sample", WAIT, || async {
        let answered = telemetry.cycle_once(&targets, &settings).await;
        let with_gpus = telemetry
            .snapshot()
            .values()
            .filter(|n| n.last_good.as_ref().is_some_and(|g| g.gpus.len() == 1))
            .count();
        if answered == LAB_GPU_NODES.len() && with_gpus == LAB_GPU_NODES.len() {
            Ok(())
        } else {
            Err(format!("{answered} answered, {with_gpus} with a GPU"))
        }
    })
    .await;
    let node110 = telemetry.node("node-110").expect("node-110");
    let gpu = &node110.last_good.as_ref().expect("an answer").gpus[0];
    assert_eq!(gpu.identity.name, "NVIDIA GeForce GTX 1080 Ti");
    assert!(!node110.is_stale());
    assert!(!telemetry.history(&gpu.identity.uuid).is_empty());

    // node-110's exporter stops answering: stale, with the last good sample and its time kept.
    let mut broken = targets.clone();
    for t in broken.iter_mut().filter(|t| t.node == "node-110") {
        t.url = "http://127.0.0.1:1/api/v1/gpus".into();
    }
    assert_eq!(
        telemetry.cycle_once(&broken, &settings).await,
        LAB_GPU_NODES.len() - 1
    );
    let stale = telemetry.node("node-110").expect("still known");
    assert!(stale.is_stale());
    assert!(
        matches!(stale.error, Some(ExporterError::Unreachable(_))),
        "{:?}",
        stale.error
    );
    assert_eq!(stale.last_good_at_ms, node110.last_good_at_ms);
    assert_eq!(
        stale.last_good.expect("kept").gpus[0].identity.uuid,
        gpu.identity.uuid
    );

    // An exporter that answers for another node is not believed.
    let mut swapped = targets.clone();
    let node109 = swapped
        .iter()
        .position(|t| t.node == "node-109")
        .expect("node-109");
    let node106 = swapped
        .iter()
        .position(|t| t.node == "node-106")
        .expect("node-106");
    swapped[node109].url = targets[node106].url.clone();
    telemetry.cycle_once(&swapped, &settings).await;
    assert_eq!(
        telemetry.node("node-109").expect("known").error,
        Some(ExporterError::WrongNode("node-106".into()))
    );

    // An exporter pod that goes away takes its node out of telemetry.
    let fewer: Vec<_> = targets
        .iter()
        .filter(|t| t.node != "node-105")
        .cloned()
        .collect();
    telemetry.cycle_once(&fewer, &settings).await;
    assert!(telemetry.node("node-105").is_none());
}

/// A hostile exporter on loopback: each path answers one way an exporter can lie or stall.
async fn hostile_exporter() -> std::net::SocketAddr {
    use axum::routing::get;
    use gpuboard_exporter_api::{Gpu, NodeGpus};

    fn answer(node: &str, gpus: usize) -> String {
        let gpus = (0..gpus)
            .map(|i| {
                let mut gpu = Gpu::default();
                gpu.identity.uuid = format!("GPU-{i}");
                gpu
            })
            .collect();
        serde_json::to_string(&NodeGpus {
            node: node.into(),
            gpus,
            ..Default::default()
        })
        .expect("json")
    }
    let app = axum::Router::new()
        .route("/fine", get(|| async { answer("node-110", 1) }))
        .route("/many-gpus", get(|| async { answer("node-110", 100) }))
        .route(
            "/huge",
            get(|| async { " ".repeat(600 * 1024) + &answer("node-110", 1) }),
        )
        .route(
            "/deep",
            get(|| async {
                let deep = "[".repeat(100_000) + &"]".repeat(100_000);
                format!("{{\"node\": \"node-110\", \"gpus\": [{{\"xidErrors\": {deep}}}]}}")
            }),
        )
        .route("/malformed", get(|| async { "{\"node\": 7}" }))
        .route(
            "/huge-text",
            get(|| async { "# padding\n".repeat(500 * 1024) }),
        )
        .route(
            "/long-node",
            get(|| async { answer(&"n".repeat(10_000), 1) }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                answer("node-110", 1)
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

#[tokio::test]
async fn a_hostile_exporter_is_refused_with_what_was_wrong_and_nothing_is_kept() {
    use gpuboard::telemetry::discovery::{AnswerFormat, ExporterTarget};

    let addr = hostile_exporter().await;
    let settings = TelemetrySettings {
        timeout: Duration::from_millis(500),
        ..Default::default()
    };
    let telemetry = Telemetry::default();
    let ask = |path: &str| {
        vec![ExporterTarget {
            node: "node-110".into(),
            url: format!("http://{addr}/{path}"),
            format: AnswerFormat::GpuboardJson,
        }]
    };
    assert_eq!(telemetry.cycle_once(&ask("fine"), &settings).await, 1);
    let good_at = telemetry.node("node-110").and_then(|n| n.last_good_at_ms);

    for (path, expected) in [
        ("many-gpus", "gpus: 100 entries, at most 64 allowed"),
        ("huge", "larger than 512 KiB"),
        ("deep", "invalid type: sequence, expected a map"),
        ("malformed", "invalid type: integer `7`"),
        ("long-node", "node: 10000 bytes, at most 253 allowed"),
    ] {
        assert_eq!(
            telemetry.cycle_once(&ask(path), &settings).await,
            0,
            "{path}"
        );
        let node = telemetry.node("node-110").expect("still known");
        match &node.error {
            Some(ExporterError::Invalid(why)) => {
                assert!(why.contains(expected), "{path}: {why}");
                assert!(why.len() <= 210, "{path}: the reason is kept short");
            }
            other => panic!("{path}: {other:?}"),
        }
        // The last good answer stays, and nothing of the refused one is kept.
        assert_eq!(node.last_good_at_ms, good_at, "{path}");
        assert_eq!(node.last_good.expect("kept").gpus.len(), 1, "{path}");
        assert!(telemetry.history("GPU-99").is_empty(), "{path}");
    }
    assert_eq!(telemetry.cycle_once(&ask("slow"), &settings).await, 0);
    assert_eq!(
        telemetry.node("node-110").expect("known").error,
        Some(ExporterError::Timeout { ms: 500 })
    );

    // dcgm-exporter's text has a bound of its own, larger than the JSON's: 600 KiB of text is
    // read (it holds no GPU series, and says so), 5 MiB is refused.
    let ask_text = |path: &str| {
        vec![ExporterTarget {
            node: "node-110".into(),
            url: format!("http://{addr}/{path}"),
            format: AnswerFormat::DcgmText,
        }]
    };
    assert_eq!(telemetry.cycle_once(&ask_text("huge"), &settings).await, 1);
    let read = telemetry.node("node-110").expect("known");
    let answer = read.last_good.expect("an answer");
    assert!(
        answer.gpus.is_empty() && answer.unavailable.is_some(),
        "{answer:?}"
    );
    assert_eq!(
        telemetry
            .cycle_once(&ask_text("huge-text"), &settings)
            .await,
        0
    );
    assert!(
        matches!(
            telemetry.node("node-110").expect("known").error,
            Some(ExporterError::Invalid(why)) if why.contains("larger than 4096 KiB")
        ),
        "{:?}",
        telemetry.node("node-110")
    );
}
