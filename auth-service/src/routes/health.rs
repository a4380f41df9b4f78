//! `/healthz` (the process answers) and `/readyz` (it can serve: database reachable, keys loaded,
//! not shutting down).

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use shared::Problem;
use shared::shutdown::Draining;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, description = "Alive")))]
pub async fn healthz() -> impl IntoResponse {
    axum::Json(json!({"status": "ok"}))
}

#[utoipa::path(get, path = "/readyz", tag = "health", responses(
    (status = 200, description = "Database reachable and signing keys loaded"),
    (status = 503, description = "Not ready (`not_ready`): the database is unreachable, or the service is shutting down (it still serves for `SHUTDOWN_DELAY_MS`, so that load balancers move away first)", body = Problem, content_type = "application/problem+json")))]
pub async fn readyz(State(state): State<AppState>, draining: Draining) -> Response {
    if let Some(problem) = draining.not_ready() {
        return problem.into_response();
    }
    // Keys are loaded before the server listens, so only the database can be missing here.
    if shared::db::ping(&state.pool).await {
        axum::Json(json!({"status": "ready", "kid": state.keys.current().signing.kid}))
            .into_response()
    } else {
        Problem::not_ready("The database is unreachable.").into_response()
    }
}
