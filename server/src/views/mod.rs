//! What each page shows, assembled for one user from the shared watch cache, the telemetry and
//! the user's permissions: [`KubeBackend`], the [`Backend`] the frontend's server functions (and
//! the CSV export) call. One module per page's data.

pub mod gpus;
pub mod kept;
pub mod node;
pub mod nodes;
pub mod overview;
pub mod workload;

use std::collections::HashMap;
use std::sync::Arc;

use frontend::backend::{Backend, LogStream, SignedInUser};
use frontend::contract::access::{
    IssuedToken, NewAccess, NewToken, RegenerateToken, ServiceAccounts,
};
use frontend::contract::doctor::{CheckKind, CheckStatus, Diagnosis, Seen};
use frontend::contract::join::{JoinTokens, NewJoinToken, RevealedJoinToken};
use frontend::contract::workload_detail::{LogQuery, Logs, WorkloadDetail};
use frontend::contract::workloads::{
    Deleted, FitCheck, NewWorkload, Preview, Queue, QueueQuery, SubmitOptions, Submitted,
};
use frontend::contract::{Alert, HeatMap};
use frontend::contract::{
    ClusterLink, GpuPage, GpuQuery, GpuRow, HistoryRange, NodeDetail, NodeSummary, Overview,
    PageError,
};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Api;

use crate::access::AccessService;
use crate::bootstrap::JoinTokenService;
use crate::bootstrap::token::NAMESPACE as TOKEN_NAMESPACE;
use crate::cluster::accounting::{is_active, node_of};
use crate::cluster::cache::ClusterCache;
use crate::cluster::permissions::{Access, Permissions, PodVisibility};
use crate::doctor::{self, DoctorInput, Heartbeat};
use crate::telemetry::{NodeTelemetry, SourceNow, Telemetry, TelemetrySnapshot};
use crate::workloads::WorkloadService;
use crate::workloads::queue::Rows;

/// The dashboard's backend: reads from the shared watch cache and the telemetry collector,
/// and asks the cluster (as the user) what the user may see.
pub struct KubeBackend {
    pub cache: ClusterCache,
    pub telemetry: Arc<Telemetry>,
    pub permissions: Permissions,
    pub join_tokens: JoinTokenService,
    pub access: AccessService,
    pub workloads: WorkloadService,
    /// The dashboard's own client: reads nodes' Leases for the doctor.
    pub client: kube::Client,
    /// What every user's overview, nodes table and node doctor share ([`kept`]).
    pub view: kept::KeptView,
}

/// The control plane's kubelet version: what its API server runs on a kubeadm cluster.
fn control_plane_version(summaries: &[NodeSummary]) -> Option<&str> {
    summaries
        .iter()
        .find(|s| {
            s.roles
                .iter()
                .any(|r| r == "control-plane" || r == "master")
        })
        .map(|s| s.kubelet_version.as_str())
}

