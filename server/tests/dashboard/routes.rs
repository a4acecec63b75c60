//! Every route the router serves, found from it (its endpoint list, the JSON API's OpenAPI
//! document, made with the API's routes, its pages, the registered server functions; each
//! endpoint's methods from its own 405 `Allow`), is refused without a
//! session, but sign-in and health; every state-changing one is refused without the session's
//! CSRF token, and from another site even with it. Refused by the guard, so nothing is made.

use std::collections::BTreeSet;

use gpuboard::DashboardSettings;
use gpuboard_testkit::http::{Reply, request};

use super::{csrf_of, origin, sign_in, start_dashboard, start_sim};

/// A path with each `{param}` (and `{*rest}`) filled in.
fn concrete(path: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        out.push('x');
        rest = rest[open..].split_once('}').map_or("", |(_, after)| after);
    }
    out.push_str(rest);
    out
}

fn is_public(method: &str, path: &str) -> bool {
    matches!(
        (method, path),
        ("GET" | "POST", "/login") | ("GET", "/healthz")
    )
}

fn is_safe(method: &str) -> bool {
    matches!(method, "GET" | "HEAD" | "OPTIONS")
}

/// Refused by the guard: no user (401, or the sign-in page) or a refused change (403 in words).
/// On the JSON API's paths, in its error shape, the words in its message.
fn refused_by_the_guard(path: &str, reply: &Reply) -> bool {
    if path.starts_with("/api/v1/") {
        let Ok(error) = serde_json::from_str::<serde_json::Value>(&reply.body) else {
            return false;
        };
        return match reply.status {
            401 => reply.header("www-authenticate").is_some() && error["reason"] == "Unauthorized",
            403 => {
                error["reason"] == "Forbidden"
                    && error["message"]
                        .as_str()
                        .is_some_and(|m| m.starts_with("refused:"))
            }
            _ => false,
        };
    }
    match reply.status {
        // The guard's own 401 carries its challenge; a handler's would not.
        401 => reply.header("www-authenticate").is_some(),
        303 => reply
            .header("location")
            .is_some_and(|l| l.starts_with("/login")),
        403 => reply.body.starts_with("refused:"),
        _ => false,
    }
}

#[tokio::test]
async fn every_route_needs_a_session_and_every_change_its_csrf_token_from_this_site() {
    let sim = start_sim().await;
    let addr = start_dashboard(&sim, DashboardSettings::default()).await;
    let bearer = format!("Authorization: Bearer {}", sim.admin_token);

    // What the router serves: each endpoint with the methods its 405 names, the pages, and the
    // server functions with theirs.
    let mut routes: BTreeSet<(String, String)> = BTreeSet::new();
    let api_paths = gpuboard::api::document().paths.paths.into_keys();
    let endpoint_paths = gpuboard::app::endpoints().into_iter().map(|(path, _)| path);
    for path in endpoint_paths.chain(api_paths) {
        let path = concrete(&path);
        let probe = request(addr, "PROPFIND", &path, std::slice::from_ref(&bearer), "").await;
        assert_eq!(probe.status, 405, "{path}: {}", probe.head);
        let allow = probe.header("allow").expect("405 names the methods");
        for method in allow.split(',').map(str::trim).filter(|m| *m != "HEAD") {
            routes.insert((method.to_string(), path.clone()));
        }
    }
    for path in gpuboard::app::page_paths() {
        routes.insert(("GET".into(), concrete(&path)));
    }
    for (path, method) in leptos::server_fn::axum::server_fn_paths() {
        routes.insert((method.to_string(), path.to_string()));
    }
    for expected in [
        ("POST", "/api/v1/workloads"),
        ("DELETE", "/api/v1/join-tokens/x"),
        ("GET", "/api/v1/openapi.json"),
        ("POST", "/logout"),
        ("GET", "/nodes/x"),
        ("GET", "/api/list_nodes"),
        ("POST", "/api/submit_workload"),
    ] {
        let found = routes
            .iter()
            .any(|(method, path)| method == expected.0 && path.starts_with(expected.1));
        assert!(found, "{expected:?} not found in {routes:?}");
    }

    let cookie = sign_in(addr, &sim.admin_token).await;
    let page = request(addr, "GET", "/", std::slice::from_ref(&cookie), "").await;
    let csrf = format!("X-CSRF-Token: {}", csrf_of(&page.body));
    let json = "Content-Type: application/json".to_string();
    let mut changes = 0;
    for (method, path) in &routes {
        if is_public(method, path) {
            continue;
        }
        let anonymous = request(addr, method, path, std::slice::from_ref(&json), "{}").await;
        assert!(
            refused_by_the_guard(path, &anonymous),
            "{method} {path} without a session: {}\n{}",
            anonymous.head,
            anonymous.body
        );
        if is_safe(method) {
            continue;
        }
        changes += 1;
        // From another site without a session: nothing to protect, so no user (401 or sign-in).
        let stranger = [json.clone(), "Sec-Fetch-Site: cross-site".into()];
        let reply = request(addr, method, path, &stranger, "{}").await;
        assert_ne!(
            reply.status, 403,
            "{method} {path} from another site, no session"
        );
        assert!(
            refused_by_the_guard(path, &reply),
            "{method} {path} from another site, no session: {}",
            reply.body
        );
        let without_csrf = [cookie.clone(), origin(addr), json.clone()];
        let reply = request(addr, method, path, &without_csrf, "{}").await;
        assert_eq!(reply.status, 403, "{method} {path} without the CSRF token");
        assert!(
            refused_by_the_guard(path, &reply),
            "{method} {path}: {}",
            reply.body
        );

        let cross_site = [
            cookie.clone(),
            csrf.clone(),
            json.clone(),
            "Origin: http://evil.example".into(),
            "Sec-Fetch-Site: cross-site".into(),
        ];
        let reply = request(addr, method, path, &cross_site, "{}").await;
        assert_eq!(reply.status, 403, "{method} {path} from another site");
        assert!(
            refused_by_the_guard(path, &reply),
            "{method} {path}: {}",
            reply.body
        );
    }
    assert!(changes >= 10, "only {changes} state-changing routes found");
}
