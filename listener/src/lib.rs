//! The HTTP listener of gpuboard's servers (the dashboard, the exporter) and its [`Limits`]: a
//! cap on open connections (one more is closed at once), a request's headers within a timeout
//! (slow clients cannot hold connections open for free), and with the `tls` feature HTTPS
//! terminated here ([`serve_tls`]), its handshake within a timeout too. Request and body
//! timeouts belong to each server's router.

use std::future::Ready;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum_server::accept::Accept;
use hyper_util::rt::TokioTimer;
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// What one listener allows.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Connections open at once, at most: every open page holds one for its push channel.
    pub max_connections: usize,
    /// A request's headers arrive within this, or the connection is closed.
    pub header_read_timeout: Duration,
    /// A TLS handshake ends within this, or the connection is closed.
    pub handshake_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 4_096,
            header_read_timeout: Duration::from_secs(10),
            handshake_timeout: Duration::from_secs(10),
        }
    }
}

type Server = axum_server::Server<SocketAddr>;

/// The server on `listener` with `limits`' timeouts, and the acceptor that caps connections.
fn server(listener: tokio::net::TcpListener, limits: &Limits) -> io::Result<(Server, Admit)> {
    // HTTP/1 only: its header timeout and one request per connection are what bound a client;
    // HTTP/2 would multiplex past both.
    let mut server = axum_server::from_tcp(listener.into_std()?)?
        .http1_only()
        .first_request_timeout(limits.header_read_timeout)
        .accept_error_handler(|_, e| tracing::debug!(error = %e, "connection refused"));
    server
        .http_builder()
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let admit = Admit {
        connections: Arc::new(Semaphore::new(limits.max_connections)),
    };
    Ok((server, admit))
}

/// Serves `app` over plain HTTP on `listener` until the process ends; handlers see the
/// client's address (`ConnectInfo<SocketAddr>`).
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    limits: &Limits,
) -> io::Result<()> {
    let (server, admit) = server(listener, limits)?;
    server
        .acceptor(admit)
        .serve(app.into_make_service_with_connect_info::<SocketAddr>())
        .await
}

/// Serves `app` over HTTPS with the PEM certificate (chain) and key until the process ends.
#[cfg(feature = "tls")]
pub async fn serve_tls(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    cert_pem: Vec<u8>,
    key_pem: Vec<u8>,
    limits: &Limits,
) -> io::Result<()> {
    use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let invalid = |what: &str, e: rustls::pki_types::pem::Error| {
        io::Error::new(io::ErrorKind::InvalidData, format!("{what}: {e}"))
    };
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid("the certificate", e))?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| invalid("the key", e))?;
    // kube's client already uses ring; the listener's TLS uses it too.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    // HTTP/1.1 only, as the plain listener (see `server`).
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let config = RustlsConfig::from_config(Arc::new(config));
    let (server, admit) = server(listener, limits)?;
    let tls = RustlsAcceptor::new(config)
        .handshake_timeout(limits.handshake_timeout)
        .acceptor(admit);
    server
        .acceptor(tls)
        .serve(app.into_make_service_with_connect_info::<SocketAddr>())
        .await
}

/// Admits a connection while fewer than the cap are open; it holds its place until it closes.
#[derive(Clone)]
struct Admit {
    connections: Arc<Semaphore>,
}

impl<S> Accept<TcpStream, S> for Admit {
    type Stream = TcpStream;
    type Service = Admitted<S>;
    type Future = Ready<io::Result<(TcpStream, Admitted<S>)>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        let Ok(place) = self.connections.clone().try_acquire_owned() else {
            return std::future::ready(Err(io::Error::other("the connection limit is reached")));
        };
        // A page streams in several writes: without this, each after the first waits for the
        // browser's delayed ACK.
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        std::future::ready(Ok((
            stream,
            Admitted {
                service,
                _place: Arc::new(place),
            },
        )))
    }
}

/// A connection's service, holding the connection's place until the last copy is dropped.
#[derive(Clone)]
struct Admitted<S> {
    service: S,
    _place: Arc<OwnedSemaphorePermit>,
}

impl<S, R> tower::Service<R> for Admitted<S>
where
    S: tower::Service<R>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.service.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        self.service.call(request)
    }
}
