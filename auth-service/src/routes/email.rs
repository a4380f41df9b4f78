//! Email verification and password reset (API.md, "Email: verification and password reset").
//!
//! Links carry a 256-bit random token; only its SHA-256 is stored, it works once (one conditional
//! UPDATE decides, so of two parallel uses exactly one wins), and it expires: 24 h to verify,
//! 30 min to reset. Mail is queued in the outbox in the same transaction (`mail`).

use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::routing::post;
use chrono::Utc;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use shared::db::retry;
use shared::extract::Json;
use shared::openapi::{BodyErrors, ServerErrors};
use shared::{FieldError, Problem};
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa::ToSchema;

use super::auth::origin;
use super::authenticated::Authenticated;
use crate::client_ip::ClientIp;
use crate::db;
use crate::db::email_tokens::Purpose;
use crate::db::events::{Event, Kind};
use crate::db::sessions::EndReason;
use crate::domain::{NewPassword, sign_in_email};
use crate::error::{ApiError, ApiResult};
use crate::refresh_token;
use crate::state::AppState;

const VERIFY_TTL_HOURS: i64 = 24;
const RESET_TTL_MINUTES: i64 = 30;
/// At most one verification mail a minute per user.
const RESEND_COOLDOWN_SECS: i64 = 60;
/// A reset request answers no sooner than this, account or not, so timing does not tell.
const RESET_REQUEST_FLOOR: Duration = Duration::from_millis(250);

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/auth/email/verify/request", post(request_verification))
        .route("/api/auth/email/verify", post(verify))
        .route("/api/auth/password/reset/request", post(request_reset))
        .route("/api/auth/password/reset", post(reset))
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    /// The `token` of the link's query.
    #[schema(value_type = String)]
    pub token: SecretString,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequestBody {
    pub email: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetBody {
    #[schema(value_type = String)]
    pub token: SecretString,
    /// The sign-up rules: 8–128 characters, not a common password.
    #[schema(value_type = String, format = Password)]
    pub new_password: SecretString,
}

fn invalid_link() -> ApiError {
    Problem::new(
        StatusCode::BAD_REQUEST,
        "invalid_token_link",
        "This link is invalid, was already used, or has expired. Ask for a new one.",
    )
    .into()
}

/// A step of the transaction that causes it: a verification token and its mail.
pub async fn queue_verification(
    state: &AppState,
    conn: &mut sqlx::PgConnection,
    user_id: uuid::Uuid,
    email: &str,
) -> ApiResult<()> {
    let token = refresh_token::new_token()?;
    let expires_at = Utc::now() + chrono::Duration::hours(VERIFY_TTL_HOURS);
    db::email_tokens::insert(
        conn,
        &token.hash,
        user_id,
        Purpose::VerifyEmail,
        email,
        expires_at,
    )
    .await?;
    db::outbox::enqueue(conn, &state.mail.verification(email, &token.token)).await?;
    Ok(())
}

#[utoipa::path(post, path = "/api/auth/email/verify/request", tag = "email", security(("bearer" = [])),
    responses(
        (status = 202, description = "A new verification mail is on its way (nothing is sent when the address is already verified)"),
        (status = 401, description = "Missing, invalid or expired bearer token (`invalid_token`)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "A verification mail went out less than a minute ago, or too many requests from this address (`rate_limited`, with `Retry-After`)", body = Problem, content_type = "application/problem+json"),
        ServerErrors,
    ))]
pub async fn request_verification(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    caller: Authenticated,
) -> ApiResult<StatusCode> {
    state.limits.check_ip(&state.pool, ip).await?;
    if caller.user.email_verified {
        return Ok(StatusCode::ACCEPTED);
    }
    match resend_verification(&state, caller.user.id, &caller.user.email).await? {
        Some(wait) => Err(ApiError::RateLimited { retry_after: wait }),
        None => Ok(StatusCode::ACCEPTED),
    }
}

/// Queues a new verification mail unless one went out less than a minute ago; then the seconds
/// to wait. Decided under the user's lock, so parallel requests on any replica send one mail.
pub(crate) async fn resend_verification(
    state: &AppState,
    user_id: uuid::Uuid,
    email: &str,
) -> ApiResult<Option<u64>> {
    retry::transaction(&state.pool, |tx| {
        Box::pin(async move {
            let last = db::email_tokens::lock_last_sent(tx, user_id, Purpose::VerifyEmail).await?;
            if let Some(last) = last {
                let wait = RESEND_COOLDOWN_SECS - (Utc::now() - last).num_seconds();
                if wait > 0 {
                    return Ok(Some(wait.unsigned_abs()));
                }
            }
            queue_verification(state, tx, user_id, email).await?;
            Ok(None)
        })
    })
    .await
}

#[utoipa::path(post, path = "/api/auth/email/verify", tag = "email", request_body = VerifyRequest,
    responses(
        (status = 204, description = "The address is verified (`User.email_verified` is now `true`)"),
        (status = 400, description = "The link is unknown, used or expired (`invalid_token_link`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing, unknown or mistyped (`validation_failed`)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts from this address (`rate_limited`)", body = Problem, content_type = "application/problem+json"),
        BodyErrors, ServerErrors,
    ))]
