//! `/api/auth/*`: sign-up, sign-in, refresh, sign-out and the current user. Bodies are in
//! [`types`], the refresh token's cookie-or-body travel in [`transport`].

pub mod transport;
pub mod types;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use chrono::Utc;
use secrecy::ExposeSecret;
use shared::db::{ConstraintExt, retry};
use shared::extract::Json;
use shared::openapi::{BodyErrors, ServerErrors};
use shared::{FieldError, Problem};
use tower_http::set_header::SetResponseHeaderLayer;
use uuid::Uuid;

use crate::client_ip::ClientIp;
use crate::db;
use crate::db::events::{Event, Kind};
use crate::domain::{Email, NewPassword, UserName, sign_in_email};
use crate::error::{ApiError, ApiResult};
use crate::refresh_token;
use crate::routes::authenticated::Authenticated;
use crate::state::AppState;
pub use transport::{COOKIE_PATH, REFRESH_COOKIE, TRANSPORT_HEADER};
use transport::{Issued, presented_refresh_token, respond};
use types::{RefreshRequest, SigninRequest, SignupRequest, User};

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

#[utoipa::path(post, path = "/api/auth/signup", tag = "auth", request_body = SignupRequest,
    params(("X-Refresh-Token-Transport" = Option<String>, Header, description = "`cookie`: deliver the refresh token only as an HttpOnly cookie")),
    responses(
        (status = 201, description = "Account created and signed in; sets the refresh cookie", body = types::Session),
        (status = 409, description = "Email already registered (`email_taken`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields (`validation_failed`; `errors[].code`: `invalid_email`, `password_too_short`, `password_too_long`, `password_too_common`, `invalid_name`, `required`, `unknown_field`, `invalid_type`)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts from this address (`rate_limited`, `Retry-After`)", body = Problem, content_type = "application/problem+json"),
        BodyErrors, ServerErrors,
    ))]
pub async fn signup(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    jar: CookieJar,
    Json(req): Json<SignupRequest>,
) -> ApiResult<impl IntoResponse> {
    state.limits.check_ip(&state.pool, ip).await?;
    let mut errors: Vec<FieldError> = Vec::new();
    let email = Email::parse(&req.email).map_err(|e| errors.push(e)).ok();
    let name = UserName::parse(req.name.as_deref())
        .map_err(|e| errors.push(e))
        .ok()
        .flatten();
    let password = NewPassword::parse(req.password)
        .await?
        .map_err(|e| errors.push(e))
        .ok();
    let (Some(email), Some(password), true) = (email, password, errors.is_empty()) else {
        return Err(ApiError::Validation(errors));
    };

    let hash = state.hasher.hash(password.into_secret()).await?;
    let origin = origin(&headers, ip);
    let device = refresh_token::new_token()?;
    let (user, issued) = retry::transaction(&state.pool, |tx| {
        Box::pin(create_account(
            &state,
            tx,
            &email,
            name.as_ref(),
            &hash,
            &origin,
            &device.hash,
        ))
    })
    .await?;
    tracing::info!(user_id = %user.id, "user signed up");
    let jar = jar.add(transport::device_cookie(&state, device.token));
    Ok((
        StatusCode::CREATED,
        respond(&state, &headers, jar, issued, Some(user.into())),
    ))
}

#[utoipa::path(post, path = "/api/auth/signin", tag = "auth", request_body = SigninRequest,
    params(("X-Refresh-Token-Transport" = Option<String>, Header, description = "`cookie`: deliver the refresh token only as an HttpOnly cookie")),
    responses(
        (status = 200, description = "Signed in; sets the refresh cookie", body = types::Session),
        (status = 401, description = "Wrong email or password (`invalid_credentials`), indistinguishable in body and timing", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only after a correct password: `mfa_required` — an authenticator app is set up; finish with the body's `mfa_token` and a code at `POST /api/auth/signin/mfa` — or `email_not_verified` (`REQUIRE_VERIFIED_EMAIL` is on and the address is not verified yet; a plain problem without `mfa_token`)", body = super::mfa::MfaRequired, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing, unknown or mistyped", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts for this address or email (`rate_limited`)", body = Problem, content_type = "application/problem+json"),
        BodyErrors, ServerErrors,
    ))]
