//! Text a client sends, over real HTTP: NUL (which Postgres `text` cannot hold and which used to
//! come back as a 500) and the other refused control characters are field errors on every route
//! that stores text, and 400 `invalid_query` in query strings; tab and line breaks are kept;
//! lone surrogates, numbers out of range, trailing bytes and bad UTF-8 in percent-encoding are
//! refused with the field or parameter named.

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use shared::testing::field_refused;

use crate::helpers::{TestApp, User, field_codes, problem, spawn};

/// A request with `body` sent byte for byte (serde_json would escape or refuse what these send).
async fn send_raw(app: &TestApp, method: Method, path: &str, user: &User, body: &str) -> Response {
    app.client
        .request(method, app.url(path))
        .bearer_auth(&user.token)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("request")
}

async fn task_count(app: &TestApp, user: &User) -> usize {
    let page = app.list_ok(user, "?limit=200").await;
    page["items"].as_array().expect("items").len()
}

#[tokio::test]
async fn nul_is_a_field_error_on_every_route_that_stores_text() {
    let app = spawn().await;
    let user = app.new_user();
    let task = app.create_task(&user, "kept").await;
    let id = task["id"].as_str().expect("id").to_owned();
    let compat = format!("/api/{}/tasks", user.id);

    let cases = [
        (
            Method::POST,
            "/api/tasks".to_owned(),
            r#"{"title": "a\u0000b"}"#,
            "title",
        ),
        (
            Method::POST,
            "/api/tasks".to_owned(),
            r#"{"title": "ok", "description": "\u0000"}"#,
            "description",
        ),
        (
            Method::PUT,
            format!("/api/tasks/{id}"),
            r#"{"title": "\u0000", "completed": false}"#,
            "title",
        ),
        (
            Method::PATCH,
            format!("/api/tasks/{id}"),
            r#"{"description": "x\u0000"}"#,
            "description",
        ),
        (
            Method::POST,
            compat.clone(),
            r#"{"title": "\u0000"}"#,
            "title",
        ),
        (
            Method::PUT,
            format!("{compat}/{id}"),
            r#"{"title": "ok", "description": "\u0000"}"#,
            "description",
        ),
    ];
    for (method, path, body, field) in cases {
        let res = send_raw(&app, method.clone(), &path, &user, body).await;
        field_refused(res, field, "control_character").await;
    }
    // Nothing was stored or changed.
    assert_eq!(task_count(&app, &user).await, 1);
    let stored: Value = app.get_task(&user, &id).await.json().await.expect("task");
    assert_eq!(stored["title"], "kept");
    assert_eq!(stored["description"], Value::Null);
}

