//! Secrets go only where they are meant to. The user's token never leaves the server: a run of
//! `gpuboard serve --demo` (sign in with a freshly minted service-account token, every page, the
//! server functions, the CSV, sign out) is searched, every response header and body and every
//! log line, and the token is in none of them. A whole run as an admin over every page and form
//! (join tokens created and revealed, tokens minted, access granted, a legacy token regenerated,
//! a job submitted): each secret made is in the one answer that hands it over, in no other
//! answer and no log line, and the demo's admin token only where the demo prints it.

use std::cell::RefCell;

use gpuboard_testkit::client_for;
use gpuboard_testkit::http::{Reply, form, request};
use k8s_openapi::api::authentication::v1::TokenRequest;
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::{Api, PostParams};
use serde_json::json;

use super::{DemoServer, csrf_of, json_of};

/// The `token` of a JSON answer (a failure names no secret).
fn token_of(reply: &Reply) -> String {
    json_of(reply)["token"]
        .as_str()
        .expect("a token in the answer")
        .to_string()
}

#[tokio::test]
async fn the_token_is_in_no_response_and_no_log_line() {
    let mut server = DemoServer::start("debug").await;
    let addr = server.addr;
    let origin = format!("Origin: http://{addr}");
    let exchange = async |method: &str, path: &str, extra: &[String], body: &str| {
        let mut headers = vec![origin.clone()];
        headers.extend_from_slice(extra);
        request(addr, method, path, &headers, body).await
    };

    // A token minted for this test, so the demo's printed admin token does not count.
    let admin = client_for(&server.kubeconfig()).await;
    let sas: Api<ServiceAccount> = Api::namespaced(admin, "kube-system");
    sas.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "secret-keeper"}})).unwrap(),
    )
    .await
    .unwrap();
    let request: TokenRequest = serde_json::from_value(json!({"spec": {"audiences": []}})).unwrap();
    let token = sas
        .create_token_request("secret-keeper", &PostParams::default(), &request)
        .await
        .unwrap()
        .status
        .and_then(|s| s.token)
        .expect("a minted token");
    let binding = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "secret-keeper"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "ServiceAccount", "name": "secret-keeper", "namespace": "kube-system"}]});
    let admin = client_for(&server.kubeconfig()).await;
    let bindings: Api<k8s_openapi::api::rbac::v1::ClusterRoleBinding> = Api::all(admin);
    bindings
        .create(
            &PostParams::default(),
            &serde_json::from_value(binding).unwrap(),
        )
        .await
        .unwrap();

    let mut responses = Vec::new();
    responses.push(exchange("POST", "/login", &[], "token=wrong").await.raw());
    let login = exchange("POST", "/login", &[], &form(&[("token", &token)])).await;
    let cookie = login.session_cookie().expect("signed in");
    responses.push(login.raw());
    for path in ["/", "/nodes", "/gpus", "/gpus.csv", "/login"] {
        responses.push(
            exchange("GET", path, std::slice::from_ref(&cookie), "")
                .await
                .raw(),
        );
    }
    use leptos::server_fn::ServerFn;
    for function in [
        frontend::api::ListNodes::PATH,
        frontend::api::ListGpus::PATH,
        frontend::api::Whoami::PATH,
    ] {
        let answer = exchange("GET", function, std::slice::from_ref(&cookie), "").await;
        assert_eq!(answer.status, 200, "{function}: {}", answer.raw());
        responses.push(answer.raw());
    }
    responses.push(
        exchange(
            "GET",
            "/gpus",
            &[format!("Authorization: Bearer {token}")],
            "",
        )
        .await
        .raw(),
    );
    let page = exchange("GET", "/", std::slice::from_ref(&cookie), "")
        .await
        .raw();
    let csrf = csrf_of(&page);
    responses.push(page.clone());
    assert!(
        page.contains("system:serviceaccount:kube-system:secret-keeper"),
        "signed in as the service account"
    );
    responses.push(
        exchange(
            "POST",
            "/logout",
            std::slice::from_ref(&cookie),
            &format!("csrf={csrf}"),
        )
        .await
        .raw(),
    );
    server.wait_for_log("signed out").await;
    let logs = server.stop();

    assert!(
        logs.contains("signed in"),
        "the run was not logged ({} bytes of output)",
        logs.len()
    );
    assert!(logs.contains("signed out"), "the run was logged to the end");
    for (i, response) in responses.iter().enumerate() {
        assert!(
            !response.contains(&token),
            "response {i} carries the token (the response is not printed: it would print the token)"
        );
    }
    for line in logs.lines() {
        assert!(
            !line.contains(&token),
            "a log line carries the token (not printed: it would print the token)"
        );
    }
}

