//! Access-token checks (RFC 8725 JWT best practices, RFC 9068 access-token profile): the algorithm
//! comes from our allow-list, never from the token; the key only from the fetched JWKS, by `kid`,
//! never from the token's own `jwk`/`jku`/`x5u`/`x5c` headers; then `typ`, signature, `iss`, `aud`,
//! `exp`/`nbf` with a small leeway, the required claims, and `sub` a UUID.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lc_rs::digest::{SHA256, digest};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use uuid::Uuid;

use super::revocations::Revocations;

use super::jwks::Jwks;

/// What a token must say to be accepted here.
#[derive(Debug, Clone)]
pub struct TokenRules {
    /// Expected `iss`.
    pub issuer: String,
    /// Expected `aud` (a string, or one member of an array).
    pub audience: String,
    /// Clock skew tolerated on `exp`, `nbf` and `iat`.
    pub leeway: Duration,
}

/// The claims of a verified access token.
#[derive(Debug, Clone, Deserialize)]
pub struct Claims {
    pub iss: String,
    /// The user; a token whose `sub` is not a UUID is refused.
    pub sub: Uuid,
    pub exp: u64,
    pub iat: u64,
    pub nbf: Option<u64>,
    pub jti: String,
    pub email: Option<String>,
    /// The session (refresh-token family) the token was issued from.
    pub sid: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    /// No signing key has been fetched yet: the caller should answer 503, not 401.
    #[error("signing keys are not available yet")]
    NotReady,
    /// The token is refused. The reason is for logs only.
    #[error("token refused: {0}")]
    Invalid(&'static str),
}

/// Verifies access tokens against a [`Jwks`]. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Verifier {
    jwks: Jwks,
    validation: Arc<Validation>,
    leeway: u64,
    cache: Arc<VerifiedTokens>,
    revocations: Revocations,
    /// `task_token_cache_total{result}`, registered once: this is on every request's path.
    hits: metrics::Counter,
    misses: metrics::Counter,
}

/// Tokens verified recently, keyed by the SHA-256 of the whole compact token (header, payload
/// and signature, so no part can be swapped). The same token arrives on every request of a
/// session for its whole lifetime, and the RSA signature check is most of a request's CPU; a hit
/// skips it. A hit still re-checks expiry, and only counts while the key that verified the token
/// is the very key the JWKS cache holds now: a key that left the set (or any refetch) turns
/// every hit it backed into a full verification again.
#[derive(Debug, Default)]
struct VerifiedTokens {
    entries: Mutex<HashMap<[u8; 32], Verified>>,
}

#[derive(Debug, Clone)]
struct Verified {
    claims: Claims,
    kid: String,
    key: Arc<DecodingKey>,
}

/// Bounds the cache's memory (about 1 KiB an entry); when full it starts over.
const CACHE_CAPACITY: usize = 10_000;

impl VerifiedTokens {
    fn get(&self, digest: &[u8; 32]) -> Option<Verified> {
        self.entries.lock().ok()?.get(digest).cloned()
    }

    fn put(&self, digest: [u8; 32], verified: Verified) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= CACHE_CAPACITY {
                entries.clear();
            }
            entries.insert(digest, verified);
        }
    }
}

/// Tokens are a few hundred bytes; refusing huge ones early bounds the work an attacker can cause.
const MAX_TOKEN_LEN: usize = 8 * 1024;

