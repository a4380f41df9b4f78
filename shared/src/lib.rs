//! Code both services use today: the problem+json error document, request extractors that answer
//! with it, the HTTP layers and server every service runs, its shared settings, telemetry, database
//! set-up and test helpers.
//! Nothing here knows about users or tasks.

pub mod bearer;
pub mod db;
pub mod extract;
pub mod healthcheck;
pub mod http;
pub mod loopback;
pub mod metrics;
pub mod openapi;
pub mod problem;
pub mod server;
pub mod settings;
pub mod shutdown;
pub mod telemetry;
#[cfg(feature = "test-util")]
pub mod testing;

pub use problem::{FieldError, Problem};
