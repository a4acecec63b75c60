//! Sign-in, sessions and request guarding for the dashboard. A token is checked with a
//! SelfSubjectReview made with it ([`signin`]); the session (tower-sessions, server-side store)
//! holds it, and only an HttpOnly, SameSite=Strict cookie with the session id reaches the browser.
//! [`require_user`] lets through only login, health and static assets without a user, checks that
//! state-changing requests are same-origin, enforces idle timeout and absolute lifetime, and
//! re-checks the token with the cluster every minute, ending the session when the cluster says 401.
//! Scripts may send `Authorization: Bearer <token>` instead, checked the same way.

pub mod signin;

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::Form;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use frontend::backend::SignedInUser;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, Session, SessionManagerLayer};
use tower_sessions_moka_store::MokaStore;

use signin::{Identity, SignInError, check_token};

const SESSION_KEY: &str = "user";
pub const COOKIE_NAME: &str = "gpuboard_session";
/// How long a bearer-header token's check is reused.
const BEARER_CACHE_FOR: Duration = Duration::from_secs(60);
const BEARER_CACHE_MAX: u64 = 10_000;
/// A session's last activity is written at most this often (each write extends the store's expiry).
const TOUCH_EVERY: Duration = Duration::from_secs(30);
/// The header a script or page sends the session's CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// A form read to find its CSRF field is at most this long.
const MAX_FORM_BYTES: usize = 64 * 1024;
/// Sessions held at most; the store drops expired ones by itself and, past this, the least used.
const MAX_SESSIONS: u64 = 10_000;

/// How sessions behave.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// A session unused this long ends.
    pub idle_timeout: Duration,
    /// A session ends this long after sign-in, used or not.
    pub lifetime: Duration,
    /// Set the cookie's Secure attribute (served over HTTPS, behind TLS, or on loopback).
    pub secure_cookie: bool,
    /// Sign-in attempts allowed per client address per minute.
    pub signins_per_minute: u32,
    /// How often a session's token is checked again with the cluster (a revoked token ends the session).
    pub revalidate_every: Duration,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            idle_timeout: Duration::from_secs(30 * 60),
            lifetime: Duration::from_secs(12 * 3600),
            secure_cookie: true,
            signins_per_minute: 20,
            revalidate_every: Duration::from_secs(60),
        }
    }
}

/// What the session store holds for a signed-in user (server-side only).
#[derive(Clone, Serialize, Deserialize)]
struct StoredUser {
    username: String,
    groups: Vec<String>,
    token: String,
    csrf_token: String,
    signed_in_at_ms: i64,
    last_seen_ms: i64,
    verified_at_ms: i64,
}

/// Shared state of the auth layer.
pub struct Auth {
    cluster: kube::Config,
    settings: AuthSettings,
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    /// SHA-256 of a bearer-header token -> who it is, for [`BEARER_CACHE_FOR`].
    bearer_cache: moka::sync::Cache<[u8; 32], Identity>,
}

