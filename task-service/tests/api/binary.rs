//! The built binary: `task-service` with only `DATABASE_URL` set serves on 127.0.0.1:8082,
//! `task-service healthcheck` exits 0 exactly when `/readyz` is 200, and `task-service migrate`
//! applies the schema and exits.

use std::process::Stdio;
use std::time::Duration;

use reqwest::StatusCode;
use shared::testing::TestDb;
use tokio::process::Command;

use crate::helpers::{Issuer, key_a, spawn, spawn_with};

const BIN: &str = env!("CARGO_BIN_EXE_task-service");

async fn healthcheck(bind: &str) -> bool {
    let status = Command::new(BIN)
        .arg("healthcheck")
        .env_clear()
        .env("TASK_SERVICE_BIND", bind)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .expect("run healthcheck");
    status.success()
}

#[tokio::test]
async fn healthcheck_exits_0_when_ready_and_1_otherwise() {
    let ready = spawn().await;
    assert!(healthcheck(ready.base.trim_start_matches("http://")).await);

    let unready = spawn_with(Issuer::reserve(&[key_a()]).await, |o| o.wait_ready = false).await;
    assert!(!healthcheck(unready.base.trim_start_matches("http://")).await);

    let nothing = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let free = nothing.local_addr().expect("addr").to_string();
    drop(nothing);
    assert!(!healthcheck(&free).await);
}

#[tokio::test]
async fn with_only_database_url_it_serves_on_127_0_0_1_8082() {
    if std::net::TcpListener::bind("127.0.0.1:8082").is_err() {
        eprintln!("skipped: 127.0.0.1:8082 is in use on this machine (a development server?)");
        return;
    }
    let db = TestDb::new().await;
    let mut child = Command::new(BIN)
        .env_clear()
        .env("DATABASE_URL", &db.url)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start task-service");
    let client = reqwest::Client::new();
    let mut alive = false;
    for _ in 0..100 {
        if let Ok(res) = client.get("http://127.0.0.1:8082/healthz").send().await {
            alive = res.status() == StatusCode::OK;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(alive, "healthz on the default address");
    // Migrations ran in schema `tasks`; the API is there, behind authentication.
    let res = client
        .get("http://127.0.0.1:8082/api/tasks")
        .send()
        .await
        .expect("req");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let readyz = client
        .get("http://127.0.0.1:8082/readyz")
        .send()
        .await
        .expect("req")
        .status();
    assert_eq!(
        healthcheck("127.0.0.1:8082").await,
        readyz == StatusCode::OK
    );
    let _ = child.kill().await;
}

#[tokio::test]
async fn migrate_applies_the_schema_once_and_a_second_run_is_a_no_op() {
    shared::testing::assert_migrate_subcommand(BIN, &task_service::db::SCHEMA, "tasks.tasks").await;
}
