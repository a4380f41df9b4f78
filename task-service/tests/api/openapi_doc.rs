//! The OpenAPI document says what the service does: the statuses each route can answer and
//! request schemas that accept exactly what the handlers accept (checked here against requests the
//! running service answers, so a change to either side shows).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn};

async fn document(app: &TestApp) -> Value {
    let res = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.expect("json")
}

fn statuses(doc: &Value, path: &str, method: &str) -> Vec<String> {
    let responses = doc["paths"][path][method]["responses"]
        .as_object()
        .unwrap_or_else(|| panic!("{method} {path} has no responses"));
    responses.keys().cloned().collect()
}

#[tokio::test]
async fn compatibility_routes_document_the_404_they_answer_for_a_malformed_user_id() {
    let app = spawn().await;
    let doc = document(&app).await;
    let user = app.new_user();
    for (method, path) in [
        ("get", "/api/{user_id}/tasks"),
        ("post", "/api/{user_id}/tasks"),
        ("get", "/api/{user_id}/tasks/{id}"),
        ("put", "/api/{user_id}/tasks/{id}"),
        ("delete", "/api/{user_id}/tasks/{id}"),
        ("patch", "/api/{user_id}/tasks/{id}/complete"),
    ] {
        let listed = statuses(&doc, path, method);
        for status in ["401", "403", "404", "500", "503"] {
            assert!(
                listed.iter().any(|s| s == status),
                "{method} {path}: {status} missing from {listed:?}"
            );
        }
    }
    // What the fuzzer found: the service answers 404 there.
    for (method, path) in [
        (Method::GET, "/api/null%2Cnull/tasks"),
        (Method::POST, "/api/0/tasks"),
    ] {
        let res = app
            .send(method, path, Some(&user.token), Some(json!({"title": "x"})))
            .await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let create = statuses(&doc, "/api/tasks", "post");
    assert_eq!(
        create,
        ["201", "400", "401", "413", "415", "422", "500", "503"]
    );
    let quota = doc["paths"]["/api/tasks"]["post"]["responses"]["422"]["description"]
        .as_str()
        .expect("description");
    assert!(quota.contains("task_quota_exceeded"), "{quota}");
    let list = &doc["paths"]["/api/{user_id}/tasks"]["get"]["responses"]["200"];
    assert!(list["headers"]["X-List-Truncated"].is_object(), "{list}");
}

/// The schema of a request body (following its `$ref`).
fn body_schema<'a>(doc: &'a Value, path: &str, method: &str) -> &'a Value {
    let schema =
        &doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"];
    let name = schema["$ref"]
        .as_str()
        .and_then(|r| r.strip_prefix("#/components/schemas/"))
        .unwrap_or_else(|| panic!("{method} {path}: {schema}"));
    &doc["components"]["schemas"][name]
}

fn types(property: &Value) -> Vec<&str> {
    match &property["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        other => panic!("no type: {other}"),
    }
}

