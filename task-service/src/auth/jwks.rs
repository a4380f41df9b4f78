//! An in-memory cache of the issuer's signing keys (RFC 7517 JWKS), so verifying a token never calls
//! the auth-service.
//!
//! - Where the keys live is discovered from `{issuer}/.well-known/openid-configuration` (OpenID
//!   Connect Discovery / RFC 8414, whose `issuer` must match ours) or configured directly.
//! - A background task refetches as the response's `Cache-Control: max-age` says, clamped to
//!   `[min_refresh, max_refresh]`, so a key the issuer announces ahead of use is known before it
//!   signs anything and a retired key stops being trusted.
//! - A failed fetch never discards keys we have: while the issuer is down we keep verifying. Until
//!   the first fetch succeeds the cache is not ready and retries with a capped backoff, so a service
//!   started before the issuer becomes ready by itself.
//! - A token naming an unknown `kid` may trigger a refetch (the issuer may just have rotated), but at
//!   most one per cooldown, single-flight: a flood of forged `kid`s cannot make us hammer the issuer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::DecodingKey;
use reqwest::header::{CACHE_CONTROL, HeaderMap};
use serde::Deserialize;

/// Where the signing keys come from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// Discover `jwks_uri` from the issuer's metadata document.
    Discovery { issuer: String },
    /// Fetch this JWKS URL directly.
    JwksUrl(String),
}

/// How the cache fetches and refreshes keys.
#[derive(Debug, Clone)]
pub struct JwksSettings {
    pub source: KeySource,
    /// Never refetch more often than this, whatever `Cache-Control` says.
    pub min_refresh: Duration,
    /// Never trust a fetched set longer than this without trying to refetch.
    pub max_refresh: Duration,
    /// Refresh interval when the response says nothing about caching.
    pub default_refresh: Duration,
    /// At most one refetch per this interval is triggered by unknown `kid`s.
    pub unknown_kid_cooldown: Duration,
    /// First retry delay after a failed fetch; doubles up to `retry_max`.
    pub retry_initial: Duration,
    pub retry_max: Duration,
    /// Connect + response timeout for each HTTP call to the issuer.
    pub http_timeout: Duration,
}

impl JwksSettings {
    pub fn new(source: KeySource) -> Self {
        Self {
            source,
            min_refresh: Duration::from_secs(60),
            max_refresh: Duration::from_secs(3600),
            default_refresh: Duration::from_secs(300),
            unknown_kid_cooldown: Duration::from_secs(30),
            retry_initial: Duration::from_millis(500),
            retry_max: Duration::from_secs(10),
            http_timeout: Duration::from_secs(5),
        }
    }
}

/// A handle to the key cache; cheap to clone. The background refresher stops when the last handle
/// is dropped.
#[derive(Clone)]
pub struct Jwks {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Jwks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jwks")
            .field("source", &self.inner.settings.source)
            .field("kids", &self.kids())
            .finish()
    }
}

struct Inner {
    settings: JwksSettings,
    client: reqwest::Client,
    keys: RwLock<Arc<HashMap<String, Arc<DecodingKey>>>>,
    /// The discovered `jwks_uri`, forgotten when a fetch from it fails so the next try rediscovers.
    discovered_uri: Mutex<Option<String>>,
    /// Serialises fetches, so an older response never overwrites a newer one.
    fetch_lock: tokio::sync::Mutex<()>,
    /// When an unknown `kid` last triggered a refetch; the lock makes that refetch single-flight.
    last_on_demand: tokio::sync::Mutex<Option<Instant>>,
}

/// Why a fetch failed (logged; never shown to clients).
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("request to {url} failed: {source}")]
    Http { url: String, source: reqwest::Error },
    #[error("{url} answered {status}")]
    Status {
        url: String,
        status: reqwest::StatusCode,
    },
    #[error("{url} answered an unusable document: {reason}")]
    Document { url: String, reason: String },
}

