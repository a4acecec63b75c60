//! Join tokens against the cluster: every read and change of a token's Secret is made with the
//! signed-in user's own token, so the cluster's RBAC decides who may see, create or revoke them.
//! cluster-info is public (kubeadm lets anyone read it) and is read with the dashboard's own
//! client; when it cannot be, the dashboard's kubeconfig gives the endpoint and CA.

use std::collections::BTreeSet;
use std::sync::Arc;

use frontend::backend::SignedInUser;
use frontend::contract::join::{
    Discovery, JoinTokens, NewJoinToken, RevealedJoinToken, TokenStatus,
};
use frontend::contract::{FieldError, PageError, Refusal};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, DeleteParams, ListParams, PostParams};

use super::discovery::{self, DiscoveryError};
use super::token::{self, NAMESPACE, SECRET_PREFIX, SECRET_TYPE, SIGNATURE_PREFIX};
use crate::cluster::clients::UserClients;
use crate::cluster::refusal::page_error;
use crate::retries;

/// A fresh ID that collides with an existing token is retried this many times in all.
const CREATE_ATTEMPTS: usize = 5;

/// The join-token operations.
pub struct JoinTokenService {
    clients: Arc<UserClients>,
    /// The dashboard's own client (reads cluster-info only).
    own: kube::Client,
    /// From the dashboard's kubeconfig, for when cluster-info cannot be read.
    fallback: Result<Discovery, DiscoveryError>,
}

/// What cluster-info says: the discovery data and which tokens' signatures it carries.
struct ClusterInfo {
    discovery: Option<Discovery>,
    problem: Option<String>,
    signed: BTreeSet<String>,
}

impl JoinTokenService {
    /// `config` is the dashboard's own: its client reads cluster-info, its URL and CA are the fallback.
    pub fn new(clients: Arc<UserClients>, own: kube::Client, config: &kube::Config) -> Self {
        JoinTokenService {
            clients,
            own,
            fallback: discovery::from_config(config),
        }
    }

    fn secrets(&self, user: &SignedInUser) -> Result<Api<Secret>, PageError> {
        let client = self
            .clients
            .for_token(user.token())
            .map_err(|e| PageError::Unreachable(e.to_string()))?;
        Ok(Api::namespaced(client, NAMESPACE))
    }

    async fn cluster_info(&self) -> ClusterInfo {
        let read = Api::<ConfigMap>::namespaced(self.own.clone(), "kube-public")
            .get("cluster-info")
            .await;
        let (from_cluster_info, signed) = match read {
            Ok(cm) => {
                let data = cm.data.unwrap_or_default();
                let signed = data
                    .keys()
                    .filter_map(|k| k.strip_prefix(SIGNATURE_PREFIX))
                    .map(str::to_string)
                    .collect();
                let parsed = data
                    .get("kubeconfig")
                    .ok_or(DiscoveryError::NoKubeconfig)
                    .and_then(|k| discovery::from_cluster_info(k))
                    .map_err(|e| e.to_string());
                (parsed, signed)
            }
            Err(e) => (
                Err(format!(
                    "kube-public/cluster-info cannot be read ({e}); the dashboard's account needs get on it (deploy/dashboard-rbac.yaml grants it)"
                )),
                BTreeSet::new(),
            ),
        };
        match from_cluster_info {
            Ok(discovery) => ClusterInfo {
                discovery: Some(discovery),
                problem: None,
                signed,
            },
            Err(problem) => ClusterInfo {
                discovery: self.fallback.as_ref().ok().cloned(),
                problem: Some(match &self.fallback {
                    Ok(_) => problem,
                    Err(fallback) => format!("{problem}; {fallback}"),
                }),
                signed,
            },
        }
    }

    /// Every token the user may list, as `kubeadm token list` reads them, with the join command's
    /// endpoint and pins (what the user may change, and the form's request ID, are the caller's
    /// to add).
    pub async fn list(&self, user: &SignedInUser) -> Result<JoinTokens, PageError> {
        let params = ListParams::default().fields(&format!("type={SECRET_TYPE}"));
        let api = self.secrets(user)?;
        let (secrets, info) = tokio::join!(api.list(&params), self.cluster_info());
        // Without the right to list them the page still offers what the user may do (create a
        // token, read the guide), saying why the list is missing.
        let (secrets, may_list) = match secrets {
            Ok(list) => (list.items, true),
            Err(kube::Error::Api(status)) if status.code == 403 => (Vec::new(), false),
            Err(e) => return Err(page_error(e)),
        };
        let now = jiff::Timestamp::now();
        let mut tokens: Vec<_> = secrets
            .iter()
            .filter(|s| {
                s.metadata
                    .name
                    .as_deref()
                    .is_some_and(|n| n.starts_with(SECRET_PREFIX))
            })
            .map(|s| {
                let id = token::id_of_name(s.metadata.name.as_deref().unwrap_or_default());
                token::read(s, now, id.is_some_and(|id| info.signed.contains(id)))
            })
            .collect();
        tokens.sort_by_key(|t| (t.ttl_seconds.is_none(), t.ttl_seconds, t.id.clone()));
        Ok(JoinTokens {
            tokens,
            discovery: info.discovery,
            discovery_problem: info.problem,
            may_list,
            may_create: false,
            may_delete: false,
            request_id: String::new(),
        })
    }

