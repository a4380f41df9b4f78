//! Migration bookkeeping: a database migrated when the files were numbered 0001-0004 starts
//! under today's timestamp names without re-running anything.

use std::time::Duration;

use shared::db::{DbSettings, connect};
use shared::testing::TestDb;
use sqlx::Connection;

fn settings(db: &TestDb) -> DbSettings {
    DbSettings {
        url: db.url.clone().into(),
        max_connections: 1,
        acquire_timeout: Duration::from_secs(5),
        pooled: false,
        migration_url: None,
    }
}

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

/// The trigram indexes keep no pending list, so a search never reads everyone's recent titles
/// (see the migration).
#[tokio::test]
async fn the_trigram_indexes_have_no_pending_list() {
    let db = TestDb::new().await;
    let pool = connect(&settings(&db), &task_service::db::SCHEMA)
        .await
        .expect("start");
    let options: Vec<(String, Option<Vec<String>>)> = sqlx::query_as(
        "SELECT c.relname::text, c.reloptions FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'tasks' AND c.relname LIKE '%trgm' ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .expect("reloptions");
    assert_eq!(
        options,
        [
            (
                "tasks_description_trgm".to_owned(),
                Some(vec!["fastupdate=off".to_owned()])
            ),
            (
                "tasks_title_trgm".to_owned(),
                Some(vec!["fastupdate=off".to_owned()])
            ),
        ]
    );
}
