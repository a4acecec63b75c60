//! `gpuboard-sim`: a simulated GPU cluster, the way envtest and kwok stand in for one in Go
//! projects. An API server that speaks the Kubernetes REST API on loopback over TLS from its own
//! cluster CA (real paths, k8s-openapi JSON, Status errors, resourceVersion, selectors, watch,
//! RBAC), with a scheduler, kubelets, a Job controller and kubeadm's bootstrap-token machinery
//! behind it, so that kubectl and kube-rs use it as they would a kubeadm cluster with NVIDIA GPUs;
//! and one simulated `gpuboard-exporter` per GPU node ([`exporters`]), the exporter crate's own
//! code over simulated GPUs.
//!
//! Everything it serves and every address it gives a pod is on loopback (127.0.0.0/8). The
//! seeds' node addresses (192.168.0.x) and the synthetic nodes' (10.0.x.x) are only shown, as
//! a node's InternalIP and in `cluster-info`: nothing ever connects to them.

pub mod admission;
pub mod api;
pub mod auth;
pub mod controllers;
pub mod discovery;
pub mod errors;
pub mod exporters;
pub mod patch;
pub mod pki;
pub mod policy;
pub mod programs;
pub mod protobuf;
pub mod quantity;
pub mod request_counts;
pub mod resources;
pub mod seed;
pub mod selectors;
pub mod store;
pub mod tables;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Mutex, MutexGuard};
use serde_json::{Value, json};
use tokio::sync::Notify;

use auth::{Authenticator, UserInfo};
use pki::ClusterCa;
use programs::VisibleGpu;
use resources::by_kind;
use seed::NodeHardware;
use store::{Store, now_rfc3339};

/// How to start a sim.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub listen: SocketAddr,
    pub state_dir: PathBuf,
    /// None: the seeds' lab; Some(n): n synthetic GPU nodes plus a control plane.
    pub nodes: Option<usize>,
    pub gpus_per_node: usize,
    /// How often the controllers run.
    pub tick: Duration,
    /// How many changes watches can resume from.
    pub history: usize,
    /// The simulated exporters, one per GPU node; None runs none.
    pub exporters: Option<exporters::SimExporterConfig>,
    /// How often an idle watch that asked for bookmarks gets one.
    pub bookmark_interval: Duration,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            state_dir: std::env::temp_dir().join("gpuboard-sim"),
            nodes: None,
            gpus_per_node: 8,
            tick: Duration::from_millis(100),
            history: 50_000,
            exporters: Some(exporters::SimExporterConfig {
                port: 0,
                interval: Duration::from_secs(1),
            }),
            bookmark_interval: Duration::from_secs(5),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot write the state directory {path}: {source}")]
    StateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot make the cluster CA: {0}")]
    Ca(#[from] rcgen::Error),
    #[error("cannot set up TLS: {0}")]
    Tls(std::io::Error),
}

/// One container's logs: this run's lines and the previous run's.
#[derive(Debug, Default, Clone)]
pub struct ContainerLogs {
    pub current: Vec<(String, String)>,
    pub previous: Option<Vec<(String, String)>>,
    pub ended: bool,
}

/// The container a GPU is allocated to, and how hard its program works the GPU now (0 to 1).
#[derive(Debug, Clone, PartialEq)]
pub struct GpuHolder {
    pub pod_uid: String,
    pub namespace: String,
    pub pod: String,
    pub container: String,
    pub load: f64,
}