impl KubeBackend {
    /// Where `user` may see which pods hold the GPUs of `nodes`.
    async fn visibility<'a>(
        &self,
        user: &SignedInUser,
        nodes: impl IntoIterator<Item = &'a NodeTelemetry>,
    ) -> PodVisibility {
        self.permissions
            .namespaces_with_pods_visible(user, || gpus::holder_namespaces(nodes))
            .await
    }

    /// Every GPU row `user` may see.
    async fn all_rows(&self, user: &SignedInUser, snapshot: &TelemetrySnapshot) -> Vec<GpuRow> {
        let visible = self.visibility(user, snapshot.values()).await;
        gpus::gpu_rows(snapshot.iter(), &visible)
    }

    /// One node's diagnosis: `summary` is its row among every node's (skew flags), `here` the
    /// pods on it.
    fn diagnose(
        node: &Node,
        summary: &NodeSummary,
        control_plane_version: Option<&str>,
        here: &[&Pod],
        snapshot: &TelemetrySnapshot,
        source: &SourceNow,
        heartbeat: Heartbeat,
    ) -> Diagnosis {
        doctor::diagnose(&DoctorInput {
            node,
            summary,
            control_plane_version,
            pods: here,
            telemetry: snapshot.get(&summary.name),
            source,
            heartbeat,
            now: jiff::Timestamp::now(),
        })
    }

    /// One node's diagnosis with its heartbeat, from the pods already read; None when the node
    /// has no row (it went between the reads).
    async fn diagnosis(
        &self,
        node: &Node,
        pods: &[Arc<Pod>],
    ) -> Result<Option<Diagnosis>, PageError> {
        let Some(name) = node.metadata.name.as_deref() else {
            return Ok(None);
        };
        // Skew is judged against every GPU node: the shared view has every row. The node's own
        // telemetry is read now (the view may be a second old), as the GPU rows read it.
        let (_, view) = self.cluster_view().await?;
        let (snapshot, summaries) = (&self.telemetry.snapshot(), &view.summaries);
        let Some(summary) = summaries.iter().find(|s| s.name == name) else {
            return Ok(None);
        };
        let here: Vec<&Pod> = pods
            .iter()
            .filter(|p| node_of(p) == Some(name))
            .map(|p| p.as_ref())
            .collect();
        let heartbeat = self.heartbeat(name).await;
        Ok(Some(Self::diagnose(
            node,
            summary,
            control_plane_version(summaries),
            &here,
            snapshot,
            &self.telemetry.source_now(),
            heartbeat,
        )))
    }

    /// `kube-node-lease/<node>`'s last renewal.
    async fn heartbeat(&self, node: &str) -> Heartbeat {
        match Api::<Lease>::namespaced(self.client.clone(), "kube-node-lease")
            .get_opt(node)
            .await
        {
            Ok(Some(lease)) => lease
                .spec
                .and_then(|s| s.renew_time)
                .map_or(Heartbeat::Missing, |t| Heartbeat::Renewed(t.0)),
            Ok(None) => Heartbeat::Missing,
            Err(e) => {
                tracing::debug!(%node, error = %e, "cannot read the node's Lease");
                Heartbeat::NotRead
            }
        }
    }

    /// The overview's doctor alerts: each node's failing checks that no other alert already says
    /// (NotReady, a stale exporter, allocatable GPUs unlike the exporter's count and, with that,
    /// the device plugin). Pods and rows are grouped by node once.
    async fn doctor_alerts(
        &self,
        summaries: &[NodeSummary],
        pods: &[Arc<Pod>],
        snapshot: &TelemetrySnapshot,
    ) -> Result<Vec<Alert>, PageError> {
        let nodes = self.cache.nodes().await?;
        let mut by_node: HashMap<&str, Vec<&Pod>> = HashMap::new();
        for pod in pods {
            if let Some(node) = node_of(pod) {
                by_node.entry(node).or_default().push(pod);
            }
        }
        let rows: HashMap<&str, &NodeSummary> =
            summaries.iter().map(|s| (s.name.as_str(), s)).collect();
        let control_plane = control_plane_version(summaries);
        let source = self.telemetry.source_now();
        let mut alerts = Vec::new();
        for node in nodes.iter() {
            let Some(summary) = node.metadata.name.as_deref().and_then(|n| rows.get(n)) else {
                continue;
            };
            let here = by_node
                .get(summary.name.as_str())
                .map(Vec::as_slice)
                .unwrap_or_default();
            let d = Self::diagnose(
                node,
                summary,
                control_plane,
                here,
                snapshot,
                &source,
                Heartbeat::NotRead,
            );
            // The allocatable alert fires only when the exporter reported a different count; then
            // it already points at the device plugin.
            let mismatch_alerted = d.checks.iter().any(|c| {
                matches!(c.seen, Seen::Allocatable { allocatable, seen: Some(seen) } if seen != allocatable as usize)
            });
            let mut said_elsewhere = vec![
                CheckKind::Ready,
                CheckKind::Exporter,
                CheckKind::GpusAllocatable,
            ];
            if mismatch_alerted {
                said_elsewhere.push(CheckKind::DevicePlugin);
            }
            let checks: Vec<CheckKind> = d
                .checks
                .iter()
                .filter(|c| c.status == CheckStatus::Fail && !said_elsewhere.contains(&c.check))
                .map(|c| c.check)
                .collect();
            if !checks.is_empty() {
                alerts.push((d.node, checks));
            }
        }
        alerts.sort();
        Ok(alerts
            .into_iter()
            .map(|(node, checks)| Alert::DoctorFails { node, checks })
            .collect())
    }

    /// The inputs of the shared view now: the generations are read before the caches, so what
    /// is made from them is at least as new.
    fn view_inputs(&self) -> kept::Inputs {
        kept::Inputs {
            nodes_generation: self.cache.nodes_generation(),
            pods_generation: self.cache.pods_generation(),
            snapshot: self.telemetry.snapshot(),
        }
    }

    /// The view of the whole cluster every user shares ([`kept`] says when it is made again),
    /// with the telemetry snapshot it was made from.
    async fn cluster_view(&self) -> Result<(TelemetrySnapshot, Arc<kept::ClusterView>), PageError> {
        let make = |inputs: kept::Inputs| async move {
            let pods = self.cache.pods().await?;
            let snapshot = &inputs.snapshot;
            let summaries = self.summaries(&pods, snapshot).await?;
            let doctor = self.doctor_alerts(&summaries, &pods, snapshot).await?;
            let heat = overview::heat_by_node_when_large(snapshot).unwrap_or_default();
            let overview = overview::overview(&summaries, snapshot, heat, doctor);
            Ok::<_, PageError>(kept::ClusterView {
                summaries,
                overview,
            })
        };
        self.view.get_or_make(|| self.view_inputs(), make).await
    }

    /// Every node's table row, with GPU use and skew flags.
    async fn summaries(
        &self,
        pods: &[Arc<Pod>],
        snapshot: &TelemetrySnapshot,
    ) -> Result<Vec<NodeSummary>, PageError> {
        let list = self.cache.nodes().await?;
        let now = jiff::Timestamp::now();
        let mut nodes: Vec<NodeSummary> = list.iter().map(|n| nodes::summarize(n, now)).collect();
        nodes.sort_by(|a, b| a.name.cmp(&b.name));
        nodes::add_gpu_use(&mut nodes, pods, snapshot);
        nodes::flag_skew(&mut nodes);
        Ok(nodes)
    }
}

