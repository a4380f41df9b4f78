use clap::Parser;

use auth_service::config::{Command, Config};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let config = Config::parse();
    if let Some(Command::Healthcheck) = config.command {
        return shared::healthcheck::probe(config.bind).await;
    }
    shared::telemetry::init("info,sqlx=warn,tower_http=info");
    match auth_service::run(config).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "auth-service failed to start");
            eprintln!("auth-service: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
