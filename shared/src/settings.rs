//! The settings both services take, as `clap::Args` groups each service `#[command(flatten)]`s into
//! its own `Config`, and the one place they turn into what the code uses: connect options, HTTP
//! layer settings, server limits, the log subscriber.

use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use secrecy::SecretString;

use crate::db::DbSettings;
use crate::http::HttpSettings;
use crate::server::ServeSettings;

/// `DATABASE_URL` and the pool.
#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// PostgreSQL URL; each service uses only its own schema. `sslmode=require` for Neon.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<SecretString>,

    /// Maximum pooled database connections.
    #[arg(long, env = "DB_MAX_CONNECTIONS", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub db_max_connections: u32,

    /// Milliseconds to wait for a database connection before answering 503.
    #[arg(long, env = "DB_ACQUIRE_TIMEOUT_MS", default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub db_acquire_timeout_ms: u64,

    /// Whether DATABASE_URL goes through a transaction-mode pooler (PgBouncer, Neon's pooled
    /// endpoint): `auto` says yes for a host name with `-pooler` in it (Neon's pooled endpoint).
    /// Then every query runs pinned in a transaction with no prepared statement left behind, and
    /// migrations need MIGRATION_DATABASE_URL.
    #[arg(long, env = "DATABASE_POOLER", value_enum, default_value_t = Pooler::Auto)]
    pub database_pooler: Pooler,

    /// A direct (unpooled) URL for migrations, which need a session of their own (an advisory
    /// lock, `search_path`). Unset: DATABASE_URL, which is refused when it is pooled.
    #[arg(long, env = "MIGRATION_DATABASE_URL", hide_env_values = true)]
    pub migration_database_url: Option<SecretString>,
}

/// `DATABASE_POOLER`.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Pooler {
    /// `transaction` when the host name contains `-pooler` (Neon's pooled endpoint), else `none`.
    Auto,
    /// A direct connection, or a session-mode pooler.
    None,
    /// A transaction-mode pooler: a server connection is ours only until the transaction ends.
    Transaction,
}

impl DbArgs {
    pub fn settings(&self) -> anyhow::Result<DbSettings> {
        let url = self.database_url.clone().ok_or_else(|| {
            anyhow::anyhow!(
                "DATABASE_URL is required (e.g. postgres://postgres@127.0.0.1:5432/todo)"
            )
        })?;
        let pooled = match self.database_pooler {
            Pooler::None => false,
            Pooler::Transaction => true,
            Pooler::Auto => crate::db::looks_pooled(&url),
        };
        Ok(DbSettings {
            url,
            max_connections: self.db_max_connections,
            acquire_timeout: Duration::from_millis(self.db_acquire_timeout_ms),
            pooled,
            migration_url: self.migration_database_url.clone(),
        })
    }
}

/// CORS, time limits and connection limits of the HTTP server, and where its metrics are served.
#[derive(Debug, Clone, Args)]
pub struct HttpArgs {
    /// Comma-separated browser origins allowed to call with credentials (never `*`).
    #[arg(long, env = "CORS_ORIGINS", default_value = "http://localhost:3000")]
    pub cors_origins: String,

    /// Milliseconds a request may take (body included) before it is answered 503.
    #[arg(long, env = "REQUEST_TIMEOUT_MS", default_value_t = 15_000, value_parser = clap::value_parser!(u64).range(100..=600_000))]
    pub request_timeout_ms: u64,

    /// Milliseconds a client has to send a request's headers; also how long an idle keep-alive
    /// connection is kept. Behind a proxy, set it above the proxy's idle timeout.
    #[arg(long, env = "HEADER_READ_TIMEOUT_MS", default_value_t = 30_000, value_parser = clap::value_parser!(u64).range(100..=600_000))]
    pub header_read_timeout_ms: u64,

    /// Open client connections served at once; further ones wait in the listen backlog.
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_connections: u64,

    /// Requests handled at once; past it a request is answered 503 `not_ready` with
    /// `Retry-After` at once, never queued (`/healthz` excepted).
    #[arg(long, env = "MAX_CONCURRENT_REQUESTS", default_value_t = 512, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_concurrent_requests: u64,

    /// Milliseconds a stopping service (SIGTERM, SIGINT) goes on serving with `/readyz`
    /// answering 503 and responses saying `Connection: close`, so that load balancers take it out
    /// of rotation before it stops listening; then in-flight requests drain. 0: stop at once.
    #[arg(long, env = "SHUTDOWN_DELAY_MS", default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(0..=300_000))]
    pub shutdown_delay_ms: u64,

    /// Address to serve Prometheus metrics on (`GET /metrics`), apart from the API's. Unset: no
    /// metrics are recorded or served. Keep it off the public network: it names routes, load and
    /// sign-in failures.
    #[arg(long, env = "METRICS_BIND")]
    pub metrics_bind: Option<std::net::SocketAddr>,
}

impl HttpArgs {
    /// The router layers' settings; `allow_headers` are request headers beyond the safelisted ones.
    pub fn http_settings(
        &self,
        allow_headers: Vec<http::HeaderName>,
    ) -> anyhow::Result<HttpSettings> {
        Ok(HttpSettings {
            cors_origins: crate::http::parse_origins(&self.cors_origins)?,
            allow_headers,
            expose_headers: Vec::new(),
            request_timeout: Duration::from_millis(self.request_timeout_ms),
            max_concurrent_requests: usize::try_from(self.max_concurrent_requests)
                .unwrap_or(usize::MAX),
            metrics: self.metrics_bind.is_some(),
        })
    }

    pub fn serve_settings(&self) -> ServeSettings {
        ServeSettings {
            header_read_timeout: Duration::from_millis(self.header_read_timeout_ms),
            max_connections: usize::try_from(self.max_connections).unwrap_or(usize::MAX),
            shutdown_delay: Duration::from_millis(self.shutdown_delay_ms),
            // In-flight requests get as long as any request may take.
            shutdown_grace: Duration::from_millis(self.request_timeout_ms),
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Compact lines for people.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Logging.
#[derive(Debug, Clone, Args)]
pub struct LogArgs {
    /// Log filter (tracing's EnvFilter syntax), e.g. `info` or `debug,sqlx=warn`.
    #[arg(long, env = "RUST_LOG")]
    pub rust_log: Option<String>,

    /// `text` for people, `json` for log collectors.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

impl LogArgs {
    /// Installs the subscriber; `default_filter` applies when `RUST_LOG` is unset.
    pub fn init(&self, default_filter: &str) {
        crate::telemetry::init(
            self.rust_log.as_deref().unwrap_or(default_filter),
            self.log_format,
        );
    }
}

/// What the binary does besides serving.
#[derive(Debug, Clone, Subcommand, PartialEq, Eq)]
pub enum BaseCommand {
    /// Serve (the default).
    Serve,
    /// Probe this service's /readyz on the configured address; exit 0 when ready, 1 otherwise
    /// (for containers without a shell or curl).
    Healthcheck,
    /// Apply this service's pending database migrations (DATABASE_URL) exactly as start-up does,
    /// then exit: 0 when the schema is up to date. Safe beside running replicas (advisory-locked);
    /// what a deployment's migration job runs.
    Migrate,
}