/// A secret and the answers (by label) allowed to carry it.
struct Followed {
    what: &'static str,
    value: String,
    allowed: Vec<&'static str>,
}

#[tokio::test]
async fn a_whole_run_shows_each_secret_only_in_the_answer_that_hands_it_over() {
    let mut server = DemoServer::start("debug").await;
    let addr = server.addr;
    let demo_admin = std::fs::read_to_string(server.kubeconfig().with_file_name("admin.token"))
        .expect("the demo's admin token")
        .trim()
        .to_string();

    // The run's admin: a service account bound to cluster-admin, with a minted token.
    let admin = client_for(&server.kubeconfig()).await;
    for name in ["run-admin", "ci-bot"] {
        let account = json!({"metadata": {"name": name}});
        Api::<ServiceAccount>::namespaced(admin.clone(), "default")
            .create(
                &PostParams::default(),
                &serde_json::from_value(account).unwrap(),
            )
            .await
            .unwrap();
    }
    let binding = json!({"metadata": {"name": "run-admin"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "ServiceAccount", "name": "run-admin", "namespace": "default"}]});
    Api::<k8s_openapi::api::rbac::v1::ClusterRoleBinding>::all(admin.clone())
        .create(
            &PostParams::default(),
            &serde_json::from_value(binding).unwrap(),
        )
        .await
        .unwrap();
    let asked: TokenRequest = serde_json::from_value(json!({"spec": {"audiences": []}})).unwrap();
    let token = Api::<ServiceAccount>::namespaced(admin, "default")
        .create_token_request("run-admin", &PostParams::default(), &asked)
        .await
        .unwrap()
        .status
        .and_then(|s| s.token)
        .expect("a minted token");

    let origin = format!("Origin: http://{addr}");
    let login = request(
        addr,
        "POST",
        "/login",
        std::slice::from_ref(&origin),
        &form(&[("token", &token)]),
    )
    .await;
    let cookie = login.session_cookie().expect("signed in");
    let answers: RefCell<Vec<(&'static str, String)>> =
        RefCell::new(vec![("sign-in", login.raw())]);
    let with_cookie = [origin, cookie];
    let csrf = csrf_of(&request(addr, "GET", "/", &with_cookie, "").await.body);
    // A form sent to a server function, as the page sends it; its answer is kept under `label`.
    let send = async |label: &'static str, path: &str, fields: &[(&str, &str)]| {
        let mut fields = fields.to_vec();
        fields.push(("csrf", &csrf));
        let reply = request(addr, "POST", path, &with_cookie, &form(&fields)).await;
        assert_eq!(reply.status, 200, "{label}: {}", reply.head);
        answers.borrow_mut().push((label, reply.raw()));
        reply
    };
    use frontend::api::{
        CreateJoinToken, GrantAccess, MintToken, RegenerateLegacyToken, RevealJoinToken,
        SubmitWorkload,
    };
    use leptos::server_fn::ServerFn;

    let join_form = [
        ("ttl_seconds", "3600"),
        ("description", "whole run"),
        ("usages", "signing,authentication"),
        ("groups", "system:bootstrappers:kubeadm:default-node-token"),
        ("request_id", "whole-run-0123456789"),
    ];
    let created = send("create join token", CreateJoinToken::PATH, &join_form).await;
    let join_token = token_of(&created);
    let join_id = json_of(&created)["id"].as_str().unwrap().to_string();
    // Sent again (a double click): the same token, found rather than made.
    let again = send("create join token", CreateJoinToken::PATH, &join_form).await;
    assert!(
        token_of(&again) == join_token,
        "a second send made another token"
    );
    send(
        "reveal join token",
        RevealJoinToken::PATH,
        &[("id", &join_id)],
    )
    .await;

    let minted_token = token_of(
        &send(
            "mint token",
            MintToken::PATH,
            &[
                ("namespace", "default"),
                ("name", "ci-bot"),
                ("expiration_seconds", "3600"),
            ],
        )
        .await,
    );
    let granted_token = token_of(
        &send(
            "grant access",
            GrantAccess::PATH,
            &[
                ("namespace", "default"),
                ("name", "teammate"),
                ("role", "view"),
                ("expiration_seconds", "3600"),
            ],
        )
        .await,
    );
    let legacy_token = token_of(
        &send(
            "regenerate legacy token",
            RegenerateLegacyToken::PATH,
            &[
                ("namespace", "default"),
                ("name", "ci-bot"),
                ("request_id", "whole-run-0123456789"),
            ],
        )
        .await,
    );
    let job = json!({"kind": "Job", "name": "whole-run", "namespace": "default",
        "image": "tensorflow/tensorflow:latest-gpu", "command": ["python", "train.py"], "gpus": 1});
    send(
        "submit",
        SubmitWorkload::PATH,
        &[("request", &job.to_string()), ("dry_run", "false")],
    )
    .await;

    // Every page, every list and the CSV afterwards, as the browser and a script read them.
    for path in gpuboard::app::page_paths() {
        let path = if path.starts_with("/nodes/") {
            path.replace("{name}", "node-110")
        } else {
            path.replace("{namespace}", "default")
                .replace("{name}", "whole-run")
        };
        let page = request(addr, "GET", &path, &with_cookie, "").await;
        assert!(page.status < 500, "{path}: {}", page.head);
        answers.borrow_mut().push(("a page", page.raw()));
    }
    for path in [
        "/gpus.csv",
        "/api/v1/join-tokens",
        "/api/v1/serviceaccounts",
        "/api/v1/workloads",
        &format!("/api/v1/join-tokens/{join_id}"),
    ] {
        let bearer = format!("Authorization: Bearer {token}");
        let label = if path.ends_with(&join_id) {
            "reveal join token"
        } else {
            "a list"
        };
        let reply = request(addr, "GET", path, &[bearer], "").await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.head);
        answers.borrow_mut().push((label, reply.raw()));
    }
    let signed_out = request(
        addr,
        "POST",
        "/logout",
        &with_cookie,
        &form(&[("csrf", &csrf)]),
    )
    .await;
    answers.borrow_mut().push(("sign-out", signed_out.raw()));
    server.wait_for_log("signed out").await;
    let logs = server.stop();
    assert!(
        logs.contains("created a join token")
            && logs.contains("the same request made this join token before")
            && logs.contains("regenerated a legacy token"),
        "the mutations were not logged ({} bytes of output)",
        logs.len()
    );

    let join_secret = join_token.split_once('.').expect("id.secret").1.to_string();
    let followed = [
        Followed {
            what: "the user's token",
            value: token,
            allowed: vec![],
        },
        Followed {
            what: "the demo's admin token",
            value: demo_admin,
            allowed: vec![],
        },
        Followed {
            what: "the join token's secret",
            value: join_secret,
            allowed: vec!["create join token", "reveal join token"],
        },
        Followed {
            what: "the minted token",
            value: minted_token,
            allowed: vec!["mint token"],
        },
        Followed {
            what: "the granted token",
            value: granted_token,
            allowed: vec!["grant access"],
        },
        Followed {
            what: "the legacy token",
            value: legacy_token,
            allowed: vec!["regenerate legacy token"],
        },
    ];
    let answers = answers.into_inner();
    for secret in &followed {
        let mut handed_over = false;
        for (label, answer) in &answers {
            let carries = answer.contains(&secret.value);
            // Printed by label only: a failure must not put the secret in the log.
            assert!(
                !carries || secret.allowed.contains(label),
                "{} is in the answer to {label}",
                secret.what
            );
            handed_over |= carries;
        }
        assert_eq!(
            handed_over,
            !secret.allowed.is_empty(),
            "{} handed over",
            secret.what
        );
        // The demo prints its admin token once, for whoever runs it; no log line has any.
        let lines = logs
            .lines()
            .filter(|l| !l.trim_start().starts_with("admin token:"));
        assert_eq!(
            lines.filter(|l| l.contains(&secret.value)).count(),
            0,
            "{} is in a log line",
            secret.what
        );
    }
}