    /// Creates a token as `request` asks (validated first; nothing is sent when it is refused).
    /// A generated ID that is taken is replaced by another, never overwritten. A request with an
    /// ID takes its token IDs from it, so the same request sent again meets the token it made
    /// and is answered with it.
    pub async fn create(
        &self,
        user: &SignedInUser,
        request: &NewJoinToken,
    ) -> Result<RevealedJoinToken, PageError> {
        self.create_with(user, request, token::generate).await
    }

    /// [`Self::create`] with the ID and secret from `generate` (tests make it collide).
    async fn create_with(
        &self,
        user: &SignedInUser,
        request: &NewJoinToken,
        mut generate: impl FnMut() -> (String, String),
    ) -> Result<RevealedJoinToken, PageError> {
        let valid = token::validate(request).map_err(PageError::Invalid)?;
        let secrets = self.secrets(user)?;
        let now = jiff::Timestamp::now();
        if let Some(digest) = token::request_digest(&user.username, &valid) {
            let (_, secret) = generate();
            let names: Vec<String> = (0..CREATE_ATTEMPTS)
                .map(|attempt| format!("{SECRET_PREFIX}{}", token::derived_id(&digest, attempt)))
                .collect();
            let made = retries::create_once(&secrets, &digest, &names, |name| {
                let id = name.strip_prefix(SECRET_PREFIX).unwrap_or(name);
                token::secret_for(id, &secret, &valid, Some(&digest), now)
            })
            .await?;
            let id = made
                .object()
                .metadata
                .name
                .as_deref()
                .and_then(token::id_of_name);
            let (user, token_id) = (&user.username, id.unwrap_or_default());
            if made.now() {
                tracing::info!(%user, token_id, "created a join token");
            } else {
                tracing::info!(%user, token_id, "the same request made this join token before");
            }
            return self.revealed_from(made.object()).await;
        }
        for _ in 0..CREATE_ATTEMPTS {
            let (id, secret) = generate();
            let object = token::secret_for(&id, &secret, &valid, None, now);
            match secrets.create(&PostParams::default(), &object).await {
                Ok(created) => {
                    tracing::info!(user = %user.username, token_id = %id, "created a join token");
                    return self.revealed_from(&created).await;
                }
                Err(kube::Error::Api(status)) if status.code == 409 => {
                    tracing::info!(token_id = %id, "a token with this ID exists; trying another");
                }
                Err(e) => return Err(page_error(e)),
            }
        }
        Err(PageError::Refused(format!(
            "{CREATE_ATTEMPTS} generated token IDs were all taken; try again"
        )))
    }

    /// A token's Secret as its secret and join command; refused when it holds no valid token.
    async fn revealed_from(&self, secret: &Secret) -> Result<RevealedJoinToken, PageError> {
        let read = token::read(secret, jiff::Timestamp::now(), false);
        let full =
            token::full_token(secret)
                .filter(|_| read.status != TokenStatus::Invalid)
                .ok_or_else(|| {
                    PageError::Refused(read.problem.clone().unwrap_or_else(|| {
                        format!("{SECRET_PREFIX}{} holds no valid token", read.id)
                    }))
                })?;
        let (id, secret_half) = full.split_once('.').unwrap_or_default();
        Ok(self
            .revealed(id.to_string(), secret_half.to_string(), read.expires)
            .await)
    }

    async fn revealed(
        &self,
        id: String,
        secret: String,
        expires: Option<String>,
    ) -> RevealedJoinToken {
        let token = format!("{id}.{secret}");
        let join_command = self
            .cluster_info()
            .await
            .discovery
            .map(|d| d.join_command(&token));
        RevealedJoinToken {
            token,
            id,
            expires,
            join_command,
        }
    }

    /// The token `id` with its secret and join command.
    pub async fn reveal(
        &self,
        user: &SignedInUser,
        id: &str,
    ) -> Result<RevealedJoinToken, PageError> {
        check_id(id)?;
        let secret = self
            .secrets(user)?
            .get(&format!("{SECRET_PREFIX}{id}"))
            .await
            .map_err(page_error)?;
        self.revealed_from(&secret).await
    }

    /// Revokes the token `id`: its Secret is deleted, so it stops authenticating at once.
    pub async fn delete(&self, user: &SignedInUser, id: &str) -> Result<(), PageError> {
        check_id(id)?;
        self.secrets(user)?
            .delete(&format!("{SECRET_PREFIX}{id}"), &DeleteParams::default())
            .await
            .map_err(page_error)?;
        tracing::info!(user = %user.username, token_id = %id, "deleted a join token");
        Ok(())
    }
}

