//! Service accounts and their tokens: what the "Access" page and `/api/v1/.../serviceaccounts`
//! and `/api/v1/access` exchange. camelCase, as Kubernetes writes its JSON.

use serde::{Deserialize, Serialize};

/// The shortest token the TokenRequest API mints (10 minutes).
pub const MIN_TOKEN_SECONDS: u64 = 600;
/// The longest token the form offers (a year); the cluster may shorten it.
pub const MAX_TOKEN_SECONDS: u64 = 365 * 24 * 3600;
/// The lifetime of a minted token unless asked otherwise (a day).
pub const DEFAULT_TOKEN_SECONDS: u64 = 24 * 3600;

/// A legacy token Secret (`kubernetes.io/service-account-token`) and what the cluster says of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LegacyToken {
    pub secret: String,
    /// Seconds since the Secret was made.
    pub age_seconds: i64,
    /// The `kubernetes.io/legacy-token-last-used` label: the day it was last used.
    pub last_used: Option<String>,
    /// The `kubernetes.io/legacy-token-invalid-since` label: the day the cluster stopped accepting it.
    pub invalid_since: Option<String>,
}

/// A service account as the page lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ServiceAccountRow {
    pub namespace: String,
    pub name: String,
    pub age_seconds: i64,
    pub legacy_tokens: Vec<LegacyToken>,
}

/// The page's data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ServiceAccounts {
    /// Sorted by namespace, then name.
    pub accounts: Vec<ServiceAccountRow>,
    /// Whether the user may mint tokens (create serviceaccounts/token, cluster-wide).
    pub may_mint: bool,
    /// Whether the user may create service accounts and bindings (the access form).
    pub may_grant: bool,
    /// Whether the user may replace legacy token Secrets (create and delete secrets).
    pub may_regenerate: bool,
    /// A fresh request ID for the page's next regeneration (see [`RegenerateToken`]).
    pub request_id: String,
}

/// A legacy token to regenerate; `{}` (or no body) will do.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RegenerateToken {
    /// Makes regenerating idempotent: the same request sent again by the same user (a retry
    /// after a lost answer, a double click) is answered with the token the first made while its
    /// Secret exists, never replaced again. 16 to 128 of letters, digits, `-`, `_`, `.`; a fresh
    /// one each time.
    pub request_id: Option<String>,
}

/// A token to mint for an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(
    feature = "ssr",
    derive(utoipa::ToSchema),
    schema(example = json!({"expirationSeconds": 3600}))
)]
pub struct NewToken {
    #[serde(default = "default_seconds")]
    pub expiration_seconds: u64,
}

fn default_seconds() -> u64 {
    DEFAULT_TOKEN_SECONDS
}

impl Default for NewToken {
    fn default() -> Self {
        NewToken {
            expiration_seconds: DEFAULT_TOKEN_SECONDS,
        }
    }
}

/// A token, shown once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct IssuedToken {
    pub namespace: String,
    pub service_account: String,
    pub token: String,
    /// When it stops working (RFC 3339); None for a legacy token, which does not expire.
    pub expires: Option<String>,
    /// The lifetime asked for and the one the cluster granted (it may shorten it); None for legacy.
    pub requested_seconds: Option<u64>,
    pub granted_seconds: Option<i64>,
    /// The kubectl command that does the same.
    pub kubectl: String,
}

/// The roles the access form grants: Kubernetes' user-facing ClusterRoles.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum GrantedRole {
    /// Read most objects in the namespace (not Secrets).
    View,
    /// Read and change most objects in the namespace.
    Edit,
    /// Everything in the namespace, including its RBAC.
    Admin,
    /// Everything in the cluster (the seeds' `dashboard-admin`).
    ClusterAdmin,
}

impl GrantedRole {
    /// The ClusterRole it binds.
    pub fn cluster_role(self) -> &'static str {
        self.into()
    }

    /// Whether it is bound cluster-wide (a ClusterRoleBinding) rather than in the namespace.
    pub fn cluster_wide(self) -> bool {
        self == GrantedRole::ClusterAdmin
    }
}

/// "Give a teammate access": a new service account bound to a role, and its first token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(
    feature = "ssr",
    derive(utoipa::ToSchema),
    schema(example = json!({"namespace": "ai", "name": "alice", "role": "edit", "expirationSeconds": 86400}))
)]
pub struct NewAccess {
    pub namespace: String,
    pub name: String,
    pub role: String,
    #[serde(default = "default_seconds")]
    pub expiration_seconds: u64,
}
