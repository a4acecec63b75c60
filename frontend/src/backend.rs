//! The seam to the server (ssr only): the trait the `gpuboard` binary implements and provides as
//! Leptos context, so server functions reach the cluster without this crate knowing how.

use std::fmt;
use std::sync::Arc;

use leptos::prelude::use_context;

use crate::api::{GpuRow, NodeDetail, NodeSummary, Overview};

/// What went wrong reaching the cluster, in words a user can act on.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("the cluster refused the request: {0}")]
    Refused(String),
    #[error("the cluster could not be reached: {0}")]
    Unreachable(String),
}

#[async_trait::async_trait]
pub trait Backend: Send + Sync + 'static {
    async fn nodes(&self) -> Result<Vec<NodeSummary>, BackendError>;
    /// Every GPU with its latest sample; holders shown only where `user` may list pods.
    async fn gpus(&self, user: &SignedInUser) -> Result<Vec<GpuRow>, BackendError>;
    /// One node with its GPUs' history, pods (where `user` may list them), conditions, taints and labels.
    async fn node(
        &self,
        user: &SignedInUser,
        name: &str,
    ) -> Result<Option<NodeDetail>, BackendError>;
    /// Counts, heat map and alerts for the overview.
    async fn overview(&self, user: &SignedInUser) -> Result<Overview, BackendError>;
}

pub type SharedBackend = Arc<dyn Backend>;

/// The user a request acts for, put into the request's extensions by the server's session layer
/// (from the session, or from an `Authorization: Bearer` header). The token stays on the server:
/// it is never serialised, and `Debug` leaves it out.
#[derive(Clone)]
pub struct SignedInUser {
    pub username: String,
    pub groups: Vec<String>,
    /// The session's CSRF token; empty for bearer-header requests, which carry no ambient credential.
    pub csrf_token: String,
    token: Arc<str>,
}

impl SignedInUser {
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

/// The user of the request being served (inside a server function or a server render).
pub fn signed_in_user() -> Option<SignedInUser> {
    use_context::<http::request::Parts>()?
        .extensions
        .get::<SignedInUser>()
        .cloned()
}