#[tokio::test]
async fn other_control_characters_are_refused_and_tab_and_line_breaks_kept() {
    let app = spawn().await;
    let user = app.new_user();
    // ESC (a terminal escape), backspace, DEL and a C1 control, escaped and raw.
    for body in [
        r#"{"title": "\u001b[31mred"}"#,
        r#"{"title": "a\bb"}"#,
        r#"{"title": "a\fb"}"#,
        "{\"title\": \"a\u{7f}\"}",
        "{\"title\": \"a\u{85}b\"}",
        r#"{"title": "a\u009Fb"}"#,
    ] {
        let res = send_raw(&app, Method::POST, "/api/tasks", &user, body).await;
        field_refused(res, "title", "control_character").await;
    }
    let res = app
        .create(
            &user.token,
            json!({"title": "tab\there", "description": "line one\r\nline two\n\tindented"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let task: Value = res.json().await.expect("task");
    assert_eq!(task["title"], "tab\there");
    assert_eq!(task["description"], "line one\r\nline two\n\tindented");
    // Text that merely mentions an escape, and characters outside the BMP, are text.
    let res = send_raw(
        &app,
        Method::POST,
        "/api/tasks",
        &user,
        r#"{"title": "\\u0000 is NUL \ud83d\ude00 \u00e9"}"#,
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let task: Value = res.json().await.expect("task");
    assert_eq!(task["title"], "\\u0000 is NUL \u{1F600} \u{e9}");
}

#[tokio::test]
async fn lone_surrogates_huge_numbers_duplicates_and_trailing_bytes_are_field_refused() {
    let app = spawn().await;
    let user = app.new_user();
    let id = app.create_task(&user, "t").await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    for body in [r#"{"title": "\ud800"}"#, r#"{"title": "a\udc00b"}"#] {
        let res = send_raw(&app, Method::POST, "/api/tasks", &user, body).await;
        field_refused(res, "title", "invalid_unicode").await;
    }
    let res = send_raw(
        &app,
        Method::PUT,
        &format!("/api/tasks/{id}"),
        &user,
        r#"{"title": "t", "completed": 1e400}"#,
    )
    .await;
    field_refused(res, "completed", "out_of_range").await;
    let res = send_raw(
        &app,
        Method::POST,
        "/api/tasks",
        &user,
        r#"{"title": "a", "title": "b"}"#,
    )
    .await;
    field_refused(res, "title", "duplicate_field").await;
    let res = send_raw(
        &app,
        Method::POST,
        "/api/tasks",
        &user,
        r#"{"title": "a"} {"title": "b"}"#,
    )
    .await;
    problem(res, StatusCode::BAD_REQUEST, "invalid_json").await;
    assert_eq!(task_count(&app, &user).await, 1);
}

async fn refused_query(res: Response, parameter: &str, code: &str) {
    let body = problem(res, StatusCode::BAD_REQUEST, "invalid_query").await;
    assert_eq!(
        field_codes(&body),
        [(parameter.to_owned(), code.to_owned())],
        "{body}"
    );
}

#[tokio::test]
async fn query_text_must_be_utf8_without_control_characters() {
    let app = spawn().await;
    let user = app.new_user();
    app.create_task(&user, "café au lait").await;
    let compat = format!("/api/{}/tasks", user.id);
    for (query, parameter, code) in [
        // The reported 500: a NUL after percent-decoding.
        ("?q=%29%00%F0%A2%90%92", "q", "control_character"),
        ("?q=%1B%5B31m", "q", "control_character"),
        // U+001F separates title from description in the text a search looks in
        // (db::tasks::SEARCH_TEXT): a search holding it could match across the two.
        ("?q=a%1Fb", "q", "control_character"),
        // Truncated, over-long and surrogate encodings: axum would turn these into U+FFFD.
        ("?q=%F0%A2%90", "q", "invalid_utf8"),
        ("?q=%C0%AF", "q", "invalid_utf8"),
        ("?q=%ED%A0%80", "q", "invalid_utf8"),
        ("?cursor=%00", "cursor", "control_character"),
    ] {
        refused_query(app.list(&user, query).await, parameter, code).await;
        let res = app.get(&format!("{compat}{query}"), &user.token).await;
        refused_query(res, parameter, code).await;
    }
    // Well-formed UTF-8 (and `+` for a space) still searches.
    let page = app.list_ok(&user, "?q=caf%C3%A9+au").await;
    assert_eq!(page["items"].as_array().expect("items").len(), 1);
}

#[tokio::test]
async fn a_cursor_carrying_nul_is_a_bad_cursor_not_a_server_error() {
    use base64::Engine;
    let app = spawn().await;
    let user = app.new_user();
    app.create_task(&user, "a").await;
    let doc = format!(
        r#"{{"s":"title","k":"a\u0000","i":"{}"}}"#,
        uuid::Uuid::nil()
    );
    let cursor = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(doc);
    let res = app
        .list(&user, &format!("?sort=title&cursor={cursor}"))
        .await;
    problem(res, StatusCode::BAD_REQUEST, "invalid_query").await;
}

#[tokio::test]
async fn title_and_search_lengths_count_what_was_sent() {
    let app = spawn().await;
    let user = app.new_user();
    // 200 characters including the padding fit; 200 plus a trailing space does not (the
    // document's maxLength is about the string sent).
    let res = app
        .create(
            &user.token,
            json!({"title": format!(" {} ", "x".repeat(198))}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = app
        .create(
            &user.token,
            json!({"title": format!("{} ", "x".repeat(200))}),
        )
        .await;
    field_refused(res, "title", "too_long").await;
    let padded = format!("?q={}", "+".repeat(201));
    problem(
        app.list(&user, &padded).await,
        StatusCode::BAD_REQUEST,
        "invalid_query",
    )
    .await;
}

#[tokio::test]
async fn a_body_is_an_object_not_an_array_of_its_fields() {
    let app = spawn().await;
    let user = app.new_user();
    // serde would read `["x", null]` as a CreateTask; the document says object.
    for body in [r#"["x", null]"#, r#"["x"]"#, "[]"] {
        let res = send_raw(&app, Method::POST, "/api/tasks", &user, body).await;
        field_refused(res, "", "invalid_type").await;
    }
    assert_eq!(task_count(&app, &user).await, 0);
}
