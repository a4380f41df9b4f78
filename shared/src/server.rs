//! Serving a router over TCP: the one path both services — and their tests — take.
//!
//! `axum::serve` runs hyper without a timer, which turns off hyper's header-read timeout, and it
//! accepts connections without bound: a client trickling headers on thousands of sockets would
//! hold descriptors and memory for ever. Here hyper gets a timer (a request's headers must arrive
//! within `header_read_timeout`, which also ends idle keep-alive connections), open connections
//! are bounded by a semaphore (past it, new ones wait in the kernel's listen backlog), and
//! shutdown goes in the order a load balancer can follow (`crate::shutdown`): readiness 503 and
//! `Connection: close` first while still serving for `shutdown_delay`, then stop accepting, let
//! in-flight requests finish, and close what is left.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use http::{HeaderValue, Version, header};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

use crate::shutdown::Draining;

/// Limits of the server itself (the router's own layers hold the per-request ones).
#[derive(Debug, Clone)]
pub struct ServeSettings {
    /// Time a client has to send a request's headers, and the idle keep-alive time.
    pub header_read_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
    /// How long the server goes on accepting and serving after the shutdown signal, with
    /// `/readyz` answering 503 and HTTP/1 responses saying `Connection: close`, so that load
    /// balancers stop sending here before the listener closes.
    pub shutdown_delay: Duration,
    /// How long shutdown then waits for in-flight requests before closing their connections.
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

    /// Serves until `shutdown` resolves; then, with [`Draining`] set, goes on serving for
    /// `shutdown_delay`; then stops accepting and drains. Each request carries the peer's address
    /// as `ConnectInfo<SocketAddr>` and the server's [`Draining`] flag.
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
        let acceptor = Acceptor {
            listener,
            router,
            builder,
            permits: Arc::new(Semaphore::new(settings.max_connections.max(1))),
            graceful: GracefulShutdown::new(),
            draining: Draining::default(),
        };
        acceptor.accept_until(shutdown).await?;
        acceptor.draining.start();
        if !settings.shutdown_delay.is_zero() {
            tracing::info!(
                delay_ms = settings.shutdown_delay.as_millis(),
                "shutting down: /readyz answers 503 and connections are asked to close; \
                 still serving until the delay is over"
            );
            acceptor
                .accept_until(tokio::time::sleep(settings.shutdown_delay))
                .await?;
        }
        let Acceptor {
            listener, graceful, ..
        } = acceptor;
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

/// The accept loop's parts, kept across the phases of shutdown.
struct Acceptor {
    listener: TcpListener,
    router: Router,
    builder: auto::Builder<TokioExecutor>,
    permits: Arc<Semaphore>,
    graceful: GracefulShutdown,
    draining: Draining,
}

impl Acceptor {
    /// Accepts and serves connections until `stop` resolves.
    async fn accept_until(&self, stop: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
        tokio::pin!(stop);
        loop {
            let permit = tokio::select! {
                permit = self.permits.clone().acquire_owned() => permit?,
                () = &mut stop => return Ok(()),
            };
            let (stream, peer) = tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        accept_failed(&error).await;
                        continue;
                    }
                },
                () = &mut stop => return Ok(()),
            };
            let _ = stream.set_nodelay(true);
            let router = self.router.clone();
            let draining = self.draining.clone();
            let service = tower::service_fn(move |request: hyper::Request<Incoming>| {
                let mut request = request.map(Body::new);
                request.extensions_mut().insert(ConnectInfo(peer));
                request.extensions_mut().insert(draining.clone());
                let http1 = request.version() < Version::HTTP_2;
                let draining = draining.clone();
                let response = router.clone().oneshot(request);
                async move {
                    let mut response = response.await?;
                    // Tell the client (a load balancer's pooled connection) to go elsewhere for
                    // its next request. HTTP/2 has no such header; its GOAWAY comes with the drain.
                    if http1 && draining.is_draining() {
                        response
                            .headers_mut()
                            .insert(header::CONNECTION, HeaderValue::from_static("close"));
                    }
                    Ok::<_, Infallible>(response)
                }
            });
            let connection = self
                .builder
                .serve_connection_with_upgrades(
                    TokioIo::new(stream),
                    TowerToHyperService::new(service),
                )
                .into_owned();
            let connection = self.graceful.watch(connection);
            tokio::spawn(async move {
                if let Err(error) = connection.await {
                    tracing::debug!(%error, "connection ended with an error");
                }
                drop(permit);
            });
        }
    }
}

/// A service bound to its address with its state and background upkeep: what `main` runs and
/// what tests serve, so both exercise the same server, layers and shutdown.
pub struct Application<S> {
    name: &'static str,
    server: Option<Server>,
    state: S,
    background: Vec<tokio::task::JoinHandle<()>>,
    metrics: Option<SocketAddr>,
}

