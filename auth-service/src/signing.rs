//! Signing keys: generated when none exist, persisted (sealed under a KEK) in `auth.signing_keys`
//! so every replica and every restart signs with the same key, rotated on a schedule, and
//! published as a JWKS.
//!
//! Rotation follows the contract: a successor is published `JWKS_MAX_AGE` before it signs
//! anything (so every verifier's cache has it by then), and a retired key stays published for
//! the access-token lifetime after its last signature. Once it has left the JWKS its private key
//! is erased: nothing can use it any more, and a leaked copy should be as old as possible.
//!
//! A key that was ever stored unsealed is not trusted to stay secret (its plaintext lives on in
//! the WAL and in backups): when KEKs are first configured, a sealed successor takes over through
//! the same hand-over as a scheduled rotation, instead of the old key merely being re-sealed.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Context;
use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use axum::body::Bytes;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jsonwebtoken::DecodingKey;
use serde::Serialize;
use shared::db::retry;
use sqlx::PgPool;
use utoipa::ToSchema;

use crate::db;
use crate::kek::KekRing;

/// When keys are created, activated and retired.
#[derive(Debug, Clone)]
pub struct KeyPolicy {
    pub rsa_bits: u32,
    /// How long a key signs before a successor takes over; `None`: never rotate.
    pub rotation: Option<Duration>,
    /// How long a new key is published before it signs: the JWKS max-age, plus the key-check
    /// interval in which every replica picks the new key up and starts serving it.
    pub publish_ahead: Duration,
    /// How long a retired key stays published (the access-token lifetime, plus leeway).
    pub publish_after: Duration,
}

/// A public key as published in the JWKS (RFC 7517; public parts only).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Jwk {
    pub kty: &'static str,
    pub kid: String,
    #[serde(rename = "use")]
    pub use_: &'static str,
    pub alg: &'static str,
    pub n: String,
    pub e: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

/// The key that signs now, parsed once: jsonwebtoken's `EncodingKey` re-parses (and re-checks)
/// the RSA key on every signature, which cost more than the signature itself.
pub struct SigningKey {
    pub kid: String,
    pair: RsaKeyPair,
    /// base64url of the JWS header, which is the same for every token this key signs.
    header_b64: String,
}

impl SigningKey {
    pub fn from_pkcs8(kid: &str, pkcs8: &[u8]) -> anyhow::Result<Self> {
        let pair = RsaKeyPair::from_pkcs8(pkcs8)
            .map_err(|e| anyhow::anyhow!("stored signing key is not valid: {e}"))?;
        let header = serde_json::json!({"alg": "RS256", "typ": crate::tokens::TYP, "kid": kid});
        Ok(Self {
            kid: kid.to_owned(),
            pair,
            header_b64: URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header)?),
        })
    }

    /// A compact JWS (RFC 7515 §7.1) over `claims`, RS256 (RSASSA-PKCS1-v1_5 with SHA-256).
    pub fn sign<T: Serialize>(&self, claims: &T) -> anyhow::Result<String> {
        let mut jws = String::with_capacity(1024);
        jws.push_str(&self.header_b64);
        jws.push('.');
        URL_SAFE_NO_PAD.encode_string(serde_json::to_vec(claims)?, &mut jws);
        let mut signature = vec![0u8; self.pair.public_modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                jws.as_bytes(),
                &mut signature,
            )
            .map_err(|_| anyhow::anyhow!("RSA signing failed"))?;
        jws.push('.');
        URL_SAFE_NO_PAD.encode_string(&signature, &mut jws);
        Ok(jws)
    }
}

/// A consistent snapshot: the key that signs now, and every key a valid token may carry.
pub struct KeySet {
    pub signing: SigningKey,
    pub jwks: Jwks,
    /// The JWKS document, serialised once per change rather than per request.
    pub jwks_body: Bytes,
    pub decoding: HashMap<String, DecodingKey>,
}

