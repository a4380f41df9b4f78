//! Structured logging. `LOG_FORMAT=json` for machines, a compact human format otherwise;
//! `RUST_LOG` filters as usual.

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

pub fn init(default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let json = std::env::var("LOG_FORMAT")
        .map(|v| v.eq_ignore_ascii_case("json"))
        .unwrap_or(false);
    let registry = tracing_subscriber::registry().with(filter);
    // try_init: tests may build several apps in one process.
    let _ = if json {
        registry
            .with(fmt::layer().json().flatten_event(true))
            .try_init()
    } else {
        registry.with(fmt::layer().compact()).try_init()
    };
}
