//! `cursor` query parameters through the task list's keyset-cursor decoder.
//!
//! Input: the cursor as a client sends it (query strings reach the decoder as UTF-8), and also the
//! input base64url-encoded, so that mutations of a JSON seed reach the JSON reading behind the
//! base64 layer (a mutated base64 string rarely decodes to anything). Each is tried under every
//! sort. Besides never panicking: a cursor names one sort, so it decodes under at most one; and a
//! decoded position, encoded again, decodes to the very same position.

#![no_main]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::DateTime;
use libfuzzer_sys::fuzz_target;
use task_service::db::tasks::{After, Task};
use task_service::listing::{SortParam, decode_cursor, encode_cursor};

const SORTS: [SortParam; 6] = [
    SortParam::CreatedAt,
    SortParam::CreatedAtDesc,
    SortParam::UpdatedAt,
    SortParam::UpdatedAtDesc,
    SortParam::Title,
    SortParam::TitleDesc,
];

fuzz_target!(|data: &[u8]| {
    if let Ok(cursor) = std::str::from_utf8(data) {
        check(cursor);
    }
    check(&URL_SAFE_NO_PAD.encode(data));
});

fn check(cursor: &str) {
    let mut accepted = 0;
    for sort in SORTS {
        let Ok(after) = decode_cursor(cursor, sort) else {
            continue;
        };
        accepted += 1;
        let again = encode_cursor(&task_at(&after), sort);
        assert_eq!(
            decode_cursor(&again, sort).ok(),
            Some(after),
            "re-encoded as {again:?}"
        );
    }
    assert!(accepted <= 1, "one cursor decoded under {accepted} sorts");
}

/// A task sitting exactly at `after`: what `encode_cursor` reads from the last row of a page.
fn task_at(after: &After) -> Task {
    let (at, title, id) = match after {
        After::Time(at, id) => (*at, "t".to_owned(), *id),
        After::Title(title, id) => (DateTime::UNIX_EPOCH, title.clone(), *id),
    };
    Task {
        id,
        title,
        description: None,
        completed: false,
        created_at: at,
        updated_at: at,
        completed_at: None,
    }
}