#[async_trait::async_trait]
impl Backend for KubeBackend {
    async fn nodes(&self, _user: &SignedInUser) -> Result<Vec<NodeSummary>, PageError> {
        Ok(self.cluster_view().await?.1.summaries.clone())
    }

    async fn gpus(&self, user: &SignedInUser, query: &GpuQuery) -> Result<GpuPage, PageError> {
        let snapshot = self.telemetry.snapshot();
        let visible = self.visibility(user, snapshot.values()).await;
        Ok(gpus::page_of(snapshot.iter(), &visible, query))
    }

    async fn gpu_rows(&self, user: &SignedInUser) -> Result<Vec<GpuRow>, PageError> {
        Ok(self.all_rows(user, &self.telemetry.snapshot()).await)
    }

    async fn cluster_link(&self, _user: &SignedInUser) -> Result<ClusterLink, PageError> {
        Ok(self.cache.link.status())
    }

    async fn overview(&self, user: &SignedInUser) -> Result<Overview, PageError> {
        let (snapshot, view) = self.cluster_view().await?;
        let mut page = view.overview.clone();
        // Said now, not kept: whether Prometheus answers is news every cycle.
        if let Some(error) = self.telemetry.source_failure() {
            overview::say_prometheus_failed(&mut page.alerts, error);
        }
        if !page.heat.is_by_node() {
            // A cell per GPU shows its holders, as this user may see them.
            page.heat = HeatMap::from_rows(&self.all_rows(user, &snapshot).await);
        }
        // The tiles do not wait on the queue: without it (its caches unsynced) the panel is empty.
        let head = Rows::Head(Overview::WORK_ROWS);
        match self.workloads.queue(user, &self.permissions, head).await {
            Ok(queue) => page.work = queue,
            Err(e) => tracing::warn!(error = %e, "the overview shows no GPU work"),
        }
        Ok(page)
    }