/// The shared state of a running sim.
pub struct Sim {
    store: Mutex<Store>,
    pub auth: Authenticator,
    pub ca: ClusterCa,
    pub hardware: Vec<NodeHardware>,
    /// `hardware`'s position by node name (the kubelets look a node up per pod per tick).
    hardware_by_name: HashMap<String, usize>,
    pub server_address: String,
    logs: Mutex<HashMap<(String, String), ContainerLogs>>,
    pub logs_changed: Notify,
    /// Per node, which pod (uid) and container hold each GPU: the device plugin's allocation.
    devices: Mutex<HashMap<String, Vec<Option<GpuHolder>>>>,
    /// Requests answered, by verb and resource (`GET /metrics`).
    pub requests: request_counts::RequestCounts,
    pub bookmark_interval: Duration,
    /// GPUs that have failed (node, index), and whether their exporter was told the Xid yet.
    failed_gpus: Mutex<HashMap<(String, usize), bool>>,
    /// Nodes whose exporter accepts connections but never answers.
    hung_exporters: Mutex<std::collections::HashSet<String>>,
    /// Bumped by [`Sim::expire_watches`]: every open watch ends with `410 Gone`.
    watches_expired: tokio::sync::watch::Sender<u64>,
}

impl Sim {
    pub fn lock_store(&self) -> MutexGuard<'_, Store> {
        self.store.lock()
    }

    /// A receiver that changes when open watches must end with `410 Gone`.
    pub fn watch_expiry(&self) -> tokio::sync::watch::Receiver<u64> {
        self.watches_expired.subscribe()
    }

    /// What an API server does when its watch cache moves on without its clients: forgets the
    /// change history (a watch resuming from an older resourceVersion is answered `410 Gone`)
    /// and ends every open watch with a `410 Gone` error event. Clients must list again.
    pub fn expire_watches(&self) {
        let mut store = self.lock_store();
        store.compact();
        // With the store held, as a watch takes its receiver: none starts in between.
        self.watches_expired.send_modify(|n| *n += 1);
    }

    /// GPU `index` of `node` falls off the bus, as NVML reports it: every reading fails with
    /// "GPU is lost", and the exporter sees Xid 79 once. Until [`Sim::mend_gpu`].
    pub fn fail_gpu(&self, node: &str, index: usize) {
        self.failed_gpus
            .lock()
            .entry((node.to_string(), index))
            .or_insert(false);
    }

    /// GPU `index` of `node` works again.
    pub fn mend_gpu(&self, node: &str, index: usize) {
        self.failed_gpus.lock().remove(&(node.to_string(), index));
    }

    /// Whether GPU `index` of `node` has failed.
    pub fn gpu_failed(&self, node: &str, index: usize) -> bool {
        self.failed_gpus
            .lock()
            .contains_key(&(node.to_string(), index))
    }

    /// The Xids (79, fallen off the bus) of `node`'s failed GPUs not yet reported: (index, Xid).
    pub fn drain_xids(&self, node: &str) -> Vec<(usize, u64)> {
        let mut failed = self.failed_gpus.lock();
        failed
            .iter_mut()
            .filter(|((n, _), reported)| n == node && !**reported)
            .map(|((_, index), reported)| {
                *reported = true;
                (*index, 79)
            })
            .collect()
    }

    /// `node`'s exporter hangs (`true`: accepts connections, never answers) or answers again.
    pub fn hang_exporter(&self, node: &str, hung: bool) {
        let mut hung_exporters = self.hung_exporters.lock();
        if hung {
            hung_exporters.insert(node.to_string());
        } else {
            hung_exporters.remove(node);
        }
    }

    /// Whether `node`'s exporter hangs.
    pub fn exporter_hung(&self, node: &str) -> bool {
        self.hung_exporters.lock().contains(node)
    }

    pub fn lock_logs(&self) -> MutexGuard<'_, HashMap<(String, String), ContainerLogs>> {
        self.logs.lock()
    }

    /// The simulated hardware of node `name`.
    pub fn hardware_of(&self, name: &str) -> Option<&NodeHardware> {
        self.hardware.get(*self.hardware_by_name.get(name)?)
    }

    pub fn node_ip(&self, node: &str) -> String {
        self.hardware_of(node)
            .map(|h| h.internal_ip.clone())
            .unwrap_or_default()
    }

    /// Hands a starting pod's containers the GPUs they request, from the node's free ones.
    pub fn allocate_gpus(
        &self,
        node: &str,
        pod_uid: &str,
        pod: &Value,
    ) -> HashMap<String, Vec<VisibleGpu>> {
        let Some(hw) = self.hardware_of(node) else {
            return HashMap::new();
        };
        let mut devices = self.devices.lock();
        let slots = devices
            .entry(node.to_string())
            .or_insert_with(|| vec![None; hw.gpus.len()]);
        let mut out = HashMap::new();
        for c in pod["spec"]["containers"].as_array().into_iter().flatten() {
            let name = c["name"].as_str().unwrap_or("").to_string();
            let want = c["resources"]["limits"]["nvidia.com/gpu"]
                .as_str()
                .and_then(quantity::parse)
                .unwrap_or(0.0) as usize;
            let mut given = Vec::new();
            for (i, slot) in slots.iter_mut().enumerate() {
                if given.len() == want {
                    break;
                }
                if slot.is_none() {
                    *slot = Some(GpuHolder {
                        pod_uid: pod_uid.to_string(),
                        namespace: pod["metadata"]["namespace"]
                            .as_str()
                            .unwrap_or("")
                            .to_string(),
                        pod: pod["metadata"]["name"].as_str().unwrap_or("").to_string(),
                        container: name.clone(),
                        load: 0.0,
                    });
                    let g = &hw.gpus[i];
                    given.push(VisibleGpu {
                        index: given.len(),
                        name: g.model.name.into(),
                        memory_mib: g.model.memory_mib,
                        pci_bus_id: g.pci_bus_id.clone(),
                        uuid: g.uuid.clone(),
                    });
                }
            }
            out.insert(name, given);
        }
        out
    }

    pub fn release_gpus(&self, pod_uid: &str) {
        for slots in self.devices.lock().values_mut() {
            for slot in slots.iter_mut() {
                if slot.as_ref().is_some_and(|h| h.pod_uid == pod_uid) {
                    *slot = None;
                }
            }
        }
    }

    /// Sets how hard a container works the GPUs it holds on a node (its program's load while running, else 0).
    pub fn set_gpu_load(&self, node: &str, pod_uid: &str, container: &str, load: f64) {
        if let Some(slots) = self.devices.lock().get_mut(node) {
            for h in slots.iter_mut().flatten() {
                if h.pod_uid == pod_uid && h.container == container {
                    h.load = load;
                }
            }
        }
    }

    /// Which container holds GPU `index` of a node, if one does.
    pub fn gpu_holder(&self, node: &str, index: usize) -> Option<GpuHolder> {
        self.devices.lock().get(node)?.get(index)?.clone()
    }

    /// Which container holds each GPU of a node (index order).
    pub fn gpu_holders(&self, node: &str) -> Vec<Option<GpuHolder>> {
        self.devices.lock().get(node).cloned().unwrap_or_default()
    }

    fn start_logs(&self, pod_uid: &str, container: &str) {
        let mut logs = self.lock_logs();
        let entry = logs
            .entry((pod_uid.to_string(), container.to_string()))
            .or_default();
        if !entry.current.is_empty() || entry.ended {
            entry.previous = Some(std::mem::take(&mut entry.current));
        }
        entry.ended = false;
        drop(logs);
        self.logs_changed.notify_waiters();
    }

    fn append_logs(&self, pod_uid: &str, container: &str, lines: Vec<String>) {
        if lines.is_empty() {
            return;
        }
        let ts = jiff::Timestamp::now()
            .strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            .to_string();
        let mut logs = self.lock_logs();
        let entry = logs
            .entry((pod_uid.to_string(), container.to_string()))
            .or_default();
        entry
            .current
            .extend(lines.into_iter().map(|l| (ts.clone(), l)));
        drop(logs);
        self.logs_changed.notify_waiters();
    }

    fn finish_logs(&self, pod_uid: &str, container: &str) {
        if let Some(entry) = self
            .lock_logs()
            .get_mut(&(pod_uid.to_string(), container.to_string()))
        {
            entry.ended = true;
        }
        self.logs_changed.notify_waiters();
    }

    fn end_logs(&self, pod_uid: &str) {
        let mut logs = self.lock_logs();
        logs.retain(|(uid, _), _| uid != pod_uid);
        drop(logs);
        self.logs_changed.notify_waiters();
    }
}

