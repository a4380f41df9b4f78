//! HTTP routes, one module per resource.

pub mod auth;
pub mod docs;
pub mod health;
pub mod wellknown;
