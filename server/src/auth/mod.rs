//! Sign-in and sessions for the dashboard. A token is checked with a SelfSubjectReview made with
//! it ([`signin`]); the session (tower-sessions, server-side store) holds it, and only an
//! HttpOnly, SameSite=Strict cookie with the session id reaches the browser. [`guard`] stands in
//! front of every route: it finds the user (session or `Authorization: Bearer`), ends sessions
//! that are too old, idle or revoked, and refuses state-changing requests from other sites or
//! without the session's CSRF token.

pub mod attempts;
pub mod guard;
pub mod signin;
pub mod store;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Form;
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use frontend::contract::{SessionEnd, SignInRefusal};
use serde::{Deserialize, Serialize};
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, Session, SessionManagerLayer, SessionStore};

use crate::cluster::clients::{UserClients, token_key};
use attempts::{Client, FailedAttempts, TrustedProxies};
use signin::{Identity, SignInError, check_token};
use store::{SessionBackend, Sessions};

const SESSION_KEY: &str = "user";
/// The session cookie's name. `__Host-`: browsers take it only Secure, host-only and on `/`, so
/// a sibling host of the same site cannot plant one.
pub const COOKIE_NAME: &str = "__Host-gpuboard_session";
/// How long a bearer-header token's check is reused.
const BEARER_CACHE_FOR: Duration = Duration::from_secs(60);
const BEARER_CACHE_MAX: u64 = 10_000;
/// Token checks with the cluster at once, at most (sign-ins, new bearer tokens and sessions'
/// re-checks); more wait.
const MAX_CONCURRENT_CHECKS: usize = 32;

/// How sessions behave.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// A session unused this long ends.
    pub idle_timeout: Duration,
    /// A session ends this long after sign-in, used or not.
    pub lifetime: Duration,
    /// Failed token checks (sign-in form or bearer header) allowed per client per minute.
    pub signins_per_minute: u32,
    /// Proxies in front whose `X-Forwarded-For` names the client.
    pub trusted_proxies: TrustedProxies,
    /// Sessions held at most; past it, sign-in is refused with a message.
    pub max_sessions: u64,
    /// Where sessions live: this process's memory, or a Redis the replicas share.
    pub session_backend: SessionBackend,
    /// How often a session's token is checked again with the cluster (a revoked token ends the session).
    pub revalidate_every: Duration,
    /// How long a session lives on while its token cannot be checked (the cluster unreachable,
    /// or answering neither yes nor no) before it ends.
    pub unverified_grace: Duration,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            idle_timeout: Duration::from_secs(30 * 60),
            lifetime: Duration::from_secs(12 * 3600),
            signins_per_minute: 20,
            trusted_proxies: TrustedProxies::default(),
            max_sessions: 10_000,
            session_backend: SessionBackend::Memory,
            revalidate_every: Duration::from_secs(60),
            unverified_grace: Duration::from_secs(5 * 60),
        }
    }
}

/// What the session store holds for a signed-in user (server-side only; no `Debug`, so it is
/// never printed).
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
    clients: Arc<UserClients>,
    settings: AuthSettings,
    attempts: FailedAttempts,
    checks: tokio::sync::Semaphore,
    sessions: Sessions,
    /// SHA-256 of a bearer-header token -> who it is, or why it was refused, for
    /// [`BEARER_CACHE_FOR`]: a refused token is not sent to the cluster again meanwhile.
    bearer_cache: moka::sync::Cache<[u8; 32], Result<Identity, SignInRefusal>>,
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// 32 random bytes as hex: a CSRF token.
fn random_token() -> String {
    crate::hex::random::<32>()
}

impl Auth {
    /// Tokens are checked with `clients`, which act as the token's holder. Err: the session
    /// store cannot be set up.
    pub fn new(
        clients: Arc<UserClients>,
        settings: AuthSettings,
    ) -> Result<Arc<Self>, tower_sessions::session_store::Error> {
        let sessions = Sessions::new(
            &settings.session_backend,
            settings.max_sessions,
            settings.lifetime,
        )?;
        Ok(Arc::new(Auth {
            clients,
            attempts: FailedAttempts::new(settings.signins_per_minute),
            checks: tokio::sync::Semaphore::new(MAX_CONCURRENT_CHECKS),
            sessions,
            settings,
            bearer_cache: moka::sync::Cache::builder()
                .max_capacity(BEARER_CACHE_MAX)
                .time_to_live(BEARER_CACHE_FOR)
                .build(),
        }))
    }