impl Verifier {
    /// Its metrics' handles are taken here: with `METRICS_BIND`, build it after the recorder is
    /// installed (`build_state_with` does).
    pub fn new(jwks: Jwks, rules: &TokenRules) -> Self {
        // The allow-list is exactly RS256: never `none`, never an HMAC that could be keyed with
        // our public key (RFC 8725 §2.1, §3.1).
        let mut validation = Validation::new(Algorithm::RS256);
        validation.leeway = rules.leeway.as_secs();
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = true;
        validation.set_issuer(&[rules.issuer.as_str()]);
        validation.set_audience(&[rules.audience.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        Self {
            jwks,
            validation: Arc::new(validation),
            leeway: rules.leeway.as_secs(),
            cache: Arc::default(),
            revocations: Revocations::default(),
            hits: metrics::counter!("task_token_cache_total", "result" => "hit"),
            misses: metrics::counter!("task_token_cache_total", "result" => "miss"),
        }
    }

    /// The ended sessions and deleted users this verifier refuses; the revocation feed fills it.
    pub fn revocations(&self) -> &Revocations {
        &self.revocations
    }

    pub fn jwks(&self) -> &Jwks {
        &self.jwks
    }

    /// Whether tokens can be verified at all (signing keys known).
    pub fn is_ready(&self) -> bool {
        self.jwks.is_ready()
    }

    pub async fn verify(&self, token: &str) -> Result<Claims, VerifyError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(VerifyError::Invalid("token too long"));
        }
        let digest = token_digest(token);
        if let Some(hit) = self.cache.get(&digest) {
            let now = jsonwebtoken::get_current_timestamp();
            let key_still_trusted = self
                .jwks
                .key(&hit.kid)
                .is_some_and(|k| Arc::ptr_eq(&k, &hit.key));
            if key_still_trusted && hit.claims.exp.saturating_add(self.leeway) >= now {
                self.hits.increment(1);
                return self.unless_revoked(hit.claims);
            }
        }
        self.misses.increment(1);
        let (claims, kid, key) = self.verify_uncached(token).await?;
        self.cache.put(
            digest,
            Verified {
                claims: claims.clone(),
                kid,
                key,
            },
        );
        self.unless_revoked(claims)
    }

    /// Checked after the signature on every request, remembered verifications included: a token
    /// of an ended session stays in the cache but is refused here.
    fn unless_revoked(&self, claims: Claims) -> Result<Claims, VerifyError> {
        if self.revocations.is_revoked(&claims) {
            return Err(VerifyError::Invalid("session ended"));
        }
        Ok(claims)
    }

    /// The `kid` of a token whose header passes every check that needs no key: RS256 only, the
    /// access-token `typ`, no key-bearing or critical headers. Pure (no keys, no network), so the
    /// fuzz target in `fuzz/` drives exactly the code that reads an untrusted header.
    pub fn check_header(token: &str) -> Result<String, VerifyError> {
        // An unparsable header includes `alg: none` and any algorithm jsonwebtoken does not know.
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| VerifyError::Invalid("malformed header"))?;
        if header.alg != Algorithm::RS256 {
            return Err(VerifyError::Invalid("algorithm not allowed"));
        }
        // RFC 9068 §4: `at+jwt` (or its full media type), so an ID token or other JWT signed by the
        // same key cannot be replayed as an access token (RFC 8725 §3.11).
        let typ_ok = header.typ.as_deref().is_some_and(|t| {
            t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt")
        });
        if !typ_ok {
            return Err(VerifyError::Invalid("wrong typ"));
        }
        // Headers that point at keys are an attacker's way to choose the key; our issuer never
        // sends them. `crit` names extensions we would have to understand (RFC 7515 §4.1.11).
        if header.jwk.is_some()
            || header.jku.is_some()
            || header.x5u.is_some()
            || header.x5c.is_some()
            || header.crit.is_some()
        {
            return Err(VerifyError::Invalid("key-bearing or critical header"));
        }
        header.kid.ok_or(VerifyError::Invalid("no kid"))
    }

    async fn verify_uncached(
        &self,
        token: &str,
    ) -> Result<(Claims, String, Arc<DecodingKey>), VerifyError> {
        let kid = Self::check_header(token)?;
        if !self.jwks.is_ready() {
            return Err(VerifyError::NotReady);
        }
        let key = match self.jwks.key(&kid) {
            Some(key) => key,
            None => self
                .jwks
                .key_after_refetch(&kid)
                .await
                .ok_or(VerifyError::Invalid("unknown kid"))?,
        };
        let data = jsonwebtoken::decode::<Claims>(token, &key, &self.validation).map_err(|e| {
            VerifyError::Invalid(match e.kind() {
                ErrorKind::InvalidSignature => "bad signature",
                ErrorKind::ExpiredSignature => "expired",
                ErrorKind::ImmatureSignature => "not yet valid",
                ErrorKind::InvalidIssuer => "wrong issuer",
                ErrorKind::InvalidAudience => "wrong audience",
                ErrorKind::MissingRequiredClaim(_) => "missing claim",
                ErrorKind::Json(_) => "claims missing or mistyped",
                ErrorKind::InvalidAlgorithm => "algorithm not allowed",
                _ => "undecodable",
            })
        })?;
        let now = jsonwebtoken::get_current_timestamp();
        if data.claims.iat > now.saturating_add(self.leeway) {
            return Err(VerifyError::Invalid("issued in the future"));
        }
        Ok((data.claims, kid, key))
    }
}

fn token_digest(token: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, token.as_bytes()).as_ref());
    out
}
