//! GPU work: the submit form's rules ([`validate`]), the objects it sends ([`build`]), sending
//! them as the user ([`submit`]), the fit check ([`fit`]), the queue ([`queue`]), the
//! scheduler's reasons in plain words ([`reasons`]), one workload's page ([`detail`]), its logs
//! ([`logs`]) and the form that makes it again ([`clone`]). [`WorkloadService`] puts them together for
//! the pages and the JSON API: reads come from the shared watch cache, changes go out with the
//! user's own token, so the cluster's RBAC and admission decide.

pub mod build;
pub mod clone;
pub mod detail;
pub mod fit;
pub mod logs;
pub mod queue;
pub mod reasons;
pub mod submit;
pub mod validate;

use std::collections::BTreeSet;
use std::sync::Arc;

use futures::StreamExt;
use tokio::sync::Semaphore;

use frontend::backend::{LogStream, SignedInUser};
use frontend::contract::PageError;
use frontend::contract::workload_detail::{Exposed, LogQuery, Logs, WorkloadDetail};
use frontend::contract::workloads::{
    Deleted, FitCheck, NewWorkload, Preview, Queue, SubmitOptions, Submitted,
};

use k8s_openapi::api::core::v1::Pod;

use crate::cluster::accounting::{
    allocatable_gpus, asking_for_gpus, gpu_model, internal_ip, is_active, node_of,
};
use crate::cluster::cache::{ClusterCache, FromPods};
use crate::cluster::clients::UserClients;
use crate::cluster::permissions::{Access, Permissions, PodVisibility};
use crate::telemetry::Telemetry;

/// Namespaces whose access reviews run at once when the form loads.
const CONCURRENT_NAMESPACES: usize = 8;

/// The GPU-work operations, for one server.
pub struct WorkloadService {
    clients: Arc<UserClients>,
    cache: ClusterCache,
    telemetry: Arc<Telemetry>,
    /// Permits for followed logs ([`logs::MAX_FOLLOWED`]).
    followed: Arc<Semaphore>,
    /// The fit check's pass over every pod.
    load: FromPods<fit::PodLoad>,
    /// The pods that ask for GPUs: the queue's.
    gpu_pods: FromPods<Vec<Arc<Pod>>>,
}

impl WorkloadService {
    pub fn new(clients: Arc<UserClients>, cache: ClusterCache, telemetry: Arc<Telemetry>) -> Self {
        WorkloadService {
            clients,
            cache,
            telemetry,
            followed: Arc::new(Semaphore::new(logs::MAX_FOLLOWED)),
            load: FromPods::new(fit::PodLoad::of),
            gpu_pods: FromPods::new(asking_for_gpus),
        }
    }

    fn client(&self, user: &SignedInUser) -> Result<kube::Client, PageError> {
        self.clients.for_user(user)
    }

    /// The fit check's view of the cluster, from the cache.
    async fn fit_check(&self, valid: &validate::Valid) -> Result<FitCheck, PageError> {
        let nodes = self.cache.nodes().await?;
        let load = self.load.get(&self.cache).await?;
        let quotas = self.cache.quotas().await?;
        let priority_classes = self.cache.priority_classes().await?;
        Ok(fit::fit(
            valid,
            &fit::FitInput {
                nodes: &nodes,
                load: &load,
                quotas: &quotas,
                priority_classes: &priority_classes,
            },
        ))
    }

    /// The form's choices for `user`.
    pub async fn options(
        &self,
        user: &SignedInUser,
        permissions: &Permissions,
    ) -> Result<SubmitOptions, PageError> {
        let nodes = self.cache.nodes().await?;
        let pods = self.cache.pods().await?;
        let quotas = self.cache.quotas().await?;
        let classes = self.cache.priority_classes().await?;
        // Namespaces the cache knows of: where pods run or quotas are set.
        let namespaces: BTreeSet<String> = pods
            .iter()
            .filter_map(|p| p.metadata.namespace.clone())
            .chain(quotas.iter().filter_map(|q| q.metadata.namespace.clone()))
            .chain(["default".to_string()])
            .filter(|ns| !ns.starts_with("kube-"))
            .collect();
        let mut options = SubmitOptions {
            largest_node_gpus: fit::largest_node_gpus(&nodes),
            ..Default::default()
        };
        // Every namespace's reviews at once (bounded), answers kept in namespace order.
        let answers: Vec<(String, bool, bool)> = futures::stream::iter(namespaces)
            .map(|ns| async move {
                let may =
                    |verb, group, resource| Access::in_group(verb, group, resource, Some(&ns));
                let (job, deployment, service) = (
                    may("create", "batch", "jobs"),
                    may("create", "apps", "deployments"),
                    may("create", "", "services"),
                );
                let (jobs, deployments, services) = futures::join!(
                    permissions.allows(user, &job),
                    permissions.allows(user, &deployment),
                    permissions.allows(user, &service),
                );
                (ns, jobs, deployments && services)
            })
            .buffered(CONCURRENT_NAMESPACES)
            .collect()
            .await;
        for (ns, jobs, workspaces) in answers {
            if jobs {
                options.job_namespaces.push(ns.clone());
            }
            if workspaces {
                options.workspace_namespaces.push(ns);
            }
        }
        let mut models = std::collections::BTreeMap::<String, u64>::new();
        for node in &nodes {
            if let Some(model) = gpu_model(node) {
                *models.entry(model.to_string()).or_default() += u64::from(allocatable_gpus(node));
            }
        }
        options.models = models.into_iter().collect();
        options.priority_classes = classes
            .iter()
            .filter_map(|c| Some((c.metadata.name.clone()?, c.value.unwrap_or(0))))
            .filter(|(name, _)| !name.starts_with("system-"))
            .collect();
        options
            .priority_classes
            .sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        Ok(options)
    }

