//! `/api/auth/*`: sign-up, sign-in, refresh, sign-out and the current user.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shared::extract::Json;
use shared::{FieldError, Problem};
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::config::SameSite as SameSiteSetting;
use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::password;
use crate::rate_limit::ClientIp;
use crate::sessions;
use crate::state::AppState;

/// Name of the HttpOnly cookie that carries the refresh token for browsers.
pub const REFRESH_COOKIE: &str = "refresh_token";
/// Path the cookie is scoped to: only refresh and sign-out need it, and both live here.
pub const COOKIE_PATH: &str = "/api/auth";
/// Request header by which a browser asks for the refresh token in the cookie only.
pub const TRANSPORT_HEADER: &str = "x-refresh-token-transport";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/auth/signup", post(signup))
        .route("/api/auth/signin", post(signin))
        .route("/api/auth/refresh", post(refresh))
        .route("/api/auth/signout", post(signout))
        .route("/api/auth/me", get(me))
        // RFC 6749 §5.1: responses carrying tokens must not be cached.
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::PRAGMA,
            HeaderValue::from_static("no-cache"),
        ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub name: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<db::users::UserRow> for User {
    fn from(r: db::users::UserRow) -> Self {
        Self {
            id: r.id,
            email: r.email,
            name: r.name,
            created_at: r.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Session {
    /// Absent on refresh.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
    pub access_token: String,
    /// Always `Bearer`.
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// The refresh token; `null` when the request asked for cookie-only delivery
    /// (`X-Refresh-Token-Transport: cookie`).
    pub refresh_token: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    #[schema(example = "ada@example.com")]
    pub email: String,
    /// 8–128 characters, not a common password.
    pub password: String,
    pub name: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SigninRequest {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// Optional when the refresh cookie is sent.
    pub refresh_token: Option<String>,
}

const MAX_EMAIL_CHARS: usize = 254;
const MAX_NAME_CHARS: usize = 100;

fn validate_email(raw: &str) -> Result<String, FieldError> {
    let email = raw.trim();
    let invalid = |msg: &str| FieldError::new("email", "invalid_email", msg);
    if email.is_empty() {
        return Err(invalid("Enter an email address."));
    }
    if email.chars().count() > MAX_EMAIL_CHARS {
        return Err(invalid("An email address has at most 254 characters."));
    }
    let Some((local, domain)) = email.rsplit_once('@') else {
        return Err(invalid(
            "Enter a valid email address, like name@example.com.",
        ));
    };
    let bad_char = |c: char| c.is_whitespace() || c.is_control();
    if local.is_empty()
        || local.len() > 64
        || domain.len() < 3
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
        || email.chars().any(bad_char)
    {
        return Err(invalid(
            "Enter a valid email address, like name@example.com.",
        ));
    }
    Ok(email.to_owned())
}

fn validate_name(raw: Option<&str>) -> Result<Option<String>, FieldError> {
    let Some(name) = raw.map(str::trim).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(FieldError::new(
            "name",
            "invalid_name",
            "Use at most 100 characters, without control characters.",
        ));
    }
    Ok(Some(name.to_owned()))
}

#[utoipa::path(post, path = "/api/auth/signup", tag = "auth", request_body = SignupRequest,
    params(("X-Refresh-Token-Transport" = Option<String>, Header, description = "`cookie`: deliver the refresh token only as an HttpOnly cookie")),
    responses(
        (status = 201, description = "Account created and signed in; sets the refresh cookie", body = Session),
        (status = 400, description = "Malformed JSON (`invalid_json`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Email already registered (`email_taken`)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 64 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields (`validation_failed`; `errors[].code`: `invalid_email`, `password_too_short`, `password_too_long`, `password_too_common`, `invalid_name`, `required`, `unknown_field`)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts from this address (`rate_limited`, `Retry-After`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable (`not_ready`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn signup(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    jar: CookieJar,
    Json(req): Json<SignupRequest>,
) -> ApiResult<impl IntoResponse> {
    state.limits.check_ip(ip)?;
    let mut errors = Vec::new();
    let email = validate_email(&req.email).map_err(|e| errors.push(e)).ok();
    let name = validate_name(req.name.as_deref())
        .map_err(|e| errors.push(e))
        .ok()
        .flatten();
    let password = req.password;
    // zxcvbn takes a few milliseconds on long inputs: keep it off the async workers too.
    let policy = {
        let pw = password.clone();
        tokio::task::spawn_blocking(move || password::check_policy(&pw))
            .await
            .map_err(anyhow::Error::from)?
    };
    if let Err(e) = policy {
        errors.push(e);
    }
    let Some(email) = email.filter(|_| errors.is_empty()) else {
        return Err(ApiError::Validation(errors));
    };

    let hash = state.hasher.hash(password).await?;
    let user_id = Uuid::now_v7();
    let mut tx = state.pool.begin().await?;
    let user = match db::users::insert(&mut *tx, user_id, &email, name.as_deref(), &hash).await {
        Ok(u) => u,
        Err(e) if db::violated_constraint(&e) == Some(db::users::EMAIL_UNIQUE) => {
            return Err(ApiError::EmailTaken);
        }
        Err(e) => return Err(e.into()),
    };
    let issued = start_session(&state, &mut *tx, user.id, &user.email).await?;
    tx.commit().await?;
    tracing::info!(user_id = %user.id, "user signed up");
    Ok((
        StatusCode::CREATED,
        respond(&state, &headers, jar, issued, Some(user.into())),
    ))
}

#[utoipa::path(post, path = "/api/auth/signin", tag = "auth", request_body = SigninRequest,
    params(("X-Refresh-Token-Transport" = Option<String>, Header, description = "`cookie`: deliver the refresh token only as an HttpOnly cookie")),
    responses(
        (status = 200, description = "Signed in; sets the refresh cookie", body = Session),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Wrong email or password (`invalid_credentials`), indistinguishable in body and timing", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing or unknown", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts for this address or email (`rate_limited`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn signin(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    jar: CookieJar,
    Json(req): Json<SigninRequest>,
) -> ApiResult<impl IntoResponse> {
    state.limits.check_ip(ip)?;
    let email = req.email.trim();
    state.limits.check_email(email)?;
    let found = if email.is_empty() || email.chars().count() > MAX_EMAIL_CHARS {
        None
    } else {
        db::users::credentials_by_email(&state.pool, email).await?
    };
    // Always one argon2 verification, against a dummy hash when the email is unknown.
    let verified = state
        .hasher
        .verify(
            req.password.clone(),
            found.as_ref().map(|c| c.password_hash.clone()),
        )
        .await?;
    let Some(creds) = found.filter(|_| verified.matched) else {
        return Err(ApiError::InvalidCredentials);
    };
    if verified.outdated {
        // Parameters were raised since this hash was made: upgrade it now that we know the password.
        match state.hasher.hash(req.password).await {
            Ok(h) => db::users::update_hash(&state.pool, creds.id, &h).await?,
            Err(e) => tracing::warn!(error = %e, "password rehash failed"),
        }
    }
    let issued = start_session(&state, &state.pool, creds.id, &creds.email).await?;
    let user = User {
        id: creds.id,
        email: creds.email,
        name: creds.name,
        created_at: creds.created_at,
    };
    Ok(respond(&state, &headers, jar, issued, Some(user)))
}

#[utoipa::path(post, path = "/api/auth/refresh", tag = "auth", request_body(content = Option<RefreshRequest>, description = "Optional when the refresh cookie is sent"),
    params(("X-Refresh-Token-Transport" = Option<String>, Header, description = "`cookie`: deliver the new refresh token only as an HttpOnly cookie")),
    responses(
        (status = 200, description = "Rotated: a new access token and a new refresh token (the old one is retired)", body = Session),
        (status = 401, description = "Missing, unknown, expired or revoked refresh token (`invalid_token`); a retired token reused after the grace window also revokes its session", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Cookie sent from an origin not in the allow-list (`forbidden`)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts (`rate_limited`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn refresh(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    jar: CookieJar,
    body: Bytes,
) -> ApiResult<impl IntoResponse> {
    state.limits.check_ip(ip)?;
    let Some(presented) = presented_refresh_token(&state, &headers, &jar, &body)? else {
        return Err(ApiError::InvalidToken);
    };
    if !sessions::looks_valid(&presented) {
        return Err(ApiError::InvalidToken);
    }
    let new = sessions::new_token()?;
    let outcome = db::sessions::rotate(
        &state.pool,
        &sessions::hash(&presented),
        &new.hash,
        state.settings.refresh_grace_secs,
    )
    .await?;
    let db::sessions::Rotation::Rotated {
        session_id,
        user_id,
        email,
    } = outcome
    else {
        return Err(ApiError::InvalidToken);
    };
    let access = state.settings.issuer.mint(
        &state.keys.current(),
        user_id,
        &email,
        session_id,
        Utc::now(),
    )?;
    Ok(respond(
        &state,
        &headers,
        jar,
        Issued {
            access,
            refresh: new.token,
        },
        None,
    ))
}

#[utoipa::path(post, path = "/api/auth/signout", tag = "auth", request_body(content = Option<RefreshRequest>, description = "Optional when the refresh cookie is sent"),
    responses(
        (status = 204, description = "The token's session is revoked (idempotent: also when it already was, or the token is unknown); the cookie is cleared"),
        (status = 403, description = "Cookie sent from an origin not in the allow-list", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn signout(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    body: Bytes,
) -> ApiResult<impl IntoResponse> {
    if let Some(token) = presented_refresh_token(&state, &headers, &jar, &body)?
        && sessions::looks_valid(&token)
        && db::sessions::revoke_by_token(&state.pool, &sessions::hash(&token)).await?
    {
        tracing::info!("session signed out");
    }
    Ok((StatusCode::NO_CONTENT, jar.remove(removal_cookie(&state))))
}

#[utoipa::path(get, path = "/api/auth/me", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 200, description = "The signed-in user", body = User),
        (status = 401, description = "Missing, invalid or expired bearer token, or its session was signed out (`invalid_token`, with `WWW-Authenticate`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn me(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<axum::Json<User>> {
    let token = bearer_token(&headers)?;
    let claims = state
        .settings
        .issuer
        .verify(&state.keys.current(), token)
        .ok_or(ApiError::InvalidToken)?;
    // Unlike the task-service, we can see revocation: a signed-out session's tokens stop here.
    let user = db::users::by_live_session(&state.pool, claims.sub, claims.sid)
        .await?
        .ok_or(ApiError::InvalidToken)?;
    Ok(axum::Json(user.into()))
}

/// RFC 6750 §2.1: `Authorization: Bearer <token>`, scheme case-insensitive. Never from the query.
fn bearer_token(headers: &HeaderMap) -> Result<&str, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(ApiError::MissingToken);
    };
    let value = value.to_str().map_err(|_| ApiError::InvalidToken)?;
    let (scheme, token) = value.split_once(' ').ok_or(ApiError::InvalidToken)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::MissingToken);
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(ApiError::InvalidToken);
    }
    Ok(token)
}

/// The refresh token from the JSON body, else from the cookie. A cookie only counts when the
/// request's `Origin` (if any) is one we trust: SameSite already blocks cross-site sends, this
/// also stops same-site but untrusted origins.
fn presented_refresh_token(
    state: &AppState,
    headers: &HeaderMap,
    jar: &CookieJar,
    body: &Bytes,
) -> ApiResult<Option<String>> {
    if !body.iter().all(u8::is_ascii_whitespace) {
        let is_json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .eq_ignore_ascii_case("application/json")
            });
        if !is_json {
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Send the body as application/json.",
            )
            .into());
        }
        let req: RefreshRequest = shared::extract::parse_json(body)?;
        if let Some(token) = req.refresh_token {
            return Ok(Some(token));
        }
    }
    let Some(cookie) = jar.get(REFRESH_COOKIE) else {
        return Ok(None);
    };
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok())
        && !state.settings.cors_origins.iter().any(|o| o == origin)
    {
        return Err(ApiError::Forbidden(
            "This origin may not use the refresh cookie.",
        ));
    }
    Ok(Some(cookie.value().to_owned()))
}

struct Issued {
    access: String,
    refresh: String,
}

async fn start_session(
    state: &AppState,
    ex: impl sqlx::PgExecutor<'_>,
    user_id: Uuid,
    email: &str,
) -> ApiResult<Issued> {
    let session_id = Uuid::now_v7();
    let token = sessions::new_token()?;
    let expires_at = Utc::now() + state.settings.refresh_ttl;
    db::sessions::create(ex, session_id, user_id, expires_at, &token.hash).await?;
    let access = state.settings.issuer.mint(
        &state.keys.current(),
        user_id,
        email,
        session_id,
        Utc::now(),
    )?;
    Ok(Issued {
        access,
        refresh: token.token,
    })
}

fn respond(
    state: &AppState,
    headers: &HeaderMap,
    jar: CookieJar,
    issued: Issued,
    user: Option<User>,
) -> impl IntoResponse + use<> {
    let cookie_only = headers
        .get(TRANSPORT_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("cookie"));
    let jar = jar.add(refresh_cookie(state, issued.refresh.clone()));
    let body = Session {
        user,
        access_token: issued.access,
        token_type: "Bearer",
        expires_in: state.settings.issuer.ttl.num_seconds().unsigned_abs(),
        refresh_token: (!cookie_only).then_some(issued.refresh),
    };
    (jar, axum::Json(body))
}

fn same_site(s: SameSiteSetting) -> SameSite {
    match s {
        SameSiteSetting::Strict => SameSite::Strict,
        SameSiteSetting::Lax => SameSite::Lax,
        SameSiteSetting::None => SameSite::None,
    }
}

fn refresh_cookie(state: &AppState, value: String) -> Cookie<'static> {
    let max_age = time_duration(state.settings.refresh_ttl);
    Cookie::build((REFRESH_COOKIE, value))
        .http_only(true)
        .secure(state.settings.cookie_secure)
        .same_site(same_site(state.settings.cookie_samesite))
        .path(COOKIE_PATH)
        .max_age(max_age)
        .build()
}

fn removal_cookie(state: &AppState) -> Cookie<'static> {
    Cookie::build((REFRESH_COOKIE, ""))
        .http_only(true)
        .secure(state.settings.cookie_secure)
        .same_site(same_site(state.settings.cookie_samesite))
        .path(COOKIE_PATH)
        .build()
}

fn time_duration(d: std::time::Duration) -> time::Duration {
    time::Duration::seconds(i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_shape_checked() {
        assert_eq!(
            validate_email("  Ada@Example.com ").expect("valid"),
            "Ada@Example.com"
        );
        for bad in [
            "",
            "no-at-sign",
            "@example.com",
            "a@b",
            "a b@example.com",
            "a@.com",
            "a@example.",
        ] {
            assert_eq!(
                validate_email(bad).map_err(|e| e.code),
                Err("invalid_email".to_owned()),
                "{bad:?}"
            );
        }
        assert!(validate_email(&format!("{}@example.com", "a".repeat(250))).is_err());
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        let mut h = HeaderMap::new();
        assert!(matches!(bearer_token(&h), Err(ApiError::MissingToken)));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bEaReR abc.def.ghi"),
        );
        assert_eq!(bearer_token(&h).ok(), Some("abc.def.ghi"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert!(matches!(bearer_token(&h), Err(ApiError::MissingToken)));
    }
}