pub struct Keys {
    current: RwLock<Arc<KeySet>>,
    keks: KekRing,
    policy: KeyPolicy,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("keks", &self.keks)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Keys {
    /// Ensures a usable key exists (creating or rotating as due) and loads the key set.
    pub async fn load(pool: &PgPool, keks: KekRing, policy: KeyPolicy) -> anyhow::Result<Self> {
        if keks.is_empty() {
            tracing::warn!(
                "KEY_ENCRYPTION_KEYS is not set: signing keys are stored UNENCRYPTED in the database \
                 (loopback issuer or ALLOW_PLAINTEXT_KEYS=true). Anyone with a backup can forge tokens."
            );
        }
        let set = maintain(pool, &keks, &policy, Utc::now()).await?;
        Ok(Self {
            current: RwLock::new(Arc::new(set)),
            keks,
            policy,
        })
    }

    /// The key-encryption keys, for other secrets sealed at rest alike (TOTP secrets).
    pub fn keks(&self) -> &KekRing {
        &self.keks
    }

    pub fn current(&self) -> Arc<KeySet> {
        match self.current.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Rotates if due and picks up keys other replicas created; run periodically.
    pub async fn refresh_at(&self, pool: &PgPool, now: DateTime<Utc>) -> anyhow::Result<()> {
        let set = maintain(pool, &self.keks, &self.policy, now).await?;
        let set = Arc::new(set);
        match self.current.write() {
            Ok(mut guard) => *guard = set,
            Err(poisoned) => *poisoned.into_inner() = set,
        }
        Ok(())
    }
}

/// One maintenance round under the key lock: create or rotate as due, re-seal under the current
/// KEK, and return the key set every replica then agrees on.
async fn maintain(
    pool: &PgPool,
    keks: &KekRing,
    policy: &KeyPolicy,
    now: DateTime<Utc>,
) -> anyhow::Result<KeySet> {
    // Run again from the start if the connection dies before COMMIT: every step re-reads what
    // it decides on under the lock, so a second run does what the first would have.
    let (rows, erased, now) =
        retry::transaction(pool, |tx| Box::pin(maintain_locked(tx, keks, policy, now))).await?;
    for kid in erased {
        tracing::info!(%kid, "private key of a key no longer published erased");
    }
    key_set(keks, &rows, now)
}

/// The maintenance round's transaction: the rows that are live after it, the kids whose private
/// keys it erased, and the clock it judged by.
async fn maintain_locked(
    tx: &mut sqlx::PgConnection,
    keks: &KekRing,
    policy: &KeyPolicy,
    now: DateTime<Utc>,
) -> anyhow::Result<(Vec<db::signing_keys::KeyRow>, Vec<String>, DateTime<Utc>)> {
    db::signing_keys::lock(tx).await?;
    // Read the clock after the lock: a replica that waited for another to create the first key
    // must see that key as already active, not as one from its own past.
    let now = now.max(Utc::now());
    let since = now - chrono::Duration::from_std(policy.publish_after)?;
    let rows = db::signing_keys::live(tx, since).await?;
    let changed = if replaces_unsealed(keks, &rows, now) {
        replace_unsealed(tx, keks, policy, &rows, now).await?;
        true
    } else {
        create_or_rotate(tx, keks, policy, &rows, now, Due::OnSchedule)
            .await?
            .is_some()
    };
    let mut rows = if changed {
        db::signing_keys::live(tx, since).await?
    } else {
        rows
    };
    reseal(tx, keks, &mut rows).await?;
    let erased = db::signing_keys::erase_private_keys(tx, since).await?;
    Ok((rows, erased, now))
}

/// What `auth-service keys rotate` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// A successor was created and published now.
    Scheduled(Scheduled),
    /// A successor was already published and waiting to sign; a second one would only shorten
    /// its time in verifiers' caches, so nothing was done.
    AlreadyWaiting {
        kid: String,
        signs_from: DateTime<Utc>,
    },
}

/// Schedules a successor to the signing key now: published at once (running replicas pick it up
/// at their next maintenance round and serve it in the JWKS), signing from `JWKS_MAX_AGE` on, so
/// every verifier's cached key set holds it before a token carries its `kid`. The key it replaces
/// stays published until the last token it signed has expired. Safe beside running replicas: it
/// takes the same lock as their maintenance.
pub async fn rotate_now(
    pool: &PgPool,
    keks: &KekRing,
    policy: &KeyPolicy,
) -> anyhow::Result<Rotation> {
    retry::transaction(pool, |tx| {
        Box::pin(async move {
            db::signing_keys::lock(tx).await?;
            let now = Utc::now();
            let since = now - chrono::Duration::from_std(policy.publish_after)?;
            let rows = db::signing_keys::live(tx, since).await?;
            if let Some(waiting) = rows.iter().find(|r| r.activates_at > now) {
                return Ok(Rotation::AlreadyWaiting {
                    kid: waiting.kid.clone(),
                    signs_from: waiting.activates_at,
                });
            }
            let scheduled = if replaces_unsealed(keks, &rows, now) {
                replace_unsealed(tx, keks, policy, &rows, now).await?
            } else {
                create_or_rotate(tx, keks, policy, &rows, now, Due::Now)
                    .await?
                    .context("no key was created")?
            };
            Ok(Rotation::Scheduled(scheduled))
        })
    })
    .await
}

/// A key as `auth-service keys list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyStatus {
    pub kid: String,
    pub state: KeyState,
    pub created_at: DateTime<Utc>,
    pub activates_at: DateTime<Utc>,
    pub retires_at: Option<DateTime<Utc>>,
    /// Sealed under this key-encryption key; `None`: stored unencrypted (or erased).
    pub kek_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Published, signing from `activates_at`.
    Next,
    /// Signs new tokens now.
    Signing,
    /// Published so that tokens it signed still verify; signs no more.
    Retired,
    /// Left the JWKS; its private key is erased.
    Gone,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Next => "next",
            Self::Signing => "signing",
            Self::Retired => "retired",
            Self::Gone => "gone",
        }
    }
}

