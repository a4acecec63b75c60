//! What a user may do, as the cluster says: SelfSubjectAccessReviews made with the user's own
//! token, cached per token for about 30 s so a page view does not cost a review per row.
//! Any failure counts as "no" (fail closed).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use frontend::backend::SignedInUser;
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use kube::api::{Api, PostParams};
use sha2::{Digest, Sha256};

use crate::auth::signin::client_for_token;

const CACHE_FOR: Duration = Duration::from_secs(30);
const CACHE_MAX: usize = 50_000;

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

/// A cached answer: (SHA-256 of the user's token, the question) -> (allowed, when asked).
type AnswerCache = HashMap<([u8; 32], Access), (bool, Instant)>;

pub struct Permissions {
    cluster: kube::Config,
    cache: Mutex<AnswerCache>,
}

impl Permissions {
    pub fn new(cluster: kube::Config) -> Self {
        Permissions {
            cluster,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `user` may do `access`, from the cache or a SelfSubjectAccessReview.
    pub async fn allows(&self, user: &SignedInUser, access: &Access) -> bool {
        let key = (
            Sha256::digest(user.token().as_bytes()).into(),
            access.clone(),
        );
        if let Some((allowed, at)) = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            && at.elapsed() < CACHE_FOR
        {
            return *allowed;
        }
        let allowed = self.review(user, access).await.unwrap_or_else(|e| {
            tracing::warn!(user = %user.username, error = %e, "access review failed; treating as denied");
            false
        });
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= CACHE_MAX {
            cache.retain(|_, (_, at)| at.elapsed() < CACHE_FOR);
        }
        cache.insert(key, (allowed, Instant::now()));
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
