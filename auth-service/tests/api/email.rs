//! Email verification and password reset, against a real SMTP server (`mail_sink`): the tests read
//! the real message, follow its link and finish the flow.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::mail_sink::MailSink;

const WAIT: Duration = Duration::from_secs(10);

async fn app_with_sink(sink: &MailSink) -> TestApp {
    let url = sink.url();
    spawn_with(move |c| {
        c.smtp_url = Some(url.into());
        c.mail_poll_ms = 100;
    })
    .await
}

async fn post(app: &TestApp, path: &str, body: Value) -> reqwest::Response {
    app.post_json(path, &body).await
}

#[tokio::test]
async fn sign_up_mails_a_link_that_verifies_the_address_once() {
    let sink = MailSink::start().await;
    let app = app_with_sink(&sink).await;
    let email = unique_email();
    let res = app.signup(&email, PASSWORD).await;
    let session: Value = res.json().await.expect("session");
    assert_eq!(session["user"]["email_verified"], false);
    let access = session["access_token"].as_str().expect("token").to_owned();

    let mail = sink
        .wait_for(&email, WAIT)
        .await
        .expect("the verification mail");
    assert!(
        mail.data.contains("Subject: Confirm your email address"),
        "{}",
        mail.data
    );
    assert!(mail.data.contains("text/plain") && mail.data.contains("text/html"));
    let token = mail.link_token("/verify-email").expect("a link");
    assert!(
        mail.text()
            .contains(&format!("http://localhost:3000/verify-email?token={token}"))
    );

    let res = post(&app, "/api/auth/email/verify", json!({"token": token})).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let me: Value = app.me(&access).await.json().await.expect("me");
    assert_eq!(me["email_verified"], true);
    // Single use.
    problem(
        post(&app, "/api/auth/email/verify", json!({"token": token})).await,
        StatusCode::BAD_REQUEST,
        "invalid_token_link",
    )
    .await;
    // Made-up tokens, well-formed or not.
    for bogus in ["A".repeat(43), "short".to_owned()] {
        problem(
            post(&app, "/api/auth/email/verify", json!({"token": bogus})).await,
            StatusCode::BAD_REQUEST,
            "invalid_token_link",
        )
        .await;
    }
    // Nothing more is sent for a verified address.
    let res = app
        .client
        .post(app.url("/api/auth/email/verify/request"))
        .bearer_auth(&access)
        .send()
        .await
        .expect("resend");
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.to(&email).len(), 1);
}

