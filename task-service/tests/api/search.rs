//! Search walks a user's tasks bucket by bucket (4,096 tasks each, by `seq`; migration
//! 20261209000001). These tests put a user's tasks across bucket boundaries (by moving the user's
//! next `seq` on, as 4,096 creates would) and hold every search page to the plain list filtered
//! in Rust, and hold the numbering itself to creation order, also under parallel creates.

use futures::future::join_all;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use task_service::db::tasks::{ListFilter, walks_buckets};

use crate::helpers::{TestApp, User, spawn};

/// Moves `user`'s next task number to `next_seq` (creating the user's count row if need be).
async fn number_next(pool: &PgPool, user: Uuid, next_seq: i64) {
    sqlx::query(
        "INSERT INTO tasks.task_counts (user_id, tasks, next_seq) VALUES ($1, 0, $2) \
         ON CONFLICT (user_id) DO UPDATE SET next_seq = excluded.next_seq",
    )
    .bind(user)
    .bind(next_seq)
    .execute(pool)
    .await
    .expect("move next_seq");
}

fn ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|t| t["id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn items(page: &Value) -> Vec<Value> {
    page["items"].as_array().cloned().unwrap_or_default()
}

/// Every page of `query`, following `next_cursor`.
async fn all_pages(app: &TestApp, user: &User, query: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..200 {
        let q = match &cursor {
            Some(c) => format!("{query}&cursor={c}"),
            None => query.to_owned(),
        };
        let page = app.list_ok(user, &q).await;
        out.extend(items(&page));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return out,
        }
    }
    panic!("{query}: more than 200 pages");
}

fn matches(task: &Value, needle: &str) -> bool {
    let field = |k: &str| task[k].as_str().unwrap_or_default().to_lowercase();
    field("title").contains(needle) || field("description").contains(needle)
}

#[tokio::test]
async fn every_search_page_is_the_filtered_list_across_bucket_boundaries() {
    let app = spawn().await;
    let pool = &app.state.pool;
    let user = app.new_user();
    // 15 tasks at the end of bucket 0, 15 at the start of bucket 1, then 10 at the end of bucket
    // 2 and 20 in bucket 3.
    number_next(pool, user.id, 4096 - 15).await;
    for i in 0..60 {
        if i == 30 {
            number_next(pool, user.id, 3 * 4096 - 10).await;
        }
        let title = if i % 3 == 0 {
            format!("Needle {i:02}")
        } else {
            format!("hay {i:02}")
        };
        let description = (i % 5 == 0).then(|| format!("a NEEDLE in task {i}"));
        let res = app
            .create(
                &user.token,
                json!({"title": title, "description": description}),
            )
            .await;
        assert_eq!(res.status(), reqwest::StatusCode::CREATED);
        let task: Value = res.json().await.expect("task");
        let id = task["id"].as_str().unwrap_or_default().to_owned();
        // Completion and updated_at in another order than creation.
        if i % 4 == 0 || i % 7 == 0 {
            let res = app
                .patch_task(&user, &id, json!({"completed": i % 4 == 0}))
                .await;
            assert_eq!(res.status(), reqwest::StatusCode::OK);
        }
    }
    let buckets: Vec<i64> = sqlx::query_scalar(
        "SELECT DISTINCT seq >> 12 FROM tasks.tasks WHERE user_id = $1 ORDER BY 1",
    )
    .bind(user.id)
    .fetch_all(pool)
    .await
    .expect("buckets");
    assert_eq!(buckets, [0, 1, 2, 3]);

    let mut checked = 0;
    for sort in [
        "-created_at",
        "created_at",
        "-updated_at",
        "updated_at",
        "title",
        "-title",
    ] {
        for status in ["all", "pending", "completed"] {
            let everything = items(
                &app.list_ok(&user, &format!("?sort={sort}&status={status}&limit=200"))
                    .await,
            );
            // The last two have no trigram: they walk the user's tasks instead of the buckets.
            for needle in ["needle", "NEEDLE 1", "hay", "nothing like it", "ee", "1"] {
                let lowered = needle.to_lowercase();
                let expected: Vec<Value> = everything
                    .iter()
                    .filter(|t| matches(t, &lowered))
                    .cloned()
                    .collect();
                for limit in [1, 4, 7, 200] {
                    let query = format!(
                        "?sort={sort}&status={status}&limit={limit}&q={}",
                        needle.replace(' ', "+")
                    );
                    let got = all_pages(&app, &user, &query).await;
                    assert_eq!(ids(&got), ids(&expected), "{query}");
                    checked += got.len();
                }
            }
        }
    }
    assert!(checked > 1000, "the cases found too little: {checked}");
}

