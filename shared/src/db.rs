//! Connecting to Postgres and applying one service's migrations inside its own schema.
//!
//! Each service owns one schema (`auth`, `tasks`) and writes every table name qualified with it,
//! so queries never depend on `search_path` (which transaction-mode poolers such as Neon's do not
//! keep). Only the migration run sets `search_path`, on a dedicated connection, so that sqlx's
//! bookkeeping table lands in the service's schema too and two services sharing one database never
//! see each other's migration history.
//!
//! Queries go through [`retry`], which keeps requests from failing on connections that died while
//! idle (a restart, a failover, Neon suspending an idle compute); the pool's `before_acquire` hook
//! is its part inside the pool.

pub mod retry;

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};

#[derive(Debug, Clone)]
pub struct DbSettings {
    pub url: SecretString,
    pub max_connections: u32,
    /// How long a request waits for a pooled connection before answering 503: an outage must
    /// fail fast, not pile up requests.
    pub acquire_timeout: Duration,
    /// `url` goes through a transaction-mode pooler (`DATABASE_POOLER`).
    pub pooled: bool,
    /// Where migrations run (`MIGRATION_DATABASE_URL`), if not at `url`.
    pub migration_url: Option<SecretString>,
}

/// The suffix of `application_name` that marks a pool's connections as going through a
/// transaction-mode pooler; [`retry`] reads it back from the pool (see [`is_pooled`]).
const POOLED_SUFFIX: &str = " (pooled)";

impl DbSettings {
    /// The connect options every connection of `application` uses.
    pub fn connect_options(&self, application: &str) -> anyhow::Result<PgConnectOptions> {
        let options = PgConnectOptions::from_str(self.url.expose_secret())
            .context("DATABASE_URL is not a valid postgres:// URL")?
            .log_statements(tracing::log::LevelFilter::Debug)
            .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_millis(500));
        Ok(if self.pooled {
            // A transaction-mode pooler hands each transaction whichever server connection is
            // free, so a statement prepared in one is not there in the next (and a name may be
            // taken by another client's): no statement cache. PgBouncer also refuses startup
            // parameters it does not track, such as sqlx's `extra_float_digits` (binary results
            // do not need it).
            options
                .application_name(&format!("{application}{POOLED_SUFFIX}"))
                .statement_cache_capacity(0)
                .extra_float_digits(None)
        } else {
            options.application_name(application)
        })
    }

    /// Where migrations run: a session of their own, never through a transaction-mode pooler.
    fn migration_options(&self, application: &str) -> anyhow::Result<PgConnectOptions> {
        match &self.migration_url {
            Some(url) => Ok(PgConnectOptions::from_str(url.expose_secret())
                .context("MIGRATION_DATABASE_URL is not a valid postgres:// URL")?
                .application_name(application)),
            None if self.pooled => anyhow::bail!(
                "DATABASE_URL goes through a transaction-mode pooler (DATABASE_POOLER, or a \
                 `-pooler` host name), where migrations cannot hold their lock: set \
                 MIGRATION_DATABASE_URL to the direct (unpooled) connection string"
            ),
            None => self.connect_options(application),
        }
    }
}

/// Neon names its pooled endpoint's host `<endpoint>-pooler.<region>...`.
pub fn looks_pooled(url: &SecretString) -> bool {
    PgConnectOptions::from_str(url.expose_secret())
        .map(|o| o.get_host().contains("-pooler"))
        .unwrap_or(false)
}

/// Whether `pool` goes through a transaction-mode pooler (its connections' `application_name`
/// says so, as [`DbSettings::connect_options`] set it).
pub fn is_pooled(pool: &PgPool) -> bool {
    pool.connect_options()
        .get_application_name()
        .is_some_and(|name| name.ends_with(POOLED_SUFFIX))
}

/// A service's schema and the migrations that build it.
///
/// Migrations are named as `sqlx migrate add` names them, `<UTC timestamp>_<what>.sql`, in both
/// services: parallel branches never take the same number.
#[derive(Debug)]
pub struct Schema {
    pub name: &'static str,
    pub migrator: &'static Migrator,
    /// `(old, new)` versions of migrations whose file was renamed after databases applied it.
    /// sqlx keys its bookkeeping by version and refuses to start when an applied one is missing
    /// from the source, so those rows are renumbered (in the migration lock, before the run).
    /// The checksum is of the SQL, which a rename leaves as it was.
    pub renamed: &'static [(i64, i64)],
}

/// Connects, creates the schema if needed and applies pending migrations.
pub async fn connect(settings: &DbSettings, schema: &Schema) -> anyhow::Result<PgPool> {
    anyhow::ensure!(
        schema
            .name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c == '_'),
        "schema name must be a plain identifier"
    );
    let options = settings.connect_options(schema.name)?;

    migrate(&settings.migration_options(schema.name)?, schema).await?;

    let pool = PgPoolOptions::new()
        .max_connections(settings.max_connections)
        .min_connections(1)
        .acquire_timeout(settings.acquire_timeout)
        // Testing every connection costs a round trip per request; `retry` pings only the ones
        // that may have died while idle.
        .test_before_acquire(false)
        .before_acquire(|conn, meta| Box::pin(retry::before_acquire(conn, meta)))
        .connect_lazy_with(options);
    Ok(pool)
}

