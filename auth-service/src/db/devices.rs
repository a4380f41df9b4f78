//! `auth.known_devices`: browsers that completed a sign-in to an account (see `rate_limit`).

use shared::db::retry;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// Devices unused this long are forgotten.
const FORGET_AFTER_DAYS: f64 = 400.0;

/// The account a device token was issued for, if it is known.
pub async fn owner(pool: &PgPool, token_hash: &[u8]) -> sqlx::Result<Option<Uuid>> {
    retry::read(pool, |conn| {
        Box::pin(
            sqlx::query_scalar("SELECT user_id FROM auth.known_devices WHERE token_hash = $1")
                .bind(token_hash)
                .fetch_optional(&mut **conn),
        )
    })
    .await
}

/// A step of a successful sign-in: remembers the device (or notes its use again).
pub async fn remember(
    conn: &mut PgConnection,
    token_hash: &[u8],
    user_id: Uuid,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO auth.known_devices (token_hash, user_id) VALUES ($1, $2)
         ON CONFLICT (token_hash) DO UPDATE SET last_used_at = now()
          WHERE auth.known_devices.user_id = excluded.user_id",
    )
    .bind(token_hash)
    .bind(user_id)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn purge(pool: &PgPool) -> sqlx::Result<u64> {
    let done = retry::write(pool, |conn| {
        Box::pin(
            sqlx::query(
                "DELETE FROM auth.known_devices
                  WHERE last_used_at < now() - make_interval(days => $1::int)",
            )
            .bind(FORGET_AFTER_DAYS as i32)
            .execute(&mut **conn),
        )
    })
    .await?;
    Ok(done.rows_affected())
}
