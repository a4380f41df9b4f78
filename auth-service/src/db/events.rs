//! `auth.events`: the security history a user can read (append-only).

use chrono::{DateTime, Utc};
use shared::db::retry;
use sqlx::{FromRow, PgConnection, PgPool};
use uuid::Uuid;

use super::sessions::Origin;

/// What happened (the `type` of API.md's `Event`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Signup,
    Signin,
    SigninFailed,
    Signout,
    SessionEnded,
    RefreshReuseDetected,
    PasswordChanged,
    PasswordReset,
    EmailVerified,
    MfaEnabled,
    MfaDisabled,
    PasskeyAdded,
    PasskeyRemoved,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Signup => "signup",
            Kind::Signin => "signin",
            Kind::SigninFailed => "signin_failed",
            Kind::Signout => "signout",
            Kind::SessionEnded => "session_ended",
            Kind::RefreshReuseDetected => "refresh_reuse_detected",
            Kind::PasswordChanged => "password_changed",
            Kind::PasswordReset => "password_reset",
            Kind::EmailVerified => "email_verified",
            Kind::MfaEnabled => "mfa_enabled",
            Kind::MfaDisabled => "mfa_disabled",
            Kind::PasskeyAdded => "passkey_added",
            Kind::PasskeyRemoved => "passkey_removed",
        }
    }

    fn outcome(self) -> &'static str {
        match self {
            Kind::SigninFailed | Kind::RefreshReuseDetected => "failure",
            _ => "success",
        }
    }
}

/// An event to record. `user_id` is `None` for a failed sign-in at an address no account has:
/// nothing about the address is kept, so a later sign-up with it finds nothing.
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    pub kind: Kind,
    pub user_id: Option<Uuid>,
    pub session_id: Option<Uuid>,
    pub origin: &'a Origin<'a>,
}

/// A step of the transaction whose action it records.
pub async fn record(conn: &mut PgConnection, event: &Event<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO auth.events (id, user_id, type, ip, user_agent, session_id, outcome)
         VALUES ($1, $2, $3, $4::inet, $5, $6, $7)",
    )
    .bind(Uuid::now_v7())
    .bind(event.user_id)
    .bind(event.kind.as_str())
    .bind(event.origin.ip.map(|ip| ip.to_string()))
    .bind(event.origin.user_agent())
    .bind(event.session_id)
    .bind(event.kind.outcome())
    .execute(conn)
    .await?;
    Ok(())
}

/// Records an event that has no transaction of its own to join.
pub async fn record_alone(pool: &PgPool, event: &Event<'_>) -> sqlx::Result<()> {
    retry::write(pool, |conn| Box::pin(record(conn, event))).await
}

#[derive(Debug, FromRow)]
pub struct Row {
    pub id: Uuid,
    #[sqlx(rename = "type")]
    pub kind: String,
    pub at: DateTime<Utc>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub session_id: Option<Uuid>,
}

/// The user's events newest first, older than `before` (an event id) when given; up to `limit`.
pub async fn page(
    pool: &PgPool,
    user_id: Uuid,
    before: Option<Uuid>,
    limit: i64,
) -> sqlx::Result<Vec<Row>> {
    retry::read(pool, |conn| {
        Box::pin(
            sqlx::query_as::<_, Row>(
                "SELECT id, type, at, host(ip) AS ip, user_agent, session_id
                   FROM auth.events
                  WHERE user_id = $1 AND ($2::uuid IS NULL OR id < $2)
                  ORDER BY id DESC
                  LIMIT $3",
            )
            .bind(user_id)
            .bind(before)
            .bind(limit)
            .fetch_all(&mut **conn),
        )
    })
    .await
}

/// Deletes events older than `retention_days`.
pub async fn purge(pool: &PgPool, retention_days: u32) -> sqlx::Result<u64> {
    let done = retry::write(pool, |conn| {
        Box::pin(
            sqlx::query("DELETE FROM auth.events WHERE at < now() - make_interval(days => $1)")
                .bind(i32::try_from(retention_days).unwrap_or(i32::MAX))
                .execute(&mut **conn),
        )
    })
    .await?;
    Ok(done.rows_affected())
}
