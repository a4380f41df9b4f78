//! The account routes: sessions seen and ended, sign-out everywhere, password change, account
//! deletion — and the revocation feed each of them writes to.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

const UA_PHONE: &str =
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148 Safari/604.1";
const UA_DESKTOP: &str =
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36";

impl TestApp {
    async fn signin_as(&self, email: &str, user_agent: &str) -> Value {
        let res = self
            .client
            .post(self.url("/api/auth/signin"))
            .header("user-agent", user_agent)
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), StatusCode::OK);
        res.json().await.expect("session")
    }

    async fn authed(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut req = self
            .client
            .request(method, self.url(path))
            .bearer_auth(token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await.expect("request")
    }

    async fn sessions(&self, token: &str) -> Vec<Value> {
        let res = self
            .authed(reqwest::Method::GET, "/api/auth/sessions", token, None)
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        res.json().await.expect("sessions")
    }

    async fn feed(&self, after: u64) -> Value {
        let res = self
            .get(&format!("/api/internal/revocations?after={after}"))
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        res.json().await.expect("feed")
    }
}

fn token(session: &Value, field: &str) -> String {
    session[field].as_str().expect(field).to_owned()
}

#[tokio::test]
async fn sessions_are_listed_newest_first_with_their_device_and_exactly_one_current() {
    let app = spawn().await;
    let (email, _) = app.new_user().await;
    let phone = app.signin_as(&email, UA_PHONE).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let desktop = app.signin_as(&email, UA_DESKTOP).await;

    let list = app.sessions(&token(&desktop, "access_token")).await;
    assert_eq!(list.len(), 3, "sign-up, phone, desktop: {list:?}");
    assert_eq!(list.iter().filter(|s| s["current"] == true).count(), 1);
    assert_eq!(
        list[0]["user_agent"], UA_DESKTOP,
        "most recently used first"
    );
    assert_eq!(list[0]["current"], true);
    assert_eq!(list[1]["user_agent"], UA_PHONE);
    assert_eq!(list[0]["ip"], "127.0.0.1");
    for s in &list {
        for field in ["id", "created_at", "last_used_at", "expires_at"] {
            assert!(s[field].is_string(), "{field} in {s}");
        }
    }
    // From the phone, the phone's session is the current one.
    let from_phone = app.sessions(&token(&phone, "access_token")).await;
    let current: Vec<_> = from_phone.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["user_agent"], UA_PHONE);
}

#[tokio::test]
async fn a_refresh_records_where_the_session_was_last_used() {
    let app = spawn().await;
    let (email, _) = app.new_user().await;
    let s = app.signin_as(&email, UA_PHONE).await;
    let before = app.sessions(&token(&s, "access_token")).await;
    let mine = before
        .iter()
        .find(|x| x["current"] == true)
        .expect("current")
        .clone();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let res = app
        .client
        .post(app.url("/api/auth/refresh"))
        .header("user-agent", UA_DESKTOP)
        .json(&json!({"refresh_token": token(&s, "refresh_token")}))
        .send()
        .await
        .expect("refresh");
    assert_eq!(res.status(), StatusCode::OK);
    let refreshed: Value = res.json().await.expect("json");
    let after = app.sessions(&token(&refreshed, "access_token")).await;
    let now = after
        .iter()
        .find(|x| x["id"] == mine["id"])
        .expect("same session");
    assert_eq!(now["user_agent"], UA_DESKTOP);
    assert_ne!(now["last_used_at"], mine["last_used_at"]);
    assert_eq!(now["created_at"], mine["created_at"]);
}

