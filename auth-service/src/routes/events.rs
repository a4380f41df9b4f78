//! `GET /api/auth/events`: the caller's security history, newest first (API.md, "Sessions and the
//! account"). Events are written by the routes that cause them (`db::events`), inside the same
//! transaction as the action wherever there is one.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shared::Problem;
use shared::extract::Query;
use shared::openapi::ServerErrors;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::authenticated::Authenticated;
use crate::db;
use crate::error::ApiResult;
use crate::state::AppState;

const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 200;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// Events per page, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A security event (API.md's `Event`).
#[derive(Debug, Serialize, ToSchema)]
pub struct Event {
    pub id: Uuid,
    /// `signup`, `signin`, `signin_failed`, `signout`, `session_ended`,
    /// `refresh_reuse_detected`, `password_changed` (and, as those features land,
    /// `password_reset`, `email_verified`, `mfa_enabled`, `mfa_disabled`, `passkey_added`,
    /// `passkey_removed`).
    #[serde(rename = "type")]
    pub kind: String,
    pub at: DateTime<Utc>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub session_id: Option<Uuid>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventPage {
    pub items: Vec<Event>,
    /// Pass as `cursor` for the next (older) page; `null` on the last page.
    pub next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/auth/events", tag = "account", security(("bearer" = [])),
    params(EventsQuery),
    responses(
        (status = 200, description = "The caller's security events, newest first", body = EventPage),
        (status = 400, description = "`limit` out of 1–200, or a `cursor` this service did not issue (`invalid_query`)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired bearer token, or its session ended (`invalid_token`)", body = Problem, content_type = "application/problem+json"),
        ServerErrors,
    ))]
pub async fn list(
    State(state): State<AppState>,
    caller: Authenticated,
    Query(query): Query<EventsQuery>,
) -> ApiResult<axum::Json<EventPage>> {
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(Problem::invalid_query("Query parameter `limit` must be 1–200.").into());
    }
    let before = match query.cursor.as_deref() {
        Some(c) => Some(Uuid::parse_str(c).map_err(|_| {
            Problem::invalid_query("Query parameter `cursor` is not one this service issued.")
        })?),
        None => None,
    };
    // One more than the page tells whether there is a next one.
    let mut rows = db::events::page(&state.pool, caller.user.id, before, limit + 1).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = more
        .then(|| rows.last().map(|r| r.id.to_string()))
        .flatten();
    Ok(axum::Json(EventPage {
        items: rows
            .into_iter()
            .map(|r| Event {
                id: r.id,
                kind: r.kind,
                at: r.at,
                ip: r.ip,
                user_agent: r.user_agent,
                session_id: r.session_id,
            })
            .collect(),
        next_cursor,
    }))
}