#[tokio::test]
async fn request_schemas_accept_what_the_handlers_accept() {
    let app = spawn().await;
    let doc = document(&app).await;
    let user = app.new_user();
    let id = app.create_task(&user, "t").await["id"]
        .as_str()
        .expect("id")
        .to_owned();

    // PATCH: any subset; title and completed are never null, description may be.
    let patch = body_schema(&doc, "/api/tasks/{id}", "patch");
    assert!(patch.get("required").is_none(), "{patch}");
    assert_eq!(types(&patch["properties"]["title"]), ["string"]);
    assert_eq!(types(&patch["properties"]["completed"]), ["boolean"]);
    assert_eq!(
        types(&patch["properties"]["description"]),
        ["string", "null"]
    );
    for body in [
        json!({}),
        json!({"description": null}),
        json!({"title": "x"}),
        json!({"completed": true}),
    ] {
        let res = app.patch_task(&user, &id, body.clone()).await;
        assert_eq!(res.status(), StatusCode::OK, "{body}");
    }
    for body in [
        json!({"title": null}),
        json!({"completed": null}),
        json!({"complete": true}),
    ] {
        let res = app.patch_task(&user, &id, body.clone()).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    }

    // Every request body refuses unknown fields, and every string in it states its rules.
    for (path, method) in [
        ("/api/tasks", "post"),
        ("/api/tasks/{id}", "patch"),
        ("/api/tasks/{id}", "put"),
        ("/api/{user_id}/tasks", "post"),
        ("/api/{user_id}/tasks/{id}", "put"),
    ] {
        let schema = body_schema(&doc, path, method);
        assert_eq!(schema["additionalProperties"], false, "{method} {path}");
        let title = &schema["properties"]["title"];
        assert_eq!(
            (title["minLength"].as_u64(), title["maxLength"].as_u64()),
            (Some(1), Some(200))
        );
        assert!(
            title["pattern"]
                .as_str()
                .is_some_and(|p| p.contains("\\u0000-\\u0008")),
            "{title}"
        );
        let description = &schema["properties"]["description"];
        assert_eq!(description["maxLength"], 1000);
        assert!(description["pattern"].is_string(), "{description}");
    }
    let required = |path: &str, method: &str| body_schema(&doc, path, method)["required"].clone();
    assert_eq!(
        required("/api/tasks/{id}", "put"),
        json!(["title", "completed"])
    );
    assert_eq!(
        required("/api/{user_id}/tasks/{id}", "put"),
        json!(["title"])
    );
    assert_eq!(required("/api/tasks", "post"), json!(["title"]));

    // Query parameters: enums, ranges, lengths.
    let parameters = doc["paths"]["/api/tasks"]["get"]["parameters"]
        .as_array()
        .expect("parameters");
    let parameter = |name: &str| {
        let p = parameters.iter().find(|p| p["name"] == name).expect(name);
        match p["schema"]["$ref"]
            .as_str()
            .and_then(|r| r.strip_prefix("#/components/schemas/"))
        {
            Some(component) => doc["components"]["schemas"][component].clone(),
            None => p["schema"].clone(),
        }
    };
    assert_eq!(
        parameter("status")["enum"],
        json!(["all", "pending", "completed"])
    );
    assert_eq!(
        parameter("sort")["enum"],
        json!([
            "created_at",
            "-created_at",
            "updated_at",
            "-updated_at",
            "title",
            "-title"
        ])
    );
    assert_eq!(
        (
            parameter("limit")["minimum"].clone(),
            parameter("limit")["maximum"].clone()
        ),
        (json!(1), json!(200))
    );
    assert_eq!(parameter("q")["maxLength"], 200);
    assert!(parameter("q")["pattern"].is_string());
    assert_eq!(parameter("cursor")["maxLength"], 2048);
}

#[tokio::test]
async fn created_tasks_link_to_the_routes_that_use_their_id() {
    let app = spawn().await;
    let doc = document(&app).await;
    let links = &doc["paths"]["/api/{user_id}/tasks"]["post"]["responses"]["201"]["links"];
    assert_eq!(links["compat_get_task"]["operationId"], "compat_get_task");
    assert_eq!(
        links["compat_get_task"]["parameters"]["id"],
        "$response.body#/id"
    );
    assert_eq!(
        links["compat_get_task"]["parameters"]["user_id"],
        "$request.path.user_id"
    );
    let links = &doc["paths"]["/api/tasks"]["post"]["responses"]["201"]["links"];
    for operation in ["get_task", "update_task", "replace_task", "delete_task"] {
        assert_eq!(links[operation]["operationId"], operation);
        // The operation the link names exists.
        let exists = doc["paths"]
            .as_object()
            .expect("paths")
            .values()
            .any(|item| {
                item.as_object()
                    .is_some_and(|ops| ops.values().any(|op| op["operationId"] == operation))
            });
        assert!(exists, "{operation}");
    }
}
