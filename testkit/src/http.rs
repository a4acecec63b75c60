//! Raw HTTP/1.0 requests for tests that must see every header and byte the dashboard or an
//! exporter sends (a client library would hide or add some).

use std::fmt::Display;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long a request may take before the test fails instead of hanging.
pub const REPLY_WITHIN: std::time::Duration = std::time::Duration::from_secs(30);

/// A whole response: status, the head as sent, and the body.
pub struct Reply {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Reply {
    /// A header's value, by case-insensitive name.
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
        pair.starts_with("__Host-gpuboard_session=")
            .then(|| format!("Cookie: {pair}"))
    }
}

/// One HTTP/1.0 request; `extra` are raw header lines; a body is sent as a URL-encoded form
/// unless `extra` gives its `Content-Type`.
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
    let typed = extra
        .iter()
        .any(|l| l.to_ascii_lowercase().starts_with("content-type:"));
    if !body.is_empty() && !typed {
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
    if tokio::time::timeout(REPLY_WITHIN, stream.read_to_end(&mut raw))
        .await
        .is_err()
    {
        return Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!(
                "{method} {path}: no whole reply within {REPLY_WITHIN:?}; got so far:\n{}",
                String::from_utf8_lossy(&raw)
            ),
        ));
    }
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
        .unwrap_or_else(|e| panic!("the server answers {method} {path}: {e}"))
}

/// An `application/x-www-form-urlencoded` body of `pairs`.
pub fn form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// A plain GET; (status, body).
pub async fn get(addr: impl Display, path: &str) -> std::io::Result<(u16, String)> {
    let reply = try_request(addr, "GET", path, &[], "").await?;
    Ok((reply.status, reply.body))
}
