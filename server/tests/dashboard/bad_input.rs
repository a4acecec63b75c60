//! Hostile input at every door: each field of every JSON body given each hostile value, bodies
//! that are no JSON, query strings, path parameters, headers and cookies, and the pages' server
//! functions given garbage. Not one answer is a 5xx or a dropped connection; each refusal of the
//! JSON API is JSON with a message, a refused field named; and the cluster holds nothing more
//! afterwards (submissions are dry runs; nothing else is valid).

use std::net::SocketAddr;

use gpuboard::DashboardSettings;
use gpuboard_testkit::http::{Reply, try_request};
use gpuboard_testkit::kubectl_ok;
use serde_json::{Value, json};

use super::{csrf_of, origin, sign_in, start_dashboard, start_sim};

/// Values no field expects, or expects only within bounds.
fn hostile_values() -> Vec<Value> {
    let deep = (0..64).fold(json!(0), |inner, _| json!([inner]));
    vec![
        Value::Null,
        json!(7),
        json!(-1),
        json!(1.5),
        json!(1e308),
        json!(true),
        json!(""),
        json!("x".repeat(300)),
        json!("x".repeat(70_000)),
        json!("\u{0000}"),
        json!("../../etc/passwd"),
        json!("<script>alert(1)</script>"),
        json!("名字"),
        json!([]),
        json!({}),
        deep,
        json!(u64::MAX),
        json!([null]),
    ]
}

/// Values of the wrong JSON type for a field of `base`'s type: always refused.
fn wrong_types(base: &Value) -> Vec<Value> {
    let deep = (0..64).fold(json!(0), |inner, _| json!([inner]));
    let mut values = vec![json!({}), deep, json!([[1]])];
    match base {
        Value::String(_) => values.extend([json!(7), json!(true), json!(["x"])]),
        Value::Number(_) => values.extend([json!("x"), json!(-1), json!(1.5), json!(true)]),
        Value::Array(_) => values.extend([json!(7), json!("x"), json!([7]), json!([{}])]),
        _ => values.extend([json!(7), json!("x")]),
    }
    values
}

/// Each field of `base` replaced by each of `values(field's value)`, one at a time, and (when
/// `leave_out`) left out.
fn mutations(
    base: &Value,
    values: impl Fn(&Value) -> Vec<Value>,
    leave_out: bool,
) -> Vec<(String, String)> {
    let object = base.as_object().expect("an object");
    let mut bodies = Vec::new();
    for (field, original) in object {
        for value in values(original) {
            let mut body = object.clone();
            body.insert(field.clone(), value);
            bodies.push((field.clone(), Value::Object(body).to_string()));
        }
        if leave_out {
            let mut without = object.clone();
            without.remove(field);
            bodies.push((field.clone(), Value::Object(without).to_string()));
        }
    }
    bodies
}

/// Sends requests and checks every answer; counts what it sent.
struct Checked {
    addr: SocketAddr,
    sent: usize,
}

impl Checked {
    /// Sends one request; fails the test on a 5xx or a connection that ends without an answer.
    async fn send(&mut self, method: &str, path: &str, headers: &[String], body: &str) -> Reply {
        self.sent += 1;
        let reply = try_request(self.addr, method, path, headers, body)
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: no answer ({e}); body {body:.200}"));
        assert!(
            reply.status < 500,
            "{method} {path}: {}\n{:.500}\nbody sent: {body:.300}",
            reply.head,
            reply.body
        );
        reply
    }

    /// Sends a JSON-API request as a script; a refusal must be JSON with a message (and the
    /// field, when a field was refused).
    async fn api(&mut self, token: &str, method: &str, path: &str, body: &str) -> Reply {
        let headers = [
            format!("Authorization: Bearer {token}"),
            "Content-Type: application/json".into(),
        ];
        let reply = self.send(method, path, &headers, body).await;
        if reply.status >= 400 && reply.status != 413 {
            let error: Value = serde_json::from_str(&reply.body).unwrap_or_else(|e| {
                panic!(
                    "{method} {path}: a refusal that is no JSON ({e}): {}",
                    reply.body
                )
            });
            let message = error["message"].as_str().unwrap_or_default();
            assert!(
                !message.is_empty(),
                "{method} {path}: no message: {}",
                reply.body
            );
            if error["reason"] == "Invalid" {
                assert!(
                    error["field"].is_string(),
                    "{method} {path}: {}",
                    reply.body
                );
            }
        }
        reply
    }
}

/// The names of the objects of `kind` in every namespace.
async fn names(kubeconfig: &std::path::Path, kind: &str) -> String {
    kubectl_ok(kubeconfig, &["get", kind, "-A", "-o", "name"]).await
}

