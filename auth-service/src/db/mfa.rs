//! `auth.totp`, `auth.recovery_codes`, `auth.mfa_tokens`: the authenticator app, its recovery
//! codes, and the step between a correct password and the second factor.
//!
//! Everything that must happen once is one conditional statement, so parallel requests on any
//! replica cannot both win: a time step is claimed by `UPDATE ... WHERE last_step < $step`, a
//! recovery code by `UPDATE ... WHERE used_at IS NULL`, an mfa token by the same.

use chrono::{DateTime, Utc};
use shared::db::retry;
use sqlx::{FromRow, PgConnection, PgPool};
use uuid::Uuid;

/// A stored TOTP secret, sealed or not (`kek_id` None).
#[derive(Debug, FromRow)]
pub struct StoredSecret {
    pub kek_id: Option<String>,
    pub nonce: Option<Vec<u8>>,
    pub secret: Vec<u8>,
    pub confirmed: bool,
}

/// A step: the pending set-up, replacing an earlier pending one. Does nothing (false) when TOTP
/// is already active: set-up never overwrites a confirmed secret.
pub async fn put_pending(
    conn: &mut PgConnection,
    user_id: Uuid,
    kek_id: Option<&str>,
    nonce: Option<&[u8]>,
    secret: &[u8],
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "INSERT INTO auth.totp (user_id, kek_id, nonce, secret) VALUES ($1, $2, $3, $4)
         ON CONFLICT (user_id) DO UPDATE
            SET kek_id = excluded.kek_id, nonce = excluded.nonce, secret = excluded.secret,
                created_at = now(), last_step = NULL
          WHERE auth.totp.confirmed_at IS NULL",
    )
    .bind(user_id)
    .bind(kek_id)
    .bind(nonce)
    .bind(secret)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn secret(pool: &PgPool, user_id: Uuid) -> sqlx::Result<Option<StoredSecret>> {
    retry::read(pool, |conn| {
        Box::pin(
            sqlx::query_as::<_, StoredSecret>(
                "SELECT kek_id, nonce, secret, confirmed_at IS NOT NULL AS confirmed
                   FROM auth.totp WHERE user_id = $1",
            )
            .bind(user_id)
            .fetch_optional(&mut **conn),
        )
    })
    .await
}

/// A step: claims time step `step` for the user's secret `stored` (as stored: the code was
/// checked against it), active or, when `confirming`, pending. False if that step or a later one
/// was already used — a replayed code — or the secret changed or is not in the expected state.
pub async fn claim_step(
    conn: &mut PgConnection,
    user_id: Uuid,
    step: i64,
    confirming: bool,
    stored: &[u8],
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE auth.totp SET last_step = $2,
                confirmed_at = CASE WHEN $3 THEN now() ELSE confirmed_at END
          WHERE user_id = $1 AND (last_step IS NULL OR last_step < $2)
            AND (confirmed_at IS NULL) = $3 AND secret = $4",
    )
    .bind(user_id)
    .bind(step)
    .bind(confirming)
    .bind(stored)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A step of confirmation: the new set of recovery codes replaces any old one.
pub async fn replace_recovery_codes(
    conn: &mut PgConnection,
    user_id: Uuid,
    hashes: &[[u8; 32]],
) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM auth.recovery_codes WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    let hashes: Vec<Vec<u8>> = hashes.iter().map(|h| h.to_vec()).collect();
    sqlx::query(
        "INSERT INTO auth.recovery_codes (user_id, code_hash) SELECT $1, unnest($2::bytea[])",
    )
    .bind(user_id)
    .bind(hashes)
    .execute(conn)
    .await?;
    Ok(())
}

/// A step: uses a recovery code up. False if it is not one of the user's unused codes.
pub async fn use_recovery_code(
    conn: &mut PgConnection,
    user_id: Uuid,
    hash: &[u8],
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE auth.recovery_codes SET used_at = now()
          WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
    )
    .bind(user_id)
    .bind(hash)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A step of turning TOTP off: the secret and the recovery codes go. False if it was not active.
