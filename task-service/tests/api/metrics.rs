//! Metrics (`METRICS_BIND`): `GET /metrics` on an address of its own, counting requests by route
//! template, key-set fetches and their failures, the verified-token cache, the revocation feed
//! and the pool; and nothing of it without the setting. The recorder is process-wide and other
//! tests run beside these, so counters are asserted as having moved at least by what this test
//! did.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;
use shared::testing::{ServerHandle, TestDb, metric, problem, scrape};

use crate::helpers::*;

/// The service with metrics on (trusting an issuer that publishes key A), and where they are
/// served.
async fn spawn_with_metrics() -> (TestApp, std::net::SocketAddr) {
    shared::telemetry::init_for_tests("warn");
    let issuer = Issuer::start(&[key_a()]).await;
    let db = TestDb::new().await;
    let mut config = task_service::Config::for_database(&db.url);
    config.auth_issuer = issuer.url.clone();
    config.bind = "127.0.0.1:0".parse().expect("addr");
    config.http.shutdown_delay_ms = 0;
    config.http.metrics_bind = Some("127.0.0.1:0".parse().expect("addr"));
    let jwks = fast_jwks(task_service::auth::KeySource::Discovery {
        issuer: issuer.url.clone(),
    });
    let state = task_service::build_state_with(&config, jwks)
        .await
        .expect("state builds");
    let application = task_service::with_state(&config, state.clone())
        .await
        .expect("binds");
    let metrics = application.metrics_addr().expect("metrics served");
    let addr = application.local_addr().expect("addr");
    assert_ne!(metrics, addr, "metrics have an address of their own");
    let server = ServerHandle::spawn(|stop| application.run_until_stopped(stop));
    let app = TestApp {
        base: format!("http://{addr}"),
        client: shared::testing::client(),
        state,
        issuer,
        db,
        server,
    };
    app.wait_until_ready(Duration::from_secs(10)).await;
    (app, metrics)
}

fn requests(text: &str, route: &str, method: &str, class: &str) -> f64 {
    metric(
        text,
        "http_requests_total",
        &[
            ("route", route),
            ("method", method),
            ("status_class", class),
        ],
    )
    .unwrap_or(0.0)
}

fn counter(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    metric(text, name, labels).unwrap_or(0.0)
}

