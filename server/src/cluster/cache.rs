//! The shared watch cache: kube-rs reflectors over nodes and pods, held with the server's own
//! read-only identity. Pages read from it, so a page view costs no API call at steady state; the
//! watchers reconnect with back-off on their own.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Api;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};

/// How long a page waits for the first list after the server starts.
const FIRST_SYNC_WAIT: Duration = Duration::from_secs(10);

/// The cluster objects every page reads.
#[derive(Clone)]
pub struct ClusterCache {
    pub nodes: Store<Node>,
    pub pods: Store<Pod>,
}

#[derive(Debug, thiserror::Error)]
#[error(
    "the cluster cache has not synced its {0} yet (is the cluster reachable? see the server's log)"
)]
pub struct NotSynced(pub &'static str);

/// Starts a reflector for `api`, running until the process ends; returns its store.
fn reflect<K>(api: Api<K>, what: &'static str) -> Store<K>
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    let (store, writer) = reflector::store();
    let stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .reflect(writer)
        .applied_objects();
    tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.next().await {
            if let Err(e) = event {
                tracing::warn!(resource = what, error = %e, "watch failed; retrying with back-off");
            }
        }
    });
    store
}

impl ClusterCache {
    /// Starts watching nodes and pods (all namespaces) with `client`.
    pub fn start(client: kube::Client) -> Self {
        ClusterCache {
            nodes: reflect(Api::<Node>::all(client.clone()), "nodes"),
            pods: reflect(Api::<Pod>::all(client), "pods"),
        }
    }

    /// Every node, once the first list is in.
    pub async fn nodes(&self) -> Result<Vec<Arc<Node>>, NotSynced> {
        synced(&self.nodes, "nodes").await
    }

    /// Every pod, once the first list is in.
    pub async fn pods(&self) -> Result<Vec<Arc<Pod>>, NotSynced> {
        synced(&self.pods, "pods").await
    }
}

/// A store's objects, waiting up to [`FIRST_SYNC_WAIT`] for its first list.
async fn synced<K>(store: &Store<K>, what: &'static str) -> Result<Vec<Arc<K>>, NotSynced>
where
    K: kube::Resource<DynamicType = ()> + Clone + 'static,
{
    tokio::time::timeout(FIRST_SYNC_WAIT, store.wait_until_ready())
        .await
        .map_err(|_| NotSynced(what))?
        .map_err(|_| NotSynced(what))?;
    Ok(store.state())
}
