//! List parameters (`status`, `q`, `sort`, `limit`, `cursor`) and the opaque keyset cursor.
//!
//! The cursor is base64url JSON of the sort it was made for and the last row's sort key and id. It
//! is opaque to clients but not secret: it only repeats values of the caller's own tasks, and the
//! query still filters by the caller, so a tampered cursor can at worst skip rows.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::DateTime;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::db::tasks::{After, ListFilter, Sort, SortKey, StatusFilter, Task};
use crate::error::ApiError;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;
const MAX_SEARCH_CHARS: usize = 200;
const MAX_CURSOR_LEN: usize = 2048;

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum StatusParam {
    #[default]
    All,
    Pending,
    Completed,
}

/// A field, optionally with a leading `-` for descending; ties are broken by id.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, ToSchema, PartialEq, Eq)]
pub enum SortParam {
    #[serde(rename = "created_at")]
    CreatedAt,
    #[default]
    #[serde(rename = "-created_at")]
    CreatedAtDesc,
    #[serde(rename = "updated_at")]
    UpdatedAt,
    #[serde(rename = "-updated_at")]
    UpdatedAtDesc,
    #[serde(rename = "title")]
    Title,
    #[serde(rename = "-title")]
    TitleDesc,
}

impl SortParam {
    fn sort(self) -> Sort {
        let (key, descending) = match self {
            Self::CreatedAt => (SortKey::CreatedAt, false),
            Self::CreatedAtDesc => (SortKey::CreatedAt, true),
            Self::UpdatedAt => (SortKey::UpdatedAt, false),
            Self::UpdatedAtDesc => (SortKey::UpdatedAt, true),
            Self::Title => (SortKey::Title, false),
            Self::TitleDesc => (SortKey::Title, true),
        };
        Sort { key, descending }
    }
}

/// Query parameters of `GET /api/tasks`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// `all` (default), `pending` or `completed`.
    pub status: Option<StatusParam>,
    /// Case-insensitive text to find in the title or description: at most 200 characters as sent,
    /// trimmed; blank means no search.
    #[param(max_length = 200)]
    pub q: Option<String>,
    /// `created_at`, `updated_at` or `title`, with a leading `-` for descending. Default `-created_at`.
    pub sort: Option<SortParam>,
    /// Page size, 1 to 200; default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// The previous page's `next_cursor` (opaque; one made for another `sort` is refused).
    #[param(min_length = 1, max_length = 2048, pattern = "^[A-Za-z0-9_-]+$")]
    pub cursor: Option<String>,
}

/// One page of tasks.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskPage {
    pub items: Vec<Task>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

impl ListParams {
    /// The filter for a paginated list: `limit` defaults to 50 and one extra row is fetched to
    /// learn whether there is a next page.
    pub fn paged(&self) -> Result<(ListFilter, i64), ApiError> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        check_limit(limit)?;
        let mut filter = self.common()?;
        filter.limit = Some(limit + 1);
        Ok((filter, limit))
    }

    /// The filter for the compatibility list: every matching task up to `limit` if given, and
    /// never more than `max` (the original app had no paging, but one list call must not load
    /// an unbounded number of rows). Returns how many rows to answer with; one extra is fetched to
    /// learn whether the list was cut.
    pub fn capped(&self, max: i64) -> Result<(ListFilter, i64), ApiError> {
        if let Some(limit) = self.limit {
            check_limit(limit)?;
        }
        let limit = self.limit.unwrap_or(max).min(max);
        let mut filter = self.common()?;
        filter.limit = Some(limit + 1);
        Ok((filter, limit))
    }

    fn common(&self) -> Result<ListFilter, ApiError> {
        let status = match self.status.unwrap_or_default() {
            StatusParam::All => StatusFilter::All,
            StatusParam::Pending => StatusFilter::Pending,
            StatusParam::Completed => StatusFilter::Completed,
        };
        // Counted as sent, as the document's `maxLength` says.
        if self
            .q
            .as_deref()
            .is_some_and(|q| q.chars().count() > MAX_SEARCH_CHARS)
        {
            return Err(ApiError::InvalidQuery(format!(
                "q must be at most {MAX_SEARCH_CHARS} characters"
            )));
        }
        let search = match self.q.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(q) => Some(q.to_owned()),
        };
        let sort_param = self.sort.unwrap_or_default();
        let after = self
            .cursor
            .as_deref()
            .map(|c| decode_cursor(c, sort_param))
            .transpose()?;
        Ok(ListFilter {
            status,
            search,
            sort: sort_param.sort(),
            after,
            limit: None,
        })
    }

    pub fn sort_param(&self) -> SortParam {
        self.sort.unwrap_or_default()
    }
}