pub async fn verify(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(req): Json<VerifyRequest>,
) -> ApiResult<StatusCode> {
    state.limits.check_ip(&state.pool, ip).await?;
    let token = req.token.expose_secret();
    if !refresh_token::looks_valid(token) {
        return Err(invalid_link());
    }
    let hash = refresh_token::hash(token);
    let origin = origin(&headers, ip);
    let verified = retry::transaction(&state.pool, |tx| {
        Box::pin(async {
            let Some((user_id, email)) =
                db::email_tokens::consume(tx, &hash, Purpose::VerifyEmail).await?
            else {
                return Ok(false);
            };
            // The link proves the address it was sent to; if the account's address changed
            // since, it proves nothing about the new one.
            if !db::users::mark_verified(tx, user_id, &email).await? {
                return Ok(false);
            }
            let event = Event {
                kind: Kind::EmailVerified,
                user_id: Some(user_id),
                session_id: None,
                origin: &origin,
            };
            db::events::record(tx, &event).await?;
            Ok::<_, sqlx::Error>(true)
        })
    })
    .await?;
    if !verified {
        return Err(invalid_link());
    }
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/auth/password/reset/request", tag = "email", request_body = ResetRequestBody,
    responses(
        (status = 202, description = "If an account has this address, a reset link is on its way. The same answer, in about the same time, either way"),
        (status = 422, description = "A field is missing, unknown or mistyped (`validation_failed`)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests from this address or for this email (`rate_limited`)", body = Problem, content_type = "application/problem+json"),
        BodyErrors, ServerErrors,
    ))]
pub async fn request_reset(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Json(req): Json<ResetRequestBody>,
) -> ApiResult<StatusCode> {
    let started = Instant::now();
    state.limits.check_ip(&state.pool, ip).await?;
    let email = sign_in_email(&req.email);
    state
        .limits
        .check_sign_in(
            &state.pool,
            email.as_deref().unwrap_or(req.email.trim()),
            None,
        )
        .await?;
    let found = match &email {
        Some(email) => db::users::credentials_by_email(&state.pool, email).await?,
        None => None,
    };
    if let Some(db::users::Credentials {
        id: user_id, email, ..
    }) = found
    {
        let token = refresh_token::new_token()?;
        let expires_at = Utc::now() + chrono::Duration::minutes(RESET_TTL_MINUTES);
        let mail = state.mail.reset(&email, &token.token);
        retry::transaction(&state.pool, |tx| {
            Box::pin(async {
                db::email_tokens::insert(
                    tx,
                    &token.hash,
                    user_id,
                    Purpose::ResetPassword,
                    &email,
                    expires_at,
                )
                .await?;
                db::outbox::enqueue(tx, &mail).await?;
                Ok::<_, sqlx::Error>(())
            })
        })
        .await?;
    }
    // The work differs by a transaction; the answer's time does not.
    tokio::time::sleep_until((started + RESET_REQUEST_FLOOR).into()).await;
    Ok(StatusCode::ACCEPTED)
}

#[utoipa::path(post, path = "/api/auth/password/reset", tag = "email", request_body = ResetBody,
    responses(
        (status = 204, description = "The password is changed and every session of the account has ended (their access tokens are refused everywhere within seconds)"),
        (status = 400, description = "The link is unknown, used or expired (`invalid_token_link`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`new_password` too short, too long or too common (the sign-up codes), or a field missing or mistyped", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts from this address (`rate_limited`)", body = Problem, content_type = "application/problem+json"),
        BodyErrors, ServerErrors,
    ))]
pub async fn reset(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(req): Json<ResetBody>,
) -> ApiResult<StatusCode> {
    state.limits.check_ip(&state.pool, ip).await?;
    let token = req.token.expose_secret();
    let new_password = NewPassword::parse(req.new_password).await?.map_err(|e| {
        ApiError::Validation(vec![FieldError::new("new_password", &e.code, e.message)])
    })?;
    if !refresh_token::looks_valid(token) {
        return Err(invalid_link());
    }
    let hash = refresh_token::hash(token);
    let password_hash = state.hasher.hash(new_password.into_secret()).await?;
    let origin = origin(&headers, ip);
    let done = retry::transaction(&state.pool, |tx| {
        Box::pin(async {
            let Some((user_id, email)) =
                db::email_tokens::consume(tx, &hash, Purpose::ResetPassword).await?
            else {
                return Ok(false);
            };
            db::users::update_hash(tx, user_id, &password_hash).await?;
            db::sessions::end_all(tx, user_id, None, EndReason::PasswordReset).await?;
            // Following the link proved the address too.
            db::users::mark_verified(tx, user_id, &email).await?;
            let event = Event {
                kind: Kind::PasswordReset,
                user_id: Some(user_id),
                session_id: None,
                origin: &origin,
            };
            db::events::record(tx, &event).await?;
            Ok::<_, sqlx::Error>(true)
        })
    })
    .await?;
    if !done {
        return Err(invalid_link());
    }
    Ok(StatusCode::NO_CONTENT)
}
