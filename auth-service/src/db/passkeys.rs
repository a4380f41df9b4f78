//! `auth.passkeys` and `auth.webauthn_challenges`: registered passkeys, and the server-side state
//! of ceremonies in progress (taken by the request that finishes them, on any replica).

use chrono::{DateTime, Utc};
use serde_json::Value;
use shared::db::retry;
use sqlx::{FromRow, PgConnection, PgPool};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Register,
    Signin,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::Register => "register",
            Purpose::Signin => "signin",
        }
    }
}

#[derive(Debug, FromRow)]
pub struct PasskeyRow {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

pub async fn insert_challenge(
    pool: &PgPool,
    id: Uuid,
    purpose: Purpose,
    user_id: Option<Uuid>,
    state: &Value,
    expires_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    retry::write(pool, |conn| {
        Box::pin(
            sqlx::query(
                "INSERT INTO auth.webauthn_challenges (id, purpose, user_id, state, expires_at)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(id)
            .bind(purpose.as_str())
            .bind(user_id)
            .bind(state)
            .bind(expires_at)
            .execute(&mut **conn),
        )
    })
    .await?;
    Ok(())
}

/// Takes a live challenge: deleted as it is read, so it is answered at most once whatever
/// happens next. A registration challenge is only the user's own.
pub async fn take_challenge(
    pool: &PgPool,
    id: Uuid,
    purpose: Purpose,
    user_id: Option<Uuid>,
) -> sqlx::Result<Option<Value>> {
    retry::write(pool, |conn| {
        Box::pin(
            sqlx::query_scalar(
                "DELETE FROM auth.webauthn_challenges
                  WHERE id = $1 AND purpose = $2 AND user_id IS NOT DISTINCT FROM $3
                 RETURNING CASE WHEN expires_at > now() THEN state END",
            )
            .bind(id)
            .bind(purpose.as_str())
            .bind(user_id)
            .fetch_optional(&mut **conn),
        )
    })
    .await
    .map(Option::flatten)
}

/// The user's passkeys' credential ids, so an authenticator is not registered twice.
pub async fn credential_ids(pool: &PgPool, user_id: Uuid) -> sqlx::Result<Vec<Vec<u8>>> {
    retry::read(pool, |conn| {
        Box::pin(
            sqlx::query_scalar("SELECT credential_id FROM auth.passkeys WHERE user_id = $1")
                .bind(user_id)
                .fetch_all(&mut **conn),
        )
    })
    .await
}

/// A step of registration. The credential id is unique across users: a clash is
/// `PASSKEY_UNIQUE`.
pub async fn insert(
    conn: &mut PgConnection,
    id: Uuid,
    user_id: Uuid,
    credential_id: &[u8],
    credential: &Value,
    name: &str,
) -> sqlx::Result<PasskeyRow> {
    sqlx::query_as::<_, PasskeyRow>(
        "INSERT INTO auth.passkeys (id, user_id, credential_id, credential, name)
         VALUES ($1, $2, $3, $4, $5)
         RETURNING id, name, created_at, last_used_at",
    )
    .bind(id)
    .bind(user_id)
    .bind(credential_id)
    .bind(credential)
    .bind(name)
    .fetch_one(conn)
    .await
}

pub const PASSKEY_UNIQUE: &str = "passkeys_credential_id_key";

pub async fn list(pool: &PgPool, user_id: Uuid) -> sqlx::Result<Vec<PasskeyRow>> {
    retry::read(pool, |conn| {
        Box::pin(
            sqlx::query_as::<_, PasskeyRow>(
                "SELECT id, name, created_at, last_used_at FROM auth.passkeys
                  WHERE user_id = $1 ORDER BY created_at, id",
            )
            .bind(user_id)
            .fetch_all(&mut **conn),
        )
    })
    .await
}

/// A step of sign-in: the passkey with this credential id of this user, locked until the
/// transaction ends so that two sign-ins with one authenticator update its counter in turn.
pub async fn lock_for_signin(
    conn: &mut PgConnection,
    user_id: Uuid,
    credential_id: &[u8],
) -> sqlx::Result<Option<(Uuid, Value)>> {
    sqlx::query_as(
        "SELECT id, credential FROM auth.passkeys
          WHERE user_id = $1 AND credential_id = $2 FOR UPDATE",
    )
    .bind(user_id)
    .bind(credential_id)
    .fetch_optional(conn)
    .await
}

/// A step of sign-in: the credential's new counter and backup state, and when it was used.
pub async fn mark_used(
    conn: &mut PgConnection,
    id: Uuid,
    credential: Option<&Value>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE auth.passkeys SET last_used_at = now(), credential = coalesce($2, credential)
          WHERE id = $1",
    )
    .bind(id)
    .bind(credential)
    .execute(conn)
    .await?;
    Ok(())
}

/// A step: removes one of the user's passkeys. False if the user has no such passkey.
pub async fn delete(conn: &mut PgConnection, user_id: Uuid, id: Uuid) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM auth.passkeys WHERE user_id = $1 AND id = $2")
        .bind(user_id)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Forgets ceremonies nobody finished.
pub async fn purge_challenges(pool: &PgPool) -> sqlx::Result<u64> {
    let done = retry::write(pool, |conn| {
        Box::pin(
            sqlx::query("DELETE FROM auth.webauthn_challenges WHERE expires_at < now()")
                .execute(&mut **conn),
        )
    })
    .await?;
    Ok(done.rows_affected())
}
