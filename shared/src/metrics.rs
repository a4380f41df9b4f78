//! Prometheus metrics, served on an address of their own (`METRICS_BIND`) and only there, so they
//! are never public by accident: the API's router has no `/metrics`.
//!
//! Off by default. Without `METRICS_BIND` no recorder is installed, so the `metrics` macros the
//! code calls (`counter!`, `gauge!`) go to the facade's no-op recorder, and the HTTP layer that
//! records every request is not added at all. With it, [`install`] sets the process-wide recorder
//! once (tests run many applications in one process; they share it, and what they assert is how a
//! count moved), [`TrackLayer`] counts and times every request by its route template, and
//! [`Exporter`] serves `GET /metrics` in the Prometheus text format.
//!
//! What both services export (each adds its own, named after it):
//! - `http_requests_total{route,method,status_class}` and the histogram
//!   `http_request_duration_seconds{route,method,status_class}`: `route` is the matched route
//!   template (`/api/tasks/{id}`), never the path a client sent, and every request that matched no
//!   route is `route="unmatched"`, so no client can create label values; a method outside the
//!   standard ones is `method="OTHER"`. The time is until the response's head is ready.
//! - `db_pool_connections{state="in_use"|"idle"}`, `db_pool_max_connections`, sampled at scrape
//!   time from the pool (sqlx reports its size and idle count); `db_pool_waiting`, the requests
//!   waiting for a connection right now (sqlx reports no waiters, so `db::retry` counts its own
//!   acquires in progress); `db_pool_acquire_timeouts_total`.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, OnceLock, RwLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics::{Label, Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use sqlx::PgPool;
use tower::{Layer, Service};

use crate::problem::Problem;
use crate::server::{ServeSettings, Server};

/// The `route` label of a request that matched no route (404s of unknown paths).
pub const UNMATCHED: &str = "unmatched";

/// Upper bounds of `http_request_duration_seconds`'s buckets: a cached task list takes about a
/// millisecond, a sign-in (argon2) tens of milliseconds, a request past its timeout 15 s.
const DURATION_BUCKETS: &[f64] = &[
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0,
];

/// How often histogram samples are folded in between scrapes, so they cannot pile up in memory
/// when nothing scrapes.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// The process-wide recorder's handle, once [`install`] ran.
static HANDLE: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();

/// Installs the process-wide Prometheus recorder, once; later calls return the same handle.
pub fn install() -> anyhow::Result<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("http_request_duration_seconds".to_owned()),
                    DURATION_BUCKETS,
                )
                .and_then(PrometheusBuilder::install_recorder)
                .map_err(|e| format!("cannot install the metrics recorder: {e}"))?;
            let upkeep = handle.clone();
            std::thread::Builder::new()
                .name("metrics-upkeep".to_owned())
                .spawn(move || {
                    loop {
                        std::thread::sleep(UPKEEP_INTERVAL);
                        upkeep.run_upkeep();
                    }
                })
                .map_err(|e| format!("cannot start the metrics upkeep thread: {e}"))?;
            describe();
            Ok(handle)
        })
        .clone()
        .map_err(anyhow::Error::msg)
}

fn describe() {
    describe_counter!(
        "http_requests_total",
        "Requests answered, by route template, method and status class."
    );
    describe_histogram!(
        "http_request_duration_seconds",
        Unit::Seconds,
        "Time from a request's arrival to its response's head, by route template, method and status class."
    );
    describe_gauge!(
        "db_pool_connections",
        "Database connections open in the pool: in_use (lent to a request) or idle."
    );
    describe_gauge!(
        "db_pool_max_connections",
        "The pool's bound (DB_MAX_CONNECTIONS)."
    );
    describe_gauge!(
        "db_pool_waiting",
        "Requests waiting for a database connection right now."
    );
    describe_counter!(
        "db_pool_acquire_timeouts_total",
        "Waits for a database connection that ran out (DB_ACQUIRE_TIMEOUT_MS): answered 503."
    );
}

/// The layer that counts and times every request, outermost in [`crate::http::finish`]'s stack
/// when metrics are on. A plain tower layer rather than `axum::middleware::from_fn`, whose boxed
/// `Next` and future, plus a second `Router::layer` pass, cost more than the recording itself
/// (`shared/examples/metrics_cost.rs`).
#[derive(Debug, Clone, Copy, Default)]
pub struct TrackLayer;

impl<S> Layer<S> for TrackLayer {
    type Service = Track<S>;

    fn layer(&self, inner: S) -> Track<S> {
        Track { inner }
    }
}

/// See [`TrackLayer`].
#[derive(Debug, Clone)]
pub struct Track<S> {
    inner: S,
}

impl<S, B, R> Service<http::Request<B>> for Track<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = TrackFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let route = request.extensions().get::<MatchedPath>().cloned();
        let method = method_label(request.method());
        TrackFuture {
            started: Instant::now(),
            route,
            method,
            inner: self.inner.call(request),
        }
    }
}

pin_project_lite::pin_project! {
    /// A request in flight under [`Track`]: recorded when its response is ready.
    pub struct TrackFuture<F> {
        #[pin]
        inner: F,
        route: Option<MatchedPath>,
        method: &'static str,
        started: Instant,
    }
}

