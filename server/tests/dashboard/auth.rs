//! Sign-in and sessions through the dashboard's real router against a started sim: which tokens
//! sign in, the cookie, CSRF and same-origin checks on state-changing requests, bearer headers,
//! revocation and the sign-in rate limit.

use std::time::Duration;

use gpuboard::DashboardSettings;
use gpuboard::auth::AuthSettings;
use gpuboard::auth::signin::{SignInError, check_token};
use gpuboard::cluster::clients::UserClients;
use gpuboard_testkit::http::{form, request};
use k8s_openapi::api::authentication::v1::TokenRequest;
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::json;

use super::{csrf_of, origin, sign_in, sim_config, start_dashboard, start_sim};

fn with_auth(auth: AuthSettings) -> DashboardSettings {
    DashboardSettings {
        auth,
        ..Default::default()
    }
}

/// A fresh service account in kube-system with a minted token.
async fn service_account_token(client: &kube::Client, name: &str) -> String {
    let sas: Api<ServiceAccount> = Api::namespaced(client.clone(), "kube-system");
    sas.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": name}})).unwrap(),
    )
    .await
    .unwrap();
    let request: TokenRequest =
        serde_json::from_value(json!({"spec": {"audiences": [], "expirationSeconds": 3600}}))
            .unwrap();
    let minted = sas
        .create_token_request(name, &PostParams::default(), &request)
        .await
        .expect("TokenRequest");
    minted.status.and_then(|s| s.token).expect("token")
}

#[tokio::test]
async fn sign_in_decisions_against_the_cluster() {
    let sim = start_sim().await;
    let clients = UserClients::new(sim_config(&sim).await);
    assert_eq!(
        check_token(&clients, &sim.admin_token)
            .await
            .expect("the admin token")
            .username,
        "kubernetes-admin"
    );
    assert_eq!(check_token(&clients, "").await, Err(SignInError::Empty));
    assert_eq!(
        check_token(&clients, "garbage-token").await,
        Err(SignInError::Rejected)
    );
    let client = gpuboard_testkit::client_for(&sim.kubeconfig).await;
    let token = service_account_token(&client, "alice").await;
    let who = check_token(&clients, &token).await.expect("alice's token");
    assert_eq!(who.username, "system:serviceaccount:kube-system:alice");
    assert!(who.groups.iter().any(|g| g == "system:serviceaccounts"));
}

