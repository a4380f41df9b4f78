//! Passkeys (WebAuthn, discoverable credentials): register while signed in, list and remove, and
//! sign in with a passkey alone — no email, no password; it satisfies the second factor too.
//!
//! Each ceremony is two requests. `start` stores webauthn-rs's state under a random
//! `challenge_id` (`auth.webauthn_challenges`, 5 minutes); `finish` takes it with one DELETE, so a
//! challenge is answered once, and any replica can finish what another started. Options and
//! credentials travel in WebAuthn Level 3's JSON forms.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use axum_extra::extract::CookieJar;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use shared::db::{ConstraintExt, retry};
use shared::extract::{Json, Path};
use shared::openapi::{BodyErrors, ServerErrors};
use shared::{FieldError, Problem};
use utoipa::ToSchema;
use uuid::Uuid;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey as Credential, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, WebauthnError,
};

use super::auth::transport::respond;
use super::auth::types::User;
use super::auth::{open_session, origin};
use super::authenticated::Authenticated;
use crate::client_ip::ClientIp;
use crate::db;
use crate::db::events::{Event, Kind};
use crate::db::passkeys::Purpose;
use crate::error::{ApiError, ApiResult};
use crate::passkey::{CEREMONY_TTL, options_json};
use crate::state::AppState;

/// A passkey's name is shown in lists: short, and "Passkey" unless the client names it.
const NAME_MAX_CHARS: usize = 64;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/auth/passkeys/register/start", post(register_start))
        .route("/api/auth/passkeys/register/finish", post(register_finish))
        .route("/api/auth/passkeys", get(list))
        .route("/api/auth/passkeys/{id}", delete(remove))
        .route("/api/auth/passkeys/signin/start", post(signin_start))
        .route("/api/auth/passkeys/signin/finish", post(signin_finish))
}

/// A ceremony's first half: the options for `navigator.credentials.create()` / `.get()`
/// (through `PublicKeyCredential.parseCreationOptionsFromJSON` / `parseRequestOptionsFromJSON`).
#[derive(Debug, Serialize, ToSchema)]
pub struct Ceremony {
    /// Send it back with the credential; good for one `finish` within 5 minutes.
    pub challenge_id: Uuid,
    /// PublicKeyCredentialCreationOptionsJSON or PublicKeyCredentialRequestOptionsJSON (WebAuthn
    /// Level 3, binary fields base64url).
    #[serde(rename = "publicKey")]
    #[schema(value_type = Object)]
    pub public_key: Value,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterFinishRequest {
    pub challenge_id: Uuid,
    /// `credential.toJSON()` of the created credential (RegistrationResponseJSON).
    #[schema(value_type = Object)]
    pub credential: RegisterPublicKeyCredential,
    /// Shown in the list (at most 64 characters); default "Passkey".
    pub name: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SigninFinishRequest {
    pub challenge_id: Uuid,
    /// `credential.toJSON()` of the assertion (AuthenticationResponseJSON).
    #[schema(value_type = Object)]
    pub credential: PublicKeyCredential,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Passkey {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
    /// The last sign-in with it.
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<db::passkeys::PasskeyRow> for Passkey {
    fn from(r: db::passkeys::PasskeyRow) -> Self {
        Self {
            id: r.id,
            name: r.name,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
        }
    }
}

#[utoipa::path(post, path = "/api/auth/passkeys/register/start", tag = "second factors", security(("bearer" = [])),
    responses(
        (status = 200, description = "Creation options (a discoverable credential, user verification required; the user's existing passkeys excluded)", body = Ceremony),
        (status = 401, description = "Missing, invalid or expired bearer token (`invalid_token`)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts from this address (`rate_limited`)", body = Problem, content_type = "application/problem+json"),
        ServerErrors,
    ))]
pub async fn register_start(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    caller: Authenticated,
) -> ApiResult<axum::Json<Ceremony>> {
    state.limits.check_ip(&state.pool, ip).await?;
    let user = &caller.user;
    let existing = db::passkeys::credential_ids(&state.pool, user.id).await?;
    let display_name = user.name.as_deref().unwrap_or(&user.email);
    let (options, ceremony) = state
        .webauthn
        .start_registration(user.id, &user.email, display_name, existing)
        .map_err(|e| anyhow::anyhow!("passkey registration options: {e}"))?;
    store_ceremony(
        &state,
        Purpose::Register,
        Some(user.id),
        &ceremony,
        &options.public_key,
    )
    .await
}

#[utoipa::path(post, path = "/api/auth/passkeys/register/finish", tag = "second factors", security(("bearer" = [])),
    request_body = RegisterFinishRequest,
    responses(
        (status = 201, description = "The passkey is registered", body = Passkey),
        (status = 401, description = "`invalid_token`: the bearer token; `invalid_credentials`: the ceremony failed (challenge unknown, expired, used or another user's; wrong origin or RP; no user verification; bad attestation)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "This authenticator's credential is registered already (`passkey_exists`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: a field missing or mistyped, or `name` too long (`invalid_name`)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts from this address (`rate_limited`)", body = Problem, content_type = "application/problem+json"),
        BodyErrors, ServerErrors,
    ))]
pub async fn register_finish(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    caller: Authenticated,
    Json(req): Json<RegisterFinishRequest>,
) -> ApiResult<impl IntoResponse> {
    state.limits.check_ip(&state.pool, ip).await?;
    let name = passkey_name(req.name.as_deref())?;
    let user_id = caller.user.id;
    let ceremony: PasskeyRegistration =
        take_ceremony(&state, req.challenge_id, Purpose::Register, Some(user_id)).await?;
    // webauthn-rs refuses an excluded credential too, but under another error's name
    // (`CredentialAlteredAlgFromRequest`, 0.6.2): tell the user what happened instead.
    let existing = db::passkeys::credential_ids(&state.pool, user_id).await?;
    if existing.contains(&req.credential.raw_id) {
        return Err(passkey_exists());
    }
    let credential = state
        .webauthn
        .finish_registration(&req.credential, &ceremony)
        .map_err(|e| match e {
            // An authenticator the user registered before (its credential was excluded).
            WebauthnError::CredentialExcludedFromRequest => passkey_exists(),
            e => {
                tracing::info!(error = %e, "passkey registration refused");
                ApiError::InvalidCredentials
            }
        })?;
    let stored = serde_json::to_value(&credential).map_err(anyhow::Error::from)?;
    let credential_id = credential.cred_id().to_vec();
    let origin = origin(&headers, ip);
    let row = retry::transaction(&state.pool, |tx| {
        Box::pin(async {
            let row =
                db::passkeys::insert(tx, Uuid::now_v7(), user_id, &credential_id, &stored, &name)
                    .await
                    .on_constraint(db::passkeys::PASSKEY_UNIQUE, || {
                        ApiError::from(Problem::new(
                            StatusCode::CONFLICT,
                            "passkey_exists",
                            "This passkey is registered already.",
                        ))
                    })?;
            let event = Event {
                kind: Kind::PasskeyAdded,
                user_id: Some(user_id),
                session_id: Some(caller.session_id),
                origin: &origin,
            };
            db::events::record(tx, &event).await?;
            Ok::<_, ApiError>(row)
        })
    })
    .await?;
    tracing::info!(%user_id, passkey_id = %row.id, "passkey registered");
    Ok((StatusCode::CREATED, axum::Json(Passkey::from(row))))
}

#[utoipa::path(get, path = "/api/auth/passkeys", tag = "second factors", security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's passkeys, oldest first", body = [Passkey]),
        (status = 401, description = "Missing, invalid or expired bearer token (`invalid_token`)", body = Problem, content_type = "application/problem+json"),
        ServerErrors,
    ))]
