//! The API contract between browser and server: the DTOs the pages show and the server functions
//! that return them.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// One node as the nodes table shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeSummary {
    pub name: String,
    pub ready: bool,
    pub unschedulable: bool,
    pub roles: Vec<String>,
    pub internal_ip: String,
    pub gpu_model: Option<String>,
    pub gpus_allocatable: u32,
    pub os_image: String,
    pub kernel: String,
    pub container_runtime: String,
    pub kubelet_version: String,
    /// Seconds since the node was created.
    pub age_seconds: i64,
}

/// Every node of the cluster, sorted by name.
#[server]
pub async fn list_nodes() -> Result<Vec<NodeSummary>, ServerFnError> {
    let backend = use_context::<crate::backend::SharedBackend>()
        .ok_or_else(|| ServerFnError::new("the server has no cluster backend"))?;
    backend
        .nodes()
        .await
        .map_err(|e| ServerFnError::new(e.to_string()))
}

/// Who is signed in, for the page header; the CSRF token goes into the sign-out form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurrentUser {
    pub username: String,
    pub groups: Vec<String>,
    pub csrf_token: String,
}

/// The signed-in user, or None on pages served without a session (the sign-in page).
#[server]
pub async fn whoami() -> Result<Option<CurrentUser>, ServerFnError> {
    Ok(crate::backend::signed_in_user().map(|u| CurrentUser {
        username: u.username,
        groups: u.groups,
        csrf_token: u.csrf_token,
    }))
}
