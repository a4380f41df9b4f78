//! Configuration: parsed once at start-up from environment variables (each with a `--flag` twin).

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use secrecy::SecretString;
use shared::settings::{BaseCommand, DbArgs, HttpArgs, LogArgs};

use crate::client_ip::TrustedProxies;

#[derive(Debug, Clone, Parser)]
#[command(
    name = "auth-service",
    version,
    about = "Signs users up and in; issues RS256 access tokens and publishes its JWKS."
)]
pub struct Config {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub db: DbArgs,

    #[command(flatten)]
    pub http: HttpArgs,

    #[command(flatten)]
    pub log: LogArgs,

    /// Address to listen on.
    #[arg(long, env = "AUTH_SERVICE_BIND", default_value = "127.0.0.1:8081")]
    pub bind: SocketAddr,

    /// Issuer URL: the `iss` claim and the base of the discovery document's URLs.
    #[arg(long, env = "ISSUER", default_value = "http://localhost:8081")]
    pub issuer: String,

    /// Audience (`aud`) written into access tokens: the task-service's identifier.
    #[arg(long, env = "AUDIENCE", default_value = "task-service")]
    pub audience: String,

    /// Access-token lifetime in seconds.
    #[arg(long, env = "ACCESS_TOKEN_TTL", default_value_t = 900, value_parser = clap::value_parser!(u64).range(30..=86_400))]
    pub access_token_ttl: u64,

    /// Absolute lifetime of a refresh session (a sign-in) in seconds; rotation never extends it.
    #[arg(long, env = "REFRESH_TOKEN_TTL", default_value_t = 2_592_000, value_parser = clap::value_parser!(u64).range(60..=31_536_000))]
    pub refresh_token_ttl: u64,

    /// Seconds after a rotation during which the retired refresh token is still honoured
    /// (two tabs refreshing at once). Reuse after it revokes the whole session.
    #[arg(long, env = "REFRESH_REUSE_GRACE", default_value_t = 10, value_parser = clap::value_parser!(u64).range(0..=120))]
    pub refresh_reuse_grace: u64,

    /// Mark the refresh cookie `Secure` (and name it `__Secure-refresh_token`). `auto`: on unless
    /// ISSUER is a plain-http loopback URL (local development, where browsers would drop it).
    #[arg(long, env = "COOKIE_SECURE", value_enum, default_value_t = CookieSecure::Auto)]
    pub cookie_secure: CookieSecure,

    /// SameSite attribute of the refresh cookie. `none` requires a Secure cookie.
    #[arg(long, env = "COOKIE_SAMESITE", value_enum, default_value_t = SameSite::Strict)]
    pub cookie_samesite: SameSite,

    /// Key-encryption keys for signing keys at rest: comma-separated base64 32-byte keys. The
    /// first encrypts; all decrypt (list the old one second while rotating). Required unless
    /// ISSUER is a loopback URL or ALLOW_PLAINTEXT_KEYS=true.
    #[arg(long, env = "KEY_ENCRYPTION_KEYS", hide_env_values = true)]
    pub key_encryption_keys: Option<SecretString>,

    /// Start without KEY_ENCRYPTION_KEYS although ISSUER is not a loopback URL, storing signing
    /// keys unencrypted: anyone holding a database backup can then forge tokens.
    #[arg(long, env = "ALLOW_PLAINTEXT_KEYS", default_value_t = false, action = clap::ArgAction::Set)]
    pub allow_plaintext_keys: bool,

    /// RSA modulus size for new signing keys.
    #[arg(long, env = "RSA_KEY_BITS", default_value_t = 3072, value_parser = parse_rsa_bits)]
    pub rsa_key_bits: u32,

    /// Days a signing key signs before a successor takes over (0: never rotate automatically).
    #[arg(long, env = "KEY_ROTATION_DAYS", default_value_t = 90)]
    pub key_rotation_days: u32,