    /// The YAML a submit would send and the fit check, without sending anything.
    pub async fn preview(
        &self,
        user: &SignedInUser,
        request: &NewWorkload,
    ) -> Result<Preview, PageError> {
        let valid = validate::validate(request, None)?;
        let manifest = build::manifests(&valid, &user.username).yaml();
        Ok(Preview {
            manifest,
            fit: self.fit_check(&valid).await?,
        })
    }

    /// The fit check alone.
    pub async fn fit(&self, request: &NewWorkload) -> Result<FitCheck, PageError> {
        let valid = validate::validate(request, None)?;
        self.fit_check(&valid).await
    }

    /// Sends `request` as `user` (only a dry run when `dry_run`).
    pub async fn submit(
        &self,
        user: &SignedInUser,
        request: &NewWorkload,
        dry_run: bool,
    ) -> Result<Submitted, PageError> {
        let nodes = self.cache.nodes().await?;
        let valid = validate::validate(request, Some(fit::largest_node_gpus(&nodes)))?;
        let manifests = build::manifests(&valid, &user.username);
        let client = self.client(user)?;
        let submitted = submit::submit(
            &client,
            request.kind,
            &request.namespace,
            &request.name,
            &manifests,
            dry_run,
        )
        .await;
        match &submitted {
            Ok(s) if !dry_run => tracing::info!(
                user = %user.username, kind = ?s.kind, namespace = %s.namespace, name = %s.name,
                created = s.created, gpus = valid.gpus, "workload submitted"
            ),
            Err(e) if !dry_run => tracing::info!(
                user = %user.username, namespace = %request.namespace, name = %request.name,
                error = %e, "workload refused"
            ),
            _ => {}
        }
        submitted
    }

    /// The queue's `rows` as `user` may see them, with counts over all of it.
    pub async fn queue(
        &self,
        user: &SignedInUser,
        permissions: &Permissions,
        rows: queue::Rows<'_>,
    ) -> Result<Queue, PageError> {
        let nodes = self.cache.nodes().await?;
        let pods = self.gpu_pods.get(&self.cache).await?;
        let jobs = self.cache.jobs().await?;
        let quotas = self.cache.quotas().await?;
        let telemetry = self.telemetry.snapshot();
        let visible = permissions
            .namespaces_with_pods_visible(user, || {
                pods.iter()
                    .filter_map(|p| p.metadata.namespace.clone())
                    .chain(jobs.iter().filter_map(|j| j.metadata.namespace.clone()))
                    .collect()
            })
            .await;
        let input = queue::QueueInput {
            pods: &pods,
            jobs: &jobs,
            quotas: &quotas,
            nodes: &nodes,
            telemetry: &telemetry,
            visible: &visible,
            owner: &build::owner_label(&user.username),
            now: jiff::Timestamp::now(),
        };
        Ok(queue::queue(&input, rows))
    }

    /// Deletes the Job or workspace `namespace/name` as `user`.
    pub async fn delete(
        &self,
        user: &SignedInUser,
        namespace: &str,
        name: &str,
    ) -> Result<Deleted, PageError> {
        crate::access::check_names(namespace, name)?;
        let deleted = submit::delete(&self.client(user)?, namespace, name).await?;
        tracing::info!(user = %user.username, namespace, name, objects = ?deleted.objects, "workload deleted");
        Ok(deleted)
    }