pub async fn remove(conn: &mut PgConnection, user_id: Uuid) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM auth.totp WHERE user_id = $1 AND confirmed_at IS NOT NULL")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM auth.recovery_codes WHERE user_id = $1")
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Secrets sealed under another KEK than `current`, or not sealed at all.
pub async fn not_sealed_under(
    pool: &PgPool,
    current: &str,
) -> sqlx::Result<Vec<(Uuid, StoredSecret)>> {
    #[derive(FromRow)]
    struct Row {
        user_id: Uuid,
        #[sqlx(flatten)]
        stored: StoredSecret,
    }
    let rows = retry::read(pool, |conn| {
        Box::pin(
            sqlx::query_as::<_, Row>(
                "SELECT user_id, kek_id, nonce, secret, confirmed_at IS NOT NULL AS confirmed
                   FROM auth.totp WHERE kek_id IS DISTINCT FROM $1",
            )
            .bind(current)
            .fetch_all(&mut **conn),
        )
    })
    .await?;
    Ok(rows.into_iter().map(|r| (r.user_id, r.stored)).collect())
}

/// Replaces a secret's stored form with `sealed`, if it is still `old` (another replica may have
/// re-sealed it, or the user set up a new one, meanwhile).
pub async fn reseal(
    conn: &mut PgConnection,
    user_id: Uuid,
    old: &[u8],
    sealed: &crate::second_factor::Sealed,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE auth.totp SET kek_id = $3, nonce = $4, secret = $5
          WHERE user_id = $1 AND secret = $2",
    )
    .bind(user_id)
    .bind(old)
    .bind(&sealed.kek_id)
    .bind(&sealed.nonce)
    .bind(&sealed.bytes)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Unused recovery codes left.
pub async fn recovery_codes_left(pool: &PgPool, user_id: Uuid) -> sqlx::Result<i64> {
    retry::read(pool, |conn| {
        Box::pin(
            sqlx::query_scalar(
                "SELECT count(*) FROM auth.recovery_codes WHERE user_id = $1 AND used_at IS NULL",
            )
            .bind(user_id)
            .fetch_one(&mut **conn),
        )
    })
    .await
}

pub async fn insert_token(
    pool: &PgPool,
    token_hash: &[u8],
    user_id: Uuid,
    expires_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    retry::write(pool, |conn| {
        Box::pin(
            sqlx::query(
                "INSERT INTO auth.mfa_tokens (token_hash, user_id, expires_at) VALUES ($1, $2, $3)",
            )
            .bind(token_hash)
            .bind(user_id)
            .bind(expires_at)
            .execute(&mut **conn),
        )
    })
    .await?;
    Ok(())
}

/// The user an mfa token is for, while it is live (unused, unexpired, under `max_failures`).
pub async fn token_user(
    pool: &PgPool,
    token_hash: &[u8],
    max_failures: i32,
) -> sqlx::Result<Option<Uuid>> {
    retry::read(pool, |conn| {
        Box::pin(
            sqlx::query_scalar(
                "SELECT user_id FROM auth.mfa_tokens
                  WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now() AND failures < $2",
            )
            .bind(token_hash)
            .bind(max_failures)
            .fetch_optional(&mut **conn),
        )
    })
    .await
}

/// A step of finishing a sign-in: uses the token up. False if another request did first.
pub async fn use_token(
    conn: &mut PgConnection,
    token_hash: &[u8],
    max_failures: i32,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE auth.mfa_tokens SET used_at = now()
          WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now() AND failures < $2",
    )
    .bind(token_hash)
    .bind(max_failures)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Counts a wrong code against the token.
pub async fn count_failure(pool: &PgPool, token_hash: &[u8]) -> sqlx::Result<()> {
    retry::write(pool, |conn| {
        Box::pin(
            sqlx::query("UPDATE auth.mfa_tokens SET failures = failures + 1 WHERE token_hash = $1")
                .bind(token_hash)
                .execute(&mut **conn),
        )
    })
    .await?;
    Ok(())
}

/// Forgets mfa tokens past their expiry.
pub async fn purge(pool: &PgPool) -> sqlx::Result<u64> {
    let done = retry::write(pool, |conn| {
        Box::pin(
            sqlx::query("DELETE FROM auth.mfa_tokens WHERE expires_at < now()")
                .execute(&mut **conn),
        )
    })
    .await?;
    Ok(done.rows_affected())
}
