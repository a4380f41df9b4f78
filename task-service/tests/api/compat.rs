//! The original app's routes: same rules, bare arrays, the `complete` toggle.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{field_codes, problem, spawn, titles};

#[tokio::test]
async fn the_original_frontends_flow_works() {
    let app = spawn().await;
    let user = app.new_user();
    let base = format!("/api/{}/tasks", user.id);

    // Create: 201 with a Location under the compatibility path.
    let res = app
        .send(
            Method::POST,
            &base,
            Some(&user.token),
            Some(json!({"title": " first ", "description": "d"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let location = res.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    let first: Value = res.json().await.expect("task");
    let id = first["id"].as_str().expect("id").to_owned();
    assert_eq!(location, format!("{base}/{id}"));
    assert_eq!(first["title"], "first");
    app.send(
        Method::POST,
        &base,
        Some(&user.token),
        Some(json!({"title": "second"})),
    )
    .await;

    // List: a bare array, newest first, every task.
    let list: Value = app
        .get(&base, &user.token)
        .await
        .json()
        .await
        .expect("list");
    assert!(list.is_array());
    assert_eq!(titles(&list), ["second", "first"]);
    // status, q, sort and limit are accepted.
    let list: Value = app
        .get(&format!("{base}?sort=title&limit=1"), &user.token)
        .await
        .json()
        .await
        .expect("list");
    assert_eq!(titles(&list), ["first"]);
    let list: Value = app
        .get(&format!("{base}?q=SEC&status=pending"), &user.token)
        .await
        .json()
        .await
        .expect("list");
    assert_eq!(titles(&list), ["second"]);
    problem(
        app.get(&format!("{base}?limit=500"), &user.token).await,
        StatusCode::BAD_REQUEST,
        "invalid_query",
    )
    .await;

    // Get.
    let got: Value = app
        .get(&location, &user.token)
        .await
        .json()
        .await
        .expect("task");
    assert_eq!(got, first);

    // Toggle: completes (completed_at set), then un-completes (cleared).
    let toggle = format!("{location}/complete");
    let done: Value = app
        .send(Method::PATCH, &toggle, Some(&user.token), None)
        .await
        .json()
        .await
        .expect("task");
    assert_eq!(done["completed"], true);
    assert!(done["completed_at"].is_string());
    let undone: Value = app
        .send(Method::PATCH, &toggle, Some(&user.token), None)
        .await
        .json()
        .await
        .expect("task");
    assert_eq!(undone["completed"], false);
    assert!(undone["completed_at"].is_null());
    app.send(Method::PATCH, &toggle, Some(&user.token), None)
        .await;

    // PUT without `completed` (the original edit form) keeps the completion state.
    let res = app
        .send(
            Method::PUT,
            &location,
            Some(&user.token),
            Some(json!({"title": "first, edited"})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let edited: Value = res.json().await.expect("task");
    assert_eq!(edited["title"], "first, edited");
    assert!(edited["description"].is_null());
    assert_eq!(edited["completed"], true);
    let res = app
        .send(
            Method::PUT,
            &location,
            Some(&user.token),
            Some(json!({"title": "x", "completed": false})),
        )
        .await;
    assert_eq!(res.json::<Value>().await.expect("task")["completed"], false);
    let p = problem(
        app.send(
            Method::PUT,
            &location,
            Some(&user.token),
            Some(json!({"title": ""})),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(
        field_codes(&p),
        vec![("title".to_owned(), "blank".to_owned())]
    );

    // Delete.
    assert_eq!(
        app.send(Method::DELETE, &location, Some(&user.token), None)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    problem(
        app.get(&location, &user.token).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    problem(
        app.send(Method::PATCH, &toggle, Some(&user.token), None)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_eq!(
        titles(
            &app.get(&base, &user.token)
                .await
                .json::<Value>()
                .await
                .expect("list")
        ),
        ["second"]
    );
}

#[tokio::test]
async fn compat_list_without_limit_returns_every_task() {
    let app = spawn().await;
    let user = app.new_user();
    for i in 0..60 {
        app.create_task(&user, &format!("t{i}")).await;
    }
    let list: Value = app
        .get(&format!("/api/{}/tasks", user.id), &user.token)
        .await
        .json()
        .await
        .expect("list");
    assert_eq!(titles(&list).len(), 60);
    assert_eq!(titles(&list)[0], "t59");
}
