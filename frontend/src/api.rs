//! The server functions: the only calls the browser makes to the server, each returning types of
//! the [`crate::contract`]. Their bodies run on the server and ask the [`crate::backend::Backend`]
//! for the signed-in user. Reads are GETs; the server refuses any other method without the
//! session's CSRF token, so a server function that changes the cluster must send it.

use leptos::prelude::*;
use leptos::server_fn::codec::GetUrl;

use crate::contract::access::{IssuedToken, ServiceAccounts};
#[cfg(feature = "ssr")]
use crate::contract::join::NewJoinToken;
use crate::contract::join::{JoinTokens, RevealedJoinToken};
use crate::contract::{
    ClusterLink, CurrentUser, GpuPage, GpuQuery, HistoryRange, NodeDetail, NodeSummary, Overview,
    PageError,
};

/// What every server function needs on the server: the backend, the user, and the backend's
/// refusals as errors the page can show.
#[cfg(feature = "ssr")]
mod ssr {
    use leptos::prelude::*;

    use crate::backend::{SharedBackend, SignedInUser};
    use crate::contract::PageError;

    pub fn backend() -> Result<SharedBackend, PageError> {
        use_context::<SharedBackend>()
            .ok_or_else(|| PageError::Server("the server has no cluster backend".into()))
    }

    /// The signed-in user (the server's guard has already refused requests without one).
    pub async fn user() -> Result<SignedInUser, PageError> {
        leptos_axum::extract::<SignedInUser>()
            .await
            .map_err(|_| PageError::SignedOut)
    }
}

/// Every node of the cluster, sorted by name.
#[server(input = GetUrl, endpoint = "list_nodes")]
pub async fn list_nodes() -> Result<Vec<NodeSummary>, PageError> {
    let user = ssr::user().await?;
    ssr::backend()?.nodes(&user).await
}

/// The signed-in user, or None on pages served without a session (the sign-in page).
#[server(input = GetUrl, endpoint = "whoami")]
pub async fn whoami() -> Result<Option<CurrentUser>, PageError> {
    Ok(ssr::user().await.ok().map(|u| CurrentUser {
        username: u.username,
        groups: u.groups,
        csrf_token: u.csrf_token,
    }))
}

/// One page of the GPUs the exporters report, filtered and sorted as asked.
#[server(input = GetUrl, endpoint = "list_gpus")]
pub async fn list_gpus(#[server(default)] query: GpuQuery) -> Result<GpuPage, PageError> {
    let user = ssr::user().await?;
    ssr::backend()?.gpus(&user, &query).await
}

/// One node's page, its charts over `range`; None when there is no such node.
#[server(input = GetUrl, endpoint = "get_node_detail")]
pub async fn get_node_detail(
    name: String,
    #[server(default)] range: HistoryRange,
) -> Result<Option<NodeDetail>, PageError> {
    let user = ssr::user().await?;
    ssr::backend()?.node(&user, &name, range).await
}

/// Whether the nodes, pods and jobs shown are live, or stale since when (every page's banner).
#[server(input = GetUrl, endpoint = "cluster_link")]
pub async fn get_cluster_link() -> Result<ClusterLink, PageError> {
    let user = ssr::user().await?;
    ssr::backend()?.cluster_link(&user).await
}

/// The overview page's data.
#[server(input = GetUrl, endpoint = "get_overview")]
pub async fn get_overview() -> Result<Overview, PageError> {
    let user = ssr::user().await?;
    ssr::backend()?.overview(&user).await
}

/// The join tokens, the join command's endpoint and CA pins, and what the user may change.
#[server(input = GetUrl, endpoint = "get_join_tokens")]
pub async fn get_join_tokens() -> Result<JoinTokens, PageError> {
    let user = ssr::user().await?;
    ssr::backend()?.join_tokens(&user).await
}

/// Creates a join token. `usages` and `groups` are comma-separated (as kubeadm's flags take
/// them); `request_id` is the form's (empty: none); `csrf` is the session's CSRF token, which
/// the server checks before this runs.
#[server(endpoint = "create_join_token")]
pub async fn create_join_token(
    csrf: String,
    ttl_seconds: u64,
    description: String,
    usages: String,
    groups: String,
    request_id: String,
) -> Result<RevealedJoinToken, PageError> {
    let _ = csrf;
    let user = ssr::user().await?;
    let request = NewJoinToken {
        ttl_seconds,
        description,
        usages: split_list(&usages),
        groups: split_list(&groups),
        request_id: Some(request_id).filter(|id| !id.is_empty()),
    };
    ssr::backend()?.create_join_token(&user, &request).await
}

/// The token `id` with its secret and join command (a POST: the answer is a secret).
#[server(endpoint = "reveal_join_token")]
pub async fn reveal_join_token(csrf: String, id: String) -> Result<RevealedJoinToken, PageError> {
    let _ = csrf;
    let user = ssr::user().await?;
    ssr::backend()?.reveal_join_token(&user, &id).await
}

/// Revokes the token `id`.
#[server(endpoint = "delete_join_token")]
pub async fn delete_join_token(csrf: String, id: String) -> Result<(), PageError> {
    let _ = csrf;
    let user = ssr::user().await?;
    ssr::backend()?.delete_join_token(&user, &id).await
}

