//! The task-service: per-user tasks behind access tokens verified against the auth-service's JWKS.
//!
//! `main.rs` only parses the command line; tests build the very same app with [`build_state`] (or
//! [`AppState::new`] for custom key settings) and [`app`], and serve it on port 0.

pub mod auth;
pub mod config;
pub mod db;
pub mod error;
pub mod input;
pub mod listing;
pub mod openapi;
pub mod rfc3339;
pub mod routes;
pub mod state;

use std::future::Future;

use anyhow::Context;
use axum::Router;
use tokio::net::TcpListener;

pub use config::{Command, Config};
pub use state::AppState;

/// The whole HTTP app: routes, OpenAPI, and the shared layers (CORS, request ids, limits, problems).
pub fn app(state: AppState) -> Router {
    let http = state.http.clone();
    let router = routes::router().merge(openapi::router()).with_state(state);
    shared::http::finish(router, &http)
}

/// Connects to the database (applying migrations) and starts the signing-key cache. Does not wait
/// for the keys: until the auth-service answers, `/readyz` and protected routes answer 503.
pub async fn build_state(config: &Config) -> anyhow::Result<AppState> {
    build_state_with(config, config.jwks_settings()).await
}

/// [`build_state`] with key-cache settings of the caller's choosing (tests shorten the intervals).
pub async fn build_state_with(
    config: &Config,
    jwks: auth::JwksSettings,
) -> anyhow::Result<AppState> {
    let http = config.http_settings().context("CORS_ORIGINS")?;
    let pool = shared::db::connect(&config.db_settings()?, db::SCHEMA, &db::MIGRATOR).await?;
    let jwks = auth::Jwks::start(jwks)?;
    let verifier = auth::Verifier::new(jwks, &config.token_rules());
    Ok(AppState::new(pool, verifier, http))
}

/// Serves `state` on `listener` until `shutdown` resolves, then drains connections.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}

/// Runs the service with `config` until SIGINT/SIGTERM.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let state = build_state(&config).await?;
    let listener = TcpListener::bind(config.bind)
        .await
        .with_context(|| format!("binding {}", config.bind))?;
    tracing::info!(addr = %listener.local_addr()?, issuer = %config.auth_issuer, "task-service listening");
    serve(listener, state, shared::shutdown::signal()).await
}
