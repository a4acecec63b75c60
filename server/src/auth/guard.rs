//! The guard in front of every route ([`require_user`]): only sign-in, health and static assets
//! pass without a user. It finds the user ([`authenticate`]: a bearer header, else the session,
//! which it ends when too old, idle or no longer accepted by the cluster), and refuses a
//! state-changing request from another site or without the session's CSRF token
//! ([`require_csrf`]). The user goes into the request as a [`SignedInUser`] for handlers and
//! server functions.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use frontend::backend::SignedInUser;
use frontend::contract::{PageError, SessionEnd, SignInRefusal};
use subtle::ConstantTimeEq;
use tower_sessions::Session;

use super::signin::SignInError;
use super::{Auth, SESSION_KEY, StoredUser, now_ms, refused, session_end, to_login};
use crate::api::{ApiError, Reason};

/// A session's last activity is written at most this often (each write extends the store's expiry).
const TOUCH_EVERY: Duration = Duration::from_secs(30);
/// The header a script or page sends the session's CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// A form read to find its CSRF field is at most this long.
const MAX_FORM_BYTES: usize = 64 * 1024;

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

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Paths served without a user: the sign-in page and form, health, static assets.
pub fn is_public(path: &str) -> bool {
    matches!(path, "/login" | "/healthz" | "/favicon.ico") || path.starts_with("/pkg/")
}

/// Server functions and the JSON API answer 401 instead of redirecting to the sign-in page.
fn is_api(path: &str) -> bool {
    path.starts_with("/api/")
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// The challenge every 401 of the guard carries (RFC 9110 asks one of each 401); a handler's
/// own 401 carries none, which is how the access tests tell the two apart.
const CHALLENGE: (header::HeaderName, &str) =
    (header::WWW_AUTHENTICATE, "Bearer realm=\"gpuboard\"");

/// No user: for the JSON API, 401 with JSON; for a page's server function, 401 with the
/// [`PageError`] the page shows ("your session has ended"); else the sign-in page (saying why
/// the session ended).
fn unauthorized(path: &str, ended: Option<SessionEnd>) -> Response {
    if path.starts_with("/api/v1/") {
        let message = match ended {
            Some(ended) => {
                let word: &str = ended.into();
                format!("the session ended ({word}): send Authorization: Bearer <token>")
            }
            None => "sign in first: send Authorization: Bearer <token>".to_string(),
        };
        with_challenge(ApiError::new(
            StatusCode::UNAUTHORIZED,
            Reason::Unauthorized,
            message,
        ))
    } else if is_api(path) {
        with_challenge((StatusCode::UNAUTHORIZED, axum::Json(PageError::SignedOut)).into_response())
    } else {
        to_login(ended)
    }
}

/// The session store could not be read (Redis away): the JSON API's 503, a page's server
/// function's [`PageError`], else the sign-in page saying why. The session itself stands.
fn store_unreachable(path: &str) -> Response {
    const WHY: &str = "the session store (Redis) cannot be reached: retry in a moment";
    if path.starts_with("/api/v1/") {
        // Scripts can do without a session.
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            Reason::ServiceUnavailable,
            format!("{WHY}, or send Authorization: Bearer <token>"),
        )
        .into_response()
    } else if is_api(path) {
        // The dashboard's own store failed, not the cluster: a page says so as its own error.
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(PageError::Server(WHY.to_string())),
        )
            .into_response()
    } else {
        refused(SignInRefusal::StoreUnreachable)
    }
}

/// A refusal, with the challenge when it is a 401.
fn with_challenge(refusal: impl IntoResponse) -> Response {
    let mut response = refusal.into_response();
    if response.status() == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            CHALLENGE.0,
            axum::http::HeaderValue::from_static(CHALLENGE.1),
        );
    }
    response
}