#[tokio::test]
async fn a_session_is_made_only_for_a_good_token_and_its_cookie_is_locked_down() {
    let sim = start_sim().await;
    let addr = start_dashboard(&sim, DashboardSettings::default()).await;

    let page = request(addr, "GET", "/", &[], "").await;
    assert_eq!(
        (page.status, page.header("location").as_deref()),
        (303, Some("/login"))
    );
    let api = request(addr, "GET", "/api/list_nodes", &[], "").await;
    assert_eq!(
        api.status, 401,
        "server functions answer 401, not a redirect"
    );
    // ... with the error the page shows ("your session has ended"), and the guard's challenge.
    assert_eq!(
        serde_json::from_str::<frontend::contract::PageError>(&api.body).ok(),
        Some(frontend::contract::PageError::SignedOut),
        "{}",
        api.body
    );
    assert!(api.header("www-authenticate").is_some());
    assert_eq!(request(addr, "GET", "/healthz", &[], "").await.status, 200);
    assert_eq!(request(addr, "GET", "/login", &[], "").await.status, 200);

    let wrong = request(addr, "POST", "/login", &[origin(addr)], "token=wrong").await;
    assert_eq!(
        wrong.header("location").as_deref(),
        Some("/login?error=rejected")
    );
    assert_eq!(wrong.session_cookie(), None, "no session for a wrong token");

    let good_form = form(&[("token", &sim.admin_token)]);
    let cross = request(
        addr,
        "POST",
        "/login",
        &["Origin: http://evil.example".into()],
        &good_form,
    )
    .await;
    assert_eq!(
        cross.header("location").as_deref(),
        Some("/login?error=cross-site")
    );
    assert_eq!(cross.session_cookie(), None);

    let good = request(addr, "POST", "/login", &[origin(addr)], &good_form).await;
    assert_eq!(good.header("location").as_deref(), Some("/"));
    let set_cookie = good.header("set-cookie").expect("a session cookie");
    assert!(
        set_cookie.starts_with("__Host-gpuboard_session="),
        "{set_cookie}"
    );
    assert!(
        !set_cookie.contains("Domain="),
        "__Host- cookies are host-only: {set_cookie}"
    );
    for attribute in [
        "HttpOnly",
        "SameSite=Strict",
        "Secure",
        "Path=/",
        "Max-Age=1800",
    ] {
        assert!(
            set_cookie.contains(attribute),
            "{attribute} in {set_cookie}"
        );
    }
    assert!(!set_cookie.contains(&sim.admin_token));
    let cookie = good.session_cookie().expect("signed in");
    let home = request(addr, "GET", "/", std::slice::from_ref(&cookie), "").await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains("kubernetes-admin"), "{}", home.body);
    assert!(!home.body.contains(&sim.admin_token));
    let csrf = csrf_of(&home.body);

    // A state-changing request from another site is refused even with the cookie and the token.
    let post = async |path: &str, extra: &[String], body: &str| {
        let mut headers = vec![cookie.clone()];
        headers.extend_from_slice(extra);
        request(addr, "POST", path, &headers, body).await
    };
    let forged = post(
        "/logout",
        &["Origin: http://evil.example".into()],
        &form(&[("csrf", &csrf)]),
    )
    .await;
    assert_eq!(forged.status, 403);
    // Same-site, every state-changing request needs the token, in a header or a form field.
    assert_eq!(
        post("/logout", &[origin(addr)], "").await.status,
        403,
        "no token"
    );
    assert_eq!(
        post("/logout", &[origin(addr)], "csrf=nope").await.status,
        403
    );
    assert_eq!(
        post("/logout", &[origin(addr), "X-CSRF-Token: nope".into()], "")
            .await
            .status,
        403
    );
    assert_eq!(
        post("/api/list_nodes", &[origin(addr)], "x=1").await.status,
        403,
        "server-function paths too"
    );
    let by_header = post(
        "/logout",
        &[origin(addr), format!("X-CSRF-Token: {csrf}")],
        "",
    )
    .await;
    assert_eq!(
        by_header.header("location").as_deref(),
        Some("/login?reason=signed-out")
    );
    let after = request(addr, "GET", "/", std::slice::from_ref(&cookie), "").await;
    assert_eq!(
        after.status, 303,
        "the session is gone on the server, not only in the browser"
    );

    let cookie = sign_in(addr, &sim.admin_token).await;
    let page = request(addr, "GET", "/", std::slice::from_ref(&cookie), "").await;
    let by_form = request(
        addr,
        "POST",
        "/logout",
        &[cookie, origin(addr)],
        &form(&[("x", "1"), ("csrf", &csrf_of(&page.body))]),
    )
    .await;
    assert_eq!(
        by_form.header("location").as_deref(),
        Some("/login?reason=signed-out")
    );
}

#[tokio::test]
async fn scripts_may_send_a_bearer_header_instead() {
    let sim = start_sim().await;
    let addr = start_dashboard(&sim, DashboardSettings::default()).await;
    let ok = request(
        addr,
        "GET",
        "/nodes",
        &[format!("Authorization: Bearer {}", sim.admin_token)],
        "",
    )
    .await;
    assert_eq!(ok.status, 200);
    assert!(ok.body.contains("kubernetes-admin"));
    let bad = request(addr, "GET", "/", &["Authorization: Bearer nope".into()], "").await;
    assert_eq!(bad.status, 401);
    assert!(
        bad.body.contains("\"reason\":\"Unauthorized\""),
        "{}",
        bad.body
    );
    assert!(
        bad.body.contains("does not accept the token"),
        "{}",
        bad.body
    );
}

#[tokio::test]
async fn when_the_cluster_stops_accepting_the_token_the_session_ends_and_says_why() {
    let sim = start_sim().await;
    let addr = start_dashboard(
        &sim,
        with_auth(AuthSettings {
            revalidate_every: Duration::ZERO,
            ..Default::default()
        }),
    )
    .await;
    let client = gpuboard_testkit::client_for(&sim.kubeconfig).await;
    let token = service_account_token(&client, "bob").await;
    let cookie = sign_in(addr, &token).await;
    assert_eq!(
        request(addr, "GET", "/", std::slice::from_ref(&cookie), "")
            .await
            .status,
        200
    );
    // Deleting the service account revokes its tokens.
    let sas: Api<ServiceAccount> = Api::namespaced(client, "kube-system");
    sas.delete("bob", &DeleteParams::default())
        .await
        .expect("deleted");
    let ended = request(addr, "GET", "/", std::slice::from_ref(&cookie), "").await;
    assert_eq!(
        ended.header("location").as_deref(),
        Some("/login?reason=revoked")
    );
    assert_eq!(
        request(addr, "GET", "/", &[cookie], "")
            .await
            .header("location")
            .as_deref(),
        Some("/login")
    );
}

