//! The `/api/tasks` routes: every success and error status, validation, listing.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{field_codes, problem, spawn, titles};

#[tokio::test]
async fn create_returns_201_with_location_and_the_trimmed_task() {
    let app = spawn().await;
    let user = app.new_user();
    let res = app
        .create(
            &user.token,
            json!({"title": "  Buy milk \n", "description": "2 litres"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let location = res.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    let task: Value = res.json().await.expect("task");
    assert_eq!(task["title"], "Buy milk");
    assert_eq!(task["description"], "2 litres");
    assert_eq!(task["completed"], false);
    assert!(task["completed_at"].is_null());
    assert_eq!(task["created_at"], task["updated_at"]);
    assert_eq!(
        location,
        format!("/api/tasks/{}", task["id"].as_str().expect("id"))
    );
    // The Location resolves to the same task.
    let fetched: Value = app
        .get(&location, &user.token)
        .await
        .json()
        .await
        .expect("task");
    assert_eq!(fetched, task);
    // RFC 3339 timestamps.
    assert!(chrono::DateTime::parse_from_rfc3339(task["created_at"].as_str().expect("ts")).is_ok());
}

#[tokio::test]
async fn description_is_optional_and_may_be_null() {
    let app = spawn().await;
    let user = app.new_user();
    for body in [
        json!({"title": "a"}),
        json!({"title": "b", "description": null}),
    ] {
        let res = app.create(&user.token, body).await;
        assert_eq!(res.status(), StatusCode::CREATED);
        let task: Value = res.json().await.expect("task");
        assert!(task["description"].is_null());
    }
}

#[tokio::test]
async fn invalid_fields_are_422_with_field_errors() {
    let app = spawn().await;
    let user = app.new_user();
    let cases = [
        (json!({"title": "   "}), ("title", "blank")),
        (json!({"title": "x".repeat(201)}), ("title", "too_long")),
        (
            json!({"title": "ok", "description": "d".repeat(1001)}),
            ("description", "too_long"),
        ),
        (json!({"description": "no title"}), ("title", "required")),
        (
            json!({"title": "ok", "completed": true}),
            ("completed", "unknown_field"),
        ),
        (json!({"title": 42}), ("title", "invalid_type")),
    ];
    for (body, (field, code)) in cases {
        let res = app.create(&user.token, body.clone()).await;
        let problem = problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(
            field_codes(&problem),
            vec![(field.to_owned(), code.to_owned())],
            "{body}"
        );
    }
    // Limits are characters, not bytes: 200 two-byte characters are fine.
    let res = app
        .create(
            &user.token,
            json!({"title": "é".repeat(200), "description": "ü".repeat(1000)}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    // Nothing invalid was stored.
    assert_eq!(titles(&app.list_ok(&user, "").await).len(), 1);
}

#[tokio::test]
async fn malformed_bodies_are_400_415_413() {
    let app = spawn().await;
    let user = app.new_user();
    let post = |body: &'static str, ct: &'static str| {
        app.client
            .post(app.url("/api/tasks"))
            .bearer_auth(&user.token)
            .header("content-type", ct)
            .body(body)
            .send()
    };
    problem(
        post("{\"title\":", "application/json").await.expect("req"),
        StatusCode::BAD_REQUEST,
        "invalid_json",
    )
    .await;
    problem(
        post("title=x", "application/x-www-form-urlencoded")
            .await
            .expect("req"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    let huge = format!(
        "{{\"title\":\"x\",\"description\":\"{}\"}}",
        "y".repeat(70 * 1024)
    );
    let res = app
        .client
        .post(app.url("/api/tasks"))
        .bearer_auth(&user.token)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .expect("req");
    problem(res, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
}

#[tokio::test]
async fn get_unknown_or_malformed_id_is_404() {
    let app = spawn().await;
    let user = app.new_user();
    problem(
        app.get_task(&user, &uuid::Uuid::new_v4().to_string()).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    problem(
        app.get_task(&user, "not-a-uuid").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    problem(
        app.patch_task(&user, "42", json!({"completed": true}))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let missing = uuid::Uuid::new_v4().to_string();
    problem(
        app.patch_task(&user, &missing, json!({"completed": true}))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    problem(
        app.put_task(&user, &missing, json!({"title": "t", "completed": false}))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    problem(
        app.delete_task(&user, &missing).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn unknown_route_is_404_and_wrong_method_405() {
    let app = spawn().await;
    let user = app.new_user();
    problem(
        app.get("/api/nothing/here/at/all", &user.token).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let task = app.create_task(&user, "t").await;
    let id = task["id"].as_str().expect("id");
    let res = app
        .send(
            Method::POST,
            &format!("/api/tasks/{id}"),
            Some(&user.token),
            Some(json!({})),
        )
        .await;
    problem(res, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
    let res = app
        .send(Method::DELETE, "/api/tasks", Some(&user.token), None)
        .await;
    problem(res, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
}

#[tokio::test]
async fn patch_sets_only_the_fields_sent_and_tracks_completion() {
    let app = spawn().await;
    let user = app.new_user();
    let res = app
        .create(
            &user.token,
            json!({"title": "Write report", "description": "by Friday"}),
        )
        .await;
    let task: Value = res.json().await.expect("task");
    let id = task["id"].as_str().expect("id").to_owned();

    // Absent description: kept.
    let t: Value = app
        .patch_task(&user, &id, json!({"title": " Write the report "}))
        .await
        .json()
        .await
        .expect("t");
    assert_eq!(t["title"], "Write the report");
    assert_eq!(t["description"], "by Friday");
    let ts =
        |v: &Value| chrono::DateTime::parse_from_rfc3339(v.as_str().expect("ts")).expect("rfc3339");
    assert!(ts(&t["updated_at"]) > ts(&task["updated_at"]));
    assert_eq!(t["created_at"], task["created_at"]);

    // Completing records completed_at; completing again keeps it.
    let done: Value = app
        .patch_task(&user, &id, json!({"completed": true}))
        .await
        .json()
        .await
        .expect("t");
    assert_eq!(done["completed"], true);
    let completed_at = done["completed_at"]
        .as_str()
        .expect("completed_at set")
        .to_owned();
    let again: Value = app
        .patch_task(&user, &id, json!({"completed": true}))
        .await
        .json()
        .await
        .expect("t");
    assert_eq!(again["completed_at"], completed_at.as_str());

    // Un-completing clears it.
    let undone: Value = app
        .patch_task(&user, &id, json!({"completed": false}))
        .await
        .json()
        .await
        .expect("t");
    assert_eq!(undone["completed"], false);
    assert!(undone["completed_at"].is_null());

    // Null description: cleared.
    let cleared: Value = app
        .patch_task(&user, &id, json!({"description": null}))
        .await
        .json()
        .await
        .expect("t");
    assert!(cleared["description"].is_null());
    assert_eq!(cleared["title"], "Write the report");

    // An empty patch changes nothing, not even updated_at.
    let same: Value = app
        .patch_task(&user, &id, json!({}))
        .await
        .json()
        .await
        .expect("t");
    assert_eq!(same, cleared);
}

#[tokio::test]
async fn patch_validation_refuses_null_title_and_bad_values() {
    let app = spawn().await;
    let user = app.new_user();
    let id = app.create_task(&user, "t").await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let cases = [
        (json!({"title": null}), ("title", "null")),
        (json!({"completed": null}), ("completed", "null")),
        (json!({"title": ""}), ("title", "blank")),
        (
            json!({"description": "d".repeat(1001)}),
            ("description", "too_long"),
        ),
        (json!({"complete": true}), ("complete", "unknown_field")),
        (json!({"completed": "yes"}), ("completed", "invalid_type")),
    ];
    for (body, (field, code)) in cases {
        let res = app.patch_task(&user, &id, body.clone()).await;
        let p = problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(
            field_codes(&p),
            vec![(field.to_owned(), code.to_owned())],
            "{body}"
        );
    }
    let unchanged: Value = app.get_task(&user, &id).await.json().await.expect("t");
    assert_eq!(unchanged["title"], "t");
}

#[tokio::test]
async fn put_replaces_everything() {
    let app = spawn().await;
    let user = app.new_user();
    let res = app
        .create(
            &user.token,
            json!({"title": "old", "description": "old text"}),
        )
        .await;
    let id = res.json::<Value>().await.expect("t")["id"]
        .as_str()
        .expect("id")
        .to_owned();

    let t: Value = app
        .put_task(
            &user,
            &id,
            json!({"title": "new", "description": null, "completed": true}),
        )
        .await
        .json()
        .await
        .expect("t");
    assert_eq!(
        (
            t["title"].as_str(),
            t["description"].is_null(),
            t["completed"].as_bool()
        ),
        (Some("new"), true, Some(true))
    );
    assert!(t["completed_at"].is_string());

    // A missing description means none; completed is required.
    let t: Value = app
        .put_task(&user, &id, json!({"title": "newer", "completed": false}))
        .await
        .json()
        .await
        .expect("t");
    assert!(t["description"].is_null() && t["completed_at"].is_null());
    let p = problem(
        app.put_task(&user, &id, json!({"title": "x", "description": "y"}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(
        field_codes(&p),
        vec![("completed".to_owned(), "required".to_owned())]
    );
}

#[tokio::test]
async fn delete_is_204_then_404() {
    let app = spawn().await;
    let user = app.new_user();
    let id = app.create_task(&user, "t").await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let res = app.delete_task(&user, &id).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(res.bytes().await.expect("body").is_empty());
    problem(
        app.delete_task(&user, &id).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    problem(
        app.get_task(&user, &id).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn list_defaults_to_newest_first_and_filters_by_status_and_text() {
    let app = spawn().await;
    let user = app.new_user();
    for title in ["Alpha", "beta", "Gamma 50%", "delta"] {
        app.create_task(&user, title).await;
    }
    let beta_id = app.list_ok(&user, "?q=beta").await["items"][0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    app.patch_task(
        &user,
        &beta_id,
        json!({"completed": true, "description": "Contains the WORD needle"}),
    )
    .await;

    let page = app.list_ok(&user, "").await;
    assert_eq!(titles(&page), ["delta", "Gamma 50%", "beta", "Alpha"]);
    assert!(page["next_cursor"].is_null());

    assert_eq!(
        titles(&app.list_ok(&user, "?status=completed").await),
        ["beta"]
    );
    assert_eq!(
        titles(&app.list_ok(&user, "?status=pending").await),
        ["delta", "Gamma 50%", "Alpha"]
    );
    assert_eq!(titles(&app.list_ok(&user, "?status=all").await).len(), 4);

    // Search: title or description, case-insensitive, LIKE metacharacters taken literally.
    assert_eq!(titles(&app.list_ok(&user, "?q=ALPHA").await), ["Alpha"]);
    assert_eq!(titles(&app.list_ok(&user, "?q=needle").await), ["beta"]);
    assert_eq!(titles(&app.list_ok(&user, "?q=50%25").await), ["Gamma 50%"]);
    assert!(titles(&app.list_ok(&user, "?q=%25%25").await).is_empty());
    assert!(titles(&app.list_ok(&user, "?q=_").await).is_empty());
    // Title and description are searched apart: text running from the end of one into the start
    // of the other is in neither.
    assert!(titles(&app.list_ok(&user, "?q=betacontains").await).is_empty());
    assert!(titles(&app.list_ok(&user, "?q=beta+contains").await).is_empty());
    assert!(titles(&app.list_ok(&user, "?q=beta%0Acontains").await).is_empty());
    assert_eq!(
        titles(&app.list_ok(&user, "?q=a&status=pending&sort=title").await),
        ["Alpha", "delta", "Gamma 50%"]
    );
}

#[tokio::test]
async fn list_sorts_by_each_field_in_both_directions() {
    let app = spawn().await;
    let user = app.new_user();
    let mut ids = Vec::new();
    for title in ["banana", "Apple", "cherry"] {
        ids.push(
            app.create_task(&user, title).await["id"]
                .as_str()
                .expect("id")
                .to_owned(),
        );
    }
    // Touch "banana" last so updated_at differs from created_at order.
    app.patch_task(&user, &ids[0], json!({"description": "ripe"}))
        .await;

    assert_eq!(
        titles(&app.list_ok(&user, "?sort=created_at").await),
        ["banana", "Apple", "cherry"]
    );
    assert_eq!(
        titles(&app.list_ok(&user, "?sort=-created_at").await),
        ["cherry", "Apple", "banana"]
    );
    assert_eq!(
        titles(&app.list_ok(&user, "?sort=updated_at").await),
        ["Apple", "cherry", "banana"]
    );
    assert_eq!(
        titles(&app.list_ok(&user, "?sort=-updated_at").await),
        ["banana", "cherry", "Apple"]
    );
    // Title order ignores case.
    assert_eq!(
        titles(&app.list_ok(&user, "?sort=title").await),
        ["Apple", "banana", "cherry"]
    );
    assert_eq!(
        titles(&app.list_ok(&user, "?sort=-title").await),
        ["cherry", "banana", "Apple"]
    );
}

/// Walks every page of `query` with `limit`, returning the titles in order.
async fn walk(
    app: &crate::helpers::TestApp,
    user: &crate::helpers::User,
    query: &str,
    limit: usize,
) -> Vec<String> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut q = format!("?limit={limit}{query}");
        if let Some(c) = &cursor {
            q.push_str(&format!("&cursor={c}"));
        }
        let page = app.list_ok(user, &q).await;
        let got = titles(&page);
        assert!(got.len() <= limit);
        all.extend(got);
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
        assert!(all.len() < 1000, "pagination does not terminate");
    }
    all
}

#[tokio::test]
async fn keyset_pagination_visits_every_task_once_in_every_order() {
    let app = spawn().await;
    let user = app.new_user();
    // Duplicate titles exercise the id tie-break.
    let names: Vec<String> = (0..11).map(|i| format!("task {}", i % 4)).collect();
    for name in &names {
        app.create_task(&user, name).await;
    }
    for sort in [
        "-created_at",
        "created_at",
        "updated_at",
        "-updated_at",
        "title",
        "-title",
    ] {
        let full = titles(&app.list_ok(&user, &format!("?limit=200&sort={sort}")).await);
        assert_eq!(full.len(), 11);
        for limit in [1, 3, 5] {
            assert_eq!(
                walk(&app, &user, &format!("&sort={sort}"), limit).await,
                full,
                "sort {sort} limit {limit}"
            );
        }
    }
    // The exact last page has no next cursor.
    let page = app.list_ok(&user, "?limit=11").await;
    assert!(page["next_cursor"].is_null());
    let page = app.list_ok(&user, "?limit=10").await;
    assert!(page["next_cursor"].is_string());
    // Default page size is 50.
    for i in 0..45 {
        app.create_task(&user, &format!("more {i}")).await;
    }
    let page = app.list_ok(&user, "").await;
    assert_eq!(titles(&page).len(), 50);
    assert!(page["next_cursor"].is_string());
}

#[tokio::test]
async fn bad_query_parameters_are_400_invalid_query() {
    let app = spawn().await;
    let user = app.new_user();
    app.create_task(&user, "a").await;
    app.create_task(&user, "b").await;
    let cursor = app.list_ok(&user, "?limit=1&sort=title").await["next_cursor"]
        .as_str()
        .expect("cursor")
        .to_owned();
    for query in [
        "?limit=0".to_owned(),
        "?limit=201".to_owned(),
        "?limit=-1".to_owned(),
        "?limit=ten".to_owned(),
        "?status=done".to_owned(),
        "?sort=priority".to_owned(),
        "?sort=-".to_owned(),
        "?cursor=garbage!".to_owned(),
        "?cursor=eyJmb28iOjF9".to_owned(),
        format!("?q={}", "x".repeat(201)),
        // A cursor made for another order.
        format!("?cursor={cursor}&sort=-created_at"),
    ] {
        problem(
            app.list(&user, &query).await,
            StatusCode::BAD_REQUEST,
            "invalid_query",
        )
        .await;
    }
    assert_eq!(
        titles(
            &app.list_ok(&user, &format!("?cursor={cursor}&sort=title"))
                .await
        ),
        ["b"]
    );
    assert_eq!(titles(&app.list_ok(&user, "?limit=200").await).len(), 2);
}

#[tokio::test]
async fn the_database_enforces_the_rules_too() {
    let app = spawn().await;
    let insert = |title: String,
                  description: Option<String>,
                  completed: bool,
                  with_completed_at: bool| {
        sqlx::query(
            "INSERT INTO tasks.tasks (id, user_id, title, description, completed, completed_at, seq) \
             VALUES ($1, $2, $3, $4, $5, CASE WHEN $6 THEN now() END, 0)",
        )
        .bind(uuid::Uuid::now_v7())
        .bind(uuid::Uuid::new_v4())
        .bind(title)
        .bind(description)
        .bind(completed)
        .bind(with_completed_at)
        .execute(&app.state.pool)
    };
    let cases = [
        (
            insert(String::new(), None, false, false).await,
            "tasks_title_length",
        ),
        (
            insert(" \t ".to_owned(), None, false, false).await,
            "tasks_title_not_blank",
        ),
        (
            insert("x".repeat(201), None, false, false).await,
            "tasks_title_length",
        ),
        (
            insert("ok".to_owned(), Some("d".repeat(1001)), false, false).await,
            "tasks_description_length",
        ),
        (
            insert("ok".to_owned(), None, true, false).await,
            "tasks_completed_at_matches",
        ),
        (
            insert("ok".to_owned(), None, false, true).await,
            "tasks_completed_at_matches",
        ),
    ];
    for (result, constraint) in cases {
        let error = result.expect_err("refused by the database");
        let db = error.as_database_error().expect("database error");
        assert_eq!(db.constraint(), Some(constraint));
    }
    assert!(
        insert("é".repeat(200), Some("ü".repeat(1000)), true, true)
            .await
            .is_ok()
    );
}
