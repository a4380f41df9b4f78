//! The HTTP surface: one module per resource, merged here.

pub mod compat;
pub mod health;
pub mod tasks;

use axum::Router;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(tasks::router())
        .merge(compat::router())
        .merge(health::router())
}
