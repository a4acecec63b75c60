//! The dashboard's other GPU sources, each checked against what the exporters' own JSON says:
//! Prometheus (`--prometheus-url`), Debian's real `prometheus` scraping the sim's exporters
//! (their `/metrics`, in dcgm-exporter's series and labels) through a generated config, stale
//! with the reason when it stops and "no series" for a node it does not scrape, and the node
//! page's charts from its range queries, and over HTTPS trusted through `--prometheus-ca-file`;
//! and exporters read as dcgm-exporter
//! (`--dcgm-exporter-selector`), their `/metrics` text asked directly, the charts then from the
//! hour kept in memory.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use frontend::contract::{
    Alert, ExporterError, GpuPage, GpuRow, HistoryRange, NodeDetail, Overview,
};
use gpuboard::DashboardSettings;
use gpuboard::cluster::permissions::PodVisibility;
use gpuboard::telemetry::discovery::{ExporterKind, ExporterPort, ExporterTarget};
use gpuboard::telemetry::prometheus::PrometheusSettings;
use gpuboard::telemetry::{GpuSource, Telemetry, TelemetrySettings};
use gpuboard_sim::seed::LAB_GPU_NODES;
use gpuboard_testkit::eventually;
use gpuboard_testkit::http::request;
use gpuboard_testkit::process::Process;

use super::{api, json_of, sign_in, sim_exporter_targets, start_dashboard, start_sim};

/// Prometheus's start, its first scrapes and the dashboard's next cycle, on 2 busy cores.
const WAIT: Duration = Duration::from_secs(60);

/// A `prometheus` on a free loopback port, scraping the given exporters every second; over
/// HTTPS when given a certificate.
struct PrometheusServer {
    port: u16,
    dir: tempfile::TempDir,
    process: Option<Process>,
    /// Its web config file, which names the serving certificate and key.
    web_config: Option<std::path::PathBuf>,
}

impl PrometheusServer {
    fn new() -> PrometheusServer {
        let found = Command::new("prometheus").arg("--version").output();
        assert!(
            found.is_ok_and(|o| o.status.success()),
            "prometheus is not installed: `scripts/setup.sh test` installs it (Debian's prometheus)"
        );
        PrometheusServer {
            port: gpuboard_testkit::free_loopback_port(),
            dir: tempfile::tempdir().expect("temp dir"),
            process: None,
            web_config: None,
        }
    }

    /// Serves HTTPS with this certificate and key (PEM) from the next run on.
    fn with_tls(mut self, cert_pem: &str, key_pem: &str) -> PrometheusServer {
        let path = |name: &str| self.dir.path().join(name);
        std::fs::write(path("tls.crt"), cert_pem).expect("written");
        std::fs::write(path("tls.key"), key_pem).expect("written");
        let config = format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\n",
            path("tls.crt").display(),
            path("tls.key").display()
        );
        std::fs::write(path("web.yml"), config).expect("written");
        self.web_config = Some(path("web.yml"));
        self
    }

    /// Starts it with a fresh database, scraping `targets` (`host:port`), and waits until it is
    /// ready; a running one is stopped first.
    async fn run(&mut self, targets: &[String]) {
        self.stop();
        let run = self
            .dir
            .path()
            .join(format!("run-{}", rand::random::<u32>()));
        std::fs::create_dir_all(&run).expect("a directory");
        let quoted: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
        // honor_labels keeps the exporter's own pod, namespace and container, as deploy/'s
        // PodMonitor does.
        let config = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
             scrape_configs:\n  - job_name: gpuboard-exporter\n    honor_labels: true\n    \
             static_configs:\n      - targets: [{}]\n",
            quoted.join(", ")
        );
        let config_file = run.join("prometheus.yml");
        std::fs::write(&config_file, config).expect("written");
        let mut command = Command::new("prometheus");
        command
            .arg(format!("--config.file={}", config_file.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                run.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{}", self.port));
        if let Some(web_config) = &self.web_config {
            command.arg(format!("--web.config.file={}", web_config.display()));
        }
        let mut process = Process::spawn(&mut command);
        process
            .wait_for("Prometheus to be ready", WAIT, |line| {
                line.contains("Server is ready to receive web requests")
                    .then_some(())
            })
            .await;
        self.process = Some(process);
    }

    fn stop(&mut self) {
        if let Some(process) = self.process.take() {
            process.stop();
        }
    }

    fn url(&self) -> String {
        let scheme = if self.web_config.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://127.0.0.1:{}/", self.port)
    }
}