/// Every key in the table, oldest first, with its state at `now` as the service judges it.
pub async fn statuses(
    pool: &PgPool,
    policy: &KeyPolicy,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<KeyStatus>> {
    let rows = db::signing_keys::all(pool).await?;
    let published_since = now - chrono::Duration::from_std(policy.publish_after)?;
    // The one key the service signs with: the newest active one (as `key_set` picks it).
    let signer = rows
        .iter()
        .filter(|r| r.activates_at <= now && r.retires_at.is_none_or(|t| t > now))
        .max_by_key(|r| r.activates_at)
        .map(|r| r.kid.clone());
    Ok(rows
        .into_iter()
        .map(|r| {
            let state = if signer.as_deref() == Some(r.kid.as_str()) {
                KeyState::Signing
            } else if r.activates_at > now {
                KeyState::Next
            } else if r.retires_at.is_none_or(|t| t > published_since) {
                KeyState::Retired
            } else {
                KeyState::Gone
            };
            KeyStatus {
                kid: r.kid,
                state,
                created_at: r.created_at,
                activates_at: r.activates_at,
                retires_at: r.retires_at,
                kek_id: r.kek_id,
            }
        })
        .collect())
}

/// Whether KEKs are configured but the key that will sign once every scheduled hand-over is done
/// is stored unsealed. Re-sealing follows in the same transaction, so this holds exactly once:
/// in the round where a KEK first meets that key.
fn replaces_unsealed(
    keks: &KekRing,
    rows: &[db::signing_keys::KeyRow],
    now: DateTime<Utc>,
) -> bool {
    !keks.is_empty()
        && rows
            .iter()
            // Keys that still sign, or will: not retired, and not retired before activating.
            .filter(|r| r.retires_at.is_none_or(|t| t > now && t > r.activates_at))
            .max_by_key(|r| r.activates_at)
            .is_some_and(|last| last.kek_id.is_none())
}

/// A sealed successor for keys that were stored unsealed: published now, signing from one JWKS
/// max-age on (at once if nothing signs), every unsealed key retired at that hand-over.
async fn replace_unsealed(
    tx: &mut sqlx::PgConnection,
    keks: &KekRing,
    policy: &KeyPolicy,
    rows: &[db::signing_keys::KeyRow],
    now: DateTime<Utc>,
) -> anyhow::Result<Scheduled> {
    let handover = if rows.iter().any(|r| is_signing(r, now)) {
        now + chrono::Duration::from_std(policy.publish_ahead)?
    } else {
        now - chrono::Duration::seconds(60)
    };
    let kid = create(tx, keks, policy.rsa_bits, handover).await?;
    let mut retiring = Vec::new();
    for row in rows
        .iter()
        .filter(|r| r.kek_id.is_none() && r.retires_at.is_none_or(|t| t > handover))
    {
        db::signing_keys::set_retires_at(tx, &row.kid, handover).await?;
        tracing::warn!(retiring = %row.kid, %handover, "signing key was stored unencrypted: replaced by a sealed one");
        retiring.push(row.kid.clone());
    }
    tracing::info!(%kid, %handover, "sealed signing key created");
    Ok(Scheduled {
        kid,
        signs_from: handover,
        retiring,
    })
}

fn is_signing(row: &db::signing_keys::KeyRow, now: DateTime<Utc>) -> bool {
    row.activates_at <= now && row.retires_at.is_none_or(|t| t > now)
}

/// Whether a rotation is due by the calendar or asked for now (`auth-service keys rotate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Due {
    OnSchedule,
    Now,
}

