//! Sign-up and sign-in.

use std::time::Instant;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn signup_creates_an_account_and_returns_a_session() {
    let app = spawn().await;
    let res = app
        .post_json(
            "/api/auth/signup",
            &json!({"email": "  Ada@Example.com ", "password": PASSWORD, "name": " Ada "}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body: Value = res.json().await.expect("json");
    assert_eq!(
        body["user"]["email"], "Ada@Example.com",
        "trimmed, case kept"
    );
    assert_eq!(body["user"]["name"], "Ada");
    assert!(uuid::Uuid::parse_str(body["user"]["id"].as_str().expect("id")).is_ok());
    assert!(
        chrono::DateTime::parse_from_rfc3339(
            body["user"]["created_at"].as_str().expect("created_at")
        )
        .is_ok()
    );
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["refresh_token"].as_str().expect("refresh").len(), 43);
    assert_eq!(
        body["access_token"]
            .as_str()
            .expect("access")
            .split('.')
            .count(),
        3
    );
}

#[tokio::test]
async fn password_is_stored_only_as_an_argon2id_hash() {
    let app = spawn().await;
    let (email, _) = app.new_user().await;
    let (hash,): (String,) =
        sqlx::query_as("SELECT password_hash FROM auth.users WHERE email = $1")
            .bind(&email)
            .fetch_one(&app.state.pool)
            .await
            .expect("row");
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    assert!(!hash.contains(PASSWORD));
}

#[tokio::test]
async fn signup_reports_every_invalid_field() {
    let app = spawn().await;
    let res = app
        .post_json(
            "/api/auth/signup",
            &json!({"email": "not-an-email", "password": "short"}),
        )
        .await;
    let body = problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let codes = field_codes(&body);
    assert!(
        codes.contains(&("email".into(), "invalid_email".into())),
        "{codes:?}"
    );
    assert!(
        codes.contains(&("password".into(), "password_too_short".into())),
        "{codes:?}"
    );
}

#[tokio::test]
async fn signup_refuses_common_long_and_accepts_unicode_passwords() {
    let app = spawn().await;
    for (pw, code) in [
        ("Password1", "password_too_common"),
        ("iloveyou", "password_too_common"),
        (&*"ab1".repeat(43), "password_too_long"),
    ] {
        let res = app.signup(&unique_email(), pw).await;
        let body = problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(
            field_codes(&body),
            vec![("password".to_owned(), code.to_owned())],
            "{pw}"
        );
    }
    // Eight code points but 24 bytes: counted as characters, accepted.
    assert_eq!(
        app.signup(&unique_email(), "日本語の長い秘密")
            .await
            .status(),
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn signup_names_missing_and_unknown_fields() {
    let app = spawn().await;
    let res = app
        .post_json("/api/auth/signup", &json!({"email": unique_email()}))
        .await;
    let body = problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(
        field_codes(&body),
        vec![("password".to_owned(), "required".to_owned())]
    );

    let res = app
        .post_json(
            "/api/auth/signup",
            &json!({"email": unique_email(), "password": PASSWORD, "admin": true}),
        )
        .await;
    let body = problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(
        field_codes(&body),
        vec![("admin".to_owned(), "unknown_field".to_owned())]
    );

    let res = app
        .post_json(
            "/api/auth/signup",
            &json!({"email": 42, "password": PASSWORD}),
        )
        .await;
    let body = problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(
        field_codes(&body),
        vec![("email".to_owned(), "invalid_type".to_owned())]
    );
}

#[tokio::test]
async fn email_is_unique_whatever_its_case() {
    let app = spawn().await;
    assert_eq!(
        app.signup("bob@example.com", PASSWORD).await.status(),
        StatusCode::CREATED
    );
    let body = problem(
        app.signup(" BOB@Example.COM", PASSWORD).await,
        StatusCode::CONFLICT,
        "email_taken",
    )
    .await;
    assert_eq!(
        field_codes(&body),
        vec![("email".to_owned(), "email_taken".to_owned())]
    );
}

#[tokio::test]
async fn concurrent_signups_for_one_email_have_exactly_one_winner() {
    let app = spawn().await;
    let attempts = (0..4).map(|i| {
        let email = if i % 2 == 0 {
            "race@example.com"
        } else {
            "RACE@example.com"
        };
        app.signup(email, PASSWORD)
    });
    let statuses: Vec<StatusCode> = futures::future::join_all(attempts)
        .await
        .iter()
        .map(|r| r.status())
        .collect();
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::CREATED)
            .count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::CONFLICT)
            .count(),
        3,
        "{statuses:?}"
    );
}

