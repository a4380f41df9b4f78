//! The bound on requests in flight. Past it a request is refused at once with 503 `not_ready` and
//! `Retry-After`, never queued: a queue in front of a saturated service only turns a quick
//! "try again" into a timeout after `REQUEST_TIMEOUT_MS`, with memory held all the while, and a
//! client (or the load balancer) that is told to go elsewhere can. The connection bound and the
//! header-read timeout in [`crate::server`] cap what reaches this point; this caps the work.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

use crate::problem::Problem;

/// The liveness probe: answered even at the bound, or an orchestrator would restart a replica for
/// being busy. It does no work (readiness, which pings the database, is bounded like the rest).
const LIVENESS_PATH: &str = "/healthz";

/// Holds one permit per request until its handler has answered.
#[derive(Debug, Clone)]
pub struct InFlight(Arc<Semaphore>);

impl InFlight {
    pub fn new(max: usize) -> Self {
        Self(Arc::new(Semaphore::new(max.max(1))))
    }
}

/// The middleware (`from_fn_with_state`).
pub async fn bound(State(limit): State<InFlight>, request: Request, next: Next) -> Response {
    if request.uri().path() == LIVENESS_PATH {
        return next.run(request).await;
    }
    let Ok(_permit) = limit.0.try_acquire() else {
        return Problem::not_ready("The service is at its limit of requests in flight; try again.")
            .into_response();
    };
    next.run(request).await
}
