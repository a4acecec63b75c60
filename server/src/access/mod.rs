//! Giving people access: service accounts with their legacy token Secrets, tokens minted with the
//! TokenRequest API, legacy tokens regenerated (the seeds' `token_regenerate.sh`), and "give a
//! teammate access" (a service account bound to a role, and its first token). Every call is made
//! with the signed-in user's own token, so RBAC decides; a grant that fails half-way removes what
//! it made. Tokens are returned once and never logged.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use frontend::backend::SignedInUser;
use frontend::contract::access::{
    GrantedRole, IssuedToken, LegacyToken, MAX_TOKEN_SECONDS, MIN_TOKEN_SECONDS, NewAccess,
    NewToken, RegenerateToken, ServiceAccountRow,
};
use frontend::contract::{FieldError, PageError, Refusal};
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, RoleBinding, RoleRef, Subject};
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, PostParams};

use crate::cluster::clients::UserClients;
use crate::cluster::names::{is_dns_label, is_dns_subdomain};
use crate::cluster::refusal::page_error;
use crate::retries;

/// The type of a legacy token Secret.
pub const LEGACY_TOKEN_TYPE: &str = "kubernetes.io/service-account-token";
const ACCOUNT_ANNOTATION: &str = "kubernetes.io/service-account.name";
const LAST_USED_LABEL: &str = "kubernetes.io/legacy-token-last-used";
const INVALID_SINCE_LABEL: &str = "kubernetes.io/legacy-token-invalid-since";
/// How long a new legacy Secret may wait for the token controller to fill it.
const TOKEN_FILL_WAIT: Duration = Duration::from_secs(10);
/// What the API server keeps of a generateName, and the characters it adds (63 in all).
const GENERATE_NAME_BASE_CHARS: usize = 58;
const GENERATED_SUFFIX_CHARS: usize = 5;
/// Names derived from a request ID that are taken by others are passed over this many times.
const NAME_ATTEMPTS: usize = 5;

/// The access operations.
pub struct AccessService {
    clients: Arc<UserClients>,
}

fn invalid(field: &str, refusal: Refusal) -> PageError {
    PageError::Invalid(FieldError::new(field, refusal))
}

/// Refuses a namespace or account name the API server would refuse, before asking it.
pub fn check_names(namespace: &str, name: &str) -> Result<(), PageError> {
    if !is_dns_label(namespace) {
        return Err(invalid("namespace", Refusal::NotALabel));
    }
    if !is_dns_subdomain(name) {
        return Err(invalid("name", Refusal::NotASubdomain));
    }
    Ok(())
}

/// Refuses a lifetime outside what the form offers (the TokenRequest minimum up to a year).
pub fn check_lifetime(seconds: u64) -> Result<(), PageError> {
    if (MIN_TOKEN_SECONDS..=MAX_TOKEN_SECONDS).contains(&seconds) {
        Ok(())
    } else {
        Err(invalid(
            "expirationSeconds",
            Refusal::OutOfRange {
                min: MIN_TOKEN_SECONDS,
                max: MAX_TOKEN_SECONDS,
            },
        ))
    }
}

fn age_seconds(meta: &ObjectMeta, now: jiff::Timestamp) -> i64 {
    meta.creation_timestamp
        .as_ref()
        .map(|t| now.as_second() - t.0.as_second())
        .unwrap_or_default()
}

/// `kubectl create token` for the same.
fn kubectl_create_token(namespace: &str, name: &str, seconds: u64) -> String {
    format!("kubectl create token {name} -n {namespace} --duration={seconds}s")
}

impl AccessService {
    pub fn new(clients: Arc<UserClients>) -> Self {
        AccessService { clients }
    }

    fn client(&self, user: &SignedInUser) -> Result<kube::Client, PageError> {
        self.clients.for_user(user)
    }

