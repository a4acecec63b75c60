//! The `gpuboard` binary: `gpuboard serve`, the dashboard (with `--demo`, on an embedded
//! simulated cluster when built with the `demo` feature).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use gpuboard::DashboardSettings;
use gpuboard::auth::AuthSettings;
use gpuboard::auth::attempts::TrustedProxies;
use gpuboard::auth::store::{RedisSettings, SealingKey, SessionBackend};
use gpuboard::telemetry::discovery::{ExporterKind, ExporterPort};
use gpuboard::telemetry::prometheus::PrometheusSettings;
use gpuboard::telemetry::{GpuSource, TelemetrySettings};
use gpuboard::transport::{Transport, TransportFlags};
use leptos::prelude::get_configuration;

/// The GPU-cluster dashboard.
#[derive(Parser)]
#[command(name = "gpuboard", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the dashboard.
    Serve(ServeArgs),
}

#[derive(Args)]
struct ServeArgs {
    /// Address to serve the dashboard on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:3000", env = "GPUBOARD_LISTEN")]
    listen: SocketAddr,
    /// Kubeconfig to use; without it, KUBECONFIG, ~/.kube/config, then the in-cluster service account.
    #[arg(long, env = "GPUBOARD_KUBECONFIG")]
    kubeconfig: Option<PathBuf>,
    /// Run an embedded simulated cluster (the seeds' lab) and show it; prints the admin token.
    #[cfg(feature = "demo")]
    #[arg(long)]
    demo: bool,
    /// With --demo: where the simulated cluster writes its tokens and kubeconfig.
    #[cfg(feature = "demo")]
    #[arg(long, default_value = ".state/demo")]
    demo_state_dir: PathBuf,
    /// With --demo: port of the simulated exporters on their loopback addresses; 0 picks free ports.
    #[cfg(feature = "demo")]
    #[arg(long, default_value_t = 9400)]
    demo_exporter_port: u16,
    /// Sessions unused this long end (e.g. 30m, 1h).
    #[arg(long, default_value = "30m", value_parser = humantime::parse_duration, env = "GPUBOARD_SESSION_IDLE_TIMEOUT")]
    session_idle_timeout: Duration,
    /// Sessions end this long after sign-in, used or not.
    #[arg(long, default_value = "12h", value_parser = humantime::parse_duration, env = "GPUBOARD_SESSION_LIFETIME")]
    session_lifetime: Duration,
    /// Serve plain HTTP on a non-loopback address because a proxy or ingress in front terminates
    /// TLS (without it, off loopback the dashboard serves HTTPS itself).
    #[arg(long, env = "GPUBOARD_BEHIND_TLS")]
    behind_tls: bool,
    /// PEM certificate (chain) to serve HTTPS with, e.g. a kubernetes.io/tls Secret's tls.crt;
    /// without it, off loopback a self-signed one is made at start and its fingerprint logged.
    #[arg(long, env = "GPUBOARD_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert (the Secret's tls.key).
    #[arg(long, env = "GPUBOARD_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Failed sign-ins (form or bearer header) allowed per client per minute; past it, the
    /// client waits until a minute passes without one.
    #[arg(long, default_value_t = 20)]
    signins_per_minute: u32,
    /// Keep sessions in this Redis (redis://[:password@]host[:port][/db]), so that replicas share
    /// them and a restart loses none; without it, in memory. Best given in the environment, as
    /// it may hold a password.
    #[arg(
        long,
        env = "GPUBOARD_SESSION_STORE",
        hide_env_values = true,
        requires = "session_key_file"
    )]
    session_store: Option<String>,
    /// With --session-store: a file with the key sessions are sealed with in Redis, 32 random
    /// bytes in base64 (`openssl rand -base64 32`), the same for every replica.
    #[arg(long, env = "GPUBOARD_SESSION_KEY_FILE", requires = "session_store")]
    session_key_file: Option<PathBuf>,
    /// Sessions the dashboard holds at most (a user holds at most 20); past it, sign-in is refused
    /// with a message until some end.
    #[arg(long, default_value_t = 10_000, env = "GPUBOARD_MAX_SESSIONS")]
    max_sessions: u64,
    /// Comma-separated addresses or networks of proxies in front (an ingress): their
    /// X-Forwarded-For names the client. Without it, the client is the connection's peer.
    #[arg(long, default_value = "", env = "GPUBOARD_TRUSTED_PROXIES")]
    trusted_proxies: TrustedProxies,
    /// How often to fetch every exporter's GPUs.
    #[arg(long, default_value = "5s", value_parser = telemetry_interval)]
    telemetry_interval: Duration,
    /// How many exporters to fetch at once.
    #[arg(long, default_value_t = 64)]
    telemetry_concurrency: usize,
    /// How long to wait for one exporter before marking its node stale.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    telemetry_timeout: Duration,
    /// How much history to keep per GPU in memory for the charts (default 1h; with
    /// --prometheus-url 15m, shown while Prometheus, which draws the charts, does not answer).
    #[arg(long, value_parser = humantime::parse_duration)]
    telemetry_history: Option<Duration>,
    /// The namespace of the exporter DaemonSet (gpuboard-exporter, or dcgm-exporter with
    /// --dcgm-exporter-selector) whose pods are asked for GPUs.
    #[arg(long, default_value = "gpuboard", env = "GPUBOARD_EXPORTER_NAMESPACE")]
    exporter_namespace: String,
    /// Ask NVIDIA's dcgm-exporter instead of gpuboard-exporter: the pods this label selector
    /// picks in --exporter-namespace (e.g. `app=nvidia-dcgm-exporter` with the GPU Operator in
    /// gpu-operator), owned by a DaemonSet, at --dcgm-exporter-port, `/metrics`.
    #[arg(
        long,
        env = "GPUBOARD_DCGM_EXPORTER_SELECTOR",
        conflicts_with = "prometheus_url",
        value_parser = label_selector
    )]
    dcgm_exporter_selector: Option<String>,
    /// With --dcgm-exporter-selector (and refused without it, also from the environment): the
    /// pods' port that serves `/metrics`, a number or a container port's name (a pod without a
    /// port named `metrics` is asked at 9400; a pod without another name given is not asked).
    #[arg(
        long,
        default_value = "metrics",
        env = "GPUBOARD_DCGM_EXPORTER_PORT",
        requires = "dcgm_exporter_selector"
    )]
    dcgm_exporter_port: ExporterPort,
    /// Take GPU samples from this Prometheus (http:// or https://, without /api/v1) instead of
    /// asking the exporters: an instant query of the DCGM series every --telemetry-interval,
    /// whether gpuboard-exporter or NVIDIA's dcgm-exporter wrote them.
    #[arg(long, env = "GPUBOARD_PROMETHEUS_URL")]
    prometheus_url: Option<http::Uri>,
    /// A file holding the bearer token to send to Prometheus (re-read at most once a minute).
    #[arg(
        long,
        env = "GPUBOARD_PROMETHEUS_TOKEN_FILE",
        requires = "prometheus_url"
    )]
    prometheus_token_file: Option<PathBuf>,
    /// A PEM file of the CA certificates that sign Prometheus's (default: the system's roots).
    #[arg(long, env = "GPUBOARD_PROMETHEUS_CA_FILE", requires = "prometheus_url")]
    prometheus_ca_file: Option<PathBuf>,
}