/// Refuses what is not a token ID before the cluster is asked.
fn check_id(id: &str) -> Result<(), PageError> {
    if token::is_id(id) {
        Ok(())
    } else {
        Err(PageError::Invalid(FieldError::new(
            "id",
            Refusal::NotATokenId,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sim's admin as a signed-in user, and the service over its cluster.
    async fn against_sim() -> (gpuboard_sim::SimHandle, SignedInUser, JoinTokenService) {
        let sim = gpuboard_sim::start_temporary(gpuboard_sim::SimConfig::default())
            .await
            .expect("the sim starts");
        let config = crate::cluster::load_config(Some(&sim.kubeconfig))
            .await
            .expect("its kubeconfig");
        let own = kube::Client::try_from(config.clone()).expect("a client");
        let service =
            JoinTokenService::new(Arc::new(UserClients::new(config.clone())), own, &config);
        let user = SignedInUser::new("admin".into(), vec![], String::new(), &sim.admin_token);
        (sim, user, service)
    }

    #[tokio::test]
    async fn a_taken_id_is_retried_never_overwritten() {
        let (_sim, user, service) = against_sim().await;
        let request = NewJoinToken::default();
        let first = service
            .create_with(&user, &request, || {
                ("abcdef".into(), "0123456789abcdef".into())
            })
            .await
            .expect("the first token");
        // The generator offers the same ID again, then a fresh one.
        let mut offers = vec![
            ("abcdef".to_string(), "ffffffffffffffff".to_string()),
            ("bcdefa".to_string(), "1111111111111111".to_string()),
        ]
        .into_iter();
        let second = service
            .create_with(&user, &request, || offers.next().expect("an offer"))
            .await
            .expect("the second token");
        assert_eq!(first.id, "abcdef");
        assert_eq!(second.token, "bcdefa.1111111111111111");
        let kept = service
            .reveal(&user, "abcdef")
            .await
            .expect("the first is there");
        assert_eq!(kept.token, "abcdef.0123456789abcdef", "not overwritten");
        // Nothing but taken IDs: refused, not looped forever.
        let refused = service
            .create_with(&user, &request, || {
                ("abcdef".into(), "2222222222222222".into())
            })
            .await;
        assert!(matches!(refused, Err(PageError::Refused(_))), "{refused:?}");
    }

    #[tokio::test]
    async fn the_same_request_sent_again_gets_the_token_it_made_never_a_second() {
        let (sim, user, service) = against_sim().await;
        let tokens = || async { service.list(&user).await.expect("the list").tokens.len() };
        let before = tokens().await;
        let request = NewJoinToken {
            request_id: Some("form-0123456789abcdef".into()),
            ..Default::default()
        };
        // Sent twice at once (a double click), then again (a retry after a lost answer).
        let (first, second) = tokio::join!(
            service.create(&user, &request),
            service.create(&user, &request)
        );
        let retried = service.create(&user, &request).await.expect("the retry");
        let first = first.expect("the first");
        // Compared, not printed: a failure must not put a token in the log.
        assert!(
            second.expect("the second").token == first.token,
            "the second send got another token"
        );
        assert!(retried.token == first.token, "the retry got another token");
        assert!(first.join_command.is_some(), "no join command");
        assert_eq!(tokens().await, before + 1, "one token for one request");

        // Another request ID, the same ID asking for something else, another user: new tokens.
        let another_id = NewJoinToken {
            request_id: Some("form-fedcba9876543210".into()),
            ..request.clone()
        };
        let changed = NewJoinToken {
            description: "rack 3".into(),
            ..request.clone()
        };
        let someone_else = SignedInUser::new("bob".into(), vec![], String::new(), &sim.admin_token);
        let mut made = BTreeSet::from([first.id.clone()]);
        for (who, asked) in [
            (&user, &another_id),
            (&user, &changed),
            (&someone_else, &request),
        ] {
            let token = service.create(who, asked).await.expect("a new token");
            assert!(made.insert(token.id.clone()), "{} again", token.id);
        }
        assert_eq!(tokens().await, before + 4);
    }

    #[tokio::test]
    async fn a_request_whose_first_id_is_anothers_takes_the_next_and_its_retry_finds_it() {
        let (_sim, user, service) = against_sim().await;
        let request = NewJoinToken {
            request_id: Some("form-0123456789abcdef".into()),
            ..Default::default()
        };
        let valid = token::validate(&request).expect("valid");
        let digest = token::request_digest(&user.username, &valid).expect("a digest");
        let taken = token::derived_id(&digest, 0);
        let unrelated = NewJoinToken::default();
        service
            .create_with(&user, &unrelated, || {
                (taken.clone(), "0123456789abcdef".into())
            })
            .await
            .expect("a token without a request ID on the request's first ID");
        let made = service.create(&user, &request).await.expect("made");
        assert_eq!(made.id, token::derived_id(&digest, 1));
        let retried = service.create(&user, &request).await.expect("retried");
        assert!(retried.token == made.token, "the retry got another token");
        let kept = service.reveal(&user, &taken).await.expect("the other");
        assert!(
            kept.token == format!("{taken}.0123456789abcdef"),
            "the other was touched"
        );
        // The other token gone, the first name is free: a retry still finds its own.
        service.delete(&user, &taken).await.expect("revoked");
        let again = service.create(&user, &request).await.expect("again");
        assert!(
            again.token == made.token,
            "a retry made a second token on the freed name"
        );
    }
}
