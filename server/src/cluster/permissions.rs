//! What a user may do, as the cluster says: SelfSubjectAccessReviews made with the user's own
//! token (its kept client), cached per token for a while so a page view does not cost a review
//! per row, and asked for several namespaces at once. Any failure counts as "no" (fail closed).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use frontend::backend::SignedInUser;
use futures::StreamExt;
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use kube::api::{Api, PostParams};

use super::clients::{UserClients, token_key};

/// How long an answer is reused unless told otherwise (`Permissions::new`).
pub const DEFAULT_CACHE_FOR: Duration = Duration::from_secs(30);
const CACHE_MAX: u64 = 50_000;
/// Reviews in flight at once for one page view.
const CONCURRENT_REVIEWS: usize = 16;

/// A question for the cluster: may this user `verb` `resource` (in `namespace`, or cluster-wide)?
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Access {
    pub verb: &'static str,
    pub group: &'static str,
    pub resource: &'static str,
    /// None: in every namespace (or a cluster-scoped resource).
    pub namespace: Option<String>,
}

impl Access {
    /// May the user `verb` `resource` of `group` (`resource/subresource` allowed) in `namespace`
    /// (None: in every namespace)?
    pub fn in_group(
        verb: &'static str,
        group: &'static str,
        resource: &'static str,
        namespace: Option<&str>,
    ) -> Self {
        Access {
            verb,
            group,
            resource,
            namespace: namespace.map(String::from),
        }
    }

    /// May the user `verb` `resource` of the core group in `namespace`?
    pub fn core(verb: &'static str, resource: &'static str, namespace: &str) -> Self {
        Access {
            verb,
            group: "",
            resource,
            namespace: Some(namespace.to_string()),
        }
    }

    /// May the user list pods in `namespace` (None: in every namespace)?
    pub fn list_pods(namespace: Option<&str>) -> Self {
        Access {
            verb: "list",
            group: "",
            resource: "pods",
            namespace: namespace.map(String::from),
        }
    }
}

/// Cached answers: (SHA-256 of the user's token, the question) -> allowed.
type AnswerCache = moka::sync::Cache<([u8; 32], Access), bool>;

/// The cluster's answers to what users may do, asked with their tokens and kept a while.
pub struct Permissions {
    clients: Arc<UserClients>,
    cache: AnswerCache,
}

impl Permissions {
    /// Answers are reused for `cache_for`.
    pub fn new(clients: Arc<UserClients>, cache_for: Duration) -> Self {
        Permissions {
            clients,
            cache: moka::sync::Cache::builder()
                .max_capacity(CACHE_MAX)
                .time_to_live(cache_for)
                .build(),
        }
    }

    /// Whether `user` may do `access`, from the cache or a SelfSubjectAccessReview.
    pub async fn allows(&self, user: &SignedInUser, access: &Access) -> bool {
        let key = (token_key(user.token()), access.clone());
        if let Some(allowed) = self.cache.get(&key) {
            return allowed;
        }
        let allowed = self.review(user, access).await.unwrap_or_else(|e| {
            tracing::warn!(user = %user.username, error = %e, "access review failed; treating as denied");
            false
        });
        self.cache.insert(key, allowed);
        allowed
    }

    /// Where `user` may see pods: everywhere, or those of `namespaces` (only made when the user
    /// may not list pods everywhere) where the cluster says so, asked about several at once.
    pub async fn namespaces_with_pods_visible(
        &self,
        user: &SignedInUser,
        namespaces: impl FnOnce() -> BTreeSet<String>,
    ) -> PodVisibility {
        if self.allows(user, &Access::list_pods(None)).await {
            return PodVisibility::Everywhere;
        }
        let visible = futures::stream::iter(namespaces())
            .map(|ns| async move {
                let allowed = self.allows(user, &Access::list_pods(Some(&ns))).await;
                allowed.then_some(ns)
            })
            .buffer_unordered(CONCURRENT_REVIEWS)
            .filter_map(|ns| async move { ns })
            .collect()
            .await;
        PodVisibility::In(visible)
    }

    async fn review(&self, user: &SignedInUser, access: &Access) -> Result<bool, kube::Error> {
        let client = self.clients.for_token(user.token())?;
        let (resource, subresource) = match access.resource.split_once('/') {
            Some((resource, sub)) => (resource, Some(sub)),
            None => (access.resource, None),
        };
        let review = SelfSubjectAccessReview {
            spec: SelfSubjectAccessReviewSpec {
                resource_attributes: Some(ResourceAttributes {
                    verb: Some(access.verb.into()),
                    group: Some(access.group.into()),
                    resource: Some(resource.into()),
                    subresource: subresource.map(String::from),
                    namespace: access.namespace.clone(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            ..Default::default()
        };
        let answer = Api::<SelfSubjectAccessReview>::all(client)
            .create(&PostParams::default(), &review)
            .await?;
        Ok(answer.status.is_some_and(|s| s.allowed))
    }
}

/// Where a user may see which pods hold what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodVisibility {
    Everywhere,
    In(BTreeSet<String>),
}

impl PodVisibility {
    /// Whether the user may see the pods of `namespace`.
    pub fn shows(&self, namespace: &str) -> bool {
        match self {
            PodVisibility::Everywhere => true,
            PodVisibility::In(namespaces) => namespaces.contains(namespace),
        }
    }
}
