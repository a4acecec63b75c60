//! Raw HTTP/1.0 requests for tests that must see every header and byte the dashboard or an
//! exporter sends, and a `gpuboard serve --demo` started as its own process.

use std::fmt::Display;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A whole response: status, the head as sent, and the body.
pub struct Reply {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }

    /// Head and body as they came, for searching everything the server sent.
    pub fn raw(&self) -> String {
        format!("{}\r\n\r\n{}", self.head, self.body)
    }

    /// The session cookie this reply sets, as a `Cookie:` header line.
    pub fn session_cookie(&self) -> Option<String> {
        let cookie = self.header("set-cookie")?;
        let pair = cookie.split(';').next()?;
        pair.starts_with("gpuboard_session=")
            .then(|| format!("Cookie: {pair}"))
    }
}

/// One HTTP/1.0 request; `extra` are raw header lines; a body is sent as a URL-encoded form.
pub async fn try_request(
    addr: impl Display,
    method: &str,
    path: &str,
    extra: &[String],
    body: &str,
) -> std::io::Result<Reply> {
    let mut stream = tokio::net::TcpStream::connect(addr.to_string()).await?;
    let mut head = format!(
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !body.is_empty() {
        head.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
    }
    for line in extra {
        head.push_str(line);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok(Reply {
        status,
        head: head.to_string(),
        body: body.to_string(),
    })
}

/// [`try_request`] where the server must be there.
pub async fn request(
    addr: impl Display,
    method: &str,
    path: &str,
    extra: &[String],
    body: &str,
) -> Reply {
    try_request(addr, method, path, extra, body)
        .await
        .expect("the server answers")
}

/// A value for an `application/x-www-form-urlencoded` body.
pub fn form_encode(value: &str) -> String {
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

/// `gpuboard serve --demo` on a free port, with its own state dir; killed when dropped.
pub struct DemoServer {
    pub addr: SocketAddr,
    pub child: Child,
    pub state: tempfile::TempDir,
}

impl DemoServer {
    /// Starts it with `RUST_LOG=<log>`, its output piped, and waits until it listens.
    pub async fn start(log: &str) -> DemoServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let state = tempfile::tempdir().expect("temp dir");
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let child = Command::new(env!("CARGO_BIN_EXE_gpuboard"))
            .current_dir(&root)
            .env("RUST_LOG", log)
            .args(["serve", "--demo", "--listen", &addr.to_string()])
            .args(["--demo-exporter-port", "0", "--demo-state-dir"])
            .arg(state.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("gpuboard serve starts");
        let server = DemoServer { addr, child, state };
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the dashboard did not listen on {addr}");
    }

    /// The demo cluster's admin kubeconfig.
    pub fn kubeconfig(&self) -> PathBuf {
        self.state.path().join("kubeconfig")
    }

    /// The demo cluster's admin token.
    pub fn admin_token(&self) -> String {
        std::fs::read_to_string(self.state.path().join("admin.token"))
            .expect("the demo wrote its admin token")
            .trim()
            .to_string()
    }

    /// Signs in with `token`; the session cookie as a header line.
    pub async fn sign_in(&self, token: &str) -> String {
        let reply = request(
            self.addr,
            "POST",
            "/login",
            &[format!("Origin: http://{}", self.addr)],
            &format!("token={}", form_encode(token)),
        )
        .await;
        reply
            .session_cookie()
            .unwrap_or_else(|| panic!("sign-in failed: {}", reply.head))
    }

    /// Stops it and returns everything it wrote to stdout and stderr.
    pub fn stop(mut self) -> String {
        use std::io::Read;
        let _ = self.child.kill();
        let mut logs = String::new();
        if let Some(mut out) = self.child.stdout.take() {
            let _ = out.read_to_string(&mut logs);
        }
        if let Some(mut err) = self.child.stderr.take() {
            let _ = err.read_to_string(&mut logs);
        }
        let _ = self.child.wait();
        logs
    }
}

impl Drop for DemoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