fn check_limit(limit: i64) -> Result<(), ApiError> {
    if (1..=MAX_LIMIT).contains(&limit) {
        Ok(())
    } else {
        Err(ApiError::InvalidQuery(format!(
            "limit must be between 1 and {MAX_LIMIT}"
        )))
    }
}

#[derive(Serialize, Deserialize)]
struct CursorDoc {
    /// The sort the cursor belongs to: a cursor is meaningless under another order.
    s: SortParam,
    /// Microseconds since the epoch (time sorts) or the title (title sort).
    k: serde_json::Value,
    i: Uuid,
}

/// The cursor pointing just past `last`.
pub fn encode_cursor(last: &Task, sort: SortParam) -> String {
    let k = match After::from_task(last, sort.sort()) {
        After::Time(at, _) => serde_json::Value::from(at.timestamp_micros()),
        After::Title(title, _) => serde_json::Value::from(title),
    };
    let doc = CursorDoc {
        s: sort,
        k,
        i: last.id,
    };
    // Serialising a struct of plain values cannot fail; an empty cursor would restart the list.
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&doc).unwrap_or_default())
}

/// Where `cursor` (made by [`encode_cursor`] for `sort`) points; anything else is refused.
pub fn decode_cursor(cursor: &str, sort: SortParam) -> Result<After, ApiError> {
    let bad = || ApiError::InvalidQuery("cursor is not valid for this list".to_owned());
    if cursor.len() > MAX_CURSOR_LEN {
        return Err(bad());
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor.as_bytes())
        .map_err(|_| bad())?;
    let doc: CursorDoc = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if doc.s != sort {
        return Err(bad());
    }
    match (sort.sort().key, doc.k) {
        (SortKey::CreatedAt | SortKey::UpdatedAt, serde_json::Value::Number(n)) => {
            let at = n
                .as_i64()
                .and_then(DateTime::from_timestamp_micros)
                .ok_or_else(bad)?;
            Ok(After::Time(at, doc.i))
        }
        // A title the database holds has no NUL (Postgres text cannot store one), and a cursor
        // carrying one would be sent to it as a parameter and fail there.
        (SortKey::Title, serde_json::Value::String(title))
            if title.chars().count() <= 200 && !title.contains('\0') =>
        {
            Ok(After::Title(title, doc.i))
        }
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn task() -> Task {
        let now = DateTime::from_timestamp_micros(Utc::now().timestamp_micros()).expect("now");
        Task {
            id: Uuid::now_v7(),
            title: "Ünïcode & \"quotes\"".to_owned(),
            description: None,
            completed: false,
            created_at: now,
            updated_at: now,
            completed_at: None,
        }
    }

    #[test]
    fn cursor_round_trips_for_every_sort() {
        let t = task();
        for sort in [
            SortParam::CreatedAtDesc,
            SortParam::UpdatedAt,
            SortParam::Title,
        ] {
            let after = decode_cursor(&encode_cursor(&t, sort), sort).expect("valid");
            assert_eq!(after, After::from_task(&t, sort.sort()));
        }
    }

    #[test]
    fn cursor_for_another_sort_or_garbage_is_refused() {
        let c = encode_cursor(&task(), SortParam::Title);
        assert!(decode_cursor(&c, SortParam::CreatedAtDesc).is_err());
        assert!(decode_cursor("not base64!", SortParam::Title).is_err());
        assert!(
            decode_cursor(
                &URL_SAFE_NO_PAD.encode(b"{\"s\":\"title\",\"k\":1,\"i\":\"x\"}"),
                SortParam::Title
            )
            .is_err()
        );
        let nul = format!(
            "{{\"s\":\"title\",\"k\":\"a\\u0000\",\"i\":\"{}\"}}",
            Uuid::nil()
        );
        assert!(decode_cursor(&URL_SAFE_NO_PAD.encode(nul), SortParam::Title).is_err());
    }
}
