//! The dashboard's listener and its [`Limits`]: a cap on open connections (one more is closed at
//! once), a request's headers within a timeout (slow clients cannot hold connections open for
//! free), a TLS handshake within one, and TLS itself when the [`Transport`] says so. Request and
//! body timeouts are the router's (`crate::app`).

use std::future::Ready;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum_server::accept::Accept;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use hyper_util::rt::TokioTimer;
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::transport::Transport;

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

/// Serves `app` on `listener` until the process ends; handlers see the client's address.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    transport: &Transport,
    limits: &Limits,
) -> io::Result<()> {
    let make_service = app.into_make_service_with_connect_info::<SocketAddr>();
    let admit = Admit {
        connections: Arc::new(Semaphore::new(limits.max_connections)),
    };
    let mut server = axum_server::from_tcp(listener.into_std()?)?
        .first_request_timeout(limits.header_read_timeout)
        .accept_error_handler(|_, e| tracing::debug!(error = %e, "connection refused"));
    server
        .http_builder()
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    match transport {
        Transport::Tls(identity) => {
            // kube's client already uses ring; the listener's TLS shares its provider.
            let _ = rustls::crypto::ring::default_provider().install_default();
            let config =
                RustlsConfig::from_pem(identity.cert_pem.clone(), identity.key_pem.clone()).await?;
            let tls = RustlsAcceptor::new(config)
                .handshake_timeout(limits.handshake_timeout)
                .acceptor(admit);
            server.acceptor(tls).serve(make_service).await
        }
        Transport::Loopback | Transport::BehindTlsProxy => {
            server.acceptor(admit).serve(make_service).await
        }
    }
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
pub struct Admitted<S> {
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