/// A started sim: where it listens and the credentials it wrote.
pub struct SimHandle {
    pub url: String,
    pub addr: SocketAddr,
    pub state_dir: PathBuf,
    pub kubeconfig: PathBuf,
    pub admin_token: String,
    pub viewer_token: String,
    /// A researcher who may edit namespace `ai` (and its GPU quota holds them) and nothing else.
    pub researcher_token: String,
    pub sim: Arc<Sim>,
    /// (node, address) of each GPU node's simulated exporter.
    pub exporters: Vec<(String, SocketAddr)>,
    api: ApiServer,
    controllers: tokio::task::JoinHandle<()>,
    exporter_tasks: Vec<tokio::task::JoinHandle<()>>,
    /// The state directory, when the sim made it and removes it with itself.
    _temporary: Option<tempfile::TempDir>,
}

/// The API server's listener and its open connections; a test can stop it and start it again.
struct ApiServer {
    handle: axum_server::Handle<SocketAddr>,
    task: tokio::task::JoinHandle<()>,
    tls: axum_server::tls_rustls::RustlsConfig,
    app: axum::Router,
}

impl ApiServer {
    /// Serves `app` over TLS on `listener` until stopped.
    fn serve(
        listener: std::net::TcpListener,
        tls: axum_server::tls_rustls::RustlsConfig,
        app: axum::Router,
    ) -> Result<ApiServer, SimError> {
        let handle = axum_server::Handle::new();
        let server = axum_server::from_tcp_rustls(listener, tls.clone())
            .map_err(SimError::Tls)?
            .handle(handle.clone());
        let service = app.clone().into_make_service();
        let task = tokio::spawn(async move {
            if let Err(e) = server.serve(service).await {
                tracing::error!(error = %e, "the sim's API server stopped");
            }
        });
        Ok(ApiServer {
            handle,
            task,
            tls,
            app,
        })
    }
}

