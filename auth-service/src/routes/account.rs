//! The account, for its signed-in owner: the sessions (see and end them), the password, and the
//! account itself. Every route acts on the access token's user only; another user's session is
//! 404, exactly like one that does not exist.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use axum_extra::extract::CookieJar;
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use shared::db::retry;
use shared::extract::{Json, Path};
use shared::openapi::{BodyErrors, ServerErrors};
use shared::{FieldError, Problem};
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa::ToSchema;
use uuid::Uuid;

use super::auth::{origin, transport};
use super::authenticated::Authenticated;
use crate::client_ip::ClientIp;
use crate::db;
use crate::db::events::{Event, Kind};
use crate::db::sessions::EndReason;
use crate::domain::NewPassword;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/auth/sessions", get(list_sessions))
        .route("/api/auth/sessions/{id}", delete(end_session))
        .route("/api/auth/signout-all", post(sign_out_all))
        .route("/api/auth/password", post(change_password))
        .route("/api/auth/me", delete(delete_account))
        .route("/api/auth/events", get(super::events::list))
        // Personal data: never stored by a cache on the way.
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
}

/// A live session of the caller's.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionInfo {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    /// The last sign-in or refresh.
    pub last_used_at: DateTime<Utc>,
    /// When it ends unless used again (`SESSION_IDLE_TTL` after `last_used_at`), or at its
    /// absolute limit, whichever comes first.
    pub expires_at: DateTime<Utc>,
    /// The browser or client at the last sign-in or refresh.
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    /// The session this request's access token belongs to.
    pub current: bool,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignOutAllRequest {
    /// Keep the caller's own session (default `false`: sign out here too).
    #[serde(default)]
    pub keep_current: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    #[schema(value_type = String, format = Password)]
    pub current_password: SecretString,
    /// 8–128 characters, not a common password.
    #[schema(value_type = String, format = Password)]
    pub new_password: SecretString,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteAccountRequest {
    #[schema(value_type = String, format = Password)]
    pub password: SecretString,
}

#[utoipa::path(get, path = "/api/auth/sessions", tag = "account", security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's live sessions, most recently used first", body = [SessionInfo]),
        (status = 401, description = "Missing, invalid or expired bearer token, or its session ended (`invalid_token`)", body = Problem, content_type = "application/problem+json"),
        ServerErrors,
    ))]
pub async fn list_sessions(
    State(state): State<AppState>,
    caller: Authenticated,
) -> ApiResult<axum::Json<Vec<SessionInfo>>> {
    let rows = db::sessions::live_of_user(
        &state.pool,
        caller.user.id,
        state.settings.session_idle_secs,
    )
    .await?;
    Ok(axum::Json(
        rows.into_iter()
            .map(|r| SessionInfo {
                current: r.id == caller.session_id,
                id: r.id,
                created_at: r.created_at,
                last_used_at: r.last_used_at,
                expires_at: r.ends_at,
                user_agent: r.user_agent,
                ip: r.ip,
            })
            .collect(),
    ))
}

#[utoipa::path(delete, path = "/api/auth/sessions/{id}", tag = "account", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "A session id from `GET /api/auth/sessions`")),
    responses(
        (status = 204, description = "The session ended; its access tokens are refused everywhere within seconds"),
        (status = 401, description = "Missing, invalid or expired bearer token (`invalid_token`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No live session of the caller's with this id (`not_found`), another user's included", body = Problem, content_type = "application/problem+json"),
        ServerErrors,
    ))]
pub async fn end_session(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: axum::http::HeaderMap,
    caller: Authenticated,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    if !db::sessions::end_one(&state.pool, caller.user.id, id, EndReason::EndedByUser).await? {
        return Err(Problem::not_found().into());
    }
    let event = Event {
        kind: Kind::SessionEnded,
        user_id: Some(caller.user.id),
        session_id: Some(id),
        origin: &origin(&headers, ip),
    };
    db::events::record_alone(&state.pool, &event).await?;
    tracing::info!(session_id = %id, "session ended by its user");
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/auth/signout-all", tag = "account", security(("bearer" = [])),
    request_body(content = Option<SignOutAllRequest>, description = "Optional; `keep_current` defaults to `false`"),
    responses(
        (status = 204, description = "Every session of the caller's ended (the current one too unless `keep_current`)"),
        (status = 401, description = "Missing, invalid or expired bearer token (`invalid_token`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is unknown or mistyped (`validation_failed`)", body = Problem, content_type = "application/problem+json"),
        BodyErrors, ServerErrors,
    ))]