impl Auth {
    /// `cluster` is the server's own config: user clients use its URL and CA with the user's token.
    pub fn new(cluster: kube::Config, settings: AuthSettings) -> Arc<Self> {
        let per_minute =
            NonZeroU32::new(settings.signins_per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
        Arc::new(Auth {
            cluster,
            limiter: RateLimiter::keyed(Quota::per_minute(per_minute)),
            settings,
            bearer_cache: moka::sync::Cache::builder()
                .max_capacity(BEARER_CACHE_MAX)
                .time_to_live(BEARER_CACHE_FOR)
                .build(),
        })
    }

    /// The session layer: an in-memory store that evicts expired sessions (moka), cookie
    /// HttpOnly, SameSite=Strict, Secure as configured.
    pub fn session_layer(&self) -> SessionManagerLayer<MokaStore> {
        let idle = tower_sessions::cookie::time::Duration::seconds(
            self.settings.idle_timeout.as_secs() as i64,
        );
        SessionManagerLayer::new(MokaStore::new(Some(MAX_SESSIONS)))
            .with_name(COOKIE_NAME)
            .with_http_only(true)
            .with_same_site(SameSite::Strict)
            .with_secure(self.settings.secure_cookie)
            .with_path("/")
            .with_expiry(Expiry::OnInactivity(idle))
    }

    /// Checks a bearer-header token, reusing a recent answer for the same token.
    async fn bearer_identity(&self, token: &str) -> Result<Identity, SignInError> {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(identity) = self.bearer_cache.get(&key) {
            return Ok(identity);
        }
        let identity = check_token(&self.cluster, token).await?;
        self.bearer_cache.insert(key, identity.clone());
        Ok(identity)
    }
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

fn random_token() -> String {
    use rand::Rng;
    let bytes: [u8; 32] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether a state-changing request comes from a page of this site: `Sec-Fetch-Site`, else `Origin`
/// against `Host`. A cookie-carrying request with neither is refused.
pub fn is_same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return site == "same-origin" || site == "none";
    }
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    match (origin, host) {
        (Some(origin), Some(host)) => origin
            .split_once("://")
            .is_some_and(|(_, rest)| rest == host),
        _ => false,
    }
}

/// Whether a state-changing request carries the session's CSRF token, in an `X-CSRF-Token`
/// header or as the `csrf` field of a URL-encoded form. The request comes back whole (a form body
/// read to find the field is put back).
async fn carries_csrf_token(request: Request, expected: &str) -> (bool, Request) {
    if let Some(token) = request
        .headers()
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
    {
        return (constant_time_eq(token, expected), request);
    }
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return (false, request);
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_FORM_BYTES).await else {
        return (false, Request::from_parts(parts, axum::body::Body::empty()));
    };
    let carries = form_urlencoded::parse(&bytes)
        .any(|(name, value)| name == "csrf" && constant_time_eq(&value, expected));
    (
        carries,
        Request::from_parts(parts, axum::body::Body::from(bytes)),
    )
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Paths served without a user: the sign-in page and form, health, static assets.
fn is_public(path: &str) -> bool {
    matches!(path, "/login" | "/healthz" | "/favicon.ico") || path.starts_with("/pkg/")
}

/// Server functions and other API paths answer 401 instead of redirecting to the sign-in page.
fn is_api(path: &str) -> bool {
    path.starts_with("/api/")
}

fn unauthorized(path: &str, reason: &str) -> Response {
    if is_api(path) {
        (
            StatusCode::UNAUTHORIZED,
            [(header::CONTENT_TYPE, "application/json")],
            format!("{{\"error\":\"sign in first\",\"reason\":\"{reason}\"}}"),
        )
            .into_response()
    } else if reason.is_empty() {
        Redirect::to("/login").into_response()
    } else {
        Redirect::to(&format!("/login?reason={reason}")).into_response()
    }
}

#[derive(Deserialize)]
pub struct SignInForm {
    token: String,
}

/// `POST /login`: checks the token, renews the session id, stores the user, goes to `/`.
pub async fn login(
    State(auth): State<Arc<Auth>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    session: Session,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    let refuse = |code: &str| Redirect::to(&format!("/login?error={code}")).into_response();
    if !is_same_origin(&headers) {
        return refuse("cross-site");
    }
    if auth.limiter.check_key(&peer.ip()).is_err() {
        tracing::warn!(client = %peer.ip(), "sign-in rate limit reached");
        return refuse(SignInError::RateLimited.code());
    }
    let identity = match check_token(&auth.cluster, &form.token).await {
        Ok(identity) => identity,
        Err(e) => {
            tracing::info!(client = %peer.ip(), refusal = %e, "sign-in refused");
            return refuse(e.code());
        }
    };
    // A new session id at sign-in: a session id planted before sign-in is worth nothing after it.
    if let Err(e) = session.cycle_id().await {
        tracing::error!(error = %e, "cannot renew the session id");
        return refuse("unreachable");
    }
    let now = now_ms();
    let user = StoredUser {
        username: identity.username.clone(),
        groups: identity.groups,
        token: form.token.trim().to_string(),
        csrf_token: random_token(),
        signed_in_at_ms: now,
        last_seen_ms: now,
        verified_at_ms: now,
    };
    if let Err(e) = session.insert(SESSION_KEY, user).await {
        tracing::error!(error = %e, "cannot store the session");
        return refuse("unreachable");
    }
    tracing::info!(user = %identity.username, client = %peer.ip(), "signed in");
    Redirect::to("/").into_response()
}

/// `POST /logout`: destroys the session. [`require_user`] has already refused the request
/// unless it came from this site with the session's CSRF token.
pub async fn logout(session: Session) -> Response {
    match session.get::<StoredUser>(SESSION_KEY).await.ok().flatten() {
        Some(user) => {
            let _ = session.flush().await;
            tracing::info!(user = %user.username, "signed out");
            Redirect::to("/login?reason=signed-out").into_response()
        }
        None => Redirect::to("/login").into_response(),
    }
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Why a stored session can no longer be used, if it cannot.
fn session_end_reason(
    user: &StoredUser,
    settings: &AuthSettings,
    now: i64,
) -> Option<&'static str> {
    if now - user.signed_in_at_ms > settings.lifetime.as_millis() as i64 {
        Some("expired")
    } else if now - user.last_seen_ms > settings.idle_timeout.as_millis() as i64 {
        Some("idle")
    } else {
        None
    }
}

/// The guard in front of every route: finds the user (bearer header or session) and puts a
/// [`SignedInUser`] into the request, or refuses.
pub async fn require_user(
    State(auth): State<Arc<Auth>>,
    session: Session,
    mut request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_string();
    if is_public(&path) {
        return next.run(request).await;
    }
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_string());
    if let Some(token) = bearer {
        return match auth.bearer_identity(&token).await {
            Ok(identity) => {
                request.extensions_mut().insert(SignedInUser::new(
                    identity.username,
                    identity.groups,
                    String::new(),
                    &token,
                ));
                next.run(request).await
            }
            Err(e) => (
                StatusCode::UNAUTHORIZED,
                [(header::CONTENT_TYPE, "application/json")],
                format!("{{\"error\":\"{}\"}}", e.code()),
            )
                .into_response(),
        };
    }
    if !is_safe(request.method()) && !is_same_origin(request.headers()) {
        return (
            StatusCode::FORBIDDEN,
            "refused: a state-changing request from another site\n",
        )
            .into_response();
    }
    let Some(mut user) = session.get::<StoredUser>(SESSION_KEY).await.ok().flatten() else {
        return unauthorized(&path, "");
    };
    let now = now_ms();
    if let Some(reason) = session_end_reason(&user, &auth.settings, now) {
        let _ = session.flush().await;
        return unauthorized(&path, reason);
    }
    let mut changed = false;
    if now - user.verified_at_ms >= auth.settings.revalidate_every.as_millis() as i64 {
        match check_token(&auth.cluster, &user.token).await {
            Ok(_) => {
                user.verified_at_ms = now;
                changed = true;
            }
            Err(SignInError::Unreachable(e)) => {
                tracing::warn!(error = %e, "cannot re-check a session's token; keeping the session")
            }
            Err(_) => {
                tracing::info!(user = %user.username, "the cluster no longer accepts this session's token; session ended");
                let _ = session.flush().await;
                return unauthorized(&path, "revoked");
            }
        }
    }
    if now - user.last_seen_ms > TOUCH_EVERY.as_millis() as i64 {
        user.last_seen_ms = now;
        changed = true;
    }
    if changed {
        let _ = session.insert(SESSION_KEY, user.clone()).await;
    }
    if !is_safe(request.method()) {
        let (carries, checked) = carries_csrf_token(request, &user.csrf_token).await;
        if !carries {
            return (
                StatusCode::FORBIDDEN,
                "refused: a state-changing request must carry this session's CSRF token (reload the page)\n",
            )
                .into_response();
        }
        request = checked;
    }
    request.extensions_mut().insert(SignedInUser::new(
        user.username,
        user.groups,
        user.csrf_token,
        &user.token,
    ));
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn same_origin_is_decided_by_fetch_metadata_then_origin() {
        assert!(is_same_origin(&headers(&[(
            "sec-fetch-site",
            "same-origin"
        )])));
        assert!(!is_same_origin(&headers(&[
            ("sec-fetch-site", "cross-site"),
            ("origin", "http://a:1"),
            ("host", "a:1")
        ])));
        assert!(is_same_origin(&headers(&[
            ("origin", "http://127.0.0.1:3000"),
            ("host", "127.0.0.1:3000")
        ])));
        assert!(!is_same_origin(&headers(&[
            ("origin", "http://evil.example"),
            ("host", "127.0.0.1:3000")
        ])));
        assert!(!is_same_origin(&headers(&[("host", "127.0.0.1:3000")])));
    }

