//! The listener on its own: HTTPS with a self-signed certificate (a client that trusts it gets
//! an answer; plain HTTP to it gets none), a client too slow with its headers cut off, and a
//! connection past the cap closed while those open are served.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use gpuboard_listener::{Limits, serve, serve_tls};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const LIMITS: Limits = Limits {
    max_connections: 2,
    header_read_timeout: Duration::from_millis(300),
    handshake_timeout: Duration::from_millis(300),
};

/// Serves "hello" at `/` on a free loopback port, over HTTPS when given a certificate and key.
async fn start(tls: Option<(Vec<u8>, Vec<u8>)>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let addr = listener.local_addr().expect("bound");
    let app = axum::Router::new()
        .route("/", axum::routing::get(|| async { "hello" }))
        .route(
            "/wait",
            axum::routing::get(|| async {
                tokio::time::sleep(Duration::from_millis(1_500)).await;
                "waited"
            }),
        );
    tokio::spawn(async move {
        match tls {
            Some((cert, key)) => serve_tls(listener, app, cert, key, &LIMITS).await,
            None => serve(listener, app, &LIMITS).await,
        }
    });
    addr
}

/// Reads until the peer closes (or 5 s pass): what it sent.
async fn read_to_close(stream: &mut (impl AsyncReadExt + Unpin)) -> String {
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer));
    match read.await {
        Ok(_) => String::from_utf8_lossy(&answer).into_owned(),
        Err(_) => panic!(
            "the connection stayed open: {}",
            String::from_utf8_lossy(&answer)
        ),
    }
}

#[tokio::test]
async fn https_with_a_certificate_made_at_start() {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("made");
    let cert_pem = made.cert.pem().into_bytes();
    let key_pem = made.signing_key.serialize_pem().into_bytes();
    let addr = start(Some((cert_pem.clone(), key_pem))).await;

    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut roots = rustls::RootCertStore::empty();
    let (_, pem) = x509_parser::pem::parse_x509_pem(&cert_pem).expect("PEM");
    roots
        .add(rustls::pki_types::CertificateDer::from(pem.contents))
        .expect("trusted");
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("a name");
    let mut tls = connector.connect(name, tcp).await.expect("the handshake");
    tls.write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .await
        .expect("send");
    let answer = read_to_close(&mut tls).await;
    assert!(answer.starts_with("HTTP/1.0 200"), "{answer}");
    assert!(answer.ends_with("hello"), "{answer}");

    // Plain HTTP to the HTTPS port is no request: the handshake fails and nothing is served.
    let mut plain = TcpStream::connect(addr).await.expect("connect");
    plain
        .write_all(b"GET / HTTP/1.0\r\n\r\n")
        .await
        .expect("send");
    assert!(!read_to_close(&mut plain).await.contains("hello"));
}

#[tokio::test]
async fn slow_headers_are_cut_off_and_connections_past_the_cap_closed() {
    let addr = start(None).await;

    // Headers begun and never finished: closed after the header timeout, with no answer.
    let mut slow = TcpStream::connect(addr).await.expect("connect");
    slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("send");
    let answer = read_to_close(&mut slow).await;
    assert!(!answer.contains("hello"), "{answer}");

    // Two connections busy with a request (the cap); a third is closed at once.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut busy = TcpStream::connect(addr).await.expect("connect");
        busy.write_all(b"GET /wait HTTP/1.0\r\n\r\n")
            .await
            .expect("send");
        held.push(busy);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut third = TcpStream::connect(addr).await.expect("the kernel accepts");
    let _ = third.write_all(b"GET / HTTP/1.0\r\n\r\n").await;
    assert_eq!(read_to_close(&mut third).await, "", "past the cap: closed");

    // The busy ones are answered and close: the next one is served.
    for mut busy in held {
        assert!(read_to_close(&mut busy).await.ends_with("waited"));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut next = TcpStream::connect(addr).await.expect("connect");
    next.write_all(b"GET / HTTP/1.0\r\n\r\n")
        .await
        .expect("send");
    assert!(read_to_close(&mut next).await.ends_with("hello"));
}