    async fn node(
        &self,
        user: &SignedInUser,
        name: &str,
        range: HistoryRange,
    ) -> Result<Option<NodeDetail>, PageError> {
        let Some(node) = self.cache.node(name).await? else {
            return Ok(None);
        };
        let pods = self.cache.pods().await?;
        let doctor = self
            .diagnosis(&node, &pods)
            .await?
            .unwrap_or_else(|| Diagnosis {
                node: name.to_string(),
                gpu_node: false,
                checks: Vec::new(),
            });
        let here: Vec<&Arc<Pod>> = pods
            .iter()
            .filter(|p| node_of(p) == Some(name) && is_active(p))
            .collect();
        let telemetry = self.telemetry.node(name).unwrap_or_default();
        let namespaces = || {
            here.iter()
                .filter_map(|p| p.metadata.namespace.clone())
                .chain(gpus::holder_namespaces([&telemetry]))
                .collect()
        };
        let visible = self
            .permissions
            .namespaces_with_pods_visible(user, namespaces)
            .await;
        let (shown, hidden): (Vec<&Arc<Pod>>, Vec<&Arc<Pod>>) = here
            .into_iter()
            .partition(|p| visible.shows(p.metadata.namespace.as_deref().unwrap_or_default()));
        let mut pods: Vec<_> = shown.into_iter().map(|p| node::node_pod(p)).collect();
        pods.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        let name = name.to_string();
        let rows = gpus::gpu_rows([(&name, &telemetry)], &visible);
        let uuids: Vec<&str> = rows.iter().map(|r| r.uuid.as_str()).collect();
        let mut charts = self.telemetry.chart_history(&uuids, range).await;
        let gpus = rows
            .into_iter()
            .map(|row| {
                let history = charts.by_gpu.remove(&row.uuid).unwrap_or_default();
                node::card(row, &history)
            })
            .collect();
        Ok(Some(NodeDetail {
            doctor,
            summary: nodes::summarize(&node, jiff::Timestamp::now()),
            conditions: node::conditions(&node),
            taints: node::taints(&node),
            labels: node::labels(&node),
            gpus,
            pods,
            hidden_pods: hidden.len(),
            telemetry_error: telemetry.error,
            history_range: charts.range,
            history_ranges: self.telemetry.history_ranges(),
            history_error: charts.error,
        }))
    }

    async fn doctor(
        &self,
        _user: &SignedInUser,
        name: &str,
    ) -> Result<Option<Diagnosis>, PageError> {
        let Some(node) = self.cache.node(name).await? else {
            return Ok(None);
        };
        let pods = self.cache.pods().await?;
        self.diagnosis(&node, &pods).await
    }

    async fn join_tokens(&self, user: &SignedInUser) -> Result<JoinTokens, PageError> {
        let create = Access::core("create", "secrets", TOKEN_NAMESPACE);
        let delete = Access::core("delete", "secrets", TOKEN_NAMESPACE);
        let (list, may_create, may_delete) = tokio::join!(
            self.join_tokens.list(user),
            self.permissions.allows(user, &create),
            self.permissions.allows(user, &delete),
        );
        Ok(JoinTokens {
            may_create,
            may_delete,
            request_id: crate::retries::fresh(),
            ..list?
        })
    }

    async fn create_join_token(
        &self,
        user: &SignedInUser,
        request: &NewJoinToken,
    ) -> Result<RevealedJoinToken, PageError> {
        self.join_tokens.create(user, request).await
    }

    async fn reveal_join_token(
        &self,
        user: &SignedInUser,
        id: &str,
    ) -> Result<RevealedJoinToken, PageError> {
        self.join_tokens.reveal(user, id).await
    }

