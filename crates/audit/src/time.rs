//! Times in entries and checkpoints: Unix seconds, read back from either form a client may hold.
//!
//! The canonical bytes and the signed checkpoint message use Unix seconds. The HTTP API shows
//! `time` as RFC 3339 text (with `time_unix` beside it), so a proof saved from the API carries
//! text where a proof made by the command line carries a number; both read back to the same
//! second, and a proof verifies whichever form it was saved in.

use serde::de::{self, Deserializer, Visitor};
use std::fmt;

/// Reads Unix seconds given as an integer or as RFC 3339 text (any offset; fractions of a
/// second are refused, since the signed form has none).
pub(crate) fn unix_or_rfc3339<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    d.deserialize_any(Seconds)
}

struct Seconds;

impl Visitor<'_> for Seconds {
    type Value = i64;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("Unix seconds or an RFC 3339 time")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
        Ok(v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
        i64::try_from(v).map_err(|_| E::custom("time out of range"))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<i64, E> {
        let t = chrono::DateTime::parse_from_rfc3339(v)
            .map_err(|_| E::custom("time is not RFC 3339 text"))?;
        if t.timestamp_subsec_nanos() != 0 {
            return Err(E::custom("time has a fraction of a second"));
        }
        Ok(t.timestamp())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct T {
        #[serde(deserialize_with = "unix_or_rfc3339")]
        time: i64,
    }

    fn read(json: &str) -> Result<i64, serde_json::Error> {
        serde_json::from_str::<T>(json).map(|t| t.time)
    }

    #[test]
    fn numbers_and_rfc3339_text_read_to_the_same_second() {
        assert_eq!(read(r#"{"time":1767225600}"#).unwrap(), 1_767_225_600);
        assert_eq!(
            read(r#"{"time":"2026-01-01T00:00:00Z"}"#).unwrap(),
            1_767_225_600
        );
        assert_eq!(
            read(r#"{"time":"2026-01-01T01:00:00+01:00"}"#).unwrap(),
            1_767_225_600
        );
        assert_eq!(read(r#"{"time":-1}"#).unwrap(), -1);
    }

    #[test]
    fn other_forms_are_refused() {
        for bad in [
            r#"{"time":"2026-01-01"}"#,
            r#"{"time":"2026-01-01T00:00:00.5Z"}"#,
            r#"{"time":"yesterday"}"#,
            r#"{"time":1.5}"#,
            r#"{"time":18446744073709551615}"#,
            r#"{"time":null}"#,
        ] {
            assert!(read(bad).is_err(), "{bad} was accepted");
        }
    }
}
