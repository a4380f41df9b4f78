//! SQL, grouped by table. Every table is schema-qualified (`auth.`); handlers call these
//! functions and never write SQL themselves.

pub mod devices;
pub mod email_tokens;
pub mod events;
pub mod mfa;
pub mod outbox;
pub mod passkeys;
pub mod revocations;
pub mod sessions;
pub mod signing_keys;
pub mod users;

/// This service's schema, and the migrations that build it.
pub static SCHEMA: shared::db::Schema = shared::db::Schema {
    name: "auth",
    migrator: &MIGRATOR,
    renamed: &[],
};
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/auth");
