//! The layers every service wraps its router in, so both answer unknown routes, wrong methods,
//! panics, timeouts, oversized bodies and requests past the in-flight bound with the same problem
//! documents, send the same security headers, carry a request id, and never log credentials.

pub mod headers;
pub mod in_flight;

use std::time::Duration;

use axum::error_handling::HandleErrorLayer;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{BoxError, Router};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::classify::ServerErrorsFailureClass;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveHeadersLayer;
use tower_http::trace::TraceLayer;

use crate::problem::Problem;

/// The largest request body either service reads.
pub const BODY_LIMIT: usize = 64 * 1024;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Settings for [`finish`].
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Exact origins allowed to call with credentials. Never `*`: the browser app sends cookies.
    pub cors_origins: Vec<String>,
    /// Request headers browsers may send beyond the CORS-safelisted ones.
    pub allow_headers: Vec<HeaderName>,
    /// Response headers page scripts may read.
    pub expose_headers: Vec<HeaderName>,
    pub request_timeout: Duration,
    /// Requests handled at once; more are refused with 503 `not_ready` (see [`in_flight`]).
    pub max_concurrent_requests: usize,
    /// Count and time every request ([`crate::metrics::TrackLayer`]); on with `METRICS_BIND`.
    pub metrics: bool,
}

/// Parses a comma-separated origin list, refusing `*` (credentials are always allowed).
pub fn parse_origins(list: &str) -> anyhow::Result<Vec<String>> {
    let origins: Vec<String> = list
        .split(',')
        .map(|s| s.trim().trim_end_matches('/').to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    for origin in &origins {
        anyhow::ensure!(
            origin != "*",
            "CORS origins must be listed exactly; `*` is not allowed"
        );
        anyhow::ensure!(
            origin.starts_with("http://") || origin.starts_with("https://"),
            "CORS origin {origin:?} must start with http:// or https://"
        );
        HeaderValue::from_str(origin)?;
    }
    Ok(origins)
}

/// Adds fallbacks, body limit, timeout, panic catching, the in-flight bound, CORS, security
/// headers, request ids, tracing and, when on, request metrics.
pub fn finish(router: Router, settings: &HttpSettings) -> Router {
    let origins: Vec<HeaderValue> = settings
        .cors_origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    let mut allow_headers = vec![header::AUTHORIZATION, header::CONTENT_TYPE];
    allow_headers.extend(settings.allow_headers.iter().cloned());
    let mut expose_headers = vec![
        header::LOCATION,
        header::RETRY_AFTER,
        header::WWW_AUTHENTICATE,
        REQUEST_ID,
    ];
    expose_headers.extend(settings.expose_headers.iter().cloned());
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_credentials(true)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers(allow_headers)
        .expose_headers(expose_headers)
        .max_age(Duration::from_secs(600));

    let timeout = settings.request_timeout;
    let in_flight = in_flight::InFlight::new(settings.max_concurrent_requests);
    router
        .fallback(|| async { Problem::not_found() })
        .method_not_allowed_fallback(|| async { Problem::method_not_allowed() })
        .layer(
            ServiceBuilder::new()
                // Outside every other layer, so that what it counts is what the client got:
                // timeouts, panics and refusals at the in-flight bound included. Off: `Either`'s
                // pass-through, no recording.
                .option_layer(settings.metrics.then_some(crate::metrics::TrackLayer))
                .layer(SetSensitiveHeadersLayer::new([header::AUTHORIZATION, header::COOKIE, header::SET_COOKIE]))
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(|req: &axum::http::Request<_>| {
                            let id = req
                                .headers()
                                .get(REQUEST_ID)
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or_default();
                            // The path only: query strings can carry search text a user typed.
                            tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
                        })
                        .on_response(log_response)
                        // Statuses are logged by `log_response`; the classifier would log every
                        // 5xx — a readiness 503 included — at ERROR. Only a failure of the
                        // service itself (no response at all) is an error here.
                        .on_failure(|class: ServerErrorsFailureClass, _latency: Duration, _span: &tracing::Span| {
                            if let ServerErrorsFailureClass::Error(error) = class {
                                tracing::error!(%error, "request failed");
                            }
                        }),
                )
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                .layer(axum::middleware::from_fn(headers::set))
                .layer(cors)
                // Inside CORS, so that a browser app can read a refusal's Retry-After.
                .layer(axum::middleware::from_fn_with_state(in_flight, in_flight::bound))
                .layer(CatchPanicLayer::custom(|_: Box<dyn std::any::Any + Send>| {
                    tracing::error!("handler panicked");
                    Problem::internal().into_response()
                }))
                .layer(HandleErrorLayer::new(|err: BoxError| async move { timeout_error(err) }))
                .timeout(timeout)
                .layer(DefaultBodyLimit::max(BODY_LIMIT)),
        )
}

/// One line per response: 5xx at WARN (a 500's cause is logged at ERROR where it happened; a 503
/// is an outage or a refusal an operator watches, not a page), refusals (4xx, 401 and 429 among
/// them) at INFO, successes at DEBUG. Formatting and writing a line for every success cost 8–12 %
/// of a task-list request in the benchmarks, and successes are what metrics, not logs, count.
fn log_response<B>(res: &axum::http::Response<B>, latency: Duration, _span: &tracing::Span) {
    let status = res.status().as_u16();
    let latency_ms = latency.as_secs_f64() * 1000.0;
    if status >= 500 {
        tracing::warn!(status, latency_ms, "response");
    } else if status >= 400 {
        tracing::info!(status, latency_ms, "response");
    } else {
        tracing::debug!(status, latency_ms, "response");
    }
}

fn timeout_error(err: BoxError) -> Response {
    if err.is::<tower::timeout::error::Elapsed>() {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            "The request took too long; try again.",
        )
        .with_retry_after(1)
        .into_response()
    } else {
        tracing::error!(error = %err, "middleware error");
        Problem::internal().into_response()
    }
}
