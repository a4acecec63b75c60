//! Join tokens through the JSON API against the simulated kubeadm cluster: a token created with
//! `{}` is kubeadm's default token, its join command is proved by its parts (the token
//! authenticates as `system:bootstrap:<id>`, cluster-info carries its valid signature, the CA pin
//! is the cluster's), revoking it stops it authenticating, every refusal names its field and
//! creates nothing, and the viewer can change nothing.

use std::net::SocketAddr;

use gpuboard::DashboardSettings;
use gpuboard_testkit::eventually;
use gpuboard_testkit::http::request;
use k8s_openapi::api::core::v1::ConfigMap;
use serde_json::json;

use super::{WAIT, api, json_of, start_dashboard, start_sim, whoami};

/// The IDs the list shows.
async fn listed_ids(addr: SocketAddr, token: &str) -> Vec<String> {
    let reply = api(addr, token, "GET", "/api/v1/join-tokens", "").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    json_of(&reply)["tokens"]
        .as_array()
        .expect("tokens")
        .iter()
        .map(|t| t["id"].as_str().expect("id").to_string())
        .collect()
}

#[tokio::test]
async fn a_default_token_joins_by_its_parts_and_stops_when_revoked() {
    let sim = start_sim().await;
    let addr = start_dashboard(&sim, DashboardSettings::default()).await;
    let admin = &sim.admin_token;

    // kubeadm init's token is listed, valid and signed.
    let reply = api(addr, admin, "GET", "/api/v1/join-tokens", "").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("cache-control").as_deref(), Some("no-store"));
    let list = json_of(&reply);
    let discovery = &list["discovery"];
    assert_eq!(discovery["source"], "clusterInfo", "{list}");
    assert_eq!(discovery["endpoint"], "192.168.0.113:6443");
    assert_eq!(
        discovery["caCertHashes"],
        json!([sim.sim.ca.public_key_pin.clone()]),
        "the pin is the cluster CA's"
    );
    assert_eq!(
        (&list["mayList"], &list["mayCreate"]),
        (&json!(true), &json!(true))
    );
    assert!(
        list["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["status"] == "valid"
                && t["description"].as_str().unwrap().contains("kubeadm init")),
        "{list}"
    );
    assert!(!reply.body.contains("tokenSecret") && !reply.body.contains("\"token\""));

    // `{}` is kubeadm's defaults.
    let reply = api(addr, admin, "POST", "/api/v1/join-tokens", "{}").await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.header("cache-control").as_deref(), Some("no-store"));
    let created = json_of(&reply);
    let token = created["token"].as_str().unwrap().to_string();
    let (id, secret) = token.split_once('.').unwrap();
    assert!(gpuboard::bootstrap::token::is_id(id) && gpuboard::bootstrap::token::is_secret(secret));
    assert_eq!(
        created["joinCommand"],
        format!(
            "kubeadm join 192.168.0.113:6443 --token {token} --discovery-token-ca-cert-hash {}",
            sim.sim.ca.public_key_pin
        )
    );
    let expires: jiff::Timestamp = created["expires"].as_str().unwrap().parse().unwrap();
    let ttl = expires.as_second() - jiff::Timestamp::now().as_second();
    assert!((86_000..=86_400).contains(&ttl), "24 h: {ttl}");

    // The token authenticates as the bootstrap user.
    assert_eq!(
        whoami(&sim.kubeconfig, &token).await.as_deref(),
        Some(format!("system:bootstrap:{id}").as_str())
    );
    // cluster-info, read anonymously as kubeadm join reads it, carries the token's valid signature.
    let mut anonymous = super::sim_config(&sim).await;
    anonymous.auth_info = Default::default();
    let anonymous = kube::Client::try_from(anonymous).expect("an anonymous client");
    let cluster_info: kube::Api<ConfigMap> = kube::Api::namespaced(anonymous, "kube-public");
    let signature = eventually("the bootstrap signer signs cluster-info", WAIT, || async {
        let cm = cluster_info
            .get("cluster-info")
            .await
            .map_err(|e| e.to_string())?;
        let data = cm.data.unwrap_or_default();
        let kubeconfig = data.get("kubeconfig").ok_or("no kubeconfig")?.clone();
        let jws = data
            .get(&format!("jws-kubeconfig-{id}"))
            .ok_or("no signature yet")?
            .clone();
        Ok::<_, String>((kubeconfig, jws))
    })
    .await;
    // The seeds' control-plane address, as cluster-info names it: shown, never connected to.
    let seed_endpoint = "192.168.0.113:6443";
    assert!(
        signature
            .0
            .contains(&format!("server: https://{seed_endpoint}\n"))
    );
    assert_eq!(
        signature.1,
        gpuboard_sim::pki::detached_jws(&signature.0, id, secret),
        "the signature is HS256 over cluster-info's kubeconfig with the token's secret"
    );
    let listed = eventually("the list says signed", WAIT, || async {
        let reply = api(addr, admin, "GET", "/api/v1/join-tokens", "").await;
        let list = json_of(&reply);
        let token = list["tokens"]
            .as_array()
            .and_then(|tokens| tokens.iter().find(|t| t["id"] == id))
            .cloned()
            .ok_or("not listed")?;
        if token["signing"] == "signed" {
            Ok(token)
        } else {
            Err(format!("not signed yet: {token}"))
        }
    })
    .await;
    assert_eq!(listed["usages"], json!(["authentication", "signing"]));
    assert_eq!(
        listed["extraGroups"],
        json!(["system:bootstrappers:kubeadm:default-node-token"])
    );

    // Revealing gives the same token back.
    let reply = api(addr, admin, "GET", &format!("/api/v1/join-tokens/{id}"), "").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(json_of(&reply)["token"], token.as_str());

    // Revoked: gone from the list and no longer authenticating.
    let reply = api(
        addr,
        admin,
        "DELETE",
        &format!("/api/v1/join-tokens/{id}"),
        "",
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(!listed_ids(addr, admin).await.contains(&id.to_string()));
    assert_eq!(whoami(&sim.kubeconfig, &token).await, None);
    let reply = api(
        addr,
        admin,
        "DELETE",
        &format!("/api/v1/join-tokens/{id}"),
        "",
    )
    .await;
    assert_eq!(reply.status, 404, "{}", reply.body);
    assert_eq!(json_of(&reply)["reason"], "NotFound");
}