    /// JWKS `Cache-Control: max-age` in seconds; a new key is published this long before it signs.
    #[arg(long, env = "JWKS_MAX_AGE", default_value_t = 300, value_parser = clap::value_parser!(u64).range(0..=86_400))]
    pub jwks_max_age: u64,

    /// Seconds between a replica's key checks (rotation due, keys another replica or
    /// `keys rotate` created). A successor is published this long plus JWKS_MAX_AGE before it
    /// signs, so every replica serves it for a whole JWKS cache lifetime first.
    #[arg(long, env = "KEY_CHECK_INTERVAL", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3_600))]
    pub key_check_interval: u64,

    /// Argon2id memory cost in KiB (OWASP: 19456 with t=2, p=1 at minimum).
    #[arg(long, env = "ARGON2_MEMORY_KIB", default_value_t = 19_456, value_parser = clap::value_parser!(u32).range(19_456..=1_048_576))]
    pub argon2_memory_kib: u32,

    /// Argon2id iterations.
    #[arg(long, env = "ARGON2_ITERATIONS", default_value_t = 2, value_parser = clap::value_parser!(u32).range(2..=20))]
    pub argon2_iterations: u32,

    /// Argon2id lanes.
    #[arg(long, env = "ARGON2_PARALLELISM", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=16))]
    pub argon2_parallelism: u32,

    /// Password hashes computed at once (0: the CPU count). Each holds ARGON2_MEMORY_KIB, so this
    /// bounds memory under a burst; more than the cores adds memory, not throughput.
    #[arg(long, env = "MAX_CONCURRENT_HASHES", default_value_t = 0)]
    pub max_concurrent_hashes: usize,

    /// Attempts per client IP (IPv6: per /64) per minute at sign-up, sign-in, refresh, password
    /// change and account deletion, shared by every replica (0: off).
    #[arg(long, env = "RATE_LIMIT_PER_IP", default_value_t = 60)]
    pub rate_limit_per_ip: u32,

    /// Sign-in attempts per account (email address) per minute, shared by every replica (0: off).
    #[arg(long, env = "RATE_LIMIT_PER_EMAIL", default_value_t = 10)]
    pub rate_limit_per_email: u32,

    /// Sign-in attempts per minute from a browser that signed in to that account before (its
    /// device cookie): its own budget, so an attack on the account cannot lock its owner out.
    #[arg(long, env = "RATE_LIMIT_PER_DEVICE", default_value_t = 10)]
    pub rate_limit_per_device: u32,

    /// Networks of your reverse proxies (comma-separated CIDRs or addresses). Only a request
    /// from one of them has its client IP taken from `Forwarded` / `X-Forwarded-For` (the
    /// right-most hop that is not itself a trusted proxy). Unset: the socket address, always.
    #[arg(long, env = "TRUSTED_PROXIES")]
    pub trusted_proxies: Option<TrustedProxies>,

    /// SMTP server for outgoing mail: `smtp://host:port` (plain, e.g. a local sink),
    /// `smtp://user:pass@host:587?tls=required` (STARTTLS) or `smtps://user:pass@host` (TLS).
    /// Unset: mail is written to the log at INFO instead (development only).
    #[arg(long, env = "SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<SecretString>,

    /// Sender of outgoing mail.
    #[arg(long, env = "MAIL_FROM", default_value = "Tasks <no-reply@localhost>")]
    pub mail_from: String,

    /// The web app's address: verification and reset links point at {WEB_URL}/verify-email and
    /// {WEB_URL}/reset-password.
    #[arg(long, env = "WEB_URL", default_value = "http://localhost:3000")]
    pub web_url: String,

    /// Milliseconds between the mail sender's looks at the outbox.
    #[arg(long, env = "MAIL_POLL_MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(50..=60_000))]
    pub mail_poll_ms: u64,

    /// Refuse sign-in (403 `email_not_verified`) until the address is verified.
    #[arg(long, env = "REQUIRE_VERIFIED_EMAIL", default_value_t = false, action = clap::ArgAction::Set)]
    pub require_verified_email: bool,

