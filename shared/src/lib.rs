//! Code both services use today: the problem+json error document, request extractors that answer
//! with it, the HTTP layers every service wraps its router in, telemetry, and database set-up.
//! Nothing here knows about users or tasks.

pub mod db;
pub mod extract;
pub mod healthcheck;
pub mod http;
pub mod problem;
pub mod shutdown;
pub mod telemetry;
#[cfg(feature = "test-util")]
pub mod testdb;

pub use problem::{FieldError, Problem};
