//! Who is calling and what they may do, as on a kubeadm cluster: bearer tokens (static admin/viewer,
//! service-account tokens minted by TokenRequest or held in legacy token Secrets, kubeadm bootstrap
//! tokens), and RBAC evaluated from the roles and bindings in the store.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Sha256;

use super::resources::by_kind;
use super::store::{Store, meta_str};

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    pub username: String,
    pub uid: String,
    pub groups: Vec<String>,
}

impl UserInfo {
    pub fn new(username: &str, groups: &[&str]) -> Self {
        UserInfo {
            username: username.into(),
            uid: String::new(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        }
    }
    pub fn anonymous() -> Self {
        UserInfo::new("system:anonymous", &["system:unauthenticated"])
    }
    pub fn is_anonymous(&self) -> bool {
        self.username == "system:anonymous"
    }
}

/// Service-account token claims (the subset of the real ones the sim checks).
#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    aud: Vec<String>,
    iat: i64,
    nbf: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    exp: Option<i64>,
    #[serde(rename = "kubernetes.io")]
    kubernetes: KubeClaims,
}

#[derive(Debug, Serialize, Deserialize)]
struct KubeClaims {
    namespace: String,
    serviceaccount: ObjectRef,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<ObjectRef>,
}

#[derive(Debug, Serialize, Deserialize)]
struct ObjectRef {
    name: String,
    uid: String,
}

pub const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";
/// The label the API server stamps on a legacy token Secret when its token is used.
pub const LEGACY_LAST_USED: &str = "kubernetes.io/legacy-token-last-used";

/// Checks bearer tokens. Holds the static tokens and the key service-account tokens are signed with.
pub struct Authenticator {
    static_tokens: HashMap<String, UserInfo>,
    signing_key: [u8; 32],
}

/// A service account a token is minted for.
pub struct TokenSubject<'a> {
    pub namespace: &'a str,
    pub name: &'a str,
    pub uid: &'a str,
    /// For legacy token Secrets: the Secret's name and uid; the token dies with the Secret.
    pub secret: Option<(&'a str, &'a str)>,
}

impl Authenticator {
    pub fn new(static_tokens: HashMap<String, UserInfo>) -> Self {
        use rand::Rng;
        Authenticator {
            static_tokens,
            signing_key: rand::rng().random(),
        }
    }