    /// The session layer: the [`Sessions`] store, cookie HttpOnly, SameSite=Strict,
    /// Secure (every transport is HTTPS to the browser, or loopback, where browsers keep Secure
    /// cookies over plain HTTP).
    pub fn session_layer(&self) -> SessionManagerLayer<Sessions> {
        let idle = tower_sessions::cookie::time::Duration::seconds(
            self.settings.idle_timeout.as_secs() as i64,
        );
        SessionManagerLayer::new(self.sessions.clone())
            .with_name(COOKIE_NAME)
            .with_http_only(true)
            .with_same_site(SameSite::Strict)
            .with_secure(true)
            .with_path("/")
            .with_expiry(Expiry::OnInactivity(idle))
    }

    /// The client a request from `peer` with `headers` comes from (behind trusted proxies, the
    /// one they name).
    pub fn client_of(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        self.settings.trusted_proxies.client_of(peer, headers)
    }

    /// Checks `token` with the cluster for `client`, unless the client has failed too often; a
    /// refusal counts against it (an unreachable cluster does not).
    async fn check(&self, client: IpAddr, token: &str) -> Result<Identity, SignInError> {
        let client = Client::from(client);
        // Counted before the check, so guesses sent at once are bounded too; a good token or
        // an unreachable cluster takes its count back.
        if !self.attempts.begin(client) {
            return Err(SignInError::RateLimited);
        }
        let result = self.check_in_turn(token).await;
        if matches!(result, Ok(_) | Err(SignInError::Unreachable(_))) {
            self.attempts.forgive(client);
        }
        result
    }

    /// Asks the cluster about `token` (a TokenReview), waiting its turn among the checks at once
    /// ([`MAX_CONCURRENT_CHECKS`]): sign-ins, new bearer tokens and sessions' re-checks alike.
    async fn check_in_turn(&self, token: &str) -> Result<Identity, SignInError> {
        let _turn = self.checks.acquire().await;
        check_token(&self.clients, token).await
    }

    /// Checks a bearer-header token, reusing a recent answer (either way) for the same token.
    async fn bearer_identity(
        &self,
        client: IpAddr,
        token: &str,
    ) -> Result<Identity, SignInRefusal> {
        let key = token_key(token);
        if let Some(answer) = self.bearer_cache.get(&key) {
            return answer;
        }
        let answer = self.check(client, token).await.map_err(|e| e.refusal());
        if matches!(
            answer,
            Ok(_) | Err(SignInRefusal::Rejected | SignInRefusal::Anonymous)
        ) {
            self.bearer_cache.insert(key, answer.clone());
        }
        answer
    }
}

/// Why a stored session can no longer be used, if it cannot.
fn session_end(user: &StoredUser, settings: &AuthSettings, now: i64) -> Option<SessionEnd> {
    if now - user.signed_in_at_ms > settings.lifetime.as_millis() as i64 {
        Some(SessionEnd::Expired)
    } else if now - user.last_seen_ms > settings.idle_timeout.as_millis() as i64 {
        Some(SessionEnd::Idle)
    } else {
        None
    }
}

/// The sign-in page with the reason the last session ended, if given; a session that ended
/// also has its cookie removed. The session layer's own removal is not enough: it lacks
/// `Secure`, and browsers ignore a `__Host-` cookie's removal without it.
fn to_login(ended: Option<SessionEnd>) -> Response {
    let Some(reason) = ended else {
        return Redirect::to("/login").into_response();
    };
    let word: &str = reason.into();
    let mut response = Redirect::to(&format!("/login?reason={word}")).into_response();
    let removal = tower_sessions::cookie::Cookie::build((COOKIE_NAME, ""))
        .path("/")
        .http_only(true)
        .secure(true)
        .same_site(SameSite::Strict)
        .max_age(tower_sessions::cookie::time::Duration::ZERO)
        .build();
    if let Ok(value) = axum::http::HeaderValue::from_str(&removal.to_string()) {
        response
            .headers_mut()
            .append(axum::http::header::SET_COOKIE, value);
    }
    response
}

fn refused(refusal: SignInRefusal) -> Response {
    let word: &str = refusal.into();
    Redirect::to(&format!("/login?error={word}")).into_response()
}

