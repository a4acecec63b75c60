//! The seam to the server (ssr only): the trait the `gpuboard` binary implements and provides as
//! Leptos context, so server functions reach the cluster without this crate knowing how; and the
//! signed-in user, an axum extractor that refuses with 401 when the request has none.

use std::fmt;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;

use crate::contract::access::{IssuedToken, NewAccess, NewToken, RegenerateToken, ServiceAccounts};
use crate::contract::doctor::Diagnosis;
use crate::contract::join::{JoinTokens, NewJoinToken, RevealedJoinToken};
use crate::contract::workload_detail::{LogQuery, Logs, WorkloadDetail};
use crate::contract::workloads::{
    Deleted, FitCheck, NewWorkload, Preview, Queue, QueueQuery, SubmitOptions, Submitted,
};
use crate::contract::{
    ClusterLink, GpuPage, GpuQuery, GpuRow, HistoryRange, NodeDetail, NodeSummary, Overview,
    PageError,
};

/// Everything the pages read, for one signed-in user: what the user may see of it is the
/// backend's to decide (the cluster's RBAC, asked with the user's token).
#[async_trait::async_trait]
pub trait Backend: Send + Sync + 'static {
    /// Every node with its GPU use and skew flags.
    async fn nodes(&self, user: &SignedInUser) -> Result<Vec<NodeSummary>, PageError>;
    /// One page of the GPU inventory, filtered and sorted on the server.
    async fn gpus(&self, user: &SignedInUser, query: &GpuQuery) -> Result<GpuPage, PageError>;
    /// Every GPU with its latest sample, in node order (the CSV export).
    async fn gpu_rows(&self, user: &SignedInUser) -> Result<Vec<GpuRow>, PageError>;
    /// One node with its GPUs' history, pods (where `user` may list them), conditions, taints and labels.
    async fn node(
        &self,
        user: &SignedInUser,
        name: &str,
        range: HistoryRange,
    ) -> Result<Option<NodeDetail>, PageError>;
    /// Whether the cluster's objects the pages show are live, or stale since when.
    async fn cluster_link(&self, user: &SignedInUser) -> Result<ClusterLink, PageError>;
    /// Counts, heat map and alerts for the overview.
    async fn overview(&self, user: &SignedInUser) -> Result<Overview, PageError>;
    /// The GPU-node doctor's checks of one node; None when there is no such node.
    async fn doctor(&self, user: &SignedInUser, name: &str)
    -> Result<Option<Diagnosis>, PageError>;
    /// The join tokens `user` may list, the join command's endpoint and pins, and what the user may change.
    async fn join_tokens(&self, user: &SignedInUser) -> Result<JoinTokens, PageError>;
    /// Creates a join token as `user`; the answer carries its secret, once.
    async fn create_join_token(
        &self,
        user: &SignedInUser,
        request: &NewJoinToken,
    ) -> Result<RevealedJoinToken, PageError>;
    /// The token `id` with its secret and join command.
    async fn reveal_join_token(
        &self,
        user: &SignedInUser,
        id: &str,
    ) -> Result<RevealedJoinToken, PageError>;
    /// Revokes the token `id`.
    async fn delete_join_token(&self, user: &SignedInUser, id: &str) -> Result<(), PageError>;
    /// The service accounts of `namespace` (None: all) with their legacy tokens, and what the
    /// user may do with them.
    async fn service_accounts(
        &self,
        user: &SignedInUser,
        namespace: Option<&str>,
    ) -> Result<ServiceAccounts, PageError>;
    /// A token for `namespace/name` from the TokenRequest API.
    async fn mint_token(
        &self,
        user: &SignedInUser,
        namespace: &str,
        name: &str,
        request: NewToken,
    ) -> Result<IssuedToken, PageError>;
    /// Replaces the account's legacy token Secret; the old token stops working.
    async fn regenerate_legacy_token(
        &self,
        user: &SignedInUser,
        namespace: &str,
        name: &str,
        request: &RegenerateToken,
    ) -> Result<IssuedToken, PageError>;
    /// A new service account bound to a role, and its first token.
    async fn grant_access(
        &self,
        user: &SignedInUser,
        request: &NewAccess,
    ) -> Result<IssuedToken, PageError>;
    /// What the submit form offers `user`: namespaces, GPU models, priority classes.
    async fn submit_options(&self, user: &SignedInUser) -> Result<SubmitOptions, PageError>;
    /// The YAML a submit would send and its fit check; nothing is sent.
    async fn preview_workload(
        &self,
        user: &SignedInUser,
        request: &NewWorkload,
    ) -> Result<Preview, PageError>;
    /// The fit check alone.
    async fn fit_workload(&self, request: &NewWorkload) -> Result<FitCheck, PageError>;
    /// Submits a Job or workspace as `user` (a dry run only when `dry_run`).
    async fn submit_workload(
        &self,
        user: &SignedInUser,
        request: &NewWorkload,
        dry_run: bool,
    ) -> Result<Submitted, PageError>;
    /// One page of the GPU queue as `user` may see it.
    async fn queue(&self, user: &SignedInUser, query: &QueueQuery) -> Result<Queue, PageError>;
    /// Deletes a Job or workspace and what it made.
    async fn delete_workload(
        &self,
        user: &SignedInUser,
        namespace: &str,
        name: &str,
    ) -> Result<Deleted, PageError>;
    /// One Job or workspace: its state, pods, problems, GPUs and events.
    async fn workload(
        &self,
        user: &SignedInUser,
        namespace: &str,
        name: &str,
    ) -> Result<WorkloadDetail, PageError>;
    /// A Job's or workspace's logs at once.
    async fn workload_logs(
        &self,
        user: &SignedInUser,
        namespace: &str,
        name: &str,
        query: &LogQuery,
    ) -> Result<Logs, PageError>;
    /// A Job's or workspace's logs as they come (`query.follow` is implied).
    async fn follow_workload_logs(
        &self,
        user: &SignedInUser,
        namespace: &str,
        name: &str,
        query: &LogQuery,
    ) -> Result<LogStream, PageError>;
}

/// Log lines as the kubelet streams them, without their line ends.
pub type LogStream = futures::stream::BoxStream<'static, Result<String, PageError>>;

/// The backend as the server provides it to server functions (Leptos context).
pub type SharedBackend = Arc<dyn Backend>;

/// The user a request acts for, put into the request's extensions by the server's guard (from
/// the session, or from an `Authorization: Bearer` header). The token stays on the server: it is
/// never serialised, and `Debug` leaves it out.
#[derive(Clone)]
pub struct SignedInUser {
    pub username: String,
    pub groups: Vec<String>,
    /// The session's CSRF token; empty for bearer-header requests, which carry no ambient credential.
    pub csrf_token: String,
    token: Arc<str>,
}

impl SignedInUser {
    /// A user the cluster knows as `username` in `groups`, acting with `token`.
    pub fn new(username: String, groups: Vec<String>, csrf_token: String, token: &str) -> Self {
        SignedInUser {
            username,
            groups,
            csrf_token,
            token: Arc::from(token),
        }
    }

    /// The bearer token, for a client acting as this user.
    pub fn token(&self) -> &str {
        &self.token
    }
}

impl fmt::Debug for SignedInUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedInUser")
            .field("username", &self.username)
            .field("groups", &self.groups)
            .finish_non_exhaustive()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for SignedInUser {
    type Rejection = (StatusCode, &'static str);

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<SignedInUser>()
            .cloned()
            .ok_or((StatusCode::UNAUTHORIZED, "sign in first\n"))
    }
}
