//! Stopping: the signal that starts it (SIGINT or SIGTERM) and [`Draining`], the flag that tells
//! `/readyz` and the server that it has started.
//!
//! The order, run by [`crate::server::Server::run_until_stopped`]: on the signal the flag is set,
//! so `/readyz` answers 503 and every HTTP/1 response carries `Connection: close`, while the
//! server goes on accepting and serving for `SHUTDOWN_DELAY_MS` (long enough for a load
//! balancer's health checks to take the replica out of rotation); then it stops accepting, lets
//! in-flight requests finish (up to `REQUEST_TIMEOUT_MS`) and exits.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::FromRequestParts;
use http::request::Parts;

use crate::problem::Problem;

/// SIGINT (Ctrl-C) or SIGTERM, whichever comes first.
pub async fn signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown signal received");
}

/// Whether this server is shutting down. The server puts its flag into every request's
/// extensions; a handler takes it as an extractor (a router served some other way, as by
/// `tower::ServiceExt::oneshot`, is never draining).
#[derive(Debug, Clone, Default)]
pub struct Draining(Arc<AtomicBool>);

impl Draining {
    /// True from the shutdown signal on.
    pub fn is_draining(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    pub(crate) fn start(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// What `/readyz` answers while draining: 503 `not_ready`, saying why; `None` before.
    pub fn not_ready(&self) -> Option<Problem> {
        self.is_draining().then(|| {
            Problem::not_ready("The service is shutting down; send requests to another replica.")
        })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Draining {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<Self>().cloned().unwrap_or_default())
    }
}
