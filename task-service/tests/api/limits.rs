//! What one user can make the service hold or load: the per-user task quota (race-free under
//! parallel creates, given back by deletes) and the cap on the compatibility list.

use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Issuer, key_a, problem, spawn_with, titles};

// Several runtime threads, so that the server handles the requests truly in parallel.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_creates_stop_exactly_at_the_quota() {
    let app = spawn_with(Issuer::start(&[key_a()]).await, |o| {
        o.config.max_tasks_per_user = 5;
    })
    .await;
    let user = app.new_user();
    let other = app.new_user();
    let compat = format!("/api/{}/tasks", user.id);

    // Twenty at once, half through each create route, on separate connections.
    let creates = (0..20).map(|i| {
        let path = if i % 2 == 0 { "/api/tasks" } else { &compat };
        app.send(
            Method::POST,
            path,
            Some(&user.token),
            Some(json!({"title": format!("task {i}")})),
        )
    });
    let responses = join_all(creates).await;
    let mut created = 0;
    for res in responses {
        match res.status() {
            StatusCode::CREATED => created += 1,
            _ => {
                problem(res, StatusCode::UNPROCESSABLE_ENTITY, "task_quota_exceeded").await;
            }
        }
    }
    assert_eq!(created, 5);
    let page = app.list_ok(&user, "?limit=200").await;
    assert_eq!(page["items"].as_array().expect("items").len(), 5);

    // Another user has a quota of their own.
    assert_eq!(
        app.create(&other.token, json!({"title": "mine"}))
            .await
            .status(),
        StatusCode::CREATED
    );

    // A delete gives one back, exactly one.
    let id = page["items"][0]["id"].as_str().expect("id").to_owned();
    assert_eq!(
        app.delete_task(&user, &id).await.status(),
        StatusCode::NO_CONTENT
    );
    let again = |title: &str| app.create(&user.token, json!({ "title": title }));
    assert_eq!(again("after delete").await.status(), StatusCode::CREATED);
    let res = again("one too many").await;
    let body = problem(res, StatusCode::UNPROCESSABLE_ENTITY, "task_quota_exceeded").await;
    assert!(body["detail"].as_str().expect("detail").contains('5'));

    // Deleting another user's (or a missing) task gives nothing back.
    let foreign: Value = app
        .create(&other.token, json!({"title": "theirs"}))
        .await
        .json()
        .await
        .expect("task");
    let foreign_id = foreign["id"].as_str().expect("id");
    assert_eq!(
        app.delete_task(&user, foreign_id).await.status(),
        StatusCode::NOT_FOUND
    );
    problem(
        again("still full").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "task_quota_exceeded",
    )
    .await;
}

/// The interleaving a race needs, made certain: another transaction has taken the user's last slot
/// but not yet committed. A create must wait for it and then be refused, not count the committed
/// rows and slip in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_waits_for_a_concurrent_one_holding_the_last_slot() {
    let app = spawn_with(Issuer::start(&[key_a()]).await, |o| {
        o.config.max_tasks_per_user = 3;
    })
    .await;
    let user = app.new_user();
    for i in 0..2 {
        app.create_task(&user, &format!("t{i}")).await;
    }
    let mut held = app.state.pool.begin().await.expect("begin");
    let task = task_service::db::tasks::insert(&mut held, user.id, "held", None, 3)
        .await
        .expect("insert");
    assert!(task.is_some(), "the third task fits");

    let request = app.create(&user.token, json!({"title": "racing"}));
    tokio::pin!(request);
    // While the other transaction is open, the create is blocked on the user's count.
    let waited = tokio::time::timeout(std::time::Duration::from_millis(500), &mut request).await;
    assert!(
        waited.is_err(),
        "the create did not wait for the open transaction"
    );
    held.commit().await.expect("commit");
    problem(
        request.await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "task_quota_exceeded",
    )
    .await;
    let page = app.list_ok(&user, "?limit=200").await;
    assert_eq!(titles(&page), ["held", "t1", "t0"]);
}

#[tokio::test]
async fn the_compatibility_list_is_capped_and_says_so() {
    let app = spawn_with(Issuer::start(&[key_a()]).await, |o| {
        o.config.compat_list_max = 3;
    })
    .await;
    let user = app.new_user();
    let base = format!("/api/{}/tasks", user.id);
    for i in 1..=5 {
        app.create_task(&user, &format!("t{i}")).await;
    }
    let list = |query: &str| {
        let path = format!("{base}{query}");
        let (app, token) = (&app, &user.token);
        async move { app.get(&path, token).await }
    };
    let read = |res: reqwest::Response| async move {
        assert_eq!(res.status(), StatusCode::OK);
        let flag = res.headers()["x-list-truncated"]
            .to_str()
            .expect("ascii")
            .to_owned();
        let body: Value = res.json().await.expect("list");
        (titles(&body), flag)
    };

    // No limit: the newest COMPAT_LIST_MAX, marked as cut.
    assert_eq!(
        read(list("").await).await,
        (vec!["t5".into(), "t4".into(), "t3".into()], "true".into())
    );
    // A limit under the cap cuts too; one above it is held to the cap.
    assert_eq!(
        read(list("?limit=2").await).await,
        (vec!["t5".into(), "t4".into()], "true".into())
    );
    assert_eq!(
        read(list("?limit=50&sort=title").await).await,
        (vec!["t1".into(), "t2".into(), "t3".into()], "true".into())
    );
    // A filtered list that fits is not cut.
    assert_eq!(
        read(list("?q=t2").await).await,
        (vec!["t2".into()], "false".into())
    );
    // Exactly the cap is not cut.
    for task in app.list_ok(&user, "?limit=2").await["items"]
        .as_array()
        .expect("items")
    {
        app.delete_task(&user, task["id"].as_str().expect("id"))
            .await;
    }
    assert_eq!(
        read(list("").await).await,
        (vec!["t3".into(), "t2".into(), "t1".into()], "false".into())
    );
    // The paginated list is not affected by the cap.
    assert!(app.list_ok(&user, "").await.get("items").is_some());

    // Browsers may read the flag.
    let res = app
        .client
        .get(app.url(&base))
        .bearer_auth(&user.token)
        .header("origin", "http://localhost:3000")
        .send()
        .await
        .expect("request");
    let exposed = res.headers()["access-control-expose-headers"]
        .to_str()
        .expect("ascii")
        .to_ascii_lowercase();
    assert!(exposed.contains("x-list-truncated"), "{exposed}");
}
