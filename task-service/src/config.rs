//! Configuration: one typed struct parsed once at start-up from environment variables, each with a
//! `--flag` twin. With only `DATABASE_URL` set the service listens on 127.0.0.1:8082 and trusts the
//! auth-service at http://localhost:8081, which is what local development needs.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use secrecy::SecretString;
use shared::settings::{BaseCommand, DbArgs, HttpArgs, LogArgs};

/// Everything the server needs, parsed once. Tests start from [`Config::for_database`] and
/// override fields.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "task-service",
    version,
    about = "Per-user tasks behind access tokens verified against the auth-service's JWKS."
)]
pub struct Config {
    #[command(subcommand)]
    pub command: Option<BaseCommand>,

    #[command(flatten)]
    pub db: DbArgs,

    #[command(flatten)]
    pub http: HttpArgs,

    #[command(flatten)]
    pub log: LogArgs,

    /// Address to listen on.
    #[arg(
        long = "bind",
        env = "TASK_SERVICE_BIND",
        default_value = "127.0.0.1:8082"
    )]
    pub bind: SocketAddr,

    /// The auth-service's issuer URL: tokens must carry it as `iss`, and (unless JWKS_URL is set)
    /// its `/.well-known/openid-configuration` names the JWKS.
    #[arg(long, env = "AUTH_ISSUER", default_value = "http://localhost:8081")]
    pub auth_issuer: String,

    /// Fetch signing keys from this URL instead of discovering `jwks_uri` from the issuer (for when
    /// the issuer URL is not reachable from this network, e.g. inside docker compose).
    #[arg(long, env = "JWKS_URL")]
    pub jwks_url: Option<String>,

    /// The audience tokens must be issued for (`aud`).
    #[arg(long, env = "AUDIENCE", default_value = "task-service")]
    pub audience: String,

    /// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.
    #[arg(long, env = "TOKEN_LEEWAY_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(0..=300))]
    pub token_leeway_secs: u64,

    /// Lower bound on how often signing keys are refetched, whatever `Cache-Control` says (seconds).
    #[arg(long, env = "JWKS_MIN_REFRESH_SECS", default_value_t = 60)]
    pub jwks_min_refresh_secs: u64,

    /// Upper bound on how long fetched signing keys are used before refetching (seconds).
    #[arg(long, env = "JWKS_MAX_REFRESH_SECS", default_value_t = 3600)]
    pub jwks_max_refresh_secs: u64,

    /// A token with an unknown `kid` triggers at most one refetch per this many seconds.
    #[arg(long, env = "JWKS_UNKNOWN_KID_COOLDOWN_SECS", default_value_t = 30)]
    pub jwks_unknown_kid_cooldown_secs: u64,

    /// Signing keys not refreshed successfully for this many seconds are no longer trusted:
    /// protected routes and /readyz answer 503 until the issuer answers again. At least
    /// JWKS_MAX_REFRESH_SECS.
    #[arg(long, env = "JWKS_MAX_STALE_SECS", default_value_t = 86_400, value_parser = clap::value_parser!(u64).range(1..))]
    pub jwks_max_stale_secs: u64,

    /// Allow plain-http issuer and JWKS URLs to hosts other than loopback. Only on a private
    /// network no one else can reach (such as compose's); anywhere else use https.
    #[arg(long, env = "ALLOW_HTTP_JWKS", default_value_t = false, action = clap::ArgAction::Set)]
    pub allow_http_jwks: bool,

    /// Tasks one user may hold; creating another answers 422 `task_quota_exceeded`.
    #[arg(long, env = "MAX_TASKS_PER_USER", default_value_t = 10_000, value_parser = clap::value_parser!(i64).range(1..=100_000_000))]
    pub max_tasks_per_user: i64,

    /// Most tasks a compatibility list (`GET /api/{user_id}/tasks`) returns; a longer one is cut
    /// and answered with `X-List-Truncated: true`.
    #[arg(long, env = "COMPAT_LIST_MAX", default_value_t = 1000, value_parser = clap::value_parser!(i64).range(1..=100_000))]
    pub compat_list_max: i64,

    /// The auth-service's revocation feed (ended sessions, deleted accounts). Default:
    /// `{AUTH_ISSUER}/api/internal/revocations`.
    #[arg(long, env = "REVOCATIONS_URL")]
    pub revocations_url: Option<String>,

    /// How often the revocation feed is pulled, in milliseconds: an ended session's access
    /// tokens are refused within about this long.
    #[arg(long, env = "REVOCATION_POLL_MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(100..=60_000))]
    pub revocation_poll_ms: u64,

    /// Bearer key for the revocation feed, when the auth-service requires one.
    #[arg(long, env = "INTERNAL_API_KEY", hide_env_values = true)]
    pub internal_api_key: Option<SecretString>,
}

/// The bounds on what one user can make the service hold or load (from [`Config`]).
#[derive(Debug, Clone, Copy)]
pub struct TaskLimits {
    pub max_tasks_per_user: i64,
    pub compat_list_max: i64,
}

impl Config {
    /// Defaults for tests and embedding: every field as if only `DATABASE_URL` were set.
    pub fn for_database(url: &str) -> Self {
        let mut config = Config::parse_from(["task-service"]);
        config.db.database_url = Some(SecretString::from(url.to_owned()));
        config
    }

    pub fn jwks_settings(&self) -> crate::auth::JwksSettings {
        let source = match &self.jwks_url {
            Some(url) => crate::auth::KeySource::JwksUrl(url.clone()),
            None => crate::auth::KeySource::Discovery {
                issuer: self.auth_issuer.clone(),
            },
        };
        crate::auth::JwksSettings {
            min_refresh: Duration::from_secs(self.jwks_min_refresh_secs),
            max_refresh: Duration::from_secs(
                self.jwks_max_refresh_secs.max(self.jwks_min_refresh_secs),
            ),
            unknown_kid_cooldown: Duration::from_secs(self.jwks_unknown_kid_cooldown_secs),
            max_stale: Duration::from_secs(self.jwks_max_stale_secs),
            allow_http: self.allow_http_jwks,
            ..crate::auth::JwksSettings::new(source)
        }
    }

    pub fn task_limits(&self) -> TaskLimits {
        TaskLimits {
            max_tasks_per_user: self.max_tasks_per_user,
            compat_list_max: self.compat_list_max,
        }
    }

    pub fn feed_settings(&self) -> anyhow::Result<crate::revocation_feed::FeedSettings> {
        let url = self.revocations_url.clone().unwrap_or_else(|| {
            format!(
                "{}/api/internal/revocations",
                self.auth_issuer.trim_end_matches('/')
            )
        });
        if let Some(why) = shared::loopback::fetch_url_refusal(&url, self.allow_http_jwks) {
            anyhow::bail!("REVOCATIONS_URL {url} {why}");
        }
        Ok(crate::revocation_feed::FeedSettings {
            url,
            interval: Duration::from_millis(self.revocation_poll_ms),
            api_key: self.internal_api_key.clone(),
            http_timeout: Duration::from_secs(2),
        })
    }

    pub fn token_rules(&self) -> crate::auth::TokenRules {
        crate::auth::TokenRules {
            issuer: self.auth_issuer.clone(),
            audience: self.audience.clone(),
            leeway: Duration::from_secs(self.token_leeway_secs),
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn every_setting_is_documented_in_the_readme_and_env_example() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        shared::testing::assert_settings_documented(&super::Config::command(), "tasks", &root);
    }
}