/// A label selector as Kubernetes writes one (`app=x`, `tier in (a,b)`, `!canary`): not empty,
/// and only the characters selectors are made of; the API server judges the rest.
fn label_selector(text: &str) -> Result<String, String> {
    let text = text.trim();
    let allowed = |c: char| c.is_ascii_alphanumeric() || "._/-=!,() ".contains(c);
    if text.is_empty() {
        return Err("a label selector, e.g. app=nvidia-dcgm-exporter, is needed".into());
    }
    if let Some(bad) = text.chars().find(|c| !allowed(*c)) {
        return Err(format!("{bad:?} cannot be in a label selector"));
    }
    Ok(text.to_string())
}

/// The telemetry interval: at least 250 ms (each cycle asks every exporter of the cluster, or
/// Prometheus). The chart refuses shorter ones too (`gpuboard.validate`).
fn telemetry_interval(text: &str) -> Result<Duration, String> {
    let interval = humantime::parse_duration(text.trim()).map_err(|e| e.to_string())?;
    if interval < Duration::from_millis(250) {
        return Err(format!("{text:?} is shorter than the minimum of 250ms"));
    }
    Ok(interval)
}

impl ServeArgs {
    fn transport(&self) -> Result<Transport, gpuboard::transport::TransportError> {
        Transport::choose(
            self.listen,
            &TransportFlags {
                behind_tls: self.behind_tls,
                tls_cert: self.tls_cert.clone(),
                tls_key: self.tls_key.clone(),
            },
        )
    }

