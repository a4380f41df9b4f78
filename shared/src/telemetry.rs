//! Structured logging: a compact human format or one JSON object per line, filtered with
//! tracing's `EnvFilter` syntax. The settings come from [`crate::settings::LogArgs`].

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use crate::settings::LogFormat;

/// Installs the global subscriber. An invalid filter falls back to `info` rather than silence.
pub fn init(filter: &str, format: LogFormat) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    // try_init: tests may build several apps in one process.
    let _ = match format {
        LogFormat::Json => registry
            .with(fmt::layer().json().flatten_event(true))
            .try_init(),
        LogFormat::Text => registry.with(fmt::layer().compact()).try_init(),
    };
}

/// For tests: `RUST_LOG` if set, else `default_filter`, as text.
pub fn init_for_tests(default_filter: &str) {
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| default_filter.to_owned());
    init(&filter, LogFormat::Text);
}
