//! Refresh rotation, reuse detection, sign-out and the browser cookie.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

pub(crate) fn refresh_token(body: &Value) -> String {
    body["refresh_token"]
        .as_str()
        .expect("refresh_token")
        .to_owned()
}

/// Moves every retirement in the database `secs` into the past: the grace window passes without
/// the test sleeping through it (the service compares `retired_at` with the database's clock).
pub(crate) async fn age_retirements(app: &TestApp, secs: u64) {
    sqlx::query(
        "UPDATE auth.refresh_tokens SET retired_at = retired_at - make_interval(secs => $1)
          WHERE retired_at IS NOT NULL",
    )
    .bind(secs as f64)
    .execute(&app.state.pool)
    .await
    .expect("age retirements");
}

/// Hashes of the tokens not retired, across the database (these tests have one session).
async fn live_tokens(app: &TestApp) -> Vec<Vec<u8>> {
    sqlx::query_scalar("SELECT token_hash FROM auth.refresh_tokens WHERE retired_at IS NULL")
        .fetch_all(&app.state.pool)
        .await
        .expect("live tokens")
}

async fn revoked_reason(app: &TestApp) -> Option<String> {
    sqlx::query_scalar("SELECT revoked_reason FROM auth.sessions")
        .fetch_one(&app.state.pool)
        .await
        .expect("session")
}

fn hash(token: &str) -> Vec<u8> {
    auth_service::refresh_token::hash(token).to_vec()
}

/// Parallel refreshes per race, and the pool that lets every one of them hold a connection.
const RACERS: usize = 16;

fn pool_for_racers(config: &mut auth_service::Config) {
    config.db.db_max_connections = RACERS as u32 + 2;
}

/// Sends `RACERS` refreshes of `token` at once while the test itself holds the session's row
/// lock, and lets go only when every one of them is queued behind it: each has begun its
/// transaction before any can finish, the widest race there is (left to chance, most runs see a
/// few at most overlap).
async fn race_refreshes(app: &TestApp, token: &str) -> Vec<reqwest::Response> {
    // A pool of the test's own: the service's is taken up by the racers.
    let side = sqlx::PgPool::connect(&app.db.url).await.expect("side pool");
    let mut holder = side.begin().await.expect("begin");
    sqlx::query("SELECT 1 FROM auth.sessions FOR UPDATE")
        .execute(&mut *holder)
        .await
        .expect("lock the session");
    let release = async {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let (waiting,): (i64,) = sqlx::query_as(
                "SELECT count(*) FROM pg_stat_activity
                  WHERE datname = current_database() AND wait_event_type = 'Lock'",
            )
            .fetch_one(&side)
            .await
            .expect("waiting");
            if waiting >= RACERS as i64 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "only {waiting} refreshes reached the lock"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        holder.commit().await.expect("release");
    };
    let refreshes = futures::future::join_all((0..RACERS).map(|_| app.refresh(token)));
    let (results, ()) = tokio::join!(refreshes, release);
    results
}