/// `a, b,c` or one per line -> `[a, b, c]`.
pub fn split_list(text: &str) -> Vec<String> {
    text.split([',', '\n'])
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// The service accounts of `namespace` (empty: every namespace) with their legacy tokens.
#[server(input = GetUrl, endpoint = "get_service_accounts")]
pub async fn get_service_accounts(namespace: String) -> Result<ServiceAccounts, PageError> {
    let user = ssr::user().await?;
    let namespace = Some(namespace.trim()).filter(|ns| !ns.is_empty());
    ssr::backend()?.service_accounts(&user, namespace).await
}

/// Mints a token for `namespace/name` (TokenRequest), shown once.
#[server(endpoint = "mint_token")]
pub async fn mint_token(
    csrf: String,
    namespace: String,
    name: String,
    expiration_seconds: u64,
) -> Result<IssuedToken, PageError> {
    let _ = csrf;
    let user = ssr::user().await?;
    let request = crate::contract::access::NewToken { expiration_seconds };
    ssr::backend()?
        .mint_token(&user, &namespace, &name, request)
        .await
}

/// Replaces the legacy token of `namespace/name`; the old one stops working. `request_id` is
/// the page's (empty: none).
#[server(endpoint = "regenerate_legacy_token")]
pub async fn regenerate_legacy_token(
    csrf: String,
    namespace: String,
    name: String,
    request_id: String,
) -> Result<IssuedToken, PageError> {
    let _ = csrf;
    let user = ssr::user().await?;
    let request = crate::contract::access::RegenerateToken {
        request_id: Some(request_id).filter(|id| !id.is_empty()),
    };
    ssr::backend()?
        .regenerate_legacy_token(&user, &namespace, &name, &request)
        .await
}

/// A new service account bound to `role`, and its first token.
#[server(endpoint = "grant_access")]
pub async fn grant_access(
    csrf: String,
    namespace: String,
    name: String,
    role: String,
    expiration_seconds: u64,
) -> Result<IssuedToken, PageError> {
    let _ = csrf;
    let user = ssr::user().await?;
    let request = crate::contract::access::NewAccess {
        namespace,
        name,
        role,
        expiration_seconds,
    };
    ssr::backend()?.grant_access(&user, &request).await
}

/// One page of the GPU queue: pending in the scheduler's order, then running, then finished.
#[server(input = GetUrl, endpoint = "get_queue")]
pub async fn get_queue(
    #[server(default)] query: crate::contract::workloads::QueueQuery,
) -> Result<crate::contract::workloads::Queue, PageError> {
    let user = ssr::user().await?;
    ssr::backend()?.queue(&user, &query).await
}

/// What the submit form offers the user.
#[server(input = GetUrl, endpoint = "get_submit_options")]
pub async fn get_submit_options() -> Result<crate::contract::workloads::SubmitOptions, PageError> {
    let user = ssr::user().await?;
    ssr::backend()?.submit_options(&user).await
}

/// The form's request, sent as its JSON (`request`) so the body stays a URL-encoded form that
/// carries the CSRF token.
#[cfg(feature = "ssr")]
fn workload_of(request: &str) -> Result<crate::contract::workloads::NewWorkload, PageError> {
    if !crate::contract::is_json_object(request.as_bytes()) {
        return Err(PageError::BadRequest(
            "the form's request must be a JSON object".into(),
        ));
    }
    serde_json::from_str(request)
        .map_err(|e| PageError::BadRequest(format!("the form's request: {e}")))
}

/// The YAML the form would send and its fit check: a read (nothing is sent to the cluster), so a
/// GET without the CSRF token.
#[server(input = GetUrl, endpoint = "preview_workload")]
pub async fn preview_workload(
    request: String,
) -> Result<crate::contract::workloads::Preview, PageError> {
    let user = ssr::user().await?;
    ssr::backend()?
        .preview_workload(&user, &workload_of(&request)?)
        .await
}

/// Submits the form's Job or workspace (`dry_run`: the cluster only checks it).
#[server(endpoint = "submit_workload")]
pub async fn submit_workload(
    csrf: String,
    request: String,
    dry_run: bool,
) -> Result<crate::contract::workloads::Submitted, PageError> {
    let _ = csrf;
    let user = ssr::user().await?;
    ssr::backend()?
        .submit_workload(&user, &workload_of(&request)?, dry_run)
        .await
}

/// Deletes a Job or workspace and what it made.
#[server(endpoint = "delete_workload")]
pub async fn delete_workload(
    csrf: String,
    namespace: String,
    name: String,
) -> Result<crate::contract::workloads::Deleted, PageError> {
    let _ = csrf;
    let user = ssr::user().await?;
    ssr::backend()?
        .delete_workload(&user, &namespace, &name)
        .await
}

/// One Job or workspace: its state, pods, problems explained, GPUs and events.
#[server(input = GetUrl, endpoint = "get_workload")]
pub async fn get_workload(
    namespace: String,
    name: String,
) -> Result<crate::contract::workload_detail::WorkloadDetail, PageError> {
    let user = ssr::user().await?;
    ssr::backend()?.workload(&user, &namespace, &name).await
}

/// A Job's or workspace's logs at once (following them is the JSON API's event stream).
#[server(input = GetUrl, endpoint = "get_workload_logs")]
pub async fn get_workload_logs(
    namespace: String,
    name: String,
    #[server(default)] query: crate::contract::workload_detail::LogQuery,
) -> Result<crate::contract::workload_detail::Logs, PageError> {
    let user = ssr::user().await?;
    ssr::backend()?
        .workload_logs(&user, &namespace, &name, &query)
        .await
}
