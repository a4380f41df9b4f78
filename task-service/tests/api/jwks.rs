//! The signing-key cache against a stand-in auth-service: discovery, rotation, the unknown-kid
//! cooldown (single-flight), an auth-service that goes down, and one that starts late.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use task_service::auth::{Jwks, JwksSettings, KeySource};

use crate::helpers::{Issuer, key_a, key_b, problem, refused, spawn, spawn_with};

async fn status_of(app: &crate::helpers::TestApp, token: &str) -> StatusCode {
    app.send(reqwest::Method::GET, "/api/tasks", Some(token), None)
        .await
        .status()
}

async fn eventually(within: Duration, mut check: impl AsyncFnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn keys_are_discovered_from_the_issuer_metadata_and_cached() {
    let app = spawn().await;
    let user = app.new_user();
    for _ in 0..20 {
        assert_eq!(status_of(&app, &user.token).await, StatusCode::OK);
    }
    // One discovery, one JWKS fetch: verification never calls the issuer per request.
    assert_eq!(
        app.issuer
            .state
            .discovery_fetches
            .load(std::sync::atomic::Ordering::SeqCst),
        1
    );
    assert_eq!(app.issuer.jwks_fetches(), 1);
    assert_eq!(app.state.verifier.jwks().kids(), ["key-a"]);
}

#[tokio::test]
async fn a_jwks_url_can_be_configured_directly() {
    let issuer = Issuer::start(&[key_a()]).await;
    let url = format!("{}/.well-known/jwks.json", issuer.url);
    let app = spawn_with(issuer, |o| o.jwks.source = KeySource::JwksUrl(url)).await;
    let user = app.new_user();
    assert_eq!(status_of(&app, &user.token).await, StatusCode::OK);
    assert_eq!(
        app.issuer
            .state
            .discovery_fetches
            .load(std::sync::atomic::Ordering::SeqCst),
        0
    );
}

#[tokio::test]
async fn a_key_announced_by_rotation_is_used_at_once_via_unknown_kid_refetch() {
    let app = spawn().await;
    assert_eq!(app.issuer.jwks_fetches(), 1);
    // The auth-service rotates: key B is published; a token signed by B arrives before our
    // scheduled refresh (an hour away in these settings).
    app.issuer.publish(&[key_a(), key_b()]);
    let user = app.user_signed_by(key_b());
    assert_eq!(status_of(&app, &user.token).await, StatusCode::OK);
    assert_eq!(app.issuer.jwks_fetches(), 2);
    // Old tokens keep working while A is still published.
    assert_eq!(status_of(&app, &app.new_user().token).await, StatusCode::OK);
}

#[tokio::test]
async fn background_refresh_follows_cache_control_picks_up_new_keys_and_drops_retired_ones() {
    let issuer = Issuer::start(&[key_a()]).await;
    issuer.set_max_age(1);
    let app = spawn_with(issuer, |o| {
        o.jwks.min_refresh = Duration::from_secs(1);
        // No refetch on unknown kids during this test: only the background refresh may find B.
        o.jwks.unknown_kid_cooldown = Duration::from_secs(3600);
    })
    .await;
    let token_b = app.user_signed_by(key_b()).token;
    // The unknown kid uses up the one on-demand refetch; B is not published yet.
    refused(
        app.send(reqwest::Method::GET, "/api/tasks", Some(&token_b), None)
            .await,
    )
    .await;

    app.issuer.publish(&[key_a(), key_b()]);
    assert!(
        eventually(Duration::from_secs(5), async || status_of(&app, &token_b)
            .await
            == StatusCode::OK)
        .await
    );

    // A is retired: once the cache refreshes, tokens signed by A are refused.
    let token_a = app.new_user().token;
    app.issuer.publish(&[key_b()]);
    assert!(
        eventually(Duration::from_secs(5), async || status_of(&app, &token_a)
            .await
            == StatusCode::UNAUTHORIZED)
        .await
    );
    assert_eq!(app.state.verifier.jwks().kids(), ["key-b"]);
}

#[tokio::test]
async fn max_age_is_clamped_to_the_minimum_refresh_interval() {
    let issuer = Issuer::start(&[key_a()]).await;
    issuer.set_max_age(0);
    let app = spawn_with(issuer, |o| o.jwks.min_refresh = Duration::from_secs(2)).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    // max-age=0 asked for a refetch on every use; the floor allows one every 2 s: 1 or 2 fetches.
    let fetches = app.issuer.jwks_fetches();
    assert!((1..=2).contains(&fetches), "{fetches} fetches in 2.5 s");
}

#[tokio::test]
async fn unknown_kids_trigger_one_refetch_per_cooldown_even_when_concurrent() {
    let app = spawn().await;
    assert_eq!(app.issuer.jwks_fetches(), 1);
    let forged = app.user_signed_by(key_b()).token;
    let requests = (0..100).map(|_| status_of(&app, &forged));
    let statuses = futures::future::join_all(requests).await;
    assert!(statuses.iter().all(|s| *s == StatusCode::UNAUTHORIZED));
    assert_eq!(
        app.issuer.jwks_fetches(),
        2,
        "a hundred unknown kids cause exactly one refetch"
    );

    // Within the cooldown, more unknown kids cause no fetch at all.
    for _ in 0..10 {
        assert_eq!(status_of(&app, &forged).await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(app.issuer.jwks_fetches(), 2);
    // Known keys are unaffected.
    assert_eq!(status_of(&app, &app.new_user().token).await, StatusCode::OK);
}

#[tokio::test]
async fn after_the_cooldown_an_unknown_kid_may_refetch_again() {
    let issuer = Issuer::start(&[key_a()]).await;
    let app = spawn_with(issuer, |o| {
        o.jwks.unknown_kid_cooldown = Duration::from_millis(1500)
    })
    .await;
    let token_b = app.user_signed_by(key_b()).token;
    assert_eq!(status_of(&app, &token_b).await, StatusCode::UNAUTHORIZED);
    assert_eq!(app.issuer.jwks_fetches(), 2);
    app.issuer.publish(&[key_a(), key_b()]);
    assert_eq!(
        status_of(&app, &token_b).await,
        StatusCode::UNAUTHORIZED,
        "still cooling down"
    );
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert_eq!(status_of(&app, &token_b).await, StatusCode::OK);
    assert_eq!(app.issuer.jwks_fetches(), 3);
}

#[tokio::test]
async fn keeps_verifying_with_known_keys_while_the_auth_service_is_down() {
    let issuer = Issuer::start(&[key_a()]).await;
    issuer.set_max_age(1);
    let mut app = spawn_with(issuer, |o| o.jwks.min_refresh = Duration::from_secs(1)).await;
    let user = app.new_user();
    app.create_task(&user, "before the outage").await;

    app.issuer.down().await;
    // Let several refreshes fail (connection refused), and an unknown kid try its refetch too.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        status_of(&app, &app.user_signed_by(key_b()).token).await,
        StatusCode::UNAUTHORIZED
    );
    assert!(
        app.state.verifier.jwks().refresh().await.is_err(),
        "the issuer is really down"
    );

    let res = app.list(&user, "").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.json::<Value>().await.expect("page")["items"][0]["title"],
        "before the outage"
    );
    assert_eq!(
        app.client
            .get(app.url("/readyz"))
            .send()
            .await
            .expect("readyz")
            .status(),
        StatusCode::OK
    );
    assert_eq!(app.state.verifier.jwks().kids(), ["key-a"]);
}

#[tokio::test]
async fn started_before_the_auth_service_it_is_unready_then_ready_by_itself() {
    let issuer = Issuer::reserve(&[key_a()]).await;
    let mut app = spawn_with(issuer, |o| o.wait_ready = false).await;
    let user = app.new_user();

    let readyz = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("readyz");
    let p = problem(readyz, StatusCode::SERVICE_UNAVAILABLE, "not_ready").await;
    assert!(
        p["detail"]
            .as_str()
            .expect("detail")
            .contains("Signing keys")
    );
    // Protected routes: 503 (retry later), not 401 (which would sign the user out).
    let res = app.list(&user, "").await;
    assert!(res.headers().contains_key("retry-after"));
    problem(res, StatusCode::SERVICE_UNAVAILABLE, "not_ready").await;
    // A request without a token is still simply unauthenticated.
    assert_eq!(
        app.send(reqwest::Method::GET, "/api/tasks", None, None)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );

    app.issuer.up().await;
    let ready = eventually(Duration::from_secs(5), async || {
        app.client
            .get(app.url("/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == StatusCode::OK)
    })
    .await;
    assert!(ready, "became ready without a restart");
    assert_eq!(app.list(&user, "").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_token_verified_before_is_refused_once_its_key_leaves_the_set() {
    let app = spawn_with(Issuer::start(&[key_a(), key_b()]).await, |_| {}).await;
    let token = app.issuer.token(key_a(), uuid::Uuid::new_v4());
    // Verified (and remembered) while key A is published.
    assert_eq!(status_of(&app, &token).await, StatusCode::OK);
    assert_eq!(status_of(&app, &token).await, StatusCode::OK);
    app.issuer.publish(&[key_b()]);
    app.state.verifier.jwks().refresh().await.expect("refetch");
    assert_eq!(status_of(&app, &token).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_token_verified_before_is_refused_once_it_expires() {
    let app = spawn_with(Issuer::start(&[key_a()]).await, |o| {
        o.config.token_leeway_secs = 0
    })
    .await;
    let mut claims = crate::helpers::claims(&app.issuer.url, uuid::Uuid::new_v4());
    let now = jsonwebtoken::get_current_timestamp();
    claims["exp"] = Value::from(now + 2);
    let token = crate::helpers::token_with(key_a(), &claims);
    assert_eq!(status_of(&app, &token).await, StatusCode::OK);
    // `exp` is whole seconds and still valid at the second it names (as jsonwebtoken treats it).
    tokio::time::sleep(Duration::from_millis(3100)).await;
    assert_eq!(status_of(&app, &token).await, StatusCode::UNAUTHORIZED);
}

// ---- Transport: https unless loopback (or allowed), no downgrade on redirect, bounded staleness ----

/// A throwaway HTTP server on loopback serving `router`; its base URL.
async fn serve_router(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{addr}")
}

/// Every message in an error's source chain, joined.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(e) = source {
        parts.push(e.to_string());
        source = e.source();
    }
    parts.join(": ")
}

fn settings(source: KeySource) -> JwksSettings {
    crate::helpers::fast_jwks(source)
}

#[tokio::test]
async fn plain_http_key_urls_are_refused_at_start_unless_loopback_or_allowed() {
    for source in [
        KeySource::JwksUrl("http://auth-service:8081/.well-known/jwks.json".to_owned()),
        KeySource::Discovery {
            issuer: "http://auth.example.com".to_owned(),
        },
        KeySource::JwksUrl("ftp://auth.example.com/jwks.json".to_owned()),
    ] {
        let err = Jwks::start(settings(source.clone())).expect_err("refused");
        assert!(
            format!("{err:#}").contains("ALLOW_HTTP_JWKS")
                || format!("{err:#}").contains("neither https nor http"),
            "{err:#}"
        );
    }
    let mut allowed = settings(KeySource::JwksUrl(
        "http://auth-service:8081/.well-known/jwks.json".to_owned(),
    ));
    allowed.allow_http = true;
    assert!(Jwks::start(allowed).is_ok(), "a private network, said so");
    for url in [
        "https://auth.example.com/.well-known/jwks.json",
        "http://127.0.0.1:9/.well-known/jwks.json",
        "http://localhost:9/.well-known/jwks.json",
        "http://[::1]:9/.well-known/jwks.json",
    ] {
        assert!(
            Jwks::start(settings(KeySource::JwksUrl(url.to_owned()))).is_ok(),
            "{url}"
        );
    }

    // The settings come from ALLOW_HTTP_JWKS and JWKS_MAX_STALE_SECS.
    let mut config = task_service::Config::for_database("postgres://unused");
    assert!(!config.allow_http_jwks);
    assert_eq!(config.jwks_max_stale_secs, 86_400);
    config.allow_http_jwks = true;
    config.jwks_max_stale_secs = 7200;
    let s = config.jwks_settings();
    assert!(s.allow_http);
    assert_eq!(s.max_stale, Duration::from_secs(7200));
    // Stale before the next scheduled refresh would make every quiet hour an outage.
    config.jwks_max_stale_secs = 60;
    let err = Jwks::start(config.jwks_settings()).expect_err("refused");
    assert!(
        format!("{err:#}").contains("JWKS_MAX_STALE_SECS"),
        "{err:#}"
    );
}

#[tokio::test]
async fn a_discovered_plain_http_jwks_uri_is_not_fetched() {
    let base = std::sync::Arc::new(std::sync::OnceLock::<String>::new());
    let issuer_url = base.clone();
    let router = axum::Router::new().route(
        "/.well-known/openid-configuration",
        axum::routing::get(move || {
            let issuer = issuer_url.get().cloned().unwrap_or_default();
            async move {
                axum::Json(serde_json::json!({
                    "issuer": issuer,
                    "jwks_uri": "http://keys.example.com/.well-known/jwks.json",
                }))
            }
        }),
    );
    let url = serve_router(router).await;
    base.set(url.clone()).expect("once");
    let jwks = Jwks::start(settings(KeySource::Discovery { issuer: url })).expect("starts");
    let err = jwks.refresh().await.expect_err("refused");
    let message = chain(&err);
    assert!(
        message.contains("jwks_uri") && message.contains("ALLOW_HTTP_JWKS"),
        "{message}"
    );
    assert!(!jwks.is_ready());
}

#[tokio::test]
async fn redirects_are_followed_only_to_urls_that_may_be_fetched() {
    let issuer = Issuer::start(&[key_a()]).await;
    let local_target = format!(
        "http://localhost:{}/.well-known/jwks.json",
        issuer.addr.port()
    );
    let router = axum::Router::new()
        .route(
            "/to-plain-http",
            axum::routing::get(|| async {
                axum::response::Redirect::temporary("http://keys.example.com/.well-known/jwks.json")
            }),
        )
        .route(
            "/to-loopback",
            axum::routing::get(move || {
                let target = local_target.clone();
                async move { axum::response::Redirect::temporary(&target) }
            }),
        );
    let base = serve_router(router).await;

    let jwks = Jwks::start(settings(KeySource::JwksUrl(format!(
        "{base}/to-plain-http"
    ))))
    .expect("starts");
    let err = jwks.refresh().await.expect_err("not followed");
    let message = chain(&err);
    assert!(
        message.contains("redirect to a URL that may not be fetched refused"),
        "{message}"
    );
    assert!(!jwks.is_ready());

    let jwks =
        Jwks::start(settings(KeySource::JwksUrl(format!("{base}/to-loopback")))).expect("starts");
    jwks.refresh()
        .await
        .expect("loopback to loopback is followed");
    assert_eq!(jwks.kids(), ["key-a"]);
}

#[tokio::test]
async fn keys_not_refreshed_within_max_stale_fail_closed_until_the_issuer_answers() {
    let issuer = Issuer::start(&[key_a()]).await;
    issuer.set_max_age(1);
    let mut app = spawn_with(issuer, |o| {
        o.jwks.min_refresh = Duration::from_secs(1);
        o.jwks.max_refresh = Duration::from_secs(1);
        o.jwks.max_stale = Duration::from_secs(2);
    })
    .await;
    let user = app.new_user();
    assert_eq!(status_of(&app, &user.token).await, StatusCode::OK);
    let readyz = async |app: &crate::helpers::TestApp| {
        app.client
            .get(app.url("/readyz"))
            .send()
            .await
            .expect("readyz")
    };

    // (Within the limit cached keys go on verifying through an outage: tested above.) Past it,
    // nothing verifies: 503 (retry later), never 401 (which would sign users out).
    app.issuer.down().await;
    assert!(
        eventually(Duration::from_secs(5), async || status_of(
            &app,
            &user.token
        )
        .await
            == StatusCode::SERVICE_UNAVAILABLE)
        .await
    );
    let res = app.list(&user, "").await;
    assert!(res.headers().contains_key("retry-after"));
    problem(res, StatusCode::SERVICE_UNAVAILABLE, "not_ready").await;
    problem(
        readyz(&app).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "not_ready",
    )
    .await;
    // Concurrent requests all fail closed too (the remembered-token shortcut included).
    let statuses = futures::future::join_all((0..20).map(|_| status_of(&app, &user.token))).await;
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::SERVICE_UNAVAILABLE),
        "{statuses:?}"
    );

    app.issuer.up().await;
    app.issuer
        .state
        .failing
        .store(false, std::sync::atomic::Ordering::SeqCst);
    assert!(
        eventually(Duration::from_secs(5), async || status_of(
            &app,
            &user.token
        )
        .await
            == StatusCode::OK)
        .await,
        "recovers by itself once the issuer answers"
    );
    assert_eq!(readyz(&app).await.status(), StatusCode::OK);
}
