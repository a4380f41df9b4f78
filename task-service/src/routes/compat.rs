//! The original app's routes (`/api/{user_id}/tasks...`), kept so its frontend works unchanged.
//! Same rules as `/api/tasks`, plus: `{user_id}` must be the token's `sub` (403 otherwise, checked
//! after the credentials and before the body), lists are a bare array of every matching task
//! (newest first unless `sort` says otherwise; `limit` is optional) up to COMPAT_LIST_MAX, with
//! `X-List-Truncated` saying whether more matched, and `PATCH .../{id}/complete` toggles completion.

use axum::extract::{FromRequestParts, RawPathParams, State};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch};
use axum::{Json, Router};
use shared::Problem;
use shared::extract::{Json as JsonBody, Path, Query};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::db::tasks::{self as db, Task, TaskPatch};
use crate::error::{ApiError, ApiResult};
use crate::input::{self, CompatReplaceTask, CreateTask};
use crate::listing::ListParams;
use crate::openapi::{
    AuthErrors, BodyErrors, CompatNotFoundError, CreateErrors, ForbiddenError, QueryErrors,
    UserIdNotFoundError,
};
use crate::routes::tasks::created;
use crate::state::AppState;

/// On a compatibility list: `true` when more tasks matched than the response holds (cut at
/// `limit`, or at COMPAT_LIST_MAX when no `limit` was given), else `false`.
pub const LIST_TRUNCATED: HeaderName = HeaderName::from_static("x-list-truncated");

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/{user_id}/tasks", get(list_tasks).post(create_task))
        .route(
            "/api/{user_id}/tasks/{id}",
            get(get_task).put(replace_task).delete(delete_task),
        )
        .route("/api/{user_id}/tasks/{id}/complete", patch(toggle_task))
}

/// The authenticated caller, who must also be the path's `{user_id}`.
pub struct PathUser(pub AuthUser);

impl FromRequestParts<AppState> for PathUser {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let user = AuthUser::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| Problem::not_found().into_response())?;
        let named = params
            .iter()
            .find(|(name, _)| *name == "user_id")
            .and_then(|(_, value)| Uuid::parse_str(value).ok())
            .ok_or_else(|| Problem::not_found().into_response())?;
        if named != user.id {
            return Err(ApiError::Forbidden.into_response());
        }
        Ok(Self(user))
    }
}

#[derive(Debug, serde::Deserialize)]
pub struct TaskPath {
    #[allow(dead_code)]
    user_id: Uuid,
    id: Uuid,
}

const USER_ID: &str = "The authenticated user's id (the token's `sub`).";

/// Every matching task of the caller, as a bare array: at most `limit`, and never more than the
/// service's COMPAT_LIST_MAX (default 1000); `X-List-Truncated: true` says the list was cut.
#[utoipa::path(
    get, path = "/api/{user_id}/tasks", tag = "compatibility", operation_id = "compat_list_tasks",
    params(("user_id" = Uuid, Path, description = USER_ID), ListParams), security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<Task>, headers(("X-List-Truncated" = bool, description =
            "`true` when more tasks matched than the list holds (cut at `limit`, or at the service's \
             maximum, COMPAT_LIST_MAX, default 1000, when no `limit` was given); `false` otherwise."))),
        QueryErrors, UserIdNotFoundError, ForbiddenError, AuthErrors,
    )
)]
pub async fn list_tasks(
    PathUser(user): PathUser,
    State(state): State<AppState>,
    Query(params): Query<ListParams>,
) -> ApiResult<Response> {
    let (filter, limit) = params.capped(state.limits.compat_list_max)?;
    let mut items = db::list(&state.pool, user.id, &filter).await?;
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let truncated = items.len() > limit;
    items.truncate(limit);
    let flag = HeaderValue::from_static(if truncated { "true" } else { "false" });
    Ok(([(LIST_TRUNCATED, flag)], Json(items)).into_response())
}

