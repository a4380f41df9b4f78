//! The authenticator app as a second factor: set-up → confirm → sign-in needs the code; replayed,
//! early, late and wrong codes; recovery codes once each; turning it off; parallel use and a
//! second replica. Codes are computed from the secret the service hands out, at real time.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

const STEP: u64 = 30;

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// Waits until the current 30-second step has at least 4 seconds left, so a code computed now
/// for "this step ± n" means the same step to the service when it checks it.
async fn away_from_step_edge() {
    let left = STEP - now() % STEP;
    if left < 4 {
        tokio::time::sleep(Duration::from_secs(left + 1)).await;
    }
}

struct Totp {
    totp: totp_rs::Totp,
}

impl Totp {
    fn from_setup(setup: &Value) -> Self {
        let uri = setup["otpauth_uri"].as_str().expect("otpauth_uri");
        let totp = totp_rs::Totp::from_url(uri).expect("an otpauth URI an app can read");
        assert_eq!(
            totp.secret().to_base32(),
            setup["secret"].as_str().expect("secret"),
            "the text secret and the QR code's are the same"
        );
        Self { totp }
    }

    /// The code for the step `offset` steps from now.
    fn code(&self, offset: i64) -> String {
        let at = now().saturating_add_signed(offset * STEP as i64);
        self.totp.generate(at).to_string()
    }

    fn code_at_step(&self, step: u64) -> String {
        self.totp.generate(step * STEP).to_string()
    }
}

/// A user with a confirmed authenticator app: (email, session, app, recovery codes).
async fn user_with_totp(app: &TestApp) -> (String, Value, Totp, Vec<String>) {
    let (email, session) = app.new_user().await;
    let access = session["access_token"].as_str().expect("access").to_owned();
    let setup = app
        .call(Method::POST, "/api/auth/mfa/totp/setup", &access, None)
        .await;
    assert_eq!(setup.status(), StatusCode::OK);
    let totp = Totp::from_setup(&setup.json().await.expect("json"));
    away_from_step_edge().await;
    let confirmed = app
        .call(
            Method::POST,
            "/api/auth/mfa/totp/confirm",
            &access,
            Some(&json!({"code": totp.code(0)})),
        )
        .await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    let body: Value = confirmed.json().await.expect("json");
    let codes: Vec<String> = body["recovery_codes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|c| c.as_str().expect("code").to_owned())
        .collect();
    (email, session, totp, codes)
}

/// Signs in with the password: the mfa token of the 403 `mfa_required`.
async fn password_step(app: &TestApp, email: &str) -> String {
    let res = app.signin(email, PASSWORD).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        res.headers()["content-type"],
        "application/problem+json",
        "a problem document"
    );
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["code"], "mfa_required");
    assert!(body.get("access_token").is_none(), "no session yet: {body}");
    body["mfa_token"].as_str().expect("mfa_token").to_owned()
}

async fn code_step(app: &TestApp, mfa_token: &str, code: &str) -> reqwest::Response {
    app.post_json(
        "/api/auth/signin/mfa",
        &json!({"mfa_token": mfa_token, "code": code}),
    )
    .await
}

