//! `auth.sessions` and `auth.refresh_tokens`: refresh-token families and their rotation.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgExecutor, PgPool};
use uuid::Uuid;

/// Starts a session with its first refresh token, in one statement (one round trip, atomic).
pub async fn create(
    ex: impl PgExecutor<'_>,
    id: Uuid,
    user_id: Uuid,
    expires_at: DateTime<Utc>,
    token_hash: &[u8],
) -> sqlx::Result<()> {
    sqlx::query(
        "WITH s AS (
             INSERT INTO auth.sessions (id, user_id, expires_at) VALUES ($1, $2, $3) RETURNING id
         )
         INSERT INTO auth.refresh_tokens (token_hash, session_id) SELECT $4, id FROM s",
    )
    .bind(id)
    .bind(user_id)
    .bind(expires_at)
    .bind(token_hash)
    .execute(ex)
    .await?;
    Ok(())
}

/// What presenting a refresh token led to.
#[derive(Debug, PartialEq, Eq)]
pub enum Rotation {
    /// Accepted: `new_hash` is now the session's one live token.
    Rotated {
        session_id: Uuid,
        user_id: Uuid,
        email: String,
    },
    /// A retired token presented after the grace window: the whole session is now revoked.
    ReuseDetected,
    /// Unknown, expired or revoked.
    Refused,
}

#[derive(FromRow)]
struct Presented {
    session_id: Uuid,
    user_id: Uuid,
    email: String,
    live: bool,
}

/// Rotates `old_hash` to `new_hash` in one transaction.
///
/// A session holds one live token at a time: every accepted rotation, a grace-window replay of a
/// retired token included, retires all the session's other tokens. A fork (a copied token
/// replayed within the window) therefore collapses to one chain, and whoever is left holding a
/// retired token trips reuse detection once the window has passed.
///
/// The session row is locked first, so refreshes of one session are serialised. What the
/// presented token's state is gets decided only after that lock is held: the locking `SELECT`
/// reads the token row from a snapshot taken before it waited, so two refreshes of one current
/// token would both see it current. The conditional `UPDATE` below claims it instead (Postgres
/// re-checks `retired_at IS NULL` against the latest committed row), and the grace check is a
/// new statement, hence a new snapshot. Times are `statement_timestamp()`, not `now()`: `now()`
/// is when the transaction began, possibly before a rival rotation that committed while this one
/// waited, which would make that rival's retirement look "in the future" and always in grace.
pub async fn rotate(
    pool: &PgPool,
    old_hash: &[u8],
    new_hash: &[u8],
    grace_secs: u64,
) -> sqlx::Result<Rotation> {
    let mut tx = pool.begin().await?;
    let presented = sqlx::query_as::<_, Presented>(
        "SELECT s.id AS session_id, s.user_id, u.email,
                (s.revoked_at IS NULL AND s.expires_at > now()) AS live
           FROM auth.refresh_tokens t
           JOIN auth.sessions s ON s.id = t.session_id
           JOIN auth.users u ON u.id = s.user_id
          WHERE t.token_hash = $1
          FOR UPDATE OF s",
    )
    .bind(old_hash)
    .fetch_optional(&mut *tx)
    .await?;

    // `live` is read from the locked row's newest version, so a sign-out or reuse detection that
    // committed while we waited is seen here.
    let Some(p) = presented.filter(|p| p.live) else {
        return Ok(Rotation::Refused);
    };
    let claimed = sqlx::query(
        "UPDATE auth.refresh_tokens SET retired_at = statement_timestamp()
          WHERE token_hash = $1 AND retired_at IS NULL",
    )
    .bind(old_hash)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !claimed {
        // Retired earlier: its own retirement time decides (a replay never extends the window).
        let (in_grace,): (bool,) = sqlx::query_as(
            "SELECT coalesce(retired_at > statement_timestamp() - make_interval(secs => $2), false)
               FROM auth.refresh_tokens WHERE token_hash = $1",
        )
        .bind(old_hash)
        .bind(grace_secs as f64)
        .fetch_one(&mut *tx)
        .await?;
        if !in_grace {
            // RFC 9700 §4.14.2: a retired token coming back means it was copied; we cannot tell
            // the thief from the owner, so end the session for both.
            sqlx::query(
                "UPDATE auth.sessions SET revoked_at = now(), revoked_reason = 'reuse_detected'
                  WHERE id = $1",
            )
            .bind(p.session_id)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            tracing::warn!(session_id = %p.session_id, user_id = %p.user_id, "refresh token reuse detected; session revoked");
            return Ok(Rotation::ReuseDetected);
        }
    }
    // The successor becomes the session's only live token. Both parts see the same snapshot, so
    // the UPDATE cannot retire the row the INSERT adds.
    sqlx::query(
        "WITH others AS (
             UPDATE auth.refresh_tokens SET retired_at = statement_timestamp()
              WHERE session_id = $2 AND retired_at IS NULL
         )
         INSERT INTO auth.refresh_tokens (token_hash, session_id) VALUES ($1, $2)",
    )
    .bind(new_hash)
    .bind(p.session_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Rotation::Rotated {
        session_id: p.session_id,
        user_id: p.user_id,
        email: p.email,
    })
}

/// Revokes the session `token_hash` belongs to, live or not. Returns whether one was revoked now.
pub async fn revoke_by_token(ex: impl PgExecutor<'_>, token_hash: &[u8]) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE auth.sessions SET revoked_at = now(), revoked_reason = 'signout'
          WHERE id = (SELECT session_id FROM auth.refresh_tokens WHERE token_hash = $1)
            AND revoked_at IS NULL",
    )
    .bind(token_hash)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Deletes sessions that ended more than a day ago (their tokens go with them).
pub async fn purge_ended(ex: impl PgExecutor<'_>) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "DELETE FROM auth.sessions
          WHERE expires_at < now() - interval '1 day' OR revoked_at < now() - interval '1 day'",
    )
    .execute(ex)
    .await?;
    Ok(done.rows_affected())
}
