//! SQL, grouped by table. Handlers call these functions; no route holds SQL of its own.

pub mod deletions;
pub mod tasks;

/// This service's schema, and the migrations that build it.
pub const SCHEMA: &str = "tasks";
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/tasks");
