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

/// A user's tasks fall in buckets of 2^SEARCH_BUCKET_BITS by their `seq`.
const SEARCH_BUCKET_BITS: u32 = 12;

/// The search index's key: the owner and the bucket, as text (`<uuid>:<bucket>`; migration
/// 20261209000001, whose expression this must stay). Equality on it is equality on `user_id`, so
/// a probe needs no other test of the owner, and has none: a `user_id = $1` beside it would let a
/// generic plan probe by walking the user's tasks instead of reading the index.
pub const SEARCH_BUCKET: &str = "(user_id::text || ':' || (seq >> 12)::text)";

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
    // The same row lock numbers the task (`seq`) and stamps it: clock_timestamp() read under the
    // lock, and at least a microsecond after the owner's previous task, so a user's tasks are
    // numbered in creation order, which search relies on (migration 20261209000001).
    sqlx::query_as(&format!(
        "WITH slot AS ( \
             INSERT INTO tasks.task_counts AS c (user_id, tasks, next_seq, last_created_at) \
             VALUES ($2, 1, 1, clock_timestamp()) \
             ON CONFLICT (user_id) DO UPDATE SET tasks = c.tasks + 1, next_seq = c.next_seq + 1, \
                 last_created_at = greatest(clock_timestamp(), c.last_created_at + interval '1 microsecond') \
             WHERE c.tasks < $5 \
             RETURNING c.next_seq - 1 AS seq, c.last_created_at AS at \
         ) \
         INSERT INTO tasks.tasks (id, user_id, title, description, seq, created_at, updated_at) \
         SELECT $1, $2, $3, $4, slot.seq, slot.at, slot.at FROM slot RETURNING {COLUMNS}"
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
                // A search by bucket is a cached statement like any list: each of its probes
                // reads one bucket of at most 4,096 tasks through the search index, whatever the
                // user, so the generic plan is the right one for everyone. A search without a
                // trigram (see `walks_buckets`) is planned for its own user and text every time
                // (an unnamed statement): walking the user's tasks in order suits a common short
                // text, and only the custom plan knows how common it is.
                .persistent(walks_buckets(filter))
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
    if let Some(search) = filter.search.as_deref().filter(|s| has_trigram(s)) {
        return build_search(prefix, user_id, search, filter);
    }
    let mut qb = QueryBuilder::new(format!(
        "{prefix}SELECT {COLUMNS} FROM tasks.tasks WHERE user_id = "
    ));
    qb.push_bind(user_id);
    if let Some(search) = &filter.search {
        push_search_unindexed(&mut qb, search);
    }
    push_conditions(&mut qb, filter);
    push_order(&mut qb, filter, "");
    qb
}

/// Whether a list is served by cached statements: every list except a search without a trigram.
pub fn walks_buckets(filter: &ListFilter) -> bool {
    filter.search.as_deref().is_none_or(has_trigram)
}

/// Whether pg_trgm is sure to find a trigram in the pattern `%search%`. It splits a LIKE pattern
/// into words of letters and digits and pads a word with two blanks before it and one after where
/// a literal character (not a wildcard) borders it, then takes every three characters: "invoice"
/// has trigrams, "ab" none, "ab c" one ("ab "), "a b" one ("  b"), "é1" none here. Without
/// any, the trigram half of the search index matches every row and a probe reads the whole index
/// (0.4 s for one bucket at 1.1 M tasks), so such a text walks the user's tasks instead. Only
/// ASCII counts as a letter or a border here, since whether Postgres counts another character as
/// a letter depends on the database's locale: a text that is unsure walks too.
fn has_trigram(search: &str) -> bool {
    let chars: Vec<char> = search.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_alphanumeric() {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && chars[i].is_ascii_alphanumeric() {
            i += 1;
        }
        let before = if start > 0 && chars[start - 1].is_ascii() {
            2
        } else {
            0
        };
        let after = if i < chars.len() && chars[i].is_ascii() {
            1
        } else {
            0
        };
        if i - start + before + after >= 3 {
            return true;
        }
    }
    false
}

/// ` AND <the search text> LIKE lower('%search%')`: `ILIKE` on each field, as one test the search
/// index serves (see SEARCH_TEXT). The pattern is lowered by Postgres, as ILIKE would, not by
/// Rust, whose lowercase differs for a few characters. Backslash is LIKE's default escape
/// character, so no ESCAPE clause.
fn push_search(qb: &mut QueryBuilder<'static, Postgres>, search: &str) {
    qb.push(format!(" AND {SEARCH_TEXT} LIKE lower("));
    qb.push_bind(format!("%{}%", escape_like(search)));
    qb.push(")");
}

/// The same test as [`push_search`], in a form no index serves: the search index has no owner of
/// its own to offer a walk, only every user's rows with the text, so a search without a trigram
/// walks the user's own tasks in the page's order, whatever the planner thinks of the text.
fn push_search_unindexed(qb: &mut QueryBuilder<'static, Postgres>, search: &str) {
    qb.push(" AND (title || E'\\x1f' || coalesce(description, '')) ILIKE ");
    qb.push_bind(format!("%{}%", escape_like(search)));
}

/// A search, bucket by bucket (migration 20261209000001): for each of the user's buckets of 4,096
/// consecutive tasks, the matches from the search index keyed by that bucket. In `created_at`
/// order (the default) the buckets are walked in the page's direction, each yielding its matches
/// already sorted, and the walk stops as soon as the page is full: bucket order is creation order,
/// so the first `limit` rows of the walk are the page. A user with 100,000 tasks and a thousand
/// matches reads about a page's worth of rows, where one index scan over the user's every match
/// reads all thousand. Other orders collect every bucket's matches and sort them, as one scan
/// would. Only a text with a trigram comes here (`has_trigram`).
///
/// The walk relies on the executor: a nested loop over `generate_series` emits the buckets in the
/// series' order and, under the outer `LIMIT`, probes no further bucket once the page is full (a
/// test holds the results to a plain filter across bucket boundaries, both ways, with cursors).
fn build_search(
    prefix: &str,
    user_id: Uuid,
    search: &str,
    filter: &ListFilter,
) -> QueryBuilder<'static, Postgres> {
    let by_creation = filter.sort.key == SortKey::CreatedAt;
    // The walk runs from the bucket of the page's first possible task (past the cursor) to the
    // bucket at the far end of the user's tasks; each end is one step down `tasks_user_created`.
    let (near, far) = if filter.sort.descending {
        ("DESC", "ASC")
    } else {
        ("ASC", "DESC")
    };
    let mut qb = QueryBuilder::new(format!(
        "{prefix}SELECT {COLUMNS} FROM generate_series( \
         (SELECT seq >> {SEARCH_BUCKET_BITS} FROM tasks.tasks WHERE user_id = "
    ));
    qb.push_bind(user_id);
    if by_creation {
        push_after(&mut qb, filter);
    }
    qb.push(format!(
        " ORDER BY created_at {near}, id {near} LIMIT 1), \
         (SELECT seq >> {SEARCH_BUCKET_BITS} FROM tasks.tasks WHERE user_id = "
    ));
    qb.push_bind(user_id);
    qb.push(format!(
        " ORDER BY created_at {far}, id {far} LIMIT 1), {}) AS b(n) \
         CROSS JOIN LATERAL (SELECT {COLUMNS} FROM tasks.tasks WHERE {SEARCH_BUCKET} = (",
        if filter.sort.descending { -1 } else { 1 },
    ));
    qb.push_bind(user_id);
    qb.push("::text || ':' || b.n::text)");
    push_search(&mut qb, search);
    push_conditions(&mut qb, filter);
    if by_creation {
        push_order(&mut qb, filter, "");
        qb.push(") AS t");
        if let Some(limit) = filter.limit {
            qb.push(" LIMIT ");
            qb.push_bind(limit);
        }
    } else {
        qb.push(") AS t");
        push_order(&mut qb, filter, "t.");
    }
    qb
}