    /// The service accounts of `namespace` (None: every namespace) with their legacy tokens.
    pub async fn list(
        &self,
        user: &SignedInUser,
        namespace: Option<&str>,
    ) -> Result<Vec<ServiceAccountRow>, PageError> {
        if namespace.is_some_and(|ns| !is_dns_label(ns)) {
            return Err(invalid("namespace", Refusal::NotALabel));
        }
        let client = self.client(user)?;
        let (accounts, secrets): (Api<ServiceAccount>, Api<Secret>) = match namespace {
            Some(ns) => (
                Api::namespaced(client.clone(), ns),
                Api::namespaced(client, ns),
            ),
            None => (Api::all(client.clone()), Api::all(client)),
        };
        let legacy = ListParams::default().fields(&format!("type={LEGACY_TOKEN_TYPE}"));
        let every = ListParams::default();
        let (accounts, secrets) = tokio::join!(accounts.list(&every), secrets.list(&legacy));
        let accounts = accounts.map_err(page_error)?;
        // Without the right to list Secrets the accounts still show, without their legacy tokens;
        // any other failure is the page's error.
        let secrets = match secrets {
            Ok(list) => list.items,
            Err(kube::Error::Api(status)) if status.code == 403 => Vec::new(),
            Err(e) => return Err(page_error(e)),
        };
        let now = jiff::Timestamp::now();
        let mut tokens: BTreeMap<(String, String), Vec<LegacyToken>> = BTreeMap::new();
        for secret in &secrets {
            let meta = &secret.metadata;
            let Some(account) = meta
                .annotations
                .as_ref()
                .and_then(|a| a.get(ACCOUNT_ANNOTATION))
            else {
                continue;
            };
            let label = |key: &str| meta.labels.as_ref().and_then(|l| l.get(key)).cloned();
            tokens
                .entry((meta.namespace.clone().unwrap_or_default(), account.clone()))
                .or_default()
                .push(LegacyToken {
                    secret: meta.name.clone().unwrap_or_default(),
                    age_seconds: age_seconds(meta, now),
                    last_used: label(LAST_USED_LABEL),
                    invalid_since: label(INVALID_SINCE_LABEL),
                });
        }
        let mut rows: Vec<ServiceAccountRow> = accounts
            .items
            .iter()
            .map(|sa| {
                let namespace = sa.metadata.namespace.clone().unwrap_or_default();
                let name = sa.metadata.name.clone().unwrap_or_default();
                let legacy_tokens = tokens
                    .remove(&(namespace.clone(), name.clone()))
                    .unwrap_or_default();
                ServiceAccountRow {
                    age_seconds: age_seconds(&sa.metadata, now),
                    namespace,
                    name,
                    legacy_tokens,
                }
            })
            .collect();
        rows.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        Ok(rows)
    }

    /// A token for `namespace/name` from the TokenRequest API; the cluster may shorten it.
    pub async fn mint(
        &self,
        user: &SignedInUser,
        namespace: &str,
        name: &str,
        request: NewToken,
    ) -> Result<IssuedToken, PageError> {
        check_names(namespace, name)?;
        check_lifetime(request.expiration_seconds)?;
        let token = mint_with(
            self.client(user)?,
            namespace,
            name,
            request.expiration_seconds,
        )
        .await?;
        tracing::info!(user = %user.username, %namespace, service_account = %name, "minted a token");
        Ok(token)
    }

    /// Replaces the account's legacy token: a new token Secret is made and filled first, then
    /// every older one is deleted, so the old token stops working and the account is never left
    /// without one. The steps run to the end even if the caller goes away. A request with an ID
    /// names its Secret from it, so the same request sent again meets that Secret and is
    /// answered with its token, replacing nothing more.
    pub async fn regenerate_legacy(
        &self,
        user: &SignedInUser,
        namespace: &str,
        name: &str,
        request: &RegenerateToken,
    ) -> Result<IssuedToken, PageError> {
        check_names(namespace, name)?;
        retries::check(request.request_id.as_deref()).map_err(PageError::Invalid)?;
        let digest = request.request_id.as_deref().map(|id| {
            let account = (namespace, name);
            retries::digest("regenerate legacy token", &user.username, id, &account)
        });
        let client = self.client(user)?;
        let (ns, account) = (namespace.to_string(), name.to_string());
        let (token, replaced) = run_to_end(regenerate_steps(client, ns, account, digest)).await?;
        tracing::info!(user = %user.username, %namespace, service_account = %name, replaced, "regenerated a legacy token");
        Ok(token)
    }

    /// A new service account bound to `request.role`, and its first token. Refused as a whole:
    /// if the binding or the token fails, the account (and binding) made are deleted again; the
    /// steps run to the end even if the caller goes away.
    pub async fn grant(
        &self,
        user: &SignedInUser,
        request: &NewAccess,
    ) -> Result<IssuedToken, PageError> {
        check_names(&request.namespace, &request.name)?;
        let role = GrantedRole::from_str(request.role.trim())
            .map_err(|_| invalid("role", Refusal::UnknownRole))?;
        check_lifetime(request.expiration_seconds)?;
        let client = self.client(user)?;
        let token = run_to_end(grant_steps(
            client,
            role,
            request.namespace.clone(),
            request.name.clone(),
            request.expiration_seconds,
        ))
        .await?;
        tracing::info!(user = %user.username, namespace = %request.namespace, service_account = %request.name, role = role.cluster_role(), "granted access");
        Ok(token)
    }
}