#[derive(Deserialize)]
/// The sign-in form: the pasted token.
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
    if !guard::is_same_origin(&headers) {
        return refused(SignInRefusal::CrossSite);
    }
    let client = auth.client_of(peer.ip(), &headers);
    match auth.sessions.is_full().await {
        Ok(false) => {}
        Ok(true) => {
            tracing::error!(
                sessions = auth.settings.max_sessions,
                "sign-in refused: the session store is full (raise --max-sessions)"
            );
            return refused(SignInRefusal::SessionsFull);
        }
        Err(e) => {
            tracing::error!(error = %e, "sign-in refused: the session store cannot be reached");
            return refused(SignInRefusal::StoreUnreachable);
        }
    }
    let identity = match auth.check(client, &form.token).await {
        Ok(identity) => identity,
        Err(e) => {
            tracing::info!(client = %client, refusal = %e, "sign-in refused");
            return refused(e.refusal());
        }
    };
    // A new session id at sign-in: a session id planted before sign-in is worth nothing after it.
    if let Err(e) = session.cycle_id().await {
        tracing::error!(error = %e, "cannot renew the session id");
        return refused(SignInRefusal::StoreUnreachable);
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
    // Saved now, not after the answer, so a refusal by the store reaches this user.
    if let Err(e) = session.insert(SESSION_KEY, user).await {
        tracing::error!(error = %e, "cannot store the session");
        return refused(SignInRefusal::StoreUnreachable);
    }
    if let Err(e) = session.save().await {
        tracing::error!(error = %e, "sign-in refused: the session was not stored");
        // Emptied, so the session layer does not try (and fail) to store it again.
        let _ = session.flush().await;
        return refused(store_refusal(&auth.sessions).await);
    }
    tracing::info!(user = %identity.username, client = %client, "signed in");
    Redirect::to("/").into_response()
}

/// Why the store refused a new session: full, or (a shared store) not reachable.
async fn store_refusal(sessions: &Sessions) -> SignInRefusal {
    match (sessions, sessions.is_full().await) {
        (_, Ok(true)) | (Sessions::Memory(_), _) => SignInRefusal::SessionsFull,
        (Sessions::Redis(_), _) => SignInRefusal::StoreUnreachable,
    }
}

/// `POST /logout`: destroys the session. The guard has already refused the request unless it
/// came from this site with the session's CSRF token.
pub async fn logout(State(auth): State<Arc<Auth>>, session: Session) -> Response {
    let (Some(user), Some(id)) = (
        session.get::<StoredUser>(SESSION_KEY).await.ok().flatten(),
        session.id(),
    ) else {
        return to_login(None);
    };
    tracing::info!(user = %user.username, "signed out");
    auth.end_session(id).await;
    to_login(Some(SessionEnd::SignedOut))
}

impl Auth {
    /// Ends session `id` in the store; while the store cannot be reached, keeps trying in the
    /// background, for as long as the session could otherwise live unused.
    async fn end_session(&self, id: tower_sessions::session::Id) {
        if let Err(e) = self.sessions.delete(&id).await {
            tracing::error!(error = %e, "sign-out could not end the session in its store; trying again in the background");
            let (sessions, idle) = (self.sessions.clone(), self.settings.idle_timeout);
            tokio::spawn(async move {
                let deadline = tokio::time::Instant::now() + idle;
                let mut wait = Duration::from_secs(1);
                while tokio::time::Instant::now() < deadline {
                    tokio::time::sleep(wait).await;
                    if sessions.delete(&id).await.is_ok() {
                        tracing::info!("a signed-out session has now ended in its store");
                        return;
                    }
                    wait = (wait * 2).min(Duration::from_secs(30));
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(session_end(&user, &settings, 30_000), None);
        assert_eq!(
            session_end(&user, &settings, 61_000),
            Some(SessionEnd::Idle)
        );
        let busy = StoredUser {
            last_seen_ms: 3_600_500,
            ..user
        };
        assert_eq!(
            session_end(&busy, &settings, 3_601_000),
            Some(SessionEnd::Expired)
        );
    }

    #[test]
    fn csrf_tokens_are_long_and_fresh() {
        assert_eq!(random_token().len(), 64);
        assert_ne!(random_token(), random_token());
    }

    #[test]
    fn refusals_and_ends_redirect_with_their_words() {
        let location = |r: Response| {
            r.headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .map(String::from)
        };
        assert_eq!(
            location(refused(SignInRefusal::RateLimited)).as_deref(),
            Some("/login?error=rate-limited")
        );
        assert_eq!(
            location(to_login(Some(SessionEnd::SignedOut))).as_deref(),
            Some("/login?reason=signed-out")
        );
        assert_eq!(location(to_login(None)).as_deref(), Some("/login"));
        let set_cookie = |r: Response| {
            r.headers()
                .get(axum::http::header::SET_COOKIE)
                .and_then(|v| v.to_str().ok())
                .map(String::from)
        };
        let removal = set_cookie(to_login(Some(SessionEnd::Idle))).expect("a removal");
        assert!(
            removal.starts_with(&format!("{COOKIE_NAME}=;"))
                && removal.contains("Max-Age=0")
                && removal.contains("Secure"),
            "{removal}"
        );
        assert_eq!(set_cookie(to_login(None)), None, "no session, no removal");
    }
}