    /// Days the security events (`GET /api/auth/events`) are kept.
    #[arg(long, env = "EVENT_RETENTION_DAYS", default_value_t = 180, value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub event_retention_days: u32,

    /// Seconds a session may go unused (no refresh) before it ends (14 days), besides its
    /// absolute lifetime REFRESH_TOKEN_TTL.
    #[arg(long, env = "SESSION_IDLE_TTL", default_value_t = 1_209_600, value_parser = clap::value_parser!(u64).range(60..=31_536_000))]
    pub session_idle_ttl: u64,

    /// Bearer key other services must present to read the revocation feed
    /// (`/api/internal/revocations`). Unset: the feed is open (it holds only opaque ids).
    #[arg(long, env = "INTERNAL_API_KEY", hide_env_values = true)]
    pub internal_api_key: Option<SecretString>,

    /// The name users see in their authenticator app (the TOTP issuer) and in passkey prompts
    /// (the WebAuthn relying party's name).
    #[arg(long, env = "APP_NAME", default_value = "Tasks")]
    pub app_name: String,

    /// WebAuthn relying party id: the registrable domain passkeys are bound to (the web app's host
    /// or a parent of it). Changing it orphans every passkey registered before.
    #[arg(long, env = "WEBAUTHN_RP_ID", default_value = "localhost")]
    pub webauthn_rp_id: String,

    /// The web app's origin, as the browser reports it in passkey ceremonies.
    #[arg(long, env = "WEBAUTHN_ORIGIN", default_value = "http://localhost:3000")]
    pub webauthn_origin: url::Url,
}

/// `COOKIE_SECURE`: `true`, `false`, or decided by the issuer URL.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum CookieSecure {
    Auto,
    True,
    False,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum SameSite {
    Strict,
    Lax,
    None,
}

fn parse_rsa_bits(s: &str) -> Result<u32, String> {
    match s.parse::<u32>() {
        Ok(b @ (2048 | 3072 | 4096)) => Ok(b),
        _ => Err("must be 2048, 3072 or 4096 (3072 recommended)".to_owned()),
    }
}

/// What the binary does: serve (the default), probe, or administer signing keys.
#[derive(Debug, Clone, Subcommand, PartialEq, Eq)]
pub enum Command {
    #[command(flatten)]
    Base(BaseCommand),
    /// Signing keys, in the database DATABASE_URL names (as the service uses it).
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Debug, Clone, Copy, Subcommand, PartialEq, Eq)]
pub enum KeysCommand {
    /// Every signing key: kid, state (next, signing, retired, gone), created, activates, retires.
    List,
    /// Publish a successor now; it signs once JWKS_MAX_AGE has passed, when the current key
    /// retires (it stays published until the tokens it signed have expired). Running replicas
    /// pick it up within KEY_CHECK_INTERVAL; no request fails.
    Rotate,
}

impl Config {
    /// What to run besides serving: `None` for `keys` (handled before the server starts).
    pub fn base_command(&self) -> Option<&BaseCommand> {
        match &self.command {
            Some(Command::Base(base)) => Some(base),
            _ => None,
        }
    }

    /// Defaults for tests and embedding: every field as if only `database_url` were set.
    pub fn for_database(url: &str) -> Self {
        let mut c = Config::parse_from(["auth-service"]);
        c.db.database_url = Some(SecretString::from(url.to_owned()));
        c
    }

    pub fn access_ttl(&self) -> Duration {
        Duration::from_secs(self.access_token_ttl)
    }

    /// Whether the refresh cookie is `Secure`: `auto` means yes unless the issuer is plain http
    /// on loopback, the one place a browser talks to us without TLS and that is still safe.
    pub fn cookie_is_secure(&self) -> bool {
        match self.cookie_secure {
            CookieSecure::True => true,
            CookieSecure::False => false,
            CookieSecure::Auto => !shared::loopback::is_loopback_http(&self.issuer),
        }
    }
}
