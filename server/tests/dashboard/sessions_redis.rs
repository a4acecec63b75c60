//! Sessions shared through a real Redis (Debian's `redis-server`, started here on loopback with
//! a password and its append-only file on): two `gpuboard serve` processes, one started before
//! Redis, share a sign-in and its sign-out, a restarted one loses no session, Redis holds neither
//! token nor cookie, and Redis down gives a clear sign-in error, never a panic, with the sessions
//! back once it returns. The store's own rules (a user's cap, the capacity, no late save) are
//! checked against it too, and `deploy/`'s replicas component is rendered.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use base64::Engine;
use gpuboard::auth::store::{MAX_PER_USER, RedisSettings, SealingKey, SessionBackend, Sessions};
use gpuboard_testkit::http::{form, request};
use gpuboard_testkit::process::Process;
use tower_sessions::SessionStore;
use tower_sessions::cookie::time::OffsetDateTime;
use tower_sessions::session::{Id, Record};

use super::{WAIT, origin, post_login, sign_in, start_sim};

/// A `redis-server` on a free loopback port, with a password, keeping its data in a temporary
/// directory across restarts (append-only file, written at every change).
struct Redis {
    port: u16,
    password: String,
    dir: tempfile::TempDir,
    process: Option<Process>,
}

impl Redis {
    /// Started.
    async fn start() -> Redis {
        let mut redis = Redis::not_yet();
        redis.run().await;
        redis
    }

    /// Its port and password chosen, not started.
    fn not_yet() -> Redis {
        let found = Command::new("redis-server").arg("--version").output();
        assert!(
            found.is_ok_and(|o| o.status.success()),
            "redis-server is not installed: `scripts/setup.sh test` installs it (Debian's redis-server)"
        );
        Redis {
            port: gpuboard_testkit::free_loopback_port(),
            password: gpuboard::hex::encode(&rand::random::<[u8; 16]>()),
            dir: tempfile::tempdir().expect("temp dir"),
            process: None,
        }
    }

    /// Starts the server (again) and waits until it takes connections.
    async fn run(&mut self) {
        let mut process = Process::spawn(
            Command::new("redis-server")
                .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
                .args([
                    "--save",
                    "",
                    "--appendonly",
                    "yes",
                    "--appendfsync",
                    "always",
                ])
                .args(["--requirepass", &self.password])
                .arg("--dir")
                .arg(self.dir.path()),
        );
        process
            .wait_for("Redis to take connections", WAIT, |line| {
                line.contains("Ready to accept connections").then_some(())
            })
            .await;
        self.process = Some(process);
    }

    fn stop(&mut self) {
        if let Some(process) = self.process.take() {
            process.stop();
        }
    }

    fn url(&self) -> String {
        format!("redis://:{}@127.0.0.1:{}/0", self.password, self.port)
    }

    /// Every byte Redis has written to its append-only files.
    fn written(&self) -> Vec<u8> {
        fn read_all(dir: &Path, into: &mut Vec<u8>) {
            for entry in std::fs::read_dir(dir).expect("readable").flatten() {
                let path = entry.path();
                if path.is_dir() {
                    read_all(&path, into);
                } else {
                    into.extend(std::fs::read(&path).expect("readable"));
                }
            }
        }
        let mut bytes = Vec::new();
        read_all(self.dir.path(), &mut bytes);
        bytes
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// A key file as `openssl rand -base64 32` writes one.
fn key_file(dir: &Path) -> PathBuf {
    let path = dir.join("session.key");
    let key: [u8; 32] = rand::random();
    std::fs::write(
        &path,
        format!(
            "{}\n",
            base64::engine::general_purpose::STANDARD.encode(key)
        ),
    )
    .expect("written");
    path
}

/// `gpuboard serve` against `kubeconfig` with its sessions in `redis`: a replica.
async fn replica(kubeconfig: &Path, redis: &Redis, key: &Path) -> (SocketAddr, Process) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut process = Process::spawn(
        Command::new(env!("CARGO_BIN_EXE_gpuboard"))
            .current_dir(&root)
            .env("RUST_LOG", "info,kube=warn")
            .args(["serve", "--listen", "127.0.0.1:0", "--kubeconfig"])
            .arg(kubeconfig)
            .args(["--session-store", &redis.url(), "--session-key-file"])
            .arg(key),
    );
    (process.listening_address().await, process)
}

/// Signs out at `addr` with `cookie` and its `csrf` token: the sign-in page saying so, and only
/// removals of the session cookie.
async fn sign_out(addr: SocketAddr, cookie: &str, csrf: &str) {
    let out = request(
        addr,
        "POST",
        "/logout",
        &[cookie.to_string(), origin(addr)],
        &form(&[("csrf", csrf)]),
    )
    .await;
    assert_eq!(
        out.header("location").as_deref(),
        Some("/login?reason=signed-out"),
        "sign-out: {}",
        out.head
    );
    assert_only_removals(&out.head);
}

/// Every session cookie `head` sets is a removal the browser takes (Secure, as `__Host-` asks);
/// there is at least one.
fn assert_only_removals(head: &str) {
    let sets: Vec<&str> = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(name, value)| {
            name.eq_ignore_ascii_case("set-cookie") && value.contains("__Host-gpuboard_session=")
        })
        .map(|(_, value)| value.trim())
        .collect();
    assert!(
        sets.iter()
            .any(|c| c.contains("Max-Age=0") && c.contains("Secure")),
        "no removal the browser takes: {head}"
    );
    assert!(
        sets.iter()
            .all(|c| c.starts_with("__Host-gpuboard_session=;")),
        "a session cookie with a value: {head}"
    );
}

