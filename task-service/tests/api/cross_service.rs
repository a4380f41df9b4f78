//! The seam itself: the real auth-service and the real task-service over HTTP, sharing one database
//! (each in its own schema). Sign up, create a task with the access token, list it; and the
//! task-service refuses the auth-service's refresh token and another audience.

use reqwest::StatusCode;
use serde_json::{Value, json};
use shared::testing::TestDb;

use crate::helpers::{refused, start_auth_service, task_service_for, titles};

#[tokio::test]
async fn signup_then_create_and_list_tasks_across_both_services() {
    let db = TestDb::new().await;
    let auth = start_auth_service(&db.url, |_| {}).await;

    // The task-service discovers the JWKS from the real auth-service's metadata.
    let app = task_service_for(&auth, db, |jwks| jwks).await;

    let client = reqwest::Client::new();
    let email = format!("cross-{}@example.com", uuid::Uuid::new_v4().simple());
    let res = client
        .post(format!("{}/api/auth/signup", auth.url))
        .json(&json!({"email": email, "password": "correct horse battery staple"}))
        .send()
        .await
        .expect("signup");
    assert_eq!(res.status(), StatusCode::CREATED);
    let session: Value = res.json().await.expect("session");
    let access = session["access_token"]
        .as_str()
        .expect("access token")
        .to_owned();
    let user_id = session["user"]["id"].as_str().expect("user id").to_owned();

    let res = client
        .post(app.url("/api/tasks"))
        .bearer_auth(&access)
        .json(&json!({"title": "Ship the task-service"}))
        .send()
        .await
        .expect("create");
    assert_eq!(res.status(), StatusCode::CREATED);

    let page: Value = client
        .get(app.url("/api/tasks"))
        .bearer_auth(&access)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("page");
    assert_eq!(titles(&page), ["Ship the task-service"]);
    // The compatibility route agrees that the token's user is the signed-up user.
    let list: Value = client
        .get(app.url(&format!("/api/{user_id}/tasks")))
        .bearer_auth(&access)
        .send()
        .await
        .expect("compat list")
        .json()
        .await
        .expect("array");
    assert_eq!(titles(&list), ["Ship the task-service"]);

    // A refresh token is not an access token.
    let refresh = session["refresh_token"].as_str().expect("refresh token");
    refused(
        client
            .get(app.url("/api/tasks"))
            .bearer_auth(refresh)
            .send()
            .await
            .expect("req"),
    )
    .await;
}
