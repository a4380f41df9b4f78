use clap::Parser;

use auth_service::Config;
use auth_service::config::Command;

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
    if let Some(Command::Keys(command)) = &config.command {
        return runtime.block_on(auth_service::keys_command::main(&config, *command));
    }
    runtime.block_on(shared::server::main(
        "auth-service",
        config.base_command(),
        config.bind,
        &config.log,
        "info,sqlx=warn,tower_http=info",
        || shared::db::migrate_only(&config.db, &auth_service::db::SCHEMA),
        || auth_service::build(&config),
    ))
}