/// Binds `addr` for listening, also while connections closed on it before linger in TIME_WAIT
/// (so an API server stopped by a test can listen on its port again).
fn bind(addr: SocketAddr) -> Result<std::net::TcpListener, SimError> {
    let listen = || {
        let socket = if addr.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        socket.listen(1024)?.into_std()
    };
    listen().map_err(|source| SimError::Listen { addr, source })
}

impl SimHandle {
    /// Stops the API server as if its process had died: open connections (watches too) are cut,
    /// new ones refused, until [`Self::start_api_server`]. The cluster's state, its controllers
    /// and the exporters go on.
    pub async fn stop_api_server(&mut self) {
        self.api.handle.shutdown();
        let _ = (&mut self.api.task).await;
        tracing::info!(url = %self.url, "the sim's API server is stopped");
    }

    /// Starts the API server again on its address, with the state it had and whatever changed
    /// since; clients resume their watches (or are told `410 Gone` when history was expired).
    pub async fn start_api_server(&mut self) -> Result<(), SimError> {
        let listener = bind(self.addr)?;
        self.api = ApiServer::serve(listener, self.api.tls.clone(), self.api.app.clone())?;
        tracing::info!(url = %self.url, "the sim's API server is serving again");
        Ok(())
    }

    /// What a person needs to use it: address, kubeconfig, tokens, a few exporters, a kubectl line.
    pub fn summary(&self) -> String {
        let mut out = format!(
            "simulated cluster: {}\n  kubeconfig:   {}\n  admin token:  {}\n  viewer token: {}\n  researcher token (namespace ai): {}\n",
            self.url,
            self.kubeconfig.display(),
            self.admin_token,
            self.state_dir.join("viewer.token").display(),
            self.state_dir.join("researcher.token").display()
        );
        for (node, addr) in self.exporters.iter().take(3) {
            out.push_str(&format!(
                "  exporter:     http://{addr}/metrics  ({node})\n"
            ));
        }
        if self.exporters.len() > 3 {
            out.push_str(&format!(
                "  ... and {} more exporters\n",
                self.exporters.len() - 3
            ));
        }
        out.push_str(&format!(
            "  try: KUBECONFIG={} kubectl get nodes -o wide",
            self.kubeconfig.display()
        ));
        out
    }