/// Runs `steps` as its own task, so a request dropped half-way (the browser left) cannot stop
/// them between a change and its undoing.
async fn run_to_end<T: Send + 'static>(
    steps: impl Future<Output = Result<T, PageError>> + Send + 'static,
) -> Result<T, PageError> {
    tokio::spawn(steps)
        .await
        .unwrap_or_else(|e| Err(PageError::Server(format!("the operation stopped: {e}"))))
}

/// Deletes what a failed operation made; says what could not be removed (and logs it).
async fn undo<K>(api: &Api<K>, name: &str) -> Option<String>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    match api.delete(name, &DeleteParams::default()).await {
        Ok(_) => None,
        Err(kube::Error::Api(status)) if status.code == 404 => None,
        Err(e) => {
            tracing::warn!(object = %name, error = %e, "could not undo a half-made change");
            Some(format!("; {name} could not be removed: {e}"))
        }
    }
}

/// `error`, with what its undoing could not remove.
fn with_leftovers(error: PageError, leftovers: Vec<Option<String>>) -> PageError {
    let left: String = leftovers.into_iter().flatten().collect();
    if left.is_empty() {
        return error;
    }
    match error {
        PageError::Refused(m) => PageError::Refused(format!("{m}{left}")),
        PageError::Forbidden(m) => PageError::Forbidden(format!("{m}{left}")),
        PageError::Unreachable(m) => PageError::Unreachable(format!("{m}{left}")),
        PageError::NotFound(m) => PageError::NotFound(format!("{m}{left}")),
        PageError::Rejected(m) => PageError::Rejected(format!("{m}{left}")),
        PageError::Server(m) => PageError::Server(format!("{m}{left}")),
        PageError::BadRequest(m) => PageError::BadRequest(format!("{m}{left}")),
        // Kept as they are: their meaning (and status) matters more than the leftovers' words,
        // which the log has.
        same @ (PageError::SignedOut | PageError::Invalid(_)) => same,
    }
}

