//! Join tokens (kubeadm's bootstrap tokens): what the "Add nodes" page and `/api/v1/join-tokens`
//! exchange. Field names are camelCase, as Kubernetes writes its JSON.

use serde::{Deserialize, Serialize};

/// The group kubeadm gives its tokens, which kubeadm's RBAC lets join nodes.
pub const KUBEADM_NODE_GROUP: &str = "system:bootstrappers:kubeadm:default-node-token";
/// `kubeadm token create`'s default lifetime, 24 hours.
pub const DEFAULT_TTL_SECONDS: u64 = 24 * 3600;
/// The longest description kept (kubeadm sets none; this keeps the Secret and the table sane).
pub const MAX_DESCRIPTION_CHARS: usize = 256;
/// At most this many extra groups on one token.
pub const MAX_GROUPS: usize = 16;

/// What a bootstrap token may be used for (`usage-bootstrap-<usage>` in its Secret).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum TokenUsage {
    /// The token authenticates as `system:bootstrap:<id>` (a joining kubelet needs it).
    Authentication,
    /// The bootstrap signer signs `kube-public/cluster-info` with it (discovery needs it).
    Signing,
}

impl TokenUsage {
    /// The word kubeadm uses.
    pub fn word(self) -> &'static str {
        self.into()
    }
}

/// Whether a token can still be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum TokenStatus {
    Valid,
    /// Past its expiration (the token cleaner will delete it).
    Expired,
    /// kubeadm could not parse its Secret; `problem` says why.
    Invalid,
}

/// Whether `kube-public/cluster-info` carries this token's signature (`jws-kubeconfig-<id>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum Signing {
    /// Not a signing token (or not a valid one): no signature is expected.
    NotRequested,
    /// A signing token whose signature the bootstrap signer has not added yet.
    Pending,
    Signed,
}

/// One bootstrap token, as `kubeadm token list` shows it; the secret half is not here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct JoinToken {
    pub id: String,
    /// When it expires (RFC 3339, UTC); None: never.
    pub expires: Option<String>,
    /// Seconds left (negative once expired); None: never expires.
    pub ttl_seconds: Option<i64>,
    pub usages: Vec<TokenUsage>,
    pub description: String,
    pub extra_groups: Vec<String>,
    pub status: TokenStatus,
    /// Why the Secret is not a valid token, in kubeadm's words.
    pub problem: Option<String>,
    pub signing: Signing,
}

/// Where `kubeadm join` finds the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum DiscoverySource {
    /// `kube-public/cluster-info`, as kubeadm itself reads it.
    ClusterInfo,
    /// The dashboard's own kubeconfig (cluster-info could not be read).
    DashboardKubeconfig,
}

/// The endpoint and CA pins a join command carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Discovery {
    /// `host:port` of the API server, as nodes reach it.
    pub endpoint: String,
    /// `sha256:<hex>` of each CA certificate's public key, one `--discovery-token-ca-cert-hash` each.
    pub ca_cert_hashes: Vec<String>,
    pub source: DiscoverySource,
}

impl Discovery {
    /// The exact join command for `token` (`id.secret`), on one line with single spaces.
    pub fn join_command(&self, token: &str) -> String {
        let mut command = format!("kubeadm join {} --token {token}", self.endpoint);
        for hash in &self.ca_cert_hashes {
            command.push_str(" --discovery-token-ca-cert-hash ");
            command.push_str(hash);
        }
        command
    }
}

/// The join-token page's data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct JoinTokens {
    /// Sorted by expiry, the longest-lived last; tokens that never expire at the end.
    pub tokens: Vec<JoinToken>,
    /// None when neither cluster-info nor the dashboard's kubeconfig gives an endpoint and CA.
    pub discovery: Option<Discovery>,
    /// Why cluster-info could not be used, when it could not.
    pub discovery_problem: Option<String>,
    /// Whether the user may list tokens (list secrets in kube-system); when not, `tokens` is empty.
    pub may_list: bool,
    /// Whether the user may create tokens (a SelfSubjectAccessReview: create secrets in kube-system).
    pub may_create: bool,
    /// Whether the user may revoke tokens (delete secrets in kube-system).
    pub may_delete: bool,
    /// A fresh request ID for the form's next token (see [`NewJoinToken::request_id`]).
    pub request_id: String,
}

/// A token to create. Every field may be left out: `{}` is `kubeadm token create`'s defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
#[cfg_attr(
    feature = "ssr",
    derive(utoipa::ToSchema),
    schema(example = json!({"ttlSeconds": 3600, "description": "rack 4"}))
)]
pub struct NewJoinToken {
    /// Lifetime in seconds; 0: never expires.
    pub ttl_seconds: u64,
    pub description: String,
    /// `authentication`, `signing`: kubeadm's words, checked as kubeadm checks them.
    pub usages: Vec<String>,
    /// Extra groups, each `system:bootstrappers:...`.
    pub groups: Vec<String>,
    /// Makes creating idempotent: the same request sent again by the same user (a retry after a
    /// lost answer, a double click) is answered with the token the first one made, while it
    /// exists, never a second token. 16 to 128 of letters, digits, `-`, `_`, `.` (a UUID will
    /// do); a fresh one for each token wanted. Without it every request makes a token.
    pub request_id: Option<String>,
}

impl Default for NewJoinToken {
    fn default() -> Self {
        NewJoinToken {
            ttl_seconds: DEFAULT_TTL_SECONDS,
            description: String::new(),
            usages: vec!["signing".into(), "authentication".into()],
            groups: vec![KUBEADM_NODE_GROUP.into()],
            request_id: None,
        }
    }
}

/// A token with its secret half: shown once after creating, or when asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RevealedJoinToken {
    /// `id.secret`.
    pub token: String,
    pub id: String,
    pub expires: Option<String>,
    /// None when the cluster's endpoint and CA are unknown (see the list's `discoveryProblem`).
    pub join_command: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_join_command_has_one_hash_flag_per_ca_and_single_spaces() {
        let discovery = Discovery {
            endpoint: "192.168.0.113:6443".into(),
            ca_cert_hashes: vec!["sha256:aa".into(), "sha256:bb".into()],
            source: DiscoverySource::ClusterInfo,
        };
        assert_eq!(
            discovery.join_command("abcdef.0123456789abcdef"),
            "kubeadm join 192.168.0.113:6443 --token abcdef.0123456789abcdef \
             --discovery-token-ca-cert-hash sha256:aa --discovery-token-ca-cert-hash sha256:bb"
        );
    }

    #[test]
    fn an_empty_request_is_kubeadms_defaults_and_unknown_fields_are_refused() {
        let empty: NewJoinToken = serde_json::from_str("{}").unwrap();
        assert_eq!(empty, NewJoinToken::default());
        assert_eq!(empty.ttl_seconds, 86_400);
        let error = serde_json::from_str::<NewJoinToken>(r#"{"ttl": "1h"}"#).unwrap_err();
        assert!(error.to_string().contains("unknown field `ttl`"), "{error}");
    }
}
