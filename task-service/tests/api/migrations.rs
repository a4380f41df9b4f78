//! Migration bookkeeping: a database migrated when the files were numbered 0001-0004 starts
//! under today's timestamp names without re-running anything.

use shared::db::connect;
use shared::testing::TestDb;
use sqlx::Connection;

use crate::helpers::one_connection as settings;

async fn versions(db: &TestDb) -> Vec<i64> {
    let mut conn = sqlx::PgConnection::connect_with(&db.options())
        .await
        .expect("connect");
    sqlx::query_scalar("SELECT version FROM tasks._sqlx_migrations ORDER BY version")
        .fetch_all(&mut conn)
        .await
        .expect("versions")
}

#[tokio::test]
async fn a_database_migrated_under_the_old_numbers_is_renumbered_and_keeps_its_data() {
    let db = TestDb::new().await;
    let schema = &task_service::db::SCHEMA;
    let pool = connect(&settings(&db), schema).await.expect("first start");
    let current = versions(&db).await;
    assert_eq!(
        current[..schema.renamed.len()],
        schema
            .renamed
            .iter()
            .map(|&(_, new)| new)
            .collect::<Vec<_>>(),
        "the renamed migrations come first; later ones need no entry"
    );
    sqlx::query(
        "INSERT INTO tasks.tasks (id, user_id, title, seq) VALUES (gen_random_uuid(), gen_random_uuid(), 'kept', 0)",
    )
    .execute(&pool)
    .await
    .expect("a task");
    // Put the bookkeeping back as a deployment from before the rename has it.
    for &(old, new) in schema.renamed {
        sqlx::query("UPDATE tasks._sqlx_migrations SET version = $1 WHERE version = $2")
            .bind(old)
            .bind(new)
            .execute(&pool)
            .await
            .expect("old number");
    }
    // Such a deployment has not run the migrations added since: the next start runs them.
    let old: Vec<i64> = schema.renamed.iter().map(|&(old, _)| old).collect();
    sqlx::query("DELETE FROM tasks._sqlx_migrations WHERE version <> ALL($1)")
        .bind(&old)
        .execute(&pool)
        .await
        .expect("forget the newer migrations");
    pool.close().await;
    assert_eq!(versions(&db).await, vec![1, 2, 3, 4]);

    // Without the renumbering sqlx refuses to start ("migration 1 was previously applied but is
    // missing in the resolved migrations"); with it, nothing runs again and the data stays.
    let pool = connect(&settings(&db), schema)
        .await
        .expect("start after the rename");
    assert_eq!(versions(&db).await, current);
    let titles: Vec<String> = sqlx::query_scalar("SELECT title FROM tasks.tasks")
        .fetch_all(&pool)
        .await
        .expect("tasks");
    assert_eq!(titles, ["kept"]);
    // And a third start is a no-op.
    pool.close().await;
    connect(&settings(&db), schema).await.expect("third start");
    assert_eq!(versions(&db).await, current);
}

/// Search has one GIN index, keyed by the owner's bucket of 4,096 tasks, over one lowered text,
/// with a pending list of 64 kB (migrations 20261207000001, 20261208000001 and 20261209000001): a
/// search reads neither other users' matches nor more than eight pages of everyone's recent titles.
#[tokio::test]
async fn search_has_one_bucket_keyed_gin_index_with_a_small_pending_list() {
    let db = TestDb::new().await;
    let pool = connect(&settings(&db), &task_service::db::SCHEMA)
        .await
        .expect("start");
    let indexes: Vec<(String, Option<Vec<String>>, String)> = sqlx::query_as(
        "SELECT c.relname::text, c.reloptions, pg_get_indexdef(c.oid) \
         FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam \
         WHERE a.amname = 'gin' AND i.indrelid = 'tasks.tasks'::regclass",
    )
    .fetch_all(&pool)
    .await
    .expect("indexes");
    assert_eq!(indexes.len(), 1, "{indexes:?}");
    let (name, options, definition) = &indexes[0];
    assert_eq!(name, "tasks_bucket_search");
    assert_eq!(options, &Some(vec!["gin_pending_list_limit=64".to_owned()]));
    // The expressions db::tasks::SEARCH_BUCKET and SEARCH_TEXT write (the plan test in ops.rs
    // checks that searches use this index).
    assert!(
        definition.contains(
            "(((((user_id)::text || ':'::text) || ((seq >> 12))::text)), \
             lower(((title || '\u{1f}'::text) || COALESCE(description, ''::text))) \
             tasks.gin_trgm_ops)"
        ),
        "{definition}"
    );
}

/// Migration 20261209000001 numbers the tasks already there, per user, in the order the API lists
/// them (`created_at`, then `id`), and leaves each user's count row ready to number the next one.
#[tokio::test]
async fn the_search_numbering_numbers_existing_tasks_in_list_order() {
    const VERSION: i64 = 20261209000001;
    let db = TestDb::new().await;
    let schema = &task_service::db::SCHEMA;
    let pool = connect(&settings(&db), schema).await.expect("first start");
    let (a, b) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    // Inserted out of order, two of a's at the same instant (the id decides), all numbered 0 as
    // before the migration nothing numbered them.
    let now = chrono::Utc::now();
    for (user, title, ago, id) in [
        (a, "a-third", 10, "00000000-0000-7000-8000-000000000001"),
        (a, "a-first", 30, "00000000-0000-7000-8000-000000000002"),
        (b, "b-only", 5, "00000000-0000-7000-8000-000000000003"),
        (
            a,
            "a-second-by-id",
            20,
            "00000000-0000-7000-8000-000000000005",
        ),
        (a, "a-second", 20, "00000000-0000-7000-8000-000000000004"),
    ] {
        sqlx::query(
            "INSERT INTO tasks.tasks (id, user_id, title, seq, created_at, updated_at) \
             VALUES ($1::uuid, $2, $3, 0, $4, $4)",
        )
        .bind(id)
        .bind(user)
        .bind(title)
        .bind(now - chrono::Duration::minutes(ago))
        .execute(&pool)
        .await
        .expect("task");
    }
    sqlx::query("DELETE FROM tasks._sqlx_migrations WHERE version = $1")
        .bind(VERSION)
        .execute(&pool)
        .await
        .expect("forget the migration");
    pool.close().await;
    let pool = connect(&settings(&db), schema)
        .await
        .expect("migrate again");
    let numbered: Vec<(String, i64)> =
        sqlx::query_as("SELECT title, seq FROM tasks.tasks ORDER BY user_id = $1 DESC, seq")
            .bind(a)
            .fetch_all(&pool)
            .await
            .expect("numbered");
    let expected = [
        ("a-first", 0),
        ("a-second", 1),
        ("a-second-by-id", 2),
        ("a-third", 3),
        ("b-only", 0),
    ];
    assert_eq!(
        numbered,
        expected
            .iter()
            .map(|&(t, s)| (t.to_owned(), s))
            .collect::<Vec<_>>()
    );
    let (next_seq, newest_is_max): (i64, bool) = sqlx::query_as(
        "SELECT c.next_seq, c.last_created_at = (SELECT max(created_at) FROM tasks.tasks WHERE user_id = $1) \
         FROM tasks.task_counts c WHERE c.user_id = $1",
    )
    .bind(a)
    .fetch_one(&pool)
    .await
    .expect("count row");
    assert_eq!((next_seq, newest_is_max), (4, true));
}