async fn mint_with(
    client: kube::Client,
    namespace: &str,
    name: &str,
    seconds: u64,
) -> Result<IssuedToken, PageError> {
    let api: Api<ServiceAccount> = Api::namespaced(client, namespace);
    let asked = TokenRequest {
        spec: Some(TokenRequestSpec {
            expiration_seconds: i64::try_from(seconds).ok(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let answer = api
        .create_token_request(name, &PostParams::default(), &asked)
        .await
        .map_err(page_error)?;
    let status = answer.status.unwrap_or_default();
    let token = status
        .token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| PageError::Server("the cluster answered without a token".into()))?;
    let expires = status.expiration_timestamp.map(|t| t.0);
    Ok(IssuedToken {
        namespace: namespace.into(),
        service_account: name.into(),
        token,
        expires: expires.map(|at| at.to_string()),
        requested_seconds: Some(seconds),
        granted_seconds: expires.map(|at| at.as_second() - jiff::Timestamp::now().as_second()),
        kubectl: kubectl_create_token(namespace, name, seconds),
    })
}

/// The legacy-token replacement; (the new token, how many old Secrets went). `request` is the
/// digest of the request, when it has an ID.
async fn regenerate_steps(
    client: kube::Client,
    namespace: String,
    name: String,
    request: Option<String>,
) -> Result<(IssuedToken, usize), PageError> {
    Api::<ServiceAccount>::namespaced(client.clone(), &namespace)
        .get(&name)
        .await
        .map_err(page_error)?;
    let secrets: Api<Secret> = Api::namespaced(client, &namespace);
    let legacy = ListParams::default().fields(&format!("type={LEGACY_TOKEN_TYPE}"));
    let mut old: Vec<String> = secrets
        .list(&legacy)
        .await
        .map_err(page_error)?
        .items
        .into_iter()
        .filter(|s| {
            s.metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(ACCOUNT_ANNOTATION))
                .is_some_and(|a| *a == name)
        })
        .filter_map(|s| s.metadata.name)
        .collect();
    let made = create_legacy_secret(&secrets, &namespace, &name, request.as_deref()).await?;
    let created_name = made.object().metadata.name.clone().unwrap_or_default();
    // A second send of the request finds the first's Secret among the old ones: it stays.
    old.retain(|old_name| *old_name != created_name);
    // Only what this call made is taken back: a Secret an earlier send made is that send's.
    let undo_made = async |error: PageError| {
        let left = if made.now() {
            undo(&secrets, &created_name).await
        } else {
            None
        };
        with_leftovers(error, vec![left])
    };
    let token = match wait_for_token(&secrets, &created_name).await {
        Ok(token) => token,
        // Nothing half-made: the new Secret goes, the old token stays.
        Err(e) => return Err(undo_made(e).await),
    };
    for old_name in &old {
        match secrets.delete(old_name, &DeleteParams::default()).await {
            // Already gone (removed by someone else since the list): what was wanted.
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(e) => {
                let error = page_error(e);
                // The cluster did not answer: with a request ID the new Secret stays, and
                // sending the same request again finishes. A refusal would refuse again: the
                // new token, which no one saw, is taken back and the old one keeps working.
                if request.is_some() && matches!(error, PageError::Unreachable(_)) {
                    let kept = format!(
                        "; the new token {created_name} was kept: send the same request again to delete the old ones (on a page: press Regenerate again without reloading)"
                    );
                    return Err(with_leftovers(error, vec![Some(kept)]));
                }
                return Err(undo_made(error).await);
            }
        }
    }
    let token = IssuedToken {
        kubectl: format!(
            "kubectl -n {namespace} get secret {created_name} -o jsonpath='{{.data.token}}' | base64 -d"
        ),
        namespace,
        service_account: name,
        token,
        expires: None,
        requested_seconds: None,
        granted_seconds: None,
    };
    Ok((token, old.len()))
}

/// Makes the account's new legacy token Secret: named by the API server, or for a request with
/// an ID under a name derived from it ([`retries::create_once`]), where a second send of the
/// request finds the Secret the first made (`Made::Before`).
async fn create_legacy_secret(
    secrets: &Api<Secret>,
    namespace: &str,
    name: &str,
    request: Option<&str>,
) -> Result<retries::Made<Secret>, PageError> {
    let prefix = format!("{name}-token-");
    let fresh = |secret_name: Option<&str>| Secret {
        metadata: ObjectMeta {
            // A name of its own when the request has one; else the API server makes one.
            generate_name: secret_name.is_none().then(|| prefix.clone()),
            name: secret_name.map(str::to_string),
            namespace: Some(namespace.to_string()),
            annotations: Some(BTreeMap::from_iter(
                [(ACCOUNT_ANNOTATION.to_string(), name.to_string())]
                    .into_iter()
                    .chain(request.map(retries::annotations).into_iter().flatten()),
            )),
            ..Default::default()
        },
        type_: Some(LEGACY_TOKEN_TYPE.into()),
        ..Default::default()
    };
    let Some(digest) = request else {
        let created = secrets
            .create(&PostParams::default(), &fresh(None))
            .await
            .map_err(page_error)?;
        return Ok(retries::Made::Now(created));
    };
    // As the API server names a generateName: the prefix cut to 58, then 5 characters.
    let mut base = prefix.clone();
    base.truncate(GENERATE_NAME_BASE_CHARS);
    let names: Vec<String> = (0..NAME_ATTEMPTS)
        .map(|attempt| {
            format!(
                "{base}{}",
                retries::derived(digest, attempt, GENERATED_SUFFIX_CHARS)
            )
        })
        .collect();
    Ok(retries::create_once(secrets, digest, &names, |n| fresh(Some(n))).await?)
}

/// The access grant: account, binding, first token; undone whole when a step fails.
async fn grant_steps(
    client: kube::Client,
    role: GrantedRole,
    namespace: String,
    name: String,
    seconds: u64,
) -> Result<IssuedToken, PageError> {
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), &namespace);
    let account = ServiceAccount {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(namespace.clone()),
            labels: Some(BTreeMap::from([(
                "app.kubernetes.io/managed-by".to_string(),
                "gpuboard".to_string(),
            )])),
            ..Default::default()
        },
        ..Default::default()
    };
    accounts
        .create(&PostParams::default(), &account)
        .await
        .map_err(page_error)?;
    let binding_name = format!("gpuboard:{namespace}:{name}:{}", role.cluster_role());
    if let Err(e) = bind(&client, role, &namespace, &name, &binding_name).await {
        // A binding whose creation timed out may exist all the same: remove it too (a 404 is fine).
        let unbound = unbind(&client, role, &namespace, &binding_name).await;
        let left = undo(&accounts, &name).await;
        return Err(with_leftovers(e, vec![unbound, left]));
    }
    match mint_with(client.clone(), &namespace, &name, seconds).await {
        Ok(token) => Ok(token),
        Err(e) => {
            let unbound = unbind(&client, role, &namespace, &binding_name).await;
            let left = undo(&accounts, &name).await;
            Err(with_leftovers(e, vec![unbound, left]))
        }
    }
}