#[tokio::test]
async fn requests_keys_the_token_cache_the_feed_and_the_pool_are_counted_on_their_own_address() {
    let (mut app, metrics) = spawn_with_metrics().await;
    let before = scrape(metrics).await;

    let user = app.new_user();
    let task = app.create_task(&user, "counted").await;
    app.create_task(&user, "counted too").await;
    let id = task["id"].as_str().expect("id");
    assert_eq!(
        app.get(&format!("/api/tasks/{id}"), &user.token)
            .await
            .status(),
        StatusCode::OK
    );
    app.list_ok(&user, "").await;
    let missing = uuid::Uuid::new_v4();
    assert_eq!(
        app.get(&format!("/api/tasks/{missing}"), &user.token)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.send(Method::GET, &format!("/nowhere/{missing}"), None, None)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    // A token signed by a key the issuer does not publish: one refetch for its unknown kid.
    let stranger = app.user_signed_by(key_b());
    refused(app.list(&stranger, "").await).await;
    // Keys the issuer cannot serve: a failed fetch (the keys held are kept).
    app.issuer.down().await;
    assert!(app.state.verifier.jwks().refresh().await.is_err());
    // The feed is pulled every second: give it one more go.
    tokio::time::sleep(Duration::from_millis(1_100)).await;

    let after = scrape(metrics).await;
    let moved = |f: &dyn Fn(&str) -> f64| f(&after) - f(&before);
    assert!(
        moved(&|t| requests(t, "/api/tasks", "POST", "2xx")) >= 2.0,
        "{after}"
    );
    assert!(moved(&|t| requests(t, "/api/tasks", "GET", "2xx")) >= 1.0);
    assert!(moved(&|t| requests(t, "/api/tasks/{id}", "GET", "2xx")) >= 1.0);
    assert!(moved(&|t| requests(t, "/api/tasks/{id}", "GET", "4xx")) >= 1.0);
    assert!(moved(&|t| requests(t, "/api/tasks", "GET", "4xx")) >= 1.0);
    assert!(moved(&|t| requests(t, "unmatched", "GET", "4xx")) >= 1.0);
    for raw in [id.to_owned(), missing.to_string()] {
        assert!(
            !after.contains(&raw),
            "a path a client sent is never a label value"
        );
    }
    let created = [
        ("route", "/api/tasks"),
        ("method", "POST"),
        ("status_class", "2xx"),
    ];
    let count = |t: &str| counter(t, "http_request_duration_seconds_count", &created);
    assert!(moved(&count) >= 2.0, "{after}");
    let sum = |t: &str| counter(t, "http_request_duration_seconds_sum", &created);
    assert!(moved(&sum) > 0.0, "time was recorded");

    // The same token on every request: verified in full once, then remembered.
    let cache = |t: &str, result: &str| counter(t, "task_token_cache_total", &[("result", result)]);
    assert!(
        cache(&after, "hit") - cache(&before, "hit") >= 3.0,
        "{after}"
    );
    assert!(
        cache(&after, "miss") - cache(&before, "miss") >= 2.0,
        "{after}"
    );

    // The first fetch happened before `before`; counted since the recorder was installed first.
    let fetches =
        |t: &str, trigger: &str| counter(t, "task_jwks_refreshes_total", &[("trigger", trigger)]);
    let failures = |t: &str, trigger: &str| {
        counter(
            t,
            "task_jwks_refresh_failures_total",
            &[("trigger", trigger)],
        )
    };
    assert!(fetches(&before, "schedule") >= 1.0, "{before}");
    assert!(fetches(&after, "unknown_kid") - fetches(&before, "unknown_kid") >= 1.0);
    assert!(fetches(&after, "manual") - fetches(&before, "manual") >= 1.0);
    assert!(
        failures(&after, "manual") - failures(&before, "manual") >= 1.0,
        "{after}"
    );

    let polls = |t: &str, result: &str| {
        counter(t, "task_revocation_feed_polls_total", &[("result", result)])
    };
    assert!(polls(&after, "ok") >= 1.0, "{after}");
    assert!(
        polls(&after, "failed") - polls(&before, "failed") >= 1.0,
        "{after}"
    );

    assert_eq!(
        metric(&after, "db_pool_max_connections", &[]),
        Some(10.0),
        "this service's pool (DB_MAX_CONNECTIONS)"
    );
    assert!(metric(&after, "db_pool_connections", &[("state", "idle")]).is_some());
    assert!(metric(&after, "db_pool_waiting", &[]).is_some());
    assert!(
        after.contains("# HELP task_token_cache_total "),
        "described"
    );

    // The metrics address serves /metrics only; the API's has none.
    let other = shared::testing::client()
        .post(format!("http://{metrics}/metrics"))
        .json(&json!({}))
        .send()
        .await
        .expect("request");
    assert_eq!(other.status(), StatusCode::METHOD_NOT_ALLOWED);
    problem(
        app.send(Method::GET, "/metrics", None, None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn without_metrics_bind_no_metrics_are_served_anywhere() {
    let issuer = Issuer::start(&[key_a()]).await;
    let db = TestDb::new().await;
    let mut config = task_service::Config::for_database(&db.url);
    config.auth_issuer = issuer.url.clone();
    config.bind = "127.0.0.1:0".parse().expect("addr");
    assert!(config.http.metrics_bind.is_none(), "off by default");
    let application = task_service::build(&config).await.expect("builds");
    assert_eq!(application.metrics_addr(), None, "no listener");
    let addr = application.local_addr().expect("addr");
    let _server = ServerHandle::spawn(|stop| application.run_until_stopped(stop));
    let res = shared::testing::client()
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .expect("request");
    problem(res, StatusCode::NOT_FOUND, "not_found").await;
}