impl<S> Application<S> {
    pub fn new(name: &'static str, server: Server, state: S) -> Self {
        Self {
            name,
            server: Some(server),
            state,
            background: Vec::new(),
            metrics: None,
        }
    }

    /// Serves the metrics listener (`METRICS_BIND`; `None`: off) as long as the application.
    pub fn with_metrics(mut self, exporter: Option<crate::metrics::Exporter>) -> Self {
        if let Some(exporter) = exporter {
            self.metrics = exporter.local_addr().ok();
            self.background.push(exporter.spawn());
        }
        self
    }

    /// Where `GET /metrics` is served, when metrics are on.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics
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
        if let Some(addr) = self.metrics {
            tracing::info!(service = self.name, %addr, "serving metrics at /metrics");
        }
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
    use axum::response::IntoResponse;
    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;
    use tokio::sync::oneshot;

    fn settings(header_read_timeout_ms: u64, max_connections: usize) -> ServeSettings {
        ServeSettings {
            header_read_timeout: Duration::from_millis(header_read_timeout_ms),
            max_connections,
            shutdown_delay: Duration::ZERO,
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
        let router = Router::new()
            .route("/", get(|| async { "ok" }))
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_millis(400)).await;
                    "slow ok"
                }),
            )
            .route(
                "/readyz",
                get(|draining: Draining| async move {
                    match draining.not_ready() {
                        Some(problem) => problem.into_response(),
                        None => "ready".into_response(),
                    }
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

    /// One request on an open keep-alive connection: the response's head (lower-cased) and body.
    async fn exchange(stream: &mut TcpStream, path: &str) -> std::io::Result<(String, String)> {
        stream
            .write_all(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes())
            .await?;
        let mut bytes = Vec::new();
        let mut buf = [0u8; 1024];
        loop {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            bytes.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&bytes).into_owned();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let head = head.to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length: "))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                if body.len() >= length {
                    return Ok((head, body.to_owned()));
                }
            }
        }
    }

    /// The peer closed the connection: a read returns end of file (or a reset) within 2 s.
    async fn closed_by_server(stream: &mut TcpStream) -> bool {
        let mut buf = [0u8; 64];
        matches!(
            tokio::time::timeout(Duration::from_secs(2), stream.read(&mut buf)).await,
            Ok(Ok(0) | Err(_))
        )
    }

    #[tokio::test]
    async fn after_the_signal_readiness_fails_first_while_requests_are_served_then_it_drains() {
        let delay = Duration::from_millis(1_000);
        let mut serve = settings(5_000, 16);
        serve.shutdown_delay = delay;
        let (addr, stop, task) = start(serve).await;
        let mut kept = TcpStream::connect(addr).await.expect("connect");
        let (head, body) = exchange(&mut kept, "/readyz").await.expect("readyz");
        assert!(head.starts_with("http/1.1 200"), "{head}");
        assert_eq!(body, "ready");
        assert!(!head.contains("connection: close"), "{head}");

        stop.send(()).expect("stop");
        let signalled = std::time::Instant::now();
        tokio::time::sleep(Duration::from_millis(100)).await;
        // A request that starts during the delay and ends after it still completes.
        let in_flight = tokio::spawn(async move {
            tokio::time::sleep(delay - Duration::from_millis(250)).await;
            get_status(addr, "/slow").await
        });

        // Not ready, on a new connection and on the old one, which is then closed.
        let response = get_status(addr, "/readyz").await.expect("readyz");
        assert!(response.starts_with("HTTP/1.1 503"), "{response}");
        assert!(response.contains("application/problem+json"), "{response}");
        assert!(response.contains("\"not_ready\""), "{response}");
        assert!(response.contains("shutting down"), "{response}");
        let (head, body) = exchange(&mut kept, "/").await.expect("the kept connection");
        assert!(head.starts_with("http/1.1 200"), "{head}");
        assert_eq!(body, "ok");
        assert!(head.contains("connection: close"), "{head}");
        assert!(
            closed_by_server(&mut kept).await,
            "closed after that answer"
        );

        // Other requests are still served, on new connections, each told to close.
        let mut fresh = TcpStream::connect(addr).await.expect("still accepting");
        let (head, body) = exchange(&mut fresh, "/").await.expect("served");
        assert!(head.starts_with("http/1.1 200"), "{head}");
        assert_eq!(body, "ok");
        assert!(head.contains("connection: close"), "{head}");
        assert!(closed_by_server(&mut fresh).await);
        assert!(
            !task.is_finished(),
            "still serving during the delay ({:?} in)",
            signalled.elapsed()
        );

        let response = in_flight.await.expect("join").expect("io");
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(response.ends_with("slow ok"), "{response}");
        task.await.expect("join").expect("clean stop");
        assert!(signalled.elapsed() >= delay, "{:?}", signalled.elapsed());
        assert!(
            TcpStream::connect(addr).await.is_err(),
            "the listener is closed after the delay"
        );
    }
}