/// A successor key that was created: it signs from `signs_from`, when `retiring` stop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scheduled {
    pub kid: String,
    pub signs_from: DateTime<Utc>,
    pub retiring: Vec<String>,
}

/// Creates the first key, or schedules a successor when the signing key's time is up (or `due`
/// says now). Returns the key created, if one was.
async fn create_or_rotate(
    tx: &mut sqlx::PgConnection,
    keks: &KekRing,
    policy: &KeyPolicy,
    rows: &[db::signing_keys::KeyRow],
    now: DateTime<Utc>,
    due: Due,
) -> anyhow::Result<Option<Scheduled>> {
    if rows.iter().any(|r| r.activates_at > now) {
        // A successor is already published and waiting: nothing to do until it takes over.
        return Ok(None);
    }
    let signing = rows
        .iter()
        .filter(|r| is_signing(r, now))
        .max_by_key(|r| r.activates_at);
    match signing {
        None => {
            // Nothing can sign, so no verifier can hold a token from us: activate at once,
            // backdated a little so replicas whose clocks run slightly behind see it as active.
            tracing::info!(bits = policy.rsa_bits, "generating the first signing key");
            let signs_from = now - chrono::Duration::seconds(60);
            let kid = create(tx, keks, policy.rsa_bits, signs_from).await?;
            tracing::info!(%kid, "signing key created");
            Ok(Some(Scheduled {
                kid,
                signs_from,
                retiring: Vec::new(),
            }))
        }
        Some(active) => {
            if due == Due::OnSchedule {
                let Some(rotation) = policy.rotation else {
                    return Ok(None);
                };
                if active.activates_at + chrono::Duration::from_std(rotation)? > now {
                    return Ok(None);
                }
            }
            let handover = now + chrono::Duration::from_std(policy.publish_ahead)?;
            let kid = create(tx, keks, policy.rsa_bits, handover).await?;
            db::signing_keys::set_retires_at(tx, &active.kid, handover).await?;
            tracing::info!(%kid, retiring = %active.kid, %handover, "signing key rotation scheduled");
            Ok(Some(Scheduled {
                kid,
                signs_from: handover,
                retiring: vec![active.kid.clone()],
            }))
        }
    }
}

/// Re-seals every key not under the current KEK (first start with a KEK, or a KEK rotation).
async fn reseal(
    tx: &mut sqlx::PgConnection,
    keks: &KekRing,
    rows: &mut [db::signing_keys::KeyRow],
) -> anyhow::Result<()> {
    let Some(current) = keks.current_id() else {
        return Ok(());
    };
    // An erased key has nothing to seal (a replica whose clock runs behind may still list it).
    for row in rows
        .iter_mut()
        .filter(|r| r.private_key.is_some() && r.kek_id.as_deref() != Some(current))
    {
        let plain = open(keks, row)?;
        if let Some(sealed) = keks.seal(&plain, row.kid.as_bytes())? {
            db::signing_keys::reseal(
                tx,
                &row.kid,
                &sealed.ciphertext,
                &sealed.kek_id,
                &sealed.nonce,
            )
            .await?;
            tracing::info!(kid = %row.kid, kek = %sealed.kek_id, "signing key re-sealed under the current KEK");
            row.private_key = Some(sealed.ciphertext);
            row.kek_id = Some(sealed.kek_id);
            row.nonce = Some(sealed.nonce);
        }
    }
    Ok(())
}

/// The signing key (the newest active one, parsed once) and every published key.
fn key_set(
    keks: &KekRing,
    rows: &[db::signing_keys::KeyRow],
    now: DateTime<Utc>,
) -> anyhow::Result<KeySet> {
    let signing_row = rows
        .iter()
        .filter(|r| is_signing(r, now))
        .max_by_key(|r| r.activates_at)
        .context("no signing key is active")?;
    let pkcs8 = open(keks, signing_row)?;
    let signing = SigningKey::from_pkcs8(&signing_row.kid, &pkcs8)?;
    let mut decoding = HashMap::new();
    let mut jwks = Jwks { keys: Vec::new() };
    for r in rows {
        decoding.insert(r.kid.clone(), DecodingKey::from_rsa_components(&r.n, &r.e)?);
        jwks.keys.push(Jwk {
            kty: "RSA",
            kid: r.kid.clone(),
            use_: "sig",
            alg: "RS256",
            n: r.n.clone(),
            e: r.e.clone(),
        });
    }
    let jwks_body = Bytes::from(serde_json::to_vec(&jwks)?);
    Ok(KeySet {
        signing,
        jwks,
        jwks_body,
        decoding,
    })
}