/// `<service> migrate`: connects as the service does and applies its pending migrations through
/// [`connect`] — the start-up path, advisory lock included — then closes the pool. Beside running
/// replicas or a second run it waits for the lock and finds nothing to do.
pub async fn migrate_only(args: &crate::settings::DbArgs, schema: &Schema) -> anyhow::Result<()> {
    let pool = connect(&args.settings()?, schema).await?;
    pool.close().await;
    let version = schema.migrator.iter().map(|m| m.version).max();
    tracing::info!(
        schema = schema.name,
        version,
        "migrations applied; the schema is up to date"
    );
    Ok(())
}

async fn migrate(options: &PgConnectOptions, schema: &Schema) -> anyhow::Result<()> {
    let Schema {
        name: schema,
        migrator,
        renamed,
    } = *schema;
    let mut conn = sqlx::PgConnection::connect_with(options).await.context(
        "could not connect to the database (is DATABASE_URL right and Postgres running?)",
    )?;
    // Two replicas starting at once would race on CREATE SCHEMA; serialise them.
    let lock_key = format!("migrate:{schema}");
    sqlx::query("SELECT pg_advisory_lock(hashtext($1))")
        .bind(&lock_key)
        .execute(&mut conn)
        .await?;
    let result = async {
        // Only create the schema when it is missing: CREATE SCHEMA IF NOT EXISTS still needs
        // CREATE on the database, a privilege a least-privilege role that was handed its schema
        // (docker/postgres-init) does not have.
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
                .bind(schema)
                .fetch_one(&mut conn)
                .await?;
        if !exists {
            sqlx::query(&format!("CREATE SCHEMA {schema}"))
                .execute(&mut conn)
                .await?;
        }
        sqlx::query(&format!("SET search_path TO {schema}"))
            .execute(&mut conn)
            .await?;
        renumber(&mut conn, schema, renamed).await?;
        migrator
            .run(&mut conn)
            .await
            .context("applying migrations")?;
        anyhow::Ok(())
    }
    .await;
    let _ = sqlx::query("SELECT pg_advisory_unlock(hashtext($1))")
        .bind(&lock_key)
        .execute(&mut conn)
        .await;
    let _ = conn.close().await;
    result
}

/// Applies [`Schema::renamed`] to the bookkeeping of a database migrated before the renames.
async fn renumber(
    conn: &mut sqlx::PgConnection,
    schema: &str,
    renamed: &[(i64, i64)],
) -> anyhow::Result<()> {
    if renamed.is_empty() {
        return Ok(());
    }
    let booked: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
        .bind(format!("{schema}._sqlx_migrations"))
        .fetch_one(&mut *conn)
        .await?;
    if !booked {
        return Ok(());
    }
    for &(old, new) in renamed {
        let done = sqlx::query(&format!(
            "UPDATE {schema}._sqlx_migrations SET version = $2 WHERE version = $1"
        ))
        .bind(old)
        .bind(new)
        .execute(&mut *conn)
        .await?;
        if done.rows_affected() > 0 {
            tracing::info!(old, new, "migration renumbered to its new file name");
        }
    }
    Ok(())
}

/// Whether the database answers right now (for `/readyz`).
pub async fn ping(pool: &PgPool) -> bool {
    retry::read(pool, |conn| Box::pin(async move { conn.ping().await }))
        .await
        .is_ok()
}

/// Whether `error` means "the database is not there right now" (answer 503 and let the client
/// retry) rather than a bad query (a bug: 500).
pub fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => true,
        // SQLSTATE class 08 (connection exception), 57P01-57P03 (admin shutdown, crash shutdown,
        // cannot connect now), 53300 (too many connections).
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("08") || c.starts_with("57P") || c == "53300"),
        _ => false,
    }
}

/// The name of the constraint a statement violated, if it violated one.
pub fn violated_constraint(error: &sqlx::Error) -> Option<&str> {
    error.as_database_error().and_then(|db| db.constraint())
}

/// Maps a named constraint's violation to a domain error, so the database — not a racy
/// read-then-write — decides "email taken" (after realworld-axum-sqlx's `on_constraint`).
pub trait ConstraintExt<T> {
    fn on_constraint<E: From<sqlx::Error>>(
        self,
        name: &str,
        map: impl FnOnce() -> E,
    ) -> Result<T, E>;
}

impl<T> ConstraintExt<T> for Result<T, sqlx::Error> {
    fn on_constraint<E: From<sqlx::Error>>(
        self,
        name: &str,
        map: impl FnOnce() -> E,
    ) -> Result<T, E> {
        self.map_err(|error| {
            if violated_constraint(&error) == Some(name) {
                map()
            } else {
                E::from(error)
            }
        })
    }
}
