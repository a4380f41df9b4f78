//! `/api/tasks`: the caller's tasks. The caller is the token's `sub` (the [`AuthUser`] extractor,
//! listed first so credentials are checked before anything else); nothing in a request can name
//! another user, and another user's task is 404 like a missing one.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use shared::db::retry;
use shared::extract::{Json as JsonBody, Path, Query};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::db::tasks::{self as db, Task};
use crate::error::{ApiError, ApiResult};
use crate::input::{self, CreateTask, ReplaceTask, UpdateTask};
use crate::listing::{ListParams, TaskPage, encode_cursor};
use crate::openapi::{AuthErrors, BodyErrors, CreateErrors, NotFoundError, QueryErrors};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/tasks", get(list_tasks).post(create_task))
        .route(
            "/api/tasks/{id}",
            get(get_task)
                .patch(update_task)
                .put(replace_task)
                .delete(delete_task),
        )
}

/// The caller's tasks, a page at a time (keyset pagination).
#[utoipa::path(
    get, path = "/api/tasks", tag = "tasks", params(ListParams), security(("bearer" = [])),
    responses((status = 200, body = TaskPage), QueryErrors, AuthErrors)
)]
pub async fn list_tasks(
    user: AuthUser,
    State(state): State<AppState>,
    Query(params): Query<ListParams>,
) -> ApiResult<Json<TaskPage>> {
    let (filter, limit) = params.paged()?;
    let mut items = db::list(&state.pool, user.id, &filter).await?;
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items
            .last()
            .map(|last| encode_cursor(last, params.sort_param()))
    } else {
        None
    };
    Ok(Json(TaskPage { items, next_cursor }))
}

/// Creates a task for the caller.
#[utoipa::path(
    post, path = "/api/tasks", tag = "tasks", request_body = CreateTask, security(("bearer" = [])),
    responses(
        (status = 201, body = Task, headers(("Location" = String, description = "The new task's URL."))),
        CreateErrors, AuthErrors,
    )
)]
pub async fn create_task(
    user: AuthUser,
    State(state): State<AppState>,
    JsonBody(body): JsonBody<CreateTask>,
) -> ApiResult<impl IntoResponse> {
    let task = insert(&state, user.id, body).await?;
    Ok(created(&format!("/api/tasks/{}", task.id), task))
}

/// Checks and inserts a new task within the caller's quota (both create routes).
pub(crate) async fn insert(state: &AppState, user_id: Uuid, body: CreateTask) -> ApiResult<Task> {
    let fields = input::checked(&body.title, body.description)?;
    let max = state.limits.max_tasks_per_user;
    retry::write(&state.pool, |conn| {
        Box::pin(db::insert(
            conn,
            user_id,
            &fields.title,
            fields.description.as_deref(),
            max,
        ))
    })
    .await?
    .ok_or(ApiError::QuotaExceeded(max))
}

/// 201 with `Location`.
pub(crate) fn created(location: &str, task: Task) -> impl IntoResponse + use<> {
    let location = HeaderValue::from_str(location).ok();
    let mut response = (StatusCode::CREATED, Json(task)).into_response();
    if let Some(location) = location {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

/// One of the caller's tasks.
#[utoipa::path(
    get, path = "/api/tasks/{id}", tag = "tasks", params(("id" = Uuid, Path)), security(("bearer" = [])),
    responses((status = 200, body = Task), NotFoundError, AuthErrors)
)]
pub async fn get_task(
    user: AuthUser,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Task>> {
    db::get(&state.pool, user.id, id)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound)
}

/// Changes the fields sent. Setting `completed` records or clears `completed_at`; `"description": null`
/// clears the description.
#[utoipa::path(
    patch, path = "/api/tasks/{id}", tag = "tasks", params(("id" = Uuid, Path)), request_body = UpdateTask,
    security(("bearer" = [])),
    responses((status = 200, body = Task), NotFoundError, BodyErrors, AuthErrors)
)]
pub async fn update_task(
    user: AuthUser,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    JsonBody(body): JsonBody<UpdateTask>,
) -> ApiResult<Json<Task>> {
    let patch = body.into_patch()?;
    db::patch(&state.pool, user.id, id, &patch)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound)
}

/// Replaces title, description and completion.
#[utoipa::path(
    put, path = "/api/tasks/{id}", tag = "tasks", params(("id" = Uuid, Path)), request_body = ReplaceTask,
    security(("bearer" = [])),
    responses((status = 200, body = Task), NotFoundError, BodyErrors, AuthErrors)
)]
pub async fn replace_task(
    user: AuthUser,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    JsonBody(body): JsonBody<ReplaceTask>,
) -> ApiResult<Json<Task>> {
    let fields = input::checked(&body.title, body.description)?;
    db::replace(
        &state.pool,
        user.id,
        id,
        &fields.title,
        fields.description.as_deref(),
        body.completed,
    )
    .await?
    .map(Json)
    .ok_or(ApiError::NotFound)
}

/// Deletes one of the caller's tasks.
#[utoipa::path(
    delete, path = "/api/tasks/{id}", tag = "tasks", params(("id" = Uuid, Path)), security(("bearer" = [])),
    responses((status = 204, description = "Deleted."), NotFoundError, AuthErrors)
)]
pub async fn delete_task(
    user: AuthUser,
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    if db::delete(&state.pool, user.id, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}
