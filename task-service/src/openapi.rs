//! The OpenAPI 3.1 document (`/openapi.json`) and its browsable page (`/docs`). Error responses are
//! declared once, as response sets each route lists (the generic ones in [`shared::openapi`]), so
//! every route documents every problem it can answer.

use std::collections::BTreeMap;

use axum::Router;
use shared::openapi::{BearerScheme, ServerErrors, problem, unauthorized};
use shared::{FieldError, Problem};
use utoipa::openapi::RefOr;
use utoipa::openapi::response::Response;
use utoipa::{IntoResponses, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use crate::db::tasks::Task;
use crate::input::{CompatReplaceTask, CreateTask, ReplaceTask, UpdateTask};
use crate::listing::{SortParam, StatusParam, TaskPage};
use crate::routes::{compat, health, tasks};
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "task-service",
        description = "Per-user tasks. Every `/api` route needs `Authorization: Bearer <access token>` issued by the \
auth-service (RS256, `typ: at+jwt`). Errors are RFC 9457 `application/problem+json` documents with a stable `code`; \
any path answers 404 `not_found` when unknown and 405 `method_not_allowed` for a wrong method.",
    ),
    paths(
        tasks::list_tasks, tasks::create_task, tasks::get_task, tasks::update_task, tasks::replace_task,
        tasks::delete_task,
        compat::list_tasks, compat::create_task, compat::get_task, compat::replace_task, compat::delete_task,
        compat::toggle_task,
        health::healthz, health::readyz,
    ),
    components(schemas(
        Task, TaskPage, CreateTask, ReplaceTask, UpdateTask, CompatReplaceTask, StatusParam, SortParam, Problem,
        FieldError, health::Health,
    )),
    modifiers(&BearerScheme),
    tags(
        (name = "tasks", description = "The caller's tasks."),
        (name = "compatibility", description = "The original app's routes, kept working; `{user_id}` must be the caller."),
        (name = "health", description = "Liveness and readiness."),
    ),
)]
pub struct ApiDoc;

/// `/openapi.json` and `/docs`.
pub fn router() -> Router<AppState> {
    SwaggerUi::new("/docs")
        .url("/openapi.json", ApiDoc::openapi())
        .into()
}

/// What any protected route can answer besides its own outcomes.
pub struct AuthErrors;

impl IntoResponses for AuthErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let mut responses = ServerErrors::responses();
        responses.extend([unauthorized()]);
        responses
    }
}

/// Routes naming a task.
pub struct NotFoundError;

impl IntoResponses for NotFoundError {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        BTreeMap::from([(
            "404".to_owned(),
            problem("`not_found`: no such task, an id that is not a UUID, or another user's task."),
        )])
    }
}

/// Routes with a JSON body.
pub struct BodyErrors;

impl IntoResponses for BodyErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let mut responses = shared::openapi::BodyErrors::responses();
        responses.extend([(
                "422".to_owned(),
                problem(
                    "`validation_failed`: a field is missing, unknown, mistyped or invalid; `errors` names each \
                     field with a `code` (`required`, `unknown_field`, `invalid_type`, `blank`, `too_long`, `null`).",
                ),
            )]);
        responses
    }
}

/// List routes.
pub struct QueryErrors;

impl IntoResponses for QueryErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        BTreeMap::from([(
            "400".to_owned(),
            problem(
                "`invalid_query`: a parameter has the wrong type, an unknown value, is out of range, or the cursor is bad.",
            ),
        )])
    }
}

/// Compatibility routes.
pub struct ForbiddenError;

impl IntoResponses for ForbiddenError {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        BTreeMap::from([(
            "403".to_owned(),
            problem("`forbidden`: `{user_id}` is not the authenticated user."),
        )])
    }
}
