//! SQL, grouped by table. Handlers call these functions; no route holds SQL of its own.

pub mod deletions;
pub mod tasks;

/// This service's schema, and the migrations that build it.
pub static SCHEMA: shared::db::Schema = shared::db::Schema {
    name: "tasks",
    migrator: &MIGRATOR,
    // The migrations were numbered 0001-0004 until both services took sqlx's timestamp names
    // (`sqlx migrate add`'s default: parallel branches never collide); databases migrated
    // before then have their bookkeeping renumbered at start.
    renamed: &[
        (1, 20261125000001),
        (2, 20261125000002),
        (3, 20261203120001),
        (4, 20261205000002),
    ],
};
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/tasks");
