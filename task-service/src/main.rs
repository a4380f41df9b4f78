//! Parse the command line, start logging, run. Everything else lives in the library.

use std::process::ExitCode;

use clap::Parser;
use shared::settings::BaseCommand;
use task_service::{Application, Config};

// mimalloc: malloc/free were ≈ 6 % of a list request under glibc; with mimalloc and the
// timestamp writer, CPU per list request fell from 103 to 90 µs (BENCHMARKS.md). Not used by the
// auth-service, whose hot path is argon2 and whose idle memory rose past its 32 MiB target with it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    if let Some(BaseCommand::Healthcheck) = config.command {
        return shared::healthcheck::probe(config.bind).await;
    }
    config.log.init("info,sqlx=warn");
    let run = async {
        Application::build(&config)
            .await?
            .run_until_stopped(shared::shutdown::signal())
            .await
    };
    match run.await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "task-service failed");
            ExitCode::FAILURE
        }
    }
}
