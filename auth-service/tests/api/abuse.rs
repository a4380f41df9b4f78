//! Abuse resistance that holds across replicas: rate limits kept in Postgres and shared by every
//! replica (and a restart), the client IP believed only from trusted proxies, the account owner's
//! known browser never locked out, and the security events a user can read.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

async fn signin_from(
    app: &TestApp,
    email: &str,
    password: &str,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.url("/api/auth/signin"))
        .json(&json!({"email": email, "password": password}));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.expect("signin")
}

fn retry_after(res: &reqwest::Response) -> u64 {
    res.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds")
}

#[tokio::test]
async fn the_ip_limit_is_shared_by_replicas_and_survives_a_restart() {
    let a = spawn_with(|c| c.rate_limit_per_ip = 4).await;
    let b = replica(&a).await;
    // Four attempts spread over both replicas use up one budget.
    for app in [&a, &b, &a, &b] {
        assert_eq!(
            app.signin("nobody@example.com", PASSWORD).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    for app in [&a, &b] {
        let res = app.signin("nobody@example.com", PASSWORD).await;
        assert!((1..=61).contains(&retry_after(&res)));
        problem(res, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    }
    // A restarted replica remembers.
    let TestApp { server, .. } = b;
    server.stop().await.expect("stop");
    let restarted = replica(&a).await;
    problem(
        restarted.signin("nobody@example.com", PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_attempts_on_two_replicas_are_each_counted_once() {
    let a = spawn_with(|c| c.rate_limit_per_email = 5).await;
    let b = replica(&a).await;
    let (email, _) = a.new_user().await;
    let attempts = (0..16).map(|i| {
        let app = if i % 2 == 0 { &a } else { &b };
        signin_from(app, &email, "wrong password", &[])
    });
    let statuses: Vec<StatusCode> = futures::future::join_all(attempts)
        .await
        .into_iter()
        .map(|r| r.status())
        .collect();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(refused, 16 - 5, "{statuses:?}");
}

#[tokio::test]
async fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
    // No trusted proxies: a client cannot buy itself new budgets by inventing addresses.
    let direct = spawn_with(|c| c.rate_limit_per_ip = 2).await;
    for i in 0..2 {
        let spoof = format!("203.0.113.{i}");
        let res = signin_from(
            &direct,
            "x@example.com",
            PASSWORD,
            &[("x-forwarded-for", &spoof)],
        )
        .await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let res = signin_from(
        &direct,
        "x@example.com",
        PASSWORD,
        &[("x-forwarded-for", "198.51.100.99")],
    )
    .await;
    problem(res, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;

    // Behind our proxy (the test client's loopback address is the proxy): each client address
    // has its own budget, and the address is the one recorded.
    let proxied = spawn_with(|c| {
        c.rate_limit_per_ip = 2;
        c.trusted_proxies = Some("127.0.0.0/8, ::1".parse().expect("cidrs"));
    })
    .await;
    for client in ["203.0.113.1", "203.0.113.1", "203.0.113.2"] {
        // A forged left-most hop is ignored: the proxy appended the real one.
        let xff = format!("6.6.6.6, {client}");
        let res = signin_from(
            &proxied,
            "x@example.com",
            PASSWORD,
            &[("x-forwarded-for", &xff)],
        )
        .await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{client}");
    }
    let res = signin_from(
        &proxied,
        "x@example.com",
        PASSWORD,
        &[("x-forwarded-for", "203.0.113.1")],
    )
    .await;
    problem(res, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    let email = unique_email();
    let res = proxied
        .client
        .post(proxied.url("/api/auth/signup"))
        .header("forwarded", "for=\"[2001:db8::7]:4711\"")
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .expect("signup");
    let session: Value = res.json().await.expect("session");
    let sessions: Value = proxied
        .client
        .get(proxied.url("/api/auth/sessions"))
        .bearer_auth(session["access_token"].as_str().expect("token"))
        .send()
        .await
        .expect("sessions")
        .json()
        .await
        .expect("json");
    assert_eq!(sessions[0]["ip"], "2001:db8::7");
}

/// The `device=...` pair from a response's Set-Cookie, to send back as a browser would.
fn device_cookie(res: &reqwest::Response) -> String {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("device="))
        .and_then(|v| v.split(';').next())
        .expect("a device cookie")
        .to_owned()
}

#[tokio::test]
async fn an_attack_on_an_account_does_not_lock_its_owner_out_of_their_known_browser() {
    let app = spawn_with(|c| {
        c.rate_limit_per_email = 3;
        c.rate_limit_per_device = 3;
    })
    .await;
    let email = unique_email();
    let res = app.signup(&email, PASSWORD).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let cookie = device_cookie(&res);
    assert!(
        res.headers().get_all("set-cookie").iter().any(|v| v
            .to_str()
            .is_ok_and(|v| v.contains("Path=/api/auth/signin") && v.contains("HttpOnly"))),
        "scoped to sign-in, out of scripts' reach"
    );

    // Someone elsewhere burns the account's budget.
    for _ in 0..3 {
        assert_eq!(
            signin_from(&app, &email, "guess", &[]).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    problem(
        signin_from(&app, &email, PASSWORD, &[]).await,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    )
    .await;
    // A made-up device cookie buys nothing.
    let forged = format!("device={}", "A".repeat(43));
    problem(
        signin_from(&app, &email, PASSWORD, &[("cookie", &forged)]).await,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    )
    .await;
    // The owner's browser still gets in.
    let res = signin_from(&app, &email, PASSWORD, &[("cookie", &cookie)]).await;
    assert_eq!(res.status(), StatusCode::OK);
    // The device cookie of one account is no key to another account's budget.
    let (other, _) = app.new_user().await;
    for _ in 0..3 {
        signin_from(&app, &other, "guess", &[]).await;
    }
    problem(
        signin_from(&app, &other, PASSWORD, &[("cookie", &cookie)]).await,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    )
    .await;
}

async fn events(app: &TestApp, access: &str, query: &str) -> reqwest::Response {
    app.client
        .get(app.url(&format!("/api/auth/events{query}")))
        .bearer_auth(access)
        .send()
        .await
        .expect("events")
}

fn types(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["type"].as_str().expect("type").to_owned())
        .collect()
}

#[tokio::test]
async fn each_security_event_is_recorded_for_its_owner_only() {
    let app = spawn_with(|c| c.refresh_reuse_grace = 0).await;
    // A failed sign-in at an address nobody has yet leaves nothing the later account can see.
    let email = unique_email();
    assert_eq!(
        app.signin(&email, "whatever it is").await.status(),
        StatusCode::UNAUTHORIZED
    );
    let res = app.signup(&email, PASSWORD).await;
    let first: Value = res.json().await.expect("session");
    assert_eq!(
        app.signin(&email, "wrong password").await.status(),
        StatusCode::UNAUTHORIZED
    );
    let second: Value = app
        .signin(&email, PASSWORD)
        .await
        .json()
        .await
        .expect("session");
    let access = second["access_token"].as_str().expect("token").to_owned();
    // Refresh once, then replay the retired token: reuse detected, that session ends.
    let retired = first["refresh_token"].as_str().expect("refresh");
    assert_eq!(app.refresh(retired).await.status(), StatusCode::OK);
    assert_eq!(
        app.refresh(retired).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // Another session, ended from the account page; then a password change; then a sign-out.
    let third: Value = app
        .signin(&email, PASSWORD)
        .await
        .json()
        .await
        .expect("session");
    let claims = claims_of(third["access_token"].as_str().expect("token"));
    let third_sid = claims["sid"].as_str().expect("sid");
    let res = app
        .client
        .delete(app.url(&format!("/api/auth/sessions/{third_sid}")))
        .bearer_auth(&access)
        .send()
        .await
        .expect("end");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = app
        .client
        .post(app.url("/api/auth/password"))
        .bearer_auth(&access)
        .json(&json!({"current_password": PASSWORD, "new_password": "another long passphrase"}))
        .send()
        .await
        .expect("password");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let fourth: Value = app
        .signin(&email, "another long passphrase")
        .await
        .json()
        .await
        .expect("session");
    assert_eq!(
        app.signout(fourth["refresh_token"].as_str().expect("refresh"))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );

    let page: Value = events(&app, &access, "").await.json().await.expect("page");
    assert_eq!(
        types(&page),
        [
            "signout",
            "signin",
            "password_changed",
            "session_ended",
            "signin",
            "refresh_reuse_detected",
            "signin",
            "signin_failed",
            "signup",
        ],
        "newest first; the failed sign-in before the account existed is not there: {page}"
    );
    let newest = &page["items"][0];
    assert_eq!(newest["ip"], "127.0.0.1");
    assert!(
        newest["at"].is_string() && newest["id"].is_string() && newest["session_id"].is_string()
    );
    assert_eq!(page["next_cursor"], Value::Null);

    // Paged by the cursor, in the same order.
    let one: Value = events(&app, &access, "?limit=4")
        .await
        .json()
        .await
        .expect("page");
    let cursor = one["next_cursor"].as_str().expect("cursor").to_owned();
    let two: Value = events(&app, &access, &format!("?limit=5&cursor={cursor}"))
        .await
        .json()
        .await
        .expect("page");
    assert_eq!([types(&one), types(&two)].concat(), types(&page));
    assert_eq!(two["next_cursor"], Value::Null);

    // Another user sees only their own.
    let (_, stranger) = app.new_user().await;
    let theirs: Value = events(&app, stranger["access_token"].as_str().expect("t"), "")
        .await
        .json()
        .await
        .expect("page");
    assert_eq!(types(&theirs), ["signup"]);

    for bad in ["?limit=0", "?limit=201", "?cursor=nope", "?other=1"] {
        problem(
            events(&app, &access, bad).await,
            StatusCode::BAD_REQUEST,
            "invalid_query",
        )
        .await;
    }
    let res = app
        .client
        .get(app.url("/api/auth/events"))
        .send()
        .await
        .expect("anon");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        events(&app, &access, "").await.headers()["cache-control"],
        "no-store"
    );
}

#[tokio::test]
async fn events_cannot_be_rewritten() {
    let app = spawn().await;
    app.new_user().await;
    let err = sqlx::query("UPDATE auth.events SET type = 'signin'")
        .execute(&app.state.pool)
        .await
        .expect_err("append-only");
    assert!(err.to_string().contains("append-only"), "{err}");
}

#[tokio::test]
async fn the_hourly_purges_forget_only_what_nothing_can_need() {
    let app = spawn_with(|c| c.rate_limit_per_ip = 5).await;
    let (_, session) = app.new_user().await;
    let pool = &app.state.pool;
    // A bucket whose budget is whole again goes; one still counting stays.
    assert_eq!(
        app.signin("nobody@example.com", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    sqlx::query(
        "INSERT INTO auth.rate_limits (key, tat) VALUES ('\\x00', now() - interval '1 minute')",
    )
    .execute(pool)
    .await
    .expect("old bucket");
    assert_eq!(
        auth_service::rate_limit::purge(pool).await.expect("purge"),
        1
    );
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM auth.rate_limits")
        .fetch_one(pool)
        .await
        .expect("count");
    assert!(left >= 1, "the live bucket stays");
    // Events older than the retention go; recent ones stay.
    sqlx::query("ALTER TABLE auth.events DISABLE TRIGGER events_append_only")
        .execute(pool)
        .await
        .expect("for the test only");
    sqlx::query("UPDATE auth.events SET at = now() - interval '200 days' WHERE type = 'signup'")
        .execute(pool)
        .await
        .expect("age one event");
    assert_eq!(
        auth_service::db::events::purge(pool, 180)
            .await
            .expect("purge"),
        1
    );
    let page: Value = app
        .client
        .get(app.url("/api/auth/events"))
        .bearer_auth(session["access_token"].as_str().expect("token"))
        .send()
        .await
        .expect("events")
        .json()
        .await
        .expect("page");
    assert_eq!(page["items"].as_array().map(Vec::len), Some(0), "{page}");
    // Link tokens a day past expiry go; the live one stays.
    sqlx::query("UPDATE auth.email_tokens SET expires_at = now() - interval '2 days'")
        .execute(pool)
        .await
        .expect("expire");
    assert_eq!(
        auth_service::db::email_tokens::purge(pool)
            .await
            .expect("purge"),
        1
    );
}
