//! The OpenAPI 3.1 document (`/openapi.json`) and its browsable page (`/docs`). Error responses are
//! declared once, as response sets each route lists (the generic ones in [`shared::openapi`]), so
//! every route documents every problem it can answer.

use std::collections::BTreeMap;

use axum::Router;
use shared::extract::TextRules;
use shared::openapi::{BearerScheme, ServerErrors, problem, unauthorized};
use shared::{FieldError, Problem};
use utoipa::openapi::RefOr;
use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::response::Response;
use utoipa::openapi::schema::Schema;
use utoipa::{IntoResponses, Modify, OpenApi};
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
any path answers 404 `not_found` when unknown and 405 `method_not_allowed` for a wrong method. Text fields and query \
parameters refuse control characters other than tab, line feed and carriage return (the `pattern` of each string); \
one account holds at most MAX_TASKS_PER_USER tasks (default 10000).",
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
    modifiers(&BearerScheme, &TextRules, &TitleRule, &CreatedLinks),
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

/// The title's `pattern`: the text rule of every string, and not blank (see [`input::title_pattern`]).
/// `TextRules` cannot know the second half; a pattern set here is one it leaves alone.
struct TitleRule;

impl Modify for TitleRule {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        let pattern = crate::input::title_pattern();
        for name in [
            "CreateTask",
            "ReplaceTask",
            "UpdateTask",
            "CompatReplaceTask",
        ] {
            let Some(RefOr::T(Schema::Object(body))) = components.schemas.get_mut(name) else {
                continue;
            };
            if let Some(RefOr::T(Schema::Object(title))) = body.properties.get_mut("title") {
                title.pattern = Some(pattern.clone());
            }
        }
    }
}

/// OpenAPI links from each create route's 201 to the routes acting on the new task, so that clients
/// (and a fuzzer's stateful phase) know where its `id` goes.
struct CreatedLinks;

impl Modify for CreatedLinks {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        /// A create route, the operations its new task's `id` feeds, and their parameters.
        struct Created {
            path: &'static str,
            operations: &'static [&'static str],
            parameters: &'static [(&'static str, &'static str)],
        }
        const ID: (&str, &str) = ("id", "$response.body#/id");
        const USER_ID: (&str, &str) = ("user_id", "$request.path.user_id");
        let routes = [
            Created {
                path: "/api/tasks",
                operations: &["get_task", "update_task", "replace_task", "delete_task"],
                parameters: &[ID],
            },
            Created {
                path: "/api/{user_id}/tasks",
                operations: &[
                    "compat_get_task",
                    "compat_replace_task",
                    "compat_toggle_task",
                    "compat_delete_task",
                ],
                parameters: &[USER_ID, ID],
            },
        ];
        for Created {
            path,
            operations,
            parameters,
        } in routes
        {
            let created = openapi
                .paths
                .paths
                .get_mut(path)
                .and_then(|item| item.post.as_mut())
                .and_then(|post| post.responses.responses.get_mut("201"));
            let Some(RefOr::T(created)) = created else {
                continue;
            };
            for operation in operations {
                // utoipa 5.5 writes `LinkBuilder::operation_id` as `operation_id`, a key OpenAPI does
                // not know; its extensions are written flat and unchecked, so the right key goes there.
                let operation_id = Extensions::from_iter([("operationId", *operation)]);
                let link = parameters
                    .iter()
                    .fold(LinkBuilder::new(), |link, (name, value)| {
                        link.parameter(*name, *value)
                    })
                    .extensions(Some(operation_id))
                    .build();
                created
                    .links
                    .insert((*operation).to_owned(), RefOr::T(link));
            }
        }
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

/// Compatibility routes naming a task.
pub struct CompatNotFoundError;

impl IntoResponses for CompatNotFoundError {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        BTreeMap::from([(
            "404".to_owned(),
            problem(
                "`not_found`: `{user_id}` or `{id}` is not a UUID, or the caller has no such task (another \
                 user's task included).",
            ),
        )])
    }
}

/// Compatibility routes naming only the user.
pub struct UserIdNotFoundError;

impl IntoResponses for UserIdNotFoundError {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        BTreeMap::from([(
            "404".to_owned(),
            problem("`not_found`: `{user_id}` is not a UUID."),
        )])
    }
}

const VALIDATION: &str = "`validation_failed`: a field is missing, unknown, mistyped or invalid; `errors` names each \
field with a `code` (`required`, `unknown_field`, `duplicate_field`, `invalid_type`, `blank`, `too_long`, `null`, \
`control_character`, `invalid_unicode` for a `\\u` escape of half a surrogate pair, `out_of_range`).";

/// Routes with a JSON body.
pub struct BodyErrors;

impl IntoResponses for BodyErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let mut responses = shared::openapi::BodyErrors::responses();
        responses.extend([("422".to_owned(), problem(VALIDATION))]);
        responses
    }
}

/// The routes creating a task: their body's problems, and the quota.
pub struct CreateErrors;

impl IntoResponses for CreateErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let mut responses = shared::openapi::BodyErrors::responses();
        responses.extend([(
            "422".to_owned(),
            problem(&format!(
                "{VALIDATION} Or `task_quota_exceeded`: the caller already holds the most tasks an account \
                 may (MAX_TASKS_PER_USER, default 10000)."
            )),
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
                "`invalid_query`: a parameter has the wrong type, an unknown value, is out of range, is not UTF-8 \
                 once percent-decoded or holds a control character (then `errors` names it), or the cursor is bad.",
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
