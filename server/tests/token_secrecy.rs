//! The user's token never leaves the server: a whole run of `gpuboard serve --demo` (sign in with a
//! freshly minted service-account token, every page, the server functions, the CSV, sign out) is
//! searched, every response header and body and every log line, and the token is in none of them.

mod common;

use std::io::Read;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use k8s_openapi::api::authentication::v1::TokenRequest;
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::{Api, PostParams};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use common::client_for;

async fn exchange(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[String],
    body: &str,
) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut head = format!(
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nOrigin: http://{addr}\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !body.is_empty() {
        head.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
    }
    for h in headers {
        head.push_str(h);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    String::from_utf8_lossy(&raw).to_string()
}

fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn the_token_is_in_no_response_and_no_log_line() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let state = tempfile::tempdir().unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut child = Command::new(env!("CARGO_BIN_EXE_gpuboard"))
        .current_dir(&root)
        .env("RUST_LOG", "debug")
        .args([
            "serve",
            "--demo",
            "--listen",
            &addr.to_string(),
            "--demo-exporter-port",
            "0",
            "--demo-state-dir",
        ])
        .arg(state.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("gpuboard serve starts");
    let mut up = false;
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "the dashboard listens");

    // A token minted for this test, so the demo's printed admin token does not count.
    let admin = client_for(&state.path().join("kubeconfig")).await;
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
    let admin = client_for(&state.path().join("kubeconfig")).await;
    let bindings: Api<k8s_openapi::api::rbac::v1::ClusterRoleBinding> = Api::all(admin);
    bindings
        .create(
            &PostParams::default(),
            &serde_json::from_value(binding).unwrap(),
        )
        .await
        .unwrap();

    let mut responses = Vec::new();
    responses.push(exchange(addr, "POST", "/login", &[], "token=wrong").await);
    let login = exchange(
        addr,
        "POST",
        "/login",
        &[],
        &format!("token={}", encode(&token)),
    )
    .await;
    let cookie = login
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .and_then(|c| c.split(';').next())
        .map(|c| format!("Cookie: {c}"))
        .expect("signed in");
    responses.push(login.clone());
    for path in ["/", "/nodes", "/gpus", "/gpus.csv", "/login"] {
        responses.push(exchange(addr, "GET", path, std::slice::from_ref(&cookie), "").await);
    }
    use leptos::server_fn::ServerFn;
    for function in [
        frontend::api::ListNodes::PATH,
        frontend::api::ListGpus::PATH,
        frontend::api::Whoami::PATH,
    ] {
        let answer = exchange(addr, "POST", function, std::slice::from_ref(&cookie), "").await;
        assert!(
            answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200"),
            "{function}: {answer}"
        );
        responses.push(answer);
    }
    responses.push(
        exchange(
            addr,
            "GET",
            "/gpus",
            &[format!("Authorization: Bearer {token}")],
            "",
        )
        .await,
    );
    let page = exchange(addr, "GET", "/", std::slice::from_ref(&cookie), "").await;
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_default()
        .to_string();
    responses.push(page.clone());
    assert!(
        page.contains("system:serviceaccount:kube-system:secret-keeper"),
        "signed in as the service account"
    );
    responses.push(
        exchange(
            addr,
            "POST",
            "/logout",
            std::slice::from_ref(&cookie),
            &format!("csrf={csrf}"),
        )
        .await,
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _ = child.kill();
    let mut logs = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    let _ = child.wait();

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
