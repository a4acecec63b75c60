//! The security headers on what the dashboard answers: pages carry a Content-Security-Policy whose
//! nonce is on every inline script they stream (the browser tests show the app runs under it);
//! everything but the static site is `no-store`; nothing may frame a page; HSTS only when asked.

use gpuboard::DashboardSettings;
use gpuboard_testkit::http::{Reply, request};

use super::{sign_in, start_dashboard, start_sim};

/// The nonce of a page's policy, after checking the rest of the policy.
fn page_nonce(page: &Reply) -> String {
    let csp = page
        .header("content-security-policy")
        .expect("a page policy");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains(" 'unsafe-eval'"), "{csp}");
    assert!(!csp.contains("script-src 'self' 'unsafe-inline'"), "{csp}");
    csp.split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .unwrap_or_else(|| panic!("no nonce in {csp}"))
        .to_string()
}

/// Every `<script` tag of `html` carries `nonce`.
fn scripts_carry(html: &str, nonce: &str) -> usize {
    let tags: Vec<&str> = html
        .split("<script")
        .skip(1)
        .map(|rest| rest.split('>').next().unwrap_or(""))
        .collect();
    for tag in &tags {
        assert!(
            tag.contains(&format!("nonce=\"{nonce}\"")),
            "<script{tag}> lacks the page's nonce"
        );
    }
    tags.len()
}

#[tokio::test]
async fn pages_run_only_their_own_scripts_and_nothing_user_specific_is_cached() {
    let sim = start_sim().await;
    let settings = DashboardSettings {
        hsts: true,
        ..Default::default()
    };
    let addr = start_dashboard(&sim, settings).await;
    let cookie = sign_in(addr, &sim.admin_token).await;

    let mut nonces = Vec::new();
    for path in ["/login", "/", "/nodes", "/no-such-page"] {
        let page = request(addr, "GET", path, std::slice::from_ref(&cookie), "").await;
        assert!(
            page.status == 200 || page.status == 404,
            "{path}: {}",
            page.head
        );
        let nonce = page_nonce(&page);
        assert!(
            scripts_carry(&page.body, &nonce) > 0,
            "{path} has its hydration script"
        );
        assert_eq!(
            page.header("cache-control").as_deref(),
            Some("no-store"),
            "{path}"
        );
        assert_eq!(
            page.header("x-frame-options").as_deref(),
            Some("DENY"),
            "{path}"
        );
        assert_eq!(
            page.header("x-content-type-options").as_deref(),
            Some("nosniff")
        );
        assert!(page.header("strict-transport-security").is_some(), "{path}");
        nonces.push(nonce);
    }
    nonces.sort();
    nonces.dedup();
    assert_eq!(nonces.len(), 4, "a new nonce for each page");

    for path in ["/gpus.csv", "/api/v1/workloads", "/healthz"] {
        let reply = request(addr, "GET", path, std::slice::from_ref(&cookie), "").await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.head);
        assert_eq!(
            reply.header("cache-control").as_deref(),
            Some("no-store"),
            "{path}"
        );
        assert_eq!(
            reply.header("content-security-policy").as_deref(),
            Some("default-src 'none'; frame-ancestors 'none'; base-uri 'none'"),
            "{path}: nothing runs in an answer that is not a page"
        );
    }
}

#[tokio::test]
async fn without_a_tls_proxy_in_front_no_hsts() {
    let sim = start_sim().await;
    let addr = start_dashboard(&sim, DashboardSettings::default()).await;
    let login = request(addr, "GET", "/login", &[], "").await;
    assert_eq!(login.status, 200);
    assert!(login.header("strict-transport-security").is_none());
    assert!(login.header("content-security-policy").is_some());
}