/// The largest discovery or JWKS document we read; real ones are a few KiB.
const MAX_DOCUMENT: usize = 256 * 1024;
/// RFC 8725 §3.5 / NIST: RSA keys under 2048 bits are refused.
const MIN_RSA_MODULUS_BYTES: usize = 256;

impl Jwks {
    /// Creates the cache and spawns its refresher (call inside a Tokio runtime). Returns at once:
    /// keys arrive when the issuer first answers; until then [`Jwks::is_ready`] is false.
    pub fn start(settings: JwksSettings) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(settings.http_timeout)
            .connect_timeout(settings.http_timeout)
            // The discovered URL is trusted, redirects from it are not followed blindly.
            .redirect(reqwest::redirect::Policy::limited(3))
            .user_agent(concat!("task-service/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let inner = Arc::new(Inner {
            settings,
            client,
            keys: RwLock::new(Arc::new(HashMap::new())),
            discovered_uri: Mutex::new(None),
            fetch_lock: tokio::sync::Mutex::new(()),
            last_on_demand: tokio::sync::Mutex::new(None),
        });
        tokio::spawn(refresh_loop(Arc::downgrade(&inner)));
        Ok(Self { inner })
    }

    /// Whether at least one usable key has been fetched.
    pub fn is_ready(&self) -> bool {
        !self.snapshot().is_empty()
    }

    /// The key with this `kid`, if the last successful fetch listed it.
    pub fn key(&self, kid: &str) -> Option<Arc<DecodingKey>> {
        self.snapshot().get(kid).cloned()
    }

    /// The `kid`s currently trusted.
    pub fn kids(&self) -> Vec<String> {
        let mut kids: Vec<String> = self.snapshot().keys().cloned().collect();
        kids.sort();
        kids
    }

    /// Looks `kid` up again after refetching the set — unless a refetch already happened within the
    /// cooldown. Concurrent callers wait for the one refetch in flight instead of starting their own.
    pub async fn key_after_refetch(&self, kid: &str) -> Option<Arc<DecodingKey>> {
        let mut last = self.inner.last_on_demand.lock().await;
        if let Some(key) = self.key(kid) {
            return Some(key);
        }
        if last.is_some_and(|at| at.elapsed() < self.inner.settings.unknown_kid_cooldown) {
            return None;
        }
        *last = Some(Instant::now());
        if let Err(error) = self.inner.fetch().await {
            tracing::warn!(%error, "refetching signing keys for an unknown kid failed");
        }
        self.key(kid)
    }

    /// Fetches the key set now. Returns how long it may be cached.
    pub async fn refresh(&self) -> Result<Duration, FetchError> {
        self.inner.fetch().await
    }

    fn snapshot(&self) -> Arc<HashMap<String, Arc<DecodingKey>>> {
        self.inner.snapshot()
    }
}

async fn refresh_loop(inner: Weak<Inner>) {
    let mut failures: u32 = 0;
    loop {
        let Some(strong) = inner.upgrade() else {
            return;
        };
        let wait = match strong.fetch().await {
            Ok(ttl) => {
                if failures > 0 {
                    tracing::info!(kids = ?strong.snapshot().keys().collect::<Vec<_>>(), "signing keys fetched");
                }
                failures = 0;
                ttl
            }
            Err(error) => {
                failures = failures.saturating_add(1);
                let have_keys = !strong.snapshot().is_empty();
                tracing::warn!(%error, have_keys, "could not fetch signing keys; will retry");
                let settings = &strong.settings;
                let backoff = settings
                    .retry_initial
                    .saturating_mul(1 << failures.min(16).saturating_sub(1));
                backoff.min(settings.retry_max)
            }
        };
        drop(strong);
        tokio::time::sleep(wait).await;
    }
}

