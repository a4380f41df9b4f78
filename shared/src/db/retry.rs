//! Queries that survive a database restart, a failover, or Neon suspending an idle compute.
//!
//! The pool does not test every connection before handing it out (a round trip per request), so a
//! connection that died while idle would only be discovered by the request that uses it. Two parts
//! keep requests from failing once the server accepts connections again:
//!
//! - **Before use** (the pool's `before_acquire` hook): a connection idle longer than
//!   [`PING_AFTER_IDLE`], or idle since before a dead connection was last found, is pinged, and if
//!   it is dead the pool opens a fresh one within the same acquire. A connection still dead after
//!   the server came back has sat idle at least as long as the server was down, and a restart
//!   takes longer than that; a busy service reuses its connections sooner and never pays the
//!   ping. This keeps every statement off dead connections, writes and code that does not use the
//!   helpers below included.
//! - **After a failure** ([`read`], [`write`], [`transaction`]): the connection is probed (a `Sync`
//!   round trip; `ROLLBACK` inside a transaction). If it is dead it is closed, the moment is noted
//!   (which makes the connections idle since then suspect), and the call runs again on a fresh
//!   connection where that is provably safe: a read, always; a transaction whose `COMMIT` was
//!   never sent (the server rolls it back when the connection dies); a single-statement write,
//!   never — sqlx reports a socket that closed before the statement went out and one that closed
//!   while it ran alike (`Io`, `Protocol`, or 57P01 `admin_shutdown` read from the server's
//!   farewell), so once sent it may have been applied. A failed `COMMIT` is not run again either.
//!   Attempts stay within the pool's acquire timeout from the first, so while the database is
//!   down the answer is still a quick 503.

use std::future::Future;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sqlx::pool::{PoolConnection, PoolConnectionMetadata};
use sqlx::{Connection, PgConnection, PgPool, Postgres};

/// Attempts per call, the first included.
const MAX_ATTEMPTS: u32 = 3;
/// A connection idle longer than this is pinged before use: shorter than any restart, longer than
/// a busy service leaves its connections idle.
pub const PING_AFTER_IDLE: Duration = Duration::from_millis(100);
/// Connections that went idle up to this long after a noted failure are suspect as well: the
/// backends of one server die within moments of each other, not all before the first is noticed.
const SETTLE: Duration = Duration::from_secs(1);
/// How long the probe of a connection whose statement failed may take before the connection is
/// given up (closed, not noted: it may just be slow). The hook's pings have no timeout of their
/// own: the pool's acquire timeout bounds them, and a slow ping must not count as a dead server.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
/// Pause before trying to connect again after a connection attempt failed outright.
const CONNECT_PAUSE: Duration = Duration::from_millis(20);

/// When a dead connection was last found: milliseconds on [`clock`] plus one (0: never).
static LAST_FAILURE: AtomicU64 = AtomicU64::new(0);

fn clock() -> Duration {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed()
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Notes that a connection turned out dead, so that the pool pings the ones idle since before.
/// Process-wide: a service talks to one database. (Tests with many pools in one process share it,
/// which costs them at most a few pings.)
fn note_failure() {
    LAST_FAILURE.fetch_max(millis(clock()).saturating_add(1), Ordering::Relaxed);
}

/// Whether a connection idle for `idle_for` went idle before, or just after, the last noted failure.
fn suspect(idle_for: Duration) -> bool {
    let last = LAST_FAILURE.load(Ordering::Relaxed);
    if last == 0 {
        return false;
    }
    let idle_since = millis(clock().saturating_sub(idle_for));
    idle_since < last.saturating_add(millis(SETTLE))
}

/// The pool's `before_acquire` hook: pings the connections that may have died while idle (see the
/// module comment) and has the pool replace those that did.
pub(super) async fn before_acquire(
    conn: &mut PgConnection,
    meta: PoolConnectionMetadata,
) -> sqlx::Result<bool> {
    if meta.idle_for <= PING_AFTER_IDLE && !suspect(meta.idle_for) {
        return Ok(true);
    }
    match conn.ping().await {
        Ok(()) => Ok(true),
        Err(error) => {
            note_failure();
            tracing::info!(
                %error,
                idle_ms = millis(meta.idle_for),
                "a pooled database connection died while idle; opening a fresh one"
            );
            // `false`: the pool closes it and opens another within the same acquire.
            Ok(false)
        }
    }
}

/// The connection a [`read`], [`write`] or [`transaction`] closure runs its statements on
/// (`&mut **conn` is the executor). `'env` is what the closure may borrow from its caller.
pub struct Conn<'c, 'env> {
    conn: &'c mut PgConnection,
    _env: PhantomData<&'env ()>,
}

impl<'c> Conn<'c, '_> {
    fn new(conn: &'c mut PgConnection) -> Self {
        Self {
            conn,
            _env: PhantomData,
        }
    }
}

impl Deref for Conn<'_, '_> {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        self.conn
    }
}

