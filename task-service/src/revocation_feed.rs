//! Follows the auth-service's revocation feed (`GET /api/internal/revocations`): ended sessions
//! and deleted accounts, in commit order.
//!
//! Every replica pulls on a short interval (`REVOCATION_POLL_MS`, 1 s by default), so a session
//! ended anywhere has its access tokens refused here within about a second, while the request
//! path only looks in memory ([`crate::auth::Revocations`]). When the feed cannot be reached the
//! service keeps serving on what it knows; `/readyz` says so in its details and one log line marks
//! the change each way, not one per request.
//!
//! Account deletions also remove the user's tasks. That work is shared through the database: the
//! position up to which deletions have been applied is stored in `tasks.feed_state`, so a
//! deletion made while every replica was down is applied when one comes back, and a replica that
//! starts later does not apply the whole history again.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sqlx::PgPool;
use uuid::Uuid;

use crate::auth::Revocations;
use crate::db;

/// Where and how often to pull.
#[derive(Debug, Clone)]
pub struct FeedSettings {
    pub url: String,
    pub interval: Duration,
    /// Sent as a bearer token when the auth-service requires one (`INTERNAL_API_KEY`).
    pub api_key: Option<SecretString>,
    pub http_timeout: Duration,
}

#[derive(Debug, Deserialize)]
struct Page {
    events: Vec<Event>,
    cursor: u64,
    /// More events are waiting past this page.
    #[serde(default)]
    more: bool,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Event {
    SessionEnded { session_id: Uuid, until: u64 },
    UserDeleted { user_id: Uuid, until: u64, xid: u64 },
}

/// How the feed is doing, for `/readyz`.
#[derive(Debug, Clone, Default)]
pub struct FeedHealth(Arc<Mutex<Status>>);

#[derive(Debug, Default)]
struct Status {
    last_ok: Option<Instant>,
    failing: Option<String>,
}

impl FeedHealth {
    /// `None` while the feed is followed; otherwise why not, for `/readyz`'s details.
    pub fn problem(&self) -> Option<String> {
        let status = self.0.lock().ok()?;
        match (&status.failing, status.last_ok) {
            (None, Some(_)) => None,
            (None, None) => Some("not fetched yet".to_owned()),
            (Some(error), Some(at)) => Some(format!(
                "unreachable for {} s ({error}); serving on what was known",
                at.elapsed().as_secs()
            )),
            (Some(error), None) => Some(format!("never reached ({error})")),
        }
    }

    fn ok(&self) {
        metrics::counter!("task_revocation_feed_polls_total", "result" => "ok").increment(1);
        if let Ok(mut status) = self.0.lock() {
            if status.failing.take().is_some() {
                tracing::info!("revocation feed reachable again");
            }
            status.last_ok = Some(Instant::now());
        }
    }

    fn failed(&self, error: String) {
        metrics::counter!("task_revocation_feed_polls_total", "result" => "failed").increment(1);
        if let Ok(mut status) = self.0.lock() {
            if status.failing.is_none() {
                tracing::warn!(%error, "revocation feed unreachable; refusing only the sessions already known to be ended until it answers");
            }
            status.failing = Some(error);
        }
    }
}

/// Starts following the feed; the task ends with the application.
pub fn start(
    settings: FeedSettings,
    revocations: Revocations,
    pool: PgPool,
    health: FeedHealth,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let client = reqwest::Client::builder()
        .timeout(settings.http_timeout)
        // Never follow a redirect: the feed's address is configured, not discovered.
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    Ok(tokio::spawn(async move {
        let mut follower = Follower {
            settings,
            client,
            revocations,
            pool,
            health,
            // Session revocations live in memory: a starting replica reads the whole retained
            // feed (the auth-service keeps only what can still matter).
            cursor: 0,
            applied: None,
        };
        let mut tick = tokio::time::interval(follower.settings.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            follower.poll().await;
            follower
                .revocations
                .prune(jsonwebtoken::get_current_timestamp());
        }
    }))
}

struct Follower {
    settings: FeedSettings,
    client: reqwest::Client,
    revocations: Revocations,
    pool: PgPool,
    health: FeedHealth,
    cursor: u64,
    /// Deletions below this position have been applied to the database (by any replica).
    applied: Option<u64>,
}

impl Follower {
    /// Pulls until the feed has nothing more, applying each page.
    async fn poll(&mut self) {
        loop {
            let page = match self.fetch().await {
                Ok(page) => page,
                Err(error) => {
                    self.health.failed(error);
                    return;
                }
            };
            self.health.ok();
            if let Err(error) = self.apply(&page).await {
                // Memory is up to date; deletions are retried from the same position next time.
                tracing::warn!(%error, "applying account deletions failed; will retry");
                return;
            }
            self.cursor = page.cursor;
            if !page.more {
                return;
            }
        }
    }

    async fn fetch(&self) -> Result<Page, String> {
        let mut request = self
            .client
            .get(&self.settings.url)
            .query(&[("after", self.cursor)]);
        if let Some(key) = &self.settings.api_key {
            request = request.bearer_auth(key.expose_secret());
        }
        let response = request.send().await.map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("answered {}", response.status()));
        }
        response.json::<Page>().await.map_err(|e| e.to_string())
    }

    async fn apply(&mut self, page: &Page) -> anyhow::Result<()> {
        let applied = match self.applied {
            Some(applied) => applied,
            None => {
                let applied = db::deletions::cursor(&self.pool).await?;
                self.applied = Some(applied);
                applied
            }
        };
        let mut deleted_users = Vec::new();
        for event in &page.events {
            match *event {
                Event::SessionEnded { session_id, until } => {
                    self.revocations.end_session(session_id, until);
                }
                Event::UserDeleted {
                    user_id,
                    until,
                    xid,
                } => {
                    self.revocations.delete_user(user_id, until);
                    if xid >= applied {
                        deleted_users.push(user_id);
                    }
                }
            }
        }
        if !deleted_users.is_empty() || page.cursor > applied {
            let tasks = db::deletions::apply(&self.pool, &deleted_users, page.cursor).await?;
            if !deleted_users.is_empty() {
                tracing::info!(
                    users = deleted_users.len(),
                    tasks,
                    "removed the tasks of deleted accounts"
                );
            }
            self.applied = Some(applied.max(page.cursor));
        }
        Ok(())
    }
}
