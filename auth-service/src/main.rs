use clap::Parser;

use auth_service::{Application, Config};
use shared::settings::BaseCommand;

fn main() -> std::process::ExitCode {
    let config = Config::parse();
    // Blocking work here is argon2 (bounded by its own semaphore) and the password-policy check.
    // Few blocking threads keep glibc from growing a heap arena per thread under a sign-up burst;
    // tokio's default allows 512.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(4)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("auth-service: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        if let Some(BaseCommand::Healthcheck) = config.command {
            return shared::healthcheck::probe(config.bind).await;
        }
        config.log.init("info,sqlx=warn,tower_http=info");
        let run = async {
            Application::build(&config)
                .await?
                .run_until_stopped(shared::shutdown::signal())
                .await
        };
        match run.await {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!(error = format!("{e:#}"), "auth-service failed to start");
                eprintln!("auth-service: {e:#}");
                std::process::ExitCode::FAILURE
            }
        }
    })
}
