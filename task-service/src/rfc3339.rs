//! RFC 3339 timestamps for JSON, written into a stack buffer. A page of 20 tasks carries 60 of
//! them, and chrono's general-purpose formatting (through `core::fmt`) was 6 % of a list
//! request's CPU in the benchmarks. Postgres stores microseconds, so the fraction always has six
//! digits and the zone is always `Z`: `2026-11-25T16:45:04.374137Z`.

use chrono::{DateTime, Datelike, SecondsFormat, Timelike, Utc};
use serde::Serializer;

const LEN: usize = 27;

pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    let mut buf = [0u8; LEN];
    match write(t, &mut buf) {
        Some(text) => s.serialize_str(text),
        // Years outside 0..=9999 or a leap second: the general path handles them.
        None => s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Micros, true)),
    }
}

pub fn serialize_option<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => serialize(t, s),
        None => s.serialize_none(),
    }
}

fn write<'a>(t: &DateTime<Utc>, buf: &'a mut [u8; LEN]) -> Option<&'a str> {
    let year = u32::try_from(t.year()).ok().filter(|y| *y <= 9999)?;
    let nanos = t.nanosecond();
    if nanos >= 1_000_000_000 {
        return None;
    }
    let mut put = |at: usize, value: u32, digits: usize| {
        let mut v = value;
        for i in (0..digits).rev() {
            buf[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, year, 4);
    put(5, t.month(), 2);
    put(8, t.day(), 2);
    put(11, t.hour(), 2);
    put(14, t.minute(), 2);
    put(17, t.second(), 2);
    put(20, nanos / 1000, 6);
    buf[4] = b'-';
    buf[7] = b'-';
    buf[10] = b'T';
    buf[13] = b':';
    buf[16] = b':';
    buf[19] = b'.';
    buf[26] = b'Z';
    std::str::from_utf8(buf).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn json(t: DateTime<Utc>) -> String {
        #[derive(serde::Serialize)]
        struct W(#[serde(serialize_with = "serialize")] DateTime<Utc>);
        serde_json::to_string(&W(t)).expect("json")
    }

    #[test]
    fn matches_chronos_own_rfc3339_with_microseconds() {
        let cases = [
            Utc.with_ymd_and_hms(2026, 11, 25, 16, 45, 4)
                .single()
                .expect("valid"),
            Utc.with_ymd_and_hms(1999, 1, 2, 3, 4, 5)
                .single()
                .expect("valid")
                + chrono::Duration::microseconds(374_137),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59)
                .single()
                .expect("valid")
                + chrono::Duration::microseconds(999_999),
            Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0)
                .single()
                .expect("valid"),
        ];
        for t in cases {
            assert_eq!(
                json(t),
                format!("\"{}\"", t.to_rfc3339_opts(SecondsFormat::Micros, true))
            );
            let back: DateTime<Utc> = serde_json::from_str(&json(t)).expect("parses back");
            assert_eq!(back, t);
        }
    }

    #[test]
    fn years_beyond_four_digits_fall_back() {
        let t = Utc
            .with_ymd_and_hms(12_345, 1, 1, 0, 0, 0)
            .single()
            .expect("valid");
        assert_eq!(
            json(t),
            format!("\"{}\"", t.to_rfc3339_opts(SecondsFormat::Micros, true))
        );
    }
}