fn open(keks: &KekRing, row: &db::signing_keys::KeyRow) -> anyhow::Result<Vec<u8>> {
    let private_key = row.private_key.as_deref().with_context(|| {
        format!(
            "signing key {} was retired and its private key erased",
            row.kid
        )
    })?;
    match (&row.kek_id, &row.nonce) {
        (Some(kek_id), Some(nonce)) => keks.open(kek_id, nonce, private_key, row.kid.as_bytes()),
        _ => Ok(private_key.to_vec()),
    }
}

async fn create(
    conn: &mut sqlx::PgConnection,
    keks: &KekRing,
    bits: u32,
    activates_at: DateTime<Utc>,
) -> anyhow::Result<String> {
    let generated = tokio::task::spawn_blocking(move || generate(bits)).await??;
    let sealed = keks.seal(&generated.pkcs8, generated.kid.as_bytes())?;
    let (private_key, kek_id, nonce) = match &sealed {
        Some(s) => (
            s.ciphertext.as_slice(),
            Some(s.kek_id.as_str()),
            Some(s.nonce.as_slice()),
        ),
        None => (generated.pkcs8.as_slice(), None, None),
    };
    db::signing_keys::insert(
        conn,
        db::signing_keys::NewKey {
            kid: &generated.kid,
            n: &generated.n,
            e: &generated.e,
            private_key,
            kek_id,
            nonce,
            activates_at,
        },
    )
    .await?;
    Ok(generated.kid)
}

/// A freshly generated RSA key: PKCS#8 private key, base64url public components and the
/// RFC 7638 thumbprint as its `kid`.
pub struct Generated {
    pub kid: String,
    pub n: String,
    pub e: String,
    pub pkcs8: Vec<u8>,
}

pub fn generate(bits: u32) -> anyhow::Result<Generated> {
    let size = match bits {
        2048 => KeySize::Rsa2048,
        3072 => KeySize::Rsa3072,
        4096 => KeySize::Rsa4096,
        other => anyhow::bail!("unsupported RSA size {other}"),
    };
    let pair = KeyPair::generate(size).map_err(|_| anyhow::anyhow!("RSA key generation failed"))?;
    let pkcs8 = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair)
        .map_err(|_| anyhow::anyhow!("RSA key serialisation failed"))?
        .as_ref()
        .to_vec();
    let public = pair.public_key();
    let n = URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero());
    let e = URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero());
    Ok(Generated {
        kid: thumbprint(&n, &e),
        n,
        e,
        pkcs8,
    })
}

/// RFC 7638 §3: SHA-256 over the required members in lexicographic order, no whitespace.
pub fn thumbprint(n: &str, e: &str) -> String {
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    URL_SAFE_NO_PAD.encode(digest(&SHA256, canonical.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprint_matches_rfc7638_example() {
        // RFC 7638 §3.1.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        assert_eq!(
            thumbprint(n, "AQAB"),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn generated_key_signs_and_verifies_with_its_published_parts() {
        let g = generate(2048).expect("generate");
        assert_eq!(g.e, "AQAB");
        assert_eq!(g.kid, thumbprint(&g.n, &g.e));
        let key = SigningKey::from_pkcs8(&g.kid, &g.pkcs8).expect("key");
        let token = key
            .sign(&serde_json::json!({"sub": "x", "exp": 4_000_000_000u64}))
            .expect("sign");
        let header = jsonwebtoken::decode_header(&token).expect("header");
        assert_eq!(header.kid.as_deref(), Some(g.kid.as_str()));
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        let dec = DecodingKey::from_rsa_components(&g.n, &g.e).expect("dec");
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        v.required_spec_claims.clear();
        v.validate_aud = false;
        jsonwebtoken::decode::<serde_json::Value>(&token, &dec, &v).expect("verifies");
    }
}
