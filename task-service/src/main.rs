//! Parse the command line, start logging, run. Everything else lives in the library.

use std::process::ExitCode;

use clap::Parser;
use task_service::Config;

// mimalloc: malloc/free were ≈ 6 % of a list request under glibc; with mimalloc and the
// timestamp writer, CPU per list request fell from 103 to 90 µs (BENCHMARKS.md). Not used by the
// auth-service, whose hot path is argon2 and whose idle memory rose past its 32 MiB target with it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    shared::server::main(
        "task-service",
        config.command.as_ref(),
        config.bind,
        &config.log,
        "info,sqlx=warn",
        || shared::db::migrate_only(&config.db, &task_service::db::SCHEMA),
        || task_service::build(&config),
    )
    .await
}
