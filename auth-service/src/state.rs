//! Application state: built once at start-up, cheap to clone (one `Arc`), shared by every handler.

use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderName;
use shared::http::HttpSettings;
use sqlx::PgPool;

use crate::config::{Config, SameSite};
use crate::kek::KekRing;
use crate::password::{HashParams, Hasher};
use crate::rate_limit::Limits;
use crate::signing::{KeyPolicy, Keys};
use crate::tokens::Issuer;

#[derive(Clone, Debug)]
pub struct AppState(Arc<Inner>);

#[derive(Debug)]
pub struct Inner {
    pub pool: PgPool,
    pub keys: Keys,
    pub hasher: Hasher,
    pub limits: Limits,
    /// The passkey relying party (`WEBAUTHN_RP_ID`, `WEBAUTHN_ORIGIN`).
    pub webauthn: crate::passkey::RelyingParty,
    pub mail: crate::mail::MailSettings,
    /// Whose `Forwarded` / `X-Forwarded-For` to believe (`TRUSTED_PROXIES`).
    pub proxies: crate::client_ip::TrustedProxies,
    pub settings: Settings,
    /// CORS and request limits, for the router's layers and the refresh cookie's origin check.
    pub http: HttpSettings,
}

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issuer")
            .field("iss", &self.iss)
            .field("aud", &self.aud)
            .finish()
    }
}

#[derive(Debug)]
pub struct Settings {
    pub issuer: Issuer,
    pub refresh_ttl: Duration,
    pub refresh_grace_secs: u64,
    pub cookie_secure: bool,
    pub cookie_samesite: SameSite,
    pub jwks_max_age: u64,
    /// Seconds between key checks (`KEY_CHECK_INTERVAL`).
    pub key_check_secs: u64,
    pub event_retention_days: u32,
    pub require_verified_email: bool,
    /// A session unused this long has ended.
    pub session_idle_secs: u64,
    /// The bearer key of the revocation feed, if it needs one (a secret: `Debug` redacts it).
    pub internal_api_key: Option<secrecy::SecretString>,
    /// The name in authenticator apps and passkey prompts (`APP_NAME`).
    pub app_name: String,
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Loads (or creates) signing keys and prepares the hasher. The pool must already be migrated.
    pub async fn build(config: &Config, pool: PgPool) -> anyhow::Result<Self> {
        let (keks, policy) = key_settings(config)?;
        let keys = Keys::load(&pool, keks, policy).await?;
        crate::second_factor::reseal_all(&pool, keys.keks()).await?;
        let hasher = Hasher::new(
            HashParams {
                memory_kib: config.argon2_memory_kib,
                iterations: config.argon2_iterations,
                parallelism: config.argon2_parallelism,
            },
            config.max_concurrent_hashes,
        )?;
        let cookie_secure = config.cookie_is_secure();
        if config.cookie_samesite == SameSite::None && !cookie_secure {
            anyhow::bail!(
                "COOKIE_SAMESITE=none requires a Secure cookie (COOKIE_SECURE=true, or auto with an https ISSUER); browsers drop such cookies otherwise"
            );
        }
        let settings = Settings {
            issuer: Issuer {
                iss: config.issuer.trim_end_matches('/').to_owned(),
                aud: config.audience.clone(),
                ttl: chrono::Duration::seconds(i64::try_from(config.access_token_ttl)?),
            },
            refresh_ttl: Duration::from_secs(config.refresh_token_ttl),
            refresh_grace_secs: config.refresh_reuse_grace,
            cookie_secure,
            cookie_samesite: config.cookie_samesite,
            jwks_max_age: config.jwks_max_age,
            key_check_secs: config.key_check_interval,
            event_retention_days: config.event_retention_days,
            require_verified_email: config.require_verified_email,
            session_idle_secs: config.session_idle_ttl,
            internal_api_key: config
                .internal_api_key
                .as_ref()
                .filter(|k| !secrecy::ExposeSecret::expose_secret(*k).is_empty())
                .cloned(),
            app_name: config.app_name.clone(),
        };
        let limits = Limits::new(
            config.rate_limit_per_ip,
            config.rate_limit_per_email,
            config.rate_limit_per_device,
        );
        Ok(Self(Arc::new(Inner {
            pool,
            keys,
            hasher,
            limits,
            webauthn: crate::passkey::RelyingParty::new(config)?,
            proxies: config.trusted_proxies.clone().unwrap_or_default(),
            mail: crate::mail::MailSettings {
                smtp_url: config.smtp_url.clone(),
                from: config.mail_from.parse().map_err(|e| {
                    anyhow::anyhow!("MAIL_FROM ({}) is not a mailbox: {e}", config.mail_from)
                })?,
                web_url: config.web_url.trim_end_matches('/').to_owned(),
                poll: Duration::from_millis(config.mail_poll_ms),
            },
            settings,
            http: config.http.http_settings(vec![HeaderName::from_static(
                crate::routes::auth::TRANSPORT_HEADER,
            )])?,
        })))
    }
}

/// The key-encryption keys and the key policy, from the configuration (the service and the
/// `keys` subcommands read them alike).
pub fn key_settings(config: &Config) -> anyhow::Result<(KekRing, KeyPolicy)> {
    let keks = KekRing::parse(config.key_encryption_keys.as_ref())?;
    require_kek_unless_local(config, &keks)?;
    let policy = KeyPolicy {
        rsa_bits: config.rsa_key_bits,
        rotation: (config.key_rotation_days > 0)
            .then(|| Duration::from_secs(u64::from(config.key_rotation_days) * 86_400)),
        publish_ahead: Duration::from_secs(config.jwks_max_age + config.key_check_interval),
        // A retired key must verify every token it signed, plus clock leeway.
        publish_after: config.access_ttl() + Duration::from_secs(120),
    };
    Ok((keks, policy))
}

/// Unsealed signing keys are readable by anyone with a database backup, who can then forge any
/// user's tokens: only a loopback issuer (a developer's machine) or an explicit opt-out may run so.
fn require_kek_unless_local(config: &Config, keks: &KekRing) -> anyhow::Result<()> {
    if !keks.is_empty()
        || config.allow_plaintext_keys
        || shared::loopback::is_loopback(&config.issuer)
    {
        return Ok(());
    }
    anyhow::bail!(
        "KEY_ENCRYPTION_KEYS is not set and ISSUER ({}) is not a loopback URL: signing keys would be \
         stored unencrypted. Set KEY_ENCRYPTION_KEYS (`openssl rand -base64 32`), or \
         ALLOW_PLAINTEXT_KEYS=true to accept that risk",
        config.issuer
    )
}
