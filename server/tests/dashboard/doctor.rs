//! The GPU-node doctor against the seeds' lab in the sim: node-109 has no device plugin pod,
//! ai-gpu-flask2's clock runs ahead and its kernel and driver differ, node-110 is healthy, the
//! control plane gets no GPU checks; the overview names the failing node; scripts get the same.

use gpuboard::DashboardSettings;
use gpuboard_testkit::eventually;
use gpuboard_testkit::http::request;
use serde_json::Value;

use super::{WAIT, start_dashboard, start_sim};

async fn doctor(addr: std::net::SocketAddr, token: &str, node: &str) -> (u16, Value) {
    let reply = request(
        addr,
        "GET",
        &format!("/api/v1/nodes/{node}/doctor"),
        &[format!("Authorization: Bearer {token}")],
        "",
    )
    .await;
    let body = serde_json::from_str(&reply.body).unwrap_or(Value::Null);
    (reply.status, body)
}

fn status_of<'a>(diagnosis: &'a Value, check: &str) -> &'a str {
    diagnosis["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["check"] == check))
        .and_then(|c| c["status"].as_str())
        .unwrap_or("absent")
}

#[tokio::test]
async fn the_doctor_finds_what_the_seeds_hit() {
    let sim = start_sim().await;
    let addr = start_dashboard(&sim, DashboardSettings::default()).await;
    let token = sim.admin_token.clone();

    // Healthy once its exporter has answered and its Lease is renewed.
    let healthy = eventually("node-110 passes every check", WAIT, || async {
        let (status, d) = doctor(addr, &token, "node-110").await;
        if status == 200 && d["worst"] == "pass" {
            Ok(d)
        } else {
            Err(format!("{status} {d}"))
        }
    })
    .await;
    assert_eq!(healthy["gpuNode"], true);
    assert_eq!(status_of(&healthy, "device-plugin"), "pass");
    assert_eq!(status_of(&healthy, "clock"), "pass");

    let (_, missing) = doctor(addr, &token, "node-109").await;
    assert_eq!(missing["worst"], "fail", "{missing}");
    let check = missing["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "device-plugin")
        .unwrap();
    assert_eq!(check["status"], "fail");
    assert_eq!(check["seen"], "no nvidia-device-plugin pod on this node");
    assert!(
        check["advice"]
            .as_str()
            .unwrap()
            .contains("device plugin DaemonSet")
    );

    let (_, skewed) = doctor(addr, &token, "ai-gpu-flask2.novalocal").await;
    assert_eq!(status_of(&skewed, "software"), "warn", "{skewed}");
    assert_eq!(status_of(&skewed, "clock"), "warn", "{skewed}");
    let clock = skewed["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "clock")
        .unwrap();
    assert!(
        clock["seen"]
            .as_str()
            .unwrap()
            .contains("ahead of the API server"),
        "{clock}"
    );

    let (_, master) = doctor(addr, &token, "cluster-master").await;
    assert_eq!(master["gpuNode"], false);
    assert_eq!(status_of(&master, "device-plugin"), "absent");
    assert_eq!(status_of(&master, "ready"), "pass");

    let (status, _) = doctor(addr, &token, "no-such-node").await;
    assert_eq!(status, 404);

    // The overview names node-109's failing check.
    let cookie = super::sign_in(addr, &token).await;
    let page = request(addr, "GET", "/", &[cookie], "").await;
    assert!(
        page.body.contains(
            "node-109: the doctor finds NVIDIA device plugin running on the node failing"
        ),
        "the overview says it"
    );
}
