//! `auth.sessions` and `auth.refresh_tokens`: refresh-token families and their rotation.

use chrono::{DateTime, Utc};
use shared::db::retry;
use sqlx::{FromRow, PgConnection, PgPool};
use uuid::Uuid;

/// Starts a session with its first refresh token, in one statement (one round trip, atomic). A
/// step: of sign-up's transaction, or alone under `retry::write` at sign-in.
pub async fn create(
    conn: &mut PgConnection,
    id: Uuid,
    user_id: Uuid,
    expires_at: DateTime<Utc>,
    token_hash: &[u8],
    origin: &Origin<'_>,
) -> sqlx::Result<()> {
    sqlx::query(
        "WITH s AS (
             INSERT INTO auth.sessions (id, user_id, expires_at, user_agent, ip)
             VALUES ($1, $2, $3, $5, $6::inet) RETURNING id
         )
         INSERT INTO auth.refresh_tokens (token_hash, session_id) SELECT $4, id FROM s",
    )
    .bind(id)
    .bind(user_id)
    .bind(expires_at)
    .bind(token_hash)
    .bind(origin.user_agent())
    .bind(origin.ip.map(|ip| ip.to_string()))
    .execute(conn)
    .await?;
    Ok(())
}

/// Where a session was used from: shown to its owner in the sessions list.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    pub user_agent: Option<&'a str>,
    pub ip: Option<std::net::IpAddr>,
}

impl Origin<'_> {
    /// The user agent, cut to what the column holds (a client chooses its length) and without
    /// characters Postgres text cannot hold.
    pub fn user_agent(&self) -> Option<String> {
        self.user_agent
            .map(|ua| {
                ua.chars()
                    .filter(|c| *c != '\0')
                    .take(512)
                    .collect::<String>()
            })
            .filter(|ua| !ua.is_empty())
    }
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
    idle_secs: u64,
    origin: &Origin<'_>,
) -> sqlx::Result<Rotation> {
    // Run again from the start if the connection dies before COMMIT (see `shared::db::retry`).
    retry::transaction(pool, |tx| {
        Box::pin(rotate_in(
            tx, old_hash, new_hash, grace_secs, idle_secs, origin,
        ))
    })
    .await
}

/// [`rotate`]'s statements, inside its transaction (committed by the caller).
async fn rotate_in(
    tx: &mut PgConnection,
    old_hash: &[u8],
    new_hash: &[u8],
    grace_secs: u64,
    idle_secs: u64,
    origin: &Origin<'_>,
) -> sqlx::Result<Rotation> {
    // A session unused for the idle lifetime has ended, as surely as one past its absolute one.
    let presented = sqlx::query_as::<_, Presented>(
        "SELECT s.id AS session_id, s.user_id, u.email,
                (s.revoked_at IS NULL AND s.expires_at > now()
                 AND s.last_used_at > now() - make_interval(secs => $2)) AS live
           FROM auth.refresh_tokens t
           JOIN auth.sessions s ON s.id = t.session_id
           JOIN auth.users u ON u.id = s.user_id
          WHERE t.token_hash = $1
          FOR UPDATE OF s",
    )
    .bind(old_hash)
    .bind(idle_secs as f64)
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
            super::events::record(
                &mut *tx,
                &super::events::Event {
                    kind: super::events::Kind::RefreshReuseDetected,
                    user_id: Some(p.user_id),
                    session_id: Some(p.session_id),
                    origin,
                },
            )
            .await?;
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
    sqlx::query(
        "UPDATE auth.sessions SET last_used_at = now(), user_agent = $2, ip = $3::inet WHERE id = $1",
    )
    .bind(p.session_id)
    .bind(origin.user_agent())
    .bind(origin.ip.map(|ip| ip.to_string()))
    .execute(&mut *tx)
    .await?;
    Ok(Rotation::Rotated {
        session_id: p.session_id,
        user_id: p.user_id,
        email: p.email,
    })
}