pub async fn signin(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    jar: CookieJar,
    Json(req): Json<SigninRequest>,
) -> ApiResult<impl IntoResponse> {
    state.limits.check_ip(&state.pool, ip).await?;
    let email = sign_in_email(&req.email);
    let found = match &email {
        Some(email) => db::users::credentials_by_email(&state.pool, email).await?,
        None => None,
    };
    // A browser that signed in to this very account before draws on its own budget. Looked up
    // whenever a device cookie comes, account or not, so the lookup says nothing either.
    let known_device = known_device(&state, &jar, found.as_ref().map(|c| c.id)).await?;
    let known_device = known_device.as_ref();
    state
        .limits
        .check_sign_in(
            &state.pool,
            email.as_deref().unwrap_or(req.email.trim()),
            known_device.map(|h| h.as_slice()),
        )
        .await?;
    let origin = origin(&headers, ip);
    // Always one argon2 verification, against a dummy hash when the email is unknown.
    let verified = state
        .hasher
        .verify(
            req.password.clone(),
            found.as_ref().map(|c| c.password_hash.clone()),
        )
        .await?;
    let Some(creds) = found.as_ref().filter(|_| verified.matched) else {
        // Kept for the account's owner to see; an unknown address leaves no trace of itself.
        let failed = Event {
            kind: Kind::SigninFailed,
            user_id: found.as_ref().map(|c| c.id),
            session_id: None,
            origin: &origin,
        };
        db::events::record_alone(&state.pool, &failed).await?;
        return Err(ApiError::InvalidCredentials);
    };
    if state.settings.require_verified_email && !creds.email_verified {
        // The owner, signed out, has no other way to ask for a new link: send one (at most one a
        // minute) and say so.
        super::email::resend_verification(&state, creds.id, &creds.email).await?;
        return Err(email_not_verified());
    }
    if verified.outdated {
        // Parameters were raised since this hash was made: upgrade it now that we know the password.
        match state.hasher.hash(req.password).await {
            Ok(h) => {
                retry::write(&state.pool, |conn| {
                    Box::pin(db::users::update_hash(conn, creds.id, &h))
                })
                .await?
            }
            Err(e) => tracing::warn!(error = %e, "password rehash failed"),
        }
    }
    if creds.totp_enabled {
        // The password was right; the session waits for the second factor.
        return Err(super::mfa::challenge(&state, creds.id).await?);
    }
    let device = Device::for_sign_in(known_device.copied())?;
    let issued = retry::transaction(&state.pool, |tx| {
        Box::pin(open_session(
            &state,
            tx,
            creds.id,
            &creds.email,
            &origin,
            Some(&device.hash),
        ))
    })
    .await?;
    let user = User {
        id: creds.id,
        email: creds.email.clone(),
        name: creds.name.clone(),
        created_at: creds.created_at,
        email_verified: creds.email_verified,
        totp_enabled: creds.totp_enabled,
    };
    let jar = device.set_cookie(&state, jar);
    Ok(respond(&state, &headers, jar, issued, Some(user)))
}

/// `REQUIRE_VERIFIED_EMAIL` is on and the address is not verified (only ever said after the
/// password or passkey was right).
pub(crate) fn email_not_verified() -> ApiError {
    Problem::new(
        StatusCode::FORBIDDEN,
        "email_not_verified",
        "Confirm your email address first: follow the link in the mail we sent (a new one goes out with this answer, at most one a minute).",
    )
    .into()
}

/// The browser's device token at sign-in: a known device keeps its cookie; any other browser is
/// given one now.
pub(crate) struct Device {
    pub hash: [u8; 32],
    new_token: Option<String>,
}

