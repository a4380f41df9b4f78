//! The caller of an account route: a valid access token (verified against our own keys) whose
//! session is still live in the database. Unlike the task-service, the auth-service sees
//! revocation directly, so an ended session's tokens stop here at once.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use shared::Problem;
use shared::bearer::parse_bearer;
use uuid::Uuid;

use crate::db;
use crate::error::ApiError;
use crate::state::AppState;

pub struct Authenticated {
    pub user: db::users::UserRow,
    /// The session the token was issued from (`sid`).
    pub session_id: Uuid,
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = parse_bearer(&parts.headers).map_err(Problem::from)?;
        let claims = state
            .settings
            .issuer
            .verify(&state.keys.current(), token)
            .ok_or(ApiError::InvalidToken)?;
        let user = db::users::by_live_session(
            &state.pool,
            claims.sub,
            claims.sid,
            state.settings.session_idle_secs,
        )
        .await?
        .ok_or(ApiError::InvalidToken)?;
        Ok(Self {
            user,
            session_id: claims.sid,
        })
    }
}
