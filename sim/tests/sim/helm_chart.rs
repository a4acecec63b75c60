//! The Helm chart (`deploy/helm/gpuboard`) with a real helm 4: lint, the values it refuses and
//! how it names them, the objects it makes beside the kustomize base's, and install, upgrade,
//! rollback and uninstall against the sim, the objects then seen by kubectl.
//!
//! helm 4 applies server-side by default; the sim implements client-side apply (strategic merge
//! patches), hence `--server-side=false` on every command that writes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use gpuboard_testkit::{Run, helm, kubectl_ok};
use serde_json::Value;

use super::start_sim;

const RELEASE: &str = "gpuboard";
const NAMESPACE: &str = "gpuboard-helm";

fn chart() -> String {
    repo_path("deploy/helm/gpuboard")
}

fn repo_path(relative: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative)
        .display()
        .to_string()
}

fn assert_ran(what: &str, run: &Run) {
    assert!(run.ok, "{what} failed:\n{}{}", run.stdout, run.stderr);
}

/// A kubeconfig path for helm commands that reach no cluster (lint, template).
fn no_cluster(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("kubeconfig")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chart_lints_and_refuses_bad_values_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let kc = no_cluster(&dir);
    let lint = helm(&kc, &["lint", "--strict", &chart()]).await;
    assert_ran("helm lint --strict", &lint);
    // Values the schema refuses name the path; combinations it cannot express are refused by the
    // templates, naming the values to change.
    for (values, says) in [
        ("service.type=Bogus", "/service/type"),
        ("tls.mod=secret", "'mod' not allowed"),
        (
            "dashboard.telemetryInterval=fast",
            "/dashboard/telemetryInterval",
        ),
        ("service.nodePort=80", "/service/nodePort"),
        ("prometheus.url=ftp://prom", "/prometheus/url"),
        ("dcgmExporter.port=0", "/dcgmExporter/port"),
        ("dcgmExporter.port=Metrics_Port", "/dcgmExporter/port"),
        ("dcgmExporter.port=a--b", "/dcgmExporter/port"),
        (
            "ingress.enabled=true",
            "ingress.enabled needs tls.mode=upstream",
        ),
        ("dashboard.replicas=2", "needs sessions.store=redis"),
        (
            "dashboard.replicas=2,sessions.store=redis",
            "needs tls.mode=secret or upstream",
        ),
        (
            "prometheus.url=http://prom:9090,dcgmExporter.selector=app=dcgm",
            "exclude each other",
        ),
        (
            "sessions.store=redis,sessions.redis.bundled=false",
            "needs sessions.existingSecret",
        ),
        (
            "tls.mode=upstream",
            "tls.mode=upstream serves plain HTTP: it needs service.type=ClusterIP",
        ),
        (
            "prometheus.tokenSecret.name=prometheus-token",
            "are for prometheus.url",
        ),
        (
            "prometheus.url=http://prom:9090,prometheus.caConfigMap.name=ca",
            "caConfigMap is for an https://",
        ),
        (
            "prometheus.url=http://admin:secret@prom:9090",
            "/prometheus/url",
        ),
        (
            "dcgmExporter.selector=app=dcgm",
            "set exporter.enabled=false",
        ),
        ("dashboard.telemetryInterval=100ms", "minimum of 250ms"),
        ("dashboard.telemetryInterval=0s", "minimum of 250ms"),
        ("dashboard.telemetryInterval=0m249ms", "minimum of 250ms"),
        ("dashboard.telemetryInterval=100ms100ms", "minimum of 250ms"),
        (
            "dashboard.telemetryInterval=9999999999s",
            "dashboard.telemetryInterval: 9999999999s has more than 9 digits",
        ),
    ] {
        let run = helm(&kc, &["template", RELEASE, &chart(), "--set", values]).await;
        assert!(!run.ok, "{values} was accepted:\n{}", run.stdout);
        assert!(
            run.stderr.contains(says),
            "{values}: {says:?} missing from:\n{}",
            run.stderr
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_charts_other_sources_and_tls_render_as_the_dashboards_flags() {
    let dir = tempfile::tempdir().unwrap();
    let kc = no_cluster(&dir);
    let render = |values: &'static str| {
        let kc = kc.clone();
        async move {
            let run = helm(&kc, &["template", RELEASE, &chart(), "--set", values]).await;
            assert_ran(values, &run);
            run.stdout
        }
    };
    let prometheus = render(
        "prometheus.url=https://prom.example:9090,prometheus.tokenSecret.name=prom-token,\
         prometheus.caConfigMap.name=prom-ca,prometheus.podMonitor.enabled=true,\
         prometheus.podMonitor.interval=5s,tls.mode=secret,tls.secretName=lab-tls",
    )
    .await;
    for wanted in [
        "\"--prometheus-url=https://prom.example:9090\"",
        "--prometheus-token-file=/etc/gpuboard/prometheus/token",
        "secretName: prom-token",
        "--prometheus-ca-file=/etc/gpuboard/prometheus-ca/ca.crt",
        "name: prom-ca",
        "--tls-cert=/etc/gpuboard/tls/tls.crt",
        "secretName: lab-tls",
        "kind: PodMonitor",
        "honorLabels: true",
        "interval: 5s",
    ] {
        assert!(
            prometheus.contains(wanted),
            "{wanted} missing:\n{prometheus}"
        );
    }
    // A scrape timeout longer than a 5 s interval would make Prometheus refuse the config.
    assert!(!prometheus.contains("scrapeTimeout"), "{prometheus}");
    // The history kept in memory is the dashboard's default (shorter beside Prometheus)
    // unless set.
    assert!(!prometheus.contains("--telemetry-history"), "{prometheus}");
    let history = render("dashboard.telemetryHistory=2h").await;
    assert!(history.contains("- --telemetry-history=2h"), "{history}");
    // The shortest interval the dashboard takes, however written.
    for interval in ["250ms", "0s250ms", "200ms50ms", "0300ms", "08s", "1m"] {
        let set = format!("dashboard.telemetryInterval={interval}");
        let run = helm(&kc, &["template", RELEASE, &chart(), "--set", &set]).await;
        assert_ran(&set, &run);
        assert!(
            run.stdout
                .contains(&format!("--telemetry-interval={interval}")),
            "{}",
            run.stdout
        );
    }
    let dcgm =
        render("dcgmExporter.selector=app=nvidia-dcgm-exporter,dcgmExporter.port=9500,exporter.enabled=false").await;
    for wanted in [
        "\"--dcgm-exporter-selector=app=nvidia-dcgm-exporter\"",
        "\"--dcgm-exporter-port=9500\"",
        "--exporter-namespace=gpu-operator",
    ] {
        assert!(dcgm.contains(wanted), "{wanted} missing:\n{dcgm}");
    }
    assert!(!dcgm.contains("kind: DaemonSet"), "{dcgm}");
}

/// Objects of a rendered manifest, as the cluster reads them, by `Kind/name`.
async fn objects_of(kubeconfig: &Path, manifest: &str) -> BTreeMap<String, Value> {
    let file = kubeconfig.with_file_name(format!("manifest-{}.yaml", manifest.len()));
    std::fs::write(&file, manifest).unwrap();
    let json = kubectl_ok(
        kubeconfig,
        &[
            "create",
            "--dry-run=client",
            "-o",
            "json",
            "-f",
            &file.display().to_string(),
        ],
    )
    .await;
    // One JSON document per object.
    serde_json::Deserializer::from_str(&json)
        .into_iter::<Value>()
        .map(|o| {
            let o = o.expect("kubectl prints JSON");
            let key = format!(
                "{}/{}",
                o["kind"].as_str().unwrap(),
                o["metadata"]["name"].as_str().unwrap()
            );
            (key, o)
        })
        .collect()
}

/// `--flag value` and `--flag=value` alike, as `--flag=value`.
fn normalized_args(container: &Value) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for arg in container["args"].as_array().into_iter().flatten() {
        let arg = arg.as_str().unwrap();
        match out.last_mut() {
            Some(last)
                if !arg.starts_with("--") && last.starts_with("--") && !last.contains('=') =>
            {
                last.push('=');
                last.push_str(arg);
            }
            _ => out.push(arg.to_string()),
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_charts_defaults_make_what_the_kustomize_base_makes() {
    let sim = start_sim().await;
    let kc = &sim.kubeconfig;
    let rendered = helm(kc, &["template", RELEASE, &chart(), "-n", "gpuboard"]).await;
    assert_ran("helm template", &rendered);
    let kustomized = kubectl_ok(kc, &["kustomize", &repo_path("deploy")]).await;
    let from_chart = objects_of(kc, &rendered.stdout).await;
    let mut from_base = objects_of(kc, &kustomized).await;
    // helm install --create-namespace makes the namespace; the base lists it.
    from_base.remove("Namespace/gpuboard");
    assert_eq!(
        from_chart.keys().collect::<Vec<_>>(),
        from_base.keys().collect::<Vec<_>>()
    );
    for (key, base) in &from_base {
        let chart = &from_chart[key];
        // The same permissions, in the same namespaces. The chart names a namespace only where
        // an object lives outside the release's (kubectl fills in "default" for the others).
        for field in ["rules", "roleRef", "subjects"] {
            assert_eq!(chart[field], base[field], "{key}: {field}");
        }
        let chart_ns = match chart["metadata"]["namespace"].as_str() {
            Some("default") => Some("gpuboard"),
            other => other,
        };
        assert_eq!(chart_ns, base["metadata"]["namespace"].as_str(), "{key}");
        for field in [
            "type",
            "ports",
            "selector",
            "externalTrafficPolicy",
            "podSelector",
            "policyTypes",
            "ingress",
            "strategy",
            "updateStrategy",
        ] {
            assert_eq!(
                chart["spec"][field], base["spec"][field],
                "{key}: spec.{field}"
            );
        }
        let (pod, base_pod) = (
            &chart["spec"]["template"]["spec"],
            &base["spec"]["template"]["spec"],
        );
        for field in [
            "securityContext",
            "serviceAccountName",
            "nodeSelector",
            "tolerations",
            "volumes",
            "priorityClassName",
            "automountServiceAccountToken",
        ] {
            assert_eq!(pod[field], base_pod[field], "{key}: pod {field}");
        }
        assert_eq!(
            pod["containers"].as_array().map(Vec::len),
            base_pod["containers"].as_array().map(Vec::len),
            "{key}: containers"
        );
        for (c, base_c) in pod["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .zip(base_pod["containers"].as_array().into_iter().flatten())
        {
            for field in [
                "name",
                "image",
                "env",
                "ports",
                "readinessProbe",
                "livenessProbe",
                "resources",
                "securityContext",
                "volumeMounts",
            ] {
                assert_eq!(c[field], base_c[field], "{key}: container {field}");
            }
            // The chart spells out defaults the base leaves to the binary; each of the base's
            // arguments is among the chart's.
            let args = normalized_args(c);
            for arg in normalized_args(base_c) {
                assert!(args.contains(&arg), "{key}: {arg} missing from {args:?}");
            }
        }
    }
}

/// `kubectl get` of one field, by JSONPath.
async fn field(kc: &Path, what: &[&str], path: &str) -> String {
    let mut args = vec!["get"];
    args.extend_from_slice(what);
    let jsonpath = format!("jsonpath={path}");
    args.extend_from_slice(&["-n", NAMESPACE, "-o", &jsonpath]);
    kubectl_ok(kc, &args).await
}

/// One entry of the session Secret the chart made, decoded.
async fn session_secret(kc: &Path, key: &str) -> String {
    let template = format!("go-template={{{{index .data \"{key}\" | base64decode}}}}");
    kubectl_ok(
        kc,
        &[
            "get",
            "secret",
            "gpuboard-session",
            "-n",
            NAMESPACE,
            "-o",
            &template,
        ],
    )
    .await
}

async fn can_i(kc: &Path, args: &[&str]) -> String {
    let account = format!("system:serviceaccount:{NAMESPACE}:gpuboard");
    gpuboard_testkit::can_i(kc, &account, args).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_installs_upgrades_rolls_back_and_uninstalls_the_chart_on_the_sim() {
    let sim = start_sim().await;
    let kc = &sim.kubeconfig;
    let install = helm(
        kc,
        &[
            "install",
            RELEASE,
            &chart(),
            "-n",
            NAMESPACE,
            "--create-namespace",
            "--server-side=false",
            "--set",
            "sessions.store=redis",
        ],
    )
    .await;
    assert_ran("helm install", &install);
    assert!(install.stdout.contains(":30080/"), "{}", install.stdout);

    assert_eq!(
        release_objects(kc).await,
        [
            "clusterrole.rbac.authorization.k8s.io/gpuboard-cache-reader",
            "clusterrolebinding.rbac.authorization.k8s.io/gpuboard-cache-reader",
            "daemonset.apps/gpuboard-exporter",
            "deployment.apps/gpuboard",
            "deployment.apps/gpuboard-redis",
            "networkpolicy.networking.k8s.io/gpuboard-exporter",
            "networkpolicy.networking.k8s.io/gpuboard-redis",
            "role.rbac.authorization.k8s.io/gpuboard-cluster-info",
            "role.rbac.authorization.k8s.io/gpuboard-node-leases",
            "rolebinding.rbac.authorization.k8s.io/gpuboard-cluster-info",
            "rolebinding.rbac.authorization.k8s.io/gpuboard-node-leases",
            "secret/gpuboard-session",
            "service/gpuboard",
            "service/gpuboard-redis",
            "serviceaccount/gpuboard",
        ]
    );
    assert_eq!(
        field(
            kc,
            &["service", "gpuboard"],
            "{.spec.type} {.spec.ports[0].nodePort}"
        )
        .await,
        "NodePort 30080"
    );
    let args = field(
        kc,
        &["deployment", "gpuboard"],
        "{.spec.template.spec.containers[0].args}",
    )
    .await;
    assert!(
        args.contains("--exporter-namespace=gpuboard-helm"),
        "{args}"
    );
    // The Redis URL and the sealing key come from the Secret, never the command line.
    assert!(!args.contains("redis://"), "{args}");
    let url = session_secret(kc, "url").await;
    assert!(
        url.starts_with("redis://:") && url.ends_with("@gpuboard-redis:6379/0") && url.len() > 60,
        "the session URL has the shape the bundled Redis reads: {} characters",
        url.len()
    );
    let key = session_secret(kc, "key").await;
    assert_eq!(key.len(), 44, "32 bytes in base64");
    // The dashboard's identity reads what its cache holds, cluster-info and node Leases, and no
    // Secret.
    assert_eq!(can_i(kc, &["watch", "nodes"]).await, "yes");
    assert_eq!(
        can_i(kc, &["get", "configmaps/cluster-info", "-n", "kube-public"]).await,
        "yes"
    );
    assert_eq!(
        can_i(kc, &["get", "leases", "-n", "kube-node-lease"]).await,
        "yes"
    );
    assert_eq!(can_i(kc, &["list", "secrets", "-A"]).await, "no");

    let upgrade = helm(
        kc,
        &[
            "upgrade",
            RELEASE,
            &chart(),
            "-n",
            NAMESPACE,
            "--server-side=false",
            "--set",
            "sessions.store=redis,dashboard.replicas=2,tls.mode=upstream,service.type=ClusterIP,\
             ingress.enabled=true,ingress.host=gpu.lab.example,ingress.className=nginx",
        ],
    )
    .await;
    assert_ran("helm upgrade", &upgrade);
    assert_eq!(
        field(kc, &["deployment", "gpuboard"], "{.spec.replicas}").await,
        "2"
    );
    let args = field(
        kc,
        &["deployment", "gpuboard"],
        "{.spec.template.spec.containers[0].args}",
    )
    .await;
    assert!(args.contains("--behind-tls"), "{args}");
    assert_eq!(
        field(
            kc,
            &["service", "gpuboard"],
            "{.spec.type} {.spec.ports[*].name} {.spec.ports[*].port}"
        )
        .await,
        "ClusterIP http 80"
    );
    assert_eq!(
        field(
            kc,
            &["ingress", "gpuboard"],
            "{.spec.ingressClassName} {.spec.rules[0].host} {.spec.rules[0].http.paths[0].backend.service.port.name}"
        )
        .await,
        "nginx gpu.lab.example http"
    );
    assert_eq!(
        session_secret(kc, "key").await,
        key,
        "an upgrade keeps the sessions' key"
    );

    let rollback = helm(
        kc,
        &[
            "rollback",
            RELEASE,
            "1",
            "-n",
            NAMESPACE,
            "--server-side=false",
        ],
    )
    .await;
    assert_ran("helm rollback", &rollback);
    assert_eq!(
        field(
            kc,
            &["service", "gpuboard"],
            "{.spec.type} {.spec.ports[*].port} {.spec.ports[0].nodePort}"
        )
        .await,
        "NodePort 443 30080"
    );
    let ingresses = kubectl_ok(kc, &["get", "ingresses", "-n", NAMESPACE, "-o", "name"]).await;
    assert_eq!(ingresses.trim(), "", "the rollback removes the ingress");

    // Install, upgrade and rollback each left a release record.
    assert_eq!(helm_records(kc).await.len(), 3);

    let uninstall = helm(kc, &["uninstall", RELEASE, "-n", NAMESPACE]).await;
    assert_ran("helm uninstall", &uninstall);
    assert_eq!(
        release_objects(kc).await,
        Vec::<String>::new(),
        "uninstall leaves nothing of the chart"
    );
    assert_eq!(
        helm_records(kc).await,
        Vec::<String>::new(),
        "uninstall removes helm's release records"
    );
    assert_eq!(can_i(kc, &["watch", "nodes"]).await, "no");
}

/// Every object of the release, in any namespace, as `kind/name`, sorted.
async fn release_objects(kc: &Path) -> Vec<String> {
    sorted_names(
        kc,
        &[
            "get",
            "deployments,daemonsets,services,networkpolicies,secrets,serviceaccounts,\
             roles,rolebindings,clusterroles,clusterrolebindings",
            "-A",
            "-l",
            "app.kubernetes.io/instance=gpuboard",
            "-o",
            "name",
        ],
    )
    .await
}

/// helm's records of the release (Secrets labelled owner=helm), sorted.
async fn helm_records(kc: &Path) -> Vec<String> {
    sorted_names(
        kc,
        &[
            "get",
            "secrets",
            "-n",
            NAMESPACE,
            "-l",
            "owner=helm",
            "-o",
            "name",
        ],
    )
    .await
}

async fn sorted_names(kc: &Path, args: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = kubectl_ok(kc, args)
        .await
        .lines()
        .map(str::to_string)
        .collect();
    names.sort_unstable();
    names
}
