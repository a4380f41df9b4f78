//! Applying account deletions from the auth-service's feed: the user's tasks go, and the feed
//! cursor moves forward, in one transaction — so a crash between the two repeats the (idempotent)
//! delete rather than skipping it.

use shared::db::retry;
use sqlx::PgPool;
use uuid::Uuid;

/// The feed position below which every deletion has been applied.
pub async fn cursor(pool: &PgPool) -> sqlx::Result<u64> {
    let (cursor,): (i64,) = retry::read(pool, |conn| {
        Box::pin(sqlx::query_as("SELECT cursor FROM tasks.feed_state").fetch_one(&mut **conn))
    })
    .await?;
    Ok(u64::try_from(cursor).unwrap_or(0))
}

/// Deletes every task of `users` and records that the feed has been applied up to `cursor`
/// (never moving it back: replicas apply the same feed). Returns the number of tasks deleted.
pub async fn apply(pool: &PgPool, users: &[Uuid], cursor: u64) -> sqlx::Result<u64> {
    let cursor = i64::try_from(cursor).unwrap_or(i64::MAX);
    // Both statements are idempotent, so the transaction may run again after a lost connection.
    retry::transaction(pool, |tx| {
        Box::pin(async move {
            let deleted = if users.is_empty() {
                0
            } else {
                sqlx::query("DELETE FROM tasks.tasks WHERE user_id = ANY($1)")
                    .bind(users)
                    .execute(&mut **tx)
                    .await?
                    .rows_affected()
            };
            sqlx::query("UPDATE tasks.feed_state SET cursor = GREATEST(cursor, $1)")
                .bind(cursor)
                .execute(&mut **tx)
                .await?;
            Ok(deleted)
        })
    })
    .await
}