/// The status and `Location` of `GET /` with `cookie`.
async fn home(addr: SocketAddr, cookie: &str) -> (u16, String) {
    let reply = request(addr, "GET", "/", &[cookie.to_string()], "").await;
    (reply.status, reply.header("location").unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_sessions_through_redis_and_outlive_a_restart_and_an_outage() {
    let sim = start_sim().await;
    let mut redis = Redis::not_yet();
    let keys = tempfile::tempdir().expect("temp dir");
    let key = key_file(keys.path());
    // One replica starts before Redis does: it connects once Redis is there.
    let (a, a_process) = replica(&sim.kubeconfig, &redis, &key).await;
    redis.run().await;
    let (b, b_process) = replica(&sim.kubeconfig, &redis, &key).await;
    let cookie =
        gpuboard_testkit::eventually("a sign-in at the replica started first", WAIT, || async {
            let reply = post_login(a, &sim.admin_token).await;
            reply.session_cookie().ok_or(reply.head)
        })
        .await;

    // Signed in at one replica, signed in at the other.
    assert_eq!(
        home(b, &cookie).await.0,
        200,
        "the other replica knows the session"
    );
    let written = redis.written();
    assert!(
        contains(&written, "gpuboard:sessions"),
        "sessions reached Redis"
    );
    assert!(
        !contains(&written, &sim.admin_token),
        "Redis holds the token in the clear"
    );
    let session_id = cookie.rsplit('=').next().expect("a cookie value");
    assert!(
        !contains(&written, session_id),
        "Redis holds the cookie's session id"
    );

    // A replica restarted loses no session.
    let a_log = a_process.stop();
    let (a, a_process) = replica(&sim.kubeconfig, &redis, &key).await;
    assert_eq!(
        home(a, &cookie).await.0,
        200,
        "a restarted replica keeps the session"
    );

    // Redis down: a clear refusal at sign-in and on pages, no panic. A second session, to sign
    // out during the outage.
    let leaving = sign_in(a, &sim.admin_token).await;
    let csrf = super::csrf_of(
        &request(a, "GET", "/", std::slice::from_ref(&leaving), "")
            .await
            .body,
    );
    redis.stop();
    let (status, location) = home(b, &cookie).await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/login?error=store-unreachable"),
        "a page while Redis is down"
    );
    let refused = post_login(a, &sim.admin_token).await;
    assert_eq!(
        refused.header("location").as_deref(),
        Some("/login?error=store-unreachable"),
        "sign-in while Redis is down: {}",
        refused.head
    );
    let page = request(a, "GET", "/login?error=store-unreachable", &[], "").await;
    assert!(
        page.body
            .contains("session store (Redis) cannot be reached"),
        "the sign-in page says why: {}",
        page.body
    );

    // Signing out while Redis is down: the browser drops its cookie and hears it is signed out;
    // the session ends in Redis once it is back.
    sign_out(b, &leaving, &csrf).await;

    // Redis back: the same session, without signing in again; the signed-out one ended.
    redis.run().await;
    gpuboard_testkit::eventually("the session back at both replicas", WAIT, || async {
        match (home(a, &cookie).await, home(b, &cookie).await) {
            ((200, _), (200, _)) => Ok(()),
            other => Err(other),
        }
    })
    .await;
    gpuboard_testkit::eventually("the signed-out session ended in Redis", WAIT, || async {
        match home(a, &leaving).await {
            (303, location) if location == "/login" => Ok(()),
            other => Err(other),
        }
    })
    .await;

    // Signed out at one replica, signed out at both.
    let page = request(a, "GET", "/", std::slice::from_ref(&cookie), "").await;
    let csrf = super::csrf_of(&page.body);
    sign_out(a, &cookie, &csrf).await;
    assert_eq!(
        home(b, &cookie).await,
        (303, "/login".to_string()),
        "signed out at the other replica too"
    );

    let logs = [a_log, a_process.stop(), b_process.stop()].concat();
    assert!(!logs.contains("panicked"), "{logs}");
    assert!(!logs.contains(&sim.admin_token), "a token in the logs");
    assert!(
        !logs.contains(&redis.password),
        "the store's password in the logs"
    );
}

/// A record of `user`'s session, ending in an hour.
fn record(user: &str) -> Record {
    Record {
        id: Id::default(),
        data: HashMap::from([(
            "user".to_string(),
            serde_json::json!({"username": user, "token": "t"}),
        )]),
        expiry_date: OffsetDateTime::now_utc() + tower_sessions::cookie::time::Duration::hours(1),
    }
}

fn sealing_key() -> SealingKey {
    SealingKey::from_base64(&base64::engine::general_purpose::STANDARD.encode([3u8; 32]))
        .expect("a key")
}

/// A store in `redis` for at most `capacity` sessions.
fn redis_sessions(redis: &Redis, capacity: u64) -> Sessions {
    let settings = RedisSettings::new(&redis.url(), sealing_key()).expect("a Redis URL");
    Sessions::new(
        &SessionBackend::Redis(settings),
        capacity,
        Duration::from_secs(3600),
    )
    .expect("the store")
}

#[tokio::test]
async fn the_redis_store_keeps_the_stores_rules() {
    let redis = Redis::start().await;
    let sessions = redis_sessions(&redis, 30);

    // A user's cap: the oldest go.
    let mut ids = Vec::new();
    for _ in 0..MAX_PER_USER + 2 {
        let mut r = record("alice");
        sessions.create(&mut r).await.expect("created");
        ids.push(r.id);
    }
    for (i, id) in ids.iter().enumerate() {
        let held = sessions.load(id).await.expect("loads").is_some();
        assert_eq!(held, i >= 2, "alice's session {i}");
    }

    // Ended sessions leave a user's count: 25 sign-ins and sign-outs end no live session.
    let mut live = record("dave");
    sessions.create(&mut live).await.expect("created");
    for _ in 0..MAX_PER_USER + 5 {
        let mut r = record("dave");
        sessions.create(&mut r).await.expect("created");
        sessions.delete(&r.id).await.expect("deleted");
    }
    assert!(
        sessions.load(&live.id).await.expect("loads").is_some(),
        "dave's live session"
    );
    sessions.delete(&live.id).await.expect("deleted");

    // A late save does not bring back a deleted session.
    let mut bob = record("bob");
    sessions.create(&mut bob).await.expect("created");
    let mut touched = bob.clone();
    touched.data.insert("seen".into(), serde_json::json!(1));
    sessions.save(&touched).await.expect("saved");
    assert_eq!(
        sessions.load(&bob.id).await.expect("loads"),
        Some(touched.clone())
    );
    sessions.delete(&bob.id).await.expect("deleted");
    sessions
        .save(&touched)
        .await
        .expect("a late save is no error");
    assert_eq!(sessions.load(&bob.id).await.expect("loads"), None);

    // The capacity: alice's 20 and 10 more fill it; the next is refused, the others kept.
    assert_eq!(sessions.held().await.expect("counted"), MAX_PER_USER as u64);
    for i in 0..10 {
        sessions
            .create(&mut record(&format!("user-{i}")))
            .await
            .expect("created");
    }
    assert!(sessions.is_full().await.expect("asked"));
    let refused = sessions.create(&mut record("carol")).await.unwrap_err();
    assert!(refused.to_string().contains("30 sessions"), "{refused}");
    assert_eq!(sessions.held().await.expect("counted"), 30);
    assert!(
        !format!("{sessions:?}").contains(&redis.password),
        "printing the store shows no password"
    );
    let refused = RedisSettings::new(&redis.url().replace("redis://", "rediss://"), sealing_key());
    assert!(
        refused.is_err_and(|e| e.to_string().contains("only redis://")),
        "no TLS: refused, not sent in the clear"
    );
}

#[tokio::test]
async fn the_replicas_component_makes_two_replicas_on_redis_with_one_certificate() {
    let dir = tempfile::tempdir().expect("temp dir");
    let kubeconfig = dir.path().join("no-cluster");
    let (base, replicas) = (dir.path().join("base"), dir.path().join("replicas"));
    super::deploy_copy(&base, &[]);
    super::deploy_copy(
        &replicas,
        &[
            "patches:",
            "  - path: tls-from-secret.yaml",
            "components:",
            "  - replicas",
        ],
    );
    let kustomize = |dir: &Path| {
        let dir = dir.to_string_lossy().into_owned();
        let kubeconfig = kubeconfig.clone();
        async move { gpuboard_testkit::kubectl_ok(&kubeconfig, &["kustomize", &dir]).await }
    };
    let base = kustomize(&base).await;
    assert!(
        base.contains("replicas: 1") && !base.contains("GPUBOARD_SESSION_STORE"),
        "{base}"
    );
    let two = kustomize(&replicas).await;
    for wanted in [
        "replicas: 2",
        "name: GPUBOARD_SESSION_STORE",
        "name: GPUBOARD_SESSION_KEY_FILE",
        "secretName: gpuboard-session",
        "/etc/gpuboard/tls/tls.crt",
        "kind: NetworkPolicy\nmetadata:\n  name: gpuboard-redis",
        "requirepass $pass",
        "type: Recreate",
    ] {
        assert!(two.contains(wanted), "{wanted:?} in:\n{two}");
    }
}
