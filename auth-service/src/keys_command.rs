//! `auth-service keys list` and `auth-service keys rotate`: signing keys from the command line,
//! against the database the service uses (`DATABASE_URL`, migrations applied as at start-up).
//!
//! Both go through `signing`, under the lock the replicas' maintenance takes, so running them
//! beside live replicas is safe; the replicas pick a new key up at their next round.

use std::io::Write;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::config::{Config, KeysCommand};
use crate::signing::{self, KeyStatus, Rotation};
use crate::{db, state};

/// Runs `command`, printing to stdout; the exit code says whether it worked.
pub async fn main(config: &Config, command: KeysCommand) -> std::process::ExitCode {
    let mut out = std::io::stdout().lock();
    match run(config, command, &mut out).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("auth-service keys: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

pub async fn run(
    config: &Config,
    command: KeysCommand,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let pool = shared::db::connect(&config.db.settings()?, &db::SCHEMA).await?;
    let (keks, policy) = state::key_settings(config)?;
    let result = match command {
        KeysCommand::List => {
            let keys = signing::statuses(&pool, &policy, Utc::now()).await?;
            write_list(out, &keys)
        }
        KeysCommand::Rotate => match signing::rotate_now(&pool, &keks, &policy).await? {
            Rotation::Scheduled(s) => {
                writeln!(
                    out,
                    "published {}: signs from {}{}",
                    s.kid,
                    time(s.signs_from),
                    if s.retiring.is_empty() {
                        String::new()
                    } else {
                        format!(", when {} retires", s.retiring.join(", "))
                    }
                )?;
                writeln!(
                    out,
                    "running replicas pick it up within KEY_CHECK_INTERVAL ({} s) and publish it in their JWKS",
                    config.key_check_interval
                )?;
                Ok(())
            }
            Rotation::AlreadyWaiting { kid, signs_from } => {
                writeln!(
                    out,
                    "a successor is already published: {kid} signs from {}; nothing done",
                    time(signs_from)
                )?;
                Ok(())
            }
        },
    };
    pool.close().await;
    result
}

fn write_list(out: &mut impl Write, keys: &[KeyStatus]) -> anyhow::Result<()> {
    if keys.is_empty() {
        writeln!(
            out,
            "no signing keys yet: the service creates one at its first start"
        )?;
        return Ok(());
    }
    let kid_width = keys.iter().map(|k| k.kid.len()).max().unwrap_or(3).max(3);
    writeln!(
        out,
        "{:<kid_width$}  {:<8}  {:<20}  {:<20}  {:<20}  sealed",
        "kid", "state", "created", "activates", "retires"
    )?;
    for k in keys {
        writeln!(
            out,
            "{:<kid_width$}  {:<8}  {:<20}  {:<20}  {:<20}  {}",
            k.kid,
            k.state.as_str(),
            time(k.created_at),
            time(k.activates_at),
            k.retires_at.map_or_else(|| "-".to_owned(), time),
            k.kek_id.as_deref().unwrap_or("-"),
        )?;
    }
    Ok(())
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}
