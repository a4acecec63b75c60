//! Service-account tokens through the JSON API against the sim: a minted token works and its
//! expiry is the one the cluster granted (shortened past its maximum); regenerating a legacy
//! token stops the old one; "give a teammate access" makes a working account with exactly its
//! role and, when refused, leaves nothing behind; the viewer can do none of it.

use gpuboard::DashboardSettings;
use gpuboard_testkit::kubectl;

use super::{api, json_of, start_dashboard, start_sim, whoami};

/// Whether `token` may `verb resource` in `namespace` (`kubectl auth can-i`).
async fn can(kubeconfig: &std::path::Path, token: &str, verb: &str, what: &str, ns: &str) -> bool {
    let run = kubectl(
        kubeconfig,
        &["--token", token, "auth", "can-i", verb, what, "-n", ns],
    )
    .await;
    run.stdout.trim() == "yes"
}

#[tokio::test]
async fn a_minted_token_works_and_says_the_expiry_the_cluster_granted() {
    let sim = start_sim().await;
    let addr = start_dashboard(&sim, DashboardSettings::default()).await;
    let admin = &sim.admin_token;
    kubectl(
        &sim.kubeconfig,
        &["-n", "default", "create", "serviceaccount", "ci-bot"],
    )
    .await;

    let reply = api(
        addr,
        admin,
        "GET",
        "/api/v1/serviceaccounts?namespace=default",
        "",
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let list = json_of(&reply);
    assert!(
        list["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["name"] == "ci-bot"),
        "{list}"
    );
    assert_eq!(list["mayMint"], true);

    let path = "/api/v1/namespaces/default/serviceaccounts/ci-bot/token";
    let reply = api(addr, admin, "POST", path, r#"{"expirationSeconds": 3600}"#).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.header("cache-control").as_deref(), Some("no-store"));
    let issued = json_of(&reply);
    let granted = issued["grantedSeconds"].as_i64().unwrap();
    assert!((3590..=3600).contains(&granted), "{issued}");
    assert_eq!(
        issued["kubectl"],
        "kubectl create token ci-bot -n default --duration=3600s"
    );
    let token = issued["token"].as_str().unwrap();
    assert_eq!(
        whoami(&sim.kubeconfig, token).await.as_deref(),
        Some("system:serviceaccount:default:ci-bot")
    );

    // A year is more than the cluster grants: the answer says what it granted.
    let reply = api(
        addr,
        admin,
        "POST",
        path,
        r#"{"expirationSeconds": 31536000}"#,
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let issued = json_of(&reply);
    let granted = issued["grantedSeconds"].as_i64().unwrap();
    assert!(
        (90 * 86_400 - 10..=90 * 86_400).contains(&granted),
        "shortened to the sim's 90 days: {issued}"
    );
    assert_eq!(issued["requestedSeconds"], 31_536_000);

    // Out of range, unknown fields, bad names: refused with the field, before the cluster.
    let reply = api(addr, admin, "POST", path, r#"{"expirationSeconds": 60}"#).await;
    assert_eq!(reply.status, 422, "{}", reply.body);
    assert_eq!(json_of(&reply)["field"], "expirationSeconds");
    let reply = api(
        addr,
        admin,
        "POST",
        "/api/v1/namespaces/Default/serviceaccounts/ci-bot/token",
        "",
    )
    .await;
    assert_eq!(reply.status, 422, "{}", reply.body);
    assert_eq!(json_of(&reply)["field"], "namespace");
    let reply = api(
        addr,
        admin,
        "POST",
        "/api/v1/namespaces/default/serviceaccounts/nobody/token",
        "",
    )
    .await;
    assert_eq!(reply.status, 404, "{}", reply.body);
}

#[tokio::test]
async fn regenerating_a_legacy_token_stops_the_old_one() {
    let sim = start_sim().await;
    let addr = start_dashboard(&sim, DashboardSettings::default()).await;
    let admin = &sim.admin_token;
    // The seeds' way: an account, a cluster-admin binding and a token Secret.
    let k = &sim.kubeconfig;
    kubectl(
        k,
        &[
            "-n",
            "kube-system",
            "create",
            "serviceaccount",
            "dashboard-admin",
        ],
    )
    .await;
    let secret = r#"{"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
        "metadata": {"name": "dashboard-admin-token", "namespace": "kube-system",
                     "annotations": {"kubernetes.io/service-account.name": "dashboard-admin"}}}"#;
    let path = std::env::temp_dir().join(format!("legacy-{}.json", std::process::id()));
    std::fs::write(&path, secret).unwrap();
    let made = kubectl(k, &["apply", "-f", path.to_str().unwrap()]).await;
    assert!(made.ok, "{}", made.stderr);
    let old = gpuboard_testkit::eventually(
        "the token controller fills the Secret",
        super::WAIT,
        || async {
            let run = kubectl(
                k,
                &[
                    "-n",
                    "kube-system",
                    "get",
                    "secret",
                    "dashboard-admin-token",
                    "-o",
                    "jsonpath={.data.token}",
                ],
            )
            .await;
            use base64::Engine;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(run.stdout.trim())
                .map_err(|e| e.to_string())?;
            let token = String::from_utf8(bytes).map_err(|e| e.to_string())?;
            if token.is_empty() {
                Err("empty".to_string())
            } else {
                Ok(token)
            }
        },
    )
    .await;
    assert!(
        whoami(k, &old).await.is_some(),
        "the old token works before"
    );

    let reply = api(
        addr,
        admin,
        "POST",
        "/api/v1/namespaces/kube-system/serviceaccounts/dashboard-admin/legacy-token",
        "",
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let new = json_of(&reply)["token"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    assert_eq!(
        whoami(k, &new).await.as_deref(),
        Some("system:serviceaccount:kube-system:dashboard-admin")
    );
    assert_eq!(whoami(k, &old).await, None, "the old token stopped working");

    let reply = api(
        addr,
        admin,
        "GET",
        "/api/v1/serviceaccounts?namespace=kube-system",
        "",
    )
    .await;
    let list = json_of(&reply);
    let account = list["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "dashboard-admin")
        .cloned()
        .unwrap();
    let secrets = account["legacyTokens"].as_array().unwrap();
    assert_eq!(secrets.len(), 1, "one Secret, the new one: {account}");
    assert_ne!(secrets[0]["secret"], "dashboard-admin-token");
    // The new token was used above (whoami): the cluster says so, and the page shows it.
    let today = jiff::Timestamp::now().strftime("%Y-%m-%d").to_string();
    assert_eq!(secrets[0]["lastUsed"], today.as_str(), "{account}");
    assert_eq!(secrets[0]["invalidSince"], serde_json::Value::Null);
}

/// The names of `namespace/account`'s legacy token Secrets, as the dashboard lists them.
async fn legacy_secrets(
    addr: std::net::SocketAddr,
    token: &str,
    namespace: &str,
    account: &str,
) -> Vec<String> {
    let path = format!("/api/v1/serviceaccounts?namespace={namespace}");
    let list = json_of(&api(addr, token, "GET", &path, "").await);
    list["accounts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["name"] == account)
        .flat_map(|a| a["legacyTokens"].as_array().cloned().unwrap_or_default())
        .filter_map(|t| t["secret"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn a_regeneration_sent_again_gets_the_token_it_made_and_replaces_nothing_more() {
    let sim = start_sim().await;
    let addr = start_dashboard(&sim, DashboardSettings::default()).await;
    let (admin, k) = (&sim.admin_token, &sim.kubeconfig);
    kubectl(k, &["-n", "default", "create", "serviceaccount", "ci-bot"]).await;
    let path = "/api/v1/namespaces/default/serviceaccounts/ci-bot/legacy-token";
    let body = r#"{"requestId": "retry-0123456789abcdef"}"#;
    let token_of = |reply: &gpuboard_testkit::http::Reply| {
        assert_eq!(reply.status, 201, "{}", reply.body);
        json_of(reply)["token"].as_str().unwrap().to_string()
    };

    // Sent twice at once (a double click), then again (a retry after a lost answer).
    let (first, second) = tokio::join!(
        api(addr, admin, "POST", path, body),
        api(addr, admin, "POST", path, body)
    );
    let third = api(addr, admin, "POST", path, body).await;
    let token = token_of(&first);
    // Compared, not printed: a failure must not put a token in the log.
    assert!(
        token_of(&second) == token,
        "the second send got another token"
    );
    assert!(token_of(&third) == token, "the retry got another token");
    assert_eq!(
        legacy_secrets(addr, admin, "default", "ci-bot").await.len(),
        1
    );
    assert_eq!(
        whoami(k, &token).await.as_deref(),
        Some("system:serviceaccount:default:ci-bot"),
        "the token answered is the one kept"
    );

    // A fresh request ID replaces it; a malformed one is refused, naming the field.
    let fresh = api(
        addr,
        admin,
        "POST",
        path,
        r#"{"requestId": "retry-fedcba9876543210"}"#,
    )
    .await;
    assert!(
        token_of(&fresh) != token,
        "a fresh request ID made no new token"
    );
    assert_eq!(
        whoami(k, &token).await,
        None,
        "the one before stopped working"
    );
    assert_eq!(
        legacy_secrets(addr, admin, "default", "ci-bot").await.len(),
        1
    );
    let refused = api(addr, admin, "POST", path, r#"{"requestId": "short"}"#).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert_eq!(json_of(&refused)["field"], "requestId", "{}", refused.body);
}

#[tokio::test]
async fn access_for_a_teammate_has_exactly_its_role_and_a_refusal_leaves_nothing() {
    let sim = start_sim().await;
    let addr = start_dashboard(&sim, DashboardSettings::default()).await;
    let admin = &sim.admin_token;
    let k = &sim.kubeconfig;

    let body =
        r#"{"namespace": "default", "name": "alice", "role": "edit", "expirationSeconds": 3600}"#;
    let reply = api(addr, admin, "POST", "/api/v1/access", body).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let token = json_of(&reply)["token"].as_str().unwrap().to_string();
    assert_eq!(
        whoami(k, &token).await.as_deref(),
        Some("system:serviceaccount:default:alice")
    );
    assert!(can(k, &token, "create", "deployments", "default").await);
    assert!(!can(k, &token, "create", "deployments", "kube-system").await);
    assert!(
        !can(k, &token, "create", "rolebindings", "default").await,
        "edit, not admin"
    );

    // The same again: refused by the cluster (it exists), and the first is untouched.
    let reply = api(addr, admin, "POST", "/api/v1/access", body).await;
    assert_eq!(reply.status, 409, "{}", reply.body);
    assert!(whoami(k, &token).await.is_some());

    for (body, field) in [
        (
            r#"{"namespace": "default", "name": "bob", "role": "owner"}"#,
            "role",
        ),
        (
            r#"{"namespace": "default", "name": "Bob", "role": "view"}"#,
            "name",
        ),
        (
            r#"{"namespace": "default", "name": "bob", "role": "view", "expirationSeconds": 5}"#,
            "expirationSeconds",
        ),
    ] {
        let reply = api(addr, admin, "POST", "/api/v1/access", body).await;
        assert_eq!(reply.status, 422, "{body}: {}", reply.body);
        assert_eq!(json_of(&reply)["field"], field, "{body}");
    }
    // A namespace that does not exist: the cluster refuses the account, nothing is left.
    let reply = api(
        addr,
        admin,
        "POST",
        "/api/v1/access",
        r#"{"namespace": "no-such-ns", "name": "carol", "role": "view"}"#,
    )
    .await;
    assert!(reply.status >= 400, "{}", reply.body);
    let left = kubectl(
        k,
        &["get", "serviceaccounts,rolebindings", "-A", "-o", "name"],
    )
    .await;
    assert!(
        !left.stdout.contains("bob") && !left.stdout.contains("carol"),
        "{}",
        left.stdout
    );

    // The viewer may do none of it.
    let viewer = &sim.viewer_token;
    let reply = api(
        addr,
        viewer,
        "POST",
        "/api/v1/access",
        r#"{"namespace": "default", "name": "mallory", "role": "cluster-admin"}"#,
    )
    .await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    let reply = api(
        addr,
        viewer,
        "POST",
        "/api/v1/namespaces/default/serviceaccounts/alice/token",
        "",
    )
    .await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    let left = kubectl(k, &["get", "serviceaccounts", "-A", "-o", "name"]).await;
    assert!(!left.stdout.contains("mallory"), "{}", left.stdout);
}