    /// Where sessions live: Redis with the key file's key, or memory.
    fn session_backend(&self) -> anyhow::Result<SessionBackend> {
        let (Some(url), Some(key_file)) = (&self.session_store, &self.session_key_file) else {
            return Ok(SessionBackend::Memory);
        };
        let key = std::fs::read_to_string(key_file)
            .with_context(|| format!("reading --session-key-file {}", key_file.display()))?;
        let key = SealingKey::from_base64(&key).context("--session-key-file")?;
        Ok(SessionBackend::Redis(RedisSettings::new(url, key)?))
    }

    fn settings(&self, transport: &Transport) -> anyhow::Result<DashboardSettings> {
        Ok(DashboardSettings {
            auth: AuthSettings {
                idle_timeout: self.session_idle_timeout,
                lifetime: self.session_lifetime,
                signins_per_minute: self.signins_per_minute,
                trusted_proxies: self.trusted_proxies.clone(),
                max_sessions: self.max_sessions.max(1),
                session_backend: self.session_backend()?,
                ..Default::default()
            },
            telemetry: self.telemetry_settings(),
            exporter_namespace: self.exporter_namespace.clone(),
            hsts: transport.sends_hsts(),
            ..Default::default()
        })
    }

    fn telemetry_settings(&self) -> TelemetrySettings {
        let source = self.gpu_source();
        TelemetrySettings {
            interval: self.telemetry_interval,
            concurrency: self.telemetry_concurrency.max(1),
            timeout: self.telemetry_timeout,
            history: self
                .telemetry_history
                .unwrap_or_else(|| source.default_history()),
            source,
        }
    }

    fn gpu_source(&self) -> GpuSource {
        match &self.prometheus_url {
            Some(url) => GpuSource::Prometheus(PrometheusSettings {
                url: url.clone(),
                token_file: self.prometheus_token_file.clone(),
                ca_file: self.prometheus_ca_file.clone(),
            }),
            None => GpuSource::Exporters(match &self.dcgm_exporter_selector {
                Some(selector) => ExporterKind::Dcgm {
                    selector: selector.clone(),
                    port: self.dcgm_exporter_port.clone(),
                },
                None => ExporterKind::Gpuboard,
            }),
        }
    }
}

/// The cluster to show: the embedded demo's (kept alive by the returned handle) or the kubeconfig's.
#[cfg(feature = "demo")]
async fn cluster(
    args: &ServeArgs,
) -> anyhow::Result<(kube::Config, Option<gpuboard_sim::SimHandle>)> {
    if args.demo {
        let (handle, config) = gpuboard::demo::start(&gpuboard::demo::DemoSettings {
            state_dir: args.demo_state_dir.clone(),
            exporter_port: args.demo_exporter_port,
        })
        .await?;
        println!("{}", handle.summary());
        return Ok((config, Some(handle)));
    }
    Ok((
        gpuboard::cluster::load_config(args.kubeconfig.as_deref()).await?,
        None,
    ))
}

