//! Several users side by side: nobody can see or touch another's tasks, and the answer is the same
//! 404 as for a task that does not exist.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{problem, spawn, titles};

#[tokio::test]
async fn another_users_task_is_404_for_every_method_and_stays_untouched() {
    let app = spawn().await;
    let (alice, bob, carol) = (app.new_user(), app.new_user(), app.new_user());
    let task = app.create_task(&alice, "alice's secret").await;
    let id = task["id"].as_str().expect("id").to_owned();
    app.create_task(&bob, "bob's").await;

    for intruder in [&bob, &carol] {
        problem(
            app.get_task(intruder, &id).await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
        problem(
            app.patch_task(intruder, &id, json!({"completed": true}))
                .await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
        problem(
            app.put_task(intruder, &id, json!({"title": "pwned", "completed": true}))
                .await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
        problem(
            app.delete_task(intruder, &id).await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    }

    let still: Value = app.get_task(&alice, &id).await.json().await.expect("task");
    assert_eq!(still, task);
    assert_eq!(titles(&app.list_ok(&alice, "").await), ["alice's secret"]);
    assert_eq!(titles(&app.list_ok(&bob, "").await), ["bob's"]);
    assert!(titles(&app.list_ok(&carol, "").await).is_empty());
    // Search never crosses users either.
    assert!(titles(&app.list_ok(&bob, "?q=secret").await).is_empty());
}

#[tokio::test]
async fn the_404_for_anothers_task_is_identical_to_a_missing_one() {
    let app = spawn().await;
    let (alice, bob) = (app.new_user(), app.new_user());
    let id = app.create_task(&alice, "t").await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let theirs: Value = app.get_task(&bob, &id).await.json().await.expect("problem");
    let missing: Value = app
        .get_task(&bob, &uuid::Uuid::new_v4().to_string())
        .await
        .json()
        .await
        .expect("problem");
    assert_eq!(theirs, missing);
}

#[tokio::test]
async fn a_cursor_from_another_user_reveals_nothing() {
    let app = spawn().await;
    let (alice, bob) = (app.new_user(), app.new_user());
    for i in 0..3 {
        app.create_task(&alice, &format!("a{i}")).await;
    }
    app.create_task(&bob, "b0").await;
    let cursor = app.list_ok(&alice, "?limit=1").await["next_cursor"]
        .as_str()
        .expect("cursor")
        .to_owned();
    // The cursor only positions bob's own list; it cannot pull in alice's rows.
    let page = app.list_ok(&bob, &format!("?cursor={cursor}")).await;
    assert!(titles(&page).iter().all(|t| t.starts_with('b')));
}

#[tokio::test]
async fn compat_routes_for_another_user_id_are_403_after_credentials() {
    let app = spawn().await;
    let (alice, bob) = (app.new_user(), app.new_user());
    let id = app.create_task(&alice, "t").await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let alice_tasks = format!("/api/{}/tasks", alice.id);
    let alice_task = format!("/api/{}/tasks/{id}", alice.id);
    let routes = [
        (Method::GET, alice_tasks.clone(), None),
        (
            Method::POST,
            alice_tasks.clone(),
            Some(json!({"title": "x"})),
        ),
        // 403 comes before body validation.
        (
            Method::POST,
            alice_tasks.clone(),
            Some(json!({"nonsense": true})),
        ),
        (Method::GET, alice_task.clone(), None),
        (Method::PUT, alice_task.clone(), Some(json!({"title": "x"}))),
        (Method::DELETE, alice_task.clone(), None),
        (Method::PATCH, format!("{alice_task}/complete"), None),
    ];
    for (method, path, body) in &routes {
        let res = app
            .send(method.clone(), path, Some(&bob.token), body.clone())
            .await;
        problem(res, StatusCode::FORBIDDEN, "forbidden").await;
        // Without credentials: 401 first, whatever the path says.
        let res = app.send(method.clone(), path, None, body.clone()).await;
        problem(res, StatusCode::UNAUTHORIZED, "invalid_token").await;
    }
    // Bob naming his own id cannot reach alice's task either.
    let res = app
        .get(&format!("/api/{}/tasks/{id}", bob.id), &bob.token)
        .await;
    problem(res, StatusCode::NOT_FOUND, "not_found").await;
    // A user id that is not a UUID names nothing.
    problem(
        app.get("/api/not-a-uuid/tasks", &bob.token).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    // Alice's task survived.
    assert_eq!(app.get_task(&alice, &id).await.status(), StatusCode::OK);
}
