//! Serving a router over TCP: the one path both services — and their tests — take.
//!
//! `axum::serve` runs hyper without a timer, which turns off hyper's header-read timeout, and it
//! accepts connections without bound: a client trickling headers on thousands of sockets would
//! hold descriptors and memory for ever. Here hyper gets a timer (a request's headers must arrive
//! within `header_read_timeout`, which also ends idle keep-alive connections), open connections
//! are bounded by a semaphore (past it, new ones wait in the kernel's listen backlog), and
//! shutdown stops accepting, lets in-flight requests finish, then closes what is left.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// Limits of the server itself (the router's own layers hold the per-request ones).
#[derive(Debug, Clone)]
pub struct ServeSettings {
    /// Time a client has to send a request's headers, and the idle keep-alive time.
    pub header_read_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
    /// How long shutdown waits for in-flight requests before closing their connections.
    pub shutdown_grace: Duration,
}

/// A bound listener with the router it will serve. Build it, read [`Server::local_addr`] (port 0
/// in tests), then [`Server::run_until_stopped`].
pub struct Server {
    listener: TcpListener,
    router: Router,
    settings: ServeSettings,
}

impl Server {
    pub async fn bind(
        addr: SocketAddr,
        router: Router,
        settings: ServeSettings,
    ) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
        Ok(Self {
            listener,
            router,
            settings,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` resolves, then drains. Each request carries the peer's address as
    /// `ConnectInfo<SocketAddr>`.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> anyhow::Result<()> {
        let Self {
            listener,
            router,
            settings,
        } = self;
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(settings.header_read_timeout)
            .keep_alive(true);
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_concurrent_streams(100)
            .keep_alive_interval(Some(settings.header_read_timeout))
            .keep_alive_timeout(Duration::from_secs(20));
        let permits = Arc::new(Semaphore::new(settings.max_connections.max(1)));
        let graceful = GracefulShutdown::new();
        tokio::pin!(shutdown);
        loop {
            let permit = tokio::select! {
                permit = permits.clone().acquire_owned() => permit?,
                () = &mut shutdown => break,
            };
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        accept_failed(&error).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let _ = stream.set_nodelay(true);
            let service =
                router
                    .clone()
                    .map_request(move |mut request: hyper::Request<Incoming>| {
                        request.extensions_mut().insert(ConnectInfo(peer));
                        request.map(Body::new)
                    });
            let connection = builder
                .serve_connection_with_upgrades(
                    TokioIo::new(stream),
                    TowerToHyperService::new(service),
                )
                .into_owned();
            let connection = graceful.watch(connection);
            tokio::spawn(async move {
                if let Err(error) = connection.await {
                    tracing::debug!(%error, "connection ended with an error");
                }
                drop(permit);
            });
        }
        drop(listener);
        tracing::info!(
            connections = graceful.count(),
            "stopped accepting; draining in-flight requests"
        );
        if tokio::time::timeout(settings.shutdown_grace, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("connections still open after the grace period; closing them");
        }
        Ok(())
    }
}

/// Accept fails for per-connection reasons (the peer already left) and for resource exhaustion
/// (out of descriptors); the latter would spin, so back off a little.
async fn accept_failed(error: &std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::ConnectionRefused
    ) {
        return;
    }
    tracing::warn!(%error, "accept failed; backing off");
    tokio::time::sleep(Duration::from_millis(100)).await;
}