impl DerefMut for Conn<'_, '_> {
    fn deref_mut(&mut self) -> &mut PgConnection {
        self.conn
    }
}

/// What a closure returns: `Box::pin(async move { ... })`.
///
/// Boxed, and handed `&mut Conn` rather than being an async closure, because the future of an
/// async closure that borrows from its caller cannot be proven `Send` through a generic function
/// today (rust-lang/rust#110338), and a handler's future must be `Send`. `&'c mut Conn<'c, 'env>`
/// implies `'env: 'c`, which lets the boxed future hold the caller's borrows (with a second,
/// separate lifetime for the connection the compiler no longer finds that bound).
pub type Work<'c, T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'c>>;

/// Runs a statement (or several) that only reads; on a connection that turns out dead it is run
/// again on a fresh one.
pub async fn read<'env, T, E, F>(pool: &PgPool, mut run: F) -> Result<T, E>
where
    E: From<sqlx::Error>,
    F: for<'c> FnMut(&'c mut Conn<'c, 'env>) -> Work<'c, T, E>,
{
    if super::is_pooled(pool) {
        // Through a transaction-mode pooler the statement must run pinned in a transaction.
        return transaction(pool, run).await;
    }
    let mut budget = Budget::new(pool);
    loop {
        let mut conn = acquire(pool, &mut budget).await?;
        match run(&mut Conn::new(&mut conn)).await {
            Ok(value) => return Ok(value),
            Err(error) => {
                if alive(&mut conn).await || !budget.another() {
                    return Err(error);
                }
                tracing::debug!("a read met a dead database connection; running it again");
            }
        }
    }
}

/// Runs one statement that writes: never run twice (see the module comment); a connection it
/// finds dead is closed and noted.
pub async fn write<'env, T, E, F>(pool: &PgPool, run: F) -> Result<T, E>
where
    E: From<sqlx::Error>,
    F: for<'c> FnOnce(&'c mut Conn<'c, 'env>) -> Work<'c, T, E>,
{
    let mut budget = Budget::new(pool);
    let mut conn = acquire(pool, &mut budget).await?;
    if super::is_pooled(pool) {
        // Pinned in a transaction (see `transaction`); `run` is called once, as without a pooler.
        let result = async {
            let mut tx = conn.begin_with(PINNED_BEGIN).await.map_err(E::from)?;
            let value = run(&mut Conn::new(&mut tx)).await?;
            tx.commit().await.map_err(E::from)?;
            Ok(value)
        }
        .await;
        if result.is_err() {
            alive(&mut conn).await;
        }
        return result;
    }
    let result = run(&mut Conn::new(&mut conn)).await;
    if result.is_err() {
        alive(&mut conn).await;
    }
    result
}

/// Runs `run` in a transaction and commits it if `run` succeeds (rolls it back if not). When the
/// connection dies before `COMMIT` is sent, the whole transaction runs again on a fresh one, so
/// `run` must be fine to call again; after a failed `COMMIT` it is not.
pub async fn transaction<'env, T, E, F>(pool: &PgPool, mut run: F) -> Result<T, E>
where
    E: From<sqlx::Error>,
    F: for<'c> FnMut(&'c mut Conn<'c, 'env>) -> Work<'c, T, E>,
{
    let pooled = super::is_pooled(pool);
    let mut budget = Budget::new(pool);
    loop {
        let mut conn = acquire(pool, &mut budget).await?;
        let error = match attempt(&mut conn, &mut run, pooled).await {
            Attempt::Committed(value) => return Ok(value),
            // The rollback went through, so the connection is fine: `run`'s error stands.
            Attempt::RolledBack(error) => return Err(error),
            Attempt::CommitFailed(error) => {
                // Perhaps applied: report it, whatever the connection's state.
                alive(&mut conn).await;
                return Err(error);
            }
            Attempt::BeforeCommit(error) => error,
        };
        if alive(&mut conn).await || !budget.another() {
            return Err(error);
        }
        tracing::debug!(
            "a transaction met a dead database connection before COMMIT; running it again"
        );
    }
}

enum Attempt<T, E> {
    Committed(T),
    RolledBack(E),
    /// `BEGIN`, a statement or the rollback failed: `COMMIT` was never sent.
    BeforeCommit(E),
    CommitFailed(E),
}

/// How a transaction starts behind a transaction-mode pooler. The server connection is ours from
/// `BEGIN` to `COMMIT`, but it may hold named statements another client prepared on it and left
/// (sqlx names its statements per client connection, so a name may clash): drop them first, in
/// the same round trip. Our own statements do not outlive the transaction we need them in.
const PINNED_BEGIN: &str = "BEGIN; DEALLOCATE ALL";