    /// The viewer's kubeconfig (may get, list and watch; nothing else).
    pub fn viewer_kubeconfig(&self) -> PathBuf {
        self.state_dir.join("viewer.kubeconfig")
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.api.task.abort();
        self.controllers.abort();
        for task in &self.exporter_tasks {
            task.abort();
        }
    }
}

fn random_token() -> String {
    use rand::Rng;
    let bytes: [u8; 24] = rand::rng().random();
    pki::hex(&bytes)
}

fn write_file(path: &Path, contents: &str) -> Result<(), SimError> {
    std::fs::write(path, contents).map_err(|source| SimError::StateDir {
        path: path.to_path_buf(),
        source,
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
    }
    Ok(())
}

/// The kubeconfig kubectl and kube-rs use as they are. kubectl sends bearer tokens only over TLS,
/// so the sim serves HTTPS with a certificate from its cluster CA, as kubeadm's API server does.
pub fn kubeconfig(url: &str, ca_base64: &str, token: &str, user: &str) -> String {
    json!({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "gpuboard-sim", "cluster": {"server": url, "certificate-authority-data": ca_base64}}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": "gpuboard-sim", "context": {"cluster": "gpuboard-sim", "user": user, "namespace": "default"}}],
        "current-context": "gpuboard-sim",
        "preferences": {}
    })
    .to_string()
}

/// Starts a sim in a state directory of its own, removed when the handle is dropped: for tests.
pub async fn start_temporary(config: SimConfig) -> Result<SimHandle, SimError> {
    let dir = tempfile::tempdir().map_err(|source| SimError::StateDir {
        path: std::env::temp_dir(),
        source,
    })?;
    let mut handle = start(SimConfig {
        state_dir: dir.path().to_path_buf(),
        ..config
    })
    .await?;
    handle._temporary = Some(dir);
    Ok(handle)
}

