//! HTTP routes, one module per resource.

pub mod auth;
pub mod health;
pub mod wellknown;

use axum::Router;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(auth::router())
        .merge(wellknown::router())
        .merge(health::router())
}
