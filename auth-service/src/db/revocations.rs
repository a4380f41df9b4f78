//! `auth.revocations`: ended sessions and deleted users, written by triggers (see the migration)
//! and read as a feed ordered by transaction id.
//!
//! A plain sequence cannot order such a feed: a row can take sequence number 5, commit after row
//! 6 was read, and be skipped by a reader whose cursor moved past 6. Instead a page returns every
//! row whose transaction id is at or after the reader's cursor, and the next cursor is the oldest
//! transaction still running (`pg_snapshot_xmin`): all transactions below it have finished, so no
//! row below it can appear later. Rows of transactions above it that already committed are
//! delivered too (so a revocation is seen at once) and again on the next page, which is harmless.

use chrono::{DateTime, Utc};
use shared::db::retry;
use sqlx::{FromRow, PgPool};
use uuid::Uuid;

#[derive(Debug, FromRow)]
pub struct Row {
    pub xid: u64,
    pub session_id: Option<Uuid>,
    pub user_id: Uuid,
    pub at: DateTime<Utc>,
}

#[derive(Debug, FromRow)]
struct RawRow {
    xid: i64,
    session_id: Option<Uuid>,
    user_id: Uuid,
    at: DateTime<Utc>,
}

pub struct Page {
    pub rows: Vec<Row>,
    pub cursor: u64,
    pub more: bool,
}

/// Up to `limit` events from `after` on. Ended sessions older than `lifetime_secs` are left out:
/// no token of theirs can still be valid. Deletions are always included.
pub async fn page(pool: &PgPool, after: u64, limit: i64, lifetime_secs: i64) -> sqlx::Result<Page> {
    let after = i64::try_from(after).unwrap_or(i64::MAX);
    // Only reads: a transaction so that both statements see one snapshot, safe to run again.
    let (xmin, raw) = retry::transaction(pool, |tx| {
        Box::pin(async move {
            // Read the horizon first: rows below it are final in the snapshot the next query sees.
            let (xmin,): (i64,) =
                sqlx::query_as("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
                    .fetch_one(&mut **tx)
                    .await?;
            let raw: Vec<RawRow> = sqlx::query_as(
                "SELECT xid::text::bigint AS xid, session_id, user_id, at
                   FROM auth.revocations
                  WHERE xid >= ($1::bigint)::text::xid8
                    AND (kind = 'user_deleted' OR at > now() - make_interval(secs => $3))
                  ORDER BY xid, seq
                  LIMIT $2",
            )
            .bind(after)
            .bind(limit)
            .bind(lifetime_secs as f64)
            .fetch_all(&mut **tx)
            .await?;
            Ok::<_, sqlx::Error>((xmin, raw))
        })
    })
    .await?;
    let more = raw.len() as i64 == limit;
    let cursor = if more {
        // Cut inside the feed: resume at the last transaction seen (its rows come again), or past
        // it when the whole page was that one finished transaction.
        let last = raw.last().map_or(after, |r| r.xid);
        let first = raw.first().map_or(after, |r| r.xid);
        if first == last && last < xmin {
            last + 1
        } else {
            last
        }
    } else {
        xmin.max(after)
    };
    // No progress (one huge transaction not yet behind the horizon): the reader waits for its
    // next tick instead of asking again at once.
    let more = more && cursor != after;
    Ok(Page {
        rows: raw
            .into_iter()
            .map(|r| Row {
                xid: u64::try_from(r.xid).unwrap_or(0),
                session_id: r.session_id,
                user_id: r.user_id,
                at: r.at,
            })
            .collect(),
        cursor: u64::try_from(cursor).unwrap_or(0),
        more,
    })
}

/// Forgets ended sessions whose tokens have all expired; deletions stay (the feed is how a
/// service that was down learns of them).
pub async fn purge(pool: &PgPool, lifetime_secs: i64) -> sqlx::Result<u64> {
    let done = retry::write(pool, |conn| {
        Box::pin(async move {
            sqlx::query(
                "DELETE FROM auth.revocations
                  WHERE kind = 'session_ended' AND at < now() - make_interval(secs => $1)",
            )
            .bind(lifetime_secs as f64)
            .execute(&mut **conn)
            .await
        })
    })
    .await?;
    Ok(done.rows_affected())
}