/// Creates a task.
#[utoipa::path(
    post, path = "/api/{user_id}/tasks", tag = "compatibility", operation_id = "compat_create_task",
    params(("user_id" = Uuid, Path, description = USER_ID)), request_body = CreateTask, security(("bearer" = [])),
    responses(
        (status = 201, body = Task, headers(("Location" = String, description = "The new task's URL."))),
        CreateErrors, UserIdNotFoundError, ForbiddenError, AuthErrors,
    )
)]
pub async fn create_task(
    PathUser(user): PathUser,
    State(state): State<AppState>,
    JsonBody(body): JsonBody<CreateTask>,
) -> ApiResult<impl IntoResponse> {
    let task = crate::routes::tasks::insert(&state, user.id, body).await?;
    Ok(created(
        &format!("/api/{}/tasks/{}", user.id, task.id),
        task,
    ))
}

/// One task.
#[utoipa::path(
    get, path = "/api/{user_id}/tasks/{id}", tag = "compatibility", operation_id = "compat_get_task",
    params(("user_id" = Uuid, Path, description = USER_ID), ("id" = Uuid, Path)), security(("bearer" = [])),
    responses((status = 200, body = Task), CompatNotFoundError, ForbiddenError, AuthErrors)
)]
pub async fn get_task(
    PathUser(user): PathUser,
    State(state): State<AppState>,
    Path(path): Path<TaskPath>,
) -> ApiResult<Json<Task>> {
    db::get(&state.pool, user.id, path.id)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound)
}

/// Replaces title and description; `completed` too when sent (the original form did not send it).
#[utoipa::path(
    put, path = "/api/{user_id}/tasks/{id}", tag = "compatibility", operation_id = "compat_replace_task",
    params(("user_id" = Uuid, Path, description = USER_ID), ("id" = Uuid, Path)), request_body = CompatReplaceTask,
    security(("bearer" = [])),
    responses((status = 200, body = Task), CompatNotFoundError, BodyErrors, ForbiddenError, AuthErrors)
)]
pub async fn replace_task(
    PathUser(user): PathUser,
    State(state): State<AppState>,
    Path(path): Path<TaskPath>,
    JsonBody(body): JsonBody<CompatReplaceTask>,
) -> ApiResult<Json<Task>> {
    let fields = input::checked(&body.title, body.description)?;
    let patch = TaskPatch {
        title: Some(fields.title),
        description: Some(fields.description),
        completed: body.completed,
    };
    db::patch(&state.pool, user.id, path.id, &patch)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound)
}

/// Deletes a task.
#[utoipa::path(
    delete, path = "/api/{user_id}/tasks/{id}", tag = "compatibility", operation_id = "compat_delete_task",
    params(("user_id" = Uuid, Path, description = USER_ID), ("id" = Uuid, Path)), security(("bearer" = [])),
    responses((status = 204, description = "Deleted."), CompatNotFoundError, ForbiddenError, AuthErrors)
)]
pub async fn delete_task(
    PathUser(user): PathUser,
    State(state): State<AppState>,
    Path(path): Path<TaskPath>,
) -> ApiResult<StatusCode> {
    if db::delete(&state.pool, user.id, path.id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}

/// Toggles completion, recording or clearing `completed_at`.
#[utoipa::path(
    patch, path = "/api/{user_id}/tasks/{id}/complete", tag = "compatibility", operation_id = "compat_toggle_task",
    params(("user_id" = Uuid, Path, description = USER_ID), ("id" = Uuid, Path)), security(("bearer" = [])),
    responses((status = 200, body = Task), CompatNotFoundError, ForbiddenError, AuthErrors)
)]
pub async fn toggle_task(
    PathUser(user): PathUser,
    State(state): State<AppState>,
    Path(path): Path<TaskPath>,
) -> ApiResult<Json<Task>> {
    db::toggle(&state.pool, user.id, path.id)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound)
}
