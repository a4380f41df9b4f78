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

/// A service bound to its address with its state and background upkeep: what `main` runs and
/// what tests serve, so both exercise the same server, layers and shutdown.
pub struct Application<S> {
    name: &'static str,
    server: Option<Server>,
    state: S,
    background: Vec<tokio::task::JoinHandle<()>>,
}

impl<S> Application<S> {
    pub fn new(name: &'static str, server: Server, state: S) -> Self {
        Self {
            name,
            server: Some(server),
            state,
            background: Vec::new(),
        }
    }

    /// Upkeep that lives as long as the application: aborted when serving ends or the
    /// application is dropped unserved.
    pub fn with_background(mut self, task: tokio::task::JoinHandle<()>) -> Self {
        self.background.push(task);
        self
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.server.as_ref().map_or_else(
            || Err(std::io::ErrorKind::NotConnected.into()),
            Server::local_addr,
        )
    }

    pub fn state(&self) -> &S {
        &self.state
    }

    /// Serves until `shutdown` resolves, then lets in-flight requests finish.
    pub async fn run_until_stopped(
        mut self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> anyhow::Result<()> {
        let server = self
            .server
            .take()
            .ok_or_else(|| anyhow::anyhow!("already served"))?;
        tracing::info!(service = self.name, addr = %server.local_addr()?, "listening");
        server.run_until_stopped(shutdown).await
    }
}

impl<S> Drop for Application<S> {
    fn drop(&mut self) {
        for task in &self.background {
            task.abort();
        }
    }
}

/// The body of a service's `main` once its configuration is parsed: the `healthcheck`
/// subcommand; the `migrate` subcommand, which runs `migrate` (the service's
/// `shared::db::migrate_only` with its schema); or logs, build and serve until SIGINT/SIGTERM.
/// Failures are logged and printed, and the exit code says so.
pub async fn main<S, Fut, Mig>(
    name: &'static str,
    command: Option<&crate::settings::BaseCommand>,
    bind: SocketAddr,
    log: &crate::settings::LogArgs,
    default_filter: &str,
    migrate: impl FnOnce() -> Mig,
    build: impl FnOnce() -> Fut,
) -> std::process::ExitCode
where
    Fut: Future<Output = anyhow::Result<Application<S>>>,
    Mig: Future<Output = anyhow::Result<()>>,
{
    use crate::settings::BaseCommand;
    if let Some(BaseCommand::Healthcheck) = command {
        return crate::healthcheck::probe(bind).await;
    }
    log.init(default_filter);
    let run = async {
        if let Some(BaseCommand::Migrate) = command {
            return migrate().await;
        }
        build()
            .await?
            .run_until_stopped(crate::shutdown::signal())
            .await
    };
    match run.await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "{name} failed");
            eprintln!("{name}: {error:#}");
            std::process::ExitCode::FAILURE
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;
    use tokio::sync::oneshot;

    fn settings(header_read_timeout_ms: u64, max_connections: usize) -> ServeSettings {
        ServeSettings {
            header_read_timeout: Duration::from_millis(header_read_timeout_ms),
            max_connections,
            shutdown_grace: Duration::from_secs(5),
        }
    }

    async fn start(
        settings: ServeSettings,
    ) -> (
        SocketAddr,
        oneshot::Sender<()>,
        tokio::task::JoinHandle<anyhow::Result<()>>,
    ) {
        let router = Router::new().route("/", get(|| async { "ok" })).route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(400)).await;
                "slow ok"
            }),
        );
        let server = Server::bind("127.0.0.1:0".parse().expect("addr"), router, settings)
            .await
            .expect("bind");
        let addr = server.local_addr().expect("addr");
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run_until_stopped(async {
            let _ = rx.await;
        }));
        (addr, tx, task)
    }

    async fn get_status(addr: SocketAddr, path: &str) -> std::io::Result<String> {
        let mut stream = TcpStream::connect(addr).await?;
        stream
            .write_all(
                format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes(),
            )
            .await?;
        let mut response = String::new();
        stream.read_to_string(&mut response).await?;
        Ok(response)
    }

    /// A slow-loris client: connects, sends half a request line, then nothing.
    async fn trickle(addr: SocketAddr) -> TcpStream {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream
            .write_all(b"GET / HTTP/1.1\r\nHo")
            .await
            .expect("write");
        stream
    }

    #[tokio::test]
    async fn a_client_that_never_finishes_its_headers_is_cut_off() {
        let (addr, _stop, _task) = start(settings(300, 16)).await;
        let mut loris = trickle(addr).await;
        let started = std::time::Instant::now();
        let mut buf = [0u8; 256];
        let read = tokio::time::timeout(Duration::from_secs(5), loris.read(&mut buf))
            .await
            .expect("the server must close the connection, not wait for ever");
        // Closed (EOF) or answered 408 and closed: either way, not held open.
        match read {
            Ok(0) | Err(_) => {}
            Ok(n) => assert!(
                String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 408"),
                "unexpected answer: {}",
                String::from_utf8_lossy(&buf[..n])
            ),
        }
        assert!(started.elapsed() >= Duration::from_millis(250));
    }

    #[tokio::test]
    async fn open_connections_are_bounded_and_slow_clients_cannot_starve_others_for_long() {
        let (addr, _stop, _task) = start(settings(500, 2)).await;
        // Two slow-loris connections take both slots.
        let _a = trickle(addr).await;
        let _b = trickle(addr).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        let started = std::time::Instant::now();
        // A well-behaved client waits in the backlog only until the header timeout frees a slot.
        let response = tokio::time::timeout(Duration::from_secs(5), get_status(addr, "/"))
            .await
            .expect("served once a slot frees")
            .expect("io");
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(300),
            "the bound held: the third connection waited ({waited:?})"
        );
    }

    #[tokio::test]
    async fn shutdown_lets_in_flight_requests_finish_and_stops_accepting() {
        let (addr, stop, task) = start(settings(5_000, 16)).await;
        let in_flight = tokio::spawn(get_status(addr, "/slow"));
        tokio::time::sleep(Duration::from_millis(100)).await;
        stop.send(()).expect("stop");
        let response = in_flight.await.expect("join").expect("io");
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(response.ends_with("slow ok"), "{response}");
        task.await.expect("join").expect("clean stop");
        assert!(
            TcpStream::connect(addr).await.is_err(),
            "no longer accepting"
        );
    }
}
