//! The auth-service's one error type. Every variant has a stable `code` and becomes a
//! problem+json response; unexpected failures are logged (inside the request's span, so with
//! its request id) and answered with a generic 500.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use shared::{FieldError, Problem};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("email taken")]
    EmailTaken,
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("missing token")]
    MissingToken,
    #[error("invalid token")]
    InvalidToken,
    #[error("forbidden")]
    Forbidden(&'static str),
    #[error("rate limited")]
    RateLimited { retry_after: u64 },
    #[error("not ready: {0}")]
    NotReady(&'static str),
    /// A correct password; the second factor is still to come (`POST /api/auth/signin/mfa`).
    #[error("second factor required")]
    MfaRequired(String),
    #[error(transparent)]
    Problem(Box<Problem>),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl From<Problem> for ApiError {
    fn from(p: Problem) -> Self {
        ApiError::Problem(Box::new(p))
    }
}

impl From<crate::password::HashError> for ApiError {
    fn from(err: crate::password::HashError) -> Self {
        match err {
            crate::password::HashError::Busy => {
                tracing::warn!("password-check queue full; refusing at once");
                ApiError::NotReady(
                    "Too many sign-ins are being checked right now; try again in a moment.",
                )
            }
            crate::password::HashError::Failed(e) => ApiError::Internal(e),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        // An outage, not a bug: answer 503 so clients retry.
        if shared::db::is_unavailable(&err) {
            tracing::warn!(error = %err, "database unavailable");
            return ApiError::NotReady("The database is unavailable; try again shortly.");
        }
        ApiError::Internal(err.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = match self {
            ApiError::Validation(errors) => Problem::validation(errors),
            ApiError::EmailTaken => Problem::new(
                StatusCode::CONFLICT,
                "email_taken",
                "An account with this email already exists.",
            )
            .with_errors(vec![FieldError::new(
                "email",
                "email_taken",
                "This email is already registered.",
            )]),
            ApiError::InvalidCredentials => Problem::new(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "The email or password is incorrect.",
            ),
            ApiError::MissingToken => Problem::missing_token(),
            ApiError::InvalidToken => Problem::invalid_token(),
            ApiError::Forbidden(detail) => Problem::new(StatusCode::FORBIDDEN, "forbidden", detail),
            ApiError::RateLimited { retry_after } => Problem::rate_limited(retry_after),
            ApiError::NotReady(detail) => Problem::not_ready(detail),
            ApiError::MfaRequired(token) => {
                let mut response = crate::routes::mfa::mfa_required_response(token);
                // Its own body (a problem with `mfa_token`), so the code is set here.
                response
                    .extensions_mut()
                    .insert(shared::problem::ProblemCode("mfa_required".to_owned()));
                return response;
            }
            ApiError::Problem(p) => *p,
            ApiError::Internal(err) => {
                tracing::error!(error = ?err, "unexpected error");
                Problem::internal()
            }
        };
        problem.into_response()
    }
}