pub async fn list(
    State(state): State<AppState>,
    caller: Authenticated,
) -> ApiResult<axum::Json<Vec<Passkey>>> {
    let rows = db::passkeys::list(&state.pool, caller.user.id).await?;
    Ok(axum::Json(rows.into_iter().map(Passkey::from).collect()))
}

#[utoipa::path(delete, path = "/api/auth/passkeys/{id}", tag = "second factors", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "A passkey id from `GET /api/auth/passkeys`")),
    responses(
        (status = 204, description = "Removed: it signs in no more (the password, and TOTP if set up, still do)"),
        (status = 401, description = "Missing, invalid or expired bearer token (`invalid_token`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No passkey of the caller's with this id (`not_found`), another user's included", body = Problem, content_type = "application/problem+json"),
        ServerErrors,
    ))]
pub async fn remove(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    caller: Authenticated,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    let user_id = caller.user.id;
    let origin = origin(&headers, ip);
    let removed = retry::transaction(&state.pool, |tx| {
        Box::pin(async {
            if !db::passkeys::delete(tx, user_id, id).await? {
                return Ok(false);
            }
            let event = Event {
                kind: Kind::PasskeyRemoved,
                user_id: Some(user_id),
                session_id: Some(caller.session_id),
                origin: &origin,
            };
            db::events::record(tx, &event).await?;
            Ok::<_, sqlx::Error>(true)
        })
    })
    .await?;
    if !removed {
        return Err(Problem::not_found().into());
    }
    tracing::info!(%user_id, passkey_id = %id, "passkey removed");
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/auth/passkeys/signin/start", tag = "second factors",
    responses(
        (status = 200, description = "Request options for a username-less sign-in (no `allowCredentials`; user verification required)", body = Ceremony),
        (status = 429, description = "Too many attempts from this address (`rate_limited`)", body = Problem, content_type = "application/problem+json"),
        ServerErrors,
    ))]
pub async fn signin_start(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
) -> ApiResult<axum::Json<Ceremony>> {
    state.limits.check_ip(&state.pool, ip).await?;
    let (options, ceremony) = state
        .webauthn
        .start_signin()
        .map_err(|e| anyhow::anyhow!("passkey sign-in options: {e}"))?;
    store_ceremony(
        &state,
        Purpose::Signin,
        None,
        &ceremony,
        &options.public_key,
    )
    .await
}