/// Revokes the session `token_hash` belongs to, live or not, and records the sign-out. Returns
/// the session's id when it was revoked now.
pub async fn revoke_by_token(
    pool: &PgPool,
    token_hash: &[u8],
    origin: &Origin<'_>,
) -> sqlx::Result<Option<Uuid>> {
    retry::transaction(pool, |tx| {
        Box::pin(async move {
            let ended: Option<(Uuid, Uuid)> = sqlx::query_as(
                "UPDATE auth.sessions SET revoked_at = now(), revoked_reason = 'signout'
                  WHERE id = (SELECT session_id FROM auth.refresh_tokens WHERE token_hash = $1)
                    AND revoked_at IS NULL
                  RETURNING id, user_id",
            )
            .bind(token_hash)
            .fetch_optional(&mut **tx)
            .await?;
            if let Some((session_id, user_id)) = ended {
                let event = super::events::Event {
                    kind: super::events::Kind::Signout,
                    user_id: Some(user_id),
                    session_id: Some(session_id),
                    origin,
                };
                super::events::record(tx, &event).await?;
            }
            Ok(ended.map(|(session_id, _)| session_id))
        })
    })
    .await
}

/// Deletes sessions that ended more than a day ago (their tokens go with them).
pub async fn purge_ended(pool: &PgPool) -> sqlx::Result<u64> {
    let done = retry::write(pool, |conn| {
        Box::pin(async move {
            sqlx::query(
                "DELETE FROM auth.sessions
                  WHERE expires_at < now() - interval '1 day' OR revoked_at < now() - interval '1 day'",
            )
            .execute(&mut **conn)
            .await
        })
    })
    .await?;
    Ok(done.rows_affected())
}

/// Why a session ended, as recorded in `auth.sessions.revoked_reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    EndedByUser,
    SignoutAll,
    PasswordChanged,
    PasswordReset,
    MfaDisabled,
}

impl EndReason {
    fn as_str(self) -> &'static str {
        match self {
            EndReason::EndedByUser => "ended_by_user",
            EndReason::SignoutAll => "signout_all",
            EndReason::PasswordChanged => "password_changed",
            EndReason::PasswordReset => "password_reset",
            EndReason::MfaDisabled => "mfa_disabled",
        }
    }
}

/// A live session as its owner sees it.
#[derive(Debug, FromRow)]
pub struct LiveSession {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    /// The earlier of the absolute expiry and the idle expiry.
    pub ends_at: DateTime<Utc>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

/// The user's sessions that can still be refreshed, most recently used first.
pub async fn live_of_user(
    pool: &PgPool,
    user_id: Uuid,
    idle_secs: u64,
) -> sqlx::Result<Vec<LiveSession>> {
    retry::read(pool, |conn| {
        Box::pin(async move {
            sqlx::query_as::<_, LiveSession>(
                "SELECT id, created_at, last_used_at,
                        least(expires_at, last_used_at + make_interval(secs => $2)) AS ends_at,
                        user_agent, host(ip) AS ip
                   FROM auth.sessions
                  WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now()
                    AND last_used_at > now() - make_interval(secs => $2)
                  ORDER BY last_used_at DESC, id DESC",
            )
            .bind(user_id)
            .bind(idle_secs as f64)
            .fetch_all(&mut **conn)
            .await
        })
    })
    .await
}

/// Ends one of the user's live sessions. `false` when there is no such live session of theirs.
pub async fn end_one(
    pool: &PgPool,
    user_id: Uuid,
    session_id: Uuid,
    reason: EndReason,
) -> sqlx::Result<bool> {
    let done = retry::write(pool, |conn| {
        Box::pin(async move {
            sqlx::query(
                "UPDATE auth.sessions SET revoked_at = now(), revoked_reason = $3
                  WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL AND expires_at > now()",
            )
            .bind(session_id)
            .bind(user_id)
            .bind(reason.as_str())
            .execute(&mut **conn)
            .await
        })
    })
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Ends every live session of the user but `keep`. Returns how many ended. A step: alone
/// (sign out everywhere) or with a password change.
pub async fn end_all(
    conn: &mut PgConnection,
    user_id: Uuid,
    keep: Option<Uuid>,
    reason: EndReason,
) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "UPDATE auth.sessions SET revoked_at = now(), revoked_reason = $3
          WHERE user_id = $1 AND revoked_at IS NULL AND id IS DISTINCT FROM $2",
    )
    .bind(user_id)
    .bind(keep)
    .bind(reason.as_str())
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}
