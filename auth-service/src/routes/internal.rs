//! `GET /api/internal/revocations`: the feed other services follow to learn which sessions ended
//! and which accounts were deleted, in commit order (see `db::revocations`).
//!
//! What it reveals is opaque ids: a session or user id means nothing to someone who does not
//! already hold it. Still, when `INTERNAL_API_KEY` is set the feed answers only to that bearer
//! key (compared in constant time), and a deployment should set it.

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::get;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use shared::Problem;
use shared::bearer::parse_bearer;
use shared::extract::Query;
use shared::openapi::ServerErrors;
use subtle::ConstantTimeEq;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Events per page.
const PAGE: i64 = 1000;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/internal/revocations", get(revocations))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct FeedQuery {
    /// The `cursor` of the previous page; 0 (the default) for everything still retained.
    /// Signed on the wire because the cursor is a Postgres `xid8` bound as `bigint`: a value above
    /// `i64::MAX` could only wrap around, so it is refused rather than read as "from the start".
    #[serde(default)]
    #[param(minimum = 0)]
    pub after: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FeedPage {
    /// Events at or after `after`, oldest first. An event may be delivered again on a later page
    /// (applying one twice changes nothing).
    pub events: Vec<FeedEvent>,
    /// Pass as `after` next time.
    pub cursor: u64,
    /// More events are waiting: ask again at once.
    pub more: bool,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FeedEvent {
    /// Refuse access tokens whose `sid` is `session_id` until `until` (unix seconds; none can be
    /// valid after it).
    SessionEnded {
        session_id: Uuid,
        user_id: Uuid,
        until: i64,
        xid: u64,
    },
    /// The account is gone: refuse tokens whose `sub` is `user_id` until `until`, and delete the
    /// user's data.
    UserDeleted { user_id: Uuid, until: i64, xid: u64 },
}

#[utoipa::path(get, path = "/api/internal/revocations", tag = "internal", params(FeedQuery),
    responses(
        (status = 200, description = "A page of the revocation feed", body = FeedPage),
        (status = 400, description = "`after` is not a non-negative integer (`invalid_query`)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`INTERNAL_API_KEY` is set and the bearer key is missing or wrong (`invalid_token`)", body = Problem, content_type = "application/problem+json"),
        ServerErrors,
    ))]
pub async fn revocations(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<FeedQuery>,
) -> ApiResult<axum::Json<FeedPage>> {
    if let Some(key) = &state.settings.internal_api_key {
        let presented = parse_bearer(&headers).map_err(Problem::from)?;
        if !bool::from(presented.as_bytes().ct_eq(key.expose_secret().as_bytes())) {
            return Err(ApiError::InvalidToken);
        }
    }
    // No token of a session can outlive its end by more than an access-token lifetime (plus the
    // verifiers' clock leeway, which we bound generously).
    let lifetime = state.settings.issuer.ttl.num_seconds() + 300;
    let after = u64::try_from(query.after).map_err(|_| {
        Problem::invalid_query("Query parameter `after` must be a non-negative integer.")
    })?;
    let page = db::revocations::page(&state.pool, after, PAGE, lifetime).await?;
    let events = page
        .rows
        .iter()
        .map(|r| {
            let until = r.at.timestamp() + lifetime;
            match r.session_id {
                Some(session_id) => FeedEvent::SessionEnded {
                    session_id,
                    user_id: r.user_id,
                    until,
                    xid: r.xid,
                },
                None => FeedEvent::UserDeleted {
                    user_id: r.user_id,
                    until,
                    xid: r.xid,
                },
            }
        })
        .collect();
    Ok(axum::Json(FeedPage {
        events,
        cursor: page.cursor,
        more: page.more,
    }))
}