#[utoipa::path(post, path = "/api/auth/passkeys/signin/finish", tag = "second factors", request_body = SigninFinishRequest,
    params(("X-Refresh-Token-Transport" = Option<String>, Header, description = "`cookie`: deliver the refresh token only as an HttpOnly cookie")),
    responses(
        (status = 200, description = "Signed in (no second factor asked: the passkey is one, with user verification); sets the refresh cookie", body = super::auth::types::Session),
        (status = 401, description = "The ceremony failed (`invalid_credentials`): challenge unknown, expired or used; unknown or removed passkey; bad signature, origin or RP; no user verification; a sign counter that went back (a cloned authenticator)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`REQUIRE_VERIFIED_EMAIL` is on and the address is not verified yet (`email_not_verified`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing, unknown or mistyped", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts from this address (`rate_limited`)", body = Problem, content_type = "application/problem+json"),
        BodyErrors, ServerErrors,
    ))]
pub async fn signin_finish(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    jar: CookieJar,
    Json(req): Json<SigninFinishRequest>,
) -> ApiResult<impl IntoResponse> {
    state.limits.check_ip(&state.pool, ip).await?;
    let ceremony: DiscoverableAuthentication =
        take_ceremony(&state, req.challenge_id, Purpose::Signin, None).await?;
    let (user_id, credential_id) = state
        .webauthn
        .identify(&req.credential)
        .map_err(|_| ApiError::InvalidCredentials)?;
    let Some(user) = db::users::by_id(&state.pool, user_id).await? else {
        return Err(ApiError::InvalidCredentials);
    };
    let origin = origin(&headers, ip);
    let opened = retry::transaction(&state.pool, |tx| {
        Box::pin(async {
            let Some((passkey_id, stored)) =
                db::passkeys::lock_for_signin(tx, user.id, credential_id).await?
            else {
                return Err(ApiError::InvalidCredentials);
            };
            let mut credential: Credential =
                serde_json::from_value(stored).map_err(anyhow::Error::from)?;
            let changed = state
                .webauthn
                .finish_signin(&req.credential, ceremony.clone(), &mut credential)
                .map_err(|e| {
                    tracing::info!(error = %e, "passkey sign-in refused");
                    ApiError::InvalidCredentials
                })?;
            let updated = changed
                .then(|| serde_json::to_value(&credential))
                .transpose()
                .map_err(anyhow::Error::from)?;
            db::passkeys::mark_used(tx, passkey_id, updated.as_ref()).await?;
            if state.settings.require_verified_email && !user.email_verified {
                return Err(super::auth::email_not_verified());
            }
            open_session(&state, tx, user.id, &user.email, &origin, None).await
        })
    })
    .await;
    let issued = match opened {
        Ok(issued) => issued,
        Err(ApiError::InvalidCredentials) => {
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
    tracing::info!(user_id = %user.id, "signed in with a passkey");
    Ok(respond(
        &state,
        &headers,
        jar,
        issued,
        Some(User::from(user)),
    ))
}

/// Keeps a ceremony's state for its `finish` (any replica, once, for 5 minutes) and answers with
/// the options under a new challenge id.
async fn store_ceremony(
    state: &AppState,
    purpose: Purpose,
    user_id: Option<Uuid>,
    ceremony: &impl Serialize,
    options: &impl Serialize,
) -> ApiResult<axum::Json<Ceremony>> {
    let challenge_id = Uuid::new_v4();
    db::passkeys::insert_challenge(
        &state.pool,
        challenge_id,
        purpose,
        user_id,
        &serde_json::to_value(ceremony).map_err(anyhow::Error::from)?,
        Utc::now() + CEREMONY_TTL,
    )
    .await?;
    Ok(axum::Json(Ceremony {
        challenge_id,
        public_key: options_json(options)?,
    }))
}

/// Takes a ceremony's stored state: at most once, only before it expires, and only the same
/// user's. Anything else is a failed ceremony.
async fn take_ceremony<T: serde::de::DeserializeOwned>(
    state: &AppState,
    challenge_id: Uuid,
    purpose: Purpose,
    user_id: Option<Uuid>,
) -> ApiResult<T> {
    let Some(stored) =
        db::passkeys::take_challenge(&state.pool, challenge_id, purpose, user_id).await?
    else {
        return Err(ApiError::InvalidCredentials);
    };
    Ok(serde_json::from_value(stored).map_err(anyhow::Error::from)?)
}

fn passkey_exists() -> ApiError {
    Problem::new(
        StatusCode::CONFLICT,
        "passkey_exists",
        "This passkey is registered already.",
    )
    .into()
}

fn passkey_name(name: Option<&str>) -> ApiResult<String> {
    let name = name
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or("Passkey");
    if name.chars().count() > NAME_MAX_CHARS {
        return Err(ApiError::Validation(vec![FieldError::new(
            "name",
            "invalid_name",
            format!("At most {NAME_MAX_CHARS} characters."),
        )]));
    }
    Ok(name.to_owned())
}
