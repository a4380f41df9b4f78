//! Rate limits every replica shares, kept in Postgres (`auth.rate_limits`): per client network on
//! every route that costs a password hash or mints tokens, per account on sign-in, and per known
//! device for the account's own browsers.
//!
//! Each bucket is one GCRA cell (the generic cell rate algorithm):
//! a "theoretical arrival time" per key, advanced by one emission interval per granted attempt and
//! never more than one window ahead of now. One `INSERT ... ON CONFLICT DO UPDATE ... WHERE`
//! decides and records an attempt: Postgres locks the row and re-checks the condition against the
//! newest version, so parallel attempts on every replica are counted exactly once each. Keys are
//! SHA-256 digests of the bucket's name, so a row is 32 bytes whatever a client sends, and rows
//! whose budget is whole again are purged by the maintenance round.
//!
//! Policy (README, "Rate limits"):
//! - per client IP, IPv6 by /64 (one host is handed a whole /64): `RATE_LIMIT_PER_IP` a minute;
//! - per account on sign-in: `RATE_LIMIT_PER_EMAIL` a minute, keyed by the normalised address
//!   whether or not an account has it (so the answer does not tell);
//! - a browser holding a device cookie from an earlier successful sign-in to that account draws on
//!   its own `RATE_LIMIT_PER_DEVICE` budget instead of the account's, so an attack on the account
//!   from elsewhere cannot lock its owner out (OWASP's "device cookies").

use std::net::IpAddr;

use aws_lc_rs::digest::{SHA256, digest};
use shared::db::retry;
use sqlx::PgPool;

use crate::client_ip::canonical;
use crate::error::ApiError;

/// Every bucket refills over this window: a limit of N allows a burst of N, then one attempt per
/// window / N.
const WINDOW_SECS: f64 = 60.0;

#[derive(Debug, Clone, Copy)]
struct Rate {
    /// Seconds between attempts at the sustained rate.
    interval: f64,
}

impl Rate {
    /// `None` disables the limit (load tests).
    fn per_minute(n: u32) -> Option<Self> {
        (n > 0).then(|| Self {
            interval: WINDOW_SECS / f64::from(n),
        })
    }
}

/// A bucket: what is counted, by whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bucket {
    /// A client address (IPv6 by /64).
    Ip(IpAddr),
    /// Sign-in attempts at one address, as normalised for sign-in.
    Account(String),
    /// Sign-ins to an account from one of its known devices (the device token's hash).
    Device(Vec<u8>),
}

impl Bucket {
    /// The key stored: a digest, so the table holds 32 bytes per bucket.
    fn key(&self) -> Vec<u8> {
        let mut name = Vec::with_capacity(64);
        match self {
            Bucket::Ip(ip) => {
                name.extend_from_slice(b"ip\0");
                match canonical(*ip) {
                    IpAddr::V4(v4) => name.extend_from_slice(&v4.octets()),
                    IpAddr::V6(v6) => name.extend_from_slice(&v6.octets()[..8]),
                }
            }
            Bucket::Account(email) => {
                name.extend_from_slice(b"account\0");
                // Bounded before it is hashed: an address is at most 254 octets (RFC 5321).
                let email: String = email.trim().to_lowercase().chars().take(320).collect();
                name.extend_from_slice(email.as_bytes());
            }
            Bucket::Device(token_hash) => {
                name.extend_from_slice(b"device\0");
                name.extend_from_slice(token_hash);
            }
        }
        digest(&SHA256, &name).as_ref().to_vec()
    }
}

#[derive(Debug, Clone)]
pub struct Limits {
    per_ip: Option<Rate>,
    per_account: Option<Rate>,
    per_device: Option<Rate>,
}

impl Limits {
    pub fn new(per_ip: u32, per_account: u32, per_device: u32) -> Self {
        Self {
            per_ip: Rate::per_minute(per_ip),
            per_account: Rate::per_minute(per_account),
            per_device: Rate::per_minute(per_device),
        }
    }