#[tokio::test]
async fn refresh_rotates_the_token_and_returns_a_session_without_user() {
    let app = spawn().await;
    let (_, session) = app.new_user().await;
    let first = refresh_token(&session);
    let res = app.refresh(&first).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body: Value = res.json().await.expect("json");
    assert!(body.get("user").is_none());
    assert_eq!(body["token_type"], "Bearer");
    let second = refresh_token(&body);
    assert_ne!(first, second);
    assert_eq!(
        app.me(body["access_token"].as_str().expect("at"))
            .await
            .status(),
        StatusCode::OK
    );
    // The successor rotates in turn.
    assert_eq!(app.refresh(&second).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn refresh_tokens_are_stored_only_as_hashes() {
    let app = spawn().await;
    let (_, session) = app.new_user().await;
    let token = refresh_token(&session);
    let rows: Vec<(Vec<u8>,)> = sqlx::query_as("SELECT token_hash FROM auth.refresh_tokens")
        .fetch_all(&app.state.pool)
        .await
        .expect("rows");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0.len(), 32);
    assert_ne!(rows[0].0, token.as_bytes());
    assert_eq!(
        rows[0].0,
        auth_service::refresh_token::hash(&token).to_vec()
    );
}

#[tokio::test]
async fn a_retired_token_is_honoured_within_the_grace_window() {
    let app = spawn().await; // default grace: 10 s
    let (_, session) = app.new_user().await;
    let old = refresh_token(&session);
    let tab_one: Value = app.refresh(&old).await.json().await.expect("json");
    // A second tab refreshing with the same token a moment later gets its own successor.
    let res = app.refresh(&old).await;
    assert_eq!(res.status(), StatusCode::OK);
    let tab_two: Value = res.json().await.expect("json");
    assert_ne!(refresh_token(&tab_one), refresh_token(&tab_two));
    assert_eq!(
        app.refresh(&refresh_token(&tab_one)).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.refresh(&refresh_token(&tab_two)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn reuse_after_the_grace_window_revokes_the_whole_session() {
    let app = spawn_with(|c| c.refresh_reuse_grace = 1).await;
    let (_, session) = app.new_user().await;
    let stolen = refresh_token(&session);
    let newest: Value = app.refresh(&stolen).await.json().await.expect("json");
    tokio::time::sleep(Duration::from_millis(1300)).await;

    problem(
        app.refresh(&stolen).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    // The legitimate newest token dies with it, and so do access tokens at /me.
    problem(
        app.refresh(&refresh_token(&newest)).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    problem(
        app.me(newest["access_token"].as_str().expect("at")).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    let (reason,): (Option<String>,) = sqlx::query_as("SELECT revoked_reason FROM auth.sessions")
        .fetch_one(&app.state.pool)
        .await
        .expect("row");
    assert_eq!(reason.as_deref(), Some("reuse_detected"));
}

#[tokio::test]
async fn concurrent_refreshes_of_one_token_all_succeed_within_grace() {
    let app = spawn().await;
    let (_, session) = app.new_user().await;
    let token = refresh_token(&session);
    let results = futures::future::join_all((0..5).map(|_| app.refresh(&token))).await;
    assert!(
        results.iter().all(|r| r.status() == StatusCode::OK),
        "{:?}",
        results.iter().map(|r| r.status()).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn parallel_refreshes_of_one_token_leave_exactly_one_live_chain() {
    let app = spawn_with(pool_for_racers).await; // default grace: 10 s, so all are honoured
    let (_, session) = app.new_user().await;
    let token = refresh_token(&session);
    let results = race_refreshes(&app, &token).await;
    let mut successors = Vec::new();
    for res in results {
        assert_eq!(res.status(), StatusCode::OK);
        successors.push(refresh_token(&res.json().await.expect("json")));
    }
    // Every racer got a successor, but the session holds one live token: the last rotation's,
    // which retired all the others.
    let live = live_tokens(&app).await;
    assert_eq!(live.len(), 1, "one live token per session");
    let (survivor, forks): (Vec<_>, Vec<_>) = successors.iter().partition(|t| hash(t) == live[0]);
    assert_eq!(survivor.len(), 1, "the live token is one of the successors");
    assert_eq!(forks.len(), RACERS - 1);

    // Once the window has passed only the survivor's chain goes on...
    age_retirements(&app, 60).await;
    let next: Value = app.refresh(survivor[0]).await.json().await.expect("json");
    assert_eq!(live_tokens(&app).await, vec![hash(&refresh_token(&next))]);
    // ...and any other successor coming back is reuse: the session ends, the survivor's too.
    problem(
        app.refresh(forks[7]).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    assert_eq!(
        revoked_reason(&app).await.as_deref(),
        Some("reuse_detected")
    );
    problem(
        app.refresh(&refresh_token(&next)).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
}

#[tokio::test]
async fn without_a_grace_window_parallel_refreshes_of_one_token_mint_one_successor() {
    let app = spawn_with(|c| {
        c.refresh_reuse_grace = 0;
        pool_for_racers(c);
    })
    .await;
    let (_, session) = app.new_user().await;
    let token = refresh_token(&session);
    let results = race_refreshes(&app, &token).await;
    let statuses: Vec<_> = results.iter().map(|r| r.status()).collect();
    // Single use: one request wins the token, every other one presents a retired token with no
    // window to excuse it, which is reuse; the session (winner included) ends.
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::OK || *s == StatusCode::UNAUTHORIZED),
        "{statuses:?}"
    );
    let (tokens,): (i64,) = sqlx::query_as("SELECT count(*) FROM auth.refresh_tokens")
        .fetch_one(&app.state.pool)
        .await
        .expect("count");
    assert_eq!(tokens, 2, "the first token and exactly one successor");
    assert_eq!(
        revoked_reason(&app).await.as_deref(),
        Some("reuse_detected")
    );
}

#[tokio::test]
async fn a_replay_within_the_window_takes_over_and_the_other_side_trips_reuse_detection() {
    let app = spawn().await;
    let (_, session) = app.new_user().await;
    let stolen = refresh_token(&session);
    let owner: Value = app.refresh(&stolen).await.json().await.expect("json");
    // The thief replays the copied token in time and gets a successor of its own; the owner's
    // token is retired by that rotation, so the session still has one live token: the thief's.
    let thief: Value = app.refresh(&stolen).await.json().await.expect("json");
    assert_eq!(live_tokens(&app).await, vec![hash(&refresh_token(&thief))]);

    // The owner comes back after the window (access tokens last minutes, the window seconds):
    // the retired token is reuse, and the thief's chain dies with the session.
    age_retirements(&app, 60).await;
    problem(
        app.refresh(&refresh_token(&owner)).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    assert_eq!(
        revoked_reason(&app).await.as_deref(),
        Some("reuse_detected")
    );
    problem(
        app.refresh(&refresh_token(&thief)).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    problem(
        app.me(thief["access_token"].as_str().expect("at")).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
}

#[tokio::test]
async fn replaying_a_retired_token_does_not_extend_its_window() {
    let app = spawn().await;
    let (_, session) = app.new_user().await;
    let old = refresh_token(&session);
    app.refresh(&old).await;
    age_retirements(&app, 8).await; // 8 of the 10 s gone
    assert_eq!(app.refresh(&old).await.status(), StatusCode::OK);
    age_retirements(&app, 3).await; // 11 s since `old` was retired, 3 s since its replay
    problem(
        app.refresh(&old).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    assert_eq!(
        revoked_reason(&app).await.as_deref(),
        Some("reuse_detected")
    );
}

#[tokio::test]
async fn refresh_refuses_missing_unknown_and_malformed_tokens() {
    let app = spawn().await;
    problem(
        app.post_json("/api/auth/refresh", &json!({})).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    let res = app
        .client
        .post(app.url("/api/auth/refresh"))
        .send()
        .await
        .expect("req");
    problem(res, StatusCode::UNAUTHORIZED, "invalid_token").await;
    problem(
        app.refresh("x".repeat(43).as_str()).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    problem(
        app.refresh("not a token").await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    let res = app
        .client
        .post(app.url("/api/auth/refresh"))
        .header("content-type", "text/plain")
        .body("abc")
        .send()
        .await
        .expect("req");
    problem(
        res,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
}

#[tokio::test]
async fn refresh_fails_after_the_sessions_absolute_lifetime() {
    let app = spawn().await;
    let (_, session) = app.new_user().await;
    sqlx::query("UPDATE auth.sessions SET expires_at = now() - interval '1 second'")
        .execute(&app.state.pool)
        .await
        .expect("update");
    problem(
        app.refresh(&refresh_token(&session)).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
}

#[tokio::test]
async fn signout_revokes_the_session_and_is_idempotent() {
    let app = spawn().await;
    let (_, session) = app.new_user().await;
    let token = refresh_token(&session);
    let access = session["access_token"].as_str().expect("at");
    assert_eq!(app.signout(&token).await.status(), StatusCode::NO_CONTENT);
    problem(
        app.refresh(&token).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    problem(
        app.me(access).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    assert_eq!(app.signout(&token).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.signout("never-issued").await.status(),
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn signout_of_one_session_leaves_the_others() {
    let app = spawn().await;
    let (email, laptop) = app.new_user().await;
    let phone: Value = app
        .signin(&email, PASSWORD)
        .await
        .json()
        .await
        .expect("json");
    app.signout(&refresh_token(&laptop)).await;
    assert_eq!(
        app.refresh(&refresh_token(&phone)).await.status(),
        StatusCode::OK
    );
}

/// The refresh cookie's Set-Cookie (sign-up and sign-in also set the device cookie).
fn set_cookie(res: &reqwest::Response) -> String {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("refresh_token=") || v.starts_with("__Secure-refresh_token="))
        .expect("a refresh cookie")
        .to_owned()
}

fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().expect("pair").to_owned()
}

#[tokio::test]
async fn browsers_get_the_refresh_token_only_as_an_httponly_cookie() {
    let app = spawn().await;
    let res = app
        .client
        .post(app.url("/api/auth/signup"))
        .header("x-refresh-token-transport", "cookie")
        .json(&json!({"email": unique_email(), "password": PASSWORD}))
        .send()
        .await
        .expect("req");
    assert_eq!(res.status(), StatusCode::CREATED);
    let cookie = set_cookie(&res);
    for attr in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/api/auth",
        "Max-Age=2592000",
    ] {
        assert!(cookie.contains(attr), "{cookie} lacks {attr}");
    }
    assert!(
        !cookie.contains("Secure"),
        "plain-http localhost by default"
    );
    let body: Value = res.json().await.expect("json");
    assert!(
        body["refresh_token"].is_null(),
        "page scripts must not see it"
    );

    // Refresh with the cookie alone and no body, as the web app does.
    let res = app
        .client
        .post(app.url("/api/auth/refresh"))
        .header("cookie", cookie_pair(&cookie))
        .header("origin", "http://localhost:3000")
        .header("x-refresh-token-transport", "cookie")
        .send()
        .await
        .expect("req");
    assert_eq!(res.status(), StatusCode::OK);
    let rotated = set_cookie(&res);
    assert_ne!(cookie_pair(&rotated), cookie_pair(&cookie));

    // Sign-out by cookie clears it and revokes the session.
    let res = app
        .client
        .post(app.url("/api/auth/signout"))
        .header("cookie", cookie_pair(&rotated))
        .send()
        .await
        .expect("req");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(set_cookie(&res).starts_with("refresh_token=;"));
    let res = app
        .client
        .post(app.url("/api/auth/refresh"))
        .header("cookie", cookie_pair(&rotated))
        .send()
        .await
        .expect("req");
    problem(res, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

#[tokio::test]
async fn the_cookie_is_refused_from_an_untrusted_origin() {
    let app = spawn().await;
    let (_, session) = app.new_user().await;
    let res = app
        .client
        .post(app.url("/api/auth/refresh"))
        .header(
            "cookie",
            format!("refresh_token={}", refresh_token(&session)),
        )
        .header("origin", "https://evil.example")
        .send()
        .await
        .expect("req");
    problem(res, StatusCode::FORBIDDEN, "forbidden").await;
}

#[tokio::test]
async fn cookie_can_be_marked_secure() {
    let app = spawn_with(|c| c.cookie_secure = auth_service::config::CookieSecure::True).await;
    let res = app.signup(&unique_email(), PASSWORD).await;
    assert!(set_cookie(&res).contains("Secure"));
}