/// The status filter and the cursor.
fn push_conditions(qb: &mut QueryBuilder<'static, Postgres>, filter: &ListFilter) {
    match filter.status {
        StatusFilter::All => {}
        StatusFilter::Pending => {
            qb.push(" AND NOT completed");
        }
        StatusFilter::Completed => {
            qb.push(" AND completed");
        }
    }
    push_after(qb, filter);
}

/// ` AND (key, id) > cursor` (or `<`, descending), when there is a cursor.
fn push_after(qb: &mut QueryBuilder<'static, Postgres>, filter: &ListFilter) {
    let Some(after) = &filter.after else {
        return;
    };
    let key = filter.sort.key.expr();
    let cmp = if filter.sort.descending { "<" } else { ">" };
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

/// ` ORDER BY key, id LIMIT n`, the key qualified by `table` (`"t."` or `""`).
fn push_order(qb: &mut QueryBuilder<'static, Postgres>, filter: &ListFilter, table: &str) {
    let key = filter.sort.key.expr();
    let dir = if filter.sort.descending {
        " DESC"
    } else {
        " ASC"
    };
    let key = match filter.sort.key {
        SortKey::Title => format!("lower({table}title)"),
        _ => format!("{table}{key}"),
    };
    qb.push(format!(" ORDER BY {key}{dir}, {table}id{dir}"));
    if let Some(limit) = filter.limit {
        qb.push(" LIMIT ");
        qb.push_bind(limit);
    }
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
    fn a_trigram_is_what_pg_trgm_takes_from_ascii_words_and_their_borders() {
        for text in [
            "abc",
            "x 42b",
            "invoice",
            "a-b-c-100",
            "ébc1",
            "a bc",
            "a b",
            "ab c",
            "é b",
            "a%b_c",
            "x\\y",
        ] {
            assert!(has_trigram(text), "{text:?}");
        }
        for text in [
            "ab",
            "1 ",
            "a",
            "é1",
            "ébc",
            "éb",
            "日本語",
            "ab日",
            " ",
            "",
        ] {
            assert!(!has_trigram(text), "{text:?}");
        }
    }

    fn title_page(search: &str) -> ListFilter {
        ListFilter {
            status: StatusFilter::Pending,
            search: Some(search.to_owned()),
            sort: Sort {
                key: SortKey::Title,
                descending: false,
            },
            after: Some(After::Title("b".to_owned(), Uuid::nil())),
            limit: Some(51),
        }
    }

    #[test]
    fn list_query_uses_only_fixed_fragments() {
        // With a trigram: by bucket, the bounds of the walk first.
        let sql = list_query(Uuid::nil(), &title_page("x'; DROP TABLE tasks.tasks; --")).into_sql();
        assert!(!sql.contains("DROP"));
        assert!(
            sql.contains(&format!(
                "WHERE {SEARCH_BUCKET} = ($3::text || ':' || b.n::text) \
                 AND {SEARCH_TEXT} LIKE lower($4) AND NOT completed \
                 AND (lower(title), id) > (lower($5), $6)) AS t"
            )),
            "{sql}"
        );
        assert!(
            sql.ends_with("ORDER BY lower(t.title) ASC, t.id ASC LIMIT $7"),
            "{sql}"
        );
        // Without one: the user's tasks in the page's order.
        let sql = list_query(Uuid::nil(), &title_page("xy")).into_sql();
        assert!(
            sql.contains(
                "WHERE user_id = $1 AND (title || E'\\x1f' || coalesce(description, '')) ILIKE $2 \
                 AND NOT completed AND (lower(title), id) > (lower($3), $4)"
            ),
            "{sql}"
        );
        assert!(
            sql.ends_with("ORDER BY lower(title) ASC, id ASC LIMIT $5"),
            "{sql}"
        );
    }
}
