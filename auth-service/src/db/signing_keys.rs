//! `auth.signing_keys`.

use chrono::{DateTime, Utc};
use shared::db::retry;
use sqlx::{FromRow, PgConnection, PgPool};

#[derive(Debug, FromRow)]
pub struct KeyRow {
    pub kid: String,
    pub n: String,
    pub e: String,
    /// `None` once the key has left the JWKS and its private key was erased.
    pub private_key: Option<Vec<u8>>,
    pub kek_id: Option<String>,
    pub nonce: Option<Vec<u8>>,
    pub activates_at: DateTime<Utc>,
    pub retires_at: Option<DateTime<Utc>>,
}

/// A key as listed for an operator (no key material).
#[derive(Debug, FromRow)]
pub struct Listed {
    pub kid: String,
    pub kek_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub activates_at: DateTime<Utc>,
    pub retires_at: Option<DateTime<Utc>>,
}

/// Every key ever created, oldest first.
pub async fn all(pool: &PgPool) -> sqlx::Result<Vec<Listed>> {
    retry::read(pool, |conn| {
        Box::pin(
            sqlx::query_as::<_, Listed>(
                "SELECT kid, kek_id, created_at, activates_at, retires_at
                   FROM auth.signing_keys ORDER BY activates_at, kid",
            )
            .fetch_all(&mut **conn),
        )
    })
    .await
}

pub struct NewKey<'a> {
    pub kid: &'a str,
    pub n: &'a str,
    pub e: &'a str,
    pub private_key: &'a [u8],
    pub kek_id: Option<&'a str>,
    pub nonce: Option<&'a [u8]>,
    pub activates_at: DateTime<Utc>,
}

/// Serialises key maintenance across replicas for the rest of the transaction.
pub async fn lock(conn: &mut PgConnection) -> sqlx::Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('auth.signing_keys'))")
        .execute(conn)
        .await?;
    Ok(())
}

/// Keys that still matter: not retired, or retired recently enough that tokens they signed may
/// still be valid (`published_since`).
pub async fn live(
    conn: &mut PgConnection,
    published_since: DateTime<Utc>,
) -> sqlx::Result<Vec<KeyRow>> {
    sqlx::query_as::<_, KeyRow>(
        "SELECT kid, n, e, private_key, kek_id, nonce, activates_at, retires_at
           FROM auth.signing_keys
          WHERE retires_at IS NULL OR retires_at > $1
          ORDER BY activates_at, kid",
    )
    .bind(published_since)
    .fetch_all(conn)
    .await
}

pub async fn insert(conn: &mut PgConnection, key: NewKey<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO auth.signing_keys (kid, n, e, private_key, kek_id, nonce, activates_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(key.kid)
    .bind(key.n)
    .bind(key.e)
    .bind(key.private_key)
    .bind(key.kek_id)
    .bind(key.nonce)
    .bind(key.activates_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn set_retires_at(
    conn: &mut PgConnection,
    kid: &str,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE auth.signing_keys SET retires_at = $2 WHERE kid = $1")
        .bind(kid)
        .bind(at)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn reseal(
    conn: &mut PgConnection,
    kid: &str,
    private_key: &[u8],
    kek_id: &str,
    nonce: &[u8],
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE auth.signing_keys SET private_key = $2, kek_id = $3, nonce = $4 WHERE kid = $1",
    )
    .bind(kid)
    .bind(private_key)
    .bind(kek_id)
    .bind(nonce)
    .execute(conn)
    .await?;
    Ok(())
}

/// Erases the private keys of keys retired before `retired_before` (no longer published, so no
/// token may carry them and nothing will sign with them again). Returns their `kid`s.
pub async fn erase_private_keys(
    conn: &mut PgConnection,
    retired_before: DateTime<Utc>,
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "UPDATE auth.signing_keys SET private_key = NULL, kek_id = NULL, nonce = NULL
          WHERE retires_at <= $1 AND private_key IS NOT NULL
         RETURNING kid",
    )
    .bind(retired_before)
    .fetch_all(conn)
    .await
}
