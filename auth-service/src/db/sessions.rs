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

async fn insert_token(
    ex: impl PgExecutor<'_>,
    token_hash: &[u8],
    session_id: Uuid,
) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO auth.refresh_tokens (token_hash, session_id) VALUES ($1, $2)")
        .bind(token_hash)
        .bind(session_id)
        .execute(ex)
        .await?;
    Ok(())
}

/// What presenting a refresh token led to.
#[derive(Debug, PartialEq, Eq)]
pub enum Rotation {
    /// Accepted: `new_hash` is now the family's live token.
    Rotated {
        session_id: Uuid,
        user_id: Uuid,
        email: String,
    },
    /// A retired token presented after the grace window: the whole family is now revoked.
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
    current: bool,
    in_grace: bool,
}

/// Rotates `old_hash` to `new_hash` in one transaction. The session row is locked, so concurrent
/// refreshes of one family are serialised and reuse detection cannot be raced.
pub async fn rotate(
    pool: &PgPool,
    old_hash: &[u8],
    new_hash: &[u8],
    grace_secs: u64,
) -> sqlx::Result<Rotation> {
    let mut tx = pool.begin().await?;
    let presented = sqlx::query_as::<_, Presented>(
        "SELECT s.id AS session_id, s.user_id, u.email,
                (s.revoked_at IS NULL AND s.expires_at > now()) AS live,
                (t.retired_at IS NULL) AS current,
                coalesce(t.retired_at > now() - make_interval(secs => $2), false) AS in_grace
           FROM auth.refresh_tokens t
           JOIN auth.sessions s ON s.id = t.session_id
           JOIN auth.users u ON u.id = s.user_id
          WHERE t.token_hash = $1
          FOR UPDATE OF s",
    )
    .bind(old_hash)
    .bind(grace_secs as f64)
    .fetch_optional(&mut *tx)
    .await?;

    let Some(p) = presented else {
        return Ok(Rotation::Refused);
    };
    if !p.live {
        return Ok(Rotation::Refused);
    }
    if p.current {
        sqlx::query("UPDATE auth.refresh_tokens SET retired_at = now() WHERE token_hash = $1")
            .bind(old_hash)
            .execute(&mut *tx)
            .await?;
    } else if !p.in_grace {
        // RFC 9700 §4.14.2: a retired token coming back means it was copied; we cannot tell the
        // thief from the owner, so end the session for both.
        sqlx::query("UPDATE auth.sessions SET revoked_at = now(), revoked_reason = 'reuse_detected' WHERE id = $1")
            .bind(p.session_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        tracing::warn!(session_id = %p.session_id, user_id = %p.user_id, "refresh token reuse detected; session revoked");
        return Ok(Rotation::ReuseDetected);
    }
    insert_token(&mut *tx, new_hash, p.session_id).await?;
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
