//! The authenticator app (TOTP) as a second factor: set-up, confirmation with recovery codes,
//! turning it off, and the second step of a password sign-in (`/api/auth/signin/mfa`).
//!
//! A sign-in with the right password for an account with TOTP answers 403 `mfa_required` with an
//! `mfa_token` (256-bit, stored hashed, 5 minutes, single use, dead after five wrong codes);
//! the code then finishes it. Every "once" is one conditional statement in the transaction that
//! opens the session (see `db::mfa`), so parallel requests on any replica cannot both win.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post};
use axum_extra::extract::CookieJar;
use chrono::Utc;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use shared::db::retry;
use shared::extract::Json;
use shared::openapi::{BodyErrors, ServerErrors};
use shared::{FieldError, Problem};
use utoipa::ToSchema;
use uuid::Uuid;

use super::account::check_password;
use super::auth::transport::respond;
use super::auth::types::User;
use super::auth::{Device, known_device, open_session, origin};
use super::authenticated::Authenticated;
use crate::client_ip::ClientIp;
use crate::db;
use crate::db::events::{Event, Kind};
use crate::db::sessions::EndReason;
use crate::error::{ApiError, ApiResult};
use crate::refresh_token;
use crate::second_factor;
use crate::state::AppState;

/// How long the second step of a sign-in may take.
const MFA_TOKEN_TTL: chrono::Duration = chrono::Duration::minutes(5);
/// Wrong codes an mfa token survives; then the sign-in starts again with the password.
const MFA_TOKEN_MAX_FAILURES: i32 = 5;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/auth/mfa/totp/setup", post(setup))
        .route("/api/auth/mfa/totp/confirm", post(confirm))
        .route("/api/auth/mfa/totp", delete(disable))
        .route("/api/auth/signin/mfa", post(signin_mfa))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TotpSetup {
    /// The secret in base32 (RFC 4648, no padding), for typing into an app.
    pub secret: String,
    /// `otpauth://totp/...` (SHA-1, 6 digits, 30 s), for a QR code.
    pub otpauth_uri: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmRequest {
    /// The code the app shows now.
    #[schema(example = "123456")]
    pub code: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecoveryCodes {
    /// Ten single-use codes (`xxxx-xxxx-xxxx-xxxx`), each a way in when the app is lost. Shown
    /// this once; only their hashes are kept.
    pub recovery_codes: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisableRequest {
    #[schema(value_type = String, format = Password)]
    pub password: SecretString,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MfaSigninRequest {
    /// From the 403 `mfa_required` answer to `POST /api/auth/signin`.
    #[schema(value_type = String)]
    pub mfa_token: SecretString,
    /// A 6-digit code from the app, or an unused recovery code (case, dashes and spaces ignored).
    #[schema(value_type = String, example = "123456")]
    pub code: SecretString,
}

/// The 403 answer to a correct password when a second factor is needed: a problem document
/// with the token for `POST /api/auth/signin/mfa`.
#[derive(Debug, Serialize, ToSchema)]
pub struct MfaRequired {
    #[serde(rename = "type")]
    pub type_: &'static str,
    pub title: &'static str,
    pub status: u16,
    pub detail: &'static str,
    /// `mfa_required`
    pub code: &'static str,
    /// Short-lived (5 minutes), single use.
    pub mfa_token: String,
}

/// Starts the second step of a sign-in for `user_id`: the 403 `mfa_required` to answer with.
pub(crate) async fn challenge(state: &AppState, user_id: Uuid) -> ApiResult<ApiError> {
    let token = refresh_token::new_token()?;
    db::mfa::insert_token(
        &state.pool,
        &token.hash,
        user_id,
        Utc::now() + MFA_TOKEN_TTL,
    )
    .await?;
    Ok(ApiError::MfaRequired(token.token))
}

/// The `mfa_required` response.
pub(crate) fn mfa_required_response(mfa_token: String) -> Response {
    let body = MfaRequired {
        type_: "about:blank",
        title: "Forbidden",
        status: 403,
        detail: "Enter the code from your authenticator app (or a recovery code) to finish signing in.",
        code: "mfa_required",
        mfa_token,
    };
    (
        StatusCode::FORBIDDEN,
        [(header::CONTENT_TYPE, "application/problem+json")],
        axum::Json(body),
    )
        .into_response()
}

#[utoipa::path(post, path = "/api/auth/mfa/totp/setup", tag = "second factors", security(("bearer" = [])),
    responses(
        (status = 200, description = "A new secret, not active until confirmed; a second call replaces a pending one", body = TotpSetup),
        (status = 401, description = "Missing, invalid or expired bearer token (`invalid_token`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "An authenticator app is already active (`totp_already_enabled`): turn it off first", body = Problem, content_type = "application/problem+json"),
        ServerErrors,
    ))]
pub async fn setup(
    State(state): State<AppState>,
    caller: Authenticated,
) -> ApiResult<axum::Json<TotpSetup>> {
    let user_id = caller.user.id;
    let secret = second_factor::new_secret()?;
    let totp = second_factor::totp(&secret, &state.settings.app_name, &caller.user.email)?;
    let sealed = second_factor::seal(state.keys.keks(), user_id, &secret)?;
    let pending = retry::write(&state.pool, |conn| {
        Box::pin(db::mfa::put_pending(
            conn,
            user_id,
            sealed.kek_id.as_deref(),
            sealed.nonce.as_deref(),
            &sealed.bytes,
        ))
    })
    .await?;
    if !pending {
        return Err(conflict(
            "totp_already_enabled",
            "An authenticator app is already set up; turn it off first to set up another.",
        ));
    }
    Ok(axum::Json(TotpSetup {
        secret: second_factor::secret_base32(&totp),
        otpauth_uri: second_factor::otpauth_uri(&totp)?,
    }))
}

#[utoipa::path(post, path = "/api/auth/mfa/totp/confirm", tag = "second factors", security(("bearer" = [])),
    request_body = ConfirmRequest,
    responses(
        (status = 200, description = "TOTP is active; the recovery codes, shown this once", body = RecoveryCodes),
        (status = 401, description = "Missing, invalid or expired bearer token (`invalid_token`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No set-up waiting for confirmation (`totp_not_pending`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: `code` is not the app's current code (`invalid_code`); never 401, the session is fine", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts from this address (`rate_limited`)", body = Problem, content_type = "application/problem+json"),
        BodyErrors, ServerErrors,
    ))]
pub async fn confirm(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    caller: Authenticated,
    Json(req): Json<ConfirmRequest>,
) -> ApiResult<axum::Json<RecoveryCodes>> {
    state.limits.check_ip(&state.pool, ip).await?;
    let user_id = caller.user.id;
    let not_pending = || {
        conflict(
            "totp_not_pending",
            "There is no authenticator set-up to confirm; start again.",
        )
    };
    let Some(stored) = db::mfa::secret(&state.pool, user_id)
        .await?
        .filter(|s| !s.confirmed)
    else {
        return Err(not_pending());
    };
    let secret = open_secret(&state, user_id, &stored)?;
    let totp = second_factor::totp(&secret, &state.settings.app_name, &caller.user.email)?;
    let Some(step) = second_factor::matching_step(&totp, &req.code, unix_now()) else {
        return Err(ApiError::Validation(vec![FieldError::new(
            "code",
            "invalid_code",
            "That is not the code your app shows now; check the time on your device and try again.",
        )]));
    };
    let codes = second_factor::new_recovery_codes()?;
    let hashes: Vec<[u8; 32]> = codes
        .iter()
        .filter_map(|c| second_factor::recovery_code_hash(c))
        .collect();
    let origin = origin(&headers, ip);
    let confirmed = retry::transaction(&state.pool, |tx| {
        Box::pin(async {
            if !db::mfa::claim_step(tx, user_id, step, true, &stored.secret).await? {
                return Ok(false);
            }
            db::mfa::replace_recovery_codes(tx, user_id, &hashes).await?;
            let event = Event {
                kind: Kind::MfaEnabled,
                user_id: Some(user_id),
                session_id: Some(caller.session_id),
                origin: &origin,
            };
            db::events::record(tx, &event).await?;
            Ok::<_, sqlx::Error>(true)
        })
    })
    .await?;
    if !confirmed {
        // Confirmed meanwhile by a parallel request, or replaced by a new set-up.
        return Err(not_pending());
    }
    tracing::info!(%user_id, "authenticator app enabled");
    Ok(axum::Json(RecoveryCodes {
        recovery_codes: codes,
    }))
}

#[utoipa::path(delete, path = "/api/auth/mfa/totp", tag = "second factors", security(("bearer" = [])),
    request_body = DisableRequest,
    responses(
        (status = 204, description = "TOTP is off, its recovery codes are gone, and every other session of the user ended"),
        (status = 401, description = "Missing, invalid or expired bearer token (`invalid_token`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No authenticator app is active (`totp_not_enabled`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: `password` wrong (`wrong_password`), missing or mistyped", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts from this address (`rate_limited`)", body = Problem, content_type = "application/problem+json"),
        BodyErrors, ServerErrors,
    ))]
pub async fn disable(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    caller: Authenticated,
    Json(req): Json<DisableRequest>,
) -> ApiResult<StatusCode> {
    state.limits.check_ip(&state.pool, ip).await?;
    check_password(&state, caller.user.id, req.password, "password").await?;
    let (user_id, keep) = (caller.user.id, caller.session_id);
    let origin = origin(&headers, ip);
    let ended = retry::transaction(&state.pool, |tx| {
        Box::pin(async {
            if !db::mfa::remove(tx, user_id).await? {
                return Ok(None);
            }
            let ended =
                db::sessions::end_all(tx, user_id, Some(keep), EndReason::MfaDisabled).await?;
            let event = Event {
                kind: Kind::MfaDisabled,
                user_id: Some(user_id),
                session_id: Some(keep),
                origin: &origin,
            };
            db::events::record(tx, &event).await?;
            Ok::<_, sqlx::Error>(Some(ended))
        })
    })
    .await?;
    let Some(ended) = ended else {
        return Err(conflict(
            "totp_not_enabled",
            "No authenticator app is set up.",
        ));
    };
    tracing::info!(%user_id, other_sessions_ended = ended, "authenticator app disabled");
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/auth/signin/mfa", tag = "second factors", request_body = MfaSigninRequest,
    params(("X-Refresh-Token-Transport" = Option<String>, Header, description = "`cookie`: deliver the refresh token only as an HttpOnly cookie")),
    responses(
        (status = 200, description = "Signed in; sets the refresh cookie", body = super::auth::types::Session),
        (status = 401, description = "`invalid_credentials`: the code is wrong, was used already, or is a recovery code used before (the mfa token stays usable for a few more tries); `invalid_token`: the mfa token is unknown, expired, used, or has seen too many wrong codes — sign in with the password again", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing, unknown or mistyped", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts for this address or account (`rate_limited`), counted with password attempts", body = Problem, content_type = "application/problem+json"),
        BodyErrors, ServerErrors,
    ))]
