//! Access tokens die with their session: whatever ends a session at the real auth-service, the
//! real task-service refuses that session's access token within 5 s, without asking the
//! auth-service per request; and an account deleted while the task-service was down loses its
//! tasks when it comes back.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use shared::testing::TestDb;

use crate::helpers::{TestApp, start_auth_service, task_service_for};

const PASSWORD: &str = "correct horse battery staple";

struct Client {
    http: reqwest::Client,
    auth: String,
}

impl Client {
    async fn post(&self, path: &str, bearer: Option<&str>, body: Value) -> reqwest::Response {
        let mut req = self.http.post(format!("{}{path}", self.auth)).json(&body);
        if let Some(token) = bearer {
            req = req.bearer_auth(token);
        }
        req.send().await.expect("request")
    }

    async fn sign_up(&self, email: &str) -> Value {
        let res = self
            .post(
                "/api/auth/signup",
                None,
                json!({"email": email, "password": PASSWORD}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::CREATED);
        res.json().await.expect("session")
    }

    async fn sign_in(&self, email: &str) -> Value {
        let res = self
            .post(
                "/api/auth/signin",
                None,
                json!({"email": email, "password": PASSWORD}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        res.json().await.expect("session")
    }
}

fn s(v: &Value, field: &str) -> String {
    v[field].as_str().expect(field).to_owned()
}

fn email() -> String {
    format!("rev-{}@example.com", uuid::Uuid::new_v4().simple())
}

/// How long until the task-service answers 401 to `access` (polling every 50 ms, up to 10 s).
async fn time_until_refused(tasks: &TestApp, access: &str) -> Duration {
    let started = Instant::now();
    loop {
        let res = tasks.get("/api/tasks", access).await;
        if res.status() == StatusCode::UNAUTHORIZED {
            return started.elapsed();
        }
        assert_eq!(res.status(), StatusCode::OK, "still served until refused");
        assert!(started.elapsed() < Duration::from_secs(10), "never refused");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn every_way_of_ending_a_session_makes_its_access_token_401_at_the_task_service_within_5_s() {
    let db = TestDb::new().await;
    let auth = start_auth_service(&db.url, |c| c.refresh_reuse_grace = 1).await;
    let tasks = task_service_for(&auth, db, |j| j).await;
    let client = Client {
        http: reqwest::Client::new(),
        auth: auth.url.clone(),
    };
    let mut timings = Vec::new();

    // Each case: a fresh session whose access token works, then the way it ends.
    let addr = email();
    let keeper = client.sign_up(&addr).await;
    let keeper_access = s(&keeper, "access_token");
    for way in [
        "signout",
        "delete_session",
        "signout_all",
        "reuse_detected",
        "password_change",
    ] {
        let victim = client.sign_in(&addr).await;
        let access = s(&victim, "access_token");
        assert_eq!(
            tasks.get("/api/tasks", &access).await.status(),
            StatusCode::OK
        );
        match way {
            "signout" => {
                let res = client
                    .post(
                        "/api/auth/signout",
                        None,
                        json!({"refresh_token": s(&victim, "refresh_token")}),
                    )
                    .await;
                assert_eq!(res.status(), StatusCode::NO_CONTENT);
            }
            "delete_session" => {
                let list: Vec<Value> = client
                    .http
                    .get(format!("{}/api/auth/sessions", auth.url))
                    .bearer_auth(&access)
                    .send()
                    .await
                    .expect("list")
                    .json()
                    .await
                    .expect("json");
                let id = list.iter().find(|x| x["current"] == true).expect("current")["id"]
                    .as_str()
                    .expect("id")
                    .to_owned();
                let res = client
                    .http
                    .delete(format!("{}/api/auth/sessions/{id}", auth.url))
                    .bearer_auth(&keeper_access)
                    .send()
                    .await
                    .expect("delete");
                assert_eq!(res.status(), StatusCode::NO_CONTENT);
            }
            "signout_all" => {
                // From the victim itself, everywhere: the keeper signs in again afterwards.
                let res = client
                    .post("/api/auth/signout-all", Some(&access), json!({}))
                    .await;
                assert_eq!(res.status(), StatusCode::NO_CONTENT);
            }
            "reuse_detected" => {
                let old = s(&victim, "refresh_token");
                let res = client
                    .post("/api/auth/refresh", None, json!({"refresh_token": old}))
                    .await;
                assert_eq!(res.status(), StatusCode::OK);
                let rotated: Value = res.json().await.expect("json");
                tokio::time::sleep(Duration::from_millis(1200)).await;
                // The retired token again, after the grace window: the session is revoked, and
                // with it the access token the rotation handed out.
                let res = client
                    .post("/api/auth/refresh", None, json!({"refresh_token": old}))
                    .await;
                assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
                let took = time_until_refused(&tasks, &s(&rotated, "access_token")).await;
                timings.push((way, took));
                continue;
            }
            "password_change" => {
                let fresh = client.sign_in(&addr).await;
                let res = client
                    .post("/api/auth/password", Some(&s(&fresh, "access_token")), json!({"current_password": PASSWORD, "new_password": PASSWORD.to_owned() + "!"}))
                    .await;
                assert_eq!(res.status(), StatusCode::NO_CONTENT);
                // Back to the old password for the cases after this one (ends others again).
                let res = client
                    .post("/api/auth/password", Some(&s(&fresh, "access_token")), json!({"current_password": PASSWORD.to_owned() + "!", "new_password": PASSWORD}))
                    .await;
                assert_eq!(res.status(), StatusCode::NO_CONTENT);
            }
            _ => unreachable!(),
        }
        let took = time_until_refused(&tasks, &access).await;
        timings.push((way, took));
    }

    // Account deletion: every token of the user.
    let gone = email();
    let doomed = client.sign_up(&gone).await;
    let access = s(&doomed, "access_token");
    assert_eq!(
        tasks.get("/api/tasks", &access).await.status(),
        StatusCode::OK
    );
    let res = client
        .http
        .delete(format!("{}/api/auth/me", auth.url))
        .bearer_auth(&access)
        .json(&json!({"password": PASSWORD}))
        .send()
        .await
        .expect("delete");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    timings.push(("account_deleted", time_until_refused(&tasks, &access).await));

    eprintln!("time until the task-service refused the ended session's token: {timings:?}");
    for (way, took) in timings {
        assert!(took < Duration::from_secs(5), "{way}: {took:?}");
    }
}

#[tokio::test]
async fn an_account_deleted_while_the_task_service_was_down_loses_its_tasks_when_it_returns() {
    let db = TestDb::new().await;
    let db_url = db.url.clone();
    let auth = start_auth_service(&db.url, |_| {}).await;
    let client = Client {
        http: reqwest::Client::new(),
        auth: auth.url.clone(),
    };
    let tasks = task_service_for(&auth, db, |j| j).await;

    let doomed = client.sign_up(&email()).await;
    let kept = client.sign_up(&email()).await;
    for (session, n) in [(&doomed, 3), (&kept, 2)] {
        for i in 0..n {
            let res = tasks
                .create(
                    &s(session, "access_token"),
                    json!({"title": format!("task {i}")}),
                )
                .await;
            assert_eq!(res.status(), StatusCode::CREATED);
        }
    }
    let doomed_id: uuid::Uuid = s(&doomed["user"], "id").parse().expect("uuid");
    let kept_id: uuid::Uuid = s(&kept["user"], "id").parse().expect("uuid");

    // The task-service goes away (gracefully); the account is deleted meanwhile.
    let TestApp {
        server, db, issuer, ..
    } = tasks;
    server.stop().await.expect("stops");
    let res = client
        .http
        .delete(format!("{}/api/auth/me", auth.url))
        .bearer_auth(s(&doomed, "access_token"))
        .json(&json!({"password": PASSWORD}))
        .send()
        .await
        .expect("delete");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let pool = sqlx::PgPool::connect(&db_url).await.expect("pool");
    let count = |user: uuid::Uuid| {
        let pool = pool.clone();
        async move {
            let (n,): (i64,) =
                sqlx::query_as("SELECT count(*) FROM tasks.tasks WHERE user_id = $1")
                    .bind(user)
                    .fetch_one(&pool)
                    .await
                    .expect("count");
            n
        }
    };
    assert_eq!(
        count(doomed_id).await,
        3,
        "nothing removed while the task-service is down"
    );

    // It comes back (a new process on the same database) and catches up.
    drop(issuer);
    let tasks = task_service_for(&auth, db, |j| j).await;
    let started = Instant::now();
    while count(doomed_id).await > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the deleted account's tasks were never removed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(count(kept_id).await, 2, "other users keep theirs");
    assert_eq!(
        tasks
            .get("/api/tasks", &s(&kept, "access_token"))
            .await
            .status(),
        StatusCode::OK
    );
}
