//! The dashboard's sign-in and session layer against a started sim: the real middleware, login and
//! logout handlers in front of a page that shows the signed-in user, over real HTTP.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use frontend::backend::SignedInUser;
use gpuboard::auth::signin::{SignInError, check_token};
use gpuboard::auth::{self, Auth, AuthSettings};
use k8s_openapi::api::authentication::v1::TokenRequest;
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::json;

use common::http::{form_encode, request};
use common::{admin_client, start_sim};

/// The dashboard's auth layer in front of a page that names the user, on a free port.
async fn start_dashboard(cluster: kube::Config, settings: AuthSettings) -> SocketAddr {
    let auth = Auth::new(cluster, settings);
    let app = Router::new()
        .route(
            "/",
            get(
                |axum::Extension(user): axum::Extension<SignedInUser>| async move {
                    format!("hello {} csrf={}", user.username, user.csrf_token)
                },
            ),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route("/login", post(auth::login).get(|| async { "sign-in page" }))
        .route("/logout", post(auth::logout))
        .route("/change", post(|| async { "changed" }))
        .with_state(auth.clone())
        .layer(axum::middleware::from_fn_with_state(
            auth.clone(),
            auth::require_user,
        ))
        .layer(auth.session_layer());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });
    addr
}

async fn sim_config(kubeconfig: &std::path::Path) -> kube::Config {
    gpuboard::cluster::load_config(Some(kubeconfig))
        .await
        .expect("kubeconfig")
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

fn origin(addr: SocketAddr) -> String {
    format!("Origin: http://{addr}")
}

#[tokio::test]
async fn sign_in_decisions_against_the_cluster() {
    let (sim, _dir) = start_sim().await;
    let config = sim_config(&sim.kubeconfig).await;
    assert_eq!(
        check_token(&config, &sim.admin_token)
            .await
            .unwrap()
            .username,
        "kubernetes-admin"
    );
    assert_eq!(check_token(&config, "").await, Err(SignInError::Empty));
    assert_eq!(
        check_token(&config, "garbage-token").await,
        Err(SignInError::Rejected)
    );
    let client = admin_client(&sim).await;
    let token = service_account_token(&client, "alice").await;
    let who = check_token(&config, &token).await.unwrap();
    assert_eq!(who.username, "system:serviceaccount:kube-system:alice");
    assert!(who.groups.iter().any(|g| g == "system:serviceaccounts"));
}

#[tokio::test]
async fn a_session_is_made_only_for_a_good_token_and_its_cookie_is_locked_down() {
    let (sim, _dir) = start_sim().await;
    let addr = start_dashboard(sim_config(&sim.kubeconfig).await, AuthSettings::default()).await;

    let page = request(addr, "GET", "/", &[], "").await;
    assert_eq!(
        (page.status, page.header("location").as_deref()),
        (303, Some("/login"))
    );
    assert_eq!(
        request(addr, "POST", "/api/list_nodes", &[origin(addr)], "")
            .await
            .status,
        401
    );
    assert_eq!(request(addr, "GET", "/healthz", &[], "").await.status, 200);

    let wrong = request(addr, "POST", "/login", &[origin(addr)], "token=wrong").await;
    assert_eq!(
        wrong.header("location").as_deref(),
        Some("/login?error=rejected")
    );
    assert_eq!(wrong.session_cookie(), None, "no session for a wrong token");

    let form = format!("token={}", form_encode(&sim.admin_token));
    let cross = request(
        addr,
        "POST",
        "/login",
        &["Origin: http://evil.example".into()],
        &form,
    )
    .await;
    assert_eq!(
        cross.header("location").as_deref(),
        Some("/login?error=cross-site")
    );
    assert_eq!(cross.session_cookie(), None);

    let good = request(addr, "POST", "/login", &[origin(addr)], &form).await;
    assert_eq!(good.header("location").as_deref(), Some("/"));
    let set_cookie = good.header("set-cookie").expect("a session cookie");
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
    assert!(home.body.starts_with("hello kubernetes-admin csrf="));
    assert!(!home.body.contains(&sim.admin_token));
    let csrf = home.body.rsplit('=').next().unwrap().to_string();

    // A state-changing request from another site is refused even with the cookie.
    let forged = request(
        addr,
        "POST",
        "/logout",
        &[cookie.clone(), "Origin: http://evil.example".into()],
        &format!("csrf={csrf}"),
    )
    .await;
    assert_eq!(forged.status, 403);
    let no_token = request(
        addr,
        "POST",
        "/logout",
        &[cookie.clone(), origin(addr)],
        "csrf=nope",
    )
    .await;
    assert_eq!(no_token.status, 403);
    // Any state-changing request needs the token, in a header or a form field.
    let change = async |extra: &[String], body: &str| {
        let mut headers = vec![cookie.clone(), origin(addr)];
        headers.extend_from_slice(extra);
        request(addr, "POST", "/change", &headers, body).await
    };
    assert_eq!(change(&[], "").await.status, 403, "no token");
    assert_eq!(change(&["X-CSRF-Token: nope".into()], "").await.status, 403);
    assert_eq!(change(&[], "csrf=nope&x=1").await.status, 403);
    let by_header = change(&[format!("X-CSRF-Token: {csrf}")], "").await;
    assert_eq!(
        (by_header.status, by_header.body.as_str()),
        (200, "changed")
    );
    let by_form = change(&[], &format!("x=1&csrf={csrf}")).await;
    assert_eq!((by_form.status, by_form.body.as_str()), (200, "changed"));
    let out = request(
        addr,
        "POST",
        "/logout",
        &[cookie.clone(), origin(addr)],
        &format!("csrf={csrf}"),
    )
    .await;
    assert_eq!(
        out.header("location").as_deref(),
        Some("/login?reason=signed-out")
    );
    let after = request(addr, "GET", "/", &[cookie], "").await;
    assert_eq!(
        after.status, 303,
        "the session is gone on the server, not only in the browser"
    );
}

#[tokio::test]
async fn scripts_may_send_a_bearer_header_instead() {
    let (sim, _dir) = start_sim().await;
    let addr = start_dashboard(sim_config(&sim.kubeconfig).await, AuthSettings::default()).await;
    let ok = request(
        addr,
        "GET",
        "/",
        &[format!("Authorization: Bearer {}", sim.admin_token)],
        "",
    )
    .await;
    assert_eq!(ok.status, 200);
    assert!(ok.body.starts_with("hello kubernetes-admin"));
    let bad = request(addr, "GET", "/", &["Authorization: Bearer nope".into()], "").await;
    assert_eq!(bad.status, 401);
}

#[tokio::test]
async fn when_the_cluster_stops_accepting_the_token_the_session_ends_and_says_why() {
    let (sim, _dir) = start_sim().await;
    let settings = AuthSettings {
        revalidate_every: Duration::ZERO,
        ..Default::default()
    };
    let addr = start_dashboard(sim_config(&sim.kubeconfig).await, settings).await;
    let client = admin_client(&sim).await;
    let token = service_account_token(&client, "bob").await;
    let good = request(
        addr,
        "POST",
        "/login",
        &[origin(addr)],
        &format!("token={}", form_encode(&token)),
    )
    .await;
    let cookie = good.session_cookie().expect("signed in");
    assert_eq!(
        request(addr, "GET", "/", std::slice::from_ref(&cookie), "")
            .await
            .status,
        200
    );
    // Deleting the service account revokes its tokens.
    let sas: Api<ServiceAccount> = Api::namespaced(client, "kube-system");
    sas.delete("bob", &DeleteParams::default()).await.unwrap();
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
    let (sim, _dir) = start_sim().await;
    let settings = AuthSettings {
        signins_per_minute: 3,
        ..Default::default()
    };
    let addr = start_dashboard(sim_config(&sim.kubeconfig).await, settings).await;
    let mut codes = Vec::new();
    for _ in 0..5 {
        let r = request(addr, "POST", "/login", &[origin(addr)], "token=wrong").await;
        codes.push(r.header("location").unwrap_or_default());
    }
    assert_eq!(&codes[..3], ["/login?error=rejected"; 3]);
    assert_eq!(&codes[3..], ["/login?error=rate-limited"; 2]);
}
