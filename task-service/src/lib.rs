//! The task-service: per-user tasks behind access tokens verified against the auth-service's JWKS.
//!
//! `main.rs` only parses the command line and calls [`Application::build`]; tests build the very
//! same application (with [`build_state_with`] when they need other key-cache settings) and serve
//! it on port 0 through the same server, layers and shutdown.

pub mod auth;
pub mod config;
pub mod db;
pub mod error;
pub mod input;
pub mod listing;
pub mod metrics;
pub mod openapi;
pub mod revocation_feed;
pub mod rfc3339;
pub mod routes;
pub mod state;

use axum::Router;
use shared::server::Server;

pub use config::Config;
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
    if config.http.metrics_bind.is_some() {
        // Before the key cache starts, so that its first fetch is counted.
        shared::metrics::install()?;
        metrics::describe();
    }
    let mut http = config.http.http_settings(Vec::new())?;
    // So that the browser app can read whether a compatibility list was cut.
    http.expose_headers.push(routes::compat::LIST_TRUNCATED);
    let pool = shared::db::connect(&config.db.settings()?, &db::SCHEMA).await?;
    let jwks = auth::Jwks::start(jwks)?;
    let verifier = auth::Verifier::new(jwks, &config.token_rules());
    Ok(AppState::new(pool, verifier, http, config.task_limits()))
}

/// The service bound to its address, ready to run.
pub type Application = shared::server::Application<AppState>;

/// Builds the state from `config` and binds its address.
pub async fn build(config: &Config) -> anyhow::Result<Application> {
    let state = build_state(config).await?;
    with_state(config, state).await
}

/// Binds `config.bind` to serve `state` there, and `METRICS_BIND` (if set) to serve the metrics.
pub async fn with_state(config: &Config, state: AppState) -> anyhow::Result<Application> {
    tracing::info!(issuer = %config.auth_issuer, "trusting tokens from this issuer");
    let feed = revocation_feed::start(
        config.feed_settings()?,
        state.verifier.revocations().clone(),
        state.pool.clone(),
        state.feed.clone(),
    )?;
    let exporter = shared::metrics::Exporter::bind(
        config.http.metrics_bind,
        vec![shared::metrics::pool_gauges(state.pool.clone())],
    )
    .await?;
    let server = Server::bind(
        config.bind,
        app(state.clone()),
        config.http.serve_settings(),
    )
    .await?;
    Ok(Application::new("task-service", server, state)
        .with_background(feed)
        .with_metrics(exporter))
}
