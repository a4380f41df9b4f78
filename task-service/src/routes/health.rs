//! Liveness and readiness. Ready means able to serve: the database answers, signing keys are
//! known, and the service is not shutting down. Orchestrators stop routing to an instance that is
//! not ready; they restart one that is not alive.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use shared::Problem;
use shared::shutdown::Draining;
use utoipa::ToSchema;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: &'static str,
    /// Set when the auth-service's revocation feed cannot be followed: the service still serves,
    /// refusing the sessions it already knows to have ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revocation_feed: Option<String>,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok",
        revocation_feed: None,
    })
}

/// The service can serve requests: database reachable, signing keys known, not shutting down.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "health",
    responses(
        (status = 200, body = Health),
        (status = 503, description = "Database unreachable, signing keys not yet fetched, or shutting down (it still serves for `SHUTDOWN_DELAY_MS`, so that load balancers move away first) (`not_ready`).",
         body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn readyz(
    State(state): State<AppState>,
    draining: Draining,
) -> Result<Json<Health>, Problem> {
    if let Some(problem) = draining.not_ready() {
        return Err(problem);
    }
    let database = shared::db::ping(&state.pool).await;
    let keys = state.verifier.is_ready();
    match (database, keys) {
        (true, true) => Ok(Json(Health {
            status: "ok",
            revocation_feed: state.feed.problem(),
        })),
        (false, true) => Err(Problem::not_ready("The database is unreachable.")),
        (true, false) => Err(Problem::not_ready(
            "Signing keys have not been fetched yet.",
        )),
        (false, false) => Err(Problem::not_ready(
            "The database is unreachable and signing keys are not known yet.",
        )),
    }
}
