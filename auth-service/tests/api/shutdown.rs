//! Stopping behind a load balancer: after SIGTERM, `/readyz` answers 503 first while requests are
//! still served (each answer asking the client to close its connection); the listener closes only
//! after `SHUTDOWN_DELAY_MS`. `bin/test-replicas` shows the same under traffic through HAProxy.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{PASSWORD, TestApp, spawn_with};

#[tokio::test]
async fn a_stopping_replica_turns_unready_first_and_serves_until_the_delay_is_over() {
    let delay = Duration::from_millis(1_500);
    let app = spawn_with(|c| c.http.shutdown_delay_ms = 1_500).await;
    let (email, _) = app.new_user().await;
    let TestApp {
        base,
        client,
        server,
        ..
    } = app;
    let signin = || {
        client
            .post(format!("{base}/api/auth/signin"))
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
    };
    shared::testing::assert_stops_gracefully(&base, server, delay, || async {
        signin().await.expect("sign-in answered")
    })
    .await;
}