pub async fn signin_mfa(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    jar: CookieJar,
    Json(req): Json<MfaSigninRequest>,
) -> ApiResult<impl IntoResponse> {
    state.limits.check_ip(&state.pool, ip).await?;
    let token = req.mfa_token.expose_secret();
    if !refresh_token::looks_valid(token) {
        return Err(ApiError::InvalidToken);
    }
    let token_hash = refresh_token::hash(token);
    let user = match db::mfa::token_user(&state.pool, &token_hash, MFA_TOKEN_MAX_FAILURES).await? {
        Some(user_id) => db::users::by_id(&state.pool, user_id).await?,
        None => None,
    };
    let Some(user) = user else {
        return Err(ApiError::InvalidToken);
    };
    // Codes draw on the account's sign-in budget, like passwords.
    let known = known_device(&state, &jar, Some(user.id)).await?;
    state
        .limits
        .check_sign_in(
            &state.pool,
            &user.email,
            known.as_ref().map(|h| h.as_slice()),
        )
        .await?;
    let factor = factor(&state, &user, req.code.expose_secret()).await?;
    let device = Device::for_sign_in(known)?;
    let origin = origin(&headers, ip);
    let opened = retry::transaction(&state.pool, |tx| {
        Box::pin(async {
            if !db::mfa::use_token(tx, &token_hash, MFA_TOKEN_MAX_FAILURES).await? {
                return Err(ApiError::InvalidToken);
            }
            let accepted = match &factor {
                Factor::Totp { step, secret } => {
                    db::mfa::claim_step(tx, user.id, *step, false, secret).await?
                }
                Factor::Recovery(hash) => db::mfa::use_recovery_code(tx, user.id, hash).await?,
                Factor::Wrong => false,
            };
            if !accepted {
                return Err(ApiError::InvalidCredentials);
            }
            open_session(
                &state,
                tx,
                user.id,
                &user.email,
                &origin,
                Some(&device.hash),
            )
            .await
        })
    })
    .await;
    let issued = match opened {
        Ok(issued) => issued,
        Err(ApiError::InvalidCredentials) => {
            db::mfa::count_failure(&state.pool, &token_hash).await?;
            let failed = Event {
                kind: Kind::SigninFailed,
                user_id: Some(user.id),
                session_id: None,
                origin: &origin,
            };
            db::events::record_alone(&state.pool, &failed).await?;
            return Err(ApiError::InvalidCredentials);
        }
        Err(e) => return Err(e),
    };
    if matches!(factor, Factor::Recovery(_)) {
        tracing::info!(user_id = %user.id, "signed in with a recovery code");
    }
    let jar = device.set_cookie(&state, jar);
    Ok(respond(
        &state,
        &headers,
        jar,
        issued,
        Some(User::from(user)),
    ))
}