#[tokio::test]
async fn setup_then_confirm_makes_sign_in_ask_for_the_code() {
    let app = spawn().await;
    let (email, session) = app.new_user().await;
    let access = session["access_token"].as_str().expect("access");
    assert_eq!(session["user"]["totp_enabled"], false);

    let setup = app
        .call(Method::POST, "/api/auth/mfa/totp/setup", access, None)
        .await;
    assert_eq!(setup.status(), StatusCode::OK);
    let setup: Value = setup.json().await.expect("json");
    let uri = setup["otpauth_uri"].as_str().expect("uri");
    assert!(uri.starts_with("otpauth://totp/Tasks:"), "{uri}");
    let totp = Totp::from_setup(&setup);
    // RFC 6238's parameters every authenticator app understands (those apps assume them when
    // the URI leaves them out).
    assert_eq!(totp.totp.algorithm(), totp_rs::Algorithm::SHA1);
    assert_eq!((totp.totp.digits(), totp.totp.step()), (6, 30));
    assert_eq!(totp.totp.secret().as_ref().len(), 20, "160-bit secret");

    // Not active until confirmed: the password alone still signs in.
    assert_eq!(app.signin(&email, PASSWORD).await.status(), StatusCode::OK);

    away_from_step_edge().await;
    let wrong = app
        .call(
            Method::POST,
            "/api/auth/mfa/totp/confirm",
            access,
            Some(&json!({"code": totp.code(3)})),
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    field_refused(wrong, "code", "invalid_code").await;

    let confirm_step = now() / STEP;
    let confirmed = app
        .call(
            Method::POST,
            "/api/auth/mfa/totp/confirm",
            access,
            Some(&json!({"code": totp.code_at_step(confirm_step)})),
        )
        .await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    let codes: Value = confirmed.json().await.expect("json");
    let codes = codes["recovery_codes"].as_array().expect("codes");
    assert_eq!(codes.len(), 10);

    let me: Value = app.me(access).await.json().await.expect("me");
    assert_eq!(me["totp_enabled"], true);

    // A second set-up does not replace the active secret; confirming again finds nothing pending.
    let again = app
        .call(Method::POST, "/api/auth/mfa/totp/setup", access, None)
        .await;
    problem(again, StatusCode::CONFLICT, "totp_already_enabled").await;
    let again = app
        .call(
            Method::POST,
            "/api/auth/mfa/totp/confirm",
            access,
            Some(&json!({"code": totp.code(0)})),
        )
        .await;
    problem(again, StatusCode::CONFLICT, "totp_not_pending").await;

    // Sign-in: the password step, then the code from the app (not the one used to confirm: that
    // step is spent, so wait for the next).
    let mfa_token = password_step(&app, &email).await;
    let spent = code_step(&app, &mfa_token, &totp.code_at_step(confirm_step)).await;
    problem(spent, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let res = code_step(&app, &mfa_token, &totp.code_at_step(confirm_step + 1)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let signed_in: Value = res.json().await.expect("session");
    assert_eq!(signed_in["user"]["email"], email.as_str());
    let access = signed_in["access_token"].as_str().expect("access");
    assert_eq!(app.me(access).await.status(), StatusCode::OK);

    // The token was used: it finishes no second sign-in.
    let reused = code_step(&app, &mfa_token, &totp.code(1)).await;
    problem(reused, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

#[tokio::test]
async fn codes_are_accepted_one_step_either_side_once_and_never_replayed() {
    let app = spawn().await;

    // A late code (the previous step) and an early one (the next step) are accepted.
    let (email, _, totp, _) = user_with_totp(&app).await;
    away_from_step_edge().await;
    let late = code_step(&app, &password_step(&app, &email).await, &totp.code(-1)).await;
    // The confirmation spent this step, so its predecessor is older than the last code used.
    assert_eq!(
        late.status(),
        StatusCode::UNAUTHORIZED,
        "older than the last code used"
    );
    let early = code_step(&app, &password_step(&app, &email).await, &totp.code(1)).await;
    assert_eq!(
        early.status(),
        StatusCode::OK,
        "the next step's code is accepted"
    );

    let (email, _, totp, _) = user_with_totp(&app).await;
    // Fresh account whose confirmation used step 0: two steps away either side is refused…
    away_from_step_edge().await;
    for offset in [-3, 3] {
        let res = code_step(&app, &password_step(&app, &email).await, &totp.code(offset)).await;
        problem(res, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }
    // …and once a code is used, neither it nor any earlier one works again.
    let ok = code_step(&app, &password_step(&app, &email).await, &totp.code(1)).await;
    assert_eq!(ok.status(), StatusCode::OK);
    for offset in [1, 0] {
        let res = code_step(&app, &password_step(&app, &email).await, &totp.code(offset)).await;
        problem(res, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }
}

#[tokio::test]
async fn a_late_code_is_accepted_when_no_later_one_was_used() {
    let app = spawn().await;
    let (email, session) = app.new_user().await;
    let access = session["access_token"].as_str().expect("access");
    let setup: Value = app
        .call(Method::POST, "/api/auth/mfa/totp/setup", access, None)
        .await
        .json()
        .await
        .expect("json");
    let totp = Totp::from_setup(&setup);
    away_from_step_edge().await;
    // Confirm with the previous step's code (typed just as it turned).
    let confirmed = app
        .call(
            Method::POST,
            "/api/auth/mfa/totp/confirm",
            access,
            Some(&json!({"code": totp.code(-1)})),
        )
        .await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    let late = code_step(&app, &password_step(&app, &email).await, &totp.code(0)).await;
    assert_eq!(
        late.status(),
        StatusCode::OK,
        "the current code after a late one"
    );
}

#[tokio::test]
async fn one_code_sent_in_parallel_signs_in_once() {
    let app = spawn().await;
    let (email, _, totp, _) = user_with_totp(&app).await;
    let mut tokens = Vec::new();
    for _ in 0..8 {
        tokens.push(password_step(&app, &email).await);
    }
    away_from_step_edge().await;
    let code = totp.code(1);
    // Eight sign-ins, each with its own mfa token, racing with the same code.
    let results = futures::future::join_all(tokens.iter().map(|t| code_step(&app, t, &code))).await;
    let ok = results
        .iter()
        .filter(|r| r.status() == StatusCode::OK)
        .count();
    assert_eq!(
        ok,
        1,
        "{:?}",
        results.iter().map(|r| r.status()).collect::<Vec<_>>()
    );
    assert!(
        results
            .iter()
            .all(|r| r.status() == StatusCode::OK || r.status() == StatusCode::UNAUTHORIZED)
    );

    // One mfa token, eight parallel finishes with a valid code: one session. (A new user: this
    // one's next usable code is a step away.)
    let (email, _, totp, _) = user_with_totp(&app).await;
    let token = password_step(&app, &email).await;
    away_from_step_edge().await;
    let code = totp.code(1);
    let results = futures::future::join_all((0..8).map(|_| code_step(&app, &token, &code))).await;
    let ok = results
        .iter()
        .filter(|r| r.status() == StatusCode::OK)
        .count();
    assert_eq!(ok, 1);
}

#[tokio::test]
async fn recovery_codes_work_once_each_however_typed() {
    let app = spawn().await;
    let (email, _, _, codes) = user_with_totp(&app).await;
    assert_eq!(codes.len(), 10);
    assert!(
        codes
            .iter()
            .all(|c| c.len() == 19 && c.matches('-').count() == 3)
    );

    // Upper case, spaces instead of dashes: still the code.
    let typed = codes[0].to_uppercase().replace('-', " ");
    let res = code_step(&app, &password_step(&app, &email).await, &typed).await;
    assert_eq!(res.status(), StatusCode::OK);
    let again = code_step(&app, &password_step(&app, &email).await, &codes[0]).await;
    problem(again, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let other = code_step(&app, &password_step(&app, &email).await, &codes[1]).await;
    assert_eq!(other.status(), StatusCode::OK, "the others still work");

    // Eight parallel uses of one unused code: one sign-in.
    let mut tokens = Vec::new();
    for _ in 0..8 {
        tokens.push(password_step(&app, &email).await);
    }
    let results =
        futures::future::join_all(tokens.iter().map(|t| code_step(&app, t, &codes[2]))).await;
    assert_eq!(
        results
            .iter()
            .filter(|r| r.status() == StatusCode::OK)
            .count(),
        1
    );

    // Another user's recovery code is no code here.
    let (other_email, _, _, other_codes) = user_with_totp(&app).await;
    let _ = other_email;
    let res = code_step(&app, &password_step(&app, &email).await, &other_codes[0]).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn wrong_codes_wear_out_the_mfa_token_and_count_against_the_account() {
    let app = spawn().await;
    let (email, _, totp, _) = user_with_totp(&app).await;
    let token = password_step(&app, &email).await;
    for code in [
        "000000",
        "not-a-code",
        "123456",
        "0000-0000-0000-0000",
        "999999",
    ] {
        let res = code_step(&app, &token, code).await;
        // (A wrong 6-digit code could be right by chance once in a million: not "000000" and
        // "999999" and "123456" all at once.)
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{code}");
    }
    away_from_step_edge().await;
    let worn = code_step(&app, &token, &totp.code(1)).await;
    problem(worn, StatusCode::UNAUTHORIZED, "invalid_token").await;

    // An expired token is refused whatever the code.
    let token = password_step(&app, &email).await;
    sqlx::query("UPDATE auth.mfa_tokens SET expires_at = now() - interval '1 second'")
        .execute(&app.state.pool)
        .await
        .expect("expire");
    let expired = code_step(&app, &token, &totp.code(1)).await;
    problem(expired, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let garbage = code_step(&app, "not-a-token", &totp.code(1)).await;
    problem(garbage, StatusCode::UNAUTHORIZED, "invalid_token").await;

    // The failures are in the owner's security history.
    let events: Value = app
        .call(
            Method::GET,
            "/api/auth/events",
            &signed_in_access(&app, &email, &totp).await,
            None,
        )
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
    assert!(types.contains(&"mfa_enabled"), "{types:?}");
    assert!(
        types.iter().filter(|t| **t == "signin_failed").count() >= 5,
        "{types:?}"
    );
}

/// Signs in with password and code (waiting for a fresh step if the current one was used).
async fn signed_in_access(app: &TestApp, email: &str, totp: &Totp) -> String {
    for offset in [1, 2] {
        away_from_step_edge().await;
        let res = code_step(app, &password_step(app, email).await, &totp.code(offset)).await;
        if res.status() == StatusCode::OK {
            let body: Value = res.json().await.expect("session");
            return body["access_token"].as_str().expect("access").to_owned();
        }
    }
    panic!("could not sign in with a fresh code");
}

#[tokio::test]
async fn wrong_codes_are_rate_limited_like_passwords() {
    let app = spawn_with(|c| c.rate_limit_per_email = 4).await;
    let (email, _, _, _) = user_with_totp(&app).await;
    // The password step counts once; then codes draw on the same per-account budget.
    let token = password_step(&app, &email).await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(code_step(&app, &token, "000000").await.status());
    }
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "codes share the account's sign-in budget: {statuses:?}"
    );
}

#[tokio::test]
async fn turning_totp_off_needs_the_password_and_ends_other_sessions() {
    let app = spawn().await;
    let (email, session, totp, codes) = user_with_totp(&app).await;
    let access = session["access_token"].as_str().expect("access");
    let here_refresh = session["refresh_token"].as_str().expect("refresh");
    // Another device signed in with password and code.
    away_from_step_edge().await;
    let other = code_step(&app, &password_step(&app, &email).await, &totp.code(1)).await;
    assert_eq!(other.status(), StatusCode::OK);
    let other: Value = other.json().await.expect("session");

    let wrong = app
        .call(
            Method::DELETE,
            "/api/auth/mfa/totp",
            access,
            Some(&json!({"password": "not the password"})),
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    field_refused(wrong, "password", "wrong_password").await;

    let off = app
        .call(
            Method::DELETE,
            "/api/auth/mfa/totp",
            access,
            Some(&json!({"password": PASSWORD})),
        )
        .await;
    assert_eq!(off.status(), StatusCode::NO_CONTENT);

    // The other device is signed out; this one is not.
    let other_refresh = other["refresh_token"].as_str().expect("refresh");
    assert_eq!(
        app.refresh(other_refresh).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.refresh(here_refresh).await.status(), StatusCode::OK);
    // The password alone signs in again; recovery codes are gone with the secret.
    assert_eq!(app.signin(&email, PASSWORD).await.status(), StatusCode::OK);
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM auth.recovery_codes")
        .fetch_one(&app.state.pool)
        .await
        .expect("count");
    assert_eq!(count, 0, "{codes:?} are gone");
    let again = app
        .call(
            Method::DELETE,
            "/api/auth/mfa/totp",
            access,
            Some(&json!({"password": PASSWORD})),
        )
        .await;
    problem(again, StatusCode::CONFLICT, "totp_not_enabled").await;
    let me: Value = app.me(access).await.json().await.expect("me");
    assert_eq!(me["totp_enabled"], false);
}

#[tokio::test]
async fn the_secret_is_sealed_at_rest_under_the_key_encryption_keys() {
    let kek = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [7u8; 32]);
    let app = spawn_with(|c| c.key_encryption_keys = Some(kek.into())).await;
    let (email, _, totp, _) = user_with_totp(&app).await;
    let (kek_id, stored): (Option<String>, Vec<u8>) =
        sqlx::query_as("SELECT kek_id, secret FROM auth.totp")
            .fetch_one(&app.state.pool)
            .await
            .expect("row");
    assert!(kek_id.is_some(), "sealed under a KEK");
    let plain = totp.totp.secret().as_ref().to_vec();
    assert_eq!(plain.len(), 20);
    assert!(
        !stored.windows(plain.len()).any(|w| w == plain.as_slice()),
        "the stored bytes do not contain the secret"
    );
    // And it still works (opened with the KEK).
    signed_in_access(&app, &email, &totp).await;
}

#[tokio::test]
async fn a_sign_in_started_on_one_replica_finishes_on_another() {
    let a = spawn().await;
    let b = replica(&a).await;
    let (email, _, totp, _) = user_with_totp(&a).await;
    let token = password_step(&a, &email).await;
    away_from_step_edge().await;
    let res = code_step(&b, &token, &totp.code(1)).await;
    assert_eq!(res.status(), StatusCode::OK);
    // And the code is spent on both.
    let token = password_step(&b, &email).await;
    let res = code_step(&a, &token, &totp.code(1)).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn secrets_are_resealed_when_the_key_encryption_key_rotates() {
    let b64 = |k: [u8; 32]| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, k);
    let (old, new) = (b64([1u8; 32]), b64([2u8; 32]));
    let app = spawn_with(|c| c.key_encryption_keys = Some(old.clone().into())).await;
    let (email, _, totp, _) = user_with_totp(&app).await;
    let kek_of = |pool: sqlx::PgPool| async move {
        sqlx::query_scalar::<_, Option<String>>("SELECT kek_id FROM auth.totp")
            .fetch_one(&pool)
            .await
            .expect("kek_id")
    };
    let before = kek_of(app.state.pool.clone()).await;

    // Started with the new KEK first and the old one second: re-sealed under the new one.
    let mut rotating = app.config.clone();
    rotating.key_encryption_keys = Some(format!("{new},{old}").into());
    let second = spawn_on(app.db.alias(), rotating.clone()).await;
    let after = kek_of(second.state.pool.clone()).await;
    assert!(
        before.is_some() && after.is_some() && before != after,
        "{before:?} → {after:?}"
    );

    // So the old KEK can go: with the new one alone the code still signs in.
    let mut only_new = rotating;
    only_new.key_encryption_keys = Some(new.into());
    let third = spawn_on(app.db.alias(), only_new).await;
    signed_in_access(&third, &email, &totp).await;
}