/// A bearer header's token refused, in the JSON API's error shape (whatever the path).
fn bearer_refused(refusal: SignInRefusal) -> Response {
    let (status, reason, message) = match refusal {
        SignInRefusal::RateLimited => (
            StatusCode::TOO_MANY_REQUESTS,
            Reason::TooManyRequests,
            "too many failed attempts with tokens from this client: wait a minute",
        ),
        SignInRefusal::Unreachable => (
            StatusCode::SERVICE_UNAVAILABLE,
            Reason::ServiceUnavailable,
            "the cluster could not be reached to check the token",
        ),
        SignInRefusal::Anonymous => (
            StatusCode::UNAUTHORIZED,
            Reason::Unauthorized,
            "the token signs in as an anonymous user",
        ),
        SignInRefusal::Empty => (
            StatusCode::UNAUTHORIZED,
            Reason::Unauthorized,
            "the Authorization header has no token after \"Bearer \"",
        ),
        // A bearer token needs no session, so the store's state never refuses one.
        SignInRefusal::Rejected
        | SignInRefusal::CrossSite
        | SignInRefusal::SessionsFull
        | SignInRefusal::StoreUnreachable => (
            StatusCode::UNAUTHORIZED,
            Reason::Unauthorized,
            "the cluster does not accept the token",
        ),
    };
    with_challenge(ApiError::new(status, reason, message))
}

/// A refused change: for the JSON API in its error shape, else in words.
fn forbidden(path: &str, why: &'static str) -> Response {
    if path.starts_with("/api/v1/") {
        ApiError::new(StatusCode::FORBIDDEN, Reason::Forbidden, why.trim_end()).into_response()
    } else {
        (StatusCode::FORBIDDEN, why).into_response()
    }
}

/// The token of an `Authorization: Bearer` header.
fn bearer_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(|t| t.trim().to_string())
}