impl Inner {
    fn snapshot(&self) -> Arc<HashMap<String, Arc<DecodingKey>>> {
        match self.keys.read() {
            Ok(guard) => Arc::clone(&guard),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    async fn fetch(&self) -> Result<Duration, FetchError> {
        let _serial = self.fetch_lock.lock().await;
        let url = self.jwks_uri().await?;
        let result = self.fetch_set(&url).await;
        match result {
            Ok((keys, max_age)) => {
                let mut slot = match self.keys.write() {
                    Ok(guard) => guard,
                    Err(poisoned) => poisoned.into_inner(),
                };
                *slot = Arc::new(keys);
                let s = &self.settings;
                Ok(max_age
                    .unwrap_or(s.default_refresh)
                    .clamp(s.min_refresh, s.max_refresh))
            }
            Err(error) => {
                if matches!(self.settings.source, KeySource::Discovery { .. }) {
                    self.forget_discovered_uri();
                }
                Err(error)
            }
        }
    }

    fn forget_discovered_uri(&self) {
        if let Ok(mut uri) = self.discovered_uri.lock() {
            *uri = None;
        }
    }

    async fn jwks_uri(&self) -> Result<String, FetchError> {
        let issuer = match &self.settings.source {
            KeySource::JwksUrl(url) => return Ok(url.clone()),
            KeySource::Discovery { issuer } => issuer,
        };
        if let Some(uri) = self.discovered_uri.lock().ok().and_then(|u| u.clone()) {
            return Ok(uri);
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let (body, _) = self.get(&url).await?;
        let metadata: ProviderMetadata =
            serde_json::from_slice(&body).map_err(|e| FetchError::Document {
                url: url.clone(),
                reason: e.to_string(),
            })?;
        // RFC 8414 §3.3: the metadata must name the issuer we asked, or it is not that issuer's.
        if metadata.issuer.trim_end_matches('/') != issuer.trim_end_matches('/') {
            return Err(FetchError::Document {
                url,
                reason: format!("issuer is {:?}", metadata.issuer),
            });
        }
        if !(metadata.jwks_uri.starts_with("https://") || metadata.jwks_uri.starts_with("http://"))
        {
            return Err(FetchError::Document {
                url,
                reason: "jwks_uri is not an http(s) URL".to_owned(),
            });
        }
        if let Ok(mut slot) = self.discovered_uri.lock() {
            *slot = Some(metadata.jwks_uri.clone());
        }
        Ok(metadata.jwks_uri)
    }

    async fn fetch_set(
        &self,
        url: &str,
    ) -> Result<(HashMap<String, Arc<DecodingKey>>, Option<Duration>), FetchError> {
        let (body, headers) = self.get(url).await?;
        let document: JwkSetDocument =
            serde_json::from_slice(&body).map_err(|e| FetchError::Document {
                url: url.to_owned(),
                reason: e.to_string(),
            })?;
        let keys = usable_keys(&document.keys);
        if keys.is_empty() {
            // Keep what we have: an empty or unusable set is more likely a fault than a revocation.
            return Err(FetchError::Document {
                url: url.to_owned(),
                reason: "no usable RS256 signing key".to_owned(),
            });
        }
        Ok((keys, cache_max_age(&headers)))
    }

    async fn get(&self, url: &str) -> Result<(Vec<u8>, HeaderMap), FetchError> {
        let http = |source| FetchError::Http {
            url: url.to_owned(),
            source,
        };
        let mut response = self
            .client
            .get(url)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(http)?;
        if !response.status().is_success() {
            return Err(FetchError::Status {
                url: url.to_owned(),
                status: response.status(),
            });
        }
        let headers = response.headers().clone();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(http)? {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_DOCUMENT {
                return Err(FetchError::Document {
                    url: url.to_owned(),
                    reason: "document too large".to_owned(),
                });
            }
        }
        Ok((body, headers))
    }
}

#[derive(Deserialize)]
struct ProviderMetadata {
    issuer: String,
    jwks_uri: String,
}

#[derive(Deserialize)]
struct JwkSetDocument {
    keys: Vec<serde_json::Value>,
}

/// The public members of an RSA JWK we look at; anything else a JWK carries is ignored.
#[derive(Deserialize)]
struct RsaJwk {
    kty: String,
    kid: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    alg: Option<String>,
    n: Option<String>,
    e: Option<String>,
}

/// Keeps RSA signature keys usable with RS256 that have a `kid`; skips (and logs) the rest, so one
/// key of a type we do not use never hides the others.
fn usable_keys(raw: &[serde_json::Value]) -> HashMap<String, Arc<DecodingKey>> {
    let mut keys = HashMap::new();
    for value in raw {
        let Ok(jwk) = serde_json::from_value::<RsaJwk>(value.clone()) else {
            tracing::debug!("skipping a JWK that is not an object of strings");
            continue;
        };
        let (Some(kid), Some(n), Some(e)) = (jwk.kid, jwk.n, jwk.e) else {
            continue;
        };
        if jwk.kty != "RSA"
            || jwk.use_.as_deref().is_some_and(|u| u != "sig")
            || jwk.alg.as_deref().is_some_and(|a| a != "RS256")
        {
            continue;
        }
        let modulus_len = URL_SAFE_NO_PAD
            .decode(n.as_bytes())
            .map(|bytes| bytes.iter().skip_while(|b| **b == 0).count())
            .unwrap_or(0);
        if modulus_len < MIN_RSA_MODULUS_BYTES {
            tracing::warn!(
                kid,
                "skipping an RSA key shorter than 2048 bits or badly encoded"
            );
            continue;
        }
        match DecodingKey::from_rsa_components(&n, &e) {
            Ok(key) => {
                keys.insert(kid, Arc::new(key));
            }
            Err(error) => tracing::warn!(kid, %error, "skipping an unparsable RSA key"),
        }
    }
    keys
}

/// `max-age` from `Cache-Control`; `no-store`/`no-cache` count as zero (then clamped to the minimum).
fn cache_max_age(headers: &HeaderMap) -> Option<Duration> {
    let mut max_age = None;
    for value in headers.get_all(CACHE_CONTROL) {
        let Ok(value) = value.to_str() else { continue };
        for directive in value.split(',') {
            let directive = directive.trim().to_ascii_lowercase();
            if directive == "no-store" || directive == "no-cache" {
                return Some(Duration::ZERO);
            }
            if let Some(secs) = directive.strip_prefix("max-age=")
                && let Ok(secs) = secs.trim_matches('"').parse::<u64>()
            {
                max_age = Some(Duration::from_secs(secs));
            }
        }
    }
    max_age
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(CACHE_CONTROL, HeaderValue::from_str(value).expect("header"));
        h
    }

    #[test]
    fn reads_max_age() {
        assert_eq!(
            cache_max_age(&headers("public, max-age=300")),
            Some(Duration::from_secs(300))
        );
        assert_eq!(
            cache_max_age(&headers("Max-Age=5")),
            Some(Duration::from_secs(5))
        );
        assert_eq!(cache_max_age(&headers("no-store")), Some(Duration::ZERO));
        assert_eq!(cache_max_age(&headers("public")), None);
        assert_eq!(cache_max_age(&HeaderMap::new()), None);
    }

    #[test]
    fn skips_keys_that_are_not_rs256_signing_keys() {
        let n = URL_SAFE_NO_PAD.encode([0xC5u8; 384]);
        let good = serde_json::json!({"kty": "RSA", "kid": "a", "use": "sig", "alg": "RS256", "n": n, "e": "AQAB"});
        let enc = serde_json::json!({"kty": "RSA", "kid": "b", "use": "enc", "n": n, "e": "AQAB"});
        let ps = serde_json::json!({"kty": "RSA", "kid": "c", "alg": "PS256", "n": n, "e": "AQAB"});
        let ec = serde_json::json!({"kty": "EC", "kid": "d", "crv": "P-256", "x": "AA", "y": "AA"});
        let no_kid = serde_json::json!({"kty": "RSA", "n": n, "e": "AQAB"});
        let short = serde_json::json!({"kty": "RSA", "kid": "f", "n": URL_SAFE_NO_PAD.encode([0xC5u8; 128]), "e": "AQAB"});
        let keys = usable_keys(&[good, enc, ps, ec, no_kid, short, serde_json::json!(42)]);
        assert_eq!(keys.keys().collect::<Vec<_>>(), vec!["a"]);
    }
}
