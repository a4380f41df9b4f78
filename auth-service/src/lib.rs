//! The auth-service: signs users up and in, issues RS256 access tokens and rotating refresh
//! tokens, and publishes its public keys as a JWKS.
//!
//! `main.rs` only parses the command line and calls [`Application::build`]; tests build the very
//! same application and serve it on port 0 through the same server, layers and shutdown.

pub mod client_ip;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod kek;
pub mod keys_command;
pub mod mail;
pub mod metrics;
pub mod openapi;
pub mod passkey;
pub mod password;
pub mod rate_limit;
pub mod refresh_token;
pub mod routes;
pub mod second_factor;
pub mod signing;
pub mod state;
pub mod tokens;

use std::time::Duration;

use axum::Router;
use shared::server::Server;

pub use config::Config;
pub use state::AppState;

/// The complete router with every layer, as served.
pub fn app(state: AppState) -> Router {
    let http = state.http.clone();
    let mut router = routes::router().merge(openapi::router());
    if http.metrics {
        router = router.layer(axum::middleware::from_fn(metrics::count_outcomes));
    }
    shared::http::finish(router.with_state(state), &http)
}

/// Connects to the database (applying migrations), loads keys and builds the state.
pub async fn build_state(config: &Config) -> anyhow::Result<AppState> {
    if config.http.metrics_bind.is_some() {
        shared::metrics::install()?;
        metrics::describe();
    }
    let pool = shared::db::connect(&config.db.settings()?, &db::SCHEMA).await?;
    AppState::build(config, pool).await
}

/// Background upkeep every `KEY_CHECK_INTERVAL`: key rotation and pick-up; about hourly, the
/// purge of rows nothing can need any more.
fn spawn_maintenance(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(state.settings.key_check_secs));
        tick.tick().await;
        let mut rounds: u64 = 0;
        loop {
            tick.tick().await;
            rounds += 1;
            if let Err(e) = state.keys.refresh_at(&state.pool, chrono::Utc::now()).await {
                tracing::warn!(error = %e, "signing key refresh failed; keeping the current keys");
            }
            if rounds.is_multiple_of(3600 / state.settings.key_check_secs.clamp(1, 3600)) {
                purge(&state).await;
            }
        }
    })
}

/// The hourly part of the upkeep: rows nothing can need any more.
async fn purge(state: &AppState) {
    let lifetime = state.settings.issuer.ttl.num_seconds() + 300;
    let results = [
        (
            "ended sessions",
            db::sessions::purge_ended(&state.pool).await,
        ),
        (
            "revocations",
            db::revocations::purge(&state.pool, lifetime).await,
        ),
        ("rate-limit buckets", rate_limit::purge(&state.pool).await),
        ("known devices", db::devices::purge(&state.pool).await),
        (
            "email link tokens",
            db::email_tokens::purge(&state.pool).await,
        ),
        ("mfa tokens", db::mfa::purge(&state.pool).await),
        (
            "passkey challenges",
            db::passkeys::purge_challenges(&state.pool).await,
        ),
        (
            "security events",
            db::events::purge(&state.pool, state.settings.event_retention_days).await,
        ),
    ];
    for (what, result) in results {
        match result {
            Ok(n) if n > 0 => tracing::info!(rows = n, "purged {what}"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "purging {what} failed"),
        }
    }
}

/// The service bound to its address, ready to run.
pub type Application = shared::server::Application<AppState>;

/// Builds the state from `config` and binds its address.
pub async fn build(config: &Config) -> anyhow::Result<Application> {
    let state = build_state(config).await?;
    with_state(config, state).await
}

/// Binds `config.bind` to serve `state` there, with the key and session upkeep running, and
/// `METRICS_BIND` (if set) to serve the metrics.
pub async fn with_state(config: &Config, state: AppState) -> anyhow::Result<Application> {
    tracing::info!(issuer = %state.settings.issuer.iss, kid = %state.keys.current().signing.kid, "signing as this issuer");
    let exporter = shared::metrics::Exporter::bind(
        config.http.metrics_bind,
        vec![
            shared::metrics::pool_gauges(state.pool.clone()),
            metrics::hasher_gauges(state.hasher.clone()),
        ],
    )
    .await?;
    let server = Server::bind(
        config.bind,
        app(state.clone()),
        config.http.serve_settings(),
    )
    .await?;
    let maintenance = spawn_maintenance(state.clone());
    let mail = mail::spawn_sender(state.pool.clone(), state.mail.clone())?;
    Ok(Application::new("auth-service", server, state)
        .with_background(maintenance)
        .with_background(mail)
        .with_metrics(exporter))
}
