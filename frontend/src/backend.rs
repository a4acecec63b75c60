//! The seam to the server (ssr only): the trait the `gpuboard` binary implements and provides as
//! Leptos context, so server functions reach the cluster without this crate knowing how.

use std::sync::Arc;

use crate::api::NodeSummary;

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
}

pub type SharedBackend = Arc<dyn Backend>;