/// What a typed code is, checked as far as can be without the database's "once".
enum Factor {
    /// A TOTP code valid for this time step of this stored secret.
    Totp { step: i64, secret: Vec<u8> },
    /// The hash of what may be a recovery code.
    Recovery([u8; 32]),
    /// Neither.
    Wrong,
}

async fn factor(state: &AppState, user: &db::users::UserRow, code: &str) -> ApiResult<Factor> {
    if !second_factor::is_totp_code(code) {
        return Ok(second_factor::recovery_code_hash(code).map_or(Factor::Wrong, Factor::Recovery));
    }
    let Some(stored) = db::mfa::secret(&state.pool, user.id)
        .await?
        .filter(|s| s.confirmed)
    else {
        return Ok(Factor::Wrong);
    };
    let secret = open_secret(state, user.id, &stored)?;
    let totp = second_factor::totp(&secret, &state.settings.app_name, &user.email)?;
    Ok(
        match second_factor::matching_step(&totp, code, unix_now()) {
            Some(step) => Factor::Totp {
                step,
                secret: stored.secret,
            },
            None => Factor::Wrong,
        },
    )
}

/// The plain secret of a stored row (sealed under a KEK, or not when none is configured).
fn open_secret(
    state: &AppState,
    user_id: Uuid,
    stored: &db::mfa::StoredSecret,
) -> ApiResult<Vec<u8>> {
    Ok(second_factor::open(state.keys.keks(), user_id, stored)?)
}

fn unix_now() -> u64 {
    u64::try_from(Utc::now().timestamp()).unwrap_or_default()
}

fn conflict(code: &str, detail: &str) -> ApiError {
    Problem::new(StatusCode::CONFLICT, code, detail).into()
}
