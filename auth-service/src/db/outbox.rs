//! `auth.outbox`: mail waiting to go out (see `mail`).

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgConnection};
use uuid::Uuid;

/// A message to send.
#[derive(Debug, Clone)]
pub struct NewMail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// A step of the transaction that causes the mail: it goes out only if that commits.
pub async fn enqueue(conn: &mut PgConnection, mail: &NewMail) -> sqlx::Result<Uuid> {
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO auth.outbox (id, to_address, subject, text_body, html_body)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(&mail.to)
    .bind(&mail.subject)
    .bind(&mail.text)
    .bind(&mail.html)
    .execute(conn)
    .await?;
    Ok(id)
}

#[derive(Debug, FromRow)]
pub struct Due {
    pub id: Uuid,
    pub to_address: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
}

/// Claims up to `limit` messages that are due, in the caller's transaction: the row locks keep
/// every other replica away from them until it ends, and `SKIP LOCKED` lets those replicas take
/// the rest meanwhile.
pub async fn claim_due(conn: &mut PgConnection, limit: i64) -> sqlx::Result<Vec<Due>> {
    sqlx::query_as::<_, Due>(
        "SELECT id, to_address, subject, text_body, html_body, attempts, created_at
           FROM auth.outbox
          WHERE sent_at IS NULL AND next_attempt_at <= now()
          ORDER BY next_attempt_at, id
          LIMIT $1
          FOR UPDATE SKIP LOCKED",
    )
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Sent: the bodies (which hold a link token) are emptied.
pub async fn mark_sent(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE auth.outbox SET sent_at = now(), text_body = '', html_body = '', last_error = NULL
          WHERE id = $1",
    )
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Not sent this time: try again after `retry_in_secs`.
pub async fn mark_failed(
    conn: &mut PgConnection,
    id: Uuid,
    error: &str,
    retry_in_secs: f64,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE auth.outbox
            SET attempts = attempts + 1, last_error = $2,
                next_attempt_at = now() + make_interval(secs => $3)
          WHERE id = $1",
    )
    .bind(id)
    .bind(error)
    .bind(retry_in_secs)
    .execute(conn)
    .await?;
    Ok(())
}
