//! What the query strings of several areas share: the purpose, the categories, whole numbers
//! and bounded page sizes. Each failure names the field, never its value.

use crate::problem::ApiError;
use rempart_domain::{Category, Purpose};

/// The required `purpose`.
pub(crate) fn purpose(p: Option<&str>) -> Result<Purpose, ApiError> {
    match p {
        None | Some("") => Err(ApiError::field(
            "purpose",
            format!("is required: one of {}", Purpose::expected()),
        )),
        Some(s) => Purpose::parse(s).ok_or_else(|| {
            ApiError::field("purpose", format!("must be one of {}", Purpose::expected()))
        }),
    }
}

/// `categories`: comma-separated category names; all visible ones when absent.
pub(crate) fn categories(s: Option<&str>) -> Result<Option<Vec<Category>>, ApiError> {
    let Some(s) = s else { return Ok(None) };
    s.split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|c| {
            Category::parse(c).ok_or_else(|| {
                ApiError::field(
                    "categories",
                    format!("unknown category; expected {}", Category::expected()),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// A required whole number.
pub(crate) fn number(field: &str, v: Option<&str>) -> Result<u64, ApiError> {
    v.and_then(|s| s.parse().ok())
        .ok_or_else(|| ApiError::field(field, "must be a whole number"))
}

/// A count between `min` and `max`, `default` when absent.
pub(crate) fn bounded(
    field: &str,
    v: Option<&str>,
    default: usize,
    (min, max): (usize, usize),
) -> Result<usize, ApiError> {
    match v {
        None => Ok(default),
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| ApiError::field(field, format!("must be between {min} and {max}"))),
    }
}

/// Unix seconds as RFC 3339 text in UTC (`2026-12-01T19:15:44Z`).
pub(crate) fn rfc3339(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| secs.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_in_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_000_000), "2026-11-18T11:06:40Z");
    }

    #[test]
    fn counts_outside_their_bounds_are_refused_and_named() {
        assert_eq!(bounded("limit", None, 50, (1, 200)).unwrap(), 50);
        assert_eq!(bounded("limit", Some("200"), 50, (1, 200)).unwrap(), 200);
        for bad in ["0", "201", "-1", "x", ""] {
            assert!(bounded("limit", Some(bad), 50, (1, 200)).is_err(), "{bad}");
        }
    }
}
