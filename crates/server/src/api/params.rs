//! What the query strings of several areas share: the purpose, the categories, whole numbers
//! and bounded page sizes. Each failure names the field, never its value.

use crate::problem::ApiError;
use rempart_domain::{Category, Purpose};
use utoipa::openapi::schema::{Object, ObjectBuilder, Type};

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

/// `categories`: comma-separated category names, nothing else (no spaces, no empty name); all
/// visible ones when absent.
pub(crate) fn categories(s: Option<&str>) -> Result<Option<Vec<Category>>, ApiError> {
    let Some(s) = s else { return Ok(None) };
    s.split(',')
        .map(|c| {
            Category::parse(c).ok_or_else(|| {
                ApiError::field(
                    "categories",
                    format!(
                        "must be category names separated by commas: {}",
                        Category::expected()
                    ),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// The schema of `purpose`: one of the purposes' wire names.
pub(crate) fn purpose_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(Purpose::ALL.iter().map(|p| p.as_str())))
        .build()
}

/// The schema of `categories`: what [`categories`] accepts, as a pattern.
pub(crate) fn categories_schema() -> Object {
    let names = Category::ALL
        .iter()
        .map(|c| c.as_str())
        .collect::<Vec<_>>()
        .join("|");
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(format!("^({names})(,({names}))*$")))
        .build()
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

/// A public id made of `prefix` and 16 lower-case hexadecimal digits (`alr_…`, `exp_…`),
/// checked before any lookup; else a `422` naming `field` as `what`.
pub(crate) fn public_id(
    id: &str,
    prefix: &str,
    field: &str,
    what: &str,
) -> Result<String, ApiError> {
    let ok = id.len() == prefix.len() + 16
        && id.starts_with(prefix)
        && id[prefix.len()..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if ok {
        Ok(id.to_string())
    } else {
        Err(ApiError::field(
            field,
            format!("must be {what} ({prefix} and 16 hexadecimal digits)"),
        ))
    }
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

    use proptest::strategy::Strategy as _;

    fn pattern_of(o: &Object) -> regex::Regex {
        regex::Regex::new(o.pattern.as_deref().unwrap()).unwrap()
    }

    proptest::proptest! {
        /// The documented pattern accepts exactly what the parser accepts.
        #[test]
        fn the_categories_pattern_agrees_with_the_parser(
            parts in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::sample::select(Category::ALL).prop_map(|c| c.as_str().to_string()),
                    "[a-z_ ,]{0,12}",
                    proptest::strategy::Just(String::new()),
                ],
                0..5,
            ),
            sep in proptest::sample::select(vec![",", ", ", ",,", " "]),
        ) {
            let s = parts.join(sep);
            let pattern = pattern_of(&categories_schema());
            proptest::prop_assert_eq!(categories(Some(&s)).is_ok(), pattern.is_match(&s), "{:?}", s);
        }
    }

    #[test]
    fn categories_are_names_and_commas_only() {
        assert_eq!(
            categories(Some("identity,contact")).unwrap().unwrap(),
            vec![Category::Identity, Category::Contact]
        );
        for bad in [
            "",
            "identity,",
            " identity",
            "identity, contact",
            "IDENTITY",
            "nir",
        ] {
            assert!(categories(Some(bad)).is_err(), "{bad:?}");
        }
        let purposes = purpose_schema().enum_values.unwrap();
        assert_eq!(purposes.len(), Purpose::ALL.len());
    }
}