impl Drop for PrometheusServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Each exporter's `host:port`, by node.
fn scrape_targets(targets: &[ExporterTarget]) -> BTreeMap<String, String> {
    targets
        .iter()
        .map(|t| {
            let address = t
                .url
                .trim_start_matches("http://")
                .split('/')
                .next()
                .expect("an address");
            (t.node.clone(), address.to_string())
        })
        .collect()
}

async fn gpus(addr: SocketAddr, cookie: &str) -> Vec<GpuRow> {
    let reply = request(addr, "GET", "/api/list_gpus", &[cookie.to_string()], "").await;
    assert_eq!(reply.status, 200, "{} {}", reply.head, reply.body);
    let page: GpuPage = serde_json::from_value(json_of(&reply)).expect("a GPU page");
    page.rows
}

/// What both sources must agree on of a GPU: where it is, what it is, and who holds it.
fn identity(row: &GpuRow) -> (String, u32, String, String, u64, Option<u64>, Vec<String>) {
    (
        row.node.clone(),
        row.index,
        row.uuid.clone(),
        row.model.clone(),
        row.memory_total_bytes,
        row.power_limit_watts.map(|w| w.round() as u64),
        {
            let mut pods = row.pods.clone();
            pods.sort();
            pods
        },
    )
}

/// The exporters' own JSON, read directly, as the rows the inventory would show.
async fn rows_from_exporters(targets: &[ExporterTarget]) -> Vec<GpuRow> {
    let telemetry = Telemetry::default();
    telemetry
        .cycle_once(targets, &TelemetrySettings::default())
        .await;
    let snapshot = telemetry.snapshot();
    gpuboard::views::gpus::gpu_rows(snapshot.iter(), &PodVisibility::Everywhere)
}

/// The node page's data, its charts over `range`.
async fn node_detail(
    addr: SocketAddr,
    cookie: &str,
    node: &str,
    range: HistoryRange,
) -> NodeDetail {
    let word: &str = range.into();
    let path = format!("/api/get_node_detail?name={node}&range={word}");
    let reply = request(addr, "GET", &path, &[cookie.to_string()], "").await;
    assert_eq!(reply.status, 200, "{} {}", reply.head, reply.body);
    let detail: Option<NodeDetail> = serde_json::from_value(json_of(&reply)).expect("a node");
    detail.expect("the node exists")
}

/// The seconds between a card's consecutive chart points.
fn steps(detail: &NodeDetail) -> Vec<i64> {
    detail
        .gpus
        .iter()
        .flat_map(|card| card.history.windows(2).map(|w| w[1].at_s - w[0].at_s))
        .collect()
}

/// The overview's alerts.
async fn alerts(addr: SocketAddr, cookie: &str) -> Vec<Alert> {
    let reply = request(addr, "GET", "/api/get_overview", &[cookie.to_string()], "").await;
    assert_eq!(reply.status, 200, "{} {}", reply.head, reply.body);
    let overview: Overview = serde_json::from_value(json_of(&reply)).expect("an overview");
    overview.alerts
}

/// The doctor's diagnosis of `node`, from the JSON API, as text.
async fn doctor_of(addr: SocketAddr, token: &str, node: &str) -> String {
    let path = format!("/api/v1/nodes/{node}/doctor");
    api(addr, token, "GET", &path, "").await.body
}