    /// One Job or workspace as `user` may read it.
    pub async fn detail(
        &self,
        user: &SignedInUser,
        permissions: &Permissions,
        namespace: &str,
        name: &str,
    ) -> Result<WorkloadDetail, PageError> {
        crate::access::check_names(namespace, name)?;
        let client = self.client(user)?;
        let found = detail::find(&client, namespace, name).await?;
        let pods = detail::pods_of(&client, namespace, &found).await?;
        let events =
            detail::events_of(&client, namespace, detail::event_sources(&found, &pods)).await?;
        let mut page = detail::detail(&found, &pods, &events);
        let delete =
            match found {
                detail::Found::Job(_) => {
                    Some(Access::in_group("delete", "batch", "jobs", Some(namespace)))
                }
                detail::Found::Workspace { .. } if found.made_by_gpuboard() => Some(
                    Access::in_group("delete", "apps", "deployments", Some(namespace)),
                ),
                detail::Found::Workspace { .. } => None,
            };
        page.may_delete = match delete {
            Some(access) => permissions.allows(user, &access).await,
            None => false,
        };
        self.add_cluster_view(&mut page, &found, &pods).await?;
        Ok(page)
    }

    /// What the cache adds to a workload's page: its place in the queue and the addresses of
    /// its node ports (its GPUs are the views' to add, from the telemetry).
    async fn add_cluster_view(
        &self,
        page: &mut WorkloadDetail,
        found: &detail::Found,
        pods: &[Pod],
    ) -> Result<(), PageError> {
        let namespace = page.namespace.clone();
        let ours: BTreeSet<&str> = pods
            .iter()
            .filter_map(|p| p.metadata.name.as_deref())
            .collect();
        let nodes = self.cache.nodes().await?;
        let gpu_pods = self.gpu_pods.get(&self.cache).await?;
        let snapshot = self.telemetry.snapshot();
        let visible = PodVisibility::In(BTreeSet::from([namespace.clone()]));
        let input = queue::QueueInput {
            pods: &gpu_pods,
            jobs: &[],
            quotas: &[],
            nodes: &nodes,
            telemetry: &snapshot,
            visible: &visible,
            owner: "",
            now: jiff::Timestamp::now(),
        };
        if let Some((position, reason)) = queue::place_of(&input, &namespace, &ours) {
            page.position = Some(position);
            page.pending_reason = reason;
        }
        let running_on: BTreeSet<String> = pods
            .iter()
            .filter(|p| is_active(p))
            .filter_map(|p| node_of(p).map(String::from))
            .collect();
        if let detail::Found::Workspace {
            service: Some(service),
            ..
        } = found
        {
            let addresses: Vec<&str> = nodes
                .iter()
                .filter(|n| {
                    n.metadata
                        .name
                        .as_ref()
                        .is_some_and(|n| running_on.contains(n))
                })
                .filter_map(|n| internal_ip(n))
                .collect();
            page.exposed = submit::node_ports(service)
                .into_iter()
                .map(|port| Exposed {
                    addresses: addresses
                        .iter()
                        .map(|a| format!("{a}:{}", port.node_port))
                        .collect(),
                    port,
                })
                .collect();
        }
        Ok(())
    }

    /// The workload's pods, newest first, as `user` may list them.
    async fn pods_for_logs(
        &self,
        user: &SignedInUser,
        namespace: &str,
        name: &str,
    ) -> Result<(kube::Client, Vec<Pod>), PageError> {
        crate::access::check_names(namespace, name)?;
        let client = self.client(user)?;
        let found = detail::find(&client, namespace, name).await?;
        let pods = detail::pods_of(&client, namespace, &found).await?;
        Ok((client, pods))
    }

    /// The workload's logs at once.
    pub async fn logs(
        &self,
        user: &SignedInUser,
        namespace: &str,
        name: &str,
        query: &LogQuery,
    ) -> Result<Logs, PageError> {
        let (client, pods) = self.pods_for_logs(user, namespace, name).await?;
        let (pod, container) = logs::target(&pods, query)?;
        logs::read(&client, namespace, &pod, &container, query).await
    }

    /// The workload's logs as they come.
    pub async fn follow_logs(
        &self,
        user: &SignedInUser,
        namespace: &str,
        name: &str,
        query: &LogQuery,
    ) -> Result<LogStream, PageError> {
        let (client, pods) = self.pods_for_logs(user, namespace, name).await?;
        let (pod, container) = logs::target(&pods, query)?;
        tracing::debug!(user = %user.username, namespace, pod, container, "following logs");
        logs::follow(&client, &self.followed, namespace, &pod, &container, query).await
    }
}