#[tokio::test]
async fn sign_in_attempts_are_rate_limited_per_address() {
    let sim = start_sim().await;
    let addr = start_dashboard(
        &sim,
        with_auth(AuthSettings {
            signins_per_minute: 3,
            ..Default::default()
        }),
    )
    .await;
    let mut codes = Vec::new();
    for _ in 0..5 {
        let r = request(addr, "POST", "/login", &[origin(addr)], "token=wrong").await;
        codes.push(r.header("location").unwrap_or_default());
    }
    assert_eq!(&codes[..3], ["/login?error=rejected"; 3]);
    assert_eq!(&codes[3..], ["/login?error=rate-limited"; 2]);

    // Bearer guesses count too: the blocked client's next header is not checked.
    let guess = request(
        addr,
        "GET",
        "/nodes",
        &["Authorization: Bearer guess".into()],
        "",
    )
    .await;
    assert_eq!(guess.status, 429, "{}", guess.body);
    assert!(
        guess.body.contains("\"reason\":\"TooManyRequests\""),
        "{}",
        guess.body
    );
}

#[tokio::test]
async fn only_failures_count_and_a_refused_bearer_is_not_asked_again() {
    let sim = start_sim().await;
    let addr = start_dashboard(
        &sim,
        with_auth(AuthSettings {
            signins_per_minute: 3,
            ..Default::default()
        }),
    )
    .await;
    let good = form(&[("token", &sim.admin_token)]);
    for _ in 0..5 {
        let r = request(addr, "POST", "/login", &[origin(addr)], &good).await;
        assert_eq!(
            r.header("location").as_deref(),
            Some("/"),
            "only failures count"
        );
    }
    // One refused bearer token sent again and again: refused from memory, counted once.
    for _ in 0..6 {
        let r = request(
            addr,
            "GET",
            "/nodes",
            &["Authorization: Bearer nope".into()],
            "",
        )
        .await;
        assert_eq!(r.status, 401, "{}", r.body);
    }
    for guess in ["one", "two"] {
        let header = format!("Authorization: Bearer {guess}");
        assert_eq!(
            request(addr, "GET", "/nodes", &[header], "").await.status,
            401
        );
    }
    let third = request(
        addr,
        "GET",
        "/nodes",
        &["Authorization: Bearer three".into()],
        "",
    )
    .await;
    assert_eq!(
        third.status, 429,
        "the fourth different guess: {}",
        third.body
    );
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_counts_apart() {
    let sim = start_sim().await;
    let addr = start_dashboard(
        &sim,
        with_auth(AuthSettings {
            signins_per_minute: 2,
            trusted_proxies: "127.0.0.0/8".parse().expect("a network"),
            ..Default::default()
        }),
    )
    .await;
    let attempt = |client: &'static str| async move {
        let headers = [origin(addr), format!("X-Forwarded-For: {client}")];
        let r = request(addr, "POST", "/login", &headers, "token=wrong").await;
        r.header("location").unwrap_or_default()
    };
    for _ in 0..2 {
        assert_eq!(attempt("198.51.100.1").await, "/login?error=rejected");
    }
    assert_eq!(attempt("198.51.100.1").await, "/login?error=rate-limited");
    assert_eq!(
        attempt("198.51.100.2").await,
        "/login?error=rejected",
        "another client behind the same proxy is not locked out"
    );
}

#[tokio::test]
async fn a_full_session_store_refuses_sign_in_in_words_until_one_ends() {
    let sim = start_sim().await;
    let addr = start_dashboard(
        &sim,
        with_auth(AuthSettings {
            max_sessions: 2,
            ..Default::default()
        }),
    )
    .await;
    let first = sign_in(addr, &sim.admin_token).await;
    sign_in(addr, &sim.viewer_token).await;
    let good = form(&[("token", &sim.admin_token)]);
    let full = request(addr, "POST", "/login", &[origin(addr)], &good).await;
    assert_eq!(
        full.header("location").as_deref(),
        Some("/login?error=sessions-full")
    );
    assert_eq!(full.session_cookie(), None);

    // One signs out: the next sign-in is stored.
    let page = request(addr, "GET", "/", std::slice::from_ref(&first), "").await;
    let csrf = csrf_of(&page.body);
    let out = request(
        addr,
        "POST",
        "/logout",
        &[first, origin(addr)],
        &form(&[("csrf", &csrf)]),
    )
    .await;
    assert_eq!(out.status, 303, "{}", out.head);
    sign_in(addr, &sim.admin_token).await;
}