#[cfg(not(feature = "demo"))]
async fn cluster(args: &ServeArgs) -> anyhow::Result<(kube::Config, Option<()>)> {
    Ok((
        gpuboard::cluster::load_config(args.kubeconfig.as_deref()).await?,
        None,
    ))
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let transport = args.transport()?;
    if let Transport::Tls(identity) = &transport {
        tracing::info!(
            fingerprint = %identity.fingerprint,
            generated = identity.generated,
            "serving HTTPS; browsers can check the certificate by its SHA-256 fingerprint"
        );
    }
    let settings = args.settings(&transport)?;
    match &settings.auth.session_backend {
        SessionBackend::Memory => tracing::info!("sessions are kept in memory"),
        SessionBackend::Redis(_) => {
            tracing::info!(
                "sessions are kept in Redis (--session-store), sealed with the key file's key"
            )
        }
    }
    let (config, _demo) = cluster(&args).await?;
    let mut leptos = get_configuration(None)?.leptos_options;
    leptos.site_addr = args.listen;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} (is another gpuboard already running?)",
                args.listen
            )
        })?;
    let state = gpuboard::start(config, &settings, leptos)?;
    let scheme = transport.scheme();
    gpuboard::app::serve(listener, gpuboard::app::router(state), &transport, |addr| {
        println!("dashboard: {scheme}://{addr}");
        println!("listening on {addr}");
    })
    .await
    .with_context(|| match &transport {
        Transport::Tls(identity) if !identity.generated => {
            "serving HTTPS with --tls-cert and --tls-key (the key must be the certificate's own)"
        }
        _ => "serving the dashboard",
    })?;
    Ok(())
}

/// Server-side rendering walks the pages' view trees on the stack; the submit form's is deep
/// enough to pass tokio's 2 MiB default in a debug build, so workers get 8 MiB.
const WORKER_STACK_BYTES: usize = 8 << 20;

fn main() -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(WORKER_STACK_BYTES)
        .build()
        .context("starting the async runtime")?
        .block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,kube=warn,tower=warn,hyper=warn".into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Serve(args) => serve(args).await,
    }
    .context("gpuboard")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_label_selector_is_refused_empty_or_with_what_selectors_are_not_made_of() {
        assert_eq!(
            label_selector(" app=nvidia-dcgm-exporter ").as_deref(),
            Ok("app=nvidia-dcgm-exporter")
        );
        assert!(label_selector("tier in (a,b),!canary").is_ok());
        assert!(label_selector("  ").is_err());
        assert!(label_selector("app=x;rm").is_err_and(|why| why.contains("';'")));
    }

    #[test]
    fn history_in_memory_is_an_hour_or_a_quarter_beside_prometheus_unless_told() {
        let history = |args: &[&str]| {
            let cli =
                Cli::try_parse_from(["gpuboard", "serve"].iter().chain(args)).expect("parsed");
            let Command::Serve(serve) = cli.command;
            serve.telemetry_settings().history.as_secs()
        };
        let prometheus = "--prometheus-url=http://127.0.0.1:9090";
        assert_eq!(history(&[]), 3600);
        assert_eq!(history(&[prometheus]), 15 * 60);
        assert_eq!(history(&[prometheus, "--telemetry-history=2h"]), 7200);
        assert_eq!(history(&["--telemetry-history=10m"]), 600);
    }

    #[test]
    fn the_dcgm_exporter_port_is_checked_and_needs_the_selector() {
        let parse = |args: &[&str]| {
            Cli::try_parse_from(["gpuboard", "serve"].iter().chain(args)).map(|cli| {
                let Command::Serve(serve) = cli.command;
                serve.dcgm_exporter_port
            })
        };
        let selector = "--dcgm-exporter-selector=app=dcgm";
        assert_eq!(
            parse(&[selector]).ok(),
            Some(ExporterPort::Named("metrics".into()))
        );
        assert_eq!(
            parse(&[selector, "--dcgm-exporter-port=9500"]).ok(),
            Some(ExporterPort::Number(9500))
        );
        let refused = parse(&[selector, "--dcgm-exporter-port=0"])
            .expect_err("port 0 is refused")
            .to_string();
        assert!(refused.contains("--dcgm-exporter-port"), "{refused}");
        assert!(refused.contains("from 1 to 65535"), "{refused}");
        let alone = parse(&["--dcgm-exporter-port=9500"])
            .expect_err("a port without a selector is refused")
            .to_string();
        assert!(alone.contains("--dcgm-exporter-selector"), "{alone}");
    }
}
