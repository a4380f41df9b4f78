//! One error type for the handlers, turned into the contract's problem documents. Database failures
//! are classified here: an unreachable database is 503 `not_ready` (clients retry), a violated
//! check constraint is a field error, anything else a logged, generic 500.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use shared::{FieldError, Problem};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No such task — or another user's, which must look the same.
    #[error("not found")]
    NotFound,
    /// Authenticated, but the path names another user (compatibility routes).
    #[error("forbidden")]
    Forbidden,
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("invalid query: {0}")]
    InvalidQuery(String),
    /// The user already holds this many tasks, the most one account may.
    #[error("task quota exceeded")]
    QuotaExceeded(i64),
    /// The database cannot be reached (pool timeout, connection refused or dropped).
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        if shared::db::is_unavailable(&error) {
            return Self::Unavailable(error);
        }
        if let Some(field_error) =
            shared::db::violated_constraint(&error).and_then(constraint_field_error)
        {
            return Self::Validation(vec![field_error]);
        }
        Self::Internal(anyhow::Error::new(error).context("database query failed"))
    }
}

/// The check constraints of `migrations/tasks`, named so their violations read like the API's own
/// validation (they fire only if the handler's checks and the database's ever disagree).
fn constraint_field_error(constraint: &str) -> Option<FieldError> {
    Some(match constraint {
        "tasks_title_length" => {
            FieldError::new("title", "length", "Title must be 1 to 200 characters.")
        }
        "tasks_title_not_blank" => FieldError::new("title", "blank", "Title must not be blank."),
        "tasks_description_length" => FieldError::new(
            "description",
            "too_long",
            "Description must be at most 1000 characters.",
        ),
        _ => return None,
    })
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = match self {
            Self::NotFound => Problem::not_found(),
            Self::Forbidden => Problem::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "The path names another user.",
            ),
            Self::Validation(errors) => Problem::validation(errors),
            Self::InvalidQuery(detail) => Problem::invalid_query(detail),
            Self::QuotaExceeded(max) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "task_quota_exceeded",
                format!("An account holds at most {max} tasks; delete some to add more."),
            ),
            Self::Unavailable(error) => {
                tracing::warn!(%error, "database unavailable");
                Problem::not_ready("The database is unavailable; try again shortly.")
            }
            Self::Internal(error) => {
                // The span carries the request id; the client sees only the generic problem.
                tracing::error!(error = format!("{error:#}"), "unexpected error");
                Problem::internal()
            }
        };
        problem.into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