impl Device {
    pub(crate) fn for_sign_in(known: Option<[u8; 32]>) -> ApiResult<Self> {
        Ok(match known {
            Some(hash) => Self {
                hash,
                new_token: None,
            },
            None => {
                let device = refresh_token::new_token()?;
                Self {
                    hash: device.hash,
                    new_token: Some(device.token),
                }
            }
        })
    }

    pub(crate) fn set_cookie(self, state: &AppState, jar: CookieJar) -> CookieJar {
        match self.new_token {
            Some(token) => jar.add(transport::device_cookie(state, token)),
            None => jar,
        }
    }
}

/// The device cookie's hash if the browser presented one that signed in to `user_id` before.
pub(crate) async fn known_device(
    state: &AppState,
    jar: &CookieJar,
    user_id: Option<Uuid>,
) -> ApiResult<Option<[u8; 32]>> {
    let Some(hash) = transport::presented_device(state, jar) else {
        return Ok(None);
    };
    let owner = db::devices::owner(&state.pool, &hash).await?;
    Ok((owner.is_some() && owner == user_id).then_some(hash))
}

/// A step, the end of every successful sign-in (password, second factor, passkey): a new
/// session, the browser remembered as a known device (if it takes a device cookie), and a
/// `signin` event.
pub(crate) async fn open_session(
    state: &AppState,
    tx: &mut sqlx::PgConnection,
    user_id: Uuid,
    email: &str,
    origin: &db::sessions::Origin<'_>,
    device_hash: Option<&[u8; 32]>,
) -> ApiResult<Issued> {
    let issued = start_session(state, tx, user_id, email, origin).await?;
    if let Some(hash) = device_hash {
        db::devices::remember(tx, hash, user_id).await?;
    }
    let event = Event {
        kind: Kind::Signin,
        user_id: Some(user_id),
        session_id: Some(issued.session_id),
        origin,
    };
    db::events::record(tx, &event).await?;
    Ok(issued)
}

#[utoipa::path(post, path = "/api/auth/refresh", tag = "auth", request_body(content = Option<RefreshRequest>, description = "Optional when the refresh cookie is sent"),
    params(("X-Refresh-Token-Transport" = Option<String>, Header, description = "`cookie`: deliver the new refresh token only as an HttpOnly cookie")),
    responses(
        (status = 200, description = "Rotated: a new access token and a new refresh token (the old one is retired)", body = types::Session),
        (status = 401, description = "Missing, unknown, expired or revoked refresh token (`invalid_token`); a retired token reused after the grace window also revokes its session", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Cookie sent from an origin not in the allow-list (`forbidden`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is unknown or mistyped", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts (`rate_limited`)", body = Problem, content_type = "application/problem+json"),
        BodyErrors, ServerErrors,
    ))]
pub async fn refresh(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    jar: CookieJar,
    body: Bytes,
) -> ApiResult<impl IntoResponse> {
    state.limits.check_ip(&state.pool, ip).await?;
    let Some(presented) = presented_refresh_token(&state, &headers, &jar, &body)? else {
        return Err(ApiError::InvalidToken);
    };
    let presented = presented.expose_secret();
    if !refresh_token::looks_valid(presented) {
        return Err(ApiError::InvalidToken);
    }
    let new = refresh_token::new_token()?;
    let outcome = db::sessions::rotate(
        &state.pool,
        &refresh_token::hash(presented),
        &new.hash,
        state.settings.refresh_grace_secs,
        state.settings.session_idle_secs,
        &origin(&headers, ip),
    )
    .await?;
    let db::sessions::Rotation::Rotated {
        session_id,
        user_id,
        email,
    } = outcome
    else {
        if matches!(outcome, db::sessions::Rotation::ReuseDetected) {
            crate::metrics::reuse_detected();
        }
        return Err(ApiError::InvalidToken);
    };
    let access = state.settings.issuer.mint(
        &state.keys.current(),
        user_id,
        &email,
        session_id,
        Utc::now(),
    )?;
    let issued = Issued {
        session_id,
        access,
        refresh: new.token,
    };
    Ok(respond(&state, &headers, jar, issued, None))
}

