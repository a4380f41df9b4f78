//! Text in the auth-service's bodies, over real HTTP: a NUL in an email used to reach Postgres and
//! come back as a 500; now every string of every body is held to the shared rule (no control
//! characters but tab and line breaks, valid Unicode) before a handler runs, and the document says
//! so.

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use shared::testing::field_refused;

use crate::helpers::{PASSWORD, TestApp, spawn, unique_email};

async fn post_raw(app: &TestApp, path: &str, body: &str) -> Response {
    app.client
        .post(app.url(path))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("request")
}

#[tokio::test]
async fn nul_in_an_email_is_a_field_error_not_a_server_error() {
    let app = spawn().await;
    // The reported case: sign-in used to look the address up and fail in Postgres.
    let res = app
        .post_json(
            "/api/auth/signin",
            &json!({"email": "\u{0}", "password": PASSWORD}),
        )
        .await;
    field_refused(res, "email", "control_character").await;
    let res = app
        .post_json(
            "/api/auth/signin",
            &json!({"email": "a\u{0}@example.com", "password": PASSWORD}),
        )
        .await;
    field_refused(res, "email", "control_character").await;
    let res = app
        .signup(&format!("a\u{0}{}", unique_email()), PASSWORD)
        .await;
    field_refused(res, "email", "control_character").await;
    let res = app
        .post_json(
            "/api/auth/signup",
            &json!({"email": unique_email(), "password": PASSWORD, "name": "Ada\u{0}"}),
        )
        .await;
    field_refused(res, "name", "control_character").await;
    // Tokens too (the refresh body is parsed by the same function).
    let res = app.refresh("\u{0}").await;
    field_refused(res, "refresh_token", "control_character").await;
}

#[tokio::test]
async fn control_characters_and_lone_surrogates_are_refused_in_every_field() {
    let app = spawn().await;
    let (email, _) = app.new_user().await;
    for (body, field, code) in [
        (
            format!(r#"{{"email": "{email}", "password": "\u001b[2J{PASSWORD}"}}"#),
            "password",
            "control_character",
        ),
        (
            format!("{{\"email\": \"{email}\", \"password\": \"{PASSWORD}\u{85}\"}}"),
            "password",
            "control_character",
        ),
        (
            format!(r#"{{"email": "\ud800{email}", "password": "{PASSWORD}"}}"#),
            "email",
            "invalid_unicode",
        ),
    ] {
        field_refused(post_raw(&app, "/api/auth/signin", &body).await, field, code).await;
    }
    // The account itself is fine.
    assert_eq!(app.signin(&email, PASSWORD).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_document_states_the_text_rule_on_every_request_string() {
    let app = spawn().await;
    let doc: Value = app.get("/openapi.json").await.json().await.expect("json");
    for name in ["SignupRequest", "SigninRequest", "RefreshRequest"] {
        let schema = &doc["components"]["schemas"][name];
        let properties = schema["properties"].as_object().expect(name);
        for (field, property) in properties {
            let pattern = property["pattern"].as_str().unwrap_or_default();
            assert!(
                pattern.starts_with("^[^\\u0000-\\u0008"),
                "{name}.{field}: {property}"
            );
        }
        assert_eq!(schema["additionalProperties"], false, "{name}");
    }
    // Response schemas are descriptions of what is sent, not rules: no pattern there.
    assert!(doc["components"]["schemas"]["User"]["properties"]["email"]["pattern"].is_null());
}