#[tokio::test]
async fn a_resend_waits_a_minute_and_an_expired_link_is_refused() {
    let sink = MailSink::start().await;
    let app = app_with_sink(&sink).await;
    let (email, session) = app.new_user().await;
    let access = session["access_token"].as_str().expect("token");
    let res = app
        .client
        .post(app.url("/api/auth/email/verify/request"))
        .bearer_auth(access)
        .send()
        .await
        .expect("resend");
    let wait: u64 = res.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("secs");
    assert!((1..=60).contains(&wait));
    problem(res, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;

    let mail = sink.wait_for(&email, WAIT).await.expect("mail");
    let token = mail.link_token("/verify-email").expect("link");
    sqlx::query("UPDATE auth.email_tokens SET expires_at = now() - interval '1 second'")
        .execute(&app.state.pool)
        .await
        .expect("expire");
    problem(
        post(&app, "/api/auth/email/verify", json!({"token": token})).await,
        StatusCode::BAD_REQUEST,
        "invalid_token_link",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_uses_of_one_link_succeed_exactly_once() {
    let sink = MailSink::start().await;
    let app = app_with_sink(&sink).await;
    let other = replica(&app).await;
    let (email, _) = app.new_user().await;
    let token = sink
        .wait_for(&email, WAIT)
        .await
        .and_then(|m| m.link_token("/verify-email"))
        .expect("link");
    // Spread over two replicas on one database.
    let uses = (0..8).map(|i| {
        let on = if i % 2 == 0 { &app } else { &other };
        post(on, "/api/auth/email/verify", json!({"token": token}))
    });
    let statuses: Vec<StatusCode> = futures::future::join_all(uses)
        .await
        .iter()
        .map(reqwest::Response::status)
        .collect();
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::NO_CONTENT)
            .count(),
        1,
        "{statuses:?}"
    );
}

#[tokio::test]
async fn a_reset_link_sets_a_new_password_once_and_ends_every_session() {
    let sink = MailSink::start().await;
    let app = app_with_sink(&sink).await;
    let (email, session) = app.new_user().await;
    let refresh = session["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    sink.wait_for(&email, WAIT)
        .await
        .expect("verification mail first");

    let res = post(
        &app,
        "/api/auth/password/reset/request",
        json!({"email": email.to_uppercase()}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let deadline = Instant::now() + WAIT;
    let mail = loop {
        if let Some(m) = sink
            .to(&email)
            .into_iter()
            .find(|m| m.data.contains("Reset your password"))
        {
            break m;
        }
        assert!(Instant::now() < deadline, "no reset mail");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let token = mail.link_token("/reset-password").expect("link");

    // The new password follows the sign-up rules; a refusal does not use the link up.
    let res = post(
        &app,
        "/api/auth/password/reset",
        json!({"token": token, "new_password": "short"}),
    )
    .await;
    assert_eq!(
        problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await["errors"][0]["field"],
        "new_password"
    );
    let res = post(
        &app,
        "/api/auth/password/reset",
        json!({"token": token, "new_password": "a brand new passphrase"}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    problem(
        post(
            &app,
            "/api/auth/password/reset",
            json!({"token": token, "new_password": "yet another passphrase"}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_token_link",
    )
    .await;
    // Every session ended; the old password is refused and the new one works.
    assert_eq!(
        app.refresh(&refresh).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.signin(&email, PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let res = app.signin(&email, "a brand new passphrase").await;
    assert_eq!(res.status(), StatusCode::OK);
    let session: Value = res.json().await.expect("session");
    // Following the link proved the address as well.
    assert_eq!(session["user"]["email_verified"], true);
    let events: Value = app
        .client
        .get(app.url("/api/auth/events"))
        .bearer_auth(session["access_token"].as_str().expect("token"))
        .send()
        .await
        .expect("events")
        .json()
        .await
        .expect("page");
    assert!(
        events["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|e| e["type"] == "password_reset")
    );
}

#[tokio::test]
async fn a_reset_request_answers_alike_for_unknown_addresses_and_mails_nothing() {
    let sink = MailSink::start().await;
    let app = app_with_sink(&sink).await;
    let (known, _) = app.new_user().await;
    sink.wait_for(&known, WAIT)
        .await
        .expect("verification mail");
    let unknown = unique_email();
    let mut timings = (Vec::new(), Vec::new());
    for _ in 0..5 {
        for (email, into) in [(&known, &mut timings.0), (&unknown, &mut timings.1)] {
            let started = Instant::now();
            let res = post(
                &app,
                "/api/auth/password/reset/request",
                json!({"email": email}),
            )
            .await;
            into.push(started.elapsed());
            assert_eq!(res.status(), StatusCode::ACCEPTED);
            assert_eq!(res.text().await.expect("body"), "");
        }
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let (k, u) = (median(&mut timings.0), median(&mut timings.1));
    let gap = k.abs_diff(u);
    assert!(
        gap < Duration::from_millis(100),
        "known {k:?} vs unknown {u:?}"
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        sink.to(&unknown).is_empty(),
        "nothing is mailed to an unknown address"
    );
    assert_eq!(sink.to(&known).len(), 1 + 5);
}

#[tokio::test]
async fn mail_queued_while_the_server_is_away_arrives_when_it_is_back() {
    let mut sink = MailSink::reserve().await;
    let app = app_with_sink(&sink).await;
    let (email, _) = app.new_user().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(sink.received().is_empty());
    let pending: i32 = sqlx::query_scalar("SELECT attempts FROM auth.outbox WHERE sent_at IS NULL")
        .fetch_one(&app.state.pool)
        .await
        .expect("still queued");
    assert!(pending >= 1, "it was tried and will be again");
    sink.open().await;
    assert!(
        sink.wait_for(&email, Duration::from_secs(15))
            .await
            .is_some(),
        "the mail arrives"
    );
    // Sent rows no longer hold the link.
    let bodies: String = sqlx::query_scalar("SELECT text_body || html_body FROM auth.outbox")
        .fetch_one(&app.state.pool)
        .await
        .expect("row");
    assert_eq!(bodies, "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_send_each_message_exactly_once() {
    let sink = MailSink::start().await;
    let a = app_with_sink(&sink).await;
    let b = replica(&a).await;
    let emails: Vec<String> = (0..12).map(|_| unique_email()).collect();
    let signups = emails.iter().enumerate().map(|(i, e)| {
        if i % 2 == 0 {
            a.signup(e, PASSWORD)
        } else {
            b.signup(e, PASSWORD)
        }
    });
    for res in futures::future::join_all(signups).await {
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    for e in &emails {
        assert!(sink.wait_for(e, WAIT).await.is_some(), "{e}");
    }
    tokio::time::sleep(Duration::from_millis(1000)).await;
    for e in &emails {
        assert_eq!(sink.to(e).len(), 1, "{e} got a duplicate");
    }
}

#[tokio::test]
async fn with_verification_required_sign_in_waits_for_the_link() {
    let sink = MailSink::start().await;
    let url = sink.url();
    let app = spawn_with(move |c| {
        c.smtp_url = Some(url.into());
        c.mail_poll_ms = 100;
        c.require_verified_email = true;
    })
    .await;
    let (email, _) = app.new_user().await;
    problem(
        app.signin(&email, PASSWORD).await,
        StatusCode::FORBIDDEN,
        "email_not_verified",
    )
    .await;
    // A wrong password still says only that.
    problem(
        app.signin(&email, "not the password").await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    let token = sink
        .wait_for(&email, WAIT)
        .await
        .and_then(|m| m.link_token("/verify-email"))
        .expect("link");
    let res = post(&app, "/api/auth/email/verify", json!({"token": token})).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.signin(&email, PASSWORD).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn without_smtp_the_mail_is_logged_and_marked_sent() {
    // No SMTP_URL: the sender writes the message to the log (development) and the outbox row is
    // done with, its link gone.
    let app = spawn_with(|c| c.mail_poll_ms = 100).await;
    app.new_user().await;
    let deadline = Instant::now() + WAIT;
    loop {
        let sent: Option<String> =
            sqlx::query_scalar("SELECT text_body FROM auth.outbox WHERE sent_at IS NOT NULL")
                .fetch_optional(&app.state.pool)
                .await
                .expect("outbox");
        if let Some(body) = sent {
            assert_eq!(body, "");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the logged mail was never marked sent"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_resets_with_one_link_on_two_replicas_set_one_password() {
    let sink = MailSink::start().await;
    let app = app_with_sink(&sink).await;
    let other = replica(&app).await;
    let (email, _) = app.new_user().await;
    sink.wait_for(&email, WAIT)
        .await
        .expect("verification mail");
    let res = post(
        &app,
        "/api/auth/password/reset/request",
        json!({"email": email}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let deadline = Instant::now() + WAIT;
    let token = loop {
        if let Some(t) = sink
            .to(&email)
            .iter()
            .find_map(|m| m.link_token("/reset-password"))
        {
            break t;
        }
        assert!(Instant::now() < deadline, "no reset mail");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let passwords: Vec<String> = (0..6).map(|i| format!("parallel passphrase {i}")).collect();
    let resets = passwords.iter().enumerate().map(|(i, p)| {
        let on = if i % 2 == 0 { &app } else { &other };
        post(
            on,
            "/api/auth/password/reset",
            json!({"token": token, "new_password": p}),
        )
    });
    let statuses: Vec<StatusCode> = futures::future::join_all(resets)
        .await
        .iter()
        .map(reqwest::Response::status)
        .collect();
    let winners: Vec<&String> = passwords
        .iter()
        .zip(&statuses)
        .filter(|(_, s)| **s == StatusCode::NO_CONTENT)
        .map(|(p, _)| p)
        .collect();
    assert_eq!(winners.len(), 1, "{statuses:?}");
    // The winner's password is the one that holds.
    for p in &passwords {
        let want = if p == winners[0] {
            StatusCode::OK
        } else {
            StatusCode::UNAUTHORIZED
        };
        assert_eq!(app.signin(&email, p).await.status(), want, "{p}");
    }
}

#[tokio::test]
async fn a_signed_out_owner_is_sent_a_new_link_at_sign_in_once_a_minute_even_in_parallel() {
    let sink = MailSink::start().await;
    let url = sink.url();
    let app = spawn_with(move |c| {
        c.smtp_url = Some(url.into());
        c.mail_poll_ms = 100;
        c.require_verified_email = true;
    })
    .await;
    let b = replica(&app).await;
    let (email, _) = app.new_user().await;
    let tokens = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM auth.email_tokens")
            .fetch_one(&app.state.pool)
            .await
            .expect("count")
    };
    assert_eq!(tokens().await, 1, "the sign-up's link");
    // Within the minute after sign-up: no second mail.
    problem(
        app.signin(&email, PASSWORD).await,
        StatusCode::FORBIDDEN,
        "email_not_verified",
    )
    .await;
    assert_eq!(tokens().await, 1);

    // The sign-up link is lost and a minute has passed: eight attempts at once over two replicas
    // send one new mail between them.
    sqlx::query("UPDATE auth.email_tokens SET created_at = now() - interval '2 minutes'")
        .execute(&app.state.pool)
        .await
        .expect("age");
    let results = futures::future::join_all((0..8).map(|i| {
        let target = if i % 2 == 0 { &app } else { &b };
        target.signin(&email, PASSWORD)
    }))
    .await;
    assert!(results.iter().all(|r| r.status() == StatusCode::FORBIDDEN));
    assert_eq!(tokens().await, 2, "one new link for eight sign-ins");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let mails = sink.to(&email);
    assert_eq!(mails.len(), 2, "the sign-up's and one more");
    let token = mails
        .iter()
        .filter_map(|m| m.link_token("/verify-email"))
        .next_back()
        .expect("link");
    let res = post(&app, "/api/auth/email/verify", json!({"token": token})).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.signin(&email, PASSWORD).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn parallel_requests_for_a_new_link_send_one() {
    let app = spawn().await;
    let (_, session) = app.new_user().await;
    let access = session["access_token"].as_str().expect("access").to_owned();
    sqlx::query("UPDATE auth.email_tokens SET created_at = now() - interval '2 minutes'")
        .execute(&app.state.pool)
        .await
        .expect("age");
    let results = futures::future::join_all((0..8).map(|_| {
        app.call(
            reqwest::Method::POST,
            "/api/auth/email/verify/request",
            &access,
            None,
        )
    }))
    .await;
    let statuses: Vec<StatusCode> = results.iter().map(|r| r.status()).collect();
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::ACCEPTED)
            .count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::ACCEPTED || *s == StatusCode::TOO_MANY_REQUESTS)
    );
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM auth.email_tokens")
        .fetch_one(&app.state.pool)
        .await
        .expect("count");
    assert_eq!(count, 2);
}
