//! The live-update channel through the real router: it opens for a signed-in user and tells the
//! browser how soon to reopen it, and one user's tabs cannot take every channel (that places
//! come back is the unit test's).

use gpuboard::DashboardSettings;
use gpuboard::push::MAX_PER_USER;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{sign_in, start_dashboard, start_sim};

/// Opens `/events` with `cookie` and reads until the first event or the end of a refusal: the
/// connection (kept open) and what was read.
async fn open_channel(addr: std::net::SocketAddr, cookie: &str) -> (TcpStream, String) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET /events HTTP/1.1\r\nHost: {addr}\r\n{cookie}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut read = Vec::new();
    let mut buf = [0u8; 1024];
    let complete = |text: &str| {
        let head_done = text.contains("\r\n\r\n");
        head_done && (!text.starts_with("HTTP/1.1 200") || text.contains("retry:"))
    };
    while !complete(&String::from_utf8_lossy(&read)) {
        let n = tokio::time::timeout(super::WAIT, stream.read(&mut buf))
            .await
            .expect("an answer in time")
            .expect("read");
        if n == 0 {
            break;
        }
        read.extend_from_slice(&buf[..n]);
    }
    (stream, String::from_utf8_lossy(&read).into_owned())
}

#[tokio::test]
async fn a_channel_opens_for_its_user_and_one_user_cannot_take_them_all() {
    let sim = start_sim().await;
    let addr = start_dashboard(&sim, DashboardSettings::default()).await;
    let admin = sign_in(addr, &sim.admin_token).await;
    let viewer = sign_in(addr, &sim.viewer_token).await;

    let mut open = Vec::new();
    for _ in 0..MAX_PER_USER {
        let (stream, head) = open_channel(addr, &admin).await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(head.contains("text/event-stream"), "{head}");
        assert!(
            head.contains("retry: 1000"),
            "the browser reopens it within a second: {head}"
        );
        open.push(stream);
    }
    let (_, refused) = open_channel(addr, &admin).await;
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert!(
        refused.contains("you have too many live pages open"),
        "{refused}"
    );
    let (_, other) = open_channel(addr, &viewer).await;
    assert!(
        other.starts_with("HTTP/1.1 200"),
        "another user still gets one: {other}"
    );
}
