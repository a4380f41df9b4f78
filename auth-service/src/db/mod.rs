//! SQL, grouped by table. Every table is schema-qualified (`auth.`); handlers call these
//! functions and never write SQL themselves.

pub mod keys;
pub mod sessions;
pub mod users;

/// The name of the constraint a query violated, if it violated one.
pub fn violated_constraint(err: &sqlx::Error) -> Option<&str> {
    match err {
        sqlx::Error::Database(db) => db.constraint(),
        _ => None,
    }
}
