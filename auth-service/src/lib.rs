//! The auth-service: signs users up and in, issues RS256 access tokens and rotating refresh
//! tokens, and publishes its public keys as a JWKS. `main.rs` only calls [`run`]; tests build the
//! very same router with [`app`].

pub mod config;
pub mod db;
pub mod error;
pub mod kek;
pub mod keys;
pub mod password;
pub mod rate_limit;
pub mod routes;
pub mod sessions;
pub mod state;
pub mod tokens;

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::http::HeaderName;
use secrecy::SecretString;
use shared::db::DbSettings;
use shared::http::HttpSettings;
use tokio::net::TcpListener;

pub use config::Config;
pub use state::AppState;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/auth");

/// The complete router with every layer, as served.
pub fn app(state: AppState, request_timeout: Duration) -> Router {
    let http = HttpSettings {
        cors_origins: state.settings.cors_origins.clone(),
        allow_headers: vec![HeaderName::from_static(routes::auth::TRANSPORT_HEADER)],
        expose_headers: vec![],
        request_timeout,
    };
    let router = Router::new()
        .merge(routes::auth::router())
        .merge(routes::wellknown::router())
        .merge(routes::health::router())
        .merge(routes::docs::router())
        .with_state(state);
    shared::http::finish(router, &http)
}

/// Connects to the database (applying migrations), loads keys and builds the state.
pub async fn build_state(config: &Config) -> anyhow::Result<AppState> {
    let url: SecretString = config
        .database_url
        .clone()
        .context("DATABASE_URL is required (e.g. postgres://postgres@127.0.0.1:5432/todo)")?;
    let pool = shared::db::connect(
        &DbSettings {
            url,
            max_connections: config.db_max_connections,
            acquire_timeout: Duration::from_millis(config.db_acquire_timeout_ms),
        },
        "auth",
        &MIGRATOR,
    )
    .await?;
    AppState::build(config, pool).await
}

/// Background upkeep: key rotation and pick-up, expired-session purge, rate-limiter memory.
pub fn spawn_maintenance(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(30));
        tick.tick().await;
        let mut rounds: u64 = 0;
        loop {
            tick.tick().await;
            rounds += 1;
            if let Err(e) = state.keys.refresh_at(&state.pool, chrono::Utc::now()).await {
                tracing::warn!(error = %e, "signing key refresh failed; keeping the current keys");
            }
            state.limits.housekeeping();
            if rounds.is_multiple_of(120) {
                match db::sessions::purge_ended(&state.pool).await {
                    Ok(n) if n > 0 => tracing::info!(sessions = n, "purged ended sessions"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "session purge failed"),
                }
            }
        }
    })
}

/// Serves until SIGINT/SIGTERM, then drains in-flight requests.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let state = build_state(&config).await?;
    let listener = TcpListener::bind(config.bind)
        .await
        .with_context(|| format!("cannot listen on {}", config.bind))?;
    tracing::info!(addr = %config.bind, issuer = %state.settings.issuer.iss, kid = %state.keys.current().signing.kid, "auth-service listening");
    let maintenance = spawn_maintenance(state.clone());
    let app = app(state, Duration::from_millis(config.request_timeout_ms));
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shared::shutdown::signal())
    .await?;
    maintenance.abort();
    Ok(())
}