#[tokio::test]
async fn signin_works_with_any_case_of_the_email() {
    let app = spawn().await;
    app.signup("Carol@Example.com", PASSWORD).await;
    let res = app.signin("  carol@EXAMPLE.com", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["user"]["email"], "Carol@Example.com");
    assert!(body["access_token"].is_string() && body["refresh_token"].is_string());
}

#[tokio::test]
async fn signin_with_wrong_password_or_unknown_email_is_the_same_401() {
    let app = spawn().await;
    let (email, _) = app.new_user().await;
    let wrong = problem(
        app.signin(&email, "not the password").await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    let unknown = problem(
        app.signin("nobody@example.com", PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    assert_eq!(wrong, unknown, "the bodies must not tell the cases apart");
    // Absurd input is still just wrong credentials, never a 500.
    problem(
        app.signin(&"x".repeat(5000), "").await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
}

#[tokio::test]
async fn signin_timing_does_not_reveal_whether_an_email_exists() {
    let app = spawn().await;
    let (email, _) = app.new_user().await;
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for i in 0..7 {
        let t = Instant::now();
        app.signin(&email, "wrong password").await;
        known.push(t.elapsed());
        let t = Instant::now();
        app.signin(&format!("ghost{i}@example.com"), "wrong password")
            .await;
        unknown.push(t.elapsed());
    }
    // The fastest run of each is the one least disturbed by other tests sharing the CPU. Both
    // pay for one argon2id verification (tens of ms); without the dummy hash the unknown path
    // would take about a millisecond, a ratio far outside this band.
    let k = known.iter().min().expect("runs").as_secs_f64();
    let u = unknown.iter().min().expect("runs").as_secs_f64();
    let ratio = u / k;
    assert!(
        (0.33..3.0).contains(&ratio),
        "fastest known {k:.4}s vs unknown {u:.4}s"
    );
}

#[tokio::test]
async fn signin_attempts_are_rate_limited_per_ip_with_retry_after() {
    let app = spawn_with(|c| c.rate_limit_per_ip = 3).await;
    for _ in 0..3 {
        assert_eq!(
            app.signin("a@example.com", PASSWORD).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let res = app.signin("a@example.com", PASSWORD).await;
    let retry_after: u64 = res.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&retry_after));
    problem(res, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}

#[tokio::test]
async fn signin_attempts_are_rate_limited_per_email() {
    let app = spawn_with(|c| c.rate_limit_per_email = 2).await;
    let (email, _) = app.new_user().await;
    app.signin(&email, "wrong one").await;
    app.signin(&email.to_uppercase(), "wrong two").await;
    problem(
        app.signin(&email, PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    )
    .await;
    // Other accounts are unaffected.
    let (other, _) = app.new_user().await;
    assert_eq!(app.signin(&other, PASSWORD).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn outdated_hashes_are_upgraded_at_signin() {
    let app = spawn().await;
    let (email, _) = app.new_user().await;
    let mut stronger = app.config.clone();
    stronger.argon2_iterations = 3;
    let db_url = app.db.url.clone();
    stronger.db.database_url = Some(secrecy::SecretString::from(db_url));
    let (base, _state, server) = serve(&stronger).await;
    let res = app
        .client
        .post(format!("{base}/api/auth/signin"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .expect("req");
    assert_eq!(res.status(), StatusCode::OK);
    let (hash,): (String,) =
        sqlx::query_as("SELECT password_hash FROM auth.users WHERE email = $1")
            .bind(&email)
            .fetch_one(&app.state.pool)
            .await
            .expect("row");
    assert!(hash.contains("t=3"), "{hash}");
    server.stop().await.expect("stops cleanly");
}

// ---- Unicode: the same text typed on another device is the same credential -------------------

/// "crème brûlée" precomposed (as most keyboards send it) and decomposed (base letter plus a
/// combining accent, as some input methods and macOS file names do).
const COMPOSED: &str = "cr\u{e8}me br\u{fb}l\u{e9}e \u{e0} la vanille";
const DECOMPOSED: &str = "cre\u{300}me bru\u{302}le\u{301}e a\u{300} la vanille";

async fn stored_hash(app: &TestApp, email: &str) -> String {
    sqlx::query_scalar("SELECT password_hash FROM auth.users WHERE email = $1")
        .bind(email)
        .fetch_one(&app.state.pool)
        .await
        .expect("row")
}

#[tokio::test]
async fn a_password_signs_in_whether_typed_composed_or_decomposed() {
    let app = spawn().await;
    for (signed_up_with, signs_in_with) in [(COMPOSED, DECOMPOSED), (DECOMPOSED, COMPOSED)] {
        let email = unique_email();
        assert_eq!(
            app.signup(&email, signed_up_with).await.status(),
            StatusCode::CREATED
        );
        for typed in [signs_in_with, signed_up_with] {
            assert_eq!(
                app.signin(&email, typed).await.status(),
                StatusCode::OK,
                "{signed_up_with:?} then {typed:?}"
            );
        }
        problem(
            app.signin(&email, "cre\u{300}me bru\u{302}le\u{301}e")
                .await,
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
        )
        .await;
    }
}

#[tokio::test]
async fn a_hash_made_before_normalisation_still_signs_in_and_is_rehashed_normalised() {
    use argon2::password_hash::{PasswordHasher as _, SaltString, rand_core::OsRng};
    let app = spawn().await;
    let (email, _) = app.new_user().await;
    // What the service stored before it normalised: a hash of the bytes exactly as typed.
    let legacy = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon2::Params::new(19_456, 2, 1, Some(32)).expect("params"),
    )
    .hash_password(DECOMPOSED.as_bytes(), &SaltString::generate(&mut OsRng))
    .expect("hash")
    .to_string();
    sqlx::query("UPDATE auth.users SET password_hash = $2 WHERE email = $1")
        .bind(&email)
        .bind(&legacy)
        .execute(&app.state.pool)
        .await
        .expect("update");

    // Typed the old way, it still works, and the stored hash is replaced by a normalised one.
    assert_eq!(
        app.signin(&email, DECOMPOSED).await.status(),
        StatusCode::OK
    );
    let rehashed = stored_hash(&app, &email).await;
    assert_ne!(rehashed, legacy, "rehashed at the successful sign-in");
    assert!(rehashed.starts_with("$argon2id$"), "{rehashed}");
    // From now on either form works, from any device.
    assert_eq!(app.signin(&email, COMPOSED).await.status(), StatusCode::OK);
    assert_eq!(
        app.signin(&email, DECOMPOSED).await.status(),
        StatusCode::OK
    );
    assert_eq!(stored_hash(&app, &email).await, rehashed, "rehashed once");
}

#[tokio::test]
async fn emails_differing_only_in_unicode_form_are_one_account() {
    let app = spawn().await;
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let decomposed = format!("rene\u{301}-{tag}@example.com");
    let composed = format!("Ren\u{e9}-{tag}@Example.com");
    let res = app.signup(&decomposed, PASSWORD).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value = res.json().await.expect("json");
    // Stored (and returned) in NFC, so the lookalike cannot be created beside it.
    assert_eq!(
        body["user"]["email"],
        format!("ren\u{e9}-{tag}@example.com")
    );
    problem(
        app.signup(&composed, PASSWORD).await,
        StatusCode::CONFLICT,
        "email_taken",
    )
    .await;
    for typed in [&composed, &decomposed] {
        assert_eq!(
            app.signin(typed, PASSWORD).await.status(),
            StatusCode::OK,
            "{typed:?}"
        );
    }
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM auth.users")
        .fetch_one(&app.state.pool)
        .await
        .expect("count");
    assert_eq!(count, 1);
}

#[tokio::test]
async fn an_email_stored_before_normalisation_is_found_in_either_form_and_left_as_it_was() {
    let app = spawn().await;
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let (placeholder, _) = app.new_user().await;
    // A row written before emails were normalised, in decomposed form.
    let legacy = format!("zoe\u{308}-{tag}@example.com");
    sqlx::query("UPDATE auth.users SET email = $2 WHERE email = $1")
        .bind(&placeholder)
        .bind(&legacy)
        .execute(&app.state.pool)
        .await
        .expect("update");

    let composed = format!("zo\u{eb}-{tag}@example.com");
    for typed in [&legacy, &composed] {
        let res = app.signin(typed, PASSWORD).await;
        assert_eq!(res.status(), StatusCode::OK, "{typed:?}");
    }
    problem(
        app.signup(&composed, PASSWORD).await,
        StatusCode::CONFLICT,
        "email_taken",
    )
    .await;
    let stored: String = sqlx::query_scalar("SELECT email FROM auth.users")
        .fetch_one(&app.state.pool)
        .await
        .expect("row");
    assert_eq!(stored, legacy, "not rewritten behind the user's back");
}