/// Who the request acts for: the bearer header's token (scripts), else the session's user.
/// A refusal is the response to send.
async fn authenticate(
    auth: &Auth,
    session: &Session,
    request: &axum::http::request::Parts,
) -> Result<SignedInUser, Response> {
    let path = request.uri.path();
    if let Some(token) = bearer_token(&request.headers) {
        let peer = request
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map_or(std::net::IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
        let client = auth.client_of(peer, &request.headers);
        return match auth.bearer_identity(client, &token).await {
            Ok(identity) => Ok(SignedInUser::new(
                identity.username,
                identity.groups,
                String::new(),
                &token,
            )),
            Err(refusal) => Err(bearer_refused(refusal)),
        };
    }
    if !is_safe(&request.method) && !is_same_origin(&request.headers) {
        // Without a session there is nothing to protect from the other site: say so (401).
        if !matches!(session.get::<StoredUser>(SESSION_KEY).await, Ok(Some(_))) {
            return Err(unauthorized(path, None));
        }
        return Err(forbidden(
            path,
            "refused: a state-changing request from another site\n",
        ));
    }
    let user = match session_user(auth, session).await {
        Ok(user) => user,
        Err(NoUser::Ended(ended)) => return Err(unauthorized(path, ended)),
        // A sign-out (from this site, as checked above) while the store cannot be read: the
        // browser drops its cookie now, the store ends the session once it is back.
        Err(NoUser::StoreUnreachable) if path == "/logout" && request.method == Method::POST => {
            if let Some(id) = session.id() {
                auth.end_session(id).await;
            }
            return Err(to_login(Some(SessionEnd::SignedOut)));
        }
        Err(NoUser::StoreUnreachable) => return Err(store_unreachable(path)),
    };
    Ok(SignedInUser::new(
        user.username,
        user.groups,
        user.csrf_token,
        &user.token,
    ))
}

/// Why a request has no session user.
enum NoUser {
    /// The session ended (and why), or there is none.
    Ended(Option<SessionEnd>),
    /// The session store could not be read.
    StoreUnreachable,
}

/// The session's user, once it is known to be still good: not older than the lifetime, not idle
/// too long, and its token accepted by the cluster when last asked (every `revalidate_every`).
async fn session_user(auth: &Auth, session: &Session) -> Result<StoredUser, NoUser> {
    let mut user = match session.get::<StoredUser>(SESSION_KEY).await {
        Ok(Some(user)) => user,
        Err(tower_sessions::session::Error::Store(e)) => {
            tracing::error!(error = %e, "cannot read a session: the session store failed");
            return Err(NoUser::StoreUnreachable);
        }
        // None, or a record this version cannot read: signed out.
        Ok(None) | Err(_) => return Err(NoUser::Ended(None)),
    };
    let now = now_ms();
    if let Some(ended) = session_end(&user, &auth.settings, now) {
        let _ = session.flush().await;
        return Err(NoUser::Ended(Some(ended)));
    }
    let mut changed = false;
    if now - user.verified_at_ms >= auth.settings.revalidate_every.as_millis() as i64 {
        let answer = auth.check_in_turn(&user.token).await.map(|_| ());
        match recheck(
            answer,
            now - user.verified_at_ms,
            auth.settings.unverified_grace,
        ) {
            Recheck::Verified => {
                user.verified_at_ms = now;
                changed = true;
            }
            Recheck::KeepForNow(why) => {
                tracing::warn!(error = %why, "cannot re-check a session's token; keeping the session for now")
            }
            Recheck::End(ended) => {
                tracing::info!(user = %user.username, ?ended, "the session's token is no longer accepted or could not be checked in time; session ended");
                let _ = session.flush().await;
                return Err(NoUser::Ended(Some(ended)));
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
    Ok(user)
}

/// What a session's re-check decides.
#[derive(Debug, PartialEq)]
enum Recheck {
    Verified,
    /// The cluster could not answer; the session lives on within the grace.
    KeepForNow(String),
    End(SessionEnd),
}

/// Decides a re-check from the cluster's `answer`, `since_ms` after the token was last verified.
fn recheck(answer: Result<(), SignInError>, since_ms: i64, grace: Duration) -> Recheck {
    match answer {
        Ok(()) => Recheck::Verified,
        Err(SignInError::Unreachable(why)) if since_ms <= grace.as_millis() as i64 => {
            Recheck::KeepForNow(why)
        }
        Err(SignInError::Unreachable(_)) => Recheck::End(SessionEnd::Unverified),
        Err(_) => Recheck::End(SessionEnd::Revoked),
    }
}

/// Lets a state-changing request through only with the session's CSRF token, in an
/// `X-CSRF-Token` header or as the `csrf` field of a URL-encoded form (a form body read to find
/// it is put back whole).
async fn require_csrf(request: Request, expected: &str) -> Result<Request, Response> {
    let path = request.uri().path().to_owned();
    let refusal = || {
        forbidden(
            &path,
            "refused: a state-changing request must carry this session's CSRF token (reload the page)\n",
        )
    };
    if let Some(token) = request
        .headers()
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
    {
        return if constant_time_eq(token, expected) {
            Ok(request)
        } else {
            Err(refusal())
        };
    }
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(refusal());
    }
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
        .await
        .map_err(|_| refusal())?;
    let carries = form_urlencoded::parse(&bytes)
        .any(|(name, value)| name == "csrf" && constant_time_eq(&value, expected));
    if carries {
        Ok(Request::from_parts(parts, axum::body::Body::from(bytes)))
    } else {
        Err(refusal())
    }
}

/// The guard in front of every route: finds the user (bearer header or session) and puts a
/// [`SignedInUser`] into the request, or refuses.
pub async fn require_user(
    State(auth): State<Arc<Auth>>,
    session: Session,
    request: Request,
    next: Next,
) -> Response {
    if is_public(request.uri().path()) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let user = match authenticate(&auth, &session, &parts).await {
        Ok(user) => user,
        Err(refusal) => return refusal,
    };
    let request = Request::from_parts(parts, body);
    // Bearer-header requests carry no ambient credential: no CSRF token is needed (or issued).
    let mut request = if is_safe(request.method()) || user.csrf_token.is_empty() {
        request
    } else {
        match require_csrf(request, &user.csrf_token).await {
            Ok(request) => request,
            Err(refusal) => return refusal,
        }
    };
    request.extensions_mut().insert(user);
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().expect("a header value"));
        }
        h
    }

    #[test]
    fn an_unanswered_recheck_keeps_the_session_only_within_the_grace() {
        let grace = Duration::from_secs(300);
        let down = || Err(SignInError::Unreachable("connection refused".into()));
        assert_eq!(recheck(Ok(()), 900_000, grace), Recheck::Verified);
        assert_eq!(
            recheck(down(), 299_000, grace),
            Recheck::KeepForNow("connection refused".into())
        );
        assert_eq!(
            recheck(down(), 301_000, grace),
            Recheck::End(SessionEnd::Unverified)
        );
        assert_eq!(
            recheck(Err(SignInError::Rejected), 1_000, grace),
            Recheck::End(SessionEnd::Revoked)
        );
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
    fn csrf_tokens_compare_whole() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "ab"));
    }
}
