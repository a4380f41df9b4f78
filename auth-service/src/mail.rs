//! Outgoing mail: verification and reset links, written to the durable outbox (`db::outbox`) in
//! the transaction that causes them, and sent by a background task on every replica.
//!
//! Sending never blocks or fails the request that caused it. The sender claims due messages with
//! `FOR UPDATE SKIP LOCKED` and keeps them locked while it talks to the mail server, so two
//! replicas never send one message; a message the server refuses, or that finds it away, is tried
//! again with back-off (1 s, 2 s, 4 s ... up to 5 min). A crash after the server took a message
//! but before the row was marked may send it once more: mail is at-least-once, never lost.
//!
//! Without `SMTP_URL` (development) a message is written to the log at INFO instead: the link's
//! token is the one secret allowed there, and only then.

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};
use sqlx::PgPool;

use crate::db::outbox::{self, NewMail};

const VERIFY_TEXT: &str = include_str!("../templates/verify_email.txt");
const VERIFY_HTML: &str = include_str!("../templates/verify_email.html");
const RESET_TEXT: &str = include_str!("../templates/reset_password.txt");
const RESET_HTML: &str = include_str!("../templates/reset_password.html");

/// Messages one sender round takes.
const BATCH: i64 = 20;
/// The longest wait between two attempts at one message.
const MAX_BACKOFF_SECS: f64 = 300.0;

/// Mail settings, from the configuration.
#[derive(Clone)]
pub struct MailSettings {
    /// `None`: log messages instead of sending them.
    pub smtp_url: Option<SecretString>,
    pub from: Mailbox,
    /// Where the links point: the web app.
    pub web_url: String,
    /// How often the sender looks for due messages.
    pub poll: Duration,
}

impl std::fmt::Debug for MailSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailSettings")
            .field("smtp", &self.smtp_url.as_ref().map(|_| "[redacted]"))
            .field("from", &self.from.to_string())
            .field("web_url", &self.web_url)
            .finish()
    }
}

impl MailSettings {
    /// The verification mail for `email`, its link carrying `token`.
    pub fn verification(&self, email: &str, token: &str) -> NewMail {
        let link = format!("{}/verify-email?token={token}", self.web_url);
        NewMail {
            to: email.to_owned(),
            subject: "Confirm your email address".to_owned(),
            text: render(VERIFY_TEXT, email, &link, false),
            html: render(VERIFY_HTML, email, &link, true),
        }
    }

    /// The password-reset mail for `email`, its link carrying `token`.
    pub fn reset(&self, email: &str, token: &str) -> NewMail {
        let link = format!("{}/reset-password?token={token}", self.web_url);
        NewMail {
            to: email.to_owned(),
            subject: "Reset your password".to_owned(),
            text: render(RESET_TEXT, email, &link, false),
            html: render(RESET_HTML, email, &link, true),
        }
    }
}

fn render(template: &str, email: &str, link: &str, html: bool) -> String {
    let (email, link) = if html {
        (escape(email), escape(link))
    } else {
        (email.to_owned(), link.to_owned())
    };
    template
        .replace("{{email}}", &email)
        .replace("{{link}}", &link)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Where messages go.
enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Log,
}

impl Transport {
    fn new(settings: &MailSettings) -> anyhow::Result<Self> {
        match &settings.smtp_url {
            Some(url) => Ok(Transport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret())
                    .map_err(|e| {
                        anyhow::anyhow!("SMTP_URL is not a usable smtp:// or smtps:// URL: {e}")
                    })?
                    .timeout(Some(Duration::from_secs(10)))
                    .build(),
            )),
            None => Ok(Transport::Log),
        }
    }

    async fn send(&self, from: &Mailbox, due: &outbox::Due) -> Result<(), String> {
        match self {
            Transport::Log => {
                tracing::info!(
                    to = %due.to_address,
                    subject = %due.subject,
                    body = %due.text_body,
                    "mail (SMTP_URL is not set: logged instead of sent)"
                );
                Ok(())
            }
            Transport::Smtp(smtp) => {
                let to: Mailbox = due
                    .to_address
                    .parse()
                    .map_err(|e| format!("recipient address: {e}"))?;
                let message = Message::builder()
                    .from(from.clone())
                    .to(to)
                    .subject(due.subject.clone())
                    .multipart(MultiPart::alternative_plain_html(
                        due.text_body.clone(),
                        due.html_body.clone(),
                    ))
                    .map_err(|e| format!("building the message: {e}"))?;
                smtp.send(message)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
        }
    }
}

/// Checks the settings and starts the sender.
pub fn spawn_sender(
    pool: PgPool,
    settings: MailSettings,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let transport = Transport::new(&settings)?;
    if matches!(transport, Transport::Log) {
        tracing::info!(
            "SMTP_URL is not set: mail is written to this log instead of being sent (development only)"
        );
    }
    Ok(tokio::spawn(async move {
        let mut tick = tokio::time::interval(settings.poll);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            // Rounds follow each other at once while there is a backlog.
            loop {
                match send_due(&pool, &transport, &settings.from).await {
                    Ok(n) if n as i64 == BATCH => continue,
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "mail outbox round failed; trying again shortly");
                        break;
                    }
                }
            }
        }
    }))
}

/// One round: claims due messages, sends them, records each outcome. Returns how many it handled.
async fn send_due(pool: &PgPool, transport: &Transport, from: &Mailbox) -> sqlx::Result<usize> {
    let mut tx = pool.begin().await?;
    let due = outbox::claim_due(&mut tx, BATCH).await?;
    for message in &due {
        match transport.send(from, message).await {
            Ok(()) => {
                outbox::mark_sent(&mut tx, message.id).await?;
                tracing::info!(id = %message.id, attempts = message.attempts + 1, "mail sent");
            }
            Err(error) => {
                let wait = 2f64
                    .powi(message.attempts.clamp(0, 16))
                    .min(MAX_BACKOFF_SECS);
                tracing::warn!(id = %message.id, attempts = message.attempts + 1, retry_in_secs = wait, %error, "mail not sent; will retry");
                outbox::mark_failed(&mut tx, message.id, &error, wait).await?;
            }
        }
    }
    tx.commit().await?;
    Ok(due.len())
}