    /// Counts an attempt from `ip`; 429 with `Retry-After` past the budget.
    pub async fn check_ip(&self, pool: &PgPool, ip: IpAddr) -> Result<(), ApiError> {
        check(pool, self.per_ip, &Bucket::Ip(ip)).await
    }

    /// Counts a sign-in attempt at `email`, or on the known device's own budget.
    pub async fn check_sign_in(
        &self,
        pool: &PgPool,
        email: &str,
        known_device: Option<&[u8]>,
    ) -> Result<(), ApiError> {
        match known_device {
            Some(device) => check(pool, self.per_device, &Bucket::Device(device.to_vec())).await,
            None => check(pool, self.per_account, &Bucket::Account(email.to_owned())).await,
        }
    }
}

async fn check(pool: &PgPool, rate: Option<Rate>, bucket: &Bucket) -> Result<(), ApiError> {
    let Some(rate) = rate else {
        return Ok(());
    };
    let key = bucket.key();
    // Counting an attempt twice would only make the limit stricter, but it is a write all the same.
    let (granted, wait): (bool, Option<f64>) = retry::write(pool, |conn| {
        Box::pin(async move {
            sqlx::query_as(
                "WITH attempt AS (
                     INSERT INTO auth.rate_limits AS r (key, tat)
                     VALUES ($1, now() + make_interval(secs => $2))
                     ON CONFLICT (key) DO UPDATE
                        SET tat = greatest(r.tat, now()) + make_interval(secs => $2)
                      WHERE greatest(r.tat, now()) + make_interval(secs => $2)
                            <= now() + make_interval(secs => $3)
                     RETURNING 1
                 )
                 SELECT EXISTS (SELECT 1 FROM attempt),
                        (SELECT extract(epoch FROM r.tat - now())::float8 + $2 - $3
                           FROM auth.rate_limits r WHERE r.key = $1)",
            )
            .bind(&key)
            .bind(rate.interval)
            .bind(WINDOW_SECS)
            .fetch_one(&mut **conn)
            .await
        })
    })
    .await?;
    if granted {
        return Ok(());
    }
    // The statement's snapshot shows the row as it was before the refused attempt.
    let wait = wait.unwrap_or(rate.interval).max(0.0);
    Err(ApiError::RateLimited {
        retry_after: wait.ceil() as u64 + 1,
    })
}

/// Forgets buckets whose budget is whole again. Returns how many.
pub async fn purge(pool: &PgPool) -> sqlx::Result<u64> {
    let done = retry::write(pool, |conn| {
        Box::pin(sqlx::query("DELETE FROM auth.rate_limits WHERE tat < now()").execute(&mut **conn))
    })
    .await?;
    Ok(done.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn ipv6_clients_share_a_bucket_per_64() {
        let a = Bucket::Ip(ip("2001:db8:1:2:aaaa::1")).key();
        assert_eq!(a, Bucket::Ip(ip("2001:db8:1:2:ffff:ffff:ffff:ffff")).key());
        assert_ne!(a, Bucket::Ip(ip("2001:db8:1:3::1")).key());
        assert_ne!(
            Bucket::Ip(ip("1.2.3.4")).key(),
            Bucket::Ip(ip("1.2.3.5")).key()
        );
        assert_eq!(
            Bucket::Ip(ip("::ffff:1.2.3.4")).key(),
            Bucket::Ip(ip("1.2.3.4")).key()
        );
    }

    #[test]
    fn keys_are_bounded_digests_and_kinds_never_collide() {
        let long = "a".repeat(100_000);
        assert_eq!(Bucket::Account(long).key().len(), 32);
        assert_eq!(
            Bucket::Account(" Ann@Example.com ".into()).key(),
            Bucket::Account("ann@example.com".into()).key()
        );
        assert_ne!(
            Bucket::Account("x".into()).key(),
            Bucket::Device(b"x".to_vec()).key()
        );
    }
}