#[utoipa::path(post, path = "/api/auth/signout", tag = "auth", request_body(content = Option<RefreshRequest>, description = "Optional when the refresh cookie is sent"),
    responses(
        (status = 204, description = "The token's session is revoked (idempotent: also when it already was, or the token is unknown); the cookie is cleared"),
        (status = 403, description = "Cookie sent from an origin not in the allow-list", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is unknown or mistyped", body = Problem, content_type = "application/problem+json"),
        BodyErrors, ServerErrors,
    ))]
pub async fn signout(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    jar: CookieJar,
    body: Bytes,
) -> ApiResult<impl IntoResponse> {
    if let Some(token) = presented_refresh_token(&state, &headers, &jar, &body)?
        && refresh_token::looks_valid(token.expose_secret())
        && db::sessions::revoke_by_token(
            &state.pool,
            &refresh_token::hash(token.expose_secret()),
            &origin(&headers, ip),
        )
        .await?
        .is_some()
    {
        tracing::info!("session signed out");
    }
    Ok((StatusCode::NO_CONTENT, transport::clear_cookie(&state, jar)))
}

#[utoipa::path(get, path = "/api/auth/me", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 200, description = "The signed-in user", body = User),
        (status = 401, description = "Missing, invalid or expired bearer token, or its session was signed out (`invalid_token`, with `WWW-Authenticate`)", body = Problem, content_type = "application/problem+json"),
        ServerErrors,
    ))]
pub async fn me(caller: Authenticated) -> axum::Json<User> {
    axum::Json(caller.user.into())
}

/// Sign-up's transaction: the user and their first session, both or neither. Run again from the
/// start if the connection dies before COMMIT (see `shared::db::retry`).
async fn create_account(
    state: &AppState,
    tx: &mut sqlx::PgConnection,
    email: &Email,
    name: Option<&UserName>,
    hash: &str,
    origin: &db::sessions::Origin<'_>,
    device_hash: &[u8],
) -> ApiResult<(db::users::UserRow, Issued)> {
    let user = db::users::insert(
        &mut *tx,
        Uuid::now_v7(),
        email.as_str(),
        name.map(UserName::as_str),
        hash,
    )
    .await
    .on_constraint(db::users::EMAIL_UNIQUE, || ApiError::EmailTaken)?;
    let issued = start_session(state, &mut *tx, user.id, &user.email, origin).await?;
    db::devices::remember(tx, device_hash, user.id).await?;
    super::email::queue_verification(state, tx, user.id, &user.email).await?;
    let event = Event {
        kind: Kind::Signup,
        user_id: Some(user.id),
        session_id: Some(issued.session_id),
        origin,
    };
    db::events::record(tx, &event).await?;
    Ok((user, issued))
}

/// Where a request comes from, as the sessions list and the events show it.
pub(crate) fn origin(headers: &HeaderMap, ip: std::net::IpAddr) -> db::sessions::Origin<'_> {
    db::sessions::Origin {
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok()),
        ip: Some(ip),
    }
}

async fn start_session(
    state: &AppState,
    conn: &mut sqlx::PgConnection,
    user_id: Uuid,
    email: &str,
    origin: &db::sessions::Origin<'_>,
) -> ApiResult<Issued> {
    let session_id = Uuid::now_v7();
    let token = refresh_token::new_token()?;
    let expires_at = Utc::now() + state.settings.refresh_ttl;
    db::sessions::create(conn, session_id, user_id, expires_at, &token.hash, origin).await?;
    let access = state.settings.issuer.mint(
        &state.keys.current(),
        user_id,
        email,
        session_id,
        Utc::now(),
    )?;
    Ok(Issued {
        session_id,
        access,
        refresh: token.token,
    })
}