#[tokio::test]
async fn refusals_name_the_field_in_kubeadms_words_and_create_nothing() {
    let sim = start_sim().await;
    let addr = start_dashboard(&sim, DashboardSettings::default()).await;
    let admin = &sim.admin_token;
    let before = listed_ids(addr, admin).await;

    let cases = [
        (
            r#"{"usages": ["signing", "bogus"]}"#,
            "usages",
            "invalid bootstrap token usage string: bogus, valid usage options: signing,authentication",
        ),
        (
            r#"{"usages": ["signing"]}"#,
            "groups",
            "token groups cannot be specified unless --usages includes \"authentication\"",
        ),
        (
            r#"{"groups": ["system:masters"]}"#,
            "groups",
            r#"bootstrap group "system:masters" is invalid (must match \Asystem:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]\z)"#,
        ),
        (
            r#"{"ttlSeconds": 999999999999}"#,
            "ttlSeconds",
            "must be at most 315360000",
        ),
    ];
    for (body, field, message) in cases {
        let reply = api(addr, admin, "POST", "/api/v1/join-tokens", body).await;
        assert_eq!(reply.status, 422, "{body}: {}", reply.body);
        let error = json_of(&reply);
        assert_eq!(error["reason"], "Invalid", "{body}");
        assert_eq!(error["field"], field, "{body}");
        assert_eq!(error["message"], message, "{body}");
    }
    // Bodies that are not the request: the error says what is wrong, as JSON.
    for (body, says) in [
        (r#"{"ttl": "1h"}"#, "unknown field `ttl`"),
        (r#"{"ttlSeconds": -1}"#, "ttlSeconds"),
        ("not json", "JSON"),
    ] {
        let reply = api(addr, admin, "POST", "/api/v1/join-tokens", body).await;
        assert!(
            reply.status == 400 || reply.status == 422,
            "{body}: {}",
            reply.head
        );
        let error = json_of(&reply);
        assert_eq!(error["reason"], "BadRequest", "{body}");
        assert!(
            error["message"].as_str().unwrap().contains(says),
            "{body}: {error}"
        );
    }
    // Not a token ID: refused, and a pasted whole token is not echoed back.
    let reply = api(
        addr,
        admin,
        "DELETE",
        "/api/v1/join-tokens/abcdef.0123456789abcdef",
        "",
    )
    .await;
    assert_eq!(reply.status, 422, "{}", reply.body);
    assert!(!reply.body.contains("0123456789abcdef"));
    assert_eq!(listed_ids(addr, admin).await, before, "nothing was created");
}

#[tokio::test]
async fn the_viewer_can_neither_see_nor_change_tokens() {
    let sim = start_sim().await;
    let addr = start_dashboard(&sim, DashboardSettings::default()).await;
    let viewer = &sim.viewer_token;
    let before = listed_ids(addr, &sim.admin_token).await;
    // The list says what the viewer may do: nothing but read the discovery data.
    let reply = api(addr, viewer, "GET", "/api/v1/join-tokens", "").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let list = json_of(&reply);
    assert_eq!(list["tokens"], json!([]));
    assert_eq!(
        (&list["mayList"], &list["mayCreate"], &list["mayDelete"]),
        (&json!(false), &json!(false), &json!(false))
    );
    assert_eq!(list["discovery"]["endpoint"], "192.168.0.113:6443");
    let reply = api(
        addr,
        viewer,
        "GET",
        &format!("/api/v1/join-tokens/{}", before[0]),
        "",
    )
    .await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert_eq!(json_of(&reply)["reason"], "Forbidden");
    let reply = api(addr, viewer, "POST", "/api/v1/join-tokens", "{}").await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    let first = before.first().expect("kubeadm init's token");
    let reply = api(
        addr,
        viewer,
        "DELETE",
        &format!("/api/v1/join-tokens/{first}"),
        "",
    )
    .await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert_eq!(listed_ids(addr, &sim.admin_token).await, before);
    // Without any credential the API answers 401, not a page.
    let reply = request(addr, "GET", "/api/v1/join-tokens", &[], "").await;
    assert_eq!(reply.status, 401, "{}", reply.head);
}