/// Whether the dashboard's inventory has every GPU of the lab, live with numbers, and the same
/// GPUs, models, sizes and holders as the exporters' JSON says (read now, in the same second).
async fn the_exporters_inventory_live(
    addr: SocketAddr,
    cookie: &str,
    targets: &[ExporterTarget],
) -> Result<(), String> {
    let rows = gpus(addr, cookie).await;
    let live = rows
        .iter()
        .filter(|r| !r.stale && r.utilization_percent.is_some() && r.temperature_celsius.is_some())
        .count();
    let from_exporters = rows_from_exporters(targets).await;
    let mut ours: Vec<_> = rows.iter().map(identity).collect();
    let mut theirs: Vec<_> = from_exporters.iter().map(identity).collect();
    ours.sort();
    theirs.sort();
    if live == rows.len() && rows.len() == LAB_GPU_NODES.len() && ours == theirs {
        Ok(())
    } else {
        Err(format!(
            "{live} live of {}:\n{ours:?}\n{theirs:?}",
            rows.len()
        ))
    }
}

#[tokio::test]
async fn gpus_come_from_a_real_prometheus_and_go_stale_with_the_reason_when_it_stops() {
    let sim = start_sim().await;
    let targets = sim_exporter_targets(&sim).await;
    let scrape = scrape_targets(&targets);
    assert_eq!(scrape.len(), LAB_GPU_NODES.len());

    let mut prometheus = PrometheusServer::new();
    prometheus
        .run(&scrape.values().cloned().collect::<Vec<_>>())
        .await;
    let settings = DashboardSettings {
        telemetry: TelemetrySettings {
            interval: Duration::from_secs(1),
            source: GpuSource::Prometheus(PrometheusSettings {
                url: prometheus.url().parse().expect("a URI"),
                token_file: None,
                ca_file: None,
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    let addr = start_dashboard(&sim, settings).await;
    let cookie = sign_in(addr, &sim.admin_token).await;

    eventually("the inventory from Prometheus", WAIT, || {
        the_exporters_inventory_live(addr, &cookie, &targets)
    })
    .await;

    // The charts come from range queries: every range can be asked for, and the hour's points
    // are Prometheus's steps (15 s apart), not the dashboard's own 1 s cycles.
    let hour = eventually("an hour of history from Prometheus", WAIT, || async {
        let detail = node_detail(addr, &cookie, "node-110", HistoryRange::Hour).await;
        let enough = detail.gpus.iter().all(|card| card.history.len() >= 2);
        if enough && !detail.gpus.is_empty() && detail.history_error.is_none() {
            Ok(detail)
        } else {
            Err(format!(
                "{:?}",
                detail
                    .gpus
                    .iter()
                    .map(|c| c.history.len())
                    .collect::<Vec<_>>()
            ))
        }
    })
    .await;
    assert_eq!(hour.history_ranges, HistoryRange::ALL);
    assert!(
        steps(&hour).iter().all(|s| s % 15 == 0),
        "{:?}",
        steps(&hour)
    );
    let week = node_detail(addr, &cookie, "node-110", HistoryRange::Week).await;
    assert_eq!(
        (week.history_range, &week.history_error),
        (HistoryRange::Week, &None)
    );
    assert!(week.gpus.iter().all(|card| !card.history.is_empty()));
    assert!(
        week.gpus
            .iter()
            .all(|card| card.history.last().unwrap().utilization_percent.is_some())
    );

    // Prometheus stops: every node is stale, its last numbers kept, and the doctor says why.
    let before = gpus(addr, &cookie).await;
    prometheus.stop();
    eventually("every node stale", WAIT, || async {
        let rows = gpus(addr, &cookie).await;
        if rows.len() == before.len()
            && rows
                .iter()
                .all(|r| r.stale && r.utilization_percent.is_some())
        {
            Ok(())
        } else {
            Err(format!("{rows:?}"))
        }
    })
    .await;
    let doctor = doctor_of(addr, &sim.admin_token, "node-110").await;
    assert!(
        doctor.contains("Prometheus") && doctor.contains("cannot connect"),
        "{doctor}"
    );
    // The overview says it once, first, not once per stale node.
    let said = alerts(addr, &cookie).await;
    assert!(
        matches!(said.first(), Some(Alert::PrometheusFailed { error }) if error.contains("cannot connect")),
        "{said:?}"
    );
    assert!(
        !said
            .iter()
            .any(|a| matches!(a, Alert::StaleExporter { .. })),
        "{said:?}"
    );
    // The charts then show the hour kept in memory, saying why.
    let day = node_detail(addr, &cookie, "node-110", HistoryRange::Day).await;
    assert_eq!(day.history_range, HistoryRange::Hour);
    assert!(
        matches!(&day.history_error, Some(ExporterError::Prometheus(why)) if why.contains("cannot connect")),
        "{:?}",
        day.history_error
    );
    assert!(day.gpus.iter().all(|card| card.history.len() >= 2));

    // A Prometheus that does not scrape node-110: its GPUs stay stale, with "no series"; the
    // others come back.
    let without: Vec<String> = scrape
        .iter()
        .filter(|(node, _)| node.as_str() != "node-110")
        .map(|(_, target)| target.clone())
        .collect();
    prometheus.run(&without).await;
    eventually("node-110 stale, the others live", WAIT, || async {
        let rows = gpus(addr, &cookie).await;
        let wrong: Vec<&GpuRow> = rows
            .iter()
            .filter(|r| r.stale != (r.node == "node-110"))
            .collect();
        if wrong.is_empty() && rows.len() == before.len() {
            Ok(())
        } else {
            Err(format!("{wrong:?}"))
        }
    })
    .await;
    let doctor = doctor_of(addr, &sim.admin_token, "node-110").await;
    assert!(
        doctor.contains("no current series in Prometheus"),
        "{doctor}"
    );
    // Prometheus answers again: its alert is gone, node-110's own stays.
    let said = alerts(addr, &cookie).await;
    assert!(
        !said
            .iter()
            .any(|a| matches!(a, Alert::PrometheusFailed { .. })),
        "{said:?}"
    );
    assert!(
        said.iter()
            .any(|a| matches!(a, Alert::StaleExporter { node, .. } if node == "node-110")),
        "{said:?}"
    );
}

#[tokio::test]
async fn an_https_prometheus_is_trusted_through_the_ca_file_and_refused_without_it() {
    let sim = start_sim().await;
    let targets = sim_exporter_targets(&sim).await;
    let scrape: Vec<String> = scrape_targets(&targets).into_values().collect();
    let ca = gpuboard_sim::pki::ClusterCa::generate().expect("a CA");
    let serving = ca
        .serving_cert(&["127.0.0.1".to_string()])
        .expect("a serving certificate");
    let mut prometheus = PrometheusServer::new().with_tls(&serving.cert_pem, &serving.key_pem);
    prometheus.run(&scrape).await;
    let ca_file = prometheus.dir.path().join("ca.crt");
    std::fs::write(&ca_file, &ca.cert_pem).expect("written");
    let settings = |ca_file: Option<std::path::PathBuf>| DashboardSettings {
        telemetry: TelemetrySettings {
            interval: Duration::from_secs(1),
            source: GpuSource::Prometheus(PrometheusSettings {
                url: prometheus.url().parse().expect("a URI"),
                token_file: None,
                ca_file,
            }),
            ..Default::default()
        },
        ..Default::default()
    };

    // Trusting the CA that signed Prometheus's certificate: the GPUs come over HTTPS.
    let trusting = start_dashboard(&sim, settings(Some(ca_file))).await;
    let cookie = sign_in(trusting, &sim.admin_token).await;
    eventually("the inventory from Prometheus over HTTPS", WAIT, || {
        the_exporters_inventory_live(trusting, &cookie, &targets)
    })
    .await;

    // The system's roots do not sign it: no GPUs, and the overview and the doctor say why.
    let refusing = start_dashboard(&sim, settings(None)).await;
    let cookie = sign_in(refusing, &sim.admin_token).await;
    let why = eventually("the overview to say why", WAIT, || async {
        match alerts(refusing, &cookie).await.first() {
            Some(Alert::PrometheusFailed { error }) => Ok(error.clone()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    assert!(
        why.starts_with("its certificate is from a CA the dashboard does not trust: give that CA with --prometheus-ca-file")
            && why.contains("UnknownIssuer"),
        "{why}"
    );
    let doctor = doctor_of(refusing, &sim.admin_token, "node-110").await;
    assert!(doctor.contains(&format!("Prometheus: {why}")), "{doctor}");
    assert!(gpus(refusing, &cookie).await.is_empty());
}

#[tokio::test]
async fn dcgm_exporter_pods_picked_by_a_selector_are_read_directly() {
    let sim = start_sim().await;
    let targets = sim_exporter_targets(&sim).await;
    // The sim's exporters write dcgm-exporter's series on /metrics: picked by a selector as
    // dcgm-exporter's pods would be, they are read as dcgm-exporter.
    let selector = format!(
        "{}={}",
        gpuboard_exporter_api::APP_LABEL,
        gpuboard_exporter_api::APP_NAME
    );
    let settings = DashboardSettings {
        telemetry: TelemetrySettings {
            interval: Duration::from_secs(1),
            source: GpuSource::Exporters(ExporterKind::Dcgm {
                selector,
                port: ExporterPort::Named(gpuboard_exporter_api::PORT_NAME.into()),
            }),
            ..Default::default()
        },
        exporter_namespace: gpuboard_sim::exporters::NAMESPACE.into(),
        ..Default::default()
    };
    let addr = start_dashboard(&sim, settings).await;
    let cookie = sign_in(addr, &sim.admin_token).await;
    eventually("the inventory from dcgm text", WAIT, || {
        the_exporters_inventory_live(addr, &cookie, &targets)
    })
    .await;
    // Without Prometheus the charts have the hour kept in memory (--telemetry-history): a week
    // asked for is that hour, with no error.
    let week = node_detail(addr, &cookie, "node-110", HistoryRange::Week).await;
    assert_eq!(week.history_ranges, [HistoryRange::Hour]);
    assert_eq!(
        (week.history_range, &week.history_error),
        (HistoryRange::Hour, &None)
    );
    assert!(week.gpus.iter().all(|card| !card.history.is_empty()));
}

#[tokio::test]
async fn the_prometheus_component_adds_a_pod_monitor_and_points_the_dashboard_at_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let kubeconfig = dir.path().join("no-cluster");
    let with = dir.path().join("with");
    super::deploy_copy(&with, &["components:", "  - prometheus"]);
    let rendered =
        gpuboard_testkit::kubectl_ok(&kubeconfig, &["kustomize", &with.to_string_lossy()]).await;
    assert!(
        rendered.contains("name: GPUBOARD_PROMETHEUS_URL"),
        "{rendered}"
    );
    let monitor = rendered
        .split("\n---\n")
        .find(|doc| doc.contains("kind: PodMonitor"))
        .unwrap_or_else(|| panic!("no PodMonitor in:\n{rendered}"));
    // It selects the pods the exporter DaemonSet makes, keeps their holder labels, names the
    // node and drops the target's own pod labels.
    let selects = format!(
        "matchLabels:\n      {}: {}",
        gpuboard_exporter_api::APP_LABEL,
        gpuboard_exporter_api::APP_NAME
    );
    for wanted in [
        selects.as_str(),
        "port: metrics",
        "honorLabels: true",
        "targetLabel: node",
        "regex: pod|namespace|container",
    ] {
        assert!(monitor.contains(wanted), "{wanted:?} in:\n{monitor}");
    }
}
