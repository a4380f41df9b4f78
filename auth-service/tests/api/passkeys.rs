//! Passkeys over real HTTP with a software authenticator: register while signed in, sign in with
//! the passkey alone, list and remove; challenges single use and short-lived, ceremonies finished
//! on another replica, and the failures a hostile client could try (replay, wrong origin, no user
//! verification, a cloned authenticator, someone else's passkey).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;
use crate::soft_passkey::SoftPasskey;

fn access(session: &Value) -> String {
    session["access_token"].as_str().expect("access").to_owned()
}

async fn start(app: &TestApp, path: &str, token: Option<&str>) -> (String, Value) {
    let res = match token {
        Some(t) => app.call(Method::POST, path, t, None).await,
        None => app.post_json(path, &json!(null)).await,
    };
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    let body: Value = res.json().await.expect("json");
    (
        body["challenge_id"]
            .as_str()
            .expect("challenge_id")
            .to_owned(),
        body["publicKey"].clone(),
    )
}

/// Registers a new passkey for the session's user: the authenticator and the `Passkey` body.
async fn register(app: &TestApp, token: &str) -> (SoftPasskey, Value) {
    let (challenge_id, options) =
        start(app, "/api/auth/passkeys/register/start", Some(token)).await;
    let (passkey, credential) = SoftPasskey::register(&options);
    let res = app
        .call(
            Method::POST,
            "/api/auth/passkeys/register/finish",
            token,
            Some(
                &json!({"challenge_id": challenge_id, "credential": credential, "name": "Laptop"}),
            ),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    (passkey, res.json().await.expect("passkey"))
}

async fn signin_with(app: &TestApp, passkey: &mut SoftPasskey) -> reqwest::Response {
    let (challenge_id, options) = start(app, "/api/auth/passkeys/signin/start", None).await;
    let credential = passkey.assert(&options);
    finish_signin(app, &challenge_id, &credential).await
}

async fn finish_signin(app: &TestApp, challenge_id: &str, credential: &Value) -> reqwest::Response {
    app.post_json(
        "/api/auth/passkeys/signin/finish",
        &json!({"challenge_id": challenge_id, "credential": credential}),
    )
    .await
}

#[tokio::test]
async fn register_then_sign_in_with_the_passkey_alone() {
    let app = spawn().await;
    let (email, session) = app.new_user().await;
    let token = access(&session);

    let (challenge_id, options) =
        start(&app, "/api/auth/passkeys/register/start", Some(&token)).await;
    // Discoverable, user-verified, bound to our relying party, and no binary field but base64url.
    assert_eq!(options["rp"]["id"], "localhost");
    assert_eq!(options["rp"]["name"], "Tasks");
    assert_eq!(options["authenticatorSelection"]["residentKey"], "required");
    assert_eq!(
        options["authenticatorSelection"]["userVerification"],
        "required"
    );
    assert_eq!(options["user"]["name"], email.as_str());
    assert!(
        options["challenge"]
            .as_str()
            .is_some_and(|c| c.len() >= 43 && !c.contains('='))
    );
    let (mut passkey, credential) = SoftPasskey::register(&options);
    let res = app
        .call(
            Method::POST,
            "/api/auth/passkeys/register/finish",
            &token,
            Some(&json!({"challenge_id": challenge_id, "credential": credential})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let created: Value = res.json().await.expect("json");
    assert_eq!(created["name"], "Passkey", "named by default");
    assert!(created["last_used_at"].is_null());

    let (_, options) = start(&app, "/api/auth/passkeys/signin/start", None).await;
    assert!(
        options.get("allowCredentials").is_none(),
        "discoverable: {options}"
    );
    assert_eq!(options["userVerification"], "required");

    let res = signin_with(&app, &mut passkey).await;
    assert_eq!(res.status(), StatusCode::OK);
    let signed_in: Value = res.json().await.expect("session");
    assert_eq!(signed_in["user"]["email"], email.as_str());
    let me = app.me(&access(&signed_in)).await;
    assert_eq!(me.status(), StatusCode::OK);

    let list: Value = app
        .call(Method::GET, "/api/auth/passkeys", &token, None)
        .await
        .json()
        .await
        .expect("list");
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    assert!(list[0]["last_used_at"].is_string(), "{list}");

    // The refresh token works like any other session's.
    let refresh = signed_in["refresh_token"].as_str().expect("refresh");
    assert_eq!(app.refresh(refresh).await.status(), StatusCode::OK);

    let events: Value = app
        .call(Method::GET, "/api/auth/events", &token, None)
        .await
        .json()
        .await
        .expect("events");
    let types: Vec<&str> = events["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["type"].as_str().expect("type"))
        .collect();
    assert!(
        types.contains(&"passkey_added") && types.contains(&"signin"),
        "{types:?}"
    );
}

#[tokio::test]
async fn a_passkey_sign_in_satisfies_the_second_factor() {
    let app = spawn().await;
    let (email, session) = app.new_user().await;
    let token = access(&session);
    let (mut passkey, _) = register(&app, &token).await;
    // Turn TOTP on: the password alone no longer signs in…
    let setup: Value = app
        .call(Method::POST, "/api/auth/mfa/totp/setup", &token, None)
        .await
        .json()
        .await
        .expect("setup");
    let totp = totp_rs::Totp::from_url(setup["otpauth_uri"].as_str().expect("uri")).expect("uri");
    let code = totp.generate_current().to_string();
    let confirmed = app
        .call(
            Method::POST,
            "/api/auth/mfa/totp/confirm",
            &token,
            Some(&json!({"code": code})),
        )
        .await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    assert_eq!(
        app.signin(&email, PASSWORD).await.status(),
        StatusCode::FORBIDDEN
    );
    // …but the passkey does, with no code.
    assert_eq!(
        signin_with(&app, &mut passkey).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn challenges_are_single_use_and_short_lived() {
    let app = spawn().await;
    let (_, session) = app.new_user().await;
    let token = access(&session);
    let (mut passkey, _) = register(&app, &token).await;

    // Replayed: the same challenge and assertion again.
    let (challenge_id, options) = start(&app, "/api/auth/passkeys/signin/start", None).await;
    let credential = passkey.assert(&options);
    assert_eq!(
        finish_signin(&app, &challenge_id, &credential)
            .await
            .status(),
        StatusCode::OK
    );
    let replay = finish_signin(&app, &challenge_id, &credential).await;
    problem(replay, StatusCode::UNAUTHORIZED, "invalid_credentials").await;

    // Expired.
    let (challenge_id, options) = start(&app, "/api/auth/passkeys/signin/start", None).await;
    sqlx::query("UPDATE auth.webauthn_challenges SET expires_at = now() - interval '1 second'")
        .execute(&app.state.pool)
        .await
        .expect("expire");
    let credential = passkey.assert(&options);
    let late = finish_signin(&app, &challenge_id, &credential).await;
    problem(late, StatusCode::UNAUTHORIZED, "invalid_credentials").await;

    // Unknown, and an assertion signed for another challenge.
    let (_, other_options) = start(&app, "/api/auth/passkeys/signin/start", None).await;
    let (challenge_id, _) = start(&app, "/api/auth/passkeys/signin/start", None).await;
    let credential = passkey.assert(&other_options);
    let mismatched = finish_signin(&app, &challenge_id, &credential).await;
    problem(mismatched, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let unknown = finish_signin(&app, &uuid::Uuid::new_v4().to_string(), &credential).await;
    problem(unknown, StatusCode::UNAUTHORIZED, "invalid_credentials").await;

    // A registration challenge is its user's only, and used once.
    let (_, other) = app.new_user().await;
    let (challenge_id, options) =
        start(&app, "/api/auth/passkeys/register/start", Some(&token)).await;
    let (_, credential) = SoftPasskey::register(&options);
    let body = json!({"challenge_id": challenge_id, "credential": credential});
    let stolen = app
        .call(
            Method::POST,
            "/api/auth/passkeys/register/finish",
            &access(&other),
            Some(&body),
        )
        .await;
    problem(stolen, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    // The attempt could not take it from its owner, who finishes it — once.
    let owner = app
        .call(
            Method::POST,
            "/api/auth/passkeys/register/finish",
            &token,
            Some(&body),
        )
        .await;
    assert_eq!(owner.status(), StatusCode::CREATED);
    let again = app
        .call(
            Method::POST,
            "/api/auth/passkeys/register/finish",
            &token,
            Some(&body),
        )
        .await;
    problem(again, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
}

#[tokio::test]
async fn one_challenge_finished_in_parallel_signs_in_once() {
    let app = spawn().await;
    let b = replica(&app).await;
    let (_, session) = app.new_user().await;
    let (mut passkey, _) = register(&app, &access(&session)).await;
    let (challenge_id, options) = start(&app, "/api/auth/passkeys/signin/start", None).await;
    let credential = passkey.assert(&options);
    let results = futures::future::join_all((0..8).map(|i| {
        let target = if i % 2 == 0 { &app } else { &b };
        finish_signin(target, &challenge_id, &credential)
    }))
    .await;
    let statuses: Vec<StatusCode> = results.iter().map(|r| r.status()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::OK || *s == StatusCode::UNAUTHORIZED)
    );
}

#[tokio::test]
async fn ceremonies_started_on_one_replica_finish_on_another() {
    let a = spawn().await;
    let b = replica(&a).await;
    let (_, session) = a.new_user().await;
    let token = access(&session);
    let (challenge_id, options) =
        start(&a, "/api/auth/passkeys/register/start", Some(&token)).await;
    let (mut passkey, credential) = SoftPasskey::register(&options);
    let res = b
        .call(
            Method::POST,
            "/api/auth/passkeys/register/finish",
            &token,
            Some(&json!({"challenge_id": challenge_id, "credential": credential})),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let (challenge_id, options) = start(&b, "/api/auth/passkeys/signin/start", None).await;
    let credential = passkey.assert(&options);
    assert_eq!(
        finish_signin(&a, &challenge_id, &credential).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn hostile_or_broken_authenticators_are_refused() {
    let app = spawn().await;
    let (_, session) = app.new_user().await;
    let token = access(&session);
    let (mut passkey, _) = register(&app, &token).await;

    // A page on another origin relaying the ceremony.
    passkey.origin = "http://evil.example".into();
    let res = signin_with(&app, &mut passkey).await;
    problem(res, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    passkey.origin = crate::soft_passkey::ORIGIN.into();

    // No user verification (a tap without PIN or biometrics).
    passkey.user_verified = false;
    let res = signin_with(&app, &mut passkey).await;
    problem(res, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    passkey.user_verified = true;

    // A cloned authenticator: its counter goes back.
    passkey.counter = 10;
    assert_eq!(
        signin_with(&app, &mut passkey).await.status(),
        StatusCode::OK
    );
    let (challenge_id, options) = start(&app, "/api/auth/passkeys/signin/start", None).await;
    let cloned = passkey.assert_with_counter(&options, 5);
    let res = finish_signin(&app, &challenge_id, &cloned).await;
    problem(res, StatusCode::UNAUTHORIZED, "invalid_credentials").await;

    // Registration without user verification is refused too.
    let (challenge_id, options) =
        start(&app, "/api/auth/passkeys/register/start", Some(&token)).await;
    let (mut weak, _) = SoftPasskey::register(&options);
    weak.user_verified = false;
    let credential = weak.attest(&options);
    let res = app
        .call(
            Method::POST,
            "/api/auth/passkeys/register/finish",
            &token,
            Some(&json!({"challenge_id": challenge_id, "credential": credential})),
        )
        .await;
    problem(res, StatusCode::UNAUTHORIZED, "invalid_credentials").await;

    // Garbage where a credential should be: a validation error, never a 500.
    let (challenge_id, _) = start(&app, "/api/auth/passkeys/signin/start", None).await;
    let res = finish_signin(&app, &challenge_id, &json!({"id": "x"})).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let (challenge_id, options) = start(&app, "/api/auth/passkeys/signin/start", None).await;
    let mut credential = passkey.assert(&options);
    credential["response"]["userHandle"] = json!("bm90LWEtdXVpZA");
    let res = finish_signin(&app, &challenge_id, &credential).await;
    problem(res, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
}

#[tokio::test]
async fn passkeys_are_listed_and_removed_by_their_owner_only() {
    let app = spawn().await;
    let (_, session) = app.new_user().await;
    let token = access(&session);
    let (mut first, created) = register(&app, &token).await;
    assert_eq!(created["name"], "Laptop");
    let id = created["id"].as_str().expect("id").to_owned();

    // The same authenticator cannot be registered twice: its credential is excluded.
    let (challenge_id, options) =
        start(&app, "/api/auth/passkeys/register/start", Some(&token)).await;
    let excluded = options["excludeCredentials"]
        .as_array()
        .expect("excludeCredentials");
    assert_eq!(excluded.len(), 1);
    let credential = first.attest(&options);
    let res = app
        .call(
            Method::POST,
            "/api/auth/passkeys/register/finish",
            &token,
            Some(&json!({"challenge_id": challenge_id, "credential": credential})),
        )
        .await;
    problem(res, StatusCode::CONFLICT, "passkey_exists").await;

    // Another user can neither see nor remove it.
    let (_, other) = app.new_user().await;
    let other = access(&other);
    let theirs: Value = app
        .call(Method::GET, "/api/auth/passkeys", &other, None)
        .await
        .json()
        .await
        .expect("list");
    assert_eq!(theirs, json!([]));
    let path = format!("/api/auth/passkeys/{id}");
    let res = app.call(Method::DELETE, &path, &other, None).await;
    problem(res, StatusCode::NOT_FOUND, "not_found").await;

    // A long name is refused.
    let (challenge_id, options) =
        start(&app, "/api/auth/passkeys/register/start", Some(&token)).await;
    let (_, credential) = SoftPasskey::register(&options);
    let res = app
        .call(
            Method::POST,
            "/api/auth/passkeys/register/finish",
            &token,
            Some(&json!({"challenge_id": challenge_id, "credential": credential, "name": "x".repeat(65)})),
        )
        .await;
    field_refused(res, "name", "invalid_name").await;

    // Removed by its owner: it signs in no more.
    let res = app.call(Method::DELETE, &path, &token, None).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = signin_with(&app, &mut first).await;
    problem(res, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let res = app.call(Method::DELETE, &path, &token, None).await;
    problem(res, StatusCode::NOT_FOUND, "not_found").await;
}
