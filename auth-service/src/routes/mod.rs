//! HTTP routes, one module per resource.

pub mod account;
pub mod auth;
pub mod authenticated;
pub mod email;
pub mod events;
pub mod health;
pub mod internal;
pub mod mfa;
pub mod passkeys;
pub mod wellknown;

use axum::Router;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(auth::router())
        .merge(account::router())
        .merge(email::router())
        .merge(mfa::router())
        .merge(passkeys::router())
        .merge(internal::router())
        .merge(wellknown::router())
        .merge(health::router())
}
