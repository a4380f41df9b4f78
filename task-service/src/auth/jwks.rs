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
//! - Keys travel over https, or plain http only to loopback (or anywhere when the operator says the
//!   network is private); a redirect may not step down from https to http. Whoever can rewrite the
//!   JWKS in flight can mint any token we would accept.
//! - Keeping keys through an outage has a limit: after `max_stale` without a successful fetch the
//!   cache fails closed (not ready: 503), since a key the issuer revoked in the meantime would
//!   otherwise be trusted for as long as the outage — or an attacker blocking the fetch — lasts.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
    /// Keys not refreshed successfully for this long are no longer trusted (fail closed). At least
    /// `max_refresh`, or keys would go stale between scheduled refreshes.
    pub max_stale: Duration,
    /// Plain `http://` to hosts other than loopback (a private network such as compose's).
    pub allow_http: bool,
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
            max_stale: Duration::from_secs(86_400),
            allow_http: false,
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
    /// The clock that `fetched_at_ms` counts from.
    started: Instant,
    /// Milliseconds after `started` of the last successful fetch, plus one (0: never).
    fetched_at_ms: AtomicU64,
    /// Whether the keys' going stale has been logged (once per episode, not per request).
    stale_logged: AtomicBool,
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
        let (what, url) = match &settings.source {
            KeySource::Discovery { issuer } => ("AUTH_ISSUER", issuer),
            KeySource::JwksUrl(url) => ("JWKS_URL", url),
        };
        if let Some(reason) = shared::loopback::fetch_url_refusal(url, settings.allow_http) {
            anyhow::bail!("{what} {url:?} {reason}");
        }
        if settings.max_stale < settings.max_refresh {
            anyhow::bail!(
                "JWKS_MAX_STALE_SECS ({}) must be at least JWKS_MAX_REFRESH_SECS ({}): keys would go stale between refreshes",
                settings.max_stale.as_secs(),
                settings.max_refresh.as_secs()
            );
        }
        let allow_http = settings.allow_http;
        let client = reqwest::Client::builder()
            .timeout(settings.http_timeout)
            .connect_timeout(settings.http_timeout)
            // The discovered URL is trusted, redirects from it are not followed blindly: a few
            // hops, never from https down to http, and each hop under the same URL rule.
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                let refusal = match attempt.previous().last() {
                    _ if attempt.previous().len() > 3 => Some("too many redirects"),
                    Some(from) => redirect_refusal(from, attempt.url(), allow_http),
                    None => None,
                };
                match refusal {
                    Some(reason) => attempt.error(reason),
                    None => attempt.follow(),
                }
            }))
            .user_agent(concat!("task-service/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let inner = Arc::new(Inner {
            settings,
            client,
            keys: RwLock::new(Arc::new(HashMap::new())),
            started: Instant::now(),
            fetched_at_ms: AtomicU64::new(0),
            stale_logged: AtomicBool::new(false),
            discovered_uri: Mutex::new(None),
            fetch_lock: tokio::sync::Mutex::new(()),
            last_on_demand: tokio::sync::Mutex::new(None),
        });
        tokio::spawn(refresh_loop(Arc::downgrade(&inner)));
        Ok(Self { inner })
    }

    /// Whether at least one usable key has been fetched, recently enough to be trusted.
    pub fn is_ready(&self) -> bool {
        self.inner.is_fresh() && !self.snapshot().is_empty()
    }

    /// The key with this `kid`, if the last successful fetch listed it and is not too old.
    pub fn key(&self, kid: &str) -> Option<Arc<DecodingKey>> {
        if !self.inner.is_fresh() {
            return None;
        }
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
        if let Err(error) = self.inner.fetch("unknown_kid").await {
            tracing::warn!(%error, "refetching signing keys for an unknown kid failed");
        }
        self.key(kid)
    }

    /// Fetches the key set now. Returns how long it may be cached.
    pub async fn refresh(&self) -> Result<Duration, FetchError> {
        self.inner.fetch("manual").await
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
        let wait = match strong.fetch("schedule").await {
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

    fn millis_since_start(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Whether the last successful fetch is within `max_stale`. The first time it is not, says so
    /// in the log (once, however many requests find out).
    fn is_fresh(&self) -> bool {
        let fetched = self.fetched_at_ms.load(Ordering::Acquire);
        if fetched == 0 {
            return true; // Never fetched: "not ready" already, for an empty set.
        }
        let age = Duration::from_millis(self.millis_since_start().saturating_sub(fetched - 1));
        if age <= self.settings.max_stale {
            return true;
        }
        if !self.stale_logged.swap(true, Ordering::AcqRel) {
            tracing::error!(
                last_success_secs_ago = age.as_secs(),
                max_stale_secs = self.settings.max_stale.as_secs(),
                "signing keys could not be refreshed for longer than JWKS_MAX_STALE_SECS: refusing to \
                 verify tokens (503 not_ready) until the issuer answers again"
            );
        }
        false
    }

    fn record_success(&self) {
        self.fetched_at_ms.store(
            self.millis_since_start().saturating_add(1),
            Ordering::Release,
        );
        if self.stale_logged.swap(false, Ordering::AcqRel) {
            tracing::warn!("signing keys refreshed again: verifying tokens once more");
        }
    }

    /// [`Inner::fetch_now`], counted for the metrics (`trigger`: what asked for it).
    async fn fetch(&self, trigger: &'static str) -> Result<Duration, FetchError> {
        let result = self.fetch_now().await;
        metrics::counter!("task_jwks_refreshes_total", "trigger" => trigger).increment(1);
        if result.is_err() {
            metrics::counter!("task_jwks_refresh_failures_total", "trigger" => trigger)
                .increment(1);
        }
        result
    }

    async fn fetch_now(&self) -> Result<Duration, FetchError> {
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
                drop(slot);
                self.record_success();
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
        if let Some(reason) =
            shared::loopback::fetch_url_refusal(&metadata.jwks_uri, self.settings.allow_http)
        {
            return Err(FetchError::Document {
                url,
                reason: format!("jwks_uri {:?} {reason}", metadata.jwks_uri),
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

/// Why a redirect from `from` to `to` is not followed, if it is not: https never steps down to
/// http (that would hand the key set to anyone on the path), and every hop must itself be a URL
/// we would fetch.
fn redirect_refusal(
    from: &reqwest::Url,
    to: &reqwest::Url,
    allow_http: bool,
) -> Option<&'static str> {
    if from.scheme() == "https" && to.scheme() != "https" {
        return Some("redirect from https to a non-https URL refused");
    }
    shared::loopback::fetch_url_refusal(to.as_str(), allow_http)
        .map(|_| "redirect to a URL that may not be fetched refused")
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
    fn redirects_never_step_down_from_https() {
        let url = |s: &str| reqwest::Url::parse(s).expect("url");
        let https = url("https://auth.example.com/.well-known/jwks.json");
        for allow_http in [false, true] {
            assert!(
                redirect_refusal(&https, &url("http://auth.example.com/jwks"), allow_http)
                    .is_some()
            );
            assert!(redirect_refusal(&https, &url("http://127.0.0.1/jwks"), allow_http).is_some());
            assert_eq!(
                redirect_refusal(&https, &url("https://keys.example.com/jwks"), allow_http),
                None
            );
        }
        let local = url("http://127.0.0.1:8081/jwks");
        assert_eq!(
            redirect_refusal(&local, &url("http://localhost:8081/jwks"), false),
            None
        );
        assert!(redirect_refusal(&local, &url("http://auth-service/jwks"), false).is_some());
        assert_eq!(
            redirect_refusal(&local, &url("http://auth-service/jwks"), true),
            None
        );
        assert!(redirect_refusal(&local, &url("file:///etc/passwd"), true).is_some());
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