    #[test]
    fn only_login_health_and_assets_are_public() {
        for p in ["/login", "/healthz", "/pkg/gpuboard.wasm", "/favicon.ico"] {
            assert!(is_public(p), "{p}");
        }
        for p in ["/", "/nodes", "/api/list_nodes", "/logout", "/login/../"] {
            assert!(!is_public(p), "{p}");
        }
    }

    #[test]
    fn sessions_end_when_idle_or_too_old() {
        let settings = AuthSettings {
            idle_timeout: Duration::from_secs(60),
            lifetime: Duration::from_secs(3600),
            ..Default::default()
        };
        let user = StoredUser {
            username: "u".into(),
            groups: vec![],
            token: "t".into(),
            csrf_token: "c".into(),
            signed_in_at_ms: 0,
            last_seen_ms: 0,
            verified_at_ms: 0,
        };
        assert_eq!(session_end_reason(&user, &settings, 30_000), None);
        assert_eq!(session_end_reason(&user, &settings, 61_000), Some("idle"));
        let busy = StoredUser {
            last_seen_ms: 3_600_500,
            ..user
        };
        assert_eq!(
            session_end_reason(&busy, &settings, 3_601_000),
            Some("expired")
        );
    }

    #[test]
    fn csrf_tokens_compare_whole() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "ab"));
        assert_eq!(random_token().len(), 64);
        assert_ne!(random_token(), random_token());
    }
}
