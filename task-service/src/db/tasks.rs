//! Queries on `tasks.tasks`. Every statement filters by `user_id` in its `WHERE` clause, so another
//! user's task is simply not found — there is no fetch-then-check to get wrong.

use chrono::{DateTime, Utc};
use serde::Serialize;
use shared::db::retry;
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};
use utoipa::ToSchema;
use uuid::Uuid;

/// A task as the API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema, sqlx::FromRow)]
pub struct Task {
    pub id: Uuid,
    /// Trimmed, 1 to 200 characters.
    pub title: String,
    /// At most 1000 characters.
    pub description: Option<String>,
    pub completed: bool,
    #[serde(serialize_with = "crate::rfc3339::serialize")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::rfc3339::serialize")]
    pub updated_at: DateTime<Utc>,
    /// When the task was last marked complete; null while pending.
    #[serde(serialize_with = "crate::rfc3339::serialize_option")]
    pub completed_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, title, description, completed, created_at, updated_at, completed_at";

/// A validated partial update. `description: Some(None)` clears it; `None` leaves it alone.
#[derive(Debug, Default, Clone)]
pub struct TaskPatch {
    pub title: Option<String>,
    pub description: Option<Option<String>>,
    pub completed: Option<bool>,
}

impl TaskPatch {
    pub fn is_empty(&self) -> bool {
        self.title.is_none() && self.description.is_none() && self.completed.is_none()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StatusFilter {
    #[default]
    All,
    Pending,
    Completed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    CreatedAt,
    UpdatedAt,
    Title,
}

impl SortKey {
    /// The SQL expression sorted on; matches an index `(user_id, <expr>, id)` in the migrations.
    fn expr(self) -> &'static str {
        match self {
            Self::CreatedAt => "created_at",
            Self::UpdatedAt => "updated_at",
            // Case-insensitive, so "apple" and "Banana" sort as people expect.
            Self::Title => "lower(title)",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    pub key: SortKey,
    pub descending: bool,
}

impl Default for Sort {
    fn default() -> Self {
        Self {
            key: SortKey::CreatedAt,
            descending: true,
        }
    }
}

/// The sort key of the last row of the previous page (keyset pagination).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum After {
    Time(DateTime<Utc>, Uuid),
    /// The raw title; the query lowers it the same way the index does.
    Title(String, Uuid),
}

impl After {
    /// The position just past `task` in `sort` order.
    pub fn from_task(task: &Task, sort: Sort) -> Self {
        match sort.key {
            SortKey::CreatedAt => Self::Time(task.created_at, task.id),
            SortKey::UpdatedAt => Self::Time(task.updated_at, task.id),
            SortKey::Title => Self::Title(task.title.clone(), task.id),
        }
    }
}

/// The text a search looks in: title and description, lowered, apart. `title ILIKE p OR
/// description ILIKE p` is the same test as `SEARCH_TEXT LIKE lower(p)`, since ILIKE lowers both
/// sides as lower() does and `q` cannot hold U+001F (control characters are refused), so no match
/// straddles the two. One index condition and one lowering per row instead of two; the search
/// index (migration 20261208000001) is built on exactly this expression.
pub const SEARCH_TEXT: &str = "lower(title || E'\\x1f' || coalesce(description, ''))";

/// A list request, already validated.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub status: StatusFilter,
    /// Case-insensitive substring of the title or description.
    pub search: Option<String>,
    pub sort: Sort,
    pub after: Option<After>,
    /// Rows to fetch at most; `None`: every matching task (only internal callers leave it out).
    pub limit: Option<i64>,
}

/// Inserts a task unless its owner already holds `max_tasks`: `None` then.
///
/// The quota is race-free in one statement: the upsert on the owner's row of `tasks.task_counts`
/// takes that row's lock and re-reads its count under it (`ON CONFLICT DO UPDATE ... WHERE`), so
/// parallel creates by one user queue there and the last ones find the count at the maximum; a
/// first task races only on the row's insertion, which Postgres turns into the same update. The
/// task row is inserted only when the count was taken, and both commit or neither does. Deletes
/// give the count back through a trigger (migration `task_counts`), whatever issues them. Counting the
/// user's rows instead would be O(tasks) per create and, under READ COMMITTED, racy.
///
/// A step on a connection, not a unit of work on the pool, so that a test can hold a slot in an
/// open transaction; the create routes run it under `retry::write`.
pub async fn insert(
    conn: &mut PgConnection,
    user_id: Uuid,
    title: &str,
    description: Option<&str>,
    max_tasks: i64,
) -> sqlx::Result<Option<Task>> {
    // UUIDv7: time-ordered, so new rows append to the primary-key index instead of scattering.
    sqlx::query_as(&format!(
        "WITH slot AS ( \
             INSERT INTO tasks.task_counts AS c (user_id, tasks) VALUES ($2, 1) \
             ON CONFLICT (user_id) DO UPDATE SET tasks = c.tasks + 1 WHERE c.tasks < $5 \
             RETURNING 1 \
         ) \
         INSERT INTO tasks.tasks (id, user_id, title, description) \
         SELECT $1, $2, $3, $4 FROM slot RETURNING {COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(user_id)
    .bind(title)
    .bind(description)
    .bind(max_tasks)
    .fetch_optional(conn)
    .await
}

pub async fn get(pool: &PgPool, user_id: Uuid, id: Uuid) -> sqlx::Result<Option<Task>> {
    retry::read(pool, |conn| {
        Box::pin(async move {
            sqlx::query_as(&format!(
                "SELECT {COLUMNS} FROM tasks.tasks WHERE id = $1 AND user_id = $2"
            ))
            .bind(id)
            .bind(user_id)
            .fetch_optional(&mut **conn)
            .await
        })
    })
    .await
}

pub async fn list(pool: &PgPool, user_id: Uuid, filter: &ListFilter) -> sqlx::Result<Vec<Task>> {
    retry::read(pool, |conn| {
        Box::pin(async move {
            list_query(user_id, filter)
                .build_query_as()
                // A search is planned for its own user and text every time (an unnamed
                // statement). A cached statement switches to a generic plan after five runs, and
                // that plan, costed for a typical user's ten tasks, walks the user's whole index
                // filtering every row: 6 ms for a user with 100,000 tasks, where the search
                // index's bitmap the custom plan picks takes under 2 ms (BENCHMARKS.md). Planning costs
                // ~0.2 ms; lists without a search keep their cached plans.
                .persistent(filter.search.is_none())
                .fetch_all(&mut **conn)
                .await
        })
    })
    .await
}

/// The list statement, built from fixed fragments and bound values only.
pub fn list_query(user_id: Uuid, filter: &ListFilter) -> QueryBuilder<'static, Postgres> {
    build_list("", user_id, filter)
}

/// `EXPLAIN (FORMAT JSON)` of [`list_query`], so a test (and an operator) can check the plan uses
/// the indexes.
pub fn explain_list_query(user_id: Uuid, filter: &ListFilter) -> QueryBuilder<'static, Postgres> {
    build_list("EXPLAIN (FORMAT JSON) ", user_id, filter)
}

fn build_list(prefix: &str, user_id: Uuid, filter: &ListFilter) -> QueryBuilder<'static, Postgres> {
    let mut qb = QueryBuilder::new(format!(
        "{prefix}SELECT {COLUMNS} FROM tasks.tasks WHERE user_id = "
    ));
    qb.push_bind(user_id);
    match filter.status {
        StatusFilter::All => {}
        StatusFilter::Pending => {
            qb.push(" AND NOT completed");
        }
        StatusFilter::Completed => {
            qb.push(" AND completed");
        }
    }
    if let Some(search) = &filter.search {
        let pattern = format!("%{}%", escape_like(search));
        // `ILIKE` on each field, as one test the search index serves (see SEARCH_TEXT). The
        // pattern is lowered by Postgres, as ILIKE would, not by Rust, whose lowercase differs for
        // a few characters. Backslash is LIKE's default escape character, so no ESCAPE clause.
        qb.push(format!(" AND {SEARCH_TEXT} LIKE lower("));
        qb.push_bind(pattern);
        qb.push(")");
    }
    let key = filter.sort.key.expr();
    let (cmp, dir) = if filter.sort.descending {
        ("<", " DESC")
    } else {
        (">", " ASC")
    };
    if let Some(after) = &filter.after {
        qb.push(format!(" AND ({key}, id) {cmp} ("));
        match after {
            After::Time(at, id) => {
                qb.push_bind(*at);
                qb.push(", ");
                qb.push_bind(*id);
            }
            After::Title(title, id) => {
                qb.push("lower(");
                qb.push_bind(title.clone());
                qb.push("), ");
                qb.push_bind(*id);
            }
        }
        qb.push(")");
    }
    qb.push(format!(" ORDER BY {key}{dir}, id{dir}"));
    if let Some(limit) = filter.limit {
        qb.push(" LIMIT ");
        qb.push_bind(limit);
    }
    qb
}

/// `%`, `_` and `\` in the search text match themselves.
fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Replaces title, description and completion (PUT). Completing an already-completed task keeps
/// its `completed_at`.
pub async fn replace(
    pool: &PgPool,
    user_id: Uuid,
    id: Uuid,
    title: &str,
    description: Option<&str>,
    completed: bool,
) -> sqlx::Result<Option<Task>> {
    retry::write(pool, |conn| {
        Box::pin(async move {
            sqlx::query_as(&format!(
                "UPDATE tasks.tasks SET title = $3, description = $4, completed = $5, \
                 completed_at = CASE WHEN $5 THEN COALESCE(completed_at, now()) ELSE NULL END, updated_at = now() \
                 WHERE id = $1 AND user_id = $2 RETURNING {COLUMNS}"
            ))
            .bind(id)
            .bind(user_id)
            .bind(title)
            .bind(description)
            .bind(completed)
            .fetch_optional(&mut **conn)
            .await
        })
    })
    .await
}

/// Applies the fields present in `patch` (PATCH). An empty patch changes nothing, not even
/// `updated_at`.
pub async fn patch(
    pool: &PgPool,
    user_id: Uuid,
    id: Uuid,
    patch: &TaskPatch,
) -> sqlx::Result<Option<Task>> {
    if patch.is_empty() {
        return get(pool, user_id, id).await;
    }
    retry::write(pool, |conn| {
        Box::pin(async move {
            sqlx::query_as(&format!(
                "UPDATE tasks.tasks SET title = COALESCE($3, title), \
                 description = CASE WHEN $4 THEN $5 ELSE description END, \
                 completed = COALESCE($6, completed), \
                 completed_at = CASE WHEN $6 IS NULL THEN completed_at WHEN $6 THEN COALESCE(completed_at, now()) ELSE NULL END, \
                 updated_at = now() \
                 WHERE id = $1 AND user_id = $2 RETURNING {COLUMNS}"
            ))
            .bind(id)
            .bind(user_id)
            .bind(patch.title.as_deref())
            .bind(patch.description.is_some())
            .bind(patch.description.clone().flatten())
            .bind(patch.completed)
            .fetch_optional(&mut **conn)
            .await
        })
    })
    .await
}

/// Flips completion (the compatibility `.../complete` route).
pub async fn toggle(pool: &PgPool, user_id: Uuid, id: Uuid) -> sqlx::Result<Option<Task>> {
    retry::write(pool, |conn| {
        Box::pin(async move {
            sqlx::query_as(&format!(
                "UPDATE tasks.tasks SET completed = NOT completed, \
                 completed_at = CASE WHEN completed THEN NULL ELSE now() END, updated_at = now() \
                 WHERE id = $1 AND user_id = $2 RETURNING {COLUMNS}"
            ))
            .bind(id)
            .bind(user_id)
            .fetch_optional(&mut **conn)
            .await
        })
    })
    .await
}

/// Whether a task was deleted.
pub async fn delete(pool: &PgPool, user_id: Uuid, id: Uuid) -> sqlx::Result<bool> {
    let result = retry::write(pool, |conn| {
        Box::pin(async move {
            sqlx::query("DELETE FROM tasks.tasks WHERE id = $1 AND user_id = $2")
                .bind(id)
                .bind(user_id)
                .execute(&mut **conn)
                .await
        })
    })
    .await?;
    Ok(result.rows_affected() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_metacharacters_are_escaped() {
        assert_eq!(escape_like(r"50%_off\"), r"50\%\_off\\");
    }

    #[test]
    fn list_query_uses_only_fixed_fragments() {
        let filter = ListFilter {
            status: StatusFilter::Pending,
            search: Some("x'; DROP TABLE tasks.tasks; --".to_owned()),
            sort: Sort {
                key: SortKey::Title,
                descending: false,
            },
            after: Some(After::Title("b".to_owned(), Uuid::nil())),
            limit: Some(51),
        };
        let sql = list_query(Uuid::nil(), &filter).into_sql();
        assert!(!sql.contains("DROP"));
        assert!(
            sql.contains(&format!("AND {SEARCH_TEXT} LIKE lower($2) ")),
            "{sql}"
        );
        assert!(
            sql.contains("(lower(title), id) > (lower($3), $4)"),
            "{sql}"
        );
        assert!(
            sql.ends_with("ORDER BY lower(title) ASC, id ASC LIMIT $5"),
            "{sql}"
        );
    }
}
