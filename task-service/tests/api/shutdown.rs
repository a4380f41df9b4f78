//! Stopping behind a load balancer: after SIGTERM, `/readyz` answers 503 first while requests are
//! still served (each answer asking the client to close its connection); the listener closes only
//! after `SHUTDOWN_DELAY_MS`. `bin/test-replicas` shows the same under traffic through HAProxy.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{Issuer, TestApp, key_a, spawn_with};

#[tokio::test]
async fn a_stopping_replica_turns_unready_first_and_serves_until_the_delay_is_over() {
    let delay = Duration::from_millis(1_500);
    let app = spawn_with(Issuer::start(&[key_a()]).await, |o| {
        o.config.http.shutdown_delay_ms = 1_500;
    })
    .await;
    let user = app.new_user();
    let TestApp {
        base,
        client,
        server,
        state,
        ..
    } = app;
    let create = || {
        client
            .post(format!("{base}/api/tasks"))
            .bearer_auth(&user.token)
            .json(&json!({"title": "written while draining"}))
            .send()
    };
    shared::testing::assert_stops_gracefully(&base, server, delay, || async {
        create().await.expect("create answered")
    })
    .await;
    // What was answered 201 during the delay is there.
    let (count,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM tasks.tasks WHERE user_id = $1 AND title = 'written while draining'",
    )
    .bind(user.id)
    .fetch_one(&state.pool)
    .await
    .expect("count");
    assert_eq!(count, 2);
}
