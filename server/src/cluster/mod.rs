//! The cluster as the dashboard sees it: the config made from the kubeconfig kubectl would use,
//! the shared watch cache ([`cache`]) and whether it is live ([`link`]), clients that act as a user ([`clients`]), what a user may
//! see ([`permissions`]), the GPU accounting every page agrees on ([`accounting`]) and the
//! cluster's refusals in a page's terms ([`refusal`]) and its naming rules ([`names`]).

pub mod accounting;
pub mod cache;
pub mod clients;
pub mod link;
pub mod names;
pub mod permissions;
pub mod refusal;

use std::path::Path;

use kube::Config;
use kube::config::{KubeConfigOptions, Kubeconfig};

#[derive(Debug, thiserror::Error)]
/// Why the cluster's config could not be loaded.
pub enum ClusterError {
    #[error("cannot read the kubeconfig {path}: {source}")]
    Kubeconfig {
        path: String,
        source: kube::config::KubeconfigError,
    },
    #[error(
        "no cluster configuration found (tried KUBECONFIG, ~/.kube/config and the in-cluster service account): {0}"
    )]
    Infer(#[from] kube::config::InferConfigError),
    #[error("cannot build a Kubernetes client: {0}")]
    Client(#[from] kube::Error),
}

/// The client config as kubectl finds it: `--kubeconfig`, then `KUBECONFIG`, `~/.kube/config`, in-cluster.
pub async fn load_config(kubeconfig: Option<&Path>) -> Result<Config, ClusterError> {
    match kubeconfig {
        Some(path) => {
            let kc = Kubeconfig::read_from(path).map_err(|source| ClusterError::Kubeconfig {
                path: path.display().to_string(),
                source,
            })?;
            Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
                .await
                .map_err(|source| ClusterError::Kubeconfig {
                    path: path.display().to_string(),
                    source,
                })
        }
        None => Ok(Config::infer().await?),
    }
}