#[tokio::test]
async fn hostile_input_gets_no_5xx_a_message_and_leaves_nothing_in_the_cluster() {
    let sim = start_sim().await;
    let addr = start_dashboard(&sim, DashboardSettings::default()).await;
    let token = sim.admin_token.clone();
    let mut checked = Checked { addr, sent: 0 };
    let kinds = [
        "jobs",
        "deployments",
        "services",
        "serviceaccounts",
        "rolebindings",
        "secrets",
    ];
    let mut before = Vec::new();
    for kind in kinds {
        before.push(names(&sim.kubeconfig, kind).await);
    }

    // Every field of every JSON body.
    let submit = json!({"kind": "Job", "name": "hostile", "namespace": "default",
        "image": "tensorflow/tensorflow:latest-gpu", "command": ["python", "train.py"],
        "gpus": 1, "env": [{"name": "A", "value": "1"}]});
    for (field, body) in mutations(&submit, |_| hostile_values(), true) {
        let path = "/api/v1/workloads?dryRun=true";
        let reply = checked.api(&token, "POST", path, &body).await;
        if reply.status == 422 {
            assert!(
                reply.body.contains(field.as_str()),
                "{field}: {}",
                reply.body
            );
        }
        checked
            .api(&token, "POST", "/api/v1/workloads/fit", &body)
            .await;
    }
    let join = json!({"ttlSeconds": 3600, "description": "d", "usages": ["signing"], "groups": [],
        "requestId": "bad-input-0123456789"});
    for (_, body) in mutations(&join, wrong_types, false) {
        let reply = checked
            .api(&token, "POST", "/api/v1/join-tokens", &body)
            .await;
        assert!(reply.status >= 400, "{body}: {}", reply.body);
    }
    for value in hostile_values().into_iter().filter(|v| !v.is_null()) {
        let mut body = join.clone();
        body["requestId"] = value;
        let body = body.to_string();
        let reply = checked
            .api(&token, "POST", "/api/v1/join-tokens", &body)
            .await;
        assert!(reply.status >= 400, "{body:.200}: {}", reply.body);
        if reply.status == 422 {
            assert!(reply.body.contains("requestId"), "{}", reply.body);
        }
    }
    let access = json!({"namespace": "default", "name": "hostile", "role": "view", "expirationSeconds": 3600});
    for (field, body) in mutations(&access, |_| hostile_values(), true) {
        if field == "expirationSeconds" && !body.contains("expirationSeconds") {
            continue; // the default: a valid grant
        }
        let reply = checked.api(&token, "POST", "/api/v1/access", &body).await;
        assert!(reply.status >= 400, "{body:.200}: {}", reply.body);
    }
    let mint = "/api/v1/namespaces/default/serviceaccounts/default/token";
    for value in hostile_values() {
        let body = json!({"expirationSeconds": value}).to_string();
        checked.api(&token, "POST", mint, &body).await;
    }
    let regenerate = "/api/v1/namespaces/default/serviceaccounts/default/legacy-token";
    for value in hostile_values().into_iter().filter(|v| !v.is_null()) {
        let body = json!({"requestId": value}).to_string();
        let reply = checked.api(&token, "POST", regenerate, &body).await;
        assert!(reply.status >= 400, "{body:.200}: {}", reply.body);
    }

    // Bodies that are no JSON, at every JSON door.
    let posts = [
        "/api/v1/workloads?dryRun=true",
        "/api/v1/workloads/fit",
        "/api/v1/join-tokens",
        "/api/v1/access",
        mint,
        regenerate,
    ];
    let huge = format!("{{\"name\": \"{}\"}}", "x".repeat(300 * 1024));
    let not_json = [
        "",
        "not json",
        "[]",
        "{",
        "\"text\"",
        "{\"a\":1,}",
        "\u{feff}{}",
        &huge,
    ];
    for path in posts {
        for body in not_json {
            // No body at all is a request for the defaults where every field is optional.
            if body.is_empty() && [mint, regenerate, "/api/v1/join-tokens"].contains(&path) {
                continue;
            }
            let reply = checked.api(&token, "POST", path, body).await;
            assert!(
                reply.status >= 400,
                "{path} given {body:.40?}: {}",
                reply.head
            );
        }
        // Regenerating reads its body leniently (no body: the defaults), and would replace a
        // token: it is not sent as text.
        if path == regenerate {
            continue;
        }
        let headers = [
            format!("Authorization: Bearer {token}"),
            "Content-Type: text/plain".into(),
        ];
        let reply = checked.send("POST", path, &headers, "{}").await;
        // Minting reads its body leniently too; it makes no object.
        if path != mint {
            assert!(reply.status >= 400, "{path} as text/plain: {}", reply.head);
        }
    }

    // Query strings and path parameters.
    for query in [
        "page=-1",
        "page=abc",
        "page=99999999999999999999999",
        "page=",
        "mineOnly=maybe",
        "mineOnly=",
        "unknown=1",
        "page=1&page=2",
        "%zz=1",
        "page=%00",
    ] {
        checked
            .api(&token, "GET", &format!("/api/v1/workloads?{query}"), "")
            .await;
    }
    for query in [
        "namespace=../x",
        "namespace=%00",
        "namespace=名字",
        &format!("namespace={}", "n".repeat(5000)),
    ] {
        checked
            .api(
                &token,
                "GET",
                &format!("/api/v1/serviceaccounts?{query}"),
                "",
            )
            .await;
    }
    let logs = "/api/v1/namespaces/default/workloads/hostile/logs";
    for query in [
        "tailLines=-5",
        "tailLines=x",
        "follow=maybe",
        "container=%2F",
        "since=yesterday",
    ] {
        checked
            .api(&token, "GET", &format!("{logs}?{query}"), "")
            .await;
    }
    for name in [
        "UPPER",
        "a..b",
        "%2F",
        "%2e%2e",
        &"n".repeat(300),
        "名字",
        "-x-",
        "x%00",
    ] {
        checked
            .api(
                &token,
                "GET",
                &format!("/api/v1/namespaces/{name}/workloads/{name}"),
                "",
            )
            .await;
        checked
            .api(
                &token,
                "DELETE",
                &format!("/api/v1/namespaces/{name}/workloads/{name}"),
                "",
            )
            .await;
        checked
            .api(&token, "GET", &format!("/api/v1/nodes/{name}/doctor"), "")
            .await;
        checked
            .api(&token, "GET", &format!("/api/v1/join-tokens/{name}"), "")
            .await;
        checked
            .api(&token, "DELETE", &format!("/api/v1/join-tokens/{name}"), "")
            .await;
        let path = format!("/api/v1/namespaces/{name}/serviceaccounts/{name}/token");
        checked.api(&token, "POST", &path, "{}").await;
    }

    // Headers and cookies.
    let long = "t".repeat(20_000);
    for header in [
        format!("Authorization: Bearer {long}"),
        "Authorization: Bearer ".into(),
        "Authorization: Basic dXNlcjpwYXNz".into(),
        "Authorization: Bearer a b c".into(),
        "Cookie: __Host-gpuboard_session=garbage".into(),
        format!("Cookie: __Host-gpuboard_session={long}"),
        "Cookie: __Host-gpuboard_session=".into(),
        "Cookie: gpuboard_session=old-name".into(),
        "X-CSRF-Token: nope".into(),
        "X-Forwarded-For: 1.2.3.4, junk".into(),
        "Accept-Language: zz;q=garbage".into(),
        "Content-Length: 5".into(),
    ] {
        for path in ["/", "/api/v1/workloads", "/api/list_nodes", "/events"] {
            checked
                .send("GET", path, std::slice::from_ref(&header), "")
                .await;
        }
    }

    // The pages' server functions, signed in, given garbage.
    let cookie = sign_in(addr, &token).await;
    let page = checked
        .send("GET", "/", std::slice::from_ref(&cookie), "")
        .await;
    let csrf = format!("X-CSRF-Token: {}", csrf_of(&page.body));
    let form = "Content-Type: application/x-www-form-urlencoded".to_string();
    for (path, method) in leptos::server_fn::axum::server_fn_paths() {
        // Every field of a new join token is optional: any form is a valid request there.
        if path.starts_with("/api/create_join_token") {
            continue;
        }
        let method = method.to_string();
        let headers = [cookie.clone(), csrf.clone(), origin(addr), form.clone()];
        for garbage in [
            "",
            "x=1",
            "%%%",
            "a[b][c][d]=1",
            "kind=Nope&gpus=-3",
            "request=not-json",
            "request=%5B%5D&dry_run=true",
            "request=%22text%22",
            &"q=1&".repeat(2000),
        ] {
            if method == "GET" {
                checked
                    .send("GET", &format!("{path}?{garbage}"), &headers, "")
                    .await;
            } else {
                checked.send(&method, path, &headers, garbage).await;
            }
        }
    }
    // Sign-in forms.
    for body in [
        "",
        "token=",
        "tok=x",
        &format!("token={long}"),
        "token=%00%01",
        "token=a&token=b",
    ] {
        checked
            .send("POST", "/login", &[origin(addr), form.clone()], body)
            .await;
    }

    assert!(checked.sent >= 300, "only {} hostile inputs", checked.sent);
    assert_eq!(
        checked.send("GET", "/healthz", &[], "").await.status,
        200,
        "still standing"
    );
    for (kind, before) in kinds.iter().zip(before) {
        assert_eq!(
            names(&sim.kubeconfig, kind).await,
            before,
            "{kind}: nothing made"
        );
    }
}
