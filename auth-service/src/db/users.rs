//! `auth.users`.

use chrono::{DateTime, Utc};
use shared::db::retry;
use sqlx::{FromRow, PgConnection, PgPool};
use uuid::Uuid;

/// The unique index that makes emails unique whatever their case and Unicode form
/// (`lower(normalize(email, NFC))`).
pub const EMAIL_UNIQUE: &str = "users_email_lower_key";

#[derive(Debug, Clone, FromRow)]
pub struct UserRow {
    pub id: Uuid,
    pub email: String,
    pub name: Option<String>,
    pub created_at: DateTime<Utc>,
    pub email_verified: bool,
    /// An authenticator app is confirmed: sign-in needs its code.
    pub totp_enabled: bool,
}

#[derive(Debug, FromRow)]
pub struct Credentials {
    pub id: Uuid,
    pub email: String,
    pub name: Option<String>,
    pub created_at: DateTime<Utc>,
    pub email_verified: bool,
    pub totp_enabled: bool,
    pub password_hash: String,
}

/// A step of sign-up's transaction.
pub async fn insert(
    conn: &mut PgConnection,
    id: Uuid,
    email: &str,
    name: Option<&str>,
    password_hash: &str,
) -> sqlx::Result<UserRow> {
    sqlx::query_as::<_, UserRow>(
        "INSERT INTO auth.users (id, email, name, password_hash) VALUES ($1, $2, $3, $4)
         RETURNING id, email, name, created_at, email_verified_at IS NOT NULL AS email_verified,
                   false AS totp_enabled",
    )
    .bind(id)
    .bind(email)
    .bind(name)
    .bind(password_hash)
    .fetch_one(conn)
    .await
}

/// Looks up by the unique index's expression, so rows stored before emails were normalised are
/// found whichever form the address is typed in now.
pub async fn credentials_by_email(pool: &PgPool, email: &str) -> sqlx::Result<Option<Credentials>> {
    retry::read(pool, |conn| {
        Box::pin(async move {
            sqlx::query_as::<_, Credentials>(
                "SELECT id, email, name, created_at, email_verified_at IS NOT NULL AS email_verified,
                        EXISTS (SELECT 1 FROM auth.totp t WHERE t.user_id = users.id AND t.confirmed_at IS NOT NULL) AS totp_enabled,
                        password_hash FROM auth.users
                  WHERE lower(normalize(email, NFC)) = lower(normalize($1, NFC))",
            )
            .bind(email)
            .fetch_optional(&mut **conn)
            .await
        })
    })
    .await
}

/// A step: alone after a sign-in (rehash), or with ending the other sessions (password change).
pub async fn update_hash(
    conn: &mut PgConnection,
    id: Uuid,
    password_hash: &str,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE auth.users SET password_hash = $2, updated_at = now() WHERE id = $1")
        .bind(id)
        .bind(password_hash)
        .execute(conn)
        .await?;
    Ok(())
}

/// The user behind a live session: `None` if either is gone, or the session was revoked or expired.
pub async fn by_live_session(
    pool: &PgPool,
    user_id: Uuid,
    session_id: Uuid,
    idle_secs: u64,
) -> sqlx::Result<Option<UserRow>> {
    retry::read(pool, |conn| {
        Box::pin(async move {
            sqlx::query_as::<_, UserRow>(
                "SELECT u.id, u.email, u.name, u.created_at,
                        u.email_verified_at IS NOT NULL AS email_verified,
                        EXISTS (SELECT 1 FROM auth.totp t WHERE t.user_id = u.id AND t.confirmed_at IS NOT NULL) AS totp_enabled
                   FROM auth.users u
                   JOIN auth.sessions s ON s.user_id = u.id
                  WHERE u.id = $1 AND s.id = $2 AND s.revoked_at IS NULL AND s.expires_at > now()
                    AND s.last_used_at > now() - make_interval(secs => $3)",
            )
            .bind(user_id)
            .bind(session_id)
            .bind(idle_secs as f64)
            .fetch_optional(&mut **conn)
            .await
        })
    })
    .await
}

/// The user, if they exist.
pub async fn by_id(pool: &PgPool, id: Uuid) -> sqlx::Result<Option<UserRow>> {
    retry::read(pool, |conn| {
        Box::pin(async move {
            sqlx::query_as::<_, UserRow>(
                "SELECT u.id, u.email, u.name, u.created_at,
                        u.email_verified_at IS NOT NULL AS email_verified,
                        EXISTS (SELECT 1 FROM auth.totp t WHERE t.user_id = u.id AND t.confirmed_at IS NOT NULL) AS totp_enabled
                   FROM auth.users u WHERE u.id = $1",
            )
            .bind(id)
            .fetch_optional(&mut **conn)
            .await
        })
    })
    .await
}

/// The user's stored password hash (`None` if the user is gone: verify against the dummy then).
pub async fn password_hash(pool: &PgPool, id: Uuid) -> sqlx::Result<Option<String>> {
    retry::read(pool, |conn| {
        Box::pin(async move {
            sqlx::query_scalar("SELECT password_hash FROM auth.users WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut **conn)
                .await
        })
    })
    .await
}

/// Deletes the user; sessions and refresh tokens go with it (`ON DELETE CASCADE`), and a trigger
/// records the deletion in `auth.revocations` in the same statement.
pub async fn delete(pool: &PgPool, id: Uuid) -> sqlx::Result<bool> {
    let done = retry::write(pool, |conn| {
        Box::pin(async move {
            sqlx::query("DELETE FROM auth.users WHERE id = $1")
                .bind(id)
                .execute(&mut **conn)
                .await
        })
    })
    .await?;
    Ok(done.rows_affected() > 0)
}

/// A step: marks `email` verified for the user, if it is still their address (the link proves
/// the address it was sent to, nothing else).
pub async fn mark_verified(conn: &mut PgConnection, id: Uuid, email: &str) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE auth.users SET email_verified_at = coalesce(email_verified_at, now())
          WHERE id = $1 AND email = $2",
    )
    .bind(id)
    .bind(email)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}
