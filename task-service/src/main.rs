//! Parse the command line, start logging, run. Everything else lives in the library.

use std::process::ExitCode;

use clap::Parser;
use task_service::{Command, Config};

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    if let Some(Command::Healthcheck) = config.command {
        return shared::healthcheck::probe(config.bind).await;
    }
    shared::telemetry::init("info,sqlx=warn");
    match task_service::run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "task-service failed");
            ExitCode::FAILURE
        }
    }
}