    async fn delete_join_token(&self, user: &SignedInUser, id: &str) -> Result<(), PageError> {
        self.join_tokens.delete(user, id).await
    }

    async fn service_accounts(
        &self,
        user: &SignedInUser,
        namespace: Option<&str>,
    ) -> Result<ServiceAccounts, PageError> {
        // Asked where the user looks: a namespace admin may do in theirs what they may not everywhere.
        const RBAC: &str = "rbac.authorization.k8s.io";
        let mint = Access::in_group("create", "", "serviceaccounts/token", namespace);
        let grant = Access::in_group("create", RBAC, "rolebindings", namespace);
        let regenerate = Access::in_group("delete", "", "secrets", namespace);
        let (accounts, may_mint, may_grant, may_regenerate) = tokio::join!(
            self.access.list(user, namespace),
            self.permissions.allows(user, &mint),
            self.permissions.allows(user, &grant),
            self.permissions.allows(user, &regenerate),
        );
        Ok(ServiceAccounts {
            accounts: accounts?,
            may_mint,
            may_grant,
            may_regenerate,
            request_id: crate::retries::fresh(),
        })
    }

    async fn mint_token(
        &self,
        user: &SignedInUser,
        namespace: &str,
        name: &str,
        request: NewToken,
    ) -> Result<IssuedToken, PageError> {
        self.access.mint(user, namespace, name, request).await
    }

    async fn regenerate_legacy_token(
        &self,
        user: &SignedInUser,
        namespace: &str,
        name: &str,
        request: &RegenerateToken,
    ) -> Result<IssuedToken, PageError> {
        self.access
            .regenerate_legacy(user, namespace, name, request)
            .await
    }

    async fn grant_access(
        &self,
        user: &SignedInUser,
        request: &NewAccess,
    ) -> Result<IssuedToken, PageError> {
        self.access.grant(user, request).await
    }

    async fn submit_options(&self, user: &SignedInUser) -> Result<SubmitOptions, PageError> {
        self.workloads.options(user, &self.permissions).await
    }

    async fn preview_workload(
        &self,
        user: &SignedInUser,
        request: &NewWorkload,
    ) -> Result<Preview, PageError> {
        self.workloads.preview(user, request).await
    }

    async fn fit_workload(&self, request: &NewWorkload) -> Result<FitCheck, PageError> {
        self.workloads.fit(request).await
    }

    async fn submit_workload(
        &self,
        user: &SignedInUser,
        request: &NewWorkload,
        dry_run: bool,
    ) -> Result<Submitted, PageError> {
        self.workloads.submit(user, request, dry_run).await
    }

    async fn queue(&self, user: &SignedInUser, query: &QueueQuery) -> Result<Queue, PageError> {
        let rows = Rows::Page(query);
        self.workloads.queue(user, &self.permissions, rows).await
    }

    async fn delete_workload(
        &self,
        user: &SignedInUser,
        namespace: &str,
        name: &str,
    ) -> Result<Deleted, PageError> {
        self.workloads.delete(user, namespace, name).await
    }

    async fn workload(
        &self,
        user: &SignedInUser,
        namespace: &str,
        name: &str,
    ) -> Result<WorkloadDetail, PageError> {
        let mut page = self
            .workloads
            .detail(user, &self.permissions, namespace, name)
            .await?;
        page.gpu_cards = workload::gpu_cards(&page, &self.telemetry);
        Ok(page)
    }

    async fn workload_logs(
        &self,
        user: &SignedInUser,
        namespace: &str,
        name: &str,
        query: &LogQuery,
    ) -> Result<Logs, PageError> {
        self.workloads.logs(user, namespace, name, query).await
    }

    async fn follow_workload_logs(
        &self,
        user: &SignedInUser,
        namespace: &str,
        name: &str,
        query: &LogQuery,
    ) -> Result<LogStream, PageError> {
        self.workloads
            .follow_logs(user, namespace, name, query)
            .await
    }
}