/// Binds the account to the role: in its namespace, or cluster-wide for cluster-admin.
async fn bind(
    client: &kube::Client,
    role: GrantedRole,
    namespace: &str,
    name: &str,
    binding_name: &str,
) -> Result<(), PageError> {
    let role_ref = RoleRef {
        api_group: Some("rbac.authorization.k8s.io".into()),
        kind: "ClusterRole".into(),
        name: role.cluster_role().into(),
    };
    let subjects = Some(vec![Subject {
        kind: "ServiceAccount".into(),
        name: name.into(),
        namespace: Some(namespace.into()),
        ..Default::default()
    }]);
    let metadata = ObjectMeta {
        name: Some(binding_name.into()),
        ..Default::default()
    };
    let made = if role.cluster_wide() {
        Api::<ClusterRoleBinding>::all(client.clone())
            .create(
                &PostParams::default(),
                &ClusterRoleBinding {
                    metadata,
                    role_ref,
                    subjects,
                },
            )
            .await
            .map(drop)
    } else {
        Api::<RoleBinding>::namespaced(client.clone(), namespace)
            .create(
                &PostParams::default(),
                &RoleBinding {
                    metadata: ObjectMeta {
                        namespace: Some(namespace.into()),
                        ..metadata
                    },
                    role_ref,
                    subjects,
                },
            )
            .await
            .map(drop)
    };
    made.map_err(page_error)
}

async fn unbind(
    client: &kube::Client,
    role: GrantedRole,
    namespace: &str,
    binding_name: &str,
) -> Option<String> {
    if role.cluster_wide() {
        undo(
            &Api::<ClusterRoleBinding>::all(client.clone()),
            binding_name,
        )
        .await
    } else {
        undo(
            &Api::<RoleBinding>::namespaced(client.clone(), namespace),
            binding_name,
        )
        .await
    }
}

/// The token the token controller writes into a new legacy Secret.
async fn wait_for_token(secrets: &Api<Secret>, name: &str) -> Result<String, PageError> {
    let deadline = tokio::time::Instant::now() + TOKEN_FILL_WAIT;
    loop {
        let secret = secrets.get(name).await.map_err(page_error)?;
        if let Some(token) = secret
            .data
            .as_ref()
            .and_then(|d| d.get("token"))
            .and_then(|t| String::from_utf8(t.0.clone()).ok())
            .filter(|t| !t.is_empty())
        {
            return Ok(token);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(PageError::Unreachable(format!(
                "the token controller did not fill {name} within {TOKEN_FILL_WAIT:?}"
            )));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(e: PageError) -> String {
        match e {
            PageError::Invalid(f) => f.field,
            other => panic!("not a field refusal: {other:?}"),
        }
    }

    #[test]
    fn names_and_lifetimes_are_checked_before_the_cluster_is_asked() {
        assert!(check_names("team-a", "alice").is_ok());
        assert!(check_names("team-a", "alice.ml").is_ok());
        assert_eq!(
            field(check_names("Team", "alice").unwrap_err()),
            "namespace"
        );
        assert_eq!(field(check_names("team-a", "Alice").unwrap_err()), "name");
        assert_eq!(field(check_names("team-a", "-alice").unwrap_err()), "name");
        assert!(check_lifetime(600).is_ok() && check_lifetime(MAX_TOKEN_SECONDS).is_ok());
        assert_eq!(field(check_lifetime(599).unwrap_err()), "expirationSeconds");
        assert_eq!(
            field(check_lifetime(MAX_TOKEN_SECONDS + 1).unwrap_err()),
            "expirationSeconds"
        );
    }

    #[test]
    fn the_kubectl_line_does_the_same() {
        assert_eq!(
            kubectl_create_token("kube-system", "dashboard-admin", 3600),
            "kubectl create token dashboard-admin -n kube-system --duration=3600s"
        );
    }
}