pub async fn sign_out_all(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    caller: Authenticated,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<StatusCode> {
    // The body is optional: none means the defaults.
    let req: SignOutAllRequest =
        shared::extract::optional_json(&headers, &body)?.unwrap_or_default();
    let keep = req.keep_current.then_some(caller.session_id);
    let origin = origin(&headers, ip);
    let ended = retry::transaction(&state.pool, |tx| {
        Box::pin(async {
            let ended =
                db::sessions::end_all(tx, caller.user.id, keep, EndReason::SignoutAll).await?;
            let event = Event {
                kind: Kind::Signout,
                user_id: Some(caller.user.id),
                session_id: Some(caller.session_id),
                origin: &origin,
            };
            db::events::record(tx, &event).await?;
            Ok::<_, sqlx::Error>(ended)
        })
    })
    .await?;
    tracing::info!(
        sessions = ended,
        kept_current = req.keep_current,
        "signed out everywhere"
    );
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/auth/password", tag = "account", security(("bearer" = [])),
    request_body = ChangePasswordRequest,
    responses(
        (status = 204, description = "Changed; every other session ended, this one stays signed in"),
        (status = 401, description = "Missing, invalid or expired bearer token (`invalid_token`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: `current_password` wrong (`wrong_password`), or `new_password` too short, too long or too common (the sign-up codes)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts from this address (`rate_limited`)", body = Problem, content_type = "application/problem+json"),
        BodyErrors, ServerErrors,
    ))]
pub async fn change_password(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: axum::http::HeaderMap,
    caller: Authenticated,
    Json(req): Json<ChangePasswordRequest>,
) -> ApiResult<StatusCode> {
    state.limits.check_ip(&state.pool, ip).await?;
    let new_password = NewPassword::parse(req.new_password)
        .await?
        .map_err(|e| FieldError::new("new_password", &e.code, e.message));
    check_password(
        &state,
        caller.user.id,
        req.current_password,
        "current_password",
    )
    .await?;
    let new_password = new_password.map_err(|e| ApiError::Validation(vec![e]))?;
    let hash = state.hasher.hash(new_password.into_secret()).await?;
    let (user_id, keep) = (caller.user.id, caller.session_id);
    let origin = origin(&headers, ip);
    let ended = retry::transaction(&state.pool, |tx| {
        Box::pin(async {
            db::users::update_hash(tx, user_id, &hash).await?;
            let ended =
                db::sessions::end_all(tx, user_id, Some(keep), EndReason::PasswordChanged).await?;
            let event = Event {
                kind: Kind::PasswordChanged,
                user_id: Some(user_id),
                session_id: Some(keep),
                origin: &origin,
            };
            db::events::record(tx, &event).await?;
            Ok::<_, sqlx::Error>(ended)
        })
    })
    .await?;
    tracing::info!(user_id = %caller.user.id, other_sessions_ended = ended, "password changed");
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/api/auth/me", tag = "account", security(("bearer" = [])),
    request_body = DeleteAccountRequest,
    responses(
        (status = 204, description = "The account, its sessions and (through the revocation feed) its tasks are gone; the refresh cookie is cleared"),
        (status = 401, description = "Missing, invalid or expired bearer token (`invalid_token`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: `password` wrong (`wrong_password`), missing or mistyped", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts from this address (`rate_limited`)", body = Problem, content_type = "application/problem+json"),
        BodyErrors, ServerErrors,
    ))]
pub async fn delete_account(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    caller: Authenticated,
    jar: CookieJar,
    Json(req): Json<DeleteAccountRequest>,
) -> ApiResult<impl IntoResponse> {
    state.limits.check_ip(&state.pool, ip).await?;
    check_password(&state, caller.user.id, req.password, "password").await?;
    // Sessions go with the user (ON DELETE CASCADE); the deletion is recorded in the revocation
    // feed by a trigger in the same transaction, which is how the task-service learns of it.
    db::users::delete(&state.pool, caller.user.id).await?;
    tracing::info!(user_id = %caller.user.id, "account deleted");
    Ok((StatusCode::NO_CONTENT, transport::clear_cookie(&state, jar)))
}

/// Re-checks the caller's password. A wrong one is a field error (422), never 401: the caller's
/// session is fine, and a 401 would sign the browser out.
pub(crate) async fn check_password(
    state: &AppState,
    user_id: Uuid,
    password: SecretString,
    field: &str,
) -> ApiResult<()> {
    let stored = db::users::password_hash(&state.pool, user_id).await?;
    let verified = state.hasher.verify(password, stored).await?;
    if !verified.matched {
        return Err(ApiError::Validation(vec![FieldError::new(
            field,
            "wrong_password",
            "The password is incorrect.",
        )]));
    }
    Ok(())
}