#[tokio::test]
async fn ending_a_session_kills_its_refresh_token_and_its_access_token_here() {
    let app = spawn().await;
    let (email, first) = app.new_user().await;
    let other = app.signin_as(&email, UA_PHONE).await;
    let list = app.sessions(&token(&first, "access_token")).await;
    let other_id = list.iter().find(|s| s["current"] == false).expect("other")["id"]
        .as_str()
        .expect("id")
        .to_owned();

    let res = app
        .authed(
            reqwest::Method::DELETE,
            &format!("/api/auth/sessions/{other_id}"),
            &token(&first, "access_token"),
            None,
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    problem(
        app.refresh(&token(&other, "refresh_token")).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    problem(
        app.me(&token(&other, "access_token")).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    assert_eq!(app.sessions(&token(&first, "access_token")).await.len(), 1);
    // Ending it again, or an unknown id, is 404; so is a malformed id.
    for path in [
        format!("/api/auth/sessions/{other_id}"),
        format!("/api/auth/sessions/{}", uuid::Uuid::new_v4()),
        "/api/auth/sessions/not-a-uuid".to_owned(),
    ] {
        let res = app
            .authed(
                reqwest::Method::DELETE,
                &path,
                &token(&first, "access_token"),
                None,
            )
            .await;
        problem(res, StatusCode::NOT_FOUND, "not_found").await;
    }
}

#[tokio::test]
async fn another_users_session_cannot_be_seen_or_ended() {
    let app = spawn().await;
    let (_, alice) = app.new_user().await;
    let (_, bob) = app.new_user().await;
    let bobs = app.sessions(&token(&bob, "access_token")).await;
    let bob_session = bobs[0]["id"].as_str().expect("id").to_owned();
    let alices = app.sessions(&token(&alice, "access_token")).await;
    assert!(alices.iter().all(|s| s["id"] != bob_session.as_str()));
    let res = app
        .authed(
            reqwest::Method::DELETE,
            &format!("/api/auth/sessions/{bob_session}"),
            &token(&alice, "access_token"),
            None,
        )
        .await;
    problem(res, StatusCode::NOT_FOUND, "not_found").await;
    // Bob is still signed in.
    assert_eq!(
        app.refresh(&token(&bob, "refresh_token")).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn account_routes_need_a_live_session() {
    let app = spawn().await;
    let res = app.get("/api/auth/sessions").await;
    problem(res, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let (_, s) = app.new_user().await;
    assert_eq!(
        app.signout(&token(&s, "refresh_token")).await.status(),
        StatusCode::NO_CONTENT
    );
    let res = app
        .authed(
            reqwest::Method::GET,
            "/api/auth/sessions",
            &token(&s, "access_token"),
            None,
        )
        .await;
    problem(res, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

#[tokio::test]
async fn sign_out_everywhere_ends_every_session_or_every_other_one() {
    let app = spawn().await;
    let (email, first) = app.new_user().await;
    let second = app.signin_as(&email, UA_PHONE).await;
    let third = app.signin_as(&email, UA_DESKTOP).await;

    let res = app
        .authed(
            reqwest::Method::POST,
            "/api/auth/signout-all",
            &token(&first, "access_token"),
            Some(json!({"keep_current": true})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.refresh(&token(&second, "refresh_token")).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.refresh(&token(&third, "refresh_token")).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let list = app.sessions(&token(&first, "access_token")).await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["current"], true);

    // Whitespace is not "no body": a malformed body is refused and ends nothing.
    let res = app
        .client
        .post(app.url("/api/auth/signout-all"))
        .bearer_auth(token(&first, "access_token"))
        .header("content-type", "application/json")
        .body("\r")
        .send()
        .await
        .expect("request");
    problem(res, StatusCode::BAD_REQUEST, "invalid_json").await;
    assert_eq!(app.sessions(&token(&first, "access_token")).await.len(), 1);

    // No body: the default ends the caller's own session too.
    let res = app
        .client
        .post(app.url("/api/auth/signout-all"))
        .bearer_auth(token(&first, "access_token"))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.refresh(&token(&first, "refresh_token")).await.status(),
        StatusCode::UNAUTHORIZED
    );
    problem(
        app.me(&token(&first, "access_token")).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
}

#[tokio::test]
async fn changing_the_password_needs_the_current_one_and_ends_every_other_session() {
    let app = spawn().await;
    let (email, me) = app.new_user().await;
    let elsewhere = app.signin_as(&email, UA_PHONE).await;
    let access = token(&me, "access_token");

    let res = app
        .authed(reqwest::Method::POST, "/api/auth/password", &access, Some(json!({"current_password": "not my password", "new_password": "a brand new passphrase"})))
        .await;
    let body = problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(
        field_codes(&body),
        vec![("current_password".to_owned(), "wrong_password".to_owned())]
    );
    let res = app
        .authed(
            reqwest::Method::POST,
            "/api/auth/password",
            &access,
            Some(json!({"current_password": PASSWORD, "new_password": "password"})),
        )
        .await;
    let body = problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(
        field_codes(&body),
        vec![("new_password".to_owned(), "password_too_common".to_owned())]
    );
    // Nothing changed so far.
    assert_eq!(
        app.refresh(&token(&elsewhere, "refresh_token"))
            .await
            .status(),
        StatusCode::OK
    );

    let res = app
        .authed(
            reqwest::Method::POST,
            "/api/auth/password",
            &access,
            Some(json!({"current_password": PASSWORD, "new_password": "a brand new passphrase"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    // The caller stays signed in; everywhere else is signed out.
    assert_eq!(app.me(&access).await.status(), StatusCode::OK);
    assert_eq!(
        app.refresh(&token(&me, "refresh_token")).await.status(),
        StatusCode::OK
    );
    problem(
        app.me(&token(&elsewhere, "access_token")).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    // The old password is refused, the new one accepted.
    problem(
        app.signin(&email, PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    assert_eq!(
        app.signin(&email, "a brand new passphrase").await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn deleting_the_account_needs_the_password_and_removes_it_with_its_sessions() {
    let app = spawn().await;
    let (email, me) = app.new_user().await;
    let other = app.signin_as(&email, UA_PHONE).await;
    let access = token(&me, "access_token");
    let user_id = me["user"]["id"].as_str().expect("id").to_owned();
    let cursor = app.feed(0).await["cursor"].as_u64().expect("cursor");

    let res = app
        .authed(
            reqwest::Method::DELETE,
            "/api/auth/me",
            &access,
            Some(json!({"password": "wrong password!"})),
        )
        .await;
    let body = problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(
        field_codes(&body),
        vec![("password".to_owned(), "wrong_password".to_owned())]
    );
    assert_eq!(app.me(&access).await.status(), StatusCode::OK);

    let res = app
        .authed(
            reqwest::Method::DELETE,
            "/api/auth/me",
            &access,
            Some(json!({"password": PASSWORD})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    problem(
        app.me(&access).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    problem(
        app.refresh(&token(&other, "refresh_token")).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    problem(
        app.signin(&email, PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    // The feed tells other services, and the address is free again.
    let feed = app.feed(cursor).await;
    assert!(
        feed["events"]
            .as_array()
            .expect("events")
            .iter()
            .any(|e| e["kind"] == "user_deleted" && e["user_id"] == user_id.as_str()),
        "{feed}"
    );
    assert_eq!(
        app.signup(&email, PASSWORD).await.status(),
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn a_session_unused_for_the_idle_lifetime_ends() {
    let app = spawn().await;
    let (email, stale) = app.new_user().await;
    let fresh = app.signin_as(&email, UA_PHONE).await;
    // Age the first session past SESSION_IDLE_TTL (14 days by default) without waiting for it.
    sqlx::query("UPDATE auth.sessions SET last_used_at = now() - interval '15 days' WHERE id = (SELECT session_id FROM auth.refresh_tokens WHERE token_hash = $1)")
        .bind(auth_service::refresh_token::hash(&token(&stale, "refresh_token")).to_vec())
        .execute(&app.state.pool)
        .await
        .expect("age");
    problem(
        app.refresh(&token(&stale, "refresh_token")).await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    let list = app.sessions(&token(&fresh, "access_token")).await;
    assert_eq!(list.len(), 1, "the idle session is not listed: {list:?}");
    // Its expiry is shown: at most SESSION_IDLE_TTL after its last use.
    let expires: chrono::DateTime<chrono::Utc> = list[0]["expires_at"]
        .as_str()
        .expect("t")
        .parse()
        .expect("rfc3339");
    let last: chrono::DateTime<chrono::Utc> = list[0]["last_used_at"]
        .as_str()
        .expect("t")
        .parse()
        .expect("rfc3339");
    assert_eq!((expires - last).num_days(), 14);
}

#[tokio::test]
async fn every_way_of_ending_a_session_is_in_the_revocation_feed_once() {
    let app = spawn().await;
    let start = app.feed(0).await["cursor"].as_u64().expect("cursor");
    let (email, a) = app.new_user().await;
    let b = app.signin_as(&email, UA_PHONE).await;
    let c = app.signin_as(&email, UA_DESKTOP).await;
    // Sign-out, then an explicit end, then sign-out-all; signing out twice records nothing new.
    app.signout(&token(&a, "refresh_token")).await;
    app.signout(&token(&a, "refresh_token")).await;
    let list = app.sessions(&token(&b, "access_token")).await;
    let c_id = list.iter().find(|s| s["current"] == false).expect("c")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    app.authed(
        reqwest::Method::DELETE,
        &format!("/api/auth/sessions/{c_id}"),
        &token(&b, "access_token"),
        None,
    )
    .await;
    app.authed(
        reqwest::Method::POST,
        "/api/auth/signout-all",
        &token(&b, "access_token"),
        None,
    )
    .await;
    let _ = c;

    let feed = app.feed(start).await;
    let ended: Vec<&str> = feed["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["kind"] == "session_ended")
        .map(|e| e["session_id"].as_str().expect("sid"))
        .collect();
    assert_eq!(ended.len(), 3, "{feed}");
    let unique: std::collections::BTreeSet<_> = ended.iter().collect();
    assert_eq!(unique.len(), 3);
    for e in feed["events"].as_array().expect("events") {
        assert!(e["until"].as_i64().expect("until") > chrono::Utc::now().timestamp());
    }
}

#[tokio::test]
async fn the_feed_answers_only_to_the_internal_key_when_one_is_set() {
    let app = spawn_with(|c| c.internal_api_key = Some("k3y-for-the-feed".to_owned().into())).await;
    problem(
        app.get("/api/internal/revocations").await,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    let wrong = app
        .client
        .get(app.url("/api/internal/revocations"))
        .bearer_auth("nope")
        .send()
        .await
        .expect("req");
    problem(wrong, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let right = app
        .client
        .get(app.url("/api/internal/revocations"))
        .bearer_auth("k3y-for-the-feed")
        .send()
        .await
        .expect("req");
    assert_eq!(right.status(), StatusCode::OK);
    // Negative, and one past i64::MAX (the cursor is bound as bigint: it must not wrap around to
    // "from the start"; found by bin/fuzz-api).
    for after in ["-1", "9223372036854775808", "18446744073709551615"] {
        let bad = app
            .client
            .get(app.url(&format!("/api/internal/revocations?after={after}")))
            .bearer_auth("k3y-for-the-feed")
            .send()
            .await
            .expect("req");
        problem(bad, StatusCode::BAD_REQUEST, "invalid_query").await;
    }
}
