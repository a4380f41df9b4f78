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
        "INSERT INTO tasks.tasks (id, user_id, title) VALUES (gen_random_uuid(), gen_random_uuid(), 'kept')",
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

/// Search has one GIN index, led by the owner, over one lowered text, with a pending list of 64 kB
/// (migrations 20261207000001, ...02 and 20261208000001): a search reads neither other users'
/// matches nor more than eight pages of everyone's recent titles.
#[tokio::test]
async fn search_has_one_owner_led_gin_index_with_a_small_pending_list() {
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
    assert_eq!(name, "tasks_user_search");
    assert_eq!(options, &Some(vec!["gin_pending_list_limit=64".to_owned()]));
    // The expression db::tasks::SEARCH_TEXT writes (the plan test in ops.rs checks that searches
    // use this index).
    assert!(
        definition.contains(
            "(user_id, lower(((title || '\u{1f}'::text) || COALESCE(description, ''::text))) \
             tasks.gin_trgm_ops)"
        ),
        "{definition}"
    );
}
