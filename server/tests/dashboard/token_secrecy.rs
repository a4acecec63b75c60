//! The user's token never leaves the server: a whole run of `gpuboard serve --demo` (sign in with a
//! freshly minted service-account token, every page, the server functions, the CSV, sign out) is
//! searched, every response header and body and every log line, and the token is in none of them.

use gpuboard_testkit::client_for;
use gpuboard_testkit::http::{form, request};
use k8s_openapi::api::authentication::v1::TokenRequest;
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::{Api, PostParams};
use serde_json::json;

use super::{DemoServer, csrf_of};

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

    assert!(logs.contains("signed in"), "the run was logged: {logs}");
    assert!(logs.contains("signed out"), "the run was logged to the end");
    for (i, response) in responses.iter().enumerate() {
        assert!(
            !response.contains(&token),
            "response {i} carries the token:\n{response}"
        );
    }
    for line in logs.lines() {
        assert!(
            !line.contains(&token),
            "a log line carries the token: {line}"
        );
    }
}
