//! The axum extractor for the authenticated caller: the bearer token (parsed by
//! [`shared::bearer`]) verified by the state's [`Verifier`]. Failures are problem documents with
//! the RFC 6750 §3 challenge.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use shared::Problem;
use shared::bearer::{BearerError, parse_bearer};
use uuid::Uuid;

use super::verify::{Claims, Verifier, VerifyError};

/// The caller, as the verified token says. Handlers take it as an argument; there is no other way
/// for a request to name a user.
#[derive(Debug, Clone)]
pub struct AuthUser {
    /// The token's `sub`.
    pub id: Uuid,
    pub email: Option<String>,
    /// The session the token was issued from (`sid`).
    pub session_id: Option<String>,
    /// The token's `jti`.
    pub token_id: String,
}

impl From<Claims> for AuthUser {
    fn from(claims: Claims) -> Self {
        Self {
            id: claims.sub,
            email: claims.email,
            session_id: claims.sid,
            token_id: claims.jti,
        }
    }
}

/// Why a request is not authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthError {
    /// No bearer token was sent: 401 with the bare `Bearer` challenge.
    Missing,
    /// A token was sent and refused: 401 with `error="invalid_token"`.
    Invalid,
    /// Signing keys are not known yet: 503, so clients retry instead of signing the user out.
    NotReady,
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        match self {
            Self::Missing => Problem::missing_token(),
            Self::Invalid => Problem::invalid_token(),
            Self::NotReady => {
                Problem::not_ready("The service cannot verify tokens yet; try again shortly.")
            }
        }
        .into_response()
    }
}

impl<S> FromRequestParts<S> for AuthUser
where
    Verifier: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // Another extractor in the same request may have verified the token already.
        if let Some(user) = parts.extensions.get::<AuthUser>() {
            return Ok(user.clone());
        }
        let token = parse_bearer(&parts.headers).map_err(|error| match error {
            BearerError::Missing => AuthError::Missing,
            BearerError::Invalid => AuthError::Invalid,
        })?;
        let verifier = Verifier::from_ref(state);
        let claims = verifier.verify(token).await.map_err(|error| match error {
            VerifyError::NotReady => AuthError::NotReady,
            VerifyError::Invalid(reason) => {
                // The reason helps operators; the token itself is never logged.
                tracing::info!(reason, "bearer token refused");
                AuthError::Invalid
            }
        })?;
        let user = AuthUser::from(claims);
        parts.extensions.insert(user.clone());
        Ok(user)
    }
}