/// Starts a sim: binds, seeds the cluster, writes the tokens and kubeconfig, runs the controllers.
pub async fn start(config: SimConfig) -> Result<SimHandle, SimError> {
    let listener = bind(config.listen)?;
    let addr = listener.local_addr().map_err(|source| SimError::Listen {
        addr: config.listen,
        source,
    })?;
    let url = format!("https://{addr}");
    std::fs::create_dir_all(&config.state_dir).map_err(|source| SimError::StateDir {
        path: config.state_dir.clone(),
        source,
    })?;

    let hardware = match config.nodes {
        None => seed::seed_lab(),
        Some(n) => seed::synthetic(n, config.gpus_per_node),
    };
    let ca = ClusterCa::generate()?;
    let admin_token = random_token();
    let viewer_token = random_token();
    let researcher_token = random_token();
    let mut static_tokens = HashMap::new();
    static_tokens.insert(
        admin_token.clone(),
        UserInfo::new(
            "kubernetes-admin",
            &["system:masters", "system:authenticated"],
        ),
    );
    static_tokens.insert(
        viewer_token.clone(),
        UserInfo::new("viewer", &["system:authenticated"]),
    );
    static_tokens.insert(
        researcher_token.clone(),
        UserInfo::new("researcher", &["system:authenticated"]),
    );

    let control_plane_ip = hardware
        .iter()
        .find(|h| h.control_plane)
        .map(|h| h.internal_ip.clone())
        .unwrap_or_else(|| "127.0.0.1".into());
    let mut store = Store::new(config.history);
    controllers::add_indexes(&mut store);
    for obj in seed::rbac_defaults()
        .into_iter()
        .chain(seed::cluster_objects(
            &ca,
            &format!("https://{control_plane_ip}:6443"),
        ))
        .chain(seed::device_plugin(&hardware))
    {
        let def = resources::RESOURCES
            .iter()
            .find(|d| obj["kind"] == d.kind)
            .unwrap_or_else(|| by_kind("ConfigMap"));
        let mut obj = obj;
        if admission::on_create(def, &mut obj).is_ok() {
            let _ = store.create(def, obj);
        }
    }
    for hw in &hardware {
        let _ = store.create(by_kind("Node"), seed::node_object(hw));
    }
    let hardware_by_name = hardware
        .iter()
        .enumerate()
        .map(|(i, h)| (h.name.clone(), i))
        .collect();
    let sim = Arc::new(Sim {
        store: Mutex::new(store),
        auth: Authenticator::new(static_tokens),
        ca,
        hardware,
        hardware_by_name,
        server_address: addr.to_string(),
        logs: Mutex::new(HashMap::new()),
        logs_changed: Notify::new(),
        devices: Mutex::new(HashMap::new()),
        requests: Default::default(),
        bookmark_interval: config.bookmark_interval,
        failed_gpus: Mutex::default(),
        hung_exporters: Mutex::default(),
        watches_expired: tokio::sync::watch::Sender::new(0),
    });

    let kubeconfig_path = config.state_dir.join("kubeconfig");
    write_file(&config.state_dir.join("admin.token"), &admin_token)?;
    write_file(&config.state_dir.join("viewer.token"), &viewer_token)?;
    write_file(
        &config.state_dir.join("researcher.token"),
        &researcher_token,
    )?;
    let ca_b64 = sim.ca.cert_base64();
    write_file(
        &kubeconfig_path,
        &kubeconfig(&url, &ca_b64, &admin_token, "admin"),
    )?;
    write_file(
        &config.state_dir.join("viewer.kubeconfig"),
        &kubeconfig(&url, &ca_b64, &viewer_token, "viewer"),
    )?;
    write_file(&config.state_dir.join("ca.crt"), &sim.ca.cert_pem)?;

    let names = vec![
        addr.ip().to_string(),
        "localhost".to_string(),
        "kubernetes".to_string(),
        "kubernetes.default.svc".to_string(),
    ];
    let serving = sim.ca.serving_cert(&names)?;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let tls = axum_server::tls_rustls::RustlsConfig::from_pem(
        serving.cert_pem.into_bytes(),
        serving.key_pem.into_bytes(),
    )
    .await
    .map_err(SimError::Tls)?;
    let api = ApiServer::serve(listener, tls, api::router(sim.clone()))?;
    let controllers = tokio::spawn(controllers::run(sim.clone(), config.tick));
    // Each GPU node's simulated exporter, on `NodeHardware::exporter_ip`.
    let exporters = match &config.exporters {
        Some(exporter_config) => exporters::start(&sim, exporter_config).await?,
        None => exporters::Started {
            addresses: Vec::new(),
            tasks: Vec::new(),
        },
    };
    tracing::info!(url = %url, nodes = sim.hardware.len(), created = %now_rfc3339(), "simulated cluster ready");
    Ok(SimHandle {
        url,
        addr,
        state_dir: config.state_dir,
        kubeconfig: kubeconfig_path,
        admin_token,
        viewer_token,
        researcher_token,
        sim,
        api,
        controllers,
        exporters: exporters.addresses,
        exporter_tasks: exporters.tasks,
        _temporary: None,
    })
}
