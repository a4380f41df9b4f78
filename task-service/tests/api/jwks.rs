//! The signing-key cache against a stand-in auth-service: discovery, rotation, the unknown-kid
//! cooldown (single-flight), an auth-service that goes down, and one that starts late.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use task_service::auth::KeySource;

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