    /// Mints a service-account token (a signed JWT). `expires` is a Unix time; None never expires.
    pub fn mint(
        &self,
        subject: &TokenSubject,
        audiences: Vec<String>,
        expires: Option<i64>,
    ) -> String {
        let now = jiff::Timestamp::now().as_second();
        let claims = Claims {
            iss: ISSUER.into(),
            sub: format!(
                "system:serviceaccount:{}:{}",
                subject.namespace, subject.name
            ),
            aud: audiences,
            iat: now,
            nbf: now,
            exp: expires,
            kubernetes: KubeClaims {
                namespace: subject.namespace.into(),
                serviceaccount: ObjectRef {
                    name: subject.name.into(),
                    uid: subject.uid.into(),
                },
                secret: subject.secret.map(|(name, uid)| ObjectRef {
                    name: name.into(),
                    uid: uid.into(),
                }),
            },
        };
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","kid":"gpuboard-sim"}"#);
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap_or_default());
        let signing_input = format!("{header}.{payload}");
        let sig = URL_SAFE_NO_PAD.encode(self.sign(signing_input.as_bytes()));
        format!("{signing_input}.{sig}")
    }

    fn sign(&self, data: &[u8]) -> Vec<u8> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.signing_key)
            .expect("HMAC takes any key length");
        mac.update(data);
        mac.finalize().into_bytes().to_vec()
    }

    /// The user a bearer token stands for, or None when it authenticates no one (answered 401).
    pub fn authenticate_token(&self, store: &Store, token: &str) -> Option<UserInfo> {
        if let Some(user) = self.static_tokens.get(token) {
            return Some(user.clone());
        }
        if let Some(user) = self.service_account(store, token) {
            return Some(user);
        }
        bootstrap_token_user(store, token)
    }

    /// The caller of a request from its `Authorization` header: anonymous without one; None when it is invalid.
    pub fn authenticate_header(&self, store: &Store, header: Option<&str>) -> Option<UserInfo> {
        let Some(header) = header else {
            return Some(UserInfo::anonymous());
        };
        let (scheme, token) = header.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
            return None;
        }
        self.authenticate_token(store, token.trim())
    }

    /// The claims of a service-account token this sim signed and that has not expired.
    fn verified_claims(&self, token: &str) -> Option<Claims> {
        let mut parts = token.split('.');
        let (header, payload, sig) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let expected = self.sign(format!("{header}.{payload}").as_bytes());
        let given = URL_SAFE_NO_PAD.decode(sig).ok()?;
        if !constant_time_eq(&expected, &given) {
            return None;
        }
        let claims: Claims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
        if claims
            .exp
            .is_some_and(|exp| exp <= jiff::Timestamp::now().as_second())
        {
            return None;
        }
        Some(claims)
    }

    /// As the API server's legacy-token tracking does: when an authenticated token is a legacy
    /// token Secret's, that Secret's `kubernetes.io/legacy-token-last-used` label gets today's
    /// date (written at most once a day).
    pub fn note_legacy_use(&self, store: &mut Store, token: &str) {
        let Some(claims) = self.verified_claims(token) else {
            return;
        };
        let Some(secret_ref) = claims.kubernetes.secret else {
            return;
        };
        let namespace = claims.kubernetes.namespace;
        let Some(secret) = store.get(by_kind("Secret"), &namespace, &secret_ref.name) else {
            return;
        };
        let today = jiff::Timestamp::now().strftime("%Y-%m-%d").to_string();
        if secret["metadata"]["labels"][LEGACY_LAST_USED] == today.as_str() {
            return;
        }
        let mut updated = (*secret).clone();
        updated["metadata"]["labels"][LEGACY_LAST_USED] = Value::String(today);
        let _ = store.update(by_kind("Secret"), updated, None);
    }

    fn service_account(&self, store: &Store, token: &str) -> Option<UserInfo> {
        let claims = self.verified_claims(token)?;
        let k = &claims.kubernetes;
        let sa = store.get(
            by_kind("ServiceAccount"),
            &k.namespace,
            &k.serviceaccount.name,
        )?;
        if meta_str(&sa, "uid") != k.serviceaccount.uid {
            return None;
        }
        if let Some(secret_ref) = &k.secret {
            let secret = store.get(by_kind("Secret"), &k.namespace, &secret_ref.name)?;
            if meta_str(&secret, "uid") != secret_ref.uid {
                return None;
            }
        }
        Some(UserInfo {
            username: claims.sub,
            uid: k.serviceaccount.uid.clone(),
            groups: vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{}", k.namespace),
                "system:authenticated".into(),
            ],
        })
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn is_token_part(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// True when a bootstrap-token `expiration` value has passed; an unparseable value counts as expired.
pub fn bootstrap_token_expired(expiration: Option<&str>) -> bool {
    match expiration {
        None => false,
        Some(s) => match s.parse::<jiff::Timestamp>() {
            Ok(t) => t <= jiff::Timestamp::now(),
            Err(_) => true,
        },
    }
}

/// A Secret's `data` value decoded to text.
pub fn secret_value(secret: &Value, key: &str) -> Option<String> {
    if let Some(s) = secret
        .get("stringData")
        .and_then(|d| d.get(key))
        .and_then(Value::as_str)
    {
        return Some(s.to_string());
    }
    let b64 = secret.get("data")?.get(key)?.as_str()?;
    let bytes = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    String::from_utf8(bytes).ok()
}

fn valid_bootstrap_group(g: &str) -> bool {
    let Some(rest) = g.strip_prefix("system:bootstrappers:") else {
        return false;
    };
    !rest.is_empty()
        && rest.len() <= 256
        && rest
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b':' || b == b'-')
        && rest
            .bytes()
            .last()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// The kubeadm bootstrap-token authenticator, check for check as the spec lists them.
fn bootstrap_token_user(store: &Store, token: &str) -> Option<UserInfo> {
    let (id, secret) = token.split_once('.')?;
    if !is_token_part(id, 6) || !is_token_part(secret, 16) {
        return None;
    }
    let s = store.get(
        by_kind("Secret"),
        "kube-system",
        &format!("bootstrap-token-{id}"),
    )?;
    if s["metadata"]
        .get("deletionTimestamp")
        .is_some_and(|d| !d.is_null())
    {
        return None;
    }
    if s.get("type").and_then(Value::as_str) != Some("bootstrap.kubernetes.io/token") {
        return None;
    }
    let stored_secret = secret_value(&s, "token-secret")?;
    if !constant_time_eq(stored_secret.as_bytes(), secret.as_bytes()) {
        return None;
    }
    if secret_value(&s, "token-id")? != id {
        return None;
    }
    if bootstrap_token_expired(secret_value(&s, "expiration").as_deref()) {
        return None;
    }
    if secret_value(&s, "usage-bootstrap-authentication").as_deref() != Some("true") {
        return None;
    }
    let mut groups = vec!["system:bootstrappers".to_string()];
    if let Some(extra) = secret_value(&s, "auth-extra-groups") {
        for g in extra.split(',').map(str::trim).filter(|g| !g.is_empty()) {
            if !valid_bootstrap_group(g) {
                return None;
            }
            groups.push(g.to_string());
        }
    }
    groups.push("system:authenticated".into());
    Some(UserInfo {
        username: format!("system:bootstrap:{id}"),
        uid: String::new(),
        groups,
    })
}

/// What a request asks to do, for RBAC.
#[derive(Debug, Clone, Default)]
pub struct Attributes {
    pub verb: String,
    pub api_group: String,
    pub resource: String,
    pub subresource: String,
    pub namespace: String,
    pub name: String,
    /// Set for non-resource requests (`/version`, `/api`).
    pub path: Option<String>,
}

fn strs(v: &Value, key: &str) -> Vec<String> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn contains_or_star(list: &[String], want: &str) -> bool {
    list.iter().any(|x| x == "*" || x == want)
}

/// True when one PolicyRule (as JSON) allows the request.
pub fn rule_allows(rule: &Value, a: &Attributes) -> bool {
    if !contains_or_star(&strs(rule, "verbs"), &a.verb) {
        return false;
    }
    if let Some(path) = &a.path {
        return strs(rule, "nonResourceURLs").iter().any(|u| {
            u == "*"
                || u == path
                || u.strip_suffix('*')
                    .is_some_and(|prefix| path.starts_with(prefix))
        });
    }
    if !contains_or_star(&strs(rule, "apiGroups"), &a.api_group) {
        return false;
    }
    let resources = strs(rule, "resources");
    let resource_ok = if a.subresource.is_empty() {
        contains_or_star(&resources, &a.resource)
    } else {
        let full = format!("{}/{}", a.resource, a.subresource);
        let any_sub = format!("*/{}", a.subresource);
        resources
            .iter()
            .any(|r| r == "*" || *r == full || *r == any_sub)
    };
    if !resource_ok {
        return false;
    }
    let names = strs(rule, "resourceNames");
    names.is_empty() || (!a.name.is_empty() && names.contains(&a.name))
}

fn subject_matches(subject: &Value, user: &UserInfo, binding_namespace: &str) -> bool {
    let kind = subject.get("kind").and_then(Value::as_str).unwrap_or("");
    let name = subject.get("name").and_then(Value::as_str).unwrap_or("");
    match kind {
        "User" => user.username == name,
        "Group" => user.groups.iter().any(|g| g == name),
        "ServiceAccount" => {
            let ns = subject
                .get("namespace")
                .and_then(Value::as_str)
                .unwrap_or(binding_namespace);
            user.username == format!("system:serviceaccount:{ns}:{name}")
        }
        _ => false,
    }
}

fn role_rules(store: &Store, role_ref: &Value, binding_namespace: &str) -> Vec<Value> {
    let kind = role_ref.get("kind").and_then(Value::as_str).unwrap_or("");
    let name = role_ref.get("name").and_then(Value::as_str).unwrap_or("");
    let role = match kind {
        "ClusterRole" => store.get(by_kind("ClusterRole"), "", name),
        "Role" => store.get(by_kind("Role"), binding_namespace, name),
        _ => None,
    };
    role.and_then(|r| r.get("rules").and_then(Value::as_array).cloned())
        .unwrap_or_default()
}

/// Every rule that applies to the user in a namespace ("" = cluster scope only).
pub fn rules_for(store: &Store, user: &UserInfo, namespace: &str) -> Vec<Value> {
    if user.groups.iter().any(|g| g == "system:masters") {
        return vec![
            serde_json::json!({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}),
            serde_json::json!({"verbs": ["*"], "nonResourceURLs": ["*"]}),
        ];
    }
    let mut rules = Vec::new();
    for binding in store.list(by_kind("ClusterRoleBinding"), None) {
        let subjects = binding
            .get("subjects")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if subjects.iter().any(|s| subject_matches(s, user, "")) {
            rules.extend(role_rules(store, &binding["roleRef"], ""));
        }
    }
    if !namespace.is_empty() {
        for binding in store.list(by_kind("RoleBinding"), Some(namespace)) {
            let subjects = binding
                .get("subjects")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if subjects.iter().any(|s| subject_matches(s, user, namespace)) {
                rules.extend(role_rules(store, &binding["roleRef"], namespace));
            }
        }
    }
    rules
}

/// The RBAC decision for a request.
pub fn authorize(store: &Store, user: &UserInfo, a: &Attributes) -> bool {
    if user.groups.iter().any(|g| g == "system:masters") {
        return true;
    }
    rules_for(store, user, &a.namespace)
        .iter()
        .any(|r| rule_allows(r, a))
}

/// The message a 403 carries, in the API server's words.
pub fn forbidden_message(user: &UserInfo, a: &Attributes) -> String {
    if let Some(path) = &a.path {
        return format!(
            "forbidden: User {:?} cannot {} path {path:?}",
            user.username, a.verb
        );
    }
    let resource = if a.subresource.is_empty() {
        a.resource.clone()
    } else {
        format!("{}/{}", a.resource, a.subresource)
    };
    let what = if a.name.is_empty() {
        a.resource.clone()
    } else {
        format!("{} {:?}", a.resource, a.name)
    };
    let scope = if a.namespace.is_empty() {
        "at the cluster scope".to_string()
    } else {
        format!("in the namespace {:?}", a.namespace)
    };
    format!(
        "{what} is forbidden: User {:?} cannot {} resource {resource:?} in API group {:?} {scope}",
        user.username, a.verb, a.api_group
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn attrs(verb: &str, group: &str, resource: &str, ns: &str) -> Attributes {
        Attributes {
            verb: verb.into(),
            api_group: group.into(),
            resource: resource.into(),
            namespace: ns.into(),
            ..Default::default()
        }
    }

    #[test]
    fn rules_match_verbs_groups_resources_names_and_paths() {
        let rule =
            json!({"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods", "pods/log"]});
        assert!(rule_allows(&rule, &attrs("list", "", "pods", "default")));
        assert!(!rule_allows(&rule, &attrs("create", "", "pods", "default")));
        assert!(!rule_allows(
            &rule,
            &attrs("list", "batch", "pods", "default")
        ));
        let mut log = attrs("get", "", "pods", "default");
        log.subresource = "log".into();
        assert!(rule_allows(&rule, &log));
        log.subresource = "exec".into();
        assert!(!rule_allows(&rule, &log));
        let named = json!({"verbs": ["get"], "apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["cluster-info"]});
        let mut a = attrs("get", "", "configmaps", "kube-public");
        assert!(!rule_allows(&named, &a));
        a.name = "cluster-info".into();
        assert!(rule_allows(&named, &a));
        let paths = json!({"verbs": ["get"], "nonResourceURLs": ["/version", "/api/*"]});
        let p = |path: &str| Attributes {
            verb: "get".into(),
            path: Some(path.into()),
            ..Default::default()
        };
        assert!(
            rule_allows(&paths, &p("/version"))
                && rule_allows(&paths, &p("/api/v1"))
                && !rule_allows(&paths, &p("/apis"))
        );
    }

    #[test]
    fn forbidden_messages_read_like_the_api_server() {
        let u = UserInfo::new("viewer", &["system:authenticated"]);
        assert_eq!(
            forbidden_message(&u, &attrs("create", "", "secrets", "kube-system")),
            r#"secrets is forbidden: User "viewer" cannot create resource "secrets" in API group "" in the namespace "kube-system""#
        );
        assert!(
            forbidden_message(&u, &attrs("list", "", "nodes", ""))
                .ends_with("at the cluster scope")
        );
    }

    #[test]
    fn service_account_tokens_expire_and_die_with_their_account() {
        let mut store = Store::new(100);
        let sa = store
            .create(
                by_kind("ServiceAccount"),
                json!({"metadata": {"name": "bot", "namespace": "default"}}),
            )
            .unwrap();
        let auth = Authenticator::new(HashMap::new());
        let subject = TokenSubject {
            namespace: "default",
            name: "bot",
            uid: meta_str(&sa, "uid"),
            secret: None,
        };
        let now = jiff::Timestamp::now().as_second();
        let live = auth.mint(&subject, vec![ISSUER.into()], Some(now + 600));
        let user = auth
            .authenticate_token(&store, &live)
            .expect("a live token authenticates");
        assert_eq!(user.username, "system:serviceaccount:default:bot");
        let expired = auth.mint(&subject, vec![ISSUER.into()], Some(now - 1));
        assert!(auth.authenticate_token(&store, &expired).is_none());
        let mut forged = live.clone();
        forged.push('x');
        assert!(auth.authenticate_token(&store, &forged).is_none());
        store
            .delete(by_kind("ServiceAccount"), "default", "bot")
            .unwrap();
        assert!(auth.authenticate_token(&store, &live).is_none());
    }

    #[test]
    fn bootstrap_expiry_rules() {
        assert!(!bootstrap_token_expired(None));
        assert!(bootstrap_token_expired(Some("garbage")));
        assert!(bootstrap_token_expired(Some("2000-01-01T00:00:00Z")));
        assert!(!bootstrap_token_expired(Some("2999-01-01T00:00:00Z")));
        assert!(valid_bootstrap_group(
            "system:bootstrappers:kubeadm:default-node-token"
        ));
        assert!(!valid_bootstrap_group("system:masters"));
    }
}