impl<F, R, E> Future for TrackFuture<F>
where
    F: Future<Output = Result<http::Response<R>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = std::task::ready!(this.inner.poll(cx));
        if let Ok(response) = &result {
            record(
                this.route.as_ref().map_or(UNMATCHED, MatchedPath::as_str),
                this.method,
                status_class(response.status()),
                this.started.elapsed(),
            );
        }
        Poll::Ready(result)
    }
}

/// One request's counter and histogram.
struct Series {
    requests: metrics::Counter,
    duration: metrics::Histogram,
}

/// The series of every (route, method, status class) seen, registered once each: a request then
/// costs a map lookup and two atomic updates, not the building, hashing and allocating of a
/// labelled key in the registry twice over (the task list's cost, BENCHMARKS.md). Bounded as the
/// labels are: routes × 8 methods × 5 classes.
type SeriesMap = HashMap<String, Vec<((&'static str, &'static str), Series)>>;

fn record(route: &str, method: &'static str, class: &'static str, took: Duration) {
    static SERIES: OnceLock<RwLock<SeriesMap>> = OnceLock::new();
    let series = SERIES.get_or_init(RwLock::default);
    let key = (method, class);
    let seconds = took.as_secs_f64();
    if let Ok(map) = series.read()
        && let Some((_, found)) = map
            .get(route)
            .and_then(|all| all.iter().find(|(k, _)| *k == key))
    {
        found.requests.increment(1);
        found.duration.record(seconds);
        return;
    }
    let labels = [
        Label::new("route", route.to_owned()),
        Label::from_static_parts("method", method),
        Label::from_static_parts("status_class", class),
    ];
    let new = Series {
        requests: counter!("http_requests_total", labels.iter()),
        duration: metrics::histogram!("http_request_duration_seconds", labels.iter()),
    };
    new.requests.increment(1);
    new.duration.record(seconds);
    // Handles taken before the recorder exists would be no-ops for ever: keep only real ones.
    if HANDLE.get().is_some()
        && let Ok(mut map) = series.write()
    {
        let all = map.entry(route.to_owned()).or_default();
        if !all.iter().any(|(k, _)| *k == key) {
            all.push((key, new));
        }
    }
}

/// A label value from a bounded set: the standard methods, and `OTHER` for any extension method.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

fn status_class(status: StatusCode) -> &'static str {
    match status.as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// Sets gauges just before a scrape is rendered (the pool's state, a semaphore's permits).
pub type Collector = Box<dyn Fn() + Send + Sync>;

/// The pool's gauges, read at scrape time.
pub fn pool_gauges(pool: PgPool) -> Collector {
    Box::new(move || {
        let size = pool.size();
        let idle = u32::try_from(pool.num_idle()).unwrap_or(u32::MAX);
        gauge!("db_pool_connections", "state" => "in_use").set(size.saturating_sub(idle));
        gauge!("db_pool_connections", "state" => "idle").set(idle);
        gauge!("db_pool_max_connections").set(pool.options().get_max_connections());
        gauge!("db_pool_waiting").set(crate::db::retry::waiting() as f64);
    })
}

/// The metrics listener: `GET /metrics` on `METRICS_BIND`, nothing else.
pub struct Exporter {
    server: Server,
}

struct Scrape {
    handle: PrometheusHandle,
    collectors: Vec<Collector>,
}

/// The Prometheus text exposition format.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

impl Exporter {
    /// Installs the recorder and binds `addr` (none: metrics are off, `Ok(None)`). `collectors`
    /// run before each scrape is rendered.
    pub async fn bind(
        addr: Option<SocketAddr>,
        collectors: Vec<Collector>,
    ) -> anyhow::Result<Option<Self>> {
        let Some(addr) = addr else {
            return Ok(None);
        };
        let scrape = Arc::new(Scrape {
            handle: install()?,
            collectors,
        });
        let router = Router::new()
            .route("/metrics", get(render))
            .with_state(scrape)
            .fallback(|| async { Problem::not_found() })
            .method_not_allowed_fallback(|| async { Problem::method_not_allowed() });
        let settings = ServeSettings {
            header_read_timeout: Duration::from_secs(10),
            // A scraper or two, and someone with curl.
            max_connections: 16,
            shutdown_delay: Duration::ZERO,
            shutdown_grace: Duration::from_secs(1),
        };
        let server = Server::bind(addr, router, settings)
            .await
            .map_err(|e| anyhow::anyhow!("METRICS_BIND {addr}: {e}"))?;
        Ok(Some(Self { server }))
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.server.local_addr()
    }

    /// Serves until the task is aborted (the application ends it with itself).
    pub fn spawn(self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            if let Err(error) = self
                .server
                .run_until_stopped(std::future::pending::<()>())
                .await
            {
                tracing::error!(error = format!("{error:#}"), "the metrics listener failed");
            }
        })
    }
}

async fn render(State(scrape): State<Arc<Scrape>>) -> Response {
    for collect in &scrape.collectors {
        collect();
    }
    let mut response = scrape.handle.render().into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_come_from_bounded_sets() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(
            method_label(&Method::from_bytes(b"PROPFIND").expect("method")),
            "OTHER"
        );
        assert_eq!(status_class(StatusCode::CREATED), "2xx");
        assert_eq!(status_class(StatusCode::NOT_MODIFIED), "3xx");
        assert_eq!(status_class(StatusCode::TOO_MANY_REQUESTS), "4xx");
        assert_eq!(status_class(StatusCode::SERVICE_UNAVAILABLE), "5xx");
    }
}
