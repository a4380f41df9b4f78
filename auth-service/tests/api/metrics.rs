//! Metrics (`METRICS_BIND`): `GET /metrics` on an address of its own, counting requests by route
//! template, sign-ins by factor and outcome, refreshes and reuse, the pool and the hasher; and
//! nothing of it without the setting. The recorder is process-wide and other tests run beside
//! these, so counters are asserted as having moved at least by what this test did.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shared::testing::{ServerHandle, TestDb, metric, metric_sum, scrape};

use crate::helpers::*;

/// The service with metrics on, and where they are served.
async fn spawn_with_metrics(tweak: impl FnOnce(&mut auth_service::Config)) -> (TestApp, String) {
    shared::telemetry::init_for_tests("warn,sqlx=error");
    let db = TestDb::new().await;
    let mut config = test_config(&db.url);
    config.http.metrics_bind = Some("127.0.0.1:0".parse().expect("addr"));
    tweak(&mut config);
    let application = auth_service::build(&config).await.expect("app builds");
    let metrics = application.metrics_addr().expect("metrics served");
    let addr = application.local_addr().expect("addr");
    assert_ne!(metrics, addr, "metrics have an address of their own");
    let state = application.state().clone();
    let server = ServerHandle::spawn(|stop| application.run_until_stopped(stop));
    let app = TestApp {
        base: format!("http://{addr}"),
        client: shared::testing::client(),
        state,
        config,
        db,
        server,
    };
    (app, metrics.to_string())
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

fn signins(text: &str, factor: &str, outcome: &str) -> f64 {
    metric(
        text,
        "auth_signin_total",
        &[("factor", factor), ("outcome", outcome)],
    )
    .unwrap_or(0.0)
}

#[tokio::test]
async fn requests_sign_ins_refreshes_the_pool_and_the_hasher_are_counted_on_their_own_address() {
    let (app, metrics) = spawn_with_metrics(|c| {
        c.max_concurrent_hashes = 2;
        c.refresh_reuse_grace = 0;
    })
    .await;
    let metrics = metrics.parse().expect("addr");
    let before = scrape(metrics).await;

    let (email, session) = app.new_user().await;
    assert_eq!(app.signin(&email, PASSWORD).await.status(), StatusCode::OK);
    let wrong = app.signin(&email, "not the password at all").await;
    problem(wrong, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    // A passkey sign-in that never started: refused before any key is looked at.
    let passkey = app
        .post_json(
            "/api/auth/passkeys/signin/finish",
            &json!({"challenge_id": uuid::Uuid::new_v4(), "credential": {}}),
        )
        .await;
    assert!(passkey.status().is_client_error(), "{}", passkey.status());
    // A path with an id in it is counted under its template; an unknown path under one label.
    let access = session["access_token"].as_str().expect("access");
    let secret_id = uuid::Uuid::new_v4();
    let ended = app
        .call(
            Method::DELETE,
            &format!("/api/auth/sessions/{secret_id}"),
            access,
            None,
        )
        .await;
    assert_eq!(ended.status(), StatusCode::NOT_FOUND);
    let unknown = uuid::Uuid::new_v4();
    assert_eq!(
        app.get(&format!("/no-such-page-{unknown}")).await.status(),
        StatusCode::NOT_FOUND
    );
    // A rotation, then the retired token again after the (zero) grace window: reuse.
    let first = session["refresh_token"].as_str().expect("refresh");
    assert_eq!(app.refresh(first).await.status(), StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    problem(
        app.refresh(first).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;

    let after = scrape(metrics).await;
    let moved = |f: &dyn Fn(&str) -> f64| f(&after) - f(&before);
    let signin_ok = |t: &str| requests(t, "/api/auth/signin", "POST", "2xx");
    let signin_refused = |t: &str| requests(t, "/api/auth/signin", "POST", "4xx");
    assert!(moved(&signin_ok) >= 1.0, "{after}");
    assert!(moved(&signin_refused) >= 1.0, "{after}");
    assert!(moved(&|t| requests(t, "/api/auth/signup", "POST", "2xx")) >= 1.0);
    assert!(moved(&|t| requests(t, "/api/auth/sessions/{id}", "DELETE", "4xx")) >= 1.0);
    assert!(moved(&|t| requests(t, "unmatched", "GET", "4xx")) >= 1.0);
    for raw in [secret_id, unknown] {
        assert!(
            !after.contains(&raw.to_string()),
            "a path a client sent is never a label value"
        );
    }
    // The histogram: a count per series, cumulative buckets ending at +Inf.
    let timed = |t: &str| {
        metric(
            t,
            "http_request_duration_seconds_count",
            &[
                ("route", "/api/auth/signin"),
                ("method", "POST"),
                ("status_class", "2xx"),
            ],
        )
        .unwrap_or(0.0)
    };
    assert!(moved(&timed) >= 1.0, "{after}");
    let signin_labels = [
        ("route", "/api/auth/signin"),
        ("method", "POST"),
        ("status_class", "2xx"),
    ];
    let mut inf = signin_labels.to_vec();
    inf.push(("le", "+Inf"));
    assert_eq!(
        metric(&after, "http_request_duration_seconds_bucket", &inf),
        metric(
            &after,
            "http_request_duration_seconds_count",
            &signin_labels
        ),
    );
    let mut fast = signin_labels.to_vec();
    fast.push(("le", "0.0005"));
    assert!(
        metric(&after, "http_request_duration_seconds_bucket", &fast)
            < metric(&after, "http_request_duration_seconds_bucket", &inf),
        "a sign-in (argon2) takes longer than half a millisecond"
    );

    assert!(
        moved(&|t| signins(t, "password", "success")) >= 1.0,
        "{after}"
    );
    assert!(moved(&|t| signins(t, "password", "invalid_credentials")) >= 1.0);
    assert!(
        metric_sum(&after, "auth_signin_total", &[("factor", "passkey")])
            - metric_sum(&before, "auth_signin_total", &[("factor", "passkey")])
            >= 1.0,
        "{after}"
    );
    assert_eq!(
        metric(
            &after,
            "auth_signin_total",
            &[("factor", "passkey"), ("outcome", "success")]
        ),
        metric(
            &before,
            "auth_signin_total",
            &[("factor", "passkey"), ("outcome", "success")]
        ),
        "a refused passkey is not a success"
    );
    let refreshes = |t: &str, outcome: &str| {
        metric(t, "auth_refresh_total", &[("outcome", outcome)]).unwrap_or(0.0)
    };
    assert!(refreshes(&after, "success") - refreshes(&before, "success") >= 1.0);
    assert!(refreshes(&after, "invalid_token") - refreshes(&before, "invalid_token") >= 1.0);
    let reuse = |t: &str| metric(t, "auth_refresh_reuse_detected_total", &[]).unwrap_or(0.0);
    assert!(reuse(&after) - reuse(&before) >= 1.0, "{after}");

    // Sampled at scrape time from this service's pool and hasher.
    assert_eq!(
        metric(&after, "db_pool_max_connections", &[]),
        Some(f64::from(app.config.db.db_max_connections))
    );
    assert!(metric(&after, "db_pool_connections", &[("state", "idle")]).is_some());
    assert!(metric(&after, "db_pool_connections", &[("state", "in_use")]).is_some());
    assert!(metric(&after, "db_pool_waiting", &[]).is_some());
    assert_eq!(metric(&after, "auth_argon2_permits", &[]), Some(2.0));
    assert!(metric(&after, "auth_argon2_permits_in_use", &[]).is_some_and(|v| v <= 2.0));
    assert!(metric(&after, "auth_argon2_waiting", &[]).is_some());
    assert!(after.contains("# HELP auth_signin_total "), "described");

    // The metrics address serves /metrics only; the API's has none.
    let client = shared::testing::client();
    let other = client
        .get(format!("http://{metrics}/openapi.json"))
        .send()
        .await
        .expect("request");
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
    problem(
        app.get("/metrics").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

/// The setup of an authenticator app for a new user; then sign-in answers 403 `mfa_required`.
#[tokio::test]
async fn the_second_step_of_a_sign_in_is_counted_with_its_outcome() {
    let (app, metrics) = spawn_with_metrics(|_| {}).await;
    let metrics = metrics.parse().expect("addr");
    let (email, session) = app.new_user().await;
    let access = session["access_token"].as_str().expect("access");
    let setup: Value = app
        .call(Method::POST, "/api/auth/mfa/totp/setup", access, None)
        .await
        .json()
        .await
        .expect("json");
    let totp = totp_rs::Totp::from_url(setup["otpauth_uri"].as_str().expect("uri")).expect("uri");
    // Away from a step's edge, so the code is the one the service expects.
    let left = 30 - jsonwebtoken::get_current_timestamp() % 30;
    if left < 4 {
        tokio::time::sleep(std::time::Duration::from_secs(left + 1)).await;
    }
    let code = totp.generate(jsonwebtoken::get_current_timestamp());
    let confirmed: Value = app
        .call(
            Method::POST,
            "/api/auth/mfa/totp/confirm",
            access,
            Some(&json!({"code": code.to_string()})),
        )
        .await
        .json()
        .await
        .expect("json");
    let recovery = confirmed["recovery_codes"][0].as_str().expect("a code");
    let before = scrape(metrics).await;

    let res = app.signin(&email, PASSWORD).await;
    let body = problem(res, StatusCode::FORBIDDEN, "mfa_required").await;
    let mfa_token = body["mfa_token"].as_str().expect("mfa_token");
    let step = |code: &str| {
        let body = json!({"mfa_token": mfa_token, "code": code});
        let app = &app;
        async move { app.post_json("/api/auth/signin/mfa", &body).await }
    };
    let wrong = step("000000").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(step(recovery).await.status(), StatusCode::OK);

    let after = scrape(metrics).await;
    let moved = |factor: &str, outcome: &str| {
        signins(&after, factor, outcome) - signins(&before, factor, outcome)
    };
    assert!(moved("password", "mfa_required") >= 1.0, "{after}");
    assert!(moved("totp", "success") >= 1.0, "{after}");
    assert!(
        metric_sum(&after, "auth_signin_total", &[("factor", "totp")])
            - metric_sum(&before, "auth_signin_total", &[("factor", "totp")])
            >= 2.0,
        "the wrong code too: {after}"
    );
}

#[tokio::test]
async fn without_metrics_bind_no_metrics_are_served_anywhere() {
    let db = TestDb::new().await;
    let config = test_config(&db.url);
    assert!(config.http.metrics_bind.is_none(), "off by default");
    let application = auth_service::build(&config).await.expect("app builds");
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
