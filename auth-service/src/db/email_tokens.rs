//! `auth.email_tokens`: the single-use tokens of verification and reset links.

use chrono::{DateTime, Utc};
use shared::db::retry;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    VerifyEmail,
    ResetPassword,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::VerifyEmail => "verify_email",
            Purpose::ResetPassword => "reset_password",
        }
    }
}

/// A step: stores a new token's hash.
pub async fn insert(
    conn: &mut PgConnection,
    token_hash: &[u8],
    user_id: Uuid,
    purpose: Purpose,
    email: &str,
    expires_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO auth.email_tokens (token_hash, user_id, purpose, email, expires_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(token_hash)
    .bind(user_id)
    .bind(purpose.as_str())
    .bind(email)
    .bind(expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// A step: takes the user's lock for sending links of `purpose` (held to the end of the
/// transaction, so parallel requests on any replica decide one after the other) and says when the
/// last one was sent.
pub async fn lock_last_sent(
    conn: &mut PgConnection,
    user_id: Uuid,
    purpose: Purpose,
) -> sqlx::Result<Option<DateTime<Utc>>> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(format!("auth.email_tokens:{}:{user_id}", purpose.as_str()))
        .execute(&mut *conn)
        .await?;
    sqlx::query_scalar(
        "SELECT max(created_at) FROM auth.email_tokens WHERE user_id = $1 AND purpose = $2",
    )
    .bind(user_id)
    .bind(purpose.as_str())
    .fetch_one(conn)
    .await
}

/// A step: uses the token up if it is one of `purpose`, unused and unexpired. One conditional
/// UPDATE, so of two parallel uses exactly one wins. Returns the user and the address it was for.
pub async fn consume(
    conn: &mut PgConnection,
    token_hash: &[u8],
    purpose: Purpose,
) -> sqlx::Result<Option<(Uuid, String)>> {
    sqlx::query_as(
        "UPDATE auth.email_tokens SET used_at = now()
          WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > now()
          RETURNING user_id, email",
    )
    .bind(token_hash)
    .bind(purpose.as_str())
    .fetch_optional(conn)
    .await
}

/// Forgets tokens a day past their expiry.
pub async fn purge(pool: &PgPool) -> sqlx::Result<u64> {
    let done = retry::write(pool, |conn| {
        Box::pin(
            sqlx::query(
                "DELETE FROM auth.email_tokens WHERE expires_at < now() - interval '1 day'",
            )
            .execute(&mut **conn),
        )
    })
    .await?;
    Ok(done.rows_affected())
}