async fn attempt<'env, T, E, F>(conn: &mut PgConnection, run: &mut F, pooled: bool) -> Attempt<T, E>
where
    E: From<sqlx::Error>,
    F: for<'c> FnMut(&'c mut Conn<'c, 'env>) -> Work<'c, T, E>,
{
    let begun = if pooled {
        conn.begin_with(PINNED_BEGIN).await
    } else {
        conn.begin().await
    };
    let mut tx = match begun {
        Ok(tx) => tx,
        Err(error) => return Attempt::BeforeCommit(E::from(error)),
    };
    match run(&mut Conn::new(&mut tx)).await {
        Ok(value) => match tx.commit().await {
            Ok(()) => Attempt::Committed(value),
            Err(error) => Attempt::CommitFailed(E::from(error)),
        },
        Err(error) => match tx.rollback().await {
            Ok(()) => Attempt::RolledBack(error),
            Err(_) => Attempt::BeforeCommit(error),
        },
    }
}

/// Whether `conn` still answers. If not, it is closed instead of going back to the pool, and the
/// failure is noted so that the connections idle since are pinged before use.
async fn alive(conn: &mut PoolConnection<Postgres>) -> bool {
    match tokio::time::timeout(PROBE_TIMEOUT, conn.ping()).await {
        Ok(Ok(())) => true,
        Ok(Err(error)) => {
            conn.close_on_drop();
            note_failure();
            tracing::info!(%error, "database connection lost");
            false
        }
        Err(_) => {
            conn.close_on_drop();
            tracing::info!("a database connection did not answer a ping; closing it");
            false
        }
    }
}

/// The attempts of one call: at most [`MAX_ATTEMPTS`], all within the pool's acquire timeout of
/// the first one.
struct Budget {
    deadline: tokio::time::Instant,
    attempts: u32,
}

impl Budget {
    fn new(pool: &PgPool) -> Self {
        Self {
            deadline: tokio::time::Instant::now() + pool.options().get_acquire_timeout(),
            attempts: 1,
        }
    }

    /// Whether another attempt may start (and counts it).
    fn another(&mut self) -> bool {
        if self.attempts >= MAX_ATTEMPTS || tokio::time::Instant::now() >= self.deadline {
            return false;
        }
        self.attempts += 1;
        true
    }
}

/// Acquires in progress, for the `db_pool_waiting` gauge (sqlx does not say how many wait).
/// Process-wide, like [`LAST_FAILURE`]: a service has one pool.
static WAITING: AtomicU64 = AtomicU64::new(0);

/// Requests waiting for a pooled connection right now (see [`crate::metrics`]).
pub fn waiting() -> u64 {
    WAITING.load(Ordering::Relaxed)
}

/// Counts one acquire in progress for as long as it lives (a cancelled request included).
struct Waiting;

impl Waiting {
    fn start() -> Self {
        WAITING.fetch_add(1, Ordering::Relaxed);
        Self
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        WAITING.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A connection from `pool`. A connection attempt that failed outright (the server refusing it
/// while it shuts down, say) is tried again within the budget: nothing was sent.
async fn acquire(pool: &PgPool, budget: &mut Budget) -> sqlx::Result<PoolConnection<Postgres>> {
    let _waiting = Waiting::start();
    loop {
        let result = if budget.attempts == 1 {
            // The pool's own timeout bounds it; no timer of ours on the busy path.
            pool.acquire().await
        } else {
            tokio::time::timeout_at(budget.deadline, pool.acquire())
                .await
                .unwrap_or(Err(sqlx::Error::PoolTimedOut))
        };
        if matches!(result, Err(sqlx::Error::PoolTimedOut)) {
            metrics::counter!("db_pool_acquire_timeouts_total").increment(1);
        }
        match result {
            Err(error)
                if !matches!(error, sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed)
                    && super::is_unavailable(&error)
                    && budget.another() =>
            {
                tracing::debug!(%error, "connecting to the database failed; trying again");
                note_failure();
                tokio::time::sleep(CONNECT_PAUSE).await;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_idle_since_before_a_failure_are_suspect() {
        // Nothing noted yet in this process: nothing is suspect.
        if LAST_FAILURE.load(Ordering::Relaxed) == 0 {
            assert!(!suspect(Duration::from_secs(3600)));
        }
        note_failure();
        // Idle since long before the failure, or since just before it.
        assert!(suspect(clock()));
        assert!(suspect(Duration::from_millis(5)));
        // Idle since just now: within the settling time after the failure, so still suspect.
        assert!(suspect(Duration::ZERO));
    }

    #[test]
    fn attempts_are_bounded_by_count() {
        let mut budget = Budget {
            deadline: tokio::time::Instant::now() + Duration::from_secs(60),
            attempts: 1,
        };
        assert!(budget.another());
        assert!(budget.another());
        assert!(!budget.another(), "at most {MAX_ATTEMPTS} attempts");
    }

    #[tokio::test]
    async fn attempts_are_bounded_by_time() {
        let mut budget = Budget {
            deadline: tokio::time::Instant::now(),
            attempts: 1,
        };
        assert!(!budget.another(), "no attempt starts after the deadline");
    }
}