/// One user's parallel creates queue on the user's count row, which numbers them: every `seq`
/// once, in the order of `(created_at, id)`, so the buckets stay in creation order.
#[tokio::test]
async fn parallel_creates_are_numbered_in_creation_order() {
    let app = spawn().await;
    let pool = &app.state.pool;
    let user = app.new_user();
    number_next(pool, user.id, 4096 - 20).await;
    let creates = (0..40).map(|i| {
        app.create(
            &user.token,
            json!({"title": format!("parallel needle {i}")}),
        )
    });
    for res in join_all(creates).await {
        assert_eq!(res.status(), reqwest::StatusCode::CREATED);
    }
    let rows: Vec<(i64, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(
        "SELECT seq, created_at FROM tasks.tasks WHERE user_id = $1 ORDER BY created_at, id",
    )
    .bind(user.id)
    .fetch_all(pool)
    .await
    .expect("rows");
    let seqs: Vec<i64> = rows.iter().map(|r| r.0).collect();
    assert_eq!(seqs, (4096 - 20..4096 + 20).collect::<Vec<_>>());
    assert!(
        rows.windows(2).all(|w| w[0].1 < w[1].1),
        "created_at strictly increases with seq: {rows:?}"
    );
    let (tasks, next_seq): (i32, i64) =
        sqlx::query_as("SELECT tasks, next_seq FROM tasks.task_counts WHERE user_id = $1")
            .bind(user.id)
            .fetch_one(pool)
            .await
            .expect("count row");
    assert_eq!((tasks, next_seq), (40, 4096 + 20));
    // And the search over both buckets is the list.
    let listed = items(&app.list_ok(&user, "?limit=200").await);
    let found = all_pages(&app, &user, "?limit=7&q=needle").await;
    assert_eq!(ids(&found), ids(&listed));
}

/// A clock stepped back (NTP, a failover to another host) cannot number a task before an older
/// one: `created_at` follows the user's previous task by at least a microsecond.
#[tokio::test]
async fn a_clock_that_steps_back_cannot_reorder_a_users_tasks() {
    let app = spawn().await;
    let pool = &app.state.pool;
    let user = app.new_user();
    let first = app.create_task(&user, "first").await;
    // As if the first task had been stamped by a clock an hour ahead.
    let ahead = chrono::Utc::now() + chrono::Duration::hours(1);
    sqlx::query("UPDATE tasks.task_counts SET last_created_at = $2 WHERE user_id = $1")
        .bind(user.id)
        .bind(ahead)
        .execute(pool)
        .await
        .expect("clock ahead");
    let second = app.create_task(&user, "second").await;
    let third = app.create_task(&user, "third").await;
    let at = |t: &Value| {
        chrono::DateTime::parse_from_rfc3339(t["created_at"].as_str().unwrap_or_default())
            .expect("created_at")
    };
    assert!(at(&second) > ahead && at(&third) > at(&second));
    assert_eq!(second["created_at"], second["updated_at"]);
    let listed = items(&app.list_ok(&user, "").await);
    assert_eq!(
        ids(&listed),
        ids(&[third.clone(), second.clone(), first.clone()])
    );
}

/// A probe reads a bucket by its key, `<owner>:<bucket>`, with no other test of the owner: another
/// user's tasks in the same buckets, with the same text, never show.
#[tokio::test]
async fn a_search_finds_only_the_users_own_tasks_in_the_same_buckets() {
    let app = spawn().await;
    let pool = &app.state.pool;
    let (me, other) = (app.new_user(), app.new_user());
    for user in [&me, &other] {
        number_next(pool, user.id, 4096 - 2).await;
    }
    let mut mine = Vec::new();
    for i in 0..4 {
        mine.push(app.create_task(&me, &format!("shared needle {i}")).await);
        app.create_task(&other, &format!("shared needle {i}")).await;
    }
    mine.reverse();
    for query in [
        "?q=needle",
        "?q=needle&limit=1",
        "?q=needle&sort=title",
        "?q=ne",
    ] {
        let found = all_pages(&app, &me, query).await;
        let mut expected = mine.clone();
        if query.contains("title") {
            expected.reverse();
        }
        assert_eq!(ids(&found), ids(&expected), "{query}");
    }
}

/// The texts that take the buckets are texts in which pg_trgm finds a trigram, checked against
/// pg_trgm itself for every text of up to three characters from letters, digits, a non-ASCII
/// letter and LIKE's special characters: were one without, a probe would read the whole index.
#[tokio::test]
async fn every_text_that_takes_the_buckets_gives_pg_trgm_a_trigram() {
    let app = spawn().await;
    let mut conn = app.state.pool.acquire().await.expect("connection");
    sqlx::raw_sql(
        "CREATE TEMP TABLE probe AS SELECT 'row ' || g AS t FROM generate_series(1, 300) AS g; \
         CREATE INDEX ON probe USING gin (t tasks.gin_trgm_ops); ANALYZE probe; \
         SET enable_seqscan = off; \
         CREATE FUNCTION pg_temp.reads_everything(p text) RETURNS boolean LANGUAGE plpgsql AS $$ \
         DECLARE plan json; BEGIN \
             EXECUTE format('EXPLAIN (ANALYZE, FORMAT JSON) SELECT * FROM probe WHERE t LIKE %L', p) INTO plan; \
             RETURN (plan->0->'Plan'->'Plans'->0->>'Actual Rows')::int = 300; \
         END $$;",
    )
    .execute(&mut *conn)
    .await
    .expect("probe table");
    let alphabet = ['a', 'B', '1', 'é', ' ', '%', '_', '\\', '-'];
    let mut texts: Vec<String> = alphabet.iter().map(|c| c.to_string()).collect();
    for _ in 0..2 {
        let longer: Vec<String> = texts
            .iter()
            .filter(|t| t.chars().count() == texts[texts.len() - 1].chars().count())
            .flat_map(|t| alphabet.iter().map(move |c| format!("{t}{c}")))
            .collect();
        texts.extend(longer);
    }
    let to_buckets: Vec<&String> = texts
        .iter()
        .filter(|t| {
            walks_buckets(&ListFilter {
                search: Some((*t).clone()),
                ..Default::default()
            })
        })
        .collect();
    // As db::tasks writes the pattern: LIKE's special characters escaped, lowered by Postgres.
    let patterns: Vec<String> = to_buckets
        .iter()
        .map(|t| {
            let escaped: String = t
                .chars()
                .flat_map(|c| match c {
                    '%' | '_' | '\\' => vec!['\\', c],
                    _ => vec![c],
                })
                .collect();
            format!("%{escaped}%")
        })
        .collect();
    let everything: Vec<String> = sqlx::query_scalar(
        "SELECT p FROM unnest($1::text[]) AS p WHERE pg_temp.reads_everything(lower(p))",
    )
    .bind(&patterns)
    .fetch_all(&mut *conn)
    .await
    .expect("check");
    assert!(everything.is_empty(), "no trigram in {everything:?}");
    // The check itself can fail: texts that walk include ones that read everything.
    let walking: Vec<String> = texts
        .iter()
        .filter(|t| t.chars().all(|c| c.is_ascii_alphanumeric()) && t.len() < 3)
        .map(|t| format!("%{t}%"))
        .collect();
    let (reads,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM unnest($1::text[]) AS p WHERE pg_temp.reads_everything(lower(p))",
    )
    .bind(&walking)
    .fetch_one(&mut *conn)
    .await
    .expect("control");
    assert_eq!(reads as usize, walking.len());
    assert!(to_buckets.len() > 100, "{}", to_buckets.len());
}

/// A replica still running the code from before `seq` (a rolling deployment) inserts without it:
/// the database numbers the task as the service would, in creation order, and search finds it
/// where the list has it. Its insert is that code's statement, word for word.
#[tokio::test]
async fn an_insert_that_names_no_seq_is_numbered_in_creation_order() {
    let app = spawn().await;
    let pool = &app.state.pool;
    let user = app.new_user();
    let first = app.create_task(&user, "first needle").await;
    let (old_id,): (Uuid,) = sqlx::query_as(
        "WITH slot AS ( \
             INSERT INTO tasks.task_counts AS c (user_id, tasks) VALUES ($2, 1) \
             ON CONFLICT (user_id) DO UPDATE SET tasks = c.tasks + 1 WHERE c.tasks < $5 \
             RETURNING 1 \
         ) \
         INSERT INTO tasks.tasks (id, user_id, title, description) \
         SELECT $1, $2, $3, $4 FROM slot RETURNING id",
    )
    .bind(Uuid::now_v7())
    .bind(user.id)
    .bind("old replica's needle")
    .bind(None::<String>)
    .bind(1000_i64)
    .fetch_one(pool)
    .await
    .expect("the old insert");
    // A bulk import naming a created_at before the user's newest task is moved after it.
    let (import_id,): (Uuid,) = sqlx::query_as(
        "INSERT INTO tasks.tasks (id, user_id, title, created_at, updated_at) \
         VALUES (gen_random_uuid(), $1, 'imported needle', now() - interval '1 day', now() - interval '1 day') \
         RETURNING id",
    )
    .bind(user.id)
    .fetch_one(pool)
    .await
    .expect("an import");
    let last = app.create_task(&user, "last needle").await;

    let rows: Vec<(Uuid, i64)> = sqlx::query_as(
        "SELECT id, seq FROM tasks.tasks WHERE user_id = $1 ORDER BY created_at, id",
    )
    .bind(user.id)
    .fetch_all(pool)
    .await
    .expect("rows");
    let id = |t: &Value| Uuid::parse_str(t["id"].as_str().unwrap_or_default()).expect("uuid");
    assert_eq!(
        rows,
        [(id(&first), 0), (old_id, 1), (import_id, 2), (id(&last), 3)]
    );
    let (tasks, next_seq): (i32, i64) =
        sqlx::query_as("SELECT tasks, next_seq FROM tasks.task_counts WHERE user_id = $1")
            .bind(user.id)
            .fetch_one(pool)
            .await
            .expect("count row");
    // The import took no quota slot (it named none); the old insert took its own.
    assert_eq!((tasks, next_seq), (3, 4));
    let listed = items(&app.list_ok(&user, "").await);
    let found = all_pages(&app, &user, "?limit=1&q=needle").await;
    assert_eq!(ids(&found), ids(&listed));
    assert_eq!(listed.len(), 4);
}
