//! What a user may do, as the cluster says: SelfSubjectAccessReviews made with the user's own
//! token, cached per token for about 30 s so a page view does not cost a review per row.
//! Any failure counts as "no" (fail closed).

use std::time::Duration;

use frontend::backend::SignedInUser;
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use kube::api::{Api, PostParams};
use sha2::{Digest, Sha256};

use crate::auth::signin::client_for_token;

const CACHE_FOR: Duration = Duration::from_secs(30);
const CACHE_MAX: u64 = 50_000;

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
    pub fn list_pods(namespace: Option<&str>) -> Self {
        Access {
            verb: "list",
            group: "",
            resource: "pods",
            namespace: namespace.map(String::from),
        }
    }
}

/// Cached answers: (SHA-256 of the user's token, the question) -> allowed, for [`CACHE_FOR`].
type AnswerCache = moka::sync::Cache<([u8; 32], Access), bool>;

pub struct Permissions {
    cluster: kube::Config,
    cache: AnswerCache,
}

impl Permissions {
    pub fn new(cluster: kube::Config) -> Self {
        Permissions {
            cluster,
            cache: moka::sync::Cache::builder()
                .max_capacity(CACHE_MAX)
                .time_to_live(CACHE_FOR)
                .build(),
        }
    }

    /// Whether `user` may do `access`, from the cache or a SelfSubjectAccessReview.
    pub async fn allows(&self, user: &SignedInUser, access: &Access) -> bool {
        let key = (
            Sha256::digest(user.token().as_bytes()).into(),
            access.clone(),
        );
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

    async fn review(&self, user: &SignedInUser, access: &Access) -> Result<bool, kube::Error> {
        let client = client_for_token(&self.cluster, user.token())?;
        let review = SelfSubjectAccessReview {
            spec: SelfSubjectAccessReviewSpec {
                resource_attributes: Some(ResourceAttributes {
                    verb: Some(access.verb.into()),
                    group: Some(access.group.into()),
                    resource: Some(access.resource.into()),
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
